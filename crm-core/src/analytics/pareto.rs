//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987; the likelihood as in
//! Fader & Hardie 2005, "A note on deriving the Pareto/NBD model"): while
//! alive a customer buys at rate λ ~ Gamma(r, α); lifetimes are exponential
//! with rate μ ~ Gamma(s, β).
//!
//! The likelihood needs the Gauss hypergeometric function; its gradient is
//! taken by central differences in the log-parameters (documented: the
//! other models have analytic gradients).

use crate::Error;
use crate::analytics::bgnbd::{Grouped, Rft};
use crate::analytics::fit::{FitInfo, FitOptions, Likelihood, maximise};
use crate::analytics::special::{hyp2f1, ln_gamma, log_add_exp};

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
        let ll = self.total_ll(p)?;
        let mut grad = vec![0.0; 4];
        for k in 0..4 {
            // Central differences with a relative step (truncation error
            // ~1e-10 relative, rounding ~1e-10 of the mean likelihood).
            let h = 1e-5 * p[k];
            let at = |step: f64| {
                let mut q = p.to_vec();
                q[k] += step;
                self.total_ll(&q)
            };
            grad[k] = (at(h)? - at(-h)?) / (2.0 * h);
        }
        Some((ll, grad))
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
