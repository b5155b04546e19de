//! What a plugin can read, behind a trait so tests can stand in for crm.

use crate::bindings::crm::plugin as wit;
use crate::{CaseSummary, ContactPoint, OrderSummary, Party, Relationship, WorkflowInstance};

/// The reads a plugin can make. Each group needs its capability in the
/// manifest (`parties.read`, `sales.read`, `workflows`, `documents`);
/// logging and the clock are always there.
pub trait Host {
    /// A live party by id.
    fn party(&self, id: &str) -> Option<Party>;
    /// A live party by external id.
    fn party_by_external_id(&self, system: &str, value: &str) -> Option<Party>;
    /// A party's contact points.
    fn contact_points(&self, id: &str) -> Vec<ContactPoint>;
    /// A party's relationships.
    fn relationships(&self, id: &str) -> Vec<Relationship>;
    /// A party's cases.
    fn cases_of(&self, party: &str) -> Vec<CaseSummary>;
    /// A party's orders.
    fn orders_of(&self, party: &str) -> Vec<OrderSummary>;
    /// A workflow instance.
    fn workflow(&self, id: &str) -> Option<WorkflowInstance>;
    /// The workflows on an entity.
    fn workflows_of(&self, entity: &str, id: &str) -> Vec<WorkflowInstance>;
    /// Instances per state of a workflow type.
    fn workflow_counts(&self, workflow: &str) -> Vec<(String, u64)>;
    /// A document of the plugin's namespace (JSON text).
    fn document(&self, key: &str) -> Option<String>;
    /// The document keys starting with `prefix`.
    fn document_keys(&self, prefix: &str) -> Vec<String>;
    /// The current time (RFC 3339, UTC).
    fn now(&self) -> String;
    /// Logs at info level.
    fn log_info(&self, message: &str);
    /// Logs at warn level.
    fn log_warn(&self, message: &str);
}

/// The real host, inside the component.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

impl Host for WasmHost {
    fn party(&self, id: &str) -> Option<Party> {
        wit::parties::get(id)
    }
    fn party_by_external_id(&self, system: &str, value: &str) -> Option<Party> {
        wit::parties::by_external_id(system, value)
    }
    fn contact_points(&self, id: &str) -> Vec<ContactPoint> {
        wit::parties::contact_points(id)
    }
    fn relationships(&self, id: &str) -> Vec<Relationship> {
        wit::parties::relationships(id)
    }
    fn cases_of(&self, party: &str) -> Vec<CaseSummary> {
        wit::sales::cases_of(party)
    }
    fn orders_of(&self, party: &str) -> Vec<OrderSummary> {
        wit::sales::orders_of(party)
    }
    fn workflow(&self, id: &str) -> Option<WorkflowInstance> {
        wit::workflows::get(id)
    }
    fn workflows_of(&self, entity: &str, id: &str) -> Vec<WorkflowInstance> {
        wit::workflows::of_entity(entity, id)
    }
    fn workflow_counts(&self, workflow: &str) -> Vec<(String, u64)> {
        wit::workflows::counts(workflow)
    }
    fn document(&self, key: &str) -> Option<String> {
        wit::documents::get(key)
    }
    fn document_keys(&self, prefix: &str) -> Vec<String> {
        wit::documents::keys(prefix)
    }
    fn now(&self) -> String {
        wit::clock::now()
    }
    fn log_info(&self, message: &str) {
        wit::log::log(wit::log::Level::Info, message);
    }
    fn log_warn(&self, message: &str) {
        wit::log::log(wit::log::Level::Warn, message);
    }
}
