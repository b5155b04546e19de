use crm_core::{
    Channel, ContactKind, Crm, Direction, DuplicateReason, Error, FieldDef, FieldType,
    NewInteraction, NewParty, NewRelationship, NewTask, PartyId, Role,
};
use proptest::prelude::*;

use crate::support::{crm, fails_cleanly, start};

#[test]
fn duplicate_candidates_by_email_phone_and_name() {
    let crm = crm();
    let [a, b, c, d] = crm
        .write(|tx| {
            let a = tx
                .create_party(
                    NewParty::person("Zhang Wei")
                        .with_contact(ContactKind::Email, "ZW@Example.com"),
                )?
                .id;
            let b = tx
                .create_party(
                    NewParty::person("Wei Zhang")
                        .with_contact(ContactKind::Email, "zw@example.com"),
                )?
                .id;
            let mut phone = crm_core::NewContactPoint::new(ContactKind::Mobile, "138 0013 8000");
            phone.country = Some("CN".into());
            let c = tx.create_party(NewParty::person("Li Na").with_contact_point(phone))?.id;
            let d = tx
                .create_party(
                    NewParty::person("li  na.").with_contact(ContactKind::Phone, "+86 13800138000"),
                )?
                .id;
            Ok([a, b, c, d])
        })
        .unwrap();
    let pairs: Vec<_> = crm
        .read(|tx| tx.duplicate_candidates(100))
        .unwrap()
        .into_iter()
        .map(|c| (c.a, c.b, c.reason))
        .collect();
    assert!(pairs.contains(&(a, b, DuplicateReason::Email)), "{pairs:?}");
    assert!(pairs.contains(&(c, d, DuplicateReason::Phone)), "{pairs:?}");
    assert!(pairs.contains(&(c, d, DuplicateReason::Name)), "{pairs:?}");
    assert_eq!(pairs.len(), 3);
    crm.write(|tx| tx.merge(c, d)).unwrap();
    assert_eq!(crm.read(|tx| tx.duplicate_candidates(100)).unwrap().len(), 1);
}

fn two_people(crm: &Crm) -> (PartyId, PartyId) {
    crm.write(|tx| {
        Ok((tx.create_party(NewParty::person("A"))?.id, tx.create_party(NewParty::person("B"))?.id))
    })
    .unwrap()
}

#[test]
fn merge_refuses_itself_deleted_and_unknown_parties() {
    let crm = crm();
    let (a, b) = two_people(&crm);
    let error = fails_cleanly(&crm, |tx| tx.merge(a, a));
    assert!(matches!(error, Error::Invalid { .. }), "{error}");
    crm.write(|tx| tx.delete_party(b)).unwrap();
    let error = fails_cleanly(&crm, |tx| tx.merge(a, b));
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.merge(b, a));
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.merge(a, PartyId::new()));
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
}

#[test]
fn unmerge_refuses_what_it_cannot_undo() {
    let crm = crm();
    let (a, b) = two_people(&crm);
    let error = fails_cleanly(&crm, |tx| tx.unmerge(b));
    assert!(error.to_string().contains("is not merged"), "{error}");
    crm.write(|tx| tx.merge(a, b)).unwrap();
    crm.write(|tx| tx.erase_party(a)).unwrap();
    let error = fails_cleanly(&crm, |tx| tx.unmerge(b));
    assert!(matches!(error, Error::Conflict { .. }), "{error}");
}

#[test]
fn rows_added_after_a_merge_stay_with_the_survivor() {
    let crm = crm();
    let (a, b) = two_people(&crm);
    crm.write(|tx| {
        tx.merge(a, b)?;
        tx.add_contact_point(
            a,
            crm_core::NewContactPoint::new(ContactKind::Email, "new@example.com"),
        )?;
        tx.unmerge(b)
    })
    .unwrap();
    assert_eq!(crm.read(|tx| tx.get_party(a)).unwrap().contacts.len(), 1);
    assert!(crm.read(|tx| tx.get_party(b)).unwrap().contacts.is_empty());
    let kinds: Vec<_> = crm
        .read(|tx| tx.events_for("party", &b.to_string()))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.last().map(String::as_str), Some("party.unmerged"));
}

#[test]
fn merged_party_points_at_survivor_and_cannot_be_restored() {
    let crm = crm();
    let (a, b) = two_people(&crm);
    crm.write(|tx| tx.merge(a, b)).unwrap();
    assert_eq!(crm.read(|tx| tx.surviving_party(b)).unwrap().id, a);
    let error = fails_cleanly(&crm, |tx| tx.restore_party(b));
    assert!(matches!(error, Error::Conflict { .. }));
    let events = crm.read(|tx| tx.events_for("party", &a.to_string())).unwrap();
    assert_eq!(events.last().unwrap().kind, "party.merged");
}

/// The child rows of two parties to be merged.
#[derive(Debug, Clone)]
struct Children {
    emails: Vec<u8>,
    tags: Vec<u8>,
    roles: Vec<u8>,
    n_interactions: usize,
    n_tasks: usize,
    n_external_ids: usize,
    n_edges_to_third: usize,
    fields: Vec<u8>,
}

