//! Fit time of each model on the CDNOW sample (and BG/BB on the donations
//! panel), and scoring of N synthetic customers (P(alive), expected
//! purchases in 39 weeks, CLV over 12 months) — in release mode.
//!
//! `CRM_BENCH_RUNS` (default 5) fits per model and scorings (min / median /
//! max are reported);
//! `CRM_BENCH_CUSTOMERS` (default 1 000 000) customers to score. With
//! `--json` the figures are printed as one JSON object, which
//! `benches/lifetimes/compare.sh` puts beside Python `lifetimes`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use crm_benches::{env_usize, min_median_max, under_cargo_bench};

use std::time::Instant;

use chrono::NaiveDate;
use crm_core::analytics::{
    BgBb, BgNbd, FitOptions, GammaGamma, MbgNbd, ParetoNbd, ScoreOptions, TimeUnit, Transactions,
    summarize,
};

fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crm-core/tests/data").join(name)
}

/// Runs `f` `runs` times; the last value and every run's seconds.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, Vec<f64>) {
    let mut times = Vec::with_capacity(runs);
    let mut out = None;
    for _ in 0..runs {
        let started = Instant::now();
        let value = f();
        times.push(started.elapsed().as_secs_f64());
        out = Some(value);
    }
    (out.unwrap(), times)
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let json = std::env::args().any(|a| a == "--json") || std::env::var("CRM_BENCH_JSON").is_ok();
    let runs = env_usize("CRM_BENCH_RUNS", 5).max(1);
    let n = env_usize("CRM_BENCH_CUSTOMERS", 1_000_000);
    // The published summary file: the same input lifetimes reads.
    let text = std::fs::read_to_string(data("cdnow/cdnow_customers_summary.csv")).unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|c| c.parse().unwrap()).collect()).collect();
    let x: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let tx: Vec<f64> = rows.iter().map(|r| r[2]).collect();
    let t: Vec<f64> = rows.iter().map(|r| r[3]).collect();
    let mut log = Transactions::default();
    for line in std::fs::read_to_string(data("cdnow/CDNOW_sample.txt")).unwrap().lines() {
        let c: Vec<&str> = line.split_whitespace().collect();
        log.push(
            c[1].parse().unwrap(),
            NaiveDate::parse_from_str(c[2], "%Y%m%d").unwrap(),
            c[4].parse().unwrap(),
        );
    }
    let calibration = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let spend = summarize(&log, TimeUnit::Week, calibration, None).unwrap();
    let donations = std::fs::read_to_string(data("donations/donations.csv")).unwrap();
    let d: Vec<Vec<f64>> = donations
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    let col = |k: usize| d.iter().map(|r| r[k]).collect::<Vec<f64>>();
    let (dx, dtx, dn, dw) = (col(0), col(1), col(2), col(3));
    let o = FitOptions::default();

    let ((bg, bg_info), bg_s) = timed(runs, || BgNbd::fit(&x, &tx, &t, None, &o).unwrap());
    if std::env::var("CRM_BENCH_DEBUG").is_ok() {
        eprintln!("{bg_info:?}");
    }
    let ((mbg, _), mbg_s) = timed(runs, || MbgNbd::fit(&x, &tx, &t, None, &o).unwrap());
    let ((pareto, pareto_info), pareto_s) =
        timed(runs, || ParetoNbd::fit(&x, &tx, &t, None, &o).unwrap());
    if std::env::var("CRM_BENCH_DEBUG").is_ok() {
        eprintln!("{pareto_info:?}");
    }
    let ((bgbb, _), bgbb_s) = timed(runs, || BgBb::fit(&dx, &dtx, &dn, Some(&dw), &o).unwrap());
    let ((gg, _), gg_s) =
        timed(runs, || GammaGamma::fit(&spend.frequency, &spend.monetary, None, &o).unwrap());

    // Scoring N synthetic customers drawn around the CDNOW histories.
    let mut rng = fastrand::Rng::with_seed(7);
    let cx: Vec<f64> = (0..n).map(|_| f64::from(rng.u32(0..15))).collect();
    let ct: Vec<f64> = (0..n).map(|_| 30.0 + rng.f64() * 9.0).collect();
    let ctx: Vec<f64> =
        cx.iter().zip(&ct).map(|(x, t)| if *x > 0.0 { rng.f64() * t } else { 0.0 }).collect();
    let cm: Vec<f64> = (0..n).map(|_| 10.0 + rng.f64() * 60.0).collect();
    let (scores, score_s) = timed(runs, || {
        crm_core::analytics::score(&bg, Some(&gg), (&cx, &ctx, &ct, &cm), &ScoreOptions::default())
            .unwrap()
    });
    std::hint::black_box(scores.clv.iter().sum::<f64>());
    if json {
        let params = format!(
            "{{\"bg-nbd\": {{\"r\": {}, \"alpha\": {}, \"a\": {}, \"b\": {}}}, \"mbg-nbd\": {{\"r\": {}, \"alpha\": {}, \"a\": {}, \"b\": {}}}, \"pareto-nbd\": {{\"r\": {}, \"alpha\": {}, \"s\": {}, \"beta\": {}}}, \"bg-bb\": {{\"alpha\": {}, \"beta\": {}, \"gamma\": {}, \"delta\": {}}}, \"gamma-gamma\": {{\"p\": {}, \"q\": {}, \"v\": {}}}}}",
            bg.r,
            bg.alpha,
            bg.a,
            bg.b,
            mbg.r,
            mbg.alpha,
            mbg.a,
            mbg.b,
            pareto.r,
            pareto.alpha,
            pareto.s,
            pareto.beta,
            bgbb.alpha,
            bgbb.beta,
            bgbb.gamma,
            bgbb.delta,
            gg.p,
            gg.q,
            gg.gamma
        );
        println!(
            "{{\"bg-nbd\": {bg_s:?}, \"mbg-nbd\": {mbg_s:?}, \"pareto-nbd\": {pareto_s:?}, \"bg-bb\": {bgbb_s:?}, \"gamma-gamma\": {gg_s:?}, \"score_customers\": {n}, \"score_seconds\": {score_s:?}, \"params\": {params}}}"
        );
    } else {
        println!("model fits, {runs} runs (min / median / max):");
        for (name, s) in [
            ("BG/NBD", bg_s),
            ("MBG/NBD", mbg_s),
            ("Pareto/NBD", pareto_s),
            ("BG/BB", bgbb_s),
            ("Gamma-Gamma", gg_s),
        ] {
            let (lo, med, hi) = min_median_max(&s);
            println!("  {name:<12} {:>8.3} / {:>8.3} / {:>8.3} ms", lo * 1e3, med * 1e3, hi * 1e3);
        }
        let (lo, med, hi) = min_median_max(&score_s);
        println!(
            "scoring {n} customers (P(alive), E[X(39)], 12-month CLV): {lo:.3} / {med:.3} / {hi:.3} s"
        );
    }
}

#[allow(dead_code)]
fn probe() {}
