//! Alarms end to end: the real `netkpi` binary in a private network
//! namespace polling snmpsim serving a UPS recording (UPS-MIB) whose
//! upsOutputSource the test flips with `snmpset`. An `[[alarm]]` on
//! `ups_on_battery` opens an incident on the UPS, stamped at the first poll
//! that read "on battery", only after its hold; the UPS itself stays up; the
//! incident is restored after the hold once the mains are back, reopened
//! (a flap) when they fail again, and restored across a restart when the
//! mains came back while netkpi was stopped.
//!
//! Trap alarms: net-snmp's `snmptrap` sends upsTrapOnBattery from the UPS
//! and linkDown/linkUp from a switch (snmpsim serving a Cisco recording
//! whose ifOperStatus the test flips) to the daemon's trap port. Each opens
//! an incident on its device at once, stamped at the trap, stays open while
//! the polls read the condition, and is restored once the polls (and the
//! linkUp) have shown it clear for the hold; no target changes state.
//!
//! Needs root, `snmp` (the tools), `nftables` and the snmpsim venv that
//! `.ci/run` creates; fails loudly without them.

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use common::snmpsim::{Recording, Snmpsim};
use common::{listen, sample, Daemon, NetNs};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const UPS: &str = "127.0.4.1";
const SIM_PORT: u16 = 1161;
/// UPS-MIB upsOutputSource.0: normal(3), battery(5) (RFC 1628); the
/// `ups_mib` profile exports battery(5) as `netkpi_ups_on_battery` 1.
const OUTPUT_SOURCE: &str = "1.3.6.1.2.1.33.1.4.1.0";
const NORMAL: i64 = 3;
const BATTERY: i64 = 5;
/// The SNMP poll interval and the longest a poll may take (timeout ×
/// (retries + 1)) in the config below.
const INTERVAL: SignedDuration = SignedDuration::from_secs(1);
const ROUND_MAX: SignedDuration = SignedDuration::from_millis(600);
/// The alarm's hold.
const HOLD: SignedDuration = SignedDuration::from_secs(2);
const ALARM: &str = "ups-on-battery";

/// The tests run one at a time: their timing bounds assume the CPU is
/// not shared with another daemon and agent.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes the config: the daemon, the UPS polled each second, and `rest`.
fn write_config_with(dir: &Path, rest: &str) -> std::path::PathBuf {
    let text = format!(
        r#"[daemon]
listen = "{listen}"
data_dir = "data"
timezone = "UTC"

[defaults]
icmp = {{ interval = "1s", timeout = "300ms", count = 3, down_after = 2, up_after = 2 }}
snmp = {{ interval = "1s", timeout = "300ms", retries = 1, port = {SIM_PORT} }}

[[device]]
name = "ups-1"
role = "ups"
address = "{UPS}"
icmp = {{}}
snmp = {{ community = "ups-1", profiles = ["system", "ups_mib"] }}
{rest}"#,
        listen = common::LISTEN
    );
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    write_config_with(
        dir,
        &format!(
            r#"
[[alarm]]
name = "{ALARM}"
metric = "ups_on_battery"
op = "=="
value = 1
severity = "major"
hold = "2s"
"#
        ),
    )
}

fn time(v: &Value, key: &str) -> Timestamp {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key} in {v}: {e}"))
}

