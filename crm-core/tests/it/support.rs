//! Shared fixtures.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use crm_core::{Crm, Error};

/// An in-memory database whose clock starts at 2026-01-05 09:00 UTC and
/// advances one second per transaction.
pub(crate) fn crm() -> Crm {
    let tick = Arc::new(AtomicI64::new(0));
    Crm::builder()
        .clock(move || start() + chrono::Duration::seconds(tick.fetch_add(1, Ordering::SeqCst)))
        .open_in_memory()
        .unwrap()
}

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

/// Everything observable about the database: party count and last event.
pub(crate) fn fingerprint(crm: &Crm) -> (u64, i64) {
    crm.read(|tx| Ok((tx.count_parties()?, tx.last_event_seq()?))).unwrap()
}

/// Runs a write that must fail, and checks that it changed nothing.
pub(crate) fn fails_cleanly<T: std::fmt::Debug>(
    crm: &Crm,
    f: impl FnOnce(&mut crm_core::Tx<'_>) -> crm_core::Result<T>,
) -> Error {
    let before = fingerprint(crm);
    let error = crm.write(f).unwrap_err();
    assert_eq!(fingerprint(crm), before, "a failed write changed the database: {error}");
    error
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub(crate) struct TestClock(Arc<std::sync::Mutex<DateTime<Utc>>>);

impl TestClock {
    pub(crate) fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

/// An in-memory database whose clock stands at `start` until moved.
pub(crate) fn crm_at(start: DateTime<Utc>) -> (Crm, TestClock) {
    let clock = TestClock(Arc::new(std::sync::Mutex::new(start)));
    let shared = clock.clone();
    let crm = Crm::builder().clock(move || *shared.0.lock().unwrap()).open_in_memory().unwrap();
    (crm, clock)
}
