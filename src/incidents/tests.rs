use super::*;
use crate::alarms::AlarmEvent;
use crate::config::Role;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

fn t(target: &str, kind: TargetKind, s: i64, state: State, cause: Option<&str>) -> Transition {
    Transition {
        target: target.into(),
        kind,
        at: at(s),
        state,
        cause: cause.map(Into::into),
    }
}

fn dev(target: &str, s: i64, state: State, cause: Option<&str>) -> Transition {
    t(target, TargetKind::Device, s, state, cause)
}

fn terms(severity: Severity, planned: bool) -> Terms {
    Terms {
        severity,
        respond_within: Duration::from_secs(30 * 60),
        restore_within: Duration::from_secs(4 * 3600),
        planned,
    }
}

fn incidents() -> Incidents {
    Incidents::resume(Vec::new(), 1, Duration::from_secs(600))
}

fn opened(changes: &[Change]) -> &Incident {
    match changes {
        [Change::Opened(i)] => i,
        other => panic!("expected one opened incident: {other:?}"),
    }
}

#[test]
fn an_outage_opens_at_the_ledger_stamp_and_is_restored_when_it_answers() {
    let mut inc = incidents();
    assert!(inc
        .apply(
            &dev("r1", 0, State::Up, None),
            &terms(Severity::Critical, false)
        )
        .is_empty());
    let c = inc.apply(
        &dev("r1", 10, State::Down, Some("icmp:timeout")),
        &terms(Severity::Critical, false),
    );
    let i = opened(&c).clone();
    assert_eq!(
        (i.id, i.opened_at, i.severity, i.root_id),
        (1, at(10), Severity::Critical, None)
    );
    assert_eq!(
        inc.acknowledge(1, at(70), "duty").unwrap(),
        [Change::Acknowledged {
            id: 1,
            at: at(70),
            by: "duty".into(),
            via: None
        }]
    );
    let c = inc.apply(
        &dev("r1", 310, State::Degraded, None),
        &terms(Severity::Critical, false),
    );
    assert_eq!(c, [Change::Restored { id: 1, at: at(310) }]);
    let i = inc.live().next().unwrap();
    assert_eq!(i.response(), Some(SignedDuration::from_secs(60)));
    assert_eq!(i.restore(), Some(SignedDuration::from_secs(300)));
    assert!(inc.open_of(TargetKind::Device, "r1").is_none());
}

#[test]
fn down_again_within_the_flap_window_reopens_the_same_incident() {
    let mut inc = incidents();
    opened(&inc.apply(
        &dev("a", 0, State::Down, Some("icmp:timeout")),
        &terms(Severity::Minor, false),
    ));
    inc.apply(
        &dev("a", 100, State::Up, None),
        &terms(Severity::Minor, false),
    );
    let c = inc.apply(
        &dev("a", 400, State::Down, Some("icmp:timeout")),
        &terms(Severity::Minor, false),
    );
    assert_eq!(c, [Change::Reopened { id: 1, at: at(400) }]);
    assert_eq!(inc.open_of(TargetKind::Device, "a").unwrap().flaps, 1);
    // Restored, then down again long after the window: a new incident.
    inc.apply(
        &dev("a", 500, State::Up, None),
        &terms(Severity::Minor, false),
    );
    let c = inc.apply(
        &dev("a", 500 + 601, State::Down, None),
        &terms(Severity::Minor, false),
    );
    assert_eq!(opened(&c).id, 2);
}

#[test]
fn an_incident_open_across_a_restart_goes_on_and_closes_on_recovery() {
    let mut inc = incidents();
    opened(&inc.apply(
        &dev("a", 0, State::Down, Some("icmp:timeout")),
        &terms(Severity::Minor, false),
    ));
    // The daemon stops, then starts again (as the store would give it back).
    assert!(inc
        .apply(
            &dev("a", 50, State::Unknown, Some("daemon_stopped")),
            &terms(Severity::Minor, false)
        )
        .is_empty());
    let stored: Vec<Incident> = inc.live().cloned().collect();
    let mut inc = Incidents::resume(stored, 2, Duration::from_secs(600));
    assert!(
        inc.apply(
            &dev("a", 80, State::Down, Some("icmp:timeout")),
            &terms(Severity::Minor, false)
        )
        .is_empty(),
        "the same outage"
    );
    assert_eq!(
        inc.apply(
            &dev("a", 90, State::Up, None),
            &terms(Severity::Minor, false)
        ),
        [Change::Restored { id: 1, at: at(90) }]
    );
    let c = inc.apply(
        &dev("b", 95, State::Down, None),
        &terms(Severity::Minor, false),
    );
    assert_eq!(opened(&c).id, 2, "ids go on from the store's");
}

