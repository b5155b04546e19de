//! Workflows (types as data, instances, history) and namespaced documents.

use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::{WorkflowId, WorkflowInstance, WorkflowStep, WorkflowType};
use crate::store::Tx;
use crate::store::codec::{collect, get, get_parsed, get_time};

const INSTANCE_COLUMNS: &str =
    "id, workflow, entity, entity_id, state, data, created_at, updated_at";

fn instance_from_row(row: &rusqlite::Row<'_>) -> crate::Result<WorkflowInstance> {
    Ok(WorkflowInstance {
        id: get_parsed(row, "id")?,
        workflow: get(row, "workflow")?,
        entity: get(row, "entity")?,
        entity_id: get(row, "entity_id")?,
        state: get(row, "state")?,
        data: json(&get::<String>(row, "data")?, "workflow_instances.data")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn json(text: &str, column: &str) -> crate::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("{column}: {e}")))
}

/// Merges `step` (an object) into `data` (an object).
fn merge_data(data: &mut serde_json::Value, step: &serde_json::Value) -> crate::Result<()> {
    let serde_json::Value::Object(step) = step else {
        return Err(Error::invalid("data", "workflow data must be a JSON object"));
    };
    if let serde_json::Value::Object(into) = data {
        for (k, v) in step {
            into.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

impl Tx<'_> {
    /// Registers a workflow type owned by `owner` (a plugin name, or
    /// `app`). Registering again by the same owner replaces the definition
    /// as long as every state an instance is in still exists.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad definition; [`Error::Conflict`] when
    /// another owner has the name, or a state in use would disappear.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{NewParty, WorkflowType};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let state = crm.write(|tx| {
    ///     tx.register_workflow_type(
    ///         "app",
    ///         WorkflowType::new("visit", &["planned", "done", "cancelled"])
    ///             .with_transition("complete", &["planned"], "done")
    ///             .requiring(&["notes"])
    ///             .with_transition("cancel", &["planned"], "cancelled"),
    ///     )?;
    ///     let p = tx.create_party(NewParty::person("Zhou"))?;
    ///     let visit = tx.start_workflow("visit", "party", &p.id.to_string(), serde_json::json!({}))?;
    ///     assert!(tx.advance_workflow(visit.id, "complete", serde_json::json!({})).is_err());
    ///     Ok(tx.advance_workflow(visit.id, "complete", serde_json::json!({ "notes": "ok" }))?.state)
    /// })?;
    /// assert_eq!(state, "done");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn register_workflow_type(
        &mut self,
        owner: &str,
        workflow: WorkflowType,
    ) -> crate::Result<()> {
        workflow.validate()?;
        if owner.trim().is_empty() {
            return Err(Error::invalid("owner", "a workflow type needs an owner"));
        }
        let existing: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT owner, definition FROM workflow_types WHERE name = ?1")?
            .query_row(params![workflow.name], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let definition = serde_json::to_string(&workflow)?;
        match existing {
            Some((other, _)) if other != owner => {
                return Err(Error::conflict(format!(
                    "workflow type `{}` belongs to `{other}`",
                    workflow.name
                )));
            }
            Some((_, old)) => {
                if old == definition {
                    return Ok(());
                }
                let mut stmt = self.conn.prepare_cached(
                    "SELECT DISTINCT state FROM workflow_instances WHERE workflow = ?1",
                )?;
                let used: Vec<String> =
                    collect(&mut stmt, params![workflow.name], |row| get(row, "state"))?;
                if let Some(state) = used.iter().find(|s| !workflow.states.contains(s)) {
                    return Err(Error::conflict(format!(
                        "instances of `{}` are in state `{state}`, which the new definition drops",
                        workflow.name
                    )));
                }
                self.conn.execute(
                    "UPDATE workflow_types SET definition = ?2, updated_at = ?3 WHERE name = ?1",
                    params![workflow.name, definition, self.now_text.as_str()],
                )?;
            }
            None => {
                self.conn.execute(
                    "INSERT INTO workflow_types (name, owner, definition, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![workflow.name, owner, definition, self.now_text.as_str()],
                )?;
            }
        }
        self.record_event(
            "workflow_type",
            &workflow.name,
            "workflow.type_registered",
            None,
            Some(&serde_json::json!({ "owner": owner, "definition": workflow })),
        )?;
        Ok(())
    }

    /// A workflow type and its owner.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown name.
    pub fn workflow_type(&self, name: &str) -> crate::Result<(WorkflowType, String)> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT owner, definition FROM workflow_types WHERE name = ?1")?
            .query_row(params![name], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let (owner, definition) = row.ok_or_else(|| Error::not_found("workflow type", name))?;
        let workflow = serde_json::from_str(&definition)
            .map_err(|e| Error::Internal(format!("workflow_types.definition: {e}")))?;
        Ok((workflow, owner))
    }

    /// Starts a workflow on an entity, in the type's initial state. A
    /// `party`, `order` or `case` must exist; other kinds are the caller's
    /// own (e.g. a plugin's `unit`).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown type or entity;
    /// [`Error::Invalid`] when `data` is not a JSON object.
    pub fn start_workflow(
        &mut self,
        workflow: &str,
        entity: &str,
        entity_id: &str,
        data: serde_json::Value,
    ) -> crate::Result<WorkflowInstance> {
        let (definition, _) = self.workflow_type(workflow)?;
        self.require_entity(entity, entity_id)?;
        let mut state = serde_json::json!({});
        merge_data(&mut state, &data)?;
        let id = WorkflowId::new();
        self.conn.execute(
            "INSERT INTO workflow_instances (id, workflow, entity, entity_id, state, data, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![
                id.to_string(),
                workflow,
                entity,
                entity_id,
                definition.initial,
                state.to_string(),
                self.now_text.as_str()
            ],
        )?;
        self.append_step(id, "start", None, &definition.initial, &data)?;
        let instance = self.get_workflow(id)?;
        self.record_event(
            "workflow",
            &id.to_string(),
            "workflow.started",
            None,
            Some(&serde_json::to_value(&instance)?),
        )?;
        Ok(instance)
    }

    fn require_entity(&self, entity: &str, id: &str) -> crate::Result<()> {
        let table = match entity {
            "party" => "parties",
            "order" => "orders",
            "case" => "cases",
            "" => return Err(Error::invalid("entity", "a workflow belongs to an entity")),
            _ => return Ok(()),
        };
        let found: Option<i64> = self
            .conn
            .prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))?
            .query_row(params![id], |row| row.get(0))
            .optional()?;
        if found.is_none() {
            return Err(Error::NotFound {
                entity: match entity {
                    "party" => "party",
                    "order" => "order",
                    _ => "case",
                },
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    fn append_step(
        &self,
        id: WorkflowId,
        transition: &str,
        from: Option<&str>,
        to: &str,
        data: &serde_json::Value,
    ) -> crate::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO workflow_history (instance, transition, from_state, to_state, actor, at, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id.to_string(),
                transition,
                from,
                to,
                self.actor,
                self.now_text.as_str(),
                data.to_string()
            ])?;
        Ok(())
    }

    /// Takes a transition on behalf of the transaction's actor, merging
    /// `data` into the instance's data.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown instance; [`Error::Invalid`] for
    /// an unknown transition, one not allowed from the current state or for
    /// this actor, or missing required data (naming the keys).
    pub fn advance_workflow(
        &mut self,
        id: WorkflowId,
        transition: &str,
        data: serde_json::Value,
    ) -> crate::Result<WorkflowInstance> {
        let before = self.get_workflow(id)?;
        let (definition, _) = self.workflow_type(&before.workflow)?;
        let Some(t) = definition.transition(transition) else {
            let known: Vec<&str> = definition.transitions.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::invalid(
                "transition",
                format!(
                    "`{transition}` is not a transition of `{}` (known: {})",
                    before.workflow,
                    known.join(", ")
                ),
            ));
        };
        if !t.from.contains(&before.state) {
            return Err(Error::invalid(
                "transition",
                format!(
                    "`{transition}` cannot be taken from `{}` (only from {})",
                    before.state,
                    t.from.join(", ")
                ),
            ));
        }
        if !t.allows(&self.actor) {
            return Err(Error::invalid(
                "actor",
                format!(
                    "`{}` may not take `{transition}` (allowed: {})",
                    self.actor,
                    t.actors.join(", ")
                ),
            ));
        }
        let mut merged = before.data.clone();
        merge_data(&mut merged, &data)?;
        let missing: Vec<&str> = t
            .required
            .iter()
            .filter(|k| merged.get(k.as_str()).is_none_or(serde_json::Value::is_null))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid(
                "data",
                format!("`{transition}` needs {}", missing.join(", ")),
            ));
        }
        self.conn.execute(
            "UPDATE workflow_instances SET state = ?2, data = ?3, updated_at = ?4 WHERE id = ?1",
            params![id.to_string(), t.to, merged.to_string(), self.now_text.as_str()],
        )?;
        self.append_step(id, transition, Some(&before.state), &t.to, &data)?;
        let after = self.get_workflow(id)?;
        self.record_event(
            "workflow",
            &id.to_string(),
            "workflow.advanced",
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok(after)
    }

    /// A workflow instance.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown id.
    pub fn get_workflow(&self, id: WorkflowId) -> crate::Result<WorkflowInstance> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM workflow_instances WHERE id = ?1"
        ))?;
        collect(&mut stmt, params![id.to_string()], instance_from_row)?
            .pop()
            .ok_or_else(|| Error::not_found("workflow", id))
    }

    /// The workflows on an entity, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn workflows_of(
        &self,
        entity: &str,
        entity_id: &str,
    ) -> crate::Result<Vec<WorkflowInstance>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM workflow_instances WHERE entity = ?1 AND entity_id = ?2
             ORDER BY created_at, id"
        ))?;
        collect(&mut stmt, params![entity, entity_id], instance_from_row)
    }

    /// How many instances of a workflow type are in each state, in the
    /// type's order of states.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown type.
    pub fn workflow_counts(&self, workflow: &str) -> crate::Result<Vec<(String, u64)>> {
        let (definition, _) = self.workflow_type(workflow)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, count(*) AS n FROM workflow_instances WHERE workflow = ?1 GROUP BY state",
        )?;
        let counts: std::collections::HashMap<String, i64> =
            collect(&mut stmt, params![workflow], |row| Ok((get(row, "state")?, get(row, "n")?)))?
                .into_iter()
                .collect();
        Ok(definition
            .states
            .iter()
            .map(|s| (s.clone(), counts.get(s).copied().unwrap_or(0).unsigned_abs()))
            .collect())
    }

    /// The steps of a workflow, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown id.
    pub fn workflow_history(&self, id: WorkflowId) -> crate::Result<Vec<WorkflowStep>> {
        self.get_workflow(id)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT transition, from_state, to_state, actor, at, data FROM workflow_history
             WHERE instance = ?1 ORDER BY id",
        )?;
        collect(&mut stmt, params![id.to_string()], |row| {
            Ok(WorkflowStep {
                transition: get(row, "transition")?,
                from: get(row, "from_state")?,
                to: get(row, "to_state")?,
                actor: get(row, "actor")?,
                at: get_time(row, "at")?,
                data: json(&get::<String>(row, "data")?, "workflow_history.data")?,
            })
        })
    }

    /// Stores a document under a namespace (a plugin's name) and key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an empty namespace or key.
    pub fn put_document(
        &mut self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> crate::Result<()> {
        if namespace.trim().is_empty() || key.trim().is_empty() {
            return Err(Error::invalid("key", "a document needs a namespace and a key"));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO documents (namespace, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![namespace, key, value.to_string(), self.now_text.as_str()])?;
        Ok(())
    }

    /// A document, if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn document(&self, namespace: &str, key: &str) -> crate::Result<Option<serde_json::Value>> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM documents WHERE namespace = ?1 AND key = ?2")?
            .query_row(params![namespace, key], |row| row.get(0))
            .optional()?;
        text.map(|t| json(&t, "documents.value")).transpose()
    }

    /// The keys of a namespace that start with `prefix`, in order.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn document_keys(&self, namespace: &str, prefix: &str) -> crate::Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key FROM documents WHERE namespace = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
        )?;
        collect(&mut stmt, params![namespace, prefix], |row| get(row, "key"))
    }

    /// Deletes a document; `false` when there was none.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn delete_document(&mut self, namespace: &str, key: &str) -> crate::Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM documents WHERE namespace = ?1 AND key = ?2")?
            .execute(params![namespace, key])?
            > 0)
    }
}
