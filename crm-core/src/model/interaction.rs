//! Interactions on every channel, and tasks (the calendar).

use chrono::{DateTime, Utc};

use crate::model::{InteractionId, PartyId, TaskId};

code_enum! {
    /// The channel an interaction happened on.
    pub enum Channel as "channel" {
        /// Telephone.
        Phone = ("phone", "Phone", "电话"),
        /// Fax.
        Fax = ("fax", "Fax", "传真"),
        /// E-mail.
        Email = ("email", "E-mail", "电子邮件"),
        /// Web site or web form.
        Web = ("web", "Web", "网站"),
        /// Call centre.
        CallCentre = ("call-centre", "Call centre", "呼叫中心"),
        /// WeChat.
        WeChat = ("wechat", "WeChat", "微信"),
        /// SMS.
        Sms = ("sms", "SMS", "短信"),
        /// In-person visit.
        Visit = ("visit", "Visit", "拜访"),
        /// Meeting.
        Meeting = ("meeting", "Meeting", "会议"),
        /// Letter.
        Letter = ("letter", "Letter", "信函"),
        /// Anything else.
        Other = ("other", "Other", "其他"),
    }
}

code_enum! {
    /// Who started an interaction.
    pub enum Direction as "direction" {
        /// The party contacted the business.
        Inbound = ("inbound", "Inbound", "呼入"),
        /// The business contacted the party.
        Outbound = ("outbound", "Outbound", "呼出"),
    }
}

code_enum! {
    /// The state of a task.
    pub enum TaskStatus as "task.status" {
        /// To do.
        Open = ("open", "Open", "待办"),
        /// Done.
        Done = ("done", "Done", "已完成"),
        /// Cancelled.
        Cancelled = ("cancelled", "Cancelled", "已取消"),
    }
}

/// A link from an interaction to another record (a campaign, case, order, …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// Entity type, e.g. `case`.
    pub entity: String,
    /// Its id.
    pub id: String,
}

/// An interaction to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInteraction {
    /// The party it was with.
    pub party_id: PartyId,
    /// Channel.
    pub channel: Channel,
    /// Direction.
    pub direction: Direction,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Subject line (searchable).
    pub subject: String,
    /// Body or notes (searchable).
    pub body: Option<String>,
    /// Outcome, e.g. `order promised`.
    pub outcome: Option<String>,
    /// The employee who handled it.
    pub owner: Option<PartyId>,
    /// A linked record.
    pub link: Option<Link>,
    /// Id in the source system; makes imports idempotent.
    pub external_id: Option<String>,
}

impl NewInteraction {
    /// An interaction with only the required fields.
    pub fn new(
        party_id: PartyId,
        channel: Channel,
        direction: Direction,
        at: DateTime<Utc>,
        subject: impl Into<String>,
    ) -> NewInteraction {
        NewInteraction {
            party_id,
            channel,
            direction,
            at,
            subject: subject.into(),
            body: None,
            outcome: None,
            owner: None,
            link: None,
            external_id: None,
        }
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> NewInteraction {
        self.body = Some(body.into());
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: impl Into<String>) -> NewInteraction {
        self.outcome = Some(outcome.into());
        self
    }

    /// Sets the handling employee.
    #[must_use]
    pub fn with_owner(mut self, owner: PartyId) -> NewInteraction {
        self.owner = Some(owner);
        self
    }

    /// Links a record.
    #[must_use]
    pub fn with_link(mut self, entity: impl Into<String>, id: impl Into<String>) -> NewInteraction {
        self.link = Some(Link { entity: entity.into(), id: id.into() });
        self
    }
}

/// A saved interaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interaction {
    /// Id.
    pub id: InteractionId,
    /// The party.
    pub party_id: PartyId,
    /// Channel.
    pub channel: Channel,
    /// Direction.
    pub direction: Direction,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Handling employee.
    pub owner: Option<PartyId>,
    /// Linked record.
    pub link: Option<Link>,
    /// Id in the source system.
    pub external_id: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A task to be scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// What to do.
    pub title: String,
    /// The party it concerns.
    pub party_id: Option<PartyId>,
    /// Who does it (an employee party).
    pub assignee: Option<PartyId>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Notes.
    pub notes: Option<String>,
}

impl NewTask {
    /// A task with a title and due time.
    pub fn new(title: impl Into<String>, due_at: DateTime<Utc>) -> NewTask {
        NewTask { title: title.into(), party_id: None, assignee: None, due_at, notes: None }
    }

    /// Sets the party it concerns.
    #[must_use]
    pub fn about(mut self, party_id: PartyId) -> NewTask {
        self.party_id = Some(party_id);
        self
    }

    /// Sets the assignee.
    #[must_use]
    pub fn assigned_to(mut self, assignee: PartyId) -> NewTask {
        self.assignee = Some(assignee);
        self
    }

    /// Sets the notes.
    #[must_use]
    pub fn with_notes(mut self, notes: impl Into<String>) -> NewTask {
        self.notes = Some(notes.into());
        self
    }
}

/// A saved task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// What to do.
    pub title: String,
    /// The party it concerns.
    pub party_id: Option<PartyId>,
    /// Who does it.
    pub assignee: Option<PartyId>,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Notes.
    pub notes: Option<String>,
    /// State.
    pub status: TaskStatus,
    /// When it was done or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}
