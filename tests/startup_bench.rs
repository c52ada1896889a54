//! Benchmark (ignored in the test suite; run by `bench/startup.sh`): the
//! real daemon starting on a store that holds years of a large network's
//! history, against the same daemon starting on an empty store, in the same
//! run. A store of `YEARS` years × `TARGETS` targets (half access devices,
//! half their lines), each target down and back 25 times a year (50
//! transitions a year, one incident each time, every fifth acknowledged),
//! written through the store's own commit path as the daemon would; the
//! devices are pinged (loopback addresses in a private namespace). Prints
//! the time until `/healthz` answers, CPU and RSS; asserts only what must
//! hold (the history is there after the start), never a time.
//!
//! `NETKPI_BENCH_YEARS` (default 10) and `NETKPI_BENCH_TARGETS` (default
//! 10,000) scale it. `NETKPI_BENCH_DIR` keeps the written store in that
//! directory and, when it already holds one, starts on it without writing
//! it again (delete the directory after changing the scale).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{listen, Daemon, NetNs};
use jiff::{SignedDuration, Timestamp};
use netkpi::incidents::{Incidents, Terms};
use netkpi::model::{Severity, State, TargetKind, Transition};
use netkpi::store::{Commit, Store, DB_FILE};
use netkpi::tally::{Tallies, Tally};

/// Outages a target has in a year (two transitions each).
const OUTAGES_PER_YEAR: i64 = 25;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn target(n: usize, devices: usize) -> (TargetKind, String) {
    if n < devices {
        (TargetKind::Device, common::scale::device(n))
    } else {
        (TargetKind::Line, common::scale::line(n - devices))
    }
}

/// Writes `years` of history for `targets` targets ending an hour before
/// now; returns the transitions and incidents written.
fn fill(data_dir: &Path, years: usize, targets: usize, devices: usize) -> (u64, u64) {
    let mut store = Store::open(data_dir).unwrap();
    let mut engine = Incidents::resume(Vec::new(), 1, Duration::from_secs(600));
    let terms = Terms {
        severity: Severity::Minor,
        respond_within: Duration::from_secs(1800),
        restore_within: Duration::from_secs(4 * 3600),
        planned: false,
    };
    let year = SignedDuration::from_hours(365 * 24);
    let end = Timestamp::now() - SignedDuration::from_hours(1);
    let start = end - year * years as i32;
    // A target's outages are `period` apart; the targets' phases spread
    // evenly inside it, each outage shorter than the step between phases,
    // so every transition is written in time order.
    let period = year / OUTAGES_PER_YEAR as i32;
    let spacing = period / targets as i32;
    let outage = (spacing * 7 / 10).min(SignedDuration::from_secs(90));
    let mut tallies = Tallies::new();
    let (mut written, mut opened) = (0u64, 0u64);
    let progress = Instant::now();
    for k in 0..years * OUTAGES_PER_YEAR as usize {
        let base = start + period * k as i32;
        let mut transitions = Vec::with_capacity(2 * targets);
        let mut changes = Vec::new();
        for n in 0..targets {
            let (kind, name) = target(n, devices);
            let at = base + spacing * n as i32;
            let down = Transition {
                target: name.clone(),
                kind,
                at,
                state: State::Down,
                cause: Some("icmp:timeout".into()),
            };
            let up = Transition {
                state: State::Up,
                cause: None,
                at: at + outage,
                ..down.clone()
            };
            changes.extend(engine.apply(&down, &terms));
            if (k + n) % 5 == 0 {
                if let Some(id) = engine.open_of(kind, &name).map(|i| i.id) {
                    let ack = at + outage / 2;
                    changes.extend(engine.acknowledge(id, ack, "duty").unwrap());
                }
            }
            changes.extend(engine.apply(&up, &terms));
            for t in [&down, &up] {
                tallies
                    .entry((kind, name.clone()))
                    .and_modify(|tally: &mut Tally| tally.apply(t, &[]))
                    .or_insert_with(|| Tally::start(t));
            }
            transitions.push(down);
            transitions.push(up);
        }
        opened += changes
            .iter()
            .filter(|c| matches!(c, netkpi::incidents::Change::Opened(_)))
            .count() as u64;
        written += transitions.len() as u64;
        let last = k + 1 == years * OUTAGES_PER_YEAR as usize;
        let no_tallies = Tallies::new();
        store
            .commit(&Commit {
                transitions: &transitions,
                incidents: &changes,
                // What the daemon keeps beside the ledger: each target's
                // seconds per state, written with the last batch.
                tallies: if last { &tallies } else { &no_tallies },
                heartbeat: Some(base + period),
                ..Commit::default()
            })
            .unwrap();
        if k % 25 == 24 {
            eprintln!(
                "  {} of {years} years written ({:.0} s)",
                (k + 1) / OUTAGES_PER_YEAR as usize,
                progress.elapsed().as_secs_f64()
            );
        }
    }
    (written, opened)
}

/// Peak RSS (VmHWM) of `pid` so far, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    common::proc_status_kb(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0
}

