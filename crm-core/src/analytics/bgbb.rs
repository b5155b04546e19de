//! BG/BB (Fader, Hardie & Shang 2010): discrete opportunities to transact.
//! While alive a customer transacts at each opportunity with probability
//! p ~ Beta(α, β) and drops out before each with θ ~ Beta(γ, δ).

use crate::Error;
use crate::analytics::fit::{FitInfo, FitOptions, Likelihood, maximise};
use crate::analytics::special::{digamma, ln_beta, log_sum_exp};

/// Fitted BG/BB parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BgBb {
    /// Beta transaction parameter α.
    pub alpha: f64,
    /// Beta transaction parameter β.
    pub beta: f64,
    /// Beta dropout parameter γ.
    pub gamma: f64,
    /// Beta dropout parameter δ.
    pub delta: f64,
}

struct Problem<'d> {
    x: &'d [f64],
    tx: &'d [f64],
    n: &'d [f64],
    w: Option<&'d [f64]>,
}

/// d ln B(u, v)/du and d/dv.
fn d_ln_beta(u: f64, v: f64) -> (f64, f64) {
    let common = digamma(u + v);
    (digamma(u) - common, digamma(v) - common)
}

fn customer_ll(p: &[f64], x: f64, tx: f64, n: f64) -> (f64, [f64; 4]) {
    let (al, be, ga, de) = (p[0], p[1], p[2], p[3]);
    let base_ab = ln_beta(al, be);
    let base_gd = ln_beta(ga, de);
    let (dab_a, dab_b) = d_ln_beta(al, be);
    let (dgd_g, dgd_d) = d_ln_beta(ga, de);
    let mut terms = Vec::new();
    let mut grads = Vec::new();
    // Alive through all n opportunities.
    {
        let (u1, v1) = (al + x, be + n - x);
        let (u2, v2) = (ga, de + n);
        let (d1u, d1v) = d_ln_beta(u1, v1);
        let (d2u, d2v) = d_ln_beta(u2, v2);
        terms.push(ln_beta(u1, v1) - base_ab + ln_beta(u2, v2) - base_gd);
        grads.push([d1u - dab_a, d1v - dab_b, d2u - dgd_g, d2v - dgd_d]);
    }
    // Dropped out after opportunity tₓ + i.
    let gap = (n - tx - 1.0).max(-1.0) as i64;
    for i in 0..=gap {
        let i = i as f64;
        let (u1, v1) = (al + x, be + tx - x + i);
        let (u2, v2) = (ga + 1.0, de + tx + i);
        let (d1u, d1v) = d_ln_beta(u1, v1);
        let (d2u, d2v) = d_ln_beta(u2, v2);
        terms.push(ln_beta(u1, v1) - base_ab + ln_beta(u2, v2) - base_gd);
        grads.push([d1u - dab_a, d1v - dab_b, d2u - dgd_g, d2v - dgd_d]);
    }
    let ll = log_sum_exp(&terms);
    let mut grad = [0.0; 4];
    for (term, g) in terms.iter().zip(&grads) {
        let weight = (term - ll).exp();
        for k in 0..4 {
            grad[k] += weight * g[k];
        }
    }
    (ll, grad)
}

impl Likelihood for Problem<'_> {
    fn n_params(&self) -> usize {
        4
    }

    fn total_weight(&self) -> f64 {
        self.w.map_or(self.x.len() as f64, |w| w.iter().sum())
    }

    fn ll_and_grad(&self, p: &[f64]) -> Option<(f64, Vec<f64>)> {
        let mut total = 0.0;
        let mut grad = vec![0.0; 4];
        for i in 0..self.x.len() {
            let w = self.w.map_or(1.0, |w| w[i]);
            let (ll, g) = customer_ll(p, self.x[i], self.tx[i], self.n[i]);
            total += w * ll;
            for k in 0..4 {
                grad[k] += w * g[k];
            }
        }
        (total.is_finite() && grad.iter().all(|g| g.is_finite())).then_some((total, grad))
    }
}

