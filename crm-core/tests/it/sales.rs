//! Money, FX, products, quotes → orders → shipments → returns, and profit.

use chrono::{NaiveDate, TimeZone, Utc};
use crm_core::{
    Currency, Decimal, Error, FxRate, Money, NewLine, NewOrder, NewParty, NewProduct, NewQuote,
    NewShipment, OrderStatus, Period, PeriodUnit, PriceList, RoundingMode,
};
use proptest::prelude::*;

use crate::support::{crm, fails_cleanly};

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::CNY).unwrap()
}

fn usd(text: &str) -> Money {
    Money::parse(text, Currency::USD).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

proptest! {
    #[test]
    fn allocation_sums_to_the_whole(minor in -1_000_000_000_000i64..1_000_000_000_000, weights in prop::collection::vec(0u64..1000, 1..12)) {
        prop_assume!(weights.iter().any(|w| *w > 0));
        let whole = Money::new(minor, Currency::CNY);
        let parts = whole.allocate_by(&weights).unwrap();
        prop_assert_eq!(parts.len(), weights.len());
        prop_assert_eq!(Money::sum(Currency::CNY, parts.iter()).unwrap(), whole);
        let total: u64 = weights.iter().sum();
        for (part, weight) in parts.iter().zip(&weights) {
            // Each part is within one minor unit of its exact share.
            let exact = i128::from(minor) * i128::from(*weight);
            let scaled = i128::from(part.minor()) * i128::from(total);
            prop_assert!((scaled - exact).abs() < i128::from(total), "{part} for weight {weight}");
        }
    }

    #[test]
    fn equal_allocation_differs_by_at_most_one_unit(minor in -10_000_000i64..10_000_000, n in 1usize..50) {
        let parts = Money::new(minor, Currency::USD).allocate(n).unwrap();
        let min = parts.iter().map(Money::minor).min().unwrap();
        let max = parts.iter().map(Money::minor).max().unwrap();
        prop_assert!(max - min <= 1);
        prop_assert_eq!(parts.iter().map(Money::minor).sum::<i64>(), minor);
    }

    /// Converting into a currency with a finer (or equal) minor unit and
    /// back returns the original within one minor unit.
    #[test]
    fn conversion_round_trips_within_one_minor_unit(minor in -1_000_000_000i64..1_000_000_000, rate_milli in 1_000i64..50_000_000) {
        // 1 USD = rate CNY with rate ≥ 1, so a CNY fen is worth less than a cent.
        let rate = FxRate::new(Currency::USD, Currency::CNY, day(2026, 1, 2), Decimal::parse(&format!("{}.{:03}", rate_milli / 1000, rate_milli % 1000)).unwrap());
        let original = Money::new(minor, Currency::USD);
        let there = rate.convert(original, RoundingMode::HalfEven).unwrap();
        let back = rate.convert_inverse(there, RoundingMode::HalfEven).unwrap();
        prop_assert!((back.minor() - original.minor()).abs() <= 1, "{original} → {there} → {back}");
        // And the other way round for a JPY (exponent 0) target.
        let yen_rate = FxRate::new(Currency::JPY, Currency::CNY, day(2026, 1, 2), Decimal::parse("0.048").unwrap());
        let yen = Money::new(minor, Currency::JPY);
        let back = yen_rate.convert_inverse(yen_rate.convert(yen, RoundingMode::HalfEven).unwrap(), RoundingMode::HalfEven).unwrap();
        // A fen is worth ~0.2 yen, so the round trip stays within one yen.
        prop_assert!((back.minor() - yen.minor()).abs() <= 1, "{yen} → {back}");
    }
}

#[test]
fn mixed_currencies_never_add() {
    let error = cny("1").checked_add(usd("1")).unwrap_err();
    assert!(
        matches!(&error, Error::Invalid { at, .. } if at.column.as_deref() == Some("currency")),
        "{error}"
    );
    assert!(Money::sum(Currency::CNY, [cny("1"), usd("1")].iter()).is_err());
}

#[test]
fn fx_rates_are_dated_and_missing_ones_are_errors() {
    let crm = crm();
    crm.write(|tx| {
        tx.set_fx_rate(FxRate::new(
            Currency::USD,
            Currency::CNY,
            day(2026, 1, 2),
            Decimal::parse("7.10")?,
        ))?;
        tx.set_fx_rate(FxRate::new(
            Currency::USD,
            Currency::CNY,
            day(2026, 2, 2),
            Decimal::parse("7.20")?,
        ))
    })
    .unwrap();
    crm.read(|tx| {
        // The latest rate on or before the day.
        assert_eq!(tx.convert(usd("1"), Currency::CNY, day(2026, 1, 10), RoundingMode::HalfEven)?, cny("7.10"));
        assert_eq!(tx.convert(usd("1"), Currency::CNY, day(2026, 2, 3), RoundingMode::HalfEven)?, cny("7.20"));
        // The inverse is derived.
        assert_eq!(tx.convert(cny("72"), Currency::USD, day(2026, 2, 2), RoundingMode::HalfEven)?, usd("10"));
        // Too old, or before any rate: an error naming the pair and day.
        let error = tx.convert(usd("1"), Currency::CNY, day(2026, 1, 1), RoundingMode::HalfEven).unwrap_err();
        assert!(matches!(&error, Error::NotFound { entity: "fx_rate", id } if id.contains("USD→CNY on 2026-01-01")), "{error}");
        assert!(tx.convert(usd("1"), Currency::CNY, day(2026, 1, 20), RoundingMode::HalfEven).is_err());
        assert!(tx.convert(usd("1"), Currency::EUR, day(2026, 1, 10), RoundingMode::HalfEven).is_err());
        Ok(())
    })
    .unwrap();
    let error = fails_cleanly(&crm, |tx| {
        tx.set_fx_rate(FxRate::new(
            Currency::USD,
            Currency::CNY,
            day(2026, 1, 3),
            Decimal::parse("-1")?,
        ))
    });
    assert!(error.to_string().contains("must be positive"), "{error}");
}

/// Every pair of order statuses: allowed transitions succeed where they are
/// direct, every other one is an error that changes nothing.
#[test]
fn order_status_machine_is_exhaustive() {
    use OrderStatus::*;
    let allowed = [
        (Draft, Confirmed),
        (Draft, Cancelled),
        (Confirmed, PartiallyShipped),
        (Confirmed, Shipped),
        (Confirmed, Cancelled),
        (PartiallyShipped, PartiallyShipped),
        (PartiallyShipped, Shipped),
        (Shipped, Delivered),
        (Shipped, Returned),
        (Delivered, Returned),
    ];
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            assert_eq!(from.can_become(*to), allowed.contains(&(*from, *to)), "{from} → {to}");
        }
    }
    // Through the API: direct transitions (confirm, cancel, deliver) work
    // from the right states and fail from every other.
    let crm = crm();
    let (party, _) = setup(&crm);
    for from in [Draft, Confirmed, Shipped, Delivered, Cancelled] {
        for to in [Confirmed, Cancelled, Delivered, Shipped, PartiallyShipped, Returned, Draft] {
            let order = crm.write(|tx| order_in(tx, party, from)).unwrap();
            let direct = matches!(to, Confirmed | Cancelled | Delivered);
            if from.can_become(to) && direct {
                let after = crm.write(|tx| tx.set_order_status(order, to)).unwrap();
                assert_eq!(after.status, to);
            } else {
                let error = fails_cleanly(&crm, |tx| tx.set_order_status(order, to));
                assert!(
                    matches!(&error, Error::Invalid { at, .. } if at.column.as_deref() == Some("status")),
                    "{from} → {to}: {error}"
                );
            }
        }
    }
}

