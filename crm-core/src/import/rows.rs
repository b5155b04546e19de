//! Turning records into model values and applying them.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::Error;
use crate::error::Location;
use crate::import::sales;
use crate::import::source::{Record, Source};
use crate::import::{
    ImportFormat, ImportKind, ImportMode, ImportOptions, ImportProgress, ImportReport, RowError,
};
use crate::model::{
    Channel, ContactKind, Currency, Direction, ExternalId, FieldDef, LifecycleStage,
    NewContactPoint, NewInteraction, NewParty, NewRelationship, PartyId, PartyKind, Role,
};
use crate::store::{Crm, Tx, Upserted};

const PARTY_COLUMNS: &[&str] = &[
    "name",
    "kind",
    "external_id",
    "roles",
    "tags",
    "stage",
    "owner",
    "language",
    "currency",
    "notes",
    "email",
    "phone",
    "mobile",
    "fax",
    "wechat",
    "web",
    "address",
    "country",
    "consent",
    "field.*",
];
const RELATIONSHIP_COLUMNS: &[&str] = &["from", "to", "kind", "role", "since", "until"];
const INTERACTION_COLUMNS: &[&str] = &[
    "external_id",
    "party",
    "channel",
    "direction",
    "at",
    "subject",
    "body",
    "outcome",
    "owner",
    "link_entity",
    "link_id",
];

/// The contact columns of a party row and their kinds.
const CONTACT_COLUMNS: &[(&str, ContactKind)] = &[
    ("email", ContactKind::Email),
    ("phone", ContactKind::Phone),
    ("mobile", ContactKind::Mobile),
    ("fax", ContactKind::Fax),
    ("wechat", ContactKind::WeChat),
    ("web", ContactKind::Web),
    ("address", ContactKind::Address),
];

/// Rows between writes of the deferred search-index entries (bounds the
/// memory they take).
const INDEX_FLUSH_ROWS: u64 = 16_384;

/// Runs an import to the end; see [`Crm::import_reader`].
/// The columns an import of `kind` knows (`prefix.*` for families).
fn known_columns(kind: ImportKind) -> &'static [&'static str] {
    match kind {
        ImportKind::Parties => PARTY_COLUMNS,
        ImportKind::Relationships => RELATIONSHIP_COLUMNS,
        ImportKind::Interactions => INTERACTION_COLUMNS,
        ImportKind::Products => sales::PRODUCT_COLUMNS,
        ImportKind::Orders => sales::ORDER_COLUMNS,
        ImportKind::Opportunities => sales::OPPORTUNITY_COLUMNS,
        ImportKind::Cases => sales::CASE_COLUMNS,
        ImportKind::FxRates => sales::FX_COLUMNS,
    }
}

