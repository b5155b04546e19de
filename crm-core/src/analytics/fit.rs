//! Maximum-likelihood fitting shared by every model: minimise the mean
//! negative log-likelihood (plus an optional L2 penalty) over the logs of
//! the parameters with L-BFGS from `argmin`, then polish with Newton steps
//! on a finite-difference Hessian of the analytic gradient, so that the
//! result is the optimum to full precision rather than a loose stop.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::Error;

/// Options of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// L2 penalty, exactly as Python `lifetimes` applies `penalizer_coef`:
    /// `λ Σ θ²` added to the mean negative log-likelihood, with the time
    /// scale parameters (α, and β of Pareto/NBD) measured in units of the
    /// longest customer age, and — a quirk of `lifetimes` kept for
    /// agreement — Pareto/NBD's likelihood divided by the mean weight (the
    /// total likelihood for unweighted rows). 0 for plain maximum
    /// likelihood.
    pub penalizer: f64,
    /// Most L-BFGS iterations.
    pub max_iterations: u64,
    /// Starting values (the model's defaults when `None`).
    pub initial: Option<Vec<f64>>,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions { penalizer: 0.0, max_iterations: 500, initial: None }
    }
}

impl FitOptions {
    /// With an L2 penalty.
    #[must_use]
    pub fn penalizer(mut self, penalizer: f64) -> FitOptions {
        self.penalizer = penalizer;
        self
    }
}

/// How a fit went.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitInfo {
    /// Log-likelihood of the data at the parameters (without the penalty).
    pub log_likelihood: f64,
    /// Whether the gradient vanished (to 1e-6 relative) at the end.
    pub converged: bool,
    /// L-BFGS iterations plus Newton polishing steps.
    pub iterations: u64,
    /// Largest absolute component of the gradient of the mean objective
    /// (per customer) with respect to the log-parameters at the end.
    pub gradient_norm: f64,
    /// Customers (or weighted rows) the model was fitted on.
    pub customers: f64,
    /// Why the optimiser stopped.
    pub stopped: String,
}

/// A model's log-likelihood: the sum over rows and its gradient with
/// respect to the parameters.
pub(crate) trait Likelihood {
    /// Number of parameters.
    fn n_params(&self) -> usize;
    /// Total weight (number of customers).
    fn total_weight(&self) -> f64;
    /// `(Σ ll, ∇θ Σ ll)`; `None` where the likelihood cannot be evaluated.
    fn ll_and_grad(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)>;

    /// `Σ ll` alone (models whose gradient is expensive override this).
    fn ll(&self, theta: &[f64]) -> Option<f64> {
        self.ll_and_grad(theta).map(|(ll, _)| ll)
    }

    /// `(Σ ll, ∇θ, ∇²θ)` for models with an analytic Hessian (used for the
    /// final Newton steps instead of finite differences).
    fn ll_grad_hess(&self, _theta: &[f64]) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        None
    }

    /// What each parameter is multiplied by inside the penalty.
    fn penalty_scale(&self) -> Vec<f64> {
        vec![1.0; self.n_params()]
    }

    /// What the log-likelihood is divided by in the objective.
    fn divisor(&self) -> f64 {
        self.total_weight()
    }
}

/// The objective in log-parameter space.
struct Objective<'l, L: Likelihood> {
    likelihood: &'l L,
    penalizer: f64,
}

