//! Analytics over the store: lifecycle stages from orders, churn causes,
//! validation on CDNOW, retention uplift.

use chrono::{NaiveDate, TimeZone, Utc};
use crm_core::analytics::{
    BgNbd, FitOptions, GammaGamma, LifecycleRules, ScoreOptions, TimeUnit, holdout, purchase_times,
    retention_uplift, summarize, tracking,
};
use crm_core::{
    CaseType, Channel, ChurnReason, CloseReason, Currency, LifecycleStage, Money, NewCase, NewLine,
    NewOpportunity, NewOrder, NewParty, NewProduct, Period, Pipeline, PipelineStage, Priority,
    Role, SlaPolicy, WorkingCalendar,
};

use crate::analytics::cdnow;
use crate::support::crm_at;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn lifecycle_stages_follow_the_orders() {
    let (crm, clock) = crm_at(Utc.with_ymd_and_hms(2026, 12, 31, 12, 0, 0).unwrap());
    let buy = |tx: &mut crm_core::Tx<'_>, party, y, m, d, qty| {
        tx.create_order(
            NewOrder::new(party, Currency::CNY, Utc.with_ymd_and_hms(y, m, d, 8, 0, 0).unwrap())
                .confirmed()
                .with_line(NewLine::new("P", qty)),
        )
        .map(|_| ())
    };
    let ids = crm
        .write(|tx| {
            tx.create_product(
                NewProduct::new("P", "Pump").with_price(Money::parse("100", Currency::CNY)?),
            )?;
            let mut ids = Vec::new();
            for name in ["new", "growing", "declining", "churned", "prospect"] {
                ids.push(tx.create_party(NewParty::person(name).with_role(Role::Customer))?.id);
            }
            buy(tx, ids[0], 2026, 12, 1, 1)?;
            buy(tx, ids[1], 2026, 3, 1, 1)?;
            buy(tx, ids[1], 2026, 11, 1, 5)?;
            buy(tx, ids[2], 2026, 3, 1, 5)?;
            buy(tx, ids[2], 2026, 11, 1, 1)?;
            buy(tx, ids[3], 2025, 6, 1, 1)?;
            Ok(ids)
        })
        .unwrap();
    let rules = LifecycleRules::default();
    let outcome = crm
        .write(|tx| tx.assign_lifecycle_stages(day(2026, 12, 31), &rules, Currency::CNY))
        .unwrap();
    assert_eq!((outcome.parties, outcome.changed), (5, 5));
    let stage = |id| crm.read(|tx| tx.get_party(id)).unwrap().stage;
    let want = [
        LifecycleStage::New,
        LifecycleStage::Growing,
        LifecycleStage::Declining,
        LifecycleStage::Churned,
        LifecycleStage::Prospect,
    ];
    for (id, want) in ids.iter().zip(want) {
        assert_eq!(stage(*id), Some(want));
    }
    let history = crm.read(|tx| tx.stage_history(ids[3])).unwrap();
    assert_eq!(history.last().unwrap().reason.as_deref(), Some("behaviour"));
    // Running again changes nothing; a churned customer who buys again is won back.
    assert_eq!(
        crm.write(|tx| tx.assign_lifecycle_stages(day(2026, 12, 31), &rules, Currency::CNY))
            .unwrap()
            .changed,
        0
    );
    clock.set(Utc.with_ymd_and_hms(2027, 1, 10, 12, 0, 0).unwrap());
    crm.write(|tx| buy(tx, ids[3], 2027, 1, 5, 1)).unwrap();
    crm.write(|tx| tx.assign_lifecycle_stages(day(2027, 1, 10), &rules, Currency::CNY)).unwrap();
    assert_eq!(stage(ids[3]), Some(LifecycleStage::WonBack));
}

