//! README promises that had no test, each checked through the real binary
//! in a private network namespace:
//!
//! * "a trap never changes a state by itself, the poll it triggers
//!   confirms" (Traps and informs);
//! * "A maintenance window on a device also covers the lines that end on
//!   it" (What the figures mean), and taking a window out of the config
//!   re-classifies the past;
//! * on reload, "a line whose far-end device changed takes that device's
//!   state" (Command line).
//!
//! Not here: "/healthz answers 503 when probing has stopped". The flag is
//! cleared only when the ledger task returns, which happens at shutdown
//! (when the HTTP server stops too) or if its input channel closes, which
//! nothing outside the process can cause; testing it needs a hook in
//! `src/daemon.rs`.
//!
//! Needs root, `nftables`, `snmp` (net-snmp's tools) and the snmpsim venv;
//! fails loudly without them. The tests run one at a time ([`SERIAL`]).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::snmpsim::{Recording, Snmpsim};
use common::{
    figures, lab_config, listen, q, sample, secs, state_of, Daemon, NetNs, LISTEN, TIMEOUT_S,
};
use jiff::Timestamp;
use serde_json::Value;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn record<'v>(doc: &'v Value, list: &str, key: &str, name: &str) -> &'v Value {
    doc[list]
        .as_array()
        .and_then(|a| a.iter().find(|d| d[key] == name))
        .unwrap_or_else(|| panic!("{name} missing from {list}: {doc}"))
}

/// `(state, since)` of a device or line.
fn state_since(doc: &Value, list: &str, key: &str, name: &str) -> (String, String) {
    let r = record(doc, list, key, name);
    (
        r["state"].as_str().unwrap_or_default().to_string(),
        r["since"].as_str().unwrap_or_default().to_string(),
    )
}

