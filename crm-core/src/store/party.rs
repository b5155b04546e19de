//! Parties: create, upsert, read, list, change, delete and restore; custom
//! field definitions; contact points and consent.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, Row, params};

use crate::Error;
use crate::model::{
    Consent, ContactPoint, ContactPointId, Currency, ExternalId, FieldDef, FieldType, FieldValue,
    LifecycleStage, NewContactPoint, NewParty, Page, Party, PartyFilter, PartyId, PartyPatch, Role,
    RoleSpan, StageChange, name_key,
};
use crate::store::Tx;
use crate::store::codec::{
    collect, date_text, get, get_opt_date, get_opt_parsed, get_opt_time, get_parsed, get_time,
    parse_date,
};
use crate::store::event::limit_param;
use crate::store::search::IndexEntry;

/// What an upsert ([`Tx::upsert_party`], [`Tx::upsert_interaction`]) or an
/// imported row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upserted {
    /// A new record was created.
    Created,
    /// An existing record (found by external id or natural key) was changed.
    Updated,
    /// An existing record already held everything given.
    Unchanged,
}

const PARTY_COLUMNS: &str = "id, kind, name, stage, owner_id, language, currency, notes, \
                             created_at, updated_at, deleted_at, merged_into";

impl Tx<'_> {
    /// Creates a party with its roles, tags, custom fields, external ids and
    /// contact points, and records a `party.created` event.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] for an empty name, a bad language tag or tag, an
    ///   undefined custom field or a value of the wrong type, an invalid
    ///   e-mail address or phone number.
    /// - [`Error::NotFound`] when the owner does not exist.
    /// - [`Error::Conflict`] when an external id is already held.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{ContactKind, NewParty, Role};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let party = crm.write(|tx| {
    ///     tx.create_party(
    ///         NewParty::person("王芳")
    ///             .with_role(Role::Customer)
    ///             .with_contact(ContactKind::Email, "Wang.Fang@Example.com"),
    ///     )
    /// })?;
    /// assert_eq!(party.contacts[0].normalized, "wang.fang@example.com");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_party(&mut self, new: NewParty) -> crate::Result<Party> {
        self.create_party_checked(new, false)
    }

    /// Creates a party; `external_ids_checked` says the caller has just
    /// looked the external ids up and found them free.
    fn create_party_checked(
        &mut self,
        new: NewParty,
        external_ids_checked: bool,
    ) -> crate::Result<Party> {
        let party = self.insert_party(new, external_ids_checked)?;
        let after = serde_json::to_string(&party)?;
        self.record_event_json(
            "party",
            &party.id.to_string(),
            "party.created",
            None,
            Some(&after),
        )?;
        Ok(party)
    }

    /// Creates the party, or, when one of its external ids is already held by
    /// a live party, merges the given data into that party: scalar fields
    /// given replace the stored ones, and roles, tags, fields, external ids and
    /// contact points (by normalised value) are added. Running the same
    /// upsert twice changes nothing the second time.
    ///
    /// # Errors
    ///
    /// As [`Tx::create_party`]; [`Error::Conflict`] when the external ids
    /// belong to two different parties or to a deleted party.
    pub fn upsert_party(&mut self, new: NewParty) -> crate::Result<(Party, Upserted)> {
        let mut found: Option<PartyId> = None;
        for external_id in &new.external_ids {
            if let Some(holder) = self.external_id_holder(external_id)? {
                if found.is_some_and(|f| f != holder) {
                    return Err(Error::conflict(format!(
                        "external ids of one row belong to two parties ({} and {holder})",
                        found.map(|f| f.to_string()).unwrap_or_default()
                    )));
                }
                found = Some(holder);
            }
        }
        let Some(id) = found else {
            return Ok((self.create_party_checked(new, true)?, Upserted::Created));
        };
        new.validate()?;
        let before = self.get_party(id)?;
        if !before.is_live() {
            return Err(Error::conflict(format!(
                "external id {} belongs to deleted party {id}; restore it first",
                new.external_ids.first().map(ToString::to_string).unwrap_or_default()
            )));
        }
        self.merge_new_into(&before, new)?;
        let mut after = self.get_party(id)?;
        if after == before {
            return Ok((after, Upserted::Unchanged));
        }
        self.touch_party(id)?;
        after.updated_at = self.now;
        self.record_party_change(&before, &after, "party.updated")?;
        Ok((after, Upserted::Updated))
    }

    /// The party with this id, deleted or not.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when there is none.
    pub fn get_party(&self, id: PartyId) -> crate::Result<Party> {
        self.find_party(id)?.ok_or_else(|| Error::not_found("party", id))
    }

    /// The party with this id, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn find_party(&self, id: PartyId) -> crate::Result<Option<Party>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {PARTY_COLUMNS} FROM parties WHERE id = ?1"))?;
        let mut rows = stmt.query(params![id.to_string()])?;
        match rows.next()? {
            Some(row) => Ok(Some(self.party_from_row(row)?)),
            None => Ok(None),
        }
    }

    /// The party holding an external id.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn find_party_by_external_id(
        &self,
        external_id: &ExternalId,
    ) -> crate::Result<Option<Party>> {
        match self.external_id_holder(external_id)? {
            Some(id) => self.find_party(id),
            None => Ok(None),
        }
    }

    /// Finds a party by id or by `system:value` external id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when neither matches.
    pub fn resolve_party(&self, key: &str) -> crate::Result<Party> {
        if let Ok(id) = key.parse::<PartyId>() {
            return self.get_party(id);
        }
        if let Ok(external_id) = ExternalId::parse(key)
            && let Some(party) = self.find_party_by_external_id(&external_id)?
        {
            return Ok(party);
        }
        Err(Error::not_found("party", key))
    }

    /// How many live parties there are.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn count_parties(&self) -> crate::Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM parties WHERE deleted_at IS NULL",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One page of parties matching `filter`, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{NewParty, PartyFilter, Role};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// crm.write(|tx| {
    ///     tx.create_party(NewParty::person("A").with_role(Role::Customer))?;
    ///     tx.create_party(NewParty::person("B").with_role(Role::Prospect))?;
    ///     Ok(())
    /// })?;
    /// let page = crm.read(|tx| tx.list_parties(&PartyFilter::default().role(Role::Customer)))?;
    /// assert_eq!(page.total, 1);
    /// assert_eq!(page.items[0].name, "A");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn list_parties(&self, filter: &PartyFilter) -> crate::Result<Page<Party>> {
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if !filter.include_deleted {
            conditions.push("p.deleted_at IS NULL");
        }
        if let Some(kind) = filter.kind {
            conditions.push("p.kind = ?");
            values.push(kind.code().to_owned());
        }
        if let Some(stage) = filter.stage {
            conditions.push("p.stage = ?");
            values.push(stage.code().to_owned());
        }
        if let Some(owner) = filter.owner {
            conditions.push("p.owner_id = ?");
            values.push(owner.to_string());
        }
        if let Some(tag) = &filter.tag {
            conditions
                .push("EXISTS (SELECT 1 FROM party_tags t WHERE t.party_id = p.id AND t.tag = ?)");
            values.push(tag.clone());
        }
        if let Some(role) = filter.role {
            conditions.push(
                "EXISTS (SELECT 1 FROM party_roles r WHERE r.party_id = p.id AND r.role = ? \
                 AND r.since <= ? AND (r.until IS NULL OR r.until >= ?))",
            );
            let today = date_text(&self.now.date_naive());
            values.extend([role.code().to_owned(), today.clone(), today]);
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM parties p {where_clause}"),
            rusqlite::params_from_iter(values.iter()),
            |row| row.get(0),
        )?;
        let sql = format!(
            "SELECT {} FROM parties p {where_clause} ORDER BY p.id LIMIT {} OFFSET {}",
            PARTY_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", "),
            limit_param(filter.limit),
            limit_param(filter.offset),
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let items = collect(&mut stmt, rusqlite::params_from_iter(values.iter()), |row| {
            self.party_from_row(row)
        })?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    /// Changes scalar fields (name, owner, language, currency, notes).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or deleted party or owner;
    /// [`Error::Invalid`] for a bad value.
    pub fn update_party(&mut self, id: PartyId, patch: PartyPatch) -> crate::Result<Party> {
        // Everything is checked before the first write.
        if let Some(name) = &patch.name {
            crate::model::party::validate_name(name)?;
        }
        if let Some(Some(owner)) = patch.owner {
            self.require_live(owner, "owner")?;
        }
        if let Some(Some(language)) = &patch.language {
            crate::model::party::validate_language(language)?;
        }
        self.change_party(id, "party.updated", |tx| {
            let key = id.to_string();
            if let Some(name) = &patch.name {
                tx.conn.execute(
                    "UPDATE parties SET name = ?2, name_key = ?3 WHERE id = ?1",
                    params![key, name, name_key(name)],
                )?;
            }
            if let Some(owner) = patch.owner {
                tx.conn.execute(
                    "UPDATE parties SET owner_id = ?2 WHERE id = ?1",
                    params![key, owner.map(|o| o.to_string())],
                )?;
            }
            if let Some(language) = &patch.language {
                tx.conn.execute(
                    "UPDATE parties SET language = ?2 WHERE id = ?1",
                    params![key, language],
                )?;
            }
            if let Some(currency) = patch.currency {
                tx.conn.execute(
                    "UPDATE parties SET currency = ?2 WHERE id = ?1",
                    params![key, currency.map(|c| c.code().to_owned())],
                )?;
            }
            if let Some(notes) = &patch.notes {
                tx.conn
                    .execute("UPDATE parties SET notes = ?2 WHERE id = ?1", params![key, notes])?;
            }
            Ok(())
        })
    }

    /// Gives the party `role` from `since` on (open-ended). Does nothing if
    /// the role already holds on `since`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or deleted party.
    pub fn add_role(&mut self, id: PartyId, role: Role, since: NaiveDate) -> crate::Result<Party> {
        self.change_party(id, "party.role_added", |tx| tx.insert_role(id, role, since))
    }

    /// Ends every open span of `role` on `until` (the last day it holds).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the party does not hold the role;
    /// [`Error::Invalid`] when `until` is before the span's start.
    pub fn end_role(&mut self, id: PartyId, role: Role, until: NaiveDate) -> crate::Result<Party> {
        self.change_party(id, "party.role_ended", |tx| {
            let mut stmt = tx.conn.prepare_cached(
                "SELECT id, since FROM party_roles WHERE party_id = ?1 AND role = ?2 AND until IS NULL",
            )?;
            let open = collect(&mut stmt, params![id.to_string(), role.code()], |row| {
                Ok((get::<i64>(row, "id")?, parse_date(&get::<String>(row, "since")?, "since")?))
            })?;
            if open.is_empty() {
                return Err(Error::not_found("role", format!("{role} of party {id}")));
            }
            if let Some((_, since)) = open.iter().find(|(_, since)| until < *since) {
                return Err(Error::invalid(
                    "until",
                    format!("{until} is before the role started ({since})"),
                ));
            }
            for (span_id, _) in open {
                tx.conn.execute(
                    "UPDATE party_roles SET until = ?2 WHERE id = ?1",
                    params![span_id, date_text(&until)],
                )?;
            }
            Ok(())
        })
    }

    /// Moves the party to a lifecycle stage and appends to its stage history.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or deleted party.
    pub fn set_stage(
        &mut self,
        id: PartyId,
        stage: LifecycleStage,
        reason: Option<&str>,
    ) -> crate::Result<Party> {
        self.change_party(id, "party.stage_changed", |tx| tx.write_stage(id, stage, reason))
    }

    /// The party's stage history, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn stage_history(&self, id: PartyId) -> crate::Result<Vec<StageChange>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT stage, at, reason FROM party_stages WHERE party_id = ?1 ORDER BY at, id",
        )?;
        collect(&mut stmt, params![id.to_string()], |row| {
            Ok(StageChange {
                stage: get_parsed(row, "stage")?,
                at: get_time(row, "at")?,
                reason: get(row, "reason")?,
            })
        })
    }

    /// Adds a tag (no-op if present).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad tag; [`Error::NotFound`] for an unknown or
    /// deleted party.
    pub fn add_tag(&mut self, id: PartyId, tag: &str) -> crate::Result<Party> {
        crate::model::party::validate_tag(tag)?;
        self.change_party(id, "party.tagged", |tx| {
            tx.insert_tags(id, std::slice::from_ref(&tag.to_owned()))
        })
    }

    /// Removes a tag (no-op if absent).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or deleted party.
    pub fn remove_tag(&mut self, id: PartyId, tag: &str) -> crate::Result<Party> {
        self.change_party(id, "party.untagged", |tx| {
            tx.conn.execute(
                "DELETE FROM party_tags WHERE party_id = ?1 AND tag = ?2",
                params![id.to_string(), tag],
            )?;
            Ok(())
        })
    }

    /// Defines a custom field, or changes the label / allowed values of an
    /// existing one. The type of an existing field cannot change.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad name or enum list; [`Error::Conflict`]
    /// when the field exists with another type, or an enum value in use is
    /// removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{FieldDef, FieldType, NewParty};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// crm.write(|tx| tx.define_field(FieldDef::new("credit_limit", FieldType::Decimal)))?;
    /// let err = crm.write(|tx| tx.create_party(NewParty::person("X").with_field("credit_limit", "lots")));
    /// assert_eq!(err.unwrap_err().to_string(), "invalid field.credit_limit: expected a decimal value, got a text value");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn define_field(&mut self, def: FieldDef) -> crate::Result<()> {
        def.validate()?;
        let existing = self.field_def(&def.name)?;
        if let Some(existing) = &existing {
            if existing.field_type.code() != def.field_type.code() {
                return Err(Error::conflict(format!(
                    "field `{}` exists with type {}; it cannot become {}",
                    def.name,
                    existing.field_type.code(),
                    def.field_type.code()
                )));
            }
            if let FieldType::Enum(allowed) = &def.field_type {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT DISTINCT value FROM party_fields WHERE field = ?1")?;
                let used =
                    collect(&mut stmt, params![def.name], |row| get::<String>(row, "value"))?;
                if let Some(lost) = used.iter().find(|u| !allowed.contains(u)) {
                    return Err(Error::conflict(format!(
                        "enum value `{lost}` of field `{}` is in use",
                        def.name
                    )));
                }
            }
        }
        let enum_values = match &def.field_type {
            FieldType::Enum(values) => Some(serde_json::to_string(values)?),
            _ => None,
        };
        self.conn.execute(
            "INSERT INTO field_defs (name, type, enum_values, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET enum_values = excluded.enum_values, label = excluded.label",
            params![def.name, def.field_type.code(), enum_values, def.label, self.now_text.as_str()],
        )?;
        let after = serde_json::to_value(&def)?;
        let kind = if existing.is_some() { "field.changed" } else { "field.defined" };
        let before = existing.map(|e| serde_json::to_value(&e)).transpose()?;
        self.record_event("field_def", &def.name, kind, before.as_ref(), Some(&after))?;
        Ok(())
    }

    /// Every custom-field definition, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn field_defs(&self) -> crate::Result<Vec<FieldDef>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, type, enum_values, label FROM field_defs ORDER BY name",
        )?;
        collect(&mut stmt, [], field_def_from_row)
    }

    /// The definition of one custom field.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn field_def(&self, name: &str) -> crate::Result<Option<FieldDef>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, type, enum_values, label FROM field_defs WHERE name = ?1",
        )?;
        let mut rows = stmt.query(params![name])?;
        match rows.next()? {
            Some(row) => Ok(Some(field_def_from_row(row)?)),
            None => Ok(None),
        }
    }

    /// Sets a custom field of a party.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an undefined field or a value of the wrong type.
    pub fn set_field(
        &mut self,
        id: PartyId,
        name: &str,
        value: FieldValue,
    ) -> crate::Result<Party> {
        let mut fields = BTreeMap::new();
        fields.insert(name.to_owned(), value);
        self.change_party(id, "party.field_set", |tx| tx.insert_fields(id, &fields))
    }

    /// Removes a custom field value from a party.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or deleted party.
    pub fn unset_field(&mut self, id: PartyId, name: &str) -> crate::Result<Party> {
        self.change_party(id, "party.field_unset", |tx| {
            tx.conn.execute(
                "DELETE FROM party_fields WHERE party_id = ?1 AND field = ?2",
                params![id.to_string(), name],
            )?;
            Ok(())
        })
    }

    /// Adds an external id to a party.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when another party holds it.
    pub fn add_external_id(
        &mut self,
        id: PartyId,
        external_id: ExternalId,
    ) -> crate::Result<Party> {
        external_id.validate()?;
        self.change_party(id, "party.external_id_added", |tx| {
            tx.insert_external_ids(id, std::slice::from_ref(&external_id))
        })
    }

    /// Adds a contact point to a party.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad e-mail address or phone number.
    pub fn add_contact_point(
        &mut self,
        id: PartyId,
        contact: NewContactPoint,
    ) -> crate::Result<ContactPoint> {
        let mut added = None;
        self.change_party(id, "party.contact_added", |tx| {
            added = Some(tx.insert_contact(id, &contact)?);
            Ok(())
        })?;
        let added = added.ok_or_else(|| Error::Internal("contact point not inserted".into()))?;
        self.get_contact_point(added)
    }

    /// Removes a contact point (and its consent history).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown contact point.
    pub fn remove_contact_point(&mut self, contact_id: ContactPointId) -> crate::Result<Party> {
        let contact = self.get_contact_point(contact_id)?;
        self.change_party(contact.party_id, "party.contact_removed", |tx| {
            tx.conn.execute(
                "DELETE FROM contact_points WHERE id = ?1",
                params![contact_id.to_string()],
            )?;
            Ok(())
        })
    }

    /// Records that consent for `purpose` was granted or withdrawn on a
    /// contact point.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown contact point; [`Error::Invalid`]
    /// for a bad purpose.
    pub fn record_consent(
        &mut self,
        contact_id: ContactPointId,
        purpose: &str,
        granted: bool,
        source: &str,
    ) -> crate::Result<ContactPoint> {
        let contact = self.get_contact_point(contact_id)?;
        self.change_party(contact.party_id, "party.consent_changed", |tx| {
            tx.insert_consent(contact_id, purpose, granted, source)
        })?;
        self.get_contact_point(contact_id)
    }

    /// A contact point by id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_contact_point(&self, contact_id: ContactPointId) -> crate::Result<ContactPoint> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, kind, value, normalized, label, created_at
             FROM contact_points WHERE id = ?1",
        )?;
        let mut found =
            collect(&mut stmt, params![contact_id.to_string()], |row| self.contact_from_row(row))?;
        found.pop().ok_or_else(|| Error::not_found("contact_point", contact_id))
    }

    /// Soft-deletes a party: it disappears from lists, search and duplicate
    /// candidates, and keeps its data until restored or erased.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or already deleted party.
    pub fn delete_party(&mut self, id: PartyId) -> crate::Result<Party> {
        self.change_party(id, "party.deleted", |tx| {
            tx.conn.execute(
                "UPDATE parties SET deleted_at = ?2 WHERE id = ?1",
                params![id.to_string(), tx.now_text.as_str()],
            )?;
            Ok(())
        })
    }

    /// Restores a soft-deleted party.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown party; [`Error::Conflict`] for a
    /// live, merged or erased one.
    pub fn restore_party(&mut self, id: PartyId) -> crate::Result<Party> {
        let before = self.get_party(id)?;
        if before.is_live() {
            return Err(Error::conflict(format!("party {id} is not deleted")));
        }
        if let Some(into) = before.merged_into {
            return Err(Error::conflict(format!("party {id} was merged into {into}")));
        }
        if self.is_erased(id)? {
            return Err(Error::conflict(format!("party {id} was erased")));
        }
        self.conn.execute(
            "UPDATE parties SET deleted_at = NULL, updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), self.now_text.as_str()],
        )?;
        self.reindex_party(id)?;
        self.reindex_interactions_of(id)?;
        let after = self.get_party(id)?;
        self.record_party_change(&before, &after, "party.restored")?;
        Ok(after)
    }

    // ---- internals -------------------------------------------------------

    /// Loads the party, runs `apply`, bumps `updated_at`, refreshes the search
    /// index and records one event with before and after.
    pub(crate) fn change_party(
        &mut self,
        id: PartyId,
        kind: &str,
        apply: impl FnOnce(&mut Tx<'_>) -> crate::Result<()>,
    ) -> crate::Result<Party> {
        let before = self.get_party(id)?;
        if !before.is_live() {
            return Err(Error::NotFound { entity: "party", id: format!("{id} (deleted)") });
        }
        apply(self)?;
        self.touch_party(id)?;
        self.reindex_party(id)?;
        let after = self.get_party(id)?;
        self.record_party_change(&before, &after, kind)?;
        Ok(after)
    }

    pub(crate) fn record_party_change(
        &self,
        before: &Party,
        after: &Party,
        kind: &str,
    ) -> crate::Result<()> {
        let before_json = serde_json::to_value(before)?;
        let after_json = serde_json::to_value(after)?;
        self.record_event(
            "party",
            &after.id.to_string(),
            kind,
            Some(&before_json),
            Some(&after_json),
        )?;
        Ok(())
    }

    fn touch_party(&self, id: PartyId) -> crate::Result<()> {
        self.conn.execute(
            "UPDATE parties SET updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), self.now_text.as_str()],
        )?;
        Ok(())
    }

    /// Checks that a party exists and is live; `what` names the argument.
    pub(crate) fn require_live(&self, id: PartyId, what: &'static str) -> crate::Result<()> {
        let mut stmt =
            self.conn.prepare_cached("SELECT deleted_at IS NULL FROM parties WHERE id = ?1")?;
        let live: Option<bool> =
            stmt.query_row(params![id.to_string()], |row| row.get(0)).optional()?;
        match live {
            Some(true) => Ok(()),
            Some(false) => Err(Error::NotFound { entity: what, id: format!("{id} (deleted)") }),
            None => Err(Error::NotFound { entity: what, id: id.to_string() }),
        }
    }

    pub(crate) fn external_id_holder(
        &self,
        external_id: &ExternalId,
    ) -> crate::Result<Option<PartyId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT party_id FROM external_ids WHERE system = ?1 AND value = ?2")?;
        let holder: Option<String> = stmt
            .query_row(params![external_id.system, external_id.value], |row| row.get(0))
            .optional()?;
        holder.map(|h| h.parse()).transpose()
    }

    /// Inserts a party and its children without recording an event.
    fn insert_party(&mut self, new: NewParty, external_ids_checked: bool) -> crate::Result<Party> {
        new.validate()?;
        if let Some(owner) = new.owner {
            self.require_live(owner, "owner")?;
        }
        let mut external_ids = new.external_ids;
        external_ids.sort();
        external_ids.dedup();
        if !external_ids_checked {
            for external_id in &external_ids {
                if let Some(holder) = self.external_id_holder(external_id)? {
                    return Err(Error::conflict(format!(
                        "external id {external_id} is already held by party {holder}"
                    )));
                }
            }
        }
        // Validate fields and contacts before writing anything.
        let fields = self.check_fields(&new.fields)?;
        let mut normalized = Vec::with_capacity(new.contacts.len());
        for contact in &new.contacts {
            normalized.push(contact.normalized()?);
            for consent in &contact.consents {
                validate_purpose(&consent.purpose)?;
            }
        }
        let id = PartyId::new();
        let key = id.to_string();
        let now = self.now_text.clone();
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO parties (id, kind, name, name_key, stage, owner_id, language, currency,
                                  notes, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?;
        stmt.execute(params![
            key,
            new.kind.code(),
            new.name,
            name_key(&new.name),
            new.stage.map(LifecycleStage::code),
            new.owner.map(|o| o.to_string()),
            new.language,
            new.currency.map(|c| c.code().to_owned()),
            new.notes,
            now,
        ])?;
        let rowid = self.conn.last_insert_rowid();
        let today = self.now.date_naive();
        let roles = dedup(&new.roles);
        let mut role_stmt = self.conn.prepare_cached(
            "INSERT INTO party_roles (party_id, role, since) VALUES (?1, ?2, ?3)",
        )?;
        for role in &roles {
            role_stmt.execute(params![key, role.code(), date_text(&today)])?;
        }
        if let Some(stage) = new.stage {
            self.insert_stage_history(id, stage, None)?;
        }
        let mut tags = dedup(&new.tags);
        self.insert_tags(id, &tags)?;
        tags.sort();
        self.write_fields(id, &fields)?;
        let mut external_stmt = self.conn.prepare_cached(
            "INSERT INTO external_ids (system, value, party_id) VALUES (?1, ?2, ?3)",
        )?;
        for external_id in &external_ids {
            external_stmt.execute(params![external_id.system, external_id.value, key])?;
        }
        let mut contacts = Vec::with_capacity(new.contacts.len());
        for (contact, normalized) in new.contacts.into_iter().zip(normalized) {
            let contact_id = self.write_contact(id, &contact, &normalized)?;
            contacts.push(ContactPoint {
                id: contact_id,
                party_id: id,
                kind: contact.kind,
                value: contact.value.trim().to_owned(),
                normalized,
                label: contact.label,
                consents: current_consents(&contact.consents, self.now),
                created_at: self.now,
            });
        }
        self.index_row(IndexEntry::PartyInserted(rowid))?;
        Ok(Party {
            id,
            kind: new.kind,
            name: new.name,
            roles: roles
                .into_iter()
                .map(|role| RoleSpan { role, since: today, until: None })
                .collect(),
            stage: new.stage,
            owner: new.owner,
            language: new.language,
            currency: new.currency,
            tags,
            fields,
            external_ids,
            contacts,
            notes: new.notes,
            created_at: self.now,
            updated_at: self.now,
            deleted_at: None,
            merged_into: None,
        })
    }

    /// Folds the data of `new` into the saved party `existing` (upsert).
    fn merge_new_into(&mut self, existing: &Party, new: NewParty) -> crate::Result<()> {
        let id = existing.id;
        let key = id.to_string();
        // Everything that can fail is checked before the first write.
        let fields = self.check_fields(&new.fields)?;
        if let Some(owner) = new.owner {
            self.require_live(owner, "owner")?;
        }
        for contact in &new.contacts {
            contact.normalized()?;
            for consent in &contact.consents {
                validate_purpose(&consent.purpose)?;
            }
        }
        self.conn.execute(
            "UPDATE parties SET kind = ?2, name = ?3, name_key = ?4,
                 owner_id = coalesce(?5, owner_id), language = coalesce(?6, language),
                 currency = coalesce(?7, currency), notes = coalesce(?8, notes)
             WHERE id = ?1",
            params![
                key,
                new.kind.code(),
                new.name,
                name_key(&new.name),
                new.owner.map(|o| o.to_string()),
                new.language,
                new.currency.map(|c| c.code().to_owned()),
                new.notes,
            ],
        )?;
        if let Some(stage) = new.stage
            && existing.stage != Some(stage)
        {
            self.write_stage(id, stage, Some("upsert"))?;
        }
        let today = self.now.date_naive();
        for role in dedup(&new.roles) {
            self.insert_role(id, role, today)?;
        }
        self.insert_tags(id, &dedup(&new.tags))?;
        self.write_fields(id, &fields)?;
        let missing_ids: Vec<ExternalId> =
            new.external_ids.into_iter().filter(|e| !existing.external_ids.contains(e)).collect();
        self.insert_external_ids(id, &missing_ids)?;
        for contact in &new.contacts {
            let normalized = contact.normalized()?;
            match existing
                .contacts
                .iter()
                .find(|c| c.kind == contact.kind && c.normalized == normalized)
            {
                Some(saved) => {
                    for consent in &contact.consents {
                        let current = saved.consents.iter().find(|c| c.purpose == consent.purpose);
                        if current.is_none_or(|c| c.granted != consent.granted) {
                            self.insert_consent(
                                saved.id,
                                &consent.purpose,
                                consent.granted,
                                &consent.source,
                            )?;
                        }
                    }
                }
                None => {
                    self.insert_contact(id, contact)?;
                }
            }
        }
        self.reindex_party(id)?;
        Ok(())
    }

    fn check_fields(
        &self,
        fields: &BTreeMap<String, FieldValue>,
    ) -> crate::Result<BTreeMap<String, FieldValue>> {
        for (name, value) in fields {
            let def = self.field_def(name)?.ok_or_else(|| {
                Error::invalid(format!("field.{name}"), "no such custom field is defined")
            })?;
            def.check(value)?;
        }
        Ok(fields.clone())
    }

    fn insert_fields(
        &mut self,
        id: PartyId,
        fields: &BTreeMap<String, FieldValue>,
    ) -> crate::Result<()> {
        let fields = self.check_fields(fields)?;
        self.write_fields(id, &fields)
    }

    fn write_fields(
        &self,
        id: PartyId,
        fields: &BTreeMap<String, FieldValue>,
    ) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO party_fields (party_id, field, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (party_id, field) DO UPDATE SET value = excluded.value",
        )?;
        for (name, value) in fields {
            stmt.execute(params![id.to_string(), name, value.to_text()])?;
        }
        Ok(())
    }

    fn insert_role(&self, id: PartyId, role: Role, since: NaiveDate) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO party_roles (party_id, role, since)
             SELECT ?1, ?2, ?3 WHERE NOT EXISTS (
                 SELECT 1 FROM party_roles WHERE party_id = ?1 AND role = ?2
                 AND since <= ?3 AND (until IS NULL OR until >= ?3))",
        )?;
        stmt.execute(params![id.to_string(), role.code(), date_text(&since)])?;
        Ok(())
    }

    pub(crate) fn write_stage(
        &self,
        id: PartyId,
        stage: LifecycleStage,
        reason: Option<&str>,
    ) -> crate::Result<()> {
        self.conn.execute(
            "UPDATE parties SET stage = ?2 WHERE id = ?1",
            params![id.to_string(), stage.code()],
        )?;
        self.insert_stage_history(id, stage, reason)
    }

    fn insert_stage_history(
        &self,
        id: PartyId,
        stage: LifecycleStage,
        reason: Option<&str>,
    ) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO party_stages (party_id, stage, at, reason) VALUES (?1, ?2, ?3, ?4)",
        )?;
        stmt.execute(params![id.to_string(), stage.code(), self.now_text.as_str(), reason])?;
        Ok(())
    }

    pub(crate) fn insert_tags(&self, id: PartyId, tags: &[String]) -> crate::Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO party_tags (party_id, tag) VALUES (?1, ?2)")?;
        for tag in tags {
            crate::model::party::validate_tag(tag)?;
            stmt.execute(params![id.to_string(), tag])?;
        }
        Ok(())
    }

    fn insert_external_ids(&self, id: PartyId, external_ids: &[ExternalId]) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO external_ids (system, value, party_id) VALUES (?1, ?2, ?3)",
        )?;
        for external_id in external_ids {
            if let Some(holder) = self.external_id_holder(external_id)? {
                if holder == id {
                    continue;
                }
                return Err(Error::conflict(format!(
                    "external id {external_id} is already held by party {holder}"
                )));
            }
            stmt.execute(params![external_id.system, external_id.value, id.to_string()])?;
        }
        Ok(())
    }

    fn insert_contact(
        &self,
        id: PartyId,
        contact: &NewContactPoint,
    ) -> crate::Result<ContactPointId> {
        let normalized = contact.normalized()?;
        for consent in &contact.consents {
            validate_purpose(&consent.purpose)?;
        }
        self.write_contact(id, contact, &normalized)
    }

    /// Inserts a contact point whose value and consents were validated.
    fn write_contact(
        &self,
        id: PartyId,
        contact: &NewContactPoint,
        normalized: &str,
    ) -> crate::Result<ContactPointId> {
        let contact_id = ContactPointId::new();
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO contact_points (id, party_id, kind, value, normalized, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        stmt.execute(params![
            contact_id.to_string(),
            id.to_string(),
            contact.kind.code(),
            contact.value.trim(),
            normalized,
            contact.label,
            self.now_text.as_str(),
        ])?;
        for consent in &contact.consents {
            self.insert_consent(contact_id, &consent.purpose, consent.granted, &consent.source)?;
        }
        Ok(contact_id)
    }

    fn insert_consent(
        &self,
        contact_id: ContactPointId,
        purpose: &str,
        granted: bool,
        source: &str,
    ) -> crate::Result<()> {
        validate_purpose(purpose)?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO consents (contact_point_id, purpose, granted, source, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![
            contact_id.to_string(),
            purpose,
            granted,
            source,
            self.now_text.as_str()
        ])?;
        Ok(())
    }

    pub(crate) fn party_from_row(&self, row: &Row<'_>) -> crate::Result<Party> {
        let id: PartyId = get_parsed(row, "id")?;
        let key = id.to_string();
        let currency: Option<String> = get(row, "currency")?;
        Ok(Party {
            id,
            kind: get_parsed(row, "kind")?,
            name: get(row, "name")?,
            roles: self.roles_of(&key)?,
            stage: get_opt_parsed(row, "stage")?,
            owner: get_opt_parsed(row, "owner_id")?,
            language: get(row, "language")?,
            currency: currency.map(|c| Currency::new(&c)).transpose()?,
            tags: self.tags_of(&key)?,
            fields: self.fields_of(&key)?,
            external_ids: self.external_ids_of(&key)?,
            contacts: self.contacts_of(&key)?,
            notes: get(row, "notes")?,
            created_at: get_time(row, "created_at")?,
            updated_at: get_time(row, "updated_at")?,
            deleted_at: get_opt_time(row, "deleted_at")?,
            merged_into: get_opt_parsed(row, "merged_into")?,
        })
    }

    fn roles_of(&self, key: &str) -> crate::Result<Vec<RoleSpan>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT role, since, until FROM party_roles WHERE party_id = ?1 ORDER BY since, id",
        )?;
        collect(&mut stmt, params![key], |row| {
            Ok(RoleSpan {
                role: get_parsed(row, "role")?,
                since: parse_date(&get::<String>(row, "since")?, "since")?,
                until: get_opt_date(row, "until")?,
            })
        })
    }

    fn tags_of(&self, key: &str) -> crate::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT tag FROM party_tags WHERE party_id = ?1 ORDER BY tag")?;
        collect(&mut stmt, params![key], |row| get(row, "tag"))
    }

    fn fields_of(&self, key: &str) -> crate::Result<BTreeMap<String, FieldValue>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.name, d.type, d.enum_values, d.label, f.value
             FROM party_fields f JOIN field_defs d ON d.name = f.field
             WHERE f.party_id = ?1",
        )?;
        let pairs = collect(&mut stmt, params![key], |row| {
            let def = field_def_from_row(row)?;
            let text: String = get(row, "value")?;
            let value = def.parse(&text).map_err(|e| {
                Error::Internal(format!("stored value of field {} does not parse: {e}", def.name))
            })?;
            Ok((def.name, value))
        })?;
        Ok(pairs.into_iter().collect())
    }

    fn external_ids_of(&self, key: &str) -> crate::Result<Vec<ExternalId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT system, value FROM external_ids WHERE party_id = ?1 ORDER BY system, value",
        )?;
        collect(&mut stmt, params![key], |row| {
            Ok(ExternalId { system: get(row, "system")?, value: get(row, "value")? })
        })
    }

    fn contacts_of(&self, key: &str) -> crate::Result<Vec<ContactPoint>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, kind, value, normalized, label, created_at
             FROM contact_points WHERE party_id = ?1 ORDER BY created_at, id",
        )?;
        collect(&mut stmt, params![key], |row| self.contact_from_row(row))
    }

    fn contact_from_row(&self, row: &Row<'_>) -> crate::Result<ContactPoint> {
        let id: String = get(row, "id")?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT purpose, granted, source, at FROM consents c
             WHERE contact_point_id = ?1 AND id = (
                 SELECT max(id) FROM consents c2
                 WHERE c2.contact_point_id = c.contact_point_id AND c2.purpose = c.purpose)
             ORDER BY purpose",
        )?;
        let consents = collect(&mut stmt, params![id], |row| {
            Ok(Consent {
                purpose: get(row, "purpose")?,
                granted: get(row, "granted")?,
                source: get(row, "source")?,
                at: get_time(row, "at")?,
            })
        })?;
        Ok(ContactPoint {
            id: id.parse()?,
            party_id: get_parsed(row, "party_id")?,
            kind: get_parsed(row, "kind")?,
            value: get(row, "value")?,
            normalized: get(row, "normalized")?,
            label: get(row, "label")?,
            consents,
            created_at: get_time(row, "created_at")?,
        })
    }

    pub(crate) fn is_erased(&self, id: PartyId) -> crate::Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE entity = 'party' AND entity_id = ?1
                            AND kind = 'party.erased')",
        )?;
        Ok(stmt.query_row(params![id.to_string()], |row| row.get(0))?)
    }
}

