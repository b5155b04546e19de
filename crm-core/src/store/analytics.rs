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

impl Tx<'_> {
    /// The key-account scorecard of organisations (all live organisations
    /// with orders, directly or through members, when `accounts` is
    /// `None`), money in `currency` converted at order dates; most valuable
    /// first. See [`KeyAccount`](crate::model::KeyAccount) for each figure.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown account or
    /// a missing FX rate.
    pub fn key_accounts(
        &self,
        accounts: Option<&[PartyId]>,
        currency: Currency,
        today: NaiveDate,
    ) -> crate::Result<Vec<crate::model::KeyAccount>> {
        use crate::store::codec::time_text;
        let ids: Vec<PartyId> = match accounts {
            Some(ids) => ids.to_vec(),
            None => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id FROM parties WHERE kind = 'organization' AND deleted_at IS NULL ORDER BY id",
                )?;
                collect(&mut stmt, params![], |row| get_parsed(row, "id"))?
            }
        };
        let year_ago = today - chrono::Duration::days(365);
        let two_years_ago = today - chrono::Duration::days(730);
        let quarter_ago = today - chrono::Duration::days(90);
        let now = time_text(&today.and_time(chrono::NaiveTime::MIN).and_utc());
        let mut converter = Converter::new(self, currency);
        let mut out = Vec::new();
        for id in ids {
            let party = self.get_party(id)?;
            let mut members: Vec<PartyId> = self
                .descendants(id, "subsidiary-of", None)?
                .into_iter()
                .map(|n| n.party_id)
                .collect();
            let contacts: Vec<PartyId> = self
                .descendants(id, "employee-of", None)?
                .into_iter()
                .map(|n| n.party_id)
                .collect();
            let n_contacts = contacts.len() as u64;
            members.extend(contacts);
            members.sort();
            members.dedup();
            let mut all = vec![id];
            all.extend(members.iter().copied());
            let (mut value, mut margin, mut recent, mut earlier) = (0i64, 0i64, 0i64, 0i64);
            let (mut cases, mut breaches, mut interactions) = (0u64, 0u64, 0u64);
            let mut clv: Option<f64> = None;
            let mut lowest_alive: Option<f64> = None;
            let mut orders = self.conn.prepare_cached(
                "SELECT o.currency, substr(o.ordered_at, 1, 10) AS day, sum(l.net) AS net, sum(l.cost) AS cost
                 FROM orders o JOIN order_lines l ON l.order_id = o.id
                 WHERE o.party_id = ?1 AND o.status NOT IN ('draft', 'cancelled') GROUP BY o.id",
            )?;
            let mut case_stmt = self.conn.prepare_cached(
                "SELECT count(*) AS n,
                        coalesce(sum((first_response_due IS NOT NULL AND coalesce(first_response_at, ?3) > first_response_due)
                                  OR (resolution_due IS NOT NULL AND coalesce(resolved_at, ?3) > resolution_due)), 0) AS late
                 FROM cases WHERE party_id = ?1 AND opened_at >= ?2",
            )?;
            let mut touch = self.conn.prepare_cached(
                "SELECT count(*) FROM interactions WHERE party_id = ?1 AND at >= ?2",
            )?;
            for member in &all {
                let key = member.to_string();
                for (c, day, net, cost) in collect(&mut orders, params![key], |row| {
                    Ok((
                        get_parsed::<Currency>(row, "currency")?,
                        parse_date(&get::<String>(row, "day")?, "ordered_at")?,
                        get::<i64>(row, "net")?,
                        get::<i64>(row, "cost")?,
                    ))
                })? {
                    let net = converter.convert(Money::new(net, c), day)?.minor();
                    let cost = converter.convert(Money::new(cost, c), day)?.minor();
                    value += net;
                    margin += net - cost;
                    if day > year_ago && day <= today {
                        recent += net;
                    } else if day > two_years_ago && day <= year_ago {
                        earlier += net;
                    }
                }
                let (n, late): (i64, i64) = case_stmt.query_row(
                    params![
                        key,
                        time_text(&year_ago.and_time(chrono::NaiveTime::MIN).and_utc()),
                        now
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                cases += n as u64;
                breaches += late as u64;
                let touches: i64 = touch.query_row(
                    params![
                        key,
                        time_text(&quarter_ago.and_time(chrono::NaiveTime::MIN).and_utc())
                    ],
                    |row| row.get(0),
                )?;
                interactions += touches as u64;
                if let Some(score) = self.score(*member, "clv")? {
                    *clv.get_or_insert(0.0) += score;
                }
                if let Some(alive) = self.score(*member, "p_alive")? {
                    lowest_alive = Some(lowest_alive.map_or(alive, |l: f64| l.min(alive)));
                }
            }
            let growth = (earlier > 0).then(|| (recent - earlier) as f64 / earlier as f64);
            let wallet = party.fields.get("wallet").and_then(crate::model::FieldValue::as_decimal);
            let major = currency.minor_per_major() as f64;
            let share_of_wallet = wallet.and_then(|w| {
                let w = w.to_string().parse::<f64>().ok()?;
                (w > 0.0).then(|| recent as f64 / major / w)
            });
            let decline = growth.map_or(0.0, |g| (-g).clamp(0.0, 1.0));
            let service = if cases > 0 { breaches as f64 / cases as f64 } else { 0.0 };
            let dormancy = lowest_alive.map_or(0.0, |a| (1.0 - a).clamp(0.0, 1.0));
            out.push(crate::model::KeyAccount {
                party_id: id,
                name: party.name.clone(),
                members: members.len() as u64,
                value_to_date: Money::new(value, currency),
                margin_to_date: Money::new(margin, currency),
                revenue_12m: Money::new(recent, currency),
                growth,
                clv,
                share_of_wallet,
                cases_12m: cases,
                sla_breaches_12m: breaches,
                contacts: n_contacts,
                interactions_90d: interactions,
                risk: (decline + service + dormancy) / 3.0,
                loss_if_lost: clv
                    .unwrap_or(recent as f64 / major * (margin as f64 / value.max(1) as f64)),
            });
        }
        if accounts.is_none() {
            out.retain(|a| a.value_to_date.minor() != 0);
        }
        out.sort_by_key(|a| std::cmp::Reverse(a.value_to_date.minor()));
        Ok(out)
    }
}

