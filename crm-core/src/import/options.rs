//! Options, progress and reports of an import.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

/// What an import file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Parties with contact points, roles, tags and custom fields.
    ///
    /// Columns: `name` (required), `kind` (`person` / `organization`,
    /// default person), `external_id` (`system:value`, several separated by
    /// `;`), `roles`, `tags` (`;`-separated), `stage`, `owner` (party id or
    /// `system:value`), `language`, `currency`, `notes`, `email`, `phone`,
    /// `mobile`, `fax`, `wechat`, `web`, `address` (e-mail and phone columns
    /// may hold several values separated by `;`), `country` (for national
    /// phone numbers), `consent` (purposes granted on every contact point of
    /// the row, `;`-separated), and `field.<name>` for each custom field.
    /// Rows with an external id that exists update that party (upsert).
    Parties,
    /// Relationships. Columns: `from`, `to` (party id or `system:value`),
    /// `kind` (type code), `role`, `since`, `until` (`YYYY-MM-DD`). A row
    /// with the same from, kind, to and since as a stored edge updates it.
    Relationships,
    /// Interactions. Columns: `party` (party id or `system:value`),
    /// `channel`, `direction` (default inbound), `at` (RFC 3339, or
    /// `YYYY-MM-DD HH:MM[:SS]` in UTC), `subject`, `body`, `outcome`, `owner`,
    /// `link_entity`, `link_id`, `external_id` (makes the import idempotent).
    Interactions,
    /// Products. Columns: `sku` (required), `name_en` (required; `name` is
    /// taken as an alias), `name_zh`, `category`, `unit_cost` with
    /// `cost_currency`, and `price.<CUR>` for each list price (e.g.
    /// `price.CNY`). A row with a stored SKU updates that product.
    Products,
    /// Orders, one row per line item. Columns: `order` (the order's
    /// external id, required), `party` (id or `system:value`), `currency`,
    /// `ordered_at`, `status` (draft, confirmed, shipped or delivered;
    /// default confirmed), `owner`, `price_list`, `line` (line number;
    /// default: the row's position among the order's rows in the file),
    /// `sku`, `quantity`, `unit_price` (default: price list or list price),
    /// `discount` (percent, e.g. `5` or `12.5`). The first row of an order
    /// creates it; the others add lines. Re-importing the same file changes
    /// nothing; a row whose line differs from the stored one is an error
    /// (orders change through the API, with events).
    Orders,
    /// Opportunities. Columns: `external_id` (makes the import idempotent),
    /// `party`, `pipeline`, `title`, `amount`, `currency`, `expected_close`
    /// (`YYYY-MM-DD`), `owner`, `stage`, `status` (open, won or lost) and
    /// `reason` (close reason code).
    Opportunities,
    /// Cases. Columns: `external_id`, `party`, `type`, `priority`, `channel`,
    /// `subject`, `description`, `category`, `assignee`, `sla_policy`,
    /// `tier`, `opened_at`, `status`, `first_response_at`, `satisfaction`,
    /// `churn_reason`.
    Cases,
    /// Dated exchange rates. Columns: `base`, `quote` (ISO 4217), `date`
    /// (`YYYY-MM-DD`), `rate` (units of quote per unit of base, exact
    /// decimal). A row for a stored pair and day replaces its rate.
    FxRates,
}

impl ImportKind {
    /// The stable code (`parties`, `relationships`, `interactions`,
    /// `products`, `orders`, `opportunities`, `cases`, `fx_rates`).
    pub fn code(self) -> &'static str {
        match self {
            ImportKind::Parties => "parties",
            ImportKind::Relationships => "relationships",
            ImportKind::Interactions => "interactions",
            ImportKind::Products => "products",
            ImportKind::Orders => "orders",
            ImportKind::Opportunities => "opportunities",
            ImportKind::Cases => "cases",
            ImportKind::FxRates => "fx_rates",
        }
    }
}

/// File format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line; arrays become `;`-separated lists and a
    /// `fields` object gives custom fields.
    JsonLines,
}

impl ImportFormat {
    /// The format for a file name: `.jsonl` / `.ndjson` / `.json` are JSON
    /// Lines, anything else CSV.
    pub fn from_path(path: &Path) -> ImportFormat {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("jsonl" | "ndjson" | "json") => ImportFormat::JsonLines,
            _ => ImportFormat::Csv,
        }
    }
}

/// How invalid rows are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Any invalid row: nothing is written, and every invalid row is
    /// reported. The whole file is one transaction.
    #[default]
    AllOrNothing,
    /// Valid rows are written (committed every `batch_size` rows), invalid
    /// rows are reported and skipped.
    SkipInvalid,
}

