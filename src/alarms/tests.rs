use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::config::TrapAlarm;
use crate::probes::snmp::profile::{Family, Sample, SampleKind, Samples};

const CONFIG: &str = r#"
[[device]]
name = "ups-1"
role = "ups"
address = "10.9.0.1"
snmp = { profiles = ["ups_mib"] }

[[device]]
name = "ups-2"
role = "ups"
address = "10.9.0.2"
snmp = { profiles = ["ups_mib"] }

[[device]]
name = "r1"
role = "router"
address = "10.1.0.1"
icmp = {}

[[alarm]]
name = "on-battery"
metric = "ups_on_battery"
op = "=="
value = 1
hold = "2s"
severity = "major"

[[alarm]]
name = "input-low"
metric = "netkpi_ups_input_voltage_volts"
op = "<"
value = 200
labels = { ups_input_line = "1" }
devices = ["ups-2"]

[[device]]
name = "sw-1"
role = "core_switch"
address = "10.1.0.2"
snmp = { profiles = ["if_mib"] }

[[alarm]]
name = "battery-trap"
trap = "ups_on_battery"
hold = "2s"
devices = ["ups-2"]

[[alarm]]
name = "uplink-down"
trap = "link_down"
labels = { if_name = "ge-0/0/1" }
hold = "2s"
severity = "critical"
devices = ["sw-1"]

[[alarm]]
name = "any-link-down"
trap = "link_down"
devices = ["sw-1"]
"#;

fn config() -> Config {
    crate::config::load_str(Path::new("t.toml"), CONFIG).unwrap_or_else(|d| panic!("{d:#?}"))
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        family: Arc::new(Family {
            name: format!("netkpi_{name}"),
            kind: SampleKind::Gauge,
            help: String::new(),
        }),
        labels: labels
            .iter()
            .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
            .collect(),
        value,
    }
}

/// [`super::condition`] on samples as `evaluate` gives them.
fn condition(alarm: &Alarm, samples: &[Sample]) -> Option<bool> {
    super::condition(alarm, &Samples::from(samples.to_vec()))
}

fn on_battery(v: f64) -> Vec<Sample> {
    vec![
        sample("ups_on_battery", &[], v),
        sample("ups_output_source", &[], if v == 1.0 { 5.0 } else { 3.0 }),
    ]
}

/// Feeds rounds `(second, samples)` of device 0 and returns every event as
/// (raised, stamp second).
fn run(alarms: &mut Alarms, rounds: &[(i64, Vec<Sample>)]) -> Vec<(bool, i64)> {
    let c = config();
    let mut out = Vec::new();
    for (s, samples) in rounds {
        let samples = Samples::from(samples.clone());
        for e in alarms.round(&c.devices[0], &c.alarms, at(*s), &samples) {
            assert_eq!(
                (e.device.as_str(), e.alarm.as_str()),
                ("ups-1", "on-battery")
            );
            out.push((e.raised, e.at.as_second() - 1_780_000_000));
        }
    }
    out
}

#[test]
fn the_condition_holds_when_any_matching_sample_satisfies_it() {
    let c = config();
    let input_low = &c.alarms[1];
    let volts = |l1: f64, l2: f64| {
        vec![
            sample("ups_input_voltage_volts", &[("ups_input_line", "1")], l1),
            sample("ups_input_voltage_volts", &[("ups_input_line", "2")], l2),
        ]
    };
    assert_eq!(condition(input_low, &volts(190.0, 230.0)), Some(true));
    // Only line 1 is watched.
    assert_eq!(condition(input_low, &volts(230.0, 190.0)), Some(false));
    assert_eq!(condition(input_low, &on_battery(1.0)), None, "not read");
    assert_eq!(condition(input_low, &[]), None);
    let battery = &c.alarms[0];
    assert_eq!(battery.metric, "netkpi_ups_on_battery");
    assert_eq!(condition(battery, &on_battery(1.0)), Some(true));
    assert_eq!(condition(battery, &on_battery(0.0)), Some(false));
}

