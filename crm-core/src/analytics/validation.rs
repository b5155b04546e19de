//! Calibration / holdout validation: predicted against actual repeat
//! purchases, per customer and cumulative over time.

use crate::Error;
use crate::analytics::clv::PurchaseModel;

/// Cumulative repeat purchases of a cohort, actual and predicted, at the
/// end of each period since the start of the data.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Tracking {
    /// Period numbers 1, 2, … (in the summary's time unit).
    pub period: Vec<f64>,
    /// Actual cumulative repeat purchases.
    pub actual: Vec<f64>,
    /// Predicted cumulative repeat purchases.
    pub predicted: Vec<f64>,
}

/// Predicted and actual repeat purchases in the holdout period, per
/// customer (columns), and the totals.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Holdout {
    /// Predicted purchases per customer.
    pub predicted: Vec<f64>,
    /// Actual purchases per customer.
    pub actual: Vec<f64>,
    /// Σ predicted.
    pub total_predicted: f64,
    /// Σ actual.
    pub total_actual: f64,
    /// Mean absolute error per customer.
    pub mean_absolute_error: f64,
}

/// Conditional expectations over the holdout for every customer, against
/// what they did.
///
/// # Errors
///
/// [`Error::Invalid`] for columns of different lengths or a prediction the
/// model cannot make.
pub fn holdout(
    model: &impl PurchaseModel,
    columns: (&[f64], &[f64], &[f64]),
    actual: &[f64],
    length: f64,
) -> crate::Result<Holdout> {
    let (x, tx, t) = columns;
    if tx.len() != x.len() || t.len() != x.len() || actual.len() != x.len() {
        return Err(Error::invalid("holdout", "columns differ in length"));
    }
    let predicted = (0..x.len())
        .map(|i| model.expected_purchases(length, x[i], tx[i], t[i]))
        .collect::<crate::Result<Vec<f64>>>()?;
    let n = x.len().max(1) as f64;
    let mean_absolute_error =
        predicted.iter().zip(actual).map(|(p, a)| (p - a).abs()).sum::<f64>() / n;
    Ok(Holdout {
        total_predicted: predicted.iter().sum(),
        total_actual: actual.iter().sum(),
        predicted,
        actual: actual.to_vec(),
        mean_absolute_error,
    })
}

/// The tracking plot's data: cumulative repeat purchases of a cohort by
/// period, actual against the model's expectation for new customers
/// (each customer's clock starts at their first purchase).
///
/// `first` is each customer's first purchase and `repeats` the times of all
/// their repeat purchases, both in periods since a common origin; `periods`
/// is how far to track.
///
/// # Errors
///
/// [`Error::Invalid`] when the model cannot make a prediction.
pub fn tracking(
    expected_new: impl Fn(f64) -> crate::Result<f64>,
    first: &[f64],
    repeats: &[f64],
    periods: u32,
) -> crate::Result<Tracking> {
    let mut out = Tracking::default();
    let mut sorted: Vec<f64> = repeats.to_vec();
    sorted.sort_by(f64::total_cmp);
    for k in 1..=periods {
        let end = f64::from(k);
        let mut predicted = 0.0;
        for f in first {
            if *f < end {
                predicted += expected_new(end - f)?;
            }
        }
        out.period.push(end);
        out.actual.push(sorted.partition_point(|r| *r <= end) as f64);
        out.predicted.push(predicted);
    }
    Ok(out)
}
