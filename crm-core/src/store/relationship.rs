//! Relationships between parties and hierarchy queries (recursive CTEs).

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, Row, params};

use crate::Error;
use crate::model::{
    Decimal, HierarchyNode, NewRelationship, PartyId, Relationship, RelationshipId,
    RelationshipType, RollUp,
};
use crate::store::Tx;
use crate::store::codec::{collect, date_text, get, get_opt_date, get_parsed, get_time, time_text};

/// Hierarchies deeper than this are cut off (a guard, not a limit users meet).
const MAX_DEPTH: u32 = 64;

const RELATIONSHIP_COLUMNS: &str = "id, from_id, to_id, kind, role, since, until, created_at";

impl Tx<'_> {
    /// Defines a relationship type (or relabels an existing one).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad code; [`Error::Conflict`] when an existing
    /// type would change whether it is hierarchical.
    pub fn define_relationship_type(&mut self, kind: RelationshipType) -> crate::Result<()> {
        let valid = !kind.code.is_empty()
            && kind.code.len() <= 64
            && kind.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::invalid(
                "relationship_type.code",
                format!("`{}` must be lower-case letters, digits and -", kind.code),
            ));
        }
        if let Some(existing) = self.relationship_type(&kind.code)?
            && existing.hierarchical != kind.hierarchical
        {
            return Err(Error::conflict(format!(
                "relationship type `{}` exists and is {}hierarchical",
                kind.code,
                if existing.hierarchical { "" } else { "not " }
            )));
        }
        self.conn.execute(
            "INSERT INTO relationship_types (code, hierarchical, label_en, label_zh)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (code) DO UPDATE SET label_en = excluded.label_en, label_zh = excluded.label_zh",
            params![kind.code, kind.hierarchical, kind.label_en, kind.label_zh],
        )?;
        let after = serde_json::to_value(&kind)?;
        self.record_event(
            "relationship_type",
            &kind.code,
            "relationship_type.defined",
            None,
            Some(&after),
        )?;
        Ok(())
    }

    /// Every relationship type, by code.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn relationship_types(&self) -> crate::Result<Vec<RelationshipType>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, hierarchical, label_en, label_zh FROM relationship_types ORDER BY code",
        )?;
        collect(&mut stmt, [], type_from_row)
    }

    /// One relationship type.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn relationship_type(&self, code: &str) -> crate::Result<Option<RelationshipType>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, hierarchical, label_en, label_zh FROM relationship_types WHERE code = ?1",
        )?;
        let mut found = collect(&mut stmt, params![code], type_from_row)?;
        Ok(found.pop())
    }

    /// Creates a relationship edge.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown or deleted party or an unknown
    ///   type.
    /// - [`Error::Invalid`] for an edge from a party to itself or `until`
    ///   before `since`.
    /// - [`Error::Conflict`] when the edge would close a cycle in a
    ///   hierarchical type.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{NewParty, NewRelationship};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let err = crm.write(|tx| {
    ///     let a = tx.create_party(NewParty::organization("A"))?.id;
    ///     let b = tx.create_party(NewParty::organization("B"))?.id;
    ///     tx.relate(NewRelationship::new(a, "subsidiary-of", b))?;
    ///     tx.relate(NewRelationship::new(b, "subsidiary-of", a))
    /// });
    /// assert!(matches!(err, Err(crm_core::Error::Conflict { .. })));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn relate(&mut self, new: NewRelationship) -> crate::Result<Relationship> {
        let kind = self
            .relationship_type(&new.kind)?
            .ok_or_else(|| Error::not_found("relationship type", &new.kind))?;
        self.require_live(new.from, "party")?;
        self.require_live(new.to, "party")?;
        if new.from == new.to {
            return Err(Error::invalid(
                "to",
                format!("party {} cannot be related to itself", new.from),
            ));
        }
        if let (Some(since), Some(until)) = (new.since, new.until)
            && until < since
        {
            return Err(Error::invalid("until", format!("{until} is before since {since}")));
        }
        if kind.hierarchical && self.reaches(new.to, new.from, &kind.code)? {
            return Err(Error::conflict(format!(
                "{} {} {} would make a cycle: {} is already above {}",
                new.from, kind.code, new.to, new.from, new.to
            )));
        }
        let relationship = Relationship {
            id: RelationshipId::new(),
            from: new.from,
            to: new.to,
            kind: new.kind,
            role: new.role,
            since: new.since,
            until: new.until,
            created_at: self.now,
        };
        self.insert_relationship(&relationship)?;
        let after = serde_json::to_value(&relationship)?;
        self.record_event(
            "relationship",
            &relationship.id.to_string(),
            "relationship.created",
            None,
            Some(&after),
        )?;
        Ok(relationship)
    }

    /// Finds the relationship with the same ends, type and start date, if any
    /// (the natural key imports use to stay idempotent).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn find_relationship(
        &self,
        from: PartyId,
        kind: &str,
        to: PartyId,
        since: Option<NaiveDate>,
    ) -> crate::Result<Option<Relationship>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RELATIONSHIP_COLUMNS} FROM relationships
             WHERE from_id = ?1 AND kind = ?2 AND to_id = ?3 AND since IS ?4"
        ))?;
        let mut found = collect(
            &mut stmt,
            params![from.to_string(), kind, to.to_string(), since.map(|d| date_text(&d))],
            relationship_from_row,
        )?;
        Ok(found.pop())
    }

    /// Ends a relationship on `until` (its last day).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown relationship; [`Error::Invalid`] when
    /// `until` is before its start.
    pub fn end_relationship(
        &mut self,
        id: RelationshipId,
        until: NaiveDate,
    ) -> crate::Result<Relationship> {
        let role = self.get_relationship(id)?.role;
        self.change_relationship(id, role, Some(until), "relationship.ended")
    }

    /// Changes the role and end date of a relationship.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown relationship; [`Error::Invalid`] when
    /// `until` is before its start.
    pub fn update_relationship(
        &mut self,
        id: RelationshipId,
        role: Option<String>,
        until: Option<NaiveDate>,
    ) -> crate::Result<Relationship> {
        self.change_relationship(id, role, until, "relationship.updated")
    }

    fn change_relationship(
        &mut self,
        id: RelationshipId,
        role: Option<String>,
        until: Option<NaiveDate>,
        kind: &str,
    ) -> crate::Result<Relationship> {
        let before = self.get_relationship(id)?;
        if let (Some(since), Some(until)) = (before.since, until)
            && until < since
        {
            return Err(Error::invalid(
                "until",
                format!("{until} is before the relationship started ({since})"),
            ));
        }
        self.conn.execute(
            "UPDATE relationships SET role = ?2, until = ?3 WHERE id = ?1",
            params![id.to_string(), role, until.map(|d| date_text(&d))],
        )?;
        let after = self.get_relationship(id)?;
        self.record_event(
            "relationship",
            &id.to_string(),
            kind,
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok(after)
    }

    /// Deletes a relationship edge.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown relationship.
    pub fn remove_relationship(&mut self, id: RelationshipId) -> crate::Result<()> {
        let before = self.get_relationship(id)?;
        self.conn.execute("DELETE FROM relationships WHERE id = ?1", params![id.to_string()])?;
        self.record_event(
            "relationship",
            &id.to_string(),
            "relationship.removed",
            Some(&serde_json::to_value(&before)?),
            None,
        )?;
        Ok(())
    }

    /// One relationship.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_relationship(&self, id: RelationshipId) -> crate::Result<Relationship> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RELATIONSHIP_COLUMNS} FROM relationships WHERE id = ?1"
        ))?;
        let mut found = collect(&mut stmt, params![id.to_string()], relationship_from_row)?;
        found.pop().ok_or_else(|| Error::not_found("relationship", id))
    }

    /// Every relationship that touches `party` (either end), optionally only
    /// those that hold on date `at`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn relationships_of(
        &self,
        party: PartyId,
        at: Option<NaiveDate>,
    ) -> crate::Result<Vec<Relationship>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RELATIONSHIP_COLUMNS} FROM relationships
             WHERE (from_id = ?1 OR to_id = ?1)
               AND (?2 IS NULL OR ((since IS NULL OR since <= ?2) AND (until IS NULL OR until >= ?2)))
             ORDER BY created_at, id"
        ))?;
        collect(
            &mut stmt,
            params![party.to_string(), at.map(|d| date_text(&d))],
            relationship_from_row,
        )
    }

    /// The parents, grandparents, … of `party` along relationship type
    /// `kind`, nearest first, optionally only over edges that hold on `at`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn ancestors(
        &self,
        party: PartyId,
        kind: &str,
        at: Option<NaiveDate>,
    ) -> crate::Result<Vec<HierarchyNode>> {
        self.walk(party, kind, at, "from_id", "to_id")
    }

    /// The children, grandchildren, … of `party` along relationship type
    /// `kind`, nearest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{NewParty, NewRelationship};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let (group, nodes) = crm.write(|tx| {
    ///     let group = tx.create_party(NewParty::organization("Group"))?.id;
    ///     let east = tx.create_party(NewParty::organization("East"))?.id;
    ///     let shop = tx.create_party(NewParty::organization("Shop"))?.id;
    ///     tx.relate(NewRelationship::new(east, "subsidiary-of", group))?;
    ///     tx.relate(NewRelationship::new(shop, "subsidiary-of", east))?;
    ///     Ok((group, tx.descendants(group, "subsidiary-of", None)?))
    /// })?;
    /// assert_eq!(nodes.iter().map(|n| n.depth).collect::<Vec<_>>(), [1, 2]);
    /// # let _ = group;
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn descendants(
        &self,
        party: PartyId,
        kind: &str,
        at: Option<NaiveDate>,
    ) -> crate::Result<Vec<HierarchyNode>> {
        self.walk(party, kind, at, "to_id", "from_id")
    }

    /// Sums a numeric (integer or decimal) custom field over `root` and all
    /// its descendants along `kind` — e.g. the annual revenue of a group of
    /// companies. Exact: no floating point.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the field is not defined or not numeric;
    /// [`Error::NotFound`] for an unknown root.
    pub fn rollup_field(
        &self,
        root: PartyId,
        kind: &str,
        field: &str,
        at: Option<NaiveDate>,
    ) -> crate::Result<RollUp> {
        let def = self.field_def(field)?.ok_or_else(|| {
            Error::invalid(format!("field.{field}"), "no such custom field is defined")
        })?;
        if !matches!(
            def.field_type,
            crate::model::FieldType::Integer | crate::model::FieldType::Decimal
        ) {
            return Err(Error::invalid(
                format!("field.{field}"),
                format!(
                    "is a {} field; only integer and decimal fields roll up",
                    def.field_type.code()
                ),
            ));
        }
        let root_party = self.get_party(root)?;
        let descendants = self.descendants(root, kind, at)?;
        let own = root_party.fields.get(field).and_then(|v| v.as_decimal());
        let mut total = own.unwrap_or(Decimal::from_integer(0));
        let mut n_contributors = u64::from(own.is_some());
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.value FROM party_fields f JOIN parties p ON p.id = f.party_id
             WHERE f.party_id = ?1 AND f.field = ?2 AND p.deleted_at IS NULL",
        )?;
        for node in &descendants {
            let text: Option<String> = stmt
                .query_row(params![node.party_id.to_string(), field], |row| row.get(0))
                .optional()?;
            if let Some(text) = text {
                let value = Decimal::parse(&text)?;
                total = total
                    .checked_add(value)
                    .ok_or_else(|| Error::invalid(format!("field.{field}"), "the sum overflows"))?;
                n_contributors += 1;
            }
        }
        Ok(RollUp {
            root,
            own: own.unwrap_or(Decimal::from_integer(0)),
            total,
            n_contributors,
            n_descendants: descendants.len() as u64,
        })
    }

    /// True when `target` is reachable from `start` going up `kind` edges
    /// (or is `start`).
    fn reaches(&self, start: PartyId, target: PartyId, kind: &str) -> crate::Result<bool> {
        Ok(self
            .walk(start, kind, None, "from_id", "to_id")?
            .iter()
            .any(|node| node.party_id == target)
            || start == target)
    }

    /// Breadth-first walk along `kind` edges from `near` columns to `far`.
    fn walk(
        &self,
        party: PartyId,
        kind: &str,
        at: Option<NaiveDate>,
        near: &str,
        far: &str,
    ) -> crate::Result<Vec<HierarchyNode>> {
        let sql = format!(
            "WITH RECURSIVE walk (id, depth) AS (
                 SELECT ?1, 0
                 UNION
                 SELECT r.{far}, w.depth + 1 FROM relationships r JOIN walk w ON r.{near} = w.id
                 WHERE r.kind = ?2 AND w.depth < ?4
                   AND (?3 IS NULL OR ((r.since IS NULL OR r.since <= ?3)
                                       AND (r.until IS NULL OR r.until >= ?3)))
             )
             SELECT id, min(depth) AS depth FROM walk WHERE id != ?1
             GROUP BY id ORDER BY depth, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        collect(
            &mut stmt,
            params![party.to_string(), kind, at.map(|d| date_text(&d)), MAX_DEPTH],
            |row| Ok(HierarchyNode { party_id: get_parsed(row, "id")?, depth: get(row, "depth")? }),
        )
    }

    pub(crate) fn insert_relationship(&self, relationship: &Relationship) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO relationships (id, from_id, to_id, kind, role, since, until, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        stmt.execute(params![
            relationship.id.to_string(),
            relationship.from.to_string(),
            relationship.to.to_string(),
            relationship.kind,
            relationship.role,
            relationship.since.map(|d| date_text(&d)),
            relationship.until.map(|d| date_text(&d)),
            time_text(&relationship.created_at),
        ])?;
        Ok(())
    }
}

fn type_from_row(row: &Row<'_>) -> crate::Result<RelationshipType> {
    Ok(RelationshipType {
        code: get(row, "code")?,
        hierarchical: get(row, "hierarchical")?,
        label_en: get(row, "label_en")?,
        label_zh: get(row, "label_zh")?,
    })
}

pub(crate) fn relationship_from_row(row: &Row<'_>) -> crate::Result<Relationship> {
    Ok(Relationship {
        id: get_parsed(row, "id")?,
        from: get_parsed(row, "from_id")?,
        to: get_parsed(row, "to_id")?,
        kind: get(row, "kind")?,
        role: get(row, "role")?,
        since: get_opt_date(row, "since")?,
        until: get_opt_date(row, "until")?,
        created_at: get_time(row, "created_at")?,
    })
}