#[test]
fn fires_after_hold_stamped_at_the_first_round_and_clears_likewise() {
    let mut alarms = Alarms::new();
    let events = run(
        &mut alarms,
        &[
            (0, on_battery(0.0)),
            (1, on_battery(1.0)),
            (2, on_battery(1.0)),
            (3, on_battery(1.0)), // held 2 s since 1: fires, stamped 1
            (4, on_battery(1.0)),
            (5, on_battery(0.0)),
            (6, on_battery(0.0)),
            (7, on_battery(0.0)), // clear 2 s since 5: clears, stamped 5
            (8, on_battery(0.0)),
        ],
    );
    assert_eq!(events, [(true, 1), (false, 5)]);
    assert!(!alarms.is_raised("ups-1", "on-battery"));
}

#[test]
fn a_condition_shorter_than_hold_never_fires() {
    let mut alarms = Alarms::new();
    let rounds: Vec<(i64, Vec<Sample>)> = (0..20)
        .map(|s| (s, on_battery(if s % 2 == 0 { 1.0 } else { 0.0 })))
        .collect();
    assert_eq!(run(&mut alarms, &rounds), []);
    // A raised alarm that clears for less than hold stays raised.
    let mut events = run(&mut alarms, &[(30, on_battery(1.0)), (32, on_battery(1.0))]);
    events.extend(run(
        &mut alarms,
        &[
            (33, on_battery(0.0)),
            (34, on_battery(1.0)),
            (35, on_battery(0.0)),
            (36, on_battery(0.0)),
            (37, on_battery(1.0)),
        ],
    ));
    assert_eq!(events, [(true, 30)]);
    assert!(alarms.is_raised("ups-1", "on-battery"));
}

#[test]
fn rounds_without_the_value_neither_confirm_nor_clear() {
    let mut alarms = Alarms::new();
    let events = run(
        &mut alarms,
        &[
            (0, on_battery(1.0)),
            (1, Vec::new()), // the poll failed
            (2, Vec::new()),
            (3, on_battery(1.0)), // held in every round that read it: fires at 0
            (4, on_battery(0.0)),
            (5, Vec::new()),
            (6, Vec::new()),
            (7, Vec::new()), // clear since 4, but unconfirmed: still raised
        ],
    );
    assert_eq!(events, [(true, 0)]);
    assert!(alarms.is_raised("ups-1", "on-battery"));
    assert_eq!(run(&mut alarms, &[(8, on_battery(0.0))]), [(false, 4)]);
}

#[test]
fn hold_zero_decides_on_the_first_round() {
    let c = config();
    let mut alarms = Alarms::new();
    let mut zero = c.alarms[0].clone();
    zero.hold = Duration::ZERO;
    let alarms_list = [zero];
    let e = alarms.round(&c.devices[0], &alarms_list, at(5), &on_battery(1.0).into());
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0],
        AlarmEvent {
            device: "ups-1".into(),
            alarm: "on-battery".into(),
            raised: true,
            at: at(5),
            severity: Some(Severity::Major),
            condition: "netkpi_ups_on_battery == 1".into(),
        }
    );
    let e = alarms.round(&c.devices[0], &alarms_list, at(6), &on_battery(0.0).into());
    assert_eq!((e[0].raised, e[0].at), (false, at(6)));
}

#[test]
fn an_alarm_watches_only_its_devices() {
    let c = config();
    let mut alarms = Alarms::new();
    let volts: Samples = vec![sample(
        "ups_input_voltage_volts",
        &[("ups_input_line", "1")],
        150.0,
    )]
    .into();
    // input-low names ups-2 only; hold 0 fires at once.
    assert!(alarms
        .round(&c.devices[0], &c.alarms, at(0), &volts)
        .is_empty());
    let e = alarms.round(&c.devices[1], &c.alarms, at(0), &volts);
    assert_eq!(
        e.iter()
            .map(|e| (e.device.as_str(), e.alarm.as_str(), e.raised))
            .collect::<Vec<_>>(),
        [("ups-2", "input-low", true)]
    );
    // A device without SNMP is watched by none.
    assert!(alarms
        .round(&c.devices[2], &c.alarms, at(0), &volts)
        .is_empty());
}

