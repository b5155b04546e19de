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
}

impl PurchaseModel for BgNbd {
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        BgNbd::expected_purchases(self, horizon, x, tx, t)
    }
}

impl PurchaseModel for MbgNbd {
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        MbgNbd::expected_purchases(self, horizon, x, tx, t)
    }
}

impl PurchaseModel for ParetoNbd {
    fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        ParetoNbd::expected_purchases(self, horizon, x, tx, t)
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
    let mut value = 0.0;
    let mut previous = 0.0;
    for i in 1..=periods {
        let cumulative = model.expected_purchases(f64::from(i) * step, x, tx, t)?;
        value += (cumulative - previous) * spend * margin / (1.0 + rate).powi(i as i32);
        previous = cumulative;
    }
    Ok(value)
}
