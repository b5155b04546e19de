//! Sales and service rows follow their party through merge, unmerge,
//! export and erasure.

use chrono::{NaiveDate, TimeZone, Utc};
use crm_core::{
    CaseType, Channel, Currency, Money, NewCase, NewLine, NewOpportunity, NewOrder, NewParty,
    NewProduct, NewQuote, PartyId, Pipeline, PipelineStage, Priority,
};

use crate::support::crm;

fn cny(text: &str) -> Money {
    Money::parse(text, Currency::CNY).unwrap()
}

/// A customer with a quote, an order, an opportunity and a case, owned /
/// assigned to a salesperson.
fn customer_with_everything(crm: &crm_core::Crm, name: &str, seller: PartyId) -> PartyId {
    crm.write(|tx| {
        let party = tx.create_party(NewParty::person(name))?.id;
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
        tx.create_quote(
            NewQuote::new(party, Currency::CNY, NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())
                .with_owner(seller)
                .with_line(NewLine::new("AC", 1)),
        )?;
        tx.create_order(
            NewOrder::new(party, Currency::CNY, at)
                .with_owner(seller)
                .confirmed()
                .with_line(NewLine::new("AC", 2)),
        )?;
        tx.create_opportunity(
            NewOpportunity::new(
                party,
                "p",
                format!("{name} 新房空调"),
                cny("9000"),
                NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            )
            .with_owner(seller),
        )?;
        tx.open_case(
            NewCase::new(
                party,
                CaseType::Complaint,
                Priority::High,
                Channel::WeChat,
                format!("{name} 投诉安装噪音"),
            )
            .with_description("师傅迟到两小时")
            .assigned_to(seller),
        )?;
        Ok(party)
    })
    .unwrap()
}

fn setup() -> (crm_core::Crm, PartyId, PartyId) {
    let crm = crm();
    let (seller, other_seller) = crm
        .write(|tx| {
            tx.create_product(
                NewProduct::new("AC", "Air conditioner")
                    .with_price(cny("3000"))
                    .with_cost(cny("2000")),
            )?;
            tx.save_pipeline(
                Pipeline::new("p", "P").with_stage(PipelineStage::new("s", "S", "阶段", 40)),
            )?;
            Ok((
                tx.create_party(NewParty::person("王芳"))?.id,
                tx.create_party(NewParty::person("Wang Fang"))?.id,
            ))
        })
        .unwrap();
    (crm, seller, other_seller)
}

fn counts(crm: &crm_core::Crm, party: PartyId) -> (usize, usize, usize, usize) {
    crm.read(|tx| {
        Ok((
            tx.quotes_of(party)?.len(),
            tx.orders_of(party)?.len(),
            tx.opportunities(Some(party))?.len(),
            tx.cases(Some(party))?.len(),
        ))
    })
    .unwrap()
}

#[test]
fn merge_moves_sales_rows_as_customer_and_as_owner_and_unmerge_moves_them_back() {
    let (crm, seller, seller_dup) = setup();
    let a = customer_with_everything(&crm, "张伟", seller);
    let b = customer_with_everything(&crm, "張偉", seller_dup);
    let report = crm.write(|tx| tx.merge(a, b)).unwrap();
    assert_eq!((report.quotes, report.orders, report.opportunities, report.cases), (1, 1, 1, 1));
    assert_eq!(counts(&crm, a), (2, 2, 2, 2));
    assert_eq!(counts(&crm, b), (0, 0, 0, 0));
    // Merging the salespeople moves what they own or are assigned.
    let report = crm.write(|tx| tx.merge(seller, seller_dup)).unwrap();
    assert_eq!((report.quotes, report.orders, report.opportunities, report.cases), (1, 1, 1, 1));
    let owned = crm.read(|tx| tx.orders_of(a)).unwrap();
    assert!(owned.iter().all(|o| o.owner == Some(seller)));
    // Undo both.
    crm.write(|tx| tx.unmerge(seller_dup)).unwrap();
    crm.write(|tx| tx.unmerge(b)).unwrap();
    assert_eq!(counts(&crm, a), (1, 1, 1, 1));
    assert_eq!(counts(&crm, b), (1, 1, 1, 1));
    let cases = crm.read(|tx| tx.cases(Some(b))).unwrap();
    assert_eq!(cases[0].assignee, Some(seller_dup));
}

#[test]
fn export_holds_sales_rows_and_erase_scrubs_their_text_but_keeps_the_money() {
    let (crm, seller, _) = setup();
    let party = customer_with_everything(&crm, "李娜", seller);
    let doc = crm.read(|tx| tx.export_party(party)).unwrap();
    for key in ["quotes", "orders", "opportunities", "cases"] {
        assert_eq!(doc[key].as_array().map(Vec::len), Some(1), "{key}");
    }
    assert_eq!(doc["orders"][0]["revenue"]["amount"], "6000.00");
    assert_eq!(doc["cases"][0]["subject"], "李娜 投诉安装噪音");
    crm.write(|tx| tx.erase_party(party)).unwrap();
    let case = &crm.read(|tx| tx.cases(Some(party))).unwrap()[0];
    assert_eq!((case.subject.as_str(), case.description.as_deref()), ("", None));
    assert_eq!(crm.read(|tx| tx.opportunities(Some(party))).unwrap()[0].title, "");
    // Aggregates still add up.
    let profit = crm.read(|tx| tx.party_profit(party, None, None)).unwrap();
    assert_eq!(profit[0].revenue, cny("6000"));
    // No event still holds the name or the complaint.
    let events = crm.read(|tx| tx.events_since(0, 10_000)).unwrap();
    for event in events {
        let text = format!("{:?} {:?}", event.before, event.after);
        assert!(
            !text.contains("李娜") && !text.contains("师傅迟到"),
            "{} still holds personal data: {text}",
            event.kind
        );
    }
}

