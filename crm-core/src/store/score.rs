//! Named scores per party: the current value and its history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::PartyId;
use crate::store::Tx;
use crate::store::codec::{collect, get, get_time};

/// A score summed over an organisation and its members.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreRollUp {
    /// The organisation's own score (0 when it has none).
    pub own: f64,
    /// Own plus every descendant's score.
    pub total: f64,
    /// Descendants that have the score.
    pub members: u64,
}

fn check_name(name: &str) -> crate::Result<()> {
    if crate::model::field::is_identifier(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!(
                "`{name}` is not a score name (lower-case letters, digits and _, starting with a letter)"
            ),
        ))
    }
}

fn check_value(value: f64) -> crate::Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid("value", format!("{value} is not a finite score")))
    }
}

impl Tx<'_> {
    /// Sets one party's score (e.g. `clv`, `p_alive`, `churn_risk`), keeps
    /// the old value in its history, and records a `party.score_set` event.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad name or a non-finite value;
    /// [`Error::NotFound`] for an unknown or deleted party.
    ///
    /// # Examples
    ///
    /// ```
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let id = crm.write(|tx| {
    ///     let p = tx.create_party(crm_core::NewParty::person("Li Na"))?;
    ///     tx.set_score(p.id, "clv", 812.5)?;
    ///     tx.set_score(p.id, "clv", 905.0)?;
    ///     Ok(p.id)
    /// })?;
    /// assert_eq!(crm.read(|tx| tx.score(id, "clv"))?, Some(905.0));
    /// assert_eq!(crm.read(|tx| tx.score_history(id, "clv"))?.len(), 2);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn set_score(&mut self, party: PartyId, name: &str, value: f64) -> crate::Result<()> {
        check_name(name)?;
        check_value(value)?;
        self.require_live(party, "party")?;
        let before = self.score(party, name)?;
        self.write_score(party, name, value)?;
        self.record_event(
            "party",
            &party.to_string(),
            "party.score_set",
            before.map(|v| serde_json::json!({ "name": name, "value": v })).as_ref(),
            Some(&serde_json::json!({ "name": name, "value": value })),
        )?;
        Ok(())
    }

    /// Sets one score for many parties at once (a scoring run), with one
    /// `score.set` event for the batch; every value also goes to the
    /// parties' score history. Returns how many parties were scored.
    ///
    /// # Errors
    ///
    /// As [`Tx::set_score`]; nothing is written when any row is bad.
    pub fn set_scores(&mut self, name: &str, values: &[(PartyId, f64)]) -> crate::Result<u64> {
        check_name(name)?;
        for (party, value) in values {
            check_value(*value).map_err(|e| match e {
                Error::Invalid { reason, .. } => {
                    Error::invalid("value", format!("party {party}: {reason}"))
                }
                other => other,
            })?;
            self.require_live(*party, "party")?;
        }
        for (party, value) in values {
            self.write_score(*party, name, *value)?;
        }
        self.record_event(
            "score",
            name,
            "score.set",
            None,
            Some(&serde_json::json!({ "name": name, "parties": values.len() })),
        )?;
        Ok(values.len() as u64)
    }

    fn write_score(&self, party: PartyId, name: &str, value: f64) -> crate::Result<()> {
        let key = party.to_string();
        self.conn
            .prepare_cached(
                "INSERT INTO party_scores (party_id, name, value, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (party_id, name) DO UPDATE SET value = excluded.value, at = excluded.at",
            )?
            .execute(params![key, name, value, self.now_text.as_str()])?;
        self.conn
            .prepare_cached(
                "INSERT INTO score_history (party_id, name, value, at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key, name, value, self.now_text.as_str()])?;
        Ok(())
    }

    /// A party's current score, if it has one.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn score(&self, party: PartyId, name: &str) -> crate::Result<Option<f64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM party_scores WHERE party_id = ?1 AND name = ?2")?
            .query_row(params![party.to_string(), name], |row| row.get(0))
            .optional()?)
    }

    /// Every current score of a party, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn scores_of(&self, party: PartyId) -> crate::Result<BTreeMap<String, f64>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT name, value FROM party_scores WHERE party_id = ?1")?;
        Ok(collect(&mut stmt, params![party.to_string()], |row| {
            Ok((get(row, "name")?, get(row, "value")?))
        })?
        .into_iter()
        .collect())
    }

    /// The values a party's score has had, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn score_history(
        &self,
        party: PartyId,
        name: &str,
    ) -> crate::Result<Vec<(DateTime<Utc>, f64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, value FROM score_history WHERE party_id = ?1 AND name = ?2 ORDER BY at, id",
        )?;
        collect(&mut stmt, params![party.to_string(), name], |row| {
            Ok((get_time(row, "at")?, get(row, "value")?))
        })
    }

    /// A score summed over an organisation and its descendants along a
    /// hierarchical relationship type (e.g. `subsidiary-of`, or
    /// `employee-of` for its contacts), as the relationships stand now.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown party or relationship type.
    pub fn rollup_score(
        &self,
        party: PartyId,
        name: &str,
        kind: &str,
    ) -> crate::Result<ScoreRollUp> {
        let own = self.score(party, name)?.unwrap_or(0.0);
        let mut total = own;
        let mut members = 0;
        for node in self.descendants(party, kind, None)? {
            if let Some(value) = self.score(node.party_id, name)? {
                total += value;
                members += 1;
            }
        }
        Ok(ScoreRollUp { own, total, members })
    }
}
