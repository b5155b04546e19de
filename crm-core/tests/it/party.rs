use crm_core::{
    ContactKind, Currency, Error, FieldDef, FieldType, FieldValue, LifecycleStage, NewContactPoint,
    NewParty, PartyFilter, PartyKind, PartyPatch, Role, Upserted,
};

use crate::support::{crm, fails_cleanly, start};

#[test]
fn created_party_reads_back_equal() {
    let crm = crm();
    let created = crm
        .write(|tx| {
            tx.define_field(FieldDef::new("seats", FieldType::Integer))?;
            tx.define_field(FieldDef::new(
                "tier",
                FieldType::Enum(vec!["gold".into(), "silver".into()]),
            ))?;
            tx.create_party(
                NewParty::organization("Acme Trading 上海")
                    .with_role(Role::Customer)
                    .with_role(Role::Distributor)
                    .with_role(Role::Customer)
                    .with_stage(LifecycleStage::Growing)
                    .with_language("zh-CN")
                    .with_currency(Currency::new("CNY")?)
                    .with_tag("vip")
                    .with_tag("east")
                    .with_field("seats", 40)
                    .with_field("tier", FieldValue::Enum("gold".into()))
                    .with_external_id("erp", "C-9")
                    .with_contact_point(
                        NewContactPoint::new(ContactKind::Phone, "021 6555 1234")
                            .with_country("CN")
                            .with_label("office")
                            .with_consent("marketing", true, "form")
                            .with_consent("marketing", false, "call"),
                    )
                    .with_contact(ContactKind::Email, "Sales@Acme.CN")
                    .with_notes("Key distributor for the east region"),
            )
        })
        .unwrap();
    let read = crm.read(|tx| tx.get_party(created.id)).unwrap();
    assert_eq!(read, created);
    assert_eq!(read.roles.len(), 2);
    assert_eq!(read.tags, ["east", "vip"]);
    assert_eq!(read.contacts[0].normalized, "+862165551234");
    assert!(!read.contacts[0].allows("marketing"), "the later withdrawal wins");
    assert_eq!(read.contacts[1].normalized, "sales@acme.cn");
    assert!(read.has_role_on(Role::Distributor, start().date_naive()));
    let history = crm.read(|tx| tx.stage_history(created.id)).unwrap();
    assert_eq!(history.len(), 1);
}

#[test]
fn bad_input_is_rejected_with_the_field_named_and_nothing_written() {
    let crm = crm();
    crm.write(|tx| {
        tx.define_field(FieldDef::new("tier", FieldType::Enum(vec!["gold".into()])))?;
        tx.define_field(FieldDef::new("since", FieldType::Date))?;
        tx.create_party(NewParty::person("Holder").with_external_id("erp", "1"))
    })
    .unwrap();
    let cases: Vec<(NewParty, &str)> = vec![
        (
            NewParty::person("A").with_contact(ContactKind::Email, "a@b"),
            "invalid email: `a@b` is not an e-mail address: domain has no dot",
        ),
        (
            NewParty::person("A").with_contact(ContactKind::Mobile, "call me maybe"),
            "invalid mobile: `call me maybe` is not a phone number: unexpected `c`",
        ),
        (
            NewParty::person("A").with_field("colour", "red"),
            "invalid field.colour: no such custom field is defined",
        ),
        (
            NewParty::person("A").with_field("since", 2020),
            "invalid field.since: expected a date value, got a integer value",
        ),
        (
            NewParty::person("A").with_field("tier", FieldValue::Enum("bronze".into())),
            "invalid field.tier: `bronze` is not one of: gold",
        ),
        (
            NewParty::person("A").with_external_id("erp", "1"),
            "conflict: external id erp:1 is already held by party",
        ),
        (NewParty::person("  "), "invalid name: must not be empty"),
        (NewParty::person("A").with_language("chinese!"), "invalid language: `chinese!` is not"),
        (NewParty::person("A").with_tag(" padded"), "invalid tags: ` padded` is not a tag"),
    ];
    for (party, expected) in cases {
        let error = fails_cleanly(&crm, |tx| tx.create_party(party.clone()));
        assert!(error.to_string().starts_with(expected), "{error} / expected {expected}");
    }
    let error = fails_cleanly(&crm, |tx| {
        tx.create_party(NewParty::person("A").with_owner(crm_core::PartyId::new()))
    });
    assert!(matches!(error, Error::NotFound { entity: "owner", .. }), "{error}");
}

#[test]
fn a_failing_write_rolls_back_earlier_changes_in_the_same_transaction() {
    let crm = crm();
    let error = fails_cleanly(&crm, |tx| {
        tx.create_party(NewParty::person("First"))?;
        tx.create_party(NewParty::person("Second").with_contact(ContactKind::Email, "nope"))
    });
    assert!(matches!(error, Error::Invalid { .. }));
}

#[test]
fn upsert_by_external_id_is_idempotent_and_merges_new_data() {
    let crm = crm();
    let row = NewParty::person("Li Lei")
        .with_external_id("erp", "7")
        .with_role(Role::Prospect)
        .with_contact(ContactKind::Email, "li@example.com");
    let (first, outcome) = crm.write(|tx| tx.upsert_party(row.clone())).unwrap();
    assert_eq!(outcome, Upserted::Created);
    let (_, outcome) = crm.write(|tx| tx.upsert_party(row.clone())).unwrap();
    assert_eq!(outcome, Upserted::Unchanged);
    let events_before = crm.read(|tx| tx.last_event_seq()).unwrap();
    let (updated, outcome) = crm
        .write(|tx| {
            tx.upsert_party(
                row.clone()
                    .with_role(Role::Customer)
                    .with_contact(ContactKind::Email, "LI@example.com")
                    .with_contact(ContactKind::Mobile, "+86 139 0000 0000"),
            )
        })
        .unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(updated.id, first.id);
    assert_eq!(crm.read(|tx| tx.get_party(updated.id)).unwrap(), updated);
    assert_eq!(updated.contacts.len(), 2, "the same e-mail in other case is not added twice");
    assert_eq!(updated.roles.len(), 2);
    let events = crm.read(|tx| tx.events_since(events_before, 10)).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "party.updated");
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 1);
}

