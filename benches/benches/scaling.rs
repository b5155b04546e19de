//! Scaling curves: how the cost of each hot path grows from a thousand to a
//! million customers (and ten million transactions).
//!
//! For every size N (customers) and run:
//!
//! - **import**: N parties from CSV into a new database file;
//! - **search, one hit**: the median latency of 200 searches that each match
//!   one party among N (`客户<k>`);
//! - **search, all match**: the first page of 20 for a term every party's
//!   name contains (ranking and the total count read every match), the
//!   median of three in a row and, separately, the first of them;
//! - **segment build**: a dynamic segment every party matches, created (N
//!   memberships, each with its event and history row);
//! - **segment refresh**: the same segment re-evaluated with no change;
//! - **summary**: per-customer frequency / recency / T / monetary from a log
//!   of about 10·N transactions over two years (in memory);
//! - **fit**: BG/NBD on that summary;
//! - **score**: P(alive), expected purchases and 12-month CLV (BG/NBD +
//!   Gamma-Gamma) for the N customers.
//!
//! Each stage reports time (min / median / max over the runs) and the peak
//! heap it added (Rust allocations, counted by the bench's allocator, plus
//! SQLite's own memory statistics; inputs allocated before the stage, such
//! as the transaction log of the summary, are not counted). The slope is
//! the least-squares exponent k of time ∝ N^k over the sizes from 10,000 up
//! (k = 1 is linear; below 1000 fixed costs dominate).
//!
//! `CRM_BENCH_SIZES` (default `1000,10000,100000,1000000`), `CRM_BENCH_RUNS`
//! (default 3), `CRM_BENCH_TSV` (a file to write the figures to, for
//! `benches/report.py` to plot).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use crm_benches::{
    CountingAlloc, env_usize, heap, min_median_max, remove_database, reset_heap_high,
    under_cargo_bench, write_parties_csv,
};
use crm_core::analytics::{
    BgNbd, FitOptions, GammaGamma, ScoreOptions, TimeUnit, Transactions, score, summarize,
};
use crm_core::{Crm, ImportKind, ImportOptions};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The stages, in the order they run and are reported.
const STAGES: &[&str] = &[
    "import",
    "search, one hit",
    "search, all match",
    "search, all match, first",
    "segment build",
    "segment refresh",
    "summary",
    "fit",
    "score",
];

/// One measurement: seconds and the peak memory added, in MiB.
#[derive(Clone, Copy)]
struct Sample {
    seconds: f64,
    mib: f64,
}

/// Runs `f`, timing it and measuring the peak heap it adds (Rust and
/// SQLite allocations).
fn measure<T>(f: impl FnOnce() -> T) -> (T, Sample) {
    reset_heap_high();
    let (start, _) = heap();
    let started = Instant::now();
    let value = f();
    let seconds = started.elapsed().as_secs_f64();
    let (_, high) = heap();
    (value, Sample { seconds, mib: high.saturating_sub(start) as f64 / f64::from(1 << 20) })
}

/// A purchase log drawn like the BG/NBD story, about ten purchases per
/// customer over 2024–2025: each customer has a purchase rate (0.02 a day
/// plus an exponential part) and a dropout probability after each purchase
/// (uniform up to 15 %), and starts somewhere in the first 600 days.
fn transactions(customers: usize, rng: &mut fastrand::Rng) -> Transactions {
    let origin = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let mut log = Transactions::default();
    for customer in 0..customers as u64 {
        let rate = 0.02 - (1.0 - rng.f64()).ln() * 0.03;
        let dropout = rng.f64() * 0.15;
        let mut day = rng.f64() * 600.0;
        while day < 730.0 {
            log.push(
                customer,
                origin + Duration::days(day as i64),
                f64::from(rng.u32(500..20_000)) / 100.0,
            );
            if rng.f64() < dropout {
                break;
            }
            day -= (1.0 - rng.f64()).ln() / rate;
        }
    }
    log
}

