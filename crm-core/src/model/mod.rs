//! Plain domain types: no I/O, no SQL.
//!
//! Values that any combination of fields makes valid are structs with `pub`
//! fields. Values with preconditions (an e-mail address, a currency code, a
//! decimal) are newtypes whose constructors validate.
//! `New*` types are what a caller hands in; the saved types carry the id and
//! timestamps the store assigned.

#[macro_use]
mod code;
pub(crate) mod calendar;
mod campaign;
mod case;
mod contact;
mod event;
pub(crate) mod field;
mod ids;
mod interaction;
mod loyalty;
pub(crate) mod money;
pub(crate) mod opportunity;
pub(crate) mod party;
mod relationship;
mod report;
pub(crate) mod sales;
mod search;
pub(crate) mod time;
mod workflow;

pub use crate::model::calendar::{DayRule, WorkingCalendar, WorkingHours};
pub use crate::model::campaign::{CampaignReport, CampaignRun, GroupResult, NewCampaign, Variant};
pub use crate::model::case::{
    Case, CaseStatus, CaseTransition, CaseType, ChurnReason, NewCase, Priority, SlaBreach,
    SlaClock, SlaPolicy, SlaTarget,
};
pub use crate::model::code::Lang;
pub use crate::model::contact::{
    Consent, ContactKind, ContactPoint, NewConsent, NewContactPoint, normalize_email,
    normalize_phone,
};
pub use crate::model::event::{Event, EventKind};
pub use crate::model::field::{Decimal, FieldDef, FieldType, FieldValue};
pub use crate::model::ids::{
    CaseId, ContactPointId, InteractionId, OpportunityId, OrderId, PartyId, ProductId, QuoteId,
    RelationshipId, ShipmentId, TaskId, WorkflowId,
};
pub use crate::model::interaction::{
    Channel, Direction, Interaction, Link, NewInteraction, NewTask, Task, TaskStatus,
};
pub use crate::model::loyalty::{
    LedgerEntry, LedgerKind, Membership, NewLoyaltyProgram, TierLevel,
};
pub use crate::model::money::{Currency, FxRate, Money, RoundingMode};
pub use crate::model::opportunity::{
    CloseReason, NewOpportunity, Opportunity, OpportunityStatus, Pipeline, PipelineStage,
    StageVisit,
};
pub use crate::model::party::{
    ExternalId, LifecycleStage, NewParty, Party, PartyFilter, PartyKind, PartyPatch, Role,
    RoleSpan, StageChange, name_key,
};
pub use crate::model::relationship::{
    HierarchyNode, NewRelationship, Relationship, RelationshipType, RollUp,
};
pub use crate::model::report::{
    ChurnCauses, ForecastRow, Heading, KeyAccount, KpiReport, KpiRow, LifecycleAssignment, Period,
    PeriodUnit, PipelineReport, PipelineRow, SevenP, SlaReport, SlaRow,
};
pub use crate::model::sales::{
    Line, NewLine, NewOrder, NewProduct, NewQuote, NewShipment, Order, OrderStatus, PartyProfit,
    PriceList, Product, Profit, Quote, QuoteStatus, Shipment,
};
pub use crate::model::search::{DuplicateCandidate, DuplicateReason, Page, SearchHit};
pub use crate::model::workflow::{Transition, WorkflowInstance, WorkflowStep, WorkflowType};
