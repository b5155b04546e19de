//! Triggers and actions: what a rule reacts to and what it does.

use crate::Error;
use crate::model::{CaseType, ContactKind, LifecycleStage, Priority};

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "on", content = "name", rename_all = "snake_case")]
pub enum Trigger {
    /// An event of this kind (e.g. `party.stage_changed`, `order.created`).
    Event(String),
    /// A party entered this segment.
    SegmentEnter(String),
    /// A party left this segment.
    SegmentExit(String),
}

/// What a rule does to the party the event is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Add a tag.
    Tag {
        /// The tag.
        tag: String,
    },
    /// Remove a tag.
    Untag {
        /// The tag.
        tag: String,
    },
    /// Set the lifecycle stage.
    SetStage {
        /// The stage.
        stage: LifecycleStage,
    },
    /// Create a task about the party, due some days later.
    CreateTask {
        /// Title.
        title: String,
        /// Days until due.
        due_in_days: i64,
    },
    /// Open a case.
    CreateCase {
        /// Type.
        case_type: CaseType,
        /// Priority.
        priority: Priority,
        /// Subject.
        subject: String,
    },
    /// Queue a message in the outbox, rendered from a template with
    /// `{name}`, `{stage}`, `{field.<name>}` and `{score.<name>}`
    /// placeholders; sent only to a contact point whose consent for the
    /// purpose is granted, else recorded as suppressed with the reason.
    Send {
        /// The contact kind to send to (e-mail, mobile, WeChat, …).
        channel: ContactKind,
        /// Consent purpose, e.g. `marketing`.
        purpose: String,
        /// The message.
        template: String,
    },
}

/// A rule to be created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewRule {
    /// Unique name.
    pub name: String,
    /// What makes it fire.
    pub trigger: Trigger,
    /// An optional CEL condition on the party.
    pub condition: Option<String>,
    /// What it does, in order.
    pub actions: Vec<Action>,
}

/// Placeholders a template may use: `name`, `stage`, `field.<x>`, `score.<x>`.
pub(crate) fn placeholders(template: &str) -> crate::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(Error::invalid("template", format!("unclosed `{{` in `{template}`")));
        };
        let name = &after[..end];
        let known = matches!(name, "name" | "stage")
            || name.strip_prefix("field.").is_some_and(|f| !f.is_empty())
            || name.strip_prefix("score.").is_some_and(|f| !f.is_empty());
        if !known {
            return Err(Error::invalid(
                "template",
                format!(
                    "unknown placeholder `{{{name}}}` (use name, stage, field.<name>, score.<name>)"
                ),
            ));
        }
        out.push(name.to_owned());
        rest = &after[end + 1..];
    }
    Ok(out)
}
