//! The disk fails during a run (README "When the disk fails"): the real
//! binary in a private network namespace, its SQLite ledger made to refuse
//! writes by a second connection holding the write lock, an outage made with
//! nftables meanwhile. Also a `data_dir` that cannot be a directory.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    figures, listen, q, sample, secs, state_of, write_lab_config, Daemon, NetNs, DEVICES,
    ECHO_COUNT, INTERVAL_S, TIMEOUT_S,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

fn device<'v>(doc: &'v Value, name: &str) -> &'v Value {
    doc["devices"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{name} missing from devices: {doc}"))
}

fn must(text: &str, name: &str) -> f64 {
    sample(text, name, &[]).unwrap_or_else(|| panic!("no sample {name} in the scrape:\n{text}"))
}

/// Seconds from `a` to `b`.
fn between(a: Timestamp, b: Timestamp) -> f64 {
    b.duration_since(a).as_secs_f64()
}

#[test]
fn transitions_wait_for_the_store_and_keep_their_time() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");
    let test_start = Timestamp::now();
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| {
            DEVICES
                .iter()
                .all(|d| state_of(doc, "devices", "name", d) == "up")
        },
    );
    let written_before = must(&daemon.metrics(), "netkpi_store_transitions_written_total");

    // The disk "fails": another connection takes SQLite's write lock (as an
    // operator's sqlite3 shell or a stuck backup would) and keeps it.
    let db = dir.path().join("data").join("netkpi.sqlite");
    let lock = rusqlite::Connection::open(&db).expect("open the ledger from the test");
    lock.busy_timeout(Duration::from_secs(10))
        .expect("busy_timeout");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");

    let before_drop = Timestamp::now();
    ns.take_down("127.0.20.1");
    let after_drop = Timestamp::now();

    // The writer's attempt waits out its busy_timeout (5 s), then fails.
    let unhealthy = daemon.wait_until("/healthz 503", Duration::from_secs(20), || {
        let r = daemon.request("/healthz", &[]);
        if r.status == 503 {
            Ok(r)
        } else {
            Err((r.status, r.body))
        }
    });
    let doc: Value = serde_json::from_str(&unhealthy.body)
        .unwrap_or_else(|e| panic!("/healthz 503 is not JSON ({e}): {}", unhealthy.body));
    let reason = doc["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("store"),
        "/healthz must name the store: {doc}"
    );
    let failed_after = between(after_drop, Timestamp::now());

    // Probing goes on: the daemon sees the outage...
    let m = daemon.metrics();
    assert_eq!(must(&m, "netkpi_store_healthy"), 0.0, "{m}");
    assert!(must(&m, "netkpi_store_write_errors_total") >= 1.0, "{m}");
    assert!(
        must(&m, "netkpi_store_pending_transitions") >= 2.0,
        "acc-001 and L-001 down wait in the buffer:\n{m}"
    );
    let sent = must(&m, "netkpi_icmp_echoes_sent_total");
    std::thread::sleep(Duration::from_secs(2));
    let m = daemon.metrics();
    let sent_later = must(&m, "netkpi_icmp_echoes_sent_total");
    // At least one full round of every device in those two seconds.
    let round = (DEVICES.len() as u32 * ECHO_COUNT) as f64;
    assert!(
        sent_later >= sent + round,
        "{} devices × {ECHO_COUNT} echoes a second keep going out: {sent} then {sent_later}",
        DEVICES.len()
    );
    let devices = daemon.get_json("/api/v1/devices");
    let acc = device(&devices, "acc-001");
    assert_eq!(acc["last_failure"], "timeout", "the probe saw it: {acc}");
    assert_eq!(acc["loss_ratio"].as_f64(), Some(1.0), "{acc}");

    // ...but announces nothing that is not on disk.
    assert_eq!(
        acc["state"], "up",
        "a transition must not show before it is durable: {acc}"
    );
    let lines = daemon.get_json("/api/v1/lines");
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "up", "{lines}");
    assert_eq!(
        sample(&m, "netkpi_device_up", &[("device", "acc-001")]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "netkpi_line_up", &[("line", "L-001")]),
        Some(1.0),
        "{m}"
    );
    // Readers are not blocked by the held write lock (WAL).
    let during = daemon.get_json(&format!(
        "/api/v1/availability?from={}",
        q(&test_start.to_string())
    ));
    assert_eq!(secs(figures(&during, "acc-001"), "down_s"), 0.0, "{during}");

    // Nor logs it: "is down" is written once the change is on disk.
    let is_down = |log: &str| {
        log.lines()
            .filter(|l| l.contains("device acc-001 is down"))
            .count()
    };
    assert_eq!(
        is_down(&daemon.log_text()),
        0,
        "a change must not be logged before it is durable:\n{}",
        daemon.log_text()
    );

    // The disk comes back.
    lock.execute_batch("ROLLBACK")
        .expect("release the write lock");
    drop(lock);
    let released = Instant::now();
    daemon.wait_until(
        "/healthz 200 again",
        Duration::from_secs(10),
        || match daemon.get("/healthz") {
            (200, body) => Ok(body),
            other => Err(other),
        },
    );
    assert!(
        released.elapsed() <= Duration::from_secs(8),
        "the writer retries every 2 s (plus a busy wait); recovery took {:?}",
        released.elapsed()
    );
    let committed_at = Timestamp::now();
    daemon.wait_until(
        "the outage logged",
        Duration::from_secs(5),
        || match is_down(&daemon.log_text()) {
            1 => Ok(()),
            n => Err(n),
        },
    );

    let devices = daemon.get_json("/api/v1/devices");
    let acc = device(&devices, "acc-001");
    assert_eq!(acc["state"], "down", "{acc}");
    let since: Timestamp = acc["since"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("since is not an RFC 3339 time: {acc}"));
    // Stamped at the first failed round, not at the commit (seconds later).
    let slack = SignedDuration::from_millis(100);
    let latest = SignedDuration::from_secs_f64(INTERVAL_S + TIMEOUT_S);
    assert!(
        since >= before_drop - slack && since <= after_drop + latest,
        "acc-001 went down at its first failed round, between {before_drop} and {}, \
         not at the commit ({committed_at}); since = {since}",
        after_drop + latest
    );
    let lines = daemon.get_json("/api/v1/lines");
    assert_eq!(state_of(&lines, "lines", "id", "L-001"), "down", "{lines}");

    let now = Timestamp::now();
    let period = format!(
        "/api/v1/availability?from={}&to={}",
        q(&test_start.to_string()),
        q(&now.to_string())
    );
    let after = daemon.get_json(&period);
    let acc = figures(&after, "acc-001");
    let down_s = secs(acc, "down_s");
    let dropped_for = between(after_drop, now);
    let tolerance = INTERVAL_S + TIMEOUT_S;
    assert!(
        down_s <= between(before_drop, now) + 0.1 && down_s >= dropped_for - tolerance,
        "acc-001 down_s {down_s} must count from the drop ({dropped_for} s ago, within \
         {tolerance} s), not from the commit ({} s ago): {acc}",
        between(committed_at, now)
    );
    assert!(
        failed_after > tolerance + 2.0,
        "the test must hold the lock long past the first failed round ({failed_after} s)"
    );
    assert_eq!(acc["outages"], 1, "{acc}");
    let line = figures(&after, "L-001");
    assert!(
        (secs(line, "down_s") - down_s).abs() < 1e-6,
        "the line shows the same outage: {line} vs {acc}"
    );
    assert_eq!(secs(figures(&after, "core-r1"), "down_s"), 0.0, "{after}");

    let m = daemon.metrics();
    assert_eq!(must(&m, "netkpi_store_healthy"), 1.0, "{m}");
    assert_eq!(must(&m, "netkpi_store_pending_transitions"), 0.0, "{m}");
    assert_eq!(must(&m, "netkpi_store_lost_spans_total"), 0.0, "{m}");
    assert!(
        must(&m, "netkpi_store_transitions_written_total") >= written_before + 2.0,
        "{m}"
    );
    assert_eq!(
        sample(&m, "netkpi_device_up", &[("device", "acc-001")]),
        Some(0.0),
        "{m}"
    );

    // Logged once per episode, however many attempts failed.
    let log = daemon.log_text();
    let failures = log.matches("store write failed;").count();
    assert_eq!(failures, 1, "one error line per failure episode:\n{log}");
    assert!(log.contains("store writes recovered"), "{log}");

    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}