/// User + system CPU seconds of `pid` so far.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the parenthesised command name come state, ppid, ...: utime
    // and stime are the 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0 // USER_HZ on Linux
}

struct Start {
    healthy_s: f64,
    cpu_s: f64,
    hwm_mb: f64,
    hwm_later_mb: f64,
    /// Devices up by then (pinged since the start).
    up_later: usize,
}

/// Starts the daemon on `dir`'s config and store; measures the start, then
/// the peak RSS `settle` later (its first rounds and refreshes behind it).
fn start(ns: &NetNs, dir: &Path, settle: Duration, check: impl Fn(&Daemon)) -> Start {
    let t = Instant::now();
    let daemon = Daemon::start_within(
        ns,
        &dir.join("netkpi.toml"),
        listen(),
        dir.join("netkpi.log"),
        &[],
        Duration::from_secs(300),
    );
    let healthy_s = t.elapsed().as_secs_f64();
    let pid = daemon.child.id();
    let cpu = cpu_s(pid);
    let hwm_mb = peak_rss_mb(pid);
    check(&daemon);
    std::thread::sleep(settle);
    let hwm_later_mb = peak_rss_mb(pid);
    let up_later = daemon
        .metrics()
        .lines()
        .filter(|l| l.starts_with("netkpi_device_up{"))
        .filter(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()) == Some(1.0))
        .count();
    daemon.stop();
    Start {
        healthy_s,
        cpu_s: cpu,
        hwm_mb,
        hwm_later_mb,
        up_later,
    }
}

#[test]
#[ignore = "a benchmark: run bench/startup.sh"]
fn startup_on_years_of_history() {
    let years = env_or("NETKPI_BENCH_YEARS", 10);
    let targets = env_or("NETKPI_BENCH_TARGETS", 10_000);
    let devices = targets / 2;
    let ns = NetNs::new();
    // On the build's disk, not /tmp (often tmpfs).
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let kept = std::env::var_os("NETKPI_BENCH_DIR").map(std::path::PathBuf::from);
    let full = kept.clone().unwrap_or_else(|| tmp.path().join("full"));
    let empty = tmp.path().join("empty");
    let reuse = full.join("data").join(DB_FILE).exists();
    for dir in [&full, &empty] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("netkpi.toml"),
            common::scale::config("data", devices, targets - devices, true),
        )
        .unwrap();
    }

    let bytes = || {
        std::fs::metadata(full.join("data").join(DB_FILE))
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    };
    let incidents = if reuse {
        let store = Store::open_reader(&full.join("data")).unwrap();
        let incidents = store.next_incident_id().unwrap() - 1;
        println!(
            "kept store in {}: {incidents} incidents, {:.0} MB",
            full.display(),
            bytes()
        );
        incidents
    } else {
        let t = Instant::now();
        let (transitions, incidents) = fill(&full.join("data"), years, targets, devices);
        println!(
            "wrote {years} years × {targets} targets: {transitions} transitions, {incidents} incidents, {:.0} MB store, in {:.0} s",
            bytes(),
            t.elapsed().as_secs_f64()
        );
        incidents
    };

    let settle = Duration::from_secs(20);
    let mut runs = Vec::new();
    for _ in 0..3 {
        // Empty each time: the reference has no history of its own.
        let _ = std::fs::remove_dir_all(empty.join("data"));
        let e = start(&ns, &empty, settle, |_| {});
        let f = start(&ns, &full, settle, |daemon| {
            // The history is there: the incident counters carry on.
            let metrics = daemon.metrics();
            let total: f64 = metrics
                .lines()
                .filter(|l| l.starts_with("netkpi_incidents_total{"))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum();
            assert!(
                total >= incidents as f64,
                "netkpi_incidents_total {total} < {incidents} in the store"
            );
        });
        runs.push((e, f));
    }
    println!();
    println!("| {targets} targets | empty store | {years}-year store | goal |");
    println!("| --- | --- | --- | --- |");
    let row = |name: &str, goal: &str, f: &dyn Fn(&Start) -> f64, unit: &str| {
        let list = |pick: &dyn Fn(&(Start, Start)) -> &Start| {
            runs.iter()
                .map(|r| format!("{:.2}", f(pick(r))))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "| {name} ({unit}, 3 runs) | {} | {} | {goal} |",
            list(&|r| &r.0),
            list(&|r| &r.1)
        );
    };
    row(
        "start to /healthz 200",
        "≤ 5 s",
        &|s: &Start| s.healthy_s,
        "s",
    );
    row("CPU until healthy", "", &|s: &Start| s.cpu_s, "s");
    row(
        "peak RSS when healthy",
        "≤ 200 MB",
        &|s: &Start| s.hwm_mb,
        "MB",
    );
    row("peak RSS 20 s later", "", &|s: &Start| s.hwm_later_mb, "MB");
    row(
        "devices up 20 s later",
        "",
        &|s: &Start| s.up_later as f64,
        "count",
    );
}