impl BgBb {
    /// Fits the model to frequency (transactions), recency (the opportunity
    /// of the last one, 0 without any) and number of opportunities, one row
    /// per customer or per pattern with `weights` counting customers.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for columns of different lengths, no rows, or a
    /// row that is not whole numbers with 0 ≤ x ≤ tₓ ≤ n (and tₓ = 0 when x = 0).
    pub fn fit(
        frequency: &[f64],
        recency: &[f64],
        periods: &[f64],
        weights: Option<&[f64]>,
        options: &FitOptions,
    ) -> crate::Result<(BgBb, FitInfo)> {
        let len = frequency.len();
        if recency.len() != len || periods.len() != len || weights.is_some_and(|w| w.len() != len) {
            return Err(Error::invalid(
                "frequency",
                "frequency, recency, periods and weights differ in length",
            ));
        }
        if len == 0 {
            return Err(Error::invalid("frequency", "no customers"));
        }
        for i in 0..len {
            let (x, tx, n) = (frequency[i], recency[i], periods[i]);
            let whole = |v: f64| v.is_finite() && v >= 0.0 && v.fract() == 0.0;
            if !(whole(x) && whole(tx) && whole(n) && x <= tx && tx <= n && (x > 0.0 || tx == 0.0))
            {
                return Err(Error::Invalid {
                    at: crate::Location {
                        row: Some(i as u64 + 1),
                        column: Some("frequency".into()),
                    },
                    reason: format!("({x}, {tx}, {n}) is not whole numbers with 0 ≤ x ≤ tₓ ≤ n"),
                });
            }
        }
        let problem = Problem { x: frequency, tx: recency, n: periods, w: weights };
        let (p, info) = maximise(&problem, &[1.0, 1.0, 1.0, 1.0], options)?;
        Ok((BgBb { alpha: p[0], beta: p[1], gamma: p[2], delta: p[3] }, info))
    }

    /// Log-likelihood of one history (x, tₓ, n).
    pub fn log_likelihood(&self, x: f64, tx: f64, n: f64) -> f64 {
        customer_ll(&[self.alpha, self.beta, self.gamma, self.delta], x, tx, n).0
    }

    /// Probability that a customer with history (x, tₓ, n) is alive at
    /// opportunity n + 1.
    pub fn p_alive(&self, x: f64, tx: f64, n: f64) -> f64 {
        let BgBb { alpha, beta, gamma, delta } = *self;
        let alive = ln_beta(alpha + x, beta + n - x) - ln_beta(alpha, beta)
            + ln_beta(gamma, delta + n + 1.0)
            - ln_beta(gamma, delta);
        (alive - self.log_likelihood(x, tx, n)).exp()
    }

    /// Expected transactions in the next `future` opportunities of a
    /// customer with history (x, tₓ, n) (FHS 2010, eq. 13).
    pub fn expected_purchases(&self, future: f64, x: f64, tx: f64, n: f64) -> f64 {
        use crate::analytics::special::ln_gamma;
        let BgBb { alpha, beta, gamma, delta } = *self;
        let front = (ln_beta(alpha + x + 1.0, beta + n - x) - ln_beta(alpha, beta)
            + ln_gamma(gamma + delta)
            - ln_gamma(1.0 + delta)
            - self.log_likelihood(x, tx, n))
        .exp()
            * delta
            / (gamma - 1.0);
        let ratio = |k: f64| (ln_gamma(1.0 + delta + k) - ln_gamma(gamma + delta + k)).exp();
        front * (ratio(n) - ratio(n + future))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::fit::testing::check_gradient;

    #[test]
    fn gradient_and_a_hand_computed_likelihood() {
        let x = [0.0, 1.0, 3.0, 6.0];
        let tx = [0.0, 2.0, 5.0, 6.0];
        let n = [6.0, 6.0, 6.0, 6.0];
        let problem = Problem { x: &x, tx: &tx, n: &n, w: None };
        check_gradient(&problem, &[1.204, 0.750, 0.657, 2.783]);
        check_gradient(&problem, &[0.5, 2.0, 3.0, 0.7]);
        // n = 1, x = 0: alive and no purchase, β/(α+β) · δ/(γ+δ), or gone
        // before the opportunity, γ/(γ+δ).
        let m = BgBb { alpha: 1.5, beta: 0.5, gamma: 0.7, delta: 2.0 };
        let want = 0.5 / 2.0 * (2.0 / 2.7) + 0.7 / 2.7;
        assert!((m.log_likelihood(0.0, 0.0, 1.0) - f64::ln(want)).abs() < 1e-12);
    }
}
