use chrono::NaiveDate;
use crm_core::{Channel, Direction, Error, NewInteraction, NewParty, NewTask, TaskStatus};

use crate::support::{crm, fails_cleanly, start};

#[test]
fn agenda_lists_an_assignees_tasks_by_day() {
    let crm = crm();
    let (rep, tasks) = crm
        .write(|tx| {
            let rep = tx.create_party(NewParty::person("Rep"))?.id;
            let other = tx.create_party(NewParty::person("Other"))?.id;
            let mut tasks = Vec::new();
            for hours in [2, 30, 26, 80] {
                let due = start() + chrono::Duration::hours(hours);
                tasks.push(tx.create_task(
                    NewTask::new(format!("T+{hours}h"), due).assigned_to(rep).about(other),
                )?);
            }
            tx.create_task(NewTask::new("not mine", start()).assigned_to(other))?;
            Ok((rep, tasks))
        })
        .unwrap();
    crm.write(|tx| tx.cancel_task(tasks[3].id)).unwrap();
    let done = crm.write(|tx| tx.complete_task(tasks[0].id)).unwrap();
    assert_eq!(done.status, TaskStatus::Done);
    let day = start().date_naive();
    let agenda = crm.read(|tx| tx.agenda(rep, day, day + chrono::Days::new(1))).unwrap();
    let titles: Vec<_> = agenda.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["T+2h", "T+26h", "T+30h"]);
    let error = fails_cleanly(&crm, |tx| tx.complete_task(tasks[0].id));
    assert!(matches!(error, Error::Conflict { .. }));
    let error = crm.read(|tx| tx.agenda(rep, day, NaiveDate::MIN)).unwrap_err();
    assert!(matches!(error, Error::Invalid { .. }));
}

#[test]
fn interactions_are_recorded_paged_and_idempotent_by_external_id() {
    let crm = crm();
    let party = crm.write(|tx| Ok(tx.create_party(NewParty::person("P"))?.id)).unwrap();
    crm.write(|tx| {
        for (n, channel) in Channel::ALL.iter().enumerate() {
            let at = start() + chrono::Duration::minutes(n as i64);
            let mut new =
                NewInteraction::new(party, *channel, Direction::Outbound, at, format!("touch {n}"));
            new.external_id = Some(format!("src-{n}"));
            tx.record_interaction(new)?;
        }
        Ok(())
    })
    .unwrap();
    let page = crm.read(|tx| tx.interactions_of(party, 0, 3)).unwrap();
    assert_eq!(page.total, Channel::ALL.len() as u64);
    assert_eq!(page.items[0].subject, format!("touch {}", Channel::ALL.len() - 1));
    let mut again =
        NewInteraction::new(party, Channel::Phone, Direction::Outbound, start(), "touch 0");
    again.external_id = Some("src-0".into());
    let error = fails_cleanly(&crm, |tx| tx.record_interaction(again.clone()));
    assert!(matches!(error, Error::Conflict { .. }));
    let (_, outcome) = crm.write(|tx| tx.upsert_interaction(again.clone())).unwrap();
    assert_eq!(outcome, crm_core::Upserted::Unchanged);
    let error = fails_cleanly(&crm, |tx| {
        tx.record_interaction(NewInteraction::new(
            party,
            Channel::Sms,
            Direction::Inbound,
            start(),
            " ",
        ))
    });
    assert!(error.to_string().contains("subject"));
}

#[test]
fn values_handed_back_equal_what_a_later_read_returns() {
    // The system clock has nanoseconds; the database keeps microseconds.
    let crm = crm_core::Crm::open_in_memory().unwrap();
    let at: chrono::DateTime<chrono::Utc> = "2026-03-01T09:30:00.123456789Z".parse().unwrap();
    let (party, interaction, task) = crm
        .write(|tx| {
            let party = tx.create_party(NewParty::person("P"))?;
            let interaction = tx.record_interaction(NewInteraction::new(
                party.id,
                Channel::Phone,
                Direction::Inbound,
                at,
                "hi",
            ))?;
            let task = tx.create_task(NewTask::new("t", at).about(party.id))?;
            Ok((party, interaction, task))
        })
        .unwrap();
    assert_eq!(crm.read(|tx| tx.get_party(party.id)).unwrap(), party);
    assert_eq!(crm.read(|tx| tx.get_interaction(interaction.id)).unwrap(), interaction);
    assert_eq!(crm.read(|tx| tx.get_task(task.id)).unwrap(), task);
    assert_eq!(interaction.at.timestamp_subsec_nanos(), 123_456_000);
}
