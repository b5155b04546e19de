//! Campaigns: a plan, one-to-one message variants, a control group, and
//! the evaluation against it.

use chrono::{DateTime, Utc};

use crate::Error;
use crate::model::{ContactKind, Currency, Money, PartyId};

/// One message variant. A party gets a variant in its language (`zh`
/// matches `zh-CN`), else one without a language; among several, a
/// reproducible draw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Variant {
    /// Name, e.g. `A`.
    pub name: String,
    /// Language tag it is for (`None`: any).
    pub language: Option<String>,
    /// Template with `{name}`, `{stage}`, `{field.<x>}`, `{score.<x>}`
    /// placeholders; `{field.city|your city}` gives a fallback for a
    /// missing value.
    pub template: String,
}

/// A campaign plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewCampaign {
    /// Unique name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub objective: String,
    /// The segment it targets.
    pub segment: String,
    /// The channel messages go out on.
    pub channel: ContactKind,
    /// The consent purpose checked before a send (default `marketing`).
    #[serde(default = "default_purpose")]
    pub purpose: String,
    /// The currency of budget, cost and revenue.
    pub currency: Currency,
    /// The most it may spend (`None`: no limit).
    #[serde(default)]
    pub budget: Option<Money>,
    /// What one message costs.
    pub cost_per_message: Money,
    /// When it may start sending (`None`: at once).
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// When it stops enrolling (`None`: open).
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Who runs it.
    #[serde(default)]
    pub owner: Option<PartyId>,
    /// Share of members held back as the control group, in basis points
    /// (1000 = 10 %, the default).
    #[serde(default = "default_control_bp")]
    pub control_bp: u32,
    /// The seed of the control-group and variant draws.
    #[serde(default)]
    pub seed: u64,
    /// Days after enrolment in which a response or an order counts
    /// (default 30).
    #[serde(default = "default_window_days")]
    pub window_days: i64,
    /// The messages.
    pub variants: Vec<Variant>,
}

fn default_purpose() -> String {
    "marketing".to_owned()
}

fn default_control_bp() -> u32 {
    1000
}

fn default_window_days() -> i64 {
    30
}

impl NewCampaign {
    /// A campaign on `segment` sending `template` by `channel` for
    /// marketing, with a 10 % control group, seed 0, a 30-day window and
    /// free messages.
    pub fn new(
        name: impl Into<String>,
        segment: impl Into<String>,
        channel: ContactKind,
        currency: Currency,
        template: impl Into<String>,
    ) -> NewCampaign {
        NewCampaign {
            name: name.into(),
            objective: String::new(),
            segment: segment.into(),
            channel,
            purpose: default_purpose(),
            currency,
            budget: None,
            cost_per_message: Money::new(0, currency),
            starts_at: None,
            ends_at: None,
            owner: None,
            control_bp: default_control_bp(),
            seed: 0,
            window_days: default_window_days(),
            variants: vec![Variant { name: "A".into(), language: None, template: template.into() }],
        }
    }

    /// Sets the control share (basis points) and the seed.
    #[must_use]
    pub fn with_control(mut self, control_bp: u32, seed: u64) -> NewCampaign {
        self.control_bp = control_bp;
        self.seed = seed;
        self
    }

    /// Sets the budget and the cost of one message.
    #[must_use]
    pub fn with_budget(mut self, budget: Money, cost_per_message: Money) -> NewCampaign {
        self.budget = Some(budget);
        self.cost_per_message = cost_per_message;
        self
    }

    /// Adds a variant.
    #[must_use]
    pub fn with_variant(
        mut self,
        name: impl Into<String>,
        language: Option<&str>,
        template: impl Into<String>,
    ) -> NewCampaign {
        self.variants.push(Variant {
            name: name.into(),
            language: language.map(str::to_owned),
            template: template.into(),
        });
        self
    }

    /// Sets the objective.
    #[must_use]
    pub fn with_objective(mut self, objective: impl Into<String>) -> NewCampaign {
        self.objective = objective.into();
        self
    }

    /// Schedules the campaign: it runs from `starts_at` (through
    /// `Crm::run_due`) until `ends_at`.
    #[must_use]
    pub fn scheduled(
        mut self,
        starts_at: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    ) -> NewCampaign {
        self.starts_at = Some(starts_at);
        self.ends_at = ends_at;
        self
    }

    /// Sets who runs it.
    #[must_use]
    pub fn owned_by(mut self, owner: PartyId) -> NewCampaign {
        self.owner = Some(owner);
        self
    }

    /// Sets the attribution window.
    #[must_use]
    pub fn with_window(mut self, days: i64) -> NewCampaign {
        self.window_days = days;
        self
    }

