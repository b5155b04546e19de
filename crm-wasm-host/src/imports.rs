//! The host side of the interfaces a plugin imports. Reads only; a storage
//! error traps the call (the caller gets a typed error, nothing changes).

use crm_core::{ExternalId, Party, PartyId};

use crate::host::{State, crm as bindings, wit};

type Result<T> = wasmtime::Result<T>;

fn trap(error: crm_core::Error) -> wasmtime::Error {
    wasmtime::Error::msg(error.to_string())
}

impl State {
    fn party_view(&self, party: Party) -> wit::Party {
        wit::Party {
            id: party.id.to_string(),
            kind: party.kind.code().to_owned(),
            name: party.name,
            stage: party.stage.map(|s| s.code().to_owned()),
            language: party.language,
            tags: party.tags,
            fields: party
                .fields
                .iter()
                .filter(|(name, _)| self.fields.contains(*name))
                .map(|(name, value)| (name.clone(), value.to_text()))
                .collect(),
            external_ids: party.external_ids.iter().map(ToString::to_string).collect(),
        }
    }

    fn live_party(&self, id: &str) -> Result<Option<Party>> {
        let Ok(id) = id.parse::<PartyId>() else { return Ok(None) };
        let party = self.crm.read(|tx| tx.find_party(id)).map_err(trap)?;
        Ok(party.filter(Party::is_live))
    }
}

impl wit::Host for State {}

impl bindings::plugin::log::Host for State {
    fn log(&mut self, level: bindings::plugin::log::Level, message: String) -> Result<()> {
        use bindings::plugin::log::Level;
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        // A plugin cannot flood the host: the log of one call is bounded.
        if self.logs.len() < 1000 {
            self.logs.push((level.to_owned(), message.chars().take(2000).collect()));
        }
        Ok(())
    }
}

impl bindings::plugin::clock::Host for State {
    fn now(&mut self) -> Result<String> {
        Ok(self.now.clone())
    }
}

impl bindings::plugin::parties::Host for State {
    fn get(&mut self, id: String) -> Result<Option<wit::Party>> {
        Ok(self.live_party(&id)?.map(|p| self.party_view(p)))
    }

    fn by_external_id(&mut self, system: String, value: String) -> Result<Option<wit::Party>> {
        let Ok(external) = ExternalId::parse(&format!("{system}:{value}")) else { return Ok(None) };
        let party = self.crm.read(|tx| tx.find_party_by_external_id(&external)).map_err(trap)?;
        Ok(party.filter(Party::is_live).map(|p| self.party_view(p)))
    }

    fn contact_points(&mut self, id: String) -> Result<Vec<wit::ContactPoint>> {
        let Some(party) = self.live_party(&id)? else { return Ok(Vec::new()) };
        Ok(party
            .contacts
            .iter()
            .map(|c| wit::ContactPoint {
                kind: c.kind.code().to_owned(),
                value: c.normalized.clone(),
                marketing_consent: c.allows("marketing"),
            })
            .collect())
    }

    fn relationships(&mut self, id: String) -> Result<Vec<wit::Relationship>> {
        let Ok(party) = id.parse::<PartyId>() else { return Ok(Vec::new()) };
        let relationships = self.crm.read(|tx| tx.relationships_of(party, None)).map_err(trap)?;
        Ok(relationships
            .into_iter()
            .map(|r| wit::Relationship {
                kind: r.kind,
                from_id: r.from.to_string(),
                to_id: r.to.to_string(),
            })
            .collect())
    }
}

impl bindings::plugin::sales::Host for State {
    fn cases_of(&mut self, party_id: String) -> Result<Vec<wit::CaseSummary>> {
        let Ok(party) = party_id.parse::<PartyId>() else { return Ok(Vec::new()) };
        let cases = self.crm.read(|tx| tx.cases(Some(party))).map_err(trap)?;
        Ok(cases
            .into_iter()
            .map(|c| wit::CaseSummary {
                id: c.id.to_string(),
                case_type: c.case_type.code().to_owned(),
                status: c.status.code().to_owned(),
                priority: c.priority.code().to_owned(),
                subject: c.subject,
                opened_at: c.opened_at.to_rfc3339(),
            })
            .collect())
    }

    fn orders_of(&mut self, party_id: String) -> Result<Vec<wit::OrderSummary>> {
        let Ok(party) = party_id.parse::<PartyId>() else { return Ok(Vec::new()) };
        self.crm
            .read(|tx| {
                tx.orders_of(party)?
                    .into_iter()
                    .map(|o| {
                        let mut categories = Vec::new();
                        for line in &o.lines {
                            if let Some(c) = tx.get_product(line.product_id)?.category
                                && !categories.contains(&c)
                            {
                                categories.push(c);
                            }
                        }
                        Ok(wit::OrderSummary {
                            id: o.id.to_string(),
                            status: o.status.code().to_owned(),
                            currency: o.currency.code().to_owned(),
                            revenue: o.revenue.amount_text(),
                            ordered_at: o.ordered_at.to_rfc3339(),
                            categories,
                        })
                    })
                    .collect()
            })
            .map_err(trap)
    }
}

fn instance_view(w: crm_core::WorkflowInstance) -> wit::WorkflowInstance {
    wit::WorkflowInstance {
        id: w.id.to_string(),
        workflow: w.workflow,
        entity: w.entity,
        entity_id: w.entity_id,
        state: w.state,
        data: w.data.to_string(),
    }
}

impl bindings::plugin::workflows::Host for State {
    fn get(&mut self, id: String) -> Result<Option<wit::WorkflowInstance>> {
        let Ok(id) = id.parse::<crm_core::WorkflowId>() else { return Ok(None) };
        match self.crm.read(|tx| tx.get_workflow(id)) {
            Ok(w) => Ok(Some(instance_view(w))),
            Err(crm_core::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(trap(e)),
        }
    }

    fn of_entity(
        &mut self,
        entity: String,
        entity_id: String,
    ) -> Result<Vec<wit::WorkflowInstance>> {
        let all = self.crm.read(|tx| tx.workflows_of(&entity, &entity_id)).map_err(trap)?;
        Ok(all.into_iter().map(instance_view).collect())
    }

    fn counts(&mut self, workflow: String) -> Result<Vec<(String, u64)>> {
        match self.crm.read(|tx| tx.workflow_counts(&workflow)) {
            Ok(counts) => Ok(counts),
            Err(crm_core::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(trap(e)),
        }
    }
}

impl bindings::plugin::documents::Host for State {
    fn get(&mut self, key: String) -> Result<Option<String>> {
        let value = self.crm.read(|tx| tx.document(&self.plugin, &key)).map_err(trap)?;
        Ok(value.map(|v| v.to_string()))
    }

    fn keys(&mut self, prefix: String) -> Result<Vec<String>> {
        self.crm.read(|tx| tx.document_keys(&self.plugin, &prefix)).map_err(trap)
    }
}
