//! Dated exchange rates and conversion into a reporting currency.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::{Currency, Decimal, FxRate, Money, RoundingMode};
use crate::store::codec::date_text;
use crate::store::{Tx, Upserted};

/// How old a rate may be and still convert an amount: the latest rate on
/// or before the day is used if it is at most this many days old (rates
/// are not published on weekends and holidays; China's Golden Week is
/// seven days).
pub const FX_MAX_AGE_DAYS: i64 = 10;

impl Tx<'_> {
    /// Stores a dated rate (replacing one for the same pair and day) and
    /// says whether it was new, changed or already stored. The inverse pair
    /// is derived when converting, so store one direction.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a non-positive rate or a pair of one currency.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use crm_core::{Currency, Decimal, FxRate, Money, RoundingMode};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    /// crm.write(|tx| tx.set_fx_rate(FxRate::new(Currency::USD, Currency::CNY, day, Decimal::parse("7.10")?)))?;
    /// let cny = crm.read(|tx| tx.convert(Money::parse("10.00", Currency::USD)?, Currency::CNY, day, RoundingMode::HalfEven))?;
    /// assert_eq!(cny.to_string(), "CNY 71.00");
    /// // The inverse direction divides exactly, then rounds once.
    /// let usd = crm.read(|tx| tx.convert(Money::parse("71.00", Currency::CNY)?, Currency::USD, day, RoundingMode::HalfEven))?;
    /// assert_eq!(usd.to_string(), "USD 10.00");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn set_fx_rate(&mut self, rate: FxRate) -> crate::Result<Upserted> {
        rate.validate()?;
        let before = self.fx_rate_on(rate.base, rate.quote, rate.date)?;
        if before.as_ref() == Some(&rate) {
            return Ok(Upserted::Unchanged);
        }
        self.conn.execute(
            "INSERT INTO fx_rates (base, quote, day, rate) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (base, quote, day) DO UPDATE SET rate = excluded.rate",
            params![
                rate.base.code(),
                rate.quote.code(),
                date_text(&rate.date),
                rate.rate.to_string()
            ],
        )?;
        let key = format!("{}/{}/{}", rate.base, rate.quote, date_text(&rate.date));
        self.record_saved("fx_rate", &key, before.as_ref(), &rate)?;
        Ok(if before.is_some() { Upserted::Updated } else { Upserted::Created })
    }

    /// The rate stored for exactly this pair and day.
    fn fx_rate_on(
        &self,
        base: Currency,
        quote: Currency,
        day: NaiveDate,
    ) -> crate::Result<Option<FxRate>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rate FROM fx_rates WHERE base = ?1 AND quote = ?2 AND day = ?3",
        )?;
        let rate: Option<String> = stmt
            .query_row(params![base.code(), quote.code(), date_text(&day)], |row| row.get(0))
            .optional()?;
        rate.map(|r| {
            Decimal::parse(&r)
                .map(|rate| FxRate { base, quote, date: day, rate })
                .map_err(|e| Error::Internal(format!("fx_rates.rate: {e}")))
        })
        .transpose()
    }

    /// The latest rate from `base` to `quote` on or before `day`, at most
    /// [`FX_MAX_AGE_DAYS`] old, with `inverse` true when only the rate the
    /// other way round is stored.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (entity `fx_rate`) naming the pair and the day.
    pub fn fx_rate(
        &self,
        base: Currency,
        quote: Currency,
        day: NaiveDate,
    ) -> crate::Result<(FxRate, bool)> {
        let oldest = day - chrono::Duration::days(FX_MAX_AGE_DAYS);
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, rate FROM fx_rates WHERE base = ?1 AND quote = ?2 AND day <= ?3 AND day >= ?4
             ORDER BY day DESC LIMIT 1",
        )?;
        let mut latest = |b: Currency, q: Currency| -> crate::Result<Option<FxRate>> {
            let found: Option<(String, String)> = stmt
                .query_row(
                    params![b.code(), q.code(), date_text(&day), date_text(&oldest)],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            found
                .map(|(d, r)| {
                    Ok(FxRate {
                        base: b,
                        quote: q,
                        date: crate::store::codec::parse_date(&d, "fx_rates.day")?,
                        rate: Decimal::parse(&r)
                            .map_err(|e| Error::Internal(format!("fx_rates.rate: {e}")))?,
                    })
                })
                .transpose()
        };
        let direct = latest(base, quote)?;
        let inverse = latest(quote, base)?;
        match (direct, inverse) {
            (Some(d), Some(i)) if i.date > d.date => Ok((i, true)),
            (Some(d), _) => Ok((d, false)),
            (None, Some(i)) => Ok((i, true)),
            (None, None) => Err(Error::NotFound {
                entity: "fx_rate",
                id: format!(
                    "{base}→{quote} on {day} (no rate either way in the {FX_MAX_AGE_DAYS} days up to it)"
                ),
            }),
        }
    }

    /// Converts an amount into another currency at the rate for `day`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no rate is stored for the pair near the day;
    /// [`Error::Invalid`] on overflow.
    pub fn convert(
        &self,
        amount: Money,
        to: Currency,
        day: NaiveDate,
        mode: RoundingMode,
    ) -> crate::Result<Money> {
        if amount.currency() == to {
            return Ok(amount);
        }
        let (rate, inverse) = self.fx_rate(amount.currency(), to, day)?;
        if inverse { rate.convert_inverse(amount, mode) } else { rate.convert(amount, mode) }
    }
}

/// Converts many amounts into one currency, looking each pair and day up
/// once.
pub(crate) struct Converter<'t, 'c> {
    tx: &'t Tx<'c>,
    to: Currency,
    rates: HashMap<(Currency, NaiveDate), (FxRate, bool)>,
}

impl<'t, 'c> Converter<'t, 'c> {
    pub(crate) fn new(tx: &'t Tx<'c>, to: Currency) -> Converter<'t, 'c> {
        Converter { tx, to, rates: HashMap::new() }
    }

    pub(crate) fn convert(&mut self, amount: Money, day: NaiveDate) -> crate::Result<Money> {
        if amount.currency() == self.to {
            return Ok(amount);
        }
        let key = (amount.currency(), day);
        let (rate, inverse) = match self.rates.get(&key) {
            Some(found) => *found,
            None => {
                let found = self.tx.fx_rate(amount.currency(), self.to, day)?;
                self.rates.insert(key, found);
                found
            }
        };
        if inverse {
            rate.convert_inverse(amount, RoundingMode::HalfEven)
        } else {
            rate.convert(amount, RoundingMode::HalfEven)
        }
    }
}
