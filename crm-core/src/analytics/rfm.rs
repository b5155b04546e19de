//! RFM: recency, frequency and monetary quintile scores and the segment
//! map.

use crate::Error;

code_enum! {
    /// An RFM segment. The map from recency score R and the rounded mean
    /// FM of the frequency and monetary scores:
    ///
    /// | R \ FM | 1 | 2–3 | 4–5 |
    /// |---|---|---|---|
    /// | 5 | new | potential loyalist | champions |
    /// | 4 | promising | potential loyalist | champions |
    /// | 3 | needs attention | needs attention | loyal |
    /// | 2 | hibernating | at risk | loyal |
    /// | 1 | lost | at risk | can't lose |
    pub enum RfmSegment as "segment" {
        /// Bought recently, often, and spent the most.
        Champions = ("champions", "Champions", "冠军客户"),
        /// Buy often and spend well, not the most recent.
        Loyal = ("loyal", "Loyal", "忠诚客户"),
        /// Recent customers with average frequency.
        PotentialLoyalist = ("potential-loyalist", "Potential loyalists", "潜力客户"),
        /// Bought very recently, once.
        New = ("new", "New customers", "新客户"),
        /// Recent, once.
        Promising = ("promising", "Promising", "有望客户"),
        /// Middling recency.
        NeedsAttention = ("needs-attention", "Needs attention", "需关注客户"),
        /// Used to buy, not lately.
        AtRisk = ("at-risk", "At risk", "流失风险客户"),
        /// Were among the best, long ago.
        CantLose = ("cant-lose", "Can't lose them", "不可流失客户"),
        /// Long ago, little.
        Hibernating = ("hibernating", "Hibernating", "沉睡客户"),
        /// Longest ago, least.
        Lost = ("lost", "Lost", "已流失客户"),
    }
}

impl RfmSegment {
    /// The segment of a recency score and frequency / monetary scores.
    pub fn of(r: u8, f: u8, m: u8) -> RfmSegment {
        let fm = (u16::from(f) + u16::from(m)).div_ceil(2);
        match (r, fm) {
            (4..=5, 4..=5) => RfmSegment::Champions,
            (2..=3, 4..=5) => RfmSegment::Loyal,
            (_, 4..=5) => RfmSegment::CantLose,
            (5, 1) => RfmSegment::New,
            (4, 1) => RfmSegment::Promising,
            (4..=5, _) => RfmSegment::PotentialLoyalist,
            (3, _) => RfmSegment::NeedsAttention,
            (2, 1) => RfmSegment::Hibernating,
            (2, _) => RfmSegment::AtRisk,
            (_, 1) => RfmSegment::Lost,
            _ => RfmSegment::AtRisk,
        }
    }
}

/// A customer's RFM scores (1 = worst fifth, 5 = best) and segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RfmScore {
    /// Recency score: 5 for the most recent buyers.
    pub r: u8,
    /// Frequency score.
    pub f: u8,
    /// Monetary score.
    pub m: u8,
    /// The segment.
    pub segment: RfmSegment,
}

/// Quintile scores where larger values are better. Ties get the same
/// score: a value's score is set by where its first occurrence falls in the
/// sorted column, so the result does not depend on row order.
fn quintiles(values: &[f64]) -> Vec<u8> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|s| s.total_cmp(v).is_lt());
            (1 + 5 * below / n) as u8
        })
        .collect()
}

/// Scores customers from the time since their last purchase (smaller is
/// better), their number of purchases and their monetary value.
///
/// # Errors
///
/// [`Error::Invalid`] for columns of different lengths, no rows, or a
/// non-finite value.
///
/// # Examples
///
/// ```
/// use crm_core::analytics::{RfmSegment, rfm};
/// let since_last = [3.0, 40.0, 200.0, 7.0, 365.0];
/// let purchases = [12.0, 3.0, 1.0, 1.0, 8.0];
/// let spend = [900.0, 120.0, 30.0, 45.0, 700.0];
/// let scores = rfm(&since_last, &purchases, &spend)?;
/// assert_eq!(scores[0].segment, RfmSegment::Champions);
/// assert_eq!(scores[4].segment, RfmSegment::CantLose);
/// # Ok::<(), crm_core::Error>(())
/// ```
pub fn rfm(
    since_last: &[f64],
    frequency: &[f64],
    monetary: &[f64],
) -> crate::Result<Vec<RfmScore>> {
    let n = since_last.len();
    if frequency.len() != n || monetary.len() != n {
        return Err(Error::invalid("rfm", "recency, frequency and monetary differ in length"));
    }
    if n == 0 {
        return Err(Error::invalid("rfm", "no customers"));
    }
    if let Some(i) = (0..n).find(|i| {
        !(since_last[*i].is_finite() && frequency[*i].is_finite() && monetary[*i].is_finite())
    }) {
        return Err(Error::Invalid {
            at: crate::Location { row: Some(i as u64 + 1), column: None },
            reason: "recency, frequency and monetary must be finite".into(),
        });
    }
    let recent: Vec<f64> = since_last.iter().map(|v| -v).collect();
    let (r, f, m) = (quintiles(&recent), quintiles(frequency), quintiles(monetary));
    Ok((0..n)
        .map(|i| RfmScore { r: r[i], f: f[i], m: m[i], segment: RfmSegment::of(r[i], f[i], m[i]) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_handle_ties_deterministically() {
        // Ten customers, four tied at the bottom and two at the top.
        let values = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 9.0];
        assert_eq!(quintiles(&values), [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]);
        // Row order does not matter.
        let mut reversed = values;
        reversed.reverse();
        let mut scores = quintiles(&reversed);
        scores.reverse();
        assert_eq!(scores, quintiles(&values));
        // All equal: everyone in the bottom fifth.
        assert_eq!(quintiles(&[7.0; 6]), [1; 6]);
    }

    #[test]
    fn every_cell_of_the_grid_has_a_segment() {
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let _ = RfmSegment::of(r, f, m);
                }
            }
        }
        assert_eq!(RfmSegment::of(5, 1, 1), RfmSegment::New);
        assert_eq!(RfmSegment::of(1, 1, 1), RfmSegment::Lost);
        assert_eq!(RfmSegment::of(1, 5, 4), RfmSegment::CantLose);
        assert_eq!(RfmSegment::of(2, 2, 3), RfmSegment::AtRisk);
        assert_eq!(RfmSegment::Champions.label(crate::Lang::ZhCn), "冠军客户");
    }
}
