//! The sales and service part of the demo: products, FX rates, orders in
//! two currencies (imported from CSV, one row per line), a pipeline with a
//! year of history, and service cases on a Chinese working calendar with
//! some SLA breaches.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use crm_core::{
    CaseStatus, CaseType, Channel, CloseReason, Crm, Currency, Decimal, Direction, FxRate,
    ImportKind, ImportOptions, Money, NewCase, NewInteraction, NewOpportunity, NewProduct, PartyId,
    Pipeline, PipelineStage, Priority, SlaPolicy, WorkingCalendar,
};

use super::Generator;

use crate::{CliResult, Failure};

/// (sku, English name, Chinese name, category, cost CNY, price CNY, price USD)
const PRODUCTS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "AC-1200",
        "Split air conditioner 1.5 HP",
        "分体空调 1.5匹",
        "air-conditioner",
        "1850",
        "2999",
        "429",
    ),
    (
        "AC-2400",
        "Split air conditioner 3 HP",
        "分体空调 3匹",
        "air-conditioner",
        "3600",
        "5699",
        "799",
    ),
    (
        "AC-VRF8",
        "VRF central air conditioning",
        "多联机中央空调",
        "air-conditioner",
        "21000",
        "32800",
        "4590",
    ),
    ("WH-60", "Electric water heater 60 L", "电热水器 60升", "water-heater", "780", "1399", "199"),
    ("WH-GAS16", "Gas water heater 16 L", "燃气热水器 16升", "water-heater", "1350", "2499", "349"),
    ("AP-350", "Air purifier", "空气净化器", "air-purifier", "690", "1299", "179"),
    ("FLT-AP", "Purifier filter", "净化器滤网", "parts", "45", "159", "22"),
    ("FLT-WH", "Water heater anode", "热水器镁棒", "parts", "18", "69", "10"),
    ("SVC-CLEAN", "Air conditioner cleaning", "空调清洗服务", "service", "60", "199", "29"),
    ("SVC-CARE1", "Care plan, 1 year", "延保服务 1年", "service", "120", "399", "59"),
];

/// An illustrative Chinese working calendar for 2026: public holidays and
/// the adjusted working weekend days (调休) are data. (Demo data; load the
/// official State Council schedule in a real deployment.)
const HOLIDAYS_2026: &[(u32, u32)] = &[
    (1, 1),
    (1, 2),
    (1, 3),
    (2, 15),
    (2, 16),
    (2, 17),
    (2, 18),
    (2, 19),
    (2, 20),
    (2, 21),
    (2, 22),
    (2, 23),
    (4, 4),
    (4, 5),
    (4, 6),
    (5, 1),
    (5, 2),
    (5, 3),
    (5, 4),
    (5, 5),
    (6, 19),
    (6, 20),
    (6, 21),
    (9, 25),
    (9, 26),
    (9, 27),
    (10, 1),
    (10, 2),
    (10, 3),
    (10, 4),
    (10, 5),
    (10, 6),
    (10, 7),
];
const WORKING_WEEKENDS_2026: &[(u32, u32)] = &[(1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10)];

const COMPLAINTS: &[(&str, &str, CaseType)] = &[
    ("空调不制冷", "cooling", CaseType::Repair),
    ("热水器漏水", "leak", CaseType::Repair),
    ("安装师傅迟到", "installation", CaseType::Complaint),
    ("外机噪音大", "noise", CaseType::Complaint),
    ("发票开错", "invoice", CaseType::Billing),
    ("滤网多久更换", "usage", CaseType::Inquiry),
    ("Unit arrived damaged", "damage", CaseType::Defect),
    ("Return request: wrong model", "wrong-item", CaseType::Return),
    ("How do I book a cleaning?", "usage", CaseType::Inquiry),
];

/// How many products the demo sells.
pub(super) const PRODUCT_COUNT: usize = PRODUCTS.len();

