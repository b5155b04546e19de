use std::path::Path;
use std::sync::mpsc;

use crm_core::{Crm, Error, NewParty, OLDEST_SUPPORTED_SCHEMA_VERSION, SCHEMA_VERSION};

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn schema_of(path: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn handle_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Crm>();
}

#[test]
fn a_v1_database_opens_upgrades_and_keeps_its_data() {
    assert_eq!(OLDEST_SUPPORTED_SCHEMA_VERSION, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    std::fs::copy(data("db/v1.db"), &path).unwrap();
    let crm = Crm::open(&path).unwrap();
    let party = crm.read(|tx| tx.resolve_party("erp:OLD-1")).unwrap();
    assert_eq!(party.name, "老客户 Old Customer");
    assert_eq!(party.contacts[0].normalized, "old@example.com");
    // The upgrade indexed the old rows for search.
    assert_eq!(crm.read(|tx| tx.search("老客户", 0, 10)).unwrap().total, 1);
    assert_eq!(crm.read(|tx| tx.search("维修", 0, 10)).unwrap().total, 1);
    drop(crm);
    let fresh = dir.path().join("fresh.db");
    drop(Crm::open(&fresh).unwrap());
    assert_eq!(schema_of(&path), schema_of(&fresh), "upgraded schema differs from a fresh one");
}

/// Builds a database from a frozen schema file.
fn replay(dir: &Path, version: i64) -> std::path::PathBuf {
    let path = dir.join(format!("replayed-v{version}.db"));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sql = std::fs::read_to_string(data(&format!("schema/v{version}.sql"))).unwrap();
    assert!(sql.trim_end().ends_with(&format!("PRAGMA user_version = {version};")));
    conn.execute_batch(&sql).unwrap();
    path
}

#[test]
fn a_v6_plugin_keeps_its_component_and_cursor_through_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let old = replay(dir.path(), 6);
    rusqlite::Connection::open(&old)
        .unwrap()
        .execute(
            "INSERT INTO plugins VALUES ('p', '1.0.0', 'name = \"p\"', x'0061736d', '[\"documents\"]', 42, NULL, '2026-01-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
    let crm = Crm::open(&old).unwrap();
    let stored = crm.read(|tx| tx.stored_plugin("p")).unwrap();
    assert_eq!(stored.component, b"\0asm");
    assert_eq!((stored.cursor, stored.grants), (42, vec!["documents".to_owned()]));
    crm.write(|tx| tx.set_plugin_cursor("p", 50)).unwrap();
    assert!(crm.write(|tx| tx.remove_plugin("p")).unwrap());
    assert!(crm.read(|tx| tx.stored_plugins()).unwrap().is_empty());
}

#[test]
fn the_frozen_v1_schema_matches_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(schema_of(&replay(dir.path(), 1)), schema_of(&data("db/v1.db")));
}

#[test]
fn every_released_schema_upgrades_to_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    drop(Crm::open(&fresh).unwrap());
    for version in OLDEST_SUPPORTED_SCHEMA_VERSION..SCHEMA_VERSION {
        let old = replay(dir.path(), version);
        let crm = Crm::open(&old).unwrap();
        // The upgraded file works for the newest features too.
        crm.write(|tx| {
            tx.create_product(crm_core::NewProduct::new("SKU-1", "Product"))?;
            Ok(())
        })
        .unwrap();
        drop(crm);
        assert_eq!(schema_of(&old), schema_of(&fresh), "v{version} upgraded differs from fresh");
    }
}

#[test]
fn a_fresh_database_has_the_frozen_schema_of_the_current_version() {
    // A change to the schema needs a new migration and a new frozen file;
    // editing a released migration fails here.
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    drop(Crm::open(&fresh).unwrap());
    assert_eq!(schema_of(&fresh), schema_of(&replay(dir.path(), SCHEMA_VERSION)));
}

