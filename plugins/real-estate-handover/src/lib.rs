//! 入伙 — handing over new homes.
//!
//! Units of a building are registered with their buyer; a handover batch
//! schedules buyers into time slots with a capacity (never double-booked)
//! and notifies them in Chinese or English (crm checks consent); on the day
//! each unit goes through a checklist workflow — identity verified and fees
//! settled (check-in), meter readings and inspection, keys handed over,
//! documents signed (complete) — or is deferred and rescheduled. Every
//! defect found at inspection becomes a crm case (type `defect`, so the
//! repair SLA of its priority applies); a unit can be re-inspected; a
//! satisfaction survey task follows completion. `progress` and
//! `defect-rate` report per building.
//!
//! State: the workflow `real-estate-handover.unit` (one instance per unit,
//! entity `unit`, id `<building>/<unit>`), and documents `unit/<building>/<unit>`,
//! `slot/<building>/<time>` and `defects/<building>/<unit>`.

use crm_plugin_sdk::{Action, Host, Outcome, Plugin, PluginError, WorkflowInstance, actions};
use serde_json::{Value, json};

/// The workflow type of a unit's handover.
pub const WORKFLOW: &str = "real-estate-handover.unit";

/// The workflow definition (registered by the first command that needs it).
pub fn workflow_definition() -> Value {
    let actor = ["plugin:real-estate-handover"];
    json!({
        "name": WORKFLOW,
        "states": ["registered", "scheduled", "checked-in", "inspected", "keys-handed", "completed", "deferred"],
        "initial": "registered",
        "transitions": [
            { "name": "schedule", "from": ["registered", "deferred"], "to": "scheduled", "actors": actor, "required": ["slot"] },
            { "name": "check-in", "from": ["scheduled"], "to": "checked-in", "actors": actor, "required": ["identity_verified", "fees_settled"] },
            { "name": "inspect", "from": ["checked-in", "inspected"], "to": "inspected", "actors": actor, "required": ["meters"] },
            { "name": "hand-keys", "from": ["inspected"], "to": "keys-handed", "actors": actor, "required": ["keys"] },
            { "name": "complete", "from": ["keys-handed"], "to": "completed", "actors": actor, "required": ["documents_signed"] },
            { "name": "defer", "from": ["scheduled", "checked-in", "inspected"], "to": "deferred", "actors": actor, "required": ["reason"] }
        ]
    })
}

/// The plugin.
pub struct Handover;