/// What the sales part built, for the tour.
pub(super) struct SalesBuilt {
    pub(super) orders: u64,
    pub(super) order_lines: u64,
    pub(super) opportunities: usize,
    pub(super) cases: usize,
}

/// A handle whose clock the demo moves, so that history (stage changes,
/// case responses) happens at believable times.
struct Simulated {
    crm: Crm,
    clock: Arc<Mutex<DateTime<Utc>>>,
}

impl Simulated {
    fn at(&self, time: DateTime<Utc>) -> &Crm {
        if let Ok(mut clock) = self.clock.lock() {
            *clock = time;
        }
        &self.crm
    }
}

pub(super) fn build(
    crm: &Crm,
    path: &std::path::Path,
    generator: &mut Generator,
    built: &super::Built,
    now: DateTime<Utc>,
) -> CliResult<SalesBuilt> {
    let employees = &built.employees;
    let clock = Arc::new(Mutex::new(now));
    let shared = clock.clone();
    let simulated = Simulated {
        crm: Crm::builder()
            .actor("demo")
            .clock(move || shared.lock().map(|t| *t).unwrap_or_else(|_| Utc::now()))
            .open(path)?,
        clock,
    };
    setup(crm, generator, now)?;
    let (orders, order_lines) = orders(crm, generator, now)?;
    let opportunities = pipeline_history(&simulated, generator, employees, now)?;
    let cases = service_history(&simulated, generator, employees, now)?;
    let mut done = built.done_tasks.clone();
    done.sort_by_key(|(_, at)| *at);
    for (task, at) in done {
        simulated.at(at).write(|tx| tx.complete_task(task))?;
    }
    Ok(SalesBuilt { orders, order_lines, opportunities, cases })
}

fn setup(crm: &Crm, generator: &mut Generator, now: DateTime<Utc>) -> CliResult {
    crm.write(|tx| {
        for (sku, en, zh, category, cost, cny, usd) in PRODUCTS {
            tx.create_product(
                NewProduct::new(*sku, *en)
                    .with_name_zh(*zh)
                    .with_category(*category)
                    .with_cost(Money::parse(cost, Currency::CNY)?)
                    .with_price(Money::parse(cny, Currency::CNY)?)
                    .with_price(Money::parse(usd, Currency::USD)?),
            )?;
        }
        // Daily USD→CNY rates for two years, drifting between 7.00 and 7.35.
        let mut rate: i64 = 71_500;
        let first = now.date_naive() - Duration::days(730);
        for offset in 0..=731 {
            let day = first + Duration::days(offset);
            rate = (rate + generator.rng.i64(-120..=120)).clamp(70_000, 73_500);
            if day.weekday().number_from_monday() <= 5 {
                tx.set_fx_rate(FxRate::new(
                    Currency::USD,
                    Currency::CNY,
                    day,
                    Decimal::from_parts(i128::from(rate), 4)?,
                ))?;
            }
        }
        let mut calendar = WorkingCalendar::new("cn-workdays", "Asia/Shanghai")?
            .with_weekdays(&["09:00-12:00", "13:00-18:00"])?;
        for year in [2025, 2026, 2027] {
            for (m, d) in HOLIDAYS_2026 {
                if let Some(day) = NaiveDate::from_ymd_opt(year, *m, *d) {
                    calendar = calendar.with_holiday(day);
                }
            }
            for (m, d) in WORKING_WEEKENDS_2026 {
                if let Some(day) = NaiveDate::from_ymd_opt(year, *m, *d) {
                    calendar = calendar.with_working_day(day);
                }
            }
        }
        tx.save_calendar(calendar)?;
        tx.save_sla_policy(
            SlaPolicy::new("default", "标准服务 Standard service", "cn-workdays")
                .with_target(Priority::Urgent, None, Some(30), Some(4 * 60))
                .with_target(Priority::Urgent, Some("gold"), Some(15), Some(2 * 60))
                .with_target(Priority::High, None, Some(60), Some(8 * 60))
                .with_target(Priority::High, Some("gold"), Some(30), Some(6 * 60))
                .with_target(Priority::Normal, None, Some(4 * 60), Some(3 * 9 * 60))
                .with_target(Priority::Low, None, Some(8 * 60), Some(5 * 9 * 60)),
        )?;
        tx.save_pipeline(
            Pipeline::new("b2b", "Projects 工程项目")
                .with_stage(PipelineStage::new("lead", "Lead", "线索", 5))
                .with_stage(PipelineStage::new("qualify", "Qualify", "需求确认", 15))
                .with_stage(PipelineStage::new("design", "Design", "方案设计", 35))
                .with_stage(PipelineStage::new("quote", "Quote", "报价", 60))
                .with_stage(PipelineStage::new("negotiate", "Negotiate", "商务谈判", 80)),
        )?;
        Ok(())
    })?;
    Ok(())
}

