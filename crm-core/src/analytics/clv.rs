//! Customer lifetime value: expected purchases per period × expected spend
//! × margin, discounted.

use crate::Error;
use crate::analytics::{BgNbd, MbgNbd, ParetoNbd};

/// A model that predicts a customer's purchases in the next `horizon`
/// periods from their history (x, tₓ, T).
pub trait PurchaseModel {
    /// Expected purchases in `(T, T + horizon]`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the model cannot evaluate the horizon.
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64>;

    /// Expected purchases for several horizons (a model may share work
    /// between them).
    ///
    /// # Errors
    ///
    /// As [`PurchaseModel::expected_purchases`].
    fn expected_purchases_path(
        &self,
        horizons: &[f64],
        x: f64,
        tx: f64,
        t: f64,
    ) -> crate::Result<Vec<f64>> {
        horizons.iter().map(|h| self.expected_purchases(*h, x, tx, t)).collect()
    }

    /// Probability that the customer is still alive.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the model cannot evaluate it.
    fn p_alive(&self, x: f64, tx: f64, t: f64) -> crate::Result<f64>;
}

impl PurchaseModel for BgNbd {
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        BgNbd::expected_purchases(self, horizon, x, tx, t)
    }

    fn expected_purchases_path(
        &self,
        horizons: &[f64],
        x: f64,
        tx: f64,
        t: f64,
    ) -> crate::Result<Vec<f64>> {
        BgNbd::expected_purchases_path(self, horizons, x, tx, t)
    }

    fn p_alive(&self, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        Ok(BgNbd::p_alive(self, x, tx, t))
    }
}

impl PurchaseModel for MbgNbd {
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        MbgNbd::expected_purchases(self, horizon, x, tx, t)
    }

    fn p_alive(&self, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        Ok(MbgNbd::p_alive(self, x, tx, t))
    }
}

impl PurchaseModel for ParetoNbd {
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        ParetoNbd::expected_purchases(self, horizon, x, tx, t)
    }

    fn p_alive(&self, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        ParetoNbd::p_alive(self, x, tx, t)
    }
}

/// Customer lifetime value over `periods` steps of `step` time units:
/// Σᵢ (E[X(i·step)] − E[X((i−1)·step)]) × spend × margin / (1 + rate)ⁱ,
/// with `rate` the discount rate per step (the convention of Python
/// `lifetimes` with a margin of 1).
///
/// # Examples
///
/// ```
/// use crm_core::analytics::{BgNbd, clv};
/// let model = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
/// // 12 steps of 4.345 weeks (months), 1 % a month, $35 a purchase, 100 % margin.
/// let value = clv(&model, (2.0, 30.43, 38.86), 35.0, 1.0, 12, 4.345, 0.01)?;
/// assert!(value > 0.0 && value < 35.0 * 5.0);
/// # Ok::<(), crm_core::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Invalid`] for a negative step, rate ≤ −1 or a non-finite spend.
#[allow(clippy::too_many_arguments)]
pub fn clv(
    model: &impl PurchaseModel,
    history: (f64, f64, f64),
    spend: f64,
    margin: f64,
    periods: u32,
    step: f64,
    rate: f64,
) -> crate::Result<f64> {
    if !(step.is_finite() && step > 0.0) {
        return Err(Error::invalid("step", format!("{step} is not a positive length")));
    }
    if !(rate.is_finite() && rate > -1.0) {
        return Err(Error::invalid("discount_rate", format!("{rate} is not > −1")));
    }
    if !(spend.is_finite() && margin.is_finite()) {
        return Err(Error::invalid("spend", "spend and margin must be finite"));
    }
    let (x, tx, t) = history;
    let horizons: Vec<f64> = (1..=periods).map(|i| f64::from(i) * step).collect();
    let path = model.expected_purchases_path(&horizons, x, tx, t)?;
    let mut value = 0.0;
    let mut previous = 0.0;
    let mut discount = 1.0;
    for cumulative in path {
        discount /= 1.0 + rate;
        value += (cumulative - previous) * spend * margin * discount;
        previous = cumulative;
    }
    Ok(value)
}

