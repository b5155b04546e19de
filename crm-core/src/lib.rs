//! # crm-core
//!
//! An embeddable customer-relationship-management library: customers in
//! the broad sense (buyers, prospects, distributors, agents, partners,
//! employees), their contact points and consent, relationships and company
//! hierarchies, every interaction on every channel, tasks, a change feed,
//! full-text search that understands Chinese, duplicate detection and merge,
//! privacy export and erasure — in one SQLite file, with no server.
//!
//! ## A tour
//!
//! ```
//! use chrono::NaiveDate;
//! use crm_core::{
//!     Channel, ContactKind, Crm, Direction, LifecycleStage, NewContactPoint, NewInteraction,
//!     NewParty, NewRelationship, NewTask, Role,
//! };
//!
//! # let dir = tempfile::tempdir()?;
//! // Open (or create) a database file.
//! let crm = Crm::open(dir.path().join("crm.db"))?;
//!
//! // Everything inside one `write` commits together, with an event per change.
//! let (group, buyer) = crm.write(|tx| {
//!     let group = tx.create_party(
//!         NewParty::organization("华东电器集团")
//!             .with_role(Role::Distributor)
//!             .with_external_id("erp", "D-001"),
//!     )?;
//!     let buyer = tx.create_party(
//!         NewParty::person("张伟")
//!             .with_role(Role::Customer)
//!             .with_stage(LifecycleStage::New)
//!             .with_language("zh-CN")
//!             .with_contact_point(
//!                 NewContactPoint::new(ContactKind::Mobile, "138 0013 8000")
//!                     .with_country("CN")
//!                     .with_consent("marketing", true, "web-form"),
//!             ),
//!     )?;
//!     tx.relate(NewRelationship::new(buyer.id, "employee-of", group.id).with_role("采购经理"))?;
//!     let at = "2026-03-02T08:15:00Z".parse().unwrap();
//!     tx.record_interaction(
//!         NewInteraction::new(buyer.id, Channel::WeChat, Direction::Inbound, at, "咨询空调安装")
//!             .with_outcome("已安排回访"),
//!     )?;
//!     tx.create_task(NewTask::new("回访张伟", at + chrono::Duration::days(1)).about(buyer.id))?;
//!     Ok((group.id, buyer.id))
//! })?;
//!
//! // Reads see a consistent snapshot and do not block writers.
//! let party = crm.read(|tx| tx.get_party(buyer))?;
//! assert_eq!(party.contacts[0].normalized, "+8613800138000");
//! assert!(party.contacts[0].allows("marketing"));
//!
//! // Chinese search: one character is enough.
//! let hits = crm.read(|tx| tx.search("伟", 0, 10))?;
//! assert_eq!(hits.items[0].party_id, buyer);
//!
//! // The change feed, for syncing another system.
//! let events = crm.read(|tx| tx.events_since(0, 100))?;
//! assert_eq!(events.len(), 5);
//!
//! // Idempotent upsert by external id.
//! let (_, outcome) = crm.write(|tx| {
//!     tx.upsert_party(NewParty::organization("华东电器集团").with_external_id("erp", "D-001"))
//! })?;
//! assert_eq!(outcome, crm_core::Upserted::Unchanged);
//! # let _ = (group, NaiveDate::MIN);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Core concepts
//!
//! - [`Crm`] is a handle to one database; clone it freely and share it
//!   between threads.
//! - [`Tx`] is one transaction: [`Crm::read`] hands out `&Tx`,
//!   [`Crm::write`] `&mut Tx`. Every mutation appends an [`Event`] in the
//!   same transaction.
//! - [`Party`] is any person or organisation; [`Role`]s say what it is to
//!   the business. `New*` types go in, saved types with ids come out.
//! - Every error is an [`Error`]: what went wrong and where, never a panic.
//!
//! ## Sales and service
//!
//! - [`Money`] is integer minor units of a [`Currency`]; [`Tx::set_fx_rate`]
//!   and [`Tx::convert`] handle dated exchange rates.
//! - [`Tx::create_product`], [`Tx::create_quote`] → [`Tx::accept_quote`] →
//!   [`Tx::ship`] / [`Tx::return_items`]; [`Tx::profit_by_party`] and
//!   [`Tx::profit_by_period`] give revenue, cost and margin.
//! - [`Tx::save_pipeline`], [`Tx::create_opportunity`],
//!   [`Tx::move_opportunity`]; [`Tx::pipeline_report`] and [`Tx::forecast`].
//! - [`Tx::save_calendar`] ([`WorkingCalendar`]), [`Tx::save_sla_policy`],
//!   [`Tx::open_case`], [`Tx::set_case_status`], [`Tx::cases_breaching`],
//!   [`Tx::escalate_breaches`]; [`Tx::sla_report`] and [`Tx::kpi_report`].
//!
//! ## Analytics
//!
//! [`analytics`] fits the customer-base models (BG/NBD, Pareto/NBD,
//! MBG/NBD, BG/BB, Gamma-Gamma) and computes CLV, RFM, validation and
//! profitability over columns; [`Tx::customer_summary`] builds those
//! columns from the orders, [`Tx::set_scores`] stores results, and
//! [`Tx::assign_lifecycle_stages`], [`Tx::churn_causes`],
//! [`Tx::key_accounts`] and [`Tx::seven_p`] answer the business questions.
//!
//! ## Data flow
//!
//! Callers (the application, the `crm` CLI, imports) → [`Tx`] methods
//! validate → `store` writes rows, the search index and an event in one
//! SQLite transaction → [`Tx::events_since`] feeds other systems.
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod error;
pub mod import;
#[macro_use]
pub mod model;
pub mod analytics;
pub mod rules;
pub mod setup;
mod store;

