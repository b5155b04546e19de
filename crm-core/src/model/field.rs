//! Custom fields: typed definitions and validated values.

use std::fmt;

use chrono::NaiveDate;

use crate::Error;

/// An exact decimal number (no binary floating point), e.g. `1234.50`.
///
/// Stored as a mantissa and a number of fractional digits; the canonical text
/// form drops trailing fractional zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// Most fractional digits a decimal may have.
    pub const MAX_SCALE: u32 = 18;

    /// Parses `-12.340`, `7`, `+0.5`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on anything that is not a plain decimal number
    /// (exponents, thousands separators and more than 18 fractional digits are
    /// rejected).
    pub fn parse(text: &str) -> crate::Result<Decimal> {
        let bad = || Error::invalid("decimal", format!("`{text}` is not a decimal number"));
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (digits, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        if !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let fraction = fraction.trim_end_matches('0');
        let scale = u32::try_from(fraction.len()).map_err(|_| bad())?;
        if scale > Decimal::MAX_SCALE {
            return Err(bad());
        }
        let mut mantissa: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(bad)?;
        }
        Ok(Decimal { mantissa: if negative { -mantissa } else { mantissa }, scale })
    }

    /// A decimal `mantissa × 10^-scale`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `scale` exceeds [`Decimal::MAX_SCALE`].
    pub fn from_parts(mantissa: i128, scale: u32) -> crate::Result<Decimal> {
        if scale > Decimal::MAX_SCALE {
            return Err(Error::invalid("decimal", format!("scale {scale} exceeds 18 digits")));
        }
        Ok(Decimal { mantissa, scale }.normalized())
    }

    /// The digits as an integer: `12.34` has mantissa 1234 and scale 2.
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// The number of fractional digits (trailing zeros dropped).
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// True when the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// A whole number as a decimal.
    pub fn from_integer(value: i64) -> Decimal {
        Decimal { mantissa: i128::from(value), scale: 0 }
    }

    /// The exact sum, or `None` on overflow.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let left = self.mantissa.checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let right = other.mantissa.checked_mul(10i128.checked_pow(scale - other.scale)?)?;
        Some(Decimal { mantissa: left.checked_add(right)?, scale }.normalized())
    }

    fn normalized(mut self) -> Decimal {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The type of a custom field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "values", rename_all = "snake_case")]
pub enum FieldType {
    /// Free text.
    Text,
    /// A whole number (64-bit).
    Integer,
    /// An exact decimal number.
    Decimal,
    /// `true` or `false`.
    Bool,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
    /// One of a fixed list of codes.
    Enum(Vec<String>),
}

impl FieldType {
    /// The stable code stored in the database.
    pub fn code(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Enum(_) => "enum",
        }
    }
}

/// The definition of a custom field that parties may carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldDef {
    /// Name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Type every value must have.
    pub field_type: FieldType,
    /// Label shown to people.
    pub label: Option<String>,
}

impl FieldDef {
    /// A definition with no label.
    pub fn new(name: impl Into<String>, field_type: FieldType) -> FieldDef {
        FieldDef { name: name.into(), field_type, label: None }
    }

    /// Checks the name and, for enums, the allowed values.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the problem.
    pub fn validate(&self) -> crate::Result<()> {
        if !is_identifier(&self.name) {
            return Err(Error::invalid(
                "field.name",
                format!(
                    "`{}` must start with a lower-case letter and contain only a-z, 0-9 and _",
                    self.name
                ),
            ));
        }
        if let FieldType::Enum(values) = &self.field_type {
            if values.is_empty() {
                return Err(Error::invalid(
                    format!("field.{}", self.name),
                    "an enum field needs at least one allowed value",
                ));
            }
            if let Some(bad) = values.iter().find(|v| v.trim().is_empty() || v.trim() != v.as_str())
            {
                return Err(Error::invalid(
                    format!("field.{}", self.name),
                    format!("enum value `{bad}` is empty or has surrounding spaces"),
                ));
            }
        }
        Ok(())
    }

    /// Parses the text form of a value (as in a CSV cell) against this
    /// definition.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `field.<name>` when the text does not
    /// have the field's type.
    pub fn parse(&self, text: &str) -> crate::Result<FieldValue> {
        let field = format!("field.{}", self.name);
        let text_trimmed = text.trim();
        let value = match &self.field_type {
            FieldType::Text => FieldValue::Text(text.to_owned()),
            FieldType::Integer => FieldValue::Integer(
                text_trimmed
                    .parse()
                    .map_err(|_| Error::invalid(&field, format!("`{text}` is not an integer")))?,
            ),
            FieldType::Decimal => {
                FieldValue::Decimal(Decimal::parse(text_trimmed).map_err(|_| {
                    Error::invalid(&field, format!("`{text}` is not a decimal number"))
                })?)
            }
            FieldType::Bool => FieldValue::Bool(match text_trimmed.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "y" => true,
                "false" | "0" | "no" | "n" => false,
                _ => return Err(Error::invalid(&field, format!("`{text}` is not true or false"))),
            }),
            FieldType::Date => {
                FieldValue::Date(NaiveDate::parse_from_str(text_trimmed, "%Y-%m-%d").map_err(
                    |_| Error::invalid(&field, format!("`{text}` is not a date (YYYY-MM-DD)")),
                )?)
            }
            FieldType::Enum(_) => FieldValue::Enum(text_trimmed.to_owned()),
        };
        self.check(&value)?;
        Ok(value)
    }

    /// Checks that `value` has this field's type (and, for enums, is allowed).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `field.<name>`.
    pub fn check(&self, value: &FieldValue) -> crate::Result<()> {
        let field = format!("field.{}", self.name);
        match (&self.field_type, value) {
            (FieldType::Text, FieldValue::Text(_))
            | (FieldType::Integer, FieldValue::Integer(_))
            | (FieldType::Decimal, FieldValue::Decimal(_))
            | (FieldType::Bool, FieldValue::Bool(_))
            | (FieldType::Date, FieldValue::Date(_)) => Ok(()),
            (FieldType::Enum(allowed), FieldValue::Enum(code)) => {
                if allowed.iter().any(|a| a == code) {
                    Ok(())
                } else {
                    Err(Error::invalid(
                        field,
                        format!("`{code}` is not one of: {}", allowed.join(", ")),
                    ))
                }
            }
            (expected, got) => Err(Error::invalid(
                field,
                format!("expected a {} value, got a {} value", expected.code(), got.type_code()),
            )),
        }
    }
}

