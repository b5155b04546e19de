//! Pipelines and opportunities with their stage history.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, Row, params};

use crate::Error;
use crate::model::{
    CloseReason, Currency, Money, NewOpportunity, Opportunity, OpportunityId, OpportunityStatus,
    PartyId, Pipeline, PipelineStage, StageVisit,
};
use crate::store::codec::{
    collect, date_text, get, get_opt_parsed, get_opt_time, get_parsed, get_time, parse_date,
};
use crate::store::{Tx, Upserted};

const OPPORTUNITY_COLUMNS: &str = "id, external_id, party_id, pipeline, title, amount, currency, \
     expected_close, owner_id, stage, status, close_reason, closed_at, created_at, updated_at";

/// [`OPPORTUNITY_COLUMNS`] qualified for a join with `pipeline_stages s`.
pub(crate) const OPPORTUNITY_SELECT: &str = "o.id, o.external_id, o.party_id, o.pipeline, o.title, o.amount, \
     o.currency, o.expected_close, o.owner_id, o.stage, o.status, o.close_reason, o.closed_at, \
     o.created_at, o.updated_at, s.probability";

impl Tx<'_> {
    /// Creates a pipeline or replaces its name and stages. A stage that
    /// open opportunities are in cannot be removed.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] for no stages, a duplicate stage or a
    ///   probability over 100 %.
    /// - [`Error::Conflict`] when a removed stage still holds open
    ///   opportunities.
    pub fn save_pipeline(&mut self, pipeline: Pipeline) -> crate::Result<()> {
        pipeline.validate()?;
        let before = self.find_pipeline(&pipeline.code)?;
        if let Some(before) = &before {
            for stage in &before.stages {
                if pipeline.stage(&stage.code).is_none() {
                    let n: i64 = self.conn.query_row(
                        "SELECT count(*) FROM opportunities WHERE pipeline = ?1 AND stage = ?2 AND status = 'open'",
                        params![pipeline.code, stage.code],
                        |row| row.get(0),
                    )?;
                    if n > 0 {
                        return Err(Error::conflict(format!(
                            "stage {} of pipeline {} holds {n} open opportunities",
                            stage.code, pipeline.code
                        )));
                    }
                }
            }
        }
        self.conn.execute(
            "INSERT INTO pipelines (code, name, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name",
            params![pipeline.code, pipeline.name, self.now_text.as_str()],
        )?;
        self.conn
            .execute("DELETE FROM pipeline_stages WHERE pipeline = ?1", params![pipeline.code])?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO pipeline_stages (pipeline, position, code, name_en, name_zh, probability)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (position, stage) in pipeline.stages.iter().enumerate() {
            stmt.execute(params![
                pipeline.code,
                position as i64,
                stage.code,
                stage.name_en,
                stage.name_zh,
                stage.probability
            ])?;
        }
        self.record_saved("pipeline", &pipeline.code, before.as_ref(), &pipeline)?;
        Ok(())
    }

    /// A pipeline with its stages.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn pipeline(&self, code: &str) -> crate::Result<Pipeline> {
        self.find_pipeline(code)?.ok_or_else(|| Error::not_found("pipeline", code))
    }

    /// Every pipeline, by code.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn pipelines(&self) -> crate::Result<Vec<Pipeline>> {
        let mut stmt = self.conn.prepare_cached("SELECT code FROM pipelines ORDER BY code")?;
        let codes: Vec<String> = collect(&mut stmt, [], |row| get(row, "code"))?;
        codes.iter().map(|c| self.pipeline(c)).collect()
    }

    fn find_pipeline(&self, code: &str) -> crate::Result<Option<Pipeline>> {
        let name: Option<String> = self
            .conn
            .prepare_cached("SELECT name FROM pipelines WHERE code = ?1")?
            .query_row(params![code], |row| row.get(0))
            .optional()?;
        let Some(name) = name else { return Ok(None) };
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, name_en, name_zh, probability FROM pipeline_stages
             WHERE pipeline = ?1 ORDER BY position",
        )?;
        let stages = collect(&mut stmt, params![code], |row| {
            Ok(PipelineStage {
                code: get(row, "code")?,
                name_en: get(row, "name_en")?,
                name_zh: get(row, "name_zh")?,
                probability: get(row, "probability")?,
            })
        })?;
        Ok(Some(Pipeline { code: code.to_owned(), name, stages }))
    }

    /// Creates an opportunity in its pipeline's first stage (or the stage
    /// given), and starts its stage history.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown party, owner or pipeline.
    /// - [`Error::Invalid`] for an empty title, a negative amount or an
    ///   unknown stage.
    /// - [`Error::Conflict`] when the external id is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use crm_core::{Currency, Money, NewOpportunity, NewParty, Pipeline, PipelineStage};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let deal = crm.write(|tx| {
    ///     tx.save_pipeline(Pipeline::new("b2b", "B2B")
    ///         .with_stage(PipelineStage::new("qualify", "Qualify", "资格确认", 10))
    ///         .with_stage(PipelineStage::new("propose", "Propose", "方案报价", 50)))?;
    ///     let buyer = tx.create_party(NewParty::organization("远大物业"))?;
    ///     let deal = tx.create_opportunity(NewOpportunity::new(
    ///         buyer.id, "b2b", "中央空调改造", Money::parse("800000", Currency::CNY)?,
    ///         NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
    ///     ))?;
    ///     tx.move_opportunity(deal.id, "propose")
    /// })?;
    /// assert_eq!(deal.weighted().to_string(), "CNY 400000.00");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_opportunity(&mut self, new: NewOpportunity) -> crate::Result<Opportunity> {
        if let Some(external_id) = &new.external_id
            && self.find_opportunity_by_external_id(external_id)?.is_some()
        {
            return Err(Error::conflict(format!(
                "opportunity with external id {external_id} already exists"
            )));
        }
        let stage = self.check_new_opportunity(&new)?;
        let id = OpportunityId::new();
        self.conn.execute(
            &format!(
                "INSERT INTO opportunities ({OPPORTUNITY_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open', NULL, NULL, ?11, ?11)"
            ),
            params![
                id.to_string(),
                new.external_id,
                new.party_id.to_string(),
                new.pipeline,
                new.title.trim(),
                new.amount.minor(),
                new.amount.currency().code(),
                date_text(&new.expected_close),
                new.owner.map(|o| o.to_string()),
                stage,
                self.now_text.as_str(),
            ],
        )?;
        self.enter_opportunity_stage(id, &stage)?;
        let opportunity = self.get_opportunity(id)?;
        self.record_event(
            "opportunity",
            &id.to_string(),
            "opportunity.created",
            None,
            Some(&serde_json::to_value(&opportunity)?),
        )?;
        Ok(opportunity)
    }

    /// Validates a new opportunity and returns its starting stage.
    fn check_new_opportunity(&self, new: &NewOpportunity) -> crate::Result<String> {
        if new.title.trim().is_empty() {
            return Err(Error::invalid("title", "an opportunity needs a title"));
        }
        if new.amount.is_negative() {
            return Err(Error::invalid("amount", format!("{} is negative", new.amount)));
        }
        self.require_live(new.party_id, "party")?;
        if let Some(owner) = new.owner {
            self.require_live(owner, "owner")?;
        }
        let pipeline = self.pipeline(&new.pipeline)?;
        match &new.stage {
            None => Ok(pipeline.stages[0].code.clone()),
            Some(stage) if pipeline.stage(stage).is_some() => Ok(stage.clone()),
            Some(stage) => Err(unknown_stage(&pipeline, stage)),
        }
    }

    /// Creates the opportunity, or updates the one with the same external
    /// id (title, amount, close date, owner, and stage — a stage change is
    /// recorded in the history). A closed opportunity is left as it is.
    ///
    /// # Errors
    ///
    /// As [`Tx::create_opportunity`].
    pub fn upsert_opportunity(
        &mut self,
        new: NewOpportunity,
    ) -> crate::Result<(Opportunity, Upserted)> {
        let existing = match &new.external_id {
            Some(id) => self.find_opportunity_by_external_id(id)?,
            None => None,
        };
        let Some(before) = existing else {
            return Ok((self.create_opportunity(new)?, Upserted::Created));
        };
        let stage = self.check_new_opportunity(&new)?;
        let stage_changed = new.stage.is_some() && stage != before.stage;
        if before.party_id == new.party_id
            && before.title == new.title.trim()
            && before.amount == new.amount
            && before.expected_close == new.expected_close
            && before.owner == new.owner
            && !stage_changed
        {
            return Ok((before, Upserted::Unchanged));
        }
        if before.status != OpportunityStatus::Open || before.pipeline != new.pipeline {
            return Err(Error::conflict(format!(
                "opportunity {} is {} in pipeline {}; it cannot be updated to this row",
                before.external_id.as_deref().unwrap_or_default(),
                before.status,
                before.pipeline
            )));
        }
        self.conn.execute(
            "UPDATE opportunities SET party_id = ?2, title = ?3, amount = ?4, currency = ?5,
                 expected_close = ?6, owner_id = ?7, updated_at = ?8 WHERE id = ?1",
            params![
                before.id.to_string(),
                new.party_id.to_string(),
                new.title.trim(),
                new.amount.minor(),
                new.amount.currency().code(),
                date_text(&new.expected_close),
                new.owner.map(|o| o.to_string()),
                self.now_text.as_str(),
            ],
        )?;
        if stage_changed {
            self.write_opportunity_stage(before.id, &stage)?;
        }
        let after = self.get_opportunity(before.id)?;
        self.record_event(
            "opportunity",
            &before.id.to_string(),
            "opportunity.updated",
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok((after, Upserted::Updated))
    }

    /// Changes amount and expected close date of an open opportunity.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown opportunity; [`Error::Invalid`]
    /// when it is closed or the amount is negative.
    pub fn update_opportunity(
        &mut self,
        id: OpportunityId,
        amount: Money,
        expected_close: NaiveDate,
    ) -> crate::Result<Opportunity> {
        let before = self.open_opportunity(id)?;
        if amount.is_negative() {
            return Err(Error::invalid("amount", format!("{amount} is negative")));
        }
        self.conn.execute(
            "UPDATE opportunities SET amount = ?2, currency = ?3, expected_close = ?4, updated_at = ?5
             WHERE id = ?1",
            params![
                id.to_string(),
                amount.minor(),
                amount.currency().code(),
                date_text(&expected_close),
                self.now_text.as_str()
            ],
        )?;
        let after = self.get_opportunity(id)?;
        self.record_event(
            "opportunity",
            &id.to_string(),
            "opportunity.updated",
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok(after)
    }

    fn open_opportunity(&self, id: OpportunityId) -> crate::Result<Opportunity> {
        let opportunity = self.get_opportunity(id)?;
        if opportunity.status != OpportunityStatus::Open {
            return Err(Error::invalid(
                "status",
                format!("opportunity {id} is {}, not open", opportunity.status),
            ));
        }
        Ok(opportunity)
    }

    /// Moves an open opportunity to another stage of its pipeline (forward
    /// or back), closing the current stage visit.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown opportunity; [`Error::Invalid`]
    /// when it is closed or the stage is not in its pipeline.
    pub fn move_opportunity(
        &mut self,
        id: OpportunityId,
        stage: &str,
    ) -> crate::Result<Opportunity> {
        let before = self.open_opportunity(id)?;
        let pipeline = self.pipeline(&before.pipeline)?;
        if pipeline.stage(stage).is_none() {
            return Err(unknown_stage(&pipeline, stage));
        }
        if before.stage == stage {
            return Ok(before);
        }
        self.write_opportunity_stage(id, stage)?;
        let after = self.get_opportunity(id)?;
        self.record_event(
            "opportunity",
            &id.to_string(),
            "opportunity.stage_changed",
            Some(&serde_json::json!({ "stage": before.stage })),
            Some(&serde_json::json!({ "stage": stage })),
        )?;
        Ok(after)
    }

    fn write_opportunity_stage(&self, id: OpportunityId, stage: &str) -> crate::Result<()> {
        self.leave_opportunity_stage(id)?;
        self.conn.execute(
            "UPDATE opportunities SET stage = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), stage, self.now_text.as_str()],
        )?;
        self.enter_opportunity_stage(id, stage)
    }

    fn enter_opportunity_stage(&self, id: OpportunityId, stage: &str) -> crate::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO opportunity_stages (opportunity_id, stage, entered_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id.to_string(), stage, self.now_text.as_str()])?;
        Ok(())
    }

    fn leave_opportunity_stage(&self, id: OpportunityId) -> crate::Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE opportunity_stages SET left_at = ?2 WHERE opportunity_id = ?1 AND left_at IS NULL",
            )?
            .execute(params![id.to_string(), self.now_text.as_str()])?;
        Ok(())
    }

    /// Marks an open opportunity won.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown opportunity; [`Error::Invalid`]
    /// when it is already closed.
    pub fn win_opportunity(
        &mut self,
        id: OpportunityId,
        reason: Option<CloseReason>,
    ) -> crate::Result<Opportunity> {
        self.close_opportunity(id, OpportunityStatus::Won, reason)
    }

    /// Marks an open opportunity lost, with the reason.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown opportunity; [`Error::Invalid`]
    /// when it is already closed.
    pub fn lose_opportunity(
        &mut self,
        id: OpportunityId,
        reason: CloseReason,
    ) -> crate::Result<Opportunity> {
        self.close_opportunity(id, OpportunityStatus::Lost, Some(reason))
    }

    fn close_opportunity(
        &mut self,
        id: OpportunityId,
        status: OpportunityStatus,
        reason: Option<CloseReason>,
    ) -> crate::Result<Opportunity> {
        let before = self.open_opportunity(id)?;
        self.leave_opportunity_stage(id)?;
        self.conn.execute(
            "UPDATE opportunities SET status = ?2, close_reason = ?3, closed_at = ?4, updated_at = ?4
             WHERE id = ?1",
            params![id.to_string(), status.code(), reason.map(|r| r.code()), self.now_text.as_str()],
        )?;
        let after = self.get_opportunity(id)?;
        self.record_event(
            "opportunity",
            &id.to_string(),
            if status == OpportunityStatus::Won { "opportunity.won" } else { "opportunity.lost" },
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok(after)
    }

    /// One opportunity.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_opportunity(&self, id: OpportunityId) -> crate::Result<Opportunity> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OPPORTUNITY_SELECT}
             FROM opportunities o LEFT JOIN pipeline_stages s ON s.pipeline = o.pipeline AND s.code = o.stage
             WHERE o.id = ?1"
        ))?;
        let found = stmt
            .query_row(params![id.to_string()], |row| Ok(opportunity_from_row(row)))
            .optional()?;
        found.ok_or_else(|| Error::not_found("opportunity", id))?
    }

    /// The opportunity with an external id, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn find_opportunity_by_external_id(
        &self,
        external_id: &str,
    ) -> crate::Result<Option<Opportunity>> {
        let id: Option<String> = self
            .conn
            .prepare_cached("SELECT id FROM opportunities WHERE external_id = ?1")?
            .query_row(params![external_id], |row| row.get(0))
            .optional()?;
        id.map(|id| self.get_opportunity(id.parse()?)).transpose()
    }

    /// Opportunities of a party, or every opportunity, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn opportunities(&self, party: Option<PartyId>) -> crate::Result<Vec<Opportunity>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OPPORTUNITY_SELECT}
             FROM opportunities o LEFT JOIN pipeline_stages s ON s.pipeline = o.pipeline AND s.code = o.stage
             WHERE ?1 IS NULL OR o.party_id = ?1 ORDER BY o.created_at, o.id"
        ))?;
        collect(&mut stmt, params![party.map(|p| p.to_string())], opportunity_from_row)
    }

    /// The stages an opportunity went through, in order.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn opportunity_stages(&self, id: OpportunityId) -> crate::Result<Vec<StageVisit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT stage, entered_at, left_at FROM opportunity_stages WHERE opportunity_id = ?1 ORDER BY id",
        )?;
        collect(&mut stmt, params![id.to_string()], |row| {
            Ok(StageVisit {
                stage: get(row, "stage")?,
                entered_at: get_time(row, "entered_at")?,
                left_at: get_opt_time(row, "left_at")?,
            })
        })
    }
}

