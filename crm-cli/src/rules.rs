//! `crm rule check`, `crm segment …` and `crm tick`.

use std::path::Path;

use crm_core::Crm;

use crate::show::to_json;
use crate::{CliResult, Failure};

/// Type-checks one condition or a rules file (one `name: condition` or bare
/// condition per line; `#` starts a comment). Problems are printed as
/// `FILE:LINE:COLUMN: message`; exit code 2 when there are any.
pub(crate) fn check(crm: &Crm, file: Option<&Path>, expr: Option<&str>) -> CliResult {
    let fields = crm.read(|tx| tx.rule_fields())?;
    let mut problems = 0;
    let mut checked = 0;
    let mut check_one = |label: &str, line_no: usize, offset: usize, source: &str| {
        checked += 1;
        if let Err(diagnostics) = crm_core::rules::Condition::compile(source, &fields) {
            for d in diagnostics {
                problems += 1;
                eprintln!(
                    "{label}:{}:{}: {}",
                    line_no + d.line as usize - 1,
                    offset + d.column as usize,
                    d.message
                );
            }
        }
    };
    match (file, expr) {
        (_, Some(expr)) => check_one("<expr>", 1, 0, expr),
        (Some(file), None) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
            for (index, line) in text.lines().enumerate() {
                let body = line.split('#').next().unwrap_or_default();
                if body.trim().is_empty() {
                    continue;
                }
                // `name: condition` — the condition starts after the colon,
                // unless the colon is inside the condition (a `?:`).
                let (offset, source) = match body.split_once(':') {
                    Some((name, rest))
                        if !name.trim().is_empty()
                            && name
                                .trim()
                                .chars()
                                .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
                    {
                        (name.len() + 1, rest)
                    }
                    _ => (0, body),
                };
                check_one(&file.display().to_string(), index + 1, offset, source);
            }
        }
        (None, None) => return Err(Failure::usage("give a rules FILE or --expr CONDITION")),
    }
    if problems > 0 {
        return Err(Failure::usage(format!("{problems} problems in {checked} conditions")));
    }
    say!("{checked} conditions type-check");
    Ok(())
}

pub(crate) fn create(
    crm: &Crm,
    name: &str,
    condition: Option<&str>,
    members: &[String],
) -> CliResult {
    let ids = crm.read(|tx| {
        members.iter().map(|m| Ok(tx.resolve_party(m)?.id)).collect::<crm_core::Result<Vec<_>>>()
    })?;
    let change = crm.write(|tx| tx.create_segment(name, condition, &ids))?;
    say!("segment {name}: {} members", change.entered.len());
    Ok(())
}

pub(crate) fn list(crm: &Crm, json: bool) -> CliResult {
    let segments = crm.read(|tx| tx.segments())?;
    if json {
        say!("{}", to_json(&segments)?);
        return Ok(());
    }
    for s in segments {
        say!(
            "{:<24} {:>8}  {}",
            s.name,
            s.members,
            s.condition.as_deref().unwrap_or("(fixed list)")
        );
    }
    Ok(())
}

pub(crate) fn refresh(crm: &Crm, name: Option<&str>) -> CliResult {
    let names: Vec<String> = match name {
        Some(n) => vec![n.to_owned()],
        None => crm
            .read(|tx| tx.segments())?
            .into_iter()
            .filter(|s| s.condition.is_some())
            .map(|s| s.name)
            .collect(),
    };
    for name in names {
        let change = crm.write(|tx| tx.refresh_segment(&name))?;
        say!("segment {name}: {} entered, {} left", change.entered.len(), change.exited.len());
    }
    Ok(())
}

pub(crate) fn members(crm: &Crm, name: &str, offset: u64, limit: u64) -> CliResult {
    let page = crm.read(|tx| tx.segment_members(name, offset, limit))?;
    say!("segment {name}: {} members", page.total);
    for id in page.items {
        let party = crm.read(|tx| tx.get_party(id))?;
        say!("  {}  {}", id, party.name);
    }
    Ok(())
}

pub(crate) fn tick(crm: &Crm, now: Option<&str>) -> CliResult {
    let now = match now {
        None => crm.now(),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| Failure::usage(format!("--now `{text}` is not an RFC 3339 time")))?,
    };
    let plugins = crm.read(|tx| tx.stored_plugins())?.len();
    let report = if plugins == 0 {
        crm.run_due(now)?
    } else {
        let host = crate::plugin::open(crm)?;
        let due = host.run_due(now)?;
        say!("plugins: {} events delivered, {} ticks", due.delivered, due.ticks);
        for (name, seq, error) in due.failed {
            eprintln!("warning: plugin {name} failed at event {seq}: {error}");
        }
        due.library
    };
    say!(
        "tick at {now}: {} segments re-evaluated, {} SLA breaches escalated, {} parties acted on by scheduled rules, {} points expired, {} tiers reviewed, {} enrolled by scheduled campaigns",
        report.segments,
        report.escalated,
        report.scheduled,
        report.points_expired,
        report.tiers_reviewed,
        report.campaign_enrolled
    );
    Ok(())
}
