//! Integration tests through the public facade only.

mod events;
mod import;
mod merge;
mod party;
mod privacy;
mod relationship;
mod search;
mod storage;
mod support;
mod task;