/// Every incident the API lists (newest first).
fn incidents(daemon: &Daemon) -> Vec<Value> {
    daemon.get_json("/api/v1/incidents")["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The UPS's alarm incident, once it is in `state`; also when it was first
/// seen so.
fn wait_alarm(daemon: &Daemon, state: &str, timeout: Duration) -> (Value, Timestamp) {
    wait_incident(daemon, ALARM, state, timeout)
}

/// Alarm `alarm`'s incident, once it is in `state`; also when it was first
/// seen so.
fn wait_incident(
    daemon: &Daemon,
    alarm: &str,
    state: &str,
    timeout: Duration,
) -> (Value, Timestamp) {
    daemon.wait_until(&format!("the {alarm} incident {state}"), timeout, || {
        let all = incidents(daemon);
        match all.iter().find(|i| i["alarm"] == alarm) {
            Some(i) if i["state"] == state => Ok((i.clone(), Timestamp::now())),
            other => Err(other.cloned()),
        }
    })
}

fn wait_device_up(daemon: &Daemon) {
    daemon.wait_for(
        "/api/v1/devices",
        "ups-1 up",
        Duration::from_secs(15),
        |doc| {
            doc["devices"]
                .as_array()
                .and_then(|a| a.iter().find(|d| d["name"] == "ups-1"))
                .is_some_and(|d| d["state"] == "up")
        },
    );
}

/// Waits until alarm `alarm`'s incident is restored, and asserts it is
/// incident `id`, restored at a time in `[from, to]`, and seen restored
/// only once its hold had passed since.
fn wait_restored(daemon: &Daemon, alarm: &str, id: u64, from: Timestamp, to: Timestamp) {
    let (restored, seen) = wait_incident(daemon, alarm, "restored", Duration::from_secs(15));
    assert_eq!(restored["id"], id, "the same incident: {restored}");
    let at = time(&restored, "restored_at");
    within(&format!("{alarm} restored_at"), at, from, to);
    assert!(seen >= at + HOLD, "restored at {seen}, before its hold");
}

/// Asserts `at` lies in `[from, to]`, with what it is for the message.
fn within(what: &str, at: Timestamp, from: Timestamp, to: Timestamp) {
    assert!(
        from <= at && at <= to,
        "{what} {at} is not within [{from}, {to}]"
    );
}

#[test]
fn an_alarm_on_a_polled_value_opens_and_restores_an_incident_of_its_own() {
    let _serial = serial();
    let ns = NetNs::new();
    let endpoint = format!("{UPS}:{SIM_PORT}");
    let sim = Snmpsim::start(
        &ns,
        &[&endpoint],
        &[Recording::new("ups-1", "eaton-93e-80").writable_integer(OUTPUT_SOURCE, NORMAL)],
    );
    let set = |value| {
        let before = Timestamp::now();
        sim.set_integer(&endpoint, "ups-1", OUTPUT_SOURCE, value);
        (before, Timestamp::now())
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path());
    let log = dir.path().join("netkpi.log");
    let daemon = Daemon::start(&ns, &config, listen(), log.clone());
    wait_device_up(&daemon);
    daemon.wait_until("on mains", Duration::from_secs(10), || {
        match sample(
            &daemon.metrics(),
            "netkpi_ups_on_battery",
            &[("device", "ups-1")],
        ) {
            Some(0.0) => Ok(()),
            other => Err(other),
        }
    });
    assert!(incidents(&daemon).is_empty(), "nothing to open on mains");

    // Mains fail: the alarm fires after its hold, stamped at the first poll
    // that read "on battery" (a poll that started up to one round before
    // the set completed may be that one).
    let (before, after) = set(BATTERY);
    let (incident, seen) = wait_alarm(&daemon, "open", Duration::from_secs(15));
    let opened = time(&incident, "opened_at");
    within(
        "opened_at",
        opened,
        before - ROUND_MAX,
        after + INTERVAL + ROUND_MAX,
    );
    assert!(
        seen >= opened + HOLD,
        "open at {seen}, before its hold had passed since {opened}"
    );
    assert_eq!(incident["kind"], "device");
    assert_eq!(incident["target"], "ups-1");
    assert_eq!(incident["severity"], "major", "the alarm's own severity");
    assert_eq!(incident["cause"], "netkpi_ups_on_battery == 1");
    assert_eq!(incident["root_id"], Value::Null);
    let id = incident["id"].as_u64().expect("an id");
    // On battery, the UPS itself answers: up, and no outage incident.
    let devices = daemon.get_json("/api/v1/devices");
    assert_eq!(devices["devices"][0]["state"], "up", "{devices}");
    let all = incidents(&daemon);
    assert_eq!(all.len(), 1, "only the alarm's incident: {all:?}");
    let metrics = daemon.metrics();
    assert_eq!(
        sample(
            &metrics,
            "netkpi_incidents_open",
            &[("kind", "device"), ("severity", "major")]
        ),
        Some(1.0)
    );

    // Mains back: restored after the hold, at the first poll that read it.
    let (before, after) = set(NORMAL);
    wait_restored(
        &daemon,
        ALARM,
        id,
        before - ROUND_MAX,
        after + INTERVAL + ROUND_MAX,
    );

    // Mains fail again within the flap window: the same incident, reopened.
    set(BATTERY);
    let (reopened, _) = wait_alarm(&daemon, "open", Duration::from_secs(15));
    assert_eq!(
        (reopened["id"].as_u64(), reopened["flaps"].as_u64()),
        (Some(id), Some(1))
    );
    let detail = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    let events: Vec<&str> = detail["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(events, ["opened", "restored", "reopened"], "{detail}");
    assert_eq!(detail["alarm"], ALARM);

    // Stopped while on battery, the mains come back meanwhile: after the
    // restart the open incident is restored once the polls have shown the
    // mains for the hold, not before the restart.
    assert!(daemon.stop().success());
    set(NORMAL);
    let restarted = Timestamp::now();
    let daemon = Daemon::start(&ns, &config, listen(), log);
    wait_restored(
        &daemon,
        ALARM,
        id,
        restarted,
        restarted + SignedDuration::from_secs(10),
    );
    assert_eq!(incidents(&daemon).len(), 1, "no new incident");
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "netkpi panicked; log:\n{log}");
}

const SWITCH: &str = "127.0.4.2";
const TRAP_PORT: u16 = 11162;
/// IF-MIB ifOperStatus of Gi0/49 (ifIndex 10149) in the Cisco recording:
/// up(1), down(2).
const GI0_49_OPER: &str = "1.3.6.1.2.1.2.2.1.8.10149";
const UPS_TRAP: &str = "ups-on-battery-trap";
const LINK_TRAP: &str = "gi0-49-down";

fn write_trap_config(dir: &Path) -> std::path::PathBuf {
    write_config_with(
        dir,
        &format!(
            r#"
[[device]]
name = "sw-1"
role = "core_switch"
address = "{SWITCH}"
icmp = {{}}
snmp = {{ community = "sw-1", profiles = ["system", "if_mib"] }}

[traps]
listen = "127.0.0.1:{TRAP_PORT}"
communities = ["trapcomm"]

[[alarm]]
name = "{UPS_TRAP}"
trap = "ups_on_battery"
severity = "critical"
hold = "2s"

[[alarm]]
name = "{LINK_TRAP}"
trap = "link_down"
labels = {{ if_name = "Gi0/49" }}
hold = "2s"
devices = ["sw-1"]
"#
        ),
    )
}

/// Waits until alarm `alarm`'s incident is open, and asserts it was opened
/// when the trap sent between `before` and `after` came, and seen open
/// before a hold had passed (a trap alarm does not wait its hold to fire).
fn wait_opened_by_trap(daemon: &Daemon, alarm: &str, before: Timestamp, after: Timestamp) -> Value {
    let (incident, seen) = wait_incident(daemon, alarm, "open", Duration::from_secs(5));
    let opened = time(&incident, "opened_at");
    within(&format!("{alarm} opened_at"), opened, before, after);
    assert!(
        seen < opened + HOLD,
        "{alarm} open at {seen}, not at the trap ({opened})"
    );
    incident
}

/// Sends a v2c trap `oid` with `varbinds` from `from` to the daemon, with
/// net-snmp's `snmptrap`; returns the times just before and after.
fn send_trap(ns: &NetNs, from: &str, oid: &str, varbinds: &[&str]) -> (Timestamp, Timestamp) {
    let client = format!("--clientaddr={from}");
    let receiver = format!("127.0.0.1:{TRAP_PORT}");
    let mut args = vec![
        "-v",
        "2c",
        "-c",
        "trapcomm",
        client.as_str(),
        receiver.as_str(),
        "",
        oid,
    ];
    args.extend(varbinds);
    let before = Timestamp::now();
    let out = ns.run("snmptrap", &args);
    let after = Timestamp::now();
    assert!(
        out.status.success(),
        "snmptrap {args:?} exited {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (before, after)
}

/// linkDown/linkUp varbinds of Gi0/49 as a switch sends them: ifIndex,
/// ifAdminStatus, ifOperStatus.
fn link_varbinds(oper: &'static str) -> [&'static str; 9] {
    [
        "1.3.6.1.2.1.2.2.1.1.10149",
        "i",
        "10149",
        "1.3.6.1.2.1.2.2.1.7.10149",
        "i",
        "1",
        "1.3.6.1.2.1.2.2.1.8.10149",
        "i",
        oper,
    ]
}

fn states(daemon: &Daemon) -> Vec<(String, String)> {
    let doc = daemon.get_json("/api/v1/devices");
    doc["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or("").to_string(),
                d["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_trap_alarm_opens_an_incident_at_the_trap_and_clears_after_the_hold() {
    let _serial = serial();
    let ns = NetNs::new();
    let ups = format!("{UPS}:{SIM_PORT}");
    let switch = format!("{SWITCH}:{SIM_PORT}");
    let sim = Snmpsim::start(
        &ns,
        &[&ups, &switch],
        &[
            Recording::new("ups-1", "eaton-93e-80").writable_integer(OUTPUT_SOURCE, NORMAL),
            Recording::new("sw-1", "cisco-c3560").writable_integer(GI0_49_OPER, 1),
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_trap_config(dir.path());
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    let all_up = || {
        vec![
            ("sw-1".to_string(), "up".to_string()),
            ("ups-1".to_string(), "up".to_string()),
        ]
    };
    daemon.wait_until(
        "both devices up, Gi0/49 read",
        Duration::from_secs(15),
        || {
            let mut s = states(&daemon);
            s.sort();
            let gi = sample(
                &daemon.metrics(),
                "netkpi_if_oper_up",
                &[("device", "sw-1"), ("if_name", "Gi0/49")],
            );
            if s == all_up() && gi == Some(1.0) {
                Ok(())
            } else {
                Err((s, gi))
            }
        },
    );

    // On battery for longer than the hold, no trap: a poll never raises a
    // trap alarm.
    sim.set_integer(&ups, "ups-1", OUTPUT_SOURCE, BATTERY);
    std::thread::sleep(Duration::from_secs(4));
    assert!(incidents(&daemon).is_empty(), "{:?}", incidents(&daemon));

    // upsTrapOnBattery: open at once, stamped when the trap came.
    let (before, after) = send_trap(&ns, UPS, "1.3.6.1.2.1.33.2.1", &[]);
    let incident = wait_opened_by_trap(&daemon, UPS_TRAP, before, after);
    assert_eq!(incident["kind"], "device");
    assert_eq!(incident["target"], "ups-1");
    assert_eq!(incident["severity"], "critical");
    assert_eq!(incident["cause"], "trap ups_on_battery");
    let id = incident["id"].as_u64().expect("an id");
    // The polls still read "on battery": it stays open past the hold.
    std::thread::sleep(Duration::from_secs(3));
    let (still, _) = wait_incident(&daemon, UPS_TRAP, "open", Duration::from_secs(1));
    assert_eq!(still["id"], id);

    // Mains back, no trap: restored once the polls have read it for the
    // hold, stamped at the first poll that read it.
    let before = Timestamp::now();
    sim.set_integer(&ups, "ups-1", OUTPUT_SOURCE, NORMAL);
    let after = Timestamp::now();
    wait_restored(
        &daemon,
        UPS_TRAP,
        id,
        before - ROUND_MAX,
        after + INTERVAL + ROUND_MAX,
    );

    // A linkDown of another interface: nothing.
    let other = [
        "1.3.6.1.2.1.2.2.1.1.10150",
        "i",
        "10150",
        "1.3.6.1.2.1.2.2.1.8.10150",
        "i",
        "2",
    ];
    send_trap(&ns, SWITCH, "1.3.6.1.6.3.1.1.5.3", &other);
    // Gi0/49 goes down and says so.
    sim.set_integer(&switch, "sw-1", GI0_49_OPER, 2);
    let (before, after) = send_trap(&ns, SWITCH, "1.3.6.1.6.3.1.1.5.3", &link_varbinds("2"));
    let link = wait_opened_by_trap(&daemon, LINK_TRAP, before, after);
    assert_eq!(link["target"], "sw-1");
    assert_eq!(link["severity"], "critical", "a core switch's own severity");
    assert_eq!(link["cause"], "trap link_down{if_name=\"Gi0/49\"}");
    let link_id = link["id"].as_u64().expect("an id");
    // Neither trap changed a state: both devices are up.
    let mut s = states(&daemon);
    s.sort();
    assert_eq!(s, all_up());
    std::thread::sleep(Duration::from_secs(3));
    wait_incident(&daemon, LINK_TRAP, "open", Duration::from_secs(1));

    // Up again, and linkUp: restored after the hold, at the first evidence
    // (a poll between the set and the trap, or the linkUp).
    let before = Timestamp::now();
    sim.set_integer(&switch, "sw-1", GI0_49_OPER, 1);
    let (_, after) = send_trap(&ns, SWITCH, "1.3.6.1.6.3.1.1.5.4", &link_varbinds("1"));
    wait_restored(&daemon, LINK_TRAP, link_id, before - ROUND_MAX, after);

    // Two incidents in all, both alarms', both restored; the devices
    // never went down.
    let all = incidents(&daemon);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|i| i["state"] == "restored"), "{all:?}");
    let mut s = states(&daemon);
    s.sort();
    assert_eq!(s, all_up());
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "netkpi panicked; log:\n{log}");
}