pub(crate) fn run_import<R: Read>(
    crm: &Crm,
    kind: ImportKind,
    mut source: Source<R>,
    options: &ImportOptions,
    progress: &mut dyn FnMut(&ImportProgress),
) -> crate::Result<ImportReport> {
    let mut report = ImportReport { header: source.header.clone(), ..ImportReport::default() };
    let mut state = ImportProgress::default();
    let actor = format!("import:{}", kind.code());
    let fields: HashMap<String, FieldDef> =
        crm.read(|tx| tx.field_defs())?.into_iter().map(|d| (d.name.clone(), d)).collect();
    let context = Context { kind, options, fields, orders: sales::OrderRun::default() };
    match options.mode {
        ImportMode::AllOrNothing => {
            let outcome = crm.write_deciding(&actor, |tx| {
                let mut counts = Counts::default();
                let finished = process(
                    tx,
                    &context,
                    &mut source,
                    &mut report.errors,
                    &mut state,
                    u64::MAX,
                    &mut counts,
                    progress,
                )?;
                debug_assert!(finished);
                let commit = report.errors.is_empty();
                Ok((counts, commit))
            })?;
            report.committed = report.errors.is_empty();
            if report.committed {
                report.created = outcome.created;
                report.updated = outcome.updated;
                report.unchanged = outcome.unchanged;
                state.rows_committed = state.rows_read - state.rows_invalid;
            }
        }
        ImportMode::SkipInvalid => loop {
            let batch = options.batch_size as u64;
            let (counts, finished) = crm.write_as(&actor, |tx| {
                let mut counts = Counts::default();
                let finished = process(
                    tx,
                    &context,
                    &mut source,
                    &mut report.errors,
                    &mut state,
                    batch,
                    &mut counts,
                    progress,
                )?;
                Ok((counts, finished))
            })?;
            report.created += counts.created;
            report.updated += counts.updated;
            report.unchanged += counts.unchanged;
            state.rows_committed += counts.created + counts.updated + counts.unchanged;
            report.committed = true;
            state.bytes_read = source.bytes_read();
            progress(&state);
            if finished {
                break;
            }
        },
    }
    report.rows_read = state.rows_read;
    state.bytes_read = source.bytes_read();
    progress(&state);
    // An import that outgrew the page cache leaves it in a state that slows
    // later large reads on this connection; start them from an empty cache.
    if state.rows_read >= CACHE_RELEASE_ROWS {
        crm.read(|tx| tx.release_cache())?;
    }
    Ok(report)
}

/// Imports of at least this many rows release the page cache when done (far
/// below that, the rows fit in the cache and keeping it warm is better).
const CACHE_RELEASE_ROWS: u64 = 50_000;

#[derive(Default)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
}

pub(crate) struct Context<'o> {
    kind: ImportKind,
    options: &'o ImportOptions,
    fields: HashMap<String, FieldDef>,
    /// Orders created by this import, loaded one row per line.
    pub(crate) orders: sales::OrderRun,
}

/// Processes up to `limit` rows; returns true at the end of the input.
#[allow(clippy::too_many_arguments)]
fn process<R: Read>(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    source: &mut Source<R>,
    errors: &mut Vec<RowError>,
    state: &mut ImportProgress,
    limit: u64,
    counts: &mut Counts,
    progress: &mut dyn FnMut(&ImportProgress),
) -> crate::Result<bool> {
    tx.defer_index();
    let mut n_rows = 0u64;
    while n_rows < limit {
        let Some(next) = source.next_record()? else {
            tx.flush_index()?;
            return Ok(true);
        };
        n_rows += 1;
        state.rows_read += 1;
        // Rows are applied without a savepoint: every write path checks all
        // it can before its first write, which the change count verifies.
        // (A savepoint per row costs a page copy per page touched, and makes
        // FTS5 flush a segment.)
        let changes_before = tx.total_changes();
        let result = match next {
            Err(row_error) => Err(row_error),
            Ok(record) => match apply(tx, context, &record) {
                Ok(applied) => Ok(applied),
                Err(error @ (Error::Storage(_) | Error::Internal(_))) => return Err(error),
                Err(error) => {
                    let row_error = row_error(&record, error);
                    // All or nothing rolls the import back anyway.
                    if tx.total_changes() != changes_before
                        && context.options.mode == ImportMode::SkipInvalid
                    {
                        return Err(Error::Internal(format!(
                            "{row_error}: the row failed after writing; the batch was rolled back"
                        )));
                    }
                    Err(row_error)
                }
            },
        };
        match result {
            Ok(Upserted::Created) => counts.created += 1,
            Ok(Upserted::Updated) => counts.updated += 1,
            Ok(Upserted::Unchanged) => counts.unchanged += 1,
            Err(error) => {
                state.rows_invalid += 1;
                errors.push(error);
            }
        }
        if n_rows.is_multiple_of(INDEX_FLUSH_ROWS) {
            tx.flush_index()?;
        }
        if state.rows_read.is_multiple_of(context.options.progress_every) {
            state.bytes_read = source.bytes_read();
            progress(state);
        }
    }
    tx.flush_index()?;
    Ok(false)
}