fn bad(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

fn args(text: &str) -> Result<Value, PluginError> {
    let value: Value = serde_json::from_str(if text.trim().is_empty() { "{}" } else { text })
        .map_err(|e| bad(format!("arguments are not JSON: {e}")))?;
    if !value.is_object() {
        return Err(bad("arguments must be a JSON object"));
    }
    Ok(value)
}

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str, PluginError> {
    args[key].as_str().filter(|s| !s.is_empty()).ok_or_else(|| bad(format!("`{key}` is required")))
}

fn document(host: &impl Host, key: &str) -> Value {
    host.document(key).and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(Value::Null)
}

/// The handover workflow of a unit.
fn unit_workflow(
    host: &impl Host,
    building: &str,
    unit: &str,
) -> Result<WorkflowInstance, PluginError> {
    host.workflows_of("unit", &format!("{building}/{unit}"))
        .into_iter()
        .find(|w| w.workflow == WORKFLOW)
        .ok_or_else(|| bad(format!("unit {building}/{unit} is not registered")))
}

/// The units of a building, in order, with their workflow.
fn units(host: &impl Host, building: &str) -> Vec<(String, Value, Option<WorkflowInstance>)> {
    host.document_keys(&format!("unit/{building}/"))
        .into_iter()
        .map(|key| {
            let unit = key.rsplit('/').next().unwrap_or_default().to_owned();
            let doc = document(host, &key);
            let workflow = unit_workflow(host, building, &unit).ok();
            (unit, doc, workflow)
        })
        .collect()
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An RFC 3339 UTC time `days` later (the time of day kept).
pub fn days_later(at: &str, days: i64) -> Option<String> {
    let y = at.get(0..4)?.parse().ok()?;
    let m = at.get(5..7)?.parse().ok()?;
    let d = at.get(8..10)?.parse().ok()?;
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + days);
    Some(format!("{y:04}-{m:02}-{d:02}{}", at.get(10..)?))
}

fn notice(language: Option<&str>, unit: &str, slot: &str) -> String {
    let day = slot.get(0..10).unwrap_or(slot);
    let time = slot.get(11..16).unwrap_or("");
    if language.is_some_and(|l| l.to_ascii_lowercase().starts_with("zh")) {
        format!(
            "尊敬的业主：您的房屋 {unit} 将于 {day} {time} 办理入伙交付，请携带身份证件准时到场。"
        )
    } else {
        format!(
            "Dear owner: the handover of your home {unit} is on {day} at {time} (UTC). Please bring your ID."
        )
    }
}

impl Handover {
    fn register(host: &impl Host, args: &Value) -> Result<Outcome, PluginError> {
        let building = text(args, "building")?;
        let project = args["project"].as_str().unwrap_or("");
        let list = args["units"].as_array().ok_or_else(|| bad("`units` must be a list"))?;
        let mut outcome =
            Outcome::none().with(actions::register_workflow(&workflow_definition().to_string()));
        let mut registered = 0;
        for entry in list {
            let unit = text(entry, "unit")?;
            let buyer = text(entry, "buyer")?;
            if unit.contains('/') {
                return Err(bad(format!("unit `{unit}` may not contain `/`")));
            }
            if host.party(buyer).is_none() {
                return Err(bad(format!("unit {unit}: buyer {buyer} is not a party")));
            }
            let key = format!("unit/{building}/{unit}");
            if host.document(&key).is_some() {
                continue;
            }
            let data =
                json!({ "project": project, "building": building, "unit": unit, "buyer": buyer });
            outcome = outcome.with(actions::put_document(&key, &data.to_string())).with(
                actions::start_workflow(
                    WORKFLOW,
                    "unit",
                    &format!("{building}/{unit}"),
                    &data.to_string(),
                ),
            );
            registered += 1;
        }
        Ok(Outcome { output: json!({ "registered": registered }).to_string(), ..outcome })
    }

    fn schedule(host: &impl Host, args: &Value) -> Result<Outcome, PluginError> {
        let building = text(args, "building")?;
        let slots = args["slots"].as_array().ok_or_else(|| bad("`slots` must be a list"))?;
        // Open places per slot, counting those booked earlier.
        let mut places: Vec<(String, Vec<String>, u64)> = Vec::new();
        for slot in slots {
            let at = text(slot, "at")?.to_owned();
            let capacity = slot["capacity"]
                .as_u64()
                .filter(|c| *c > 0)
                .ok_or_else(|| bad("`capacity` must be positive"))?;
            let booked: Vec<String> = document(host, &format!("slot/{building}/{at}"))["units"]
                .as_array()
                .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            places.push((at, booked, capacity));
        }
        let mut outcome = Outcome::none();
        let (mut scheduled, mut waiting) = (0, 0);
        let mut slot = 0;
        for (unit, doc, workflow) in units(host, building) {
            let Some(workflow) = workflow else { continue };
            if !matches!(workflow.state.as_str(), "registered" | "deferred") {
                continue; // Already booked or further on: never double-booked.
            }
            while slot < places.len() && places[slot].1.len() as u64 >= places[slot].2 {
                slot += 1;
            }
            let Some((at, booked, _)) = places.get_mut(slot) else {
                waiting += 1;
                continue;
            };
            booked.push(unit.clone());
            let buyer = doc["buyer"].as_str().unwrap_or_default();
            let language = host.party(buyer).and_then(|p| p.language);
            outcome = outcome
                .with(actions::advance_workflow(
                    &workflow.id,
                    "schedule",
                    &json!({ "slot": at }).to_string(),
                ))
                .with(actions::send(
                    buyer,
                    "mobile",
                    "service",
                    &notice(language.as_deref(), &format!("{building}-{unit}"), at),
                ));
            scheduled += 1;
        }
        for (at, booked, capacity) in &places {
            outcome = outcome.with(actions::put_document(
                &format!("slot/{building}/{at}"),
                &json!({ "capacity": capacity, "units": booked }).to_string(),
            ));
        }
        Ok(Outcome {
            output: json!({ "scheduled": scheduled, "waiting": waiting }).to_string(),
            ..outcome
        })
    }

    fn step(host: &impl Host, args: &Value, transition: &str) -> Result<Outcome, PluginError> {
        let building = text(args, "building")?;
        let unit = text(args, "unit")?;
        let workflow = unit_workflow(host, building, unit)?;
        let doc = document(host, &format!("unit/{building}/{unit}"));
        let buyer = doc["buyer"].as_str().unwrap_or_default().to_owned();
        let mut data = args.clone();
        if let Some(map) = data.as_object_mut() {
            map.remove("building");
            map.remove("unit");
        }
        let mut outcome = Outcome::none().with(actions::advance_workflow(
            &workflow.id,
            transition,
            &data.to_string(),
        ));
        match transition {
            "inspect" => {
                let defects = args["defects"].as_array().cloned().unwrap_or_default();
                let mut cases: Vec<Action> = Vec::new();
                for defect in &defects {
                    let area = defect["area"].as_str().unwrap_or("unit");
                    let what = defect["description"].as_str().unwrap_or("defect");
                    let priority = defect["priority"].as_str().unwrap_or("normal");
                    let subject = format!("[{building}-{unit}] {area}: {what}");
                    cases.push(match args["sla_policy"].as_str() {
                        Some(policy) => actions::create_case_with_sla(
                            &buyer, "defect", priority, "visit", &subject, policy,
                        ),
                        None => actions::create_case(&buyer, "defect", priority, "visit", &subject),
                    });
                }
                let key = format!("defects/{building}/{unit}");
                let before = document(host, &key)["count"].as_u64().unwrap_or(0);
                outcome = outcome.with_all(cases).with(actions::put_document(
                    &key,
                    &json!({ "count": before + defects.len() as u64 }).to_string(),
                ));
            }
            "complete" => {
                let due = days_later(&host.now(), 3).unwrap_or_else(|| host.now());
                outcome = outcome.with(actions::create_task(
                    &buyer,
                    &format!("Satisfaction survey: handover of {building}-{unit} / 入伙满意度回访"),
                    &due,
                ));
            }
            "defer" => {
                if let Some(slot) = workflow_slot(&workflow) {
                    let key = format!("slot/{building}/{slot}");
                    let mut doc = document(host, &key);
                    if let Some(list) = doc["units"].as_array_mut() {
                        list.retain(|u| u.as_str() != Some(unit));
                    }
                    outcome = outcome.with(actions::put_document(&key, &doc.to_string()));
                }
            }
            _ => {}
        }
        Ok(outcome)
    }

    fn progress(host: &impl Host, args: &Value) -> Result<Outcome, PluginError> {
        let building = text(args, "building")?;
        let mut counts = serde_json::Map::new();
        let all = units(host, building);
        for (_, _, workflow) in &all {
            let state = workflow.as_ref().map_or("unknown", |w| w.state.as_str());
            let n = counts.get(state).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(state.to_owned(), json!(n + 1));
        }
        let completed = counts.get("completed").and_then(Value::as_u64).unwrap_or(0);
        Ok(Outcome::output(
            json!({ "building": building, "units": all.len(), "states": counts, "completed_share": if all.is_empty() { 0.0 } else { completed as f64 / all.len() as f64 } })
                .to_string(),
        ))
    }

    fn defect_rate(host: &impl Host, args: &Value) -> Result<Outcome, PluginError> {
        let building = text(args, "building")?;
        let mut inspected = 0u64;
        let mut defects = 0u64;
        let mut with_defects = 0u64;
        for (unit, _, workflow) in units(host, building) {
            let reached = workflow.as_ref().is_some_and(|w| {
                matches!(w.state.as_str(), "inspected" | "keys-handed" | "completed")
                    || (w.state == "deferred" && w.data.contains("\"meters\""))
            });
            if !reached {
                continue;
            }
            inspected += 1;
            let n = document(host, &format!("defects/{building}/{unit}"))["count"]
                .as_u64()
                .unwrap_or(0);
            defects += n;
            with_defects += u64::from(n > 0);
        }
        let per_unit = if inspected == 0 { 0.0 } else { defects as f64 / inspected as f64 };
        let share = if inspected == 0 { 0.0 } else { with_defects as f64 / inspected as f64 };
        Ok(Outcome::output(
            json!({ "building": building, "inspected": inspected, "defects": defects, "defects_per_unit": per_unit, "units_with_defects": share })
                .to_string(),
        ))
    }
}

fn workflow_slot(workflow: &WorkflowInstance) -> Option<String> {
    let data: Value = serde_json::from_str(&workflow.data).ok()?;
    data["slot"].as_str().map(str::to_owned)
}

impl Plugin for Handover {
    const NAME: &'static str = "real-estate-handover";
    const VERSION: &'static str = "0.1.0";
    const COMMANDS: &'static [&'static str] = &[
        "setup",
        "register-units",
        "schedule-batch",
        "check-in",
        "inspect",
        "hand-keys",
        "complete",
        "defer",
        "reinspect",
        "progress",
        "defect-rate",
    ];

    fn command(host: &impl Host, name: &str, raw: &str) -> Result<Outcome, PluginError> {
        let args = args(raw)?;
        match name {
            "setup" => Ok(Outcome::none()
                .with(actions::register_workflow(&workflow_definition().to_string()))),
            "register-units" => Handover::register(host, &args),
            "schedule-batch" => Handover::schedule(host, &args),
            "check-in" => Handover::step(host, &args, "check-in"),
            "inspect" | "reinspect" => Handover::step(host, &args, "inspect"),
            "hand-keys" => Handover::step(host, &args, "hand-keys"),
            "complete" => Handover::step(host, &args, "complete"),
            "defer" => Handover::step(host, &args, "defer"),
            "progress" => Handover::progress(host, &args),
            "defect-rate" => Handover::defect_rate(host, &args),
            other => Err(bad(format!("unknown command `{other}`"))),
        }
    }
}

