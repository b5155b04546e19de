//! Customer analytics over columns: the per-customer summary, RFM, the
//! purchase models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, Gamma-Gamma) with
//! their predictions, and scoring. Inputs are numpy arrays or sequences;
//! outputs are numpy arrays, so `pandas.DataFrame(result)` works.

use chrono::NaiveDate;
use crm_core::analytics::{
    self as a, BgBb, BgNbd, FitInfo, FitOptions, GammaGamma, MbgNbd, ParetoNbd, ScoreOptions,
    TimeUnit, Transactions,
};
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArrayLike1};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::Record;
use crate::errors;

type Column<'py> = PyArrayLike1<'py, f64, AllowTypeChange>;

fn core<T>(result: crm_core::Result<T>) -> PyResult<T> {
    result.map_err(errors::core)
}

fn vec(column: &Column<'_>) -> Vec<f64> {
    column.as_array().iter().copied().collect()
}

fn array<'py>(py: Python<'py>, values: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    values.into_pyarray(py)
}

pub(crate) fn time_unit(unit: &str) -> PyResult<TimeUnit> {
    match unit {
        "day" => Ok(TimeUnit::Day),
        "week" => Ok(TimeUnit::Week),
        other => Err(errors::invalid("unit", format!("`{other}` is not day or week"))),
    }
}

fn options(penalizer: f64) -> FitOptions {
    FitOptions::default().penalizer(penalizer)
}

fn info(info: &FitInfo) -> PyResult<Record> {
    Record::new("FitInfo", info.clone())
}

/// The summary as numpy columns.
pub(crate) fn summary_columns(py: Python<'_>, s: a::Summary) -> PyResult<Bound<'_, PyDict>> {
    let n = s.customer.len();
    let columns = PyDict::new(py);
    columns.set_item("customer", s.customer.into_pyarray(py))?;
    columns.set_item("frequency", array(py, s.frequency))?;
    columns.set_item("recency", array(py, s.recency))?;
    columns.set_item("T", array(py, s.t))?;
    columns.set_item("monetary_value", array(py, s.monetary))?;
    if s.holdout_length > 0.0 {
        columns.set_item("frequency_holdout", array(py, s.holdout_frequency))?;
        columns.set_item("duration_holdout", array(py, vec![s.holdout_length; n]))?;
    }
    Ok(columns)
}

fn day(text: &str, field: &str) -> PyResult<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10).unwrap_or(text), "%Y-%m-%d")
        .map_err(|_| errors::invalid(field, format!("`{text}` is not a date (YYYY-MM-DD)")))
}

fn day_of(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<NaiveDate> {
    match crate::convert::to_json(obj)? {
        serde_json::Value::String(s) => day(&s, field),
        other => Err(errors::invalid(field, format!("{other} is not a date"))),
    }
}

/// Per-customer frequency, recency, age ``T`` and mean repeat spend from a
/// transaction log (``customer`` ids, ``date`` strings / dates / numpy
/// datetime64[D], ``amount``), as at ``calibration_end``; with
/// ``observation_end``, the holdout counts too. Same-day purchases are one.
#[pyfunction]
#[pyo3(signature = (customer, date, amount, calibration_end, *, observation_end = None, unit = "week"))]
pub(crate) fn summarize<'py>(
    py: Python<'py>,
    customer: PyArrayLike1<'py, u64, AllowTypeChange>,
    date: Bound<'py, PyAny>,
    amount: Column<'py>,
    calibration_end: Bound<'py, PyAny>,
    observation_end: Option<Bound<'py, PyAny>>,
    unit: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let unit = time_unit(unit)?;
    let calibration = day_of(&calibration_end, "calibration_end")?;
    let observation = observation_end.map(|o| day_of(&o, "observation_end")).transpose()?;
    let dates = if date.hasattr("astype")? {
        date.call_method1("astype", ("datetime64[D]",))?.call_method1("astype", ("str",))?
    } else {
        date
    };
    let mut days = Vec::new();
    for (row, item) in dates.try_iter()?.enumerate() {
        let item = item?;
        let text = match crate::convert::to_json(&item)? {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        days.push(NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d").map_err(
            |_| {
                errors::core(crm_core::Error::Invalid {
                    at: crm_core::Location {
                        row: Some(row as u64 + 1),
                        column: Some("date".into()),
                    },
                    reason: format!("`{text}` is not a date (YYYY-MM-DD)"),
                })
            },
        )?);
    }
    let log = Transactions {
        customer: customer.as_array().iter().copied().collect(),
        day: days,
        amount: vec(&amount),
    };
    let summary = core(py.detach(|| a::summarize(&log, unit, calibration, observation)))?;
    summary_columns(py, summary)
}

