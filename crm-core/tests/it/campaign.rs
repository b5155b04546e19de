//! Campaigns: reproducible control groups, one-to-one variants with
//! fallbacks, consent and budget, and the evaluation against control.

use chrono::{Duration, TimeZone, Utc};
use crm_core::{
    Channel, ContactKind, Currency, Direction, FieldDef, FieldType, Money, NewCampaign,
    NewContactPoint, NewInteraction, NewLine, NewOrder, NewParty, NewProduct, PartyId,
};

use crate::support::{crm_at, fails_cleanly};

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::CNY).unwrap()
}

/// 200 customers with marketing consent on e-mail, every other one
/// speaking Chinese, every third one with a city.
fn base(crm: &crm_core::Crm) -> Vec<PartyId> {
    crm.write(|tx| {
        tx.define_field(FieldDef::new("city", FieldType::Text))?;
        tx.create_product(NewProduct::new("TEA", "Tea").with_price(cny("100.00")))?;
        let mut parties = Vec::new();
        for i in 0..200 {
            let mut party = NewParty::person(format!("Customer {i}"))
                .with_language(if i % 2 == 0 { "zh-CN" } else { "en" })
                .with_tag("lapsed")
                .with_contact_point(
                    NewContactPoint::new(ContactKind::Email, format!("c{i}@example.com"))
                        .with_consent("marketing", true, "signup"),
                );
            if i % 3 == 0 {
                party = party.with_field("city", "杭州");
            }
            parties.push(tx.create_party(party)?.id);
        }
        tx.create_segment("lapsed", Some(r#""lapsed" in tags"#), &[])?;
        Ok(parties)
    })
    .unwrap()
}

fn plan(name: &str, seed: u64) -> NewCampaign {
    NewCampaign::new(
        name,
        "lapsed",
        ContactKind::Email,
        Currency::CNY,
        "Hello {name}, come back to {field.city|our shop}",
    )
    .with_variant("zh", Some("zh"), "{name}您好，{field.city|门店}欢迎您回来")
    .with_control(2000, seed)
    .with_budget(cny("100.00"), cny("0.50"))
    .with_window(14)
}

#[test]
fn control_groups_are_reproducible_and_variants_fit_the_language() {
    let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap());
    let parties = base(&crm);
    crm.write(|tx| {
        tx.create_campaign(plan("spring", 7))?;
        tx.create_campaign(plan("again", 7))?;
        tx.create_campaign(plan("other", 8))
    })
    .unwrap();
    let runs: Vec<_> = ["spring", "again", "other"]
        .iter()
        .map(|c| crm.write(|tx| tx.run_campaign(c)).unwrap())
        .collect();
    assert_eq!(runs[0].enrolled, 200);
    assert_eq!(runs[0].queued + runs[0].control, 200);
    // The same seed holds back the same people; another seed does not.
    let groups = |name: &str| -> Vec<bool> {
        let c = crm.read(|tx| tx.campaign(name)).unwrap();
        parties.iter().map(|p| c.in_control(*p)).collect()
    };
    assert_eq!(groups("spring"), groups("again"));
    assert_ne!(groups("spring"), groups("other"));
    assert_eq!(runs[0].control, groups("spring").iter().filter(|x| **x).count() as u64);
    assert!((25..=55).contains(&runs[0].control), "control {}", runs[0].control);
    // A second run enrols nobody twice.
    assert_eq!(crm.write(|tx| tx.run_campaign("spring")).unwrap().enrolled, 0);
    // One-to-one content: language variant, field or fallback.
    let sent = crm.read(|tx| tx.outbox("queued", 10_000)).unwrap();
    let zh_with_city = sent.iter().find(|m| m.content == "Customer 0您好，杭州欢迎您回来");
    let en_fallback = sent.iter().find(|m| m.content == "Hello Customer 1, come back to our shop");
    let control_0 = groups("spring")[0];
    assert!(control_0 || zh_with_city.is_some());
    assert!(groups("spring")[1] || en_fallback.is_some());
    // Cost: 0.50 per queued message.
    let report = crm.read(|tx| tx.campaign_report("spring")).unwrap();
    assert_eq!(report.cost, cny("0.50").checked_mul(report.reach as i64).unwrap());
}

#[test]
fn the_report_measures_uplift_against_control() {
    let t0 = Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap();
    let (crm, clock) = crm_at(t0);
    let parties = base(&crm);
    crm.write(|tx| tx.create_campaign(plan("spring", 7).with_budget(cny("1000.00"), cny("1.00"))))
        .unwrap();
    crm.write(|tx| tx.run_campaign("spring")).unwrap();
    let c = crm.read(|tx| tx.campaign("spring")).unwrap();
    // Every treatment member with an even index buys a pot of tea within
    // the window and writes back; in control only every tenth buys; one
    // order after the window does not count.
    clock.set(t0 + Duration::days(3));
    crm.write(|tx| {
        for (i, p) in parties.iter().enumerate() {
            let buys = if c.in_control(*p) { i % 10 == 0 } else { i % 2 == 0 };
            if buys {
                tx.create_order(
                    NewOrder::new(*p, Currency::CNY, t0 + Duration::days(3))
                        .with_line(NewLine::new("TEA", 1))
                        .confirmed(),
                )?;
                tx.record_interaction(
                    NewInteraction::new(
                        *p,
                        Channel::Email,
                        Direction::Inbound,
                        t0 + Duration::days(3),
                        "Re: spring",
                    )
                    .with_body("thanks"),
                )?;
            }
        }
        tx.create_order(
            NewOrder::new(parties[1], Currency::CNY, t0 + Duration::days(20))
                .with_line(NewLine::new("TEA", 1))
                .confirmed(),
        )?;
        Ok(())
    })
    .unwrap();
    let r = crm.read(|tx| tx.campaign_report("spring")).unwrap();
    let treated: Vec<usize> = (0..200).filter(|i| !c.in_control(parties[*i])).collect();
    let controls: Vec<usize> = (0..200).filter(|i| c.in_control(parties[*i])).collect();
    let t_conv = treated.iter().filter(|i| *i % 2 == 0).count() as u64;
    let c_conv = controls.iter().filter(|i| *i % 10 == 0).count() as u64;
    assert_eq!(
        (r.treatment.members, r.control.members),
        (treated.len() as u64, controls.len() as u64)
    );
    assert_eq!((r.treatment.converted, r.control.converted), (t_conv, c_conv));
    assert_eq!(r.treatment.responded, t_conv);
    assert_eq!(r.treatment.revenue, cny("100.00").checked_mul(t_conv as i64).unwrap());
    let uplift = t_conv as f64 / treated.len() as f64 - c_conv as f64 / controls.len() as f64;
    assert!((r.uplift - uplift).abs() < 1e-12);
    assert!(r.uplift_ci.0 < r.uplift && r.uplift < r.uplift_ci.1);
    assert!(r.uplift_ci.0 > 0.0, "a 50% vs 10% conversion is significant: {:?}", r.uplift_ci);
    assert_eq!(r.cost, cny("1.00").checked_mul(r.reach as i64).unwrap());
    assert!(r.roi.unwrap() > 0.0);
}

#[test]
fn bad_campaigns_are_refused_and_budgets_hold() {
    let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap());
    base(&crm);
    let missing = NewCampaign { segment: "nope".into(), ..plan("x", 1) };
    assert!(
        fails_cleanly(&crm, |tx| tx.create_campaign(missing.clone()))
            .to_string()
            .contains("segment not found")
    );
    let unknown = plan("x", 1).with_variant("b", None, "Hi {field.ctiy}");
    let error = fails_cleanly(&crm, |tx| tx.create_campaign(unknown.clone()));
    assert!(error.to_string().contains("unknown custom field `ctiy`"), "{error}");
    let placeholder = plan("x", 1).with_variant("b", None, "Hi {nmae}");
    assert!(
        fails_cleanly(&crm, |tx| tx.create_campaign(placeholder.clone()))
            .to_string()
            .contains("unknown placeholder")
    );
    let everyone = plan("x", 1).with_control(10_001, 1);
    assert!(
        fails_cleanly(&crm, |tx| tx.create_campaign(everyone.clone()))
            .to_string()
            .contains("basis points")
    );
    assert!(
        fails_cleanly(&crm, |tx| tx.run_campaign("nope"))
            .to_string()
            .contains("campaign not found")
    );
    // A budget of 10 messages sends 10.
    crm.write(|tx| tx.create_campaign(plan("tight", 1).with_budget(cny("5.00"), cny("0.50"))))
        .unwrap();
    let run = crm.write(|tx| tx.run_campaign("tight")).unwrap();
    assert_eq!(run.queued, 10);
    assert_eq!(run.over_budget, run.enrolled - run.control - 10);
}

