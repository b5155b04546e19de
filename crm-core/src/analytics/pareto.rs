//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987; the likelihood as in
//! Fader & Hardie 2005, "A note on deriving the Pareto/NBD model"): while
//! alive a customer buys at rate λ ~ Gamma(r, α); lifetimes are exponential
//! with rate μ ~ Gamma(s, β).
//!
//! The likelihood needs the Gauss hypergeometric function; its gradient
//! differentiates the series term by term (in its parameters and argument).

use crate::Error;
use crate::analytics::bgnbd::{Grouped, Rft};
use crate::analytics::fit::{FitInfo, FitOptions, Likelihood, maximise};
use crate::analytics::special::{digamma, hyp2f1, ln_gamma, log_add_exp};

/// Fitted Pareto/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ParetoNbd {
    /// Shape of the purchase-rate heterogeneity.
    pub r: f64,
    /// Scale of the purchase-rate heterogeneity.
    pub alpha: f64,
    /// Shape of the dropout-rate heterogeneity.
    pub s: f64,
    /// Scale of the dropout-rate heterogeneity.
    pub beta: f64,
}

/// `ln A₀` of the likelihood; `None` when the series fails.
fn ln_a0(p: &[f64], x: f64, tx: f64, t: f64) -> Option<f64> {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let (low, high, b) = if alpha < beta { (alpha, beta, r + x) } else { (beta, alpha, s + 1.0) };
    let gap = high - low;
    let rsx = r + s + x;
    let f1 = hyp2f1(rsx, b, rsx + 1.0, gap / (high + tx))?;
    let f2 = hyp2f1(rsx, b, rsx + 1.0, gap / (high + t))?;
    // ln( f1 / (high + tₓ)^rsx − f2 / (high + T)^rsx )
    let first = f1.ln() - rsx * (high + tx).ln();
    let second = f2.ln() - rsx * (high + t).ln();
    if first <= second {
        // Equal when tₓ = T: A₀ is then 0.
        return Some(f64::NEG_INFINITY);
    }
    Some(first + (-(second - first).exp()).ln_1p())
}

fn customer_ll(p: &[f64], x: f64, tx: f64, t: f64) -> Option<f64> {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
    let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
    let a0 = ln_a0(p, x, tx, t)?;
    let ll = a1 + log_add_exp(alive, s.ln() - (r + s + x).ln() + a0);
    ll.is_finite().then_some(ll)
}

