//! Applying what a plugin asks for: every action checked against the
//! plugin's capabilities and applied through the library's own validation
//! (consent, events, audit), all in one transaction with the plugin as the
//! actor — or none.

use std::collections::BTreeSet;

use crm_core::{
    CaseType, Channel, ContactKind, Crm, LifecycleStage, NewCase, NewTask, PartyId, Priority,
    WorkflowId, WorkflowType,
};

use crate::Error;
use crate::host::wit::Action;
use crate::manifest::{Capability, Manifest};

/// The action's kind and the capability it needs.
fn needs(action: &Action) -> (&'static str, Capability) {
    match action {
        Action::CreateCase(_) => ("create-case", Capability::CasesWrite),
        Action::CreateTask(_) => ("create-task", Capability::TasksWrite),
        Action::SendMessage(_) => ("send-message", Capability::MessagesSend),
        Action::AddTag(_) => ("add-tag", Capability::PartiesWrite),
        Action::RemoveTag(_) => ("remove-tag", Capability::PartiesWrite),
        Action::SetStage(_) => ("set-stage", Capability::PartiesWrite),
        Action::SetField(_) => ("set-field", Capability::PartiesWrite),
        Action::AwardPoints(_) => ("award-points", Capability::PointsAward),
        Action::RegisterWorkflow(_) => ("register-workflow", Capability::Workflows),
        Action::StartWorkflow(_) => ("start-workflow", Capability::Workflows),
        Action::AdvanceWorkflow(_) => ("advance-workflow", Capability::Workflows),
        Action::PutDocument(_) => ("put-document", Capability::Documents),
    }
}

fn party(id: &str) -> crm_core::Result<PartyId> {
    id.parse()
}

fn json(text: &str, what: &str) -> crm_core::Result<serde_json::Value> {
    if text.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(text)
        .map_err(|e| crm_core::Error::Internal(format!("{what} is not JSON: {e}")))
}

/// Applies `actions` in one transaction, or none of them; `delivered`
/// moves the plugin's change-feed cursor in the same transaction (so an
/// event's actions are applied once).
pub(crate) fn apply(
    crm: &Crm,
    manifest: &Manifest,
    effective: &BTreeSet<Capability>,
    actions: Vec<Action>,
    delivered: Option<i64>,
) -> Result<(), Error> {
    if actions.is_empty() && delivered.is_none() {
        return Ok(());
    }
    let plugin = manifest.name.clone();
    let actor = manifest.actor();
    // The first refused action: (index, kind, reason).
    let mut refused: Option<(usize, &'static str, String)> = None;
    for (index, action) in actions.iter().enumerate() {
        let (kind, capability) = needs(action);
        if !effective.contains(&capability) {
            return Err(Error::InvalidAction {
                plugin,
                index,
                action: kind.to_owned(),
                reason: format!("needs capability `{capability}`, not granted"),
            });
        }
    }
    let result = crm.write_as(&actor, |tx| {
        for (index, action) in actions.into_iter().enumerate() {
            let (kind, _) = needs(&action);
            if let Err(error) = apply_one(tx, manifest, &actor, action) {
                refused = Some((index, kind, error.to_string()));
                return Err(error);
            }
        }
        if let Some(seq) = delivered {
            tx.set_plugin_cursor(&manifest.name, seq)?;
        }
        Ok(())
    });
    match (result, refused) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some((index, action, reason))) => {
            Err(Error::InvalidAction { plugin, index, action: action.to_owned(), reason })
        }
        (Err(error), None) => Err(Error::Crm(error)),
    }
}

fn apply_one(
    tx: &mut crm_core::Tx<'_>,
    manifest: &Manifest,
    actor: &str,
    action: Action,
) -> crm_core::Result<()> {
    match action {
        Action::CreateCase(c) => {
            let new = NewCase::new(
                party(&c.party_id)?,
                CaseType::from_code(&c.case_type)?,
                Priority::from_code(&c.priority)?,
                Channel::from_code(&c.channel)?,
                c.subject,
            );
            let new = match c.sla_policy {
                Some(policy) => new.with_sla(policy),
                None => new,
            };
            tx.open_case(new).map(|_| ())
        }
        Action::CreateTask(t) => {
            let due = chrono::DateTime::parse_from_rfc3339(&t.due_at)
                .map_err(|e| crm_core::Error::Internal(format!("due-at `{}`: {e}", t.due_at)))?
                .with_timezone(&chrono::Utc);
            tx.create_task(NewTask::new(t.title, due).about(party(&t.party_id)?)).map(|_| ())
        }
        Action::SendMessage(m) => tx
            .send_message(
                party(&m.party_id)?,
                ContactKind::from_code(&m.channel)?,
                &m.purpose,
                &m.content,
            )
            .map(|_| ()),
        Action::AddTag(t) => tx.add_tag(party(&t.party_id)?, &t.tag).map(|_| ()),
        Action::RemoveTag(t) => tx.remove_tag(party(&t.party_id)?, &t.tag).map(|_| ()),
        Action::SetStage(s) => tx
            .set_stage(party(&s.party_id)?, LifecycleStage::from_code(&s.stage)?, Some(actor))
            .map(|_| ()),
        Action::SetField(f) => {
            let def =
                tx.field_defs()?.into_iter().find(|d| d.name == f.field).ok_or_else(|| {
                    crm_core::Error::NotFound { entity: "field", id: f.field.clone() }
                })?;
            let value = def.parse(&f.value)?;
            tx.set_field(party(&f.party_id)?, &f.field, value).map(|_| ())
        }
        Action::AwardPoints(p) => {
            let id = party(&p.party_id)?;
            if p.points > 0 {
                tx.award_points(&p.program, id, p.points, &p.reason).map(|_| ())
            } else {
                tx.adjust_points(&p.program, id, p.points, &p.reason).map(|_| ())
            }
        }
        Action::RegisterWorkflow(w) => {
            let definition: WorkflowType = serde_json::from_str(&w.definition).map_err(|e| {
                crm_core::Error::Internal(format!("workflow definition is not valid: {e}"))
            })?;
            let prefix = format!("{}.", manifest.name);
            if !definition.name.starts_with(&prefix) {
                return Err(crm_core::Error::Internal(format!(
                    "workflow `{}` must be named `{prefix}…`",
                    definition.name
                )));
            }
            tx.register_workflow_type(actor, definition)
        }
        Action::StartWorkflow(w) => {
            owned(tx, &w.workflow, actor)?;
            tx.start_workflow(&w.workflow, &w.entity, &w.entity_id, json(&w.data, "data")?)
                .map(|_| ())
        }
        Action::AdvanceWorkflow(w) => {
            let id: WorkflowId = w.id.parse()?;
            let instance = tx.get_workflow(id)?;
            owned(tx, &instance.workflow, actor)?;
            tx.advance_workflow(id, &w.transition, json(&w.data, "data")?).map(|_| ())
        }
        Action::PutDocument(d) => {
            if d.value.is_empty() {
                tx.delete_document(&manifest.name, &d.key).map(|_| ())
            } else {
                tx.put_document(&manifest.name, &d.key, &json(&d.value, "value")?)
            }
        }
    }
}

/// A plugin moves only its own workflows.
fn owned(tx: &crm_core::Tx<'_>, workflow: &str, actor: &str) -> crm_core::Result<()> {
    let (_, owner) = tx.workflow_type(workflow)?;
    if owner != actor {
        return Err(crm_core::Error::Internal(format!(
            "workflow `{workflow}` belongs to `{owner}`"
        )));
    }
    Ok(())
}
