//! Integration tests through the public facade only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod analytics;
mod analytics_store;
mod campaign;
mod cases;
mod events;
mod import;
mod import_sales;
mod loyalty;
mod merge;
mod party;
mod pipeline;
mod privacy;
mod relationship;
mod rules;
mod sales;
mod sales_party;
mod search;
mod storage;
mod support;
mod task;
mod workflow;
