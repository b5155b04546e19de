//! Merging duplicate parties.

use rusqlite::params;

use crate::Error;
use crate::model::{Party, PartyId};
use crate::store::Tx;

/// How many child rows a merge moved, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeReport {
    /// The surviving party.
    pub kept: PartyId,
    /// The party merged into it (now soft-deleted, `merged_into` set).
    pub absorbed: PartyId,
    /// Contact points moved.
    pub contact_points: u64,
    /// Relationships re-pointed (edges between the two parties are removed).
    pub relationships: u64,
    /// Relationships removed because they would join the kept party to itself.
    pub relationships_dropped: u64,
    /// Interactions moved (as party or as owner).
    pub interactions: u64,
    /// Tasks moved (as party or as assignee).
    pub tasks: u64,
    /// External ids moved.
    pub external_ids: u64,
    /// Tags added to the kept party.
    pub tags: u64,
    /// Roles moved.
    pub roles: u64,
    /// Custom field values taken over (where the kept party had none).
    pub fields: u64,
    /// Parties whose owner was the absorbed party.
    pub owned_parties: u64,
}

impl Tx<'_> {
    /// Merges `absorb` into `keep`: every child row of `absorb` (contact
    /// points, relationships, interactions, tasks, external ids, tags, roles,
    /// custom fields the kept party lacks, stage history, ownership of other
    /// parties) is re-parented to `keep`; `absorb` is soft-deleted with
    /// `merged_into = keep`; one `party.merged` event records both parties
    /// before the merge.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] when `keep == absorb`.
    /// - [`Error::NotFound`] when either party is unknown or deleted.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{ContactKind, NewParty};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let kept = crm.write(|tx| {
    ///     let a = tx.create_party(NewParty::person("Zhang Wei").with_contact(ContactKind::Email, "zw@example.com"))?;
    ///     let b = tx.create_party(NewParty::person("ZHANG Wei").with_contact(ContactKind::Mobile, "+86 138 0013 8000"))?;
    ///     tx.merge(a.id, b.id)?;
    ///     tx.get_party(a.id)
    /// })?;
    /// assert_eq!(kept.contacts.len(), 2);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn merge(&mut self, keep: PartyId, absorb: PartyId) -> crate::Result<MergeReport> {
        if keep == absorb {
            return Err(Error::invalid("absorb", format!("cannot merge party {keep} into itself")));
        }
        self.require_live(keep, "party")?;
        self.require_live(absorb, "party")?;
        let keep_before = self.get_party(keep)?;
        let absorb_before = self.get_party(absorb)?;
        let k = keep.to_string();
        let a = absorb.to_string();
        let mut report = MergeReport { kept: keep, absorbed: absorb, ..MergeReport::default() };
        let exec =
            |sql: &str| -> crate::Result<u64> { Ok(self.conn.execute(sql, params![k, a])? as u64) };
        report.contact_points =
            exec("UPDATE contact_points SET party_id = ?1 WHERE party_id = ?2")?;
        report.relationships_dropped = exec(
            "DELETE FROM relationships WHERE (from_id = ?2 AND to_id = ?1) OR (from_id = ?1 AND to_id = ?2)",
        )?;
        report.relationships = exec("UPDATE relationships SET from_id = ?1 WHERE from_id = ?2")?
            + exec("UPDATE relationships SET to_id = ?1 WHERE to_id = ?2")?;
        report.interactions = exec("UPDATE interactions SET party_id = ?1 WHERE party_id = ?2")?
            + exec("UPDATE interactions SET owner_id = ?1 WHERE owner_id = ?2")?;
        report.tasks = exec("UPDATE tasks SET party_id = ?1 WHERE party_id = ?2")?
            + exec("UPDATE tasks SET assignee_id = ?1 WHERE assignee_id = ?2")?;
        report.external_ids = exec("UPDATE external_ids SET party_id = ?1 WHERE party_id = ?2")?;
        report.tags = exec(
            "INSERT OR IGNORE INTO party_tags (party_id, tag) SELECT ?1, tag FROM party_tags WHERE party_id = ?2",
        )?;
        exec("DELETE FROM party_tags WHERE party_id = ?2 AND ?1 IS NOT NULL")?;
        report.roles = exec("UPDATE party_roles SET party_id = ?1 WHERE party_id = ?2")?;
        report.fields = exec(
            "INSERT OR IGNORE INTO party_fields (party_id, field, value)
             SELECT ?1, field, value FROM party_fields WHERE party_id = ?2",
        )?;
        exec("DELETE FROM party_fields WHERE party_id = ?2 AND ?1 IS NOT NULL")?;
        exec("UPDATE party_stages SET party_id = ?1 WHERE party_id = ?2")?;
        report.owned_parties = exec("UPDATE parties SET owner_id = ?1 WHERE owner_id = ?2")?;
        // Earlier merges into the absorbed party now point at the survivor.
        exec("UPDATE parties SET merged_into = ?1 WHERE merged_into = ?2")?;
        self.conn.execute(
            "UPDATE parties SET deleted_at = ?3, merged_into = ?1, updated_at = ?3 WHERE id = ?2",
            params![k, a, self.now_text.as_str()],
        )?;
        self.conn.execute(
            "UPDATE parties SET updated_at = ?2 WHERE id = ?1",
            params![k, self.now_text.as_str()],
        )?;
        // Re-index only after the roles have settled: the merged rows may
        // have overlapping role spans, which is harmless.
        self.reindex_party(keep)?;
        self.reindex_party(absorb)?;
        self.reindex_interactions_of(keep)?;
        let keep_after = self.get_party(keep)?;
        let before = serde_json::json!({ "kept": keep_before, "absorbed": absorb_before });
        let after = serde_json::json!({ "kept": keep_after, "report": report });
        self.record_event("party", &k, "party.merged", Some(&before), Some(&after))?;
        let absorbed_after = self.get_party(absorb)?;
        self.record_party_change(&absorb_before, &absorbed_after, "party.absorbed")?;
        Ok(report)
    }

    /// The party a merged party now lives on as (following chains), or the
    /// party itself.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown party.
    pub fn surviving_party(&self, id: PartyId) -> crate::Result<Party> {
        let mut party = self.get_party(id)?;
        let mut hops = 0;
        while let Some(into) = party.merged_into {
            party = self.get_party(into)?;
            hops += 1;
            if hops > 64 {
                return Err(Error::Internal(format!("merge chain from {id} does not end")));
            }
        }
        Ok(party)
    }
}