/// Options of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// All-or-nothing (default) or skip invalid rows.
    pub mode: ImportMode,
    /// Rows per committed transaction in [`ImportMode::SkipInvalid`]
    /// (default 10 000).
    pub batch_size: usize,
    /// Renames of header names to the expected column names, e.g.
    /// `"E-Mail" → "email"`.
    pub column_map: BTreeMap<String, String>,
    /// Country for national phone numbers in rows without `country`.
    pub default_country: Option<String>,
    /// Format; `None` infers it from the file name.
    pub format: Option<ImportFormat>,
    /// Rows between progress reports (default 1 000).
    pub progress_every: u64,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            mode: ImportMode::AllOrNothing,
            batch_size: 10_000,
            column_map: BTreeMap::new(),
            default_country: None,
            format: None,
            progress_every: 1_000,
        }
    }
}

impl ImportOptions {
    /// Skip invalid rows, committing in batches.
    #[must_use]
    pub fn skip_invalid(mut self) -> ImportOptions {
        self.mode = ImportMode::SkipInvalid;
        self
    }

    /// Rows per batch in skip-invalid mode.
    #[must_use]
    pub fn batch_size(mut self, rows: usize) -> ImportOptions {
        self.batch_size = rows.max(1);
        self
    }

    /// Reads header `from` as column `to`.
    #[must_use]
    pub fn map_column(mut self, from: impl Into<String>, to: impl Into<String>) -> ImportOptions {
        self.column_map.insert(from.into(), to.into());
        self
    }

    /// Country for national phone numbers.
    #[must_use]
    pub fn default_country(mut self, country: impl Into<String>) -> ImportOptions {
        self.default_country = Some(country.into());
        self
    }

    /// Sets the format instead of inferring it.
    #[must_use]
    pub fn format(mut self, format: ImportFormat) -> ImportOptions {
        self.format = Some(format);
        self
    }

    /// Rows between progress reports.
    #[must_use]
    pub fn progress_every(mut self, rows: u64) -> ImportOptions {
        self.progress_every = rows.max(1);
        self
    }
}

/// Progress of a running import, passed to the progress callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportProgress {
    /// Data rows read so far.
    pub rows_read: u64,
    /// Invalid rows so far.
    pub rows_invalid: u64,
    /// Rows durably committed so far (in all-or-nothing mode: 0 until the
    /// end).
    pub rows_committed: u64,
    /// Bytes of the input consumed so far.
    pub bytes_read: u64,
}

/// One invalid row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Line of the input where the row starts (the CSV header is line 1).
    pub line: u64,
    /// The column at fault, when known.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The row as read (CSV cells, or the JSON line as one cell).
    pub record: Vec<String>,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {}: {}", self.line, column, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Data rows read.
    pub rows_read: u64,
    /// Records created.
    pub created: u64,
    /// Existing records changed (matched by external id or natural key).
    pub updated: u64,
    /// Existing records that already matched the row.
    pub unchanged: u64,
    /// Invalid rows, in file order.
    pub errors: Vec<RowError>,
    /// Whether anything was written. `false` in all-or-nothing mode when
    /// any row was invalid.
    pub committed: bool,
    /// The header as read (CSV only), for writing an error file.
    pub header: Vec<String>,
}

impl ImportReport {
    /// True when every row was valid.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// Writes the invalid rows as CSV: `line`, `column`, `error`, then the
    /// original cells, so the file can be fixed and imported again.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be written.
    pub fn write_errors_csv(&self, path: &Path) -> crate::Result<()> {
        let io = |e: std::io::Error| Error::Io { path: path.to_owned(), source: e };
        let csv_err = |e: csv::Error| io(std::io::Error::other(e.to_string()));
        let mut writer =
            csv::WriterBuilder::new().flexible(true).from_path(path).map_err(csv_err)?;
        let mut header = vec!["line".to_owned(), "column".to_owned(), "error".to_owned()];
        if self.header.is_empty() {
            header.push("record".to_owned());
        } else {
            header.extend(self.header.iter().cloned());
        }
        writer.write_record(&header).map_err(csv_err)?;
        for error in &self.errors {
            let mut row = vec![
                error.line.to_string(),
                error.column.clone().unwrap_or_default(),
                error.reason.clone(),
            ];
            row.extend(error.record.iter().cloned());
            writer.write_record(&row).map_err(csv_err)?;
        }
        writer.flush().map_err(io)?;
        Ok(())
    }
}
