//! Benchmarks of `crm` live in `benches/`; this crate holds only what they
//! share: reading sizes from the environment, the synthetic party file,
//! min / median / max over repeated runs and a heap high-mark counter.
//!
//! Run them with `cargo bench -p crm-benches`, or all of them with
//! `./scripts/bench.sh`. Each bench measures `crm` and a reference in the
//! same run and reports the ratio.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A size from the environment (`CRM_BENCH_ROWS=100000`), or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// True when the binary runs under `cargo bench` (which passes `--bench`);
/// `cargo test --benches` runs bench binaries without it, and they should
/// then do nothing.
pub fn under_cargo_bench() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Writes the party file the import benches read: `rows` customers with an
/// external id, a Chinese and English name, an e-mail, a mobile number and a
/// country, in the library's CSV header.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_parties_csv(path: &Path, rows: usize) -> std::io::Result<()> {
    let mut text = String::with_capacity(rows * 80);
    text.push_str("external_id,name,roles,email,mobile,country\n");
    for n in 0..rows {
        let surname = ["王", "李", "张", "刘", "陈"][n % 5];
        text.push_str(&format!(
            "erp:{n},{surname}客户{n} Customer,customer,c{n}@example.com,139{:08},CN\n",
            n % 100_000_000
        ));
    }
    std::fs::write(path, text)
}

/// Deletes a SQLite database file with its `-wal` and `-shm` companions, if
/// they exist (benches at a million rows run one database at a time: a few
/// of them fill the disk).
pub fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Minimum, median and maximum of a non-empty sample (`(NaN, NaN, NaN)`
/// when empty).
pub fn min_median_max(sample: &[f64]) -> (f64, f64, f64) {
    let mut sorted = sample.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => (f64::NAN, f64::NAN, f64::NAN),
        n => (sorted[0], sorted[n / 2], sorted[n - 1]),
    }
}

/// A global allocator that counts the bytes Rust code holds and their high
/// mark, over the system allocator. A bench opts in with
/// `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;` and
/// reads [`heap`] around a stage. (Resident-set readings are useless for
/// that within one process: freed memory stays resident in the allocator.)
pub struct CountingAlloc;

static HELD: AtomicUsize = AtomicUsize::new(0);
static HIGH: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = HELD.fetch_add(bytes, Ordering::Relaxed) + bytes;
    HIGH.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to `System` unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is System's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as `alloc`.
        unsafe { System.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HELD.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

/// Heap in use right now and its high mark since the last
/// [`reset_heap_high`], in bytes: what Rust code holds (through
/// [`CountingAlloc`], zero without it) plus what SQLite holds (its own
/// counters: page cache, statements, sorting).
pub fn heap() -> (usize, usize) {
    // SAFETY: plain reads of SQLite's global memory statistics.
    let (sqlite_now, sqlite_high) = unsafe {
        (rusqlite::ffi::sqlite3_memory_used(), rusqlite::ffi::sqlite3_memory_highwater(0))
    };
    let to_usize = |v: i64| usize::try_from(v).unwrap_or(0);
    (
        HELD.load(Ordering::Relaxed) + to_usize(sqlite_now),
        HIGH.load(Ordering::Relaxed) + to_usize(sqlite_high),
    )
}

/// Starts a new high mark at what is held now.
pub fn reset_heap_high() {
    HIGH.store(HELD.load(Ordering::Relaxed), Ordering::Relaxed);
    // SAFETY: resets SQLite's high mark to its current use.
    unsafe { rusqlite::ffi::sqlite3_memory_highwater(1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_median_max_of_odd_and_even_samples() {
        assert_eq!(min_median_max(&[3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
        assert_eq!(min_median_max(&[4.0, 1.0]), (1.0, 4.0, 4.0));
        assert!(min_median_max(&[]).0.is_nan());
    }

    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;

    #[test]
    fn the_heap_high_mark_sees_a_freed_block() {
        reset_heap_high();
        let (before, _) = heap();
        drop(std::hint::black_box(vec![1u8; 64 << 20]));
        let (after, high) = heap();
        // Other tests allocate concurrently: compare with slack.
        assert!(high >= before + (64 << 20), "{before} → {high}");
        assert!(after < before + (32 << 20), "{before} → {after}");
    }
}