fn setup(crm: &crm_core::Crm) -> (crm_core::PartyId, crm_core::PartyId) {
    crm.write(|tx| {
        tx.create_product(
            NewProduct::new("AC-1200", "Air conditioner")
                .with_name_zh("空调")
                .with_cost(cny("1800"))
                .with_price(cny("2999"))
                .with_price(usd("429")),
        )?;
        tx.create_product(
            NewProduct::new("FILTER", "Filter").with_cost(cny("12.50")).with_price(cny("39.90")),
        )?;
        let party = tx.create_party(NewParty::organization("华东电器"))?;
        let seller = tx.create_party(NewParty::person("王芳"))?;
        Ok((party.id, seller.id))
    })
    .unwrap()
}

fn order_in(
    tx: &mut crm_core::Tx<'_>,
    party: crm_core::PartyId,
    status: OrderStatus,
) -> crm_core::Result<crm_core::OrderId> {
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
    let order = tx.create_order(
        NewOrder::new(party, Currency::CNY, at).with_line(NewLine::new("AC-1200", 2)),
    )?;
    let id = order.id;
    match status {
        OrderStatus::Draft => {}
        OrderStatus::Confirmed => {
            tx.set_order_status(id, OrderStatus::Confirmed)?;
        }
        OrderStatus::Shipped => {
            tx.set_order_status(id, OrderStatus::Confirmed)?;
            tx.ship(NewShipment::new(id, at).with_line(1, 2))?;
        }
        OrderStatus::Delivered => {
            tx.set_order_status(id, OrderStatus::Confirmed)?;
            tx.ship(NewShipment::new(id, at).with_line(1, 2))?;
            tx.set_order_status(id, OrderStatus::Delivered)?;
        }
        OrderStatus::Cancelled => {
            tx.set_order_status(id, OrderStatus::Cancelled)?;
        }
        _ => unreachable!(),
    }
    Ok(id)
}