fn send(ns: &NetNs, tool: &str, args: &[&str]) {
    let out = ns.run(tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?} exited {}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn all_up(doc: &Value, names: &[&str]) -> bool {
    names
        .iter()
        .all(|n| state_of(doc, "devices", "name", n) == "up")
}

const CORE: &str = "127.0.3.1";
const SIM_PORT: u16 = 1161;
const TRAP_PORT: u16 = 11162;
/// Gi0/49 of the Cisco recording: ifIndex 10149, ifOperStatus up(1).
const IF_INDEX: &str = "10149";

/// linkDown traps (v2c and v1) for the very port a line watches, while the
/// agent (snmpsim, the Cisco recording) says that port is up: each trap is
/// taken (counted, listed with its device) and triggers a poll, the poll
/// finds the port up, and neither the line nor any device changes state.
#[test]
fn a_link_down_trap_alone_changes_no_state() {
    let _serial = serial();
    let ns = NetNs::new();
    let endpoint = format!("{CORE}:{SIM_PORT}");
    let _sim = Snmpsim::start(
        &ns,
        &[&endpoint],
        &[Recording::new("core-sw", "cisco-c3560")],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
listen = "{LISTEN}"
data_dir = "data"
timezone = "UTC"

[defaults]
icmp = {{ interval = "1s", timeout = "300ms", count = 3, down_after = 2, up_after = 2, degraded_loss = 0.5 }}
snmp = {{ interval = "10s", timeout = "1s", retries = 1, port = {SIM_PORT} }}

[traps]
listen = "127.0.0.1:{TRAP_PORT}"
communities = ["trapcomm"]

[[device]]
name = "core-sw"
role = "core_switch"
address = "{CORE}"
icmp = {{}}
snmp = {{ community = "core-sw", profiles = ["if_mib"] }}

[[device]]
name = "acc-1"
role = "access_egress"
address = "127.0.3.10"
parent = "core-sw"
icmp = {{}}

[[line]]
id = "L-1"
unit = "Finance Bureau"
device = "acc-1"
interface = {{ device = "core-sw", name = "Gi0/49" }}
"#
        ),
    )
    .expect("write config");
    let started = Timestamp::now();
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "both devices up",
        Duration::from_secs(15),
        |doc| all_up(doc, &["core-sw", "acc-1"]),
    );
    // The port's status is known (first SNMP poll) and up.
    daemon.wait_until(
        "ifOperStatus of Gi0/49 polled",
        Duration::from_secs(20),
        || {
            let m = daemon.metrics();
            match sample(
                &m,
                "netkpi_if_oper_up",
                &[("device", "core-sw"), ("if_name", "Gi0/49")],
            ) {
                Some(1.0) => Ok(()),
                other => Err(other),
            }
        },
    );
    let lines = daemon.wait_for("/api/v1/lines", "L-1 up", Duration::from_secs(5), |doc| {
        state_of(doc, "lines", "id", "L-1") == "up"
    });
    let line_before = state_since(&lines, "lines", "id", "L-1");
    let devices = daemon.get_json("/api/v1/devices");
    let core_before = state_since(&devices, "devices", "name", "core-sw");
    let acc_before = state_since(&devices, "devices", "name", "acc-1");

    let receiver = format!("127.0.0.1:{TRAP_PORT}");
    let from_core = format!("--clientaddr={CORE}");
    let if_index = format!("1.3.6.1.2.1.2.2.1.1.{IF_INDEX}");
    let admin = format!("1.3.6.1.2.1.2.2.1.7.{IF_INDEX}");
    let oper = format!("1.3.6.1.2.1.2.2.1.8.{IF_INDEX}");
    let varbinds = [
        if_index.as_str(),
        "i",
        IF_INDEX,
        admin.as_str(),
        "i",
        "1",
        oper.as_str(),
        "i",
        "2",
    ];
    let last_poll = |doc: &Value| -> Option<Timestamp> {
        record(doc, "devices", "name", "core-sw")["snmp"]["last_poll_at"]
            .as_str()
            .map(|t| t.parse().expect("last_poll_at is RFC 3339"))
    };
    for round in 0..4 {
        let sent = Timestamp::now();
        let mut args: Vec<&str> = if round % 2 == 0 {
            vec![
                "-v",
                "2c",
                "-c",
                "trapcomm",
                from_core.as_str(),
                receiver.as_str(),
                "",
                "1.3.6.1.6.3.1.1.5.3",
            ]
        } else {
            vec![
                "-v",
                "1",
                "-c",
                "trapcomm",
                from_core.as_str(),
                receiver.as_str(),
                "1.3.6.1.4.1.9.1.1",
                CORE,
                "2",
                "0",
                "",
            ]
        };
        args.extend(varbinds);
        send(&ns, "snmptrap", &args);
        // The poll the trap triggers, long before the 10 s schedule would
        // bring one... or the scheduled one: either confirms.
        daemon.wait_until(
            &format!("a poll of core-sw after linkDown trap {round}"),
            Duration::from_secs(5),
            || {
                let doc = daemon.get_json("/api/v1/devices");
                match last_poll(&doc) {
                    Some(at) if at > sent => Ok(()),
                    other => Err(other),
                }
            },
        );
        // Nothing moved, now and for a round after the poll.
        for _ in 0..2 {
            let lines = daemon.get_json("/api/v1/lines");
            assert_eq!(
                state_since(&lines, "lines", "id", "L-1"),
                line_before,
                "a linkDown trap changed the line: {lines}"
            );
            let devices = daemon.get_json("/api/v1/devices");
            assert_eq!(
                state_since(&devices, "devices", "name", "core-sw"),
                core_before,
                "{devices}"
            );
            assert_eq!(
                state_since(&devices, "devices", "name", "acc-1"),
                acc_before,
                "{devices}"
            );
            std::thread::sleep(Duration::from_millis(700));
        }
        // Past the minimum gap between two triggered polls.
        std::thread::sleep(Duration::from_millis(500));
    }

    // The traps were taken, as linkDowns of core-sw.
    let m = daemon.metrics();
    for version in ["v1", "v2c"] {
        assert_eq!(
            sample(
                &m,
                "netkpi_traps_received_total",
                &[("version", version), ("kind", "link_down")]
            ),
            Some(2.0),
            "{m}"
        );
    }
    let traps = daemon.get_json("/api/v1/traps");
    let list = traps["traps"].as_array().expect("traps array");
    assert_eq!(list.len(), 4, "{traps}");
    for t in list {
        assert_eq!(t["device"], "core-sw", "{t}");
        assert_eq!(t["kind"], "link_down", "{t}");
    }
    assert_eq!(
        sample(
            &m,
            "netkpi_if_oper_up",
            &[("device", "core-sw"), ("if_name", "Gi0/49")]
        ),
        Some(1.0),
        "the polls found the port up:\n{m}"
    );
    assert_eq!(sample(&m, "netkpi_line_up", &[("line", "L-1")]), Some(1.0));
    // And the ledger has no down time for any of them.
    let doc = daemon.get_json(&format!(
        "/api/v1/availability?from={}&to={}",
        q(&started.to_string()),
        q(&Timestamp::now().to_string())
    ));
    for target in ["L-1", "core-sw", "acc-1"] {
        let f = figures(&doc, target);
        assert_eq!(secs(f, "down_s"), 0.0, "{target}: {f}");
        assert_eq!(f["outages"], 0, "{target}: {f}");
    }
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}