#[test]
fn churn_causes_separate_service_from_product() {
    let (crm, clock) = crm_at(Utc.with_ymd_and_hms(2026, 9, 1, 1, 0, 0).unwrap());
    let ids = crm
        .write(|tx| {
            tx.save_calendar(
                WorkingCalendar::new("cn", "Asia/Shanghai")?.with_weekdays(&["09:00-18:00"])?,
            )?;
            tx.save_sla_policy(SlaPolicy::new("default", "Std", "cn").with_target(
                Priority::High,
                None,
                Some(60),
                None,
            ))?;
            tx.save_pipeline(
                Pipeline::new("p", "P").with_stage(PipelineStage::new("s", "S", "阶段", 50)),
            )?;
            let mut ids = Vec::new();
            for n in 0..5 {
                ids.push(tx.create_party(NewParty::person(format!("c{n}")))?.id);
            }
            // 0: stated reason on a case: service quality.
            let case = tx.open_case(
                NewCase::new(ids[0], CaseType::Complaint, Priority::Normal, Channel::Phone, "rude")
                    .with_category("staff"),
            )?;
            tx.rate_case(case.id, Some(1), Some(ChurnReason::ServiceQuality))?;
            // 1: an SLA breach, no stated reason (never answered).
            tx.open_case(NewCase::new(
                ids[1],
                CaseType::Inquiry,
                Priority::High,
                Channel::Email,
                "hello?",
            ))?;
            // 2: a defect case.
            tx.open_case(NewCase::new(
                ids[2],
                CaseType::Defect,
                Priority::Normal,
                Channel::Web,
                "broken",
            ))?;
            // 3: lost an opportunity on price.
            let deal = tx.create_opportunity(NewOpportunity::new(
                ids[3],
                "p",
                "deal",
                Money::parse("100", Currency::CNY)?,
                day(2026, 10, 1),
            ))?;
            tx.lose_opportunity(deal.id, CloseReason::Price)?;
            // 4: nothing.
            Ok(ids)
        })
        .unwrap();
    clock.set(Utc.with_ymd_and_hms(2026, 9, 20, 1, 0, 0).unwrap());
    crm.write(|tx| {
        for id in &ids {
            tx.set_stage(*id, LifecycleStage::Churned, None)?;
        }
        Ok(())
    })
    .unwrap();
    let causes = crm
        .read(|tx| {
            tx.churn_causes(
                &Period::parse("2026-09").unwrap(),
                Utc.with_ymd_and_hms(2026, 9, 30, 0, 0, 0).unwrap(),
            )
        })
        .unwrap();
    assert_eq!(causes.churned, 5);
    assert_eq!(
        (causes.service, causes.product, causes.commercial, causes.other, causes.unexplained),
        (2, 1, 1, 0, 1)
    );
    assert_eq!(causes.with_sla_breach, 1);
    assert_eq!(causes.complaint_categories.get("staff"), Some(&1));
    assert_eq!(causes.lost_reasons.get("price"), Some(&1));
    assert_eq!(causes.churn_reasons.get("service-quality"), Some(&1));
}

#[test]
fn cdnow_holdout_and_tracking() {
    let log = cdnow();
    let s = summarize(&log, TimeUnit::Week, day(1997, 9, 30), Some(day(1998, 6, 30))).unwrap();
    let (m, _) = BgNbd::fit(&s.frequency, &s.recency, &s.t, None, &FitOptions::default()).unwrap();
    let h = holdout(&m, (&s.frequency, &s.recency, &s.t), &s.holdout_frequency, s.holdout_length)
        .unwrap();
    assert_eq!(h.total_actual, 1882.0);
    assert!((h.total_predicted - 1653.4).abs() < 0.5, "{}", h.total_predicted);
    assert!(
        h.mean_absolute_error > 0.0 && h.mean_absolute_error < 1.5,
        "{}",
        h.mean_absolute_error
    );
    // Cumulative repeat purchases by week from 1997-01-01, 78 weeks.
    let (first, repeats) = purchase_times(&log, TimeUnit::Week, day(1997, 1, 1));
    let track = tracking(|t| m.expected_purchases_new(t), &first, &repeats, 78).unwrap();
    assert_eq!(track.period.len(), 78);
    let at = |k: usize| (track.actual[k - 1], track.predicted[k - 1]);
    // In the calibration period the model tracks the data closely.
    let (actual, predicted) = at(39);
    assert!((predicted - actual).abs() / actual < 0.05, "week 39: {actual} vs {predicted}");
    let (actual, predicted) = at(78);
    assert!((predicted - actual).abs() / actual < 0.1, "week 78: {actual} vs {predicted}");
    assert!(track.actual.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_cut_in_churn_is_worth_something() {
    let s = summarize(&cdnow(), TimeUnit::Week, day(1997, 9, 30), None).unwrap();
    let options = FitOptions::default();
    let (m, _) = BgNbd::fit(&s.frequency, &s.recency, &s.t, None, &options).unwrap();
    let (g, _) = GammaGamma::fit(&s.frequency, &s.monetary, None, &options).unwrap();
    let columns =
        (s.frequency.as_slice(), s.recency.as_slice(), s.t.as_slice(), s.monetary.as_slice());
    let u = retention_uplift(&m, Some(&g), columns, &ScoreOptions::default(), 0.05).unwrap();
    assert!(u.uplift > 0.0 && u.uplift_share > 0.0 && u.uplift_share < 0.2, "{u:?}");
    let none = retention_uplift(&m, Some(&g), columns, &ScoreOptions::default(), 0.0).unwrap();
    assert!(none.uplift.abs() < 1e-9);
    assert!(retention_uplift(&m, Some(&g), columns, &ScoreOptions::default(), 1.5).is_err());
}

#[test]
fn key_account_scorecard_rolls_up_subsidiaries_and_people() {
    let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap());
    let (group, sub, buyer) = crm
        .write(|tx| {
            tx.define_field(crm_core::FieldDef::new("wallet", crm_core::FieldType::Decimal))?;
            tx.create_product(
                NewProduct::new("P", "Pump")
                    .with_price(Money::parse("100", Currency::CNY)?)
                    .with_cost(Money::parse("60", Currency::CNY)?),
            )?;
            let group = tx
                .create_party(
                    NewParty::organization("集团")
                        .with_field("wallet", crm_core::Decimal::parse("10000")?),
                )?
                .id;
            let sub = tx.create_party(NewParty::organization("子公司"))?.id;
            let buyer = tx.create_party(NewParty::person("采购"))?.id;
            tx.relate(crm_core::NewRelationship::new(sub, "subsidiary-of", group))?;
            tx.relate(crm_core::NewRelationship::new(buyer, "employee-of", group))?;
            let order = |tx: &mut crm_core::Tx<'_>, party, y, m, qty| {
                tx.create_order(
                    NewOrder::new(
                        party,
                        Currency::CNY,
                        Utc.with_ymd_and_hms(y, m, 1, 8, 0, 0).unwrap(),
                    )
                    .confirmed()
                    .with_line(NewLine::new("P", qty)),
                )
                .map(|_| ())
            };
            order(tx, group, 2025, 3, 10)?; // the earlier year: 1,000
            order(tx, sub, 2026, 3, 15)?; // the last year: 1,500 + 500
            order(tx, buyer, 2026, 4, 5)?;
            tx.set_score(group, "clv", 3000.0)?;
            tx.set_score(sub, "clv", 1000.0)?;
            tx.set_score(buyer, "p_alive", 0.4)?;
            Ok((group, sub, buyer))
        })
        .unwrap();
    let _ = (sub, buyer);
    let cards =
        crm.read(|tx| tx.key_accounts(Some(&[group]), Currency::CNY, day(2026, 6, 30))).unwrap();
    let card = &cards[0];
    assert_eq!((card.members, card.contacts), (2, 1));
    assert_eq!(card.value_to_date, Money::parse("3000", Currency::CNY).unwrap());
    assert_eq!(card.margin_to_date, Money::parse("1200", Currency::CNY).unwrap());
    assert_eq!(card.revenue_12m, Money::parse("2000", Currency::CNY).unwrap());
    assert_eq!(card.growth, Some(1.0));
    assert_eq!(card.clv, Some(4000.0));
    assert_eq!(card.share_of_wallet, Some(0.2));
    // Risk: no decline, no cases, dormancy 1 − 0.4 = 0.6 → 0.2.
    assert!((card.risk - 0.2).abs() < 1e-12, "{}", card.risk);
    assert_eq!(card.loss_if_lost, 4000.0);
}

