//! Report periods, report rows, and the catalogue of report headings.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

use crate::Error;
use crate::model::{Channel, Currency, Money, PartyId, Priority};

/// A half-open range of days `[start, end)` with a label such as `2026-Q3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// First day after the period.
    pub end: NaiveDate,
    /// Label: `2026`, `2026-Q3`, `2026-07`, or `START..END`.
    pub label: String,
}

/// How long a reporting period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeriodUnit {
    /// Calendar month.
    Month,
    /// Calendar quarter.
    #[default]
    Quarter,
    /// Calendar year.
    Year,
}

impl Period {
    /// Parses `2026`, `2026-Q3`, `2026-07`, or `2026-01-15..2026-02-15`
    /// (end exclusive).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `period`.
    pub fn parse(text: &str) -> crate::Result<Period> {
        let bad = || {
            Error::invalid(
                "period",
                format!("`{text}` is not a period (2026, 2026-Q3, 2026-07 or START..END)"),
            )
        };
        let text = text.trim();
        if let Some((start, end)) = text.split_once("..") {
            let day = |t: &str| NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").map_err(|_| bad());
            let (start, end) = (day(start)?, day(end)?);
            if end <= start {
                return Err(bad());
            }
            return Ok(Period { start, end, label: text.to_owned() });
        }
        let (year, rest) = match text.split_once('-') {
            Some((year, rest)) => (year, Some(rest)),
            None => (text, None),
        };
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(1900..=9999).contains(&year) {
            return Err(bad());
        }
        let anchor = |month: u32| NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad);
        match rest {
            None => Period::containing(anchor(1)?, PeriodUnit::Year),
            Some(q) if q.starts_with(['Q', 'q']) => match q[1..].parse::<u32>() {
                Ok(n @ 1..=4) => Period::containing(anchor(3 * n - 2)?, PeriodUnit::Quarter),
                _ => Err(bad()),
            },
            Some(m) => match m.parse::<u32>() {
                Ok(n @ 1..=12) if m.len() == 2 => Period::containing(anchor(n)?, PeriodUnit::Month),
                _ => Err(bad()),
            },
        }
    }

    /// The month, quarter or year a day falls in.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a date at the end of the calendar.
    pub fn containing(date: NaiveDate, unit: PeriodUnit) -> crate::Result<Period> {
        let year = date.year();
        let (start_month, months, label) = match unit {
            PeriodUnit::Month => (date.month(), 1, format!("{year}-{:02}", date.month())),
            PeriodUnit::Quarter => {
                let q = (date.month() - 1) / 3 + 1;
                (3 * q - 2, 3, format!("{year}-Q{q}"))
            }
            PeriodUnit::Year => (1, 12, format!("{year}")),
        };
        let bad = || Error::invalid("period", format!("no period around {date}"));
        let start = NaiveDate::from_ymd_opt(year, start_month, 1).ok_or_else(bad)?;
        let end = start.checked_add_months(chrono::Months::new(months)).ok_or_else(bad)?;
        Ok(Period { start, end, label })
    }

    /// The period's start as a UTC instant (midnight UTC).
    pub fn start_time(&self) -> DateTime<Utc> {
        self.start.and_time(NaiveTime::MIN).and_utc()
    }

    /// The period's end as a UTC instant (midnight UTC, exclusive).
    pub fn end_time(&self) -> DateTime<Utc> {
        self.end.and_time(NaiveTime::MIN).and_utc()
    }

    /// True when the day is in the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl std::str::FromStr for Period {
    type Err = Error;
    fn from_str(text: &str) -> crate::Result<Period> {
        Period::parse(text)
    }
}

/// One stage of the pipeline report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PipelineRow {
    /// Stage code.
    pub stage: String,
    /// Stage name in English.
    pub name_en: String,
    /// Stage name in Chinese.
    pub name_zh: String,
    /// Stage probability in percent.
    pub probability: u8,
    /// Open opportunities in the stage.
    pub open: u64,
    /// Their amount.
    pub amount: Money,
    /// Their weighted amount.
    pub weighted: Money,
    /// Opportunities that ever entered the stage.
    pub entered: u64,
    /// Of those, how many went on to a later stage or were won.
    pub advanced: u64,
    /// `advanced / entered` (`None` when none entered).
    pub conversion: Option<f64>,
    /// Mean days spent in the stage over completed stays.
    pub average_days: Option<f64>,
}

