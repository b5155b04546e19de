//! Working calendars, SLA arithmetic, the case status machine, breaches
//! and escalation.

use chrono::{DateTime, NaiveDate, TimeZone, Utc, Weekday};
use crm_core::{
    CaseStatus, CaseType, Channel, Crm, Direction, Error, NewCase, NewInteraction, NewParty,
    Priority, SlaClock, SlaPolicy, WorkingCalendar,
};

use crate::support::{TestClock, crm_at, fails_cleanly};

/// Beijing time as UTC.
fn bj(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap() - chrono::Duration::hours(8)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Mon–Fri 09:00–12:00 and 13:00–18:00 Beijing; National Day holidays
/// 2026-10-01..07, adjusted working days Sunday 2026-09-27 and Saturday
/// 2026-10-10.
fn china() -> WorkingCalendar {
    let mut calendar = WorkingCalendar::new("cn", "Asia/Shanghai")
        .unwrap()
        .with_weekdays(&["09:00-12:00", "13:00-18:00"])
        .unwrap()
        .with_working_day(day(2026, 9, 27))
        .with_working_day(day(2026, 10, 10));
    for d in 1..=7 {
        calendar = calendar.with_holiday(day(2026, 10, d));
    }
    calendar
}

#[test]
fn business_hours_around_weekends_holidays_and_working_saturdays() {
    let c = china();
    // Within a day, across lunch.
    assert_eq!(c.business_minutes(bj(2026, 9, 14, 11, 0), bj(2026, 9, 14, 14, 0)), 120);
    assert_eq!(
        c.add_business_minutes(bj(2026, 9, 14, 11, 30), 60).unwrap(),
        bj(2026, 9, 14, 13, 30)
    );
    // Friday 17:00 + 2 h → Monday 10:00.
    assert_eq!(
        c.add_business_minutes(bj(2026, 9, 11, 17, 0), 120).unwrap(),
        bj(2026, 9, 14, 10, 0)
    );
    assert_eq!(c.business_minutes(bj(2026, 9, 11, 17, 0), bj(2026, 9, 14, 10, 0)), 120);
    // Outside hours: zero minutes lands on the next opening.
    assert_eq!(c.add_business_minutes(bj(2026, 9, 12, 15, 0), 0).unwrap(), bj(2026, 9, 14, 9, 0));
    assert_eq!(c.add_business_minutes(bj(2026, 9, 14, 12, 30), 0).unwrap(), bj(2026, 9, 14, 13, 0));
    // Saturday 2026-09-26 17:00 → the adjusted working Sunday 09:00 + 1 h.
    assert_eq!(c.add_business_minutes(bj(2026, 9, 26, 17, 0), 60).unwrap(), bj(2026, 9, 27, 10, 0));
    assert!(c.is_working(bj(2026, 9, 27, 10, 0)));
    // Wednesday 2026-09-30 17:00 + 2 h skips the holidays (Oct 1–7, incl.
    // the weekend) to Thursday Oct 8, 10:00.
    assert_eq!(
        c.add_business_minutes(bj(2026, 9, 30, 17, 0), 120).unwrap(),
        bj(2026, 10, 8, 10, 0)
    );
    assert_eq!(c.business_minutes(bj(2026, 9, 30, 0, 0), bj(2026, 10, 9, 0, 0)), 16 * 60);
    // The working Saturday Oct 10 counts; Sunday Oct 11 does not.
    assert_eq!(c.business_minutes(bj(2026, 10, 10, 0, 0), bj(2026, 10, 12, 0, 0)), 8 * 60);
    // Negative spans are negative; a calendar with no hours is refused.
    assert_eq!(c.business_minutes(bj(2026, 9, 14, 14, 0), bj(2026, 9, 14, 11, 0)), -120);
    assert!(WorkingCalendar::new("empty", "Asia/Shanghai").unwrap().validate().is_err());
    assert!(WorkingCalendar::new("x", "Mars/Olympus").is_err());
    assert!(c.clone().with_hours(Weekday::Sat, &["10:00-12:00", "11:00-13:00"]).is_err());
}

#[test]
fn business_hours_follow_daylight_saving_time() {
    let berlin = WorkingCalendar::new("de", "Europe/Berlin")
        .unwrap()
        .with_weekdays(&["09:00-17:00"])
        .unwrap();
    // 2026-03-27 is a Friday before the change to summer time on the 29th:
    // 09:00 CET is 08:00 UTC, on Monday 09:00 CEST is 07:00 UTC.
    let friday_end = Utc.with_ymd_and_hms(2026, 3, 27, 16, 0, 0).unwrap();
    let due = berlin.add_business_minutes(friday_end, 60).unwrap();
    assert_eq!(due, Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap());
}

fn service_crm(start: DateTime<Utc>) -> (Crm, crm_core::PartyId, crm_core::PartyId, TestClock) {
    let (crm, clock) = crm_at(start);
    let (customer, agent) = crm
        .write(|tx| {
            tx.save_calendar(china())?;
            tx.save_sla_policy(
                SlaPolicy::new("default", "Standard", "cn")
                    .with_target(Priority::High, None, Some(60), Some(8 * 60))
                    .with_target(Priority::High, Some("gold"), Some(30), Some(4 * 60))
                    .with_target(Priority::Normal, None, Some(4 * 60), Some(24 * 60)),
            )?;
            let customer = tx.create_party(NewParty::person("刘洋"))?;
            let agent = tx.create_party(NewParty::person("客服小王"))?;
            Ok((customer.id, agent.id))
        })
        .unwrap();
    (crm, customer, agent, clock)
}

#[test]
fn sla_clocks_pause_while_waiting_on_the_customer() {
    let (crm, customer, agent, clock) = service_crm(bj(2026, 9, 14, 9, 0));
    // Monday 09:00, high priority: response due 10:00, resolution 18:00.
    let case = crm
        .write(|tx| {
            tx.open_case(
                NewCase::new(
                    customer,
                    CaseType::Repair,
                    Priority::High,
                    Channel::Phone,
                    "空调漏水",
                )
                .assigned_to(agent),
            )
        })
        .unwrap();
    assert_eq!(case.first_response_due, Some(bj(2026, 9, 14, 10, 0)));
    assert_eq!(case.resolution_due, Some(bj(2026, 9, 14, 18, 0)));
    // 09:20 an outbound call linked to the case is the first response.
    clock.set(bj(2026, 9, 14, 9, 20));
    crm.write(|tx| {
        tx.record_interaction(
            NewInteraction::new(
                customer,
                Channel::Phone,
                Direction::Outbound,
                bj(2026, 9, 14, 9, 20),
                "回电",
            )
            .with_link("case", case.id.to_string()),
        )
    })
    .unwrap();
    assert_eq!(
        crm.read(|tx| tx.get_case(case.id)).unwrap().first_response_at,
        Some(bj(2026, 9, 14, 9, 20))
    );
    // 11:00 waiting on the customer (6 business hours left) until Tuesday 14:00.
    clock.set(bj(2026, 9, 14, 11, 0));
    let waiting = crm
        .write(|tx| tx.set_case_status(case.id, CaseStatus::Waiting, Some("等客户拍照")))
        .unwrap();
    assert_eq!(waiting.resolution_due, None);
    // While paused nothing breaches, however long it waits.
    assert!(crm.read(|tx| tx.cases_breaching(bj(2026, 9, 16, 9, 0))).unwrap().is_empty());
    clock.set(bj(2026, 9, 15, 14, 0));
    let open = crm.write(|tx| tx.set_case_status(case.id, CaseStatus::Open, None)).unwrap();
    // 6 business hours from Tuesday 14:00: 4 h Tuesday, 2 h Wednesday → 11:00.
    assert_eq!(open.resolution_due, Some(bj(2026, 9, 16, 11, 0)));
    let breaches = crm.read(|tx| tx.cases_breaching(bj(2026, 9, 16, 14, 0))).unwrap();
    assert_eq!(breaches.len(), 1);
    assert_eq!((breaches[0].clock, breaches[0].overdue_minutes), (SlaClock::Resolution, 120));
    // Escalation appends one event per clock, once.
    let escalated = crm.write(|tx| tx.escalate_breaches(bj(2026, 9, 16, 14, 0))).unwrap();
    assert_eq!(escalated.len(), 1);
    assert!(crm.write(|tx| tx.escalate_breaches(bj(2026, 9, 16, 15, 0))).unwrap().is_empty());
    let case_after = crm.read(|tx| tx.get_case(case.id)).unwrap();
    assert_eq!(case_after.escalations, 1);
    let kinds: Vec<String> = crm
        .read(|tx| tx.events_for("case", &case.id.to_string()))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "case.opened",
            "case.responded",
            "case.status_changed",
            "case.status_changed",
            "case.escalated"
        ]
    );
    let history = crm.read(|tx| tx.case_history(case.id)).unwrap();
    assert_eq!(
        history.iter().map(|h| h.to).collect::<Vec<_>>(),
        [CaseStatus::New, CaseStatus::Waiting, CaseStatus::Open]
    );
}

