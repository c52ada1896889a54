//! SNMP end to end (issue 3, "Tests that must exist (real peers)"): the real
//! `netkpi` binary in a private network namespace polling a real net-snmp
//! `snmpd` (v2c and v3 authPriv) and snmpsim serving recordings of real
//! devices, lines that follow a watched interface, and traps and informs
//! sent by net-snmp's `snmptrap`/`snmpinform`.
//!
//! Needs root, `snmpd`, `snmp` (the tools), `nftables` and the snmpsim venv
//! that `.ci/run` creates; fails loudly without them. The tests run one at a
//! time ([`SERIAL`]): each starts agents and a daemon, and their timing
//! assertions (polls on schedule) must not compete for the CPU.

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::snmpd::{self, Snmpd};
use common::snmpsim::{Recording, Snmpsim};
use common::{listen, sample, Daemon, NetNs};
use jiff::Timestamp;
use serde_json::Value;

static SERIAL: Mutex<()> = Mutex::new(());

/// A sample's labels, as [`sample`] takes them.
type Labels<'a> = &'a [(&'a str, &'a str)];

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `[daemon]` table every test uses, then `rest`; written with the
/// given secret files (name, content) beside it. Returns the config path.
fn write_config(dir: &Path, rest: &str, secrets: &[(&str, &str)]) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("secrets")).expect("secrets folder");
    for (name, content) in secrets {
        std::fs::write(dir.join("secrets").join(name), format!("{content}\n")).expect("secret");
    }
    let text = format!(
        "[daemon]\nlisten = \"{}\"\ndata_dir = \"data\"\ntimezone = \"UTC\"\n{rest}",
        common::LISTEN
    );
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn device<'v>(doc: &'v Value, name: &str) -> &'v Value {
    doc["devices"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{name} missing from /devices: {doc}"))
}

fn line<'v>(doc: &'v Value, id: &str) -> &'v Value {
    doc["lines"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["id"] == id))
        .unwrap_or_else(|| panic!("{id} missing from /lines: {doc}"))
}

/// Waits until device `name` is in `state` (and, when given, with `cause`).
fn wait_device(daemon: &Daemon, name: &str, state: &str, cause: Option<&str>, timeout: Duration) {
    daemon.wait_for(
        "/api/v1/devices",
        &format!("{name} {state} ({cause:?})"),
        timeout,
        |doc| {
            let d = device(doc, name);
            d["state"] == state && cause.is_none_or(|c| d["cause"] == c)
        },
    );
}

fn wait_line(daemon: &Daemon, id: &str, state: &str, cause: Option<&str>, timeout: Duration) {
    daemon.wait_for(
        "/api/v1/lines",
        &format!("{id} {state} ({cause:?})"),
        timeout,
        |doc| {
            let l = line(doc, id);
            l["state"] == state && cause.is_none_or(|c| l["cause"] == c)
        },
    );
}

/// `snmp.last_poll_at` of a device in a /devices document.
fn last_poll(doc: &Value, name: &str) -> Option<Timestamp> {
    device(doc, name)["snmp"]["last_poll_at"].as_str().map(|t| {
        t.parse()
            .unwrap_or_else(|e| panic!("last_poll_at {t}: {e}"))
    })
}

/// The value of a sample that must be in the scrape.
fn must(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels)
        .unwrap_or_else(|| panic!("no sample {name} {labels:?} in the scrape:\n{text}"))
}

/// Waits until the scrape has `name{labels}` equal to `value`.
fn wait_sample(daemon: &Daemon, name: &str, labels: &[(&str, &str)], value: f64) {
    daemon.wait_until(
        &format!("{name}{labels:?} = {value}"),
        Duration::from_secs(15),
        || {
            let got = sample(&daemon.metrics(), name, labels);
            if got == Some(value) {
                Ok(())
            } else {
                Err(got)
            }
        },
    );
}

fn assert_running(daemon: &mut Daemon) {
    if let Ok(Some(status)) = daemon.child.try_wait() {
        panic!("netkpi exited with {status}; log:\n{}", daemon.log_text());
    }
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "netkpi panicked; log:\n{log}");
}

