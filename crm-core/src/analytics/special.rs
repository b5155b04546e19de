//! Special functions: log-gamma and digamma from `statrs`, and the Gauss
//! hypergeometric series the BG/NBD and Pareto/NBD formulas need.

pub(crate) use statrs::function::gamma::{digamma, ln_gamma};

/// The trigamma function ψ′(x) for x > 0: the recurrence
/// ψ′(x) = ψ′(x + 1) + 1/x² up to x ≥ 10, then the asymptotic series
/// (error below 1e-15 there).
pub(crate) fn trigamma(mut x: f64) -> f64 {
    let mut value = 0.0;
    while x < 10.0 {
        value += 1.0 / (x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    value
        + inv
        + inv2 / 2.0
        + inv
            * inv2
            * (1.0 / 6.0
                - inv2
                    * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 * (1.0 / 30.0 - inv2 * 5.0 / 66.0))))
}

/// `ln B(a, b)` for positive arguments.
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Terms after which the hypergeometric series gives up.
const MAX_TERMS: usize = 200_000;

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) by its power series,
/// for 0 ≤ z < 1 and c not a pole (see [`pole`]). `None` when the series
/// does not settle to full precision within 200,000 terms.
///
/// c may be negative: the BG/NBD's c = a + b + x − 1 is about −1 for a
/// customer without repeat purchases when the fitted a and b are both near
/// zero (a base in which almost nobody drops out), and the series is then
/// still defined and well behaved.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) || pole(c) || !a.is_finite() || !b.is_finite() {
        return None;
    }
    if let Some((a2, b2, power)) = euler(a, b, c) {
        return Some((1.0 - z).powf(power) * series(a2, b2, c, z)?);
    }
    series(a, b, c, z)
}

/// True where ₂F₁(·, ·; c; z) is undefined or beyond f64: c not finite, or
/// within 1e-12 of 0, −1, −2, … (a term's denominator c + n would vanish).
fn pole(c: f64) -> bool {
    !c.is_finite() || (c < 0.5 && (c - c.round()).abs() < 1e-12)
}

/// Euler's transformation ₂F₁(a, b; c; z) = (1 − z)^(c−a−b) ₂F₁(c−a, c−b; c; z),
/// when it makes the series' numerator parameters smaller (the models'
/// arguments grow with a customer's purchases; c − a and c − b do not).
fn euler(a: f64, b: f64, c: f64) -> Option<(f64, f64, f64)> {
    let (a2, b2) = (c - a, c - b);
    (a2.abs() + b2.abs() < a.abs() + b.abs()).then_some((a2, b2, c - a - b))
}