/// Open pipeline per stage, in one currency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PipelineReport {
    /// Pipeline code.
    pub pipeline: String,
    /// Currency of the amounts (the reporting currency when converting).
    pub currency: Currency,
    /// Whether amounts in other currencies were converted (at `as_of`).
    pub converted: bool,
    /// The day rates were taken for.
    pub as_of: NaiveDate,
    /// One row per stage, in pipeline order.
    pub rows: Vec<PipelineRow>,
    /// Won opportunities (ever).
    pub won: u64,
    /// Lost opportunities (ever).
    pub lost: u64,
}

/// Forecast for one owner, period and currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForecastRow {
    /// The salesperson (`None`: unowned).
    pub owner: Option<PartyId>,
    /// Their name.
    pub owner_name: String,
    /// Period of the expected close date.
    pub period: String,
    /// Currency.
    pub currency: Currency,
    /// Open opportunities.
    pub open: u64,
    /// Their amount.
    pub pipeline: Money,
    /// Their amount weighted by stage probability.
    pub weighted: Money,
    /// Amount won with a close date in the period.
    pub won: Money,
}

/// SLA performance for one priority.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlaRow {
    /// Priority.
    pub priority: Priority,
    /// Cases opened in the period with an SLA policy.
    pub cases: u64,
    /// First responses on time.
    pub first_response_met: u64,
    /// First responses late (or overdue and still missing).
    pub first_response_breached: u64,
    /// Resolutions on time.
    pub resolution_met: u64,
    /// Resolutions late (or overdue and still open).
    pub resolution_breached: u64,
    /// Cases still open and past a target now.
    pub breaching_now: u64,
    /// Mean business minutes to first response.
    pub average_first_response_minutes: Option<f64>,
    /// Mean business minutes to resolution.
    pub average_resolution_minutes: Option<f64>,
}

/// SLA performance of the cases opened in a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlaReport {
    /// The period.
    pub period: Period,
    /// When breaches were measured.
    pub now: DateTime<Utc>,
    /// One row per priority, most urgent first (priorities without cases
    /// left out).
    pub rows: Vec<SlaRow>,
}

/// Behaviour and results of one salesperson in a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KpiRow {
    /// The salesperson.
    pub owner: PartyId,
    /// Their name.
    pub owner_name: String,
    /// Interactions they handled, by channel.
    pub interactions: BTreeMap<Channel, u64>,
    /// Visits (channel `visit`).
    pub visits: u64,
    /// Calls (channels `phone` and `call-centre`).
    pub calls: u64,
    /// Their tasks due in the period.
    pub tasks_due: u64,
    /// Of those, done by the due time.
    pub tasks_on_time: u64,
    /// Cases assigned to them opened in the period.
    pub cases: u64,
    /// Mean business minutes to first response on those cases.
    pub average_first_response_minutes: Option<f64>,
    /// Net revenue of their orders placed in the period.
    pub revenue: Money,
    /// Margin of those orders.
    pub margin: Money,
    /// Parties they own whose first order was placed in the period.
    pub new_customers: u64,
    /// Opportunities won (closed in the period).
    pub won: u64,
    /// Opportunities lost (closed in the period).
    pub lost: u64,
    /// `won / (won + lost)`.
    pub win_rate: Option<f64>,
    /// Mean amount of the opportunities won.
    pub average_deal: Option<Money>,
    /// Weighted forecast at the start of the period for the opportunities
    /// expected to close in it (stage held at the start × amount).
    pub forecast: Money,
    /// Amount of those opportunities won by the end of the period.
    pub forecast_won: Money,
    /// `max(0, 1 − |won − forecast| / forecast)`: 1 when exactly the
    /// forecast was won, 0 when the miss is as large as the forecast or
    /// larger (`None` without a forecast).
    pub forecast_accuracy: Option<f64>,
}

/// Salesperson KPIs in one reporting currency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KpiReport {
    /// The period.
    pub period: Period,
    /// The reporting currency.
    pub currency: Currency,
    /// One row per salesperson with any activity, by name.
    pub rows: Vec<KpiRow>,
}