/// One run at one size; pushes a sample per stage.
fn run(n: usize, dir: &Path, csv: &Path, seed: u64, out: &mut BTreeMap<&'static str, Vec<Sample>>) {
    let mut push = |stage: &'static str, sample: Sample| out.entry(stage).or_default().push(sample);
    let db = dir.join("scaling.db");
    remove_database(&db);
    let crm = Crm::open(&db).unwrap();
    let (report, sample) = measure(|| {
        crm.import_file(ImportKind::Parties, csv, &ImportOptions::default(), &mut |_| {}).unwrap()
    });
    assert!(report.committed && report.errors.is_empty(), "{:?}", report.errors.first());
    push("import", sample);

    let mut rng = fastrand::Rng::with_seed(seed);
    let queries: Vec<String> = (0..200)
        .map(|_| format!("客户{}", rng.usize(n.div_ceil(10).max(100)..n.max(101))))
        .collect();
    let mut latencies = Vec::with_capacity(queries.len());
    let (_, sample) = measure(|| {
        crm.read(|tx| {
            for query in &queries {
                let started = Instant::now();
                let hits = tx.search(query, 0, 20)?;
                latencies.push(started.elapsed().as_secs_f64());
                assert!(n < 1000 || hits.total == 1, "{query}: {}", hits.total);
            }
            Ok(())
        })
        .unwrap()
    });
    push("search, one hit", Sample { seconds: min_median_max(&latencies).1, mib: sample.mib });
    // Three in a row: the first after a large import has read more of the
    // file from disk than the later ones (this machine reclaims cold file
    // pages), so the median is the steady cost and the first is reported
    // beside it.
    let mut all_match = Vec::new();
    let mut peak = 0.0_f64;
    for _ in 0..3 {
        let (hits, sample) = measure(|| crm.read(|tx| tx.search("Customer", 0, 20)).unwrap());
        assert_eq!(hits.total, n as u64);
        all_match.push(sample.seconds);
        peak = peak.max(sample.mib);
    }
    push("search, all match", Sample { seconds: min_median_max(&all_match).1, mib: peak });
    push("search, all match, first", Sample { seconds: all_match[0], mib: peak });

    let (change, sample) = measure(|| {
        crm.write(|tx| tx.create_segment("customers", Some(r#""customer" in roles"#), &[])).unwrap()
    });
    assert_eq!(change.entered.len(), n);
    push("segment build", sample);
    let (change, sample) = measure(|| crm.write(|tx| tx.refresh_segment("customers")).unwrap());
    assert!(change.entered.is_empty() && change.exited.is_empty());
    push("segment refresh", sample);
    drop(crm);
    remove_database(&db);

    let log = transactions(n, &mut rng);
    if seed == 7 {
        eprintln!("{n} customers: {} transactions", log.customer.len());
    }
    let calibration = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
    let (summary, sample) = measure(|| summarize(&log, TimeUnit::Week, calibration, None).unwrap());
    drop(log);
    push("summary", sample);
    let options = FitOptions::default();
    let ((model, _), sample) = measure(|| {
        BgNbd::fit(&summary.frequency, &summary.recency, &summary.t, None, &options).unwrap()
    });
    push("fit", sample);
    let spend = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
    let (scores, sample) = measure(|| {
        let columns =
            (&summary.frequency[..], &summary.recency[..], &summary.t[..], &summary.monetary[..]);
        score(&model, Some(&spend), columns, &ScoreOptions::default()).unwrap()
    });
    std::hint::black_box(scores.clv.iter().sum::<f64>());
    push("score", sample);
}

/// Least-squares exponent k of seconds ∝ size^k.
fn slope(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points.iter().map(|(n, s)| (n.ln(), s.ln())).collect();
    let count = logs.len() as f64;
    let mx = logs.iter().map(|p| p.0).sum::<f64>() / count;
    let my = logs.iter().map(|p| p.1).sum::<f64>() / count;
    let cov: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = logs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    cov / var
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let sizes: Vec<usize> = std::env::var("CRM_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("CRM_BENCH_SIZES: comma-separated numbers"))
        .collect();
    let runs = env_usize("CRM_BENCH_RUNS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let mut results: Vec<(usize, BTreeMap<&'static str, Vec<Sample>>)> = Vec::new();
    for &n in &sizes {
        let csv = dir.path().join("parties.csv");
        write_parties_csv(&csv, n).unwrap();
        let mut samples = BTreeMap::new();
        for r in 0..runs {
            let started = Instant::now();
            run(n, dir.path(), &csv, 7 + r as u64, &mut samples);
            eprintln!("{n} customers, run {r}: {:.1} s", started.elapsed().as_secs_f64());
        }
        results.push((n, samples));
    }

    println!(
        "scaling from {} to {} customers (~10 transactions each), {runs} runs",
        sizes[0],
        sizes[sizes.len() - 1]
    );
    println!(
        "{:<18} {:>9} {:>30} {:>12} {:>10}",
        "stage", "customers", "seconds (min / median / max)", "µs / customer", "peak MiB"
    );
    let mut tsv = String::from("stage\tcustomers\tmin_s\tmedian_s\tmax_s\tpeak_mib\n");
    for stage in STAGES {
        let mut points = Vec::new();
        for (n, samples) in &results {
            let Some(s) = samples.get(stage) else { continue };
            let seconds: Vec<f64> = s.iter().map(|s| s.seconds).collect();
            let (lo, med, hi) = min_median_max(&seconds);
            let mib = s.iter().map(|s| s.mib).fold(0.0, f64::max);
            let per =
                if stage.starts_with("search, one") { f64::NAN } else { med / *n as f64 * 1e6 };
            println!(
                "{stage:<18} {n:>9} {:>9.4} / {:>8.4} / {:>8.4} {per:>12.3} {mib:>10.1}",
                lo, med, hi
            );
            tsv.push_str(&format!("{stage}\t{n}\t{lo}\t{med}\t{hi}\t{mib}\n"));
            if *n >= 10_000 {
                points.push((*n as f64, med));
            }
        }
        if points.len() >= 2 {
            println!(
                "{stage:<18} slope {:.2} (time ∝ N^k from 10,000 customers up)",
                slope(&points)
            );
        }
    }
    if let Ok(path) = std::env::var("CRM_BENCH_TSV") {
        std::fs::File::create(&path).and_then(|mut f| f.write_all(tsv.as_bytes())).unwrap();
    }
}