prop_compose! {
    fn children()(
        emails in prop::collection::vec(0u8..4, 0..4),
        tags in prop::collection::vec(0u8..5, 0..4),
        roles in prop::collection::vec(0u8..8, 0..3),
        n_interactions in 0usize..4,
        n_tasks in 0usize..3,
        n_external_ids in 0usize..3,
        n_edges_to_third in 0usize..3,
        fields in prop::collection::vec(0u8..3, 0..3),
    ) -> Children {
        Children { emails, tags, roles, n_interactions, n_tasks, n_external_ids, n_edges_to_third, fields }
    }
}

fn build(crm: &Crm, label: &str, children: &Children, third: PartyId) -> PartyId {
    crm.write(|tx| {
        let mut party = NewParty::person(label);
        for e in &children.emails {
            party = party.with_contact(ContactKind::Email, format!("{label}{e}@example.com"));
        }
        for t in &children.tags {
            party = party.with_tag(format!("tag{t}"));
        }
        for r in &children.roles {
            party = party.with_role(Role::ALL[*r as usize % Role::ALL.len()]);
        }
        for n in 0..children.n_external_ids {
            party = party.with_external_id("src", format!("{label}-{n}"));
        }
        for f in &children.fields {
            party = party.with_field(format!("f{f}"), format!("{label}-{f}").as_str());
        }
        let id = tx.create_party(party)?.id;
        for n in 0..children.n_interactions {
            tx.record_interaction(NewInteraction::new(
                id,
                Channel::Email,
                Direction::Inbound,
                start(),
                format!("{label} {n}"),
            ))?;
        }
        for n in 0..children.n_tasks {
            tx.create_task(
                NewTask::new(format!("{label} task {n}"), start()).about(id).assigned_to(third),
            )?;
        }
        for n in 0..children.n_edges_to_third {
            let kind = if n % 2 == 0 { "partner-of" } else { "referred-by" };
            tx.relate(NewRelationship::new(id, kind, third))?;
        }
        Ok(id)
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn merge_keeps_every_child_row(keep_children in children(), absorb_children in children(), link in any::<bool>()) {
        let crm = crm();
        let third = crm.write(|tx| {
            for f in 0..3 {
                tx.define_field(FieldDef::new(format!("f{f}"), FieldType::Text))?;
            }
            Ok(tx.create_party(NewParty::organization("Third"))?.id)
        }).unwrap();
        let keep = build(&crm, "k", &keep_children, third);
        let absorb = build(&crm, "a", &absorb_children, third);
        if link {
            crm.write(|tx| tx.relate(NewRelationship::new(absorb, "household", keep))).unwrap();
        }
        let before_keep = crm.read(|tx| tx.export_party(keep)).unwrap();
        let before_absorb = crm.read(|tx| tx.export_party(absorb)).unwrap();
        let report = crm.write(|tx| tx.merge(keep, absorb)).unwrap();
        let after = crm.read(|tx| tx.export_party(keep)).unwrap();
        let absorbed = crm.read(|tx| tx.export_party(absorb)).unwrap();

        let len = |doc: &serde_json::Value, path: &str| doc.pointer(path).and_then(|v| v.as_array()).map_or(0, Vec::len);
        // Contact points, interactions, tasks, external ids: every row moves.
        for path in ["/party/contacts", "/interactions", "/party/external_ids"] {
            prop_assert_eq!(len(&after, path), len(&before_keep, path) + len(&before_absorb, path), "{}", path);
            prop_assert_eq!(len(&absorbed, path), 0, "{}", path);
        }
        prop_assert_eq!(len(&after, "/tasks"), keep_children.n_tasks + absorb_children.n_tasks);
        // Relationships: the edge between the two disappears, the others move.
        let dropped = usize::from(link);
        prop_assert_eq!(report.relationships_dropped as usize, dropped);
        prop_assert_eq!(
            len(&after, "/relationships"),
            keep_children.n_edges_to_third + absorb_children.n_edges_to_third
        );
        // Tags and fields: the union, the kept party winning on conflicts.
        let tags = |doc: &serde_json::Value| -> std::collections::BTreeSet<String> {
            // An empty list is left out of the JSON.
            doc["party"]["tags"].as_array().map_or(&[][..], Vec::as_slice).iter().map(|t| t.as_str().unwrap().to_owned()).collect()
        };
        let union: std::collections::BTreeSet<_> = tags(&before_keep).union(&tags(&before_absorb)).cloned().collect();
        prop_assert_eq!(tags(&after), union);
        for f in &absorb_children.fields {
            let name = format!("f{f}");
            let expected = before_keep["party"]["fields"].get(&name).unwrap_or(&before_absorb["party"]["fields"][&name]);
            prop_assert_eq!(&after["party"]["fields"][&name], expected);
        }
        prop_assert_eq!(absorbed["party"]["merged_into"].as_str().unwrap(), keep.to_string());

        // Unmerging puts every row back where it was.
        crm.write(|tx| tx.unmerge(absorb)).unwrap();
        let comparable = |mut doc: serde_json::Value| {
            for key in ["events", "exported_at"] {
                doc.as_object_mut().unwrap().remove(key);
            }
            doc["party"].as_object_mut().unwrap().remove("updated_at");
            doc
        };
        prop_assert_eq!(comparable(crm.read(|tx| tx.export_party(keep)).unwrap()), comparable(before_keep));
        prop_assert_eq!(comparable(crm.read(|tx| tx.export_party(absorb)).unwrap()), comparable(before_absorb));
    }
}
