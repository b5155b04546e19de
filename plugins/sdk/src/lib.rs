//! Write crm plugins in plain Rust.
//!
//! A plugin is a type implementing [`Plugin`]; [`plugin!`] exports it as a
//! `crm:plugin@0.1.0` component. Reads go through a [`Host`] — in the
//! component the real one ([`WasmHost`]), in unit tests a [`MockHost`] you
//! fill yourself — so a plugin's logic runs natively under `cargo test`.
//! A plugin changes nothing itself: it returns an [`Outcome`] with
//! [`actions`] that crm validates and applies in one transaction.
//!
//! Only the host functions a plugin calls end up as imports of its
//! component, so it needs only the capabilities it uses.
//!
//! ```ignore
//! use crm_plugin_sdk::{Event, Host, Outcome, Plugin, PluginError, actions};
//!
//! struct Welcome;
//!
//! impl Plugin for Welcome {
//!     const NAME: &'static str = "welcome";
//!     const VERSION: &'static str = "0.1.0";
//!
//!     fn on_event(host: &impl Host, event: Event) -> Result<Outcome, PluginError> {
//!         let Some(party) = event.party_id else { return Ok(Outcome::none()) };
//!         host.log_info(&format!("welcoming {party}"));
//!         Ok(Outcome::none().with(actions::add_tag(&party, "welcomed")))
//!     }
//! }
//!
//! crm_plugin_sdk::plugin!(Welcome);
//! ```

/// The generated bindings of the contract (used by [`plugin!`]).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../../crm-wasm-host/wit/0.1.0",
        pub_export_macro: true,
        export_macro_name: "__export_guest",
        default_bindings_module: "crm_plugin_sdk::bindings",
    });
}

mod host;
mod mock;

pub use crate::bindings::crm::plugin::types::{
    Action, CaseSummary, ContactPoint, Event, OrderSummary, Party, PluginError, PluginMetadata,
    Relationship, WorkflowInstance,
};
pub use crate::host::{Host, WasmHost};
pub use crate::mock::MockHost;

/// What a call returns: actions for crm to apply, and output (JSON) for
/// the caller.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The actions, applied in order in one transaction (all or none).
    pub actions: Vec<Action>,
    /// JSON text for the caller.
    pub output: String,
}

impl Outcome {
    /// Nothing to do.
    pub fn none() -> Outcome {
        Outcome::default()
    }

    /// Output for the caller.
    pub fn output(output: impl Into<String>) -> Outcome {
        Outcome { actions: Vec::new(), output: output.into() }
    }

    /// Adds an action.
    #[must_use]
    pub fn with(mut self, action: Action) -> Outcome {
        self.actions.push(action);
        self
    }

    /// Adds actions.
    #[must_use]
    pub fn with_all(mut self, actions: impl IntoIterator<Item = Action>) -> Outcome {
        self.actions.extend(actions);
        self
    }
}

/// A plugin. Every method has a default that does nothing, so a plugin
/// implements only what it offers. Plugins are stateless between calls:
/// keep state in documents and workflows.
pub trait Plugin {
    /// The name in its manifest.
    const NAME: &'static str;
    /// Its version.
    const VERSION: &'static str;
    /// The commands it offers.
    const COMMANDS: &'static [&'static str] = &[];

    /// An event of a kind the manifest subscribes to.
    ///
    /// # Errors
    ///
    /// A [`PluginError`] for the host to report.
    fn on_event(host: &impl Host, event: Event) -> Result<Outcome, PluginError> {
        let _ = (host, event);
        Ok(Outcome::none())
    }

    /// A command with JSON arguments.
    ///
    /// # Errors
    ///
    /// [`PluginError::InvalidInput`] for an unknown command or bad
    /// arguments.
    fn command(host: &impl Host, name: &str, args: &str) -> Result<Outcome, PluginError> {
        let _ = (host, args);
        Err(PluginError::InvalidInput(format!("unknown command `{name}`")))
    }

    /// The scheduled tick (`now` is RFC 3339).
    ///
    /// # Errors
    ///
    /// A [`PluginError`] for the host to report.
    fn tick(host: &impl Host, now: &str) -> Result<Outcome, PluginError> {
        let _ = (host, now);
        Ok(Outcome::none())
    }
}

fn to_wit(outcome: Outcome) -> bindings::crm::plugin::types::Outcome {
    bindings::crm::plugin::types::Outcome { actions: outcome.actions, output: outcome.output }
}

/// Glue between the generated guest trait and [`Plugin`] (used by
/// [`plugin!`]).
#[doc(hidden)]
pub mod glue {
    use super::*;