/// RFM quintiles (5 best) and the segment of each customer, from days
/// since the last purchase, purchase counts and spend.
#[pyfunction]
pub(crate) fn rfm<'py>(
    py: Python<'py>,
    recency_days: Column<'py>,
    frequency: Column<'py>,
    monetary: Column<'py>,
) -> PyResult<Bound<'py, PyDict>> {
    let scores = core(a::rfm(&vec(&recency_days), &vec(&frequency), &vec(&monetary)))?;
    let columns = PyDict::new(py);
    columns.set_item("r", scores.iter().map(|s| s.r).collect::<Vec<u8>>().into_pyarray(py))?;
    columns.set_item("f", scores.iter().map(|s| s.f).collect::<Vec<u8>>().into_pyarray(py))?;
    columns.set_item("m", scores.iter().map(|s| s.m).collect::<Vec<u8>>().into_pyarray(py))?;
    columns.set_item("segment", scores.iter().map(|s| s.segment.code()).collect::<Vec<&str>>())?;
    Ok(columns)
}

/// Evaluates `f` per row into a numpy column.
fn per_row<'py>(
    py: Python<'py>,
    n: usize,
    f: impl Fn(usize) -> crm_core::Result<f64> + Send + Sync,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let values = core(py.detach(|| (0..n).map(&f).collect::<crm_core::Result<Vec<f64>>>()))?;
    Ok(array(py, values))
}

/// Three columns as vectors, and their common length.
type Three = (Vec<f64>, Vec<f64>, Vec<f64>, usize);

/// Three equally long columns as vectors, and their length.
fn three(a: &Column<'_>, b: &Column<'_>, c: &Column<'_>) -> PyResult<Three> {
    let (a, b, c) = (vec(a), vec(b), vec(c));
    let n = same_length(&[&a, &b, &c])?;
    Ok((a, b, c, n))
}

fn same_length(columns: &[&[f64]]) -> PyResult<usize> {
    let n = columns.first().map_or(0, |c| c.len());
    if columns.iter().any(|c| c.len() != n) {
        return Err(errors::invalid("columns", "the columns differ in length"));
    }
    Ok(n)
}

macro_rules! rft_model {
    ($py_name:literal, $rust:ident, $wrapper:ident, [$($param:ident),*], $doc:literal, { $($extra:tt)* }) => {
        #[doc = $doc]
        #[pyclass(frozen, module = "crm._crm", name = $py_name)]
        #[derive(Clone)]
        pub struct $wrapper {
            model: $rust,
        }

        #[pymethods]
        impl $wrapper {
            /// A model with the given parameters.
            #[new]
            fn py_new($($param: f64),*) -> Self {
                $wrapper { model: $rust { $($param),* } }
            }

            $(
                #[getter]
                fn $param(&self) -> f64 {
                    self.model.$param
                }
            )*

            /// The parameters by name.
            fn params(&self) -> std::collections::BTreeMap<&'static str, f64> {
                [$((stringify!($param), self.model.$param)),*].into_iter().collect()
            }

            fn __repr__(&self) -> String {
                let parts: Vec<String> = vec![$(format!("{}={:.6}", stringify!($param), self.model.$param)),*];
                format!("{}({})", $py_name, parts.join(", "))
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.cast::<$wrapper>().is_ok_and(|o| o.get().model == self.model)
            }

            $($extra)*
        }
    };
}