/// snmpd answering v2c and v3 authPriv; an SNMP-only device and an ICMP+SNMP
/// device become up with their profile samples on /metrics; a device with a
/// wrong v3 pass phrase shows `auth_failed`, logged once; after snmpd dies
/// the SNMP-only device is down and the one that still pings is degraded,
/// both with cause `snmp:timeout`.
#[test]
fn snmpd_v2c_and_v3_devices_then_the_agent_dies() {
    let _serial = serial();
    let ns = NetNs::new();
    let agent_started = Instant::now();
    let mut agent = Snmpd::start(&ns, &["127.0.1.1", "127.0.1.2", "127.0.1.3"], 11161);
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong_pass = "wrong-auth-pass-7f3a9c";
    let config = write_config(
        dir.path(),
        r#"
[defaults]
icmp = { interval = "1s", timeout = "300ms", count = 3, down_after = 2, up_after = 2, degraded_loss = 0.5 }
snmp = { interval = "2s", timeout = "400ms", retries = 1, port = 11161 }

[[device]]
name = "ups-v2c"
role = "ups"
address = "127.0.1.1"
snmp = { version = "2c", community = "public", profiles = ["system", "if_mib"] }

[[device]]
name = "sw-v3"
role = "core_switch"
address = "127.0.1.2"
icmp = {}
snmp = { version = "3", user = "testv3", auth = "sha", auth_pass_file = "secrets/auth", priv = "aes128", priv_pass_file = "secrets/priv", profiles = ["system", "if_mib"] }

[[device]]
name = "ups-badpass"
role = "ups"
address = "127.0.1.3"
snmp = { version = "3", user = "testv3", auth = "sha", auth_pass_file = "secrets/wrong_auth", priv = "aes128", priv_pass_file = "secrets/priv", profiles = ["system"] }
"#,
        &[
            ("auth", snmpd::AUTH_PASS),
            ("priv", snmpd::PRIV_PASS),
            ("wrong_auth", wrong_pass),
        ],
    );
    let daemon_started = Timestamp::now();
    let mut daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));

    wait_device(&daemon, "ups-v2c", "up", None, Duration::from_secs(15));
    wait_device(&daemon, "sw-v3", "up", None, Duration::from_secs(15));
    // Both agents' samples are in (the state can be up from ICMP alone).
    for name in ["ups-v2c", "sw-v3"] {
        wait_sample(
            &daemon,
            "netkpi_if_oper_up",
            &[("device", name), ("if_name", "lo")],
            1.0,
        );
    }
    let metrics = daemon.metrics();
    for name in ["ups-v2c", "sw-v3"] {
        assert_eq!(
            must(
                &metrics,
                "netkpi_if_oper_up",
                &[("device", name), ("if_index", "1"), ("if_name", "lo")]
            ),
            1.0
        );
        assert_eq!(
            must(
                &metrics,
                "netkpi_snmp_system_info",
                &[("device", name), ("sys_name", snmpd::SYS_NAME)]
            ),
            1.0
        );
        // sysUpTime.0 of the agent this test started: running, and not
        // for longer than since its start.
        let uptime = must(&metrics, "netkpi_snmp_uptime_seconds", &[("device", name)]);
        let age = agent_started.elapsed().as_secs_f64();
        assert!(
            uptime > 0.0 && uptime <= age + 0.01,
            "{name}: sysUpTime {uptime} s, agent started {age} s ago"
        );
    }
    let doc = daemon.get_json("/api/v1/devices");
    assert_eq!(
        device(&doc, "sw-v3")["probers"],
        serde_json::json!(["icmp", "snmp"]),
        "{doc}"
    );
    assert_eq!(
        device(&doc, "ups-v2c")["probers"],
        serde_json::json!(["snmp"]),
        "{doc}"
    );
    for name in ["ups-v2c", "sw-v3"] {
        let snmp = &device(&doc, name)["snmp"];
        let polled = last_poll(&doc, name).unwrap_or_else(|| panic!("{name}: {doc}"));
        assert!(
            daemon_started <= polled && polled <= Timestamp::now(),
            "{name}: last_poll_at {polled} is not during this run: {doc}"
        );
        assert!(snmp["last_failure"].is_null(), "{name}: {doc}");
        // The agent's namespace has one interface, lo: the system profile's
        // 2 samples (netkpi_snmp_system_info, netkpi_snmp_uptime_seconds)
        // and the 9 if_mib metrics of one row.
        assert_eq!(snmp["samples"].as_u64(), Some(11), "{name}: {doc}");
    }

    // The wrong pass phrase: down (it is polled over SNMP only) because of
    // auth_failed, counted on every poll, logged once.
    wait_device(
        &daemon,
        "ups-badpass",
        "down",
        Some("snmp:auth_failed"),
        Duration::from_secs(20),
    );
    let errors = |m: &str| {
        sample(
            m,
            "netkpi_poll_errors_total",
            &[("prober", "snmp"), ("reason", "auth_failed")],
        )
        .unwrap_or(0.0)
    };
    let seen = errors(&daemon.metrics());
    assert!(seen >= 3.0, "auth_failed counted {seen} times");
    daemon.wait_until(
        "two more auth_failed polls",
        Duration::from_secs(10),
        || {
            let now = errors(&daemon.metrics());
            if now >= seen + 2.0 {
                Ok(())
            } else {
                Err(now)
            }
        },
    );
    let log = daemon.log_text();
    // Once as the device's state, once as the incident it opens; never
    // again for every failed poll.
    let logged = |target: &str| -> Vec<&str> {
        log.lines()
            .filter(|l| l.contains("ups-badpass") && l.contains("auth_failed"))
            .filter(|l| l.contains(&format!("\"target\":\"{target}\"")))
            .collect()
    };
    for target in ["netkpi::ledger", "netkpi::incidents"] {
        assert_eq!(
            logged(target).len(),
            1,
            "auth_failed of ups-badpass must be logged once by {target}, got:\n{log}"
        );
    }
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("ups-badpass") && l.contains("auth_failed"))
            .count(),
        2,
        "{log}"
    );
    // Pass phrases never show (the wrong one included).
    let scrape = daemon.metrics();
    let api = daemon.get_json("/api/v1/devices").to_string();
    for secret in [snmpd::AUTH_PASS, snmpd::PRIV_PASS, wrong_pass] {
        for (what, text) in [("log", &log), ("/metrics", &scrape), ("/devices", &api)] {
            assert!(!text.contains(secret), "a pass phrase shows in the {what}");
        }
    }
    assert_running(&mut daemon);

    // The agent dies; the boxes stay.
    agent.kill();
    wait_device(
        &daemon,
        "ups-v2c",
        "down",
        Some("snmp:timeout"),
        Duration::from_secs(20),
    );
    wait_device(
        &daemon,
        "sw-v3",
        "degraded",
        Some("snmp:timeout"),
        Duration::from_secs(20),
    );
    let doc = daemon.get_json("/api/v1/devices");
    assert_eq!(
        device(&doc, "sw-v3")["last_failure"],
        Value::Null,
        "sw-v3 still pings: {doc}"
    );
    assert_eq!(device(&doc, "ups-v2c")["snmp"]["last_failure"], "timeout");
    // A value that could not be read is absent, not repeated.
    let metrics = daemon.metrics();
    assert_eq!(
        sample(&metrics, "netkpi_if_oper_up", &[("device", "ups-v2c")]),
        None,
        "samples of a failed poll must not stay:\n{metrics}"
    );
    assert!(errors(&metrics) > 0.0);
    assert!(
        sample(
            &metrics,
            "netkpi_poll_errors_total",
            &[("prober", "snmp"), ("reason", "timeout")]
        )
        .unwrap_or(0.0)
            > 0.0
    );
    assert_running(&mut daemon);
}

