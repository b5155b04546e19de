//! `crm report`: pipeline, forecast, SLA and KPI tables in English or Chinese.

use chrono::{DateTime, NaiveDate, Utc};
use crm_core::{Crm, Currency, Heading, Lang, Money, Period, PeriodUnit};

use crate::show::{display_width, pad, pad_left, thousands, to_json};
use crate::{CliResult, Failure, ReportKind};

/// What every report is asked for.
pub(crate) struct Options {
    pub(crate) period: Period,
    pub(crate) currency: Option<Currency>,
    pub(crate) lang: Lang,
    pub(crate) pipeline: Option<String>,
    pub(crate) json: bool,
    pub(crate) now: DateTime<Utc>,
    /// Where to write an HTML page with charts, for the analytics reports.
    pub(crate) html: Option<std::path::PathBuf>,
}

impl Options {
    pub(crate) fn parse(
        crm: &Crm,
        period: Option<String>,
        currency: Option<String>,
        lang: &str,
        pipeline: Option<String>,
        as_of: Option<String>,
        json: bool,
    ) -> CliResult<Options> {
        let now = match as_of {
            None => crm.now(),
            Some(text) => {
                let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                    Failure::usage(format!("--as-of `{text}` is not a date (YYYY-MM-DD)"))
                })?;
                // The end of that day.
                day.succ_opt().unwrap_or(day).and_time(chrono::NaiveTime::MIN).and_utc()
                    - chrono::Duration::seconds(1)
            }
        };
        let period = match period {
            Some(text) => Period::parse(&text)?,
            None => Period::containing(now.date_naive(), PeriodUnit::Quarter)?,
        };
        let lang = match lang.to_ascii_lowercase().as_str() {
            "en" => Lang::En,
            "zh-cn" | "zh" => Lang::ZhCn,
            other => return Err(Failure::usage(format!("--lang `{other}`: use en or zh-CN"))),
        };
        let currency = currency.map(|c| Currency::new(&c)).transpose()?;
        Ok(Options { period, currency, lang, pipeline, json, now, html: None })
    }

    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn h(&self, heading: Heading) -> &'static str {
        heading.label(self.lang)
    }
}

pub(crate) fn run(crm: &Crm, report: ReportKind, options: &Options) -> CliResult {
    if options.html.is_some()
        && matches!(
            report,
            ReportKind::Pipeline | ReportKind::Forecast | ReportKind::Sla | ReportKind::Kpi
        )
    {
        return Err(Failure::usage(
            "--html is for the analytics reports: clv, rfm, profit, churn, key-accounts",
        ));
    }
    match report {
        ReportKind::Pipeline => pipeline(crm, options),
        ReportKind::Forecast => forecast(crm, options),
        ReportKind::Sla => sla(crm, options),
        ReportKind::Kpi => kpi(crm, options),
        ReportKind::Rfm => crate::analytics::report_rfm(crm, options),
        ReportKind::Clv => crate::analytics::report_clv(crm, options, 20),
        ReportKind::Profit => crate::analytics::report_profit(crm, options),
        ReportKind::Churn => crate::analytics::report_churn(crm, options),
        ReportKind::KeyAccounts => crate::analytics::report_key_accounts(crm, options),
    }
}

/// A money amount with thousands separators and no code.
fn amount(money: &Money) -> String {
    thousands(&money.amount_text())
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0))
}

fn one_decimal(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// Business minutes as `3h05` (hours of working time, not of the clock).
fn business_time(minutes: i64) -> String {
    format!("{}h{:02}", minutes / 60, minutes % 60)
}

/// Prints rows as a table: the first column left-aligned, the rest right.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(display_width(cell));
        }
    }
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { pad(c, widths[i]) } else { pad_left(c, widths[i]) })
            .collect();
        say!("  {}", text.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub(crate) fn pipeline(crm: &Crm, options: &Options) -> CliResult {
    let codes: Vec<String> = match &options.pipeline {
        Some(code) => vec![code.clone()],
        None => crm.read(|tx| tx.pipelines())?.into_iter().map(|p| p.code).collect(),
    };
    let mut reports = Vec::new();
    for code in codes {
        reports
            .extend(crm.read(|tx| tx.pipeline_report(&code, options.currency, options.today()))?);
    }
    if options.json {
        say!("{}", to_json(&reports)?);
        return Ok(());
    }
    if reports.is_empty() {
        say!("(no pipelines)");
    }
    for report in reports {
        say!(
            "{} {} ({}{}), {} {}, {} {}",
            options.h(Heading::PipelineTitle),
            report.pipeline,
            report.currency,
            if report.converted { format!(" @ {}", report.as_of) } else { String::new() },
            options.h(Heading::Won),
            report.won,
            options.h(Heading::Lost),
            report.lost,
        );
        let rows: Vec<Vec<String>> = report
            .rows
            .iter()
            .map(|row| {
                vec![
                    if options.lang == Lang::ZhCn {
                        row.name_zh.clone()
                    } else {
                        row.name_en.clone()
                    },
                    format!("{}%", row.probability),
                    row.open.to_string(),
                    amount(&row.amount),
                    amount(&row.weighted),
                    percent(row.conversion),
                    one_decimal(row.average_days),
                ]
            })
            .collect();
        table(
            &[
                options.h(Heading::Stage),
                options.h(Heading::Probability),
                options.h(Heading::Open),
                options.h(Heading::Amount),
                options.h(Heading::Weighted),
                options.h(Heading::Conversion),
                options.h(Heading::AverageDays),
            ],
            &rows,
        );
    }
    Ok(())
}

pub(crate) fn forecast(crm: &Crm, options: &Options) -> CliResult {
    let rows = crm.read(|tx| {
        tx.forecast(&options.period, PeriodUnit::Month, options.currency, options.today())
    })?;
    if options.json {
        say!("{}", to_json(&rows)?);
        return Ok(());
    }
    say!("{} {}", options.h(Heading::ForecastTitle), options.period);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                if row.owner_name.is_empty() {
                    options.h(Heading::Unowned).to_owned()
                } else {
                    row.owner_name.clone()
                },
                row.period.clone(),
                row.currency.to_string(),
                row.open.to_string(),
                amount(&row.pipeline),
                amount(&row.weighted),
                amount(&row.won),
            ]
        })
        .collect();
    table(
        &[
            options.h(Heading::Owner),
            options.h(Heading::Period),
            options.h(Heading::Currency),
            options.h(Heading::Open),
            options.h(Heading::Pipeline),
            options.h(Heading::Weighted),
            options.h(Heading::Won),
        ],
        &cells,
    );
    Ok(())
}