code_enum! {
    /// The headings of reports: one catalogue of zh-CN and English texts, so
    /// that no label is scattered through the code.
    pub enum Heading as "heading" {
        /// Pipeline report title.
        PipelineTitle = ("pipeline-title", "Pipeline", "销售漏斗"),
        /// Forecast report title.
        ForecastTitle = ("forecast-title", "Forecast", "销售预测"),
        /// SLA report title.
        SlaTitle = ("sla-title", "Service levels", "服务水平"),
        /// KPI report title.
        KpiTitle = ("kpi-title", "Salesperson KPIs", "销售人员绩效"),
        /// Stage.
        Stage = ("stage", "Stage", "阶段"),
        /// Probability.
        Probability = ("probability", "Prob.", "赢率"),
        /// Open count.
        Open = ("open", "Open", "进行中"),
        /// Amount.
        Amount = ("amount", "Amount", "金额"),
        /// Weighted amount.
        Weighted = ("weighted", "Weighted", "加权金额"),
        /// Conversion.
        Conversion = ("conversion", "Conversion", "转化率"),
        /// Days in stage.
        AverageDays = ("average-days", "Avg days", "平均天数"),
        /// Owner.
        Owner = ("owner", "Owner", "负责人"),
        /// Period.
        Period = ("period", "Period", "期间"),
        /// Currency.
        Currency = ("currency", "Currency", "币种"),
        /// Won.
        Won = ("won", "Won", "赢单"),
        /// Lost.
        Lost = ("lost", "Lost", "输单"),
        /// Priority.
        Priority = ("priority", "Priority", "优先级"),
        /// Cases.
        Cases = ("cases", "Cases", "工单数"),
        /// First response on time.
        FirstResponseMet = ("first-response-met", "1st resp. met", "首响达标"),
        /// First response breached.
        FirstResponseBreached = ("first-response-breached", "1st resp. late", "首响超时"),
        /// Resolution on time.
        ResolutionMet = ("resolution-met", "Resolved in time", "按时解决"),
        /// Resolution breached.
        ResolutionBreached = ("resolution-breached", "Resolution late", "解决超时"),
        /// Breaching now.
        BreachingNow = ("breaching-now", "Breaching now", "当前超时"),
        /// Mean first response.
        AverageFirstResponse = ("average-first-response", "Avg 1st resp. (min)", "平均首响(分钟)"),
        /// Interactions.
        Interactions = ("interactions", "Interactions", "互动"),
        /// Visits.
        Visits = ("visits", "Visits", "拜访"),
        /// Calls.
        Calls = ("calls", "Calls", "电话"),
        /// Tasks on time.
        TasksOnTime = ("tasks-on-time", "Tasks on time", "按时完成任务"),
        /// Revenue.
        Revenue = ("revenue", "Revenue", "收入"),
        /// Margin.
        Margin = ("margin", "Margin", "毛利"),
        /// New customers.
        NewCustomers = ("new-customers", "New cust.", "新客户"),
        /// Win rate.
        WinRate = ("win-rate", "Win rate", "赢单率"),
        /// Average deal.
        AverageDeal = ("average-deal", "Avg deal", "平均单额"),
        /// Forecast accuracy.
        ForecastAccuracy = ("forecast-accuracy", "Fcst acc.", "预测准确率"),
        /// Pipeline total.
        Pipeline = ("pipeline", "Pipeline", "漏斗金额"),
        /// Unowned.
        Unowned = ("unowned", "(unowned)", "(无负责人)"),
        /// Total.
        Total = ("total", "Total", "合计"),
    }
}

/// Why the customers who churned in a period left.
///
/// Each churned customer is put in one bucket, by the first rule that
/// applies: an explicit churn reason on a case decides (service quality,
/// slow response and billing → service; product quality → product; price
/// and competitor → commercial; others → other); else an SLA breach on any
/// of their cases → service; else a defect, return or repair case →
/// product; else an opportunity lost on price or to a competitor →
/// commercial; else unexplained. The counts beside the buckets show all
/// signals, not only the deciding one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChurnCauses {
    /// The period churn was recorded in.
    pub period: Period,
    /// Customers whose stage became churned in the period.
    pub churned: u64,
    /// Bucket: service failures.
    pub service: u64,
    /// Bucket: product problems.
    pub product: u64,
    /// Bucket: price or competition.
    pub commercial: u64,
    /// Bucket: other stated reasons.
    pub other: u64,
    /// Bucket: no signal in the data.
    pub unexplained: u64,
    /// Churn reasons recorded on their cases.
    pub churn_reasons: BTreeMap<String, u64>,
    /// Types of their cases.
    pub case_types: BTreeMap<String, u64>,
    /// Complaint categories of their cases.
    pub complaint_categories: BTreeMap<String, u64>,
    /// Reasons their opportunities were lost.
    pub lost_reasons: BTreeMap<String, u64>,
    /// Churned customers with at least one SLA breach.
    pub with_sla_breach: u64,
}

