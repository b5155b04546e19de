//! Import N order lines (one CSV row per line) for P parties through the
//! library, then compute revenue and margin per party; the reference for
//! the second part is one hand-written SQL aggregate over the same tables
//! in the same run.
//!
//! `CRM_BENCH_LINES` (default 1 000 000), `CRM_BENCH_PARTIES` (default
//! 100 000) and `CRM_BENCH_RUNS` (default 5, for the aggregate) set the
//! sizes. Reports the import time and rate, and the aggregate times as
//! min / median / max with the ratio reference ÷ library (1.0 = as fast as
//! the hand-written query; higher is better).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use crm_benches::{env_usize, min_median_max, under_cargo_bench};

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crm_core::{Crm, Currency, ImportKind, ImportOptions, Money, NewProduct};

const SKUS: usize = 20;
const LINES_PER_ORDER: usize = 4;

fn parties_csv(path: &Path, parties: usize) {
    let mut text = String::from("external_id,name,roles\n");
    for n in 0..parties {
        writeln!(text, "erp:{n},客户{n},customer").unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn orders_csv(path: &Path, lines: usize, parties: usize) {
    let mut text = String::with_capacity(lines * 70);
    text.push_str("order,party,currency,ordered_at,sku,quantity,discount\n");
    for n in 0..lines {
        let order = n / LINES_PER_ORDER;
        let party = (order * 7919) % parties;
        let currency = if party.is_multiple_of(5) { "USD" } else { "CNY" };
        let day = 1 + order % 28;
        let month = 1 + (order / 28) % 12;
        let discount = if n.is_multiple_of(3) { "5" } else { "" };
        writeln!(
            text,
            "SO-{order},erp:{party},{currency},2025-{month:02}-{day:02}T10:00:00Z,SKU-{},{},{discount}",
            n % SKUS,
            1 + n % 3
        )
        .unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// The hand-written query a developer would use over the same tables.
fn reference(db: &Path) -> (Duration, usize) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let started = Instant::now();
    let mut stmt = conn
        .prepare(
            "SELECT o.party_id, o.currency, count(DISTINCT o.id), sum(l.net), sum(l.net) - sum(l.cost)
             FROM orders o JOIN order_lines l ON l.order_id = o.id
             WHERE o.status NOT IN ('draft', 'cancelled')
             GROUP BY o.party_id, o.currency",
        )
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut n = 0;
    while let Some(row) = rows.next().unwrap() {
        let _: (String, String, i64, i64, i64) = (
            row.get(0).unwrap(),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
            row.get(4).unwrap(),
        );
        n += 1;
    }
    (started.elapsed(), n)
}

fn library(crm: &Crm) -> (Duration, usize) {
    let started = Instant::now();
    let rows = crm.read(|tx| tx.profit_by_party(None, None)).unwrap();
    let margin: i64 = rows.iter().map(|r| r.profit.margin().minor()).sum();
    std::hint::black_box(margin);
    (started.elapsed(), rows.len())
}

fn library_converted(crm: &Crm) -> (Duration, usize) {
    let started = Instant::now();
    let rows = crm.read(|tx| tx.profit_by_party(None, Some(Currency::CNY))).unwrap();
    (started.elapsed(), rows.len())
}

fn main() {
    if !under_cargo_bench() {
        return; // `cargo test` runs benches once without --bench: skip.
    }
    let lines = env_usize("CRM_BENCH_LINES", 1_000_000);
    let parties = env_usize("CRM_BENCH_PARTIES", 100_000);
    let runs = env_usize("CRM_BENCH_RUNS", 5).max(1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("orders.db");
    let crm = Crm::open(&db).unwrap();
    crm.write(|tx| {
        for n in 0..SKUS {
            let cost = Money::new(10_000 + 1_000 * n as i64, Currency::CNY);
            tx.create_product(
                NewProduct::new(format!("SKU-{n}"), format!("Product {n}"))
                    .with_cost(cost)
                    .with_price(Money::new(cost.minor() * 3 / 2, Currency::CNY))
                    .with_price(Money::new(cost.minor() / 4, Currency::USD)),
            )?;
        }
        for month in 1..=12 {
            for day in [1, 8, 15, 22, 28] {
                let date = chrono::NaiveDate::from_ymd_opt(2025, month, day).unwrap();
                tx.set_fx_rate(crm_core::FxRate::new(
                    Currency::USD,
                    Currency::CNY,
                    date,
                    crm_core::Decimal::parse("7.15")?,
                ))?;
            }
        }
        Ok(())
    })
    .unwrap();
    let parties_path = dir.path().join("parties.csv");
    parties_csv(&parties_path, parties);
    let report = crm
        .import_file(ImportKind::Parties, &parties_path, &ImportOptions::default(), &mut |_| {})
        .unwrap();
    assert!(report.committed);
    let orders_path = dir.path().join("orders.csv");
    orders_csv(&orders_path, lines, parties);
    let started = Instant::now();
    let report = crm
        .import_file(ImportKind::Orders, &orders_path, &ImportOptions::default(), &mut |_| {})
        .unwrap();
    let import = started.elapsed();
    assert!(report.committed && report.errors.is_empty(), "{:?}", report.errors.first());
    println!(
        "import {lines} order lines ({} orders) for {parties} parties: {:.1} s, {:.0} lines/s",
        lines / LINES_PER_ORDER,
        import.as_secs_f64(),
        lines as f64 / import.as_secs_f64()
    );
    let (mut ours, mut theirs, mut converted) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        // Alternate which goes first, so neither always meets a cold cache.
        let ((t, n), (r, m)) = if run % 2 == 0 {
            (library(&crm), reference(&db))
        } else {
            let r = reference(&db);
            (library(&crm), r)
        };
        assert_eq!(n, m);
        let (c, _) = library_converted(&crm);
        ours.push(t.as_secs_f64());
        theirs.push(r.as_secs_f64());
        converted.push(c.as_secs_f64());
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(o, t)| t / o).collect();
    let (a, b, c) = min_median_max(&ours);
    let (d, e, f) = min_median_max(&theirs);
    let (g, h, i) = min_median_max(&converted);
    let (j, k, l) = min_median_max(&ratios);
    println!("revenue and margin per party ({runs} runs, min / median / max):");
    println!("  crm profit_by_party:             {a:.3} / {b:.3} / {c:.3} s");
    println!("  hand-written SQL aggregate:      {d:.3} / {e:.3} / {f:.3} s");
    println!("  ratio SQL ÷ crm:                 {j:.2} / {k:.2} / {l:.2}");
    println!("  crm converted to CNY per day:    {g:.3} / {h:.3} / {i:.3} s");
}
