use super::*;
use crate::probes::icmp::IcmpRound;
use crate::probes::snmp::SnmpFailure;
use crate::probes::{FailureKind, Prober};

const CONFIG: &str = r#"
[defaults]
icmp = { interval = "10s", timeout = "1s", count = 3, down_after = 2, up_after = 2 }

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}

[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
parent = "core-r1"
icmp = {}

[[line]]
id = "L-001"
unit = "Finance Bureau"
device = "acc-001"
"#;

fn ledger() -> Ledger {
    let config = crate::config::load_str(std::path::Path::new("test.toml"), CONFIG)
        .expect("test config is valid");
    Ledger::new(Arc::new(Inventory::new(&config)), at(-1000))
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

fn round(received: u32) -> IcmpRound {
    IcmpRound {
        sent: 3,
        received,
        rtt_min: None,
        rtt_avg: None,
        rtt_max: None,
        jitter: None,
        failure: (received == 0).then_some(FailureKind::Timeout),
    }
}

fn obs(device: usize, s: i64, received: u32) -> Observation {
    Observation {
        generation: 0,
        device,
        at: at(s),
        prober: Prober::Icmp,
        round: round(received).classify(0.5),
        samples: None,
    }
}

#[test]
fn a_line_follows_its_device_with_the_first_round_stamp() {
    let mut l = ledger();
    let up = l.observe(&obs(1, 0, 3));
    assert_eq!(up.len(), 2);
    assert_eq!(
        (up[1].target.as_str(), up[1].kind, up[1].state),
        ("L-001", TargetKind::Line, State::Up)
    );
    assert!(
        l.observe(&obs(1, 10, 0)).is_empty(),
        "one failed round is not an outage"
    );
    let down = l.observe(&obs(1, 20, 0));
    assert_eq!(down.len(), 2);
    for t in &down {
        assert_eq!((t.state, t.at), (State::Down, at(10)), "{t:?}");
    }
    assert_eq!(down[0].cause.as_deref(), Some("icmp:timeout"));
    assert_eq!(down[1].cause.as_deref(), Some("device:acc-001"));
}

#[test]
fn a_child_behind_a_down_parent_is_down_with_the_parent_as_cause() {
    let mut l = ledger();
    l.observe(&obs(0, 0, 3));
    l.observe(&obs(1, 0, 3));
    l.observe(&obs(0, 10, 0));
    let parent = l.observe(&obs(0, 20, 0));
    assert_eq!(parent[0].state, State::Down);
    l.observe(&obs(1, 11, 0));
    let child = l.observe(&obs(1, 21, 0));
    assert_eq!(child[0].state, State::Down);
    assert_eq!(child[0].cause.as_deref(), Some("parent:core-r1"));
}

#[test]
fn stopping_marks_every_target_unknown() {
    let mut l = ledger();
    l.observe(&obs(0, 0, 3));
    let stop = l.stop_all(at(100));
    assert_eq!(stop.len(), 3);
    assert!(stop.iter().all(|t| t.state == State::Unknown
        && t.at == at(100)
        && t.cause.as_deref() == Some("daemon_stopped")));
    // After a stop, the first answered round brings it straight back up.
    assert_eq!(l.observe(&obs(0, 110, 3))[0].state, State::Up);
}

fn inventory(text: &str) -> Arc<Inventory> {
    let config = crate::config::load_str(std::path::Path::new("test.toml"), text)
        .expect("test config is valid");
    Arc::new(Inventory::new(&config))
}

#[test]
fn a_reload_keeps_state_and_accounts_for_added_and_removed_targets() {
    let mut l = ledger();
    l.observe(&obs(0, 0, 3));
    l.observe(&obs(1, 0, 3));
    // core-r1 stays, acc-001 and L-001 go, acc-002 arrives and L-002
    // ends on the (up) core-r1.
    let next = inventory(
        r#"
[defaults]
icmp = { down_after = 2 }

[[device]]
name = "acc-002"
role = "access_egress"
address = "127.0.20.2"
icmp = {}

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}

[[line]]
id = "L-002"
unit = "Tax Office"
device = "core-r1"
"#,
    );
    let changes = l.reload(next, 1, at(50));
    let summary: Vec<(&str, State, Option<&str>)> = changes
        .iter()
        .map(|t| (t.target.as_str(), t.state, t.cause.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("acc-001", State::Unknown, Some("removed_from_config")),
            ("L-001", State::Unknown, Some("removed_from_config")),
            ("acc-002", State::Unknown, Some("monitoring_started")),
            ("L-002", State::Up, None),
        ]
    );
    assert!(changes.iter().all(|t| t.at == at(50)));
    // Observations of the old generation are dropped...
    assert!(l.observe(&obs(0, 60, 0)).is_empty());
    // ...and core-r1 (now index 1) kept its state: one failed round of the
    // new generation does not confirm anything, two do.
    let mut fail = |s| {
        l.observe(&Observation {
            generation: 1,
            ..obs(1, s, 0)
        })
    };
    assert!(fail(70).is_empty());
    let down = fail(80);
    assert_eq!(
        down.iter()
            .map(|t| (t.target.as_str(), t.state))
            .collect::<Vec<_>>(),
        [("core-r1", State::Down), ("L-002", State::Down)]
    );
}

#[test]
fn an_unknown_device_index_is_ignored() {
    let mut l = ledger();
    assert!(l.observe(&obs(7, 0, 3)).is_empty());
}

// ---- Two probers on one device -------------------------------------------

const TWO_PROBERS: &str = r#"
[[device]]
name = "core-sw1"
role = "core_switch"
address = "127.0.10.2"
icmp = { interval = "10s", timeout = "1s", count = 3, down_after = 3, up_after = 2 }
snmp = { interval = "60s", timeout = "2s", retries = 1, profiles = ["system"] }

[[line]]
id = "L-009"
unit = "Audit Office"
device = "core-sw1"
"#;

fn snmp_obs(device: usize, s: i64, ok: bool) -> Observation {
    Observation {
        generation: 0,
        device,
        at: at(s),
        prober: Prober::Snmp,
        round: crate::probes::snmp::classify((!ok).then_some(SnmpFailure::Timeout), Vec::new()),
        samples: Some(Vec::new().into()),
    }
}

fn states(ts: &[Transition], target: &str) -> Vec<(i64, State, Option<String>)> {
    ts.iter()
        .filter(|t| t.target == target)
        .map(|t| {
            (
                t.at.as_second() - at(0).as_second(),
                t.state,
                t.cause.clone(),
            )
        })
        .collect()
}

/// Feeds observations in order and returns every transition.
fn feed(l: &mut Ledger, observations: impl IntoIterator<Item = Observation>) -> Vec<Transition> {
    observations
        .into_iter()
        .flat_map(|o| l.observe(&o))
        .collect()
}

#[test]
fn a_total_outage_is_down_from_the_first_failed_round_not_degraded_until_the_next_poll() {
    let mut l = Ledger::new(inventory(TWO_PROBERS), at(-100));
    // SNMP answered at 0 (its next poll is at 60); every ICMP round answered
    // up to 10; everything is dropped from 12 on.
    let mut seen = feed(&mut l, [snmp_obs(0, 0, true), obs(0, 0, 3), obs(0, 10, 3)]);
    seen.extend(feed(
        &mut l,
        [obs(0, 20, 0), obs(0, 30, 0), obs(0, 40, 0), obs(0, 50, 0)],
    ));
    seen.extend(feed(&mut l, [snmp_obs(0, 60, false), obs(0, 60, 0)]));
    assert_eq!(
        states(&seen, "core-sw1"),
        [
            (0, State::Up, None),
            (20, State::Down, Some("icmp:timeout".into()))
        ],
        "the success SNMP took before the outage is no evidence the device partly works"
    );
    assert_eq!(
        states(&seen, "L-009"),
        [
            (0, State::Up, None),
            (20, State::Down, Some("device:core-sw1".into()))
        ]
    );
}

#[test]
fn a_device_that_answers_one_prober_and_not_the_other_is_degraded() {
    // The SNMP agent dies while the box keeps answering pings.
    let mut l = Ledger::new(inventory(TWO_PROBERS), at(-100));
    let mut seen = feed(&mut l, [snmp_obs(0, 0, true), obs(0, 0, 3)]);
    seen.extend(feed(
        &mut l,
        [
            obs(0, 10, 3),
            obs(0, 60, 3),
            snmp_obs(0, 60, false),
            obs(0, 70, 3),
        ],
    ));
    assert_eq!(
        states(&seen, "core-sw1"),
        [
            (0, State::Up, None),
            (60, State::Degraded, Some("snmp:timeout".into()))
        ]
    );

    // Pings are blocked while the agent answers: down until SNMP proves the
    // box works again after the pings began failing, then degraded from the
    // poll that proved it.
    let mut l = Ledger::new(inventory(TWO_PROBERS), at(-100));
    let mut seen = feed(&mut l, [snmp_obs(0, 0, true), obs(0, 0, 3)]);
    seen.extend(feed(
        &mut l,
        (1..6)
            .map(|k| obs(0, 10 * k, 0))
            .chain([snmp_obs(0, 60, true), obs(0, 70, 0)]),
    ));
    assert_eq!(
        states(&seen, "core-sw1"),
        [
            (0, State::Up, None),
            (10, State::Down, Some("icmp:timeout".into())),
            (60, State::Degraded, Some("icmp:timeout".into())),
        ]
    );
}

#[test]
fn a_poll_that_finishes_after_a_later_failed_round_is_no_round() {
    // The SNMP poll started at 15 (before the outage) and answered; it is
    // delivered after the ICMP round of 20, which already failed.
    let mut l = Ledger::new(inventory(TWO_PROBERS), at(-100));
    let mut seen = feed(&mut l, [snmp_obs(0, 0, true), obs(0, 0, 3), obs(0, 10, 3)]);
    seen.extend(feed(
        &mut l,
        [
            obs(0, 20, 0),
            snmp_obs(0, 15, true),
            obs(0, 30, 0),
            obs(0, 40, 0),
        ],
    ));
    assert_eq!(
        states(&seen, "core-sw1"),
        [
            (0, State::Up, None),
            (20, State::Down, Some("icmp:timeout".into()))
        ]
    );
}

// ---- Runs never resolved ---------------------------------------------------

#[test]
fn a_stop_in_the_middle_of_an_unconfirmed_outage_is_unknown_from_its_first_failed_round() {
    let mut l = ledger();
    l.observe(&obs(0, 0, 3));
    l.observe(&obs(1, 0, 3));
    // acc-001 failed once at 10 (down_after = 2): not confirmed at the stop.
    assert!(l.observe(&obs(1, 10, 0)).is_empty());
    let stop = l.stop_all(at(15));
    assert_eq!(
        states(&stop, "acc-001"),
        [(10, State::Unknown, Some("unresolved_at_stop".into()))]
    );
    assert_eq!(
        states(&stop, "L-001"),
        [(10, State::Unknown, Some("unresolved_at_stop".into()))],
        "the line follows its device's unresolved run"
    );
    assert_eq!(
        states(&stop, "core-r1"),
        [(15, State::Unknown, Some("daemon_stopped".into()))]
    );
}

#[test]
fn a_reload_that_removes_a_target_mid_run_makes_the_run_unknown() {
    let mut l = ledger();
    l.observe(&obs(0, 0, 3));
    l.observe(&obs(1, 0, 3));
    assert!(l.observe(&obs(1, 10, 0)).is_empty());
    let next = inventory(
        r#"
[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}
"#,
    );
    let changes = l.reload(next, 1, at(14));
    assert_eq!(
        states(&changes, "acc-001"),
        [(10, State::Unknown, Some("removed_from_config".into()))]
    );
    assert_eq!(
        states(&changes, "L-001"),
        [(10, State::Unknown, Some("removed_from_config".into()))]
    );
}

// ---- Settled marks ---------------------------------------------------------

fn mark_of(l: &Ledger, target: &str) -> i64 {
    let m = l.marks().into_iter().find(|m| m.target == target).unwrap();
    m.until.as_second() - at(0).as_second()
}

#[test]
fn marks_stop_at_a_pending_run_and_at_the_slowest_prober() {
    let mut l = ledger();
    assert_eq!(mark_of(&l, "core-r1"), -1000, "nothing observed: the start");
    l.observe(&obs(0, 0, 3));
    l.observe(&obs(0, 10, 3));
    assert_eq!(mark_of(&l, "core-r1"), 10);
    l.observe(&obs(0, 20, 0));
    l.observe(&obs(0, 30, 3)); // one failure, then an answer: run ended
    assert_eq!(mark_of(&l, "core-r1"), 30);
    l.observe(&obs(0, 40, 0));
    assert_eq!(mark_of(&l, "core-r1"), 40, "a run pending since 40");
    l.observe(&obs(0, 50, 0)); // confirmed at 40
    assert_eq!(mark_of(&l, "core-r1"), 50);

    // Two probers: the slower one's latest round bounds the mark.
    let mut l = Ledger::new(inventory(TWO_PROBERS), at(-100));
    feed(
        &mut l,
        [
            snmp_obs(0, 0, true),
            obs(0, 0, 3),
            obs(0, 10, 3),
            obs(0, 20, 3),
        ],
    );
    assert_eq!(mark_of(&l, "core-sw1"), 0);
    assert_eq!(mark_of(&l, "L-009"), 0);
    l.observe(&snmp_obs(0, 60, true));
    assert_eq!(mark_of(&l, "core-sw1"), 20);
}

// ---- Parent and child, whatever the phase of their probes ----------------

/// [`CONFIG`] with three rounds to confirm an outage.
fn parent_child() -> Arc<Inventory> {
    let text = CONFIG.replace("down_after = 2", "down_after = 3");
    assert!(text.contains("down_after = 3"));
    inventory(&text)
}

/// ICMP rounds of `device` every 10 s from `phase_ms`, over `[0, end_s)`,
/// failing inside `[fail_from_s, fail_until_s)`; each is delivered when
/// it ends (its start + 1 s).
fn rounds(
    device: usize,
    phase_ms: i64,
    end_s: i64,
    fail_from_s: i64,
    fail_until_s: i64,
) -> Vec<(i64, Observation)> {
    (0..)
        .map(|k| phase_ms + 10_000 * k)
        .take_while(|&ms| ms < end_s * 1000)
        .map(|ms| {
            let failing = ms >= fail_from_s * 1000 && ms < fail_until_s * 1000;
            let o = Observation {
                generation: 0,
                device,
                at: at_ms(ms),
                prober: Prober::Icmp,
                round: round(if failing { 0 } else { 3 }).classify(0.5),
                samples: None,
            };
            (ms + 1000, o)
        })
        .collect()
}

fn at_ms(ms: i64) -> Timestamp {
    at(0) + jiff::SignedDuration::from_millis(ms)
}

/// The child's (cause) as recorded after each transition of the run.
fn replay(
    phase_parent: i64,
    phase_child: i64,
    child_fails_from: i64,
    parent_fails: (i64, i64),
) -> Vec<Transition> {
    let mut l = Ledger::new(parent_child(), at(-100));
    let mut events = rounds(0, phase_parent, 400, parent_fails.0, parent_fails.1);
    events.extend(rounds(1, phase_child, 400, child_fails_from, 10_000));
    events.sort_by_key(|(delivered, _)| *delivered);
    feed(&mut l, events.into_iter().map(|(_, o)| o))
}

#[test]
fn a_child_is_linked_to_its_parent_by_what_happened_not_by_probe_phase() {
    // Parent and child lose everything at 100 s; the parent comes back at
    // 250 s, the child never does. For every pair of phases, the child's
    // outage starts at its own first failed round, names the parent while
    // the parent is down, and its own cause from the parent's recovery on:
    // one outage, only its cause updated.
    for phase_parent in (0..10_000).step_by(1_250) {
        for phase_child in (0..10_000).step_by(1_250) {
            let seen = replay(phase_parent, phase_child, 100, (100, 250));
            let ctx = format!("parent phase {phase_parent} ms, child phase {phase_child} ms");
            let parent: Vec<&Transition> = seen.iter().filter(|t| t.target == "core-r1").collect();
            let child: Vec<&Transition> = seen.iter().filter(|t| t.target == "acc-001").collect();
            let parent_down = parent.iter().find(|t| t.state == State::Down).expect(&ctx);
            let parent_back = parent
                .iter()
                .find(|t| t.state == State::Up && t.at > parent_down.at)
                .expect(&ctx);
            // 100 s is a round boundary: the first failed round is at its phase.
            let first_failed = at_ms(100_000 + phase_child);
            let downs: Vec<&&Transition> = child.iter().filter(|t| t.state != State::Up).collect();
            assert!(
                downs.iter().all(|t| t.state == State::Down),
                "{ctx}: {downs:?}"
            );
            assert_eq!(downs[0].at, first_failed, "{ctx}");
            // Whatever the first cause, once both are confirmed the child
            // names the parent, stamped at its own outage's start.
            let linked = downs
                .iter()
                .find(|t| t.cause.as_deref() == Some("parent:core-r1"))
                .unwrap_or_else(|| panic!("{ctx}: never linked: {downs:?}"));
            assert_eq!(linked.at, first_failed, "{ctx}");
            let last = downs.last().unwrap();
            assert_eq!(
                (last.at, last.cause.as_deref()),
                (parent_back.at, Some("icmp:timeout")),
                "{ctx}: after the parent recovered, the child's own cause"
            );
            assert!(downs.len() <= 3, "{ctx}: {downs:?}");
        }
    }
}

#[test]
fn a_child_that_failed_well_before_its_parent_keeps_its_own_cause() {
    for phase in (0..10_000).step_by(2_500) {
        // The child fails at 100 s, the parent only at 160 s (more than one
        // parent round later): two separate events.
        let seen = replay(phase, 10_000 - 1 - phase, 100, (160, 300));
        let child: Vec<&Transition> = seen.iter().filter(|t| t.target == "acc-001").collect();
        assert!(
            child
                .iter()
                .all(|t| t.cause.as_deref() != Some("parent:core-r1")),
            "phase {phase}: {child:?}"
        );
        assert!(child.iter().any(|t| t.state == State::Down));
    }
}

// ---- Alarms --------------------------------------------------------------

const WITH_ALARM: &str = r#"
[[device]]
name = "ups-1"
role = "ups"
address = "127.0.10.9"
icmp = {}
snmp = { interval = "10s", timeout = "1s", profiles = ["ups_mib"] }

[[alarm]]
name = "on-battery"
metric = "ups_on_battery"
op = "=="
value = 1
hold = "10s"
"#;

fn ups_round(s: i64, on_battery: f64, generation: u64) -> Observation {
    use crate::probes::snmp::profile::{Family, Sample, SampleKind};
    let sample = Sample {
        family: Arc::new(Family {
            name: "netkpi_ups_on_battery".into(),
            kind: SampleKind::Gauge,
            help: String::new(),
        }),
        labels: Vec::new().into(),
        value: on_battery,
    };
    Observation {
        generation,
        samples: Some(vec![sample].into()),
        ..snmp_obs(0, s, true)
    }
}

#[test]
fn alarms_are_judged_on_the_rounds_of_the_config_in_force() {
    let mut l = Ledger::new(inventory(WITH_ALARM), at(-1000));
    assert!(l.judge_alarms(&ups_round(0, 1.0, 0)).is_empty());
    // An ICMP round carries no samples; a round of an older config counts
    // for nothing.
    assert!(l.judge_alarms(&obs(0, 5, 3)).is_empty());
    assert!(l.judge_alarms(&ups_round(5, 0.0, 9)).is_empty());
    let fired = l.judge_alarms(&ups_round(10, 1.0, 0));
    assert_eq!(
        fired
            .iter()
            .map(|e| (e.device.as_str(), e.alarm.as_str(), e.raised, e.at))
            .collect::<Vec<_>>(),
        [("ups-1", "on-battery", true, at(0))]
    );
    // The device itself stays up while on battery: alarms are not rounds.
    assert!(l
        .observe(&ups_round(20, 1.0, 0))
        .iter()
        .all(|t| t.state != State::Down));
    // A reload that drops the alarm clears it then.
    let without = inventory(&WITH_ALARM[..WITH_ALARM.find("[[alarm]]").unwrap()]);
    l.reload(without, 1, at(30));
    let cleared = l.retain_alarms(at(30));
    assert_eq!(
        cleared.iter().map(|e| (e.raised, e.at)).collect::<Vec<_>>(),
        [(false, at(30))]
    );
}

#[test]
fn open_alarm_incidents_resume_raised() {
    let mut l = Ledger::new(inventory(WITH_ALARM), at(-1000));
    let cleared = l.resume_alarms(
        [
            ("ups-1".to_string(), "on-battery".to_string()),
            ("ups-1".to_string(), "gone".to_string()),
        ],
        at(0),
    );
    assert_eq!(
        cleared
            .iter()
            .map(|e| (e.alarm.as_str(), e.raised))
            .collect::<Vec<_>>(),
        [("gone", false)]
    );
    assert!(
        l.judge_alarms(&ups_round(10, 1.0, 0)).is_empty(),
        "still raised"
    );
    assert!(l.judge_alarms(&ups_round(20, 0.0, 0)).is_empty());
    let cleared = l.judge_alarms(&ups_round(30, 0.0, 0));
    assert_eq!(
        cleared.iter().map(|e| (e.raised, e.at)).collect::<Vec<_>>(),
        [(false, at(20))]
    );
}

// ---- Energy --------------------------------------------------------------

/// An SNMP round of ups-1 (WITH_ALARM's device, interval 10 s) that read
/// `watts`, or failed (`None`).
fn power_round(s: i64, watts: Option<f64>, generation: u64) -> Observation {
    let mut obs = Observation {
        generation,
        ..snmp_obs(0, s, watts.is_some())
    };
    obs.round.power = watts.map(|watts| crate::energy::Power {
        watts,
        apparent: false,
    });
    obs
}

#[test]
fn energy_is_metered_on_the_snmp_rounds_of_the_config_in_force() {
    let mut l = Ledger::new(inventory(WITH_ALARM), at(-1000));
    let rounds = [
        power_round(0, Some(600.0), 0),
        power_round(10, None, 0), // failed: skipped over
        power_round(20, Some(600.0), 0),
        power_round(25, Some(9_999.0), 7), // an older config's: ignored
        obs(0, 26, 3),                     // ICMP: no power
        power_round(30, Some(1_200.0), 0),
    ];
    for o in &rounds {
        l.meter_energy(o);
    }
    let energy = l.take_energy();
    assert!(l.take_energy().is_empty(), "handed over once");
    let (key, e) = energy.iter().next().expect("one day");
    assert_eq!(energy.len(), 1);
    assert_eq!(key.0, "ups-1");
    assert_eq!(
        e.covered_ms, 30_000,
        "0–20 s across the failed round, 20–30 s"
    );
    let want = (600.0 * 20.0 + (600.0 + 1_200.0) / 2.0 * 10.0) / 3_600.0;
    assert!((e.wh - want).abs() < 1e-9, "{} != {want}", e.wh);
    // A gap over 3 intervals (30 s) is not integrated.
    l.meter_energy(&power_round(61, Some(1_200.0), 0));
    assert!(l.take_energy().is_empty());
    // A reload keeps ups-1's meter: the next round integrates.
    l.reload(inventory(WITH_ALARM), 1, at(65));
    l.meter_energy(&power_round(71, Some(1_200.0), 1));
    assert_eq!(
        l.take_energy().values().next().map(|e| e.covered_ms),
        Some(10_000)
    );
}

// ---- Interface states ------------------------------------------------------

const WATCHED: &str = r#"
[[device]]
name = "core-sw"
role = "core_switch"
address = "127.0.10.2"
snmp = { interval = "60s", timeout = "2s", retries = 1, profiles = ["if_mib"] }

[[device]]
name = "acc-sw"
role = "access_egress"
address = "127.0.20.2"
snmp = { interval = "60s", timeout = "2s", retries = 1, profiles = ["if_mib"] }

[[line]]
id = "L-010"
unit = "Tax Office"
device = "acc-sw"
interface = { device = "core-sw", name = "Gi0/49" }
"#;

#[test]
fn interface_states_are_kept_only_for_devices_a_line_watches() {
    let mut l = Ledger::new(inventory(WATCHED), at(-1000));
    let polled = |device, s, up| Observation {
        round: crate::probes::snmp::classify(
            None,
            vec![("Gi0/49".into(), up), ("Gi0/50".into(), true)],
        ),
        ..snmp_obs(device, s, true)
    };
    let line = |ts: &[Transition]| states(ts, "L-010");
    feed(&mut l, [polled(0, 0, true), polled(1, 0, true)]);
    assert_eq!(l.devices[0].interfaces.len(), 2);
    assert!(l.devices[1].interfaces.is_empty(), "no line watches acc-sw");
    // The watched interface goes down: so does the line, whatever its
    // far-end device says.
    let ts = feed(&mut l, [polled(1, 60, true), polled(0, 60, false)]);
    assert_eq!(
        line(&ts),
        [(60, State::Down, Some("interface:core-sw/Gi0/49".into()))]
    );
    // Once no line watches core-sw, it keeps none either.
    let unwatched = WATCHED.replace(
        "interface = { device = \"core-sw\", name = \"Gi0/49\" }\n",
        "",
    );
    l.reload(inventory(&unwatched), 1, at(90));
    assert!(l.devices[0].interfaces.is_empty());
    let back = Observation {
        generation: 1,
        ..polled(0, 120, true)
    };
    l.observe(&back);
    assert!(l.devices[0].interfaces.is_empty());
}
