//! The event log: appended by every mutation, read as the change feed.

use rusqlite::params;

use crate::model::Event;
use crate::store::Tx;
use crate::store::codec::{collect, get, get_time};

impl Tx<'_> {
    /// Appends an event in this transaction and returns its sequence number.
    pub(crate) fn record_event(
        &self,
        entity: &str,
        entity_id: &str,
        kind: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> crate::Result<i64> {
        self.record_event_json(
            entity,
            entity_id,
            kind,
            before.map(serde_json::Value::to_string).as_deref(),
            after.map(serde_json::Value::to_string).as_deref(),
        )
    }

    /// Appends `<entity>.created` or `<entity>.updated` for a saved piece of
    /// configuration (a pipeline, calendar, policy, price list, …).
    pub(crate) fn record_saved<T: serde::Serialize>(
        &self,
        entity: &str,
        key: &str,
        before: Option<&T>,
        after: &T,
    ) -> crate::Result<i64> {
        let kind = format!("{entity}.{}", if before.is_some() { "updated" } else { "created" });
        let before = before.map(serde_json::to_value).transpose()?;
        self.record_event(entity, key, &kind, before.as_ref(), Some(&serde_json::to_value(after)?))
    }

    /// Appends an event whose before / after are already JSON text.
    pub(crate) fn record_event_json(
        &self,
        entity: &str,
        entity_id: &str,
        kind: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> crate::Result<i64> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO events (at, actor, entity, entity_id, kind, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            self.now_text.as_str(),
            self.actor,
            entity,
            entity_id,
            kind,
            before,
            after
        ])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Events with a sequence number greater than `seq`, oldest first, at
    /// most `limit` of them. Pass the last `seq` you processed to read on.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    ///
    /// # Examples
    ///
    /// ```
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// crm.write(|tx| tx.create_party(crm_core::NewParty::person("Li Na")).map(|_| ()))?;
    /// let events = crm.read(|tx| tx.events_since(0, 100))?;
    /// assert_eq!(events[0].kind, "party.created");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn events_since(&self, seq: i64, limit: u64) -> crate::Result<Vec<crate::model::Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, actor, entity, entity_id, kind, before, after
             FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        collect(&mut stmt, params![seq, limit_param(limit)], event_from_row)
    }

    /// Every event about one entity, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn events_for(&self, entity: &str, entity_id: &str) -> crate::Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, actor, entity, entity_id, kind, before, after
             FROM events WHERE entity = ?1 AND entity_id = ?2 ORDER BY seq",
        )?;
        collect(&mut stmt, params![entity, entity_id], event_from_row)
    }

    /// The newest sequence number, or 0 when there are no events.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn last_event_seq(&self) -> crate::Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| row.get(0))?)
    }
}

/// SQLite's LIMIT takes an i64; larger requests mean "all".
pub(crate) fn limit_param(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn event_from_row(row: &rusqlite::Row<'_>) -> crate::Result<Event> {
    let json = |column: &str| -> crate::Result<Option<serde_json::Value>> {
        get::<Option<String>>(row, column)?
            .map(|text| serde_json::from_str(&text).map_err(crate::Error::from))
            .transpose()
    };
    Ok(Event {
        seq: get(row, "seq")?,
        at: get_time(row, "at")?,
        actor: get(row, "actor")?,
        entity: get(row, "entity")?,
        entity_id: get(row, "entity_id")?,
        kind: get(row, "kind")?,
        before: json("before")?,
        after: json("after")?,
    })
}
