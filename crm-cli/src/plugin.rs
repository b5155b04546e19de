//! `crm plugin …`: install, list, grant, revoke, call, uninstall.

use std::path::Path;

use crm_core::Crm;
use crm_wasm_host::{Capability, CrmPlugins, Limits, Manifest, PluginHost};

use crate::{CliResult, Failure};

impl From<crm_wasm_host::Error> for Failure {
    fn from(error: crm_wasm_host::Error) -> Failure {
        use crm_wasm_host::Error as E;
        match error {
            E::Crm(inner) => Failure::from(inner),
            E::Load(_) | E::Trap { .. } | E::Timeout { .. } | E::OutOfFuel { .. } => {
                Failure::failed(error.to_string())
            }
            E::Plugin { invalid_input: false, .. } | E::CircuitOpen { .. } => {
                Failure::failed(error.to_string())
            }
            _ => Failure::usage(error.to_string()),
        }
    }
}

/// Where compiled plugins are kept between runs: `CRM_PLUGIN_CACHE`, or
/// `crm/plugins` in the user's cache directory. Without one, every run
/// compiles (tens of milliseconds per plugin).
pub(crate) fn cache_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("CRM_PLUGIN_CACHE") {
        return Some(dir.into());
    }
    user_cache().map(|dir| dir.join("crm/plugins"))
}

/// The user's cache directory: `XDG_CACHE_HOME`, else `~/.cache`.
pub(crate) fn user_cache() -> Option<std::path::PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
}

/// A host with every installed plugin loaded (warning about those that do
/// not load), compiled components cached on disk.
pub(crate) fn open(crm: &Crm) -> Result<PluginHost, Failure> {
    let (host, failed) = crm.plugins_with(Limits::default(), cache_dir().as_deref())?;
    for (name, error) in failed {
        eprintln!("warning: plugin {name} is installed but does not load: {error}");
    }
    Ok(host)
}

fn capabilities(names: &[String]) -> Result<Vec<Capability>, Failure> {
    names.iter().map(|n| Capability::parse(n).map_err(Failure::from)).collect()
}

pub(crate) fn install(
    crm: &Crm,
    component: &Path,
    manifest: &Path,
    grants: &[String],
) -> CliResult {
    let bytes = std::fs::read(component)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", component.display())))?;
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", manifest.display())))?;
    let manifest = Manifest::parse(&text)
        .map_err(|e| Failure::from(e).context(format!("in {}", manifest.display())))?;
    let mut host = open(crm)?;
    let metadata = host.install(&bytes, manifest, &capabilities(grants)?)?;
    say!(
        "installed {} {} (commands: {})",
        metadata.name,
        metadata.version,
        metadata.commands.join(", ")
    );
    Ok(())
}

pub(crate) fn list(crm: &Crm) -> CliResult {
    let host = open(crm)?;
    for stored in crm.read(|tx| tx.stored_plugins())? {
        let loaded = host.list().into_iter().any(|m| m.name == stored.name);
        say!(
            "{:<24} {:<10} grants: {:<40} {}",
            stored.name,
            stored.version,
            stored.grants.join(", "),
            if loaded { "" } else { "(does not load)" }
        );
    }
    Ok(())
}

pub(crate) fn grant(crm: &Crm, name: &str, caps: &[String], revoke: bool) -> CliResult {
    let mut host = open(crm)?;
    let caps = capabilities(caps)?;
    if revoke {
        host.revoke(name, &caps)?;
    } else {
        host.grant(name, &caps)?;
    }
    say!(
        "{name}: {}",
        host.capabilities(name)?.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

pub(crate) fn call(crm: &Crm, name: &str, command: &str, json: &str) -> CliResult {
    serde_json::from_str::<serde_json::Value>(json)
        .map_err(|e| Failure::usage(format!("--json is not JSON: {e}")))?;
    let host = open(crm)?;
    let outcome = host.call(name, command, json)?;
    for (level, message) in &outcome.logs {
        eprintln!("[{name} {level}] {message}");
    }
    say!("{}", outcome.output);
    Ok(())
}

pub(crate) fn uninstall(crm: &Crm, name: &str) -> CliResult {
    let mut host = open(crm)?;
    if !host.uninstall(name)? {
        return Err(Failure::usage(format!("plugin not found: {name}")));
    }
    say!("uninstalled {name}");
    Ok(())
}
