//! Service cases, their status machine, and SLA policies.

use chrono::{DateTime, Utc};

use crate::Error;
use crate::model::{CaseId, Channel, InteractionId, PartyId};

code_enum! {
    /// What a case is about.
    pub enum CaseType as "type" {
        /// A complaint.
        Complaint = ("complaint", "Complaint", "投诉"),
        /// A question.
        Inquiry = ("inquiry", "Inquiry", "咨询"),
        /// A repair.
        Repair = ("repair", "Repair", "维修"),
        /// A product defect.
        Defect = ("defect", "Defect", "质量缺陷"),
        /// A return.
        Return = ("return", "Return", "退货"),
        /// An installation.
        Installation = ("installation", "Installation", "安装"),
        /// Maintenance.
        Maintenance = ("maintenance", "Maintenance", "保养"),
        /// A billing question.
        Billing = ("billing", "Billing", "账务"),
        /// Something else.
        Other = ("other", "Other", "其他"),
    }
}

code_enum! {
    /// How urgent a case is.
    pub enum Priority as "priority" {
        /// Low.
        Low = ("low", "Low", "低"),
        /// Normal.
        Normal = ("normal", "Normal", "普通"),
        /// High.
        High = ("high", "High", "高"),
        /// Urgent.
        Urgent = ("urgent", "Urgent", "紧急"),
    }
}

code_enum! {
    /// Where a case stands. See [`CaseStatus::can_become`].
    pub enum CaseStatus as "status" {
        /// Logged, not yet picked up.
        New = ("new", "New", "新建"),
        /// Being worked on.
        Open = ("open", "Open", "处理中"),
        /// Waiting on the customer; SLA clocks are paused.
        Waiting = ("waiting", "Waiting on customer", "等待客户"),
        /// Solved; waiting for confirmation.
        Resolved = ("resolved", "Resolved", "已解决"),
        /// Done.
        Closed = ("closed", "Closed", "已关闭"),
        /// Opened again after being resolved or closed.
        Reopened = ("reopened", "Reopened", "重新打开"),
    }
}

impl CaseStatus {
    /// The statuses a case may move to from this one:
    ///
    /// | from | to |
    /// |---|---|
    /// | new | open, waiting, resolved |
    /// | open | waiting, resolved |
    /// | waiting | open, resolved |
    /// | resolved | closed, reopened |
    /// | closed | reopened |
    /// | reopened | open, waiting, resolved |
    pub fn next(self) -> &'static [CaseStatus] {
        use CaseStatus::*;
        match self {
            New => &[Open, Waiting, Resolved],
            Open => &[Waiting, Resolved],
            Waiting => &[Open, Resolved],
            Resolved => &[Closed, Reopened],
            Closed => &[Reopened],
            Reopened => &[Open, Waiting, Resolved],
        }
    }

    /// True when the status machine allows `self → to`.
    pub fn can_become(self, to: CaseStatus) -> bool {
        self.next().contains(&to)
    }

    /// True while work on the case is outstanding (not resolved or closed).
    pub fn is_active(self) -> bool {
        !matches!(self, CaseStatus::Resolved | CaseStatus::Closed)
    }
}

code_enum! {
    /// Why a customer left (recorded on cases; read by churn analysis).
    pub enum ChurnReason as "churn_reason" {
        /// Price.
        Price = ("price", "Price", "价格"),
        /// Product quality.
        ProductQuality = ("product-quality", "Product quality", "产品质量"),
        /// Service quality.
        ServiceQuality = ("service-quality", "Service quality", "服务质量"),
        /// Slow response.
        SlowResponse = ("slow-response", "Slow response", "响应慢"),
        /// Went to a competitor.
        Competitor = ("competitor", "Competitor", "竞争对手"),
        /// Moved away.
        Moved = ("moved", "Moved away", "搬迁"),
        /// No longer needs the product.
        NoNeed = ("no-need", "No longer needed", "不再需要"),
        /// Billing problems.
        Billing = ("billing", "Billing", "账务问题"),
        /// Something else.
        Other = ("other", "Other", "其他"),
    }
}