pub(crate) fn sla(crm: &Crm, options: &Options) -> CliResult {
    let (report, breaches) = crm.read(|tx| {
        Ok((tx.sla_report(&options.period, options.now)?, tx.cases_breaching(options.now)?))
    })?;
    if options.json {
        say!("{}", to_json(&serde_json::json!({ "report": report, "breaching": breaches }))?);
        return Ok(());
    }
    say!("{} {}", options.h(Heading::SlaTitle), options.period);
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|row| {
            vec![
                row.priority.label(options.lang).to_owned(),
                row.cases.to_string(),
                row.first_response_met.to_string(),
                row.first_response_breached.to_string(),
                row.resolution_met.to_string(),
                row.resolution_breached.to_string(),
                row.breaching_now.to_string(),
                one_decimal(row.average_first_response_minutes),
            ]
        })
        .collect();
    table(
        &[
            options.h(Heading::Priority),
            options.h(Heading::Cases),
            options.h(Heading::FirstResponseMet),
            options.h(Heading::FirstResponseBreached),
            options.h(Heading::ResolutionMet),
            options.h(Heading::ResolutionBreached),
            options.h(Heading::BreachingNow),
            options.h(Heading::AverageFirstResponse),
        ],
        &rows,
    );
    if !breaches.is_empty() {
        say!(
            "{} ({}, overdue in business hours):",
            options.h(Heading::BreachingNow),
            breaches.len()
        );
        for breach in breaches.iter().take(10) {
            let case = crm.read(|tx| tx.get_case(breach.case_id))?;
            say!(
                "  {}  {}  {}  +{}  {}",
                breach.case_id,
                pad(breach.priority.label(options.lang), 8),
                pad(breach.clock.label(options.lang), 14),
                pad(&business_time(breach.overdue_minutes), 8),
                case.subject
            );
        }
    }
    Ok(())
}

pub(crate) fn kpi(crm: &Crm, options: &Options) -> CliResult {
    let Some(currency) = options.currency else {
        return Err(Failure::usage("the kpi report needs --currency (e.g. --currency CNY)"));
    };
    let report = crm.read(|tx| tx.kpi_report(&options.period, currency, options.now))?;
    if options.json {
        say!("{}", to_json(&report)?);
        return Ok(());
    }
    say!("{} {} ({currency})", options.h(Heading::KpiTitle), options.period);
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|row| {
            vec![
                row.owner_name.clone(),
                row.interactions.values().sum::<u64>().to_string(),
                row.visits.to_string(),
                row.calls.to_string(),
                format!("{}/{}", row.tasks_on_time, row.tasks_due),
                one_decimal(row.average_first_response_minutes),
                amount(&row.revenue),
                amount(&row.margin),
                row.new_customers.to_string(),
                percent(row.win_rate),
                row.average_deal.as_ref().map_or_else(|| "-".to_owned(), amount),
                percent(row.forecast_accuracy),
            ]
        })
        .collect();
    table(
        &[
            options.h(Heading::Owner),
            options.h(Heading::Interactions),
            options.h(Heading::Visits),
            options.h(Heading::Calls),
            options.h(Heading::TasksOnTime),
            options.h(Heading::AverageFirstResponse),
            options.h(Heading::Revenue),
            options.h(Heading::Margin),
            options.h(Heading::NewCustomers),
            options.h(Heading::WinRate),
            options.h(Heading::AverageDeal),
            options.h(Heading::ForecastAccuracy),
        ],
        &rows,
    );
    Ok(())
}