#[test]
fn tiers_pick_targets_and_first_response_breaches() {
    let (crm, customer, _, _) = service_crm(bj(2026, 9, 14, 17, 45));
    let gold = crm
        .write(|tx| {
            tx.open_case(
                NewCase::new(
                    customer,
                    CaseType::Complaint,
                    Priority::High,
                    Channel::WeChat,
                    "投诉",
                )
                .with_tier("gold"),
            )
        })
        .unwrap();
    // 15 minutes Monday + 15 Tuesday.
    assert_eq!(gold.first_response_due, Some(bj(2026, 9, 15, 9, 15)));
    let breaches = crm.read(|tx| tx.cases_breaching(bj(2026, 9, 15, 9, 45))).unwrap();
    assert_eq!((breaches[0].clock, breaches[0].overdue_minutes), (SlaClock::FirstResponse, 30));
    // A low-priority case has no target in the policy: no due times.
    let low = crm
        .write(|tx| {
            tx.open_case(NewCase::new(
                customer,
                CaseType::Inquiry,
                Priority::Low,
                Channel::Email,
                "问题",
            ))
        })
        .unwrap();
    assert_eq!((low.first_response_due, low.resolution_due), (None, None));
}

/// Every pair of case statuses against the documented machine, through the
/// API: allowed transitions succeed, the rest fail and change nothing.
#[test]
fn case_status_machine_is_exhaustive() {
    use CaseStatus::*;
    let allowed = [
        (New, Open),
        (New, Waiting),
        (New, Resolved),
        (Open, Waiting),
        (Open, Resolved),
        (Waiting, Open),
        (Waiting, Resolved),
        (Resolved, Closed),
        (Resolved, Reopened),
        (Closed, Reopened),
        (Reopened, Open),
        (Reopened, Waiting),
        (Reopened, Resolved),
    ];
    let (crm, customer, _, _) = service_crm(bj(2026, 9, 14, 9, 0));
    let path_to = |status: CaseStatus| -> Vec<CaseStatus> {
        match status {
            New => vec![],
            Open => vec![Open],
            Waiting => vec![Waiting],
            Resolved => vec![Resolved],
            Closed => vec![Resolved, Closed],
            Reopened => vec![Resolved, Reopened],
        }
    };
    for from in CaseStatus::ALL {
        for to in CaseStatus::ALL {
            assert_eq!(from.can_become(*to), allowed.contains(&(*from, *to)), "{from} → {to}");
            let id = crm
                .write(|tx| {
                    let case = tx.open_case(NewCase::new(
                        customer,
                        CaseType::Repair,
                        Priority::Normal,
                        Channel::Visit,
                        "x",
                    ))?;
                    for step in path_to(*from) {
                        tx.set_case_status(case.id, step, None)?;
                    }
                    Ok(case.id)
                })
                .unwrap();
            if from.can_become(*to) {
                assert_eq!(crm.write(|tx| tx.set_case_status(id, *to, None)).unwrap().status, *to);
            } else {
                let error = fails_cleanly(&crm, |tx| tx.set_case_status(id, *to, None));
                assert!(
                    matches!(&error, Error::Invalid { at, .. } if at.column.as_deref() == Some("status")),
                    "{error}"
                );
            }
        }
    }
}

