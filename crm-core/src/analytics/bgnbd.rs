//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy
//! way") and MBG/NBD (Batislam, Denizel & Filiztekin 2007).
//!
//! While alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after
//! each purchase (BG/NBD) — or also at time zero (MBG/NBD) — the customer
//! drops out with probability p ~ Beta(a, b).

use crate::Error;
use crate::analytics::fit::{FitInfo, FitOptions, Likelihood, maximise};
use crate::analytics::special::{
    digamma, hyp2f1, hyp2f1_many, ln_beta, ln_gamma, log_add_exp_weights, trigamma,
};
use crate::analytics::summary::check_rft;

/// Fitted BG/NBD parameters.
///
/// # Examples
///
/// ```
/// use crm_core::analytics::{BgNbd, FitOptions};
/// // frequency, recency and T (weeks) of four customers
/// let x = [2.0, 1.0, 0.0, 5.0];
/// let tx = [30.43, 1.71, 0.0, 35.0];
/// let t = [38.86, 38.86, 38.86, 37.0];
/// let (fitted, info) = BgNbd::fit(&x, &tx, &t, None, &FitOptions::default())?;
/// // Four customers do not pin the model down: the fit says so instead of
/// // returning a garbage number as if it were the optimum.
/// assert!(info.log_likelihood.is_finite());
/// # let _ = (fitted, info.converged);
/// // Predictions with the published CDNOW parameters.
/// let model = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
/// let p = model.p_alive(2.0, 30.43, 38.86);
/// assert!((p - 0.727).abs() < 1e-3);
/// let next_year = model.expected_purchases(39.0, 2.0, 30.43, 38.86)?;
/// assert!((next_year - 1.226).abs() < 1e-3);
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BgNbd {
    /// Shape of the Gamma purchase-rate heterogeneity.
    pub r: f64,
    /// Scale of the Gamma purchase-rate heterogeneity.
    pub alpha: f64,
    /// Beta dropout parameter a.
    pub a: f64,
    /// Beta dropout parameter b.
    pub b: f64,
}

/// Fitted MBG/NBD parameters (same names as BG/NBD).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MbgNbd {
    /// Shape of the Gamma purchase-rate heterogeneity.
    pub r: f64,
    /// Scale of the Gamma purchase-rate heterogeneity.
    pub alpha: f64,
    /// Beta dropout parameter a.
    pub a: f64,
    /// Beta dropout parameter b.
    pub b: f64,
}

/// Rows a repeat-purchase model is fitted on.
pub(crate) struct Rft<'d> {
    pub(crate) x: &'d [f64],
    pub(crate) tx: &'d [f64],
    pub(crate) t: &'d [f64],
    pub(crate) w: Option<&'d [f64]>,
}

impl<'d> Rft<'d> {
    pub(crate) fn new(
        x: &'d [f64],
        tx: &'d [f64],
        t: &'d [f64],
        w: Option<&'d [f64]>,
    ) -> crate::Result<Rft<'d>> {
        check_rft(x, tx, t)?;
        if let Some(w) = w
            && (w.len() != x.len() || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
        {
            return Err(Error::invalid("weights", "one finite weight ≥ 0 per customer"));
        }
        Ok(Rft { x, tx, t, w })
    }

    pub(crate) fn weight(&self, i: usize) -> f64 {
        self.w.map_or(1.0, |w| w[i])
    }

    pub(crate) fn total(&self) -> f64 {
        self.w.map_or(self.x.len() as f64, |w| w.iter().sum())
    }
}

/// Which of the two models.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Bg,
    Mbg,
}

/// Rows grouped: identical (x, tₓ, T) rows become one with the summed
/// weight, and the terms that depend on x alone are computed once per
/// distinct x and evaluation.
pub(crate) struct Grouped {
    pub(crate) x: Vec<f64>,
    pub(crate) tx: Vec<f64>,
    pub(crate) t: Vec<f64>,
    pub(crate) w: Vec<f64>,
    /// Index of each row's x in `xs`.
    pub(crate) xi: Vec<usize>,
    /// Distinct x values.
    pub(crate) xs: Vec<f64>,
    pub(crate) total: f64,
    /// Rows before grouping.
    pub(crate) rows_in: usize,
    /// The longest age T (the time unit of the penalty, as in `lifetimes`).
    pub(crate) max_t: f64,
}