/// The value of a custom field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// Free text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// An exact decimal.
    Decimal(Decimal),
    /// A flag.
    Bool(bool),
    /// A date.
    Date(NaiveDate),
    /// An enum code.
    Enum(String),
}

impl FieldValue {
    /// The type code of this value (`text`, `integer`, …).
    pub fn type_code(&self) -> &'static str {
        match self {
            FieldValue::Text(_) => "text",
            FieldValue::Integer(_) => "integer",
            FieldValue::Decimal(_) => "decimal",
            FieldValue::Bool(_) => "bool",
            FieldValue::Date(_) => "date",
            FieldValue::Enum(_) => "enum",
        }
    }

    /// The canonical text form, which [`FieldDef::parse`] reads back.
    pub fn to_text(&self) -> String {
        match self {
            FieldValue::Text(text) | FieldValue::Enum(text) => text.clone(),
            FieldValue::Integer(n) => n.to_string(),
            FieldValue::Decimal(d) => d.to_string(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// The value as an exact decimal, for integer and decimal fields.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            FieldValue::Integer(n) => Some(Decimal::from_integer(*n)),
            FieldValue::Decimal(d) => Some(*d),
            _ => None,
        }
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> FieldValue {
        FieldValue::Text(text.to_owned())
    }
}

impl From<i64> for FieldValue {
    fn from(n: i64) -> FieldValue {
        FieldValue::Integer(n)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> FieldValue {
        FieldValue::Bool(b)
    }
}

impl From<NaiveDate> for FieldValue {
    fn from(d: NaiveDate) -> FieldValue {
        FieldValue::Date(d)
    }
}

impl From<Decimal> for FieldValue {
    fn from(d: Decimal) -> FieldValue {
        FieldValue::Decimal(d)
    }
}

impl serde::Serialize for FieldValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Integer(n) => serializer.serialize_i64(*n),
            FieldValue::Bool(b) => serializer.serialize_bool(*b),
            other => serializer.serialize_str(&other.to_text()),
        }
    }
}

/// True for `[a-z][a-z0-9_]*` up to 64 characters.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trips_canonical_text() {
        for (input, canonical) in [
            ("12.340", "12.34"),
            ("-0.5", "-0.5"),
            ("+7", "7"),
            (".25", "0.25"),
            ("3.", "3"),
            ("0.001", "0.001"),
        ] {
            assert_eq!(Decimal::parse(input).unwrap().to_string(), canonical, "{input}");
        }
        for bad in ["", "-", "1e5", "1,000", "abc", "1.2.3", "."] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimal_addition_is_exact() {
        let sum = Decimal::parse("0.1").unwrap().checked_add(Decimal::parse("0.2").unwrap());
        assert_eq!(sum.unwrap().to_string(), "0.3");
    }

    #[test]
    fn field_parse_checks_types() {
        let def = FieldDef::new("tier", FieldType::Enum(vec!["gold".into(), "silver".into()]));
        assert_eq!(def.parse("gold").unwrap(), FieldValue::Enum("gold".into()));
        let err = def.parse("bronze").unwrap_err().to_string();
        assert_eq!(err, "invalid field.tier: `bronze` is not one of: gold, silver");
        let def = FieldDef::new("seats", FieldType::Integer);
        assert!(def.parse("12x").is_err());
        assert!(def.check(&FieldValue::Bool(true)).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = Decimal::parse(&text);
            for field_type in [FieldType::Text, FieldType::Integer, FieldType::Decimal, FieldType::Bool, FieldType::Date, FieldType::Enum(vec!["a".into()])] {
                let _ = FieldDef::new("f", field_type).parse(&text);
            }
            let _ = crate::model::name_key(&text);
        }

        #[test]
        fn decimal_text_round_trips(mantissa in any::<i64>(), scale in 0u32..10) {
            let text = Decimal { mantissa: i128::from(mantissa), scale }.normalized().to_string();
            prop_assert_eq!(Decimal::parse(&text).unwrap().to_string(), text);
        }

        #[test]
        fn decimal_addition_matches_integers(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            // Cents added as decimals equal the integer sum.
            let x = Decimal::parse(&format!("{}.{:02}", a / 100, (a % 100).abs())).unwrap();
            let x = if a < 0 && a / 100 == 0 { Decimal::parse(&format!("-0.{:02}", (a % 100).abs())).unwrap() } else { x };
            let y = Decimal::from_integer(b);
            let sum = x.checked_add(y).unwrap();
            let expected = Decimal { mantissa: i128::from(a) + i128::from(b) * 100, scale: 2 }.normalized();
            prop_assert_eq!(sum, expected);
        }
    }
}