fn apply(tx: &mut Tx<'_>, context: &Context<'_>, record: &Record) -> crate::Result<Upserted> {
    match context.kind {
        ImportKind::Parties => {
            let party = party_from_record(tx, context, record)?;
            Ok(tx.upsert_party(party)?.1)
        }
        ImportKind::Relationships => {
            let new = relationship_from_record(tx, record)?;
            match tx.find_relationship(new.from, &new.kind, new.to, new.since)? {
                None => {
                    tx.relate(new)?;
                    Ok(Upserted::Created)
                }
                Some(existing) if existing.role == new.role && existing.until == new.until => {
                    Ok(Upserted::Unchanged)
                }
                Some(existing) => {
                    tx.update_relationship(existing.id, new.role, new.until)?;
                    Ok(Upserted::Updated)
                }
            }
        }
        ImportKind::Interactions => {
            let new = interaction_from_record(tx, record)?;
            Ok(tx.upsert_interaction(new)?.1)
        }
        ImportKind::Products => Ok(tx.upsert_product(sales::product_from_record(record)?)?.1),
        ImportKind::Orders => sales::apply_order_row(tx, context, record),
        ImportKind::Opportunities => sales::apply_opportunity_row(tx, record),
        ImportKind::Cases => sales::apply_case_row(tx, record),
        ImportKind::FxRates => tx.set_fx_rate(sales::fx_rate_from_record(record)?),
    }
}

/// Attaches the line, the source column name and the raw row to an error.
fn row_error(record: &Record, error: Error) -> RowError {
    let (column, reason) = match error {
        Error::Invalid { at: Location { column, .. }, reason } => (column, reason),
        Error::NotFound { entity, id } => (None, format!("{entity} not found: {id}")),
        Error::Conflict { reason } => (None, reason),
        other => (None, other.to_string()),
    };
    RowError {
        line: record.line,
        column: column.map(|c| record.source_name(&c)),
        reason,
        record: record.as_read(),
    }
}

pub(crate) fn cell_error(column: &str, reason: impl Into<String>) -> Error {
    Error::invalid(column, reason)
}

/// Re-labels an error from the model with the column it came from.
pub(crate) fn in_column(column: &str) -> impl Fn(Error) -> Error + '_ {
    move |error| match error {
        Error::Invalid { reason, .. } => cell_error(column, reason),
        other => other,
    }
}

pub(crate) fn list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value.unwrap_or_default().split(';').map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn party_ref(
    tx: &Tx<'_>,
    record: &Record,
    column: &str,
) -> crate::Result<Option<PartyId>> {
    match record.get(column) {
        None => Ok(None),
        Some(key) => match tx.resolve_party(key) {
            Ok(party) if party.is_live() => Ok(Some(party.id)),
            Ok(_) => Err(cell_error(column, format!("party `{key}` is deleted"))),
            Err(Error::NotFound { .. }) => {
                Err(cell_error(column, format!("no party with id or external id `{key}`")))
            }
            Err(other) => Err(other),
        },
    }
}

