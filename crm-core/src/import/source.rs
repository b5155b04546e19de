//! Reading records from CSV and JSON Lines, one at a time.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

use crate::Error;
use crate::error::Location;
use crate::import::{ImportFormat, ImportOptions, RowError};

/// One data row: canonical column names and their cell values.
pub(crate) struct Record {
    /// Line where the row starts.
    pub(crate) line: u64,
    /// Canonical column names, parallel to `cells`.
    pub(crate) columns: Rc<Vec<String>>,
    /// The source's own column names (before mapping), parallel to `cells`.
    pub(crate) source_columns: Rc<Vec<String>>,
    /// Cell values.
    pub(crate) cells: Vec<String>,
    /// The row as read, for error files, when it differs from `cells` (a
    /// JSON line); empty for CSV.
    pub(crate) raw: Vec<String>,
}

impl Record {
    /// The trimmed, non-empty value of a column.
    pub(crate) fn get(&self, column: &str) -> Option<&str> {
        let index = self.columns.iter().position(|c| c == column)?;
        let value = self.cells.get(index)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// The value of a column without trimming (notes, text fields).
    pub(crate) fn get_raw(&self, column: &str) -> Option<&str> {
        let index = self.columns.iter().position(|c| c == column)?;
        let value = self.cells.get(index)?;
        (!value.trim().is_empty()).then_some(value.as_str())
    }

    /// Columns whose name starts with `prefix`, with non-empty values.
    pub(crate) fn with_prefix<'r>(
        &'r self,
        prefix: &'r str,
    ) -> impl Iterator<Item = (&'r str, &'r str)> + 'r {
        self.columns.iter().zip(self.cells.iter()).filter_map(move |(column, value)| {
            let name = column.strip_prefix(prefix)?;
            (!value.trim().is_empty()).then_some((name, value.as_str()))
        })
    }

    /// The row as read.
    pub(crate) fn as_read(&self) -> Vec<String> {
        if self.raw.is_empty() { self.cells.clone() } else { self.raw.clone() }
    }

    /// The name the source file gives a canonical column (for error reports).
    pub(crate) fn source_name(&self, column: &str) -> String {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.source_columns.get(i))
            .cloned()
            .unwrap_or_else(|| column.to_owned())
    }
}

/// Counts bytes consumed, for progress.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A stream of records.
pub(crate) struct Source<R: Read> {
    kind: SourceKind<R>,
    bytes: Rc<Cell<u64>>,
    known: &'static [&'static str],
    column_map: std::collections::BTreeMap<String, String>,
    /// The CSV header as read.
    pub(crate) header: Vec<String>,
}

enum SourceKind<R: Read> {
    Csv {
        reader: Box<csv::Reader<Counting<R>>>,
        columns: Rc<Vec<String>>,
        source_columns: Rc<Vec<String>>,
        record: csv::ByteRecord,
    },
    Json {
        reader: BufReader<Counting<R>>,
        line: u64,
        buffer: Vec<u8>,
    },
    /// Columns in memory (from Python, a data frame): rows are numbered
    /// from 1.
    Columns {
        columns: Rc<Vec<String>>,
        source_columns: Rc<Vec<String>>,
        data: Vec<std::vec::IntoIter<String>>,
        rows: usize,
        next: usize,
    },
}

