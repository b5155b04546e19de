//! Special functions: log-gamma and digamma from `statrs`, and the Gauss
//! hypergeometric series the BG/NBD and Pareto/NBD formulas need.

pub(crate) use statrs::function::gamma::{digamma, ln_gamma};

/// `ln B(a, b)` for positive arguments.
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Terms after which the hypergeometric series gives up.
const MAX_TERMS: usize = 200_000;

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) by its power series,
/// for 0 ≤ z < 1 and c > 0 (the only cases the models need). `None` when
/// the series does not settle to full precision within 200,000 terms.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || c <= 0.0 || !a.is_finite() || !b.is_finite() {
        return None;
    }
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    for n in 0..MAX_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if !sum.is_finite() {
            return None;
        }
        if term.abs() <= 1e-17 * sum.abs() {
            return Some(sum);
        }
    }
    None
}

/// `ln(e^x + e^y)` without overflow.
pub(crate) fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// `ln Σ e^xᵢ` without overflow.
pub(crate) fn log_sum_exp(values: &[f64]) -> f64 {
    let m = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + values.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypergeometric_series_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
        for z in [0.1f64, 0.5, 0.9] {
            let want = -(1.0 - z).ln() / z;
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            assert!((got - want).abs() < 1e-12 * want, "{z}: {got} vs {want}");
        }
        // ₂F₁(a, b; b; z) = (1 − z)^(−a)
        let got = hyp2f1(2.5, 3.0, 3.0, 0.3).unwrap();
        assert!((got - 0.7_f64.powf(-2.5)).abs() < 1e-12);
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0), Some(1.0));
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
    }

    #[test]
    fn log_sums_do_not_overflow() {
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((log_sum_exp(&[-1000.0, -1000.0, -1000.0]) - (-1000.0 + 3f64.ln())).abs() < 1e-12);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, f64::NEG_INFINITY), f64::NEG_INFINITY);
    }
}
