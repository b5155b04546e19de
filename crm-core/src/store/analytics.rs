//! The columns analytics needs, built from orders in one query.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::params;

use crate::analytics::{Summary, TimeUnit, Transactions, summarize};
use crate::model::{Currency, Money, PartyId};
use crate::store::Tx;
use crate::store::codec::{collect, get, get_parsed, parse_date};
use crate::store::fx::Converter;

impl Tx<'_> {
    /// The purchase log for analytics: one row per order that counts as
    /// revenue (net of returns), its day, and its revenue converted into
    /// `currency` at the order date, in major units. Customers are numbered
    /// 0, 1, … in `Transactions::customer`; the returned vector maps those
    /// numbers to parties.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing FX rate.
    pub fn purchase_log(&self, currency: Currency) -> crate::Result<(Vec<PartyId>, Transactions)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.party_id, o.currency, substr(o.ordered_at, 1, 10) AS day, sum(l.net) AS net
             FROM orders o JOIN order_lines l ON l.order_id = o.id
             WHERE o.status NOT IN ('draft', 'cancelled')
             GROUP BY o.id ORDER BY o.party_id, o.ordered_at",
        )?;
        let rows = collect(&mut stmt, params![], |row| {
            Ok((
                get_parsed::<PartyId>(row, "party_id")?,
                get_parsed::<Currency>(row, "currency")?,
                parse_date(&get::<String>(row, "day")?, "ordered_at")?,
                get::<i64>(row, "net")?,
            ))
        })?;
        let mut converter = Converter::new(self, currency);
        let mut parties: Vec<PartyId> = Vec::new();
        let mut index: HashMap<PartyId, u64> = HashMap::new();
        let mut log = Transactions::default();
        for (party, order_currency, day, net) in rows {
            let amount = converter.convert(Money::new(net, order_currency), day)?;
            let key = *index.entry(party).or_insert_with(|| {
                parties.push(party);
                parties.len() as u64 - 1
            });
            log.push(key, day, amount.minor() as f64 / amount.currency().minor_per_major() as f64);
        }
        Ok((parties, log))
    }

    /// The per-customer summary of [`Tx::purchase_log`]: frequency, recency,
    /// age and mean repeat spend per party (parties whose first order is
    /// after `calibration_end` are left out).
    ///
    /// # Errors
    ///
    /// As [`Tx::purchase_log`] and [`summarize`].
    pub fn customer_summary(
        &self,
        currency: Currency,
        unit: TimeUnit,
        calibration_end: NaiveDate,
        observation_end: Option<NaiveDate>,
    ) -> crate::Result<(Vec<PartyId>, Summary)> {
        let (parties, log) = self.purchase_log(currency)?;
        let summary = summarize(&log, unit, calibration_end, observation_end)?;
        let ids = summary.customer.iter().map(|k| parties[*k as usize]).collect();
        Ok((ids, summary))
    }
}