fn series(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
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

/// ₂F₁(a, b; c; z) at several z with one pass over the series'
/// coefficients (which do not depend on z).
pub(crate) fn hyp2f1_many(a: f64, b: f64, c: f64, zs: &[f64]) -> Option<Vec<f64>> {
    if zs.iter().any(|z| !(0.0..1.0).contains(z)) || pole(c) || !a.is_finite() || !b.is_finite() {
        return None;
    }
    if let Some((a2, b2, power)) = euler(a, b, c) {
        let sums = series_many(a2, b2, c, zs)?;
        return Some(zs.iter().zip(sums).map(|(z, f)| (1.0 - z).powf(power) * f).collect());
    }
    series_many(a, b, c, zs)
}

fn series_many(a: f64, b: f64, c: f64, zs: &[f64]) -> Option<Vec<f64>> {
    let mut coefficient = 1.0_f64;
    let mut powers: Vec<f64> = vec![1.0; zs.len()];
    let mut sums: Vec<f64> = vec![1.0; zs.len()];
    let mut done: Vec<bool> = zs.iter().map(|z| *z == 0.0).collect();
    for n in 0..MAX_TERMS {
        if done.iter().all(|d| *d) {
            return Some(sums);
        }
        let n = n as f64;
        coefficient *= (a + n) * (b + n) / ((c + n) * (n + 1.0));
        for k in 0..zs.len() {
            if done[k] {
                continue;
            }
            powers[k] *= zs[k];
            let term = coefficient * powers[k];
            sums[k] += term;
            if !sums[k].is_finite() {
                return None;
            }
            if term.abs() <= 1e-17 * sums[k].abs() {
                done[k] = true;
            }
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

/// `ln(e^u + e^v)` and the shares `e^u / (e^u + e^v)`, `e^v / (e^u + e^v)`,
/// with one `exp` and one `ln_1p` (instead of [`log_add_exp`]'s two and a
/// `ln`, plus two more for the shares). NaN shares when both are −∞.
pub(crate) fn log_add_exp_weights(u: f64, v: f64) -> (f64, f64, f64) {
    let (high, low) = if u >= v { (u, v) } else { (v, u) };
    if high == f64::NEG_INFINITY {
        return (high, f64::NAN, f64::NAN);
    }
    let e = (low - high).exp();
    let w_high = 1.0 / (1.0 + e);
    let w_low = e * w_high;
    let ln_s = high + e.ln_1p();
    if u >= v { (ln_s, w_high, w_low) } else { (ln_s, w_low, w_high) }
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
        // Large parameters (taken through Euler's transformation) agree
        // with the plain series, and the many-z form with the single one.
        for (a, b, c, z) in
            [(14.2, 16.4, 30.2, 0.55), (2.5, 1.7, 4.5, 0.3), (30.0, 1.61, 31.0, 0.2)]
        {
            let plain = series(a, b, c, z).unwrap();
            let fast = hyp2f1(a, b, c, z).unwrap();
            assert!((plain - fast).abs() < 1e-12 * plain, "{a} {b} {c} {z}: {plain} vs {fast}");
            let many = hyp2f1_many(a, b, c, &[z, z / 2.0]).unwrap();
            assert!((many[0] - fast).abs() < 1e-12 * fast);
            assert!((many[1] - hyp2f1(a, b, c, z / 2.0).unwrap()).abs() < 1e-12 * many[1]);
        }
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0), Some(1.0));
        // c near −1 but not on it: ₂F₁(1, b; b − 1; z) = Σ (b − 1 + n)/(b − 1) zⁿ
        // = 1/(1 − z) + z/((1 − z)² (b − 1)) for every b ≠ 1, where the old
        // c > 0 guard refused.
        for b in [3.0e-8, 0.25, 0.75] {
            let c = b - 1.0;
            let want = 1.0 / 0.6 + 0.4 / (0.36 * c);
            let got = hyp2f1(1.0, b, c, 0.4).unwrap();
            assert!((got - want).abs() < 1e-7 * want.abs(), "{b}: {got} vs {want}");
        }
        assert_eq!(hyp2f1(1.0, 1.0, -1.0, 0.4), None);
        assert_eq!(hyp2f1(1.0, 1.0, 0.0, 0.4), None);
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
    }

    #[test]
    fn trigamma_matches_known_values_and_the_derivative_of_digamma() {
        // ψ′(1) = π²/6, ψ′(1/2) = π²/2.
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-12);
        for x in [0.3, 2.5, 7.0, 40.0] {
            let h = 1e-5 * x;
            let numeric = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!((trigamma(x) - numeric).abs() < 1e-6 * numeric.abs(), "{x}");
        }
    }

    #[test]
    fn log_sums_do_not_overflow() {
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!((log_sum_exp(&[-1000.0, -1000.0, -1000.0]) - (-1000.0 + 3f64.ln())).abs() < 1e-12);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, f64::NEG_INFINITY), f64::NEG_INFINITY);
        for (u, v) in
            [(0.0, 0.0), (-3.0, 2.5), (700.0, 710.0), (-800.0, -1.0), (5.0, f64::NEG_INFINITY)]
        {
            let (ln_s, wu, wv) = log_add_exp_weights(u, v);
            assert!((ln_s - log_add_exp(u, v)).abs() < 1e-12 * ln_s.abs().max(1.0), "{u} {v}");
            // exp(u − ln s) loses the digits of ln s's magnitude: compare to 1e-12.
            assert!((wu - (u - ln_s).exp()).abs() < 1e-12 && (wv - (v - ln_s).exp()).abs() < 1e-12);
            assert!((wu + wv - 1.0).abs() < 1e-15);
        }
    }
}