impl<L: Likelihood> Objective<'_, L> {
    /// The penalised mean negative log-likelihood alone.
    fn cost(&self, phi: &[f64]) -> Option<f64> {
        let theta: Vec<f64> = phi.iter().map(|p| p.exp()).collect();
        if theta.iter().any(|t| !t.is_finite() || *t <= 0.0) {
            return None;
        }
        let ll = self.likelihood.ll(&theta)?;
        let scale = self.likelihood.penalty_scale();
        let penalty: f64 =
            theta.iter().zip(&scale).map(|(t, s)| (t * s).powi(2)).sum::<f64>() * self.penalizer;
        let cost = -ll / self.likelihood.divisor() + penalty;
        cost.is_finite().then_some(cost)
    }

    /// Cost, gradient and Hessian in log-parameters, when the model has an
    /// analytic Hessian.
    fn eval_hessian(&self, phi: &[f64]) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        let theta: Vec<f64> = phi.iter().map(|p| p.exp()).collect();
        let (ll, grad, hess) = self.likelihood.ll_grad_hess(&theta)?;
        let n = self.likelihood.divisor();
        let scale = self.likelihood.penalty_scale();
        let lambda = self.penalizer;
        let k = theta.len();
        let penalty: f64 =
            theta.iter().zip(&scale).map(|(t, s)| (t * s).powi(2)).sum::<f64>() * lambda;
        let cost = -ll / n + penalty;
        let g: Vec<f64> = (0..k)
            .map(|i| theta[i] * (-grad[i] / n) + 2.0 * lambda * (scale[i] * theta[i]).powi(2))
            .collect();
        let mut h = vec![vec![0.0; k]; k];
        for i in 0..k {
            for j in 0..k {
                h[i][j] = -theta[i] * theta[j] * hess[i][j] / n;
            }
            h[i][i] += -theta[i] * grad[i] / n + 4.0 * lambda * (scale[i] * theta[i]).powi(2);
        }
        (cost.is_finite()
            && g.iter().all(|v| v.is_finite())
            && h.iter().flatten().all(|v| v.is_finite()))
        .then_some((cost, g, h))
    }

    fn eval(&self, phi: &[f64]) -> Option<(f64, Vec<f64>)> {
        let theta: Vec<f64> = phi.iter().map(|p| p.exp()).collect();
        if theta.iter().any(|t| !t.is_finite() || *t <= 0.0) {
            return None;
        }
        let (ll, grad) = self.likelihood.ll_and_grad(&theta)?;
        let n = self.likelihood.divisor();
        let scale = self.likelihood.penalty_scale();
        let penalty: f64 =
            theta.iter().zip(&scale).map(|(t, s)| (t * s).powi(2)).sum::<f64>() * self.penalizer;
        let cost = -ll / n + penalty;
        let grad_phi: Vec<f64> = theta
            .iter()
            .zip(&grad)
            .zip(&scale)
            .map(|((t, g), s)| t * (-g / n + 2.0 * self.penalizer * s * s * t))
            .collect();
        (cost.is_finite() && grad_phi.iter().all(|g| g.is_finite())).then_some((cost, grad_phi))
    }
}

/// A log-parameter this large (e^30 ≈ 1e13) means the likelihood has no
/// interior maximum: the fit stops and says it did not converge.
const RUNAWAY: f64 = 30.0;

/// A cost the line search can step back from where the model is undefined.
const UNDEFINED: f64 = 1e100;

impl<L: Likelihood> CostFunction for Objective<'_, L> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, phi: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(Objective::cost(self, phi).unwrap_or(UNDEFINED))
    }
}

impl<L: Likelihood> Gradient for Objective<'_, L> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, phi: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(phi).map_or_else(|| vec![0.0; phi.len()], |(_, g)| g))
    }
}

fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// A central-difference Hessian of the gradient, symmetrised.
fn fd_hessian<L: Likelihood>(objective: &Objective<'_, L>, phi: &[f64]) -> Option<Vec<Vec<f64>>> {
    let n = phi.len();
    let mut hessian = vec![vec![0.0; n]; n];
    for j in 0..n {
        let h = 1e-5 * (1.0 + phi[j].abs());
        let mut up = phi.to_vec();
        up[j] += h;
        let mut down = phi.to_vec();
        down[j] -= h;
        let (_, gu) = objective.eval(&up)?;
        let (_, gd) = objective.eval(&down)?;
        for i in 0..n {
            hessian[i][j] = (gu[i] - gd[i]) / (2.0 * h);
        }
    }
    for i in 0..n {
        for j in 0..i {
            let mean = 0.5 * (hessian[i][j] + hessian[j][i]);
            hessian[i][j] = mean;
            hessian[j][i] = mean;
        }
    }
    Some(hessian)
}