#[test]
fn a_file_that_is_not_a_crm_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is certainly not an sqlite file, it is just text ....").unwrap();
    let before = std::fs::read(&junk).unwrap();
    let error = Crm::open(&junk).unwrap_err();
    assert!(matches!(error, Error::DataCorruption { .. }), "{error}");
    assert_eq!(std::fs::read(&junk).unwrap(), before);

    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let error = Crm::open(&other).unwrap_err();
    assert!(error.to_string().contains("not a crm database"), "{error}");
}

#[test]
fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Crm::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let error = Crm::open(&path).unwrap_err();
    assert!(
        matches!(error, Error::IncompatibleVersion { found: 99, supported } if supported == SCHEMA_VERSION),
        "{error}"
    );
}

#[test]
fn readers_are_not_blocked_by_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::open(dir.path().join("c.db")).unwrap();
    crm.write(|tx| tx.create_party(NewParty::person("Before")).map(|_| ())).unwrap();
    let (inside_tx, inside_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let writer = {
        let crm = crm.clone();
        std::thread::spawn(move || {
            crm.write(|tx| {
                tx.create_party(NewParty::person("During"))?;
                inside_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(())
            })
            .unwrap();
        })
    };
    inside_rx.recv().unwrap();
    // The writer holds its transaction open; a read still completes and sees
    // the last committed state.
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 1);
    release_tx.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 2);
}

#[test]
fn two_handles_on_one_file_see_each_others_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first = Crm::open(&path).unwrap();
    let second = Crm::builder().must_exist().open(&path).unwrap();
    let threads: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, crm)| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    crm.write(|tx| {
                        tx.create_party(NewParty::person(format!("{n}-{i}"))).map(|_| ())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(first.read(|tx| tx.count_parties()).unwrap(), 100);
    assert_eq!(second.read(|tx| tx.count_parties()).unwrap(), 100);
    assert!(Crm::builder().must_exist().open(dir.path().join("missing.db")).is_err());
}

#[test]
fn nested_transactions_are_an_error_not_a_deadlock() {
    let crm = crate::support::crm();
    let error = crm.write(|_tx| crm.write(|_| Ok(()))).unwrap_err();
    assert!(matches!(error, Error::Conflict { .. }), "{error}");
    assert!(error.to_string().contains("use the `Tx`"));
    // In memory, a read shares the one connection.
    assert!(crm.write(|_tx| crm.read(|tx| tx.count_parties())).is_err());
    // The handle still works afterwards, also from other threads.
    crm.write(|tx| tx.create_party(NewParty::person("After")).map(|_| ())).unwrap();
    let other = crm.clone();
    std::thread::spawn(move || {
        other.write(|tx| tx.create_party(NewParty::person("Thread")).map(|_| ())).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 2);
}

#[test]
fn backups_are_consistent_copies_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::open(dir.path().join("live.db")).unwrap();
    crm.write(|tx| tx.create_party(NewParty::person("Kept")).map(|_| ())).unwrap();
    let copy = dir.path().join("copy.db");
    crm.backup_to(&copy).unwrap();
    crm.write(|tx| tx.create_party(NewParty::person("Later")).map(|_| ())).unwrap();
    let restored = Crm::open(&copy).unwrap();
    assert_eq!(restored.read(|tx| tx.count_parties()).unwrap(), 1);
    assert_eq!(restored.read(|tx| tx.search("kept", 0, 10)).unwrap().total, 1);
    assert!(matches!(crm.backup_to(&copy), Err(Error::Conflict { .. })));
    // In memory too.
    let memory = crate::support::crm();
    memory.write(|tx| tx.create_party(NewParty::person("M")).map(|_| ())).unwrap();
    let memory_copy = dir.path().join("memory.db");
    memory.backup_to(&memory_copy).unwrap();
    assert_eq!(Crm::open(&memory_copy).unwrap().read(|tx| tx.count_parties()).unwrap(), 1);
}