impl Grouped {
    pub(crate) fn new(data: &Rft<'_>) -> Grouped {
        let mut rows: std::collections::BTreeMap<(u64, u64, u64), f64> =
            std::collections::BTreeMap::new();
        for i in 0..data.x.len() {
            let key = (data.x[i].to_bits(), data.tx[i].to_bits(), data.t[i].to_bits());
            *rows.entry(key).or_default() += data.weight(i);
        }
        let mut grouped = Grouped {
            x: Vec::new(),
            tx: Vec::new(),
            t: Vec::new(),
            w: Vec::new(),
            xi: Vec::new(),
            xs: Vec::new(),
            total: data.total(),
            rows_in: data.x.len(),
            max_t: data.t.iter().copied().fold(0.0, f64::max),
        };
        for ((x, tx, t), w) in rows {
            if w == 0.0 {
                continue;
            }
            let x = f64::from_bits(x);
            let index = match grouped.xs.iter().position(|v| *v == x) {
                Some(index) => index,
                None => {
                    grouped.xs.push(x);
                    grouped.xs.len() - 1
                }
            };
            grouped.x.push(x);
            grouped.tx.push(f64::from_bits(tx));
            grouped.t.push(f64::from_bits(t));
            grouped.w.push(w);
            grouped.xi.push(index);
        }
        grouped
    }
}

struct Problem {
    rows: Grouped,
    variant: Variant,
}

/// The part of a customer's log-likelihood that does not depend on tₓ and
/// T: `ln Γ(r+x) − ln Γ(r) + r ln α` plus the Beta term, and its gradient
/// (computed once per distinct x and evaluation, not per row).
#[derive(Clone, Copy)]
struct XTerms {
    value: f64,
    grad: [f64; 4],
}

fn x_terms(variant: Variant, p: &[f64], x: f64) -> XTerms {
    let (r, a, b) = (p[0], p[2], p[3]);
    let shift = if variant == Variant::Mbg { 1.0 } else { 0.0 };
    let value = ln_gamma(r + x) - ln_gamma(r) + ln_gamma(a + b) + ln_gamma(b + x + shift)
        - ln_gamma(b)
        - ln_gamma(a + b + x + shift);
    let ab = digamma(a + b);
    let abx = digamma(a + b + x + shift);
    let (alpha, ln_alpha) = (p[1], p[1].ln());
    XTerms {
        value: value + r * ln_alpha,
        grad: [
            digamma(r + x) - digamma(r) + ln_alpha,
            r / alpha,
            ab - abx,
            ab + digamma(b + x + shift) - digamma(b) - abx,
        ],
    }
}

/// What one customer's likelihood, gradient and Hessian share: the logs of
/// α + T and α + tₓ, and the mixture of the two ways the history can end
/// (BG/NBD with repeats: alive, A₃, or dropped after the last purchase, A₄;
/// MBG/NBD: the softplus of A₄) with its weights. Computed once per row
/// and evaluation: logs and exps are most of a fit's instructions.
#[derive(Clone, Copy)]
struct RowTerms {
    ln_at: f64,
    ln_atx: f64,
    a3: f64,
    /// BG/NBD: ln(e^A₃ + e^A₄); MBG/NBD: ln(1 + e^A₄).
    ln_s: f64,
    /// BG/NBD: e^A₃ / (e^A₃ + e^A₄); MBG/NBD: 1 − σ(A₄).
    w3: f64,
    /// BG/NBD: e^A₄ / (e^A₃ + e^A₄); MBG/NBD: σ(A₄).
    w4: f64,
}

