//! The HTTP surface end to end (README "HTTP API", "Metrics reference"):
//! the real binary in a private network namespace, real ICMP on loopback,
//! outages and partial loss made with nftables, and the scrape
//! checked by the real `promtool`.

mod common;

use std::time::Duration;

use common::{
    figures, listen, q, sample, secs, state_of, write_lab_config, Daemon, NetNs, DEVICES,
    INTERVAL_S, LINES, TIMEOUT_S,
};
use jiff::Timestamp;
use serde_json::Value;

/// Asia/Shanghai has no DST: every time the API prints carries this offset.
const OFFSET: &str = "+08:00";

fn devices_in(doc: &Value, state: &str, names: &[&str]) -> bool {
    names
        .iter()
        .all(|d| state_of(doc, "devices", "name", d) == state)
}

fn wait_all_up(daemon: &Daemon) {
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| devices_in(doc, "up", &DEVICES),
    );
}

/// Pipes a scrape into `promtool check metrics`; fails with its findings.
fn promtool_check(body: &str) {
    let findings = common::full_lab::promtool_findings(body);
    assert!(
        findings.is_empty(),
        "promtool check metrics found:\n{}\n--- scrape:\n{body}",
        findings.join("\n")
    );
}

/// The value of a sample that must be there.
fn must(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels)
        .unwrap_or_else(|| panic!("no sample {name} {labels:?} in the scrape:\n{text}"))
}

fn record<'v>(doc: &'v Value, list: &str, key: &str, name: &str) -> &'v Value {
    doc[list]
        .as_array()
        .and_then(|a| a.iter().find(|d| d[key] == name))
        .unwrap_or_else(|| panic!("{name} missing from {list}: {doc}"))
}

/// An RFC 3339 time printed in the configured zone; returns it parsed.
fn api_time(v: &Value, field: &str) -> Timestamp {
    let text = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {v}"));
    assert!(
        text.ends_with(OFFSET),
        "{field} {text:?} must carry the offset of daemon.timezone ({OFFSET}): {v}"
    );
    text.parse()
        .unwrap_or_else(|e| panic!("{field} {text:?} is not RFC 3339: {e}"))
}

