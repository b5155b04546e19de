//! Sales and service reports: pipeline, forecast, SLA, salesperson KPIs.
//!
//! The store gathers rows with SQL; the arithmetic (conversion, weighting,
//! business time) is done here in exact integers, never floats, except
//! for ratios and averages of time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;

use crate::model::opportunity::weighted;
use crate::model::{
    Channel, Currency, ForecastRow, KpiReport, KpiRow, Money, OpportunityStatus, PartyId, Period,
    PeriodUnit, PipelineReport, PipelineRow, Priority, SlaReport, SlaRow,
};
use crate::store::Tx;
use crate::store::case::{CASE_COLUMNS, case_from_row};
use crate::store::codec::{collect, get, get_parsed, get_time, parse_date, time_text};
use crate::store::fx::Converter;
use crate::store::opportunity::{OPPORTUNITY_SELECT, opportunity_from_row};

const SECONDS_PER_DAY: f64 = 86_400.0;

impl Tx<'_> {
    /// The open pipeline per stage (count, amount, weighted amount), with
    /// stage conversion rates and average days per stage over the whole
    /// history of the pipeline.
    ///
    /// Without a reporting currency there is one report per currency the
    /// open opportunities are in; with one, a single report with every
    /// amount converted at the rate for `as_of`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown pipeline,
    /// or a missing FX rate when converting.
    pub fn pipeline_report(
        &self,
        pipeline: &str,
        currency: Option<Currency>,
        as_of: NaiveDate,
    ) -> crate::Result<Vec<PipelineReport>> {
        let pipeline = self.pipeline(pipeline)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OPPORTUNITY_SELECT}
             FROM opportunities o LEFT JOIN pipeline_stages s ON s.pipeline = o.pipeline AND s.code = o.stage
             WHERE o.pipeline = ?1"
        ))?;
        let opportunities = collect(&mut stmt, params![pipeline.code], opportunity_from_row)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.opportunity_id, v.stage, v.entered_at, v.left_at
             FROM opportunity_stages v JOIN opportunities o ON o.id = v.opportunity_id
             WHERE o.pipeline = ?1 ORDER BY v.id",
        )?;
        let visits = collect(&mut stmt, params![pipeline.code], |row| {
            Ok((
                get::<String>(row, "opportunity_id")?,
                get::<String>(row, "stage")?,
                get_time(row, "entered_at")?,
                crate::store::codec::get_opt_time(row, "left_at")?,
            ))
        })?;
        // Conversion: of the opportunities that entered a stage, how many
        // reached a later stage or were won.
        let won: BTreeSet<String> = opportunities
            .iter()
            .filter(|o| o.status == OpportunityStatus::Won)
            .map(|o| o.id.to_string())
            .collect();
        let mut furthest: HashMap<&str, usize> = HashMap::new();
        let mut entered: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); pipeline.stages.len()];
        let mut days: Vec<(f64, u64)> = vec![(0.0, 0); pipeline.stages.len()];
        for (opportunity, stage, entered_at, left_at) in &visits {
            let Some(position) = pipeline.position(stage) else { continue };
            entered[position].insert(opportunity);
            let far = furthest.entry(opportunity).or_insert(position);
            *far = (*far).max(position);
            if let Some(left_at) = left_at {
                days[position].0 += (*left_at - *entered_at).num_seconds() as f64 / SECONDS_PER_DAY;
                days[position].1 += 1;
            }
        }
        let mut groups: BTreeMap<Currency, Vec<(usize, Money)>> = BTreeMap::new();
        let mut converter = currency.map(|c| Converter::new(self, c));
        for opportunity in opportunities.iter().filter(|o| o.status == OpportunityStatus::Open) {
            let Some(position) = pipeline.position(&opportunity.stage) else { continue };
            let amount = match &mut converter {
                Some(converter) => converter.convert(opportunity.amount, as_of)?,
                None => opportunity.amount,
            };
            groups.entry(amount.currency()).or_default().push((position, amount));
        }
        if let Some(currency) = currency {
            groups.entry(currency).or_default();
        }
        let count = |status| opportunities.iter().filter(|o| o.status == status).count() as u64;
        let mut reports = Vec::new();
        for (group_currency, amounts) in groups {
            let mut rows = Vec::with_capacity(pipeline.stages.len());
            for (position, stage) in pipeline.stages.iter().enumerate() {
                let here: Vec<Money> =
                    amounts.iter().filter(|(p, _)| *p == position).map(|(_, m)| *m).collect();
                let amount = Money::sum(group_currency, here.iter())?;
                let weighted_sum = Money::sum(
                    group_currency,
                    here.iter().map(|m| weighted(*m, stage.probability)).collect::<Vec<_>>().iter(),
                )?;
                let entered_n = entered[position].len() as u64;
                let advanced = entered[position]
                    .iter()
                    .filter(|o| {
                        won.contains(**o) || furthest.get(**o).is_some_and(|f| *f > position)
                    })
                    .count() as u64;
                let (day_sum, day_n) = days[position];
                rows.push(PipelineRow {
                    stage: stage.code.clone(),
                    name_en: stage.name_en.clone(),
                    name_zh: stage.name_zh.clone(),
                    probability: stage.probability,
                    open: here.len() as u64,
                    amount,
                    weighted: weighted_sum,
                    entered: entered_n,
                    advanced,
                    conversion: (entered_n > 0).then(|| advanced as f64 / entered_n as f64),
                    average_days: (day_n > 0).then(|| day_sum / day_n as f64),
                });
            }
            reports.push(PipelineReport {
                pipeline: pipeline.code.clone(),
                currency: group_currency,
                converted: currency.is_some(),
                as_of,
                rows,
                won: count(OpportunityStatus::Won),
                lost: count(OpportunityStatus::Lost),
            });
        }
        Ok(reports)
    }

    /// The weighted forecast by owner, sub-period (`unit`) and currency for
    /// opportunities expected to close in `period`: open pipeline and its
    /// weighted amount by expected close date, and the amount won by close
    /// date. With a reporting currency, open amounts convert at `as_of` and
    /// won amounts at their close date.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing FX rate.
    pub fn forecast(
        &self,
        period: &Period,
        unit: PeriodUnit,
        currency: Option<Currency>,
        as_of: NaiveDate,
    ) -> crate::Result<Vec<ForecastRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OPPORTUNITY_SELECT}
             FROM opportunities o LEFT JOIN pipeline_stages s ON s.pipeline = o.pipeline AND s.code = o.stage
             WHERE (o.status = 'open' AND o.expected_close >= ?1 AND o.expected_close < ?2)
                OR (o.status = 'won' AND o.closed_at >= ?3 AND o.closed_at < ?4)"
        ))?;
        let opportunities = collect(
            &mut stmt,
            params![
                crate::store::codec::date_text(&period.start),
                crate::store::codec::date_text(&period.end),
                time_text(&period.start_time()),
                time_text(&period.end_time())
            ],
            opportunity_from_row,
        )?;
        let mut converter = currency.map(|c| Converter::new(self, c));
        let mut rows: BTreeMap<(String, Option<PartyId>, String, Currency), ForecastRow> =
            BTreeMap::new();
        let mut names = NameCache::default();
        for opportunity in opportunities {
            let won = opportunity.status == OpportunityStatus::Won;
            let day = match (won, opportunity.closed_at) {
                (true, Some(closed)) => closed.date_naive(),
                _ => opportunity.expected_close,
            };
            let amount = match &mut converter {
                Some(converter) => {
                    converter.convert(opportunity.amount, if won { day } else { as_of })?
                }
                None => opportunity.amount,
            };
            let sub = Period::containing(day, unit)?;
            let owner_name = names.name(self, opportunity.owner)?;
            let c = amount.currency();
            let row = rows
                .entry((owner_name.clone(), opportunity.owner, sub.label.clone(), c))
                .or_insert_with(|| ForecastRow {
                    owner: opportunity.owner,
                    owner_name,
                    period: sub.label.clone(),
                    currency: c,
                    open: 0,
                    pipeline: Money::zero(c),
                    weighted: Money::zero(c),
                    won: Money::zero(c),
                });
            if won {
                row.won = row.won.checked_add(amount)?;
            } else {
                row.open += 1;
                row.pipeline = row.pipeline.checked_add(amount)?;
                row.weighted =
                    row.weighted.checked_add(weighted(amount, opportunity.probability))?;
            }
        }
        Ok(rows.into_values().collect())
    }

    /// SLA performance of the cases opened in `period` that have an SLA
    /// policy, per priority: targets met and breached (a missing response
    /// or resolution counts as breached once its due time is past `now`),
    /// cases breaching now, and mean business minutes to first response
    /// and to resolution.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn sla_report(&self, period: &Period, now: DateTime<Utc>) -> crate::Result<SlaReport> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CASE_COLUMNS} FROM cases
             WHERE sla_policy IS NOT NULL AND opened_at >= ?1 AND opened_at < ?2"
        ))?;
        let cases = collect(
            &mut stmt,
            params![time_text(&period.start_time()), time_text(&period.end_time())],
            case_from_row,
        )?;
        let breaching: BTreeSet<_> =
            self.cases_breaching(now)?.into_iter().map(|b| b.case_id).collect();
        let mut calendars = BTreeMap::new();
        let mut rows: BTreeMap<std::cmp::Reverse<Priority>, (SlaRow, Averages, Averages)> =
            BTreeMap::new();
        for case in &cases {
            let sla = self.case_sla_outcome(case, &mut calendars, now)?;
            let (row, first, resolution) =
                rows.entry(std::cmp::Reverse(case.priority)).or_insert_with(|| {
                    (
                        SlaRow {
                            priority: case.priority,
                            cases: 0,
                            first_response_met: 0,
                            first_response_breached: 0,
                            resolution_met: 0,
                            resolution_breached: 0,
                            breaching_now: 0,
                            average_first_response_minutes: None,
                            average_resolution_minutes: None,
                        },
                        Averages::default(),
                        Averages::default(),
                    )
                });
            row.cases += 1;
            match sla.first_response_met {
                Some(true) => row.first_response_met += 1,
                Some(false) => row.first_response_breached += 1,
                None => {}
            }
            match sla.resolution_met {
                Some(true) => row.resolution_met += 1,
                Some(false) => row.resolution_breached += 1,
                None => {}
            }
            if breaching.contains(&case.id) {
                row.breaching_now += 1;
            }
            first.add(sla.first_response_minutes);
            resolution.add(sla.resolution_minutes);
        }
        Ok(SlaReport {
            period: period.clone(),
            now,
            rows: rows
                .into_values()
                .map(|(mut row, first, resolution)| {
                    row.average_first_response_minutes = first.mean();
                    row.average_resolution_minutes = resolution.mean();
                    row
                })
                .collect(),
        })
    }

    /// Behaviour and results per salesperson in `period`, money in
    /// `currency` (orders converted at their order date, won deals at their
    /// close date, the forecast at the period's start). See [`KpiRow`] for
    /// the definition of each figure.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing FX rate.
    pub fn kpi_report(
        &self,
        period: &Period,
        currency: Currency,
        now: DateTime<Utc>,
    ) -> crate::Result<KpiReport> {
        let from = time_text(&period.start_time());
        let to = time_text(&period.end_time());
        let mut kpis: BTreeMap<PartyId, KpiRow> = BTreeMap::new();
        let zero = Money::zero(currency);
        // Behaviour: interactions by channel.
        let mut stmt = self.conn.prepare_cached(
            "SELECT owner_id, channel, count(*) AS n FROM interactions
             WHERE owner_id IS NOT NULL AND at >= ?1 AND at < ?2 GROUP BY owner_id, channel",
        )?;
        for (owner, channel, n) in collect(&mut stmt, params![from, to], |r| {
            Ok((
                get_parsed::<PartyId>(r, "owner_id")?,
                get_parsed::<Channel>(r, "channel")?,
                get::<i64>(r, "n")? as u64,
            ))
        })? {
            let kpi = kpi_row(&mut kpis, owner, zero);
            kpi.interactions.insert(channel, n);
            match channel {
                Channel::Visit => kpi.visits += n,
                Channel::Phone | Channel::CallCentre => kpi.calls += n,
                _ => {}
            }
        }
        // Tasks due in the period, and done by their due time.
        let mut stmt = self.conn.prepare_cached(
            "SELECT assignee_id, count(*) AS due,
                    sum(status = 'done' AND closed_at IS NOT NULL AND closed_at <= due_at) AS on_time
             FROM tasks WHERE assignee_id IS NOT NULL AND due_at >= ?1 AND due_at < ?2 GROUP BY assignee_id",
        )?;
        for (owner, due, on_time) in collect(&mut stmt, params![from, to], |r| {
            Ok((
                get_parsed::<PartyId>(r, "assignee_id")?,
                get::<i64>(r, "due")?,
                get::<i64>(r, "on_time")?,
            ))
        })? {
            let kpi = kpi_row(&mut kpis, owner, zero);
            kpi.tasks_due = due as u64;
            kpi.tasks_on_time = on_time as u64;
        }
        // Cases assigned and opened in the period: mean time to first response.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CASE_COLUMNS} FROM cases
             WHERE assignee_id IS NOT NULL AND opened_at >= ?1 AND opened_at < ?2"
        ))?;
        let cases = collect(&mut stmt, params![from, to], case_from_row)?;
        let mut calendars = BTreeMap::new();
        let mut responses: BTreeMap<PartyId, Averages> = BTreeMap::new();
        for case in &cases {
            let Some(assignee) = case.assignee else { continue };
            kpi_row(&mut kpis, assignee, zero).cases += 1;
            let sla = self.case_sla_outcome(case, &mut calendars, now)?;
            responses.entry(assignee).or_default().add(sla.first_response_minutes);
        }
        for (owner, averages) in responses {
            kpi_row(&mut kpis, owner, zero).average_first_response_minutes = averages.mean();
        }
        // Results: revenue and margin of their orders, converted per day.
        let mut converter = Converter::new(self, currency);
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.owner_id, o.currency, substr(o.ordered_at, 1, 10) AS day,
                    sum(l.net) AS net, sum(l.cost) AS cost
             FROM orders o JOIN order_lines l ON l.order_id = o.id
             WHERE o.owner_id IS NOT NULL AND o.status NOT IN ('draft', 'cancelled')
               AND o.ordered_at >= ?1 AND o.ordered_at < ?2
             GROUP BY o.owner_id, o.currency, day",
        )?;
        for (owner, c, day, net, cost) in collect(&mut stmt, params![from, to], |r| {
            Ok((
                get_parsed::<PartyId>(r, "owner_id")?,
                get_parsed::<Currency>(r, "currency")?,
                parse_date(&get::<String>(r, "day")?, "ordered_at")?,
                get::<i64>(r, "net")?,
                get::<i64>(r, "cost")?,
            ))
        })? {
            let net = converter.convert(Money::new(net, c), day)?;
            let cost = converter.convert(Money::new(cost, c), day)?;
            let kpi = kpi_row(&mut kpis, owner, zero);
            kpi.revenue = kpi.revenue.checked_add(net)?;
            kpi.margin = kpi.margin.checked_add(net.checked_sub(cost)?)?;
        }
        // New customers: owned parties whose first revenue order is in the period.
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.owner_id, count(*) AS n
             FROM parties p JOIN (SELECT party_id, min(ordered_at) AS first FROM orders
                                  WHERE status NOT IN ('draft', 'cancelled') GROUP BY party_id) f
               ON f.party_id = p.id
             WHERE p.owner_id IS NOT NULL AND f.first >= ?1 AND f.first < ?2 GROUP BY p.owner_id",
        )?;
        for (owner, n) in collect(&mut stmt, params![from, to], |r| {
            Ok((get_parsed::<PartyId>(r, "owner_id")?, get::<i64>(r, "n")? as u64))
        })? {
            kpi_row(&mut kpis, owner, zero).new_customers = n;
        }
        // Win rate and average deal over opportunities closed in the period.
        let mut stmt = self.conn.prepare_cached(
            "SELECT owner_id, status, amount, currency, closed_at FROM opportunities
             WHERE owner_id IS NOT NULL AND status IN ('won', 'lost') AND closed_at >= ?1 AND closed_at < ?2",
        )?;
        let mut deals: BTreeMap<PartyId, Vec<Money>> = BTreeMap::new();
        for (owner, status, amount, c, closed) in collect(&mut stmt, params![from, to], |r| {
            Ok((
                get_parsed::<PartyId>(r, "owner_id")?,
                get_parsed::<OpportunityStatus>(r, "status")?,
                get::<i64>(r, "amount")?,
                get_parsed::<Currency>(r, "currency")?,
                get_time(r, "closed_at")?,
            ))
        })? {
            let kpi = kpi_row(&mut kpis, owner, zero);
            if status == OpportunityStatus::Won {
                kpi.won += 1;
                deals
                    .entry(owner)
                    .or_default()
                    .push(converter.convert(Money::new(amount, c), closed.date_naive())?);
            } else {
                kpi.lost += 1;
            }
        }
        for (owner, amounts) in deals {
            let total = Money::sum(currency, amounts.iter())?;
            let n = amounts.len() as i64;
            kpi_row(&mut kpis, owner, zero).average_deal = crate::model::money::div_round(
                i128::from(total.minor()),
                i128::from(n),
                crate::model::RoundingMode::HalfEven,
            )
            .and_then(|m| i64::try_from(m).ok())
            .map(|m| Money::new(m, currency));
        }
        // Forecast at the start of the period vs. what was won by its end.
        let start = period.start_time();
        let end = period.end_time();
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.id, o.owner_id, o.amount, o.currency, o.status, o.closed_at,
                    (SELECT s.probability FROM opportunity_stages v
                       JOIN pipeline_stages s ON s.pipeline = o.pipeline AND s.code = v.stage
                     WHERE v.opportunity_id = o.id AND v.entered_at <= ?3
                       AND (v.left_at IS NULL OR v.left_at > ?3)
                     ORDER BY v.id DESC LIMIT 1) AS probability_at_start
             FROM opportunities o
             WHERE o.owner_id IS NOT NULL AND o.expected_close >= ?1 AND o.expected_close < ?2
               AND o.created_at <= ?3",
        )?;
        let rows = collect(
            &mut stmt,
            params![
                crate::store::codec::date_text(&period.start),
                crate::store::codec::date_text(&period.end),
                time_text(&start)
            ],
            |r| {
                Ok((
                    get_parsed::<PartyId>(r, "owner_id")?,
                    Money::new(get(r, "amount")?, get_parsed::<Currency>(r, "currency")?),
                    get_parsed::<OpportunityStatus>(r, "status")?,
                    crate::store::codec::get_opt_time(r, "closed_at")?,
                    get::<Option<u8>>(r, "probability_at_start")?,
                ))
            },
        )?;
        for (owner, amount, status, closed_at, probability) in rows {
            let amount = converter.convert(amount, period.start)?;
            let won = status == OpportunityStatus::Won;
            let probability = match (probability, closed_at) {
                (Some(p), _) => p,
                // Closed before the period started: certain either way.
                (None, Some(closed)) if closed <= start => {
                    if won {
                        100
                    } else {
                        0
                    }
                }
                (None, _) => 0,
            };
            let kpi = kpi_row(&mut kpis, owner, zero);
            kpi.forecast = kpi.forecast.checked_add(weighted(amount, probability))?;
            if won && closed_at.is_some_and(|c| c < end) {
                kpi.forecast_won = kpi.forecast_won.checked_add(amount)?;
            }
        }
        let mut names = NameCache::default();
        let mut rows: Vec<KpiRow> = Vec::with_capacity(kpis.len());
        for (owner, mut kpi) in kpis {
            kpi.owner_name = names.name(self, Some(owner))?;
            let closed = kpi.won + kpi.lost;
            kpi.win_rate = (closed > 0).then(|| kpi.won as f64 / closed as f64);
            kpi.forecast_accuracy = (kpi.forecast.minor() > 0).then(|| {
                let gap = (kpi.forecast_won.minor() - kpi.forecast.minor()).abs() as f64;
                (1.0 - gap / kpi.forecast.minor() as f64).max(0.0)
            });
            rows.push(kpi);
        }
        rows.sort_by(|a, b| a.owner_name.cmp(&b.owner_name).then(a.owner.cmp(&b.owner)));
        Ok(KpiReport { period: period.clone(), currency, rows })
    }
}