fn field_def_from_row(row: &Row<'_>) -> crate::Result<FieldDef> {
    let name: String = get(row, "name")?;
    let type_code: String = get(row, "type")?;
    let field_type = match type_code.as_str() {
        "text" => FieldType::Text,
        "integer" => FieldType::Integer,
        "decimal" => FieldType::Decimal,
        "bool" => FieldType::Bool,
        "date" => FieldType::Date,
        "enum" => {
            let values: Option<String> = get(row, "enum_values")?;
            FieldType::Enum(serde_json::from_str(values.as_deref().unwrap_or("[]"))?)
        }
        other => {
            return Err(Error::Internal(format!("column field_defs.type: unknown code `{other}`")));
        }
    };
    Ok(FieldDef { name, field_type, label: get(row, "label")? })
}

fn validate_purpose(purpose: &str) -> crate::Result<()> {
    if crate::model::field::is_identifier(purpose) {
        Ok(())
    } else {
        Err(Error::invalid(
            "consent.purpose",
            format!("`{purpose}` must be a lower-case identifier such as marketing or service"),
        ))
    }
}

fn current_consents(
    given: &[crate::model::NewConsent],
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<Consent> {
    let mut by_purpose: BTreeMap<&str, &crate::model::NewConsent> = BTreeMap::new();
    for consent in given {
        by_purpose.insert(&consent.purpose, consent);
    }
    by_purpose
        .into_values()
        .map(|c| Consent {
            purpose: c.purpose.clone(),
            granted: c.granted,
            source: c.source.clone(),
            at,
        })
        .collect()
}

fn dedup<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut seen = BTreeSet::new();
    items.iter().filter(|item| seen.insert((*item).clone())).cloned().collect()
}
