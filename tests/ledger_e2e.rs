//! The availability ledger end to end, as a user runs it: the real binary in
//! a private network namespace, real ICMP on loopback, an outage made with
//! nftables, a crash with SIGKILL and a restart on the same data directory.

mod common;

use std::time::{Duration, Instant};

use common::{
    figures, listen, q, secs, state_of, write_lab_config, Daemon, NetNs, DEVICES, INTERVAL_S,
    TIMEOUT_S,
};
use jiff::Timestamp;

fn all_up(doc: &serde_json::Value) -> bool {
    DEVICES
        .iter()
        .all(|d| state_of(doc, "devices", "name", d) == "up")
}

#[test]
fn outage_is_measured_and_survives_a_crash() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");
    let test_start = Timestamp::now();

    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run1.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        all_up,
    );

    // The outage: acc-001 stops answering for a known span.
    let outage = Duration::from_secs(8);
    let t0 = Instant::now();
    ns.take_down("127.0.20.1");
    std::thread::sleep(outage);
    ns.bring_up("127.0.20.1");
    let dropped_s = t0.elapsed().as_secs_f64();

    let lines = daemon.get_json("/api/v1/lines");
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "down", "{lines}");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 back up",
        Duration::from_secs(10),
        all_up,
    );
    let devices = daemon.get_json("/api/v1/devices");
    let acc = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "acc-001")
        .unwrap();
    // The loopback RTT of the last round: answered, within the timeout.
    assert!(
        acc["rtt_seconds"]
            .as_f64()
            .is_some_and(|rtt| rtt > 0.0 && rtt < TIMEOUT_S),
        "{acc}"
    );
    assert_eq!(acc["loss_ratio"].as_f64(), Some(0.0), "{acc}");

    let period = format!(
        "/api/v1/availability?from={}&to={}",
        q(&test_start.to_string()),
        q(&Timestamp::now().to_string())
    );
    let before = daemon.get_json(&period);
    let acc = figures(&before, "acc-001");
    let down_s = secs(acc, "down_s");
    let tolerance = INTERVAL_S + TIMEOUT_S;
    assert!(
        (down_s - dropped_s).abs() <= tolerance,
        "acc-001 down_s {down_s} should be within {tolerance} s of the {dropped_s} s outage: {acc}"
    );
    assert_eq!(acc["outages"], 1, "{acc}");
    assert!(
        (secs(acc, "longest_outage_s") - down_s).abs() < 1e-6,
        "{acc}"
    );
    let line = figures(&before, "L-001");
    assert!(
        (secs(line, "down_s") - down_s).abs() < 1e-6,
        "the line shows the same outage as its device: {line} vs {acc}"
    );
    for other in ["core-r1", "acc-002", "L-002"] {
        let f = figures(&before, other);
        assert_eq!(secs(f, "down_s"), 0.0, "{other} had no outage: {f}");
        assert_eq!(f["availability"].as_f64(), Some(1.0), "{other}: {f}");
    }
    let availability = acc["availability"].as_f64().unwrap();
    assert!(availability > 0.0 && availability < 1.0, "{acc}");

    // The crash: kill -9, stay away, restart on the same data directory.
    daemon.kill9();
    let crashed_at = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run2.log"));
    let gap_s = crashed_at.elapsed().as_secs_f64();
    daemon.wait_for(
        "/api/v1/devices",
        "every device up after restart",
        Duration::from_secs(15),
        all_up,
    );

    let after = daemon.get_json(&period);
    for target in ["core-r1", "acc-001", "acc-002", "L-001", "L-002"] {
        let (b, a) = (figures(&before, target), figures(&after, target));
        for field in ["down_s", "outages", "longest_outage_s"] {
            assert_eq!(
                b[field], a[field],
                "{target}.{field} changed across the crash: {b} vs {a}"
            );
        }
    }

    // Over the whole test, the crash gap is unknown, never up: at least the
    // time the process was dead minus one heartbeat interval (5 s) is
    // unknown... and the heartbeat bounds how much observed time is lost.
    let whole = format!(
        "/api/v1/availability?from={}&to={}",
        q(&test_start.to_string()),
        q(&Timestamp::now().to_string())
    );
    let whole = daemon.get_json(&whole);
    for target in ["core-r1", "acc-002", "L-002"] {
        let f = figures(&whole, target);
        let unknown = secs(f, "unknown_s");
        assert!(
            unknown >= gap_s - 0.5,
            "{target}: the {gap_s} s the daemon was dead must be unknown, got {unknown}: {f}"
        );
        let coverage = f["coverage"].as_f64().unwrap();
        assert!(coverage < 1.0, "{target}: coverage must show the gap: {f}");
        assert_eq!(f["availability"].as_f64(), Some(1.0), "{target}: {f}");
    }

    // The state counters are rebuilt from the ledger and survive the crash.
    let (status, metrics) = daemon.get("/metrics");
    assert_eq!(status, 200);
    let acc_down = metrics
        .lines()
        .find(|l| {
            l.starts_with("netkpi_state_seconds_total{")
                && l.contains("target=\"acc-001\"")
                && l.contains("state=\"down\"")
        })
        .unwrap_or_else(|| panic!("no down counter for acc-001:\n{metrics}"));
    let counted: f64 = acc_down.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (counted - down_s).abs() < 0.01,
        "counter {counted} vs ledger {down_s}"
    );

    // A clean stop records everything as unknown from then on.
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}
