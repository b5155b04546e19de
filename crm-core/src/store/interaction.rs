//! Interactions and tasks.

use chrono::{Days, NaiveDate};
use rusqlite::{Row, params};

use crate::Error;
use crate::model::{
    Interaction, InteractionId, Link, NewInteraction, NewTask, Page, PartyId, Task, TaskId,
    TaskStatus,
};
use crate::store::codec::{
    collect, get, get_opt_parsed, get_opt_time, get_parsed, get_time, stored_precision, time_text,
};
use crate::store::event::limit_param;
use crate::store::{Tx, Upserted};

const INTERACTION_COLUMNS: &str = "id, party_id, channel, direction, at, subject, body, outcome, \
                                   owner_id, link_entity, link_id, external_id, created_at";
const TASK_COLUMNS: &str =
    "id, title, party_id, assignee_id, due_at, notes, status, closed_at, created_at";

impl Tx<'_> {
    /// Records an interaction with a party and indexes its text for search.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown or deleted party or owner.
    /// - [`Error::Invalid`] for an empty subject.
    /// - [`Error::Conflict`] when the external id is already recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{Channel, Direction, NewInteraction, NewParty};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let at = "2026-03-01T09:30:00Z".parse().unwrap();
    /// crm.write(|tx| {
    ///     let party = tx.create_party(NewParty::person("刘洋"))?;
    ///     tx.record_interaction(
    ///         NewInteraction::new(party.id, Channel::WeChat, Direction::Inbound, at, "询问空调保养")
    ///             .with_outcome("已预约上门"),
    ///     )
    /// })?;
    /// assert_eq!(crm.read(|tx| tx.search("空调", 0, 10))?.total, 1);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn record_interaction(&mut self, new: NewInteraction) -> crate::Result<Interaction> {
        if let Some(external_id) = &new.external_id
            && self.find_interaction_by_external_id(external_id)?.is_some()
        {
            return Err(Error::conflict(format!(
                "interaction with external id {external_id} already exists"
            )));
        }
        self.record_new_interaction(new)
    }

    /// Inserts an interaction whose external id is known to be free.
    fn record_new_interaction(&mut self, new: NewInteraction) -> crate::Result<Interaction> {
        let interaction = self.insert_interaction(new)?;
        if interaction.direction == crate::model::Direction::Outbound
            && let Some(link) = &interaction.link
            && link.entity == "case"
        {
            self.note_case_contact(&link.id, interaction.at)?;
        }
        let after = serde_json::to_value(&interaction)?;
        self.record_event(
            "interaction",
            &interaction.id.to_string(),
            "interaction.recorded",
            None,
            Some(&after),
        )?;
        Ok(interaction)
    }

    /// Records the interaction unless one with the same external id exists,
    /// in which case that one is updated to match. Returns the interaction
    /// and what was done.
    ///
    /// # Errors
    ///
    /// As [`Tx::record_interaction`].
    pub fn upsert_interaction(
        &mut self,
        new: NewInteraction,
    ) -> crate::Result<(Interaction, Upserted)> {
        let existing = match &new.external_id {
            Some(external_id) => self.find_interaction_by_external_id(external_id)?,
            None => None,
        };
        let Some(before) = existing else {
            return Ok((self.record_new_interaction(new)?, Upserted::Created));
        };
        validate_interaction(self, &new)?;
        let changed = before.party_id != new.party_id
            || before.channel != new.channel
            || before.direction != new.direction
            || before.at != stored_precision(new.at)
            || before.subject != new.subject
            || before.body != new.body
            || before.outcome != new.outcome
            || before.owner != new.owner
            || before.link != new.link;
        if !changed {
            return Ok((before, Upserted::Unchanged));
        }
        self.conn.execute(
            "UPDATE interactions SET party_id = ?2, channel = ?3, direction = ?4, at = ?5,
                 subject = ?6, body = ?7, outcome = ?8, owner_id = ?9, link_entity = ?10, link_id = ?11
             WHERE id = ?1",
            params![
                before.id.to_string(),
                new.party_id.to_string(),
                new.channel.code(),
                new.direction.code(),
                time_text(&stored_precision(new.at)),
                new.subject,
                new.body,
                new.outcome,
                new.owner.map(|o| o.to_string()),
                new.link.as_ref().map(|l| l.entity.clone()),
                new.link.as_ref().map(|l| l.id.clone()),
            ],
        )?;
        self.reindex_interaction(before.id)?;
        let after = self.get_interaction(before.id)?;
        self.record_event(
            "interaction",
            &before.id.to_string(),
            "interaction.updated",
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok((after, Upserted::Updated))
    }

    /// One interaction.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_interaction(&self, id: InteractionId) -> crate::Result<Interaction> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions WHERE id = ?1"
        ))?;
        let mut found = collect(&mut stmt, params![id.to_string()], interaction_from_row)?;
        found.pop().ok_or_else(|| Error::not_found("interaction", id))
    }

    /// The interaction recorded with an external id.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn find_interaction_by_external_id(
        &self,
        external_id: &str,
    ) -> crate::Result<Option<Interaction>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions WHERE external_id = ?1"
        ))?;
        let mut found = collect(&mut stmt, params![external_id], interaction_from_row)?;
        Ok(found.pop())
    }

    /// A party's interactions, newest first, paged.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn interactions_of(
        &self,
        party: PartyId,
        offset: u64,
        limit: u64,
    ) -> crate::Result<Page<Interaction>> {
        let total: i64 = self.conn.query_row(
            "SELECT count(*) FROM interactions WHERE party_id = ?1",
            params![party.to_string()],
            |row| row.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions WHERE party_id = ?1
             ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let items = collect(
            &mut stmt,
            params![party.to_string(), limit_param(limit), limit_param(offset)],
            interaction_from_row,
        )?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
    }

    /// Schedules a task.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an empty title; [`Error::NotFound`] for an
    /// unknown or deleted party or assignee.
    pub fn create_task(&mut self, new: NewTask) -> crate::Result<Task> {
        if new.title.trim().is_empty() {
            return Err(Error::invalid("title", "must not be empty"));
        }
        if let Some(party) = new.party_id {
            self.require_live(party, "party")?;
        }
        if let Some(assignee) = new.assignee {
            self.require_live(assignee, "party")?;
        }
        let task = Task {
            id: TaskId::new(),
            title: new.title,
            party_id: new.party_id,
            assignee: new.assignee,
            due_at: stored_precision(new.due_at),
            notes: new.notes,
            status: TaskStatus::Open,
            closed_at: None,
            created_at: self.now,
        };
        self.conn.execute(
            "INSERT INTO tasks (id, title, party_id, assignee_id, due_at, notes, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                task.id.to_string(),
                task.title,
                task.party_id.map(|p| p.to_string()),
                task.assignee.map(|p| p.to_string()),
                time_text(&task.due_at),
                task.notes,
                task.status.code(),
                time_text(&task.created_at),
            ],
        )?;
        self.record_event(
            "task",
            &task.id.to_string(),
            "task.created",
            None,
            Some(&serde_json::to_value(&task)?),
        )?;
        Ok(task)
    }

    /// Marks an open task done.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown task; [`Error::Conflict`] when it is
    /// not open.
    pub fn complete_task(&mut self, id: TaskId) -> crate::Result<Task> {
        self.close_task(id, TaskStatus::Done)
    }

    /// Cancels an open task.
    ///
    /// # Errors
    ///
    /// As [`Tx::complete_task`].
    pub fn cancel_task(&mut self, id: TaskId) -> crate::Result<Task> {
        self.close_task(id, TaskStatus::Cancelled)
    }

    /// One task.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_task(&self, id: TaskId) -> crate::Result<Task> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"))?;
        let mut found = collect(&mut stmt, params![id.to_string()], task_from_row)?;
        found.pop().ok_or_else(|| Error::not_found("task", id))
    }

    /// The tasks about a party, by due time.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn tasks_of(&self, party: PartyId) -> crate::Result<Vec<Task>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE party_id = ?1 ORDER BY due_at, id"
        ))?;
        collect(&mut stmt, params![party.to_string()], task_from_row)
    }

    /// The calendar: tasks assigned to `assignee` due on the days `from`
    /// through `to` (UTC, both inclusive), by due time. Cancelled tasks are
    /// left out.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `to` is before `from`.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{NewParty, NewTask};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let due = "2026-05-04T10:00:00Z".parse().unwrap();
    /// let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
    /// let agenda = crm.write(|tx| {
    ///     let rep = tx.create_party(NewParty::person("Sales Rep"))?.id;
    ///     tx.create_task(NewTask::new("Call back", due).assigned_to(rep))?;
    ///     tx.agenda(rep, day, day)
    /// })?;
    /// assert_eq!(agenda[0].title, "Call back");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn agenda(
        &self,
        assignee: PartyId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> crate::Result<Vec<Task>> {
        if to < from {
            return Err(Error::invalid("to", format!("{to} is before {from}")));
        }
        let start = from.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let end = to
            .checked_add_days(Days::new(1))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        let (Some(start), Some(end)) = (start, end) else {
            return Err(Error::invalid("to", "date out of range"));
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks
             WHERE assignee_id = ?1 AND due_at >= ?2 AND due_at < ?3 AND status != 'cancelled'
             ORDER BY due_at, id"
        ))?;
        collect(
            &mut stmt,
            params![assignee.to_string(), time_text(&start), time_text(&end)],
            task_from_row,
        )
    }

    fn close_task(&mut self, id: TaskId, status: TaskStatus) -> crate::Result<Task> {
        let before = self.get_task(id)?;
        if before.status != TaskStatus::Open {
            return Err(Error::conflict(format!("task {id} is {}, not open", before.status)));
        }
        self.conn.execute(
            "UPDATE tasks SET status = ?2, closed_at = ?3 WHERE id = ?1",
            params![id.to_string(), status.code(), self.now_text.as_str()],
        )?;
        let after = self.get_task(id)?;
        let kind = if status == TaskStatus::Done { "task.completed" } else { "task.cancelled" };
        self.record_event(
            "task",
            &id.to_string(),
            kind,
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok(after)
    }

    fn insert_interaction(&mut self, new: NewInteraction) -> crate::Result<Interaction> {
        validate_interaction(self, &new)?;
        let interaction = Interaction {
            id: InteractionId::new(),
            party_id: new.party_id,
            channel: new.channel,
            direction: new.direction,
            at: stored_precision(new.at),
            subject: new.subject,
            body: new.body,
            outcome: new.outcome,
            owner: new.owner,
            link: new.link,
            external_id: new.external_id,
            created_at: self.now,
        };
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO interactions (id, party_id, channel, direction, at, subject, body, outcome,
                                       owner_id, link_entity, link_id, external_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        stmt.execute(params![
            interaction.id.to_string(),
            interaction.party_id.to_string(),
            interaction.channel.code(),
            interaction.direction.code(),
            time_text(&interaction.at),
            interaction.subject,
            interaction.body,
            interaction.outcome,
            interaction.owner.map(|o| o.to_string()),
            interaction.link.as_ref().map(|l| l.entity.clone()),
            interaction.link.as_ref().map(|l| l.id.clone()),
            interaction.external_id,
            time_text(&interaction.created_at),
        ])?;
        self.index_row(crate::store::search::IndexEntry::InteractionInserted(
            self.conn.last_insert_rowid(),
        ))?;
        Ok(interaction)
    }

    fn reindex_interaction(&self, id: InteractionId) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT rowid FROM interactions WHERE id = ?1")?;
        let rowid: i64 = stmt.query_row(params![id.to_string()], |row| row.get(0))?;
        self.index_row(crate::store::search::IndexEntry::Interaction(rowid))
    }
}

