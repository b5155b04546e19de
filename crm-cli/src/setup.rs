//! `crm setup FILE.json`: pipelines, working calendars, SLA policies and
//! price lists from one JSON document, applied in one transaction (the
//! document is described in `crm_core::setup`).

use std::path::Path;

use crm_core::{Crm, Setup};

use crate::{CliResult, Failure};

pub(crate) fn run(crm: &Crm, file: &Path) -> CliResult {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let setup = Setup::from_json(&text)
        .map_err(|e| Failure::from(e).context(format!("in {}", file.display())))?;
    // One transaction: a bad element leaves the database as it was.
    let report = crm
        .write(|tx| tx.apply_setup(&setup))
        .map_err(|e| Failure::from(e).context("nothing was saved"))?;
    say!(
        "{}: {} calendars, {} SLA policies, {} pipelines, {} price lists saved",
        file.display(),
        report.calendars,
        report.sla_policies,
        report.pipelines,
        report.price_lists
    );
    Ok(())
}
