use chrono::NaiveDate;
use crm_core::{
    Decimal, Error, FieldDef, FieldType, NewParty, NewRelationship, PartyId, RelationshipType,
};

use crate::support::{crm, fails_cleanly};

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

/// group ← east ← shop1, group ← west; `person` employee-of shop1.
fn company_tree(crm: &crm_core::Crm) -> [PartyId; 5] {
    crm.write(|tx| {
        tx.define_field(FieldDef::new("revenue", FieldType::Decimal))?;
        let org =
            |tx: &mut crm_core::Tx<'_>, name: &str, revenue: &str| -> crm_core::Result<PartyId> {
                Ok(tx
                    .create_party(
                        NewParty::organization(name)
                            .with_field("revenue", Decimal::parse(revenue)?),
                    )?
                    .id)
            };
        let group = org(tx, "Group", "100")?;
        let east = org(tx, "East", "20.5")?;
        let west = org(tx, "West", "30")?;
        let shop = org(tx, "Shop 1", "0.25")?;
        let person = tx.create_party(NewParty::person("Employee"))?.id;
        tx.relate(NewRelationship::new(east, "subsidiary-of", group))?;
        tx.relate(
            NewRelationship::new(west, "subsidiary-of", group)
                .during(Some(day(1, 1)), Some(day(6, 30))),
        )?;
        tx.relate(NewRelationship::new(shop, "subsidiary-of", east))?;
        tx.relate(NewRelationship::new(person, "employee-of", shop).with_role("manager"))?;
        Ok([group, east, west, shop, person])
    })
    .unwrap()
}

#[test]
fn hierarchy_queries_walk_with_depth_and_dates() {
    let crm = crm();
    let [group, east, west, shop, person] = company_tree(&crm);
    let ancestors = crm.read(|tx| tx.ancestors(shop, "subsidiary-of", None)).unwrap();
    assert_eq!(
        ancestors.iter().map(|n| (n.party_id, n.depth)).collect::<Vec<_>>(),
        [(east, 1), (group, 2)]
    );
    let all = crm.read(|tx| tx.descendants(group, "subsidiary-of", None)).unwrap();
    assert_eq!(all.len(), 3);
    let in_july = crm.read(|tx| tx.descendants(group, "subsidiary-of", Some(day(7, 1)))).unwrap();
    assert!(!in_july.iter().any(|n| n.party_id == west), "west's edge ended in June");
    let related = crm.read(|tx| tx.relationships_of(shop, Some(day(3, 1)))).unwrap();
    assert_eq!(related.len(), 2);
    assert!(related.iter().any(|r| r.from == person && r.role.as_deref() == Some("manager")));
}

#[test]
fn rollup_sums_exactly_over_descendants() {
    let crm = crm();
    let [group, east, ..] = company_tree(&crm);
    let rollup = crm.read(|tx| tx.rollup_field(group, "subsidiary-of", "revenue", None)).unwrap();
    assert_eq!(rollup.total.to_string(), "150.75");
    assert_eq!(rollup.n_descendants, 3);
    let east_only = crm.read(|tx| tx.rollup_field(east, "subsidiary-of", "revenue", None)).unwrap();
    assert_eq!(east_only.total.to_string(), "20.75");
    let july =
        crm.read(|tx| tx.rollup_field(group, "subsidiary-of", "revenue", Some(day(7, 1)))).unwrap();
    assert_eq!(july.total.to_string(), "120.75");
}

#[test]
fn cycles_self_edges_and_unknown_parties_are_rejected() {
    let crm = crm();
    let [group, _, _, shop, _] = company_tree(&crm);
    let error =
        fails_cleanly(&crm, |tx| tx.relate(NewRelationship::new(group, "subsidiary-of", shop)));
    assert!(matches!(error, Error::Conflict { .. }), "{error}");
    assert!(error.to_string().contains("cycle"));
    let error =
        fails_cleanly(&crm, |tx| tx.relate(NewRelationship::new(group, "partner-of", group)));
    assert!(matches!(error, Error::Invalid { .. }), "{error}");
    let error = fails_cleanly(&crm, |tx| {
        tx.relate(NewRelationship::new(group, "partner-of", PartyId::new()))
    });
    assert!(matches!(error, Error::NotFound { entity: "party", .. }), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.relate(NewRelationship::new(group, "cousin-of", shop)));
    assert!(matches!(error, Error::NotFound { entity: "relationship type", .. }), "{error}");
    // A non-hierarchical type may go both ways.
    crm.write(|tx| {
        tx.relate(NewRelationship::new(group, "partner-of", shop))?;
        tx.relate(NewRelationship::new(shop, "partner-of", group))
    })
    .unwrap();
}

#[test]
fn custom_hierarchical_types_check_cycles_too() {
    let crm = crm();
    let [group, east, ..] = company_tree(&crm);
    crm.write(|tx| {
        tx.define_relationship_type(RelationshipType {
            code: "franchise-of".into(),
            hierarchical: true,
            label_en: "Franchise of".into(),
            label_zh: "加盟".into(),
        })
    })
    .unwrap();
    crm.write(|tx| tx.relate(NewRelationship::new(east, "franchise-of", group))).unwrap();
    let error =
        fails_cleanly(&crm, |tx| tx.relate(NewRelationship::new(group, "franchise-of", east)));
    assert!(matches!(error, Error::Conflict { .. }));
    let error = fails_cleanly(&crm, |tx| {
        tx.define_relationship_type(RelationshipType {
            code: "franchise-of".into(),
            hierarchical: false,
            label_en: "x".into(),
            label_zh: "x".into(),
        })
    });
    assert!(matches!(error, Error::Conflict { .. }));
}
