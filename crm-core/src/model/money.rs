//! Money: an integer number of minor units in an ISO 4217 currency.
//!
//! There is no floating point anywhere on the path money takes. Amounts are
//! `i64` minor units (fen, cents, fils); arithmetic is checked; two
//! currencies never add up silently; conversion uses exact decimal rates
//! and an explicit [`RoundingMode`].

use std::fmt;

use chrono::NaiveDate;

use crate::Error;
use crate::model::Decimal;

/// An ISO 4217 currency code such as `CNY` or `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Currencies whose minor unit is not 1/100 (ISO 4217 list of exponents).
const EXPONENTS: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

impl Currency {
    /// Renminbi.
    pub const CNY: Currency = Currency(*b"CNY");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses a three-letter code (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `currency` when the code is not three
    /// ASCII letters.
    pub fn new(code: &str) -> crate::Result<Currency> {
        let upper = code.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(Error::invalid(
                "currency",
                format!("`{code}` is not an ISO 4217 code (three letters)"),
            )),
        }
    }

    /// The code, e.g. `"CNY"`.
    pub fn code(&self) -> &str {
        // The constructor admits only ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// The number of decimal digits of the minor unit: 2 for CNY, USD and
    /// EUR, 0 for JPY and KRW, 3 for KWD, BHD and other dinars.
    pub fn exponent(&self) -> u32 {
        let code = self.code();
        EXPONENTS.iter().find(|(c, _)| *c == code).map_or(2, |(_, exponent)| u32::from(*exponent))
    }

    /// Minor units in one major unit (100 for CNY, 1 for JPY).
    pub fn minor_per_major(&self) -> i64 {
        10i64.pow(self.exponent())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = Error;
    fn from_str(code: &str) -> crate::Result<Currency> {
        Currency::new(code)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        let code = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Currency::new(&code).map_err(serde::de::Error::custom)
    }
}

/// How a result that falls between two minor units is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RoundingMode {
    /// To the nearest; halves to the even neighbour (banker's rounding).
    #[default]
    HalfEven,
    /// To the nearest; halves away from zero (commercial rounding).
    HalfUp,
    /// Towards zero (truncation).
    Down,
    /// Away from zero.
    Up,
}

/// `numerator / denominator` rounded to an integer.
///
/// Returns `None` when the denominator is zero or the result does not fit.
pub(crate) fn div_round(numerator: i128, denominator: i128, mode: RoundingMode) -> Option<i128> {
    if denominator == 0 {
        return None;
    }
    let (numerator, denominator) = if denominator < 0 {
        (numerator.checked_neg()?, -denominator)
    } else {
        (numerator, denominator)
    };
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder == 0 {
        return Some(quotient);
    }
    let away = if numerator < 0 { -1 } else { 1 };
    let twice = remainder.unsigned_abs() * 2;
    let denominator = denominator.unsigned_abs();
    let round_away = match mode {
        RoundingMode::Down => false,
        RoundingMode::Up => true,
        RoundingMode::HalfUp => twice >= denominator,
        RoundingMode::HalfEven => {
            twice > denominator || (twice == denominator && quotient % 2 != 0)
        }
    };
    Some(if round_away { quotient + away } else { quotient })
}

/// An amount of money: integer minor units and a currency.
///
/// # Examples
///
/// ```
/// use crm_core::{Currency, Money};
/// let total = Money::parse("100.00", Currency::CNY)?;
/// let parts = total.allocate(3)?;
/// assert_eq!(parts.iter().map(ToString::to_string).collect::<Vec<_>>(),
///            ["CNY 33.34", "CNY 33.33", "CNY 33.33"]);
/// let dollars = Money::parse("5", Currency::USD)?;
/// assert!(total.checked_add(dollars).is_err()); // never a silent sum
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount in minor units (`Money::new(1999, CNY)` is ¥19.99).
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in a currency.
    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a decimal amount in major units (`"19.99"`, `"-5"`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `amount` when the text is not a
    /// decimal, has more fractional digits than the currency's minor unit
    /// (`"1.005"` CNY), or does not fit.
    pub fn parse(text: &str, currency: Currency) -> crate::Result<Money> {
        let decimal = Decimal::parse(text).map_err(|_| {
            Error::invalid("amount", format!("`{text}` is not an amount of {currency}"))
        })?;
        if decimal.scale() > currency.exponent() {
            return Err(Error::invalid(
                "amount",
                format!(
                    "`{text}` has more than {} decimal places, the minor unit of {currency}",
                    currency.exponent()
                ),
            ));
        }
        Money::from_decimal(decimal, currency, RoundingMode::HalfEven)
    }

    /// A decimal amount in major units, rounded to the minor unit.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `amount` when it does not fit.
    pub fn from_decimal(
        value: Decimal,
        currency: Currency,
        mode: RoundingMode,
    ) -> crate::Result<Money> {
        let overflow = || Error::invalid("amount", format!("{value} {currency} is too large"));
        let exponent = currency.exponent();
        let minor = if value.scale() <= exponent {
            value.mantissa().checked_mul(10i128.pow(exponent - value.scale()))
        } else {
            div_round(value.mantissa(), 10i128.pow(value.scale() - exponent), mode)
        }
        .ok_or_else(overflow)?;
        Ok(Money { minor: i64::try_from(minor).map_err(|_| overflow())?, currency })
    }

    /// The amount in minor units.
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in major units as an exact decimal.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::from_parts(i128::from(self.minor), self.currency.exponent())
            .unwrap_or_else(|_| Decimal::from_integer(self.minor))
    }

