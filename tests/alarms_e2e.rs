//! Alarms end to end: the real `netkpi` binary in a private network
//! namespace polling snmpsim serving a UPS recording (UPS-MIB) whose
//! upsOutputSource the test flips with `snmpset`. An `[[alarm]]` on
//! `ups_on_battery` opens an incident on the UPS, stamped at the first poll
//! that read "on battery", only after its hold; the UPS itself stays up; the
//! incident is restored after the hold once the mains are back, reopened
//! (a flap) when they fail again, and restored across a restart when the
//! mains came back while netkpi was stopped.
//!
//! Needs root, `snmp` (the tools), `nftables` and the snmpsim venv that
//! `.ci/run` creates; fails loudly without them.

mod common;

use std::path::Path;
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

fn write_config(dir: &Path) -> std::path::PathBuf {
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

[[alarm]]
name = "{ALARM}"
metric = "ups_on_battery"
op = "=="
value = 1
severity = "major"
hold = "2s"
"#,
        listen = common::LISTEN
    );
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, text).expect("write config");
    path
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
    daemon.wait_until(&format!("the {ALARM} incident {state}"), timeout, || {
        let all = incidents(daemon);
        match all.iter().find(|i| i["alarm"] == ALARM) {
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

/// Asserts `at` lies in `[from, to]`, with what it is for the message.
fn within(what: &str, at: Timestamp, from: Timestamp, to: Timestamp) {
    assert!(
        from <= at && at <= to,
        "{what} {at} is not within [{from}, {to}]"
    );
}

#[test]
fn an_alarm_on_a_polled_value_opens_and_restores_an_incident_of_its_own() {
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
    let (restored, seen) = wait_alarm(&daemon, "restored", Duration::from_secs(15));
    assert_eq!(restored["id"], id);
    let at = time(&restored, "restored_at");
    within(
        "restored_at",
        at,
        before - ROUND_MAX,
        after + INTERVAL + ROUND_MAX,
    );
    assert!(seen >= at + HOLD, "restored at {seen}, before its hold");

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
    let (restored, seen) = wait_alarm(&daemon, "restored", Duration::from_secs(15));
    assert_eq!(restored["id"], id, "the same incident");
    let at = time(&restored, "restored_at");
    within(
        "restored_at",
        at,
        restarted,
        restarted + SignedDuration::from_secs(10),
    );
    assert!(seen >= at + HOLD, "restored at {seen}, before its hold");
    assert_eq!(incidents(&daemon).len(), 1, "no new incident");
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "netkpi panicked; log:\n{log}");
}