impl Tx<'_> {
    /// A customer's 7P profile (see [`SevenP`](crate::model::SevenP)), money
    /// in `currency` converted at order dates.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown party or a
    /// missing FX rate.
    pub fn seven_p(
        &self,
        party: PartyId,
        currency: Currency,
        today: NaiveDate,
    ) -> crate::Result<crate::model::SevenP> {
        let p = self.get_party(party)?;
        // The scorecard's sums over the party and its members (a person has
        // none) are the figures the profile needs.
        let card = self.key_accounts(Some(&[party]), currency, today)?;
        let Some(card) = card.first() else {
            return Err(crate::Error::Internal(format!("no scorecard for party {party}")));
        };
        let (margin, revenue_12m, growth, interactions) =
            (card.margin_to_date, card.revenue_12m, card.growth, card.interactions_90d);
        let first: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT min(substr(ordered_at, 1, 10)) FROM orders WHERE party_id = ?1 AND status NOT IN ('draft', 'cancelled')",
            )?
            .query_row(params![party.to_string()], |row| row.get(0))?;
        let tenure_days = first
            .map(|d| parse_date(&d, "ordered_at"))
            .transpose()?
            .map(|d| (today - d).num_days());
        let mut converter = Converter::new(self, currency);
        let mut weighted = 0i64;
        let mut open = 0u64;
        for o in self.opportunities(Some(party))? {
            if o.status == crate::model::OpportunityStatus::Open {
                open += 1;
                weighted += converter.convert(o.weighted(), today)?.minor();
            }
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT coalesce(p.category, '') AS category, sum(l.net) AS net
             FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
             WHERE o.party_id = ?1 AND o.status NOT IN ('draft', 'cancelled')
             GROUP BY category ORDER BY net DESC, category",
        )?;
        let categories: Vec<(String, i64)> =
            collect(&mut stmt, params![party.to_string()], |row| {
                Ok((get(row, "category")?, get(row, "net")?))
            })?;
        Ok(crate::model::SevenP {
            party_id: party,
            kind: p.kind.code().to_owned(),
            roles: p
                .roles
                .iter()
                .filter(|r| r.until.is_none())
                .map(|r| r.role.code().to_owned())
                .collect(),
            stage: p.stage.map(|s| s.code().to_owned()),
            tier: p.fields.get("tier").map(crate::model::FieldValue::to_text),
            tenure_days,
            p_alive: self.score(party, "p_alive")?,
            margin_to_date: margin,
            clv: self.score(party, "clv")?,
            revenue_12m,
            growth,
            open_opportunities: open,
            weighted_pipeline: Money::new(weighted, currency),
            categories: categories.len() as u64,
            main_category: categories.first().map(|(c, _)| c.clone()).filter(|c| !c.is_empty()),
            marketable: p.contacts.iter().any(|c| c.allows("marketing")),
            interactions_90d: interactions,
        })
    }
}