fn unknown_stage(pipeline: &Pipeline, stage: &str) -> Error {
    let known: Vec<&str> = pipeline.stages.iter().map(|s| s.code.as_str()).collect();
    Error::invalid(
        "stage",
        format!("pipeline {} has no stage `{stage}` (stages: {})", pipeline.code, known.join(", ")),
    )
}

pub(crate) fn opportunity_from_row(row: &Row<'_>) -> crate::Result<Opportunity> {
    let currency: Currency = get_parsed(row, "currency")?;
    let status: OpportunityStatus = get_parsed(row, "status")?;
    let stage_probability: Option<u8> = get(row, "probability")?;
    Ok(Opportunity {
        id: get_parsed(row, "id")?,
        external_id: get(row, "external_id")?,
        party_id: get_parsed(row, "party_id")?,
        pipeline: get(row, "pipeline")?,
        title: get(row, "title")?,
        amount: Money::new(get(row, "amount")?, currency),
        expected_close: parse_date(&get::<String>(row, "expected_close")?, "expected_close")?,
        owner: get_opt_parsed(row, "owner_id")?,
        stage: get(row, "stage")?,
        probability: match status {
            OpportunityStatus::Won => 100,
            OpportunityStatus::Lost => 0,
            OpportunityStatus::Open => stage_probability.unwrap_or(0),
        },
        status,
        close_reason: get_opt_parsed(row, "close_reason")?,
        closed_at: get_opt_time(row, "closed_at")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}
