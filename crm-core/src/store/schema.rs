//! Schema versions, connection set-up and migrations.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::Error;
use crate::error::StorageError;

/// The schema version this library writes.
pub const SCHEMA_VERSION: i64 = 2;

/// The oldest schema version this library opens (and upgrades).
pub const OLDEST_SUPPORTED_SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of a crm database: "CRM1" in ASCII.
pub(crate) const APPLICATION_ID: i64 = 0x4352_4D31;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] =
    &[include_str!("migrations/0001_init.sql"), include_str!("migrations/0002_search.sql")];

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
    }
    conn.pragma_update(None, "temp_store", "MEMORY")?;
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
}