    /// True for zero.
    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// True below zero.
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    fn same_currency(&self, other: &Money, what: &str) -> crate::Result<()> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(Error::invalid(
                "currency",
                format!(
                    "cannot {what} {self} and {other}: different currencies (convert one first)"
                ),
            ))
        }
    }

    fn overflow(&self, what: &str) -> Error {
        Error::invalid("amount", format!("{what} {self} overflows"))
    }

    /// The sum.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the currencies differ or the sum overflows.
    pub fn checked_add(self, other: Money) -> crate::Result<Money> {
        self.same_currency(&other, "add")?;
        let minor =
            self.minor.checked_add(other.minor).ok_or_else(|| self.overflow("adding to"))?;
        Ok(Money { minor, ..self })
    }

    /// The difference.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the currencies differ or it overflows.
    pub fn checked_sub(self, other: Money) -> crate::Result<Money> {
        self.same_currency(&other, "subtract")?;
        let minor =
            self.minor.checked_sub(other.minor).ok_or_else(|| self.overflow("subtracting from"))?;
        Ok(Money { minor, ..self })
    }

    /// The amount times a whole number (a quantity).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on overflow.
    pub fn checked_mul(self, factor: i64) -> crate::Result<Money> {
        let minor = self.minor.checked_mul(factor).ok_or_else(|| self.overflow("multiplying"))?;
        Ok(Money { minor, ..self })
    }

    /// The amount times an exact decimal, rounded to the minor unit.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on overflow.
    pub fn mul_decimal(self, factor: Decimal, mode: RoundingMode) -> crate::Result<Money> {
        let product = i128::from(self.minor)
            .checked_mul(factor.mantissa())
            .and_then(|p| div_round(p, 10i128.pow(factor.scale()), mode))
            .and_then(|m| i64::try_from(m).ok())
            .ok_or_else(|| self.overflow("multiplying"))?;
        Ok(Money { minor: product, ..self })
    }

    /// The negated amount.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for `i64::MIN` minor units.
    pub fn checked_neg(self) -> crate::Result<Money> {
        let minor = self.minor.checked_neg().ok_or_else(|| self.overflow("negating"))?;
        Ok(Money { minor, ..self })
    }

    /// Splits the amount into `parts` amounts that differ by at most one
    /// minor unit and add up to exactly the whole; the larger parts come
    /// first (100.00 / 3 → 33.34, 33.33, 33.33).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `parts` is zero.
    pub fn allocate(self, parts: usize) -> crate::Result<Vec<Money>> {
        if parts == 0 {
            return Err(Error::invalid("parts", "cannot split an amount into zero parts"));
        }
        self.allocate_by(&vec![1; parts])
    }

    /// Splits the amount in proportion to `weights` by the largest-remainder
    /// method: the parts add up to exactly the whole, and each is within one
    /// minor unit of its exact share. Leftover units go to the largest
    /// remainders, ties to the earlier weight.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when there are no weights or they sum to zero.
    pub fn allocate_by(self, weights: &[u64]) -> crate::Result<Vec<Money>> {
        let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
        if total == 0 {
            return Err(Error::invalid("weights", "weights must not all be zero"));
        }
        let total = i128::try_from(total).map_err(|_| Error::invalid("weights", "too large"))?;
        let whole = i128::from(self.minor);
        let sign = if whole < 0 { -1 } else { 1 };
        let magnitude = whole.abs();
        let mut shares = Vec::with_capacity(weights.len());
        let mut given: i128 = 0;
        for (index, weight) in weights.iter().enumerate() {
            let exact = magnitude * i128::from(*weight);
            let floor = exact / total;
            shares.push((floor, exact % total, index));
            given += floor;
        }
        let mut leftover = magnitude - given;
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1).then(a.cmp(b)));
        for index in order {
            if leftover == 0 {
                break;
            }
            shares[index].0 += 1;
            leftover -= 1;
        }
        shares
            .into_iter()
            .map(|(minor, _, _)| {
                i64::try_from(sign * minor)
                    .map(|minor| Money { minor, currency: self.currency })
                    .map_err(|_| self.overflow("allocating"))
            })
            .collect()
    }

    /// The sum of amounts that must share `currency`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when one differs in currency, or on overflow.
    pub fn sum<'a>(
        currency: Currency,
        amounts: impl IntoIterator<Item = &'a Money>,
    ) -> crate::Result<Money> {
        amounts.into_iter().try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m))
    }
}