#[test]
fn resumed_alarms_start_raised_and_unwatched_ones_are_cleared() {
    let c = config();
    let mut alarms = Alarms::new();
    alarms.resume([
        ("ups-1".to_string(), "on-battery".to_string()),
        ("ups-1".to_string(), "removed-alarm".to_string()),
        ("gone-device".to_string(), "on-battery".to_string()),
        // input-low does not watch ups-1.
        ("ups-1".to_string(), "input-low".to_string()),
    ]);
    let cleared = alarms.retain(&c.devices, &c.alarms, at(0));
    assert_eq!(
        cleared
            .iter()
            .map(|e| (e.device.as_str(), e.alarm.as_str(), e.raised, e.at))
            .collect::<Vec<_>>(),
        [
            ("gone-device", "on-battery", false, at(0)),
            ("ups-1", "input-low", false, at(0)),
            ("ups-1", "removed-alarm", false, at(0)),
        ]
    );
    assert!(alarms.is_raised("ups-1", "on-battery"));
    // The condition cleared while netkpi was down: cleared after hold.
    let events = run(
        &mut alarms,
        &[
            (10, on_battery(0.0)),
            (11, on_battery(0.0)),
            (12, on_battery(0.0)),
        ],
    );
    assert_eq!(events, [(false, 10)]);
    // Still on battery: nothing new.
    let mut again = Alarms::new();
    again.resume([("ups-1".to_string(), "on-battery".to_string())]);
    assert_eq!(
        run(&mut again, &[(10, on_battery(1.0)), (20, on_battery(1.0))]),
        []
    );
}

fn trap(device: &str, s: i64, kind: TrapKind) -> TrapSeen {
    TrapSeen {
        device: device.into(),
        at: at(s),
        kind,
    }
}

/// Feeds `device` (by name) rounds and traps in order; returns the events
/// of alarm `name` as (raised, stamp second).
fn feed(alarms: &mut Alarms, device: &str, name: &str, inputs: Vec<Fed>) -> Vec<(bool, i64)> {
    let c = config();
    let d = c.devices.iter().find(|d| d.name == device).expect("device");
    let mut out = Vec::new();
    for input in inputs {
        let events = match input {
            Fed::Round(s, samples) => alarms.round(d, &c.alarms, at(s), &samples.into()),
            Fed::Trap(s, kind) => alarms.trap(d, &c.alarms, &trap(device, s, kind)),
        };
        for e in events.into_iter().filter(|e| e.alarm == name) {
            assert_eq!(e.device, device);
            out.push((e.raised, e.at.as_second() - 1_780_000_000));
        }
    }
    out
}

enum Fed {
    Round(i64, Vec<Sample>),
    Trap(i64, TrapKind),
}

fn interfaces(ge1: f64, ge2: f64) -> Vec<Sample> {
    vec![
        sample(
            "if_oper_up",
            &[("if_index", "3"), ("if_name", "ge-0/0/1")],
            ge1,
        ),
        sample(
            "if_oper_up",
            &[("if_index", "4"), ("if_name", "ge-0/0/2")],
            ge2,
        ),
    ]
}

#[test]
fn a_trap_alarm_is_the_trap_s_condition_and_only_its_trap_raises_it() {
    let c = config();
    let battery = c.alarms.iter().find(|a| a.name == "battery-trap").unwrap();
    assert_eq!(battery.trap, Some(TrapAlarm::UpsOnBattery));
    assert_eq!(
        (battery.metric.as_str(), battery.op, battery.value),
        ("netkpi_ups_on_battery", crate::config::Comparison::Eq, 1.0)
    );
    assert_eq!(battery.condition(), "trap ups_on_battery");
    let uplink = c.alarms.iter().find(|a| a.name == "uplink-down").unwrap();
    assert_eq!(uplink.metric, "netkpi_if_oper_up");
    assert_eq!(uplink.condition(), "trap link_down{if_name=\"ge-0/0/1\"}");

    // Polls reading "on battery" for far longer than the hold: nothing.
    let mut alarms = Alarms::new();
    let rounds = (0..10).map(|s| Fed::Round(s, on_battery(1.0))).collect();
    assert_eq!(feed(&mut alarms, "ups-2", "battery-trap", rounds), []);
    assert!(!alarms.is_raised("ups-2", "battery-trap"));
    // A trap of another device, or another kind, neither.
    let other = feed(
        &mut alarms,
        "ups-1",
        "battery-trap",
        vec![Fed::Trap(10, TrapKind::UpsOnBattery)],
    );
    assert_eq!(other, []);
    let cold = feed(
        &mut alarms,
        "ups-2",
        "battery-trap",
        vec![Fed::Trap(10, TrapKind::ColdStart)],
    );
    assert_eq!(cold, []);
}