#[test]
fn metrics_scrape_is_promtool_clean_and_has_every_family() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");

    let before_start = std::time::Instant::now();
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    let healthy = std::time::Instant::now();
    wait_all_up(&daemon);
    let m = daemon.metrics();
    assert_eq!(must(&m, "netkpi_units_connected_ratio", &[]), 1.0, "{m}");

    // One far-end device down: one of the two units is cut off.
    ns.take_down("127.0.20.2");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-002 down",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", "acc-002") == "down",
    );
    let lines = daemon.get_json("/api/v1/lines");
    let l2 = record(&lines, "lines", "id", "L-002");
    assert_eq!(l2["state"], "down", "{l2}");
    assert_eq!(l2["cause"], "device:acc-002", "{l2}");
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "up", "{lines}");
    let m = daemon.metrics();
    assert_eq!(must(&m, "netkpi_units_connected_ratio", &[]), 0.5, "{m}");
    assert_eq!(
        must(&m, "netkpi_device_up", &[("device", "acc-002")]),
        0.0,
        "{m}"
    );
    assert_eq!(must(&m, "netkpi_line_up", &[("line", "L-002")]), 0.0, "{m}");
    assert_eq!(must(&m, "netkpi_line_up", &[("line", "L-001")]), 1.0, "{m}");
    assert_eq!(
        must(&m, "netkpi_icmp_loss_ratio", &[("device", "acc-002")]),
        1.0,
        "{m}"
    );
    assert_eq!(
        sample(&m, "netkpi_icmp_rtt_seconds", &[("device", "acc-002")]),
        None,
        "no RTT for a round where nothing answered:\n{m}"
    );

    ns.bring_up("127.0.20.2");
    wait_all_up(&daemon);

    // The plain scrape: Prometheus text 0.0.4, clean for promtool.
    let plain = daemon.request("/metrics", &[]);
    assert_eq!(plain.status, 200, "{}", plain.body);
    let content_type = plain.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "a plain scrape must get the 0.0.4 text format, got content-type {content_type:?}"
    );
    promtool_check(&plain.body);
    let m = plain.body;
    let (run_max, run_min) = (
        before_start.elapsed().as_secs_f64(),
        healthy.elapsed().as_secs_f64(),
    );

    // Every published family that applies to an ICMP-only daemon.
    assert_eq!(must(&m, "netkpi_units_connected_ratio", &[]), 1.0, "{m}");
    for (device, role, site) in [
        ("core-r1", "router", "core-room"),
        ("acc-001", "access_egress", "finance-bureau"),
        ("acc-002", "access_egress", "tax-office"),
    ] {
        let labels = [("device", device), ("role", role), ("site", site)];
        assert_eq!(must(&m, "netkpi_device_up", &labels), 1.0, "{device}");
        let rtt = must(&m, "netkpi_icmp_rtt_seconds", &[("device", device)]);
        assert!(rtt > 0.0 && rtt < TIMEOUT_S, "{device}: loopback RTT {rtt}");
        assert_eq!(
            must(&m, "netkpi_icmp_loss_ratio", &[("device", device)]),
            0.0,
            "{device}"
        );
    }
    for (line, unit, carrier) in [
        ("L-001", "Finance Bureau", "Carrier A"),
        ("L-002", "Tax Office", "Carrier B"),
    ] {
        let labels = [("line", line), ("unit", unit), ("carrier", carrier)];
        assert_eq!(must(&m, "netkpi_line_up", &labels), 1.0, "{line}");
    }
    // Which target sits behind which, whatever its state, for alert rules
    // and dashboards to join on.
    for (device, parent, site, role) in [
        ("core-r1", "", "core-room", "router"),
        ("acc-001", "core-r1", "finance-bureau", "access_egress"),
        ("acc-002", "core-r1", "tax-office", "access_egress"),
    ] {
        let labels = [
            ("device", device),
            ("parent", parent),
            ("site", site),
            ("role", role),
        ];
        assert_eq!(must(&m, "netkpi_device_info", &labels), 1.0, "{device}");
    }
    for (line, device, unit, carrier, bandwidth) in [
        ("L-001", "acc-001", "Finance Bureau", "Carrier A", "100M"),
        ("L-002", "acc-002", "Tax Office", "Carrier B", "50M"),
    ] {
        let labels = [
            ("line", line),
            ("device", device),
            ("unit", unit),
            ("carrier", carrier),
            ("bandwidth", bandwidth),
        ];
        assert_eq!(must(&m, "netkpi_line_info", &labels), 1.0, "{line}");
    }
    let targets = DEVICES
        .iter()
        .map(|d| (*d, "device"))
        .chain(LINES.iter().map(|l| (*l, "line")));
    for (target, kind) in targets {
        let up = must(
            &m,
            "netkpi_state_seconds_total",
            &[("target", target), ("kind", kind), ("state", "up")],
        );
        assert!(up > 1.0, "{target} has been up for a while: {up}");
        let seconds_in = |state: &str| {
            must(
                &m,
                "netkpi_state_seconds_total",
                &[("target", target), ("kind", kind), ("state", state)],
            )
        };
        let (degraded, down, unknown, maintenance) = (
            seconds_in("degraded"),
            seconds_in("down"),
            seconds_in("unknown"),
            seconds_in("maintenance"),
        );
        assert_eq!(degraded, 0.0, "{target}: no loss in this test");
        assert_eq!(maintenance, 0.0, "{target}: no window configured");
        if target == "acc-002" || target == "L-002" {
            assert!(down > 0.0, "{target} was down for a while: {down}");
        } else {
            assert_eq!(down, 0.0, "{target} was never down");
        }
        // Unknown only from the start to the first answered round.
        assert!(
            (0.0..INTERVAL_S + TIMEOUT_S).contains(&unknown),
            "{target}: {unknown} s unknown"
        );
        // The states cover the daemon's life so far, no more: the counters
        // count what the ledger holds durably, which trails now by at most
        // one 5 s settling interval and one round.
        let total = up + degraded + down + unknown + maintenance;
        let settling = 5.0 + INTERVAL_S + TIMEOUT_S;
        assert!(
            run_min - settling <= total && total <= run_max,
            "{target}: {total} s in all states, the daemon has run {run_min}..{run_max} s"
        );
        // Recomputed within seconds of each change: the outage of acc-002
        // (and so of L-002) shows, everything else was up all along.
        for window in ["1d", "30d", "ytd"] {
            let ratio = must(
                &m,
                "netkpi_availability_ratio",
                &[("target", target), ("kind", kind), ("window", window)],
            );
            if target == "acc-002" || target == "L-002" {
                assert!(ratio > 0.0 && ratio < 1.0, "{target} {window}: {ratio}");
            } else {
                assert_eq!(ratio, 1.0, "{target} {window}");
            }
        }
    }
    let down = must(
        &m,
        "netkpi_state_seconds_total",
        &[("target", "acc-002"), ("kind", "device"), ("state", "down")],
    );
    assert!(down > 0.0, "acc-002 was down for a while: {down}");
    assert_eq!(
        must(&m, "netkpi_devices_monitored", &[("role", "router")]),
        1.0
    );
    assert_eq!(
        must(&m, "netkpi_devices_monitored", &[("role", "access_egress")]),
        2.0
    );
    assert_eq!(
        must(&m, "netkpi_devices_monitored", &[("role", "firewall")]),
        0.0
    );
    assert_eq!(must(&m, "netkpi_devices_planned", &[("role", "core")]), 2.0);
    assert_eq!(
        must(&m, "netkpi_devices_planned", &[("role", "access_egress")]),
        3.0
    );
    assert_eq!(must(&m, "netkpi_lines_configured", &[]), 2.0);
    assert_eq!(must(&m, "netkpi_lines_planned", &[]), 4.0);
    let rounds = must(
        &m,
        "netkpi_poll_duration_seconds_count",
        &[("prober", "icmp")],
    );
    assert!(rounds >= 9.0, "three devices polled every second: {rounds}");
    assert_eq!(
        must(
            &m,
            "netkpi_poll_duration_seconds_bucket",
            &[("prober", "icmp"), ("le", "+Inf")]
        ),
        rounds
    );
    let timeouts = must(
        &m,
        "netkpi_poll_errors_total",
        &[("prober", "icmp"), ("reason", "timeout")],
    );
    assert!(
        timeouts >= 2.0,
        "down_after = 2 failed rounds at least: {timeouts}"
    );
    let sent = must(&m, "netkpi_icmp_echoes_sent_total", &[]);
    let received = must(&m, "netkpi_icmp_replies_received_total", &[]);
    assert!(
        received > 0.0 && received < sent,
        "echoes to acc-002 went unanswered: sent {sent}, received {received}"
    );
    assert_eq!(must(&m, "netkpi_store_healthy", &[]), 1.0);
    assert_eq!(must(&m, "netkpi_store_write_errors_total", &[]), 0.0);
    assert!(must(&m, "netkpi_store_transitions_written_total", &[]) > 0.0);
    assert_eq!(
        must(
            &m,
            "netkpi_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // The chain head read at start, for Prometheus to keep; the API reads
    // the store, which has only grown since.
    let at_start = must(&m, "netkpi_ledger_records", &[]);
    assert!(at_start >= 5.0, "the start's transitions are chained: {m}");
    let info = m
        .lines()
        .find(|l| l.starts_with("netkpi_ledger_head_info{head=\""))
        .unwrap_or_else(|| panic!("no netkpi_ledger_head_info:\n{m}"));
    let short = &info["netkpi_ledger_head_info{head=\"".len()..][..16];
    assert!(short.bytes().all(|b| b.is_ascii_hexdigit()), "{info}");
    let head = daemon.get_json("/api/v1/ledger/head");
    let records = head["records"].as_f64().expect("records");
    assert!(records > at_start, "acc-002 went down and up since: {head}");
    let hex = head["head"].as_str().expect("head");
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{head}"
    );
    api_time(&head, "at");
    let log = daemon.log_text();
    let logged = log
        .lines()
        .find(|l| l.contains("\"message\":\"ledger head\""))
        .unwrap_or_else(|| panic!("no `ledger head` line in the log:\n{log}"));
    assert!(
        logged.contains(&format!("\"records\":{at_start}"))
            && logged.contains(&format!("\"head\":\"{short}")),
        "the head at start is logged whole: {logged}"
    );
    for (name, kind) in [
        ("netkpi_device_up", "gauge"),
        ("netkpi_ledger_records", "gauge"),
        ("netkpi_availability_ratio", "gauge"),
        ("netkpi_poll_duration_seconds", "histogram"),
        ("netkpi_device_info", "gauge"),
        ("netkpi_line_info", "gauge"),
    ] {
        assert!(
            m.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} must be typed {kind}:\n{m}"
        );
    }

    // OpenMetrics only when the scraper asks for it.
    let om = daemon.request(
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    );
    assert_eq!(om.status, 200, "{}", om.body);
    let content_type = om.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "content-type {content_type:?}"
    );
    assert!(
        om.body.ends_with("# EOF\n"),
        "OpenMetrics ends with # EOF:\n{}",
        om.body
    );
    assert!(
        sample(&om.body, "netkpi_device_up", &[("device", "acc-002")]) == Some(1.0),
        "{}",
        om.body
    );
    assert!(
        om.body.contains("# TYPE netkpi_device info\n")
            && sample(&om.body, "netkpi_device_info", &[("device", "acc-002")]) == Some(1.0),
        "in OpenMetrics the inventory families are typed info:\n{}",
        om.body
    );
    assert!(
        !m.contains("# EOF"),
        "the 0.0.4 text has no # EOF marker:\n{m}"
    );

    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}

