//! The columns analytics needs, built from orders in one query.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::params;

use crate::analytics::{Summary, TimeUnit, Transactions, summarize};
use crate::model::{Currency, Money, PartyId};
use crate::store::Tx;
use crate::store::codec::{collect, get, get_parsed, parse_date};
use crate::store::fx::Converter;

impl Tx<'_> {
    /// The purchase log for analytics: one row per order that counts as
    /// revenue (net of returns), its day, and its revenue converted into
    /// `currency` at the order date, in major units. Customers are numbered
    /// 0, 1, … in `Transactions::customer`; the returned vector maps those
    /// numbers to parties.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) for a missing FX rate.
    pub fn purchase_log(&self, currency: Currency) -> crate::Result<(Vec<PartyId>, Transactions)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.party_id, o.currency, substr(o.ordered_at, 1, 10) AS day, sum(l.net) AS net
             FROM orders o JOIN order_lines l ON l.order_id = o.id
             WHERE o.status NOT IN ('draft', 'cancelled')
             GROUP BY o.id ORDER BY o.party_id, o.ordered_at",
        )?;
        let rows = collect(&mut stmt, params![], |row| {
            Ok((
                get_parsed::<PartyId>(row, "party_id")?,
                get_parsed::<Currency>(row, "currency")?,
                parse_date(&get::<String>(row, "day")?, "ordered_at")?,
                get::<i64>(row, "net")?,
            ))
        })?;
        let mut converter = Converter::new(self, currency);
        let mut parties: Vec<PartyId> = Vec::new();
        let mut index: HashMap<PartyId, u64> = HashMap::new();
        let mut log = Transactions::default();
        for (party, order_currency, day, net) in rows {
            let amount = converter.convert(Money::new(net, order_currency), day)?;
            let key = *index.entry(party).or_insert_with(|| {
                parties.push(party);
                parties.len() as u64 - 1
            });
            log.push(key, day, amount.minor() as f64 / amount.currency().minor_per_major() as f64);
        }
        Ok((parties, log))
    }

    /// The per-customer summary of [`Tx::purchase_log`]: frequency, recency,
    /// age and mean repeat spend per party (parties whose first order is
    /// after `calibration_end` are left out).
    ///
    /// # Errors
    ///
    /// As [`Tx::purchase_log`] and [`summarize`].
    pub fn customer_summary(
        &self,
        currency: Currency,
        unit: TimeUnit,
        calibration_end: NaiveDate,
        observation_end: Option<NaiveDate>,
    ) -> crate::Result<(Vec<PartyId>, Summary)> {
        let (parties, log) = self.purchase_log(currency)?;
        let summary = summarize(&log, unit, calibration_end, observation_end)?;
        let ids = summary.customer.iter().map(|k| parties[*k as usize]).collect();
        Ok((ids, summary))
    }
}
