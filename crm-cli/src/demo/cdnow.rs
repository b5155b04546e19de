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

pub(super) fn tour() -> CliResult {
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
        "11. CDNOW sample ({} customers, calibration to {calibration}): models fitted in {:.2} s",
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
    Ok(())
}
