//! Workflows: a generic state machine a plugin (or the application)
//! registers as data, with instances attached to parties or other entities.
//! This is how a vendor adds a domain process without new tables.

use chrono::{DateTime, Utc};

use crate::Error;
use crate::model::WorkflowId;

/// One allowed move between states.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    /// Name, unique in its workflow (e.g. `check-in`).
    pub name: String,
    /// The states it may be taken from.
    pub from: Vec<String>,
    /// The state it leads to.
    pub to: String,
    /// Who may take it: actor names or prefixes ending in `:` (e.g.
    /// `plugin:handover`, `user:`); empty means anyone.
    #[serde(default)]
    pub actors: Vec<String>,
    /// Data keys that must be present (in the instance's data after the
    /// step's data is merged in).
    #[serde(default)]
    pub required: Vec<String>,
}

/// A workflow type: states, the initial one, and the transitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkflowType {
    /// Name, namespaced by its owner by convention (`handover.unit`).
    pub name: String,
    /// Every state.
    pub states: Vec<String>,
    /// Where an instance starts.
    pub initial: String,
    /// The transitions.
    pub transitions: Vec<Transition>,
}

impl WorkflowType {
    /// A workflow with these states, starting in the first.
    pub fn new(name: impl Into<String>, states: &[&str]) -> WorkflowType {
        WorkflowType {
            name: name.into(),
            states: states.iter().map(|s| (*s).to_owned()).collect(),
            initial: states.first().map(|s| (*s).to_owned()).unwrap_or_default(),
            transitions: Vec::new(),
        }
    }

    /// Adds a transition anyone may take.
    #[must_use]
    pub fn with_transition(mut self, name: &str, from: &[&str], to: &str) -> WorkflowType {
        self.transitions.push(Transition {
            name: name.to_owned(),
            from: from.iter().map(|s| (*s).to_owned()).collect(),
            to: to.to_owned(),
            actors: Vec::new(),
            required: Vec::new(),
        });
        self
    }

    /// Requires data keys on the last transition added.
    #[must_use]
    pub fn requiring(mut self, keys: &[&str]) -> WorkflowType {
        if let Some(t) = self.transitions.last_mut() {
            t.required.extend(keys.iter().map(|k| (*k).to_owned()));
        }
        self
    }

    /// Limits who may take the last transition added.
    #[must_use]
    pub fn taken_by(mut self, actors: &[&str]) -> WorkflowType {
        if let Some(t) = self.transitions.last_mut() {
            t.actors.extend(actors.iter().map(|a| (*a).to_owned()));
        }
        self
    }

    /// Checks the definition.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the problem: an empty name, no or repeated
    /// states, an initial state or a transition end that is not a state, a
    /// repeated transition name.
    pub fn validate(&self) -> crate::Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "a workflow type needs a name"));
        }
        if self.states.is_empty() {
            return Err(Error::invalid(
                "states",
                format!("workflow `{}` has no states", self.name),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for state in &self.states {
            if state.trim().is_empty() || !seen.insert(state.as_str()) {
                return Err(Error::invalid(
                    "states",
                    format!("state `{state}` is empty or repeated in `{}`", self.name),
                ));
            }
        }
        let known = |s: &str| seen.contains(s);
        if !known(&self.initial) {
            return Err(Error::invalid(
                "initial",
                format!("`{}` is not a state of `{}`", self.initial, self.name),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for t in &self.transitions {
            if t.name.trim().is_empty() || !names.insert(t.name.as_str()) {
                return Err(Error::invalid(
                    "transitions",
                    format!("transition `{}` is empty or repeated in `{}`", t.name, self.name),
                ));
            }
            if t.from.is_empty() {
                return Err(Error::invalid(
                    "transitions",
                    format!("transition `{}` starts from no state", t.name),
                ));
            }
            for s in t.from.iter().chain([&t.to]) {
                if !known(s) {
                    return Err(Error::invalid(
                        "transitions",
                        format!(
                            "transition `{}` names `{s}`, not a state of `{}`",
                            t.name, self.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The transition of that name.
    pub fn transition(&self, name: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.name == name)
    }
}

impl Transition {
    /// True when `actor` may take it.
    pub fn allows(&self, actor: &str) -> bool {
        self.actors.is_empty()
            || self
                .actors
                .iter()
                .any(|a| if a.ends_with(':') { actor.starts_with(a.as_str()) } else { actor == a })
    }
}

/// A running workflow.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkflowInstance {
    /// Id.
    pub id: WorkflowId,
    /// Its type.
    pub workflow: String,
    /// The kind of entity it belongs to (`party`, `order`, `case`, or a
    /// plugin's own kind such as `unit`).
    pub entity: String,
    /// That entity's id.
    pub entity_id: String,
    /// Current state.
    pub state: String,
    /// Its data: a JSON object, merged step by step.
    pub data: serde_json::Value,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last moved.
    pub updated_at: DateTime<Utc>,
}

/// One step of a workflow's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkflowStep {
    /// The transition (`start` for the first step).
    pub transition: String,
    /// From (`None` for the start).
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// Who took it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The data given with it.
    pub data: serde_json::Value,
}