/// The outcome of assigning lifecycle stages from behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LifecycleAssignment {
    /// Parties looked at.
    pub parties: u64,
    /// Parties whose stage changed (each with a `party.stage_changed` event).
    pub changed: u64,
    /// Parties per stage after the assignment.
    pub by_stage: BTreeMap<String, u64>,
}

/// One key account's scorecard: the organisation together with its
/// subsidiaries (`subsidiary-of`) and its people (`employee-of`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyAccount {
    /// The organisation.
    pub party_id: PartyId,
    /// Its name.
    pub name: String,
    /// Subsidiaries and people counted with it.
    pub members: u64,
    /// Net revenue of all orders to date (reporting currency).
    pub value_to_date: Money,
    /// Margin of all orders to date.
    pub margin_to_date: Money,
    /// Revenue in the last 12 months.
    pub revenue_12m: Money,
    /// Revenue change of the last 12 months against the 12 before
    /// (`None` without revenue in the earlier year).
    pub growth: Option<f64>,
    /// Sum of the `clv` scores of the account and its members, if scored.
    pub clv: Option<f64>,
    /// Revenue of the last 12 months over the `wallet` custom field (the
    /// customer's total yearly spend in the category), when known.
    pub share_of_wallet: Option<f64>,
    /// Cases opened in the last 12 months.
    pub cases_12m: u64,
    /// Of those, cases that missed an SLA target.
    pub sla_breaches_12m: u64,
    /// People related to it by `employee-of` (relationship depth).
    pub contacts: u64,
    /// Interactions with the account and its members in the last 90 days.
    pub interactions_90d: u64,
    /// Risk from 0 to 1: the mean of decline (revenue fall, capped at
    /// 100 %), service failure (share of cases that breached an SLA) and
    /// dormancy (1 − the lowest `p_alive` score among them, 0 unscored).
    pub risk: f64,
    /// What leaving would cost: the CLV if scored, else a year of margin.
    pub loss_if_lost: f64,
}

/// The 7P profile of a customer — what the library holds about them,
/// summarised under seven headings:
///
/// - **Profiling**: who they are (kind, roles, lifecycle stage, tier).
/// - **Persistency**: how long and how surely they stay (tenure since the
///   first order, the `p_alive` score).
/// - **Profitability**: margin to date and the `clv` score.
/// - **Performance**: revenue of the last 12 months and its growth.
/// - **Prospecting**: open opportunities and their weighted amount.
/// - **Product**: how many product categories they buy and the main one.
/// - **Promotion**: whether they may be marketed to (any contact point
///   with marketing consent) and their interactions of the last 90 days.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SevenP {
    /// The party.
    pub party_id: PartyId,
    /// Profiling: person or organisation.
    pub kind: String,
    /// Profiling: roles held now.
    pub roles: Vec<String>,
    /// Profiling: lifecycle stage.
    pub stage: Option<String>,
    /// Profiling: the `tier` custom field.
    pub tier: Option<String>,
    /// Persistency: days since the first order.
    pub tenure_days: Option<i64>,
    /// Persistency: the `p_alive` score.
    pub p_alive: Option<f64>,
    /// Profitability: margin of all orders.
    pub margin_to_date: Money,
    /// Profitability: the `clv` score.
    pub clv: Option<f64>,
    /// Performance: revenue of the last 12 months.
    pub revenue_12m: Money,
    /// Performance: change against the 12 months before.
    pub growth: Option<f64>,
    /// Prospecting: open opportunities.
    pub open_opportunities: u64,
    /// Prospecting: their weighted amount.
    pub weighted_pipeline: Money,
    /// Product: distinct categories bought.
    pub categories: u64,
    /// Product: the category with the most revenue.
    pub main_category: Option<String>,
    /// Promotion: a contact point allows marketing.
    pub marketable: bool,
    /// Promotion: interactions in the last 90 days.
    pub interactions_90d: u64,
}