#[test]
fn seven_p_profile_of_a_customer() {
    let (crm, _) = crm_at(Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap());
    let person = crm
        .write(|tx| {
            tx.create_product(
                NewProduct::new("AC", "AC")
                    .with_category("hvac")
                    .with_price(Money::parse("100", Currency::CNY)?)
                    .with_cost(Money::parse("70", Currency::CNY)?),
            )?;
            tx.create_product(
                NewProduct::new("F", "Filter")
                    .with_category("parts")
                    .with_price(Money::parse("10", Currency::CNY)?),
            )?;
            tx.save_pipeline(
                Pipeline::new("p", "P").with_stage(PipelineStage::new("s", "S", "阶段", 25)),
            )?;
            let person = tx
                .create_party(
                    NewParty::person("王芳").with_role(Role::Customer).with_contact_point(
                        crm_core::NewContactPoint::new(
                            crm_core::ContactKind::Email,
                            "wf@example.com",
                        )
                        .with_consent("marketing", true, "form"),
                    ),
                )?
                .id;
            tx.create_order(
                NewOrder::new(
                    person,
                    Currency::CNY,
                    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap(),
                )
                .confirmed()
                .with_line(NewLine::new("AC", 2))
                .with_line(NewLine::new("F", 3)),
            )?;
            tx.create_opportunity(NewOpportunity::new(
                person,
                "p",
                "more",
                Money::parse("400", Currency::CNY)?,
                day(2026, 9, 1),
            ))?;
            tx.set_score(person, "p_alive", 0.9)?;
            Ok(person)
        })
        .unwrap();
    let p = crm.read(|tx| tx.seven_p(person, Currency::CNY, day(2026, 6, 30))).unwrap();
    assert_eq!((p.kind.as_str(), p.roles.clone()), ("person", vec!["customer".to_owned()]));
    assert_eq!((p.tenure_days, p.p_alive), (Some(180), Some(0.9)));
    assert_eq!(p.margin_to_date, Money::parse("90", Currency::CNY).unwrap());
    assert_eq!((p.revenue_12m, p.growth), (Money::parse("230", Currency::CNY).unwrap(), None));
    assert_eq!(
        (p.open_opportunities, p.weighted_pipeline),
        (1, Money::parse("100", Currency::CNY).unwrap())
    );
    assert_eq!((p.categories, p.main_category.as_deref()), (2, Some("hvac")));
    assert!(p.marketable);
}
