//! Working calendars: business hours in a time zone, holidays and adjusted
//! working days, and the arithmetic SLAs are measured in.
//!
//! Holidays and China's adjusted working weekends (调休) are data: a
//! calendar's exceptions, not rules in code.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::Error;

/// Calendars must have some working time within this many days of any
/// moment, or SLA arithmetic gives up with an error instead of looping.
const MAX_SEARCH_DAYS: i64 = 3 * 366;

/// A span of working time within one local day, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkingHours {
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time (after `start`).
    pub end: NaiveTime,
}

impl WorkingHours {
    /// Working time from `start` to `end` local time.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `hours` when `end` is not after `start`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> crate::Result<WorkingHours> {
        if end <= start {
            return Err(Error::invalid("hours", format!("{end} is not after {start}")));
        }
        Ok(WorkingHours { start, end })
    }

    /// Parses `09:00-12:00`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `hours`.
    pub fn parse(text: &str) -> crate::Result<WorkingHours> {
        let bad = || Error::invalid("hours", format!("`{text}` is not `HH:MM-HH:MM`"));
        let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        WorkingHours::new(time(start)?, time(end)?)
    }
}

/// What a dated exception makes of a day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "hours", rename_all = "snake_case")]
pub enum DayRule {
    /// No working time (a public holiday).
    Holiday,
    /// Working with these hours (an adjusted working weekend day).
    Working(Vec<WorkingHours>),
}

/// A working calendar: weekly hours in a time zone plus dated exceptions.
///
/// # Examples
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use crm_core::WorkingCalendar;
/// // Mon–Fri 09:00–12:00 and 13:00–18:00 in Beijing; 2026-10-01 is a
/// // holiday, Sunday 2026-09-27 an adjusted working day.
/// let calendar = WorkingCalendar::new("cn", "Asia/Shanghai")?
///     .with_weekdays(&["09:00-12:00", "13:00-18:00"])?
///     .with_holiday(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
///     .with_working_day(NaiveDate::from_ymd_opt(2026, 9, 27).unwrap());
/// // Friday 17:00 Beijing (09:00 UTC) + 2 business hours → Monday 10:00.
/// let due = calendar.add_business_minutes(Utc.with_ymd_and_hms(2026, 9, 11, 9, 0, 0).unwrap(), 120)?;
/// assert_eq!(due, Utc.with_ymd_and_hms(2026, 9, 14, 2, 0, 0).unwrap());
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkingCalendar {
    /// Stable code, e.g. `cn-standard`.
    pub code: String,
    /// IANA time zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    #[serde(skip)]
    tz: Tz,
    /// Working hours per weekday, Monday first.
    pub week: [Vec<WorkingHours>; 7],
    /// Dated exceptions: holidays and adjusted working days.
    pub exceptions: BTreeMap<NaiveDate, DayRule>,
}

impl WorkingCalendar {
    /// A calendar with no working hours yet.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `time_zone` for an unknown IANA name,
    /// and on `code` when it is empty.
    pub fn new(code: impl Into<String>, time_zone: &str) -> crate::Result<WorkingCalendar> {
        let code = code.into();
        if code.trim().is_empty() {
            return Err(Error::invalid("code", "a calendar needs a code"));
        }
        let tz: Tz = time_zone.trim().parse().map_err(|_| {
            Error::invalid(
                "time_zone",
                format!("`{time_zone}` is not an IANA time zone (e.g. Asia/Shanghai)"),
            )
        })?;
        Ok(WorkingCalendar {
            code,
            time_zone: tz.name().to_owned(),
            tz,
            week: Default::default(),
            exceptions: BTreeMap::new(),
        })
    }

    /// Sets the hours of one weekday.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `hours` for malformed or overlapping
    /// spans.
    pub fn with_hours(mut self, day: Weekday, hours: &[&str]) -> crate::Result<WorkingCalendar> {
        self.week[day.num_days_from_monday() as usize] = parse_spans(hours)?;
        Ok(self)
    }

    /// Sets the same hours Monday to Friday.
    ///
    /// # Errors
    ///
    /// As [`WorkingCalendar::with_hours`].
    pub fn with_weekdays(mut self, hours: &[&str]) -> crate::Result<WorkingCalendar> {
        let spans = parse_spans(hours)?;
        for day in 0..5 {
            self.week[day] = spans.clone();
        }
        Ok(self)
    }

    /// Marks a date as a holiday.
    pub fn with_holiday(mut self, date: NaiveDate) -> WorkingCalendar {
        self.exceptions.insert(date, DayRule::Holiday);
        self
    }

    /// Marks a date (typically a weekend day) as a working day with
    /// Monday's hours.
    pub fn with_working_day(mut self, date: NaiveDate) -> WorkingCalendar {
        let hours = self.week[0].clone();
        self.exceptions.insert(date, DayRule::Working(hours));
        self
    }