/// Adds an nftables table that drops two of every three echo requests to
/// `addr`: a deterministic 2/3 loss, so every round answers but degraded.
fn make_lossy(ns: &NetNs, addr: &str) {
    ns.nft(&format!(
        r#"
table inet lossy {{
  chain in {{
    type filter hook input priority -10; policy accept;
    ip daddr {addr} icmp type echo-request numgen inc mod 3 != 0 drop
  }}
}}
"#
    ));
}

/// Times in the API have millisecond resolution.
const MS: f64 = 0.0011;

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64()
}

/// One target's figures (README "What the figures mean") agree with each
/// other and with the period `from`..`to`: every span is non-negative, the
/// five states add up to the period, availability and coverage are the
/// ratios they are defined as, the longest outage is part of the down time.
fn check_figures(t: &Value, from: Timestamp, to: Timestamp) {
    let (up, degraded, down, unknown, maintenance) = (
        secs(t, "up_s"),
        secs(t, "degraded_s"),
        secs(t, "down_s"),
        secs(t, "unknown_s"),
        secs(t, "maintenance_s"),
    );
    for v in [up, degraded, down, unknown, maintenance] {
        assert!(v >= 0.0, "negative span: {t}");
    }
    let period = seconds(from, to);
    let sum = up + degraded + down + unknown + maintenance;
    assert!(
        (sum - period).abs() <= 2.0 * MS,
        "the states add up to {sum} s, the period is {period} s: {t}"
    );
    let observed = up + degraded + down;
    match t["availability"].as_f64() {
        Some(a) => assert!(
            observed > 0.0 && (a - (up + degraded) / observed).abs() < 1e-6,
            "availability {a} is not (up + degraded) / (up + degraded + down): {t}"
        ),
        None => assert!(
            t["availability"].is_null() && observed == 0.0,
            "availability null only without observed time: {t}"
        ),
    }
    match t["coverage"].as_f64() {
        Some(c) => assert!(
            (c - observed / (period - maintenance)).abs() < 1e-4,
            "coverage {c} is not observed / (period - maintenance): {t}"
        ),
        None => assert!(t["coverage"].is_null(), "coverage: {t}"),
    }
    let outages = t["outages"]
        .as_u64()
        .unwrap_or_else(|| panic!("outages is not a count: {t}"));
    let longest = secs(t, "longest_outage_s");
    assert!(
        longest <= down + MS && (outages > 0 || longest == 0.0),
        "longest_outage_s {longest} with {outages} outages and down_s {down}: {t}"
    );
}