impl<R: Read> Source<R> {
    /// Opens a source; for CSV, reads and checks the header.
    pub(crate) fn new(
        input: R,
        format: ImportFormat,
        options: &ImportOptions,
        known: &'static [&'static str],
    ) -> crate::Result<Source<R>> {
        let bytes = Rc::new(Cell::new(0));
        let counting = Counting { inner: input, count: Rc::clone(&bytes) };
        let mut header = Vec::new();
        let kind = match format {
            ImportFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(counting);
                let header_record = reader.byte_headers().map_err(|e| csv_fatal(&e))?.clone();
                let mut raw = Vec::with_capacity(header_record.len());
                for (index, cell) in header_record.iter().enumerate() {
                    let text = std::str::from_utf8(cell).map_err(|_| Error::Invalid {
                        at: Location { row: Some(1), column: Some(format!("#{}", index + 1)) },
                        reason: "header is not valid UTF-8".into(),
                    })?;
                    raw.push(text.trim_start_matches('\u{feff}').to_owned());
                }
                let columns = check_header(&raw, &options.column_map, known)?;
                header.clone_from(&raw);
                SourceKind::Csv {
                    reader: Box::new(reader),
                    columns: Rc::new(columns),
                    source_columns: Rc::new(raw),
                    record: csv::ByteRecord::new(),
                }
            }
            ImportFormat::JsonLines => {
                SourceKind::Json { reader: BufReader::new(counting), line: 0, buffer: Vec::new() }
            }
        };
        Ok(Source { kind, bytes, known, column_map: options.column_map.clone(), header })
    }

    /// Bytes consumed so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes.get()
    }

    /// The next record, a row error, or `None` at the end. I/O errors stop
    /// the import.
    pub(crate) fn next_record(&mut self) -> crate::Result<Option<Result<Record, RowError>>> {
        match &mut self.kind {
            SourceKind::Csv { reader, columns, source_columns, record } => {
                match reader.read_byte_record(record) {
                    Ok(false) => Ok(None),
                    Ok(true) => {
                        let line = record.position().map_or(0, csv::Position::line);
                        let mut cells = Vec::with_capacity(record.len());
                        let mut bad_utf8 = None;
                        for (index, cell) in record.iter().enumerate() {
                            match std::str::from_utf8(cell) {
                                Ok(text) => cells.push(text.to_owned()),
                                Err(_) => {
                                    bad_utf8.get_or_insert(index);
                                    cells.push(String::from_utf8_lossy(cell).into_owned());
                                }
                            }
                        }
                        if let Some(index) = bad_utf8 {
                            return Ok(Some(Err(RowError {
                                line,
                                column: source_columns.get(index).cloned(),
                                reason: "not valid UTF-8".into(),
                                record: cells,
                            })));
                        }
                        if cells.len() != columns.len() {
                            return Ok(Some(Err(RowError {
                                line,
                                column: None,
                                reason: format!(
                                    "expected {} fields (as in the header), found {}; check quoting",
                                    columns.len(),
                                    cells.len()
                                ),
                                record: cells,
                            })));
                        }
                        Ok(Some(Ok(Record {
                            line,
                            columns: Rc::clone(columns),
                            source_columns: Rc::clone(source_columns),
                            raw: Vec::new(),
                            cells,
                        })))
                    }
                    Err(error) => match error.kind() {
                        csv::ErrorKind::Io(_) => Err(csv_fatal(&error)),
                        _ => {
                            let line = error.position().map_or(0, csv::Position::line);
                            Ok(Some(Err(RowError {
                                line,
                                column: None,
                                reason: format!("malformed CSV: {error}"),
                                record: Vec::new(),
                            })))
                        }
                    },
                }
            }
            SourceKind::Columns { columns, source_columns, data, rows, next } => {
                if *next >= *rows {
                    return Ok(None);
                }
                *next += 1;
                let cells: Vec<String> =
                    data.iter_mut().map(|c| c.next().unwrap_or_default()).collect();
                Ok(Some(Ok(Record {
                    line: *next as u64,
                    columns: Rc::clone(columns),
                    source_columns: Rc::clone(source_columns),
                    raw: Vec::new(),
                    cells,
                })))
            }
            SourceKind::Json { reader, line, buffer } => loop {
                buffer.clear();
                let n = reader
                    .read_until(b'\n', buffer)
                    .map_err(|e| Error::Io { path: "<input>".into(), source: e })?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                let line_no = *line;
                let Ok(text) = std::str::from_utf8(buffer) else {
                    return Ok(Some(Err(RowError {
                        line: line_no,
                        column: None,
                        reason: "not valid UTF-8".into(),
                        record: vec![String::from_utf8_lossy(buffer).trim_end().to_owned()],
                    })));
                };
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let known = self.known;
                let column_map = &self.column_map;
                return Ok(Some(json_record(text, line_no, |name| {
                    let canonical = canonical(column_map, name);
                    if is_known(known, &canonical) {
                        Ok(canonical)
                    } else {
                        Err(unknown_column(&canonical, known))
                    }
                })));
            },
        }
    }
}

impl Source<std::io::Empty> {
    /// A source over columns of equal length (`""` is an empty cell).
    pub(crate) fn columns(
        data: Vec<(String, Vec<String>)>,
        options: &ImportOptions,
        known: &'static [&'static str],
    ) -> crate::Result<Source<std::io::Empty>> {
        let raw: Vec<String> = data.iter().map(|(name, _)| name.clone()).collect();
        let columns = check_header(&raw, &options.column_map, known)?;
        let rows = data.first().map_or(0, |(_, cells)| cells.len());
        if let Some((name, cells)) = data.iter().find(|(_, cells)| cells.len() != rows) {
            return Err(Error::Invalid {
                at: Location { row: None, column: Some(name.clone()) },
                reason: format!(
                    "column `{name}` has {} values, `{}` has {rows}; columns must be equally long",
                    cells.len(),
                    raw[0]
                ),
            });
        }
        let data = data.into_iter().map(|(_, cells)| cells.into_iter()).collect();
        Ok(Source {
            kind: SourceKind::Columns {
                columns: Rc::new(columns),
                source_columns: Rc::new(raw.clone()),
                data,
                rows,
                next: 0,
            },
            bytes: Rc::new(Cell::new(0)),
            known,
            column_map: options.column_map.clone(),
            header: raw,
        })
    }
}

