//! The host against the fixture plugin (built for wasm32-wasip2 by
//! scripts/test.sh; `CRM_PLUGINS_DIR` says where, default
//! `plugins/target/wasm32-wasip2/release`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use crm_core::{Crm, NewParty};
use crm_wasm_host::{Capability, Error, Limits, Manifest, PluginHost, sha256_hex};

fn fixture() -> Vec<u8> {
    let dir = std::env::var("CRM_PLUGINS_DIR").unwrap_or_else(|_| {
        format!("{}/../plugins/target/wasm32-wasip2/release", env!("CARGO_MANIFEST_DIR"))
    });
    let path = format!("{dir}/crm_plugin_fixture.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} — build the plugins first (scripts/test.sh does: cargo build --release --target wasm32-wasip2 in plugins/)")
    })
}

fn manifest(bytes: &[u8], capabilities: &str) -> Manifest {
    Manifest::parse(&format!(
        "name = \"fixture\"\nversion = \"0.1.0\"\nwit = \"0.1.0\"\nsha256 = \"{}\"\ncapabilities = [{capabilities}]\nfields = [\"tier\"]\nevents = [\"party.created\"]\ntick_every_hours = 24\ncommands = [\"echo\", \"read\", \"tag\", \"remember\", \"loop\", \"bomb\", \"trap\", \"bad-stage\", \"ungranted\", \"fail\", \"calls\"]\n",
        sha256_hex(bytes)
    ))
    .unwrap()
}

const ALL: &str = r#""parties.read", "parties.write", "documents""#;

fn host(limits: Limits) -> (Crm, PluginHost) {
    let crm = Crm::open_in_memory().unwrap();
    let mut host = PluginHost::new(crm.clone(), limits).unwrap();
    let bytes = fixture();
    let grants = [Capability::PartiesRead, Capability::PartiesWrite, Capability::Documents];
    host.install(&bytes, manifest(&bytes, ALL), &grants).unwrap();
    (crm, host)
}

fn fingerprint(crm: &Crm) -> i64 {
    crm.read(|tx| tx.last_event_seq()).unwrap()
}

#[test]
fn commands_read_through_granted_interfaces_and_act_as_the_plugin() {
    let (crm, host) = host(Limits::default());
    assert_eq!(host.list()[0].name, "fixture");
    assert_eq!(host.call("fixture", "echo", "{\"a\":1}").unwrap().output, "{\"a\":1}");
    let p = crm.write(|tx| Ok(tx.create_party(NewParty::person("Lin Yi"))?.id)).unwrap();
    let read = host.call("fixture", "read", &p.to_string()).unwrap();
    assert_eq!(read.output, "{\"name\":\"Lin Yi\",\"fields\":0}");
    assert_eq!(read.logs, vec![("info".to_owned(), "read Lin Yi".to_owned())]);
    let tagged = host.call("fixture", "tag", &p.to_string()).unwrap();
    assert_eq!(tagged.applied, 1);
    assert!(crm.read(|tx| tx.get_party(p)).unwrap().tags.contains(&"fixture".to_owned()));
    let events = crm.read(|tx| tx.events_for("party", &p.to_string())).unwrap();
    assert_eq!(events.last().unwrap().actor, "plugin:fixture");
    // State lives in the host's documents, not in the instance.
    assert_eq!(host.call("fixture", "remember", "").unwrap().output, "1");
    assert_eq!(host.call("fixture", "remember", "").unwrap().output, "2");
    assert_eq!(
        crm.read(|tx| tx.document("fixture", "counter")).unwrap(),
        Some(serde_json::json!(2))
    );
    // Events it subscribed to are delivered; others are not.
    let created = crm.read(|tx| tx.events_for("party", &p.to_string())).unwrap()[0].clone();
    assert!(host.deliver("fixture", &created).unwrap().is_some());
    assert!(crm.read(|tx| tx.get_party(p)).unwrap().tags.contains(&"seen-by-fixture".to_owned()));
    let other =
        crm.read(|tx| tx.events_for("party", &p.to_string())).unwrap().last().unwrap().clone();
    assert!(host.deliver("fixture", &other).unwrap().is_none());
    // Errors the plugin returns are typed.
    let Err(Error::Plugin { invalid_input, .. }) = host.call("fixture", "read", "nobody") else {
        panic!()
    };
    assert!(invalid_input);
    let Err(Error::UnknownCommand { offered, .. }) = host.call("fixture", "dance", "") else {
        panic!()
    };
    assert!(offered.contains("echo"));
}

