//! Benchmark (ignored in the test suite; run by `bench/incidents.sh`):
//! 10,000 targets and 100,000 incidents in the store, the real daemon in a
//! private network namespace, and the times an operator waits for:
//! an incident list page, the status page, and an acknowledgement's round
//! trip including its durable write. Prints figures against the goals; it
//! asserts only what must hold (answers are correct), never a time.

mod common;

use std::time::{Duration, Instant};

use common::{listen, Daemon, NetNs};
use jiff::{SignedDuration, Timestamp};
use netkpi::incidents::{Incidents, Terms};
use netkpi::model::{Severity, State, TargetKind, Transition};
use netkpi::store::{Commit, Store};

const DEVICES: usize = 5_000;
const LINES: usize = 5_000;
const INCIDENTS: usize = 100_000;
/// Incidents left open (the last ones), to acknowledge.
const OPEN: usize = 200;

/// 100,000 incidents over the last year, through the engine as the daemon
/// would write them, a few acknowledged and annotated; the last `OPEN`
/// still open.
fn fill(data_dir: &std::path::Path) {
    let mut store = Store::open(data_dir).unwrap();
    let mut engine = Incidents::resume(Vec::new(), 1, Duration::from_secs(600));
    let terms = Terms {
        severity: Severity::Minor,
        respond_within: Duration::from_secs(1800),
        restore_within: Duration::from_secs(4 * 3600),
        planned: false,
    };
    let start = Timestamp::now() - SignedDuration::from_hours(365 * 24);
    let step = SignedDuration::from_secs(365 * 24 * 3600 / INCIDENTS as i64);
    let mut transitions = Vec::new();
    let mut changes = Vec::new();
    for n in 0..INCIDENTS {
        let target = if n % 2 == 0 {
            (TargetKind::Device, common::scale::device((n / 2) % DEVICES))
        } else {
            (TargetKind::Line, common::scale::line((n / 2) % LINES))
        };
        let at = start + step * n as i32;
        let down = Transition {
            target: target.1.clone(),
            kind: target.0,
            at,
            state: State::Down,
            cause: Some("icmp:timeout".into()),
        };
        changes.extend(engine.apply(&down, &terms));
        transitions.push(down);
        if n % 10 == 0 {
            if let Some(id) = engine.open_of(target.0, &target.1).map(|i| i.id) {
                changes.extend(
                    engine
                        .acknowledge(id, at + SignedDuration::from_secs(300), "duty")
                        .unwrap(),
                );
            }
        }
        if n < INCIDENTS - OPEN {
            let up = Transition {
                state: State::Up,
                cause: None,
                at: at + SignedDuration::from_secs(120),
                ..transitions.last().unwrap().clone()
            };
            changes.extend(engine.apply(&up, &terms));
            transitions.push(up);
        }
        if transitions.len() >= 5_000 || n == INCIDENTS - 1 {
            store
                .commit(&Commit {
                    transitions: &transitions,
                    incidents: &changes,
                    ..Commit::default()
                })
                .unwrap();
            transitions.clear();
            changes.clear();
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed_get(ns: &NetNs, path: &str, runs: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (status, body) = ns.http_get(listen(), path).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200, "{path}: {body}");
        bytes = body.len();
    }
    (median(times), bytes)
}

#[test]
#[ignore = "a benchmark: run bench/incidents.sh"]
fn incidents_at_scale() {
    let ns = NetNs::new();
    // On the build's disk, not /tmp (often tmpfs, where an fsync is free):
    // the acknowledgement's time includes a real durable write.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    let t = Instant::now();
    fill(&data);
    println!(
        "filled the store: {INCIDENTS} incidents over {} targets in {:.1} s",
        DEVICES + LINES,
        t.elapsed().as_secs_f64()
    );
    let config = tmp.path().join("netkpi.toml");
    std::fs::write(&config, config_text()).unwrap();
    let t = Instant::now();
    let daemon = Daemon::start(&ns, &config, listen(), tmp.path().join("netkpi.log"));
    println!("daemon healthy after {:.2} s", t.elapsed().as_secs_f64());

    let (list_ms, list_bytes) = timed_get(&ns, "/api/v1/incidents?limit=100", 21);
    let (open_ms, _) = timed_get(&ns, "/api/v1/incidents?state=open&limit=100", 21);
    let (page_ms, page_bytes) = timed_get(&ns, "/", 11);
    let (show_ms, _) = timed_get(&ns, "/api/v1/incidents/50000", 21);

    let open = daemon.get_json(&format!("/api/v1/incidents?state=open&limit={OPEN}"));
    let ids: Vec<u64> = open["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["acknowledged_by"].is_null())
        .filter_map(|i| i["id"].as_u64())
        .take(50)
        .collect();
    assert!(ids.len() >= 20, "open, unacknowledged incidents: {ids:?}");
    let mut acks = Vec::new();
    for id in &ids {
        let body = r#"{"by": "bench"}"#;
        let request = format!(
            "POST /api/v1/incidents/{id}/ack HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let t = Instant::now();
        let r = ns.http_raw(listen(), request.as_bytes()).unwrap();
        acks.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let ack_ms = median(acks);
    println!();
    println!(
        "| with {} targets, {INCIDENTS} incidents | median | goal |",
        DEVICES + LINES
    );
    println!("| --- | --- | --- |");
    println!(
        "| GET /api/v1/incidents?limit=100 ({list_bytes} bytes) | {list_ms:.1} ms | ≤ 50 ms |"
    );
    println!("| GET /api/v1/incidents?state=open&limit=100 | {open_ms:.1} ms | ≤ 50 ms |");
    println!("| GET /api/v1/incidents/ID | {show_ms:.1} ms | |");
    println!("| GET / status page ({page_bytes} bytes) | {page_ms:.1} ms | ≤ 200 ms |");
    println!(
        "| POST .../ack, answered once on disk ({} acks) | {ack_ms:.1} ms | ≤ 20 ms |",
        ids.len()
    );
    drop(daemon);
}

fn config_text() -> String {
    common::scale::config("data", DEVICES, LINES, false)
}