fn row_terms(variant: Variant, p: &[f64], x: f64, tx: f64, t: f64) -> RowTerms {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    let ln_at = (alpha + t).ln();
    let a3 = -(r + x) * ln_at;
    match variant {
        Variant::Bg if x > 0.0 => {
            let ln_atx = (alpha + tx).ln();
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * ln_atx;
            let (ln_s, w3, w4) = log_add_exp_weights(a3, a4);
            RowTerms { ln_at, ln_atx, a3, ln_s, w3, w4 }
        }
        Variant::Bg => RowTerms { ln_at, ln_atx: 0.0, a3, ln_s: a3, w3: 1.0, w4: 0.0 },
        Variant::Mbg => {
            let ln_atx = (alpha + tx).ln();
            let a4 = a.ln() - (b + x).ln() + (r + x) * (ln_at - ln_atx);
            // softplus(A₄) = ln(e⁰ + e^A₄), σ(A₄) its weight of e^A₄.
            let (ln_s, w3, w4) = log_add_exp_weights(0.0, a4);
            RowTerms { ln_at, ln_atx, a3, ln_s, w3, w4 }
        }
    }
}

/// One customer's log-likelihood and its gradient in (r, α, a, b), given
/// the x-only terms and the row's shared terms.
fn customer_ll(
    variant: Variant,
    p: &[f64],
    x: f64,
    tx: f64,
    t: f64,
    xt: XTerms,
    rt: &RowTerms,
) -> (f64, [f64; 4]) {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    let (base, d_base) = (xt.value, xt.grad);
    let d_a3 = [-rt.ln_at, -(r + x) / (alpha + t), 0.0, 0.0];
    let mut grad = [0.0; 4];
    match variant {
        Variant::Bg => {
            if x > 0.0 {
                let d_a4 = [-rt.ln_atx, -(r + x) / (alpha + tx), 1.0 / a, -1.0 / (b + x - 1.0)];
                for k in 0..4 {
                    grad[k] = d_base[k] + rt.w3 * d_a3[k] + rt.w4 * d_a4[k];
                }
                (base + rt.ln_s, grad)
            } else {
                for k in 0..4 {
                    grad[k] = d_base[k] + d_a3[k];
                }
                (base + rt.a3, grad)
            }
        }
        Variant::Mbg => {
            let d_a4 = [
                rt.ln_at - rt.ln_atx,
                (r + x) * (1.0 / (alpha + t) - 1.0 / (alpha + tx)),
                1.0 / a,
                -1.0 / (b + x),
            ];
            for k in 0..4 {
                grad[k] = d_base[k] + d_a3[k] + rt.w4 * d_a4[k];
            }
            (base + rt.a3 + rt.ln_s, grad)
        }
    }
}

/// Second derivatives of the x-only terms in (r, a, b).
fn x_hessian(variant: Variant, p: &[f64], x: f64) -> [[f64; 4]; 4] {
    let (r, a, b) = (p[0], p[2], p[3]);
    let shift = if variant == Variant::Mbg { 1.0 } else { 0.0 };
    let (ab, abx) = (trigamma(a + b), trigamma(a + b + x + shift));
    let mut h = [[0.0; 4]; 4];
    h[0][0] = trigamma(r + x) - trigamma(r);
    h[2][2] = ab - abx;
    h[2][3] = ab - abx;
    h[3][2] = ab - abx;
    h[3][3] = ab + trigamma(b + x + shift) - trigamma(b) - abx;
    h
}

fn outer(u: &[f64; 4], v: &[f64; 4]) -> [[f64; 4]; 4] {
    std::array::from_fn(|i| std::array::from_fn(|j| u[i] * v[j]))
}

fn add_scaled(h: &mut [[f64; 4]; 4], m: &[[f64; 4]; 4], w: f64) {
    for i in 0..4 {
        for j in 0..4 {
            h[i][j] += w * m[i][j];
        }
    }
}

