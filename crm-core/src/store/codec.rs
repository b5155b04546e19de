//! Conversions between model values and SQLite columns.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Row;
use rusqlite::types::FromSql;

use crate::Error;

/// A time cut to the microseconds the database keeps.
pub(crate) fn stored_precision(time: DateTime<Utc>) -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(time, 6)
}

/// Fixed-width UTC text, so that text order is time order.
pub(crate) fn time_text(time: &DateTime<Utc>) -> String {
    let mut buf = [0u8; 40];
    crate::model::time::write_utc(&mut buf, time, crate::model::time::Fraction::Micros).to_owned()
}

pub(crate) fn date_text(date: &NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_time(text: &str, column: &str) -> crate::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Internal(format!("column {column}: bad time `{text}`: {e}")))
}

pub(crate) fn parse_date(text: &str, column: &str) -> crate::Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| Error::Internal(format!("column {column}: bad date `{text}`: {e}")))
}

/// Reads a column by name.
pub(crate) fn get<T: FromSql>(row: &Row<'_>, column: &str) -> crate::Result<T> {
    row.get(column).map_err(|e| Error::Internal(format!("column {column}: {e}")))
}

pub(crate) fn get_time(row: &Row<'_>, column: &str) -> crate::Result<DateTime<Utc>> {
    parse_time(&get::<String>(row, column)?, column)
}

pub(crate) fn get_opt_time(row: &Row<'_>, column: &str) -> crate::Result<Option<DateTime<Utc>>> {
    get::<Option<String>>(row, column)?.map(|t| parse_time(&t, column)).transpose()
}

pub(crate) fn get_opt_date(row: &Row<'_>, column: &str) -> crate::Result<Option<NaiveDate>> {
    get::<Option<String>>(row, column)?.map(|t| parse_date(&t, column)).transpose()
}

/// Reads a column holding an id or code and parses it, naming the column on
/// failure.
pub(crate) fn get_parsed<T: std::str::FromStr<Err = Error>>(
    row: &Row<'_>,
    column: &str,
) -> crate::Result<T> {
    let text: String = get(row, column)?;
    text.parse().map_err(|e: Error| Error::Internal(format!("column {column}: {e}")))
}

pub(crate) fn get_opt_parsed<T: std::str::FromStr<Err = Error>>(
    row: &Row<'_>,
    column: &str,
) -> crate::Result<Option<T>> {
    match get::<Option<String>>(row, column)? {
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|e: Error| Error::Internal(format!("column {column}: {e}"))),
        None => Ok(None),
    }
}

/// Runs a prepared query and converts every row.
pub(crate) fn collect<T>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    mut convert: impl FnMut(&Row<'_>) -> crate::Result<T>,
) -> crate::Result<Vec<T>> {
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}
