//! From a transaction log to the per-customer columns the models use.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::Error;

/// The unit `recency` and `T` are measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// Days.
    Day,
    /// Weeks of 7 days, fractional (days / 7), as in the CLV literature.
    #[default]
    Week,
}

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }
}

/// A transaction log as columns: row `i` is a purchase by `customer[i]` on
/// `day[i]` for `amount[i]` (major units of one currency). Rows need not be
/// ordered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transactions {
    /// Customer key of each row.
    pub customer: Vec<u64>,
    /// Day of each row.
    pub day: Vec<NaiveDate>,
    /// Amount of each row (use 0 when unknown).
    pub amount: Vec<f64>,
}

impl Transactions {
    /// Adds a row.
    pub fn push(&mut self, customer: u64, day: NaiveDate, amount: f64) {
        self.customer.push(customer);
        self.day.push(day);
        self.amount.push(amount);
    }
}

/// Per-customer summary as columns (one entry per customer, ordered by
/// customer key).
///
/// Several purchases on one day are one transaction. `frequency` counts
/// repeat transactions (days with a purchase after the first) up to the
/// calibration end; `recency` is the time from the first to the last of
/// them and `t` from the first to the calibration end, in the chosen unit.
/// `monetary` is the mean over repeat transaction days of each day's total
/// (the first day excluded; 0 without repeats). `holdout_frequency` counts
/// transaction days after the calibration end up to the observation end.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Customer keys.
    pub customer: Vec<u64>,
    /// Repeat transactions in the calibration period.
    pub frequency: Vec<f64>,
    /// First to last transaction.
    pub recency: Vec<f64>,
    /// First transaction to the calibration end ("age" `T`).
    pub t: Vec<f64>,
    /// Mean spend per repeat transaction.
    pub monetary: Vec<f64>,
    /// Transactions after the calibration end, up to the observation end.
    pub holdout_frequency: Vec<f64>,
    /// Length of the holdout period in the unit (the same for everyone).
    pub holdout_length: f64,
}

impl Summary {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    /// True without customers.
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }
}

/// Builds the per-customer summary from a transaction log.
///
/// Customers whose first purchase falls after `calibration_end` are left
/// out (they were not customers yet). `observation_end` defaults to the
/// last transaction day (or the calibration end, if later).
///
/// # Errors
///
/// [`Error::Invalid`] for columns of different lengths, an empty log, a
/// non-finite or negative amount, an observation end before the
/// calibration end, or a transaction after the observation end.
pub fn summarize(
    transactions: &Transactions,
    unit: TimeUnit,
    calibration_end: NaiveDate,
    observation_end: Option<NaiveDate>,
) -> crate::Result<Summary> {
    let n = transactions.customer.len();
    if transactions.day.len() != n || transactions.amount.len() != n {
        return Err(Error::invalid(
            "transactions",
            "customer, day and amount columns differ in length",
        ));
    }
    if n == 0 {
        return Err(Error::invalid("transactions", "no transactions"));
    }
    let last_day = transactions.day.iter().max().copied().unwrap_or(calibration_end);
    let observation_end = observation_end.unwrap_or(last_day.max(calibration_end));
    if observation_end < calibration_end {
        return Err(Error::invalid(
            "observation_end",
            format!("{observation_end} is before the calibration end {calibration_end}"),
        ));
    }
    // customer → day → total that day
    let mut days: BTreeMap<u64, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for i in 0..n {
        let amount = transactions.amount[i];
        if !amount.is_finite() || amount < 0.0 {
            return Err(Error::Invalid {
                at: crate::Location { row: Some(i as u64 + 1), column: Some("amount".into()) },
                reason: format!("{amount} is not a finite amount ≥ 0"),
            });
        }
        let day = transactions.day[i];
        if day > observation_end {
            return Err(Error::Invalid {
                at: crate::Location { row: Some(i as u64 + 1), column: Some("day".into()) },
                reason: format!("{day} is after the observation end {observation_end}"),
            });
        }
        *days.entry(transactions.customer[i]).or_default().entry(day).or_default() += amount;
    }
    let scale = unit.days();
    let mut summary = Summary {
        holdout_length: (observation_end - calibration_end).num_days() as f64 / scale,
        ..Summary::default()
    };
    for (customer, by_day) in days {
        let Some((&first, _)) = by_day.iter().next() else { continue };
        if first > calibration_end {
            continue;
        }
        let calibration: Vec<(&NaiveDate, &f64)> = by_day.range(..=calibration_end).collect();
        let repeats = &calibration[1..];
        let last = calibration.last().map_or(first, |(d, _)| **d);
        summary.customer.push(customer);
        summary.frequency.push(repeats.len() as f64);
        summary.recency.push((last - first).num_days() as f64 / scale);
        summary.t.push((calibration_end - first).num_days() as f64 / scale);
        summary.monetary.push(if repeats.is_empty() {
            0.0
        } else {
            repeats.iter().map(|(_, a)| **a).sum::<f64>() / repeats.len() as f64
        });
        summary
            .holdout_frequency
            .push(by_day.range(calibration_end.succ_opt().unwrap_or(calibration_end)..).count()
                as f64);
    }
    if summary.is_empty() {
        return Err(Error::invalid(
            "transactions",
            format!("no customer bought on or before {calibration_end}"),
        ));
    }
    Ok(summary)
}

/// Each customer's first purchase and every repeat purchase (distinct days
/// after the first), as times in `unit` since `origin` — the input of
/// [`tracking`](crate::analytics::tracking).
pub fn purchase_times(
    transactions: &Transactions,
    unit: TimeUnit,
    origin: NaiveDate,
) -> (Vec<f64>, Vec<f64>) {
    let mut days: BTreeMap<u64, std::collections::BTreeSet<NaiveDate>> = BTreeMap::new();
    for (customer, day) in transactions.customer.iter().zip(&transactions.day) {
        days.entry(*customer).or_default().insert(*day);
    }
    let at = |d: &NaiveDate| (*d - origin).num_days() as f64 / unit.days();
    let mut first = Vec::with_capacity(days.len());
    let mut repeats = Vec::new();
    for set in days.values() {
        let mut iter = set.iter();
        if let Some(d) = iter.next() {
            first.push(at(d));
        }
        repeats.extend(iter.map(at));
    }
    (first, repeats)
}

/// Checks the columns a repeat-purchase model is fitted on.
pub(crate) fn check_rft(frequency: &[f64], recency: &[f64], t: &[f64]) -> crate::Result<()> {
    if frequency.len() != recency.len() || frequency.len() != t.len() {
        return Err(Error::invalid("summary", "frequency, recency and T differ in length"));
    }
    if frequency.is_empty() {
        return Err(Error::invalid("summary", "no customers"));
    }
    for (i, ((x, tx), big_t)) in frequency.iter().zip(recency).zip(t).enumerate() {
        let ok = x.is_finite()
            && tx.is_finite()
            && big_t.is_finite()
            && *x >= 0.0
            && *tx >= 0.0
            && *big_t >= *tx
            && (*x > 0.0 || *tx == 0.0);
        if !ok {
            return Err(Error::Invalid {
                at: crate::Location { row: Some(i as u64 + 1), column: Some("frequency".into()) },
                reason: format!(
                    "customer {} has frequency {x}, recency {tx}, T {big_t}: need 0 ≤ recency ≤ T, recency 0 without repeats, all finite",
                    i + 1
                ),
            });
        }
    }
    Ok(())
}