code_enum! {
    /// The two SLA clocks of a case.
    pub enum SlaClock as "clock" {
        /// Time to the first response to the customer.
        FirstResponse = ("first-response", "First response", "首次响应"),
        /// Time to resolution.
        Resolution = ("resolution", "Resolution", "解决"),
    }
}

/// First-response and resolution targets for one priority and customer
/// tier, in business minutes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlaTarget {
    /// Priority it applies to.
    pub priority: Priority,
    /// Customer tier it applies to (`None`: any tier without its own target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Business minutes to the first response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_minutes: Option<i64>,
    /// Business minutes to resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_minutes: Option<i64>,
}

/// An SLA policy: targets by priority × tier, measured on a working
/// calendar.
///
/// # Examples
///
/// ```
/// use crm_core::{Priority, SlaPolicy};
/// let policy = SlaPolicy::new("standard", "Standard service", "cn-workdays")
///     .with_target(Priority::Urgent, None, Some(30), Some(4 * 60))
///     .with_target(Priority::Urgent, Some("gold"), Some(15), Some(2 * 60))
///     .with_target(Priority::Normal, None, Some(4 * 60), Some(3 * 8 * 60));
/// policy.validate()?;
/// assert_eq!(policy.target(Priority::Urgent, Some("gold")).unwrap().first_response_minutes, Some(15));
/// assert_eq!(policy.target(Priority::Urgent, Some("silver")).unwrap().first_response_minutes, Some(30));
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlaPolicy {
    /// Stable code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Code of the working calendar business time is measured on.
    pub calendar: String,
    /// Targets.
    pub targets: Vec<SlaTarget>,
}

impl SlaPolicy {
    /// A policy with no targets yet.
    pub fn new(
        code: impl Into<String>,
        name: impl Into<String>,
        calendar: impl Into<String>,
    ) -> SlaPolicy {
        SlaPolicy {
            code: code.into(),
            name: name.into(),
            calendar: calendar.into(),
            targets: Vec::new(),
        }
    }

    /// Adds a target (business minutes).
    #[must_use]
    pub fn with_target(
        mut self,
        priority: Priority,
        tier: Option<&str>,
        first_response_minutes: Option<i64>,
        resolution_minutes: Option<i64>,
    ) -> SlaPolicy {
        self.targets.push(SlaTarget {
            priority,
            tier: tier.map(str::to_owned),
            first_response_minutes,
            resolution_minutes,
        });
        self
    }

    /// The target for a priority and tier: the tier's own, else the one
    /// for any tier.
    pub fn target(&self, priority: Priority, tier: Option<&str>) -> Option<&SlaTarget> {
        let for_priority = || self.targets.iter().filter(move |t| t.priority == priority);
        tier.and_then(|tier| for_priority().find(|t| t.tier.as_deref() == Some(tier)))
            .or_else(|| for_priority().find(|t| t.tier.is_none()))
    }