#[test]
fn a_scheduled_campaign_runs_itself_from_run_due_until_it_ends() {
    let t0 = Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap();
    let (crm, clock) = crm_at(t0);
    base(&crm);
    crm.write(|tx| {
        tx.create_campaign(
            plan("weekly", 3).scheduled(t0 + Duration::days(1), Some(t0 + Duration::days(8))),
        )
    })
    .unwrap();
    // Before the start: nothing; a manual run is refused.
    assert_eq!(crm.run_due(t0 + Duration::hours(12)).unwrap().campaign_enrolled, 0);
    assert!(
        crm.write(|tx| tx.run_campaign("weekly")).unwrap_err().to_string().contains("starts at")
    );
    assert_eq!(crm.run_due(t0 + Duration::days(1)).unwrap().campaign_enrolled, 200);
    // A newcomer to the segment is enrolled at the next call.
    clock.set(t0 + Duration::days(2));
    crm.write(|tx| tx.create_party(NewParty::person("Late").with_tag("lapsed")).map(|_| ()))
        .unwrap();
    assert_eq!(crm.run_due(t0 + Duration::days(3)).unwrap().campaign_enrolled, 1);
    // After the end: nothing more, and the report says it ended.
    clock.set(t0 + Duration::days(9));
    crm.write(|tx| tx.create_party(NewParty::person("Later").with_tag("lapsed")).map(|_| ()))
        .unwrap();
    assert_eq!(crm.run_due(t0 + Duration::days(9)).unwrap().campaign_enrolled, 0);
    assert_eq!(crm.read(|tx| tx.campaign_report("weekly")).unwrap().status, "ended");
}
