//! Rules: conditions written in CEL (Common Expression Language), checked
//! against the features the library holds, compiled to a typed evaluator
//! that runs over feature columns — the whole customer base at once (over
//! the machine's cores) or one party, with the same code and so the same
//! answers.
//!
//! The schema (what a condition may read):
//!
//! - `kind`, `stage`, `name`, `language` (strings; `""` when unset),
//!   `tags` and `roles` (lists of strings: `"vip" in tags`, `size(tags)`),
//!   `field.<name>` for custom fields (text, enum and date fields as
//!   strings, integer as int, decimal as double, bool; missing → `""`, 0,
//!   0.0, false);
//! - `consent("email", "marketing")`: a contact point of that kind whose
//!   latest consent for the purpose is a grant;
//! - `score("clv")` (double; 0.0 when the party has no such score — test
//!   with `has_score("clv")`);
//! - history with windows: `orders.count(days(90))`,
//!   `orders.revenue(days(365), "CNY")` (major units, converted at order
//!   dates), `days_since(last_order)` (100000 without an order),
//!   `cases.open()`, `interactions.count("wechat", days(30))` and
//!   `interactions.count(days(30))`;
//! - loyalty: `points` (int, the balance) and `tier` (string) in the
//!   default programme (the first created);
//! - in rules triggered by an event only: `changed("stage")` (bool),
//!   `old("stage")` and `new("stage")` (the attribute before and after the
//!   event, as text; dotted paths such as `"fields.city"`), and
//!   `order.total` (double, the order's revenue in major units; in a
//!   loyalty earn formula, converted into the programme's currency).
//!
//! Formulas (`Condition::compile_int`) may use `floor(x)` to turn a double
//! into an int.
//!
//! Operators: `&& || !`, comparisons (ints and doubles compare with each
//! other), `+ - * / %` (division by zero gives 0), `-x`, `c ? a : b`,
//! `in`. A condition that type-checks cannot fail when it runs.

mod condition;
mod feature;
pub(crate) mod trigger;

pub(crate) use crate::rules::condition::compile_or_error;
pub use crate::rules::condition::{Condition, Diagnostic, Fields};
pub use crate::rules::feature::{Column, Dependency, Feature, FeatureTable, FieldKind, Type};
pub use crate::rules::trigger::{Action, NewRule, Trigger};