fn party_from_record(
    tx: &Tx<'_>,
    context: &Context<'_>,
    record: &Record,
) -> crate::Result<NewParty> {
    let name = record.get("name").ok_or_else(|| cell_error("name", "is required"))?;
    let kind = match record.get("kind") {
        Some(code) => PartyKind::from_code(code).map_err(in_column("kind"))?,
        None => PartyKind::Person,
    };
    let mut party = NewParty::new(kind, name);
    for code in list(record.get("roles")) {
        party.roles.push(Role::from_code(code).map_err(in_column("roles"))?);
    }
    party.tags = list(record.get("tags")).map(str::to_owned).collect();
    if let Some(stage) = record.get("stage") {
        party.stage = Some(LifecycleStage::from_code(stage).map_err(in_column("stage"))?);
    }
    party.owner = party_ref(tx, record, "owner")?;
    party.language = record.get("language").map(str::to_owned);
    if let Some(currency) = record.get("currency") {
        party.currency = Some(Currency::new(currency).map_err(in_column("currency"))?);
    }
    party.notes = record.get_raw("notes").map(str::to_owned);
    for text in list(record.get("external_id")) {
        party.external_ids.push(ExternalId::parse(text).map_err(in_column("external_id"))?);
    }
    let country = record
        .get("country")
        .map(str::to_owned)
        .or_else(|| context.options.default_country.clone());
    let consents: Vec<&str> = list(record.get("consent")).collect();
    for (column, contact_kind) in CONTACT_COLUMNS {
        let values: Vec<&str> = if matches!(contact_kind, ContactKind::Address) {
            record.get(column).into_iter().collect()
        } else {
            list(record.get(column)).collect()
        };
        for value in values {
            let mut contact = NewContactPoint::new(*contact_kind, value);
            contact.country = country.clone();
            for purpose in &consents {
                contact = contact.with_consent(*purpose, true, "import");
            }
            contact.normalized().map_err(in_column(column))?;
            party.contacts.push(contact);
        }
    }
    for (name, text) in record.with_prefix("field.") {
        let column = format!("field.{name}");
        let def = context
            .fields
            .get(name)
            .ok_or_else(|| cell_error(&column, format!("no custom field `{name}` is defined")))?;
        let value = def.parse(text).map_err(in_column(&column))?;
        party.fields.insert(name.to_owned(), value);
    }
    // Re-label model validation (name, language, tags) with source columns.
    party.validate()?;
    Ok(party)
}

fn relationship_from_record(tx: &Tx<'_>, record: &Record) -> crate::Result<NewRelationship> {
    let from = party_ref(tx, record, "from")?.ok_or_else(|| cell_error("from", "is required"))?;
    let to = party_ref(tx, record, "to")?.ok_or_else(|| cell_error("to", "is required"))?;
    let kind = record.get("kind").ok_or_else(|| cell_error("kind", "is required"))?;
    if tx.relationship_type(kind)?.is_none() {
        return Err(cell_error("kind", format!("unknown relationship type `{kind}`")));
    }
    let mut new = NewRelationship::new(from, kind, to);
    new.role = record.get("role").map(str::to_owned);
    new.since = record.get("since").map(|d| parse_date(d, "since")).transpose()?;
    new.until = record.get("until").map(|d| parse_date(d, "until")).transpose()?;
    Ok(new)
}

fn interaction_from_record(tx: &Tx<'_>, record: &Record) -> crate::Result<NewInteraction> {
    let party =
        party_ref(tx, record, "party")?.ok_or_else(|| cell_error("party", "is required"))?;
    let channel = Channel::from_code(
        record.get("channel").ok_or_else(|| cell_error("channel", "is required"))?,
    )
    .map_err(in_column("channel"))?;
    let direction = match record.get("direction") {
        Some(code) => Direction::from_code(code).map_err(in_column("direction"))?,
        None => Direction::Inbound,
    };
    let at = parse_time(record.get("at").ok_or_else(|| cell_error("at", "is required"))?)?;
    let subject = record.get("subject").ok_or_else(|| cell_error("subject", "is required"))?;
    let mut new = NewInteraction::new(party, channel, direction, at, subject);
    new.body = record.get_raw("body").map(str::to_owned);
    new.outcome = record.get("outcome").map(str::to_owned);
    new.owner = party_ref(tx, record, "owner")?;
    match (record.get("link_entity"), record.get("link_id")) {
        (Some(entity), Some(id)) => new = new.with_link(entity, id),
        (None, None) => {}
        (Some(_), None) => return Err(cell_error("link_id", "is required with link_entity")),
        (None, Some(_)) => return Err(cell_error("link_entity", "is required with link_id")),
    }
    new.external_id = record.get("external_id").map(str::to_owned);
    Ok(new)
}

pub(crate) fn parse_date(text: &str, column: &str) -> crate::Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| cell_error(column, format!("`{text}` is not a date (YYYY-MM-DD)")))
}