/// One customer's Hessian in (r, α, a, b), given the x-only Hessian and
/// the row's shared terms.
#[allow(clippy::too_many_arguments)]
fn customer_hessian(
    variant: Variant,
    p: &[f64],
    x: f64,
    tx: f64,
    t: f64,
    xh: &[[f64; 4]; 4],
    rt: &RowTerms,
) -> [[f64; 4]; 4] {
    let (r, alpha, a, b) = (p[0], p[1], p[2], p[3]);
    let mut h = *xh;
    h[0][1] += 1.0 / alpha;
    h[1][0] += 1.0 / alpha;
    h[1][1] += -r / (alpha * alpha);
    let at = alpha + t;
    let atx = alpha + tx;
    let d3 = [-rt.ln_at, -(r + x) / at, 0.0, 0.0];
    let mut h3 = [[0.0; 4]; 4];
    h3[0][1] = -1.0 / at;
    h3[1][0] = -1.0 / at;
    h3[1][1] = (r + x) / (at * at);
    match variant {
        Variant::Bg if x > 0.0 => {
            let (w3, w4) = (rt.w3, rt.w4);
            let d4 = [-rt.ln_atx, -(r + x) / atx, 1.0 / a, -1.0 / (b + x - 1.0)];
            let mut h4 = [[0.0; 4]; 4];
            h4[0][1] = -1.0 / atx;
            h4[1][0] = -1.0 / atx;
            h4[1][1] = (r + x) / (atx * atx);
            h4[2][2] = -1.0 / (a * a);
            h4[3][3] = 1.0 / ((b + x - 1.0) * (b + x - 1.0));
            let mean: [f64; 4] = std::array::from_fn(|k| w3 * d3[k] + w4 * d4[k]);
            add_scaled(&mut h, &h3, w3);
            add_scaled(&mut h, &outer(&d3, &d3), w3);
            add_scaled(&mut h, &h4, w4);
            add_scaled(&mut h, &outer(&d4, &d4), w4);
            add_scaled(&mut h, &outer(&mean, &mean), -1.0);
        }
        Variant::Bg => add_scaled(&mut h, &h3, 1.0),
        Variant::Mbg => {
            add_scaled(&mut h, &h3, 1.0);
            let sigma = rt.w4;
            let d4 =
                [rt.ln_at - rt.ln_atx, (r + x) * (1.0 / at - 1.0 / atx), 1.0 / a, -1.0 / (b + x)];
            let mut h4 = [[0.0; 4]; 4];
            h4[0][1] = 1.0 / at - 1.0 / atx;
            h4[1][0] = h4[0][1];
            h4[1][1] = (r + x) * (-1.0 / (at * at) + 1.0 / (atx * atx));
            h4[2][2] = -1.0 / (a * a);
            h4[3][3] = 1.0 / ((b + x) * (b + x));
            add_scaled(&mut h, &h4, sigma);
            add_scaled(&mut h, &outer(&d4, &d4), sigma * rt.w3);
        }
    }
    h
}

fn one_customer(variant: Variant, p: &[f64], x: f64, tx: f64, t: f64) -> (f64, [f64; 4]) {
    let rt = row_terms(variant, p, x, tx, t);
    customer_ll(variant, p, x, tx, t, x_terms(variant, p, x), &rt)
}

impl Likelihood for Problem {
    fn n_params(&self) -> usize {
        4
    }

    fn total_weight(&self) -> f64 {
        self.rows.total
    }

    fn penalty_scale(&self) -> Vec<f64> {
        vec![1.0, 1.0 / self.rows.max_t.max(f64::MIN_POSITIVE), 1.0, 1.0]
    }