/// Maps a header to canonical column names: every column known, none twice.
fn check_header(
    raw: &[String],
    column_map: &std::collections::BTreeMap<String, String>,
    known: &[&str],
) -> crate::Result<Vec<String>> {
    let mut columns = Vec::with_capacity(raw.len());
    for name in raw {
        let column = canonical(column_map, name);
        if !is_known(known, &column) {
            return Err(Error::Invalid {
                at: Location { row: Some(1), column: Some(name.clone()) },
                reason: unknown_column(&column, known),
            });
        }
        if columns.contains(&column) {
            return Err(Error::Invalid {
                at: Location { row: Some(1), column: Some(name.clone()) },
                reason: format!("column `{column}` appears twice"),
            });
        }
        columns.push(column);
    }
    Ok(columns)
}

/// Applies the column map (exact, then case-insensitive) and lower-cases.
fn canonical(column_map: &std::collections::BTreeMap<String, String>, name: &str) -> String {
    let name = name.trim();
    let mapped = column_map.get(name).or_else(|| {
        column_map.iter().find(|(from, _)| from.eq_ignore_ascii_case(name)).map(|(_, to)| to)
    });
    mapped.map_or(name, String::as_str).trim().to_lowercase()
}

fn is_known(known: &[&str], column: &str) -> bool {
    known.contains(&column)
        || known.iter().filter_map(|k| k.strip_suffix('*')).any(|prefix| {
            column.strip_prefix(prefix).is_some_and(|rest| match prefix {
                "field." => crate::model::field::is_identifier(rest),
                "price." => crate::model::Currency::new(rest).is_ok(),
                _ => !rest.is_empty(),
            })
        })
}

fn unknown_column(column: &str, known: &[&str]) -> String {
    let suggestion = known
        .iter()
        .filter(|k| !k.ends_with('*'))
        .map(|k| (edit_distance(column, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    match suggestion {
        Some((_, k)) => format!("unknown column `{column}`; did you mean `{k}`?"),
        None => format!("unknown column `{column}`; expected one of: {}", known.join(", ")),
    }
}

/// Levenshtein distance, for did-you-mean suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

fn csv_fatal(error: &csv::Error) -> Error {
    Error::Invalid {
        at: Location { row: error.position().map(csv::Position::line), column: None },
        reason: format!("cannot read CSV: {error}"),
    }
}

/// Flattens one JSON object into a record.
fn json_record(
    text: &str,
    line: u64,
    mut column_of: impl FnMut(&str) -> Result<String, String>,
) -> Result<Record, RowError> {
    let raw = vec![text.to_owned()];
    let fail = |column: Option<String>, reason: String| RowError {
        line,
        column,
        reason,
        record: raw.clone(),
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| fail(None, format!("not a JSON object: {e}")))?;
    let mut columns = Vec::with_capacity(object.len());
    let mut source_columns = Vec::with_capacity(object.len());
    let mut cells = Vec::with_capacity(object.len());
    let mut push = |name: &str, value: &serde_json::Value| -> Result<(), RowError> {
        let column = column_of(name).map_err(|reason| fail(Some(name.to_owned()), reason))?;
        let cell = json_cell(value).map_err(|reason| fail(Some(name.to_owned()), reason))?;
        if let Some(cell) = cell {
            columns.push(column);
            source_columns.push(name.to_owned());
            cells.push(cell);
        }
        Ok(())
    };
    for (key, value) in &object {
        if key == "fields" {
            let Some(fields) = value.as_object() else {
                return Err(fail(Some(key.clone()), "`fields` must be an object".into()));
            };
            for (name, value) in fields {
                push(&format!("field.{name}"), value)?;
            }
        } else {
            push(key, value)?;
        }
    }
    Ok(Record {
        line,
        columns: Rc::new(columns),
        source_columns: Rc::new(source_columns),
        cells,
        raw,
    })
}

fn json_cell(value: &serde_json::Value) -> Result<Option<String>, String> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Array(_) | Value::Object(_) => {
                        return Err("lists may hold only strings, numbers and booleans".into());
                    }
                    other => parts.extend(json_cell(other)?),
                }
            }
            Some(parts.join(";"))
        }
        Value::Object(_) => return Err("nested objects are allowed only under `fields`".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean() {
        assert_eq!(edit_distance("emial", "email"), 2);
        let message = unknown_column("emial", &["name", "email", "phone"]);
        assert_eq!(message, "unknown column `emial`; did you mean `email`?");
    }

    #[test]
    fn json_lines_flatten() {
        let record = json_record(
            r#"{"name":"张伟","tags":["vip","north"],"fields":{"tier":"gold"},"notes":null}"#,
            7,
            |name| Ok(name.to_owned()),
        )
        .unwrap();
        assert_eq!(record.get("tags"), Some("vip;north"));
        assert_eq!(record.get("field.tier"), Some("gold"));
        assert_eq!(record.get("notes"), None);
        let error = json_record("[1]", 3, |n| Ok(n.to_owned())).err().unwrap();
        assert_eq!(error.line, 3);
    }
}
