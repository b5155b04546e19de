//! Privacy: export everything held on a party; erase or anonymise it.

use rusqlite::params;
use serde_json::json;

use crate::model::PartyId;
use crate::store::Tx;
use crate::store::codec::collect;
use crate::store::interaction::{interaction_from_row, task_from_row};

/// The name an erased party is left with.
pub const ERASED_NAME: &str = "(erased)";

impl Tx<'_> {
    /// Everything held on a party as one JSON document: the party with its
    /// roles, tags, fields, external ids, contact points and consent; stage
    /// history; relationships; interactions; tasks; quotes, orders,
    /// opportunities and cases; and the events about it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown party.
    ///
    /// # Examples
    ///
    /// ```
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let id = crm.write(|tx| Ok(tx.create_party(crm_core::NewParty::person("Chen Jing"))?.id))?;
    /// let doc = crm.read(|tx| tx.export_party(id))?;
    /// assert_eq!(doc["party"]["name"], "Chen Jing");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn export_party(&self, id: PartyId) -> crate::Result<serde_json::Value> {
        let party = self.get_party(id)?;
        let key = id.to_string();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, channel, direction, at, subject, body, outcome, owner_id,
                    link_entity, link_id, external_id, created_at
             FROM interactions WHERE party_id = ?1 ORDER BY at, id",
        )?;
        let interactions = collect(&mut stmt, params![key], interaction_from_row)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, title, party_id, assignee_id, due_at, notes, status, closed_at, created_at
             FROM tasks WHERE party_id = ?1 OR assignee_id = ?1 ORDER BY due_at, id",
        )?;
        let tasks = collect(&mut stmt, params![key], task_from_row)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.purpose, c.granted, c.source, c.at, p.kind, p.value
             FROM consents c JOIN contact_points p ON p.id = c.contact_point_id
             WHERE p.party_id = ?1 ORDER BY c.id",
        )?;
        let consent_history = collect(&mut stmt, params![key], |row| {
            Ok(json!({
                "contact_kind": crate::store::codec::get::<String>(row, "kind")?,
                "contact_value": crate::store::codec::get::<String>(row, "value")?,
                "purpose": crate::store::codec::get::<String>(row, "purpose")?,
                "granted": crate::store::codec::get::<bool>(row, "granted")?,
                "source": crate::store::codec::get::<String>(row, "source")?,
                "at": crate::store::codec::get::<String>(row, "at")?,
            }))
        })?;
        Ok(json!({
            "format": "crm.party-export/1",
            "exported_at": self.now_text.as_str(),
            "party": party,
            "stage_history": self.stage_history(id)?,
            "consent_history": consent_history,
            "relationships": self.relationships_of(id, None)?,
            "interactions": interactions,
            "tasks": tasks,
            "quotes": self.quotes_of(id)?,
            "orders": self.orders_of(id)?,
            "opportunities": self.opportunities(Some(id))?,
            "cases": self.cases(Some(id))?,
            "scores": self.scores_of(id)?,
            "segments": self.segments_of(id)?,
            "loyalty": self.loyalty_of(id)?,
            "campaigns": self.campaigns_of(id)?,
            "outbox": self.outbox_of(id)?,
            "workflows": self.workflows_of("party", &key)?,
            "events": self.events_for("party", &key)?,
        }))
    }

    /// Erases a party's personal data: name, notes, contact points and
    /// consent, custom fields, tags, external ids, and the text of its
    /// interactions, tasks, cases and opportunities, its scores, the
    /// addresses and text of its messages and the data of its workflows; the
    /// personal data in earlier events about the
    /// party is scrubbed too. What stays is anonymous: the party row (kind,
    /// roles, stage, dates), interaction channels and times, relationships,
    /// so aggregates still add up. The party is soft-deleted and cannot be
    /// restored. A `party.erased` event without personal data is recorded.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown party.
    pub fn erase_party(&mut self, id: PartyId) -> crate::Result<()> {
        self.get_party(id)?;
        let key = id.to_string();
        let now = self.now_text.clone();
        self.scrub_personal_data(&key)?;
        self.conn.execute(
            "UPDATE parties SET name = ?2, name_key = '', notes = NULL, language = NULL,
                 deleted_at = coalesce(deleted_at, ?3), updated_at = ?3 WHERE id = ?1",
            params![key, ERASED_NAME, now],
        )?;
        self.conn.execute(
            "UPDATE interactions SET subject = '', body = NULL, outcome = NULL WHERE party_id = ?1",
            params![key],
        )?;
        self.conn.execute(
            "UPDATE tasks SET title = '', notes = NULL WHERE party_id = ?1",
            params![key],
        )?;
        self.scrub_sales_text(&key)?;
        // Messages hold addresses and text; workflow data is the plugin's
        // record of the person.
        self.conn.execute(
            "UPDATE outbox SET address = NULL, content = '' WHERE party_id = ?1",
            params![key],
        )?;
        self.conn.execute(
            "UPDATE workflow_instances SET data = '{}' WHERE entity = 'party' AND entity_id = ?1",
            params![key],
        )?;
        self.conn.execute(
            "UPDATE workflow_history SET data = '{}' WHERE instance IN
               (SELECT id FROM workflow_instances WHERE entity = 'party' AND entity_id = ?1)",
            params![key],
        )?;
        // Scores profile the person: they go too.
        self.conn.execute("DELETE FROM party_scores WHERE party_id = ?1", params![key])?;
        self.conn.execute("DELETE FROM score_history WHERE party_id = ?1", params![key])?;
        self.conn.execute(
            "UPDATE events SET before = NULL, after = json_object('scrubbed', 1)
             WHERE entity = 'party' AND entity_id = ?1",
            params![key],
        )?;
        self.scrub_events_of_children(&key)?;
        self.reindex_party(id)?;
        self.reindex_interactions_of(id)?;
        self.record_event("party", &key, "party.erased", None, None)?;
        Ok(())
    }

    /// Anonymises a party and keeps it live for analytics: name becomes
    /// `Anonymous <short id>`, and contact points, notes, external ids, tags,
    /// text custom fields and interaction text are removed; roles, stage,
    /// numeric fields, interactions (channel, time) and relationships stay.
    /// A `party.anonymized` event without personal data is recorded, and the
    /// personal data in earlier events about the party is scrubbed.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for an unknown or deleted party.
    pub fn anonymize_party(&mut self, id: PartyId) -> crate::Result<()> {
        self.require_live(id, "party")?;
        let key = id.to_string();
        let name = format!("Anonymous {}", &key[key.len().saturating_sub(8)..]);
        self.scrub_personal_data(&key)?;
        self.conn.execute(
            "UPDATE parties SET name = ?2, name_key = '', notes = NULL, updated_at = ?3 WHERE id = ?1",
            params![key, name, self.now_text.as_str()],
        )?;
        self.conn.execute(
            "UPDATE interactions SET subject = '(anonymised)', body = NULL, outcome = NULL
             WHERE party_id = ?1",
            params![key],
        )?;
        self.scrub_sales_text(&key)?;
        self.conn.execute(
            "UPDATE events SET before = NULL, after = json_object('scrubbed', 1)
             WHERE entity = 'party' AND entity_id = ?1",
            params![key],
        )?;
        self.scrub_events_of_children(&key)?;
        self.reindex_party(id)?;
        self.reindex_interactions_of(id)?;
        self.record_event("party", &key, "party.anonymized", None, None)?;
        Ok(())
    }

    fn scrub_personal_data(&self, key: &str) -> crate::Result<()> {
        self.conn.execute(
            "DELETE FROM consents WHERE contact_point_id IN (SELECT id FROM contact_points WHERE party_id = ?1)",
            params![key],
        )?;
        self.conn.execute("DELETE FROM contact_points WHERE party_id = ?1", params![key])?;
        self.conn.execute("DELETE FROM external_ids WHERE party_id = ?1", params![key])?;
        self.conn.execute("DELETE FROM party_tags WHERE party_id = ?1", params![key])?;
        self.conn.execute(
            "DELETE FROM party_fields WHERE party_id = ?1 AND field IN
                 (SELECT name FROM field_defs WHERE type IN ('text', 'date', 'enum', 'bool'))",
            params![key],
        )?;
        Ok(())
    }

    /// Case and opportunity text may hold personal data; orders and quotes
    /// (products, amounts) stay for the aggregates.
    fn scrub_sales_text(&self, key: &str) -> crate::Result<()> {
        self.conn.execute(
            "UPDATE cases SET subject = '', description = NULL, category = NULL WHERE party_id = ?1",
            params![key],
        )?;
        self.conn
            .execute("UPDATE opportunities SET title = '' WHERE party_id = ?1", params![key])?;
        Ok(())
    }

    /// Interactions, tasks, cases and opportunities of the party carry its
    /// text in their events.
    fn scrub_events_of_children(&self, key: &str) -> crate::Result<()> {
        self.conn.execute(
            "UPDATE events SET before = NULL, after = json_object('scrubbed', 1)
             WHERE (entity = 'interaction' AND entity_id IN (SELECT id FROM interactions WHERE party_id = ?1))
                OR (entity = 'task' AND entity_id IN (SELECT id FROM tasks WHERE party_id = ?1))
                OR (entity = 'case' AND entity_id IN (SELECT id FROM cases WHERE party_id = ?1))
                OR (entity = 'opportunity' AND entity_id IN (SELECT id FROM opportunities WHERE party_id = ?1))
                OR (entity = 'party' AND kind = 'party.merged' AND
                    (json_extract(before, '$.absorbed.id') = ?1 OR json_extract(before, '$.kept.id') = ?1))",
            params![key],
        )?;
        Ok(())
    }
}