/// ₂F₁(a, b; c; z) by its power series with its partial derivatives in a,
/// b, c and z: `(F, ∂a, ∂b, ∂c, ∂z)`. For 0 ≤ z < 1.
fn hyp2f1_derivatives(a: f64, b: f64, c: f64, z: f64) -> Option<[f64; 5]> {
    if !(0.0..1.0).contains(&z) || c <= 0.0 {
        return None;
    }
    let mut term = 1.0_f64;
    let (mut sum, mut da, mut db, mut dc, mut dz) = (1.0_f64, 0.0, 0.0, 0.0, 0.0);
    // Running Σ 1/(a+k), Σ 1/(b+k), Σ 1/(c+k) over k < n.
    let (mut sa, mut sb, mut sc) = (0.0_f64, 0.0_f64, 0.0_f64);
    for n in 0..200_000u32 {
        let k = f64::from(n);
        sa += 1.0 / (a + k);
        sb += 1.0 / (b + k);
        sc += 1.0 / (c + k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        let n1 = k + 1.0;
        sum += term;
        da += term * sa;
        db += term * sb;
        dc -= term * sc;
        if z > 0.0 {
            dz += term * n1 / z;
        }
        if !sum.is_finite() {
            return None;
        }
        if term.abs() <= 1e-17 * sum.abs() && (term * n1).abs() <= 1e-17 * sum.abs().max(1.0) {
            return Some([sum, da, db, dc, dz]);
        }
    }
    None
}

/// One customer's log-likelihood and its gradient in (r, α, s, β).
fn customer_ll_grad(p: &[f64], x: f64, tx: f64, t: f64) -> Option<(f64, [f64; 4])> {
    let (r, alpha, s, beta) = (p[0], p[1], p[2], p[3]);
    let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
    let d_a1 = [digamma(r + x) - digamma(r) + alpha.ln(), r / alpha, beta.ln(), s / beta];
    let l1 = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
    let d_l1 = [-(alpha + t).ln(), -(r + x) / (alpha + t), -(beta + t).ln(), -s / (beta + t)];
    // A₀ = q₁^(−m) (F₁ − F₂ ρ), ρ = (q₁/q₂)^m; every derivative below is of
    // (r, α, s, β) in that order.
    let m = r + s + x;
    let dm = [1.0, 0.0, 1.0, 0.0];
    let alpha_low = alpha < beta;
    let (low, high, b2) = if alpha_low { (alpha, beta, r + x) } else { (beta, alpha, s + 1.0) };
    let db2 = if alpha_low { [1.0, 0.0, 0.0, 0.0] } else { [0.0, 0.0, 1.0, 0.0] };
    let dhigh = if alpha_low { [0.0, 0.0, 0.0, 1.0] } else { [0.0, 1.0, 0.0, 0.0] };
    let dgap = if alpha_low { [0.0, -1.0, 0.0, 1.0] } else { [0.0, 1.0, 0.0, -1.0] };
    let gap = high - low;
    let (q1, q2) = (high + tx, high + t);
    let (z1, z2) = (gap / q1, gap / q2);
    let f1 = hyp2f1_derivatives(m, b2, m + 1.0, z1)?;
    let f2 = hyp2f1_derivatives(m, b2, m + 1.0, z2)?;
    let d_f = |f: &[f64; 5], q: f64| -> [f64; 4] {
        std::array::from_fn(|k| {
            let dz = (dgap[k] * q - gap * dhigh[k]) / (q * q);
            f[1] * dm[k] + f[2] * db2[k] + f[3] * dm[k] + f[4] * dz
        })
    };
    let (df1, df2) = (d_f(&f1, q1), d_f(&f2, q2));
    let rho = (m * (q1.ln() - q2.ln())).exp();
    let d_rho: [f64; 4] = std::array::from_fn(|k| {
        rho * (dm[k] * (q1.ln() - q2.ln()) + m * (dhigh[k] / q1 - dhigh[k] / q2))
    });
    let inner = f1[0] - f2[0] * rho;
    let ll_and = |l2: Option<(f64, [f64; 4])>| -> (f64, [f64; 4]) {
        match l2 {
            None => (a1 + l1, std::array::from_fn(|k| d_a1[k] + d_l1[k])),
            Some((l2, d_l2)) => {
                let ln_s = log_add_exp(l1, l2);
                let (w1, w2) = ((l1 - ln_s).exp(), (l2 - ln_s).exp());
                (a1 + ln_s, std::array::from_fn(|k| d_a1[k] + w1 * d_l1[k] + w2 * d_l2[k]))
            }
        }
    };
    if inner <= 0.0 {
        // tₓ = T: A₀ is zero.
        return Some(ll_and(None));
    }
    let ln_a0 = -m * q1.ln() + inner.ln();
    let d_ln_a0: [f64; 4] = std::array::from_fn(|k| {
        -dm[k] * q1.ln() - m * dhigh[k] / q1 + (df1[k] - df2[k] * rho - f2[0] * d_rho[k]) / inner
    });
    let l2 = s.ln() - m.ln() + ln_a0;
    let d_l2: [f64; 4] = std::array::from_fn(|k| {
        let ds = if k == 2 { 1.0 / s } else { 0.0 };
        ds - dm[k] / m + d_ln_a0[k]
    });
    let (ll, grad) = ll_and(Some((l2, d_l2)));
    (ll.is_finite() && grad.iter().all(|g| g.is_finite())).then_some((ll, grad))
}

struct Problem {
    rows: Grouped,
}

impl Problem {
    fn total_ll(&self, p: &[f64]) -> Option<f64> {
        let rows = &self.rows;
        let mut total = 0.0;
        for i in 0..rows.x.len() {
            total += rows.w[i] * customer_ll(p, rows.x[i], rows.tx[i], rows.t[i])?;
        }
        Some(total)
    }
}

impl Likelihood for Problem {
    fn n_params(&self) -> usize {
        4
    }

    fn total_weight(&self) -> f64 {
        self.rows.total
    }

    fn penalty_scale(&self) -> Vec<f64> {
        let time = 1.0 / self.rows.max_t.max(f64::MIN_POSITIVE);
        vec![1.0, time, 1.0, time]
    }

    fn divisor(&self) -> f64 {
        self.rows.total / self.rows.rows_in.max(1) as f64
    }

    fn ll(&self, p: &[f64]) -> Option<f64> {
        self.total_ll(p)
    }

    fn ll_and_grad(&self, p: &[f64]) -> Option<(f64, Vec<f64>)> {
        let rows = &self.rows;
        let mut total = 0.0;
        let mut grad = vec![0.0; 4];
        for i in 0..rows.x.len() {
            let (ll, g) = customer_ll_grad(p, rows.x[i], rows.tx[i], rows.t[i])?;
            total += rows.w[i] * ll;
            for k in 0..4 {
                grad[k] += rows.w[i] * g[k];
            }
        }
        Some((total, grad))
    }
}

impl ParetoNbd {
    /// Fits the model by maximum likelihood to frequency, recency and age
    /// `T` columns (optionally weighted rows).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for inconsistent or non-finite columns or no
    /// customers; the likelihood being undefined at the start.
    pub fn fit(
        frequency: &[f64],
        recency: &[f64],
        t: &[f64],
        weights: Option<&[f64]>,
        options: &FitOptions,
    ) -> crate::Result<(ParetoNbd, FitInfo)> {
        let problem = Problem { rows: Grouped::new(&Rft::new(frequency, recency, t, weights)?) };
        let (p, info) = maximise(&problem, &[1.0, 1.0, 1.0, 1.0], options)?;
        Ok((ParetoNbd { r: p[0], alpha: p[1], s: p[2], beta: p[3] }, info))
    }

    fn params(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }

    /// Log-likelihood of one customer's (x, tₓ, T).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the hypergeometric series does not converge.
    pub fn log_likelihood(&self, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        customer_ll(&self.params(), x, tx, t).ok_or_else(|| {
            Error::invalid("parameters", "the Pareto/NBD likelihood is undefined here")
        })
    }

    /// Probability that a customer with history (x, tₓ, T) is alive.
    ///
    /// # Errors
    ///
    /// As [`ParetoNbd::log_likelihood`].
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let a0 = ln_a0(&self.params(), x, tx, t).ok_or_else(|| {
            Error::invalid("parameters", "the hypergeometric series does not converge")
        })?;
        let ln_ratio =
            s.ln() - (r + s + x).ln() + (r + x) * (alpha + t).ln() + s * (beta + t).ln() + a0;
        Ok(1.0 / (1.0 + ln_ratio.exp()))
    }

    /// Expected purchases in the next `horizon` periods of a customer with
    /// history (x, tₓ, T).
    ///
    /// # Errors
    ///
    /// As [`ParetoNbd::log_likelihood`]; [`Error::Invalid`] for a negative
    /// horizon.
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        if !(horizon.is_finite() && horizon >= 0.0) {
            return Err(Error::invalid("horizon", format!("{horizon} is not ≥ 0")));
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        let first = (r + x) * (beta + t) / ((alpha + t) * (s - 1.0));
        let second = 1.0 - ((beta + t) / (beta + t + horizon)).powf(s - 1.0);
        Ok(first * second * self.p_alive(x, tx, t)?)
    }

    /// Expected purchases of a new customer in their first `horizon` periods.
    pub fn expected_purchases_new(&self, horizon: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        r * beta / (alpha * (s - 1.0)) * (1.0 - (beta / (beta + horizon)).powf(s - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let x = [0.0, 1.0, 2.0, 5.0, 12.0, 3.0];
        let tx = [0.0, 3.5, 30.43, 20.0, 38.0, 38.86];
        let t = [38.86, 38.86, 38.86, 30.0, 39.0, 38.86];
        let problem = Problem { rows: Grouped::new(&Rft::new(&x, &tx, &t, None).unwrap()) };
        // Both branches: α < β and α > β.
        for p in [[0.55, 10.58, 0.61, 11.67], [0.9, 14.0, 1.3, 6.0]] {
            let (_, grad) = problem.ll_and_grad(&p).unwrap();
            for k in 0..4 {
                let h = 1e-6 * p[k];
                let mut up = p;
                up[k] += h;
                let mut down = p;
                down[k] -= h;
                let numeric =
                    (problem.total_ll(&up).unwrap() - problem.total_ll(&down).unwrap()) / (2.0 * h);
                assert!(
                    (numeric - grad[k]).abs() < 1e-5 * grad[k].abs().max(1.0),
                    "{k}: {} vs {numeric}",
                    grad[k]
                );
            }
        }
    }
}
