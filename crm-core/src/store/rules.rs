//! Feature tables for rules, and segments.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::{Currency, Money, Page, PartyId};
use crate::rules::{Column, Condition, Dependency, Feature, FeatureTable, FieldKind, Fields};
use crate::store::Tx;
use crate::store::codec::{collect, get, get_parsed, get_time, parse_date, time_text};
use crate::store::fx::Converter;

/// The party an event is about (directly, or through its order, case or
/// interaction), as the column `party` of a query over `events e`.
const EVENT_PARTY: &str = "CASE e.entity
      WHEN 'party' THEN e.entity_id
      WHEN 'order' THEN (SELECT party_id FROM orders WHERE id = e.entity_id)
      WHEN 'case' THEN (SELECT party_id FROM cases WHERE id = e.entity_id)
      WHEN 'interaction' THEN (SELECT party_id FROM interactions WHERE id = e.entity_id)
    END AS party";

/// Days since the last order of a party that has none.
pub const NEVER_DAYS: i64 = 100_000;

/// A segment: a dynamic condition or a fixed list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Segment {
    /// Name.
    pub name: String,
    /// The CEL condition (`None` for a fixed list).
    pub condition: Option<String>,
    /// Members now.
    pub members: u64,
    /// Last full evaluation.
    pub refreshed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who entered and who left a segment in one refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SegmentChange {
    /// Parties that entered.
    pub entered: Vec<PartyId>,
    /// Parties that left.
    pub exited: Vec<PartyId>,
}

/// A chain of rules that fired one another past the depth limit.
#[derive(Debug, Clone)]
pub(crate) struct ChainTooDeep {
    /// The limit.
    pub depth: u32,
    /// The rules that fired in the last round.
    pub rules: Vec<String>,
}

fn outbox_from_row(row: &rusqlite::Row<'_>) -> crate::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: get(row, "id")?,
        party_id: get_parsed(row, "party_id")?,
        channel: get(row, "channel")?,
        address: get(row, "address")?,
        purpose: get(row, "purpose")?,
        content: get(row, "content")?,
        status: get(row, "status")?,
        reason: get(row, "reason")?,
        rule: get(row, "rule")?,
    })
}

/// An event as the rule engine reads it.
struct FiredEvent {
    seq: i64,
    entity: String,
    entity_id: String,
    kind: String,
    before: Option<String>,
    after: Option<String>,
    segment: Option<String>,
    party: Option<String>,
}

/// What a condition run for an event reads of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventContext {
    /// The entity before the event.
    pub before: Option<serde_json::Value>,
    /// The entity after the event.
    pub after: Option<serde_json::Value>,
    /// `order.total`.
    pub order_total: f64,
    /// The loyalty programme `points` and `tier` refer to.
    pub program: Option<String>,
}

impl EventContext {
    /// The attribute at a dotted path (`stage`, `fields.tier`) as text.
    fn value(&self, after: bool, path: &str) -> String {
        let doc = if after { &self.after } else { &self.before };
        let Some(doc) = doc else { return String::new() };
        let pointer = format!("/{}", path.replace('.', "/"));
        match doc.pointer(&pointer) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }
}