fn error_of(daemon: &Daemon, path: &str, expect_status: u16) -> String {
    let r = daemon.request(path, &[]);
    assert_eq!(r.status, expect_status, "GET {path}: {}", r.body);
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "GET {path}: an error is JSON, got content-type {content_type:?}"
    );
    let doc: Value = serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", r.body));
    let message = doc["error"]
        .as_str()
        .unwrap_or_else(|| panic!("GET {path}: no \"error\" string: {doc}"));
    assert!(!message.is_empty(), "GET {path}: empty error");
    message.to_string()
}

/// Log lines are stamped as the API's times are (README "Command line"):
/// RFC 3339 in daemon.timezone with its offset, to the millisecond.
fn log_lines_carry_the_offset(log: &str) {
    let stamps: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["timestamp"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!stamps.is_empty(), "no JSON log line:\n{log}");
    for stamp in &stamps {
        assert!(
            stamp.ends_with(OFFSET) && stamp.parse::<Timestamp>().is_ok(),
            "log timestamp {stamp:?} is not RFC 3339 with the offset of daemon.timezone ({OFFSET}):\n{log}"
        );
        let (_, fraction) = stamp
            .trim_end_matches(OFFSET)
            .rsplit_once('.')
            .unwrap_or_default();
        assert_eq!(fraction.len(), 3, "{stamp:?}: milliseconds");
    }
}