#[test]
fn everything_behind_a_down_device_links_to_its_root_incident() {
    let mut inc = incidents();
    let core = opened(&inc.apply(
        &dev("core", 0, State::Down, Some("icmp:timeout")),
        &terms(Severity::Critical, false),
    ))
    .id;
    let acc = inc.apply(
        &dev("acc-1", 2, State::Down, Some("parent:core")),
        &terms(Severity::Minor, false),
    );
    let acc = opened(&acc).clone();
    assert_eq!(acc.root_id, Some(core));
    let line = inc.apply(
        &t(
            "L-1",
            TargetKind::Line,
            2,
            State::Down,
            Some("device:acc-1"),
        ),
        &terms(LINE_SEVERITY, false),
    );
    assert_eq!(
        opened(&line).root_id,
        Some(core),
        "the line's device is itself behind core"
    );
    // A child that confirmed first, with its own cause, is relinked when
    // the ledger updates its cause...
    let acc2 = opened(&inc.apply(
        &dev("acc-2", 1, State::Down, Some("icmp:timeout")),
        &terms(Severity::Minor, false),
    ))
    .id;
    let c = inc.apply(
        &dev("acc-2", 1, State::Down, Some("parent:core")),
        &terms(Severity::Minor, false),
    );
    assert_eq!(
        c,
        [Change::Relinked {
            id: acc2,
            at: at(1),
            root_id: Some(core),
            cause: Some("parent:core".into())
        }]
    );
    // ...and unlinked when the parent is back and it is still down.
    inc.apply(
        &dev("core", 200, State::Up, None),
        &terms(Severity::Critical, false),
    );
    let c = inc.apply(
        &dev("acc-2", 200, State::Down, Some("icmp:timeout")),
        &terms(Severity::Minor, false),
    );
    assert_eq!(
        c,
        [Change::Relinked {
            id: acc2,
            at: at(200),
            root_id: None,
            cause: Some("icmp:timeout".into())
        }]
    );
    // An interface down on the core side is the line's own.
    let c = inc.apply(
        &t(
            "L-2",
            TargetKind::Line,
            300,
            State::Down,
            Some("interface:core/Gi0/1"),
        ),
        &terms(LINE_SEVERITY, false),
    );
    assert_eq!(opened(&c).root_id, None);
}

#[test]
fn acknowledgements_are_refused_when_they_cannot_apply() {
    let mut inc = incidents();
    opened(&inc.apply(
        &dev("a", 0, State::Down, None),
        &terms(Severity::Minor, false),
    ));
    assert_eq!(inc.acknowledge(9, at(1), "x"), Err(AckError::NotFound(9)));
    inc.acknowledge(1, at(5), "duty").unwrap();
    assert_eq!(
        inc.acknowledge(1, at(6), "other"),
        Err(AckError::AlreadyAcknowledged {
            id: 1,
            by: "duty".into()
        })
    );
    opened(&inc.apply(
        &dev("b", 0, State::Down, None),
        &terms(Severity::Minor, false),
    ));
    inc.apply(
        &dev("b", 10, State::Up, None),
        &terms(Severity::Minor, false),
    );
    assert_eq!(
        inc.acknowledge(2, at(11), "duty"),
        Err(AckError::Restored(2))
    );
}

#[test]
fn sla_is_judged_on_both_deadlines_and_not_for_planned_incidents() {
    let mut inc = incidents();
    let base = opened(&inc.apply(
        &dev("a", 0, State::Down, None),
        &terms(Severity::Minor, false),
    ))
    .clone();
    let with = |ack: Option<i64>, back: Option<i64>, planned: bool| Incident {
        acknowledged_at: ack.map(at),
        acknowledged_by: ack.map(|_| "duty".into()),
        restored_at: back.map(at),
        planned,
        ..base.clone()
    };
    assert_eq!(
        with(Some(600), Some(3600), false).sla_met(at(9999)),
        Some(true)
    );
    assert_eq!(
        with(Some(2400), Some(3600), false).sla_met(at(9999)),
        Some(false),
        "acknowledged late"
    );
    assert_eq!(
        with(Some(600), Some(5 * 3600), false).sla_met(at(99_999)),
        Some(false),
        "restored late"
    );
    assert_eq!(
        with(None, None, false).sla_met(at(60)),
        None,
        "too early to tell"
    );
    assert_eq!(
        with(None, None, false).sla_met(at(1801)),
        Some(false),
        "nobody answered in time"
    );
    assert_eq!(
        with(Some(600), None, false).sla_met(at(3600)),
        None,
        "still within the restore deadline"
    );
    assert_eq!(
        with(None, Some(100), true).sla_met(at(99_999)),
        None,
        "planned: not judged"
    );
    assert_eq!(
        with(None, Some(600), false).respond_verdict(at(99_999)),
        Verdict::Met,
        "back before anyone had to answer"
    );
    assert_eq!(
        with(None, Some(2400), false).respond_verdict(at(99_999)),
        Verdict::Missed,
        "open and unanswered past the deadline, even if it came back later"
    );
    assert_eq!(
        with(Some(600), None, false).restore_verdict(at(4 * 3600 + 1)),
        Verdict::Missed,
        "still down past the restore deadline"
    );
    // Planned when it opens inside a window.
    let c = inc.apply(
        &dev("m", 5, State::Down, None),
        &terms(Severity::Minor, true),
    );
    assert!(opened(&c).planned);
}