macro_rules! purchase_model {
    ($py_name:literal, $rust:ident, $wrapper:ident, [$($param:ident),*], $doc:literal, $p_alive:expr, $ll:expr, { $($extra:tt)* }) => {
        rft_model!($py_name, $rust, $wrapper, [$($param),*], $doc, {
            /// Fits by maximum likelihood to frequency, recency and ``T``
            /// (optionally weighted rows, optional L2 ``penalizer`` as in
            /// lifetimes). Returns ``(model, info)``.
            #[staticmethod]
            #[pyo3(signature = (frequency, recency, T, *, weights = None, penalizer = 0.0))]
            #[allow(non_snake_case)]
            fn fit<'py>(
                py: Python<'py>,
                frequency: Column<'py>,
                recency: Column<'py>,
                T: Column<'py>,
                weights: Option<Column<'py>>,
                penalizer: f64,
            ) -> PyResult<(Self, Record)> {
                let (x, tx, t) = (vec(&frequency), vec(&recency), vec(&T));
                let w = weights.as_ref().map(vec);
                let (model, fit) = core(py.detach(|| {
                    $rust::fit(&x, &tx, &t, w.as_deref(), &options(penalizer))
                }))?;
                Ok(($wrapper { model }, info(&fit)?))
            }

            /// P(alive) of each customer.
            #[allow(non_snake_case)]
            fn p_alive<'py>(
                &self,
                py: Python<'py>,
                frequency: Column<'py>,
                recency: Column<'py>,
                T: Column<'py>,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                let (x, tx, t, n) = three(&frequency, &recency, &T)?;
                let m = self.model;
                per_row(py, n, |i| ($p_alive)(&m, x[i], tx[i], t[i]))
            }

            /// Expected purchases of each customer in the next ``t``
            /// periods.
            #[allow(non_snake_case)]
            fn expected_purchases<'py>(
                &self,
                py: Python<'py>,
                t: f64,
                frequency: Column<'py>,
                recency: Column<'py>,
                T: Column<'py>,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                let (x, tx, age, n) = three(&frequency, &recency, &T)?;
                let m = self.model;
                per_row(py, n, |i| m.expected_purchases(t, x[i], tx[i], age[i]))
            }

            /// Log-likelihood of each customer's history.
            #[allow(non_snake_case)]
            fn log_likelihood<'py>(
                &self,
                py: Python<'py>,
                frequency: Column<'py>,
                recency: Column<'py>,
                T: Column<'py>,
            ) -> PyResult<Bound<'py, PyArray1<f64>>> {
                let (x, tx, t, n) = three(&frequency, &recency, &T)?;
                let m = self.model;
                per_row(py, n, |i| ($ll)(&m, x[i], tx[i], t[i]))
            }

            /// Scores every customer: P(alive), expected purchases over
            /// ``horizon``, expected spend (from ``spend_model``, else the
            /// observed mean) and CLV over ``periods`` steps of ``step``
            /// at ``discount_rate`` per step, times ``margin``.
            #[pyo3(signature = (frequency, recency, T, monetary_value, *, spend_model = None, horizon = 39.0, periods = 12, step = 4.345, discount_rate = 0.01, margin = 1.0))]
            #[allow(non_snake_case, clippy::too_many_arguments)]
            fn score<'py>(
                &self,
                py: Python<'py>,
                frequency: Column<'py>,
                recency: Column<'py>,
                T: Column<'py>,
                monetary_value: Column<'py>,
                spend_model: Option<PyRef<'py, PyGammaGamma>>,
                horizon: f64,
                periods: u32,
                step: f64,
                discount_rate: f64,
                margin: f64,
            ) -> PyResult<Bound<'py, PyDict>> {
                let (x, tx, t, mv) = (vec(&frequency), vec(&recency), vec(&T), vec(&monetary_value));
                let spend = spend_model.map(|s| s.model);
                let opts = ScoreOptions { horizon, periods, step, discount_rate, margin };
                let m = self.model;
                let scores = core(py.detach(|| a::score(&m, spend.as_ref(), (&x, &tx, &t, &mv), &opts)))?;
                let columns = PyDict::new(py);
                columns.set_item("p_alive", array(py, scores.p_alive))?;
                columns.set_item("expected_purchases", array(py, scores.expected_purchases))?;
                columns.set_item("expected_spend", array(py, scores.expected_spend))?;
                columns.set_item("clv", array(py, scores.clv))?;
                Ok(columns)
            }
            $($extra)*
        });
    };
}

