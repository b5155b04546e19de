//! Twenty realistic conditions over N parties: the compiled whole-base
//! evaluation against the `cel` crate's own interpreter on the same rows
//! (the interpreter runs on the first `CRM_BENCH_CEL_ROWS` rows, default
//! 100 000, and its rate is compared; the answers are checked equal).
//!
//! `CRM_BENCH_PARTIES` (default 1 000 000), `CRM_BENCH_RUNS` (default 3).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use crm_benches::{env_usize, min_median_max, under_cargo_bench};

use std::time::Instant;

use crm_core::rules::{Column, Condition, Feature, FeatureTable, FieldKind, Fields};

/// (our condition, the same for the cel interpreter over plain variables)
const RULES: &[(&str, &str)] = &[
    (r#"stage == "churned""#, r#"stage == "churned""#),
    (r#""vip" in tags"#, r#""vip" in tags"#),
    (r#"score("clv") > 500.0"#, r#"clv > 500.0"#),
    (r#"score("clv") > 200.0 && "vip" in tags"#, r#"clv > 200.0 && "vip" in tags"#),
    (r#"orders.count(days(90)) >= 2"#, r#"orders_90 >= 2"#),
    (r#"orders.revenue(days(365), "CNY") > 1000.0"#, r#"revenue_365 > 1000.0"#),
    (
        r#"days_since(last_order) > 180 && orders.count(days(90)) == 0"#,
        r#"days_since > 180 && orders_90 == 0"#,
    ),
    (
        r#"field.tier == "gold" || field.tier == "platinum""#,
        r#"tier == "gold" || tier == "platinum""#,
    ),
    (r#"cases.open() > 0 && score("clv") > 300.0"#, r#"open_cases > 0 && clv > 300.0"#),
    (r#"interactions.count("wechat", days(30)) >= 3"#, r#"wechat_30 >= 3"#),
    (
        r#"consent("mobile", "marketing") && stage != "churned""#,
        r#"consent_sms && stage != "churned""#,
    ),
    (r#"stage == "new" && orders.count(days(90)) >= 1"#, r#"stage == "new" && orders_90 >= 1"#),
    (r#"score("clv") * 1.1 > orders.revenue(days(365), "CNY")"#, r#"clv * 1.1 > revenue_365"#),
    (r#"size(tags) >= 2 && !("blocked" in tags)"#, r#"size(tags) >= 2 && !("blocked" in tags)"#),
    (
        r#"days_since(last_order) < 30 ? score("clv") > 100.0 : score("clv") > 800.0"#,
        r#"days_since < 30 ? clv > 100.0 : clv > 800.0"#,
    ),
    (
        r#"orders.count(days(90)) + interactions.count("wechat", days(30)) > 4"#,
        r#"orders_90 + wechat_30 > 4"#,
    ),
    (
        r#"field.tier == "gold" && cases.open() == 0 && consent("mobile", "marketing")"#,
        r#"tier == "gold" && open_cases == 0 && consent_sms"#,
    ),
    (
        r#"stage in ["growing", "stable"] && score("clv") > 250.0"#,
        r#"stage in ["growing", "stable"] && clv > 250.0"#,
    ),
    (r#"orders.revenue(days(365), "CNY") / 12.0 > 150.0"#, r#"revenue_365 / 12.0 > 150.0"#),
    (
        r#"!consent("mobile", "marketing") && "vip" in tags && days_since(last_order) > 90"#,
        r#"!consent_sms && "vip" in tags && days_since > 90"#,
    ),
];

const STAGES: &[&str] = &["new", "growing", "stable", "declining", "churned"];
const TAGS: &[&str] = &["vip", "north", "south", "blocked"];
const TIERS: &[&str] = &["", "silver", "gold", "platinum"];

/// Deterministic synthetic values per row.
struct Row {
    stage: &'static str,
    tags: Vec<String>,
    clv: f64,
    orders_90: i64,
    revenue_365: f64,
    days_since: i64,
    tier: &'static str,
    open_cases: i64,
    wechat_30: i64,
    consent: bool,
}

fn row(i: usize) -> Row {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let tags = TAGS
        .iter()
        .enumerate()
        .filter(|(k, _)| (h >> (8 + k)) & 3 == 0)
        .map(|(_, t)| (*t).to_owned())
        .collect();
    Row {
        stage: STAGES[(h % 5) as usize],
        tags,
        clv: (h >> 20) as f64 % 1000.0,
        orders_90: ((h >> 30) % 5) as i64,
        revenue_365: ((h >> 34) % 3000) as f64,
        days_since: ((h >> 40) % 400) as i64,
        tier: TIERS[((h >> 50) % 4) as usize],
        open_cases: ((h >> 53) % 3) as i64,
        wechat_30: ((h >> 56) % 6) as i64,
        consent: (h >> 62) & 1 == 1,
    }
}

fn column(feature: &Feature, rows: &[Row]) -> Column {
    match feature {
        Feature::Stage => Column::Str(rows.iter().map(|r| r.stage.to_owned()).collect()),
        Feature::Tags => Column::List(rows.iter().map(|r| r.tags.clone()).collect()),
        Feature::Score(_) => Column::Double(rows.iter().map(|r| r.clv).collect()),
        Feature::OrdersCount(_) => Column::Int(rows.iter().map(|r| r.orders_90).collect()),
        Feature::OrdersRevenue(..) => Column::Double(rows.iter().map(|r| r.revenue_365).collect()),
        Feature::DaysSinceLastOrder => Column::Int(rows.iter().map(|r| r.days_since).collect()),
        Feature::Field(..) => Column::Str(rows.iter().map(|r| r.tier.to_owned()).collect()),
        Feature::CasesOpen => Column::Int(rows.iter().map(|r| r.open_cases).collect()),
        Feature::Interactions(..) => Column::Int(rows.iter().map(|r| r.wechat_30).collect()),
        Feature::Consent(..) => Column::Bool(rows.iter().map(|r| r.consent).collect()),
        other => panic!("no synthetic column for {other:?}"),
    }
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let n = env_usize("CRM_BENCH_PARTIES", 1_000_000);
    let cel_rows = env_usize("CRM_BENCH_CEL_ROWS", 100_000).min(n);
    let runs = env_usize("CRM_BENCH_RUNS", 3).max(1);
    let fields: Fields = [("tier".to_owned(), FieldKind::Text)].into_iter().collect();
    let rows: Vec<Row> = (0..n).map(row).collect();
    let parties: Vec<crm_core::PartyId> = (0..n).map(|_| crm_core::PartyId::new()).collect();
    let compiled: Vec<(Condition, FeatureTable)> = RULES
        .iter()
        .map(|(ours, _)| {
            let condition = Condition::compile(ours, &fields).unwrap();
            let columns = condition.features().iter().map(|f| column(f, &rows)).collect();
            let table = FeatureTable { parties: parties.clone(), columns };
            (condition, table)
        })
        .collect();
    let mut ours_times = Vec::with_capacity(runs);
    let mut answers: Vec<Vec<bool>> = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        answers = compiled.iter().map(|(c, t)| c.eval_all(t)).collect();
        ours_times.push(started.elapsed().as_secs_f64());
    }
    // The cel interpreter, one context per row, on the first rows.
    let programs: Vec<cel::Program> =
        RULES.iter().map(|(_, theirs)| cel::Program::compile(theirs).unwrap()).collect();
    let mut cel_times = Vec::with_capacity(runs);
    let mut agree = 0u64;
    for _ in 0..runs {
        agree = 0;
        let started = Instant::now();
        for (i, r) in rows.iter().take(cel_rows).enumerate() {
            let mut context = cel::Context::default();
            context.add_variable_from_value("stage", r.stage.to_owned());
            context.add_variable_from_value("tags", r.tags.clone());
            context.add_variable_from_value("clv", r.clv);
            context.add_variable_from_value("orders_90", r.orders_90);
            context.add_variable_from_value("revenue_365", r.revenue_365);
            context.add_variable_from_value("days_since", r.days_since);
            context.add_variable_from_value("tier", r.tier.to_owned());
            context.add_variable_from_value("open_cases", r.open_cases);
            context.add_variable_from_value("wechat_30", r.wechat_30);
            context.add_variable_from_value("consent_sms", r.consent);
            for (k, program) in programs.iter().enumerate() {
                let value = program.execute(&context).unwrap();
                if value == cel::Value::Bool(answers[k][i]) {
                    agree += 1;
                }
            }
        }
        cel_times.push(started.elapsed().as_secs_f64());
    }
    let evaluations = (cel_rows * RULES.len()) as u64;
    assert_eq!(agree, evaluations, "the two engines disagree");
    let (o_lo, o_med, o_hi) = min_median_max(&ours_times);
    let (c_lo, c_med, c_hi) = min_median_max(&cel_times);
    // Evaluations per second of each side; the speed-up pairs the fastest
    // runs, the medians and the slowest runs.
    let ours_rate = |s: f64| (n * RULES.len()) as f64 / s;
    let cel_rate = |s: f64| evaluations as f64 / s;
    println!(
        "{} rules over {n} parties, compiled whole-base evaluation, {runs} runs: {o_lo:.3} / {o_med:.3} / {o_hi:.3} s",
        RULES.len()
    );
    println!(
        "cel interpreter on {cel_rows} rows: {c_lo:.3} / {c_med:.3} / {c_hi:.3} s ({:.0} evaluations/s at the median); answers equal",
        cel_rate(c_med)
    );
    println!(
        "speed-up (evaluations/s, fastest / median / slowest runs): {:.1}x / {:.1}x / {:.1}x",
        ours_rate(o_lo) / cel_rate(c_lo),
        ours_rate(o_med) / cel_rate(c_med),
        ours_rate(o_hi) / cel_rate(c_hi)
    );
}
