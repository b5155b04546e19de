//! Printing parties, search hits, events and duplicates for people.

use crm_core::{Crm, Lang, Party};

use crate::{CliResult, Failure};

pub(crate) fn party(crm: &Crm, key: &str, json: bool) -> CliResult {
    let (party, relationships, interactions, names) = crm.read(|tx| {
        let party = tx.resolve_party(key)?;
        let relationships = tx.relationships_of(party.id, None)?;
        let interactions = tx.interactions_of(party.id, 0, 5)?;
        let mut names = std::collections::HashMap::new();
        for r in &relationships {
            for id in [r.from, r.to] {
                if let Some(other) = tx.find_party(id)? {
                    names.insert(id, other.name);
                }
            }
        }
        Ok((party, relationships, interactions, names))
    })?;
    if json {
        say!("{}", to_json(&party)?);
        return Ok(());
    }
    let lang = party.language.as_deref().map_or(Lang::En, Lang::from_tag);
    print_party(&party, lang);
    if !relationships.is_empty() {
        say!("relationships:");
        for r in &relationships {
            let name = |id| names.get(&id).map_or("?", String::as_str);
            let role = r.role.as_deref().map(|role| format!(" ({role})")).unwrap_or_default();
            let span = match (r.since, r.until) {
                (None, None) => String::new(),
                (since, until) => format!(
                    " [{} – {}]",
                    since.map(|d| d.to_string()).unwrap_or_default(),
                    until.map(|d| d.to_string()).unwrap_or_default()
                ),
            };
            say!("  {} —{}→ {}{role}{span}", name(r.from), r.kind, name(r.to));
        }
    }
    if interactions.total > 0 {
        say!("interactions ({} in all, newest first):", interactions.total);
        for i in &interactions.items {
            say!(
                "  {} {} {} {}{}",
                i.at.format("%Y-%m-%d %H:%M"),
                pad(i.channel.label(lang), 11),
                pad(i.direction.label(lang), 8),
                i.subject,
                i.outcome.as_deref().map(|o| format!(" → {o}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn print_party(party: &Party, lang: Lang) {
    say!("{}  ({}, {})", party.name, party.kind.label(lang), party.id);
    if let Some(deleted) = party.deleted_at {
        match party.merged_into {
            Some(into) => say!("  merged into {into} at {deleted}"),
            None => say!("  deleted at {deleted}"),
        }
    }
    let today = chrono::Utc::now().date_naive();
    let roles: Vec<_> =
        party.roles.iter().filter(|r| r.active_on(today)).map(|r| r.role.label(lang)).collect();
    if !roles.is_empty() {
        say!("  roles:    {}", roles.join(", "));
    }
    if let Some(stage) = party.stage {
        say!("  stage:    {}", stage.label(lang));
    }
    if let Some(language) = &party.language {
        say!("  language: {language}");
    }
    if let Some(currency) = party.currency {
        say!("  currency: {currency}");
    }
    if !party.tags.is_empty() {
        say!("  tags:     {}", party.tags.join(", "));
    }
    for external_id in &party.external_ids {
        say!("  id:       {external_id}");
    }
    for contact in &party.contacts {
        let consents: Vec<_> = contact
            .consents
            .iter()
            .map(|c| format!("{}{}", if c.granted { "+" } else { "-" }, c.purpose))
            .collect();
        say!(
            "  {} {}{}",
            pad(&format!("{}:", contact.kind.label(lang)), 9),
            contact.value,
            if consents.is_empty() { String::new() } else { format!("  [{}]", consents.join(" ")) }
        );
    }
    for (name, value) in &party.fields {
        say!("  {name}: {}", value.to_text());
    }
    if let Some(notes) = &party.notes {
        say!("  notes:    {notes}");
    }
}

pub(crate) fn party_list(crm: &Crm, filter: &crm_core::PartyFilter, json: bool) -> CliResult {
    let page = crm.read(|tx| tx.list_parties(filter))?;
    if json {
        for party in &page.items {
            say!("{}", serde_json::to_string(party).map_err(|e| Failure::usage(e.to_string()))?);
        }
        return Ok(());
    }
    say!("{} parties match; showing {}", page.total, page.items.len());
    for party in &page.items {
        let lang = party.language.as_deref().map_or(Lang::En, Lang::from_tag);
        let external = party.external_ids.first().map(ToString::to_string).unwrap_or_default();
        say!(
            "  {}  {}  {}  {}",
            party.id,
            pad(&party.name, 24),
            pad(party.stage.map_or("", |s| s.label(lang)), 10),
            external
        );
    }
    Ok(())
}

pub(crate) fn search(crm: &Crm, text: &str, offset: u64, limit: u64) -> CliResult {
    let (page, names) = crm.read(|tx| {
        let page = tx.search(text, offset, limit)?;
        let mut names = Vec::with_capacity(page.items.len());
        for hit in &page.items {
            names.push(tx.get_party(hit.party_id)?.name);
        }
        Ok((page, names))
    })?;
    say!("{} results for `{text}`", page.total);
    for (hit, name) in page.items.iter().zip(names) {
        say!("  {:<12} {}  {}  {}", hit.entity, hit.party_id, name, hit.snippet);
    }
    Ok(())
}

pub(crate) fn events(crm: &Crm, since: i64, limit: u64, json: bool) -> CliResult {
    let events = crm.read(|tx| tx.events_since(since, limit))?;
    for event in &events {
        if json {
            say!("{}", serde_json::to_string(event).map_err(|e| Failure::usage(e.to_string()))?);
        } else {
            say!(
                "{:>8} {} {:<14} {:<24} {} {}",
                event.seq,
                event.at.format("%Y-%m-%d %H:%M:%S"),
                event.actor,
                event.kind,
                event.entity,
                event.entity_id
            );
        }
    }
    Ok(())
}

pub(crate) fn duplicates(
    crm: &Crm,
    limit: u64,
    reason: Option<crm_core::DuplicateReason>,
) -> CliResult {
    let rows = crm.read(|tx| {
        let mut rows = Vec::new();
        // Candidates come e-mail first, then phone, then name; a filter on a
        // later reason has to look past the earlier ones.
        let fetch = if reason.is_some() { u64::MAX } else { limit };
        let candidates = tx.duplicate_candidates(fetch)?.into_iter();
        for candidate in
            candidates.filter(|c| reason.is_none_or(|r| c.reason == r)).take(limit as usize)
        {
            let a = tx.get_party(candidate.a)?.name;
            let b = tx.get_party(candidate.b)?.name;
            rows.push((candidate, a, b));
        }
        Ok(rows)
    })?;
    say!("{} candidate pairs", rows.len());
    for (candidate, a, b) in rows {
        say!(
            "  {:<6} {:<28} {} {}  ~  {} {}",
            candidate.reason.code(),
            candidate.value,
            candidate.a,
            a,
            candidate.b,
            b
        );
    }
    Ok(())
}

/// Pads `text` with spaces to `width` terminal columns (CJK characters take
/// two).
pub(crate) fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(display_width(text))))
}

/// Right-aligns `text` in `width` terminal columns.
pub(crate) fn pad_left(text: &str, width: usize) -> String {
    format!("{}{text}", " ".repeat(width.saturating_sub(display_width(text))))
}

/// Terminal columns `text` takes (CJK characters take two).
pub(crate) fn display_width(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

/// Groups the whole part of a decimal number in thousands: `1234567.5` →
/// `1,234,567.5`.
pub(crate) fn thousands(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (whole, fraction) = rest.split_once('.').map_or((rest, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

pub(crate) fn to_json(value: &impl serde::Serialize) -> CliResult<String> {
    serde_json::to_string_pretty(value).map_err(|e| Failure::usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_padding() {
        assert_eq!(thousands("352146000"), "352,146,000");
        assert_eq!(thousands("-1234.50"), "-1,234.50");
        assert_eq!(thousands("12"), "12");
        assert_eq!(pad("手机:", 9), "手机:    ");
        assert_eq!(pad("Mobile:", 9), "Mobile:  ");
    }
}