    fn ll_grad_hess(&self, p: &[f64]) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        let terms: Vec<XTerms> =
            self.rows.xs.iter().map(|x| x_terms(self.variant, p, *x)).collect();
        let hessians: Vec<[[f64; 4]; 4]> =
            self.rows.xs.iter().map(|x| x_hessian(self.variant, p, *x)).collect();
        let rows = &self.rows;
        let (mut total, mut grad, mut hess) = (0.0, [0.0; 4], [[0.0; 4]; 4]);
        for i in 0..rows.x.len() {
            let (x, tx, t, w) = (rows.x[i], rows.tx[i], rows.t[i], rows.w[i]);
            let rt = row_terms(self.variant, p, x, tx, t);
            let (ll, g) = customer_ll(self.variant, p, x, tx, t, terms[rows.xi[i]], &rt);
            total += w * ll;
            for k in 0..4 {
                grad[k] += w * g[k];
            }
            let h = customer_hessian(self.variant, p, x, tx, t, &hessians[rows.xi[i]], &rt);
            add_scaled(&mut hess, &h, w);
        }
        (total.is_finite()
            && grad.iter().all(|g| g.is_finite())
            && hess.iter().flatten().all(|v| v.is_finite()))
        .then(|| (total, grad.to_vec(), hess.iter().map(|row| row.to_vec()).collect()))
    }

    fn ll_and_grad(&self, p: &[f64]) -> Option<(f64, Vec<f64>)> {
        let terms: Vec<XTerms> =
            self.rows.xs.iter().map(|x| x_terms(self.variant, p, *x)).collect();
        let rows = &self.rows;
        let mut total = 0.0;
        let mut grad = vec![0.0; 4];
        for i in 0..rows.x.len() {
            let (x, tx, t) = (rows.x[i], rows.tx[i], rows.t[i]);
            let rt = row_terms(self.variant, p, x, tx, t);
            let (ll, g) = customer_ll(self.variant, p, x, tx, t, terms[rows.xi[i]], &rt);
            let w = rows.w[i];
            total += w * ll;
            for k in 0..4 {
                grad[k] += w * g[k];
            }
        }
        (total.is_finite() && grad.iter().all(|g| g.is_finite())).then_some((total, grad))
    }
}

fn fit_variant(
    variant: Variant,
    x: &[f64],
    tx: &[f64],
    t: &[f64],
    weights: Option<&[f64]>,
    options: &FitOptions,
) -> crate::Result<([f64; 4], FitInfo)> {
    let problem = Problem { rows: Grouped::new(&Rft::new(x, tx, t, weights)?), variant };
    if x.iter().all(|v| *v == 0.0) {
        return Err(Error::invalid(
            "frequency",
            "no customer made a repeat purchase: the dropout process cannot be estimated",
        ));
    }
    let (p, info) = maximise(&problem, &[1.0, 1.0, 1.0, 1.0], options)?;
    Ok(([p[0], p[1], p[2], p[3]], info))
}

/// Expected purchases of a random new customer in `(0, t]`, the shared
/// formula of both models apart from the dropout at zero.
fn unconditional(r: f64, alpha: f64, a: f64, b: f64, t: f64) -> crate::Result<f64> {
    let z = t / (alpha + t);
    let f = hyp2f1(r, b, a + b - 1.0, z).ok_or_else(|| horizon_error(t))?;
    Ok((a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * f))
}

fn horizon_error(t: f64) -> Error {
    Error::invalid("horizon", format!("{t} periods: the hypergeometric series does not converge"))
}

fn check_horizon(t: f64) -> crate::Result<()> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("horizon", format!("{t} is not ≥ 0")))
    }
}

impl BgNbd {
    /// Fits the model by maximum likelihood to frequency, recency and age
    /// `T` columns (optionally weighted rows).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for inconsistent or non-finite columns, no
    /// customers, or no repeat purchases at all.
    pub fn fit(
        frequency: &[f64],
        recency: &[f64],
        t: &[f64],
        weights: Option<&[f64]>,
        options: &FitOptions,
    ) -> crate::Result<(BgNbd, FitInfo)> {
        let ([r, alpha, a, b], info) =
            fit_variant(Variant::Bg, frequency, recency, t, weights, options)?;
        Ok((BgNbd { r, alpha, a, b }, info))
    }

    fn params(&self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }

