//! Appliance service: when a customer buys an appliance (an order line in
//! the `air-conditioner` category, say a ¥2,000 unit), offer a maintenance
//! contract (¥300, product category `maintenance`) by message and a task
//! for the sales rep, and schedule a service reminder for each year of the
//! product's life. When the customer later orders maintenance, the offer
//! counts as converted; `conversion` reports the upsell rate.
//!
//! State lives in the plugin's documents: `offer/<order>` and
//! `reminder/<date>/<order>`.

use crm_plugin_sdk::{Event, Host, Outcome, Plugin, PluginError, actions};
use serde_json::{Value, json};

/// Categories that count as appliances.
pub const APPLIANCES: &[&str] =
    &["air-conditioner", "washing-machine", "refrigerator", "water-heater"];
/// The category of a maintenance contract.
pub const MAINTENANCE: &str = "maintenance";
/// Years of service reminders after a sale.
pub const SERVICE_YEARS: i64 = 3;

/// The plugin.
pub struct ApplianceService;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// `YYYY-MM-DD` of an RFC 3339 time, moved `years` ahead.
fn years_later(at: &str, years: i64) -> Option<String> {
    let year: i64 = at.get(0..4)?.parse().ok()?;
    let rest = at.get(4..10)?;
    // 29 February falls back to the 28th.
    let rest = if rest == "-02-29" { "-02-28" } else { rest };
    Some(format!("{}{rest}", year + years))
}

impl Plugin for ApplianceService {
    const NAME: &'static str = "appliance-service";
    const VERSION: &'static str = "0.1.0";
    const COMMANDS: &'static [&'static str] = &["conversion"];

    fn on_event(host: &impl Host, event: Event) -> Result<Outcome, PluginError> {
        let Some(party) = event.party_id else { return Ok(Outcome::none()) };
        let Some(order) = host.orders_of(&party).into_iter().find(|o| o.id == event.entity_id)
        else {
            return Ok(Outcome::none());
        };
        if !matches!(
            order.status.as_str(),
            "confirmed" | "shipped" | "partially-shipped" | "delivered"
        ) {
            return Ok(Outcome::none());
        }
        let mut outcome = Outcome::none();
        // A maintenance order converts this party's open offers.
        if order.categories.iter().any(|c| c == MAINTENANCE) {
            for key in host.document_keys("offer/") {
                let mut offer = parse(&host.document(&key).unwrap_or_default());
                if offer["party"] == party.as_str() && offer["status"] == "offered" {
                    offer["status"] = json!("converted");
                    offer["converted_by"] = json!(order.id);
                    outcome = outcome.with(actions::put_document(&key, &offer.to_string()));
                }
            }
            return Ok(outcome);
        }
        if !order.categories.iter().any(|c| APPLIANCES.contains(&c.as_str())) {
            return Ok(outcome);
        }
        let key = format!("offer/{}", order.id);
        if host.document(&key).is_some() {
            return Ok(outcome); // Offered already (the order's later events).
        }
        let now = host.now();
        let due =
            years_later(&now, 0).map(|d| format!("{d}T10:00:00Z")).unwrap_or_else(|| now.clone());
        outcome = outcome
            .with(actions::send(
                &party,
                "mobile",
                "marketing",
                "感谢您购买空调！三年上门保养仅需 ¥300，回复 Y 预约。 Thank you for your purchase: three years of maintenance for ¥300 — reply Y.",
            ))
            .with(actions::create_task(&party, "Offer the maintenance contract (¥300)", &due))
            .with(actions::put_document(
                &key,
                &json!({ "party": party, "order": order.id, "at": now, "status": "offered" }).to_string(),
            ));
        for year in 1..=SERVICE_YEARS {
            if let Some(day) = years_later(&order.ordered_at, year) {
                outcome = outcome.with(actions::put_document(
                    &format!("reminder/{day}/{}", order.id),
                    &json!({ "party": party, "order": order.id, "year": year }).to_string(),
                ));
            }
        }
        Ok(outcome)
    }

    fn tick(host: &impl Host, now: &str) -> Result<Outcome, PluginError> {
        let today = now.get(0..10).unwrap_or(now);
        let mut outcome = Outcome::none();
        for key in host.document_keys("reminder/") {
            let day = key.trim_start_matches("reminder/").get(0..10).unwrap_or("");
            if day > today {
                continue;
            }
            let reminder = parse(&host.document(&key).unwrap_or_default());
            let Some(party) = reminder["party"].as_str() else { continue };
            let year = reminder["year"].as_i64().unwrap_or(0);
            outcome = outcome
                .with(actions::send(
                    party,
                    "mobile",
                    "service",
                    &format!("您的空调已使用 {year} 年，建议预约清洗保养。 Your air conditioner is {year} year(s) old: time for a service."),
                ))
                .with(actions::create_task(party, &format!("Annual service, year {year}"), now))
                .with(actions::put_document(&key, ""));
        }
        Ok(outcome)
    }

    fn command(host: &impl Host, name: &str, _args: &str) -> Result<Outcome, PluginError> {
        match name {
            "conversion" => {
                let offers: Vec<Value> = host
                    .document_keys("offer/")
                    .iter()
                    .map(|k| parse(&host.document(k).unwrap_or_default()))
                    .collect();
                let converted = offers.iter().filter(|o| o["status"] == "converted").count();
                let rate =
                    if offers.is_empty() { 0.0 } else { converted as f64 / offers.len() as f64 };
                Ok(Outcome::output(
                    json!({ "offered": offers.len(), "converted": converted, "rate": rate })
                        .to_string(),
                ))
            }
            other => Err(PluginError::InvalidInput(format!(
                "unknown command `{other}` (offered: conversion)"
            ))),
        }
    }
}

