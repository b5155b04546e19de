use crm_core::{ContactKind, NewParty, NewRelationship, NewTask};

use crate::support::{crm, start};

#[test]
fn every_mutation_appends_an_event_in_order() {
    let crm = crm();
    crm.write_as("alice", |tx| {
        let a = tx.create_party(
            NewParty::person("A").with_contact(ContactKind::Email, "a@example.com"),
        )?;
        let b = tx.create_party(NewParty::organization("B"))?;
        tx.relate(NewRelationship::new(a.id, "employee-of", b.id))?;
        tx.add_tag(a.id, "x")?;
        let task = tx.create_task(NewTask::new("call", start()).about(a.id))?;
        tx.complete_task(task.id)?;
        tx.delete_party(b.id)?;
        Ok(())
    })
    .unwrap();
    let events = crm.read(|tx| tx.events_since(0, 100)).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "party.created",
            "party.created",
            "relationship.created",
            "party.tagged",
            "task.created",
            "task.completed",
            "party.deleted"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(events.iter().all(|e| e.actor == "alice"));
    let tagged = &events[3];
    assert!(tagged.before.as_ref().unwrap().get("tags").is_none(), "empty lists are left out");
    assert_eq!(tagged.after.as_ref().unwrap()["tags"], serde_json::json!(["x"]));
    // Paging through the feed.
    let first = crm.read(|tx| tx.events_since(0, 3)).unwrap();
    let rest = crm.read(|tx| tx.events_since(first[2].seq, 100)).unwrap();
    assert_eq!(first.len() + rest.len(), events.len());
}

#[test]
fn a_rolled_back_write_leaves_no_events() {
    let crm = crm();
    let _ = crm.write(|tx| {
        tx.create_party(NewParty::person("A"))?;
        Err::<(), _>(crm_core::Error::Internal("stop".into()))
    });
    assert!(crm.read(|tx| tx.events_since(0, 10)).unwrap().is_empty());
}