    pub fn metadata<P: Plugin>() -> PluginMetadata {
        PluginMetadata {
            name: P::NAME.to_owned(),
            version: P::VERSION.to_owned(),
            commands: P::COMMANDS.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    pub fn on_event<P: Plugin>(
        event: Event,
    ) -> Result<bindings::crm::plugin::types::Outcome, PluginError> {
        P::on_event(&WasmHost, event).map(to_wit)
    }

    pub fn command<P: Plugin>(
        name: String,
        args: String,
    ) -> Result<bindings::crm::plugin::types::Outcome, PluginError> {
        P::command(&WasmHost, &name, &args).map(to_wit)
    }

    pub fn tick<P: Plugin>(
        now: String,
    ) -> Result<bindings::crm::plugin::types::Outcome, PluginError> {
        P::tick(&WasmHost, &now).map(to_wit)
    }
}

/// Exports a [`Plugin`] as the component's `guest` interface.
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        // Natively (unit tests with a MockHost) there is nothing to export.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        pub struct __CrmPluginExport;

        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::crm::plugin::guest::Guest for __CrmPluginExport {
            fn metadata() -> $crate::PluginMetadata {
                $crate::glue::metadata::<$plugin>()
            }
            fn on_event(
                event: $crate::Event,
            ) -> Result<$crate::bindings::crm::plugin::types::Outcome, $crate::PluginError> {
                $crate::glue::on_event::<$plugin>(event)
            }
            fn command(
                name: String,
                args: String,
            ) -> Result<$crate::bindings::crm::plugin::types::Outcome, $crate::PluginError> {
                $crate::glue::command::<$plugin>(name, args)
            }
            fn tick(
                now: String,
            ) -> Result<$crate::bindings::crm::plugin::types::Outcome, $crate::PluginError> {
                $crate::glue::tick::<$plugin>(now)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_guest!(__CrmPluginExport with_types_in $crate::bindings);
    };
}

/// Constructors for every [`Action`].
pub mod actions {
    use crate::Action;
    use crate::bindings::crm::plugin::types as t;

    /// Open a case (`case_type`, `priority`, `channel` are crm codes, e.g.
    /// `defect`, `high`, `visit`).
    pub fn create_case(
        party: &str,
        case_type: &str,
        priority: &str,
        channel: &str,
        subject: &str,
    ) -> Action {
        Action::CreateCase(t::NewCase {
            party_id: party.to_owned(),
            case_type: case_type.to_owned(),
            priority: priority.to_owned(),
            subject: subject.to_owned(),
            channel: channel.to_owned(),
            sla_policy: None,
        })
    }

    /// Open a case under an SLA policy (its code in crm): the targets of
    /// the case's priority apply.
    pub fn create_case_with_sla(
        party: &str,
        case_type: &str,
        priority: &str,
        channel: &str,
        subject: &str,
        policy: &str,
    ) -> Action {
        match create_case(party, case_type, priority, channel, subject) {
            Action::CreateCase(mut c) => {
                c.sla_policy = Some(policy.to_owned());
                Action::CreateCase(c)
            }
            other => other,
        }
    }

    /// Create a task about a party, due at an RFC 3339 time.
    pub fn create_task(party: &str, title: &str, due_at: &str) -> Action {
        Action::CreateTask(t::NewTask {
            party_id: party.to_owned(),
            title: title.to_owned(),
            due_at: due_at.to_owned(),
        })
    }

    /// Send a message through the outbox (consent for `purpose` is checked
    /// by crm).
    pub fn send(party: &str, channel: &str, purpose: &str, content: &str) -> Action {
        Action::SendMessage(t::Message {
            party_id: party.to_owned(),
            channel: channel.to_owned(),
            purpose: purpose.to_owned(),
            content: content.to_owned(),
        })
    }

    /// Add a tag.
    pub fn add_tag(party: &str, tag: &str) -> Action {
        Action::AddTag(t::TagChange { party_id: party.to_owned(), tag: tag.to_owned() })
    }

    /// Remove a tag.
    pub fn remove_tag(party: &str, tag: &str) -> Action {
        Action::RemoveTag(t::TagChange { party_id: party.to_owned(), tag: tag.to_owned() })
    }

    /// Set the lifecycle stage.
    pub fn set_stage(party: &str, stage: &str) -> Action {
        Action::SetStage(t::StageChange { party_id: party.to_owned(), stage: stage.to_owned() })
    }

    /// Set a custom field (the value as text, parsed as the field's type).
    pub fn set_field(party: &str, field: &str, value: &str) -> Action {
        Action::SetField(t::FieldChange {
            party_id: party.to_owned(),
            field: field.to_owned(),
            value: value.to_owned(),
        })
    }

    /// Award (or, negative, deduct) loyalty points.
    pub fn award_points(program: &str, party: &str, points: i64, reason: &str) -> Action {
        Action::AwardPoints(t::PointsAward {
            program: program.to_owned(),
            party_id: party.to_owned(),
            points,
            reason: reason.to_owned(),
        })
    }

    /// Register (or update) one of the plugin's workflow types, as JSON:
    /// `{"name": "<plugin>.x", "states": [...], "initial": "...",
    /// "transitions": [{"name", "from": [...], "to", "actors": [...],
    /// "required": [...]}]}`.
    pub fn register_workflow(definition_json: &str) -> Action {
        Action::RegisterWorkflow(t::WorkflowType { definition: definition_json.to_owned() })
    }

    /// Start a workflow on an entity with JSON data.
    pub fn start_workflow(
        workflow: &str,
        entity: &str,
        entity_id: &str,
        data_json: &str,
    ) -> Action {
        Action::StartWorkflow(t::WorkflowStart {
            workflow: workflow.to_owned(),
            entity: entity.to_owned(),
            entity_id: entity_id.to_owned(),
            data: data_json.to_owned(),
        })
    }

    /// Take a transition with JSON data.
    pub fn advance_workflow(id: &str, transition: &str, data_json: &str) -> Action {
        Action::AdvanceWorkflow(t::WorkflowStep {
            id: id.to_owned(),
            transition: transition.to_owned(),
            data: data_json.to_owned(),
        })
    }

    /// Store a JSON document in the plugin's namespace (`""` deletes it).
    pub fn put_document(key: &str, value_json: &str) -> Action {
        Action::PutDocument(t::Document { key: key.to_owned(), value: value_json.to_owned() })
    }
}
