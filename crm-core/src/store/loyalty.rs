//! Loyalty: programmes, the append-only points ledger, tiers, expiry.
//!
//! Balances are never stored: a balance is the sum of the ledger. Every
//! entry that takes points away checks the balance inside the write
//! transaction (one writer at a time), so a balance can never go negative,
//! also with several writers. Spending takes from the oldest lots first;
//! an expiry closes the unspent rest of one lot.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

use crate::Error;
use crate::model::{
    LedgerEntry, LedgerKind, Membership, Money, NewLoyaltyProgram, OrderId, PartyId,
};
use crate::store::Tx;
use crate::store::codec::{
    collect, get, get_opt_time, get_parsed, get_time, parse_time, time_text,
};
use crate::store::fx::Converter;
use crate::store::rules::EventContext;

const LEDGER_COLUMNS: &str =
    "id, program, party_id, kind, points, at, expires_at, lot, reason, source";

fn entry_from_row(row: &rusqlite::Row<'_>) -> crate::Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: get(row, "id")?,
        program: get(row, "program")?,
        party_id: get_parsed(row, "party_id")?,
        kind: get_parsed(row, "kind")?,
        points: get(row, "points")?,
        at: get_time(row, "at")?,
        expires_at: get_opt_time(row, "expires_at")?,
        lot: get(row, "lot")?,
        reason: get(row, "reason")?,
        source: get(row, "source")?,
    })
}

/// What is left of each lot (positive entry) after replaying the ledger:
/// expiries close their own lot, everything else spends oldest first.
fn remaining_lots(entries: &[LedgerEntry]) -> Vec<(i64, i64)> {
    let mut lots: Vec<(i64, i64)> = Vec::new();
    for entry in entries {
        if entry.points > 0 {
            lots.push((entry.id, entry.points));
            continue;
        }
        let mut owed = -entry.points;
        if let (LedgerKind::Expire, Some(lot)) = (entry.kind, entry.lot)
            && let Some(l) = lots.iter_mut().find(|l| l.0 == lot)
        {
            let taken = owed.min(l.1);
            l.1 -= taken;
            owed -= taken;
        }
        for l in lots.iter_mut() {
            if owed == 0 {
                break;
            }
            let taken = owed.min(l.1);
            l.1 -= taken;
            owed -= taken;
        }
    }
    lots
}