crm_plugin_sdk::plugin!(Handover);

#[cfg(test)]
mod tests {
    use crm_plugin_sdk::MockHost;

    use super::*;

    #[test]
    fn dates_move_across_months_and_leap_years() {
        assert_eq!(days_later("2026-06-29T09:00:00Z", 3).as_deref(), Some("2026-07-02T09:00:00Z"));
        assert_eq!(days_later("2028-02-27T00:00:00Z", 2).as_deref(), Some("2028-02-29T00:00:00Z"));
        assert_eq!(days_later("2026-12-31T23:00:00Z", 1).as_deref(), Some("2027-01-01T23:00:00Z"));
    }

    #[test]
    fn notices_speak_the_buyers_language() {
        assert!(notice(Some("zh-CN"), "B3-1201", "2026-06-06T09:00:00Z").contains("入伙"));
        assert!(notice(None, "B3-1201", "2026-06-06T09:00:00Z").contains("handover"));
    }

    #[test]
    fn bad_arguments_are_the_callers_mistake() {
        let host = MockHost::at("2026-06-01T09:00:00Z");
        for (command, args) in [
            ("register-units", "{}"),
            ("schedule-batch", "[1]"),
            ("check-in", "{\"building\":\"B3\"}"),
            ("fly", "{}"),
        ] {
            assert!(
                matches!(
                    Handover::command(&host, command, args),
                    Err(PluginError::InvalidInput(_))
                ),
                "{command}"
            );
        }
        // An unknown buyer names the unit.
        let args = r#"{"building":"B3","units":[{"unit":"101","buyer":"nobody"}]}"#;
        let Err(PluginError::InvalidInput(message)) =
            Handover::command(&host, "register-units", args)
        else {
            panic!("expected an error")
        };
        assert!(message.contains("unit 101"));
    }
}