fn parse_time(text: &str) -> crate::Result<DateTime<Utc>> {
    parse_time_in(text, "at")
}

pub(crate) fn parse_time_in(text: &str, column: &str) -> crate::Result<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(time.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(cell_error(
        column,
        format!("`{text}` is not a time (RFC 3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD, UTC)"),
    ))
}

impl Crm {
    /// Imports a CSV or JSON Lines file (format from the extension unless
    /// [`ImportOptions::format`] says otherwise). `progress` is called every
    /// [`ImportOptions::progress_every`] rows and after each commit.
    ///
    /// The result is a report, not an error, when rows are invalid: check
    /// [`ImportReport::errors`] and [`ImportReport::committed`].
    ///
    /// # Errors
    ///
    /// - [`Error::Io`] when the file cannot be read.
    /// - [`Error::Invalid`] for a bad header (unknown or repeated column,
    ///   with a did-you-mean); nothing is written.
    /// - [`Error::Storage`] when the database fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{Crm, ImportKind, ImportOptions};
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("parties.csv");
    /// std::fs::write(&path, "external_id,name,email,roles\nerp:1,Li Lei,li.lei@example.com,customer\nerp:2,Han Meimei,not-an-email,customer\n")?;
    /// let crm = Crm::open_in_memory()?;
    /// let report = crm.import_file(ImportKind::Parties, &path, &ImportOptions::default(), &mut |_| {})?;
    /// assert!(!report.committed);
    /// assert_eq!(report.errors[0].to_string(), "line 3, column email: `not-an-email` is not an e-mail address: no @");
    /// assert_eq!(crm.read(|tx| tx.count_parties())?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_file(
        &self,
        kind: ImportKind,
        path: impl AsRef<std::path::Path>,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> crate::Result<ImportReport> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)
            .map_err(|e| Error::Io { path: path.to_owned(), source: e })?;
        let format = options.format.unwrap_or_else(|| ImportFormat::from_path(path));
        let input = std::io::BufReader::with_capacity(1 << 16, file);
        let source = Source::new(input, format, options, known_columns(kind))?;
        run_import(self, kind, source, options, progress).map_err(|error| match error {
            // The reader does not know the file's name.
            Error::Io { source, .. } => Error::Io { path: path.to_owned(), source },
            other => other,
        })
    }

    /// Imports from any reader. See [`Crm::import_file`].
    ///
    /// # Errors
    ///
    /// As [`Crm::import_file`].
    pub fn import_reader(
        &self,
        kind: ImportKind,
        input: impl Read,
        format: ImportFormat,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> crate::Result<ImportReport> {
        let source = Source::new(input, format, options, known_columns(kind))?;
        run_import(self, kind, source, options, progress)
    }

    /// Imports from columns in memory — a name and its cells, all columns
    /// equally long, `""` for an empty cell — with the same columns,
    /// checks and report as a file (rows are numbered from 1 in errors).
    /// This is how data frames come in from Python.
    ///
    /// # Errors
    ///
    /// As [`Crm::import_file`]; [`Error::Invalid`] for columns of unequal
    /// length.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{Crm, ImportKind, ImportOptions};
    /// let crm = Crm::open_in_memory()?;
    /// let columns = vec![
    ///     ("name".to_owned(), vec!["Li Lei".to_owned(), "Han Meimei".to_owned()]),
    ///     ("email".to_owned(), vec!["li@example.com".to_owned(), "".to_owned()]),
    /// ];
    /// let report = crm.import_columns(ImportKind::Parties, columns, &ImportOptions::default(), &mut |_| {})?;
    /// assert_eq!(report.created, 2);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn import_columns(
        &self,
        kind: ImportKind,
        columns: Vec<(String, Vec<String>)>,
        options: &ImportOptions,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> crate::Result<ImportReport> {
        let source = Source::columns(columns, options, known_columns(kind))?;
        run_import(self, kind, source, options, progress)
    }
}
