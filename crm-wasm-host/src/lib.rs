//! The WebAssembly plugin host of crm.
//!
//! Plugins are components built against the `crm:plugin` WIT contract
//! (`wit/0.1.0/plugin.wit`). A [`Manifest`] (`plugin.toml`) names the
//! plugin, the contract version, the component's sha256 and the
//! capabilities it asks for; [`PluginHost::install`] checks all of that and
//! links only what was asked for *and* granted (WASI is linked with a
//! deny-all context). Every call runs in a fresh store with memory and
//! table limits and an epoch deadline; the actions a plugin returns are
//! validated and applied in one transaction with `plugin:<name>` as the
//! actor. Failures are typed [`Error`]s; repeated ones open a circuit
//! breaker.
//!
//! From the library's handle: `use crm_wasm_host::CrmPlugins;` then
//! `crm.plugins()?` (a [`Plugins`] handle).

mod actions;
mod error;
mod facade;
mod host;
mod imports;
mod manifest;

pub use crate::error::Error;
pub use crate::facade::{CrmPlugins, Plugins};
pub use crate::host::{CallOutcome, Delivery, Due, Limits, Metadata, PluginHost};
pub use crate::manifest::{Capability, Manifest, SUPPORTED_WIT, sha256_hex};