/// Orders for most customers over the last year, written as a CSV file (one
/// row per line item) and imported like an ERP export would be.
fn orders(crm: &Crm, generator: &mut Generator, now: DateTime<Utc>) -> CliResult<(u64, u64)> {
    let customers: Vec<(String, bool, Option<PartyId>)> = crm.read(|tx| {
        let page = tx.list_parties(
            &crm_core::PartyFilter::default().role(crm_core::Role::Customer).page(0, 1_000_000),
        )?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|p| {
                let key = p.external_ids.first()?.to_string();
                // Latin-script names buy in dollars.
                let usd = p.name.is_ascii();
                Some((key, usd, p.owner))
            })
            .collect())
    })?;
    let mut csv =
        String::from("order,party,currency,ordered_at,status,owner,sku,quantity,discount\n");
    let mut n_orders = 0u64;
    let mut n_lines = 0u64;
    for (key, usd, owner) in &customers {
        for _ in 0..generator.rng.usize(0..4) {
            n_orders += 1;
            let at = now - Duration::minutes(generator.rng.i64(60..365 * 24 * 60));
            let status = if now - at > Duration::days(14) { "delivered" } else { "confirmed" };
            let currency = if *usd { "USD" } else { "CNY" };
            let owner = owner.map(|o| o.to_string()).unwrap_or_default();
            for _ in 0..generator.rng.usize(1..4) {
                n_lines += 1;
                let (sku, ..) = generator.pick(PRODUCTS);
                let discount = *generator.pick(&["", "", "", "5", "10"]);
                let _ = writeln!(
                    csv,
                    "SO-{n_orders:06},{key},{currency},{},{status},{owner},{sku},{},{discount}",
                    at.format("%Y-%m-%dT%H:%M:%SZ"),
                    generator.rng.i64(1..4)
                );
            }
        }
    }
    let file = std::env::temp_dir().join(format!("crm-demo-orders-{}.csv", std::process::id()));
    std::fs::write(&file, csv)?;
    let report = crm.import_file(ImportKind::Orders, &file, &ImportOptions::default(), &mut |_| {});
    let _ = std::fs::remove_file(&file);
    let report = report?;
    if !report.committed {
        return Err(Failure::usage(format!(
            "demo orders did not import: {:?}",
            report.errors.first()
        )));
    }
    Ok((n_orders, n_lines))
}

