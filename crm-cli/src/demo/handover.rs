//! Step 16 of the demo: the real-estate handover (入伙) plugin runs a small
//! batch — when the plugin has been built (scripts/test.sh builds it; so
//! does `cargo build --release --target wasm32-wasip2 --manifest-path
//! plugins/Cargo.toml`).

use std::path::PathBuf;

use crm_core::Crm;
use crm_wasm_host::{Capability, CrmPlugins, Limits, Manifest, PluginHost, sha256_hex};
use serde_json::{Value, json};

use crate::CliResult;

const FILE: &str = "crm_plugin_real_estate_handover.wasm";

/// Where a built component may be: `CRM_PLUGINS_DIR`, the test script's
/// target directory, or the plugins workspace of this checkout.
fn find() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("CRM_PLUGINS_DIR") {
        dirs.push(dir.into());
    }
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(dir).join("wasm32-wasip2/release"));
    }
    if let Some(cache) = crate::plugin::user_cache() {
        dirs.push(cache.join("crm/target/wasm32-wasip2/release"));
    }
    dirs.push(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release"),
    );
    dirs.into_iter().map(|d| d.join(FILE)).find(|p| p.is_file())
}

fn call(host: &PluginHost, command: &str, args: &Value) -> CliResult<Value> {
    let outcome = host.call("real-estate-handover", command, &args.to_string())?;
    Ok(serde_json::from_str(&outcome.output).unwrap_or(Value::Null))
}

/// Builds the plugin from this checkout when it has not been built yet (the
/// demo runs from a checkout via cargo). Quiet unless it fails.
fn build() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/Cargo.toml");
    if !manifest.is_file() {
        return None;
    }
    say!("    (building the 入伙 plugin for wasm32-wasip2 once; this takes a minute)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .output()
        .ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().rev().take(3).collect();
        for line in last.into_iter().rev() {
            say!("    {line}");
        }
        return None;
    }
    find()
}

pub(super) fn tour(crm: &Crm) -> CliResult {
    let Some(path) = find().or_else(build) else {
        say!("16. Plugins: the 入伙 handover plugin could not be built here; build it with");
        say!("    rustup target add wasm32-wasip2");
        say!("    cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml");
        return Ok(());
    };
    let bytes = std::fs::read(&path)?;
    let template = include_str!("../../../plugins/real-estate-handover/plugin.toml");
    let manifest = Manifest::parse(&template.replace("SHA256", &sha256_hex(&bytes)))?;
    let (mut host, _) =
        crm.plugins_with(Limits::default(), crate::plugin::cache_dir().as_deref())?;
    host.install(
        &bytes,
        manifest,
        &[
            Capability::PartiesRead,
            Capability::Workflows,
            Capability::Documents,
            Capability::CasesWrite,
            Capability::TasksWrite,
            Capability::MessagesSend,
        ],
    )?;
    let buyers = crm.read(|tx| {
        tx.list_parties(
            &crm_core::PartyFilter::default().role(crm_core::Role::Customer).page(0, 40),
        )
    })?;
    let unit = |i: usize| format!("{}{:02}", 2 + i / 4, 1 + i % 4);
    let units: Vec<Value> = buyers
        .items
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "unit": unit(i), "buyer": p.id.to_string() }))
        .collect();
    call(
        &host,
        "register-units",
        &json!({ "project": "滨江花园 Riverside", "building": "B1", "units": units }),
    )?;
    let slots: Vec<Value> = [
        "2026-12-05T01:00:00Z",
        "2026-12-05T05:00:00Z",
        "2026-12-06T01:00:00Z",
        "2026-12-06T05:00:00Z",
    ]
    .iter()
    .map(|at| json!({ "at": at, "capacity": 10 }))
    .collect();
    let scheduled = call(&host, "schedule-batch", &json!({ "building": "B1", "slots": slots }))?;
    for i in 0..units.len() {
        let u = unit(i);
        if i % 9 == 4 {
            call(
                &host,
                "defer",
                &json!({ "building": "B1", "unit": u, "reason": "业主出差 owner travelling" }),
            )?;
            continue;
        }
        if i >= 30 {
            continue; // Still to come on day two.
        }
        call(
            &host,
            "check-in",
            &json!({ "building": "B1", "unit": u, "identity_verified": true, "fees_settled": true }),
        )?;
        let defects = if i % 6 == 0 {
            vec![
                json!({ "area": "卫生间 bathroom", "description": "渗水 seepage", "priority": "high" }),
            ]
        } else {
            vec![]
        };
        call(
            &host,
            "inspect",
            &json!({ "building": "B1", "unit": u, "meters": { "water": 0.8, "electricity": 3.2, "gas": 0.1 }, "defects": defects, "sla_policy": "default" }),
        )?;
        call(&host, "hand-keys", &json!({ "building": "B1", "unit": u, "keys": 2 }))?;
        call(&host, "complete", &json!({ "building": "B1", "unit": u, "documents_signed": true }))?;
    }
    let progress = call(&host, "progress", &json!({ "building": "B1" }))?;
    let rate = call(&host, "defect-rate", &json!({ "building": "B1" }))?;
    let states = progress["states"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" · "))
        .unwrap_or_default();
    say!(
        "16. Plugin 入伙 handover (WebAssembly, sandboxed): building B1, {} units, {} scheduled into 4 slots; {states}; {} defects over {} inspected units, each a case with a repair SLA",
        progress["units"],
        scheduled["scheduled"],
        rate["defects"],
        rate["inspected"]
    );
    Ok(())
}