impl fmt::Display for Money {
    /// `CNY 1234.50`: the code, then the amount with exactly the currency's
    /// number of decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.amount_text())
    }
}

impl Money {
    /// The amount in major units with exactly the currency's decimals and
    /// no code: `1234.50`.
    pub fn amount_text(&self) -> String {
        let exponent = self.currency.exponent() as usize;
        let sign = if self.minor < 0 { "-" } else { "" };
        let digits = self.minor.unsigned_abs().to_string();
        if exponent == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = exponent + 1);
        let (whole, fraction) = padded.split_at(padded.len() - exponent);
        format!("{sign}{whole}.{fraction}")
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("Money", 2)?;
        state.serialize_field("amount", &self.amount_text())?;
        state.serialize_field("currency", &self.currency)?;
        state.end()
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            amount: String,
            currency: Currency,
        }
        let raw = Raw::deserialize(deserializer)?;
        Money::parse(&raw.amount, raw.currency).map_err(serde::de::Error::custom)
    }
}

/// A dated exchange rate: on `date`, one unit of `base` buys `rate` units
/// of `quote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FxRate {
    /// The currency converted from.
    pub base: Currency,
    /// The currency converted into.
    pub quote: Currency,
    /// The day the rate is for.
    pub date: NaiveDate,
    /// Units of `quote` per unit of `base` (exact, positive).
    pub rate: Decimal,
}

impl FxRate {
    /// A rate; see [`FxRate::validate`].
    pub fn new(base: Currency, quote: Currency, date: NaiveDate, rate: Decimal) -> FxRate {
        FxRate { base, quote, date, rate }
    }

    /// Checks the rate is positive and between two different currencies.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `rate` or `quote`.
    pub fn validate(&self) -> crate::Result<()> {
        if self.base == self.quote {
            return Err(Error::invalid("quote", format!("a rate from {} into itself", self.base)));
        }
        if self.rate.mantissa() <= 0 {
            return Err(Error::invalid(
                "rate",
                format!("{} → {} rate {} must be positive", self.base, self.quote, self.rate),
            ));
        }
        Ok(())
    }

    /// Converts `amount` (in `base`) into `quote`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `amount` is not in `base`, or on overflow.
    pub fn convert(&self, amount: Money, mode: RoundingMode) -> crate::Result<Money> {
        self.apply(amount, self.base, self.quote, false, mode)
    }

    /// Converts `amount` (in `quote`) back into `base` by dividing by the
    /// rate exactly, then rounding once.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `amount` is not in `quote`, or on overflow.
    pub fn convert_inverse(&self, amount: Money, mode: RoundingMode) -> crate::Result<Money> {
        self.apply(amount, self.quote, self.base, true, mode)
    }