/// RFC 3339 in UTC, whole seconds (as an operator writes a window).
fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A window on the device acc-001 only: its line L-001 shows the same
/// maintenance time, and an outage of acc-001 that lies inside the window
/// counts as down for neither. L-002 (on acc-002) is not covered.
#[test]
fn a_device_maintenance_window_covers_its_line() {
    let _serial = serial();
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Timestamp::now();
    // Whole seconds: the window starts 6-7 s from now and lasts 10 s.
    let start = Timestamp::from_second(started.as_second() + 7).expect("time");
    let end = Timestamp::from_second(start.as_second() + 10).expect("time");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[[maintenance]]\ntargets = [\"acc-001\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"access router swap\"\n",
            lab_config("data"),
            rfc3339(start),
            rfc3339(end)
        ),
    )
    .expect("write config");
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| all_up(doc, &["core-r1", "acc-001", "acc-002"]),
    );
    let until = |t: Timestamp| {
        let wait = t.duration_since(Timestamp::now()).as_secs_f64();
        if wait > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(wait));
        }
    };
    assert!(
        Timestamp::now() < start,
        "the lab took too long to come up: the window has begun"
    );

    // Inside the window the API shows the device and its line in
    // maintenance; the other line is not.
    until(start);
    let lines = daemon.wait_for(
        "/api/v1/lines",
        "L-001 in maintenance",
        Duration::from_secs(3),
        |doc| state_of(doc, "lines", "id", "L-001") == "maintenance",
    );
    assert_eq!(state_of(&lines, "lines", "id", "L-002"), "up", "{lines}");
    let devices = daemon.get_json("/api/v1/devices");
    assert_eq!(
        state_of(&devices, "devices", "name", "acc-001"),
        "maintenance",
        "{devices}"
    );

    // acc-001 is down from 1 s into the window to 4 s before its end (5 s,
    // against down_after and up_after of 2 one-second rounds): the down
    // transition comes at most a round after the first dropped echo, the up
    // one at most a round and a bit after the answers return, both inside
    // the window. That the outage was real is checked at the end, with the
    // window taken away.
    until(Timestamp::from_second(start.as_second() + 1).expect("time"));
    ns.take_down("127.0.20.1");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001's echoes lost",
        Duration::from_secs(3),
        |doc| record(doc, "devices", "name", "acc-001")["last_failure"] == "timeout",
    );
    until(Timestamp::from_second(end.as_second() - 4).expect("time"));
    ns.bring_up("127.0.20.1");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 answering",
        Duration::from_secs(3),
        |doc| record(doc, "devices", "name", "acc-001")["last_failure"].is_null(),
    );
    until(Timestamp::from_second(end.as_second() + 1).expect("time"));

    let to = Timestamp::now();
    let doc = daemon.get_json(&format!(
        "/api/v1/availability?from={}&to={}",
        q(&started.to_string()),
        q(&to.to_string())
    ));
    let window = end.duration_since(start).as_secs_f64();
    for target in ["acc-001", "L-001"] {
        let f = figures(&doc, target);
        let maintenance = secs(f, "maintenance_s");
        assert!(
            (maintenance - window).abs() < 0.002,
            "{target}: maintenance_s {maintenance}, the window on acc-001 is {window} s: {f}"
        );
        assert_eq!(
            secs(f, "down_s"),
            0.0,
            "{target}: the outage lay inside the window: {f}"
        );
        assert_eq!(f["outages"], 0, "{target}: {f}");
        assert_eq!(f["availability"].as_f64(), Some(1.0), "{target}: {f}");
    }
    for target in ["acc-002", "L-002", "core-r1"] {
        let f = figures(&doc, target);
        assert_eq!(secs(f, "maintenance_s"), 0.0, "{target}: {f}");
    }
    // The line's state counters say the same as the device's. They count
    // what the ledger holds durably, settled every 5 s: wait for the window
    // to be counted whole.
    let m = daemon.wait_until("the window counted", Duration::from_secs(10), || {
        let m = daemon.metrics();
        let counted = sample(
            &m,
            "netkpi_state_seconds_total",
            &[
                ("target", "L-001"),
                ("kind", "line"),
                ("state", "maintenance"),
            ],
        );
        match counted {
            Some(v) if v >= window - 0.002 => Ok(m),
            other => Err(other),
        }
    });
    let counter = |target: &str, kind: &str, state: &str| {
        sample(
            &m,
            "netkpi_state_seconds_total",
            &[("target", target), ("kind", kind), ("state", state)],
        )
        .unwrap_or_else(|| panic!("no {state} counter of {target}:\n{m}"))
    };
    let device_maintenance = counter("acc-001", "device", "maintenance");
    let line_maintenance = counter("L-001", "line", "maintenance");
    assert!(
        (device_maintenance - window).abs() < 0.002,
        "acc-001's maintenance counter {device_maintenance}, window {window}"
    );
    assert!(
        (line_maintenance - device_maintenance).abs() < 0.002,
        "L-001's maintenance counter {line_maintenance}, acc-001's {device_maintenance}"
    );
    assert_eq!(counter("L-001", "line", "down"), 0.0, "{m}");

    // README: a window is applied when figures are computed, so taking it
    // out of the config re-classifies the past: the same period now shows
    // the outage, on the device and on its line alike.
    std::fs::write(&config, lab_config("data")).expect("rewrite config");
    daemon.signal(libc::SIGHUP);
    let period = format!(
        "/api/v1/availability?from={}&to={}",
        q(&started.to_string()),
        q(&to.to_string())
    );
    let doc = daemon.wait_for(
        &period,
        "the window gone from the figures",
        Duration::from_secs(10),
        |doc| secs(figures(doc, "acc-001"), "maintenance_s") == 0.0,
    );
    let device = figures(&doc, "acc-001");
    let line = figures(&doc, "L-001");
    let down = secs(device, "down_s");
    assert!(
        (3.0..window).contains(&down),
        "acc-001 was down about 5 s inside the {window} s window: {device}"
    );
    assert_eq!(device["outages"], 1, "{device}");
    assert!(
        (secs(line, "down_s") - down).abs() < 0.002 && secs(line, "maintenance_s") == 0.0,
        "L-001 shows its device's outage: {line} vs {device}"
    );
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}