#[test]
fn hostile_calls_are_stopped_with_typed_errors_and_change_nothing() {
    let limits = Limits { failures_to_open: 100, ..Limits::default() };
    let (crm, host) = host(limits);
    let p = crm.write(|tx| Ok(tx.create_party(NewParty::person("Lin Yi"))?.id)).unwrap();
    let before = fingerprint(&crm);
    let started = Instant::now();
    let error = host.call("fixture", "loop", "").unwrap_err();
    assert!(matches!(error, Error::Timeout { limit_ms: 100, .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let error = host.call("fixture", "bomb", "").unwrap_err();
    assert!(matches!(error, Error::ResourceLimit { .. }), "{error}");
    let error = host.call("fixture", "trap", "").unwrap_err();
    assert!(matches!(error, Error::Trap { .. }), "{error}");
    // An invalid action: rejected, and the valid one before it is not applied either.
    let error = host.call("fixture", "bad-stage", &p.to_string()).unwrap_err();
    let Error::InvalidAction { index, ref action, .. } = error else { panic!("{error}") };
    assert_eq!((index, action.as_str()), (1, "set-stage"));
    assert!(error.to_string().contains("flying"), "{error}");
    let error = host.call("fixture", "ungranted", &p.to_string()).unwrap_err();
    assert!(error.to_string().contains("needs capability `cases.write`"), "{error}");
    assert_eq!(fingerprint(&crm), before);
    assert!(crm.read(|tx| tx.get_party(p)).unwrap().tags.is_empty());
    // The host keeps serving.
    assert_eq!(host.call("fixture", "echo", "ok").unwrap().output, "ok");
}

#[test]
fn nothing_a_call_leaves_in_guest_memory_survives_it() {
    let (_crm, host) = host(Limits::default());
    // Pooled instance slots are reused: their pages must come back as new.
    for _ in 0..50 {
        assert_eq!(host.call("fixture", "calls", "").unwrap().output, "1 4096");
    }
}

#[test]
fn repeated_failures_open_the_breaker_until_a_trial_call_succeeds() {
    let limits =
        Limits { failures_to_open: 2, cooldown: Duration::from_millis(300), ..Limits::default() };
    let (_, host) = host(limits);
    assert!(matches!(host.call("fixture", "trap", ""), Err(Error::Trap { .. })));
    assert!(matches!(host.call("fixture", "trap", ""), Err(Error::Trap { .. })));
    let error = host.call("fixture", "echo", "x").unwrap_err();
    assert!(matches!(error, Error::CircuitOpen { failures: 2, .. }), "{error}");
    std::thread::sleep(Duration::from_millis(350));
    // Half open: one trial call goes through and closes it.
    assert_eq!(host.call("fixture", "echo", "x").unwrap().output, "x");
    assert_eq!(host.call("fixture", "echo", "y").unwrap().output, "y");
}

#[test]
fn installation_checks_hash_grants_and_version() {
    let crm = Crm::open_in_memory().unwrap();
    let mut host = PluginHost::new(crm, Limits::default()).unwrap();
    let bytes = fixture();
    // Asked for and imported, but not granted: refused, naming it.
    let error =
        host.install(&bytes, manifest(&bytes, ALL), &[Capability::PartiesWrite]).unwrap_err();
    assert!(error.to_string().contains("needs capability `parties.read`: not granted"), "{error}");
    // Imported but not asked for: refused the same way.
    let error =
        host.install(&bytes, manifest(&bytes, r#""documents""#), Capability::ALL).unwrap_err();
    assert!(matches!(error, Error::NotGranted { .. }), "{error}");
    // A wrong hash.
    let mut other = manifest(&bytes, ALL);
    other.sha256 = sha256_hex(b"something else");
    let error = host.install(&bytes, other, Capability::ALL).unwrap_err();
    assert!(matches!(error, Error::HashMismatch { .. }), "{error}");
    // Not a component at all.
    let junk = b"not wasm".to_vec();
    let error = host.install(&junk, manifest(&junk, ALL), Capability::ALL).unwrap_err();
    assert!(matches!(error, Error::Load(_)), "{error}");
    assert!(host.list().is_empty());
    // Granted: fine.
    host.install(&bytes, manifest(&bytes, ALL), Capability::ALL).unwrap();
    assert_eq!(host.capabilities("fixture").unwrap().len(), 3);
    assert!(host.uninstall("fixture").unwrap());
    assert!(matches!(host.call("fixture", "echo", ""), Err(Error::NotFound(_))));
}

#[test]
fn installed_plugins_persist_receive_the_change_feed_once_and_tick_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugins.db");
    let bytes = fixture();
    {
        let crm = Crm::open(&path).unwrap();
        let mut host = PluginHost::new(crm, Limits::default()).unwrap();
        let grants = [Capability::PartiesRead, Capability::PartiesWrite, Capability::Documents];
        host.install(&bytes, manifest(&bytes, ALL), &grants).unwrap();
    }
    // A new process: the plugin is loaded from the database.
    let crm = Crm::open(&path).unwrap();
    let (host, failed) = PluginHost::open(crm.clone(), Limits::default()).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(host.list().len(), 1);
    let (a, b) = crm
        .write(|tx| {
            Ok((
                tx.create_party(NewParty::person("A"))?.id,
                tx.create_party(NewParty::person("B"))?.id,
            ))
        })
        .unwrap();
    let report = host.deliver_pending().unwrap();
    assert_eq!(report.delivered, 2);
    assert!(report.failed.is_empty());
    for p in [a, b] {
        assert!(
            crm.read(|tx| tx.get_party(p)).unwrap().tags.contains(&"seen-by-fixture".to_owned())
        );
    }
    // Its own tagging events are not sent back, and nothing is delivered twice.
    assert_eq!(host.deliver_pending().unwrap().delivered, 0);
    // Ticks run when due.
    let now = crm.now();
    assert_eq!(host.run_due(now).unwrap().ticks, 0);
    assert_eq!(host.run_due(now + chrono::Duration::hours(25)).unwrap().ticks, 1);
    assert_eq!(host.run_due(now + chrono::Duration::hours(26)).unwrap().ticks, 0);
}

#[test]
fn grants_can_be_widened_and_withdrawn_only_when_the_component_allows() {
    let crm = Crm::open_in_memory().unwrap();
    let mut host = PluginHost::new(crm.clone(), Limits::default()).unwrap();
    let bytes = fixture();
    let manifest =
        manifest(&bytes, r#""parties.read", "parties.write", "documents", "cases.write""#);
    host.install(
        &bytes,
        manifest,
        &[Capability::PartiesRead, Capability::PartiesWrite, Capability::Documents],
    )
    .unwrap();
    let p = crm.write(|tx| Ok(tx.create_party(NewParty::person("A"))?.id)).unwrap();
    assert!(host.call("fixture", "ungranted", &p.to_string()).is_err());
    host.grant("fixture", &[Capability::CasesWrite]).unwrap();
    assert_eq!(host.call("fixture", "ungranted", &p.to_string()).unwrap().applied, 1);
    host.revoke("fixture", &[Capability::CasesWrite]).unwrap();
    assert!(host.call("fixture", "ungranted", &p.to_string()).is_err());
    // The component reads parties: that grant cannot go.
    let error = host.revoke("fixture", &[Capability::PartiesRead]).unwrap_err();
    assert!(matches!(error, Error::NotGranted { .. }), "{error}");
    assert!(host.call("fixture", "read", &p.to_string()).is_ok());
    let stored = crm.read(|tx| tx.stored_plugin("fixture")).unwrap();
    assert!(stored.grants.contains(&"parties.read".to_owned()));
}

#[test]
fn compiled_components_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bytes = fixture();
    let grants = [Capability::PartiesRead, Capability::PartiesWrite, Capability::Documents];
    let crm = Crm::open_in_memory().unwrap();
    let mut cold = PluginHost::new(crm.clone(), Limits::default()).unwrap().with_cache(&cache);
    cold.install(&bytes, manifest(&bytes, ALL), &grants).unwrap();
    let entries: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(entries.len(), 1);
    let name = entries[0].as_ref().unwrap().file_name().into_string().unwrap();
    assert!(name.starts_with(&sha256_hex(&bytes)) && name.ends_with(".cwasm"), "{name}");
    // A warm host loads it from there and works the same.
    let mut warm = PluginHost::new(crm, Limits::default()).unwrap().with_cache(&cache);
    warm.install(&bytes, manifest(&bytes, ALL), &grants).unwrap();
    assert_eq!(warm.call("fixture", "echo", "hi").unwrap().output, "hi");
    // A damaged entry is recompiled, not trusted. (Entries are replaced by
    // rename, never rewritten in place: a running host maps them.)
    drop(warm);
    std::fs::remove_file(cache.join(&name)).unwrap();
    std::fs::write(cache.join(&name), b"garbage").unwrap();
    let mut again = PluginHost::new(Crm::open_in_memory().unwrap(), Limits::default())
        .unwrap()
        .with_cache(&cache);
    again.install(&bytes, manifest(&bytes, ALL), &grants).unwrap();
    assert_eq!(again.call("fixture", "echo", "ok").unwrap().output, "ok");
}

#[test]
fn a_component_built_for_an_unknown_contract_is_refused_by_name() {
    let dir = std::env::var("CRM_PLUGINS_DIR").unwrap_or_else(|_| {
        format!("{}/../plugins/target/wasm32-wasip2/release", env!("CARGO_MANIFEST_DIR"))
    });
    let bytes = std::fs::read(format!("{dir}/crm_plugin_future_fixture.wasm")).unwrap();
    let crm = Crm::open_in_memory().unwrap();
    let mut host = PluginHost::new(crm.clone(), Limits::default()).unwrap();
    // Its manifest claims 0.1.0; the component says otherwise.
    let error = host.install(&bytes, manifest(&bytes, ALL), Capability::ALL).unwrap_err();
    assert!(
        error.to_string().contains("built for crm:plugin WIT version 0.9.0; this host loads 0.1.0"),
        "{error}"
    );
    assert!(host.list().is_empty());
    assert_eq!(crm.read(|tx| tx.stored_plugins()).unwrap().len(), 0);
}