/// Two hundred project opportunities over the last year, moved through the
/// pipeline at believable times; most older ones are won or lost.
fn pipeline_history(
    simulated: &Simulated,
    generator: &mut Generator,
    employees: &[PartyId],
    now: DateTime<Utc>,
) -> CliResult<usize> {
    let orgs: Vec<PartyId> = simulated.at(now).read(|tx| {
        Ok(tx
            .list_parties(
                &crm_core::PartyFilter::default()
                    .kind(crm_core::PartyKind::Organization)
                    .page(0, 10_000),
            )?
            .items
            .into_iter()
            .map(|p| p.id)
            .collect())
    })?;
    let stages = ["lead", "qualify", "design", "quote", "negotiate"];
    let titles = [
        "中央空调改造",
        "样板间空调",
        "酒店热水系统",
        "Office HVAC retrofit",
        "学校净化器采购",
        "新楼盘精装配套",
    ];
    // (time, opportunity index, action): 0..5 move to stage, 10 win, 11 lose.
    let mut plan: Vec<(DateTime<Utc>, usize, u8)> = Vec::new();
    let mut specs = Vec::new();
    let count = 200.min(orgs.len() * 4);
    for index in 0..count {
        let created = now - Duration::hours(generator.rng.i64(24..360 * 24));
        let amount = generator.rng.i64(20..2_000) * 1_000;
        let usd = generator.chance(15);
        let close = (created + Duration::days(generator.rng.i64(30..150))).date_naive();
        let mut t = created;
        let mut reached = 0;
        for stage in 1..stages.len() {
            if !generator.chance(70) {
                break;
            }
            t += Duration::hours(generator.rng.i64(24..30 * 24));
            if t >= now {
                break;
            }
            plan.push((t, index, stage as u8));
            reached = stage;
        }
        t += Duration::hours(generator.rng.i64(24..20 * 24));
        if t < now && generator.chance(60) {
            let win = generator.chance(20 + 15 * reached as u32);
            plan.push((t, index, if win { 10 } else { 11 }));
        }
        specs.push((created, index, amount, usd, close));
    }
    let mut ids = vec![None; count];
    for (created, index, amount, usd, close) in specs {
        let currency = if usd { Currency::USD } else { Currency::CNY };
        let party = orgs[generator.rng.usize(..orgs.len())];
        let owner = employees[generator.rng.usize(..employees.len())];
        let title = *generator.pick(&titles);
        let id = simulated.at(created).write(|tx| {
            Ok(tx
                .create_opportunity(
                    NewOpportunity::new(
                        party,
                        "b2b",
                        title,
                        Money::parse(&amount.to_string(), currency)?,
                        close,
                    )
                    .with_owner(owner),
                )?
                .id)
        })?;
        ids[index] = Some(id);
    }
    plan.sort_by_key(|(t, i, _)| (*t, *i));
    let reasons = [
        CloseReason::Price,
        CloseReason::Competitor,
        CloseReason::NoBudget,
        CloseReason::Timing,
        CloseReason::Service,
    ];
    for (t, index, action) in plan {
        let Some(id) = ids[index] else { continue };
        let reason = *generator.pick(&reasons);
        simulated.at(t).write(|tx| {
            match action {
                10 => tx.win_opportunity(id, Some(CloseReason::Relationship))?,
                11 => tx.lose_opportunity(id, reason)?,
                stage => tx.move_opportunity(id, stages[usize::from(stage)])?,
            };
            Ok(())
        })?;
    }
    Ok(count)
}

