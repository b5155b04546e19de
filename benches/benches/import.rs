//! Import N parties from CSV through the library, against raw rusqlite
//! prepared inserts of the same rows into the same tables in one transaction.
//!
//! Two references: the base tables only (parties, roles, external ids,
//! contact points), and the base tables plus the full-text index row that
//! the library also writes. The library additionally validates every row,
//! normalises contact points and appends an audit event per party.
//!
//! `CRM_BENCH_ROWS` (default 1 000 000) and `CRM_BENCH_RUNS` (default 3) set
//! the size and the number of alternating runs. Reports rows/s (min / median
//! / max) and the ratio library ÷ reference (higher is better; 1.0 = as fast
//! as raw inserts).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use crm_benches::{
    env_usize, min_median_max, remove_database, under_cargo_bench, write_parties_csv,
};

use std::path::Path;
use std::time::{Duration, Instant};

use crm_core::{Crm, ImportKind, ImportOptions};

fn library(csv: &Path, db: &Path) -> Duration {
    let crm = Crm::open(db).unwrap();
    let started = Instant::now();
    let report =
        crm.import_file(ImportKind::Parties, csv, &ImportOptions::default(), &mut |_| {}).unwrap();
    let elapsed = started.elapsed();
    assert!(report.committed && report.errors.is_empty(), "{:?}", report.errors.first());
    elapsed
}

/// What a developer would write by hand with rusqlite: parse the CSV, insert
/// the party, its role, its external id and its two contact points (and,
/// with `search`, the party's full-text index row) with prepared statements,
/// all in one transaction. No validation and no events.
fn reference(csv: &Path, db: &Path, search: bool) -> Duration {
    drop(Crm::open(db).unwrap()); // the same schema
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut party = tx
            .prepare(
                "INSERT INTO parties (id, kind, name, name_key, created_at, updated_at)
                 VALUES (?1, 'person', ?2, lower(?2), ?3, ?3)",
            )
            .unwrap();
        let mut role = tx
            .prepare("INSERT INTO party_roles (party_id, role, since) VALUES (?1, ?2, ?3)")
            .unwrap();
        let mut external = tx
            .prepare("INSERT INTO external_ids (system, value, party_id) VALUES (?1, ?2, ?3)")
            .unwrap();
        let mut contact = tx
            .prepare(
                "INSERT INTO contact_points (id, party_id, kind, value, normalized, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .unwrap();
        let mut index =
            tx.prepare("INSERT INTO party_search (rowid, text) VALUES (?1, ?2)").unwrap();
        let now = "2026-01-01T00:00:00.000000Z";
        let mut reader = csv::Reader::from_path(csv).unwrap();
        for record in reader.records() {
            let record = record.unwrap();
            let id = uuid::Uuid::now_v7().to_string();
            let (system, value) = record[0].split_once(':').unwrap();
            party.execute(rusqlite::params![id, &record[1], now]).unwrap();
            if search {
                index.execute(rusqlite::params![tx.last_insert_rowid(), &record[1]]).unwrap();
            }
            role.execute(rusqlite::params![id, &record[2], "2026-01-01"]).unwrap();
            external.execute(rusqlite::params![system, value, id]).unwrap();
            let email = &record[3];
            contact
                .execute(rusqlite::params![
                    uuid::Uuid::now_v7().to_string(),
                    id,
                    "email",
                    email,
                    email.to_lowercase(),
                    now
                ])
                .unwrap();
            let mobile = &record[4];
            contact
                .execute(rusqlite::params![
                    uuid::Uuid::now_v7().to_string(),
                    id,
                    "mobile",
                    mobile,
                    format!("+86{mobile}"),
                    now
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    started.elapsed()
}

/// Rows per second of each run: min / median / max.
fn rates(rows: usize, times: &[Duration]) -> (f64, f64, f64) {
    let rates: Vec<f64> = times.iter().map(|d| rows as f64 / d.as_secs_f64()).collect();
    min_median_max(&rates)
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less arguments; do the
    // work only under `cargo bench`.
    if !under_cargo_bench() {
        return;
    }
    let rows = env_usize("CRM_BENCH_ROWS", 1_000_000);
    let runs = env_usize("CRM_BENCH_RUNS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("parties.csv");
    write_parties_csv(&csv, rows).unwrap();
    let mut ours = Vec::new();
    let mut base = Vec::new();
    let mut indexed = Vec::new();
    // One database at a time, deleted after its run: a million parties
    // take gigabytes, and keeping three runs' worth filled the disk.
    let fresh = |name: &str| {
        let path = dir.path().join(name);
        remove_database(&path);
        path
    };
    for run in 0..runs {
        base.push(reference(&csv, &fresh("base.db"), false));
        indexed.push(reference(&csv, &fresh("indexed.db"), true));
        ours.push(library(&csv, &fresh("crm.db")));
        fresh("crm.db");
        eprintln!(
            "run {run}: crm {:.2?}, raw rusqlite {:.2?}, raw rusqlite + search index {:.2?}",
            ours[run], base[run], indexed[run]
        );
    }
    let ratios = |reference: &[Duration]| -> (f64, f64, f64) {
        let ratios: Vec<f64> =
            ours.iter().zip(reference).map(|(o, t)| t.as_secs_f64() / o.as_secs_f64()).collect();
        min_median_max(&ratios)
    };
    let (b_lo, b_med, b_hi) = ratios(&base);
    let (i_lo, i_med, i_hi) = ratios(&indexed);
    let (o_min, o_med, o_max) = rates(rows, &ours);
    let (t_min, t_med, t_max) = rates(rows, &base);
    let (s_min, s_med, s_max) = rates(rows, &indexed);
    println!("import of {rows} parties from CSV, {runs} runs (rows/s, min / median / max)");
    println!("  crm import_file:                   {o_min:>10.0} / {o_med:>10.0} / {o_max:>10.0}");
    println!("  raw rusqlite, base tables:         {t_min:>10.0} / {t_med:>10.0} / {t_max:>10.0}");
    println!("  raw rusqlite, + search index row:  {s_min:>10.0} / {s_med:>10.0} / {s_max:>10.0}");
    println!("  ratio crm ÷ base tables:           {b_lo:>10.3} / {b_med:>10.3} / {b_hi:>10.3}");
    println!(
        "  ratio crm ÷ base + search index:   {i_lo:>10.3} / {i_med:>10.3} / {i_hi:>10.3}   (goal ≥ 0.5)"
    );
}