/// Solves `h x = g` for a small dense system by Gaussian elimination with
/// partial pivoting; `None` when singular.
fn solve(mut h: Vec<Vec<f64>>, mut g: Vec<f64>) -> Option<Vec<f64>> {
    let n = g.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|a, b| h[*a][col].abs().total_cmp(&h[*b][col].abs()))?;
        if h[pivot][col].abs() < 1e-300 {
            return None;
        }
        h.swap(col, pivot);
        g.swap(col, pivot);
        for row in col + 1..n {
            let factor = h[row][col] / h[col][col];
            for k in col..n {
                h[row][k] -= factor * h[col][k];
            }
            g[row] -= factor * g[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| h[row][k] * x[k]).sum();
        x[row] = (g[row] - tail) / h[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Fits by minimising the penalised mean negative log-likelihood; returns
/// the parameters and how it went.
pub(crate) fn maximise<L: Likelihood>(
    likelihood: &L,
    start: &[f64],
    options: &FitOptions,
) -> crate::Result<(Vec<f64>, FitInfo)> {
    if !(options.penalizer >= 0.0 && options.penalizer.is_finite()) {
        return Err(Error::invalid("penalizer", "must be a finite number ≥ 0"));
    }
    let initial = options.initial.as_deref().unwrap_or(start);
    if initial.len() != likelihood.n_params()
        || initial.iter().any(|v| !(v.is_finite() && *v > 0.0))
    {
        return Err(Error::invalid(
            "initial",
            format!("needs {} positive starting values", likelihood.n_params()),
        ));
    }
    let objective = Objective { likelihood, penalizer: options.penalizer };
    // Convergence is judged on the mean objective, whatever the divisor.
    let rescale = likelihood.divisor() / likelihood.total_weight();
    let phi0: Vec<f64> = initial.iter().map(|v| v.ln()).collect();
    if objective.eval(&phi0).is_none() {
        return Err(Error::invalid(
            "initial",
            "the likelihood is undefined at the starting values",
        ));
    }
    // L-BFGS gets close; the Newton steps below make the last digits exact,
    // so its own stopping rules can be moderate.
    let has_hessian = likelihood.ll_grad_hess(initial).is_some();
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(if has_hessian { 1e-4 } else { 1e-8 } / rescale)
        .and_then(|s| s.with_tolerance_cost(1e-12))
        .map_err(|e| Error::Internal(format!("optimiser set-up: {e}")))?;
    let result = Executor::new(Objective { likelihood, penalizer: options.penalizer }, solver)
        .configure(|state| {
            // With an analytic Hessian, Newton's method below does the work.
            state.param(phi0.clone()).max_iters(if has_hessian {
                0
            } else {
                options.max_iterations
            })
        })
        .run();
    let (mut phi, mut iterations, mut stopped) = match result {
        Ok(result) => {
            let state = result.state();
            (
                state.get_best_param().cloned().unwrap_or_else(|| phi0.clone()),
                state.get_iter(),
                format!("{}", state.get_termination_status()),
            )
        }
        // The line search can fail near the optimum when the cost no longer
        // changes in double precision; the Newton steps below finish.
        Err(error) => (phi0.clone(), 0, format!("L-BFGS stopped: {error}")),
    };
    // Newton polishing: on the analytic Hessian when the model has one, else
    // on a central-difference Hessian of the gradient.
    for _ in 0..if has_hessian { 100 } else { 20 } {
        let analytic = objective.eval_hessian(&phi);
        let (cost, grad, hessian) = match analytic {
            Some(found) => found,
            None => {
                let Some((cost, grad)) = objective.eval(&phi) else { break };
                let Some(hessian) = fd_hessian(&objective, &phi) else { break };
                (cost, grad, hessian)
            }
        };
        if max_abs(&phi) > RUNAWAY {
            break;
        }
        // 1e-10 on the mean objective pins the parameters to ~1e-10 relative,
        // far below what any caller can see; more would only chase rounding.
        if max_abs(&grad) * rescale < 1e-10 {
            break;
        }
        // Far from the optimum the Hessian may not be positive definite;
        // then the Newton step is no descent direction and the gradient is
        // followed instead (scaled to a modest step).
        let newton = solve(hessian, grad.clone())
            .filter(|step| step.iter().zip(&grad).map(|(s, g)| s * g).sum::<f64>() > 0.0);
        let step = match newton {
            Some(step) => step,
            None if has_hessian => {
                let norm = max_abs(&grad).max(f64::MIN_POSITIVE);
                grad.iter().map(|g| g / norm * 0.5).collect()
            }
            None => break,
        };
        if max_abs(&step) < 1e-12 {
            break;
        }
        // A trust region in log-parameters: at most ×e² per step.
        let longest = max_abs(&step);
        let step: Vec<f64> =
            if longest > 2.0 { step.iter().map(|s| s * 2.0 / longest).collect() } else { step };
        // Halve the step until the cost does not rise.
        let mut scale = 1.0;
        let mut moved = false;
        for _ in 0..30 {
            let candidate: Vec<f64> = phi.iter().zip(&step).map(|(p, s)| p - scale * s).collect();
            if let Some(c) = objective.cost(&candidate)
                && c < cost
            {
                phi = candidate;
                moved = true;
                break;
            }
            scale *= 0.5;
        }
        iterations += 1;
        if !moved {
            break;
        }
        stopped = "Newton polishing".to_owned();
    }
    let Some((_, grad)) = objective.eval(&phi) else {
        return Err(Error::Internal("the fit ended where the likelihood is undefined".into()));
    };
    let theta: Vec<f64> = phi.iter().map(|p| p.exp()).collect();
    let (log_likelihood, _) = likelihood.ll_and_grad(&theta).ok_or_else(|| {
        Error::Internal("the likelihood is undefined at the fitted parameters".into())
    })?;
    let gradient_norm = max_abs(&grad) * rescale;
    let runaway = max_abs(&phi) > RUNAWAY;
    if runaway {
        stopped =
            "parameters ran away: the data do not pin the model down (e.g. no customer drops out)"
                .to_owned();
    } else if gradient_norm >= 1e-6 {
        stopped = format!(
            "no optimum reached: gradient {gradient_norm:.1e} after {iterations} steps (the likelihood may rise along a ridge)"
        );
    }
    Ok((
        theta,
        FitInfo {
            log_likelihood,
            converged: gradient_norm < 1e-6 && !runaway,
            iterations,
            gradient_norm,
            customers: likelihood.total_weight(),
            stopped,
        },
    ))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::Likelihood;

    /// Checks the analytic gradient against central finite differences.
    pub(crate) fn check_gradient<L: Likelihood>(likelihood: &L, theta: &[f64]) {
        let (_, grad) = likelihood.ll_and_grad(theta).unwrap();
        for j in 0..theta.len() {
            let h = 1e-6 * theta[j];
            let mut up = theta.to_vec();
            up[j] += h;
            let mut down = theta.to_vec();
            down[j] -= h;
            let numeric = (likelihood.ll_and_grad(&up).unwrap().0
                - likelihood.ll_and_grad(&down).unwrap().0)
                / (2.0 * h);
            let scale = grad[j].abs().max(1.0);
            assert!(
                (numeric - grad[j]).abs() < 1e-5 * scale,
                "parameter {j}: analytic {} vs numeric {numeric}",
                grad[j]
            );
        }
    }
}
