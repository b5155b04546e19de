//! Storage on SQLite. This is the only module that writes SQL.
//!
//! One module per aggregate, each adding methods to [`Tx`]: reads take
//! `&self`, writes `&mut self` and append to the event log in the same
//! transaction.

mod analytics;
mod campaign;
mod case;
mod codec;
mod db;
mod event;
pub(crate) mod fx;
mod interaction;
mod loyalty;
mod merge;
mod opportunity;
mod order;
mod party;
mod plugin;
mod privacy;
mod product;
mod relationship;
mod report;
mod rules;
pub(crate) mod schema;
mod score;
pub(crate) mod search;
mod workflow;

pub use crate::store::db::{Clock, Crm, CrmBuilder, DueReport, Tx};
pub use crate::store::fx::FX_MAX_AGE_DAYS;
pub use crate::store::merge::MergeReport;
pub use crate::store::party::Upserted;
pub use crate::store::plugin::StoredPlugin;
pub use crate::store::privacy::ERASED_NAME;
pub use crate::store::rules::{MAX_RULE_DEPTH, NEVER_DAYS, OutboxMessage, Segment, SegmentChange};
pub use crate::store::schema::{OLDEST_SUPPORTED_SCHEMA_VERSION, SCHEMA_VERSION};
pub use crate::store::score::ScoreRollUp;