    /// Log-likelihood of one customer's (x, tₓ, T).
    pub fn log_likelihood(&self, x: f64, tx: f64, t: f64) -> f64 {
        one_customer(Variant::Bg, &self.params(), x, tx, t).0
    }

    /// Probability that a customer with history (x, tₓ, T) is still alive.
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let ln_odds = self.a.ln() - (self.b + x - 1.0).ln()
            + (self.r + x) * ((self.alpha + t).ln() - (self.alpha + tx).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Expected purchases in the next `horizon` periods of a customer with
    /// history (x, tₓ, T) (FHL 2005, eq. 10).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a negative horizon, or one so long that the
    /// hypergeometric series does not converge.
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        check_horizon(horizon)?;
        let BgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        let f = hyp2f1(r + x, b + x, a + b + x - 1.0, z).ok_or_else(|| horizon_error(horizon))?;
        let numerator = (a + b + x - 1.0) / (a - 1.0)
            * (1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * f);
        let odds = if x > 0.0 {
            a / (b + x - 1.0) * ((alpha + t) / (alpha + tx)).powf(r + x)
        } else {
            0.0
        };
        Ok(numerator / (1.0 + odds))
    }

    /// Expected purchases of a new customer in their first `horizon` periods.
    ///
    /// # Errors
    ///
    /// As [`BgNbd::expected_purchases`].
    pub fn expected_purchases_new(&self, horizon: f64) -> crate::Result<f64> {
        check_horizon(horizon)?;
        unconditional(self.r, self.alpha, self.a, self.b, horizon)
    }

    /// [`BgNbd::expected_purchases`] for several horizons at once (ascending
    /// or not): the hypergeometric series' coefficients do not depend on
    /// the horizon, so they are computed once.
    ///
    /// # Errors
    ///
    /// As [`BgNbd::expected_purchases`].
    pub fn expected_purchases_path(
        &self,
        horizons: &[f64],
        x: f64,
        tx: f64,
        t: f64,
    ) -> crate::Result<Vec<f64>> {
        let BgNbd { r, alpha, a, b } = *self;
        let mut zs = Vec::with_capacity(horizons.len());
        for h in horizons {
            check_horizon(*h)?;
            zs.push(h / (alpha + t + h));
        }
        let z_max = zs.iter().copied().fold(0.0, f64::max);
        let f = hyp2f1_many(r + x, b + x, a + b + x - 1.0, &zs)
            .ok_or_else(|| horizon_error(z_max * (alpha + t) / (1.0 - z_max)))?;
        let odds = if x > 0.0 {
            a / (b + x - 1.0) * ((alpha + t) / (alpha + tx)).powf(r + x)
        } else {
            0.0
        };
        let front = (a + b + x - 1.0) / (a - 1.0) / (1.0 + odds);
        Ok(horizons
            .iter()
            .zip(f)
            .map(|(h, f)| front * (1.0 - ((alpha + t) / (alpha + t + h)).powf(r + x) * f))
            .collect())
    }

    /// Probability that a new customer makes exactly `n` purchases in their
    /// first `horizon` periods (FHL 2005, eq. 8).
    pub fn p_purchases(&self, n: u32, horizon: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = f64::from(n);
        let ln_p = r * (alpha / (alpha + horizon)).ln();
        let ln_q = (horizon / (alpha + horizon)).ln();
        let ln_nb = |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + ln_p + j * ln_q;
        let first = (ln_beta(a, b + x) - ln_beta(a, b) + ln_nb(x)).exp();
        if n == 0 {
            return first;
        }
        let tail: f64 = (0..n).map(|j| ln_nb(f64::from(j)).exp()).sum();
        first + (ln_beta(a + 1.0, b + x - 1.0) - ln_beta(a, b)).exp() * (1.0 - tail)
    }
}

