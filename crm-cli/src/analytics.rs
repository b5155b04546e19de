//! `crm fit` and the analytics reports (`crm report rfm|clv`).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::ValueEnum;
use crm_core::analytics::{
    BgBb, BgNbd, FitInfo, FitOptions, GammaGamma, MbgNbd, ParetoNbd, RfmSegment, ScoreOptions,
    Summary, TimeUnit, Transactions, rfm, score, summarize,
};
use crm_core::{Crm, Currency, Lang};
use serde_json::{Value, json};

use crate::show::{pad, pad_left, thousands};
use crate::{CliResult, Failure};

/// The models `crm fit` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Model {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    BgNbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
    /// MBG/NBD (Batislam et al. 2007).
    MbgNbd,
    /// BG/BB for discrete opportunities (Fader, Hardie & Shang 2010).
    BgBb,
    /// Gamma-Gamma spend (Fader, Hardie & Lee 2005).
    GammaGamma,
}

impl Model {
    fn code(self) -> &'static str {
        match self {
            Model::BgNbd => "bg-nbd",
            Model::ParetoNbd => "pareto-nbd",
            Model::MbgNbd => "mbg-nbd",
            Model::BgBb => "bg-bb",
            Model::GammaGamma => "gamma-gamma",
        }
    }
}

/// Where `crm fit` reads from and how.
pub(crate) struct FitArgs {
    pub(crate) model: Model,
    pub(crate) transactions: Option<PathBuf>,
    pub(crate) summary: Option<PathBuf>,
    pub(crate) customer_col: String,
    pub(crate) date_col: String,
    pub(crate) amount_col: Option<String>,
    pub(crate) period: String,
    pub(crate) calibration_end: Option<String>,
    pub(crate) observation_end: Option<String>,
    pub(crate) penalizer: f64,
    pub(crate) currency: Option<String>,
    pub(crate) json: bool,
}

fn parse_day(text: &str, what: &str) -> CliResult<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .map_err(|_| {
            Failure::usage(format!("{what} `{text}` is not a date (YYYY-MM-DD or YYYYMMDD)"))
        })
}

fn unit(period: &str) -> CliResult<TimeUnit> {
    match period {
        "week" => Ok(TimeUnit::Week),
        "day" => Ok(TimeUnit::Day),
        other => Err(Failure::usage(format!("--period `{other}`: use week or day"))),
    }
}

/// Reads a transaction log from a CSV file with a header.
fn read_transactions(path: &Path, args: &FitArgs) -> CliResult<Transactions> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    let header =
        reader.headers().map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?.clone();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Failure::usage(format!(
                "{}: no column `{name}` (columns: {})",
                path.display(),
                header.iter().collect::<Vec<_>>().join(", ")
            ))
        })
    };
    let customer = column(&args.customer_col)?;
    let date = column(&args.date_col)?;
    let amount = args.amount_col.as_deref().map(column).transpose()?;
    let mut keys: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut log = Transactions::default();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record =
            record.map_err(|e| Failure::usage(format!("{} line {line}: {e}", path.display())))?;
        let key = record.get(customer).unwrap_or_default().to_owned();
        let next = keys.len() as u64;
        let id = *keys.entry(key).or_insert(next);
        let day = parse_day(
            record.get(date).unwrap_or_default(),
            &format!("line {line}, column {}", args.date_col),
        )?;
        let value = match amount {
            None => 0.0,
            Some(k) => {
                let text = record.get(k).unwrap_or_default();
                text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    Failure::usage(format!(
                        "line {line}, column {}: `{text}` is not a number",
                        args.amount_col.as_deref().unwrap_or("")
                    ))
                })?
            }
        };
        log.push(id, day, value);
    }
    Ok(log)
}

/// A summary file: `frequency`, `recency`, `T` (or `periods` for BG/BB),
/// optional `monetary` and `weights`.
struct SummaryFile {
    columns: std::collections::BTreeMap<String, Vec<f64>>,
}

