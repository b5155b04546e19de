//! Workflows: types as data, instances on entities, transitions checked
//! (state, actor, required data), history; documents; merge, export and
//! erasure.

use crm_core::{ContactKind, Crm, NewContactPoint, NewParty, WorkflowType};
use serde_json::json;

use crate::support::{crm, fails_cleanly};

fn handover() -> WorkflowType {
    WorkflowType::new(
        "handover.unit",
        &["scheduled", "checked-in", "inspected", "completed", "deferred"],
    )
    .with_transition("check-in", &["scheduled"], "checked-in")
    .requiring(&["identity_verified"])
    .with_transition("inspect", &["checked-in"], "inspected")
    .requiring(&["meters"])
    .with_transition("complete", &["inspected"], "completed")
    .taken_by(&["plugin:handover", "user:"])
    .with_transition("defer", &["scheduled", "checked-in"], "deferred")
}

fn setup() -> (Crm, crm_core::PartyId) {
    let crm = crm();
    let p = crm
        .write(|tx| {
            tx.register_workflow_type("plugin:handover", handover())?;
            Ok(tx
                .create_party(
                    NewParty::person("Buyer").with_contact_point(NewContactPoint::new(
                        ContactKind::Email,
                        "b@example.com",
                    )),
                )?
                .id)
        })
        .unwrap();
    (crm, p)
}

#[test]
fn transitions_are_checked_and_kept_in_history() {
    let (crm, p) = setup();
    let unit = crm
        .write(|tx| {
            tx.start_workflow("handover.unit", "party", &p.to_string(), json!({ "unit": "3-1201" }))
        })
        .unwrap();
    assert_eq!(unit.state, "scheduled");
    let id = unit.id;
    // Wrong state, unknown transition, missing data, wrong actor: refused, nothing written.
    let error = fails_cleanly(&crm, |tx| tx.advance_workflow(id, "inspect", json!({})));
    assert!(error.to_string().contains("cannot be taken from `scheduled`"), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.advance_workflow(id, "fly", json!({})));
    assert!(error.to_string().contains("known: check-in, inspect, complete, defer"), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.advance_workflow(id, "check-in", json!({})));
    assert!(error.to_string().contains("`check-in` needs identity_verified"), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.advance_workflow(id, "check-in", json!([1])));
    assert!(error.to_string().contains("JSON object"), "{error}");
    crm.write(|tx| tx.advance_workflow(id, "check-in", json!({ "identity_verified": true })))
        .unwrap();
    crm.write(|tx| tx.advance_workflow(id, "inspect", json!({ "meters": { "water": 12.5 } })))
        .unwrap();
    let error = crm.write(|tx| tx.advance_workflow(id, "complete", json!({}))).unwrap_err();
    assert!(error.to_string().contains("may not take `complete`"), "{error}");
    let done = crm
        .write_as("plugin:handover", |tx| tx.advance_workflow(id, "complete", json!({ "keys": 2 })))
        .unwrap();
    assert_eq!(done.state, "completed");
    assert_eq!(done.data["unit"], "3-1201");
    assert_eq!(done.data["meters"]["water"], 12.5);
    let history = crm.read(|tx| tx.workflow_history(id)).unwrap();
    let steps: Vec<_> = history.iter().map(|s| (s.transition.as_str(), s.to.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("start", "scheduled"),
            ("check-in", "checked-in"),
            ("inspect", "inspected"),
            ("complete", "completed")
        ]
    );
    assert_eq!(history[3].actor, "plugin:handover");
    let counts = crm.read(|tx| tx.workflow_counts("handover.unit")).unwrap();
    assert_eq!(counts[3], ("completed".to_owned(), 1));
}

#[test]
fn types_belong_to_their_owner_and_evolve_safely() {
    let (crm, p) = setup();
    let error = fails_cleanly(&crm, |tx| tx.register_workflow_type("plugin:other", handover()));
    assert!(error.to_string().contains("belongs to `plugin:handover`"), "{error}");
    let bad = WorkflowType::new("x", &["a", "b"]).with_transition("go", &["a"], "c");
    assert!(
        fails_cleanly(&crm, |tx| tx.register_workflow_type("app", bad.clone()))
            .to_string()
            .contains("not a state")
    );
    let error =
        fails_cleanly(&crm, |tx| tx.start_workflow("nope", "party", &p.to_string(), json!({})));
    assert!(error.to_string().contains("workflow type not found"), "{error}");
    let error = fails_cleanly(&crm, |tx| {
        tx.start_workflow("handover.unit", "party", "01a0-nope", json!({}))
    });
    assert!(error.to_string().contains("party not found"), "{error}");
    // A plugin's own entity kinds are its business.
    crm.write(|tx| tx.start_workflow("handover.unit", "unit", "B3-1201", json!({}))).unwrap();
    // Adding a state is fine; dropping one that is in use is not.
    let mut more = handover();
    more.states.push("cancelled".into());
    crm.write(|tx| tx.register_workflow_type("plugin:handover", more)).unwrap();
    let fewer = WorkflowType::new("handover.unit", &["checked-in", "completed"]);
    let error =
        fails_cleanly(&crm, |tx| tx.register_workflow_type("plugin:handover", fewer.clone()));
    assert!(error.to_string().contains("in state `scheduled`"), "{error}");
}

#[test]
fn documents_are_namespaced() {
    let crm = crm();
    crm.write(|tx| {
        tx.put_document("handover", "slot/2026-06-01T09", &json!({ "capacity": 10 }))?;
        tx.put_document("handover", "slot/2026-06-01T10", &json!({ "capacity": 8 }))?;
        tx.put_document("appliance", "slot/x", &json!(1))
    })
    .unwrap();
    let keys = crm.read(|tx| tx.document_keys("handover", "slot/")).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        crm.read(|tx| tx.document("handover", "slot/2026-06-01T10")).unwrap(),
        Some(json!({ "capacity": 8 }))
    );
    assert_eq!(crm.read(|tx| tx.document("handover", "slot/x")).unwrap(), None);
    assert!(crm.write(|tx| tx.delete_document("handover", "slot/2026-06-01T10")).unwrap());
    assert!(crm.write(|tx| tx.put_document("", "k", &json!(1))).is_err());
}

#[test]
fn workflows_follow_merge_export_and_erasure() {
    let (crm, keep) = setup();
    let absorb = crm.write(|tx| Ok(tx.create_party(NewParty::person("BUYER"))?.id)).unwrap();
    let w = crm
        .write(|tx| {
            tx.start_workflow(
                "handover.unit",
                "party",
                &absorb.to_string(),
                json!({ "id_card": "3301…" }),
            )
        })
        .unwrap();
    crm.write(|tx| tx.merge(keep, absorb).map(|_| ())).unwrap();
    assert_eq!(crm.read(|tx| tx.workflows_of("party", &keep.to_string())).unwrap().len(), 1);
    let export = crm.read(|tx| tx.export_party(keep)).unwrap();
    assert_eq!(export["workflows"][0]["id"], json!(w.id));
    crm.write(|tx| tx.unmerge(absorb).map(|_| ())).unwrap();
    assert_eq!(crm.read(|tx| tx.workflows_of("party", &absorb.to_string())).unwrap().len(), 1);
    crm.write(|tx| tx.erase_party(absorb)).unwrap();
    let after = crm.read(|tx| tx.get_workflow(w.id)).unwrap();
    assert_eq!(after.data, json!({}));
    assert!(crm.read(|tx| tx.workflow_history(w.id)).unwrap().iter().all(|s| s.data == json!({})));
}
