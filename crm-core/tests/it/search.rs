use crm_core::{Channel, Direction, NewInteraction, NewParty, PartyPatch};

use crate::support::{crm, start};

#[test]
fn chinese_and_latin_text_matches_by_substring() {
    let crm = crm();
    let (zhang, li) = crm
        .write(|tx| {
            let zhang = tx.create_party(NewParty::person("张伟"))?.id;
            let li = tx
                .create_party(NewParty::person("李伟强").with_notes("Prefers WeChat, 上海浦东"))?
                .id;
            tx.create_party(NewParty::organization("Zhang Holdings Ltd"))?;
            tx.record_interaction(
                NewInteraction::new(
                    zhang,
                    Channel::Phone,
                    Direction::Inbound,
                    start(),
                    "空调漏水投诉",
                )
                .with_body("客户反映新装空调漏水"),
            )?;
            Ok((zhang, li))
        })
        .unwrap();
    let ids = |q: &str| -> Vec<_> {
        crm.read(|tx| tx.search(q, 0, 50))
            .unwrap()
            .items
            .into_iter()
            .map(|h| (h.party_id, h.entity))
            .collect()
    };
    assert_eq!(ids("张伟"), [(zhang, "party".to_owned())]);
    let wei = ids("伟");
    assert_eq!(wei.len(), 2);
    assert!(wei.contains(&(zhang, "party".into())) && wei.contains(&(li, "party".into())));
    assert_eq!(ids("空调"), [(zhang, "interaction".to_owned())]);
    assert_eq!(ids("漏水投诉"), [(zhang, "interaction".to_owned())]);
    assert_eq!(ids("浦东"), [(li, "party".to_owned())]);
    assert_eq!(ids("wechat").len(), 1, "case-insensitive");
    assert_eq!(ids("zhang holdings").len(), 1, "every term must match");
    assert_eq!(ids("zhang nothing").len(), 0);
    assert_eq!(ids("100%").len(), 0, "LIKE wildcards are escaped");
    let hit = &crm.read(|tx| tx.search("漏水", 0, 1)).unwrap().items[0];
    assert!(hit.snippet.contains("漏水"));
}

#[test]
fn renames_and_deletes_update_the_index() {
    let crm = crm();
    let id = crm.write(|tx| Ok(tx.create_party(NewParty::person("Old Name"))?.id)).unwrap();
    crm.write(|tx| tx.update_party(id, PartyPatch::default().with_name("New Name"))).unwrap();
    assert_eq!(crm.read(|tx| tx.search("old", 0, 10)).unwrap().total, 0);
    assert_eq!(crm.read(|tx| tx.search("new name", 0, 10)).unwrap().total, 1);
    crm.write(|tx| tx.delete_party(id)).unwrap();
    assert_eq!(crm.read(|tx| tx.search("new", 0, 10)).unwrap().total, 0);
}

#[test]
fn results_are_ranked_and_paged() {
    let crm = crm();
    crm.write(|tx| {
        for n in 0..30 {
            tx.create_party(NewParty::person(format!("Chen {n}")))?;
        }
        Ok(())
    })
    .unwrap();
    let first = crm.read(|tx| tx.search("chen", 0, 10)).unwrap();
    let second = crm.read(|tx| tx.search("chen", 10, 10)).unwrap();
    assert_eq!(first.total, 30);
    assert_eq!(first.items.len(), 10);
    assert!(first.items.iter().all(|a| second.items.iter().all(|b| a.entity_id != b.entity_id)));
    assert!(crm.read(|tx| tx.search("   ", 0, 10)).is_err());
}

#[test]
fn long_and_short_terms_combine() {
    let crm = crm();
    crm.write(|tx| {
        tx.create_party(NewParty::person("Customer 99 Ltd"))?;
        tx.create_party(NewParty::person("Customer 12 Ltd"))?;
        tx.create_party(NewParty::person("Supplier 99"))?;
        Ok(())
    })
    .unwrap();
    let names = |q: &str| crm.read(|tx| tx.search(q, 0, 10)).unwrap().items.len();
    assert_eq!(names("customer 99"), 1);
    assert_eq!(names("99"), 2);
    assert_eq!(names("customer"), 2);
    assert_eq!(names("customer 9 ltd"), 1);
}

#[test]
fn the_total_counts_every_hit_of_live_parties_on_every_page() {
    // The total is counted by its own query (no ranking); it must agree
    // with the hits the pages return: parties and interactions, long and
    // short terms, deleted, merged and erased parties and their
    // interactions left out (party hits rely on the index holding live
    // parties only).
    let crm = crm();
    crm.write(|tx| {
        let keep = tx.create_party(NewParty::person("Keeper"))?.id;
        let absorbed = tx.create_party(NewParty::person("王 Wang merged"))?.id;
        tx.merge(keep, absorbed)?;
        let erased = tx.create_party(NewParty::person("王 Wang erased"))?.id;
        tx.erase_party(erased)?;
        for n in 0..12 {
            let id = tx.create_party(NewParty::person(format!("王 Wang {n}")))?.id;
            tx.record_interaction(NewInteraction::new(
                id,
                Channel::Phone,
                Direction::Inbound,
                start(),
                format!("Wang called about order {n}"),
            ))?;
            if n % 4 == 0 {
                tx.delete_party(id)?;
            }
        }
        Ok(())
    })
    .unwrap();
    for (query, want) in [("wang", 18), ("王", 9), ("wang 王", 9), ("called", 9), ("nobody", 0)] {
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let page = crm.read(|tx| tx.search(query, offset, 5)).unwrap();
            assert_eq!(page.total, want, "{query}");
            if page.items.is_empty() {
                break;
            }
            paged.extend(page.items.into_iter().map(|h| h.entity_id));
            offset += 5;
        }
        assert_eq!(paged.len() as u64, want, "{query}");
        // Pages of five, put together, are the one long page.
        let whole: Vec<String> = crm
            .read(|tx| tx.search(query, 0, 1000))
            .unwrap()
            .items
            .into_iter()
            .map(|h| h.entity_id)
            .collect();
        assert_eq!(paged, whole, "{query}");
    }
}