impl SummaryFile {
    fn read(path: &Path) -> CliResult<SummaryFile> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut columns: std::collections::BTreeMap<String, Vec<f64>> =
            header.iter().map(|h| (h.clone(), Vec::new())).collect();
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
            for (name, cell) in header.iter().zip(record.iter()) {
                let value = cell.parse::<f64>().map_err(|_| {
                    Failure::usage(format!(
                        "{} line {}, column {name}: `{cell}` is not a number",
                        path.display(),
                        index + 2
                    ))
                })?;
                if let Some(column) = columns.get_mut(name) {
                    column.push(value);
                }
            }
        }
        Ok(SummaryFile { columns })
    }

    fn get(&self, name: &str) -> CliResult<&[f64]> {
        self.columns.get(name).map(Vec::as_slice).ok_or_else(|| {
            Failure::usage(format!(
                "the summary file has no column `{name}` (columns: {})",
                self.columns.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

fn info_json(info: &FitInfo) -> Value {
    json!({
        "log_likelihood": info.log_likelihood,
        "customers": info.customers,
        "converged": info.converged,
        "iterations": info.iterations,
        "gradient_norm": info.gradient_norm,
        "stopped": info.stopped,
    })
}

/// Fits a model and returns `(params as JSON, info)`.
fn fit_columns(
    model: Model,
    columns: &Columns<'_>,
    options: &FitOptions,
) -> CliResult<(Value, FitInfo)> {
    let Columns { x, tx, t, m, w } = *columns;
    Ok(match model {
        Model::BgNbd => {
            let (p, info) = BgNbd::fit(x, tx, t, w, options)?;
            (json!({ "r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b }), info)
        }
        Model::MbgNbd => {
            let (p, info) = MbgNbd::fit(x, tx, t, w, options)?;
            (json!({ "r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b }), info)
        }
        Model::ParetoNbd => {
            let (p, info) = ParetoNbd::fit(x, tx, t, w, options)?;
            (json!({ "r": p.r, "alpha": p.alpha, "s": p.s, "beta": p.beta }), info)
        }
        Model::BgBb => {
            let (p, info) = BgBb::fit(x, tx, t, w, options)?;
            (json!({ "alpha": p.alpha, "beta": p.beta, "gamma": p.gamma, "delta": p.delta }), info)
        }
        Model::GammaGamma => {
            let m = m.ok_or_else(|| {
                Failure::usage(
                    "the spend model needs amounts (--amount-col, or a `monetary` column)",
                )
            })?;
            let (p, info) = GammaGamma::fit(x, m, w, options)?;
            (json!({ "p": p.p, "q": p.q, "gamma": p.gamma }), info)
        }
    })
}

#[derive(Clone, Copy)]
struct Columns<'c> {
    x: &'c [f64],
    tx: &'c [f64],
    t: &'c [f64],
    m: Option<&'c [f64]>,
    w: Option<&'c [f64]>,
}

pub(crate) fn fit(db: Option<&Path>, args: &FitArgs) -> CliResult {
    let options = FitOptions::default().penalizer(args.penalizer);
    let unit = unit(&args.period)?;
    let summary: Summary;
    let file: SummaryFile;
    let columns = if let Some(path) = &args.summary {
        file = SummaryFile::read(path)?;
        let t = if args.model == Model::BgBb { file.get("periods")? } else { file.get("T")? };
        Columns {
            x: file.get("frequency")?,
            tx: file.get("recency")?,
            t,
            m: file.get("monetary").ok(),
            w: file.get("weights").ok(),
        }
    } else {
        let log = match (&args.transactions, db) {
            (Some(path), _) => read_transactions(path, args)?,
            (None, Some(db)) => {
                let currency = Currency::new(args.currency.as_deref().unwrap_or("CNY"))?;
                let crm = crate::open_existing(db)?;
                crm.read(|tx| tx.purchase_log(currency))?.1
            }
            (None, None) => {
                return Err(Failure::usage(
                    "give --transactions FILE, --summary FILE, or --db PATH to fit on its orders",
                ));
            }
        };
        let last = log.day.iter().max().copied();
        let calibration_end = match &args.calibration_end {
            Some(text) => parse_day(text, "--calibration-end")?,
            None => last.ok_or_else(|| Failure::usage("no transactions"))?,
        };
        let observation_end = args
            .observation_end
            .as_deref()
            .map(|t| parse_day(t, "--observation-end"))
            .transpose()?;
        summary = summarize(&log, unit, calibration_end, observation_end)?;
        if args.model == Model::BgBb {
            return Err(Failure::usage(
                "BG/BB is fitted on discrete opportunities: give --summary FILE with frequency, recency, periods",
            ));
        }
        Columns {
            x: &summary.frequency,
            tx: &summary.recency,
            t: &summary.t,
            m: Some(&summary.monetary),
            w: None,
        }
    };
    let (params, info) = fit_columns(args.model, &columns, &options)?;
    let mut out = json!({ "model": args.model.code(), "params": params });
    if let (Some(object), Value::Object(extra)) = (out.as_object_mut(), info_json(&info)) {
        object.extend(extra);
    }
    if args.json {
        say!("{out}");
        return Ok(());
    }
    say!(
        "{} on {} customers: log-likelihood {:.4}, {}",
        args.model.code(),
        info.customers,
        info.log_likelihood,
        if info.converged { "converged" } else { "NOT converged (the last iterate is shown)" }
    );
    if let Some(params) = out["params"].as_object() {
        for (name, value) in params {
            say!("  {name:<6} {:.6}", value.as_f64().unwrap_or(f64::NAN));
        }
    }
    if !info.converged {
        return Err(Failure::usage(format!(
            "the fit did not converge (gradient {:.2e}, {})",
            info.gradient_norm, info.stopped
        )));
    }
    Ok(())
}

/// `crm report rfm`: segment sizes (and the scores as JSON).
pub(crate) fn report_rfm(crm: &Crm, options: &crate::report::Options) -> CliResult {
    let (currency, lang, json_out) =
        (options.currency.unwrap_or(Currency::CNY), options.lang, options.json);
    let now = crm.now().date_naive();
    let (parties, summary) =
        crm.read(|tx| tx.customer_summary(currency, TimeUnit::Day, now, None))?;
    let since_last: Vec<f64> = summary.t.iter().zip(&summary.recency).map(|(t, r)| t - r).collect();
    let purchases: Vec<f64> = summary.frequency.iter().map(|f| f + 1.0).collect();
    let scores = rfm(&since_last, &purchases, &summary.monetary)?;
    if json_out {
        let rows: Vec<Value> = parties
            .iter()
            .zip(&scores)
            .map(|(p, s)| json!({ "party_id": p, "r": s.r, "f": s.f, "m": s.m, "segment": s.segment }))
            .collect();
        say!("{}", Value::Array(rows));
        return Ok(());
    }
    if let Some(path) = &options.html {
        let mut counts = vec![vec![0u64; 5]; 5];
        for score in &scores {
            let fm = (u16::from(score.f) + u16::from(score.m)).div_ceil(2);
            counts[5 - usize::from(score.r)][usize::from(fm) - 1] += 1;
        }
        let rows: Vec<String> = (1..=5).rev().map(|r| format!("R{r}")).collect();
        let columns: Vec<String> = (1..=5).map(|f| format!("FM{f}")).collect();
        let mut page = crate::html::Page::new("RFM");
        page.paragraph(&format!("{} customers with orders, in {currency}.", scores.len()));
        page.chart(&crate::html::grid("Customers per RFM cell", &rows, &columns, &counts)?);
        let labels: Vec<String> =
            RfmSegment::ALL.iter().map(|s| s.label(lang).to_owned()).collect();
        let sizes: Vec<f64> = RfmSegment::ALL
            .iter()
            .map(|s| scores.iter().filter(|x| x.segment == *s).count() as f64)
            .collect();
        page.chart(&crate::html::bars("Customers per segment", &labels, &sizes)?);
        page.write(path)?;
    }
    say!("RFM ({} customers with orders, {currency})", scores.len());
    for segment in RfmSegment::ALL {
        let n = scores.iter().filter(|s| s.segment == *segment).count();
        if n > 0 {
            say!(
                "  {} {:>6}  {:>5.1} %",
                pad(segment.label(lang), 22),
                n,
                100.0 * n as f64 / scores.len() as f64
            );
        }
    }
    Ok(())
}

/// BG/NBD and Gamma-Gamma fitted on the database's orders, and every
/// customer scored.
struct Scored {
    parties: Vec<crm_core::PartyId>,
    model: BgNbd,
    info: FitInfo,
    spend: Option<(GammaGamma, FitInfo)>,
    scores: crm_core::analytics::Scores,
}

fn fit_and_score(crm: &Crm, currency: Currency) -> CliResult<Scored> {
    let now = crm.now().date_naive();
    let (parties, s) = crm.read(|tx| tx.customer_summary(currency, TimeUnit::Week, now, None))?;
    let options = FitOptions::default();
    let (model, info) = BgNbd::fit(&s.frequency, &s.recency, &s.t, None, &options)?;
    let spend = GammaGamma::fit(&s.frequency, &s.monetary, None, &options).ok();
    let scores = score(
        &model,
        spend.as_ref().map(|(g, _)| g),
        (&s.frequency, &s.recency, &s.t, &s.monetary),
        &ScoreOptions::default(),
    )?;
    Ok(Scored { parties, model, info, spend, scores })
}

/// `crm report clv`: BG/NBD + Gamma-Gamma on the database's orders, top
/// customers by CLV over 12 months.
pub(crate) fn report_clv(crm: &Crm, report: &crate::report::Options, top: usize) -> CliResult {
    let (currency, json_out) = (report.currency.unwrap_or(Currency::CNY), report.json);
    let Scored { parties, model, info, spend, scores } = fit_and_score(crm, currency)?;
    let mut order: Vec<usize> = (0..parties.len()).collect();
    order.sort_by(|a, b| scores.clv[*b].total_cmp(&scores.clv[*a]));
    if let Some(path) = &report.html {
        let mut page = crate::html::Page::new("Customer lifetime value");
        page.paragraph(&format!(
            "BG/NBD r = {:.3}, α = {:.3}, a = {:.3}, b = {:.3} on {} customers' orders, in {currency}; CLV over 12 months at 1 % a month.",
            model.r, model.alpha, model.a, model.b, parties.len()
        ));
        page.chart(&crate::html::histogram("P(alive)", "P(alive)", &scores.p_alive, 20)?);
        page.chart(&crate::html::histogram("12-month CLV", "CLV", &scores.clv, 30)?);
        if let Ok(c) = crm_core::analytics::concentration(&scores.clv) {
            page.chart(&crate::html::lines(
                "Concentration of CLV",
                "share of customers",
                "share of CLV",
                &[("CLV", c.curve)],
            )?);
        }
        page.write(path)?;
    }
    if json_out {
        let rows: Vec<Value> = order
            .iter()
            .take(top)
            .map(|i| json!({ "party_id": parties[*i], "p_alive": scores.p_alive[*i], "expected_purchases": scores.expected_purchases[*i], "expected_spend": scores.expected_spend[*i], "clv": scores.clv[*i] }))
            .collect();
        say!(
            "{}",
            json!({ "model": { "r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b }, "log_likelihood": info.log_likelihood, "top": rows })
        );
        return Ok(());
    }
    if !info.converged {
        say!(
            "warning: the BG/NBD fit did not converge ({}); treat the figures with care",
            info.stopped
        );
    }
    say!(
        "CLV over 12 months in {currency} (BG/NBD r={:.3} α={:.3} a={:.3} b={:.3}{})",
        model.r,
        model.alpha,
        model.a,
        model.b,
        spend.as_ref().map_or(String::new(), |(g, _)| format!(
            "; Gamma-Gamma p={:.2} q={:.2} γ={:.2}",
            g.p, g.q, g.gamma
        ))
    );
    for i in order.iter().take(top) {
        let name = crm.read(|tx| Ok(tx.get_party(parties[*i])?.name))?;
        say!(
            "  {} P(alive) {:>5.1} %  next 39 wk {:>5.2}  CLV {}",
            pad(&name, 24),
            scores.p_alive[*i] * 100.0,
            scores.expected_purchases[*i],
            pad_left(&thousands(&format!("{:.2}", scores.clv[*i])), 12)
        );
    }
    Ok(())
}

/// `crm report profit`: concentration of margin over customers, and what a
/// 5 % cut in churn is worth.
pub(crate) fn report_profit(crm: &Crm, options: &crate::report::Options) -> CliResult {
    let (period, currency, json_out) =
        (&options.period, options.currency.unwrap_or(Currency::CNY), options.json);
    let margins: Vec<f64> = crm
        .read(|tx| tx.profit_by_party(Some(period), Some(currency)))?
        .iter()
        .map(|p| p.profit.margin().minor() as f64 / currency.minor_per_major() as f64)
        .collect();
    let concentration = crm_core::analytics::concentration(&margins)?;
    let now = crm.now().date_naive();
    let uplift = crm
        .read(|tx| tx.customer_summary(currency, TimeUnit::Week, now, None))
        .ok()
        .and_then(|(_, s)| {
            let options = FitOptions::default();
            let (model, _) = BgNbd::fit(&s.frequency, &s.recency, &s.t, None, &options).ok()?;
            let spend =
                GammaGamma::fit(&s.frequency, &s.monetary, None, &options).ok().map(|(g, _)| g);
            crm_core::analytics::retention_uplift(
                &model,
                spend.as_ref(),
                (&s.frequency, &s.recency, &s.t, &s.monetary),
                &ScoreOptions::default(),
                0.05,
            )
            .ok()
        });
    if let Some(path) = &options.html {
        let mut page = crate::html::Page::new(&format!("Profitability {period}"));
        page.paragraph(&format!(
            "{} customers, margin {:.2} {currency}; {:.1} % of customers make 80 % of it; {:.1} % lose money.",
            concentration.customers,
            concentration.total,
            concentration.share_for_80_percent * 100.0,
            concentration.unprofitable_share * 100.0
        ));
        page.chart(&crate::html::lines(
            "Cumulative share of margin",
            "share of customers (most profitable first)",
            "share of margin",
            &[("margin", concentration.curve.clone())],
        )?);
        page.write(path)?;
    }
    if json_out {
        say!(
            "{}",
            json!({ "period": period.label, "currency": currency, "concentration": concentration, "retention_uplift_5pct": uplift })
        );
        return Ok(());
    }
    say!(
        "Profitability {} ({currency}): {} customers, margin {}",
        period,
        concentration.customers,
        thousands(&format!("{:.2}", concentration.total))
    );
    say!(
        "  {:.1} % of customers make 80 % of the margin",
        concentration.share_for_80_percent * 100.0
    );
    say!(
        "  {:.1} % of customers lose money ({} in all)",
        concentration.unprofitable_share * 100.0,
        thousands(&format!("{:.2}", concentration.unprofitable_total))
    );
    if let Some(u) = uplift {
        say!(
            "  a 5 % cut in churn adds {} of 12-month CLV ({:+.1} %)",
            thousands(&format!("{:.2}", u.uplift)),
            u.uplift_share * 100.0
        );
    }
    Ok(())
}

/// `crm report churn`: why the customers who churned in the period left.
pub(crate) fn report_churn(crm: &Crm, options: &crate::report::Options) -> CliResult {
    let (period, lang, json_out) = (&options.period, options.lang, options.json);
    let causes = crm.read(|tx| tx.churn_causes(period, tx.now()))?;
    if let Some(path) = &options.html {
        let mut page = crate::html::Page::new(&format!("Churn causes {period}"));
        page.paragraph(&format!("{} customers churned in {period}.", causes.churned));
        let labels: Vec<String> = ["service", "product", "commercial", "other", "unexplained"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let values =
            [causes.service, causes.product, causes.commercial, causes.other, causes.unexplained]
                .map(|n| n as f64);
        page.chart(&crate::html::bars("Churned customers by cause", &labels, &values)?);
        page.write(path)?;
    }
    if json_out {
        say!(
            "{}",
            serde_json::to_string_pretty(&causes).map_err(|e| Failure::usage(e.to_string()))?
        );
        return Ok(());
    }
    say!("Churn causes {period}: {} customers churned", causes.churned);
    let share =
        |n: u64| if causes.churned == 0 { 0.0 } else { 100.0 * n as f64 / causes.churned as f64 };
    for (label, n) in [
        ("service", causes.service),
        ("product", causes.product),
        ("commercial (price, competition)", causes.commercial),
        ("other stated reasons", causes.other),
        ("unexplained", causes.unexplained),
    ] {
        say!("  {} {n:>6}  {:>5.1} %", pad(label, 32), share(n));
    }
    say!(
        "  with an SLA breach: {} ({:.1} %)",
        causes.with_sla_breach,
        share(causes.with_sla_breach)
    );
    let named: Vec<String> = causes
        .churn_reasons
        .iter()
        .map(|(code, n)| {
            let label = crm_core::ChurnReason::from_code(code)
                .map_or(code.clone(), |r| r.label(lang).to_owned());
            format!("{label} {n}")
        })
        .collect();
    if !named.is_empty() {
        say!("  churn reasons on cases: {}", named.join(" · "));
    }
    Ok(())
}

/// `crm lifecycle`: assign stages from behaviour.
pub(crate) fn assign_stages(crm: &Crm, currency: Currency, today: NaiveDate) -> CliResult {
    let rules = crm_core::analytics::LifecycleRules::default();
    let outcome = crm.write(|tx| tx.assign_lifecycle_stages(today, &rules, currency))?;
    say!("{} parties looked at, {} stages changed", outcome.parties, outcome.changed);
    for (stage, n) in &outcome.by_stage {
        let label = crm_core::LifecycleStage::from_code(stage)
            .map_or(stage.clone(), |s| s.label(Lang::En).to_owned());
        say!("  {} {n}", pad(&label, 12));
    }
    Ok(())
}

/// `crm report key-accounts`: the scorecard of the most valuable accounts.
pub(crate) fn report_key_accounts(crm: &Crm, options: &crate::report::Options) -> CliResult {
    let currency = options.currency.unwrap_or(Currency::CNY);
    let today = options.now.date_naive();
    let accounts = crm.read(|tx| tx.key_accounts(None, currency, today))?;
    if options.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&accounts).map_err(|e| Failure::usage(e.to_string()))?
        );
        return Ok(());
    }
    say!("Key accounts ({currency}, as of {today}), most valuable first");
    say!(
        "  {} {:>14} {:>8} {:>12} {:>6} {:>6} {:>6} {:>5}  {:>14}",
        pad("account", 24),
        "value",
        "growth",
        "CLV",
        "cases",
        "late",
        "people",
        "risk",
        "loss if lost"
    );
    for a in accounts.iter().take(20) {
        say!(
            "  {} {:>14} {:>8} {:>12} {:>6} {:>6} {:>6} {:>5.2}  {:>14}",
            pad(&a.name, 24),
            thousands(&a.value_to_date.amount_text()),
            a.growth.map_or_else(|| "-".to_owned(), |g| format!("{:+.0}%", g * 100.0)),
            a.clv.map_or_else(|| "-".to_owned(), |c| thousands(&format!("{c:.0}"))),
            a.cases_12m,
            a.sla_breaches_12m,
            a.contacts,
            a.risk,
            thousands(&format!("{:.0}", a.loss_if_lost))
        );
    }
    if let Some(path) = &options.html {
        let mut page = crate::html::Page::new("Key accounts");
        let rows: Vec<Vec<String>> = accounts
            .iter()
            .take(50)
            .map(|a| {
                vec![
                    a.name.clone(),
                    thousands(&a.value_to_date.amount_text()),
                    thousands(&a.margin_to_date.amount_text()),
                    a.growth.map_or_else(|| "-".to_owned(), |g| format!("{:+.0}%", g * 100.0)),
                    a.cases_12m.to_string(),
                    a.sla_breaches_12m.to_string(),
                    a.contacts.to_string(),
                    format!("{:.2}", a.risk),
                    thousands(&format!("{:.0}", a.loss_if_lost)),
                ]
            })
            .collect();
        page.table(
            &[
                "account",
                "value",
                "margin",
                "growth",
                "cases",
                "late",
                "people",
                "risk",
                "loss if lost",
            ],
            &rows,
        );
        let labels: Vec<String> = accounts.iter().take(10).map(|a| a.name.clone()).collect();
        let values: Vec<f64> = accounts.iter().take(10).map(|a| a.loss_if_lost).collect();
        page.chart(&crate::html::bars(
            "Loss if the account leaves (top 10 by value)",
            &labels,
            &values,
        )?);
        page.write(path)?;
    }
    Ok(())
}

/// `crm score`: fit BG/NBD and Gamma-Gamma on the orders and store every
/// customer's `clv`, `p_alive` and `expected_purchases` scores (with
/// history), as a scoring run would.
pub(crate) fn store_scores(crm: &Crm, currency: Currency) -> CliResult {
    let Scored { parties, info, scores, .. } = fit_and_score(crm, currency)?;
    let column = |values: &[f64]| -> Vec<(crm_core::PartyId, f64)> {
        parties.iter().copied().zip(values.iter().copied()).collect()
    };
    let n = crm.write(|tx| {
        tx.set_scores("clv", &column(&scores.clv))?;
        tx.set_scores("p_alive", &column(&scores.p_alive))?;
        tx.set_scores("expected_purchases", &column(&scores.expected_purchases))
    })?;
    say!(
        "scored {n} customers: clv, p_alive, expected_purchases ({currency}, BG/NBD {})",
        if info.converged { "converged" } else { "did not converge — treat with care" }
    );
    Ok(())
}
