//! Opportunities: pipelines with ordered stages, stage history, won / lost.

use chrono::{DateTime, NaiveDate, Utc};

use crate::Error;
use crate::model::{Lang, Money, OpportunityId, PartyId};

/// One stage of a sales pipeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PipelineStage {
    /// Stable code, e.g. `qualify`.
    pub code: String,
    /// Name in English.
    pub name_en: String,
    /// Name in Chinese.
    pub name_zh: String,
    /// Chance of winning from this stage, in percent (0–100).
    pub probability: u8,
}

impl PipelineStage {
    /// A stage.
    pub fn new(
        code: impl Into<String>,
        name_en: impl Into<String>,
        name_zh: impl Into<String>,
        probability: u8,
    ) -> PipelineStage {
        PipelineStage {
            code: code.into(),
            name_en: name_en.into(),
            name_zh: name_zh.into(),
            probability,
        }
    }

    /// The name in a language.
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.name_en,
            Lang::ZhCn => &self.name_zh,
        }
    }
}

/// A sales pipeline: stages in order.
///
/// # Examples
///
/// ```
/// use crm_core::{Pipeline, PipelineStage};
/// let pipeline = Pipeline::new("b2b", "B2B sales")
///     .with_stage(PipelineStage::new("qualify", "Qualify", "资格确认", 10))
///     .with_stage(PipelineStage::new("propose", "Propose", "方案报价", 40))
///     .with_stage(PipelineStage::new("negotiate", "Negotiate", "商务谈判", 70));
/// pipeline.validate()?;
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pipeline {
    /// Stable code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Stages, first to last.
    pub stages: Vec<PipelineStage>,
}

impl Pipeline {
    /// A pipeline with no stages yet.
    pub fn new(code: impl Into<String>, name: impl Into<String>) -> Pipeline {
        Pipeline { code: code.into(), name: name.into(), stages: Vec::new() }
    }

    /// Appends a stage.
    #[must_use]
    pub fn with_stage(mut self, stage: PipelineStage) -> Pipeline {
        self.stages.push(stage);
        self
    }

    /// The stage with a code.
    pub fn stage(&self, code: &str) -> Option<&PipelineStage> {
        self.stages.iter().find(|s| s.code == code)
    }

    /// The position (0-based) of a stage.
    pub fn position(&self, code: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.code == code)
    }

    /// Checks codes, stage uniqueness and probabilities.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> crate::Result<()> {
        if self.code.trim().is_empty() {
            return Err(Error::invalid("code", "a pipeline needs a code"));
        }
        if self.stages.is_empty() {
            return Err(Error::invalid("stages", format!("pipeline {} has no stages", self.code)));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.code.trim().is_empty() {
                return Err(Error::invalid("stages", format!("stage {} has no code", i + 1)));
            }
            if stage.probability > 100 {
                return Err(Error::invalid(
                    "probability",
                    format!("stage {}: {} % is over 100 %", stage.code, stage.probability),
                ));
            }
            if self.stages[..i].iter().any(|s| s.code == stage.code) {
                return Err(Error::invalid(
                    "stages",
                    format!("stage {} appears twice in pipeline {}", stage.code, self.code),
                ));
            }
        }
        Ok(())
    }
}

code_enum! {
    /// Whether an opportunity is still being worked.
    pub enum OpportunityStatus as "status" {
        /// In the pipeline.
        Open = ("open", "Open", "进行中"),
        /// Won.
        Won = ("won", "Won", "赢单"),
        /// Lost.
        Lost = ("lost", "Lost", "输单"),
    }
}

code_enum! {
    /// Why an opportunity was won or lost.
    pub enum CloseReason as "reason" {
        /// Price.
        Price = ("price", "Price", "价格"),
        /// A competitor.
        Competitor = ("competitor", "Competitor", "竞争对手"),
        /// The customer had no budget.
        NoBudget = ("no-budget", "No budget", "无预算"),
        /// The customer did not decide.
        NoDecision = ("no-decision", "No decision", "未决策"),
        /// How well the product fits.
        ProductFit = ("product-fit", "Product fit", "产品匹配度"),
        /// Timing.
        Timing = ("timing", "Timing", "时机"),
        /// The relationship with the customer.
        Relationship = ("relationship", "Relationship", "客户关系"),
        /// Service.
        Service = ("service", "Service", "服务"),
        /// Something else.
        Other = ("other", "Other", "其他"),
    }
}

/// An opportunity to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOpportunity {
    /// The customer or prospect.
    pub party_id: PartyId,
    /// Pipeline code.
    pub pipeline: String,
    /// What is being sold.
    pub title: String,
    /// Expected amount.
    pub amount: Money,
    /// Expected close date.
    pub expected_close: NaiveDate,
    /// The salesperson.
    pub owner: Option<PartyId>,
    /// Starting stage (default: the pipeline's first).
    pub stage: Option<String>,
    /// Id in the source system; makes imports idempotent.
    pub external_id: Option<String>,
}

impl NewOpportunity {
    /// An opportunity in a pipeline's first stage.
    pub fn new(
        party_id: PartyId,
        pipeline: impl Into<String>,
        title: impl Into<String>,
        amount: Money,
        expected_close: NaiveDate,
    ) -> NewOpportunity {
        NewOpportunity {
            party_id,
            pipeline: pipeline.into(),
            title: title.into(),
            amount,
            expected_close,
            owner: None,
            stage: None,
            external_id: None,
        }
    }

    /// Sets the salesperson.
    #[must_use]
    pub fn with_owner(mut self, owner: PartyId) -> NewOpportunity {
        self.owner = Some(owner);
        self
    }

    /// Starts in a given stage.
    #[must_use]
    pub fn in_stage(mut self, stage: impl Into<String>) -> NewOpportunity {
        self.stage = Some(stage.into());
        self
    }

    /// Sets the id in the source system.
    #[must_use]
    pub fn with_external_id(mut self, id: impl Into<String>) -> NewOpportunity {
        self.external_id = Some(id.into());
        self
    }
}

/// A stored opportunity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Opportunity {
    /// Id.
    pub id: OpportunityId,
    /// Id in the source system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The customer or prospect.
    pub party_id: PartyId,
    /// Pipeline code.
    pub pipeline: String,
    /// What is being sold.
    pub title: String,
    /// Expected amount.
    pub amount: Money,
    /// Expected close date.
    pub expected_close: NaiveDate,
    /// The salesperson.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartyId>,
    /// Current (or last) stage code.
    pub stage: String,
    /// Open, won or lost.
    pub status: OpportunityStatus,
    /// Chance of winning in percent: the stage's while open, 100 won, 0 lost.
    pub probability: u8,
    /// Why it was won or lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
    /// When it was won or lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Opportunity {
    /// `amount × probability`, rounded half-even.
    pub fn weighted(&self) -> Money {
        weighted(self.amount, self.probability)
    }
}

/// `amount × percent / 100`, rounded half-even.
pub(crate) fn weighted(amount: Money, percent: u8) -> Money {
    let minor = crate::model::money::div_round(
        i128::from(amount.minor()) * i128::from(percent),
        100,
        crate::model::RoundingMode::HalfEven,
    )
    .and_then(|m| i64::try_from(m).ok())
    .unwrap_or(amount.minor());
    Money::new(minor, amount.currency())
}

/// A stay of an opportunity in a stage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageVisit {
    /// Stage code.
    pub stage: String,
    /// When it entered.
    pub entered_at: DateTime<Utc>,
    /// When it left (moved, won or lost); `None` while it is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
}