impl Tx<'_> {
    /// Creates a loyalty programme. Its earn formula must type-check as an
    /// int against this database's schema.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a bad shape or formula (with line:column);
    /// [`Error::Conflict`] for a taken name.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{Currency, NewLoyaltyProgram, NewParty};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let cny = Currency::new("CNY")?;
    /// let balance = crm.write(|tx| {
    ///     tx.create_loyalty_program(
    ///         NewLoyaltyProgram::new("club", cny, r#"floor(order.total / 10.0) * (tier == "gold" ? 2 : 1)"#)
    ///             .with_tier("silver", 0)
    ///             .with_tier("gold", 1000),
    ///     )?;
    ///     let p = tx.create_party(NewParty::person("Lin"))?.id;
    ///     tx.award_points("club", p, 300, "welcome")?;
    ///     tx.redeem_points("club", p, 100, "voucher")?;
    ///     Ok(tx.loyalty_member("club", p)?.balance)
    /// })?;
    /// assert_eq!(balance, 200);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_loyalty_program(&mut self, program: NewLoyaltyProgram) -> crate::Result<()> {
        program.validate()?;
        let earn = crate::rules::Condition::compile_int(&program.earn, &self.rule_fields()?)
            .map_err(|d| {
                Error::invalid(
                    "earn",
                    d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                )
            })?;
        drop(earn);
        if self.find_loyalty_program(&program.name)?.is_some() {
            return Err(Error::conflict(format!("loyalty programme `{}` exists", program.name)));
        }
        let next_review = self.now + Duration::days(program.review_every_days);
        self.conn.execute(
            "INSERT INTO loyalty_programs (name, definition, created_at, next_review, expired_until)
             VALUES (?1, ?2, ?3, ?4, ?3)",
            params![
                program.name,
                serde_json::to_string(&program)?,
                self.now_text.as_str(),
                time_text(&next_review)
            ],
        )?;
        self.record_event(
            "loyalty",
            &program.name,
            "loyalty.program_created",
            None,
            Some(&serde_json::to_value(&program)?),
        )?;
        Ok(())
    }

    fn find_loyalty_program(&self, name: &str) -> crate::Result<Option<NewLoyaltyProgram>> {
        let definition: Option<String> = self
            .conn
            .prepare_cached("SELECT definition FROM loyalty_programs WHERE name = ?1")?
            .query_row(params![name], |row| row.get(0))
            .optional()?;
        definition
            .map(|d| {
                serde_json::from_str(&d)
                    .map_err(|e| Error::Internal(format!("loyalty_programs.definition: {e}")))
            })
            .transpose()
    }

    /// A loyalty programme by name.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown name.
    pub fn loyalty_program(&self, name: &str) -> crate::Result<NewLoyaltyProgram> {
        self.find_loyalty_program(name)?.ok_or_else(|| Error::not_found("loyalty programme", name))
    }

    /// Every loyalty programme, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn loyalty_programs(&self) -> crate::Result<Vec<NewLoyaltyProgram>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT definition FROM loyalty_programs ORDER BY created_at, name")?;
        collect(&mut stmt, params![], |row| {
            serde_json::from_str(&get::<String>(row, "definition")?)
                .map_err(|e| Error::Internal(format!("loyalty_programs.definition: {e}")))
        })
    }

    /// The spendable balance: the sum of the ledger.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown programme.
    pub fn points_balance(&self, program: &str, party: PartyId) -> crate::Result<i64> {
        self.loyalty_program(program)?;
        self.balance_of(program, party)
    }

    fn balance_of(&self, program: &str, party: PartyId) -> crate::Result<i64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(points), 0) FROM loyalty_ledger WHERE program = ?1 AND party_id = ?2",
            )?
            .query_row(params![program, party.to_string()], |row| row.get(0))?)
    }

    /// The ledger of a member, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown programme.
    pub fn loyalty_history(
        &self,
        program: &str,
        party: PartyId,
    ) -> crate::Result<Vec<LedgerEntry>> {
        self.loyalty_program(program)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LEDGER_COLUMNS} FROM loyalty_ledger WHERE program = ?1 AND party_id = ?2 ORDER BY id"
        ))?;
        collect(&mut stmt, params![program, party.to_string()], entry_from_row)
    }

    /// A party's standing and ledger in every programme it belongs to (for
    /// its export).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn loyalty_of(&self, party: PartyId) -> crate::Result<Vec<serde_json::Value>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT program FROM loyalty_members WHERE party_id = ?1 ORDER BY program",
        )?;
        let programs: Vec<String> =
            collect(&mut stmt, params![party.to_string()], |row| get(row, "program"))?;
        programs
            .iter()
            .map(|p| {
                Ok(serde_json::json!({
                    "membership": self.loyalty_member(p, party)?,
                    "ledger": self.loyalty_history(p, party)?,
                }))
            })
            .collect()
    }

    /// A member's tier, balance and tier points.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown programme, or a party that has
    /// never earned in it.
    pub fn loyalty_member(&self, program: &str, party: PartyId) -> crate::Result<Membership> {
        let definition = self.loyalty_program(program)?;
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT tier, since FROM loyalty_members WHERE program = ?1 AND party_id = ?2",
            )?
            .query_row(params![program, party.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((tier, since)) = row else {
            return Err(Error::not_found("loyalty member", format!("{party} in `{program}`")));
        };
        Ok(Membership {
            program: program.to_owned(),
            party_id: party,
            tier,
            since: parse_time(&since, "since")?,
            balance: self.balance_of(program, party)?,
            window_points: self.window_points(&definition, party, self.now)?,
        })
    }

    fn window_points(
        &self,
        program: &NewLoyaltyProgram,
        party: PartyId,
        now: DateTime<Utc>,
    ) -> crate::Result<i64> {
        let from = now - Duration::days(program.tier_window_days);
        Ok(self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(points), 0) FROM loyalty_ledger
                 WHERE program = ?1 AND party_id = ?2 AND kind = 'earn' AND at > ?3 AND at <= ?4",
            )?
            .query_row(
                params![program.name, party.to_string(), time_text(&from), time_text(&now)],
                |row| row.get(0),
            )?)
    }

    /// Awards points (an earned lot, which expires as the programme says).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for points ≤ 0 or an empty reason;
    /// [`Error::NotFound`] for an unknown programme or party.
    pub fn award_points(
        &mut self,
        program: &str,
        party: PartyId,
        points: i64,
        reason: &str,
    ) -> crate::Result<LedgerEntry> {
        self.manual_entry(program, party, LedgerKind::Earn, points, reason)
    }

    /// Redeems points. Never overdraws: asking for more than the balance
    /// is an error and changes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for points ≤ 0, an empty reason, or more than the
    /// balance; [`Error::NotFound`] for an unknown programme or party.
    pub fn redeem_points(
        &mut self,
        program: &str,
        party: PartyId,
        points: i64,
        reason: &str,
    ) -> crate::Result<LedgerEntry> {
        self.manual_entry(program, party, LedgerKind::Redeem, points, reason)
    }

    /// Adjusts a balance by `delta` (either sign) with a reason. A negative
    /// adjustment cannot take the balance below zero.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a zero delta, an empty reason, or a deduction
    /// beyond the balance; [`Error::NotFound`] for an unknown programme or
    /// party.
    pub fn adjust_points(
        &mut self,
        program: &str,
        party: PartyId,
        delta: i64,
        reason: &str,
    ) -> crate::Result<LedgerEntry> {
        self.manual_entry(program, party, LedgerKind::Adjust, delta, reason)
    }

    /// Moves `points` from one party to another as two adjustments (for
    /// merge and unmerge).
    pub(crate) fn transfer_points(
        &mut self,
        program: &str,
        from: PartyId,
        to: PartyId,
        points: i64,
        why: &str,
    ) -> crate::Result<()> {
        let definition = self.loyalty_program(program)?;
        let out = format!("{why}: to {to}");
        let into = format!("{why}: from {from}");
        self.append_entry(&definition, from, LedgerKind::Adjust, -points, Some(&out), None)?;
        self.append_entry(&definition, to, LedgerKind::Adjust, points, Some(&into), None)?;
        Ok(())
    }

    /// An award (`Earn`, points > 0), a redemption (`Redeem`, points > 0,
    /// taken off) or an adjustment (`Adjust`, either sign) with a reason.
    fn manual_entry(
        &mut self,
        program: &str,
        party: PartyId,
        kind: LedgerKind,
        points: i64,
        reason: &str,
    ) -> crate::Result<LedgerEntry> {
        let signed = match kind {
            LedgerKind::Adjust if points == 0 => {
                return Err(Error::invalid("points", "an adjustment of 0 changes nothing"));
            }
            LedgerKind::Adjust => points,
            _ if points <= 0 => {
                return Err(Error::invalid(
                    "points",
                    format!("{} a positive number, not {points}", kind.code()),
                ));
            }
            LedgerKind::Redeem => -points,
            _ => points,
        };
        if reason.trim().is_empty() {
            return Err(Error::invalid("reason", "say why the points change"));
        }
        let definition = self.loyalty_program(program)?;
        self.append_entry(&definition, party, kind, signed, Some(reason), None)
    }

    fn append_entry(
        &mut self,
        program: &NewLoyaltyProgram,
        party: PartyId,
        kind: LedgerKind,
        points: i64,
        reason: Option<&str>,
        source: Option<&str>,
    ) -> crate::Result<LedgerEntry> {
        self.require_live(party, "party")?;
        let balance = self.balance_of(&program.name, party)?;
        let after = balance.checked_add(points).ok_or_else(|| {
            Error::invalid("points", format!("{points} points overflow the balance"))
        })?;
        if after < 0 {
            return Err(Error::invalid(
                "points",
                format!(
                    "cannot take {} points: the balance of {party} in `{}` is {balance}",
                    -points, program.name
                ),
            ));
        }
        let expires_at = match (kind, program.expiry_days) {
            (LedgerKind::Earn, Some(days)) => Some(time_text(&(self.now + Duration::days(days)))),
            _ => None,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO loyalty_ledger (program, party_id, kind, points, at, expires_at, reason, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                program.name,
                party.to_string(),
                kind.code(),
                points,
                self.now_text.as_str(),
                expires_at,
                reason,
                source
            ])?;
        let id = self.conn.last_insert_rowid();
        self.record_event(
            "party",
            &party.to_string(),
            &format!("loyalty.{}", kind.code()),
            None,
            Some(&serde_json::json!({
                "program": program.name, "points": points, "balance": after,
                "reason": reason, "source": source, "entry": id,
            })),
        )?;
        self.update_tier(program, party, false)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LEDGER_COLUMNS} FROM loyalty_ledger WHERE id = ?1"
        ))?;
        collect(&mut stmt, params![id], entry_from_row)?
            .pop()
            .ok_or_else(|| Error::Internal("ledger entry vanished".into()))
    }

    /// Enrols the party at the tier its points qualify for, moves it up at
    /// once, and down only when `review` is set.
    fn update_tier(
        &mut self,
        program: &NewLoyaltyProgram,
        party: PartyId,
        review: bool,
    ) -> crate::Result<()> {
        let points = self.window_points(program, party, self.now)?;
        let qualified = program.tier_for(points).map(|t| t.name.clone()).unwrap_or_default();
        let current: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT tier FROM loyalty_members WHERE program = ?1 AND party_id = ?2",
            )?
            .query_row(params![program.name, party.to_string()], |row| row.get(0))
            .optional()?;
        let moves = match &current {
            None => true,
            Some(tier) if *tier == qualified => false,
            Some(tier) => {
                let up = program.rank(&qualified) > program.rank(tier);
                up || review
            }
        };
        if !moves {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO loyalty_members (program, party_id, tier, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (program, party_id) DO UPDATE SET tier = excluded.tier, since = excluded.since",
            )?
            .execute(params![program.name, party.to_string(), qualified, self.now_text.as_str()])?;
        self.record_event(
            "party",
            &party.to_string(),
            "loyalty.tier_changed",
            current.as_ref().map(|t| serde_json::json!({ "program": program.name, "tier": t })).as_ref(),
            Some(&serde_json::json!({ "program": program.name, "tier": qualified, "points": points })),
        )?;
        Ok(())
    }

    /// Earns points for an order in every programme whose formula gives a
    /// positive number, once per order and programme (an order that does
    /// not count as revenue earns nothing).
    pub(crate) fn earn_for_order(&mut self, order: OrderId) -> crate::Result<()> {
        let programs = self.loyalty_programs()?;
        if programs.is_empty() {
            return Ok(());
        }
        let order = self.get_order(order)?;
        if !order.status.is_revenue() || self.require_live(order.party_id, "party").is_err() {
            return Ok(());
        }
        let source = format!("order:{}", order.id);
        let fields = self.rule_fields()?;
        for program in programs {
            let done: Option<i64> = self
                .conn
                .prepare_cached("SELECT 1 FROM loyalty_ledger WHERE program = ?1 AND source = ?2")?
                .query_row(params![program.name, source], |row| row.get(0))
                .optional()?;
            if done.is_some() {
                continue;
            }
            let total = Converter::new(self, program.currency).convert(
                Money::new(order.revenue.minor(), order.currency),
                order.ordered_at.date_naive(),
            )?;
            let formula =
                crate::rules::Condition::compile_int(&program.earn, &fields).map_err(|d| {
                    Error::invalid(
                        "earn",
                        d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                    )
                })?;
            let context = EventContext {
                order_total: total.minor() as f64 / program.currency.minor_per_major() as f64,
                program: Some(program.name.clone()),
                ..EventContext::default()
            };
            let table = self.feature_table_in(
                formula.features(),
                Some(order.party_id),
                self.now.date_naive(),
                &context,
            )?;
            if table.parties.is_empty() {
                continue;
            }
            let points = formula.eval_int(&table, 0);
            if points > 0 {
                let reason = format!("order {}", order.id);
                self.append_entry(
                    &program,
                    order.party_id,
                    LedgerKind::Earn,
                    points,
                    Some(&reason),
                    Some(&source),
                )?;
            }
        }
        Ok(())
    }

    /// Expires the unspent rest of every lot whose time has come, and
    /// reviews tiers that are due (moving members down as well as up).
    /// Returns (points expired, members reviewed).
    pub(crate) fn run_loyalty(&mut self, now: DateTime<Utc>) -> crate::Result<(i64, u64)> {
        let mut expired = 0;
        let mut reviewed = 0;
        for program in self.loyalty_programs()? {
            let (since, next_review): (Option<String>, Option<String>) = self
                .conn
                .prepare_cached(
                    "SELECT expired_until, next_review FROM loyalty_programs WHERE name = ?1",
                )?
                .query_row(params![program.name], |row| Ok((row.get(0)?, row.get(1)?)))?;
            let now_text = time_text(&now);
            if program.expiry_days.is_some() {
                let mut stmt = self.conn.prepare_cached(&format!(
                    "SELECT {LEDGER_COLUMNS} FROM loyalty_ledger
                     WHERE program = ?1 AND expires_at > ?2 AND expires_at <= ?3 ORDER BY expires_at, id"
                ))?;
                let lots = collect(
                    &mut stmt,
                    params![program.name, since.unwrap_or_default(), now_text],
                    entry_from_row,
                )?;
                for lot in lots {
                    let history = self.loyalty_history(&program.name, lot.party_id)?;
                    let left = remaining_lots(&history)
                        .into_iter()
                        .find(|l| l.0 == lot.id)
                        .map_or(0, |l| l.1);
                    if left > 0 {
                        self.append_expiry(&program, &lot, left)?;
                        expired += left;
                    }
                }
                self.conn.execute(
                    "UPDATE loyalty_programs SET expired_until = ?2 WHERE name = ?1",
                    params![program.name, now_text],
                )?;
            }
            if let Some(next) = next_review
                && parse_time(&next, "next_review")? <= now
            {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT party_id FROM loyalty_members WHERE program = ?1")?;
                let members = collect(&mut stmt, params![program.name], |row| {
                    get_parsed::<PartyId>(row, "party_id")
                })?;
                for party in members {
                    if self.require_live(party, "party").is_ok() {
                        self.update_tier(&program, party, true)?;
                        reviewed += 1;
                    }
                }
                let mut next = parse_time(&next, "next_review")?;
                while next <= now {
                    next += Duration::days(program.review_every_days);
                }
                self.conn.execute(
                    "UPDATE loyalty_programs SET next_review = ?2 WHERE name = ?1",
                    params![program.name, time_text(&next)],
                )?;
            }
        }
        Ok((expired, reviewed))
    }

    fn append_expiry(
        &mut self,
        program: &NewLoyaltyProgram,
        lot: &LedgerEntry,
        points: i64,
    ) -> crate::Result<()> {
        let at = lot.expires_at.map(|t| time_text(&t)).unwrap_or_else(|| self.now_text.clone());
        self.conn
            .prepare_cached(
                "INSERT INTO loyalty_ledger (program, party_id, kind, points, at, lot, reason)
                 VALUES (?1, ?2, 'expire', ?3, ?4, ?5, 'expired')",
            )?
            .execute(params![program.name, lot.party_id.to_string(), -points, at, lot.id])?;
        let balance = self.balance_of(&program.name, lot.party_id)?;
        self.record_event(
            "party",
            &lot.party_id.to_string(),
            "loyalty.expire",
            None,
            Some(&serde_json::json!({
                "program": program.name, "points": -points, "balance": balance, "lot": lot.id,
            })),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, kind: LedgerKind, points: i64, lot: Option<i64>) -> LedgerEntry {
        LedgerEntry {
            id,
            program: "p".into(),
            party_id: PartyId::new(),
            kind,
            points,
            at: Utc::now(),
            expires_at: None,
            lot,
            reason: None,
            source: None,
        }
    }

    #[test]
    fn spending_takes_the_oldest_lot_first_and_expiry_closes_its_own() {
        let ledger = [
            entry(1, LedgerKind::Earn, 100, None),
            entry(2, LedgerKind::Earn, 50, None),
            entry(3, LedgerKind::Redeem, -120, None),
            entry(4, LedgerKind::Expire, -30, Some(2)),
        ];
        assert_eq!(remaining_lots(&ledger), vec![(1, 0), (2, 0)]);
        assert_eq!(remaining_lots(&ledger[..3]), vec![(1, 0), (2, 30)]);
    }
}
