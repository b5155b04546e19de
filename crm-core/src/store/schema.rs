//! Schema versions, connection set-up and migrations.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::Error;
use crate::error::StorageError;

/// The schema version this library writes.
pub const SCHEMA_VERSION: i64 = 8;

/// The oldest schema version this library opens (and upgrades).
pub const OLDEST_SUPPORTED_SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a crm database: "CRM1" in ASCII.
pub(crate) const APPLICATION_ID: i64 = 0x4352_4D31;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_search.sql"),
    include_str!("migrations/0003_sales.sql"),
    include_str!("migrations/0004_scores.sql"),
    include_str!("migrations/0005_segments.sql"),
    include_str!("migrations/0006_workflows.sql"),
    include_str!("migrations/0007_plugin_components.sql"),
    include_str!("migrations/0008_partial_owner_indexes.sql"),
];

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT_MS: u32 = 10_000;

/// Opens a connection to a database file and sets the per-connection pragmas.
pub(crate) fn connect(path: &Path, create: bool) -> crate::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| storage(path, "open", e))?;
    configure(&conn, true).map_err(|e| classify(path, e))?;
    Ok(conn)
}

/// Opens a private in-memory database.
pub(crate) fn connect_in_memory() -> crate::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    configure(&conn, false)?;
    Ok(conn)
}

fn configure(conn: &Connection, file: bool) -> crate::Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))?;
    conn.set_prepared_statement_cache_capacity(128);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if file {
        // WAL lets readers work while a writer writes; NORMAL keeps every
        // committed transaction across a process crash (not a power cut).
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal(format!("could not switch to WAL mode (got {mode})")));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A large import grows the WAL to the size of its transaction; cut
        // it back after each checkpoint instead of keeping the high mark.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    }
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Bulk imports look up parties, products and orders all over the file;
    // 32 MiB of page cache (used only as needed) keeps those lookups off
    // the disk. SQLite's default is 2 MiB.
    conn.pragma_update(None, "cache_size", -32 * 1024)?;
    Ok(())
}

/// Reads the schema version, or an error when the file is not a crm
/// database or is newer than this library.
pub(crate) fn check_version(conn: &Connection, path: &Path) -> crate::Result<i64> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| classify(path, e))?;
    let application_id: i64 = conn.query_row("PRAGMA application_id", [], |row| row.get(0))?;
    if version == 0 {
        let n_objects: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
        if n_objects > 0 || application_id != 0 {
            return Err(not_crm(path, "it has tables but no crm schema version"));
        }
        return Ok(0);
    }
    if application_id != APPLICATION_ID {
        return Err(not_crm(path, &format!("application id is {application_id:#x}")));
    }
    if version > SCHEMA_VERSION {
        return Err(Error::IncompatibleVersion { found: version, supported: SCHEMA_VERSION });
    }
    if version < OLDEST_SUPPORTED_SCHEMA_VERSION {
        return Err(Error::IncompatibleVersion { found: version, supported: SCHEMA_VERSION });
    }
    Ok(version)
}

/// Brings the database to [`SCHEMA_VERSION`] in one immediate transaction.
/// Another process may be doing the same; the version is read again once
/// the write lock is held.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> crate::Result<()> {
    if check_version(conn, path)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = check_version(&tx, path)?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(index + 1).map_err(|e| Error::Internal(e.to_string()))?;
        if target <= found {
            continue;
        }
        tx.execute_batch(sql).map_err(|e| {
            Error::Storage(StorageError::new(format!("migration to schema version {target}"), e))
        })?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

fn not_crm(path: &Path, why: &str) -> Error {
    Error::DataCorruption { path: path.to_owned(), detail: format!("not a crm database: {why}") }
}

fn storage(path: &Path, what: &str, error: rusqlite::Error) -> Error {
    Error::Storage(StorageError::new(format!("{what} {}", path.display()), error))
}

/// Turns "file is not a database" into [`Error::DataCorruption`].
fn classify(path: &Path, error: impl Into<Error>) -> Error {
    let error = error.into();
    if let Error::Storage(storage) = &error {
        let text = storage.to_string();
        if text.contains("file is not a database") || text.contains("malformed") {
            return not_crm(path, "the file is not an SQLite database or is damaged");
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_produce_current_version() {
        let mut conn = connect_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
        // Migrating again is a no-op.
        migrate(&mut conn, Path::new(":memory:")).unwrap();
    }

    /// Lookups on the write and read paths must use an index: without
    /// statistics SQLite may pick a poor one (a per-row scan made imports
    /// quadratic once), so the plans are pinned here.
    #[test]
    fn hot_lookups_use_indexes() {
        let mut conn = connect_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let queries = [
            "SELECT 1 FROM party_roles WHERE party_id = 'a' AND role = 'b' AND since <= 'c' \
             AND (until IS NULL OR until >= 'c')",
            "SELECT party_id FROM external_ids WHERE system = 'a' AND value = 'b'",
            "SELECT party_id FROM external_ids WHERE party_id = 'a'",
            "SELECT * FROM contact_points WHERE party_id = 'a'",
            "SELECT * FROM contact_points WHERE kind = 'email' AND normalized = 'a'",
            "SELECT * FROM consents WHERE contact_point_id = 'a' AND purpose = 'b'",
            "SELECT * FROM party_tags WHERE party_id = 'a'",
            "SELECT * FROM party_fields WHERE party_id = 'a'",
            "SELECT * FROM party_stages WHERE party_id = 'a'",
            "SELECT * FROM relationships WHERE from_id = 'a' AND kind = 'b'",
            "SELECT * FROM relationships WHERE to_id = 'a' AND kind = 'b'",
            "SELECT * FROM interactions WHERE party_id = 'a' ORDER BY at DESC",
            "SELECT * FROM tasks WHERE assignee_id = 'a' AND due_at >= 'b' AND due_at < 'c'",
            "SELECT * FROM events WHERE entity = 'party' AND entity_id = 'a'",
            "SELECT * FROM events WHERE seq > 5 ORDER BY seq LIMIT 10",
            "SELECT * FROM parties WHERE name_key = 'a'",
            // Partial indexes (owner set) still serve one owner's rows.
            "SELECT id FROM parties WHERE owner_id = 'a'",
            "SELECT id FROM interactions WHERE owner_id = 'a'",
            "SELECT id FROM orders WHERE owner_id = 'a' AND ordered_at >= 'b'",
            "SELECT id FROM opportunities WHERE owner_id = 'a'",
            "SELECT id FROM cases WHERE assignee_id = 'a'",
        ];
        for sql in queries {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> =
                stmt.query_map([], |row| row.get(3)).unwrap().map(|r| r.unwrap()).collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN") || step == "SCAN CONSTANT ROW"),
                "{sql}: {plan:?}"
            );
            assert!(plan.iter().all(|step| !step.contains("party_roles_role")), "{sql}: {plan:?}");
        }
    }
}
