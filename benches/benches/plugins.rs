//! The plugin host: the cost of one call with full isolation (a fresh store
//! instantiated from the pre-linked component, limits, deadline) against
//! the same work done natively; install with a cold and a warm compile
//! cache; events delivered per second.
//!
//! Needs the fixture plugin built for wasm32-wasip2 (scripts/test.sh builds
//! it; `CRM_PLUGINS_DIR` says where). `CRM_BENCH_CALLS` (default 5 000),
//! `CRM_BENCH_EVENTS` (default 2 000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use crm_benches::env_usize;

use std::time::Instant;

use crm_core::{Crm, NewParty};
use crm_wasm_host::{Capability, Limits, Manifest, PluginHost, sha256_hex};

fn manifest(bytes: &[u8]) -> Manifest {
    Manifest::parse(&format!(
        "name = \"fixture\"\nversion = \"0.1.0\"\nwit = \"0.1.0\"\nsha256 = \"{}\"\ncapabilities = [\"parties.read\", \"parties.write\", \"documents\"]\nevents = [\"party.created\"]\ncommands = [\"echo\", \"read\"]\n",
        sha256_hex(bytes)
    ))
    .unwrap()
}

const GRANTS: [Capability; 3] =
    [Capability::PartiesRead, Capability::PartiesWrite, Capability::Documents];

/// Median of `runs` timings of `f`, in µs per iteration.
fn per_call(runs: usize, iterations: usize, mut f: impl FnMut()) -> Vec<f64> {
    let mut all: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / iterations as f64
        })
        .collect();
    all.sort_by(f64::total_cmp);
    all
}

fn main() {
    let dir = std::env::var("CRM_PLUGINS_DIR").unwrap_or_else(|_| {
        format!("{}/../plugins/target/wasm32-wasip2/release", env!("CARGO_MANIFEST_DIR"))
    });
    let bytes = std::fs::read(format!("{dir}/crm_plugin_fixture.wasm"))
        .expect("build the plugins first (scripts/test.sh)");
    let calls = env_usize("CRM_BENCH_CALLS", 5_000);
    let events = env_usize("CRM_BENCH_EVENTS", 2_000);
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // Install: cold (compile) and warm (from the on-disk cache).
    let crm = Crm::open(tmp.path().join("bench.db")).unwrap();
    let started = Instant::now();
    let mut host = PluginHost::new(crm.clone(), Limits::default()).unwrap().with_cache(&cache);
    host.install(&bytes, manifest(&bytes), &GRANTS).unwrap();
    let cold = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let mut warm_host = PluginHost::new(crm.clone(), Limits::default()).unwrap().with_cache(&cache);
    warm_host.install(&bytes, manifest(&bytes), &GRANTS).unwrap();
    let warm = started.elapsed().as_secs_f64() * 1e3;
    drop(warm_host);
    println!(
        "plugins: install {cold:.1} ms cold, {warm:.1} ms from the compile cache ({:.0}×)",
        cold / warm
    );

    // One command call (no actions, no reads) vs the same work natively.
    let args = "{\"unit\":\"3-1201\"}".to_owned();
    let plugin = per_call(5, calls, || {
        std::hint::black_box(host.call("fixture", "echo", &args).unwrap());
    });
    let native = per_call(5, calls * 10, || {
        std::hint::black_box(args.clone());
    });
    println!(
        "  command call, isolated: min {:.1} / median {:.1} / max {:.1} µs; native: {:.3} µs",
        plugin[0], plugin[2], plugin[4], native[2]
    );

    // An on-event call that reads a party and tags it, vs doing it natively.
    let party = crm.write(|tx| Ok(tx.create_party(NewParty::person("Lin"))?.id)).unwrap();
    let created = crm.read(|tx| tx.events_for("party", &party.to_string())).unwrap()[0].clone();
    let mut fresh = PluginHost::new(crm.clone(), Limits::default()).unwrap().with_cache(&cache);
    fresh.install(&bytes, manifest(&bytes), &GRANTS).unwrap();
    let event_calls = (calls / 5).max(10);
    let on_event = per_call(3, event_calls, || {
        fresh.deliver("fixture", &created).unwrap();
    });
    let native_event = per_call(3, event_calls, || {
        crm.write(|tx| tx.add_tag(party, "seen-by-fixture").map(|_| ())).unwrap();
    });
    println!(
        "  on-event with a tag action: median {:.1} µs isolated vs {:.1} µs native ({:.2}×; both commit a transaction)",
        on_event[1],
        native_event[1],
        on_event[1] / native_event[1]
    );

    // Events delivered per second from the change feed.
    crm.write(|tx| {
        for i in 0..events {
            tx.create_party(NewParty::person(format!("P{i}")))?;
        }
        Ok(())
    })
    .unwrap();
    let started = Instant::now();
    let delivery = fresh.deliver_pending().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(delivery.failed.is_empty());
    println!(
        "  change feed: {} events delivered in {seconds:.2} s ({:.0} events/s, each with its own transaction)",
        delivery.delivered,
        delivery.delivered as f64 / seconds
    );
}
