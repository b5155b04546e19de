//! Customer analytics: pure functions over columns, no SQL.
//!
//! - [`summarize`] turns a transaction log into per-customer columns:
//!   frequency (repeat transactions), recency, age `T` and mean repeat
//!   spend, in days or weeks, for a calibration period (and counts a
//!   holdout period).
//! - Repeat-purchase models fitted by maximum likelihood: [`BgNbd`],
//!   [`MbgNbd`], [`ParetoNbd`], [`BgBb`] (discrete opportunities), and the
//!   [`GammaGamma`] spend model. Each fit returns the parameters and a
//!   [`FitInfo`] (log-likelihood, convergence, iterations, gradient norm);
//!   the models predict expected purchases, P(alive), the probability of n
//!   purchases (BG/NBD) and expected spend; [`clv`] discounts them into a
//!   customer lifetime value.
//! - [`rfm`] scores recency, frequency and monetary value in quintiles and
//!   maps them to named segments.
//!
//! Parameters are fitted over their logarithms (so they stay positive)
//! by Newton's method on analytic Hessians (BG/NBD, MBG/NBD) or L-BFGS from
//! `argmin` polished by Newton steps (the others), so the result is the
//! optimum to full double precision, not a loose stop: on the CDNOW
//! sample BG/NBD gives the published r = 0.243, α = 4.414, a = 0.793,
//! b = 2.426, LL = −9582.4.
//!
//! Amounts here are `f64` on purpose: these are statistical estimates, not
//! ledger money; the store hands amounts in as major units of one currency.

// Index loops over parameter vectors mirror the formulas they implement.
#![allow(clippy::needless_range_loop)]

mod bgbb;
mod bgnbd;
mod clv;
mod fit;
mod gamma_gamma;
mod lifecycle;
mod pareto;
mod profit;
mod rfm;
mod special;
mod summary;
mod validation;

pub use crate::analytics::bgbb::BgBb;
pub use crate::analytics::bgnbd::{BgNbd, MbgNbd};
pub use crate::analytics::clv::{PurchaseModel, ScoreOptions, Scores, clv, score};
pub use crate::analytics::fit::{FitInfo, FitOptions};
pub use crate::analytics::gamma_gamma::GammaGamma;
pub use crate::analytics::lifecycle::{Activity, LifecycleRules, lifecycle_stage};
pub use crate::analytics::pareto::ParetoNbd;
pub use crate::analytics::profit::{
    Concentration, RetentionUplift, concentration, retention_uplift,
};
pub use crate::analytics::rfm::{RfmScore, RfmSegment, rfm};
pub use crate::analytics::summary::{Summary, TimeUnit, Transactions, purchase_times, summarize};
pub use crate::analytics::validation::{Holdout, Tracking, holdout, tracking};
