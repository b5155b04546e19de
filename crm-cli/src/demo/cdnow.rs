//! The analytics part of the demo: the CDNOW sample (shipped in the
//! repository), the models fitted on it next to the published estimates,
//! the top customers by CLV, and the RFM segments.

use chrono::NaiveDate;
use crm_core::Lang;
use crm_core::analytics::{
    BgNbd, FitOptions, GammaGamma, ParetoNbd, RfmSegment, ScoreOptions, TimeUnit, Transactions,
    rfm, score, summarize,
};

use crate::CliResult;
use crate::show::pad;

/// The CDNOW purchase log: sample id, date, amount (whitespace-separated).
const CDNOW: &str = include_str!("../../../crm-core/tests/data/cdnow/CDNOW_sample.txt");

fn log() -> CliResult<Transactions> {
    let mut log = Transactions::default();
    for (index, line) in CDNOW.lines().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let bad = || crate::Failure::usage(format!("CDNOW line {}: unexpected format", index + 1));
        let customer = cells.get(1).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let day = cells
            .get(2)
            .and_then(|c| NaiveDate::parse_from_str(c, "%Y%m%d").ok())
            .ok_or_else(bad)?;
        let amount = cells.get(4).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        log.push(customer, day, amount);
    }
    Ok(log)
}

