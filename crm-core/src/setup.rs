//! Set-up as data: pipelines, working calendars, SLA policies and price
//! lists from one JSON document, applied in one transaction
//! ([`Tx::apply_setup`]; the CLI's `crm setup FILE.json`, Python's
//! `db.setup(dict)`).
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

use chrono::{NaiveDate, Weekday};

use crate::error::Location;
use crate::store::Tx;
use crate::{
    Currency, Error, Money, Pipeline, PipelineStage, PriceList, Priority, SlaPolicy,
    WorkingCalendar,
};

/// A set-up document; see the module documentation.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// See the module documentation.
    #[serde(default)]
    pub calendars: Vec<Calendar>,
    /// See the module documentation.
    #[serde(default)]
    pub sla_policies: Vec<Policy>,
    /// See the module documentation.
    #[serde(default)]
    pub pipelines: Vec<PipelineSpec>,
    /// See the module documentation.
    #[serde(default)]
    pub price_lists: Vec<PriceListSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
/// One element of a [`Setup`].
pub struct Calendar {
    /// See the module documentation.
    pub code: String,
    /// See the module documentation.
    pub time_zone: String,
    /// See the module documentation.
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// Hours of single weekdays (`mon` … `sun`), overriding `weekdays`.
    /// See the module documentation.
    #[serde(default)]
    pub hours: BTreeMap<String, Vec<String>>,
    /// See the module documentation.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// See the module documentation.
    #[serde(default)]
    pub working_days: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
/// One element of a [`Setup`].
pub struct Policy {
    /// See the module documentation.
    pub code: String,
    /// See the module documentation.
    pub name: String,
    /// See the module documentation.
    pub calendar: String,
    /// See the module documentation.
    #[serde(default)]
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
/// One element of a [`Setup`].
pub struct Target {
    /// See the module documentation.
    pub priority: String,
    /// See the module documentation.
    pub tier: Option<String>,
    /// See the module documentation.
    pub first_response_minutes: Option<i64>,
    /// See the module documentation.
    pub resolution_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
/// One element of a [`Setup`].
pub struct PipelineSpec {
    /// See the module documentation.
    pub code: String,
    /// See the module documentation.
    pub name: String,
    /// See the module documentation.
    pub stages: Vec<StageSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
/// One element of a [`Setup`].
pub struct StageSpec {
    /// See the module documentation.
    pub code: String,
    /// See the module documentation.
    pub name_en: String,
    /// See the module documentation.
    pub name_zh: String,
    /// See the module documentation.
    pub probability: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
/// One element of a [`Setup`].
pub struct PriceListSpec {
    /// See the module documentation.
    pub code: String,
    /// See the module documentation.
    pub name: String,
    /// See the module documentation.
    pub currency: String,
    /// See the module documentation.
    pub valid_from: Option<NaiveDate>,
    /// See the module documentation.
    pub valid_until: Option<NaiveDate>,
    /// See the module documentation.
    #[serde(default)]
    pub prices: BTreeMap<String, String>,
}

/// What [`Tx::apply_setup`] saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SetupReport {
    /// Working calendars.
    pub calendars: usize,
    /// SLA policies.
    pub sla_policies: usize,
    /// Pipelines.
    pub pipelines: usize,
    /// Price lists.
    pub price_lists: usize,
}

/// Names the element of the document an error came from.
fn at(path: String) -> impl FnOnce(Error) -> Error {
    move |error| match error {
        Error::Invalid { at, reason } => Error::Invalid {
            at: Location {
                row: at.row,
                column: Some(match at.column {
                    Some(field) => format!("{path}.{field}"),
                    None => path,
                }),
            },
            reason,
        },
        Error::NotFound { entity, id } => Error::Invalid {
            at: Location::field(path),
            reason: format!("{entity} not found: {id}"),
        },
        other => other,
    }
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

impl Setup {
    /// Reads a set-up document from JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the line and column of the JSON problem
    /// (an unknown key, a missing one, a wrong type).
    pub fn from_json(text: &str) -> crate::Result<Setup> {
        serde_json::from_str(text).map_err(|e| Error::Invalid {
            at: Location {
                row: Some(e.line() as u64),
                column: Some(format!("column {}", e.column())),
            },
            reason: format!("set-up document: {e}"),
        })
    }
}

impl Tx<'_> {
    /// Saves everything a set-up document describes, each element checked
    /// and named in errors (`calendars[0] (cn)`); a failure leaves the
    /// transaction's earlier writes to the caller's rollback.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the element (a bad time zone, an unknown
    /// weekday, priority or currency, a price with too many decimals, an
    /// SLA policy on an unknown calendar).
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{Crm, Setup};
    /// let crm = Crm::open_in_memory()?;
    /// let setup = Setup::from_json(r#"{
    ///   "pipelines": [{ "code": "b2b", "name": "B2B",
    ///     "stages": [{ "code": "qualify", "name_en": "Qualify", "name_zh": "资格确认", "probability": 10 }] }]
    /// }"#)?;
    /// let report = crm.write(|tx| tx.apply_setup(&setup))?;
    /// assert_eq!(report.pipelines, 1);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn apply_setup(&mut self, setup: &Setup) -> crate::Result<SetupReport> {
        for (i, spec) in setup.calendars.iter().enumerate() {
            let path = format!("calendars[{i}] ({})", spec.code);
            let mut calendar =
                WorkingCalendar::new(&spec.code, &spec.time_zone).map_err(at(path.clone()))?;
            calendar = calendar.with_weekdays(&hours(&spec.weekdays)).map_err(at(path.clone()))?;
            for (day, list) in &spec.hours {
                let Some(day) = weekday(day) else {
                    return Err(Error::Invalid {
                        at: Location::field(format!("{path}.hours")),
                        reason: format!("`{day}` is not a weekday (mon … sun)"),
                    });
                };
                calendar = calendar.with_hours(day, &hours(list)).map_err(at(path.clone()))?;
            }
            for day in &spec.holidays {
                calendar = calendar.with_holiday(*day);
            }
            for day in &spec.working_days {
                calendar = calendar.with_working_day(*day);
            }
            self.save_calendar(calendar).map_err(at(path))?;
        }
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
            self.save_sla_policy(policy).map_err(at(path))?;
        }
        for (i, spec) in setup.pipelines.iter().enumerate() {
            let path = format!("pipelines[{i}] ({})", spec.code);
            let pipeline =
                spec.stages.iter().fold(Pipeline::new(&spec.code, &spec.name), |p, s| {
                    p.with_stage(PipelineStage::new(&s.code, &s.name_en, &s.name_zh, s.probability))
                });
            self.save_pipeline(pipeline).map_err(at(path))?;
        }
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
            self.save_price_list(list).map_err(at(path))?;
        }
        Ok(SetupReport {
            calendars: setup.calendars.len(),
            sla_policies: setup.sla_policies.len(),
            pipelines: setup.pipelines.len(),
            price_lists: setup.price_lists.len(),
        })
    }
}