impl Tx<'_> {
    /// The custom fields conditions may read, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn rule_fields(&self) -> crate::Result<Fields> {
        Ok(self
            .field_defs()?
            .into_iter()
            .map(|d| (d.name.clone(), FieldKind::of(&d.field_type)))
            .collect())
    }

    /// Type-checks and compiles a condition against this database's schema.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `condition` with every problem as
    /// `line:column: message`.
    pub fn compile_condition(&self, source: &str) -> crate::Result<Condition> {
        crate::rules::compile_or_error(source, &self.rule_fields()?)
    }

    /// The features of every live party (or of one), as columns in the
    /// order of `features`, as of `today`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for a missing FX rate when a feature converts.
    pub fn feature_table(
        &self,
        features: &[Feature],
        party: Option<PartyId>,
        today: NaiveDate,
    ) -> crate::Result<FeatureTable> {
        self.feature_table_in(features, party, today, &EventContext::default())
    }

    /// [`Tx::feature_table`] with the event that fired a rule (for
    /// `changed`, `old`, `new`, `order.total`) and the loyalty programme
    /// `points` and `tier` refer to.
    pub(crate) fn feature_table_in(
        &self,
        features: &[Feature],
        party: Option<PartyId>,
        today: NaiveDate,
        context: &EventContext,
    ) -> crate::Result<FeatureTable> {
        let one = party.map(|p| p.to_string());
        // One statement text per mode: `party_id = ?1` for one party (so
        // SQLite uses the index; `?1 IS NULL OR party_id = ?1` would scan
        // every row), no filter for the whole base.
        let scope = |sql: &str| -> String {
            let mut sql = sql.to_owned();
            for column in ["o.party_id", "p.party_id", "party_id", "id"] {
                let pattern = format!("(?1 IS NULL OR {column} = ?1)");
                let replacement =
                    if one.is_some() { format!("{column} = ?1") } else { "?1 IS NULL".to_owned() };
                sql = sql.replace(&pattern, &replacement);
            }
            sql
        };
        // Only the party columns the condition reads are fetched and kept
        // (a string per party and column was most of a whole-base table's
        // memory).
        const TEXT_FEATURES: [Feature; 4] =
            [Feature::Kind, Feature::Stage, Feature::Name, Feature::Language];
        let wanted: [bool; 4] = TEXT_FEATURES.map(|f| features.contains(&f));
        let column = |k: usize, sql: &'static str| if wanted[k] { sql } else { "''" };
        let mut stmt = self.conn.prepare_cached(&scope(&format!(
            "SELECT id, {} AS kind, {} AS stage, {} AS name, {} AS language
             FROM parties WHERE deleted_at IS NULL AND (?1 IS NULL OR id = ?1) ORDER BY id",
            column(0, "kind"),
            column(1, "coalesce(stage, '')"),
            column(2, "name"),
            column(3, "coalesce(language, '')"),
        )))?;
        let mut parties: Vec<PartyId> = Vec::new();
        let mut texts: [Vec<String>; 4] = Default::default();
        {
            let mut rows = stmt.query(params![one])?;
            while let Some(row) = rows.next()? {
                parties.push(get_parsed::<PartyId>(row, "id")?);
                for (k, name) in ["kind", "stage", "name", "language"].into_iter().enumerate() {
                    if wanted[k] {
                        texts[k].push(get::<String>(row, name)?);
                    }
                }
            }
        }
        let index: HashMap<PartyId, usize> =
            parties.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let n = parties.len();
        // A text column goes to the table once; a feature listed twice gets a copy.
        let mut text_column = |feature: Feature| -> Column {
            let k = TEXT_FEATURES.iter().position(|f| *f == feature).unwrap_or(0);
            if features.iter().filter(|f| **f == feature).count() > 1 {
                Column::Str(texts[k].clone())
            } else {
                Column::Str(std::mem::take(&mut texts[k]))
            }
        };
        let start = |days: i64| {
            time_text(
                &(today - chrono::Duration::days(days)).and_time(chrono::NaiveTime::MIN).and_utc(),
            )
        };
        // Runs a per-party query and writes each (party, value) into a column.
        let per_party = |sql: &str,
                         args: &[&dyn rusqlite::ToSql]|
         -> crate::Result<Vec<(usize, rusqlite::types::Value)>> {
            let mut stmt = self.conn.prepare_cached(&scope(sql))?;
            let mut rows = stmt.query(args)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                // Read in place: no string per row.
                let id = row.get_ref(0)?.as_str().ok().and_then(|t| t.parse::<PartyId>().ok());
                if let Some(i) = id.and_then(|id| index.get(&id)) {
                    out.push((*i, row.get(1)?));
                }
            }
            Ok(out)
        };
        let as_i64 = |v: &rusqlite::types::Value| match v {
            rusqlite::types::Value::Integer(i) => *i,
            rusqlite::types::Value::Real(r) => *r as i64,
            rusqlite::types::Value::Text(t) => t.parse().unwrap_or(0),
            _ => 0,
        };
        let as_f64 = |v: &rusqlite::types::Value| match v {
            rusqlite::types::Value::Integer(i) => *i as f64,
            rusqlite::types::Value::Real(r) => *r,
            rusqlite::types::Value::Text(t) => t.parse().unwrap_or(0.0),
            _ => 0.0,
        };
        let mut columns = Vec::with_capacity(features.len());
        for feature in features {
            let column = match feature {
                Feature::Kind | Feature::Stage | Feature::Name | Feature::Language => {
                    text_column(feature.clone())
                }
                Feature::Tags | Feature::Roles => {
                    let sql = if *feature == Feature::Tags {
                        "SELECT party_id, tag FROM party_tags WHERE (?1 IS NULL OR party_id = ?1)"
                    } else {
                        "SELECT party_id, role FROM party_roles WHERE (?1 IS NULL OR party_id = ?1)
                           AND substr(since, 1, 10) <= ?2 AND (until IS NULL OR until > ?2)"
                    };
                    let today_text = today.format("%Y-%m-%d").to_string();
                    let rows = if *feature == Feature::Tags {
                        per_party(sql, &[&one])?
                    } else {
                        per_party(sql, &[&one, &today_text])?
                    };
                    let mut lists = vec![Vec::new(); n];
                    for (i, v) in rows {
                        if let rusqlite::types::Value::Text(t) = v {
                            lists[i].push(t);
                        }
                    }
                    Column::List(lists)
                }
                Feature::Field(name, kind) => {
                    let rows = per_party(
                        "SELECT party_id, value FROM party_fields WHERE field = ?2 AND (?1 IS NULL OR party_id = ?1)",
                        &[&one, name],
                    )?;
                    match kind {
                        FieldKind::Text => {
                            let mut v = vec![String::new(); n];
                            for (i, value) in rows {
                                if let rusqlite::types::Value::Text(t) = value {
                                    v[i] = t;
                                }
                            }
                            Column::Str(v)
                        }
                        FieldKind::Int => {
                            let mut v = vec![0; n];
                            for (i, value) in rows {
                                v[i] = as_i64(&value);
                            }
                            Column::Int(v)
                        }
                        FieldKind::Double => {
                            let mut v = vec![0.0; n];
                            for (i, value) in rows {
                                v[i] = as_f64(&value);
                            }
                            Column::Double(v)
                        }
                        FieldKind::Bool => {
                            let mut v = vec![false; n];
                            for (i, value) in rows {
                                v[i] = matches!(&value, rusqlite::types::Value::Text(t) if t == "true")
                                    || matches!(&value, rusqlite::types::Value::Integer(1));
                            }
                            Column::Bool(v)
                        }
                    }
                }
                Feature::Consent(kind, purpose) => {
                    let rows = per_party(
                        "SELECT p.party_id, 1 FROM contact_points p
                         WHERE p.kind = ?2 AND (?1 IS NULL OR p.party_id = ?1)
                           AND (SELECT c.granted FROM consents c WHERE c.contact_point_id = p.id AND c.purpose = ?3
                                ORDER BY c.id DESC LIMIT 1) = 1",
                        &[&one, kind, purpose],
                    )?;
                    let mut v = vec![false; n];
                    for (i, _) in rows {
                        v[i] = true;
                    }
                    Column::Bool(v)
                }
                Feature::Score(name) | Feature::HasScore(name) => {
                    let rows = per_party(
                        "SELECT party_id, value FROM party_scores WHERE name = ?2 AND (?1 IS NULL OR party_id = ?1)",
                        &[&one, name],
                    )?;
                    if matches!(feature, Feature::Score(_)) {
                        let mut v = vec![0.0; n];
                        for (i, value) in rows {
                            v[i] = as_f64(&value);
                        }
                        Column::Double(v)
                    } else {
                        let mut v = vec![false; n];
                        for (i, _) in rows {
                            v[i] = true;
                        }
                        Column::Bool(v)
                    }
                }
                Feature::OrdersCount(days) => {
                    let rows = per_party(
                        "SELECT party_id, count(*) FROM orders
                         WHERE status NOT IN ('draft', 'cancelled') AND ordered_at >= ?2 AND (?1 IS NULL OR party_id = ?1)
                         GROUP BY party_id",
                        &[&one, &start(*days)],
                    )?;
                    let mut v = vec![0; n];
                    for (i, value) in rows {
                        v[i] = as_i64(&value);
                    }
                    Column::Int(v)
                }
                Feature::OrdersRevenue(days, currency) => {
                    let target = Currency::new(currency)?;
                    let mut converter = Converter::new(self, target);
                    let mut stmt = self.conn.prepare_cached(&scope(
                        "SELECT o.party_id, o.currency, substr(o.ordered_at, 1, 10) AS day, sum(l.net) AS net
                         FROM orders o JOIN order_lines l ON l.order_id = o.id
                         WHERE o.status NOT IN ('draft', 'cancelled') AND o.ordered_at >= ?2
                           AND (?1 IS NULL OR o.party_id = ?1)
                         GROUP BY o.party_id, o.currency, day",
                    ))?;
                    let rows = collect(&mut stmt, params![one, start(*days)], |row| {
                        Ok((
                            get_parsed::<PartyId>(row, "party_id")?,
                            get_parsed::<Currency>(row, "currency")?,
                            parse_date(&get::<String>(row, "day")?, "ordered_at")?,
                            get::<i64>(row, "net")?,
                        ))
                    })?;
                    let mut v = vec![0.0; n];
                    for (party, c, day, net) in rows {
                        if let Some(i) = index.get(&party) {
                            let converted = converter.convert(Money::new(net, c), day)?;
                            v[*i] += converted.minor() as f64 / target.minor_per_major() as f64;
                        }
                    }
                    Column::Double(v)
                }
                Feature::DaysSinceLastOrder => {
                    let rows = per_party(
                        "SELECT party_id, max(substr(ordered_at, 1, 10)) FROM orders
                         WHERE status NOT IN ('draft', 'cancelled') AND (?1 IS NULL OR party_id = ?1) GROUP BY party_id",
                        &[&one],
                    )?;
                    let mut v = vec![NEVER_DAYS; n];
                    for (i, value) in rows {
                        if let rusqlite::types::Value::Text(t) = value {
                            v[i] = (today - parse_date(&t, "ordered_at")?).num_days();
                        }
                    }
                    Column::Int(v)
                }
                Feature::CasesOpen => {
                    let rows = per_party(
                        "SELECT party_id, count(*) FROM cases WHERE status NOT IN ('resolved', 'closed')
                           AND (?1 IS NULL OR party_id = ?1) GROUP BY party_id",
                        &[&one],
                    )?;
                    let mut v = vec![0; n];
                    for (i, value) in rows {
                        v[i] = as_i64(&value);
                    }
                    Column::Int(v)
                }
                Feature::Points | Feature::Tier => {
                    let program: Option<String> = match &context.program {
                        Some(p) => Some(p.clone()),
                        None => self
                            .conn
                            .prepare_cached("SELECT name FROM loyalty_programs ORDER BY created_at, name LIMIT 1")?
                            .query_row([], |row| row.get(0))
                            .optional()?,
                    };
                    if *feature == Feature::Points {
                        let rows = per_party(
                            "SELECT party_id, sum(points) FROM loyalty_ledger WHERE program = ?2
                               AND (?1 IS NULL OR party_id = ?1) GROUP BY party_id",
                            &[&one, &program],
                        )?;
                        let mut v = vec![0; n];
                        for (i, value) in rows {
                            v[i] = as_i64(&value);
                        }
                        Column::Int(v)
                    } else {
                        let rows = per_party(
                            "SELECT party_id, tier FROM loyalty_members WHERE program = ?2
                               AND (?1 IS NULL OR party_id = ?1)",
                            &[&one, &program],
                        )?;
                        let mut v = vec![String::new(); n];
                        for (i, value) in rows {
                            if let rusqlite::types::Value::Text(t) = value {
                                v[i] = t;
                            }
                        }
                        Column::Str(v)
                    }
                }
                Feature::Changed(path) => {
                    let (old, new) = (context.value(false, path), context.value(true, path));
                    Column::Bool(vec![context.after.is_some() && old != new; n])
                }
                Feature::Old(path) => Column::Str(vec![context.value(false, path); n]),
                Feature::New(path) => Column::Str(vec![context.value(true, path); n]),
                Feature::OrderTotal => Column::Double(vec![context.order_total; n]),
                Feature::Interactions(channel, days) => {
                    let rows = per_party(
                        "SELECT party_id, count(*) FROM interactions WHERE at >= ?2 AND (?3 IS NULL OR channel = ?3)
                           AND (?1 IS NULL OR party_id = ?1) GROUP BY party_id",
                        &[&one, &start(*days), channel],
                    )?;
                    let mut v = vec![0; n];
                    for (i, value) in rows {
                        v[i] = as_i64(&value);
                    }
                    Column::Int(v)
                }
            };
            columns.push(column);
        }
        Ok(FeatureTable { parties, columns })
    }

    /// The live parties a condition holds for, evaluated over the whole base
    /// as of the transaction's day.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a condition that does not type-check (with
    /// line:column); [`Error::NotFound`] for a missing FX rate.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{NewParty, Role};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// crm.write(|tx| {
    ///     tx.create_party(NewParty::person("A").with_role(Role::Customer).with_tag("vip"))?;
    ///     tx.create_party(NewParty::person("B").with_role(Role::Prospect))?;
    ///     Ok(())
    /// })?;
    /// let vips = crm.read(|tx| tx.matching_parties(r#""vip" in tags && "customer" in roles"#))?;
    /// assert_eq!(vips.len(), 1);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn matching_parties(&self, condition: &str) -> crate::Result<Vec<PartyId>> {
        let condition = self.compile_condition(condition)?;
        let table = self.feature_table(condition.features(), None, self.now.date_naive())?;
        let hits = condition.eval_all(&table);
        Ok(table.parties.iter().zip(hits).filter(|(_, hit)| *hit).map(|(p, _)| *p).collect())
    }

    /// Whether a condition holds for one party (the same evaluation as the
    /// whole-base one, on that party's row).
    ///
    /// # Errors
    ///
    /// As [`Tx::matching_parties`]; [`Error::NotFound`] for an unknown or
    /// deleted party.
    pub fn party_matches(&self, party: PartyId, condition: &Condition) -> crate::Result<bool> {
        let table = self.feature_table(condition.features(), Some(party), self.now.date_naive())?;
        if table.parties.is_empty() {
            return Err(Error::not_found("party", party));
        }
        Ok(condition.eval(&table, 0))
    }

    /// Creates a segment: dynamic (a CEL condition) or fixed (a list of
    /// parties). A dynamic segment is evaluated at once.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] for an empty name or a condition that does not
    ///   type-check.
    /// - [`Error::Conflict`] when the name is taken.
    /// - [`Error::NotFound`] for an unknown party in a fixed list.
    pub fn create_segment(
        &mut self,
        name: &str,
        condition: Option<&str>,
        members: &[PartyId],
    ) -> crate::Result<SegmentChange> {
        if name.trim().is_empty() {
            return Err(Error::invalid("name", "a segment needs a name"));
        }
        if self.find_segment(name)?.is_some() {
            return Err(Error::conflict(format!("segment `{name}` exists")));
        }
        if let Some(condition) = condition
            && self.compile_condition(condition)?.reads_event()
        {
            return Err(Error::invalid(
                "condition",
                "changed(), old(), new() and order.total read the event that fired a rule; a segment has none",
            ));
        }
        if let Some(condition) = condition {
            self.compile_condition(condition)?;
        }
        for party in members {
            self.require_live(*party, "party")?;
        }
        self.conn.execute(
            "INSERT INTO segments (name, condition, created_at) VALUES (?1, ?2, ?3)",
            params![name, condition, self.now_text.as_str()],
        )?;
        self.record_event(
            "segment",
            name,
            "segment.created",
            None,
            Some(&serde_json::json!({ "name": name, "condition": condition, "members": members.len() })),
        )?;
        match condition {
            Some(_) => self.refresh_segment(name),
            None => {
                let target: BTreeSet<PartyId> = members.iter().copied().collect();
                self.apply_membership(name, &target, None)
            }
        }
    }

    fn find_segment(&self, name: &str) -> crate::Result<Option<Segment>> {
        let found: Option<(Option<String>, Option<String>)> = self
            .conn
            .prepare_cached("SELECT condition, refreshed_at FROM segments WHERE name = ?1")?
            .query_row(params![name], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((condition, refreshed_at)) = found else { return Ok(None) };
        let members: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM segment_members WHERE segment = ?1")?
            .query_row(params![name], |row| row.get(0))?;
        Ok(Some(Segment {
            name: name.to_owned(),
            condition,
            members: members as u64,
            refreshed_at: refreshed_at
                .map(|t| crate::store::codec::parse_time(&t, "refreshed_at"))
                .transpose()?,
        }))
    }

    /// A segment.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn segment(&self, name: &str) -> crate::Result<Segment> {
        self.find_segment(name)?.ok_or_else(|| Error::not_found("segment", name))
    }

    /// Every segment, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn segments(&self) -> crate::Result<Vec<Segment>> {
        let mut stmt = self.conn.prepare_cached("SELECT name FROM segments ORDER BY name")?;
        let names: Vec<String> = collect(&mut stmt, params![], |row| get(row, "name"))?;
        names.iter().map(|n| self.segment(n)).collect()
    }

    /// Re-evaluates a dynamic segment over the whole base: parties that now
    /// match enter, parties that no longer do leave (each with a
    /// `segment.entered` / `segment.exited` event and a history row).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown segment; [`Error::Invalid`] for a
    /// fixed one.
    pub fn refresh_segment(&mut self, name: &str) -> crate::Result<SegmentChange> {
        let segment = self.segment(name)?;
        let Some(condition) = segment.condition else {
            return Err(Error::invalid("segment", format!("segment `{name}` is a fixed list")));
        };
        let target: BTreeSet<PartyId> = self.matching_parties(&condition)?.into_iter().collect();
        let change = self.apply_membership(name, &target, None)?;
        self.conn.execute(
            "UPDATE segments SET refreshed_at = ?2 WHERE name = ?1",
            params![name, self.now_text.as_str()],
        )?;
        Ok(change)
    }

    /// Brings stored membership to `target` (for all parties, or only for
    /// those in `only`), with events and history.
    fn apply_membership(
        &mut self,
        name: &str,
        target: &BTreeSet<PartyId>,
        only: Option<&BTreeSet<PartyId>>,
    ) -> crate::Result<SegmentChange> {
        // Only the members in scope are read: an incremental update costs
        // what the touched parties cost, not what the segment holds.
        let current: BTreeSet<PartyId> = match only {
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT party_id FROM segment_members WHERE segment = ?1")?;
                collect(&mut stmt, params![name], |row| get_parsed(row, "party_id"))?
                    .into_iter()
                    .collect()
            }
            Some(parties) => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT 1 FROM segment_members WHERE segment = ?1 AND party_id = ?2",
                )?;
                let mut current = BTreeSet::new();
                for party in parties {
                    if stmt.exists(params![name, party.to_string()])? {
                        current.insert(*party);
                    }
                }
                current
            }
        };
        let in_scope = |p: &PartyId| only.is_none_or(|o| o.contains(p));
        let change = SegmentChange {
            entered: target
                .iter()
                .filter(|p| in_scope(p) && !current.contains(p))
                .copied()
                .collect(),
            exited: current
                .iter()
                .filter(|p| in_scope(p) && !target.contains(p))
                .copied()
                .collect(),
        };
        for party in &change.entered {
            let key = party.to_string();
            self.conn
                .prepare_cached(
                    "INSERT INTO segment_members (segment, party_id, since) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![name, key, self.now_text.as_str()])?;
            self.conn
                .prepare_cached("INSERT INTO segment_history (segment, party_id, entered_at) VALUES (?1, ?2, ?3)")?
                .execute(params![name, key, self.now_text.as_str()])?;
            self.record_event(
                "party",
                &key,
                "segment.entered",
                None,
                Some(&serde_json::json!({ "segment": name })),
            )?;
        }
        for party in &change.exited {
            let key = party.to_string();
            self.conn
                .prepare_cached("DELETE FROM segment_members WHERE segment = ?1 AND party_id = ?2")?
                .execute(params![name, key])?;
            self.conn
                .prepare_cached(
                    "UPDATE segment_history SET exited_at = ?3 WHERE segment = ?1 AND party_id = ?2 AND exited_at IS NULL",
                )?
                .execute(params![name, key, self.now_text.as_str()])?;
            self.record_event(
                "party",
                &key,
                "segment.exited",
                None,
                Some(&serde_json::json!({ "segment": name })),
            )?;
        }
        Ok(change)
    }

    /// Members of a segment, paged, in party-id order.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown segment.
    pub fn segment_members(
        &self,
        name: &str,
        offset: u64,
        limit: u64,
    ) -> crate::Result<Page<PartyId>> {
        let segment = self.segment(name)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT party_id FROM segment_members WHERE segment = ?1 ORDER BY party_id LIMIT ?2 OFFSET ?3",
        )?;
        let items = collect(
            &mut stmt,
            params![name, crate::store::event::limit_param(limit), offset as i64],
            |row| get_parsed(row, "party_id"),
        )?;
        Ok(Page { items, total: segment.members })
    }

    /// A party's segment history: (segment, entered, exited), oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    #[allow(clippy::type_complexity)]
    pub fn segment_history(
        &self,
        party: PartyId,
    ) -> crate::Result<
        Vec<(String, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)>,
    > {
        let mut stmt = self.conn.prepare_cached(
            "SELECT segment, entered_at, exited_at FROM segment_history WHERE party_id = ?1 ORDER BY id",
        )?;
        collect(&mut stmt, params![party.to_string()], |row| {
            Ok((
                get(row, "segment")?,
                get_time(row, "entered_at")?,
                crate::store::codec::get_opt_time(row, "exited_at")?,
            ))
        })
    }

    /// Incremental maintenance: reads the events since the last sync,
    /// finds the parties they changed and what kind of feature changed, and
    /// re-evaluates only those parties' dynamic segments that read such a
    /// feature. Segments whose features change with time alone (windows,
    /// days since) are refreshed in full. Returns the segments touched.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage), or a missing FX rate.
    pub fn sync_segments(&mut self) -> crate::Result<u64> {
        let cursor: i64 = self
            .conn
            .prepare_cached("SELECT value FROM crm_meta WHERE key = 'segments.cursor'")?
            .query_row([], |row| row.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let last = self.last_event_seq()?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT e.entity, e.entity_id, e.kind, {EVENT_PARTY}
             FROM events e WHERE e.seq > ?1 AND e.seq <= ?2"
        ))?;
        let changes = collect(&mut stmt, params![cursor, last], |row| {
            Ok((
                get::<String>(row, "entity")?,
                get::<String>(row, "kind")?,
                get::<Option<String>>(row, "party")?,
            ))
        })?;
        let mut touched: HashMap<Dependency, BTreeSet<PartyId>> = HashMap::new();
        let mut everyone: BTreeSet<Dependency> = BTreeSet::new();
        for (entity, kind, party) in changes {
            if kind.starts_with("segment.") {
                continue;
            }
            let dependency = match (entity.as_str(), kind.as_str()) {
                ("party", "party.score_set") => Dependency::Scores,
                ("party", _) => Dependency::Party,
                ("order", _) => Dependency::Orders,
                ("case", _) => Dependency::Cases,
                ("interaction", _) => Dependency::Interactions,
                ("score", _) => {
                    everyone.insert(Dependency::Scores);
                    continue;
                }
                _ => continue,
            };
            if let Some(party) = party.and_then(|p| p.parse().ok()) {
                touched.entry(dependency).or_default().insert(party);
            }
        }
        let mut refreshed = 0;
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, condition FROM segments WHERE condition IS NOT NULL ORDER BY name",
        )?;
        let dynamic = collect(&mut stmt, params![], |row| {
            Ok((get::<String>(row, "name")?, get::<String>(row, "condition")?))
        })?;
        let fields = self.rule_fields()?;
        for (name, source) in dynamic {
            let condition = crate::rules::compile_or_error(&source, &fields)?;
            let deps: BTreeSet<Dependency> =
                condition.features().iter().map(Feature::depends_on).collect();
            let timed = condition.features().iter().any(Feature::depends_on_time);
            if timed || deps.iter().any(|d| everyone.contains(d)) {
                self.refresh_segment(&name)?;
                refreshed += 1;
                continue;
            }
            let parties: BTreeSet<PartyId> =
                deps.iter().filter_map(|d| touched.get(d)).flatten().copied().collect();
            if parties.is_empty() {
                continue;
            }
            let mut target = BTreeSet::new();
            for party in &parties {
                if self.require_live(*party, "party").is_ok()
                    && self.party_matches(*party, &condition)?
                {
                    target.insert(*party);
                }
            }
            self.apply_membership(&name, &target, Some(&parties))?;
            refreshed += 1;
        }
        self.conn.execute(
            "INSERT INTO crm_meta (key, value) VALUES ('segments.cursor', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![self.last_event_seq()?.to_string()],
        )?;
        Ok(refreshed)
    }
}