#[test]
fn quote_becomes_order_ships_and_comes_back() {
    let crm = crm();
    let (party, seller) = setup(&crm);
    let order = crm
        .write(|tx| {
            let quote = tx.create_quote(
                NewQuote::new(party, Currency::CNY, day(2026, 1, 31))
                    .with_owner(seller)
                    .with_line(NewLine::new("AC-1200", 10).with_discount_bp(500))
                    .with_line(NewLine::new("FILTER", 20)),
            )?;
            // 10 × 2999 × 0.95 = 28490.50; 20 × 39.90 = 798.00
            assert_eq!(quote.total, cny("29288.50"));
            tx.accept_quote(quote.id)
        })
        .unwrap();
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(order.revenue, cny("29288.50"));
    assert_eq!(order.cost, cny("18250")); // 10 × 1800 + 20 × 12.50
    assert_eq!(order.margin(), cny("11038.50"));
    assert_eq!(order.owner, Some(seller));

    // Shipping more than ordered is refused; a partial shipment then the rest.
    let at = Utc.with_ymd_and_hms(2026, 1, 6, 2, 0, 0).unwrap();
    let error = fails_cleanly(&crm, |tx| tx.ship(NewShipment::new(order.id, at).with_line(1, 11)));
    assert!(error.to_string().contains("more than ordered"), "{error}");
    crm.write(|tx| tx.ship(NewShipment::new(order.id, at).with_line(1, 4).via("SF", "SF123")))
        .unwrap();
    assert_eq!(
        crm.read(|tx| tx.get_order(order.id)).unwrap().status,
        OrderStatus::PartiallyShipped
    );
    let error = fails_cleanly(&crm, |tx| tx.ship(NewShipment::new(order.id, at).with_line(1, 7)));
    assert!(
        error.to_string().contains("6 ordered") || error.to_string().contains("10 ordered"),
        "{error}"
    );
    crm.write(|tx| tx.ship(NewShipment::new(order.id, at).with_line(1, 6).with_line(2, 20)))
        .unwrap();
    assert_eq!(crm.read(|tx| tx.get_order(order.id)).unwrap().status, OrderStatus::Shipped);
    assert_eq!(crm.read(|tx| tx.shipments_of(order.id)).unwrap().len(), 2);

    // A return is a negative line at the same price and cost.
    let error = fails_cleanly(&crm, |tx| tx.return_items(order.id, &[(2, 21)]));
    assert!(error.to_string().contains("only 20 shipped"), "{error}");
    let after = crm.write(|tx| tx.return_items(order.id, &[(1, 1)])).unwrap();
    let back = after.lines.last().unwrap();
    assert_eq!(
        (back.quantity, back.returns_line, back.net, back.cost),
        (-1, Some(1), cny("-2849.05"), cny("-1800"))
    );
    assert_eq!(after.revenue, cny("26439.45"));
    assert_eq!(after.status, OrderStatus::Shipped);
    let after = crm.write(|tx| tx.return_items(order.id, &[(1, 9), (2, 20)])).unwrap();
    assert_eq!(after.status, OrderStatus::Returned);
    assert!(after.revenue.is_zero() && after.cost.is_zero());
    let kinds: Vec<String> = crm
        .read(|tx| tx.events_for("order", &order.id.to_string()))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["order.created", "order.shipped", "order.shipped", "order.returned", "order.returned"]
    );
}