/// Endpoints of the four simulated devices and the slow one.
const HUAWEI: &str = "127.0.2.1";
const CISCO: &str = "127.0.2.2";
const PALOALTO: &str = "127.0.2.3";
const EATON: &str = "127.0.2.4";
const SLOW: &str = "127.0.2.9";
const SIM_PORT: u16 = 1161;
/// Poll interval of the simulated devices, in seconds.
const SIM_INTERVAL_S: i64 = 3;
/// How long the slow device takes to answer the request that reads sysUpTime
/// (one per poll): most of an interval, so a poller that made the others
/// wait for it would shift their polls by seconds.
const SLOW_WAIT_MS: u64 = 1800;

/// snmpsim serving a Huawei switch, a Cisco switch, a Palo Alto firewall and
/// an Eaton UPS (UPS-MIB): profile metrics equal the recorded values. Then
/// the firewall goes silent (nftables) and is down, while the other three
/// and a slow device (its own snmpsim, every poll 1.8 s late) keep being
/// polled on schedule.
#[test]
fn snmpsim_recordings_outage_and_a_slow_device() {
    let _serial = serial();
    let ns = NetNs::new();
    let endpoints: Vec<String> = [HUAWEI, CISCO, PALOALTO, EATON]
        .iter()
        .map(|a| format!("{a}:{SIM_PORT}"))
        .collect();
    let endpoint_refs: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    let _sim = Snmpsim::start(
        &ns,
        &endpoint_refs,
        &[
            Recording::new("huawei-s12704", "huawei-s12704"),
            Recording::new("cisco-c3560", "cisco-c3560"),
            Recording::new("paloalto-pa-5000", "paloalto-pa-5000"),
            Recording::new("eaton-93e-80", "eaton-93e-80"),
        ],
    );
    // The slow device: the Eaton recording whose sysUpTime.0 answers after
    // 1.8 s (snmpsim `delay`), served by a process of its own because
    // snmpsim stalls while it waits.
    let slow_endpoint = format!("{SLOW}:{SIM_PORT}");
    let _slow_sim = Snmpsim::start(
        &ns,
        &[&slow_endpoint],
        &[Recording::new("slow-ups", "eaton-93e-80").with(
            "1.3.6.1.2.1.1.3.0",
            &format!("1.3.6.1.2.1.1.3.0|67:delay|value=67423732,wait={SLOW_WAIT_MS}"),
        )],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[defaults]
snmp = {{ interval = "{SIM_INTERVAL_S}s", timeout = "1s", retries = 1, port = {SIM_PORT} }}

[[device]]
name = "sw-huawei"
role = "core_switch"
address = "{HUAWEI}"
snmp = {{ community = "huawei-s12704", profiles = ["system", "if_mib", "huawei"] }}

[[device]]
name = "sw-cisco"
role = "aggregation_switch"
address = "{CISCO}"
snmp = {{ community = "cisco-c3560", profiles = ["system", "if_mib"] }}

[[device]]
name = "fw-paloalto"
role = "firewall"
address = "{PALOALTO}"
snmp = {{ community = "paloalto-pa-5000", profiles = ["system", "entity_sensor"] }}

[[device]]
name = "ups-eaton"
role = "ups"
address = "{EATON}"
snmp = {{ community = "eaton-93e-80", profiles = ["system", "ups_mib"] }}

[[device]]
name = "ups-slow"
role = "ups"
address = "{SLOW}"
snmp = {{ community = "slow-ups", timeout = "2500ms", retries = 0, profiles = ["system", "ups_mib"] }}
"#
        ),
        &[],
    );
    let mut daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    let all = [
        "sw-huawei",
        "sw-cisco",
        "fw-paloalto",
        "ups-eaton",
        "ups-slow",
    ];
    for name in all {
        wait_device(&daemon, name, "up", None, Duration::from_secs(20));
    }

    // Values as recorded (tests/fixtures/snmprec/*.snmprec).
    let m = daemon.metrics();
    let cases: &[(&str, Labels, f64)] = &[
        // huawei-s12704: ifOperStatus.1 = up(1) (InLoopBack0), .10 = down(2) (40GE1/0/4)
        (
            "netkpi_if_oper_up",
            &[
                ("device", "sw-huawei"),
                ("if_index", "1"),
                ("if_name", "InLoopBack0"),
            ],
            1.0,
        ),
        (
            "netkpi_if_oper_up",
            &[
                ("device", "sw-huawei"),
                ("if_index", "10"),
                ("if_name", "40GE1/0/4"),
            ],
            0.0,
        ),
        // hwEntityTemperature of "MPU Board 5" = 34, hwEntityCpuUsage = 41 %
        (
            "netkpi_temperature_celsius",
            &[
                ("device", "sw-huawei"),
                ("ent_physical_name", "MPU Board 5"),
            ],
            34.0,
        ),
        (
            "netkpi_entity_cpu_usage_ratio",
            &[
                ("device", "sw-huawei"),
                ("ent_physical_name", "MPU Board 5"),
            ],
            0.41,
        ),
        // cisco-c3560: ifOperStatus.10149 (Gi0/49) = up(1), ifOperStatus.10101 (Gi0/1) = down(2)
        (
            "netkpi_if_oper_up",
            &[
                ("device", "sw-cisco"),
                ("if_index", "10149"),
                ("if_name", "Gi0/49"),
            ],
            1.0,
        ),
        (
            "netkpi_if_oper_up",
            &[
                ("device", "sw-cisco"),
                ("if_index", "10101"),
                ("if_name", "Gi0/1"),
            ],
            0.0,
        ),
        // paloalto-pa-5000: entPhySensorValue.13 = 34 celsius ("Temperature @ Jaguar [U172]")
        (
            "netkpi_temperature_celsius",
            &[("device", "fw-paloalto"), ("ent_physical_index", "13")],
            34.0,
        ),
        // eaton-93e-80: upsEstimatedMinutesRemaining = 1092 (65,520 s), upsBatteryStatus =
        // batteryNormal(2), upsOutputSource = normal(3), output power line 1 = 5100 W
        (
            "netkpi_ups_battery_runtime_seconds",
            &[("device", "ups-eaton")],
            65_520.0,
        ),
        ("netkpi_ups_battery_status", &[("device", "ups-eaton")], 2.0),
        ("netkpi_ups_on_battery", &[("device", "ups-eaton")], 0.0),
        ("netkpi_ups_output_source", &[("device", "ups-eaton")], 3.0),
        (
            "netkpi_ups_output_power_watts",
            &[("device", "ups-eaton"), ("ups_output_line", "1")],
            5100.0,
        ),
        // sysName.0 of the Huawei recording
        (
            "netkpi_snmp_system_info",
            &[("device", "sw-huawei"), ("sys_name", "DUMSYS-78")],
            1.0,
        ),
        // The slow device answers too: sysUpTime.0 = 67423732 ticks
        (
            "netkpi_snmp_uptime_seconds",
            &[("device", "ups-slow")],
            674237.32,
        ),
        (
            "netkpi_ups_battery_runtime_seconds",
            &[("device", "ups-slow")],
            65_520.0,
        ),
    ];
    for (name, labels, want) in cases {
        let got = must(&m, name, labels);
        assert!(
            (got - want).abs() < 1e-9,
            "{name}{labels:?} = {got}, the recording says {want}"
        );
    }

    // The firewall goes silent: SNMP to its address is dropped on input.
    ns.take_down(PALOALTO);
    let dropped_at = Instant::now();
    let healthy = ["sw-huawei", "sw-cisco", "ups-eaton", "ups-slow"];
    let mut polls: Vec<Vec<Timestamp>> = vec![Vec::new(); healthy.len()];
    let mut down = false;
    // Watch until the firewall is down, and at least 4 intervals.
    while !down || dropped_at.elapsed() < Duration::from_secs(4 * SIM_INTERVAL_S as u64) {
        assert!(
            dropped_at.elapsed() < Duration::from_secs(25),
            "fw-paloalto not down 25 s after it went silent; log:\n{}",
            daemon.log_text()
        );
        let doc = daemon.get_json("/api/v1/devices");
        for (i, name) in healthy.iter().enumerate() {
            if let Some(at) = last_poll(&doc, name) {
                if polls[i].last() != Some(&at) {
                    polls[i].push(at);
                }
            }
            assert_eq!(device(&doc, name)["state"], "up", "{name}: {doc}");
        }
        let fw = device(&doc, "fw-paloalto");
        if fw["state"] == "down" {
            assert_eq!(fw["cause"], "snmp:timeout", "{doc}");
            down = true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let watched = dropped_at.elapsed().as_secs_f64();
    for (i, name) in healthy.iter().enumerate() {
        let at = &polls[i];
        // One poll per interval, give or take one at either end.
        let expected = (watched / SIM_INTERVAL_S as f64).floor() as usize;
        assert!(
            at.len() + 1 >= expected,
            "{name}: {} polls in {watched:.1} s with a {SIM_INTERVAL_S} s interval: {at:?}",
            at.len()
        );
        // Polls start on a fixed schedule: nothing another device does
        // (silent, slow) shifts them.
        for pair in at.windows(2) {
            let gap = pair[1].duration_since(pair[0]).as_secs_f64();
            assert!(
                (gap - SIM_INTERVAL_S as f64).abs() <= 0.5,
                "{name}: {gap:.2} s between two polls (interval {SIM_INTERVAL_S} s): {at:?}"
            );
        }
    }
    let doc = daemon.get_json("/api/v1/devices");
    assert_eq!(
        device(&doc, "fw-paloalto")["snmp"]["last_failure"],
        "timeout"
    );
    assert!(
        device(&doc, "ups-slow")["snmp"]["last_failure"].is_null(),
        "{doc}"
    );
    // The slow device really is slow: its polls take at least the delay,
    // while the others' stay short.
    let m = daemon.metrics();
    let took = |name: &str| {
        must(
            &m,
            "netkpi_poll_last_duration_seconds",
            &[("device", name), ("prober", "snmp")],
        )
    };
    let slow = took("ups-slow");
    assert!(
        slow >= SLOW_WAIT_MS as f64 / 1000.0,
        "ups-slow's poll took {slow} s"
    );
    for name in ["sw-huawei", "sw-cisco", "ups-eaton"] {
        let t = took(name);
        assert!(
            t < slow,
            "{name}'s poll took {t} s, the slow one's {slow} s"
        );
    }
    assert_running(&mut daemon);
}

/// A line watched on a core switch's port (snmpsim, ifOperStatus writable):
/// the port goes down → the line is down with cause `interface:...` while its
/// far-end device still pings; the port comes back → the line is up.
#[test]
fn a_line_follows_its_watched_interface() {
    let _serial = serial();
    let ns = NetNs::new();
    let core = "127.0.3.1";
    let endpoint = format!("{core}:{SIM_PORT}");
    // Gi0/49 of the Cisco recording (ifIndex 10149), up(1) as recorded.
    let oper_status = "1.3.6.1.2.1.2.2.1.8.10149";
    let sim = Snmpsim::start(
        &ns,
        &[&endpoint],
        &[Recording::new("core-sw", "cisco-c3560").writable_integer(oper_status, 1)],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[defaults]
icmp = {{ interval = "1s", timeout = "300ms", count = 3, down_after = 2, up_after = 2, degraded_loss = 0.5 }}
snmp = {{ interval = "2s", timeout = "500ms", retries = 1, port = {SIM_PORT} }}

[[device]]
name = "core-sw"
role = "core_switch"
address = "{core}"
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

[[line]]
id = "L-2"
unit = "Tax Office"
device = "acc-1"
"#
        ),
        &[],
    );
    let mut daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    wait_line(&daemon, "L-1", "up", None, Duration::from_secs(15));
    wait_sample(
        &daemon,
        "netkpi_if_oper_up",
        &[("device", "core-sw"), ("if_name", "Gi0/49")],
        1.0,
    );

    sim.set_integer(&endpoint, "core-sw", oper_status, 2);
    let flipped = Instant::now();
    wait_line(
        &daemon,
        "L-1",
        "down",
        Some("interface:core-sw/Gi0/49"),
        Duration::from_secs(10),
    );
    assert!(flipped.elapsed() < Duration::from_secs(6));
    let doc = daemon.get_json("/api/v1/devices");
    for name in ["acc-1", "core-sw"] {
        assert_eq!(
            device(&doc, name)["state"],
            "up",
            "{name} still answers: {doc}"
        );
    }
    let lines = daemon.get_json("/api/v1/lines");
    assert_eq!(
        line(&lines, "L-2")["state"],
        "up",
        "L-2 watches no port: {lines}"
    );
    let metrics = daemon.metrics();
    assert_eq!(
        must(
            &metrics,
            "netkpi_if_oper_up",
            &[("device", "core-sw"), ("if_name", "Gi0/49")]
        ),
        0.0
    );
    assert_eq!(must(&metrics, "netkpi_line_up", &[("line", "L-1")]), 0.0);

    sim.set_integer(&endpoint, "core-sw", oper_status, 1);
    wait_line(&daemon, "L-1", "up", None, Duration::from_secs(10));
    let metrics = daemon.metrics();
    assert_eq!(must(&metrics, "netkpi_line_up", &[("line", "L-1")]), 1.0);
    assert_running(&mut daemon);
}