#[test]
fn api_shapes_errors_and_a_degraded_device() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");
    let started = Timestamp::now();
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    wait_all_up(&daemon);
    log_lines_carry_the_offset(&daemon.log_text());
    // When acc-002 and its line became up (the first answered round).
    let up = daemon.get_json("/api/v1/devices");
    let acc_up_at = api_time(record(&up, "devices", "name", "acc-002"), "since");
    let up_lines = daemon.get_json("/api/v1/lines");
    let line_up_at = api_time(record(&up_lines, "lines", "id", "L-002"), "since");

    make_lossy(&ns, "127.0.20.2");
    let degraded = daemon.wait_for(
        "/api/v1/devices",
        "acc-002 degraded",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", "acc-002") == "degraded",
    );
    let acc_degraded_at = api_time(record(&degraded, "devices", "name", "acc-002"), "since");
    // Some degraded time to measure.
    std::thread::sleep(Duration::from_secs(2));
    let now = Timestamp::now();

    let devices = daemon.get_json("/api/v1/devices");
    let list = devices["devices"].as_array().expect("devices array");
    assert_eq!(list.len(), DEVICES.len(), "{devices}");
    for d in list {
        for field in ["name", "role", "site", "address", "state"] {
            assert!(
                d[field].as_str().is_some_and(|v| !v.is_empty()),
                "device field {field} must be a non-empty string: {d}"
            );
        }
        for field in ["parent", "cause"] {
            assert!(
                d[field].is_null() || d[field].as_str().is_some_and(|v| !v.is_empty()),
                "device field {field} must be a name or null: {d}"
            );
        }
        let loss = d["loss_ratio"]
            .as_f64()
            .unwrap_or_else(|| panic!("loss_ratio is not a number: {d}"));
        assert!((0.0..=1.0).contains(&loss), "{d}");
        // Every device answered its last round (acc-002 one echo of three).
        assert_eq!(d["last_failure"], Value::Null, "{d}");
        // ICMP only: no SNMP figures.
        assert_eq!(d["snmp"], Value::Null, "{d}");
        let name = d["name"].as_str().unwrap_or_default();
        assert!(DEVICES.contains(&name), "unknown device {name}: {d}");
        let want_state = if name == "acc-002" { "degraded" } else { "up" };
        assert_eq!(d["state"], want_state, "{d}");
        let since = api_time(d, "since");
        assert!(started <= since && since <= now, "since {since}: {d}");
        let probed = api_time(d, "last_probe_at");
        assert!(since <= probed && probed <= now, "last_probe_at: {d}");
        assert_eq!(d["probers"], serde_json::json!(["icmp"]), "{d}");
        assert!(d["rtt_seconds"].as_f64().is_some_and(|r| r > 0.0), "{d}");
    }
    let core = record(&devices, "devices", "name", "core-r1");
    assert_eq!(core["role"], "router", "{core}");
    assert_eq!(core["site"], "core-room", "{core}");
    assert_eq!(core["address"], "127.0.10.1", "{core}");
    assert_eq!(core["parent"], Value::Null, "{core}");
    assert_eq!(core["state"], "up", "{core}");
    assert_eq!(core["loss_ratio"].as_f64(), Some(0.0), "{core}");
    assert_eq!(core["last_failure"], Value::Null, "{core}");
    let acc = record(&devices, "devices", "name", "acc-002");
    assert_eq!(acc["parent"], "core-r1", "{acc}");
    assert_eq!(acc["role"], "access_egress", "{acc}");
    let loss = acc["loss_ratio"].as_f64().expect("loss_ratio");
    assert!(
        (loss - 2.0 / 3.0).abs() < 1e-9,
        "two of three echoes dropped: {acc}"
    );

    let lines = daemon.get_json("/api/v1/lines");
    let list = lines["lines"].as_array().expect("lines array");
    assert_eq!(list.len(), LINES.len(), "{lines}");
    for l in list {
        let since = api_time(l, "since");
        assert!(started <= since && since <= now, "since {since}: {l}");
        assert!(
            l["cause"].is_null() || l["cause"].as_str().is_some_and(|c| !c.is_empty()),
            "cause must be a string or null: {l}"
        );
    }
    let l1 = record(&lines, "lines", "id", "L-001");
    for (field, want) in [
        ("unit", "Finance Bureau"),
        ("carrier", "Carrier A"),
        ("bandwidth", "100M"),
        ("device", "acc-001"),
        ("state", "up"),
    ] {
        assert_eq!(l1[field], want, "{l1}");
    }
    let l2 = record(&lines, "lines", "id", "L-002");
    assert_eq!(l2["state"], "degraded", "{l2}");
    // README: a line's degraded transition records the cause device:<name>.
    assert_eq!(l2["cause"], "device:acc-002", "{l2}");
    assert_eq!(api_time(l2, "since"), acc_degraded_at, "{l2}");
    assert_eq!(l2["unit"], "Tax Office", "{l2}");
    assert_eq!(l2["carrier"], "Carrier B", "{l2}");
    assert_eq!(l2["bandwidth"], "50M", "{l2}");
    assert_eq!(l2["device"], "acc-002", "{l2}");
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "up", "{lines}");

    // Degraded still serves its unit.
    let m = daemon.metrics();
    assert_eq!(
        must(&m, "netkpi_device_up", &[("device", "acc-002")]),
        1.0,
        "{m}"
    );
    assert_eq!(must(&m, "netkpi_units_connected_ratio", &[]), 1.0, "{m}");
    let lossm = must(&m, "netkpi_icmp_loss_ratio", &[("device", "acc-002")]);
    assert!((lossm - 2.0 / 3.0).abs() < 1e-9, "{m}");

    // The default period: from the start of the year in the configured zone.
    let whole = daemon.get_json("/api/v1/availability");
    let from = whole["from"].as_str().expect("from");
    let year = now.to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap());
    assert_eq!(
        from,
        format!("{}-01-01T00:00:00.000{OFFSET}", year.year()),
        "{whole}"
    );
    let whole_to = api_time(&whole, "to");
    let whole_from: Timestamp = from.parse().expect("from is RFC 3339");
    let targets = whole["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), DEVICES.len() + LINES.len(), "{whole}");
    for t in targets {
        let name = t["target"].as_str().expect("target name");
        let kind = if DEVICES.contains(&name) {
            "device"
        } else {
            assert!(LINES.contains(&name), "unknown target {name}: {t}");
            "line"
        };
        assert_eq!(t["kind"], kind, "{t}");
        check_figures(t, whole_from, whole_to);
        assert_eq!(t["outages"], 0, "{t}");
        let degraded_s = secs(t, "degraded_s");
        if name == "acc-002" || name == "L-002" {
            assert!(degraded_s > 0.0, "{name} has been degraded: {t}");
        } else {
            assert_eq!(degraded_s, 0.0, "{t}");
        }
    }

    // The degraded device over a period of this test, second by second:
    // unknown until its first answer, up until the loss began, degraded
    // since; its line the same.
    let to = Timestamp::now();
    let period = daemon.get_json(&format!(
        "/api/v1/availability?from={}&to={}",
        q(&started.to_string()),
        q(&to.to_string())
    ));
    let (from, to) = (api_time(&period, "from"), api_time(&period, "to"));
    for (target, up_at) in [("acc-002", acc_up_at), ("L-002", line_up_at)] {
        let f = figures(&period, target);
        check_figures(f, from, to);
        let near = |field: &str, want: f64| {
            let got = secs(f, field);
            assert!(
                (got - want).abs() <= MS,
                "{target}: {field} = {got}, want {want}: {f}"
            );
        };
        near("unknown_s", seconds(from, up_at));
        near("up_s", seconds(up_at, acc_degraded_at));
        near("degraded_s", seconds(acc_degraded_at, to));
        near("down_s", 0.0);
        near("maintenance_s", 0.0);
        assert!(secs(f, "degraded_s") >= 2.0, "{target}: {f}");
        assert_eq!(f["availability"].as_f64(), Some(1.0), "{target}: {f}");
    }

    // Bad requests name what is wrong.
    let e = error_of(&daemon, "/api/v1/availability?from=garbage", 400);
    assert!(e.contains("from"), "{e}");
    assert!(e.contains("garbage"), "{e}");
    let e = error_of(&daemon, "/api/v1/availability?to=2026-13-01T00:00:00Z", 400);
    assert!(e.contains("to="), "{e}");
    let e = error_of(
        &daemon,
        "/api/v1/availability?from=2026-02-01T00:00:00%2B08:00&to=2026-01-01T00:00:00%2B08:00",
        400,
    );
    assert!(e.contains("to") && e.contains("from"), "{e}");
    let e = error_of(&daemon, "/api/v1/availability?window=1d", 400);
    assert!(e.contains("window"), "{e}");
    let e = error_of(&daemon, "/api/v1/nope", 404);
    assert!(e.contains("/api/v1/devices"), "{e}");
    error_of(&daemon, "/nope", 404);

    // The loss ends: degraded → up takes up_after rounds.
    ns.nft("delete table inet lossy\n");
    wait_all_up(&daemon);

    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}