fn validate_interaction(tx: &Tx<'_>, new: &NewInteraction) -> crate::Result<()> {
    if new.subject.trim().is_empty() {
        return Err(Error::invalid("subject", "must not be empty"));
    }
    tx.require_live(new.party_id, "party")?;
    if let Some(owner) = new.owner {
        tx.require_live(owner, "owner")?;
    }
    if let Some(link) = &new.link
        && (link.entity.trim().is_empty() || link.id.trim().is_empty())
    {
        return Err(Error::invalid("link", "entity and id must not be empty"));
    }
    Ok(())
}

pub(crate) fn interaction_from_row(row: &Row<'_>) -> crate::Result<Interaction> {
    let link_entity: Option<String> = get(row, "link_entity")?;
    let link_id: Option<String> = get(row, "link_id")?;
    Ok(Interaction {
        id: get_parsed(row, "id")?,
        party_id: get_parsed(row, "party_id")?,
        channel: get_parsed(row, "channel")?,
        direction: get_parsed(row, "direction")?,
        at: get_time(row, "at")?,
        subject: get(row, "subject")?,
        body: get(row, "body")?,
        outcome: get(row, "outcome")?,
        owner: get_opt_parsed(row, "owner_id")?,
        link: match (link_entity, link_id) {
            (Some(entity), Some(id)) => Some(Link { entity, id }),
            _ => None,
        },
        external_id: get(row, "external_id")?,
        created_at: get_time(row, "created_at")?,
    })
}

pub(crate) fn task_from_row(row: &Row<'_>) -> crate::Result<Task> {
    Ok(Task {
        id: get_parsed(row, "id")?,
        title: get(row, "title")?,
        party_id: get_opt_parsed(row, "party_id")?,
        assignee: get_opt_parsed(row, "assignee_id")?,
        due_at: get_time(row, "due_at")?,
        notes: get(row, "notes")?,
        status: get_parsed(row, "status")?,
        closed_at: get_opt_time(row, "closed_at")?,
        created_at: get_time(row, "created_at")?,
    })
}
