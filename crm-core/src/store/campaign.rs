//! Campaigns: enrolment with a reproducible control group, one-to-one
//! sends through the outbox, and evaluation against the control group.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::{
    CampaignReport, CampaignRun, Currency, GroupResult, Money, NewCampaign, Page, PartyId,
};
use crate::store::Tx;
use crate::store::codec::{collect, get, get_parsed, get_time, parse_date};
use crate::store::fx::Converter;

/// How one member was enrolled.
enum Enrolled {
    Control,
    Queued,
    Suppressed,
    OverBudget,
}

impl Tx<'_> {
    /// Creates a campaign (status `draft`). The segment must exist and
    /// every template must name only known placeholders and fields. A
    /// campaign with a start time runs itself from [`Crm::run_due`](crate::Crm::run_due)
    /// once it has started (and enrols the segment's newcomers at every
    /// later call until it ends); one without is run with
    /// [`Tx::run_campaign`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad plan or template; [`Error::NotFound`]
    /// for a missing segment or owner; [`Error::Conflict`] for a taken
    /// name.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{ContactKind, Currency, NewCampaign, NewParty};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let cny = Currency::new("CNY")?;
    /// let run = crm.write(|tx| {
    ///     tx.create_party(NewParty::person("Lin").with_contact(ContactKind::Email, "lin@example.com"))?;
    ///     tx.create_segment("everyone", Some("true"), &[])?;
    ///     tx.create_campaign(
    ///         NewCampaign::new("spring", "everyone", ContactKind::Email, cny, "Hi {name}!")
    ///             .with_control(0, 7),
    ///     )?;
    ///     tx.run_campaign("spring")
    /// })?;
    /// // Enrolled, but no marketing consent: the send is suppressed.
    /// assert_eq!((run.enrolled, run.suppressed), (1, 1));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_campaign(&mut self, campaign: NewCampaign) -> crate::Result<()> {
        campaign.validate()?;
        self.segment(&campaign.segment)?;
        if let Some(owner) = campaign.owner {
            self.require_live(owner, "owner")?;
        }
        for variant in &campaign.variants {
            self.check_template(&variant.template)
                .map_err(|e| Error::invalid(format!("variant {}", variant.name), e.to_string()))?;
        }
        if self.find_campaign(&campaign.name)?.is_some() {
            return Err(Error::conflict(format!("campaign `{}` exists", campaign.name)));
        }
        self.conn.execute(
            "INSERT INTO campaigns (name, definition, status, created_at) VALUES (?1, ?2, 'draft', ?3)",
            params![campaign.name, serde_json::to_string(&campaign)?, self.now_text.as_str()],
        )?;
        self.record_event(
            "campaign",
            &campaign.name,
            "campaign.created",
            None,
            Some(&serde_json::to_value(&campaign)?),
        )?;
        Ok(())
    }

    fn find_campaign(&self, name: &str) -> crate::Result<Option<(NewCampaign, String)>> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT definition, status FROM campaigns WHERE name = ?1")?
            .query_row(params![name], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        row.map(|(d, status)| {
            serde_json::from_str(&d)
                .map(|c| (c, status))
                .map_err(|e| Error::Internal(format!("campaigns.definition: {e}")))
        })
        .transpose()
    }

    /// A campaign's plan.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown name.
    pub fn campaign(&self, name: &str) -> crate::Result<NewCampaign> {
        Ok(self.find_campaign(name)?.ok_or_else(|| Error::not_found("campaign", name))?.0)
    }

    /// Every campaign with its status, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn campaigns(&self) -> crate::Result<Vec<(NewCampaign, String)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT definition, status FROM campaigns ORDER BY name")?;
        collect(&mut stmt, params![], |row| {
            let c = serde_json::from_str(&get::<String>(row, "definition")?)
                .map_err(|e| Error::Internal(format!("campaigns.definition: {e}")))?;
            Ok((c, get::<String>(row, "status")?))
        })
    }

    /// The campaigns a party is enrolled in: (campaign, group, variant,
    /// enrolled at), for its export.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn campaigns_of(&self, party: PartyId) -> crate::Result<Vec<serde_json::Value>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT campaign, grp, variant, enrolled_at FROM campaign_members WHERE party_id = ?1
             ORDER BY enrolled_at, campaign",
        )?;
        collect(&mut stmt, params![party.to_string()], |row| {
            Ok(serde_json::json!({
                "campaign": get::<String>(row, "campaign")?,
                "group": get::<String>(row, "grp")?,
                "variant": get::<Option<String>>(row, "variant")?,
                "enrolled_at": get::<String>(row, "enrolled_at")?,
            }))
        })
    }

    /// Runs a campaign: enrols every member of its segment not yet
    /// enrolled, holds back the control group and sends each treatment
    /// member its variant (consent checked, budget respected). Running
    /// again enrols only newcomers.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown campaign; [`Error::Invalid`]
    /// before its start or after its end.
    pub fn run_campaign(&mut self, name: &str) -> crate::Result<CampaignRun> {
        let (campaign, _) =
            self.find_campaign(name)?.ok_or_else(|| Error::not_found("campaign", name))?;
        self.check_open(&campaign)?;
        let mut run = CampaignRun::default();
        let mut offset = 0;
        loop {
            let page: Page<PartyId> = self.segment_members(&campaign.segment, offset, 1000)?;
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len() as u64;
            for party in page.items {
                if let Some(how) = self.enrol(&campaign, party)? {
                    count(&mut run, how);
                }
            }
        }
        self.conn.execute(
            "UPDATE campaigns SET status = 'running', started_at = coalesce(started_at, ?2) WHERE name = ?1",
            params![name, self.now_text.as_str()],
        )?;
        self.record_event(
            "campaign",
            name,
            "campaign.ran",
            None,
            Some(&serde_json::to_value(&run)?),
        )?;
        Ok(run)
    }

    /// Runs the scheduled campaigns (those with a start time) whose time
    /// has come and that have not ended: the first run enrols the segment,
    /// later ones enrol its newcomers. Returns what they did together.
    pub(crate) fn run_scheduled_campaigns(&mut self) -> crate::Result<CampaignRun> {
        let mut total = CampaignRun::default();
        for (campaign, _) in self.campaigns()? {
            let due = campaign.starts_at.is_some_and(|s| s <= self.now)
                && campaign.ends_at.is_none_or(|e| self.now < e);
            if !due {
                continue;
            }
            let run = self.run_campaign(&campaign.name)?;
            total.enrolled += run.enrolled;
            total.control += run.control;
            total.queued += run.queued;
            total.suppressed += run.suppressed;
            total.over_budget += run.over_budget;
        }
        Ok(total)
    }

    /// Enrols one party in a campaign (as a rule's action does); `false`
    /// when it was already enrolled.
    ///
    /// # Errors
    ///
    /// As [`Tx::run_campaign`], and [`Error::NotFound`] for the party.
    pub fn enrol_in_campaign(&mut self, name: &str, party: PartyId) -> crate::Result<bool> {
        let (campaign, _) =
            self.find_campaign(name)?.ok_or_else(|| Error::not_found("campaign", name))?;
        self.check_open(&campaign)?;
        self.require_live(party, "party")?;
        Ok(self.enrol(&campaign, party)?.is_some())
    }

    fn check_open(&self, campaign: &NewCampaign) -> crate::Result<()> {
        if campaign.starts_at.is_some_and(|s| self.now < s) {
            return Err(Error::invalid(
                "campaign",
                format!("`{}` starts at {}", campaign.name, campaign.starts_at.unwrap_or(self.now)),
            ));
        }
        if campaign.ends_at.is_some_and(|e| self.now >= e) {
            return Err(Error::invalid("campaign", format!("`{}` has ended", campaign.name)));
        }
        Ok(())
    }

    fn enrol(&mut self, campaign: &NewCampaign, party: PartyId) -> crate::Result<Option<Enrolled>> {
        let known: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM campaign_members WHERE campaign = ?1 AND party_id = ?2")?
            .query_row(params![campaign.name, party.to_string()], |row| row.get(0))
            .optional()?;
        if known.is_some() {
            return Ok(None);
        }
        let p = self.get_party(party)?;
        let control = campaign.in_control(party);
        let variant = campaign.variant_for(party, p.language.as_deref());
        let mut outbox = None;
        let mut cost = 0;
        let how = if control {
            Enrolled::Control
        } else {
            let spent: i64 = self
                .conn
                .prepare_cached(
                    "SELECT coalesce(sum(cost), 0) FROM campaign_members WHERE campaign = ?1",
                )?
                .query_row(params![campaign.name], |row| row.get(0))?;
            let price = campaign.cost_per_message.minor();
            if campaign.budget.is_some_and(|b| spent + price > b.minor()) {
                Enrolled::OverBudget
            } else {
                let content = self.render_for(&p, &variant.template)?;
                let (id, queued) = self.queue_message(
                    &p,
                    campaign.channel,
                    &campaign.purpose,
                    &content,
                    &format!("campaign:{}", campaign.name),
                )?;
                outbox = Some(id);
                if queued {
                    cost = price;
                    Enrolled::Queued
                } else {
                    Enrolled::Suppressed
                }
            }
        };
        self.conn
            .prepare_cached(
                "INSERT INTO campaign_members (campaign, party_id, grp, variant, enrolled_at, outbox_id, cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                campaign.name,
                party.to_string(),
                if control { "control" } else { "treatment" },
                (!control).then_some(variant.name.as_str()),
                self.now_text.as_str(),
                outbox,
                cost
            ])?;
        self.record_event(
            "party",
            &party.to_string(),
            "campaign.enrolled",
            None,
            Some(&serde_json::json!({
                "campaign": campaign.name,
                "group": if control { "control" } else { "treatment" },
                "variant": (!control).then_some(variant.name.as_str()),
            })),
        )?;
        Ok(Some(how))
    }

    /// Evaluates a campaign: per group the members, responses (inbound
    /// interactions) and conversions (orders counting as revenue) inside
    /// the window after each member's enrolment, revenue in the campaign
    /// currency (converted at order dates), cost, ROI and the uplift in
    /// conversion against the control group with a 95 % interval.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown campaign or a missing FX rate.
    pub fn campaign_report(&self, name: &str) -> crate::Result<CampaignReport> {
        let (campaign, status) =
            self.find_campaign(name)?.ok_or_else(|| Error::not_found("campaign", name))?;
        let status = if campaign.ends_at.is_some_and(|e| self.now >= e) {
            "ended".to_owned()
        } else {
            status
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.party_id, m.grp, m.enrolled_at, m.cost,
                    (SELECT status FROM outbox WHERE id = m.outbox_id) AS sent
             FROM campaign_members m WHERE m.campaign = ?1",
        )?;
        let members = collect(&mut stmt, params![name], |row| {
            Ok((
                get_parsed::<PartyId>(row, "party_id")?,
                get::<String>(row, "grp")?,
                get_time(row, "enrolled_at")?,
                get::<i64>(row, "cost")?,
                get::<Option<String>>(row, "sent")?,
            ))
        })?;
        let currency = campaign.currency;
        let mut converter = Converter::new(self, currency);
        let window = Duration::days(campaign.window_days);
        let mut groups = [Tally::new(currency), Tally::new(currency)];
        let (mut reach, mut suppressed, mut cost) = (0, 0, 0i64);
        for (party, group, at, spent, sent) in members {
            let tally = &mut groups[usize::from(group == "control")];
            tally.members += 1;
            cost += spent;
            match sent.as_deref() {
                Some("queued") => reach += 1,
                Some("suppressed") => suppressed += 1,
                _ => {}
            }
            let end = at + window;
            if self.responded(party, at, end)? {
                tally.responded += 1;
            }
            let orders = self.orders_between(party, at, end)?;
            if !orders.is_empty() {
                tally.converted += 1;
            }
            for (money, day) in orders {
                let converted = converter.convert(money, day)?;
                tally.revenue = tally.revenue.checked_add(converted)?;
            }
        }
        let [treatment, control] = groups.map(Tally::result);
        let cost = Money::new(cost, currency);
        let per_member = |g: &GroupResult| {
            if g.members == 0 { 0.0 } else { g.revenue.minor() as f64 / g.members as f64 }
        };
        let expected = (per_member(&control) * treatment.members as f64).round() as i64;
        let incremental_revenue = treatment.revenue.checked_sub(Money::new(expected, currency))?;
        let roi = (cost.minor() > 0)
            .then(|| (incremental_revenue.minor() - cost.minor()) as f64 / cost.minor() as f64);
        let uplift = treatment.conversion_rate - control.conversion_rate;
        let variance = |g: &GroupResult| {
            if g.members == 0 {
                0.0
            } else {
                g.conversion_rate * (1.0 - g.conversion_rate) / g.members as f64
            }
        };
        let half = 1.959_964 * (variance(&treatment) + variance(&control)).sqrt();
        Ok(CampaignReport {
            name: name.to_owned(),
            status,
            treatment,
            control,
            reach,
            suppressed,
            cost,
            incremental_revenue,
            roi,
            uplift,
            uplift_ci: (uplift - half, uplift + half),
        })
    }

    fn responded(
        &self,
        party: PartyId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> crate::Result<bool> {
        let hit: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM interactions WHERE party_id = ?1 AND direction = 'inbound'
                   AND at >= ?2 AND at < ?3 LIMIT 1",
            )?
            .query_row(
                params![
                    party.to_string(),
                    crate::store::codec::time_text(&from),
                    crate::store::codec::time_text(&to)
                ],
                |row| row.get(0),
            )
            .optional()?;
        Ok(hit.is_some())
    }

    fn orders_between(
        &self,
        party: PartyId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> crate::Result<Vec<(Money, chrono::NaiveDate)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.currency, substr(o.ordered_at, 1, 10) AS day, coalesce(sum(l.net), 0) AS net
             FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
             WHERE o.party_id = ?1 AND o.status NOT IN ('draft', 'cancelled')
               AND o.ordered_at >= ?2 AND o.ordered_at < ?3
             GROUP BY o.id",
        )?;
        collect(
            &mut stmt,
            params![
                party.to_string(),
                crate::store::codec::time_text(&from),
                crate::store::codec::time_text(&to)
            ],
            |row| {
                let currency = get_parsed::<Currency>(row, "currency")?;
                Ok((
                    Money::new(get(row, "net")?, currency),
                    parse_date(&get::<String>(row, "day")?, "ordered_at")?,
                ))
            },
        )
    }
}

fn count(run: &mut CampaignRun, how: Enrolled) {
    run.enrolled += 1;
    match how {
        Enrolled::Control => run.control += 1,
        Enrolled::Queued => run.queued += 1,
        Enrolled::Suppressed => run.suppressed += 1,
        Enrolled::OverBudget => run.over_budget += 1,
    }
}

struct Tally {
    members: u64,
    responded: u64,
    converted: u64,
    revenue: Money,
}

impl Tally {
    fn new(currency: Currency) -> Tally {
        Tally { members: 0, responded: 0, converted: 0, revenue: Money::new(0, currency) }
    }

    fn result(self) -> GroupResult {
        let rate = |n: u64| if self.members == 0 { 0.0 } else { n as f64 / self.members as f64 };
        GroupResult {
            members: self.members,
            responded: self.responded,
            converted: self.converted,
            revenue: self.revenue,
            response_rate: rate(self.responded),
            conversion_rate: rate(self.converted),
        }
    }
}
