//! A host for native unit tests of a plugin's logic.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::{CaseSummary, ContactPoint, Host, OrderSummary, Party, Relationship, WorkflowInstance};

/// A [`Host`] filled by the test: parties, cases, orders, workflows,
/// documents and a fixed clock; what the plugin logs is kept.
#[derive(Debug, Default)]
pub struct MockHost {
    /// Parties by id.
    pub parties: BTreeMap<String, Party>,
    /// Contact points by party id.
    pub contacts: BTreeMap<String, Vec<ContactPoint>>,
    /// Cases by party id.
    pub cases: BTreeMap<String, Vec<CaseSummary>>,
    /// Orders by party id.
    pub orders: BTreeMap<String, Vec<OrderSummary>>,
    /// Workflow instances.
    pub workflows: Vec<WorkflowInstance>,
    /// Documents (JSON text) by key.
    pub documents: BTreeMap<String, String>,
    /// What `now` returns.
    pub now: String,
    /// What the plugin logged.
    pub logs: RefCell<Vec<String>>,
}

impl MockHost {
    /// An empty host whose clock reads `now`.
    pub fn at(now: &str) -> MockHost {
        MockHost { now: now.to_owned(), ..MockHost::default() }
    }

    /// Adds a person.
    pub fn with_person(mut self, id: &str, name: &str) -> MockHost {
        self.parties.insert(
            id.to_owned(),
            Party {
                id: id.to_owned(),
                kind: "person".into(),
                name: name.to_owned(),
                stage: None,
                language: None,
                tags: Vec::new(),
                fields: Vec::new(),
                external_ids: Vec::new(),
            },
        );
        self
    }
}

impl Host for MockHost {
    fn party(&self, id: &str) -> Option<Party> {
        self.parties.get(id).cloned()
    }
    fn party_by_external_id(&self, system: &str, value: &str) -> Option<Party> {
        let key = format!("{system}:{value}");
        self.parties.values().find(|p| p.external_ids.contains(&key)).cloned()
    }
    fn contact_points(&self, id: &str) -> Vec<ContactPoint> {
        self.contacts.get(id).cloned().unwrap_or_default()
    }
    fn relationships(&self, _id: &str) -> Vec<Relationship> {
        Vec::new()
    }
    fn cases_of(&self, party: &str) -> Vec<CaseSummary> {
        self.cases.get(party).cloned().unwrap_or_default()
    }
    fn orders_of(&self, party: &str) -> Vec<OrderSummary> {
        self.orders.get(party).cloned().unwrap_or_default()
    }
    fn workflow(&self, id: &str) -> Option<WorkflowInstance> {
        self.workflows.iter().find(|w| w.id == id).cloned()
    }
    fn workflows_of(&self, entity: &str, id: &str) -> Vec<WorkflowInstance> {
        self.workflows.iter().filter(|w| w.entity == entity && w.entity_id == id).cloned().collect()
    }
    fn workflow_counts(&self, workflow: &str) -> Vec<(String, u64)> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for w in self.workflows.iter().filter(|w| w.workflow == workflow) {
            *counts.entry(w.state.clone()).or_default() += 1;
        }
        counts.into_iter().collect()
    }
    fn document(&self, key: &str) -> Option<String> {
        self.documents.get(key).cloned()
    }
    fn document_keys(&self, prefix: &str) -> Vec<String> {
        self.documents.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }
    fn now(&self) -> String {
        self.now.clone()
    }
    fn log_info(&self, message: &str) {
        self.logs.borrow_mut().push(format!("info: {message}"));
    }
    fn log_warn(&self, message: &str) {
        self.logs.borrow_mut().push(format!("warn: {message}"));
    }
}