/// Service cases over the last 60 days: most answered and resolved within
/// their SLA, some late, some waiting on the customer, a few still open
/// and past due now.
fn service_history(
    simulated: &Simulated,
    generator: &mut Generator,
    employees: &[PartyId],
    now: DateTime<Utc>,
) -> CliResult<usize> {
    let customers: Vec<PartyId> = simulated.at(now).read(|tx| {
        Ok(tx
            .list_parties(
                &crm_core::PartyFilter::default().role(crm_core::Role::Customer).page(0, 400),
            )?
            .items
            .into_iter()
            .map(|p| p.id)
            .collect())
    })?;
    let priorities = [
        Priority::Low,
        Priority::Normal,
        Priority::Normal,
        Priority::Normal,
        Priority::High,
        Priority::High,
        Priority::Urgent,
    ];
    let channels =
        [Channel::WeChat, Channel::CallCentre, Channel::Phone, Channel::Email, Channel::Web];
    let n = customers.len().min(300);
    // Open them oldest first so each case's history is in order.
    let mut opened: Vec<DateTime<Utc>> =
        (0..n).map(|_| now - Duration::minutes(generator.rng.i64(30..60 * 24 * 60))).collect();
    opened.sort();
    for (index, at) in opened.into_iter().enumerate() {
        let customer = customers[index];
        let (subject, category, case_type) = *generator.pick(COMPLAINTS);
        let priority = *generator.pick(&priorities);
        let channel = *generator.pick(&channels);
        let agent = employees[generator.rng.usize(..employees.len())];
        let case = simulated.at(at).write(|tx| {
            let call = tx.record_interaction(NewInteraction::new(
                customer,
                channel,
                Direction::Inbound,
                at,
                subject,
            ))?;
            let mut new = NewCase::new(customer, case_type, priority, channel, subject)
                .with_category(category)
                .assigned_to(agent)
                .opened_at(at);
            new.interaction = Some(call.id);
            if generator.chance(15) {
                new = new.with_tier("gold");
            }
            tx.open_case(new)
        })?;
        // First response: usually within minutes to hours; sometimes days.
        let respond_after = if generator.chance(85) {
            Duration::minutes(generator.rng.i64(5..120))
        } else {
            Duration::hours(generator.rng.i64(4..72))
        };
        let responded = at + respond_after;
        if responded < now {
            simulated.at(responded).write(|tx| {
                tx.record_interaction(
                    NewInteraction::new(
                        customer,
                        channel,
                        Direction::Outbound,
                        responded,
                        "已联系客户 / contacted",
                    )
                    .with_owner(agent)
                    .with_link("case", case.id.to_string()),
                )?;
                tx.set_case_status(case.id, CaseStatus::Open, None)
            })?;
        } else {
            continue;
        }
        let mut t = responded;
        if generator.chance(25) {
            t += Duration::hours(generator.rng.i64(1..8));
            if t >= now {
                continue;
            }
            simulated.at(t).write(|tx| {
                tx.set_case_status(case.id, CaseStatus::Waiting, Some("等待客户反馈"))
            })?;
            t += Duration::hours(generator.rng.i64(2..96));
            if t >= now {
                continue;
            }
            simulated.at(t).write(|tx| tx.set_case_status(case.id, CaseStatus::Open, None))?;
        }
        t += Duration::hours(if generator.chance(80) {
            generator.rng.i64(1..30)
        } else {
            generator.rng.i64(30..200)
        });
        if t >= now || generator.chance(8) {
            continue;
        }
        let satisfaction = if generator.chance(70) {
            4 + generator.rng.u8(0..2)
        } else {
            1 + generator.rng.u8(0..3)
        };
        simulated.at(t).write(|tx| {
            tx.set_case_status(case.id, CaseStatus::Resolved, None)?;
            tx.rate_case(case.id, Some(satisfaction), None)
        })?;
        let closed = t + Duration::hours(48);
        if closed < now {
            simulated
                .at(closed)
                .write(|tx| tx.set_case_status(case.id, CaseStatus::Closed, None))?;
        }
    }
    simulated.at(now).write(|tx| tx.escalate_breaches(now))?;
    Ok(n)
}

