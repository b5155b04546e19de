//! Pipeline, forecast and salesperson KPIs against hand-computed figures.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crm_core::{
    CaseType, Channel, CloseReason, Currency, Decimal, Direction, FxRate, Money, NewCase,
    NewInteraction, NewLine, NewOpportunity, NewOrder, NewParty, NewProduct, NewTask, PartyId,
    Period, PeriodUnit, Pipeline, PipelineStage, Priority,
};

use crate::support::crm_at;

fn at(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap()
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::CNY).unwrap()
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

struct Fixture {
    crm: crm_core::Crm,
    wang: PartyId,
    li: PartyId,
}

/// Two salespeople, four opportunities, two orders, interactions, tasks and
/// a case, on a clock the fixture moves.
fn fixture() -> Fixture {
    let (crm, clock) = crm_at(at(6, 15, 2));
    let (wang, li, x, y) = crm
        .write(|tx| {
            tx.save_pipeline(
                Pipeline::new("b2b", "B2B")
                    .with_stage(PipelineStage::new("qualify", "Qualify", "资格确认", 10))
                    .with_stage(PipelineStage::new("propose", "Propose", "方案报价", 50))
                    .with_stage(PipelineStage::new("negotiate", "Negotiate", "商务谈判", 80)),
            )?;
            for d in [day(6, 30), day(7, 31)] {
                tx.set_fx_rate(FxRate::new(Currency::USD, Currency::CNY, d, Decimal::parse("7")?))?;
            }
            tx.create_product(
                NewProduct::new("P", "Pump")
                    .with_cost(cny("60"))
                    .with_price(cny("100"))
                    .with_price(usd("20")),
            )?;
            let wang = tx.create_party(NewParty::person("王芳"))?.id;
            let li = tx.create_party(NewParty::person("李强"))?.id;
            let x = tx.create_party(NewParty::organization("X 公司").with_owner(wang))?.id;
            let y = tx.create_party(NewParty::organization("Y Ltd").with_owner(li))?.id;
            Ok((wang, li, x, y))
        })
        .unwrap();
    let opp = |owner, title: &str, amount, close, stage: &str| {
        NewOpportunity::new(x, "b2b", title, amount, close).with_owner(owner).in_stage(stage)
    };
    let (o1, o2) = crm
        .write(|tx| {
            let o1 =
                tx.create_opportunity(opp(wang, "o1", cny("100000"), day(7, 20), "qualify"))?.id;
            let o2 =
                tx.create_opportunity(opp(wang, "o2", cny("200000"), day(8, 10), "qualify"))?.id;
            tx.create_opportunity(opp(li, "o3", usd("10000"), day(9, 5), "negotiate"))?;
            Ok((o1, o2))
        })
        .unwrap();
    clock.set(at(6, 20, 2));
    crm.write(|tx| tx.move_opportunity(o2, "propose")).unwrap();
    clock.set(at(7, 10, 2));
    crm.write(|tx| tx.win_opportunity(o1, Some(CloseReason::Relationship))).unwrap();
    clock.set(at(7, 15, 2));
    crm.write(|tx| tx.create_opportunity(opp(wang, "o4", cny("50000"), day(9, 30), "propose")))
        .unwrap();
    clock.set(at(8, 1, 2));
    crm.write(|tx| tx.lose_opportunity(o2, CloseReason::Price)).unwrap();
    crm.write(|tx| {
        // Orders: 王芳 10 × CNY 100 (cost 60); 李强 5 × USD 20 (cost CNY 60 → USD 8.57).
        tx.create_order(
            NewOrder::new(x, Currency::CNY, at(7, 12, 3))
                .with_owner(wang)
                .confirmed()
                .with_line(NewLine::new("P", 10)),
        )?;
        tx.create_order(
            NewOrder::new(y, Currency::USD, at(8, 3, 3))
                .with_owner(li)
                .confirmed()
                .with_line(NewLine::new("P", 5)),
        )?;
        // Interactions: two visits and a call in Q3 for 王芳 (and one in June), one call-centre call for 李强.
        for (when, channel, owner) in [
            (at(7, 2, 3), Channel::Visit, wang),
            (at(8, 2, 3), Channel::Visit, wang),
            (at(9, 2, 3), Channel::Phone, wang),
            (at(6, 20, 3), Channel::WeChat, wang),
            (at(7, 3, 3), Channel::CallCentre, li),
        ] {
            tx.record_interaction(
                NewInteraction::new(x, channel, Direction::Outbound, when, "touch")
                    .with_owner(owner),
            )?;
        }
        Ok(())
    })
    .unwrap();
    let (t1, t2) = crm
        .write(|tx| {
            let t1 = tx.create_task(NewTask::new("t1", at(7, 20, 10)).assigned_to(wang))?.id;
            let t2 = tx.create_task(NewTask::new("t2", at(8, 20, 10)).assigned_to(wang))?.id;
            tx.create_task(NewTask::new("t3", at(9, 1, 10)).assigned_to(li))?;
            Ok((t1, t2))
        })
        .unwrap();
    clock.set(at(7, 19, 10));
    crm.write(|tx| tx.complete_task(t1)).unwrap();
    clock.set(at(8, 25, 10));
    crm.write(|tx| tx.complete_task(t2)).unwrap();
    // A case for 李强 without an SLA policy: wall-clock minutes, 150 to respond.
    let case = crm
        .write(|tx| {
            tx.open_case(
                NewCase::new(y, CaseType::Inquiry, Priority::Normal, Channel::Email, "q")
                    .assigned_to(li)
                    .opened_at(at(7, 6, 1)),
            )
        })
        .unwrap();
    crm.write(|tx| tx.respond_to_case(case.id, Some(at(7, 6, 1) + chrono::Duration::minutes(150))))
        .unwrap();
    clock.set(at(9, 15, 2));
    Fixture { crm, wang, li }
}

