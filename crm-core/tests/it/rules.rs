//! Rules: type-checker messages (golden file), whole-base against
//! single-party evaluation, and incremental segment maintenance against a
//! full recomputation.

use chrono::{TimeZone, Utc};
use crm_core::rules::{Condition, FieldKind, Fields};
use crm_core::{
    Currency, FieldDef, FieldType, Money, NewLine, NewOrder, NewParty, NewProduct, PartyId, Role,
};
use proptest::prelude::*;

use crate::support::crm_at;

fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules").join(name)
}

/// Every line of `errors.txt` gives the messages in `errors.golden`
/// (regenerate with `CRM_BLESS=1`).
#[test]
fn type_checker_messages_match_the_golden_file() {
    let fields: Fields = [("tier".to_owned(), FieldKind::Text)].into_iter().collect();
    let mut out = String::new();
    for line in std::fs::read_to_string(data("errors.txt")).unwrap().lines() {
        let messages = match Condition::compile(line, &fields) {
            Ok(_) => "ok".to_owned(),
            Err(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | "),
        };
        out.push_str(&format!("{line}\n  => {messages}\n"));
    }
    let golden = data("errors.golden");
    if std::env::var("CRM_BLESS").is_ok() {
        std::fs::write(&golden, &out).unwrap();
    }
    assert_eq!(out, std::fs::read_to_string(golden).unwrap());
}

const CONDITIONS: &[&str] = &[
    r#""vip" in tags"#,
    r#"stage == "churned" || score("clv") > 50.0"#,
    r#"has_score("clv") && !("vip" in tags)"#,
    r#"orders.count(days(365)) >= 2"#,
    r#"orders.revenue(days(365), "CNY") > 150.0 && field.tier == "gold""#,
    r#"days_since(last_order) < 30 || size(tags) == 0"#,
    r#""customer" in roles && (score("clv") * 2.0 > 60.0 ? true : stage == "new")"#,
    r#"points >= 5 && tier == "gold""#,
    r#"points > 2 || (tier == "bronze" && "vip" in tags)"#,
];

#[derive(Debug, Clone)]
enum Op {
    Tag(usize, &'static str),
    Untag(usize, &'static str),
    Score(usize, u8),
    Stage(usize, bool),
    Order(usize, u8),
    Tier(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6usize, prop::sample::select(vec!["vip", "north"])).prop_map(|(p, t)| Op::Tag(p, t)),
        (0..6usize, prop::sample::select(vec!["vip", "north"])).prop_map(|(p, t)| Op::Untag(p, t)),
        (0..6usize, 0..100u8).prop_map(|(p, v)| Op::Score(p, v)),
        (0..6usize, any::<bool>()).prop_map(|(p, b)| Op::Stage(p, b)),
        (0..6usize, 1..4u8).prop_map(|(p, q)| Op::Order(p, q)),
        (0..6usize, any::<bool>()).prop_map(|(p, b)| Op::Tier(p, b)),
    ]
}

fn apply(tx: &mut crm_core::Tx<'_>, parties: &[PartyId], op: &Op) -> crm_core::Result<()> {
    match op {
        Op::Tag(p, t) => tx.add_tag(parties[*p], t).map(|_| ()),
        Op::Untag(p, t) => tx.remove_tag(parties[*p], t).map(|_| ()),
        Op::Score(p, v) => tx.set_score(parties[*p], "clv", f64::from(*v)),
        Op::Stage(p, churned) => tx
            .set_stage(
                parties[*p],
                if *churned {
                    crm_core::LifecycleStage::Churned
                } else {
                    crm_core::LifecycleStage::New
                },
                None,
            )
            .map(|_| ()),
        Op::Order(p, q) => tx
            .create_order(
                NewOrder::new(
                    parties[*p],
                    Currency::CNY,
                    Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap(),
                )
                .confirmed()
                .with_line(NewLine::new("P", i64::from(*q))),
            )
            .map(|_| ()),
        Op::Tier(p, gold) => tx
            .set_field(
                parties[*p],
                "tier",
                crm_core::FieldValue::Text(if *gold { "gold" } else { "silver" }.to_owned()),
            )
            .map(|_| ()),
    }
}

fn base() -> (crm_core::Crm, Vec<PartyId>) {
    let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
    let parties = crm
        .write(|tx| {
            tx.define_field(FieldDef::new("tier", FieldType::Text))?;
            tx.create_loyalty_program(
                crm_core::NewLoyaltyProgram::new(
                    "club",
                    Currency::CNY,
                    "floor(order.total / 20.0)",
                )
                .with_tier("bronze", 0)
                .with_tier("gold", 5),
            )?;
            tx.create_product(
                NewProduct::new("P", "P").with_price(Money::parse("50", Currency::CNY)?),
            )?;
            (0..6)
                .map(|i| {
                    let role = if i % 2 == 0 { Role::Customer } else { Role::Prospect };
                    Ok(tx.create_party(NewParty::person(format!("p{i}")).with_role(role))?.id)
                })
                .collect::<crm_core::Result<Vec<_>>>()
        })
        .unwrap();
    (crm, parties)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn whole_base_and_single_party_evaluation_agree(ops in prop::collection::vec(op(), 0..25)) {
        let (crm, parties) = base();
        crm.write(|tx| { for op in &ops { apply(tx, &parties, op)?; } Ok(()) }).unwrap();
        let checks = crm.read(|tx| {
            let mut checks = Vec::new();
            for source in CONDITIONS {
                let condition = tx.compile_condition(source)?;
                let all = tx.matching_parties(source)?;
                for party in &parties {
                    checks.push((source, *party, all.contains(party), tx.party_matches(*party, &condition)?));
                }
            }
            Ok(checks)
        }).unwrap();
        for (source, party, whole, single) in checks {
            prop_assert_eq!(whole, single, "{} for {}", source, party);
        }
    }

    #[test]
    fn incremental_segments_equal_a_full_recomputation(batches in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..6)) {
        let (crm, parties) = base();
        crm.write(|tx| {
            for (i, source) in CONDITIONS.iter().enumerate() {
                tx.create_segment(&format!("s{i}"), Some(source), &[])?;
            }
            tx.sync_segments()
        }).unwrap();
        for batch in &batches {
            crm.write(|tx| { for op in batch { apply(tx, &parties, op)?; } tx.sync_segments() }).unwrap();
            let pairs = crm.read(|tx| {
                let mut pairs = Vec::new();
                for (i, source) in CONDITIONS.iter().enumerate() {
                    let stored = tx.segment_members(&format!("s{i}"), 0, 100)?.items;
                    let mut fresh = tx.matching_parties(source)?;
                    fresh.sort();
                    pairs.push((source, stored, fresh));
                }
                Ok(pairs)
            }).unwrap();
            for (source, stored, fresh) in pairs {
                prop_assert_eq!(stored, fresh, "segment {}", source);
            }
        }
    }
}

#[test]
fn segments_record_entries_exits_and_history() {
    let (crm, parties) = base();
    crm.write(|tx| tx.create_segment("vips", Some(r#""vip" in tags"#), &[]).map(|_| ())).unwrap();
    assert_eq!(crm.read(|tx| tx.segment("vips")).unwrap().members, 0);
    crm.write(|tx| {
        tx.add_tag(parties[0], "vip")?;
        tx.sync_segments()
    })
    .unwrap();
    assert_eq!(crm.read(|tx| tx.segment_members("vips", 0, 10)).unwrap().items, vec![parties[0]]);
    crm.write(|tx| {
        tx.remove_tag(parties[0], "vip")?;
        tx.sync_segments()
    })
    .unwrap();
    let history = crm.read(|tx| tx.segment_history(parties[0])).unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].2.is_some());
    let kinds: Vec<String> = crm
        .read(|tx| tx.events_for("party", &parties[0].to_string()))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("segment."))
        .collect();
    assert_eq!(kinds, ["segment.entered", "segment.exited"]);
    // Bad input.
    let error = crm.write(|tx| tx.create_segment("bad", Some("stag == 1"), &[])).unwrap_err();
    assert!(error.to_string().contains("1:1: unknown name `stag`"), "{error}");
    assert!(crm.write(|tx| tx.create_segment("vips", None, &[])).is_err());
    // A fixed list.
    crm.write(|tx| tx.create_segment("pilot", None, &parties[..2])).unwrap();
    assert_eq!(crm.read(|tx| tx.segment("pilot")).unwrap().members, 2);
}

mod triggers {
    use chrono::{TimeZone, Utc};
    use crm_core::rules::{Action, NewRule, Trigger};
    use crm_core::{ContactKind, LifecycleStage, NewContactPoint, NewParty};

    use crate::support::crm_at;

    #[test]
    fn a_rule_fires_in_the_transaction_of_its_event_and_checks_consent() {
        let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
        let (a, b) = crm
            .write(|tx| {
                tx.create_rule(NewRule {
                    name: "win-back".into(),
                    trigger: Trigger::Event("party.stage_changed".into()),
                    condition: Some(r#"stage == "churned""#.into()),
                    actions: vec![
                        Action::Tag { tag: "win-back".into() },
                        Action::CreateTask { title: "Call back".into(), due_in_days: 3 },
                        Action::Send {
                            channel: ContactKind::Email,
                            purpose: "marketing".into(),
                            template: "Dear {name}, we miss you".into(),
                        },
                    ],
                })?;
                let a = tx.create_party(NewParty::person("Li Na").with_contact_point(
                    NewContactPoint::new(ContactKind::Email, "li@example.com").with_consent(
                        "marketing",
                        true,
                        "form",
                    ),
                ))?;
                let b = tx.create_party(
                    NewParty::person("Wang Wu").with_contact(ContactKind::Email, "ww@example.com"),
                )?;
                Ok((a.id, b.id))
            })
            .unwrap();
        crm.write(|tx| {
            tx.set_stage(a, LifecycleStage::Churned, None)?;
            tx.set_stage(b, LifecycleStage::Churned, None).map(|_| ())
        })
        .unwrap();
        let party = crm.read(|tx| tx.get_party(a)).unwrap();
        assert!(party.tags.contains(&"win-back".to_owned()));
        assert_eq!(crm.read(|tx| tx.tasks_of(a)).unwrap().len(), 1);
        let queued = crm.read(|tx| tx.outbox("queued", 10)).unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(
            (queued[0].content.as_str(), queued[0].address.as_deref()),
            ("Dear Li Na, we miss you", Some("li@example.com"))
        );
        let suppressed = crm.read(|tx| tx.outbox("suppressed", 10)).unwrap();
        assert_eq!(suppressed.len(), 1);
        assert_eq!(
            suppressed[0].reason.as_deref(),
            Some("no email contact point with marketing consent")
        );
        // The export carries the messages; erasure scrubs their text.
        let export = crm.read(|tx| tx.export_party(a)).unwrap();
        assert_eq!(export["outbox"][0]["content"], "Dear Li Na, we miss you");
        crm.write(|tx| tx.erase_party(a)).unwrap();
        let erased = crm.read(|tx| tx.outbox_of(a)).unwrap();
        assert_eq!((erased[0].content.as_str(), erased[0].address.as_deref()), ("", None));
        // The actions carry the rule as actor.
        let events = crm.read(|tx| tx.events_for("party", &a.to_string())).unwrap();
        assert!(events.iter().any(|e| e.actor == "rule:win-back" && e.kind == "message.queued"));
        // Bad rules are refused.
        let bad = |template: &str| NewRule {
            name: "x".into(),
            trigger: Trigger::Event("party.created".into()),
            condition: None,
            actions: vec![Action::Send {
                channel: ContactKind::Email,
                purpose: "marketing".into(),
                template: template.into(),
            }],
        };
        assert!(
            crm.write(|tx| tx.create_rule(bad("Hi {nmae}")))
                .unwrap_err()
                .to_string()
                .contains("unknown placeholder `{nmae}`")
        );
        assert!(
            crm.write(|tx| tx.create_rule(bad("Hi {field.tier}")))
                .unwrap_err()
                .to_string()
                .contains("unknown custom field `tier`")
        );
        let missing = NewRule { trigger: Trigger::SegmentEnter("nope".into()), ..bad("Hi") };
        assert!(crm.write(|tx| tx.create_rule(missing)).is_err());
    }

    #[test]
    fn segment_entry_fires_and_cycles_stop_at_the_depth_limit() {
        let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
        let p = crm
            .write(|tx| {
                tx.create_segment("vips", Some(r#""vip" in tags"#), &[])?;
                tx.create_rule(NewRule {
                    name: "welcome-vip".into(),
                    trigger: Trigger::SegmentEnter("vips".into()),
                    condition: None,
                    actions: vec![Action::CreateTask {
                        title: "Welcome call".into(),
                        due_in_days: 1,
                    }],
                })?;
                Ok(tx.create_party(NewParty::person("Zhao"))?.id)
            })
            .unwrap();
        crm.write(|tx| tx.add_tag(p, "vip").map(|_| ())).unwrap();
        assert_eq!(crm.read(|tx| tx.tasks_of(p)).unwrap().len(), 1);
        // Two rules that undo each other: the chain stops with an error event.
        crm.write(|tx| {
            tx.create_rule(NewRule {
                name: "to-new".into(),
                trigger: Trigger::Event("party.stage_changed".into()),
                condition: Some(r#"stage == "churned""#.into()),
                actions: vec![Action::SetStage { stage: LifecycleStage::New }],
            })?;
            tx.create_rule(NewRule {
                name: "to-churned".into(),
                trigger: Trigger::Event("party.stage_changed".into()),
                condition: Some(r#"stage == "new""#.into()),
                actions: vec![Action::SetStage { stage: LifecycleStage::Churned }],
            })
        })
        .unwrap();
        // The write that started the chain fails and leaves nothing behind
        // but the error event.
        let before = crm.read(|tx| tx.last_event_seq()).unwrap();
        let error =
            crm.write(|tx| tx.set_stage(p, LifecycleStage::Churned, None).map(|_| ())).unwrap_err();
        assert!(error.to_string().contains("more than 5 rounds deep"), "{error}");
        assert!(
            error.to_string().contains("to-churned") || error.to_string().contains("to-new"),
            "{error}"
        );
        assert_eq!(crm.read(|tx| tx.get_party(p)).unwrap().stage, None);
        let events = crm.read(|tx| tx.events_since(before, 100)).unwrap();
        assert_eq!(
            events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["rule.depth_exceeded"]
        );
        // Unrelated writes still work.
        crm.write(|tx| tx.add_tag(p, "calm").map(|_| ())).unwrap();
    }

    #[test]
    fn event_rules_see_old_and_new_values_and_act_on_fields_points_and_campaigns() {
        use crm_core::{Currency, FieldDef, FieldType, FieldValue, NewCampaign, NewLoyaltyProgram};
        let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
        let p = crm
            .write(|tx| {
                tx.define_field(FieldDef::new("note", FieldType::Text))?;
                tx.create_loyalty_program(NewLoyaltyProgram::new("club", Currency::CNY, "0"))?;
                tx.create_segment("all", Some("true"), &[])?;
                tx.create_campaign(
                    NewCampaign::new("welcome", "all", ContactKind::Email, Currency::CNY, "Hi {name}")
                        .with_control(0, 1),
                )?;
                tx.create_rule(NewRule {
                    name: "became-customer".into(),
                    trigger: Trigger::Event("party.stage_changed".into()),
                    condition: Some(
                        r#"changed("stage") && old("stage") == "prospect" && new("stage") == "new""#.into(),
                    ),
                    actions: vec![
                        Action::SetField { field: "note".into(), value: "converted".into() },
                        Action::AwardPoints { program: "club".into(), points: 100, reason: "welcome".into() },
                        Action::EnrolInCampaign { campaign: "welcome".into() },
                    ],
                })?;
                Ok(tx.create_party(NewParty::person("Qian").with_stage(LifecycleStage::Prospect))?.id)
            })
            .unwrap();
        // Another change of the party does not fire it.
        crm.write(|tx| tx.add_tag(p, "x").map(|_| ())).unwrap();
        assert_eq!(crm.read(|tx| tx.points_balance("club", p)).unwrap(), 0);
        crm.write(|tx| tx.set_stage(p, LifecycleStage::New, None).map(|_| ())).unwrap();
        let party = crm.read(|tx| tx.get_party(p)).unwrap();
        assert_eq!(party.fields.get("note"), Some(&FieldValue::Text("converted".into())));
        assert_eq!(crm.read(|tx| tx.points_balance("club", p)).unwrap(), 100);
        assert_eq!(crm.read(|tx| tx.campaign_report("welcome")).unwrap().treatment.members, 1);
        // Event features are refused where no event exists.
        let error =
            crm.write(|tx| tx.create_segment("bad", Some(r#"changed("stage")"#), &[])).unwrap_err();
        assert!(error.to_string().contains("a segment has none"), "{error}");
        // A bad action is refused when the rule is created.
        let error = crm
            .write(|tx| {
                tx.create_rule(NewRule {
                    name: "bad".into(),
                    trigger: Trigger::Event("party.created".into()),
                    condition: None,
                    actions: vec![Action::AwardPoints {
                        program: "nope".into(),
                        points: 1,
                        reason: "r".into(),
                    }],
                })
            })
            .unwrap_err();
        assert!(error.to_string().contains("loyalty programme not found"), "{error}");
        // A rule deducting more than the balance fails the change that fired it.
        crm.write(|tx| {
            tx.create_rule(NewRule {
                name: "penalty".into(),
                trigger: Trigger::Event("party.tagged".into()),
                condition: Some(r#""late" in tags"#.into()),
                actions: vec![Action::AwardPoints {
                    program: "club".into(),
                    points: -500,
                    reason: "late".into(),
                }],
            })
        })
        .unwrap();
        let error = crate::support::fails_cleanly(&crm, |tx| tx.add_tag(p, "late").map(|_| ()));
        assert!(error.to_string().contains("balance"), "{error}");
    }

    #[test]
    fn scheduled_rules_run_when_due_and_depth_is_configurable() {
        let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
        crm.write(|tx| {
            tx.create_party(NewParty::person("A").with_tag("vip"))?;
            tx.create_party(NewParty::person("B"))?;
            tx.create_rule(NewRule {
                name: "daily-vip-check".into(),
                trigger: Trigger::EveryHours(24),
                condition: Some(r#""vip" in tags"#.into()),
                actions: vec![Action::CreateTask { title: "Check in".into(), due_in_days: 0 }],
            })
        })
        .unwrap();
        let at = |h: i64| {
            Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap() + chrono::Duration::hours(h)
        };
        assert_eq!(crm.run_due(at(23)).unwrap().scheduled, 0);
        assert_eq!(crm.run_due(at(24)).unwrap().scheduled, 1);
        assert_eq!(crm.run_due(at(25)).unwrap().scheduled, 0);
        // Missed runs are not replayed one by one: the next is after now.
        assert_eq!(crm.run_due(at(24 * 5)).unwrap().scheduled, 1);
        assert_eq!(crm.run_due(at(24 * 5 + 1)).unwrap().scheduled, 0);
        let error = crm.write(|tx| tx.set_rule_depth(0)).unwrap_err();
        assert!(error.to_string().contains("1..=100"));
        crm.write(|tx| tx.set_rule_depth(2)).unwrap();
        assert_eq!(crm.read(|tx| tx.rule_depth()).unwrap(), 2);
    }
}
