//! The appliance-service plugin end to end: a sale offers a maintenance
//! contract, reminders fire on schedule, a maintenance order converts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use crm_core::{
    ContactKind, Crm, Currency, Money, NewContactPoint, NewLine, NewOrder, NewParty, NewProduct,
};
use crm_wasm_host::{Capability, Limits, Manifest, PluginHost, sha256_hex};

fn component() -> Vec<u8> {
    let dir = std::env::var("CRM_PLUGINS_DIR").unwrap_or_else(|_| {
        format!("{}/../plugins/target/wasm32-wasip2/release", env!("CARGO_MANIFEST_DIR"))
    });
    let path = format!("{dir}/crm_plugin_appliance_service.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (build the plugins)"))
}

#[test]
fn a_sale_offers_maintenance_reminds_yearly_and_a_contract_converts() {
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
    let clock = std::sync::Arc::new(std::sync::Mutex::new(t0));
    let read = std::sync::Arc::clone(&clock);
    let crm = Crm::builder().clock(move || *read.lock().unwrap()).open_in_memory().unwrap();
    let cny = |s: &str| Money::parse(s, Currency::CNY).unwrap();
    let buyer = crm
        .write(|tx| {
            tx.create_product(
                NewProduct::new("AC-1", "Air conditioner")
                    .with_category("air-conditioner")
                    .with_price(cny("2000")),
            )?;
            tx.create_product(
                NewProduct::new("MAINT-3Y", "3-year maintenance")
                    .with_category("maintenance")
                    .with_price(cny("300")),
            )?;
            Ok(tx
                .create_party(
                    NewParty::person("Lin Yi").with_contact_point(
                        NewContactPoint::new(ContactKind::Mobile, "+86 138 0013 8000")
                            .with_consent("marketing", true, "store")
                            .with_consent("service", true, "store"),
                    ),
                )?
                .id)
        })
        .unwrap();
    let bytes = component();
    let template = include_str!("../../plugins/appliance-service/plugin.toml");
    let manifest = Manifest::parse(&template.replace("SHA256", &sha256_hex(&bytes))).unwrap();
    let mut host = PluginHost::new(crm.clone(), Limits::default()).unwrap();
    let grants = [
        Capability::SalesRead,
        Capability::TasksWrite,
        Capability::MessagesSend,
        Capability::Documents,
    ];
    host.install(&bytes, manifest, &grants).unwrap();

    crm.write(|tx| {
        tx.create_order(
            NewOrder::new(buyer, Currency::CNY, t0).with_line(NewLine::new("AC-1", 1)).confirmed(),
        )
        .map(|_| ())
    })
    .unwrap();
    let due = host.run_due(t0).unwrap();
    assert!(due.failed.is_empty(), "{:?}", due.failed);
    let sent = crm.read(|tx| tx.outbox("queued", 10)).unwrap();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].content.contains("¥300"));
    assert_eq!(sent[0].rule.as_deref(), Some("plugin:appliance-service"));
    assert_eq!(crm.read(|tx| tx.tasks_of(buyer)).unwrap().len(), 1);
    let report = host.call("appliance-service", "conversion", "{}").unwrap();
    assert_eq!(report.output, r#"{"converted":0,"offered":1,"rate":0.0}"#);

    // A year later the first service reminder goes out (once).
    let year = t0 + Duration::days(365);
    *clock.lock().unwrap() = year;
    assert_eq!(host.run_due(year).unwrap().ticks, 1);
    let sent = crm.read(|tx| tx.outbox("queued", 10)).unwrap();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].content.contains("1 year"), "{}", sent[1].content);
    *clock.lock().unwrap() = year + Duration::days(1);
    host.run_due(year + Duration::days(1)).unwrap();
    assert_eq!(crm.read(|tx| tx.outbox("queued", 10)).unwrap().len(), 2);

    // The customer buys the maintenance contract: the offer converts.
    crm.write(|tx| {
        tx.create_order(
            NewOrder::new(buyer, Currency::CNY, year)
                .with_line(NewLine::new("MAINT-3Y", 1))
                .confirmed(),
        )
        .map(|_| ())
    })
    .unwrap();
    host.deliver_pending().unwrap();
    let report = host.call("appliance-service", "conversion", "{}").unwrap();
    assert_eq!(report.output, r#"{"converted":1,"offered":1,"rate":1.0}"#);
}
