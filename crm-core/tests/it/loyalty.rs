//! Loyalty: earning on orders by a CEL formula, tiers, expiry, redemption,
//! and the ledger invariants under random operations and concurrent writers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::{
    Crm, Currency, LedgerKind, Money, NewLine, NewLoyaltyProgram, NewOrder, NewParty, NewProduct,
    PartyId,
};
use proptest::prelude::*;

use crate::support::{crm_at, fails_cleanly};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn club() -> NewLoyaltyProgram {
    NewLoyaltyProgram::new(
        "club",
        Currency::CNY,
        r#"floor(order.total / 10.0) * (tier == "gold" ? 2 : 1)"#,
    )
    .with_tier("silver", 0)
    .with_tier("gold", 100)
    .expiring_after(30)
    .reviewed(60, 30)
}

/// A party that buys `quantity` pots of tea at 100.00 CNY each.
fn buy(crm: &Crm, party: PartyId, quantity: i64, at: DateTime<Utc>) {
    crm.write(|tx| {
        tx.create_order(
            NewOrder::new(party, Currency::CNY, at)
                .with_line(NewLine::new("TEA", quantity))
                .confirmed(),
        )
        .map(|_| ())
    })
    .unwrap();
}

fn setup() -> (Crm, crate::support::TestClock, PartyId) {
    let (crm, clock) = crm_at(t0());
    let p = crm
        .write(|tx| {
            tx.create_product(
                NewProduct::new("TEA", "Tea")
                    .with_price(Money::parse("100.00", Currency::CNY).unwrap()),
            )?;
            tx.create_loyalty_program(club())?;
            Ok(tx.create_party(NewParty::person("Lin Yi"))?.id)
        })
        .unwrap();
    (crm, clock, p)
}