#[test]
fn a_data_dir_that_is_a_file_stops_the_start_with_a_remedy() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "I am a file\n").expect("write the file");
    let file = file.to_str().expect("utf-8 path");
    let config = write_lab_config(dir.path(), file);
    let log = dir.path().join("run.log");

    let started = Instant::now();
    let mut child = ns.spawn(
        &common::netkpi_bin(),
        &["run", "--config", config.to_str().unwrap()],
        &log,
    );
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for netkpi") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "netkpi kept running with data_dir a regular file; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&log).expect("read stderr");
    assert!(!status.success(), "must fail, exited {status}:\n{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "must fail at once, took {:?}",
        started.elapsed()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(file),
        "stderr must name the path:\n{stderr}"
    );
    assert!(stderr.contains("data_dir"), "names the setting:\n{stderr}");
    assert!(stderr.contains("is not a directory"), "says why:\n{stderr}");
    assert!(
        stderr.contains("set daemon.data_dir") || stderr.contains("create it as a directory"),
        "says what to fix:\n{stderr}"
    );
    // The last line is the one an operator reads (`netkpi: ...`): the OS's
    // reason once, not repeated by the error chain.
    let summary = stderr
        .lines()
        .rfind(|l| l.starts_with("netkpi: "))
        .unwrap_or_else(|| panic!("no `netkpi: ...` line on stderr:\n{stderr}"));
    assert_eq!(
        summary.matches("os error").count(),
        1,
        "the reason once: {summary}"
    );
    assert!(
        !Path::new(file).is_dir() && std::fs::read_to_string(file).unwrap() == "I am a file\n",
        "the file is left alone"
    );
}
