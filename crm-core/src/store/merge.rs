//! Merging duplicate parties.

use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::{ExternalId, Party, PartyId, Relationship};
use crate::store::Tx;
use crate::store::codec::collect;
use crate::store::relationship::relationship_from_row;

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
    /// Quotes moved (as customer or as owner).
    pub quotes: u64,
    /// Orders moved (as customer or as owner).
    pub orders: u64,
    /// Opportunities moved (as customer or as owner).
    pub opportunities: u64,
    /// Cases moved (as customer or as assignee).
    pub cases: u64,
}

/// Sales and service rows that name a party: (record key, table, column).
/// A merge moves them all; the record keeps the ids per key.
const SALES_CHILDREN: &[(&str, &str, &str)] = &[
    ("quotes", "quotes", "party_id"),
    ("quotes_owned", "quotes", "owner_id"),
    ("orders", "orders", "party_id"),
    ("orders_owned", "orders", "owner_id"),
    ("opportunities", "opportunities", "party_id"),
    ("opportunities_owned", "opportunities", "owner_id"),
    ("cases", "cases", "party_id"),
    ("cases_assigned", "cases", "assignee_id"),
    ("outbox", "outbox", "party_id"),
    ("workflows", "workflow_instances", "entity_id"),
];

/// What a merge moved, kept in the `party.merged` event so that
/// [`Tx::unmerge`] can move it back.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct MergeRecord {
    kept: String,
    absorbed: String,
    contact_points: Vec<String>,
    relationships_dropped: Vec<Relationship>,
    relationships_from: Vec<String>,
    relationships_to: Vec<String>,
    interactions: Vec<String>,
    interactions_owned: Vec<String>,
    tasks: Vec<String>,
    tasks_assigned: Vec<String>,
    external_ids: Vec<String>,
    tags: Vec<String>,
    tags_added: Vec<String>,
    roles: Vec<String>,
    fields: Vec<(String, String)>,
    fields_taken: Vec<String>,
    stages: Vec<String>,
    owned_parties: Vec<String>,
    merged_before: Vec<String>,
    /// Sales and service rows moved, by [`SALES_CHILDREN`] key (absent in
    /// records written before schema version 3).
    #[serde(default)]
    sales: std::collections::BTreeMap<String, Vec<String>>,
    /// Score history rows moved (schema version 4 on).
    #[serde(default)]
    score_history: Vec<String>,
    /// The absorbed party's current scores.
    #[serde(default)]
    scores: Vec<(String, f64)>,
    /// Names of the scores the kept party took over.
    #[serde(default)]
    scores_taken: Vec<String>,
    /// Loyalty points transferred to the kept party, by programme.
    #[serde(default)]
    points: Vec<(String, i64)>,
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
        // What moves is written down first, so that `unmerge` can move it back.
        let mut moved = MergeRecord {
            kept: k.clone(),
            absorbed: a.clone(),
            contact_points: self.ids("SELECT id FROM contact_points WHERE party_id = ?1", &a)?,
            relationships_dropped: {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id, from_id, to_id, kind, role, since, until, created_at
                     FROM relationships
                     WHERE (from_id = ?2 AND to_id = ?1) OR (from_id = ?1 AND to_id = ?2)",
                )?;
                collect(&mut stmt, params![k, a], relationship_from_row)?
            },
            relationships_from: self.ids("SELECT id FROM relationships WHERE from_id = ?1", &a)?,
            relationships_to: self.ids("SELECT id FROM relationships WHERE to_id = ?1", &a)?,
            interactions: self.ids("SELECT id FROM interactions WHERE party_id = ?1", &a)?,
            interactions_owned: self.ids("SELECT id FROM interactions WHERE owner_id = ?1", &a)?,
            tasks: self.ids("SELECT id FROM tasks WHERE party_id = ?1", &a)?,
            tasks_assigned: self.ids("SELECT id FROM tasks WHERE assignee_id = ?1", &a)?,
            external_ids: absorb_before.external_ids.iter().map(ToString::to_string).collect(),
            tags: absorb_before.tags.clone(),
            tags_added: absorb_before
                .tags
                .iter()
                .filter(|t| !keep_before.tags.contains(t))
                .cloned()
                .collect(),
            roles: self.ids("SELECT CAST(id AS TEXT) FROM party_roles WHERE party_id = ?1", &a)?,
            fields: absorb_before.fields.iter().map(|(n, v)| (n.clone(), v.to_text())).collect(),
            fields_taken: absorb_before
                .fields
                .keys()
                .filter(|n| !keep_before.fields.contains_key(*n))
                .cloned()
                .collect(),
            stages: self
                .ids("SELECT CAST(id AS TEXT) FROM party_stages WHERE party_id = ?1", &a)?,
            owned_parties: self.ids("SELECT id FROM parties WHERE owner_id = ?1", &a)?,
            merged_before: self.ids("SELECT id FROM parties WHERE merged_into = ?1", &a)?,
            sales: SALES_CHILDREN
                .iter()
                .map(|(key, table, column)| {
                    Ok((
                        (*key).to_owned(),
                        self.ids(
                            &format!("SELECT CAST(id AS TEXT) FROM {table} WHERE {column} = ?1"),
                            &a,
                        )?,
                    ))
                })
                .collect::<crate::Result<_>>()?,
            score_history: self
                .ids("SELECT CAST(id AS TEXT) FROM score_history WHERE party_id = ?1", &a)?,
            scores: self.scores_of(absorb)?.into_iter().collect(),
            scores_taken: {
                let kept = self.scores_of(keep)?;
                self.scores_of(absorb)?.into_keys().filter(|n| !kept.contains_key(n)).collect()
            },
            points: Vec::new(),
        };
        // Points move as two ledger entries (the ledger is append-only).
        for program in self.loyalty_programs()? {
            let balance = self.points_balance(&program.name, absorb)?;
            if balance > 0 {
                self.transfer_points(&program.name, absorb, keep, balance, "merge")?;
                moved.points.push((program.name.clone(), balance));
            }
        }
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
        for (key, table, column) in SALES_CHILDREN {
            let n = exec(&format!("UPDATE {table} SET {column} = ?1 WHERE {column} = ?2"))?;
            match *table {
                "quotes" => report.quotes += n,
                "orders" => report.orders += n,
                "opportunities" => report.opportunities += n,
                _ => report.cases += n,
            }
            debug_assert!(moved.sales.contains_key(*key));
        }
        exec("UPDATE score_history SET party_id = ?1 WHERE party_id = ?2")?;
        exec(
            "INSERT OR IGNORE INTO party_scores (party_id, name, value, at)
             SELECT ?1, name, value, at FROM party_scores WHERE party_id = ?2",
        )?;
        exec("DELETE FROM party_scores WHERE party_id = ?2 AND ?1 IS NOT NULL")?;
        // Earlier merges into the absorbed party now point at the survivor.
        exec("UPDATE parties SET merged_into = ?1 WHERE merged_into = ?2")?;
        self.conn.execute(
            "UPDATE parties SET deleted_at = ?3, merged_into = ?1, updated_at = ?3 WHERE id = ?2",
            params![k, a, self.now_text.as_str()],
        )?;
        self.refresh_pair(keep, absorb)?;
        let keep_after = self.get_party(keep)?;
        let before = serde_json::json!({ "kept": keep_before, "absorbed": absorb_before });
        let after = serde_json::json!({ "kept": keep_after, "report": report, "moved": moved });
        self.record_event("party", &k, "party.merged", Some(&before), Some(&after))?;
        let absorbed_after = self.get_party(absorb)?;
        self.record_party_change(&absorb_before, &absorbed_after, "party.absorbed")?;
        Ok(report)
    }

    /// Undoes the merge of `absorbed` into the party it was merged into, from
    /// the record the `party.merged` event keeps: the absorbed party is live
    /// again and every row that moved goes back — unless it was deleted or
    /// moved elsewhere since. Rows added to the kept party after the merge
    /// stay with it. A custom field the kept party took over goes back only if
    /// its value is unchanged. Records a `party.unmerged` event.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown party.
    /// - [`Error::Conflict`] when the party is not merged, the survivor is
    ///   deleted, or the merge record was scrubbed by an erasure.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{ContactKind, NewParty};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let (a, b) = crm.write(|tx| {
    ///     let a = tx.create_party(NewParty::person("Li Lei"))?.id;
    ///     let b = tx.create_party(NewParty::person("Li Lei").with_contact(ContactKind::Email, "li@example.com"))?.id;
    ///     tx.merge(a, b)?;
    ///     Ok((a, b))
    /// })?;
    /// crm.write(|tx| tx.unmerge(b))?;
    /// let restored = crm.read(|tx| tx.get_party(b))?;
    /// assert!(restored.is_live());
    /// assert_eq!(restored.contacts[0].value, "li@example.com");
    /// assert!(crm.read(|tx| tx.get_party(a))?.contacts.is_empty());
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn unmerge(&mut self, absorbed: PartyId) -> crate::Result<Party> {
        let absorbed_before = self.get_party(absorbed)?;
        let Some(keep) = absorbed_before.merged_into else {
            return Err(Error::conflict(format!("party {absorbed} is not merged into another")));
        };
        self.require_live(keep, "party").map_err(|_| {
            Error::conflict(format!("party {absorbed} was merged into {keep}, which is deleted"))
        })?;
        let a = absorbed.to_string();
        let k = keep.to_string();
        let mut stmt = self.conn.prepare_cached(
            "SELECT json_extract(after, '$.moved') FROM events
             WHERE entity = 'party' AND entity_id = ?1 AND kind = 'party.merged'
               AND json_extract(after, '$.moved.absorbed') = ?2
             ORDER BY seq DESC LIMIT 1",
        )?;
        let record: Option<String> =
            stmt.query_row(params![k, a], |row| row.get(0)).optional()?.flatten();
        let Some(record) = record else {
            return Err(Error::conflict(format!(
                "no merge record of {absorbed} into {keep} (it may have been scrubbed by an erasure)"
            )));
        };
        let moved: MergeRecord = serde_json::from_str(&record)?;
        let external_ids = moved
            .external_ids
            .iter()
            .map(|e| ExternalId::parse(e))
            .collect::<crate::Result<Vec<_>>>()?;
        let keep_before = self.get_party(keep)?;
        let back = |tx: &Tx<'_>, sql: &str, ids: &[String]| -> crate::Result<()> {
            let mut stmt = tx.conn.prepare_cached(sql)?;
            for id in ids {
                stmt.execute(params![a, k, id])?;
            }
            Ok(())
        };
        self.conn.execute(
            "UPDATE parties SET deleted_at = NULL, merged_into = NULL, updated_at = ?2 WHERE id = ?1",
            params![a, self.now_text.as_str()],
        )?;
        back(
            self,
            "UPDATE contact_points SET party_id = ?1 WHERE party_id = ?2 AND id = ?3",
            &moved.contact_points,
        )?;
        back(
            self,
            "UPDATE relationships SET from_id = ?1 WHERE from_id = ?2 AND id = ?3",
            &moved.relationships_from,
        )?;
        back(
            self,
            "UPDATE relationships SET to_id = ?1 WHERE to_id = ?2 AND id = ?3",
            &moved.relationships_to,
        )?;
        for relationship in &moved.relationships_dropped {
            if self.get_relationship(relationship.id).is_err() {
                self.insert_relationship(relationship)?;
            }
        }
        back(
            self,
            "UPDATE interactions SET party_id = ?1 WHERE party_id = ?2 AND id = ?3",
            &moved.interactions,
        )?;
        back(
            self,
            "UPDATE interactions SET owner_id = ?1 WHERE owner_id = ?2 AND id = ?3",
            &moved.interactions_owned,
        )?;
        back(self, "UPDATE tasks SET party_id = ?1 WHERE party_id = ?2 AND id = ?3", &moved.tasks)?;
        back(
            self,
            "UPDATE tasks SET assignee_id = ?1 WHERE assignee_id = ?2 AND id = ?3",
            &moved.tasks_assigned,
        )?;
        let mut stmt = self.conn.prepare_cached(
            "UPDATE external_ids SET party_id = ?1 WHERE party_id = ?2 AND system = ?3 AND value = ?4",
        )?;
        for external_id in &external_ids {
            stmt.execute(params![a, k, external_id.system, external_id.value])?;
        }
        self.insert_tags(absorbed, &moved.tags)?;
        let mut stmt =
            self.conn.prepare_cached("DELETE FROM party_tags WHERE party_id = ?1 AND tag = ?2")?;
        for tag in &moved.tags_added {
            stmt.execute(params![k, tag])?;
        }
        back(
            self,
            "UPDATE party_roles SET party_id = ?1 WHERE party_id = ?2 AND id = CAST(?3 AS INTEGER)",
            &moved.roles,
        )?;
        back(
            self,
            "UPDATE party_stages SET party_id = ?1 WHERE party_id = ?2 AND id = CAST(?3 AS INTEGER)",
            &moved.stages,
        )?;
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO party_fields (party_id, field, value) VALUES (?1, ?2, ?3)",
        )?;
        let mut remove = self.conn.prepare_cached(
            "DELETE FROM party_fields WHERE party_id = ?1 AND field = ?2 AND value = ?3",
        )?;
        for (name, value) in &moved.fields {
            insert.execute(params![a, name, value])?;
            if moved.fields_taken.contains(name) {
                remove.execute(params![k, name, value])?;
            }
        }
        back(
            self,
            "UPDATE parties SET owner_id = ?1 WHERE owner_id = ?2 AND id = ?3",
            &moved.owned_parties,
        )?;
        back(
            self,
            "UPDATE parties SET merged_into = ?1 WHERE merged_into = ?2 AND id = ?3",
            &moved.merged_before,
        )?;
        back(
            self,
            "UPDATE score_history SET party_id = ?1 WHERE party_id = ?2 AND id = CAST(?3 AS INTEGER)",
            &moved.score_history,
        )?;
        let mut restore = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO party_scores (party_id, name, value, at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (name, value) in &moved.scores {
            restore.execute(params![a, name, value, self.now_text.as_str()])?;
        }
        let mut untake = self
            .conn
            .prepare_cached("DELETE FROM party_scores WHERE party_id = ?1 AND name = ?2")?;
        for name in &moved.scores_taken {
            untake.execute(params![k, name])?;
        }
        for (key, table, column) in SALES_CHILDREN {
            if let Some(ids) = moved.sales.get(*key) {
                back(
                    self,
                    &format!("UPDATE {table} SET {column} = ?1 WHERE {column} = ?2 AND id = ?3"),
                    ids,
                )?;
            }
        }
        // Points go back as far as the kept party still has them.
        for (program, points) in &moved.points {
            let left = self.points_balance(program, keep)?.min(*points);
            if left > 0 {
                self.transfer_points(program, keep, absorbed, left, "unmerge")?;
            }
        }
        self.refresh_pair(keep, absorbed)?;
        let keep_after = self.get_party(keep)?;
        let absorbed_after = self.get_party(absorbed)?;
        let before = serde_json::json!({ "kept": keep_before, "absorbed": absorbed_before });
        let after = serde_json::json!({ "kept": keep_after, "absorbed": absorbed_after });
        self.record_event("party", &a, "party.unmerged", Some(&before), Some(&after))?;
        Ok(absorbed_after)
    }

    /// After rows moved between two parties: touches the kept one and
    /// refreshes both parties' search entries and those of their
    /// interactions.
    fn refresh_pair(&self, keep: PartyId, other: PartyId) -> crate::Result<()> {
        self.conn.execute(
            "UPDATE parties SET updated_at = ?2 WHERE id = ?1",
            params![keep.to_string(), self.now_text.as_str()],
        )?;
        for id in [keep, other] {
            self.reindex_party(id)?;
            self.reindex_interactions_of(id)?;
        }
        Ok(())
    }

    /// The ids a one-parameter query returns.
    fn ids(&self, sql: &str, key: &str) -> crate::Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![key])?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next()? {
            ids.push(row.get(0)?);
        }
        Ok(ids)
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