/// Steps 8–10 of the tour: profit, the pipeline, service levels.
pub(super) fn tour(crm: &Crm, path: &std::path::Path, now: DateTime<Utc>) -> CliResult {
    let year = crm_core::Period {
        start: (now - Duration::days(365)).date_naive(),
        end: now.date_naive() + Duration::days(1),
        label: "last 12 months".to_owned(),
    };
    let (by_currency, converted) = crm.read(|tx| {
        let mut by_currency: Vec<crm_core::Profit> = Vec::new();
        for entry in tx.profit_by_party(Some(&year), None)? {
            match by_currency
                .iter_mut()
                .find(|p| p.revenue.currency() == entry.profit.revenue.currency())
            {
                Some(total) => *total = total.checked_add(entry.profit)?,
                None => by_currency.push(entry.profit),
            }
        }
        let converted =
            tx.profit_by_period(crm_core::PeriodUnit::Year, Some(&year), Some(Currency::CNY))?;
        Ok((by_currency, converted))
    })?;
    let native: Vec<String> = by_currency
        .iter()
        .map(|p| {
            format!(
                "{} {} ({} orders)",
                p.revenue.currency(),
                crate::show::thousands(&p.revenue.amount_text()),
                p.orders
            )
        })
        .collect();
    let (revenue, margin) = converted
        .iter()
        .fold((0i64, 0i64), |(r, m), (_, p)| (r + p.revenue.minor(), m + p.margin().minor()));
    let revenue = Money::new(revenue, Currency::CNY);
    let margin = Money::new(margin, Currency::CNY);
    say!(
        "8. Orders, last 12 months: {}; in CNY at each order's rate: revenue ¥{}, margin ¥{} ({:.1} %)",
        native.join(", "),
        crate::show::thousands(&revenue.amount_text()),
        crate::show::thousands(&margin.amount_text()),
        if revenue.is_zero() {
            0.0
        } else {
            margin.minor() as f64 * 100.0 / revenue.minor() as f64
        }
    );
    let options = crate::report::Options {
        period: crm_core::Period::containing(now.date_naive(), crm_core::PeriodUnit::Quarter)?,
        currency: Some(Currency::CNY),
        lang: crm_core::Lang::ZhCn,
        pipeline: Some("b2b".to_owned()),
        json: false,
        now,
        html: None,
    };
    say!("9. crm report pipeline --currency CNY --lang zh-CN");
    crate::report::pipeline(crm, &options)?;
    let options = crate::report::Options {
        period: crm_core::Period {
            start: (now - Duration::days(61)).date_naive(),
            end: now.date_naive() + Duration::days(1),
            label: "last 60 days".to_owned(),
        },
        lang: crm_core::Lang::En,
        ..options
    };
    say!("10. crm report sla (cases of the last 60 days)");
    crate::report::sla(crm, &options)?;
    // Scores and a win-back segment over them.
    crate::analytics::store_scores(crm, Currency::CNY)?;
    let condition =
        r#"score("p_alive") < 0.6 && orders.count(days(365)) >= 1 && "customer" in roles"#;
    let change = crm.write(|tx| tx.create_segment("win-back", Some(condition), &[]))?;
    say!("12. Segment win-back ({condition}): {} customers", change.entered.len());
    campaign(crm, now)?;
    loyalty(crm)?;
    super::cdnow::tour(&path.with_extension("html"))?;
    super::handover::tour(crm)?;
    let last = crm.read(|tx| tx.last_event_seq())?;
    say!();
    let db = path.display();
    say!("Try next:");
    say!("  cargo run -p crm-cli -- --db {db} party show erp:P-00001");
    say!("  cargo run -p crm-cli -- --db {db} search 空调");
    say!("  cargo run -p crm-cli -- --db {db} duplicates");
    say!(
        "  cargo run -p crm-cli -- --db {db} report forecast --period {} --lang zh-CN",
        now.year()
    );
    say!("  cargo run -p crm-cli -- --db {db} report kpi --period {} --currency CNY", now.year());
    say!("  cargo run -p crm-cli -- --db {db} report clv --currency CNY");
    say!("  cargo run -p crm-cli -- --db {db} segment members win-back");
    say!("  cargo run -p crm-cli -- --db {db} campaign report win-back-spring");
    say!("  cargo run -p crm-cli -- --db {db} loyalty history erp:P-00001");
    say!(
        "  cargo run -p crm-cli -- --db {db} plugin call real-estate-handover progress --json '{{\"building\": \"B1\"}}'"
    );
    say!("  cargo run -p crm-cli -- --db {db} events --since {}", (last - 5).max(0));
    Ok(())
}

/// The loyalty programme the demo's orders earn in (created before the
/// orders are imported, so every order earns as it arrives).
pub(super) fn create_loyalty_program(crm: &Crm) -> CliResult {
    crm.write(|tx| {
        tx.create_loyalty_program(
            crm_core::NewLoyaltyProgram::new(
                "club",
                Currency::CNY,
                r#"floor(order.total / 10.0) * (tier == "gold" || tier == "platinum" ? 2 : 1)"#,
            )
            .with_tier("silver", 0)
            .with_tier("gold", 1_000)
            .with_tier("platinum", 5_000)
            .expiring_after(730)
            .reviewed(365, 90),
        )
    })?;
    Ok(())
}

