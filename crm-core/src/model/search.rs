//! Search results, duplicate candidates and pages.

use crate::model::PartyId;

/// One search result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    /// The party the match belongs to.
    pub party_id: PartyId,
    /// What matched: `party` (name, notes) or `interaction`.
    pub entity: String,
    /// Id of the matching record.
    pub entity_id: String,
    /// The matching text, shortened around the match.
    pub snippet: String,
    /// Relevance; higher is better. Comparable within one result list only.
    pub score: f64,
}

code_enum! {
    /// Why two parties may be the same.
    pub enum DuplicateReason as "duplicate.reason" {
        /// Same normalised e-mail address.
        Email = ("email", "Same e-mail", "相同邮箱"),
        /// Same normalised phone number.
        Phone = ("phone", "Same phone", "相同电话"),
        /// Same normalised name.
        Name = ("name", "Same name", "相同名称"),
    }
}

/// A pair of live parties that may be duplicates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateCandidate {
    /// The older party (smaller id).
    pub a: PartyId,
    /// The newer party.
    pub b: PartyId,
    /// Why they match.
    pub reason: DuplicateReason,
    /// The shared normalised value.
    pub value: String,
}

/// One page of results with the total count.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: u64,
}
