//! The change feed: one event per mutation.

use chrono::{DateTime, Utc};

/// What happened. The code is `<entity>.<verb>`, e.g. `party.created`.
pub type EventKind = &'static str;

/// One entry of the change feed and audit trail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    /// Sequence number: strictly increasing, never reused.
    pub seq: i64,
    /// When the transaction that wrote it started.
    pub at: DateTime<Utc>,
    /// Who made the change (an application user, `import`, a plugin, …).
    pub actor: String,
    /// Entity type (`party`, `contact_point`, `relationship`, …).
    pub entity: String,
    /// The entity's id.
    pub entity_id: String,
    /// What happened, e.g. `party.created`.
    pub kind: String,
    /// The entity before the change (absent on create).
    pub before: Option<serde_json::Value>,
    /// The entity after the change (absent on delete).
    pub after: Option<serde_json::Value>,
}
