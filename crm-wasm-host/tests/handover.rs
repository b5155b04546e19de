//! The real-estate handover (入伙) plugin end to end: one building, 200
//! units, a batch over two days, defects as cases with a repair SLA,
//! deferrals and rescheduling, completion and the reports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{TimeZone, Utc};
use crm_core::{
    ContactKind, Crm, NewContactPoint, NewParty, PartyId, Priority, SlaPolicy, WorkingCalendar,
};
use crm_wasm_host::{Capability, Limits, Manifest, PluginHost, sha256_hex};
use serde_json::{Value, json};

fn component() -> Vec<u8> {
    let dir = std::env::var("CRM_PLUGINS_DIR").unwrap_or_else(|_| {
        format!("{}/../plugins/target/wasm32-wasip2/release", env!("CARGO_MANIFEST_DIR"))
    });
    let path = format!("{dir}/crm_plugin_real_estate_handover.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (build the plugins)"))
}

fn call(host: &PluginHost, command: &str, args: Value) -> Value {
    let outcome = host
        .call("real-estate-handover", command, &args.to_string())
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    serde_json::from_str(&outcome.output).unwrap_or(Value::Null)
}

#[test]
fn a_building_of_200_units_is_handed_over_in_a_two_day_batch() {
    let crm = Crm::builder()
        .clock(|| Utc.with_ymd_and_hms(2026, 6, 1, 1, 0, 0).unwrap())
        .open_in_memory()
        .unwrap();
    let buyers: Vec<PartyId> = crm
        .write(|tx| {
            tx.save_calendar(
                WorkingCalendar::new("cn", "Asia/Shanghai")?.with_weekdays(&["09:00-18:00"])?,
            )?;
            tx.save_sla_policy(
                SlaPolicy::new("repair", "Handover repairs", "cn")
                    .with_target(Priority::Normal, None, Some(240), Some(3 * 540))
                    .with_target(Priority::High, None, Some(60), Some(540)),
            )?;
            (0..200)
                .map(|i| {
                    let mut buyer = NewParty::person(format!("业主 {i}"))
                        .with_language(if i % 2 == 0 { "zh-CN" } else { "en" });
                    // Every tenth buyer has not agreed to service messages.
                    let mobile = NewContactPoint::new(
                        ContactKind::Mobile,
                        format!("+86 139 {:04} {:04}", i / 100, i),
                    );
                    buyer = buyer.with_contact_point(if i % 10 == 9 {
                        mobile
                    } else {
                        mobile.with_consent("service", true, "contract")
                    });
                    Ok(tx.create_party(buyer)?.id)
                })
                .collect()
        })
        .unwrap();
    let bytes = component();
    let template = include_str!("../../plugins/real-estate-handover/plugin.toml");
    let manifest = Manifest::parse(&template.replace("SHA256", &sha256_hex(&bytes))).unwrap();
    let grants = [
        Capability::PartiesRead,
        Capability::Workflows,
        Capability::Documents,
        Capability::CasesWrite,
        Capability::TasksWrite,
        Capability::MessagesSend,
    ];
    let mut host = PluginHost::new(crm.clone(), Limits::default()).unwrap();
    host.install(&bytes, manifest, &grants).unwrap();

    let unit = |i: usize| format!("{}{:02}", 2 + i / 10, 1 + i % 10); // floors 2-21, 10 units each
    let units: Vec<Value> =
        (0..200).map(|i| json!({ "unit": unit(i), "buyer": buyers[i].to_string() })).collect();
    let registered = call(
        &host,
        "register-units",
        json!({ "project": "Riverside", "building": "B3", "units": units }),
    );
    assert_eq!(registered["registered"], 200);
    // Registering again changes nothing.
    assert_eq!(
        call(&host, "register-units", json!({ "building": "B3", "units": units }))["registered"],
        0
    );

    // Two days, five slots a day, 20 places each = 200 places; one slot is
    // given twice and must not be double-booked.
    let mut slots = Vec::new();
    for day in ["2026-06-06", "2026-06-07"] {
        for hour in ["01", "02", "03", "05", "06"] {
            slots.push(json!({ "at": format!("{day}T{hour}:00:00Z"), "capacity": 20 }));
        }
    }
    let first = call(&host, "schedule-batch", json!({ "building": "B3", "slots": slots[..6] }));
    assert_eq!((first["scheduled"].as_u64(), first["waiting"].as_u64()), (Some(120), Some(80)));
    let rest = call(&host, "schedule-batch", json!({ "building": "B3", "slots": slots }));
    assert_eq!((rest["scheduled"].as_u64(), rest["waiting"].as_u64()), (Some(80), Some(0)));
    for slot in &slots {
        let at = slot["at"].as_str().unwrap();
        let doc = crm
            .read(|tx| tx.document("real-estate-handover", &format!("slot/B3/{at}")))
            .unwrap()
            .unwrap();
        assert_eq!(doc["units"].as_array().unwrap().len(), 20, "{at}");
    }
    // Notices: in the buyer's language, suppressed without consent.
    let queued = crm.read(|tx| tx.outbox("queued", 1000)).unwrap();
    let suppressed = crm.read(|tx| tx.outbox("suppressed", 1000)).unwrap();
    assert_eq!((queued.len(), suppressed.len()), (180, 20));
    assert!(
        queued.iter().any(|m| m.content.contains("入伙"))
            && queued.iter().any(|m| m.content.contains("handover"))
    );

    // The day: 190 check in, 10 are deferred; every fifth inspected unit has
    // a defect (every twentieth a high-priority one).
    let mut defects = 0;
    for i in 0..200 {
        let u = unit(i);
        if i % 20 == 7 {
            call(&host, "defer", json!({ "building": "B3", "unit": u, "reason": "buyer abroad" }));
            continue;
        }
        call(
            &host,
            "check-in",
            json!({ "building": "B3", "unit": u, "identity_verified": true, "fees_settled": true }),
        );
        let found: Vec<Value> = match i % 20 {
            0 => vec![json!({ "area": "kitchen", "description": "tap leaks", "priority": "high" })],
            5 | 10 | 15 => vec![json!({ "area": "bedroom", "description": "wall crack" })],
            _ => vec![],
        };
        defects += found.len();
        call(
            &host,
            "inspect",
            json!({ "building": "B3", "unit": u, "meters": { "water": 1.0, "electricity": 12.5, "gas": 0.0 }, "defects": found, "sla_policy": "repair" }),
        );
        call(&host, "hand-keys", json!({ "building": "B3", "unit": u, "keys": 2 }));
        call(&host, "complete", json!({ "building": "B3", "unit": u, "documents_signed": true }));
    }
    // A skipped step is refused and changes nothing.
    let before = crm.read(|tx| tx.last_event_seq()).unwrap();
    let error = host
        .call(
            "real-estate-handover",
            "complete",
            &json!({ "building": "B3", "unit": unit(7), "documents_signed": true }).to_string(),
        )
        .unwrap_err();
    assert!(error.to_string().contains("cannot be taken from `deferred`"), "{error}");
    assert_eq!(crm.read(|tx| tx.last_event_seq()).unwrap(), before);

    let progress = call(&host, "progress", json!({ "building": "B3" }));
    assert_eq!(progress["states"]["completed"], 190);
    assert_eq!(progress["states"]["deferred"], 10);
    let rate = call(&host, "defect-rate", json!({ "building": "B3" }));
    assert_eq!(
        (rate["inspected"].as_u64(), rate["defects"].as_u64()),
        (Some(190), Some(defects as u64))
    );
    // Each defect is a case with its repair SLA; each completion a survey task.
    let cases = crm.read(|tx| tx.cases(None)).unwrap();
    assert_eq!(cases.len(), defects);
    assert!(
        cases
            .iter()
            .all(|c| c.resolution_due.is_some() && c.sla_policy.as_deref() == Some("repair"))
    );
    assert_eq!(cases.iter().filter(|c| c.priority == Priority::High).count(), 10);
    let surveys = crm.read(|tx| tx.tasks_of(buyers[0])).unwrap();
    assert!(surveys[0].title.contains("Satisfaction survey"));

    // The deferred ten are rescheduled into a third day.
    let again = call(
        &host,
        "schedule-batch",
        json!({ "building": "B3", "slots": [{ "at": "2026-06-13T02:00:00Z", "capacity": 10 }] }),
    );
    assert_eq!(again["scheduled"], 10);
    let progress = call(&host, "progress", json!({ "building": "B3" }));
    assert_eq!(
        (progress["states"]["scheduled"].as_u64(), progress["states"]["completed"].as_u64()),
        (Some(10), Some(190))
    );
}
