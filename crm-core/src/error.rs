//! The one error type of `crm-core`.

use std::fmt;
use std::path::PathBuf;

/// Where in the caller's input a problem was found.
///
/// Every field is optional: a problem with an API argument has only a `field`,
/// one in an import file has a `row` and usually a `column`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// 1-based data row of an import file (the header is row 0).
    pub row: Option<u64>,
    /// Column (header name) of an import file, or the name of the argument.
    pub column: Option<String>,
}

impl Location {
    /// A location that names only a field or argument.
    pub fn field(name: impl Into<String>) -> Location {
        Location { row: None, column: Some(name.into()) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.row, &self.column) {
            (Some(row), Some(column)) => write!(f, "row {row}, column {column}"),
            (Some(row), None) => write!(f, "row {row}"),
            (None, Some(column)) => write!(f, "{column}"),
            (None, None) => write!(f, "input"),
        }
    }
}

/// An error from the storage engine.
///
/// It is opaque on purpose: the backend may change without a breaking change
/// of [`Error`]. The underlying error is available through
/// [`std::error::Error::source`].
#[derive(Debug)]
pub struct StorageError {
    context: String,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl StorageError {
    pub(crate) fn new(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StorageError {
        StorageError { context: context.into(), source: Box::new(source) }
    }

    /// True when the database was busy (locked by another writer) for longer
    /// than the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(
            self.source.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Everything that can go wrong in `crm-core`.
///
/// Variants say what the caller can act on. No variant exposes a type of the
/// storage backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record that was asked for does not exist (or is deleted where a live
    /// record is required).
    #[error("{entity} not found: {id}")]
    NotFound {
        /// Kind of record, e.g. `party`.
        entity: &'static str,
        /// The id or key that was looked up.
        id: String,
    },
    /// Input that breaks a rule of the model; nothing was changed.
    #[error("invalid {at}: {reason}")]
    Invalid {
        /// Where the bad value was found.
        at: Location,
        /// What is wrong with it.
        reason: String,
    },
    /// The change conflicts with data already stored (a duplicate key, a
    /// hierarchy cycle, merging a party into itself, …); nothing was changed.
    #[error("conflict: {reason}")]
    Conflict {
        /// What conflicts with what.
        reason: String,
    },
    /// The database file was written by a newer version of `crm`.
    #[error(
        "database schema version {found} is newer than this library supports (up to {supported})"
    )]
    IncompatibleVersion {
        /// Schema version found in the file.
        found: i64,
        /// Newest schema version this library knows.
        supported: i64,
    },
    /// The file is not a `crm` database, or is damaged.
    #[error("{}: {detail}", path.display())]
    DataCorruption {
        /// The database file.
        path: PathBuf,
        /// What was found wrong.
        detail: String,
    },
    /// Reading an input file failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The storage engine failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A state that should not be reachable; please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`] on a named field.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid { at: Location::field(field), reason: reason.into() }
    }

    /// Shorthand for [`Error::NotFound`].
    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Error {
        Error::NotFound { entity, id: id.to_string() }
    }

    /// Shorthand for [`Error::Conflict`].
    pub(crate) fn conflict(reason: impl Into<String>) -> Error {
        Error::Conflict { reason: reason.into() }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Error {
        Error::Storage(StorageError::new("sqlite", error))
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Error {
        Error::Internal(format!("json: {error}"))
    }
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