/// The trap receiver's port inside the namespace.
const TRAP_PORT: u16 = 11162;
const TRAP_ENGINE_ID: &str = "0x80001f88807e4f2a11";
const TRAP_USER: &str = "traps-v3";

/// Runs a net-snmp notification tool inside the namespace; panics unless it
/// exits 0.
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

/// Traps and informs from net-snmp's tools, v1, v2c and v3: each accepted one
/// is counted, listed with the device it came from, and a linkDown makes
/// that device poll at once (interval 60 s); a wrong community is rejected
/// and counted.
#[test]
fn traps_and_informs_from_net_snmp() {
    let _serial = serial();
    let ns = NetNs::new();
    let switch = "127.0.4.1";
    let _agent = Snmpd::start(&ns, &[switch], 11161);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[defaults]
snmp = {{ interval = "60s", timeout = "1s", retries = 1, port = 11161 }}

[traps]
listen = "127.0.0.1:{TRAP_PORT}"
communities = ["trapcomm"]

[[traps.v3_user]]
user = "{TRAP_USER}"
engine_id = "{TRAP_ENGINE_ID}"
auth = "sha"
auth_pass_file = "secrets/auth"
priv = "aes128"
priv_pass_file = "secrets/priv"

[[device]]
name = "sw-traps"
role = "core_switch"
address = "{switch}"
snmp = {{ profiles = ["system", "if_mib"] }}
"#
        ),
        &[("auth", snmpd::AUTH_PASS), ("priv", snmpd::PRIV_PASS)],
    );
    let mut daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    let receiver = format!("127.0.0.1:{TRAP_PORT}");
    let from_switch = format!("--clientaddr={switch}");
    let link_down = "1.3.6.1.6.3.1.1.5.3";
    let link_up = "1.3.6.1.6.3.1.1.5.4";
    let cold_start = "1.3.6.1.6.3.1.1.5.1";
    // ifIndex.1, ifAdminStatus.1, ifOperStatus.1 as a linkDown carries them.
    let link_varbinds = [
        "1.3.6.1.2.1.2.2.1.1.1",
        "i",
        "1",
        "1.3.6.1.2.1.2.2.1.7.1",
        "i",
        "1",
        "1.3.6.1.2.1.2.2.1.8.1",
        "i",
        "2",
    ];

    // Triggers a poll: the device's last_poll_at passes the send time within
    // ~2 s, long before its 60 s interval.
    let triggers_poll = |what: &str, send_it: &dyn Fn()| {
        let sent = Timestamp::now();
        send_it();
        let started = Instant::now();
        daemon.wait_until(
            &format!("a poll of sw-traps after the {what}"),
            Duration::from_secs(4),
            || {
                let doc = daemon.get_json("/api/v1/devices");
                match last_poll(&doc, "sw-traps") {
                    Some(at) if at > sent => Ok(()),
                    other => Err(other),
                }
            },
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the {what} took {:?} to trigger a poll",
            started.elapsed()
        );
    };

    // v1 linkDown (generic-trap 2) from the switch.
    triggers_poll("v1 linkDown", &|| {
        let mut args = vec![
            "-v",
            "1",
            "-c",
            "trapcomm",
            from_switch.as_str(),
            receiver.as_str(),
            "1.3.6.1.4.1.8072.3.2.10",
            switch,
            "2",
            "0",
            "",
        ];
        args.extend(link_varbinds);
        send(&ns, "snmptrap", &args);
    });
    // Past the minimum gap between two triggered polls.
    std::thread::sleep(Duration::from_millis(1200));
    // v2c linkDown.
    triggers_poll("v2c linkDown", &|| {
        let mut args = vec![
            "-v",
            "2c",
            "-c",
            "trapcomm",
            from_switch.as_str(),
            receiver.as_str(),
            "",
            link_down,
        ];
        args.extend(link_varbinds);
        send(&ns, "snmptrap", &args);
    });
    // v2c inform linkUp: snmpinform exits 0 only when acknowledged.
    let mut args = vec![
        "-v",
        "2c",
        "-c",
        "trapcomm",
        "-t",
        "2",
        "-r",
        "1",
        from_switch.as_str(),
        receiver.as_str(),
        "",
        link_up,
    ];
    args.extend(link_varbinds);
    send(&ns, "snmpinform", &args);
    // v3 authPriv coldStart from the configured user and engine ID.
    send(
        &ns,
        "snmptrap",
        &[
            "-v",
            "3",
            "-e",
            TRAP_ENGINE_ID,
            "-u",
            TRAP_USER,
            "-l",
            "authPriv",
            "-a",
            "SHA",
            "-A",
            snmpd::AUTH_PASS,
            "-x",
            "AES",
            "-X",
            snmpd::PRIV_PASS,
            from_switch.as_str(),
            receiver.as_str(),
            "",
            cold_start,
        ],
    );
    // A wrong community: rejected, counted, not listed.
    send(
        &ns,
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "not-the-community",
            from_switch.as_str(),
            receiver.as_str(),
            "",
            link_down,
        ],
    );
    // A v2c trap from an address that is no device: listed without one.
    send(
        &ns,
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "trapcomm",
            receiver.as_str(),
            "",
            cold_start,
        ],
    );

    let expected: &[(&str, &str, f64)] = &[
        ("v1", "link_down", 1.0),
        ("v2c", "link_down", 1.0),
        ("v2c", "link_up", 1.0),
        ("v3", "cold_start", 1.0),
        ("v2c", "cold_start", 1.0),
    ];
    daemon.wait_until("every trap counted", Duration::from_secs(5), || {
        let m = daemon.metrics();
        let missing: Vec<_> = expected
            .iter()
            .filter(|(version, kind, n)| {
                sample(
                    &m,
                    "netkpi_traps_received_total",
                    &[("version", version), ("kind", kind)],
                ) != Some(*n)
            })
            .collect();
        let rejected = sample(
            &m,
            "netkpi_traps_rejected_total",
            &[("reason", "bad_community")],
        );
        if missing.is_empty() && rejected == Some(1.0) {
            Ok(())
        } else {
            Err((missing, rejected))
        }
    });
    let m = daemon.metrics();
    assert_eq!(
        must(&m, "netkpi_trap_informs_acknowledged_total", &[]),
        1.0,
        "{m}"
    );

    let doc = daemon.get_json("/api/v1/traps");
    let traps = doc["traps"].as_array().expect("traps array");
    assert_eq!(traps.len(), 5, "five accepted notifications: {doc}");
    let find = |version: &str, kind: &str| {
        traps
            .iter()
            .find(|t| t["version"] == version && t["kind"] == kind)
            .unwrap_or_else(|| panic!("no {version} {kind} in {doc}"))
    };
    for (version, kind) in [
        ("v1", "link_down"),
        ("v2c", "link_down"),
        ("v2c", "link_up"),
        ("v3", "cold_start"),
    ] {
        let t = find(version, kind);
        assert_eq!(t["device"], "sw-traps", "{t}");
        assert!(
            t["source"].as_str().is_some_and(|s| s.starts_with(switch)),
            "{t}"
        );
    }
    assert_eq!(find("v2c", "link_up")["inform"], true);
    assert_eq!(find("v2c", "link_down")["trap_oid"], link_down);
    let stray = find("v2c", "cold_start");
    assert!(stray["device"].is_null(), "{stray}");
    // The community is a secret: never listed.
    assert!(!doc.to_string().contains("trapcomm"), "{doc}");
    assert_running(&mut daemon);
}