#[test]
fn orders_earn_by_the_formula_tiers_move_up_at_once_and_down_at_review() {
    let (crm, clock, p) = setup();
    // 500.00 CNY → 50 points at silver.
    buy(&crm, p, 5, t0());
    let m = crm.read(|tx| tx.loyalty_member("club", p)).unwrap();
    assert_eq!((m.balance, m.tier.as_str()), (50, "silver"));
    // 600.00 → 60 more: 110 in the window, gold at once.
    clock.set(t0() + Duration::days(1));
    buy(&crm, p, 6, t0() + Duration::days(1));
    let m = crm.read(|tx| tx.loyalty_member("club", p)).unwrap();
    assert_eq!((m.balance, m.tier.as_str()), (110, "gold"));
    // Gold earns double: 100.00 → 20.
    clock.set(t0() + Duration::days(2));
    buy(&crm, p, 1, t0() + Duration::days(2));
    assert_eq!(crm.read(|tx| tx.points_balance("club", p)).unwrap(), 130);
    // An order earns once, however often its events fire.
    let history = crm.read(|tx| tx.loyalty_history("club", p)).unwrap();
    assert_eq!(history.iter().filter(|e| e.kind == LedgerKind::Earn).count(), 3);
    // Redeeming more than the balance is refused and changes nothing.
    let error = fails_cleanly(&crm, |tx| tx.redeem_points("club", p, 131, "gift"));
    assert!(error.to_string().contains("the balance of"), "{error}");
    crm.write(|tx| tx.redeem_points("club", p, 40, "gift").map(|_| ())).unwrap();
    // Day 30: the first lot (50, of which 40 were spent first-in
    // first-out) expires its remaining 10; day 31 the second lot (60), day
    // 32 the third (20).
    let report = crm.run_due(t0() + Duration::days(30)).unwrap();
    assert_eq!(report.points_expired, 10);
    assert_eq!(crm.read(|tx| tx.points_balance("club", p)).unwrap(), 80);
    assert_eq!(crm.run_due(t0() + Duration::days(31)).unwrap().points_expired, 60);
    assert_eq!(crm.run_due(t0() + Duration::days(32)).unwrap().points_expired, 20);
    // Running again expires nothing twice.
    assert_eq!(crm.run_due(t0() + Duration::days(32)).unwrap().points_expired, 0);
    // Still gold until the review (day 30, then 60): at day 61 the 60-day
    // window holds only the 20 earned on day 2 → silver.
    clock.set(t0() + Duration::days(40));
    assert_eq!(crm.read(|tx| tx.loyalty_member("club", p)).unwrap().tier, "gold");
    let report = crm.run_due(t0() + Duration::days(61)).unwrap();
    assert_eq!(report.tiers_reviewed, 1);
    clock.set(t0() + Duration::days(61));
    assert_eq!(crm.read(|tx| tx.loyalty_member("club", p)).unwrap().tier, "silver");
    // `points` and `tier` are features of conditions.
    let matched = crm.read(|tx| tx.matching_parties(r#"tier == "silver" && points == 0"#)).unwrap();
    assert_eq!(matched, vec![p]);
}

#[test]
fn bad_programmes_and_operations_are_refused() {
    let (crm, _, p) = setup();
    let bad = NewLoyaltyProgram::new("x", Currency::CNY, "order.total / 10.0");
    let error = fails_cleanly(&crm, |tx| tx.create_loyalty_program(bad.clone()));
    assert!(error.to_string().contains("must be int, this is double (use floor())"), "{error}");
    let bad = NewLoyaltyProgram::new("x", Currency::CNY, "floor(order.totl)");
    let error = fails_cleanly(&crm, |tx| tx.create_loyalty_program(bad.clone()));
    assert!(error.to_string().contains("1:"), "{error}");
    let bad = NewLoyaltyProgram::new("x", Currency::CNY, "1").with_tier("a", 5);
    assert!(
        fails_cleanly(&crm, |tx| tx.create_loyalty_program(bad.clone()))
            .to_string()
            .contains("start at 0")
    );
    assert!(
        fails_cleanly(&crm, |tx| tx.create_loyalty_program(club())).to_string().contains("exists")
    );
    assert!(
        fails_cleanly(&crm, |tx| tx.award_points("nope", p, 5, "x"))
            .to_string()
            .contains("not found")
    );
    assert!(
        fails_cleanly(&crm, |tx| tx.award_points("club", p, 0, "x"))
            .to_string()
            .contains("positive")
    );
    assert!(
        fails_cleanly(&crm, |tx| tx.adjust_points("club", p, 5, " ")).to_string().contains("why")
    );
    assert!(
        fails_cleanly(&crm, |tx| tx.adjust_points("club", p, -1, "fix"))
            .to_string()
            .contains("balance")
    );
}

#[derive(Debug, Clone)]
enum Op {
    Award(i64),
    Redeem(i64),
    Adjust(i64),
    Days(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..200i64).prop_map(Op::Award),
        (1..200i64).prop_map(Op::Redeem),
        (-100..100i64).prop_filter("non-zero", |d| *d != 0).prop_map(Op::Adjust),
        (1..20i64).prop_map(Op::Days),
    ]
}

/// The ledger's invariants: the balance is the sum of the ledger, and no
/// prefix of it is negative.
fn check_ledger(crm: &Crm, p: PartyId) {
    let history = crm.read(|tx| tx.loyalty_history("club", p)).unwrap();
    let mut running = 0;
    for entry in &history {
        running += entry.points;
        assert!(running >= 0, "balance went negative at entry {}", entry.id);
    }
    assert_eq!(crm.read(|tx| tx.points_balance("club", p)).unwrap(), running);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_balance_is_the_sum_of_the_ledger_and_never_negative(ops in proptest::collection::vec(op(), 1..30)) {
        let (crm, clock, p) = setup();
        let mut now = t0();
        let mut expected = 0i64;
        for op in ops {
            let result = match op {
                Op::Award(n) => crm.write(|tx| tx.award_points("club", p, n, "test").map(|_| ())),
                Op::Redeem(n) => crm.write(|tx| tx.redeem_points("club", p, n, "test").map(|_| ())),
                Op::Adjust(n) => crm.write(|tx| tx.adjust_points("club", p, n, "test").map(|_| ())),
                Op::Days(n) => {
                    now += Duration::days(n);
                    clock.set(now);
                    crm.run_due(now).map(|_| ())
                }
            };
            if let Op::Redeem(n) | Op::Adjust(n) = op {
                let n = if matches!(op, Op::Redeem(_)) { -n } else { n };
                prop_assert_eq!(result.is_ok(), expected + n >= 0 || n > 0);
            } else {
                prop_assert!(result.is_ok());
            }
            expected = crm.read(|tx| tx.points_balance("club", p)).unwrap();
            check_ledger(&crm, p);
        }
    }
}

#[test]
fn concurrent_writers_never_overdraw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loyalty.db");
    let crm = Crm::open(&path).unwrap();
    let p = crm
        .write(|tx| {
            tx.create_loyalty_program(club())?;
            let p = tx.create_party(NewParty::person("Lin Yi"))?.id;
            tx.award_points("club", p, 1000, "opening")?;
            Ok(p)
        })
        .unwrap();
    // Two handles on one file (as two processes would have) and two threads
    // on each, all redeeming until refused.
    let other = Crm::open(&path).unwrap();
    let redeemed: i64 = std::thread::scope(|scope| {
        let handles: Vec<_> = [&crm, &crm, &other, &other]
            .into_iter()
            .enumerate()
            .map(|(i, db)| {
                scope.spawn(move || {
                    let mut total = 0;
                    for round in 0..40 {
                        let n = 7 + (i as i64 * 3 + round) % 11;
                        if db.write(|tx| tx.redeem_points("club", p, n, "race")).is_ok() {
                            total += n;
                        }
                        if round % 10 == 0 {
                            let _ = db.write(|tx| tx.award_points("club", p, 5, "bonus"));
                            total -= 5;
                        }
                    }
                    total
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    check_ledger(&crm, p);
    let balance = crm.read(|tx| tx.points_balance("club", p)).unwrap();
    assert_eq!(balance, 1000 - redeemed);
}

#[test]
fn merge_moves_points_through_the_ledger_and_unmerge_moves_them_back() {
    let (crm, _, keep) = setup();
    let absorb = crm
        .write(|tx| {
            let b = tx.create_party(NewParty::person("LIN Yi"))?.id;
            tx.award_points("club", keep, 30, "welcome")?;
            tx.award_points("club", b, 70, "welcome")?;
            Ok(b)
        })
        .unwrap();
    crm.write(|tx| tx.merge(keep, absorb).map(|_| ())).unwrap();
    assert_eq!(crm.read(|tx| tx.points_balance("club", keep)).unwrap(), 100);
    assert_eq!(crm.read(|tx| tx.points_balance("club", absorb)).unwrap(), 0);
    check_ledger(&crm, keep);
    check_ledger(&crm, absorb);
    // The export carries the membership and the ledger.
    let export = crm.read(|tx| tx.export_party(keep)).unwrap();
    assert_eq!(export["loyalty"][0]["membership"]["balance"], 100);
    assert_eq!(export["loyalty"][0]["ledger"].as_array().unwrap().len(), 2);
    // Spend some, then unmerge: what is left of the 70 goes back.
    crm.write(|tx| tx.redeem_points("club", keep, 50, "gift").map(|_| ())).unwrap();
    crm.write(|tx| tx.unmerge(absorb).map(|_| ())).unwrap();
    assert_eq!(crm.read(|tx| tx.points_balance("club", absorb)).unwrap(), 50);
    assert_eq!(crm.read(|tx| tx.points_balance("club", keep)).unwrap(), 0);
    check_ledger(&crm, keep);
    check_ledger(&crm, absorb);
}
