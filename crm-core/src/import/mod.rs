//! Bulk import of parties, relationships and interactions from CSV and JSON
//! Lines files.
//!
//! Files stream row by row (memory does not grow with file size). Columns
//! are found by header name; every bad row is reported with its line,
//! column and reason. See [`ImportOptions`] for the two modes.

mod options;
mod rows;
mod sales;
mod source;

pub use crate::import::options::{
    ImportFormat, ImportKind, ImportMode, ImportOptions, ImportProgress, ImportReport, RowError,
};
pub(crate) use crate::import::source::edit_distance;
