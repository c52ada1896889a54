//! The availability ledger end to end, as a user runs it: the real binary in
//! a private network namespace, real ICMP on loopback, an outage made with
//! nftables, a crash with SIGKILL and a restart on the same data directory.

mod common;

use std::time::{Duration, Instant};

use common::ledger::{ledger_rows, seconds_between};
use common::{
    all_up, figures, lab_config, listen, q, secs, state_of, Daemon, NetNs, INTERVAL_S, TIMEOUT_S,
};
use jiff::Timestamp;

#[test]
fn outage_is_measured_and_survives_a_crash() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    // Unequal confirmation counts: a change stamped at its confirming round
    // instead of its first would be 2 s late going down and 3 s late coming
    // back, and the two errors could not cancel out.
    let text = lab_config("data").replace(
        "down_after = 2, up_after = 2",
        "down_after = 3, up_after = 4",
    );
    assert!(text.contains("down_after = 3, up_after = 4"));
    let config = dir.path().join("netkpi.toml");
    std::fs::write(&config, text).expect("write config");
    let data = dir.path().join("data");
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
    let before_drop = Timestamp::now();
    ns.take_down("127.0.20.1");
    let after_drop = Timestamp::now();
    std::thread::sleep(outage);
    let before_up = Timestamp::now();
    ns.bring_up("127.0.20.1");
    let after_up = Timestamp::now();
    let dropped_s = t0.elapsed().as_secs_f64();

    let lines = daemon.get_json("/api/v1/lines");
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "down", "{lines}");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 back up",
        Duration::from_secs(10),
        all_up,
    );

    // Each end of the outage is stamped at the first round that showed it:
    // going down, the first round with no answer (it starts at the drop at
    // the earliest); coming back, the first round with an answer (its last
    // echo, 0.47 s after its start, may be the one answered, plus the
    // 0.3 s timeout).
    let rows = ledger_rows(&data, "acc-001");
    let down = rows
        .iter()
        .find(|r| r.state == "down" && r.at >= test_start)
        .unwrap_or_else(|| panic!("no outage recorded: {rows:?}"));
    let up = rows
        .iter()
        .find(|r| r.state == "up" && r.at > down.at)
        .unwrap_or_else(|| panic!("no recovery recorded: {rows:?}"));
    let round = INTERVAL_S + TIMEOUT_S;
    let late_down = seconds_between(after_drop, down.at);
    assert!(
        seconds_between(before_drop, down.at) >= -0.1 && late_down <= round,
        "down stamped {late_down} s after the drop: {rows:?}"
    );
    assert_eq!(down.cause.as_deref(), Some("icmp:timeout"), "{rows:?}");
    let late_up = seconds_between(after_up, up.at);
    assert!(
        seconds_between(before_up, up.at) >= -0.8 && late_up <= round,
        "up stamped {late_up} s after the drop ended: {rows:?}"
    );
    // Logged once when it went down and once when it came back.
    let log = daemon.log_text();
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("device acc-001 is down"), 1, "{log}");
    assert_eq!(count("line L-001 is down"), 1, "{log}");
    assert_eq!(
        count("device acc-001 is up"),
        2,
        "first answer, then recovery:\n{log}"
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
    let tolerance = 0.8 + INTERVAL_S + TIMEOUT_S;
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

    // Over the whole test, the crash gap is unknown, never up, and no more
    // than it: it starts where the ledger last vouched for each target (the
    // settled point, written at least every 5 s, is the start of its latest
    // round) and ends at the first round after the restart.
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
        // Before the first run: nothing (monitoring started at its first
        // round, within a second of the start); the gap: at most one 5 s
        // heartbeat and one round before the crash; after the restart, the
        // first round.
        let most = gap_s + 5.0 + 3.0 * (INTERVAL_S + TIMEOUT_S) + 1.0;
        assert!(
            unknown <= most,
            "{target}: {unknown} s unknown for a {gap_s} s crash gap erases observed time: {f}"
        );
        let coverage = f["coverage"].as_f64().unwrap();
        assert!(coverage < 1.0, "{target}: coverage must show the gap: {f}");
        assert_eq!(f["availability"].as_f64(), Some(1.0), "{target}: {f}");
        // The causes, as an auditor reads them.
        let rows = ledger_rows(&data, target);
        let causes: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.state.as_str(), r.cause.as_deref()))
            .collect();
        assert_eq!(
            causes.first(),
            Some(&("unknown", Some("monitoring_started"))),
            "{target}: {causes:?}"
        );
        let gap = rows
            .iter()
            .find(|r| r.cause.as_deref() == Some("daemon_not_running"))
            .unwrap_or_else(|| panic!("{target}: no crash gap recorded: {causes:?}"));
        assert_eq!(gap.state, "unknown", "{target}: {causes:?}");
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
    let stopping = Timestamp::now();
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
    let stopped = Timestamp::now();
    for target in ["core-r1", "acc-001", "acc-002", "L-001", "L-002"] {
        let rows = ledger_rows(&data, target);
        let last = rows.last().unwrap();
        assert_eq!(
            (last.state.as_str(), last.cause.as_deref()),
            ("unknown", Some("daemon_stopped")),
            "{target}: {rows:?}"
        );
        assert!(
            // The ledger keeps whole milliseconds.
            last.at >= stopping - jiff::SignedDuration::from_millis(1) && last.at <= stopped,
            "{target}: {rows:?}"
        );
    }
}