/// Step 13: a campaign on the win-back segment with a 20 % control group,
/// Chinese and English variants and a budget; a few days of simulated
/// replies and orders (more in the treatment group), then its report.
fn campaign(crm: &Crm, now: DateTime<Utc>) -> CliResult {
    let cny = |text: &str| Money::parse(text, Currency::CNY);
    let plan = crm_core::NewCampaign::new(
        "win-back-spring",
        "win-back",
        crm_core::ContactKind::Mobile,
        Currency::CNY,
        "Hi {name}, we miss you! Here is 10% off until Sunday.",
    )
    .with_variant("zh", Some("zh"), "{name}您好，好久不见！我们为您保留了一张九折券。")
    .with_objective("win back customers whose P(alive) dropped")
    .with_control(2_000, 2026)
    .with_budget(cny("200.00")?, cny("0.05")?)
    .with_window(14);
    let run = crm.write(|tx| {
        tx.create_campaign(plan)?;
        tx.run_campaign("win-back-spring")
    })?;
    // Simulated responses: a quarter of the treatment group and a tenth of
    // the control group reply and order within the window.
    let campaign = crm.read(|tx| tx.campaign("win-back-spring"))?;
    let members = crm.read(|tx| tx.segment_members("win-back", 0, 100_000))?.items;
    let mut rng = fastrand::Rng::with_seed(13);
    crm.write(|tx| {
        for party in &members {
            let share = if campaign.in_control(*party) { 10 } else { 25 };
            if rng.u32(0..100) >= share {
                continue;
            }
            let at = now + Duration::hours(i64::from(rng.u32(1..200)));
            tx.record_interaction(
                NewInteraction::new(*party, Channel::Sms, Direction::Inbound, at, "Re: voucher")
                    .with_body("我想用这张券"),
            )?;
            tx.create_order(
                crm_core::NewOrder::new(*party, Currency::CNY, at)
                    .with_line(crm_core::NewLine::new(PRODUCTS[rng.usize(0..PRODUCTS.len())].0, 1))
                    .confirmed(),
            )?;
        }
        Ok(())
    })?;
    let report = crm.read(|tx| tx.campaign_report("win-back-spring"))?;
    say!(
        "13. Campaign win-back-spring: {} enrolled, {} held back as control, {} messages queued, {} suppressed (no consent)",
        run.enrolled,
        run.control,
        run.queued,
        run.suppressed
    );
    say!(
        "    conversion {:.1} % vs {:.1} % in control: uplift {:+.1} points (95 % CI {:+.1} to {:+.1}); revenue {}, cost {}",
        report.treatment.conversion_rate * 100.0,
        report.control.conversion_rate * 100.0,
        report.uplift * 100.0,
        report.uplift_ci.0 * 100.0,
        report.uplift_ci.1 * 100.0,
        report.treatment.revenue,
        report.cost
    );
    Ok(())
}

/// Step 14: the loyalty programme after a year of orders.
fn loyalty(crm: &Crm) -> CliResult {
    let tiers = crm.read(|tx| {
        let mut counts = Vec::new();
        for tier in ["silver", "gold", "platinum"] {
            counts.push(format!(
                "{tier} {}",
                tx.matching_parties(&format!("tier == \"{tier}\""))?.len()
            ));
        }
        Ok(counts)
    })?;
    let top = crm.read(|tx| tx.matching_parties("points >= 5000"))?;
    say!(
        "14. Loyalty programme club (1 point per ¥10, double from gold; tiers on points earned in 365 days): {}; {} members hold ≥ 5,000 points",
        tiers.join(" · "),
        top.len()
    );
    Ok(())
}