/// A running mean of whole minutes.
#[derive(Default)]
struct Averages {
    sum: i64,
    n: i64,
}

impl Averages {
    fn add(&mut self, value: Option<i64>) {
        if let Some(value) = value {
            self.sum += value;
            self.n += 1;
        }
    }

    fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum as f64 / self.n as f64)
    }
}

/// Party names looked up once each.
#[derive(Default)]
struct NameCache(HashMap<Option<PartyId>, String>);

impl NameCache {
    fn name(&mut self, tx: &Tx<'_>, id: Option<PartyId>) -> crate::Result<String> {
        if let Some(name) = self.0.get(&id) {
            return Ok(name.clone());
        }
        let name = match id {
            None => String::new(),
            Some(id) => tx.get_party(id)?.name,
        };
        self.0.insert(id, name.clone());
        Ok(name)
    }
}

fn kpi_row(kpis: &mut BTreeMap<PartyId, KpiRow>, owner: PartyId, zero: Money) -> &mut KpiRow {
    kpis.entry(owner).or_insert_with(|| KpiRow {
        owner,
        owner_name: String::new(),
        interactions: BTreeMap::new(),
        visits: 0,
        calls: 0,
        tasks_due: 0,
        tasks_on_time: 0,
        cases: 0,
        average_first_response_minutes: None,
        revenue: zero,
        margin: zero,
        new_customers: 0,
        won: 0,
        lost: 0,
        win_rate: None,
        average_deal: None,
        forecast: zero,
        forecast_won: zero,
        forecast_accuracy: None,
    })
}
