//! Loyalty programmes: earn rules, tiers, and the points ledger.

use chrono::{DateTime, Utc};

use crate::Error;
use crate::model::{Currency, PartyId};

/// A tier and the points (earned inside the rolling window) that qualify
/// for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TierLevel {
    /// Name, e.g. `gold`.
    pub name: String,
    /// Points earned in the window needed to hold the tier.
    pub threshold: i64,
}

/// A loyalty programme.
///
/// Points are earned on orders by the `earn` formula, a CEL expression of
/// type int over the party's features and `order.total` (the order's
/// revenue in major units of the programme's currency), e.g.
/// `floor(order.total / 10.0) * (tier == "gold" ? 2 : 1)`. Earned lots
/// expire `expiry_days` after they were earned, oldest spent first.
/// Tiers follow the points earned in the last `tier_window_days`: a
/// member moves up at once and down only at the review, every
/// `review_every_days`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewLoyaltyProgram {
    /// Unique name.
    pub name: String,
    /// The currency `order.total` is converted into.
    pub currency: Currency,
    /// The earn formula (CEL, int).
    pub earn: String,
    /// Days after which an earned lot expires (`None`: never).
    #[serde(default)]
    pub expiry_days: Option<i64>,
    /// Tiers by ascending threshold; the first is where members start.
    #[serde(default)]
    pub tiers: Vec<TierLevel>,
    /// The rolling window of the tier metric, in days (default 365).
    #[serde(default = "default_tier_window")]
    pub tier_window_days: i64,
    /// Days between tier reviews (the only time a member moves down;
    /// default 90).
    #[serde(default = "default_review_every")]
    pub review_every_days: i64,
}

fn default_tier_window() -> i64 {
    365
}

fn default_review_every() -> i64 {
    90
}

impl NewLoyaltyProgram {
    /// A programme without tiers or expiry, a 365-day tier window and a
    /// review every 90 days.
    pub fn new(
        name: impl Into<String>,
        currency: Currency,
        earn: impl Into<String>,
    ) -> NewLoyaltyProgram {
        NewLoyaltyProgram {
            name: name.into(),
            currency,
            earn: earn.into(),
            expiry_days: None,
            tiers: Vec::new(),
            tier_window_days: default_tier_window(),
            review_every_days: default_review_every(),
        }
    }

    /// Adds a tier.
    #[must_use]
    pub fn with_tier(mut self, name: impl Into<String>, threshold: i64) -> NewLoyaltyProgram {
        self.tiers.push(TierLevel { name: name.into(), threshold });
        self
    }

    /// Earned points expire this many days after they were earned.
    #[must_use]
    pub fn expiring_after(mut self, days: i64) -> NewLoyaltyProgram {
        self.expiry_days = Some(days);
        self
    }

    /// Sets the tier window and the review period.
    #[must_use]
    pub fn reviewed(mut self, window_days: i64, every_days: i64) -> NewLoyaltyProgram {
        self.tier_window_days = window_days;
        self.review_every_days = every_days;
        self
    }

    /// Checks the shape (the earn formula is checked by the store, against
    /// the database's schema).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the problem.
    pub fn validate(&self) -> crate::Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "a loyalty programme needs a name"));
        }
        if self.expiry_days.is_some_and(|d| d <= 0) {
            return Err(Error::invalid("expiry_days", "must be positive"));
        }
        if self.tier_window_days <= 0 || self.review_every_days <= 0 {
            return Err(Error::invalid("tier_window_days", "windows and reviews must be positive"));
        }
        if let Some(first) = self.tiers.first()
            && first.threshold != 0
        {
            return Err(Error::invalid(
                "tiers",
                format!("the first tier `{}` must start at 0 points", first.name),
            ));
        }
        for pair in self.tiers.windows(2) {
            if pair[1].threshold <= pair[0].threshold {
                return Err(Error::invalid(
                    "tiers",
                    format!(
                        "thresholds must ascend: `{}` ({}) after `{}` ({})",
                        pair[1].name, pair[1].threshold, pair[0].name, pair[0].threshold
                    ),
                ));
            }
        }
        if self.tiers.iter().any(|t| t.name.trim().is_empty()) {
            return Err(Error::invalid("tiers", "a tier needs a name"));
        }
        Ok(())
    }

    /// The tier that `points` earned in the window qualify for.
    pub fn tier_for(&self, points: i64) -> Option<&TierLevel> {
        self.tiers.iter().rev().find(|t| points >= t.threshold)
    }

    /// The rank of a tier (0 = the first), `None` for an unknown name.
    pub fn rank(&self, tier: &str) -> Option<usize> {
        self.tiers.iter().position(|t| t.name == tier)
    }
}

code_enum! {
    /// The kind of a ledger entry.
    pub enum LedgerKind as "kind" {
        /// Points earned (a lot that may expire).
        Earn = ("earn", "Earned", "积分获得"),
        /// Points spent.
        Redeem = ("redeem", "Redeemed", "积分兑换"),
        /// The unspent rest of a lot, expired.
        Expire = ("expire", "Expired", "积分过期"),
        /// A manual correction with a reason.
        Adjust = ("adjust", "Adjusted", "积分调整"),
    }
}

/// One row of the append-only points ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerEntry {
    /// Sequence number.
    pub id: i64,
    /// The programme.
    pub program: String,
    /// The member.
    pub party_id: PartyId,
    /// What happened.
    pub kind: LedgerKind,
    /// Points, signed (negative for redeem and expire).
    pub points: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// When an earned lot expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The lot an expiry closes.
    pub lot: Option<i64>,
    /// Why (adjustments and redemptions).
    pub reason: Option<String>,
    /// What earned it (e.g. `order:…`).
    pub source: Option<String>,
}

/// A member's standing in a programme.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Membership {
    /// The programme.
    pub program: String,
    /// The member.
    pub party_id: PartyId,
    /// Current tier (`""` in a programme without tiers).
    pub tier: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Points that can be spent: the sum of the ledger.
    pub balance: i64,
    /// Points earned in the tier window.
    pub window_points: i64,
}