purchase_model!(
    "BgNbd",
    BgNbd,
    PyBgNbd,
    [r, alpha, a, b],
    "A BG/NBD model (Fader, Hardie & Lee 2005).",
    |m: &BgNbd, x, tx, t| Ok(m.p_alive(x, tx, t)),
    |m: &BgNbd, x, tx, t| Ok(m.log_likelihood(x, tx, t)),
    {
        /// Expected purchases of a new customer in ``t`` periods.
        fn expected_purchases_new(&self, t: f64) -> PyResult<f64> {
            core(self.model.expected_purchases_new(t))
        }

        /// P(exactly ``n`` purchases in ``t`` periods) for a new customer.
        fn p_purchases(&self, n: u32, t: f64) -> f64 {
            self.model.p_purchases(n, t)
        }
    }
);

purchase_model!(
    "MbgNbd",
    MbgNbd,
    PyMbgNbd,
    [r, alpha, a, b],
    "An MBG/NBD model (Batislam, Denizel & Filiztekin 2007).",
    |m: &MbgNbd, x, tx, t| Ok(m.p_alive(x, tx, t)),
    |m: &MbgNbd, x, tx, t| Ok(m.log_likelihood(x, tx, t)),
    {}
);

purchase_model!(
    "ParetoNbd",
    ParetoNbd,
    PyParetoNbd,
    [r, alpha, s, beta],
    "A Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).",
    |m: &ParetoNbd, x, tx, t| m.p_alive(x, tx, t),
    |m: &ParetoNbd, x, tx, t| m.log_likelihood(x, tx, t),
    {}
);

rft_model!(
    "BgBb",
    BgBb,
    PyBgBb,
    [alpha, beta, gamma, delta],
    "A BG/BB model for discrete opportunities (Fader, Hardie & Shang 2010).",
    {
        /// Fits to frequency, recency and the number of opportunities ``n``
        /// (whole numbers), optionally weighted (one row per pattern).
        #[staticmethod]
        #[pyo3(signature = (frequency, recency, n, *, weights = None, penalizer = 0.0))]
        fn fit<'py>(
            py: Python<'py>,
            frequency: Column<'py>,
            recency: Column<'py>,
            n: Column<'py>,
            weights: Option<Column<'py>>,
            penalizer: f64,
        ) -> PyResult<(Self, Record)> {
            let (x, tx, periods) = (vec(&frequency), vec(&recency), vec(&n));
            let w = weights.as_ref().map(vec);
            let (model, fit) = core(
                py.detach(|| BgBb::fit(&x, &tx, &periods, w.as_deref(), &options(penalizer))),
            )?;
            Ok((PyBgBb { model }, info(&fit)?))
        }

        /// P(alive) after ``n`` opportunities.
        fn p_alive<'py>(
            &self,
            py: Python<'py>,
            frequency: Column<'py>,
            recency: Column<'py>,
            n: Column<'py>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let (x, tx, periods, len) = three(&frequency, &recency, &n)?;
            let m = self.model;
            per_row(py, len, |i| Ok(m.p_alive(x[i], tx[i], periods[i])))
        }

        /// Expected transactions in the next ``future`` opportunities.
        fn expected_purchases<'py>(
            &self,
            py: Python<'py>,
            future: f64,
            frequency: Column<'py>,
            recency: Column<'py>,
            n: Column<'py>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let (x, tx, periods, len) = three(&frequency, &recency, &n)?;
            let m = self.model;
            per_row(py, len, |i| Ok(m.expected_purchases(future, x[i], tx[i], periods[i])))
        }
    }
);

