//! Triggers and actions: what a rule reacts to and what it does.

use crate::Error;
use crate::model::{CaseType, ContactKind, LifecycleStage, Priority};

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "on", content = "of", rename_all = "snake_case")]
pub enum Trigger {
    /// An event of this kind (e.g. `party.stage_changed`, `order.created`).
    Event(String),
    /// A party entered this segment.
    SegmentEnter(String),
    /// A party left this segment.
    SegmentExit(String),
    /// Every so many hours (from the rule's creation), for every party
    /// the condition holds for; fired by [`Crm::run_due`](crate::Crm::run_due).
    EveryHours(u32),
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
    /// Set a custom field (the value is parsed as the field's type when the
    /// rule is created).
    SetField {
        /// The field.
        field: String,
        /// Its value, as text.
        value: String,
    },
    /// Award (positive) or deduct (negative) loyalty points; a deduction
    /// beyond the balance fails the change that fired the rule.
    AwardPoints {
        /// The programme.
        program: String,
        /// Points.
        points: i64,
        /// Why.
        reason: String,
    },
    /// Enrol the party in a campaign (control group drawn as for a run).
    EnrolInCampaign {
        /// The campaign.
        campaign: String,
    },
    /// Queue a message in the outbox, rendered from a template with
    /// `{name}`, `{stage}`, `{field.<name>}` and `{score.<name>}`
    /// placeholders (`{field.city|friend}` falls back to `friend`); sent only to a contact point whose consent for the
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

/// Placeholders a template may use: `name`, `stage`, `field.<x>`,
/// `score.<x>`, each optionally with a fallback after `|`
/// (`{field.city|your city}`). Returns the names without fallbacks.
pub(crate) fn placeholders(template: &str) -> crate::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(Error::invalid("template", format!("unclosed `{{` in `{template}`")));
        };
        let name = after[..end].split('|').next().unwrap_or("");
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

/// Renders a checked template: each placeholder is replaced by `lookup`'s
/// value, or its fallback (or nothing) when the value is missing or empty.
pub(crate) fn render(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut content = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        content.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').unwrap_or(after.len());
        let mut parts = after[..end].splitn(2, '|');
        let name = parts.next().unwrap_or("");
        let fallback = parts.next().unwrap_or("");
        match lookup(name).filter(|v| !v.is_empty()) {
            Some(value) => content.push_str(&value),
            None => content.push_str(fallback),
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    content.push_str(rest);
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_with_fallbacks() {
        assert_eq!(
            placeholders("Hi {name}, {field.city|friend}").ok(),
            Some(vec!["name".to_owned(), "field.city".to_owned()])
        );
        assert!(placeholders("Hi {nmae}").is_err());
        assert!(placeholders("Hi {name").is_err());
        let lookup = |n: &str| (n == "name").then(|| "Li".to_owned());
        assert_eq!(render("Hi {name}, {field.city|friend}!", lookup), "Hi Li, friend!");
    }
}