/// SIGHUP with the two lines' far-end devices swapped, while acc-002 is
/// down: L-001 (now on acc-002) goes down with cause `device:acc-002`, and
/// L-002 (now on acc-001) comes up, at once, not after some rounds.
#[test]
fn a_line_moved_to_another_device_on_reload_takes_its_state() {
    let _serial = serial();
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    let before = lab_config("data");
    std::fs::write(&config, &before).expect("write config");
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| all_up(doc, &["core-r1", "acc-001", "acc-002"]),
    );
    ns.take_down("127.0.20.2");
    let lines = daemon.wait_for(
        "/api/v1/lines",
        "L-002 down",
        Duration::from_secs(10),
        |doc| state_of(doc, "lines", "id", "L-002") == "down",
    );
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "up", "{lines}");
    let devices = daemon.get_json("/api/v1/devices");
    let acc1 = state_since(&devices, "devices", "name", "acc-001");
    let acc2 = state_since(&devices, "devices", "name", "acc-002");

    let swapped = before
        .replace(
            "bandwidth = \"100M\"\ndevice = \"acc-001\"",
            "bandwidth = \"100M\"\ndevice = \"acc-XXX\"",
        )
        .replace(
            "bandwidth = \"50M\"\ndevice = \"acc-002\"",
            "bandwidth = \"50M\"\ndevice = \"acc-001\"",
        )
        .replace("device = \"acc-XXX\"", "device = \"acc-002\"");
    assert_ne!(swapped, before, "the lab config changed shape");
    std::fs::write(&config, &swapped).expect("rewrite config");
    let reloaded_at = Timestamp::now();
    let hup = Instant::now();
    daemon.signal(libc::SIGHUP);
    let lines = daemon.wait_for(
        "/api/v1/lines",
        "L-001 on acc-002, L-002 on acc-001",
        Duration::from_secs(10),
        |doc| {
            record(doc, "lines", "id", "L-001")["device"] == "acc-002"
                && record(doc, "lines", "id", "L-002")["device"] == "acc-001"
                && state_of(doc, "lines", "id", "L-001") == "down"
                && state_of(doc, "lines", "id", "L-002") == "up"
        },
    );
    // At the reload, not after down_after/up_after rounds of the new device.
    assert!(
        hup.elapsed() < Duration::from_secs_f64(1.0 + TIMEOUT_S),
        "the lines took {:?} to follow their new devices: {lines}",
        hup.elapsed()
    );
    let l1 = record(&lines, "lines", "id", "L-001");
    assert_eq!(l1["cause"], "device:acc-002", "{l1}");
    for l in ["L-001", "L-002"] {
        let since: Timestamp = record(&lines, "lines", "id", l)["since"]
            .as_str()
            .expect("since")
            .parse()
            .expect("since is RFC 3339");
        assert!(
            reloaded_at <= since && since <= Timestamp::now(),
            "{l} changed state at the reload: {lines}"
        );
    }
    // The devices themselves did not change.
    let devices = daemon.get_json("/api/v1/devices");
    assert_eq!(state_since(&devices, "devices", "name", "acc-001"), acc1);
    assert_eq!(state_since(&devices, "devices", "name", "acc-002"), acc2);
    let m = daemon.metrics();
    assert_eq!(
        sample(&m, "netkpi_line_up", &[("line", "L-001")]),
        Some(0.0)
    );
    assert_eq!(
        sample(&m, "netkpi_line_up", &[("line", "L-002")]),
        Some(1.0)
    );
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}
