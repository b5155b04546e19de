//! Crash safety: a child process imports in committed batches and is killed
//! with SIGKILL at a random moment. Reopening must find an intact database
//! holding every batch the child reported committed.
//!
//! The test binary plays both parts: run with `CRM_CRASH_CHILD` set, the
//! `child_imports_until_killed` test is the child.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crm_core::{Crm, ImportKind, ImportOptions};

const ROWS: usize = 60_000;
const BATCH: usize = 500;

#[test]
fn child_imports_until_killed() {
    let (Ok(db), Ok(csv)) = (std::env::var("CRM_CRASH_CHILD"), std::env::var("CRM_CRASH_CSV"))
    else {
        return;
    };
    let crm = Crm::open(db).unwrap();
    let mut last = 0;
    let stdout = std::io::stdout();
    crm.import_file(
        ImportKind::Parties,
        csv,
        &ImportOptions::default().skip_invalid().batch_size(BATCH),
        &mut |progress| {
            if progress.rows_committed > last {
                last = progress.rows_committed;
                let mut out = stdout.lock();
                writeln!(out, "committed {last}").unwrap();
                out.flush().unwrap();
            }
        },
    )
    .unwrap();
}

fn write_input(path: &Path) {
    let mut text = String::with_capacity(ROWS * 60);
    text.push_str("external_id,name,email,roles\n");
    for n in 1..=ROWS {
        text.push_str(&format!("erp:{n},Customer {n} 客户,c{n}@example.com,customer\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// A pseudo-random delay without a random-number dependency.
fn random_delay(round: u64) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let noise = RandomState::new().hash_one(round);
    Duration::from_millis(150 + noise % 900)
}

#[test]
fn sigkill_during_import_loses_no_committed_batch() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("parties.csv");
    write_input(&csv);
    for round in 0..3 {
        let db = dir.path().join(format!("crash-{round}.db"));
        drop(Crm::open(&db).unwrap());
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_imports_until_killed", "--exact", "--nocapture", "--test-threads=1"])
            .env("CRM_CRASH_CHILD", &db)
            .env("CRM_CRASH_CSV", &csv)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut committed = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("committed ") {
                    committed = n.trim().parse().unwrap();
                }
            }
            committed
        });
        std::thread::sleep(random_delay(round));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let committed = reader.join().unwrap();

        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        drop(conn);
        let crm = Crm::open(&db).unwrap();
        let count = crm.read(|tx| tx.count_parties()).unwrap();
        assert!(
            count >= committed,
            "round {round}: {count} parties but {committed} reported committed"
        );
        assert_eq!(count % BATCH as u64, 0, "round {round}: a partial batch is visible ({count})");
        for n in [1, committed / 2, committed].into_iter().filter(|n| *n > 0) {
            let party = crm.read(|tx| tx.resolve_party(&format!("erp:{n}"))).unwrap();
            assert_eq!(party.name, format!("Customer {n} 客户"));
        }
        eprintln!("round {round}: killed after {committed} committed rows; {count} present");
    }
}
