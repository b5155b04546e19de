//! Working calendars, SLA policies and service cases.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use crate::Error;
use crate::model::calendar::calendar_from_parts;
use crate::model::{
    Case, CaseId, CaseStatus, CaseTransition, CaseType, ChurnReason, DayRule, FieldValue,
    InteractionId, NewCase, PartyId, Priority, SlaBreach, SlaClock, SlaPolicy, SlaTarget,
    WorkingCalendar, WorkingHours,
};
use crate::store::codec::{
    collect, date_text, get, get_opt_parsed, get_opt_time, get_parsed, get_time, parse_date,
    stored_precision, time_text,
};
use crate::store::order::codes;
use crate::store::{Tx, Upserted};

pub(crate) const CASE_COLUMNS: &str = "id, external_id, party_id, case_type, priority, channel, subject, \
     description, category, assignee_id, status, sla_policy, tier, opened_at, first_response_at, \
     first_response_due, resolution_due, resolved_at, closed_at, satisfaction, churn_reason, \
     interaction_id, escalations, created_at, updated_at";

impl Tx<'_> {
    /// Creates or replaces a working calendar.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the calendar has no working hours in its week
    /// or overlapping hours.
    pub fn save_calendar(&mut self, calendar: WorkingCalendar) -> crate::Result<()> {
        calendar.validate()?;
        let before = self.find_calendar(&calendar.code)?;
        self.conn.execute(
            "INSERT INTO calendars (code, time_zone, week, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (code) DO UPDATE SET time_zone = excluded.time_zone, week = excluded.week",
            params![
                calendar.code,
                calendar.time_zone,
                serde_json::to_string(&calendar.week)?,
                self.now_text.as_str()
            ],
        )?;
        self.conn
            .execute("DELETE FROM calendar_days WHERE calendar = ?1", params![calendar.code])?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO calendar_days (calendar, day, hours) VALUES (?1, ?2, ?3)",
        )?;
        for (day, rule) in &calendar.exceptions {
            let hours = match rule {
                DayRule::Holiday => None,
                DayRule::Working(hours) => Some(serde_json::to_string(hours)?),
            };
            stmt.execute(params![calendar.code, date_text(day), hours])?;
        }
        self.record_saved("calendar", &calendar.code, before.as_ref(), &calendar)?;
        Ok(())
    }

    /// A working calendar.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn calendar(&self, code: &str) -> crate::Result<WorkingCalendar> {
        self.find_calendar(code)?.ok_or_else(|| Error::not_found("calendar", code))
    }

    fn find_calendar(&self, code: &str) -> crate::Result<Option<WorkingCalendar>> {
        let found: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT time_zone, week FROM calendars WHERE code = ?1")?
            .query_row(params![code], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((time_zone, week)) = found else { return Ok(None) };
        let week: [Vec<WorkingHours>; 7] = serde_json::from_str(&week)
            .map_err(|e| Error::Internal(format!("calendars.week of {code}: {e}")))?;
        let mut stmt =
            self.conn.prepare_cached("SELECT day, hours FROM calendar_days WHERE calendar = ?1")?;
        let days = collect(&mut stmt, params![code], |row| {
            let day = parse_date(&get::<String>(row, "day")?, "calendar_days.day")?;
            let rule = match get::<Option<String>>(row, "hours")? {
                None => DayRule::Holiday,
                Some(hours) => DayRule::Working(
                    serde_json::from_str(&hours)
                        .map_err(|e| Error::Internal(format!("calendar_days.hours: {e}")))?,
                ),
            };
            Ok((day, rule))
        })?;
        Ok(Some(calendar_from_parts(
            code.to_owned(),
            &time_zone,
            week,
            days.into_iter().collect(),
        )?))
    }

    /// Creates or replaces an SLA policy.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] for a policy without a calendar, a target that is
    ///   not positive, or two targets for one priority and tier.
    /// - [`Error::NotFound`] when the calendar does not exist.
    pub fn save_sla_policy(&mut self, policy: SlaPolicy) -> crate::Result<()> {
        policy.validate()?;
        self.calendar(&policy.calendar)?;
        let before = self.find_sla_policy(&policy.code)?;
        self.conn.execute(
            "INSERT INTO sla_policies (code, name, calendar, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, calendar = excluded.calendar",
            params![policy.code, policy.name, policy.calendar, self.now_text.as_str()],
        )?;
        self.conn.execute("DELETE FROM sla_targets WHERE policy = ?1", params![policy.code])?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO sla_targets (policy, priority, tier, first_response_minutes, resolution_minutes)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for target in &policy.targets {
            stmt.execute(params![
                policy.code,
                target.priority.code(),
                target.tier.as_deref().unwrap_or(""),
                target.first_response_minutes,
                target.resolution_minutes
            ])?;
        }
        self.record_saved("sla_policy", &policy.code, before.as_ref(), &policy)?;
        Ok(())
    }

    /// An SLA policy.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn sla_policy(&self, code: &str) -> crate::Result<SlaPolicy> {
        self.find_sla_policy(code)?.ok_or_else(|| Error::not_found("sla_policy", code))
    }

    fn find_sla_policy(&self, code: &str) -> crate::Result<Option<SlaPolicy>> {
        let found: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT name, calendar FROM sla_policies WHERE code = ?1")?
            .query_row(params![code], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((name, calendar)) = found else { return Ok(None) };
        let mut stmt = self.conn.prepare_cached(
            "SELECT priority, tier, first_response_minutes, resolution_minutes FROM sla_targets
             WHERE policy = ?1 ORDER BY priority, tier",
        )?;
        let targets = collect(&mut stmt, params![code], |row| {
            let tier: String = get(row, "tier")?;
            Ok(SlaTarget {
                priority: get_parsed(row, "priority")?,
                tier: (!tier.is_empty()).then_some(tier),
                first_response_minutes: get(row, "first_response_minutes")?,
                resolution_minutes: get(row, "resolution_minutes")?,
            })
        })?;
        Ok(Some(SlaPolicy { code: code.to_owned(), name, calendar, targets }))
    }

    /// Opens a case. Its SLA policy is the one named, else the policy
    /// `default` if there is one; its tier the one given, else the party's
    /// `tier` custom field. Due times are computed in business time on the
    /// policy's calendar.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown or deleted party or assignee, an
    ///   unknown SLA policy or interaction.
    /// - [`Error::Invalid`] for an empty subject.
    /// - [`Error::Conflict`] when the external id is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use crm_core::{CaseType, Channel, NewCase, NewParty, Priority, SlaPolicy, WorkingCalendar};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let case = crm.write(|tx| {
    ///     tx.save_calendar(WorkingCalendar::new("cn", "Asia/Shanghai")?.with_weekdays(&["09:00-18:00"])?)?;
    ///     tx.save_sla_policy(SlaPolicy::new("default", "Standard", "cn").with_target(Priority::High, None, Some(60), Some(480)))?;
    ///     let owner = tx.create_party(NewParty::person("王芳"))?;
    ///     // Friday 17:30 Beijing time.
    ///     let at = Utc.with_ymd_and_hms(2026, 3, 6, 9, 30, 0).unwrap();
    ///     tx.open_case(NewCase::new(owner.id, CaseType::Repair, Priority::High, Channel::WeChat, "空调不制冷").opened_at(at))
    /// })?;
    /// // 30 business minutes on Friday, 30 on Monday from 09:00 Beijing.
    /// assert_eq!(case.first_response_due, Some(Utc.with_ymd_and_hms(2026, 3, 9, 1, 30, 0).unwrap()));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn open_case(&mut self, new: NewCase) -> crate::Result<Case> {
        if let Some(external_id) = &new.external_id
            && self.find_case_by_external_id(external_id)?.is_some()
        {
            return Err(Error::conflict(format!(
                "case with external id {external_id} already exists"
            )));
        }
        let plan = self.plan_case(&new)?;
        let id = CaseId::new();
        self.conn.execute(
            "INSERT INTO cases (id, external_id, party_id, case_type, priority, channel, subject,
                 description, category, assignee_id, status, sla_policy, tier, opened_at,
                 first_response_due, resolution_due, interaction_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'new', ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)",
            params![
                id.to_string(),
                new.external_id,
                new.party_id.to_string(),
                new.case_type.code(),
                new.priority.code(),
                new.channel.code(),
                new.subject.trim(),
                new.description,
                new.category,
                new.assignee.map(|a| a.to_string()),
                plan.policy,
                plan.tier,
                time_text(&plan.opened_at),
                plan.first_response_due.as_ref().map(time_text),
                plan.resolution_due.as_ref().map(time_text),
                new.interaction.map(|i| i.to_string()),
                self.now_text.as_str(),
            ],
        )?;
        self.write_case_history(id, None, CaseStatus::New, plan.opened_at, None)?;
        let case = self.get_case(id)?;
        self.record_event(
            "case",
            &id.to_string(),
            "case.opened",
            None,
            Some(&serde_json::to_value(&case)?),
        )?;
        Ok(case)
    }

    /// Checks a new case and works out its policy, tier and due times.
    fn plan_case(&self, new: &NewCase) -> crate::Result<CasePlan> {
        if new.subject.trim().is_empty() {
            return Err(Error::invalid("subject", "a case needs a subject"));
        }
        self.require_live(new.party_id, "party")?;
        if let Some(assignee) = new.assignee {
            self.require_live(assignee, "assignee")?;
        }
        if let Some(interaction) = new.interaction {
            self.get_interaction(interaction)?;
        }
        let opened_at = stored_precision(new.opened_at.unwrap_or(self.now));
        let policy = match &new.sla_policy {
            Some(code) => Some(self.sla_policy(code)?),
            None => self.find_sla_policy("default")?,
        };
        let tier = match &new.tier {
            Some(tier) => Some(tier.clone()),
            None => match self.get_party(new.party_id)?.fields.get("tier") {
                Some(FieldValue::Text(t) | FieldValue::Enum(t)) => Some(t.clone()),
                _ => None,
            },
        };
        let mut plan = CasePlan {
            policy: policy.as_ref().map(|p| p.code.clone()),
            tier,
            opened_at,
            first_response_due: None,
            resolution_due: None,
        };
        if let Some(policy) = policy
            && let Some(target) = policy.target(new.priority, plan.tier.as_deref())
        {
            let calendar = self.calendar(&policy.calendar)?;
            plan.first_response_due = target
                .first_response_minutes
                .map(|m| calendar.add_business_minutes(opened_at, m))
                .transpose()?;
            plan.resolution_due = target
                .resolution_minutes
                .map(|m| calendar.add_business_minutes(opened_at, m))
                .transpose()?;
        }
        Ok(plan)
    }

    /// Opens a case from an interaction: its party, channel, time and
    /// subject; the case links back to it.
    ///
    /// # Errors
    ///
    /// As [`Tx::open_case`].
    pub fn case_from_interaction(
        &mut self,
        interaction: InteractionId,
        case_type: CaseType,
        priority: Priority,
    ) -> crate::Result<Case> {
        let source = self.get_interaction(interaction)?;
        let mut new =
            NewCase::new(source.party_id, case_type, priority, source.channel, source.subject);
        new.description = source.body;
        new.opened_at = Some(source.at);
        new.interaction = Some(interaction);
        self.open_case(new)
    }

    /// Opens the case, or updates the one with the same external id
    /// (subject, description, category, priority, assignee). Its status is
    /// left to [`Tx::set_case_status`].
    ///
    /// # Errors
    ///
    /// As [`Tx::open_case`].
    pub fn upsert_case(&mut self, new: NewCase) -> crate::Result<(Case, Upserted)> {
        let existing = match &new.external_id {
            Some(id) => self.find_case_by_external_id(id)?,
            None => None,
        };
        let Some(before) = existing else {
            return Ok((self.open_case(new)?, Upserted::Created));
        };
        self.plan_case(&new)?;
        if before.party_id == new.party_id
            && before.subject == new.subject.trim()
            && before.description == new.description
            && before.category == new.category
            && before.priority == new.priority
            && before.case_type == new.case_type
            && before.assignee == new.assignee
        {
            return Ok((before, Upserted::Unchanged));
        }
        if before.party_id != new.party_id {
            return Err(Error::conflict(format!(
                "case {} belongs to another party",
                new.external_id.as_deref().unwrap_or_default()
            )));
        }
        self.conn.execute(
            "UPDATE cases SET subject = ?2, description = ?3, category = ?4, priority = ?5,
                 case_type = ?6, assignee_id = ?7, updated_at = ?8 WHERE id = ?1",
            params![
                before.id.to_string(),
                new.subject.trim(),
                new.description,
                new.category,
                new.priority.code(),
                new.case_type.code(),
                new.assignee.map(|a| a.to_string()),
                self.now_text.as_str()
            ],
        )?;
        let after = self.get_case(before.id)?;
        self.record_event(
            "case",
            &before.id.to_string(),
            "case.updated",
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok((after, Upserted::Updated))
    }

    /// One case.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_case(&self, id: CaseId) -> crate::Result<Case> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"))?;
        let found =
            stmt.query_row(params![id.to_string()], |row| Ok(case_from_row(row))).optional()?;
        found.ok_or_else(|| Error::not_found("case", id))?
    }

    /// The case with an external id, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn find_case_by_external_id(&self, external_id: &str) -> crate::Result<Option<Case>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE external_id = ?1"))?;
        let found =
            stmt.query_row(params![external_id], |row| Ok(case_from_row(row))).optional()?;
        found.transpose()
    }

    /// A party's cases, or every case, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn cases(&self, party: Option<PartyId>) -> crate::Result<Vec<Case>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE ?1 IS NULL OR party_id = ?1 ORDER BY opened_at, id"
        ))?;
        collect(&mut stmt, params![party.map(|p| p.to_string())], case_from_row)
    }

    /// The status changes of a case, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn case_history(&self, id: CaseId) -> crate::Result<Vec<CaseTransition>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT from_status, to_status, at, actor, note FROM case_history WHERE case_id = ?1 ORDER BY id",
        )?;
        collect(&mut stmt, params![id.to_string()], |row| {
            Ok(CaseTransition {
                from: get_opt_parsed(row, "from_status")?,
                to: get_parsed(row, "to_status")?,
                at: get_time(row, "at")?,
                actor: get(row, "actor")?,
                note: get(row, "note")?,
            })
        })
    }

    fn write_case_history(
        &self,
        id: CaseId,
        from: Option<CaseStatus>,
        to: CaseStatus,
        at: DateTime<Utc>,
        note: Option<&str>,
    ) -> crate::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO case_history (case_id, from_status, to_status, at, actor, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id.to_string(),
                from.map(|f| f.code()),
                to.code(),
                time_text(&at),
                self.actor,
                note
            ])?;
        Ok(())
    }

    /// Moves a case along its status machine (see
    /// [`CaseStatus::can_become`]) at the transaction's time.
    ///
    /// SLA clocks pause while the case waits on the customer: entering
    /// `waiting` keeps the business minutes left, leaving it sets new due
    /// times that many business minutes later (a clock already past due is
    /// not paused). Resolving stops both clocks (it also counts as the
    /// first response if none was recorded); reopening restarts the
    /// resolution clock with the business time that was left.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown case.
    /// - [`Error::Invalid`] on `status` for a transition the machine does
    ///   not allow.
    pub fn set_case_status(
        &mut self,
        id: CaseId,
        to: CaseStatus,
        note: Option<&str>,
    ) -> crate::Result<Case> {
        let before = self.get_case(id)?;
        if !before.status.can_become(to) {
            return Err(Error::invalid(
                "status",
                format!(
                    "case {id} cannot go from {} to {to} (allowed: {})",
                    before.status,
                    codes(before.status.next())
                ),
            ));
        }
        let now = self.now;
        let calendar = self.case_calendar(&before)?;
        let key = id.to_string();
        let business_left = |due: Option<DateTime<Utc>>| -> Option<i64> {
            match (due, &calendar) {
                (Some(due), Some(calendar)) if due > now => {
                    Some(calendar.business_minutes(now, due))
                }
                _ => None,
            }
        };
        let resume = |left: Option<i64>| -> crate::Result<Option<String>> {
            match (left, &calendar) {
                (Some(left), Some(calendar)) => {
                    Ok(Some(time_text(&calendar.add_business_minutes(now, left.max(0))?)))
                }
                _ => Ok(None),
            }
        };
        // Work out every change before the first write.
        let (first_left, resolution_left): (Option<i64>, Option<i64>) = self
            .conn
            .prepare_cached("SELECT first_response_left, resolution_left FROM cases WHERE id = ?1")?
            .query_row(params![key], |row| Ok((row.get(0)?, row.get(1)?)))?;
        let mut first_due = before.first_response_due.as_ref().map(time_text);
        let mut resolution_due = before.resolution_due.as_ref().map(time_text);
        let (mut first_keep, mut resolution_keep) = (first_left, resolution_left);
        if before.status == CaseStatus::Waiting {
            if first_left.is_some() {
                first_due = resume(first_left)?;
                first_keep = None;
            }
            if resolution_left.is_some() {
                resolution_due = resume(resolution_left)?;
                resolution_keep = None;
            }
        }
        match to {
            CaseStatus::Waiting => {
                if before.first_response_at.is_none()
                    && let Some(left) = business_left(before.first_response_due)
                {
                    first_keep = Some(left);
                    first_due = None;
                }
                if let Some(left) = business_left(before.resolution_due) {
                    resolution_keep = Some(left);
                    resolution_due = None;
                }
            }
            CaseStatus::Reopened => {
                // The resolution clock restarts with the time left at resolution.
                if let (Some(resolved), Some(due), Some(calendar)) =
                    (before.resolved_at, before.resolution_due, &calendar)
                    && due > resolved
                {
                    let left = calendar.business_minutes(resolved, due);
                    resolution_due = Some(time_text(&calendar.add_business_minutes(now, left)?));
                }
            }
            _ => {}
        }
        let first_response_at = match (to, before.first_response_at) {
            (CaseStatus::Resolved, None) => Some(self.now_text.clone()),
            (_, at) => at.as_ref().map(time_text),
        };
        let resolved_at = match to {
            CaseStatus::Resolved => Some(self.now_text.clone()),
            CaseStatus::Reopened => None,
            _ => before.resolved_at.as_ref().map(time_text),
        };
        let closed_at = match to {
            CaseStatus::Closed => Some(self.now_text.clone()),
            CaseStatus::Reopened => None,
            _ => before.closed_at.as_ref().map(time_text),
        };
        self.conn.execute(
            "UPDATE cases SET status = ?2, first_response_at = ?3, first_response_due = ?4,
                 first_response_left = ?5, resolution_due = ?6, resolution_left = ?7,
                 resolved_at = ?8, closed_at = ?9, updated_at = ?10 WHERE id = ?1",
            params![
                key,
                to.code(),
                first_response_at,
                first_due,
                first_keep,
                resolution_due,
                resolution_keep,
                resolved_at,
                closed_at,
                self.now_text.as_str()
            ],
        )?;
        self.write_case_history(id, Some(before.status), to, now, note)?;
        let after = self.get_case(id)?;
        self.record_event(
            "case",
            &key,
            "case.status_changed",
            Some(&serde_json::json!({ "status": before.status })),
            Some(&serde_json::json!({ "status": to, "note": note })),
        )?;
        Ok(after)
    }

    fn case_calendar(&self, case: &Case) -> crate::Result<Option<WorkingCalendar>> {
        match &case.sla_policy {
            None => Ok(None),
            Some(code) => Ok(Some(self.calendar(&self.sla_policy(code)?.calendar)?)),
        }
    }

    /// Records the first response to the customer (the first call counts;
    /// later ones change nothing). An outbound interaction linked to the
    /// case (`Link { entity: "case", … }`) records it too.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown case.
    pub fn respond_to_case(
        &mut self,
        id: CaseId,
        at: Option<DateTime<Utc>>,
    ) -> crate::Result<Case> {
        let before = self.get_case(id)?;
        if before.first_response_at.is_some() {
            return Ok(before);
        }
        let at = stored_precision(at.unwrap_or(self.now));
        self.conn.execute(
            "UPDATE cases SET first_response_at = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), time_text(&at), self.now_text.as_str()],
        )?;
        let after = self.get_case(id)?;
        self.record_event(
            "case",
            &id.to_string(),
            "case.responded",
            None,
            Some(&serde_json::json!({ "first_response_at": after.first_response_at })),
        )?;
        Ok(after)
    }

    /// Assigns a case.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown case or assignee.
    pub fn assign_case(&mut self, id: CaseId, assignee: PartyId) -> crate::Result<Case> {
        let before = self.get_case(id)?;
        self.require_live(assignee, "assignee")?;
        self.conn.execute(
            "UPDATE cases SET assignee_id = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), assignee.to_string(), self.now_text.as_str()],
        )?;
        let after = self.get_case(id)?;
        self.record_event(
            "case",
            &id.to_string(),
            "case.assigned",
            Some(&serde_json::json!({ "assignee": before.assignee })),
            Some(&serde_json::json!({ "assignee": assignee })),
        )?;
        Ok(after)
    }

    /// Records the customer's satisfaction rating (1–5) and, when the case
    /// ended the relationship, why the customer left.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown case; [`Error::Invalid`] on
    /// `satisfaction` outside 1–5.
    pub fn rate_case(
        &mut self,
        id: CaseId,
        satisfaction: Option<u8>,
        churn_reason: Option<ChurnReason>,
    ) -> crate::Result<Case> {
        if let Some(score) = satisfaction
            && !(1..=5).contains(&score)
        {
            return Err(Error::invalid(
                "satisfaction",
                format!("{score} is not a rating from 1 to 5"),
            ));
        }
        let before = self.get_case(id)?;
        self.conn.execute(
            "UPDATE cases SET satisfaction = coalesce(?2, satisfaction),
                 churn_reason = coalesce(?3, churn_reason), updated_at = ?4 WHERE id = ?1",
            params![
                id.to_string(),
                satisfaction,
                churn_reason.map(|c| c.code()),
                self.now_text.as_str()
            ],
        )?;
        let after = self.get_case(id)?;
        self.record_event(
            "case",
            &id.to_string(),
            "case.rated",
            Some(&serde_json::json!({ "satisfaction": before.satisfaction, "churn_reason": before.churn_reason })),
            Some(&serde_json::json!({ "satisfaction": after.satisfaction, "churn_reason": after.churn_reason })),
        )?;
        Ok(after)
    }

    /// Active cases past an SLA target at `now`: the first response is
    /// missing after its due time, or the case is unresolved after its
    /// resolution due time. Paused clocks (waiting on the customer) do not
    /// breach. Most overdue first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn cases_breaching(&self, now: DateTime<Utc>) -> crate::Result<Vec<SlaBreach>> {
        let now_text = time_text(&now);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CASE_COLUMNS} FROM cases
             WHERE status NOT IN ('resolved', 'closed')
               AND ((first_response_at IS NULL AND first_response_due <= ?1) OR resolution_due <= ?1)"
        ))?;
        let cases = collect(&mut stmt, params![now_text], case_from_row)?;
        let mut calendars: HashMap<String, Option<WorkingCalendar>> = HashMap::new();
        let mut breaches = Vec::new();
        for case in cases {
            let policy = case.sla_policy.clone().unwrap_or_default();
            if !calendars.contains_key(&policy) {
                let calendar = self.case_calendar(&case)?;
                calendars.insert(policy.clone(), calendar);
            }
            let calendar = calendars.get(&policy).and_then(Option::as_ref);
            let overdue = |due: DateTime<Utc>| {
                calendar.map_or((now - due).num_minutes(), |c| c.business_minutes(due, now))
            };
            let mut push = |clock: SlaClock, due: DateTime<Utc>| {
                breaches.push(SlaBreach {
                    case_id: case.id,
                    party_id: case.party_id,
                    assignee: case.assignee,
                    priority: case.priority,
                    clock,
                    due,
                    overdue_minutes: overdue(due),
                });
            };
            if case.first_response_at.is_none()
                && let Some(due) = case.first_response_due
                && due <= now
            {
                push(SlaClock::FirstResponse, due);
            }
            if let Some(due) = case.resolution_due
                && due <= now
            {
                push(SlaClock::Resolution, due);
            }
        }
        breaches.sort_by(|a, b| b.overdue_minutes.cmp(&a.overdue_minutes).then(a.due.cmp(&b.due)));
        Ok(breaches)
    }

    /// Escalates every breach at `now` that was not escalated before (each
    /// clock of a case escalates once): the case's escalation count goes up
    /// and a `case.escalated` event records the breach. Returns the breaches
    /// escalated now.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn escalate_breaches(&mut self, now: DateTime<Utc>) -> crate::Result<Vec<SlaBreach>> {
        let mut escalated = Vec::new();
        for breach in self.cases_breaching(now)? {
            let key = breach.case_id.to_string();
            let done: String = self
                .conn
                .prepare_cached("SELECT escalated_clocks FROM cases WHERE id = ?1")?
                .query_row(params![key], |row| row.get(0))?;
            if done.split(',').any(|c| c == breach.clock.code()) {
                continue;
            }
            let done = if done.is_empty() {
                breach.clock.code().to_owned()
            } else {
                format!("{done},{}", breach.clock.code())
            };
            self.conn.execute(
                "UPDATE cases SET escalations = escalations + 1, escalated_clocks = ?2, updated_at = ?3
                 WHERE id = ?1",
                params![key, done, self.now_text.as_str()],
            )?;
            self.record_event(
                "case",
                &key,
                "case.escalated",
                None,
                Some(&serde_json::to_value(&breach)?),
            )?;
            escalated.push(breach);
        }
        Ok(escalated)
    }

    /// Records the first response of a case when an outbound interaction is
    /// linked to it.
    pub(crate) fn note_case_contact(&mut self, case: &str, at: DateTime<Utc>) -> crate::Result<()> {
        let Ok(id) = case.parse::<CaseId>() else { return Ok(()) };
        let responded: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT first_response_at FROM cases WHERE id = ?1")?
            .query_row(params![id.to_string()], |row| row.get(0))
            .optional()?;
        if let Some(None) = responded {
            self.respond_to_case(id, Some(at))?;
        }
        Ok(())
    }

    /// The SLA figures of one case: business minutes to first response and
    /// to resolution (when they happened) and whether each target was met
    /// (`None` without a target).
    pub(crate) fn case_sla_outcome(
        &self,
        case: &Case,
        calendars: &mut BTreeMap<String, Option<WorkingCalendar>>,
        now: DateTime<Utc>,
    ) -> crate::Result<CaseSla> {
        let policy = case.sla_policy.clone().unwrap_or_default();
        if !calendars.contains_key(&policy) {
            let calendar = self.case_calendar(case)?;
            calendars.insert(policy.clone(), calendar);
        }
        let calendar = calendars.get(&policy).and_then(Option::as_ref);
        let minutes = |from: DateTime<Utc>, to: DateTime<Utc>| {
            calendar.map_or((to - from).num_minutes(), |c| c.business_minutes(from, to))
        };
        let judge = |done: Option<DateTime<Utc>>, due: Option<DateTime<Utc>>| match (done, due) {
            (_, None) => None,
            (Some(done), Some(due)) => Some(done <= due),
            (None, Some(due)) => (due <= now).then_some(false),
        };
        Ok(CaseSla {
            first_response_minutes: case.first_response_at.map(|at| minutes(case.opened_at, at)),
            resolution_minutes: case.resolved_at.map(|at| minutes(case.opened_at, at)),
            first_response_met: judge(case.first_response_at, case.first_response_due),
            resolution_met: judge(case.resolved_at, case.resolution_due),
        })
    }
}

