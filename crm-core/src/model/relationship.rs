//! Typed, directed, time-bounded relationships between parties.

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::{Decimal, PartyId, RelationshipId};

/// A kind of relationship. The built-in types are created with every
/// database; applications may define more.
///
/// For a hierarchical type an edge `from → to` means "`to` is the parent of
/// `from`" (a subsidiary points at its parent company), and cycles are
/// rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RelationshipType {
    /// Stable code, e.g. `subsidiary-of`.
    pub code: String,
    /// Whether edges of this type form a hierarchy (no cycles).
    pub hierarchical: bool,
    /// English label.
    pub label_en: String,
    /// Chinese label.
    pub label_zh: String,
}

/// A relationship to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelationship {
    /// The party the edge starts at (the child, for hierarchical types).
    pub from: PartyId,
    /// The party the edge points to (the parent, for hierarchical types).
    pub to: PartyId,
    /// Relationship type code.
    pub kind: String,
    /// The role `from` plays, e.g. `purchasing manager`.
    pub role: Option<String>,
    /// First day the relationship holds.
    pub since: Option<NaiveDate>,
    /// Last day it holds.
    pub until: Option<NaiveDate>,
}

impl NewRelationship {
    /// An open-ended relationship of type `kind`.
    pub fn new(from: PartyId, kind: impl Into<String>, to: PartyId) -> NewRelationship {
        NewRelationship { from, to, kind: kind.into(), role: None, since: None, until: None }
    }

    /// Sets the role.
    #[must_use]
    pub fn with_role(mut self, role: impl Into<String>) -> NewRelationship {
        self.role = Some(role.into());
        self
    }

    /// Sets the span of dates.
    #[must_use]
    pub fn during(mut self, since: Option<NaiveDate>, until: Option<NaiveDate>) -> NewRelationship {
        self.since = since;
        self.until = until;
        self
    }
}

/// A saved relationship.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Relationship {
    /// Id.
    pub id: RelationshipId,
    /// Start of the edge.
    pub from: PartyId,
    /// End of the edge.
    pub to: PartyId,
    /// Type code.
    pub kind: String,
    /// Role of `from`.
    pub role: Option<String>,
    /// First day.
    pub since: Option<NaiveDate>,
    /// Last day.
    pub until: Option<NaiveDate>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Relationship {
    /// True when the relationship holds on `date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.since.is_none_or(|since| since <= date) && self.until.is_none_or(|until| date <= until)
    }
}

/// A party found by a hierarchy query, with its distance from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HierarchyNode {
    /// The party.
    pub party_id: PartyId,
    /// 1 for a direct parent / child, 2 for a grandparent / grandchild, ….
    pub depth: u32,
}

/// A numeric value summed over a party and its descendants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RollUp {
    /// The root of the hierarchy.
    pub root: PartyId,
    /// The root's own value (zero if it has none).
    pub own: Decimal,
    /// The sum over the root and every descendant.
    pub total: Decimal,
    /// How many parties (root included) contributed a value.
    pub n_contributors: u64,
    /// How many descendants the root has.
    pub n_descendants: u64,
}
