//! The features a condition can read, and the columns that hold them.

use crate::model::{FieldType, PartyId};

/// The type of a value in a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `true` / `false`.
    Bool,
    /// A whole number.
    Int,
    /// A real number.
    Double,
    /// Text.
    String,
    /// A list of texts (tags, roles).
    StringList,
    /// A number of days (`days(90)`), only as an argument.
    Days,
}

impl Type {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Double => "double",
            Type::String => "string",
            Type::StringList => "list(string)",
            Type::Days => "days",
        }
    }

    pub(crate) fn is_number(self) -> bool {
        matches!(self, Type::Int | Type::Double)
    }
}

/// One feature of a party, as a condition names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// `kind`: `person` or `organization`.
    Kind,
    /// `stage`: lifecycle stage code, `""` without one.
    Stage,
    /// `name`.
    Name,
    /// `language`, `""` without one.
    Language,
    /// `tags`.
    Tags,
    /// `roles` held today.
    Roles,
    /// `field.<name>`: a custom field; missing → `""`, 0, 0.0 or false.
    Field(String, FieldKind),
    /// `consent("email", "marketing")`: a contact point of that kind whose
    /// latest consent for the purpose is a grant.
    Consent(String, String),
    /// `score("clv")`: a named score; missing → 0.0 (see `has_score`).
    Score(String),
    /// `has_score("clv")`.
    HasScore(String),
    /// `orders.count(days(n))`: orders that count as revenue in the last n days.
    OrdersCount(i64),
    /// `orders.revenue(days(n), "CNY")`: their revenue in major units, converted.
    OrdersRevenue(i64, String),
    /// `days_since(last_order)`: days since the last order; 100000 without one.
    DaysSinceLastOrder,
    /// `cases.open()`: cases not resolved or closed.
    CasesOpen,
    /// `interactions.count("wechat", days(n))` or `interactions.count(days(n))`.
    Interactions(Option<String>, i64),
    /// `points`: the loyalty balance in the default programme (the first
    /// created, or the programme whose earn rule is running); 0 when none.
    Points,
    /// `tier`: the loyalty tier in that programme, `""` when none.
    Tier,
    /// `changed("stage")`: the event that fired the rule changed this
    /// attribute (false outside an event).
    Changed(String),
    /// `old("stage")`: the attribute before the event, as text (`""`
    /// outside an event or when absent).
    Old(String),
    /// `new("stage")`: the attribute after the event, as text.
    New(String),
    /// `order.total`: the order of the event, its revenue in major units of
    /// the loyalty programme's currency (0.0 outside an order event).
    OrderTotal,
}

/// The value type of a custom field, as a condition sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldKind {
    /// Text, enum and dates (`YYYY-MM-DD` compares as text).
    Text,
    /// Integer.
    Int,
    /// Decimal.
    Double,
    /// Bool.
    Bool,
}

impl FieldKind {
    pub(crate) fn of(field_type: &FieldType) -> FieldKind {
        match field_type {
            FieldType::Integer => FieldKind::Int,
            FieldType::Decimal => FieldKind::Double,
            FieldType::Bool => FieldKind::Bool,
            FieldType::Text | FieldType::Date | FieldType::Enum(_) => FieldKind::Text,
        }
    }
}

impl Feature {
    /// The type of the feature's value.
    pub fn value_type(&self) -> Type {
        match self {
            Feature::Kind | Feature::Stage | Feature::Name | Feature::Language => Type::String,
            Feature::Tags | Feature::Roles => Type::StringList,
            Feature::Field(_, kind) => match kind {
                FieldKind::Text => Type::String,
                FieldKind::Int => Type::Int,
                FieldKind::Double => Type::Double,
                FieldKind::Bool => Type::Bool,
            },
            Feature::Consent(..) | Feature::HasScore(_) | Feature::Changed(_) => Type::Bool,
            Feature::Tier | Feature::Old(_) | Feature::New(_) => Type::String,
            Feature::Score(_) | Feature::OrdersRevenue(..) | Feature::OrderTotal => Type::Double,
            Feature::Points
            | Feature::OrdersCount(_)
            | Feature::DaysSinceLastOrder
            | Feature::CasesOpen
            | Feature::Interactions(..) => Type::Int,
        }
    }

    /// What kind of change can alter the feature (for incremental
    /// segment maintenance).
    pub fn depends_on(&self) -> Dependency {
        match self {
            Feature::Score(_) | Feature::HasScore(_) => Dependency::Scores,
            Feature::OrdersCount(_) | Feature::OrdersRevenue(..) | Feature::DaysSinceLastOrder => {
                Dependency::Orders
            }
            Feature::CasesOpen => Dependency::Cases,
            Feature::Interactions(..) => Dependency::Interactions,
            _ => Dependency::Party,
        }
    }

    /// True for the features of the event that fired a rule.
    pub fn is_event(&self) -> bool {
        matches!(
            self,
            Feature::Changed(_) | Feature::Old(_) | Feature::New(_) | Feature::OrderTotal
        )
    }

    /// True when the value changes with the passing of time alone.
    pub fn depends_on_time(&self) -> bool {
        matches!(
            self,
            Feature::OrdersCount(_)
                | Feature::OrdersRevenue(..)
                | Feature::DaysSinceLastOrder
                | Feature::Interactions(..)
                | Feature::Roles
        )
    }
}

/// The kind of change a feature follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    /// The party itself (fields, tags, roles, stage, contact points).
    Party,
    /// Its orders.
    Orders,
    /// Its cases.
    Cases,
    /// Its interactions.
    Interactions,
    /// Its scores.
    Scores,
}

/// One feature's values for every row.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Bool values.
    Bool(Vec<bool>),
    /// Int values.
    Int(Vec<i64>),
    /// Double values.
    Double(Vec<f64>),
    /// Text values.
    Str(Vec<String>),
    /// Lists of texts.
    List(Vec<Vec<String>>),
}

/// The features of a set of parties, as columns aligned with `parties`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureTable {
    /// The rows.
    pub parties: Vec<PartyId>,
    /// One column per feature, in the order of the compiled conditions'
    /// feature list.
    pub columns: Vec<Column>,
}