crm_plugin_sdk::plugin!(ApplianceService);

#[cfg(test)]
mod tests {
    use crm_plugin_sdk::{Action, MockHost, OrderSummary};

    use super::*;

    fn order(id: &str, status: &str, category: &str) -> OrderSummary {
        OrderSummary {
            id: id.into(),
            status: status.into(),
            currency: "CNY".into(),
            revenue: "2000.00".into(),
            ordered_at: "2026-06-01T09:00:00Z".into(),
            categories: vec![category.into()],
        }
    }

    fn event(order: &str) -> Event {
        Event {
            seq: 1,
            kind: "order.created".into(),
            entity: "order".into(),
            entity_id: order.into(),
            party_id: Some("p1".into()),
            actor: "app".into(),
            at: "2026-06-01T09:00:00Z".into(),
            after: None,
        }
    }

    #[test]
    fn an_appliance_sale_offers_maintenance_and_schedules_reminders() {
        let mut host = MockHost::at("2026-06-01T09:00:00Z").with_person("p1", "Lin");
        host.orders.insert("p1".into(), vec![order("o1", "confirmed", "air-conditioner")]);
        let outcome = ApplianceService::on_event(&host, event("o1")).unwrap_or_default();
        assert!(matches!(outcome.actions[0], Action::SendMessage(_)));
        assert!(matches!(outcome.actions[1], Action::CreateTask(_)));
        let docs: Vec<String> = outcome
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::PutDocument(d) => Some(d.key.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            docs,
            [
                "offer/o1",
                "reminder/2027-06-01/o1",
                "reminder/2028-06-01/o1",
                "reminder/2029-06-01/o1"
            ]
        );
        // Already offered: nothing more.
        host.documents.insert("offer/o1".into(), "{}".into());
        assert!(
            ApplianceService::on_event(&host, event("o1")).unwrap_or_default().actions.is_empty()
        );
        // Not an appliance, or not confirmed: nothing.
        host.orders.insert(
            "p1".into(),
            vec![order("o2", "confirmed", "tv"), order("o3", "draft", "air-conditioner")],
        );
        assert!(
            ApplianceService::on_event(&host, event("o2")).unwrap_or_default().actions.is_empty()
        );
        assert!(
            ApplianceService::on_event(&host, event("o3")).unwrap_or_default().actions.is_empty()
        );
    }

    #[test]
    fn a_maintenance_order_converts_and_reminders_fire_when_due() {
        let mut host = MockHost::at("2027-06-01T09:00:00Z");
        host.documents
            .insert("offer/o1".into(), json!({ "party": "p1", "status": "offered" }).to_string());
        host.documents
            .insert("offer/o9".into(), json!({ "party": "p9", "status": "offered" }).to_string());
        host.documents.insert(
            "reminder/2027-06-01/o1".into(),
            json!({ "party": "p1", "year": 1 }).to_string(),
        );
        host.documents.insert(
            "reminder/2028-06-01/o1".into(),
            json!({ "party": "p1", "year": 2 }).to_string(),
        );
        host.orders.insert("p1".into(), vec![order("m1", "confirmed", MAINTENANCE)]);
        let outcome = ApplianceService::on_event(&host, event("m1")).unwrap_or_default();
        assert_eq!(outcome.actions.len(), 1);
        let tick = ApplianceService::tick(&host, "2027-06-01T09:00:00Z").unwrap_or_default();
        assert_eq!(tick.actions.len(), 3); // message, task, reminder removed
        host.documents.insert("offer/o1".into(), json!({ "status": "converted" }).to_string());
        let report = ApplianceService::command(&host, "conversion", "").unwrap_or_default();
        assert_eq!(parse(&report.output)["rate"], 0.5);
        assert!(ApplianceService::command(&host, "other", "").is_err());
    }

    #[test]
    fn leap_days_fall_back() {
        assert_eq!(years_later("2028-02-29T00:00:00Z", 1).as_deref(), Some("2029-02-28"));
    }
}
