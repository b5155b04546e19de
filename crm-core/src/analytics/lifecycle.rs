//! Lifecycle stage from behaviour.
//!
//! The rules, in order (thresholds in [`LifecycleRules`], all configurable):
//!
//! 1. No purchase yet: **prospect**.
//! 2. No purchase for `churn_days`: **churned**.
//! 3. Bought again after having been churned: **won back** (until the
//!    next rule applies a full window later).
//! 4. First purchase within `new_days`: **new**.
//! 5. Revenue of the last `window_days` against the window before: up by
//!    more than `growth` → **growing**, down by more than `growth` →
//!    **declining**, otherwise **stable**.

use chrono::NaiveDate;

use crate::model::LifecycleStage;

/// Thresholds of the lifecycle rules.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleRules {
    /// A first purchase this recent makes a customer new.
    pub new_days: i64,
    /// No purchase for this long makes a customer churned.
    pub churn_days: i64,
    /// Length of the two windows compared for growth.
    pub window_days: i64,
    /// Relative change of window revenue that counts as growth or decline.
    pub growth: f64,
}

impl Default for LifecycleRules {
    /// New for 90 days, churned after 365 days without a purchase, half-year
    /// windows, ±20 %.
    fn default() -> LifecycleRules {
        LifecycleRules { new_days: 90, churn_days: 365, window_days: 180, growth: 0.2 }
    }
}

/// What the rules look at for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Activity {
    /// First purchase.
    pub first: Option<NaiveDate>,
    /// Last purchase.
    pub last: Option<NaiveDate>,
    /// Revenue in the last window.
    pub recent: f64,
    /// Revenue in the window before.
    pub previous: f64,
    /// Whether the customer was churned before the last purchase.
    pub churned_before: bool,
    /// Whether the customer was won back after that churn and has not
    /// completed a full window since.
    pub won_back_recently: bool,
}

/// The stage the rules give a customer on `today`.
pub fn lifecycle_stage(
    activity: &Activity,
    today: NaiveDate,
    rules: &LifecycleRules,
) -> LifecycleStage {
    let (Some(first), Some(last)) = (activity.first, activity.last) else {
        return LifecycleStage::Prospect;
    };
    if (today - last).num_days() > rules.churn_days {
        return LifecycleStage::Churned;
    }
    if activity.churned_before && activity.won_back_recently {
        return LifecycleStage::WonBack;
    }
    if (today - first).num_days() <= rules.new_days {
        return LifecycleStage::New;
    }
    let (recent, previous) = (activity.recent, activity.previous);
    if previous <= 0.0 {
        return if recent > 0.0 { LifecycleStage::Growing } else { LifecycleStage::Stable };
    }
    let change = (recent - previous) / previous;
    if change > rules.growth {
        LifecycleStage::Growing
    } else if change < -rules.growth {
        LifecycleStage::Declining
    } else {
        LifecycleStage::Stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn every_rule() {
        let rules = LifecycleRules::default();
        let today = day(12, 31);
        let stage = |a: Activity| lifecycle_stage(&a, today, &rules);
        assert_eq!(stage(Activity::default()), LifecycleStage::Prospect);
        let base =
            Activity { first: Some(day(1, 2)), last: Some(day(12, 1)), ..Activity::default() };
        assert_eq!(
            stage(Activity { recent: 130.0, previous: 100.0, ..base }),
            LifecycleStage::Growing
        );
        assert_eq!(
            stage(Activity { recent: 70.0, previous: 100.0, ..base }),
            LifecycleStage::Declining
        );
        assert_eq!(
            stage(Activity { recent: 110.0, previous: 100.0, ..base }),
            LifecycleStage::Stable
        );
        assert_eq!(stage(Activity { first: Some(day(11, 1)), ..base }), LifecycleStage::New);
        let old = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
        assert_eq!(
            stage(Activity { last: Some(old), first: Some(old), ..base }),
            LifecycleStage::Churned
        );
        assert_eq!(
            stage(Activity { churned_before: true, won_back_recently: true, ..base }),
            LifecycleStage::WonBack
        );
    }
}
