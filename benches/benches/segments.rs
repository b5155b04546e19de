//! Incremental segment maintenance: the latency of one write (a tag or a
//! stage change on one party) with five live segments kept current in the
//! same transaction, against the same write on a database without
//! segments. Reports p50 and p99 of each write, and of the segment update
//! alone (timed inside the transaction).
//!
//! `CRM_BENCH_PARTIES` (default 100 000), `CRM_BENCH_EVENTS` (default 2 000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use crm_benches::env_usize;

use std::time::Instant;

use crm_core::{Crm, LifecycleStage, NewParty, PartyId};

const SEGMENTS: &[(&str, &str)] = &[
    ("vips", r#""vip" in tags"#),
    ("churned", r#"stage == "churned""#),
    ("at-risk-vips", r#""vip" in tags && stage in ["declining", "churned"]"#),
    ("tagged", "size(tags) >= 2"),
    ("new-people", r#"stage == "new" && kind == "person""#),
];

fn build(dir: &std::path::Path, name: &str, parties: usize, segments: bool) -> (Crm, Vec<PartyId>) {
    let crm = Crm::open(dir.join(name)).unwrap();
    let stages = [LifecycleStage::New, LifecycleStage::Stable, LifecycleStage::Declining];
    let ids = crm
        .write(|tx| {
            (0..parties)
                .map(|i| {
                    let mut p = NewParty::person(format!("Customer {i}")).with_stage(stages[i % 3]);
                    if i % 7 == 0 {
                        p = p.with_tag("vip");
                    }
                    Ok(tx.create_party(p)?.id)
                })
                .collect::<crm_core::Result<Vec<_>>>()
        })
        .unwrap();
    if segments {
        crm.write(|tx| {
            for (name, condition) in SEGMENTS {
                tx.create_segment(name, Some(condition), &[])?;
            }
            Ok(())
        })
        .unwrap();
    }
    (crm, ids)
}

/// Latencies in µs of `events` single-party writes, and of the segment
/// update inside each (timed around `Tx::sync_segments`, so disk flushes
/// do not blur it).
fn run(crm: &Crm, ids: &[PartyId], events: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = fastrand::Rng::with_seed(7);
    let stages = [LifecycleStage::New, LifecycleStage::Churned, LifecycleStage::Declining];
    let mut writes = Vec::with_capacity(events);
    let mut updates = Vec::with_capacity(events);
    for i in 0..events {
        let party = ids[rng.usize(0..ids.len())];
        let started = Instant::now();
        let update = crm
            .write(|tx| {
                if i % 2 == 0 {
                    tx.add_tag(party, if rng.bool() { "vip" } else { "promo" })?;
                } else {
                    tx.set_stage(party, stages[rng.usize(0..3)], None)?;
                }
                let started = Instant::now();
                tx.sync_segments()?;
                Ok(started.elapsed().as_secs_f64() * 1e6)
            })
            .unwrap();
        writes.push(started.elapsed().as_secs_f64() * 1e6);
        updates.push(update);
    }
    writes.sort_by(f64::total_cmp);
    updates.sort_by(f64::total_cmp);
    (writes, updates)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let parties = env_usize("CRM_BENCH_PARTIES", 100_000);
    let events = env_usize("CRM_BENCH_EVENTS", 2_000);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (plain, plain_ids) = build(dir.path(), "plain.db", parties, false);
    let (live, live_ids) = build(dir.path(), "segments.db", parties, true);
    println!(
        "segments: {parties} parties, {} live segments, {events} single-party writes (built in {:.1} s)",
        SEGMENTS.len(),
        started.elapsed().as_secs_f64()
    );
    let (reference, _) = run(&plain, &plain_ids, events);
    let (measured, updates) = run(&live, &live_ids, events);
    let q = |v: &[f64]| (quantile(v, 0.5), quantile(v, 0.99));
    let ((r50, r99), (m50, m99), (u50, u99)) = (q(&reference), q(&measured), q(&updates));
    println!("  write, no segments         p50 {r50:>8.1} µs   p99 {r99:>8.1} µs");
    println!(
        "  write, 5 live segments     p50 {m50:>8.1} µs   p99 {m99:>8.1} µs   ({:.2}× at p50)",
        m50 / r50
    );
    println!(
        "  incremental segment update p50 {u50:>8.1} µs   p99 {u99:>8.1} µs   (per event, all 5 segments)"
    );
    // The incremental result equals a full recomputation.
    for (name, _) in SEGMENTS {
        let before = live.read(|tx| tx.segment(name)).unwrap().members;
        let change = live.write(|tx| tx.refresh_segment(name)).unwrap();
        assert!(change.entered.is_empty() && change.exited.is_empty(), "{name} drifted");
        println!("  {name:<14} {before:>7} members (equal to a full refresh)");
    }
}