#[test]
fn bad_service_input_is_refused() {
    let (crm, customer, _, _) = service_crm(bj(2026, 9, 14, 9, 0));
    let error = fails_cleanly(&crm, |tx| tx.save_sla_policy(SlaPolicy::new("p", "P", "")));
    assert!(error.to_string().contains("no working calendar"), "{error}");
    let error = fails_cleanly(&crm, |tx| tx.save_sla_policy(SlaPolicy::new("p", "P", "missing")));
    assert!(matches!(error, Error::NotFound { entity: "calendar", .. }), "{error}");
    let error = fails_cleanly(&crm, |tx| {
        tx.save_sla_policy(SlaPolicy::new("p", "P", "cn").with_target(
            Priority::High,
            None,
            Some(0),
            None,
        ))
    });
    assert!(error.to_string().contains("not positive"), "{error}");
    let error = fails_cleanly(&crm, |tx| {
        tx.open_case(
            NewCase::new(customer, CaseType::Repair, Priority::High, Channel::Phone, "x")
                .with_sla("nope"),
        )
    });
    assert!(matches!(error, Error::NotFound { entity: "sla_policy", .. }), "{error}");
    let error = fails_cleanly(&crm, |tx| {
        tx.open_case(NewCase::new(
            crm_core::PartyId::new(),
            CaseType::Repair,
            Priority::High,
            Channel::Phone,
            "x",
        ))
    });
    assert!(matches!(error, Error::NotFound { entity: "party", .. }), "{error}");
    let case = crm
        .write(|tx| {
            tx.open_case(NewCase::new(
                customer,
                CaseType::Repair,
                Priority::High,
                Channel::Phone,
                "x",
            ))
        })
        .unwrap();
    let error = fails_cleanly(&crm, |tx| tx.rate_case(case.id, Some(6), None));
    assert!(error.to_string().contains("rating from 1 to 5"), "{error}");
}

#[test]
fn an_interaction_becomes_a_case() {
    let (crm, customer, _, _) = service_crm(bj(2026, 9, 14, 9, 0));
    let case = crm
        .write(|tx| {
            let call = tx.record_interaction(
                NewInteraction::new(
                    customer,
                    Channel::CallCentre,
                    Direction::Inbound,
                    bj(2026, 9, 14, 8, 30),
                    "热水器不出热水",
                )
                .with_body("型号 JSQ-16"),
            )?;
            tx.case_from_interaction(call.id, CaseType::Repair, Priority::High)
        })
        .unwrap();
    assert_eq!(case.channel, Channel::CallCentre);
    assert_eq!(case.subject, "热水器不出热水");
    assert_eq!(case.opened_at, bj(2026, 9, 14, 8, 30));
    // Opened before hours: the clock starts at 09:00.
    assert_eq!(case.first_response_due, Some(bj(2026, 9, 14, 10, 0)));
}