/// What SLA measurement says about one case.
pub(crate) struct CaseSla {
    pub(crate) first_response_minutes: Option<i64>,
    pub(crate) resolution_minutes: Option<i64>,
    pub(crate) first_response_met: Option<bool>,
    pub(crate) resolution_met: Option<bool>,
}

struct CasePlan {
    policy: Option<String>,
    tier: Option<String>,
    opened_at: DateTime<Utc>,
    first_response_due: Option<DateTime<Utc>>,
    resolution_due: Option<DateTime<Utc>>,
}

pub(crate) fn case_from_row(row: &Row<'_>) -> crate::Result<Case> {
    Ok(Case {
        id: get_parsed(row, "id")?,
        external_id: get(row, "external_id")?,
        party_id: get_parsed(row, "party_id")?,
        case_type: get_parsed(row, "case_type")?,
        priority: get_parsed(row, "priority")?,
        channel: get_parsed(row, "channel")?,
        subject: get(row, "subject")?,
        description: get(row, "description")?,
        category: get(row, "category")?,
        assignee: get_opt_parsed(row, "assignee_id")?,
        status: get_parsed(row, "status")?,
        sla_policy: get(row, "sla_policy")?,
        tier: get(row, "tier")?,
        opened_at: get_time(row, "opened_at")?,
        first_response_at: get_opt_time(row, "first_response_at")?,
        first_response_due: get_opt_time(row, "first_response_due")?,
        resolution_due: get_opt_time(row, "resolution_due")?,
        resolved_at: get_opt_time(row, "resolved_at")?,
        closed_at: get_opt_time(row, "closed_at")?,
        satisfaction: get(row, "satisfaction")?,
        churn_reason: get_opt_parsed(row, "churn_reason")?,
        interaction_id: get_opt_parsed(row, "interaction_id")?,
        escalations: get(row, "escalations")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}