#[test]
fn bad_orders_are_typed_errors_that_write_nothing() {
    let crm = crm();
    let (party, _) = setup(&crm);
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
    let cases: Vec<(NewOrder, &str)> = vec![
        (
            NewOrder::new(party, Currency::CNY, at).with_line(NewLine::new("AC-1200", -1)),
            "must be positive",
        ),
        (NewOrder::new(party, Currency::CNY, at).with_line(NewLine::new("NOPE", 1)), "SKU NOPE"),
        (
            NewOrder::new(party, Currency::CNY, at)
                .with_line(NewLine::new("AC-1200", 1).at(usd("1"))),
            "not in the currency CNY",
        ),
        (
            NewOrder::new(party, Currency::EUR, at).with_line(NewLine::new("AC-1200", 1)),
            "no price in EUR",
        ),
        (
            NewOrder::new(party, Currency::CNY, at)
                .with_line(NewLine::new("AC-1200", 1).with_discount_bp(10_001)),
            "more than 100 %",
        ),
        (
            NewOrder::new(crm_core::PartyId::new(), Currency::CNY, at)
                .with_line(NewLine::new("AC-1200", 1)),
            "party not found",
        ),
        // The product costs CNY; a USD order needs a rate to capture the cost.
        (
            NewOrder::new(party, Currency::USD, at).with_line(NewLine::new("AC-1200", 1)),
            "fx_rate not found",
        ),
    ];
    for (order, expected) in cases {
        let error = fails_cleanly(&crm, |tx| tx.create_order(order.clone()));
        assert!(error.to_string().contains(expected), "expected `{expected}` in `{error}`");
    }
}

#[test]
fn price_lists_override_list_prices_while_valid() {
    let crm = crm();
    let (party, _) = setup(&crm);
    crm.write(|tx| {
        tx.save_price_list(
            PriceList::new("dealer", "Dealer 2026", Currency::CNY)
                .valid(Some(day(2026, 1, 1)), Some(day(2026, 6, 30)))
                .with_price("AC-1200", cny("2500")),
        )
    })
    .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let order = crm
        .write(|tx| {
            tx.create_order(
                NewOrder::new(party, Currency::CNY, at)
                    .with_price_list("dealer")
                    .with_line(NewLine::new("AC-1200", 1))
                    .with_line(NewLine::new("FILTER", 1)),
            )
        })
        .unwrap();
    assert_eq!(order.lines[0].unit_price, cny("2500"));
    assert_eq!(order.lines[1].unit_price, cny("39.90"));
    let late = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    let error = fails_cleanly(&crm, |tx| {
        tx.create_order(
            NewOrder::new(party, Currency::CNY, late)
                .with_price_list("dealer")
                .with_line(NewLine::new("AC-1200", 1)),
        )
    });
    assert!(error.to_string().contains("not valid on 2026-07-01"), "{error}");
    let error = fails_cleanly(&crm, |tx| {
        tx.save_price_list(PriceList::new("x", "X", Currency::CNY).with_price("AC-1200", usd("1")))
    });
    assert!(error.to_string().contains("is in CNY"), "{error}");
}