    /// Sets a dated exception.
    pub fn with_exception(mut self, date: NaiveDate, rule: DayRule) -> WorkingCalendar {
        self.exceptions.insert(date, rule);
        self
    }

    /// Checks that the calendar has working time in a normal week.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `hours`.
    pub fn validate(&self) -> crate::Result<()> {
        if self.week.iter().all(Vec::is_empty) {
            return Err(Error::invalid(
                "hours",
                format!("calendar `{}` has no working hours in its week", self.code),
            ));
        }
        for rule in self.exceptions.values() {
            if let DayRule::Working(spans) = rule {
                check_spans(spans)?;
            }
        }
        Ok(())
    }

    /// The working spans of a local date, in UTC, in order.
    fn spans_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let hours = match self.exceptions.get(&date) {
            Some(DayRule::Holiday) => return Vec::new(),
            Some(DayRule::Working(hours)) => hours,
            None => &self.week[date.weekday().num_days_from_monday() as usize],
        };
        hours
            .iter()
            .filter_map(|span| {
                let start = self.local_to_utc(date.and_time(span.start))?;
                let end = self.local_to_utc(date.and_time(span.end))?;
                (end > start).then_some((start, end))
            })
            .collect()
    }

    /// A local time in UTC; a time skipped by a daylight-saving change
    /// moves to the end of the gap.
    fn local_to_utc(&self, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut probe = local;
        for _ in 0..8 {
            if let Some(t) = self.tz.from_local_datetime(&probe).earliest() {
                return Some(t.with_timezone(&Utc));
            }
            probe += Duration::minutes(15);
        }
        None
    }

    fn local_date(&self, time: DateTime<Utc>) -> NaiveDate {
        time.with_timezone(&self.tz).date_naive()
    }

    /// Working time between two instants, in whole seconds (negative when
    /// `to` is before `from`).
    pub fn business_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to < from {
            return -self.business_seconds(to, from);
        }
        let mut total = 0;
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        while date <= last {
            for (start, end) in self.spans_on(date) {
                let start = start.max(from);
                let end = end.min(to);
                if end > start {
                    total += (end - start).num_seconds();
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        total
    }

    /// Working time between two instants, in whole minutes (rounded down).
    pub fn business_minutes(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        let seconds = self.business_seconds(from, to);
        seconds.div_euclid(60)
    }

    /// The instant `minutes` of working time after `from`. With zero
    /// minutes, `from` itself when it is working time, else the next start
    /// of working time.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on the field `calendar` when the calendar has no
    /// working time in the three years after `from`, or `minutes` is
    /// negative.
    pub fn add_business_minutes(
        &self,
        from: DateTime<Utc>,
        minutes: i64,
    ) -> crate::Result<DateTime<Utc>> {
        if minutes < 0 {
            return Err(Error::invalid("minutes", "cannot add negative business time"));
        }
        let mut remaining = Duration::minutes(minutes);
        let mut date = self.local_date(from);
        for _ in 0..MAX_SEARCH_DAYS {
            for (start, end) in self.spans_on(date) {
                if end <= from {
                    continue;
                }
                let start = start.max(from);
                let available = end - start;
                if remaining <= available {
                    return Ok(start + remaining);
                }
                remaining -= available;
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        Err(Error::invalid(
            "calendar",
            format!("calendar `{}` has no working time in the three years after {from}", self.code),
        ))
    }

    /// True when `time` falls within working hours.
    pub fn is_working(&self, time: DateTime<Utc>) -> bool {
        self.spans_on(self.local_date(time)).iter().any(|(s, e)| *s <= time && time < *e)
    }
}

fn parse_spans(hours: &[&str]) -> crate::Result<Vec<WorkingHours>> {
    let mut spans =
        hours.iter().map(|h| WorkingHours::parse(h)).collect::<crate::Result<Vec<_>>>()?;
    spans.sort_by_key(|s| s.start);
    check_spans(&spans)?;
    Ok(spans)
}

fn check_spans(spans: &[WorkingHours]) -> crate::Result<()> {
    for pair in spans.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(Error::invalid(
                "hours",
                format!(
                    "{}-{} overlaps {}-{}",
                    pair[0].start.format("%H:%M"),
                    pair[0].end.format("%H:%M"),
                    pair[1].start.format("%H:%M"),
                    pair[1].end.format("%H:%M")
                ),
            ));
        }
    }
    Ok(())
}

/// Rebuilds a calendar from its stored parts.
pub(crate) fn calendar_from_parts(
    code: String,
    time_zone: &str,
    week: [Vec<WorkingHours>; 7],
    exceptions: BTreeMap<NaiveDate, DayRule>,
) -> crate::Result<WorkingCalendar> {
    let mut calendar = WorkingCalendar::new(code, time_zone)?;
    calendar.week = week;
    calendar.exceptions = exceptions;
    Ok(calendar)
}