#[test]
fn changes_roles_stages_tags_fields_and_soft_delete() {
    let crm = crm();
    let id = crm.write(|tx| Ok(tx.create_party(NewParty::person("Wang Fang"))?.id)).unwrap();
    let day = start().date_naive();
    crm.write(|tx| {
        tx.define_field(FieldDef::new("budget", FieldType::Decimal))?;
        tx.add_role(id, Role::Customer, day)?;
        tx.end_role(id, Role::Customer, day + chrono::Days::new(30))?;
        tx.set_stage(id, LifecycleStage::New, Some("first order"))?;
        tx.set_stage(id, LifecycleStage::Churned, None)?;
        tx.add_tag(id, "wechat-fan")?;
        tx.set_field(id, "budget", FieldValue::Decimal(crm_core::Decimal::parse("1200.50")?))?;
        tx.update_party(
            id,
            PartyPatch::default()
                .with_name("Wang Fang (王芳)")
                .with_notes(Some("likes tea".into())),
        )?;
        Ok(())
    })
    .unwrap();
    let party = crm.read(|tx| tx.get_party(id)).unwrap();
    assert_eq!(party.stage, Some(LifecycleStage::Churned));
    assert!(party.has_role_on(Role::Customer, day + chrono::Days::new(30)));
    assert!(!party.has_role_on(Role::Customer, day + chrono::Days::new(31)));
    assert_eq!(
        party.fields["budget"],
        FieldValue::Decimal(crm_core::Decimal::parse("1200.5").unwrap())
    );
    assert_eq!(crm.read(|tx| tx.stage_history(id)).unwrap().len(), 2);

    let error = fails_cleanly(&crm, |tx| tx.end_role(id, Role::Agent, day));
    assert!(matches!(error, Error::NotFound { .. }));

    crm.write(|tx| tx.delete_party(id)).unwrap();
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 0);
    let error = fails_cleanly(&crm, |tx| tx.add_tag(id, "x"));
    assert!(error.to_string().contains("deleted"), "{error}");
    let page = crm.read(|tx| tx.list_parties(&PartyFilter::default().include_deleted())).unwrap();
    assert_eq!(page.total, 1);
    crm.write(|tx| tx.restore_party(id)).unwrap();
    assert_eq!(crm.read(|tx| tx.search("王芳", 0, 10)).unwrap().total, 1);
}

#[test]
fn list_filters_and_pages() {
    let crm = crm();
    crm.write(|tx| {
        for n in 0..25 {
            let kind = if n % 5 == 0 { PartyKind::Organization } else { PartyKind::Person };
            let mut party = NewParty::new(kind, format!("Party {n:02}"));
            if n % 2 == 0 {
                party = party.with_role(Role::Customer).with_tag("even");
            }
            tx.create_party(party)?;
        }
        Ok(())
    })
    .unwrap();
    let page = crm
        .read(|tx| tx.list_parties(&PartyFilter::default().role(Role::Customer).page(10, 5)))
        .unwrap();
    assert_eq!(page.total, 13);
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[0].name, "Party 20");
    let orgs = crm
        .read(|tx| {
            tx.list_parties(&PartyFilter::default().kind(PartyKind::Organization).tag("even"))
        })
        .unwrap();
    assert_eq!(orgs.total, 3);
}

#[test]
fn consent_is_recorded_per_purpose_with_history() {
    let crm = crm();
    let contact = crm
        .write(|tx| {
            let party = tx.create_party(
                NewParty::person("C").with_contact(ContactKind::Email, "c@example.org"),
            )?;
            let contact = party.contacts[0].id;
            tx.record_consent(contact, "marketing", true, "web")?;
            tx.record_consent(contact, "service", true, "web")?;
            tx.record_consent(contact, "marketing", false, "unsubscribe-link")
        })
        .unwrap();
    assert!(!contact.allows("marketing"));
    assert!(contact.allows("service"));
    assert_eq!(
        contact.consents.iter().find(|c| c.purpose == "marketing").unwrap().source,
        "unsubscribe-link"
    );
    let error = fails_cleanly(&crm, |tx| tx.record_consent(contact.id, "Marketing!", true, "x"));
    assert!(error.to_string().contains("consent.purpose"));
}

#[test]
fn a_failed_change_writes_nothing_even_when_the_caller_carries_on() {
    // The caller ignores the error and commits: nothing of the failed call
    // may be in the commit.
    let crm = crm();
    let id = crm
        .write(|tx| Ok(tx.create_party(NewParty::person("Before").with_role(Role::Customer))?.id))
        .unwrap();
    let day = start().date_naive();
    crm.write(|tx| {
        let bad_owner = tx.update_party(
            id,
            PartyPatch::default().with_name("After").with_owner(Some(crm_core::PartyId::new())),
        );
        assert!(bad_owner.is_err());
        let bad_end = tx.end_role(id, Role::Customer, day - chrono::Days::new(1));
        assert!(bad_end.is_err());
        Ok(())
    })
    .unwrap();
    let party = crm.read(|tx| tx.get_party(id)).unwrap();
    assert_eq!(party.name, "Before");
    assert_eq!(party.roles[0].until, None);
}