#[test]
fn severity_follows_the_role() {
    assert_eq!(Severity::of_role(Role::CoreSwitch), Severity::Critical);
    assert_eq!(Severity::of_role(Role::Ups), Severity::Critical);
    assert_eq!(Severity::of_role(Role::AggregationSwitch), Severity::Major);
    assert_eq!(Severity::of_role(Role::AccessEgress), Severity::Minor);
    assert!(Severity::Critical < Severity::Major && Severity::Major < Severity::Minor);
}

#[test]
fn incidents_behind_a_relinked_device_follow_it_to_the_root_and_stay_linked_after() {
    let mut inc = incidents();
    let core = opened(&inc.apply(
        &dev("core", 0, State::Down, Some("icmp:timeout")),
        &terms(Severity::Critical, false),
    ))
    .id;
    // The access device confirmed on its own first, its line behind it.
    let acc = opened(&inc.apply(
        &dev("acc", 0, State::Down, Some("icmp:timeout")),
        &terms(Severity::Minor, false),
    ))
    .id;
    let line_t = |s, state, cause: Option<&str>| t("L", TargetKind::Line, s, state, cause);
    let line = opened(&inc.apply(
        &line_t(0, State::Down, Some("device:acc")),
        &terms(LINE_SEVERITY, false),
    ))
    .clone();
    assert_eq!(line.root_id, Some(acc));
    // The ledger links the device to the core: the line follows.
    let c = inc.apply(
        &dev("acc", 0, State::Down, Some("parent:core")),
        &terms(Severity::Minor, false),
    );
    assert_eq!(
        c,
        [
            Change::Relinked {
                id: acc,
                at: at(0),
                root_id: Some(core),
                cause: Some("parent:core".into())
            },
            Change::Relinked {
                id: line.id,
                at: at(0),
                root_id: Some(core),
                cause: Some("device:acc".into())
            }
        ]
    );
    // Everything comes back, the core first: the links stay as they were.
    for tr in [
        dev("core", 100, State::Up, None),
        dev("acc", 100, State::Up, None),
        line_t(100, State::Up, None),
    ] {
        for change in inc.apply(&tr, &terms(Severity::Minor, false)) {
            assert!(
                matches!(change, Change::Restored { .. }),
                "only restorations: {change:?}"
            );
        }
    }
    let roots: Vec<Option<u64>> = [acc, line.id]
        .iter()
        .map(|id| inc.live().find(|i| i.id == *id).unwrap().root_id)
        .collect();
    assert_eq!(roots, [Some(core), Some(core)]);
}

#[test]
fn acknowledging_a_root_acknowledges_what_is_behind_it() {
    let mut inc = incidents();
    let core = opened(&inc.apply(
        &dev("core", 0, State::Down, Some("icmp:timeout")),
        &terms(Severity::Critical, false),
    ))
    .id;
    let mut behind = Vec::new();
    for name in ["acc-1", "acc-2", "acc-3"] {
        behind.push(
            opened(&inc.apply(
                &dev(name, 1, State::Down, Some("parent:core")),
                &terms(Severity::Minor, false),
            ))
            .id,
        );
    }
    // One already taken on by someone else; one already back.
    inc.acknowledge(behind[0], at(5), "li").unwrap();
    inc.apply(
        &dev("acc-3", 8, State::Up, None),
        &terms(Severity::Minor, false),
    );
    let changes = inc.acknowledge(core, at(10), "wang").unwrap();
    assert_eq!(
        changes,
        [
            Change::Acknowledged {
                id: core,
                at: at(10),
                by: "wang".into(),
                via: None
            },
            Change::Acknowledged {
                id: behind[1],
                at: at(10),
                by: "wang".into(),
                via: Some(core)
            }
        ]
    );
}