#[test]
fn a_trap_alarm_fires_at_its_trap_and_clears_once_the_polls_read_it_clear_for_hold() {
    let mut alarms = Alarms::new();
    let events = feed(
        &mut alarms,
        "ups-2",
        "battery-trap",
        vec![
            Fed::Round(9, on_battery(0.0)),
            Fed::Trap(10, TrapKind::UpsOnBattery), // at once, no hold
            // A poll that started before the trap says nothing after it.
            Fed::Round(9, on_battery(0.0)),
            Fed::Round(11, on_battery(1.0)),
            Fed::Round(12, on_battery(0.0)),
            Fed::Round(13, on_battery(1.0)), // not clear for 2 s: restarts
            Fed::Round(14, on_battery(0.0)),
            Fed::Round(15, on_battery(0.0)),
            Fed::Trap(15, TrapKind::UpsOnBattery), // again: restarts
            Fed::Round(16, on_battery(0.0)),
            Fed::Round(17, on_battery(0.0)),
            Fed::Round(18, on_battery(0.0)), // clear 2 s since 16
            Fed::Round(19, on_battery(0.0)),
        ],
    );
    assert_eq!(events, [(true, 10), (false, 16)]);
    assert!(!alarms.is_raised("ups-2", "battery-trap"));
}

#[test]
fn a_ups_alarm_entry_of_on_battery_raises_and_its_removal_clears() {
    let oid = |s: &str| Some(s.parse().unwrap());
    let on_battery_alarm = || oid("1.3.6.1.2.1.33.1.6.3.2");
    let mut alarms = Alarms::new();
    let events = feed(
        &mut alarms,
        "ups-2",
        "battery-trap",
        vec![
            // upsAlarmLowBattery: another alarm.
            Fed::Trap(
                1,
                TrapKind::UpsAlarmAdded {
                    alarm: oid("1.3.6.1.2.1.33.1.6.3.3"),
                },
            ),
            Fed::Trap(
                2,
                TrapKind::UpsAlarmAdded {
                    alarm: on_battery_alarm(),
                },
            ),
            Fed::Trap(
                3,
                TrapKind::UpsAlarmRemoved {
                    alarm: on_battery_alarm(),
                },
            ),
            // The removal is evidence like a clear poll: clear for the hold.
            Fed::Round(4, on_battery(0.0)),
            Fed::Round(5, on_battery(0.0)),
        ],
    );
    assert_eq!(events, [(true, 2), (false, 3)]);
}

#[test]
fn a_link_down_alarm_follows_its_interface_by_name_and_clears_on_link_up() {
    let down = |i| TrapKind::LinkDown { if_index: Some(i) };
    let up = |i| TrapKind::LinkUp { if_index: Some(i) };
    let mut alarms = Alarms::new();
    let inputs = || {
        vec![
            // Before any poll the name of ifIndex 3 is not known.
            Fed::Trap(0, down(3)),
            Fed::Round(1, interfaces(1.0, 1.0)),
            Fed::Trap(2, down(4)), // another interface
            Fed::Trap(3, up(3)),   // up while clear: nothing
            Fed::Trap(5, down(3)),
            Fed::Trap(6, up(3)),
            Fed::Round(7, interfaces(0.0, 1.0)), // still down: restarts
            Fed::Trap(8, up(3)),
            Fed::Round(9, interfaces(1.0, 0.0)), // the other one is down
            Fed::Round(10, interfaces(1.0, 1.0)), // clear 2 s since 8
        ]
    };
    let events = feed(&mut alarms, "sw-1", "uplink-down", inputs());
    assert_eq!(events, [(true, 5), (false, 8)]);
    // Without labels, any interface; hold 0 clears on the first clear
    // evidence. The poll at 7 reads ge-0/0/1 down, but a poll never raises
    // a trap alarm.
    let mut alarms = Alarms::new();
    let events = feed(&mut alarms, "sw-1", "any-link-down", inputs());
    assert_eq!(
        events,
        [
            (true, 0),
            (false, 1),
            (true, 2),
            (false, 3),
            (true, 5),
            (false, 6)
        ]
    );
}
