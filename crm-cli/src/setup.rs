//! `crm setup FILE.json`: pipelines, working calendars, SLA policies and
//! price lists from one JSON document, applied in one transaction.
//!
//! ```text
//! {
//!   "calendars": [{ "code": "cn", "time_zone": "Asia/Shanghai",
//!                   "weekdays": ["09:00-12:00", "13:00-18:00"],
//!                   "hours": { "sat": ["09:00-12:00"] },
//!                   "holidays": ["2026-10-01"], "working_days": ["2026-10-10"] }],
//!   "sla_policies": [{ "code": "default", "name": "Standard", "calendar": "cn",
//!                      "targets": [{ "priority": "high", "tier": "gold",
//!                                    "first_response_minutes": 30, "resolution_minutes": 240 }] }],
//!   "pipelines": [{ "code": "b2b", "name": "B2B",
//!                   "stages": [{ "code": "qualify", "name_en": "Qualify", "name_zh": "资格确认", "probability": 10 }] }],
//!   "price_lists": [{ "code": "dealer", "name": "Dealer", "currency": "CNY",
//!                     "valid_from": "2026-01-01", "prices": { "AC-1200": "2500.00" } }]
//! }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, Weekday};
use crm_core::{
    Crm, Currency, Money, Pipeline, PipelineStage, PriceList, Priority, SlaPolicy, WorkingCalendar,
};
use serde::Deserialize;

use crate::{CliResult, Failure};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    #[serde(default)]
    calendars: Vec<Calendar>,
    #[serde(default)]
    sla_policies: Vec<Policy>,
    #[serde(default)]
    pipelines: Vec<PipelineSpec>,
    #[serde(default)]
    price_lists: Vec<PriceListSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Calendar {
    code: String,
    time_zone: String,
    #[serde(default)]
    weekdays: Vec<String>,
    /// Hours of single weekdays (`mon` … `sun`), overriding `weekdays`.
    #[serde(default)]
    hours: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    working_days: Vec<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Policy {
    code: String,
    name: String,
    calendar: String,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    priority: String,
    tier: Option<String>,
    first_response_minutes: Option<i64>,
    resolution_minutes: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineSpec {
    code: String,
    name: String,
    stages: Vec<StageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSpec {
    code: String,
    name_en: String,
    name_zh: String,
    probability: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceListSpec {
    code: String,
    name: String,
    currency: String,
    valid_from: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
    #[serde(default)]
    prices: BTreeMap<String, String>,
}

/// Names the element of the document an error came from.
fn at(path: String) -> impl FnOnce(crm_core::Error) -> Failure {
    move |error| Failure::from(error).context(format!("in {path}"))
}

fn weekday(name: &str) -> Option<Weekday> {
    match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Some(Weekday::Mon),
        "tue" | "tuesday" => Some(Weekday::Tue),
        "wed" | "wednesday" => Some(Weekday::Wed),
        "thu" | "thursday" => Some(Weekday::Thu),
        "fri" | "friday" => Some(Weekday::Fri),
        "sat" | "saturday" => Some(Weekday::Sat),
        "sun" | "sunday" => Some(Weekday::Sun),
        _ => None,
    }
}

fn hours(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

pub(crate) fn run(crm: &Crm, file: &Path) -> CliResult {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let setup: Setup = serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let mut calendars = Vec::new();
    for (i, spec) in setup.calendars.iter().enumerate() {
        let path = format!("calendars[{i}] ({})", spec.code);
        let mut calendar =
            WorkingCalendar::new(&spec.code, &spec.time_zone).map_err(at(path.clone()))?;
        calendar = calendar.with_weekdays(&hours(&spec.weekdays)).map_err(at(path.clone()))?;
        for (day, list) in &spec.hours {
            let Some(day) = weekday(day) else {
                return Err(Failure::usage(format!(
                    "{path}: `{day}` is not a weekday (mon … sun)"
                )));
            };
            calendar = calendar.with_hours(day, &hours(list)).map_err(at(path.clone()))?;
        }
        for day in &spec.holidays {
            calendar = calendar.with_holiday(*day);
        }
        for day in &spec.working_days {
            calendar = calendar.with_working_day(*day);
        }
        calendars.push((path, calendar));
    }
    let mut policies = Vec::new();
    for (i, spec) in setup.sla_policies.iter().enumerate() {
        let path = format!("sla_policies[{i}] ({})", spec.code);
        let mut policy = SlaPolicy::new(&spec.code, &spec.name, &spec.calendar);
        for (j, target) in spec.targets.iter().enumerate() {
            let priority = Priority::from_code(&target.priority)
                .map_err(at(format!("{path}.targets[{j}]")))?;
            policy = policy.with_target(
                priority,
                target.tier.as_deref(),
                target.first_response_minutes,
                target.resolution_minutes,
            );
        }
        policies.push((path, policy));
    }
    let pipelines: Vec<(String, Pipeline)> = setup
        .pipelines
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let pipeline =
                spec.stages.iter().fold(Pipeline::new(&spec.code, &spec.name), |p, s| {
                    p.with_stage(PipelineStage::new(&s.code, &s.name_en, &s.name_zh, s.probability))
                });
            (format!("pipelines[{i}] ({})", spec.code), pipeline)
        })
        .collect();
    let mut price_lists = Vec::new();
    for (i, spec) in setup.price_lists.iter().enumerate() {
        let path = format!("price_lists[{i}] ({})", spec.code);
        let currency = Currency::new(&spec.currency).map_err(at(path.clone()))?;
        let mut list = PriceList::new(&spec.code, &spec.name, currency)
            .valid(spec.valid_from, spec.valid_until);
        for (sku, price) in &spec.prices {
            let price =
                Money::parse(price, currency).map_err(at(format!("{path}.prices.{sku}")))?;
            list = list.with_price(sku, price);
        }
        price_lists.push((path, list));
    }
    // One transaction: a bad element leaves the database as it was.
    let mut failed_at: Option<String> = None;
    let result = crm.write(|tx| {
        let mut step = |path: &str, result: crm_core::Result<()>| {
            if result.is_err() {
                failed_at = Some(path.to_owned());
            }
            result
        };
        for (path, calendar) in &calendars {
            step(path, tx.save_calendar(calendar.clone()))?;
        }
        for (path, policy) in &policies {
            step(path, tx.save_sla_policy(policy.clone()))?;
        }
        for (path, pipeline) in &pipelines {
            step(path, tx.save_pipeline(pipeline.clone()))?;
        }
        for (path, list) in &price_lists {
            step(path, tx.save_price_list(list.clone()))?;
        }
        Ok(())
    });
    if let Err(error) = result {
        let failure = Failure::from(error);
        return Err(match failed_at {
            Some(path) => failure.context(format!("in {path}; nothing was saved")),
            None => failure,
        });
    }
    say!(
        "{}: {} calendars, {} SLA policies, {} pipelines, {} price lists saved",
        file.display(),
        calendars.len(),
        policies.len(),
        pipelines.len(),
        price_lists.len()
    );
    Ok(())
}