    /// Checks the shape (the store checks the segment and templates).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the problem.
    pub fn validate(&self) -> crate::Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "a campaign needs a name"));
        }
        if self.control_bp > 10_000 {
            return Err(Error::invalid(
                "control_bp",
                format!("{} basis points is more than everyone", self.control_bp),
            ));
        }
        if self.window_days <= 0 {
            return Err(Error::invalid("window_days", "the window must be positive"));
        }
        if self.variants.is_empty() {
            return Err(Error::invalid("variants", "a campaign needs a message"));
        }
        for money in self.budget.iter().chain([&self.cost_per_message]) {
            if money.currency() != self.currency {
                return Err(Error::invalid(
                    "budget",
                    format!("{} is not in the campaign currency {}", money, self.currency),
                ));
            }
            if money.minor() < 0 {
                return Err(Error::invalid("budget", "budget and cost cannot be negative"));
            }
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e <= s
        {
            return Err(Error::invalid("ends_at", "a campaign must end after it starts"));
        }
        let mut names: Vec<&str> = self.variants.iter().map(|v| v.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::invalid("variants", "variant names must differ"));
        }
        Ok(())
    }

    /// True when `party` falls in the control group: a hash of the seed
    /// and the party id, so the draw is the same on every run and does not
    /// depend on who else is in the segment.
    pub fn in_control(&self, party: PartyId) -> bool {
        draw(self.seed, party, 0) % 10_000 < u64::from(self.control_bp)
    }

    /// The variant a party gets (see [`Variant`]).
    pub fn variant_for(&self, party: PartyId, language: Option<&str>) -> &Variant {
        let lang = language.unwrap_or("").to_ascii_lowercase();
        let matches = |v: &&Variant| {
            v.language.as_deref().is_some_and(|l| {
                let l = l.to_ascii_lowercase();
                !lang.is_empty() && (lang == l || lang.starts_with(&format!("{l}-")))
            })
        };
        let mut pool: Vec<&Variant> = self.variants.iter().filter(matches).collect();
        if pool.is_empty() {
            pool = self.variants.iter().filter(|v| v.language.is_none()).collect();
        }
        if pool.is_empty() {
            pool = self.variants.iter().collect();
        }
        let pick = (draw(self.seed, party, 1) % pool.len() as u64) as usize;
        pool[pick]
    }
}

/// A reproducible 64-bit draw from a seed, a party and a stream number:
/// FNV-1a over the id, finished with the SplitMix64 mixer.
fn draw(seed: u64, party: PartyId, stream: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in party.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ stream.rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What one run of a campaign did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignRun {
    /// Newly enrolled members.
    pub enrolled: u64,
    /// Of them, in the control group.
    pub control: u64,
    /// Messages queued.
    pub queued: u64,
    /// Sends suppressed (no contact point or no consent).
    pub suppressed: u64,
    /// Treatment members not sent to because the budget was spent.
    pub over_budget: u64,
}

/// One group's results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupResult {
    /// Members.
    pub members: u64,
    /// Members with an inbound interaction inside the window.
    pub responded: u64,
    /// Members with an order inside the window.
    pub converted: u64,
    /// Their revenue inside the window, in the campaign currency.
    pub revenue: Money,
    /// responded / members.
    pub response_rate: f64,
    /// converted / members.
    pub conversion_rate: f64,
}

/// A campaign's evaluation against its control group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CampaignReport {
    /// The campaign.
    pub name: String,
    /// `draft`, `running` or `ended`.
    pub status: String,
    /// The treatment group.
    pub treatment: GroupResult,
    /// The control group.
    pub control: GroupResult,
    /// Messages queued (reach).
    pub reach: u64,
    /// Sends suppressed.
    pub suppressed: u64,
    /// What the messages cost.
    pub cost: Money,
    /// Treatment revenue minus what the treatment group would have spent
    /// at the control group's revenue per member.
    pub incremental_revenue: Money,
    /// (incremental revenue − cost) / cost; `None` when nothing was spent.
    pub roi: Option<f64>,
    /// Conversion rate of treatment minus control.
    pub uplift: f64,
    /// 95 % confidence interval of the uplift (normal approximation of the
    /// difference of two proportions).
    pub uplift_ci: (f64, f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_draw_is_reproducible_and_near_its_share() {
        let cny = Currency::new("CNY").unwrap_or_else(|_| unreachable!());
        let c = NewCampaign::new("c", "s", ContactKind::Email, cny, "hi").with_control(2000, 42);
        let parties: Vec<PartyId> = (0..5000).map(|_| PartyId::new()).collect();
        let first: Vec<bool> = parties.iter().map(|p| c.in_control(*p)).collect();
        let again: Vec<bool> = parties.iter().map(|p| c.in_control(*p)).collect();
        assert_eq!(first, again);
        let share = first.iter().filter(|x| **x).count() as f64 / 5000.0;
        assert!((share - 0.2).abs() < 0.03, "share {share}");
        let other = NewCampaign { seed: 43, ..c.clone() };
        assert_ne!(first, parties.iter().map(|p| other.in_control(*p)).collect::<Vec<_>>());
    }
}
