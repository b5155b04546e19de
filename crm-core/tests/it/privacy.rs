use crm_core::{Channel, ContactKind, Direction, ERASED_NAME, NewInteraction, NewParty};

use crate::support::{crm, start};

fn sample(crm: &crm_core::Crm) -> crm_core::PartyId {
    crm.write(|tx| {
        let id = tx
            .create_party(
                NewParty::person("周杰")
                    .with_contact(ContactKind::Email, "zhou.jie@example.com")
                    .with_external_id("wechat", "oXyz123")
                    .with_notes("VIP, birthday 1990-05-01"),
            )?
            .id;
        tx.record_interaction(
            NewInteraction::new(id, Channel::Phone, Direction::Inbound, start(), "周杰来电投诉")
                .with_body("电话 13800138000"),
        )?;
        tx.add_tag(id, "vip")?;
        Ok(id)
    })
    .unwrap()
}

#[test]
fn export_holds_everything_about_the_party() {
    let crm = crm();
    let id = sample(&crm);
    let doc = crm.read(|tx| tx.export_party(id)).unwrap();
    assert_eq!(doc["format"], "crm.party-export/1");
    assert_eq!(doc["party"]["contacts"][0]["value"], "zhou.jie@example.com");
    assert_eq!(doc["interactions"][0]["subject"], "周杰来电投诉");
    assert_eq!(doc["events"].as_array().unwrap().len(), 2);
    assert_eq!(doc["party"]["external_ids"][0]["value"], "oXyz123");
}

#[test]
fn erase_removes_personal_data_everywhere_and_keeps_aggregates() {
    let crm = crm();
    let id = sample(&crm);
    crm.write(|tx| tx.erase_party(id)).unwrap();
    let doc = crm.read(|tx| tx.export_party(id)).unwrap();
    let text = doc.to_string();
    for secret in ["周杰", "zhou.jie", "oXyz123", "VIP", "13800138000", "vip"] {
        assert!(!text.contains(secret), "{secret} survived erasure: {text}");
    }
    assert_eq!(doc["party"]["name"], ERASED_NAME);
    // Aggregates still count the interaction.
    assert_eq!(doc["interactions"].as_array().unwrap().len(), 1);
    assert_eq!(doc["interactions"][0]["channel"], "phone");
    // Not in search, not restorable, and the whole change feed is clean.
    assert_eq!(crm.read(|tx| tx.search("周杰", 0, 10)).unwrap().total, 0);
    assert!(crm.write(|tx| tx.restore_party(id)).is_err());
    let feed = serde_json::to_string(&crm.read(|tx| tx.events_since(0, 100)).unwrap()).unwrap();
    assert!(!feed.contains("周杰") && !feed.contains("zhou.jie"), "{feed}");
    assert!(feed.contains("party.erased"));
}

#[test]
fn anonymise_keeps_the_party_live_without_identity() {
    let crm = crm();
    let id = sample(&crm);
    crm.write(|tx| tx.anonymize_party(id)).unwrap();
    let party = crm.read(|tx| tx.get_party(id)).unwrap();
    assert!(party.is_live());
    assert!(party.name.starts_with("Anonymous "));
    assert!(party.contacts.is_empty() && party.external_ids.is_empty() && party.notes.is_none());
    let feed = serde_json::to_string(&crm.read(|tx| tx.events_since(0, 100)).unwrap()).unwrap();
    assert!(!feed.contains("周杰"), "{feed}");
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 1);
}
