//! Profitability: how concentrated profit is, how many customers lose
//! money, and what keeping more customers is worth.

use crate::Error;
use crate::analytics::BgNbd;
use crate::analytics::clv::{ScoreOptions, score};

/// How profit is spread over customers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Concentration {
    /// Customers.
    pub customers: usize,
    /// Total profit (margin).
    pub total: f64,
    /// Share of customers (most profitable first) that make 80 % of the
    /// total profit.
    pub share_for_80_percent: f64,
    /// Share of customers with a negative margin.
    pub unprofitable_share: f64,
    /// Profit of the unprofitable customers (≤ 0).
    pub unprofitable_total: f64,
    /// The concentration (Lorenz-type) curve: cumulative share of profit
    /// at each 1 % of customers, most profitable first (101 points).
    pub curve: Vec<(f64, f64)>,
}

/// The concentration of profit over customers' margins.
///
/// With losses in the data the curve rises above 1 before falling back to
/// 1 (the "whale curve" of customer profitability).
///
/// # Errors
///
/// [`Error::Invalid`] for no customers, a non-finite margin or a total
/// profit that is not positive (shares of it would mean nothing).
pub fn concentration(margins: &[f64]) -> crate::Result<Concentration> {
    if margins.is_empty() {
        return Err(Error::invalid("margins", "no customers"));
    }
    if margins.iter().any(|m| !m.is_finite()) {
        return Err(Error::invalid("margins", "margins must be finite"));
    }
    let mut sorted = margins.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = sorted.iter().sum();
    if total <= 0.0 {
        return Err(Error::invalid("margins", format!("total profit {total} is not positive")));
    }
    let n = sorted.len();
    let mut cumulative = Vec::with_capacity(n + 1);
    let mut running = 0.0;
    cumulative.push(0.0);
    for m in &sorted {
        running += m;
        cumulative.push(running);
    }
    let needed = cumulative.iter().position(|c| *c >= 0.8 * total).unwrap_or(n);
    let curve = (0..=100)
        .map(|p| {
            let k = (p * n).div_ceil(100).min(n);
            (p as f64 / 100.0, cumulative[k] / total)
        })
        .collect();
    let losers: Vec<f64> = sorted.iter().copied().filter(|m| *m < 0.0).collect();
    Ok(Concentration {
        customers: n,
        total,
        share_for_80_percent: needed as f64 / n as f64,
        unprofitable_share: losers.len() as f64 / n as f64,
        unprofitable_total: losers.iter().sum(),
        curve,
    })
}

/// What cutting churn is worth.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RetentionUplift {
    /// The cut in the dropout probability, e.g. 0.05 for 5 %.
    pub cut: f64,
    /// Total CLV of the customers now.
    pub clv_before: f64,
    /// Total CLV with the cut.
    pub clv_after: f64,
    /// `clv_after − clv_before`.
    pub uplift: f64,
    /// `uplift / clv_before`.
    pub uplift_share: f64,
}

/// The value of a `cut` (e.g. 5 %) in churn for a BG/NBD customer base:
/// the mean dropout probability a / (a + b) is lowered by `cut` (a becomes
/// a(1 − cut), b grows by the same amount, so the Beta's concentration
/// a + b — how alike customers are — stays), and every customer's CLV is
/// recomputed.
///
/// # Errors
///
/// [`Error::Invalid`] for a cut outside [0, 1) or columns the scoring
/// rejects.
pub fn retention_uplift(
    model: &BgNbd,
    spend: Option<&crate::analytics::GammaGamma>,
    columns: (&[f64], &[f64], &[f64], &[f64]),
    options: &ScoreOptions,
    cut: f64,
) -> crate::Result<RetentionUplift> {
    if !(0.0..1.0).contains(&cut) {
        return Err(Error::invalid("cut", format!("{cut} is not a share in [0, 1)")));
    }
    let before: f64 = score(model, spend, columns, options)?.clv.iter().sum();
    let kept = BgNbd { a: model.a * (1.0 - cut), b: model.b + model.a * cut, ..*model };
    let after: f64 = score(&kept, spend, columns, options)?.clv.iter().sum();
    Ok(RetentionUplift {
        cut,
        clv_before: before,
        clv_after: after,
        uplift: after - before,
        uplift_share: if before > 0.0 { (after - before) / before } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concentration_of_a_hand_made_base() {
        // Ten customers: one makes 60, three make 10 each, five make 1, one loses 5.
        let margins = [10.0, 60.0, 1.0, 10.0, 1.0, -5.0, 1.0, 10.0, 1.0, 1.0];
        let c = concentration(&margins).unwrap();
        assert_eq!(c.total, 90.0);
        // 60 + 10 = 70 < 72 = 80 % of 90; 60 + 10 + 10 = 80 ≥ 72: three customers.
        assert_eq!(c.share_for_80_percent, 0.3);
        assert_eq!((c.unprofitable_share, c.unprofitable_total), (0.1, -5.0));
        assert_eq!(c.curve[0], (0.0, 0.0));
        assert_eq!(c.curve[100], (1.0, 1.0));
        assert!(c.curve.iter().any(|(_, share)| *share > 1.0), "the whale curve rises above 1");
        assert!(concentration(&[-1.0, 0.5]).is_err());
    }
}