pub(super) fn tour(report: &std::path::Path) -> CliResult {
    let calibration = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap_or_default();
    let observation = NaiveDate::from_ymd_opt(1998, 6, 30).unwrap_or_default();
    let s = summarize(&log()?, TimeUnit::Week, calibration, Some(observation))?;
    let options = FitOptions::default();
    let started = std::time::Instant::now();
    let (bg, bg_info) = BgNbd::fit(&s.frequency, &s.recency, &s.t, None, &options)?;
    let (pareto, pareto_info) = ParetoNbd::fit(&s.frequency, &s.recency, &s.t, None, &options)?;
    let (gg, _) = GammaGamma::fit(&s.frequency, &s.monetary, None, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    say!(
        "15. CDNOW sample ({} customers, calibration to {calibration}): models fitted in {:.2} s",
        s.len(),
        seconds
    );
    say!("    model        parameter   fitted   published");
    let rows = [
        ("BG/NBD", "r", bg.r, "0.243"),
        ("", "α", bg.alpha, "4.414"),
        ("", "a", bg.a, "0.793"),
        ("", "b", bg.b, "2.426"),
        ("", "LL", bg_info.log_likelihood, "-9582.4"),
        ("Pareto/NBD", "r", pareto.r, "0.55"),
        ("", "α", pareto.alpha, "10.58"),
        ("", "s", pareto.s, "0.61"),
        ("", "β", pareto.beta, "11.67"),
        ("", "LL", pareto_info.log_likelihood, "-9595.0"),
        ("Gamma-Gamma", "p", gg.p, "6.25"),
        ("", "q", gg.q, "3.74"),
        ("", "γ", gg.gamma, "15.44"),
    ];
    for (model, name, value, published) in rows {
        let digits = published.split('.').nth(1).map_or(0, str::len);
        say!("    {} {:<9} {:>9.*}   {published:>9}", pad(model, 12), name, digits, value);
    }
    let scores = score(
        &bg,
        Some(&gg),
        (&s.frequency, &s.recency, &s.t, &s.monetary),
        &ScoreOptions::default(),
    )?;
    let predicted: f64 = (0..s.len())
        .map(|i| bg.expected_purchases(s.holdout_length, s.frequency[i], s.recency[i], s.t[i]))
        .sum::<crm_core::Result<f64>>()?;
    let actual: f64 = s.holdout_frequency.iter().sum();
    say!(
        "    holdout ({:.0} weeks): {predicted:.0} repeat purchases predicted, {actual:.0} made",
        s.holdout_length
    );
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|a, b| scores.clv[*b].total_cmp(&scores.clv[*a]));
    let top: Vec<String> = order
        .iter()
        .take(5)
        .map(|i| {
            format!(
                "#{} ${:.0} (P(alive) {:.0} %)",
                s.customer[*i],
                scores.clv[*i],
                scores.p_alive[*i] * 100.0
            )
        })
        .collect();
    say!("    top customers by 12-month CLV: {}", top.join(", "));
    let since_last: Vec<f64> = s.t.iter().zip(&s.recency).map(|(t, r)| t - r).collect();
    let purchases: Vec<f64> = s.frequency.iter().map(|f| f + 1.0).collect();
    let segments = rfm(&since_last, &purchases, &s.monetary)?;
    let sizes: Vec<String> = RfmSegment::ALL
        .iter()
        .filter_map(|segment| {
            let n = segments.iter().filter(|x| x.segment == *segment).count();
            (n > 0).then(|| format!("{} {n}", segment.label(Lang::En)))
        })
        .collect();
    say!("    RFM segments: {}", sizes.join(" · "));

    // The same as a page people can look at.
    let mut page = crate::html::Page::new("crm analytics — CDNOW sample");
    page.paragraph(&format!(
        "{} customers who first bought in Q1 1997; models fitted on the purchases up to {calibration}, checked on those up to {observation}.",
        s.len()
    ));
    page.heading("Fitted models against the published estimates");
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|(model, name, value, published)| {
            let digits = published.split('.').nth(1).map_or(0, str::len);
            vec![
                (*model).to_owned(),
                (*name).to_owned(),
                format!("{value:.digits$}"),
                (*published).to_owned(),
            ]
        })
        .collect();
    page.table(&["model", "parameter", "fitted", "published"], &table);
    page.heading("Tracking: cumulative repeat purchases by week");
    let origin = NaiveDate::from_ymd_opt(1997, 1, 1).unwrap_or_default();
    let (first, repeats) = crm_core::analytics::purchase_times(&log()?, TimeUnit::Week, origin);
    let track =
        crm_core::analytics::tracking(|t| bg.expected_purchases_new(t), &first, &repeats, 78)?;
    let actual_curve: Vec<(f64, f64)> =
        track.period.iter().copied().zip(track.actual.iter().copied()).collect();
    let model_curve: Vec<(f64, f64)> =
        track.period.iter().copied().zip(track.predicted.iter().copied()).collect();
    page.chart(&crate::html::lines(
        "Cumulative repeat purchases (calibration ends week 39)",
        "week since 1997-01-01",
        "repeat purchases",
        &[("actual", actual_curve), ("BG/NBD", model_curve)],
    )?);
    page.paragraph(&format!(
        "Holdout (weeks 40–78): {predicted:.0} repeat purchases predicted, {actual:.0} made."
    ));
    page.heading("Who is still a customer, and what they are worth");
    page.chart(&crate::html::histogram(
        "P(alive) at the end of the calibration period",
        "P(alive)",
        &scores.p_alive,
        20,
    )?);
    page.chart(&crate::html::histogram("12-month CLV (US$)", "CLV", &scores.clv, 30)?);
    let concentration = crm_core::analytics::concentration(&scores.clv)?;
    page.chart(&crate::html::lines(
        "Concentration of 12-month CLV",
        "share of customers (most valuable first)",
        "share of CLV",
        &[("CLV", concentration.curve.clone())],
    )?);
    page.paragraph(&format!(
        "{:.1} % of customers hold 80 % of the expected value.",
        concentration.share_for_80_percent * 100.0
    ));
    page.heading("RFM grid: recency score × mean of frequency and monetary scores");
    let mut counts = vec![vec![0u64; 5]; 5];
    for score in &segments {
        let fm = (u16::from(score.f) + u16::from(score.m)).div_ceil(2);
        counts[5 - usize::from(score.r)][usize::from(fm) - 1] += 1;
    }
    let rows_labels: Vec<String> = (1..=5).rev().map(|r| format!("R{r}")).collect();
    let column_labels: Vec<String> = (1..=5).map(|f| format!("FM{f}")).collect();
    page.chart(&crate::html::grid(
        "Customers per RFM cell",
        &rows_labels,
        &column_labels,
        &counts,
    )?);
    page.write(report)?;
    say!("    report with charts: {}", report.display());
    Ok(())
}