rft_model!(
    "GammaGamma",
    GammaGamma,
    PyGammaGamma,
    [p, q, gamma],
    "A Gamma-Gamma spend model (Fader, Hardie & Lee 2005).",
    {
        /// Fits to the repeat customers' frequency and mean spend (rows with
        /// frequency 0 are left out, as the model requires).
        #[staticmethod]
        #[pyo3(signature = (frequency, monetary_value, *, weights = None, penalizer = 0.0))]
        fn fit<'py>(
            py: Python<'py>,
            frequency: Column<'py>,
            monetary_value: Column<'py>,
            weights: Option<Column<'py>>,
            penalizer: f64,
        ) -> PyResult<(Self, Record)> {
            let (x, m) = (vec(&frequency), vec(&monetary_value));
            let w = weights.as_ref().map(vec);
            let (model, fit) =
                core(py.detach(|| GammaGamma::fit(&x, &m, w.as_deref(), &options(penalizer))))?;
            Ok((PyGammaGamma { model }, info(&fit)?))
        }

        /// Expected mean spend per purchase of each customer.
        fn expected_spend<'py>(
            &self,
            py: Python<'py>,
            frequency: Column<'py>,
            monetary_value: Column<'py>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let (x, m) = (vec(&frequency), vec(&monetary_value));
            let n = same_length(&[&x, &m])?;
            let model = self.model;
            per_row(py, n, |i| Ok(model.expected_spend(x[i], m[i])))
        }
    }
);

/// The CDNOW sample used by the CLV literature (2,357 customers, 6,919
/// purchases, 1997–1998) as columns: ``customer``, ``date`` (text),
/// ``amount``.
#[pyfunction]
pub(crate) fn load_cdnow(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    const CDNOW: &str = include_str!("../../../crm-core/tests/data/cdnow/CDNOW_sample.txt");
    let mut customer = Vec::new();
    let mut date = Vec::new();
    let mut amount = Vec::new();
    for (index, line) in CDNOW.lines().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let bad = || errors::internal(format!("CDNOW line {}: unexpected format", index + 1));
        customer.push(cells.get(1).and_then(|c| c.parse::<u64>().ok()).ok_or_else(bad)?);
        let day = cells
            .get(2)
            .and_then(|c| NaiveDate::parse_from_str(c, "%Y%m%d").ok())
            .ok_or_else(bad)?;
        date.push(day.to_string());
        amount.push(cells.get(4).and_then(|c| c.parse::<f64>().ok()).ok_or_else(bad)?);
    }
    let columns = PyDict::new(py);
    columns.set_item("customer", customer.into_pyarray(py))?;
    columns.set_item("date", date)?;
    columns.set_item("amount", amount.into_pyarray(py))?;
    Ok(columns)
}

/// Registers the analytics functions and classes.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(summarize, m)?)?;
    m.add_function(wrap_pyfunction!(rfm, m)?)?;
    m.add_function(wrap_pyfunction!(load_cdnow, m)?)?;
    m.add_class::<PyBgNbd>()?;
    m.add_class::<PyMbgNbd>()?;
    m.add_class::<PyParetoNbd>()?;
    m.add_class::<PyBgBb>()?;
    m.add_class::<PyGammaGamma>()?;
    Ok(())
}