pub use crate::error::{Error, Location, Result, StorageError};
pub use crate::import::{
    ImportFormat, ImportKind, ImportMode, ImportOptions, ImportProgress, ImportReport, RowError,
};
pub use crate::model::{
    CampaignReport, CampaignRun, GroupResult, LedgerEntry, LedgerKind, Membership, NewCampaign,
    NewLoyaltyProgram, TierLevel, Variant,
};
pub use crate::model::{
    Case, CaseId, CaseStatus, CaseTransition, CaseType, ChurnCauses, ChurnReason, CloseReason,
    DayRule, ForecastRow, FxRate, Heading, KeyAccount, KpiReport, KpiRow, LifecycleAssignment,
    Line, Money, NewCase, NewLine, NewOpportunity, NewOrder, NewProduct, NewQuote, NewShipment,
    Opportunity, OpportunityId, OpportunityStatus, Order, OrderId, OrderStatus, PartyProfit,
    Period, PeriodUnit, Pipeline, PipelineReport, PipelineRow, PipelineStage, PriceList, Priority,
    Product, ProductId, Profit, Quote, QuoteId, QuoteStatus, RoundingMode, SevenP, Shipment,
    ShipmentId, SlaBreach, SlaClock, SlaPolicy, SlaReport, SlaRow, SlaTarget, StageVisit,
    WorkingCalendar, WorkingHours,
};
pub use crate::model::{
    Channel, Consent, ContactKind, ContactPoint, ContactPointId, Currency, Decimal, Direction,
    DuplicateCandidate, DuplicateReason, Event, ExternalId, FieldDef, FieldType, FieldValue,
    HierarchyNode, Interaction, InteractionId, Lang, LifecycleStage, Link, NewContactPoint,
    NewInteraction, NewParty, NewRelationship, NewTask, Page, Party, PartyFilter, PartyId,
    PartyKind, PartyPatch, Relationship, RelationshipId, RelationshipType, Role, RoleSpan, RollUp,
    SearchHit, StageChange, Task, TaskId, TaskStatus, Transition, WorkflowId, WorkflowInstance,
    WorkflowStep, WorkflowType,
};
pub use crate::setup::{Setup, SetupReport};
pub use crate::store::{
    Clock, Crm, CrmBuilder, DueReport, ERASED_NAME, FX_MAX_AGE_DAYS, MAX_RULE_DEPTH, MergeReport,
    NEVER_DAYS, OLDEST_SUPPORTED_SCHEMA_VERSION, OutboxMessage, SCHEMA_VERSION, ScoreRollUp,
    Segment, SegmentChange, StoredPlugin, Tx, Upserted,
};

/// The version of this library.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