    /// Checks code, calendar, and that targets are positive and unique.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> crate::Result<()> {
        if self.code.trim().is_empty() {
            return Err(Error::invalid("code", "an SLA policy needs a code"));
        }
        if self.calendar.trim().is_empty() {
            return Err(Error::invalid(
                "calendar",
                format!("SLA policy {} has no working calendar", self.code),
            ));
        }
        for (i, target) in self.targets.iter().enumerate() {
            for minutes in
                [target.first_response_minutes, target.resolution_minutes].into_iter().flatten()
            {
                if minutes <= 0 {
                    return Err(Error::invalid(
                        "minutes",
                        format!(
                            "SLA policy {}: target {minutes} minutes is not positive",
                            self.code
                        ),
                    ));
                }
            }
            if self.targets[..i]
                .iter()
                .any(|t| t.priority == target.priority && t.tier == target.tier)
            {
                return Err(Error::invalid(
                    "targets",
                    format!(
                        "SLA policy {}: two targets for priority {} and tier {}",
                        self.code,
                        target.priority,
                        target.tier.as_deref().unwrap_or("(any)")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A case to be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    /// The customer.
    pub party_id: PartyId,
    /// Type.
    pub case_type: CaseType,
    /// Priority.
    pub priority: Priority,
    /// The channel it came in on.
    pub channel: Channel,
    /// Subject.
    pub subject: String,
    /// Description.
    pub description: Option<String>,
    /// Complaint category or other sub-type, e.g. `noise`.
    pub category: Option<String>,
    /// Who works on it.
    pub assignee: Option<PartyId>,
    /// SLA policy code (default: the policy `default`, if there is one).
    pub sla_policy: Option<String>,
    /// Customer tier for the SLA (default: the party's `tier` custom field).
    pub tier: Option<String>,
    /// When it was opened (default: now).
    pub opened_at: Option<DateTime<Utc>>,
    /// The interaction it was raised from.
    pub interaction: Option<InteractionId>,
    /// Id in the source system; makes imports idempotent.
    pub external_id: Option<String>,
}

impl NewCase {
    /// A case with the required fields.
    pub fn new(
        party_id: PartyId,
        case_type: CaseType,
        priority: Priority,
        channel: Channel,
        subject: impl Into<String>,
    ) -> NewCase {
        NewCase {
            party_id,
            case_type,
            priority,
            channel,
            subject: subject.into(),
            description: None,
            category: None,
            assignee: None,
            sla_policy: None,
            tier: None,
            opened_at: None,
            interaction: None,
            external_id: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> NewCase {
        self.description = Some(description.into());
        self
    }

    /// Sets the category.
    #[must_use]
    pub fn with_category(mut self, category: impl Into<String>) -> NewCase {
        self.category = Some(category.into());
        self
    }

    /// Assigns it.
    #[must_use]
    pub fn assigned_to(mut self, assignee: PartyId) -> NewCase {
        self.assignee = Some(assignee);
        self
    }

    /// Measures it against an SLA policy.
    #[must_use]
    pub fn with_sla(mut self, policy: impl Into<String>) -> NewCase {
        self.sla_policy = Some(policy.into());
        self
    }

    /// Sets the customer tier used to pick SLA targets.
    #[must_use]
    pub fn with_tier(mut self, tier: impl Into<String>) -> NewCase {
        self.tier = Some(tier.into());
        self
    }

    /// Sets when it was opened.
    #[must_use]
    pub fn opened_at(mut self, at: DateTime<Utc>) -> NewCase {
        self.opened_at = Some(at);
        self
    }

    /// Sets the id in the source system.
    #[must_use]
    pub fn with_external_id(mut self, id: impl Into<String>) -> NewCase {
        self.external_id = Some(id.into());
        self
    }
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Case {
    /// Id.
    pub id: CaseId,
    /// Id in the source system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The customer.
    pub party_id: PartyId,
    /// Type.
    pub case_type: CaseType,
    /// Priority.
    pub priority: Priority,
    /// Channel it came in on.
    pub channel: Channel,
    /// Subject.
    pub subject: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Who works on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<PartyId>,
    /// Status.
    pub status: CaseStatus,
    /// SLA policy code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_policy: Option<String>,
    /// Customer tier the targets were chosen by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// First response to the customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When the first response is due (`None`: no target, met, or paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_due: Option<DateTime<Utc>>,
    /// When resolution is due (`None`: no target, resolved, or paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_due: Option<DateTime<Utc>>,
    /// When it was (last) resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Satisfaction rating, 1–5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    /// Why the customer left, when the case ended a relationship.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn_reason: Option<ChurnReason>,
    /// The interaction it was raised from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction_id: Option<InteractionId>,
    /// How many times it was escalated.
    pub escalations: u32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A status change of a case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseTransition {
    /// Status before (`None` when the case was opened).
    pub from: Option<CaseStatus>,
    /// Status after.
    pub to: CaseStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// A note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A case past one of its SLA targets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlaBreach {
    /// The case.
    pub case_id: CaseId,
    /// Its customer.
    pub party_id: PartyId,
    /// Who works on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<PartyId>,
    /// Its priority.
    pub priority: Priority,
    /// The clock that ran out.
    pub clock: SlaClock,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// Business minutes past the due time.
    pub overdue_minutes: i64,
}