fn alarm(device: &str, name: &str, s: i64, raised: bool) -> AlarmEvent {
    AlarmEvent {
        device: device.into(),
        alarm: name.into(),
        raised,
        at: at(s),
        severity: None,
        condition: "netkpi_ups_on_battery == 1".into(),
    }
}

#[test]
fn an_alarm_incident_and_the_devices_outage_are_apart() {
    let mut inc = incidents();
    let crit = terms(Severity::Critical, false);
    let a = opened(&inc.alarm(&alarm("ups-1", "on-battery", 10, true), &crit)).clone();
    assert_eq!(
        (
            a.kind,
            a.target.as_str(),
            a.alarm.as_deref(),
            a.opened_at,
            a.root_id,
            a.cause.as_deref()
        ),
        (
            TargetKind::Device,
            "ups-1",
            Some("on-battery"),
            at(10),
            None,
            Some("netkpi_ups_on_battery == 1")
        )
    );
    // The device going down opens its own incident beside the alarm's.
    let d = opened(&inc.apply(&dev("ups-1", 20, State::Down, Some("icmp:timeout")), &crit)).clone();
    assert_ne!(d.id, a.id);
    assert_eq!(d.alarm, None);
    assert_eq!(
        inc.open_of(TargetKind::Device, "ups-1").map(|i| i.id),
        Some(d.id)
    );
    assert_eq!(
        inc.open_alarm("ups-1", "on-battery").map(|i| i.id),
        Some(a.id)
    );
    // Another alarm on the same device is a third incident.
    let other = opened(&inc.alarm(&alarm("ups-1", "battery-low", 25, true), &crit)).clone();
    assert!(other.id != a.id && other.id != d.id);
    // The device coming back restores its outage, not the alarm.
    assert_eq!(
        inc.apply(&dev("ups-1", 30, State::Up, None), &crit),
        [Change::Restored {
            id: d.id,
            at: at(30)
        }]
    );
    assert!(inc.open_alarm("ups-1", "on-battery").is_some());
    // The alarm clearing restores its incident only.
    assert_eq!(
        inc.alarm(&alarm("ups-1", "on-battery", 40, false), &crit),
        [Change::Restored {
            id: a.id,
            at: at(40)
        }]
    );
    assert!(inc.open_alarm("ups-1", "battery-low").is_some());
    // Fired again within the flap window: the same incident, one flap.
    assert_eq!(
        inc.alarm(&alarm("ups-1", "on-battery", 100, true), &crit),
        [Change::Reopened {
            id: a.id,
            at: at(100)
        }]
    );
    let live: Vec<&Incident> = inc.live().filter(|i| i.id == a.id).collect();
    assert_eq!(live[0].flaps, 1);
    // Fired again while open (resumed after a restart): nothing new.
    assert!(inc
        .alarm(&alarm("ups-1", "on-battery", 110, true), &crit)
        .is_empty());
    // After the flap window, a new incident.
    inc.alarm(&alarm("ups-1", "on-battery", 200, false), &crit);
    let again = opened(&inc.alarm(&alarm("ups-1", "on-battery", 2000, true), &crit)).clone();
    assert!(again.id > other.id);
}

#[test]
fn an_alarm_incident_is_a_root_that_nothing_links_to() {
    let mut inc = incidents();
    let crit = terms(Severity::Critical, false);
    let a = opened(&inc.alarm(&alarm("core-sw", "too-hot", 0, true), &crit)).clone();
    // A child down behind core-sw while core-sw only has an alarm: no root.
    let child =
        opened(&inc.apply(&dev("acc-1", 5, State::Down, Some("parent:core-sw")), &crit)).clone();
    assert_eq!(child.root_id, None);
    assert_eq!(a.root_id, None);
    // Planned when the terms say so.
    let planned = opened(&inc.alarm(
        &alarm("core-sw", "fan", 6, true),
        &terms(Severity::Minor, true),
    ))
    .clone();
    assert!(planned.planned);
    assert_eq!(planned.severity, Severity::Minor);
    // Resumed from the store, keyed by its alarm again.
    let resumed = Incidents::resume(inc.live().cloned().collect(), 1, Duration::from_secs(600));
    assert_eq!(
        resumed.open_alarm("core-sw", "too-hot").map(|i| i.id),
        Some(a.id)
    );
    assert_eq!(resumed.open_of(TargetKind::Device, "core-sw"), None);
}