/// Per-customer scores, as columns.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Probability of being alive.
    pub p_alive: Vec<f64>,
    /// Expected purchases over the horizon.
    pub expected_purchases: Vec<f64>,
    /// Expected mean spend per purchase (the observed mean without a spend model).
    pub expected_spend: Vec<f64>,
    /// Customer lifetime value.
    pub clv: Vec<f64>,
}

/// One customer's (P(alive), expected purchases, expected spend, CLV).
type Row = (f64, f64, f64, f64);

/// What [`score`] computes.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreOptions {
    /// Horizon of `expected_purchases`, in the model's time unit.
    pub horizon: f64,
    /// CLV steps.
    pub periods: u32,
    /// Length of a CLV step in the model's time unit.
    pub step: f64,
    /// Discount rate per step.
    pub discount_rate: f64,
    /// Share of spend that is margin (1 for revenue).
    pub margin: f64,
}

impl Default for ScoreOptions {
    /// 39 periods ahead; CLV over 12 steps of 4.345 weeks (months) at 1 % a
    /// month, on revenue.
    fn default() -> ScoreOptions {
        ScoreOptions { horizon: 39.0, periods: 12, step: 4.345, discount_rate: 0.01, margin: 1.0 }
    }
}

/// Scores every customer: P(alive), expected purchases over the horizon,
/// expected spend (from the spend model, else the observed mean) and CLV.
/// Work is split over the machine's cores.
///
/// # Errors
///
/// [`Error::Invalid`] for columns of different lengths or a prediction the
/// model cannot make (the first such customer is named).
pub fn score(
    model: &(impl PurchaseModel + Sync),
    spend: Option<&crate::analytics::GammaGamma>,
    columns: (&[f64], &[f64], &[f64], &[f64]),
    options: &ScoreOptions,
) -> crate::Result<Scores> {
    let (x, tx, t, m) = columns;
    let n = x.len();
    if tx.len() != n || t.len() != n || m.len() != n {
        return Err(Error::invalid(
            "columns",
            "frequency, recency, T and monetary differ in length",
        ));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
    let chunk = n.div_ceil(threads).max(1);
    let one = |i: usize| -> crate::Result<Row> {
        let spend_i = spend.map_or(m[i], |g| g.expected_spend(x[i], m[i]));
        let mut horizons: Vec<f64> =
            (1..=options.periods).map(|k| f64::from(k) * options.step).collect();
        horizons.push(options.horizon);
        let path = model.expected_purchases_path(&horizons, x[i], tx[i], t[i])?;
        let mut value = 0.0;
        let mut previous = 0.0;
        let mut discount = 1.0;
        for cumulative in &path[..options.periods as usize] {
            discount /= 1.0 + options.discount_rate;
            value += (cumulative - previous) * spend_i * options.margin * discount;
            previous = *cumulative;
        }
        Ok((model.p_alive(x[i], tx[i], t[i])?, path[options.periods as usize], spend_i, value))
    };
    let parts: Vec<crate::Result<Vec<Row>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(n);
                scope.spawn(move || (start..end).map(one).collect::<crate::Result<Vec<_>>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("a scoring thread panicked".into())))
            })
            .collect()
    });
    let mut scores = Scores {
        p_alive: Vec::with_capacity(n),
        expected_purchases: Vec::with_capacity(n),
        expected_spend: Vec::with_capacity(n),
        clv: Vec::with_capacity(n),
    };
    for part in parts {
        for (p, e, s, v) in part? {
            scores.p_alive.push(p);
            scores.expected_purchases.push(e);
            scores.expected_spend.push(s);
            scores.clv.push(v);
        }
    }
    Ok(scores)
}