impl MbgNbd {
    /// Fits the model by maximum likelihood (see [`BgNbd::fit`]).
    ///
    /// # Errors
    ///
    /// As [`BgNbd::fit`].
    pub fn fit(
        frequency: &[f64],
        recency: &[f64],
        t: &[f64],
        weights: Option<&[f64]>,
        options: &FitOptions,
    ) -> crate::Result<(MbgNbd, FitInfo)> {
        let ([r, alpha, a, b], info) =
            fit_variant(Variant::Mbg, frequency, recency, t, weights, options)?;
        Ok((MbgNbd { r, alpha, a, b }, info))
    }

    /// Log-likelihood of one customer's (x, tₓ, T).
    pub fn log_likelihood(&self, x: f64, tx: f64, t: f64) -> f64 {
        one_customer(Variant::Mbg, &[self.r, self.alpha, self.a, self.b], x, tx, t).0
    }

    /// Probability that a customer with history (x, tₓ, T) is alive (in
    /// this model also a customer without repeat purchases may have left).
    pub fn p_alive(&self, x: f64, tx: f64, t: f64) -> f64 {
        let ln_odds = self.a.ln() - (self.b + x).ln()
            + (self.r + x) * ((self.alpha + t).ln() - (self.alpha + tx).ln());
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Expected purchases in the next `horizon` periods of a customer with
    /// history (x, tₓ, T).
    ///
    /// # Errors
    ///
    /// As [`BgNbd::expected_purchases`].
    pub fn expected_purchases(&self, horizon: f64, x: f64, tx: f64, t: f64) -> crate::Result<f64> {
        check_horizon(horizon)?;
        let MbgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        let f = hyp2f1(r + x, b + x + 1.0, a + b + x, z).ok_or_else(|| horizon_error(horizon))?;
        let numerator =
            (a + b + x) / (a - 1.0) * (1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * f);
        let odds = a / (b + x) * ((alpha + t) / (alpha + tx)).powf(r + x);
        Ok(numerator / (1.0 + odds))
    }

    /// Expected purchases of a new customer in their first `horizon` periods.
    ///
    /// # Errors
    ///
    /// As [`BgNbd::expected_purchases`].
    pub fn expected_purchases_new(&self, horizon: f64) -> crate::Result<f64> {
        check_horizon(horizon)?;
        let MbgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + horizon);
        let f = hyp2f1(r, b + 1.0, a + b, z).ok_or_else(|| horizon_error(horizon))?;
        Ok(b / (a - 1.0) * (1.0 - (alpha / (alpha + horizon)).powf(r) * f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::fit::testing::check_gradient;

    const X: [f64; 5] = [0.0, 1.0, 2.0, 5.0, 12.0];
    const TX: [f64; 5] = [0.0, 3.5, 30.43, 20.0, 38.0];
    const T: [f64; 5] = [38.86, 38.86, 38.86, 30.0, 39.0];

    #[test]
    fn gradients_match_finite_differences() {
        for variant in [Variant::Bg, Variant::Mbg] {
            let problem =
                Problem { rows: Grouped::new(&Rft::new(&X, &TX, &T, None).unwrap()), variant };
            check_gradient(&problem, &[0.243, 4.414, 0.793, 2.426]);
            check_gradient(&problem, &[1.7, 0.6, 2.1, 0.9]);
        }
    }

    #[test]
    fn hessians_match_finite_differences_of_the_gradient() {
        for variant in [Variant::Bg, Variant::Mbg] {
            let problem =
                Problem { rows: Grouped::new(&Rft::new(&X, &TX, &T, None).unwrap()), variant };
            for p in [[0.243, 4.414, 0.793, 2.426], [1.7, 0.6, 2.1, 0.9]] {
                let (_, _, hess) = problem.ll_grad_hess(&p).unwrap();
                for j in 0..4 {
                    let h = 1e-6 * p[j];
                    let mut up = p;
                    up[j] += h;
                    let mut down = p;
                    down[j] -= h;
                    let gu = problem.ll_and_grad(&up).unwrap().1;
                    let gd = problem.ll_and_grad(&down).unwrap().1;
                    for i in 0..4 {
                        let numeric = (gu[i] - gd[i]) / (2.0 * h);
                        let scale = hess[i][j].abs().max(1.0);
                        assert!(
                            (numeric - hess[i][j]).abs() < 1e-4 * scale,
                            "{i},{j}: {} vs {numeric}",
                            hess[i][j]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn likelihood_at_fixed_parameters_is_the_hand_computed_value() {
        // x = 0: ln[Γ(r)/Γ(r) α^r (α+T)^-r] = r ln(α/(α+T)); the Beta part is 0.
        let m = BgNbd { r: 0.5, alpha: 2.0, a: 1.5, b: 3.0 };
        let want = 0.5 * (2.0f64 / 12.0).ln();
        assert!((m.log_likelihood(0.0, 0.0, 10.0) - want).abs() < 1e-12);
        // x = 1, tₓ = 4, T = 10, by the formula written out.
        let (r, al, a, b) = (0.5f64, 2.0f64, 1.5f64, 3.0f64);
        let l = (ln_gamma(r + 1.0) - ln_gamma(r)).exp()
            * al.powf(r)
            * (b / (a + b))
            * ((al + 10.0).powf(-(r + 1.0)) + a / b * (al + 4.0).powf(-(r + 1.0)));
        assert!((m.log_likelihood(1.0, 4.0, 10.0) - l.ln()).abs() < 1e-12);
    }

    #[test]
    fn predictions_at_fixed_parameters() {
        // FHL 2005 parameters (CDNOW).
        let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        // P(alive) without repeats is 1; by the closed form otherwise.
        assert_eq!(m.p_alive(0.0, 0.0, 38.86), 1.0);
        let want = 1.0
            / (1.0
                + 0.793 / (2.426 + 1.0) * ((4.414f64 + 38.86) / (4.414 + 30.43)).powf(0.243 + 2.0));
        assert!((m.p_alive(2.0, 30.43, 38.86) - want).abs() < 1e-12);
        // The paper's example: a customer with x = 2, tₓ = 30.43, T = 38.86
        // is expected to make 1.226 purchases in the next 39 weeks.
        let e = m.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap();
        assert!((e - 1.226).abs() < 1e-3, "{e}");
        // Probabilities of n purchases sum to 1 and their mean is E[X(t)].
        let (mut total, mut mean) = (0.0, 0.0);
        for n in 0..400 {
            let p = m.p_purchases(n, 39.0);
            total += p;
            mean += f64::from(n) * p;
        }
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        assert!((mean - m.expected_purchases_new(39.0).unwrap()).abs() < 1e-4, "{mean}");
    }

    #[test]
    fn predictions_where_almost_nobody_drops_out() {
        // A fit on a base without dropouts drives a and b to ~0 (the scaling
        // bench's synthetic base gave these); c = a + b − 1 of the series is
        // then just above −1. The purchase process is then nearly the NBD's:
        // a share a/(a+b) = 0.12 % drops after its first repeat, the rest
        // never, so E[X(h) | x = 0, T] lies between 99.8 % of r·h/(α+T) and
        // r·h/(α+T).
        let m = BgNbd { r: 3.5437, alpha: 23.188, a: 3.9e-11, b: 3.2e-8 };
        for (t, h) in [(0.0, 39.0), (10.0, 52.14), (70.0, 4.345)] {
            let nbd = m.r * h / (m.alpha + t);
            let got = m.expected_purchases(h, 0.0, 0.0, t).unwrap();
            assert!(got <= nbd * (1.0 + 1e-9) && got >= 0.998 * nbd, "T {t}: {got} vs {nbd}");
            let path = m.expected_purchases_path(&[h / 2.0, h], 0.0, 0.0, t).unwrap();
            assert!((path[1] - got).abs() < 1e-9 * got);
        }
        let new = m.expected_purchases_new(39.0).unwrap();
        let nbd = m.r * 39.0 / m.alpha;
        assert!(new <= nbd * (1.0 + 1e-9) && new >= 0.998 * nbd, "{new} vs {nbd}");
    }
}