    fn apply(
        &self,
        amount: Money,
        from: Currency,
        to: Currency,
        inverse: bool,
        mode: RoundingMode,
    ) -> crate::Result<Money> {
        if amount.currency != from {
            return Err(Error::invalid(
                "currency",
                format!("{amount} cannot be converted with a {} → {} rate", self.base, self.quote),
            ));
        }
        // minor_to = minor_from × rate × 10^e_to / 10^e_from, with
        // rate = mantissa / 10^scale (or its inverse), in one exact division.
        let scale = 10i128.pow(self.rate.scale());
        let (rate_num, rate_den) =
            if inverse { (scale, self.rate.mantissa()) } else { (self.rate.mantissa(), scale) };
        let overflow =
            || Error::invalid("amount", format!("converting {amount} into {to} overflows"));
        let numerator = i128::from(amount.minor)
            .checked_mul(rate_num)
            .and_then(|n| n.checked_mul(10i128.pow(to.exponent())))
            .ok_or_else(overflow)?;
        let denominator = rate_den.checked_mul(10i128.pow(from.exponent())).ok_or_else(overflow)?;
        let minor = div_round(numerator, denominator, mode)
            .and_then(|m| i64::try_from(m).ok())
            .ok_or_else(overflow)?;
        Ok(Money { minor, currency: to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(text: &str) -> Money {
        Money::parse(text, Currency::CNY).unwrap()
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::CNY.exponent(), 2);
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::new("kwd").unwrap().exponent(), 3);
        assert_eq!(Money::parse("1.005", Currency::new("KWD").unwrap()).unwrap().minor(), 1005);
        assert!(Money::parse("1.5", Currency::JPY).is_err());
        assert!(Money::parse("1.005", Currency::CNY).is_err());
        assert_eq!(Money::new(-5, Currency::CNY).to_string(), "CNY -0.05");
        assert_eq!(Money::new(1200, Currency::JPY).to_string(), "JPY 1200");
    }

    #[test]
    fn rounding_modes() {
        use RoundingMode::*;
        let cases = [
            (25, 10, HalfEven, 2),
            (35, 10, HalfEven, 4),
            (25, 10, HalfUp, 3),
            (-25, 10, HalfUp, -3),
            (-25, 10, HalfEven, -2),
            (29, 10, Down, 2),
            (-29, 10, Down, -2),
            (21, 10, Up, 3),
            (-21, 10, Up, -3),
            (26, 10, HalfEven, 3),
            (24, -10, HalfEven, -2),
        ];
        for (n, d, mode, want) in cases {
            assert_eq!(div_round(n, d, mode), Some(want), "{n}/{d} {mode:?}");
        }
        assert_eq!(div_round(1, 0, HalfEven), None);
    }

    #[test]
    fn allocation_and_mixed_currencies() {
        let parts = cny("100.00").allocate(3).unwrap();
        assert_eq!(parts, vec![cny("33.34"), cny("33.33"), cny("33.33")]);
        let parts = cny("-100.00").allocate(3).unwrap();
        assert_eq!(parts, vec![cny("-33.34"), cny("-33.33"), cny("-33.33")]);
        assert_eq!(
            cny("10").allocate_by(&[1, 0, 3]).unwrap(),
            vec![cny("2.50"), cny("0"), cny("7.50")]
        );
        assert!(cny("1").allocate(0).is_err());
        let err = cny("1").checked_add(Money::new(1, Currency::USD)).unwrap_err();
        assert!(err.to_string().contains("different currencies"), "{err}");
        assert!(Money::new(i64::MAX, Currency::CNY).checked_add(cny("0.01")).is_err());
    }

    #[test]
    fn conversion_is_exact_integer_arithmetic() {
        let rate = FxRate::new(
            Currency::USD,
            Currency::CNY,
            NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            Decimal::parse("7.1234").unwrap(),
        );
        let usd = Money::parse("100.00", Currency::USD).unwrap();
        assert_eq!(rate.convert(usd, RoundingMode::HalfEven).unwrap(), cny("712.34"));
        assert_eq!(rate.convert_inverse(cny("712.34"), RoundingMode::HalfEven).unwrap(), usd);
        let jpy_rate =
            FxRate::new(Currency::CNY, Currency::JPY, rate.date, Decimal::parse("20.5").unwrap());
        assert_eq!(
            jpy_rate.convert(cny("1.01"), RoundingMode::HalfEven).unwrap(),
            Money::new(21, Currency::JPY)
        );
        assert!(rate.convert(cny("1"), RoundingMode::HalfEven).is_err());
    }
}