#[test]
fn profit_per_party_and_period_in_order_currency_and_converted() {
    let crm = crm();
    let (a, _) = setup(&crm);
    let b = crm.write(|tx| Ok(tx.create_party(NewParty::organization("Acme Inc"))?.id)).unwrap();
    crm.write(|tx| {
        tx.set_fx_rate(FxRate::new(
            Currency::USD,
            Currency::CNY,
            day(2026, 1, 2),
            Decimal::parse("7")?,
        ))?;
        tx.set_fx_rate(FxRate::new(
            Currency::USD,
            Currency::CNY,
            day(2026, 4, 1),
            Decimal::parse("8")?,
        ))?;
        let jan = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
        let apr = Utc.with_ymd_and_hms(2026, 4, 2, 8, 0, 0).unwrap();
        // a: CNY 2999 (cost 1800) in Q1; a draft that does not count.
        tx.create_order(
            NewOrder::new(a, Currency::CNY, jan).confirmed().with_line(NewLine::new("AC-1200", 1)),
        )?;
        tx.create_order(
            NewOrder::new(a, Currency::CNY, jan).with_line(NewLine::new("AC-1200", 5)),
        )?;
        // b: USD 429 in Q1 (cost CNY 1800 → USD 257.14 at 7) and USD 429 in Q2 (cost → 225.00 at 8).
        tx.create_order(
            NewOrder::new(b, Currency::USD, jan).confirmed().with_line(NewLine::new("AC-1200", 1)),
        )?;
        tx.create_order(
            NewOrder::new(b, Currency::USD, apr).confirmed().with_line(NewLine::new("AC-1200", 1)),
        )?;
        Ok(())
    })
    .unwrap();
    let q1 = Period::parse("2026-Q1").unwrap();
    let native = crm.read(|tx| tx.profit_by_party(Some(&q1), None)).unwrap();
    let find = |party| native.iter().find(|p| p.party_id == party).unwrap().profit;
    assert_eq!((find(a).orders, find(a).revenue, find(a).margin()), (1, cny("2999"), cny("1199")));
    assert_eq!((find(b).revenue, find(b).cost), (usd("429"), usd("257.14")));
    // Converted at each order's date: 429 × 7 = 3003, 429 × 8 = 3432.
    let all = crm.read(|tx| tx.party_profit(b, None, Some(Currency::CNY))).unwrap();
    assert_eq!(all[0].revenue, cny("6435"));
    assert_eq!(all[0].cost, cny("3599.98")); // 257.14 × 7 + 225.00 × 8
    let by_quarter =
        crm.read(|tx| tx.profit_by_period(PeriodUnit::Quarter, None, Some(Currency::CNY))).unwrap();
    let labels: Vec<(String, Money)> =
        by_quarter.iter().map(|(p, m)| (p.label.clone(), m.revenue)).collect();
    assert_eq!(labels, [("2026-Q1".to_owned(), cny("6002")), ("2026-Q2".to_owned(), cny("3432"))]);
    // Without a rate for a date, converting is an error, not a guess.
    let error = crm.read(|tx| tx.profit_by_party(None, Some(Currency::EUR))).unwrap_err();
    assert!(matches!(error, Error::NotFound { entity: "fx_rate", .. }), "{error}");
}
