//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV";
//! Colombo & Jiang 1999): each transaction's value is Gamma(p, ν) with
//! ν ~ Gamma(q, γ) across customers, independent of the purchase process.

use crate::Error;
use crate::analytics::fit::{FitInfo, FitOptions, Likelihood, maximise};
use crate::analytics::special::{digamma, ln_gamma};

/// Fitted Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GammaGamma {
    /// Shape of a transaction's value.
    pub p: f64,
    /// Shape of the heterogeneity of the scale.
    pub q: f64,
    /// Scale of the heterogeneity (`γ`, named `v` in some code).
    pub gamma: f64,
}

struct Problem<'d> {
    x: &'d [f64],
    m: &'d [f64],
    w: Option<&'d [f64]>,
}

/// The terms of a customer's log-likelihood that depend on x alone.
#[derive(Clone, Copy)]
struct XTerms {
    value: f64,
    d_p: f64,
    d_q: f64,
}

fn x_terms(params: &[f64], x: f64) -> XTerms {
    let (p, q) = (params[0], params[1]);
    let px = p * x;
    let (dpq, dpx) = (digamma(px + q), digamma(px));
    XTerms {
        value: ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + px * x.ln(),
        d_p: x * (dpq - dpx + x.ln()),
        d_q: dpq - digamma(q),
    }
}

fn customer_ll(params: &[f64], x: f64, m: f64, xt: XTerms) -> (f64, [f64; 3]) {
    let (p, q, g) = (params[0], params[1], params[2]);
    let px = p * x;
    let ln_gm = (g + m * x).ln();
    let ll = xt.value + q * g.ln() + (px - 1.0) * m.ln() - (px + q) * ln_gm;
    let d_p = xt.d_p + x * (m.ln() - ln_gm);
    let d_q = xt.d_q + g.ln() - ln_gm;
    let d_g = q / g - (px + q) / (g + m * x);
    (ll, [d_p, d_q, d_g])
}

impl Likelihood for Problem<'_> {
    fn n_params(&self) -> usize {
        3
    }

    fn total_weight(&self) -> f64 {
        self.w.map_or(self.x.len() as f64, |w| w.iter().sum())
    }

    fn ll_and_grad(&self, params: &[f64]) -> Option<(f64, Vec<f64>)> {
        let mut cache: Vec<(f64, XTerms)> = Vec::new();
        let mut total = 0.0;
        let mut grad = vec![0.0; 3];
        for i in 0..self.x.len() {
            let w = self.w.map_or(1.0, |w| w[i]);
            let x = self.x[i];
            let xt = match cache.iter().find(|(v, _)| *v == x) {
                Some((_, terms)) => *terms,
                None => {
                    let terms = x_terms(params, x);
                    cache.push((x, terms));
                    terms
                }
            };
            let (ll, g) = customer_ll(params, x, self.m[i], xt);
            total += w * ll;
            for k in 0..3 {
                grad[k] += w * g[k];
            }
        }
        (total.is_finite() && grad.iter().all(|g| g.is_finite())).then_some((total, grad))
    }
}

impl GammaGamma {
    /// Fits the model to the customers with at least one repeat purchase:
    /// `frequency` (repeat transactions) and `monetary` (mean value of
    /// those). Rows with frequency 0 are skipped, as in the literature.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for columns of different lengths, non-finite or
    /// non-positive spend on a repeat customer, or fewer than two repeat
    /// customers.
    pub fn fit(
        frequency: &[f64],
        monetary: &[f64],
        weights: Option<&[f64]>,
        options: &FitOptions,
    ) -> crate::Result<(GammaGamma, FitInfo)> {
        if frequency.len() != monetary.len() || weights.is_some_and(|w| w.len() != frequency.len())
        {
            return Err(Error::invalid(
                "monetary",
                "frequency, monetary and weights differ in length",
            ));
        }
        let mut x = Vec::new();
        let mut m = Vec::new();
        let mut w = Vec::new();
        for i in 0..frequency.len() {
            if frequency[i] > 0.0 {
                if !(monetary[i].is_finite() && monetary[i] > 0.0 && frequency[i].is_finite()) {
                    return Err(Error::Invalid {
                        at: crate::Location {
                            row: Some(i as u64 + 1),
                            column: Some("monetary".into()),
                        },
                        reason: format!("a repeat customer needs a spend > 0, not {}", monetary[i]),
                    });
                }
                x.push(frequency[i]);
                m.push(monetary[i]);
                w.push(weights.map_or(1.0, |w| w[i]));
            }
        }
        if x.len() < 2 {
            return Err(Error::invalid(
                "frequency",
                "the spend model needs at least two repeat customers",
            ));
        }
        let problem = Problem { x: &x, m: &m, w: Some(&w) };
        let (p, info) = maximise(&problem, &[1.0, 1.0, 1.0], options)?;
        Ok((GammaGamma { p: p[0], q: p[1], gamma: p[2] }, info))
    }

    /// Log-likelihood of one customer's x repeat transactions of mean value m.
    pub fn log_likelihood(&self, x: f64, m: f64) -> f64 {
        let params = [self.p, self.q, self.gamma];
        customer_ll(&params, x, m, x_terms(&params, x)).0
    }

    /// Expected mean transaction value of a customer with `x` repeat
    /// transactions of mean value `m` (the population mean when x = 0).
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        if x <= 0.0 {
            return p * gamma / (q - 1.0);
        }
        p * (gamma + x * m) / (p * x + q - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::fit::testing::check_gradient;

    #[test]
    fn gradient_and_fixed_point_values() {
        let x = [1.0, 2.0, 5.0, 3.0];
        let m = [20.5, 31.0, 14.2, 55.0];
        let problem = Problem { x: &x, m: &m, w: None };
        check_gradient(&problem, &[6.25, 3.74, 15.44]);
        check_gradient(&problem, &[0.8, 2.5, 40.0]);
        // x = 1: the spend density is a Gamma-Gamma compound evaluated directly.
        let model = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
        let (p, q, g, v) = (6.25f64, 3.74f64, 15.44f64, 20.5f64);
        let want = ln_gamma(p + q) - ln_gamma(p) - ln_gamma(q) + q * g.ln() + (p - 1.0) * v.ln()
            - (p + q) * (g + v).ln();
        assert!((model.log_likelihood(1.0, 20.5) - want).abs() < 1e-12);
        // Shrinkage towards the population mean p γ / (q − 1).
        let population = 6.25 * 15.44 / 2.74;
        assert!((model.expected_spend(0.0, 0.0) - population).abs() < 1e-12);
        let e = model.expected_spend(2.0, 10.0);
        assert!(e > 10.0 && e < population);
    }
}
