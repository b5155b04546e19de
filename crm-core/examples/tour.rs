//! A literate tour of `crm-core`: a small appliance dealer in Shanghai keeps
//! its customers, their companies and every touch in one file.
//!
//! Run it with `cargo run -p crm-core --example tour`.

use chrono::{Duration, Utc};
use crm_core::{
    Channel, ContactKind, Crm, Direction, FieldDef, FieldType, ImportFormat, ImportKind,
    ImportOptions, LifecycleStage, NewContactPoint, NewInteraction, NewParty, NewRelationship,
    NewTask, PartyFilter, Role,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // # Opening
    //
    // A database is one SQLite file. Opening creates it (or upgrades an older
    // one). Here it lives in a temporary directory.
    let dir = std::env::temp_dir().join(format!("crm-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let crm = Crm::builder().actor("tour").open(dir.join("dealer.db"))?;

    // # Custom fields and parties
    //
    // Custom fields are typed; values are checked on every write.
    // Everything inside one `write` commits together, with an event per change.
    let (company, buyer) = crm.write(|tx| {
        tx.define_field(FieldDef::new("credit_limit", FieldType::Decimal))?;
        let company = tx.create_party(
            NewParty::organization("浦东物业管理有限公司")
                .with_role(Role::Customer)
                .with_external_id("erp", "C-2001")
                .with_field("credit_limit", crm_core::Decimal::parse("500000.00")?),
        )?;
        let buyer = tx.create_party(
            NewParty::person("陈静")
                .with_role(Role::Contact)
                .with_stage(LifecycleStage::New)
                .with_language("zh-CN")
                .with_contact_point(
                    NewContactPoint::new(ContactKind::Mobile, "139 1234 5678")
                        .with_country("CN")
                        .with_consent("marketing", true, "trade-fair"),
                ),
        )?;
        tx.relate(NewRelationship::new(buyer.id, "employee-of", company.id).with_role("采购经理"))?;
        Ok((company.id, buyer.id))
    })?;
    println!("created {company} and {buyer}");

    // # Every touch, and the calendar
    let now = Utc::now();
    crm.write(|tx| {
        tx.record_interaction(
            NewInteraction::new(
                buyer,
                Channel::WeChat,
                Direction::Inbound,
                now,
                "询问中央空调报价",
            )
            .with_outcome("三天内报价"),
        )?;
        tx.create_task(NewTask::new("发送中央空调报价", now + Duration::days(3)).about(buyer))?;
        Ok(())
    })?;

    // # Bulk import
    //
    // Files stream row by row; a bad row is reported with its line and
    // column, and by default nothing is written unless every row is valid.
    let csv = "external_id,name,kind,roles,email\n\
               erp:C-2002,东方家电商贸,organization,distributor,sales@dongfang.example.cn\n\
               erp:C-2003,Li Wei,person,customer,li.wei@example.com\n";
    let report = crm.import_reader(
        ImportKind::Parties,
        csv.as_bytes(),
        ImportFormat::Csv,
        &ImportOptions::default(),
        &mut |_| {},
    )?;
    println!("imported {} parties ({} invalid rows)", report.created, report.errors.len());

    // # Reading
    //
    // Reads see one consistent snapshot and never wait for a writer.
    let customers = crm.read(|tx| tx.list_parties(&PartyFilter::default().role(Role::Customer)))?;
    println!("{} customers", customers.total);
    let hits = crm.read(|tx| tx.search("空调", 0, 10))?;
    for hit in &hits.items {
        println!("search 空调 → {} ({}): {}", hit.party_id, hit.entity, hit.snippet);
    }

    // # The change feed
    //
    // Another system (an ERP) remembers the last `seq` it processed and
    // asks for what came after.
    for event in crm.read(|tx| tx.events_since(0, 100))? {
        println!("{:>3} {} {} {}", event.seq, event.actor, event.kind, event.entity_id);
    }

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