/// The default number of rounds a chain of rules may run: a write whose
/// rules still fire after that many rounds (a cycle) fails, is rolled back,
/// and leaves a `rule.depth_exceeded` event naming the rules.
pub const MAX_RULE_DEPTH: u32 = 5;

/// A queued or suppressed message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxMessage {
    /// Sequence number.
    pub id: i64,
    /// The party.
    pub party_id: PartyId,
    /// Contact kind.
    pub channel: String,
    /// The address sent to (`None` when suppressed).
    pub address: Option<String>,
    /// Consent purpose.
    pub purpose: String,
    /// Rendered content.
    pub content: String,
    /// `queued` or `suppressed`.
    pub status: String,
    /// Why it was suppressed.
    pub reason: Option<String>,
    /// The rule that sent it.
    pub rule: Option<String>,
}

impl Tx<'_> {
    /// Creates a rule. Its condition must type-check, its templates may
    /// only name known placeholders and its custom fields must exist, and a
    /// segment it watches must exist.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the problem; [`Error::Conflict`] for a
    /// taken name; [`Error::NotFound`] for an unknown segment.
    pub fn create_rule(&mut self, rule: crate::rules::NewRule) -> crate::Result<()> {
        use crate::rules::{Action, Trigger};
        if rule.name.trim().is_empty() {
            return Err(Error::invalid("name", "a rule needs a name"));
        }
        if let Some(condition) = &rule.condition {
            self.compile_condition(condition)?;
        }
        if let Trigger::SegmentEnter(s) | Trigger::SegmentExit(s) = &rule.trigger {
            self.segment(s)?;
        }
        if let Some(condition) = &rule.condition {
            let compiled = self.compile_condition(condition)?;
            if compiled.reads_event() && !matches!(rule.trigger, Trigger::Event(_)) {
                return Err(Error::invalid(
                    "condition",
                    "changed(), old(), new() and order.total read the event that fired the rule; only rules triggered by an event have one",
                ));
            }
        }
        if rule.trigger == Trigger::EveryHours(0) {
            return Err(Error::invalid(
                "trigger",
                "a schedule needs at least one hour between runs",
            ));
        }
        let defs = self.field_defs()?;
        for action in &rule.actions {
            match action {
                Action::Send { template, .. } => self.check_template(template)?,
                Action::SetField { field, value } => {
                    let def = defs.iter().find(|d| d.name == *field).ok_or_else(|| {
                        Error::invalid("action", format!("unknown custom field `{field}`"))
                    })?;
                    def.parse(value)?;
                }
                Action::AwardPoints { program, points, reason } => {
                    self.loyalty_program(program)?;
                    if *points == 0 || reason.trim().is_empty() {
                        return Err(Error::invalid(
                            "action",
                            "award_points needs non-zero points and a reason",
                        ));
                    }
                }
                Action::EnrolInCampaign { campaign } => {
                    self.campaign(campaign)?;
                }
                Action::Tag { tag } | Action::Untag { tag } if tag.trim().is_empty() => {
                    return Err(Error::invalid("action", "a tag cannot be empty"));
                }
                _ => {}
            }
        }
        let exists: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM rules WHERE name = ?1")?
            .query_row(params![rule.name], |row| row.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(Error::conflict(format!("rule `{}` exists", rule.name)));
        }
        let definition = serde_json::to_string(&rule)?;
        self.conn.execute(
            "INSERT INTO rules (name, definition, created_at) VALUES (?1, ?2, ?3)",
            params![rule.name, definition, self.now_text.as_str()],
        )?;
        if let Trigger::EveryHours(hours) = rule.trigger {
            let next = self.now + chrono::Duration::hours(i64::from(hours));
            self.conn.execute(
                "INSERT INTO rule_schedule (rule, next_at) VALUES (?1, ?2)",
                params![rule.name, time_text(&next)],
            )?;
        }
        self.record_event(
            "rule",
            &rule.name,
            "rule.created",
            None,
            Some(&serde_json::to_value(&rule)?),
        )?;
        Ok(())
    }

    /// Every enabled rule.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn rules(&self) -> crate::Result<Vec<crate::rules::NewRule>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT definition FROM rules WHERE enabled = 1 ORDER BY name")?;
        collect(&mut stmt, params![], |row| {
            serde_json::from_str(&get::<String>(row, "definition")?)
                .map_err(|e| Error::Internal(format!("rules.definition: {e}")))
        })
    }

    /// The messages to one party, oldest first (for its export).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn outbox_of(&self, party: PartyId) -> crate::Result<Vec<OutboxMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, channel, address, purpose, content, status, reason, rule FROM outbox
             WHERE party_id = ?1 ORDER BY id",
        )?;
        collect(&mut stmt, params![party.to_string()], outbox_from_row)
    }

    /// The segments a party is in now, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn segments_of(&self, party: PartyId) -> crate::Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT segment FROM segment_members WHERE party_id = ?1 ORDER BY segment",
        )?;
        collect(&mut stmt, params![party.to_string()], |row| get(row, "segment"))
    }

    /// Messages in the outbox with a status (`queued` or `suppressed`),
    /// oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn outbox(&self, status: &str, limit: u64) -> crate::Result<Vec<OutboxMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, channel, address, purpose, content, status, reason, rule FROM outbox
             WHERE status = ?1 ORDER BY id LIMIT ?2",
        )?;
        collect(
            &mut stmt,
            params![status, crate::store::event::limit_param(limit)],
            outbox_from_row,
        )
    }

    /// How many rounds a chain of rules may run before it stops with a
    /// `rule.depth_exceeded` event ([`MAX_RULE_DEPTH`] unless set).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn rule_depth(&self) -> crate::Result<u32> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM crm_meta WHERE key = 'rules.max_depth'")?
            .query_row([], |row| row.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(MAX_RULE_DEPTH))
    }

    /// Sets how many rounds a chain of rules may run (1 to 100), for every
    /// process that opens this database.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] outside 1..=100.
    pub fn set_rule_depth(&mut self, depth: u32) -> crate::Result<()> {
        if !(1..=100).contains(&depth) {
            return Err(Error::invalid("depth", format!("{depth} is not in 1..=100")));
        }
        self.conn.execute(
            "INSERT INTO crm_meta (key, value) VALUES ('rules.max_depth', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![depth.to_string()],
        )?;
        Ok(())
    }

    /// Fires the rules for the events after `since` (and for the events
    /// their actions append, round after round, up to
    /// [`Tx::rule_depth`]), earns loyalty points for orders and keeps
    /// segments current. Called by every write before it commits, so
    /// actions share the transaction of the change that fired them.
    /// Returns the chain when rules still fire after the last round: the
    /// caller rolls the write back and records the error event.
    pub(crate) fn fire_rules(&mut self, since: i64) -> crate::Result<Option<ChainTooDeep>> {
        use crate::rules::Trigger;
        let (has_rules, has_segments, has_programs): (i64, i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM rules WHERE enabled = 1),
                        (SELECT count(*) FROM segments), (SELECT count(*) FROM loyalty_programs)",
            )?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        if has_rules == 0 && has_segments == 0 && has_programs == 0 {
            return Ok(None);
        }
        let rules: Vec<_> = self
            .rules()?
            .into_iter()
            .filter(|r| !matches!(r.trigger, Trigger::EveryHours(_)))
            .collect();
        let max_depth = self.rule_depth()?;
        let mut cursor = since;
        let mut fired_last_round: BTreeSet<String> = BTreeSet::new();
        for depth in 0..=max_depth {
            if has_segments > 0 {
                self.sync_segments()?;
            }
            let last = self.last_event_seq()?;
            if last <= cursor || (rules.is_empty() && has_programs == 0) {
                return Ok(None);
            }
            if depth == max_depth {
                // Only a round that fired rules makes a chain.
                if !fired_last_round.is_empty() {
                    return Ok(Some(ChainTooDeep {
                        depth: max_depth,
                        rules: fired_last_round.into_iter().collect(),
                    }));
                }
                return Ok(None);
            }
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT e.seq, e.entity, e.entity_id, e.kind, e.before, e.after,
                        json_extract(e.after, '$.segment') AS segment, {EVENT_PARTY}
                 FROM events e WHERE e.seq > ?1 AND e.seq <= ?2 ORDER BY e.seq"
            ))?;
            let events = collect(&mut stmt, params![cursor, last], |row| {
                Ok(FiredEvent {
                    seq: get(row, "seq")?,
                    entity: get(row, "entity")?,
                    entity_id: get(row, "entity_id")?,
                    kind: get(row, "kind")?,
                    before: get(row, "before")?,
                    after: get(row, "after")?,
                    segment: get(row, "segment")?,
                    party: get(row, "party")?,
                })
            })?;
            cursor = last;
            fired_last_round.clear();
            for event in events {
                let Some(party) = event.party.as_deref().and_then(|p| p.parse::<PartyId>().ok())
                else {
                    continue;
                };
                if self.require_live(party, "party").is_err() {
                    continue;
                }
                let order = if event.entity == "order" {
                    event.entity_id.parse::<crate::model::OrderId>().ok()
                } else {
                    None
                };
                if let Some(order) = order
                    && has_programs > 0
                {
                    self.earn_for_order(order)?;
                }
                let mut context = None;
                for rule in &rules {
                    let fires = match &rule.trigger {
                        Trigger::Event(k) => *k == event.kind,
                        Trigger::SegmentEnter(s) => {
                            event.kind == "segment.entered"
                                && event.segment.as_deref() == Some(s.as_str())
                        }
                        Trigger::SegmentExit(s) => {
                            event.kind == "segment.exited"
                                && event.segment.as_deref() == Some(s.as_str())
                        }
                        Trigger::EveryHours(_) => false,
                    };
                    if !fires || self.fired(&rule.name, event.seq, party)? {
                        continue;
                    }
                    if let Some(condition) = &rule.condition {
                        let condition = self.compile_condition(condition)?;
                        if context.is_none() {
                            context = Some(self.event_context(&event, order)?);
                        }
                        let context = context
                            .as_ref()
                            .ok_or_else(|| Error::Internal("event context missing".into()))?;
                        let table = self.feature_table_in(
                            condition.features(),
                            Some(party),
                            self.now.date_naive(),
                            context,
                        )?;
                        if table.parties.is_empty() || !condition.eval(&table, 0) {
                            continue;
                        }
                    }
                    self.record_firing(&rule.name, event.seq, party)?;
                    self.apply_actions(&rule.name, party, &rule.actions)?;
                    fired_last_round.insert(rule.name.clone());
                }
            }
            if fired_last_round.is_empty() && has_segments == 0 && has_programs == 0 {
                return Ok(None);
            }
        }
        Ok(None)
    }

    fn fired(&self, rule: &str, seq: i64, party: PartyId) -> crate::Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM rule_firings WHERE rule = ?1 AND event_seq = ?2 AND party_id = ?3",
            )?
            .query_row(params![rule, seq, party.to_string()], |row| row.get::<_, i64>(0))
            .optional()?
            .is_some())
    }

    fn record_firing(&self, rule: &str, seq: i64, party: PartyId) -> crate::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO rule_firings (rule, event_seq, party_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![rule, seq, party.to_string()])?;
        Ok(())
    }

    fn event_context(
        &self,
        event: &FiredEvent,
        order: Option<crate::model::OrderId>,
    ) -> crate::Result<EventContext> {
        let parse = |text: &Option<String>| {
            text.as_deref().map(serde_json::from_str::<serde_json::Value>).transpose()
        };
        let order_total = match order {
            Some(order) => {
                let order = self.get_order(order)?;
                order.revenue.minor() as f64 / order.currency.minor_per_major() as f64
            }
            None => 0.0,
        };
        Ok(EventContext {
            before: parse(&event.before)?,
            after: parse(&event.after)?,
            order_total,
            program: None,
        })
    }

    /// Runs the scheduled rules that are due at the transaction's time:
    /// each applies its actions to every party its condition holds for,
    /// once per run. Returns the number of parties acted on.
    pub(crate) fn run_scheduled_rules(&mut self) -> crate::Result<u64> {
        use crate::rules::Trigger;
        let mut stmt = self.conn.prepare_cached(
            "SELECT rule, next_at FROM rule_schedule WHERE next_at <= ?1 ORDER BY rule",
        )?;
        let due = collect(&mut stmt, params![self.now_text.as_str()], |row| {
            Ok((get::<String>(row, "rule")?, get_time(row, "next_at")?))
        })?;
        let mut acted = 0;
        for (name, mut next) in due {
            let Some(rule) = self.rules()?.into_iter().find(|r| r.name == name) else { continue };
            let Trigger::EveryHours(hours) = rule.trigger else { continue };
            let seq = self.record_event(
                "rule",
                &rule.name,
                "rule.scheduled_run",
                None,
                Some(&serde_json::json!({ "due": time_text(&next) })),
            )?;
            let parties = match &rule.condition {
                Some(condition) => self.matching_parties(condition)?,
                None => self.all_live_parties()?,
            };
            for party in parties {
                self.record_firing(&rule.name, seq, party)?;
                self.apply_actions(&rule.name, party, &rule.actions)?;
                acted += 1;
            }
            while next <= self.now {
                next += chrono::Duration::hours(i64::from(hours));
            }
            self.conn.execute(
                "UPDATE rule_schedule SET next_at = ?2 WHERE rule = ?1",
                params![rule.name, time_text(&next)],
            )?;
        }
        Ok(acted)
    }

    fn all_live_parties(&self) -> crate::Result<Vec<PartyId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM parties WHERE deleted_at IS NULL ORDER BY id")?;
        collect(&mut stmt, params![], |row| get_parsed(row, "id"))
    }

    fn apply_actions(
        &mut self,
        rule: &str,
        party: PartyId,
        actions: &[crate::rules::Action],
    ) -> crate::Result<()> {
        use crate::rules::Action;
        let previous_actor = std::mem::replace(&mut self.actor, format!("rule:{rule}"));
        let result = (|| -> crate::Result<()> {
            for action in actions {
                match action {
                    Action::Tag { tag } => {
                        self.add_tag(party, tag)?;
                    }
                    Action::Untag { tag } => {
                        self.remove_tag(party, tag)?;
                    }
                    Action::SetStage { stage } => {
                        if self.get_party(party)?.stage != Some(*stage) {
                            self.set_stage(party, *stage, Some(&format!("rule {rule}")))?;
                        }
                    }
                    Action::CreateTask { title, due_in_days } => {
                        let due = self.now + chrono::Duration::days(*due_in_days);
                        self.create_task(
                            crate::model::NewTask::new(title.clone(), due).about(party),
                        )?;
                    }
                    Action::CreateCase { case_type, priority, subject } => {
                        self.open_case(crate::model::NewCase::new(
                            party,
                            *case_type,
                            *priority,
                            crate::model::Channel::Other,
                            subject.clone(),
                        ))?;
                    }
                    Action::Send { channel, purpose, template } => {
                        self.send(rule, party, *channel, purpose, template)?
                    }
                    Action::SetField { field, value } => {
                        let def = self
                            .field_defs()?
                            .into_iter()
                            .find(|d| d.name == *field)
                            .ok_or_else(|| {
                                Error::invalid("action", format!("unknown custom field `{field}`"))
                            })?;
                        let value = def.parse(value)?;
                        if self.get_party(party)?.fields.get(field) != Some(&value) {
                            self.set_field(party, field, value)?;
                        }
                    }
                    Action::AwardPoints { program, points, reason } => {
                        if *points > 0 {
                            self.award_points(program, party, *points, reason)?;
                        } else {
                            self.adjust_points(program, party, *points, reason)?;
                        }
                    }
                    Action::EnrolInCampaign { campaign } => {
                        self.enrol_in_campaign(campaign, party)?;
                    }
                }
            }
            Ok(())
        })();
        self.actor = previous_actor;
        result
    }

    fn send(
        &mut self,
        rule: &str,
        party: PartyId,
        channel: crate::model::ContactKind,
        purpose: &str,
        template: &str,
    ) -> crate::Result<()> {
        let p = self.get_party(party)?;
        let content = self.render_for(&p, template)?;
        self.queue_message(&p, channel, purpose, &content, rule).map(|_| ())
    }

    /// Sends a message through the outbox on behalf of the transaction's
    /// actor: queued to a contact point of `channel` whose latest consent
    /// for `purpose` is a grant, else recorded as suppressed with the
    /// reason (and a `message.queued` / `message.suppressed` event).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or deleted party;
    /// [`Error::Invalid`] for empty content or purpose.
    pub fn send_message(
        &mut self,
        party: PartyId,
        channel: crate::model::ContactKind,
        purpose: &str,
        content: &str,
    ) -> crate::Result<OutboxMessage> {
        if content.trim().is_empty() || purpose.trim().is_empty() {
            return Err(Error::invalid("message", "a message needs content and a purpose"));
        }
        self.require_live(party, "party")?;
        let p = self.get_party(party)?;
        let by = self.actor.clone();
        let (id, _) = self.queue_message(&p, channel, purpose, content, &by)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, channel, address, purpose, content, status, reason, rule FROM outbox WHERE id = ?1",
        )?;
        collect(&mut stmt, params![id], outbox_from_row)?
            .pop()
            .ok_or_else(|| Error::Internal("outbox row vanished".into()))
    }

    /// Renders a template for a party (see [`crate::rules::Action::Send`]).
    pub(crate) fn render_for(
        &self,
        p: &crate::model::Party,
        template: &str,
    ) -> crate::Result<String> {
        let scores = self.scores_of(p.id)?;
        Ok(crate::rules::trigger::render(template, |name| match name {
            "name" => Some(p.name.clone()),
            "stage" => p.stage.map(|s| s.code().to_owned()),
            other => match (other.strip_prefix("field."), other.strip_prefix("score.")) {
                (Some(f), _) => p.fields.get(f).map(crate::model::FieldValue::to_text),
                (_, Some(s)) => scores.get(s).map(|v| format!("{v:.2}")),
                _ => None,
            },
        }))
    }

    /// Checks a template's placeholders against the schema.
    pub(crate) fn check_template(&self, template: &str) -> crate::Result<()> {
        let fields = self.rule_fields()?;
        for placeholder in crate::rules::trigger::placeholders(template)? {
            if let Some(field) = placeholder.strip_prefix("field.")
                && !fields.contains_key(field)
            {
                return Err(Error::invalid(
                    "template",
                    format!("unknown custom field `{field}` in `{{{placeholder}}}`"),
                ));
            }
        }
        Ok(())
    }

    /// Writes a message to the outbox, queued to a contact point of the
    /// channel whose consent for the purpose is granted, else suppressed
    /// with the reason; `by` names the rule or campaign. Returns the
    /// outbox id and whether it was queued.
    pub(crate) fn queue_message(
        &mut self,
        p: &crate::model::Party,
        channel: crate::model::ContactKind,
        purpose: &str,
        content: &str,
        by: &str,
    ) -> crate::Result<(i64, bool)> {
        let party = p.id;
        let rule = by;
        let contact = p.contacts.iter().find(|c| c.kind == channel && c.allows(purpose));
        let (status, address, reason) = match contact {
            Some(c) => ("queued", Some(c.normalized.clone()), None),
            None if p.contacts.iter().any(|c| c.kind == channel) => (
                "suppressed",
                None,
                Some(format!("no {channel} contact point with {purpose} consent")),
            ),
            None => ("suppressed", None, Some(format!("no {channel} contact point"))),
        };
        self.conn.execute(
            "INSERT INTO outbox (party_id, channel, address, purpose, content, status, reason, rule, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![party.to_string(), channel.code(), address, purpose, content, status, reason, rule, self.now_text.as_str()],
        )?;
        let id = self.conn.last_insert_rowid();
        self.record_event(
            "party",
            &party.to_string(),
            if status == "queued" { "message.queued" } else { "message.suppressed" },
            None,
            Some(&serde_json::json!({ "by": rule, "channel": channel, "purpose": purpose, "reason": reason, "outbox": id })),
        )?;
        Ok((id, status == "queued"))
    }
}