#[test]
fn pipeline_report_per_stage_with_conversion_and_days() {
    let f = fixture();
    let reports = f.crm.read(|tx| tx.pipeline_report("b2b", None, day(9, 1))).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.currency).collect::<Vec<_>>(),
        [Currency::CNY, Currency::USD]
    );
    let cny_rows = &reports[0].rows;
    assert_eq!(
        (cny_rows[1].open, cny_rows[1].amount, cny_rows[1].weighted),
        (1, cny("50000"), cny("25000"))
    );
    let usd_rows = &reports[1].rows;
    assert_eq!(
        (usd_rows[2].open, usd_rows[2].amount, usd_rows[2].weighted),
        (1, usd("10000"), usd("8000"))
    );
    // qualify: o1 (won) and o2 (moved on) entered, both advanced; 25 and 5 days.
    assert_eq!(
        (cny_rows[0].entered, cny_rows[0].advanced, cny_rows[0].conversion),
        (2, 2, Some(1.0))
    );
    assert_eq!(cny_rows[0].average_days, Some(15.0));
    // propose: o2 (lost after 42 days) and o4 (open): none advanced.
    assert_eq!(
        (cny_rows[1].entered, cny_rows[1].advanced, cny_rows[1].average_days),
        (2, 0, Some(42.0))
    );
    assert_eq!((reports[0].won, reports[0].lost), (1, 1));
    // Converted: one report, USD at 7.
    let converted =
        f.crm.read(|tx| tx.pipeline_report("b2b", Some(Currency::CNY), day(7, 1))).unwrap();
    assert_eq!(converted.len(), 1);
    let total: i64 = converted[0].rows.iter().map(|r| r.weighted.minor()).sum();
    assert_eq!(Money::new(total, Currency::CNY), cny("81000")); // 25,000 + 8,000 × 7
}

#[test]
fn forecast_by_owner_month_and_currency() {
    let f = fixture();
    let q3 = Period::parse("2026-Q3").unwrap();
    let rows = f.crm.read(|tx| tx.forecast(&q3, PeriodUnit::Month, None, day(9, 1))).unwrap();
    let view: Vec<(String, String, Currency, u64, Money, Money, Money)> = rows
        .iter()
        .map(|r| {
            (
                r.owner_name.clone(),
                r.period.clone(),
                r.currency,
                r.open,
                r.pipeline,
                r.weighted,
                r.won,
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            (
                "李强".into(),
                "2026-09".into(),
                Currency::USD,
                1,
                usd("10000"),
                usd("8000"),
                usd("0")
            ),
            ("王芳".into(), "2026-07".into(), Currency::CNY, 0, cny("0"), cny("0"), cny("100000")),
            (
                "王芳".into(),
                "2026-09".into(),
                Currency::CNY,
                1,
                cny("50000"),
                cny("25000"),
                cny("0")
            ),
        ]
    );
}

#[test]
fn salesperson_kpis_match_hand_computed_figures() {
    let f = fixture();
    let q3 = Period::parse("2026-Q3").unwrap();
    let report = f.crm.read(|tx| tx.kpi_report(&q3, Currency::CNY, at(9, 15, 2))).unwrap();
    let wang = report.rows.iter().find(|r| r.owner == f.wang).unwrap();
    let li = report.rows.iter().find(|r| r.owner == f.li).unwrap();
    assert_eq!((wang.visits, wang.calls, wang.interactions.values().sum::<u64>()), (2, 1, 3));
    assert_eq!((wang.tasks_due, wang.tasks_on_time), (2, 1));
    assert_eq!((wang.revenue, wang.margin, wang.new_customers), (cny("1000"), cny("400"), 1));
    assert_eq!(
        (wang.won, wang.lost, wang.win_rate, wang.average_deal),
        (1, 1, Some(0.5), Some(cny("100000")))
    );
    // Forecast at 1 July: o1 10 % of 100,000 + o2 50 % of 200,000; won 100,000.
    assert_eq!((wang.forecast, wang.forecast_won), (cny("110000"), cny("100000")));
    assert!((wang.forecast_accuracy.unwrap() - (1.0 - 10_000.0 / 110_000.0)).abs() < 1e-12);
    // 李强: USD 100 → CNY 700; cost USD 42.85 → CNY 299.95.
    assert_eq!((li.calls, li.tasks_due, li.tasks_on_time), (1, 1, 0));
    assert_eq!((li.revenue, li.margin, li.new_customers), (cny("700"), cny("400.05"), 1));
    assert_eq!((li.cases, li.average_first_response_minutes), (1, Some(150.0)));
    assert_eq!(
        (li.forecast, li.forecast_won, li.forecast_accuracy),
        (cny("56000"), cny("0"), Some(0.0))
    );
    assert_eq!(li.win_rate, None);
}