impl Tx<'_> {
    /// Sets every customer's lifecycle stage from their orders (see
    /// [`lifecycle_stage`](crate::analytics::lifecycle_stage) for the
    /// rules), with revenue in `currency` (converted at order dates).
    /// Parties with orders get a behavioural stage; live parties without
    /// orders and without a stage become prospects. A change is written to
    /// the stage history with the reason `behaviour` and an event.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing FX rate.
    pub fn assign_lifecycle_stages(
        &mut self,
        today: NaiveDate,
        rules: &crate::analytics::LifecycleRules,
        currency: Currency,
    ) -> crate::Result<crate::model::LifecycleAssignment> {
        use crate::analytics::{Activity, lifecycle_stage};
        use crate::model::LifecycleStage;
        let (parties, log) = self.purchase_log(currency)?;
        let mut activity: Vec<Activity> = vec![Activity::default(); parties.len()];
        let window = chrono::Duration::days(rules.window_days);
        for i in 0..log.customer.len() {
            let a = &mut activity[log.customer[i] as usize];
            let day = log.day[i];
            a.first = Some(a.first.map_or(day, |f| f.min(day)));
            a.last = Some(a.last.map_or(day, |l| l.max(day)));
            if day > today - window && day <= today {
                a.recent += log.amount[i];
            } else if day > today - window - window && day <= today - window {
                a.previous += log.amount[i];
            }
        }
        // The last time each party was marked churned.
        let mut stmt = self.conn.prepare_cached(
            "SELECT party_id, max(substr(at, 1, 10)) AS at FROM party_stages WHERE stage = 'churned' GROUP BY party_id",
        )?;
        let churn_marks: HashMap<PartyId, NaiveDate> = collect(&mut stmt, params![], |row| {
            Ok((
                get_parsed::<PartyId>(row, "party_id")?,
                parse_date(&get::<String>(row, "at")?, "at")?,
            ))
        })?
        .into_iter()
        .collect();
        let mut days: Vec<Vec<NaiveDate>> = vec![Vec::new(); parties.len()];
        for (customer, day) in log.customer.iter().zip(&log.day) {
            days[*customer as usize].push(*day);
        }
        for (i, party) in parties.iter().enumerate() {
            if let Some(mark) = churn_marks.get(party)
                && let Some(first_back) = days[i].iter().filter(|d| *d > mark).min()
            {
                activity[i].churned_before = true;
                activity[i].won_back_recently = *first_back > today - window;
            }
        }
        let mut outcome = crate::model::LifecycleAssignment::default();
        let mut targets: Vec<(PartyId, LifecycleStage)> = parties
            .iter()
            .zip(&activity)
            .map(|(p, a)| (*p, lifecycle_stage(a, today, rules)))
            .collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM parties p WHERE deleted_at IS NULL AND stage IS NULL
               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.party_id = p.id)
               AND EXISTS (SELECT 1 FROM party_roles r WHERE r.party_id = p.id AND r.role IN ('customer', 'prospect'))",
        )?;
        let prospects: Vec<PartyId> = collect(&mut stmt, params![], |row| get_parsed(row, "id"))?;
        targets.extend(prospects.into_iter().map(|p| (p, LifecycleStage::Prospect)));
        for (party, stage) in targets {
            let current = self.get_party(party)?;
            if !current.is_live() {
                continue;
            }
            outcome.parties += 1;
            *outcome.by_stage.entry(stage.code().to_owned()).or_default() += 1;
            if current.stage != Some(stage) {
                self.set_stage(party, stage, Some("behaviour"))?;
                outcome.changed += 1;
            }
        }
        Ok(outcome)
    }

    /// Why the customers who churned in `period` left (see
    /// [`ChurnCauses`](crate::model::ChurnCauses) for the rules). SLA
    /// breaches of cases still open are judged at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn churn_causes(
        &self,
        period: &crate::model::Period,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::Result<crate::model::ChurnCauses> {
        use crate::model::ChurnReason;
        use crate::store::codec::time_text;
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT party_id FROM party_stages WHERE stage = 'churned' AND at >= ?1 AND at < ?2",
        )?;
        let churned: Vec<String> = collect(
            &mut stmt,
            params![time_text(&period.start_time()), time_text(&period.end_time())],
            |row| get(row, "party_id"),
        )?;
        let mut out = crate::model::ChurnCauses {
            period: period.clone(),
            churned: churned.len() as u64,
            service: 0,
            product: 0,
            commercial: 0,
            other: 0,
            unexplained: 0,
            churn_reasons: Default::default(),
            case_types: Default::default(),
            complaint_categories: Default::default(),
            lost_reasons: Default::default(),
            with_sla_breach: 0,
        };
        let now = time_text(&now);
        let mut cases = self.conn.prepare_cached(
            "SELECT case_type, category, churn_reason,
                    (first_response_due IS NOT NULL AND coalesce(first_response_at, ?2) > first_response_due)
                 OR (resolution_due IS NOT NULL AND coalesce(resolved_at, ?2) > resolution_due) AS breached
             FROM cases WHERE party_id = ?1",
        )?;
        let mut lost = self.conn.prepare_cached(
            "SELECT close_reason FROM opportunities WHERE party_id = ?1 AND status = 'lost' AND close_reason IS NOT NULL",
        )?;
        for party in &churned {
            let rows = collect(&mut cases, params![party, now], |row| {
                Ok((
                    get::<String>(row, "case_type")?,
                    get::<Option<String>>(row, "category")?,
                    get::<Option<String>>(row, "churn_reason")?,
                    get::<bool>(row, "breached")?,
                ))
            })?;
            let reasons: Vec<String> =
                collect(&mut lost, params![party], |row| get(row, "close_reason"))?;
            let mut stated: Option<ChurnReason> = None;
            let mut breached = false;
            let mut product_case = false;
            for (case_type, category, churn_reason, breach) in &rows {
                *out.case_types.entry(case_type.clone()).or_default() += 1;
                if case_type == "complaint"
                    && let Some(category) = category
                {
                    *out.complaint_categories.entry(category.clone()).or_default() += 1;
                }
                if let Some(reason) = churn_reason {
                    *out.churn_reasons.entry(reason.clone()).or_default() += 1;
                    stated = stated.or(ChurnReason::from_code(reason).ok());
                }
                breached |= *breach;
                product_case |= matches!(case_type.as_str(), "defect" | "return" | "repair");
            }
            for reason in &reasons {
                *out.lost_reasons.entry(reason.clone()).or_default() += 1;
            }
            if breached {
                out.with_sla_breach += 1;
            }
            let commercial_loss = reasons.iter().any(|r| r == "price" || r == "competitor");
            let bucket = match stated {
                Some(
                    ChurnReason::ServiceQuality | ChurnReason::SlowResponse | ChurnReason::Billing,
                ) => &mut out.service,
                Some(ChurnReason::ProductQuality) => &mut out.product,
                Some(ChurnReason::Price | ChurnReason::Competitor) => &mut out.commercial,
                Some(_) => &mut out.other,
                None if breached => &mut out.service,
                None if product_case => &mut out.product,
                None if commercial_loss => &mut out.commercial,
                None => &mut out.unexplained,
            };
            *bucket += 1;
        }
        Ok(out)
    }
}