#[test]
fn orders_become_the_purchase_log_and_summary_analytics_reads() {
    let (crm, seller, _) = setup();
    let a = customer_with_everything(&crm, "甲", seller);
    let b = crm.write(|tx| Ok(tx.create_party(NewParty::person("乙"))?.id)).unwrap();
    crm.write(|tx| {
        for (day, qty) in [(10, 1), (20, 2), (20, 1)] {
            let at = Utc.with_ymd_and_hms(2026, 2, day, 8, 0, 0).unwrap();
            tx.create_order(
                NewOrder::new(b, Currency::CNY, at).confirmed().with_line(NewLine::new("AC", qty)),
            )?;
        }
        Ok(())
    })
    .unwrap();
    let (parties, log) = crm.read(|tx| tx.purchase_log(Currency::CNY)).unwrap();
    assert_eq!(log.customer.len(), 4);
    let (ids, summary) = crm
        .read(|tx| {
            tx.customer_summary(
                Currency::CNY,
                crm_core::analytics::TimeUnit::Day,
                NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
                None,
            )
        })
        .unwrap();
    let i = ids.iter().position(|p| *p == b).unwrap();
    // Two orders on the 20th are one transaction: one repeat, 10 days after the first, of ¥9,000.
    assert_eq!(
        (summary.frequency[i], summary.recency[i], summary.t[i], summary.monetary[i]),
        (1.0, 10.0, 18.0, 9000.0)
    );
    assert!(parties.contains(&a));
}

#[test]
fn scores_keep_history_roll_up_and_follow_merge_and_erasure() {
    let (crm, seller, _) = setup();
    let (group, _sub, a, b) = crm
        .write(|tx| {
            let group = tx.create_party(NewParty::organization("集团"))?.id;
            let sub = tx.create_party(NewParty::organization("子公司"))?.id;
            tx.relate(crm_core::NewRelationship::new(sub, "subsidiary-of", group))?;
            let a = tx.create_party(NewParty::person("A"))?.id;
            let b = tx.create_party(NewParty::person("B"))?.id;
            tx.set_score(group, "clv", 100.0)?;
            tx.set_scores("clv", &[(sub, 50.0), (a, 7.0), (b, 9.0)])?;
            tx.set_score(b, "p_alive", 0.4)?;
            tx.set_score(a, "clv", 8.0)?;
            Ok((group, sub, a, b))
        })
        .unwrap();
    let _ = seller;
    let rollup = crm.read(|tx| tx.rollup_score(group, "clv", "subsidiary-of")).unwrap();
    assert_eq!((rollup.own, rollup.total, rollup.members), (100.0, 150.0, 1));
    assert_eq!(
        crm.read(|tx| tx.score_history(a, "clv")).unwrap().iter().map(|h| h.1).collect::<Vec<_>>(),
        [7.0, 8.0]
    );
    let error = crm.write(|tx| tx.set_score(a, "CLV!", 1.0)).unwrap_err();
    assert!(error.to_string().contains("not a score name"), "{error}");
    assert!(crm.write(|tx| tx.set_scores("clv", &[(a, f64::NAN)])).is_err());
    // Merge: a keeps its clv, takes b's p_alive and b's history; unmerge restores.
    crm.write(|tx| tx.merge(a, b)).unwrap();
    let merged = crm.read(|tx| tx.scores_of(a)).unwrap();
    assert_eq!((merged.get("clv"), merged.get("p_alive")), (Some(&8.0), Some(&0.4)));
    assert_eq!(crm.read(|tx| tx.score_history(a, "clv")).unwrap().len(), 3);
    crm.write(|tx| tx.unmerge(b)).unwrap();
    assert_eq!(crm.read(|tx| tx.scores_of(a)).unwrap().get("p_alive"), None);
    assert_eq!(crm.read(|tx| tx.scores_of(b)).unwrap().get("clv"), Some(&9.0));
    assert_eq!(crm.read(|tx| tx.score_history(b, "clv")).unwrap().len(), 1);
    // Export shows them; erasure removes them.
    assert_eq!(crm.read(|tx| tx.export_party(b)).unwrap()["scores"]["clv"], 9.0);
    crm.write(|tx| tx.erase_party(b)).unwrap();
    assert!(crm.read(|tx| tx.scores_of(b)).unwrap().is_empty());
    assert!(crm.read(|tx| tx.score_history(b, "clv")).unwrap().is_empty());
}
