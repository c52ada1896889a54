//! Benchmark (ignored in the test suite; run by `bench/report.sh`): the time
//! and peak memory of the release `netkpi report --year` (JSON, CSV,
//! Markdown, XLSX, HTML) over a year
//! written through the store's own commit path, at a city's scale and at a
//! larger one. Prints figures; asserts only what must hold (the report
//! counts every outage and incident written), never a time.

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use common::netkpi_bin;
use jiff::Timestamp;
use netkpi::incidents::{Change, Incident};
use netkpi::model::{Severity, State, TargetKind, Transition};
use netkpi::store::{Commit, Store};
use serde_json::Value;

/// 2025-01-01T00:00:00+08:00.
const YEAR_START_MS: i64 = 1_735_660_800_000;
const YEAR_MS: i64 = 365 * 86_400_000;

/// `devices` access devices (each with one line) and 10 core devices;
/// every target down `outages` times in the year, 10 minutes each, each
/// outage an incident acknowledged after 5 minutes.
fn write_year(dir: &std::path::Path, devices: usize, outages: usize) -> (usize, usize) {
    let mut config = String::from(
        "[daemon]\ndata_dir = \"data\"\ntimezone = \"Asia/Shanghai\"\n\n[planned]\nleased_lines = 0\n\n",
    );
    let mut targets: Vec<(String, TargetKind)> = Vec::new();
    for i in 0..10 {
        config += &format!(
            "[[device]]\nname = \"core-{i:02}\"\nrole = \"router\"\naddress = \"127.0.1.{}\"\nsite = \"core-room\"\nicmp = {{}}\n\n",
            i + 1
        );
        targets.push((format!("core-{i:02}"), TargetKind::Device));
    }
    for i in 0..devices {
        config += &format!(
            "[[device]]\nname = \"acc-{i:05}\"\nrole = \"access_egress\"\naddress = \"127.1.{}.{}\"\nsite = \"unit-{i}\"\nicmp = {{}}\n\n[[line]]\nid = \"L-{i:05}\"\nunit = \"Unit {i}\"\ncarrier = \"Carrier A\"\ndevice = \"acc-{i:05}\"\n\n",
            i / 250,
            i % 250 + 1
        );
        targets.push((format!("acc-{i:05}"), TargetKind::Device));
        targets.push((format!("L-{i:05}"), TargetKind::Line));
    }
    std::fs::write(dir.join("netkpi.toml"), config).unwrap();

    let mut store = Store::open(&dir.join("data")).unwrap();
    let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap();
    let first: Vec<Transition> = targets
        .iter()
        .map(|(t, k)| Transition {
            target: t.clone(),
            kind: *k,
            at: at(YEAR_START_MS - 86_400_000),
            state: State::Up,
            cause: None,
        })
        .collect();
    store.append(&first, None).unwrap();
    let step = YEAR_MS / outages as i64;
    let mut id = 0u64;
    for o in 0..outages {
        // One commit per outage round: every target down, then up.
        let mut transitions = Vec::new();
        let mut changes = Vec::new();
        for (n, (t, k)) in targets.iter().enumerate() {
            let down = YEAR_START_MS + o as i64 * step + (n as i64 % 1000) * 1000;
            let up = down + 600_000;
            transitions.push(Transition {
                target: t.clone(),
                kind: *k,
                at: at(down),
                state: State::Down,
                cause: Some("icmp:timeout".into()),
            });
            transitions.push(Transition {
                target: t.clone(),
                kind: *k,
                at: at(up),
                state: State::Up,
                cause: None,
            });
            id += 1;
            changes.push(Change::Opened(Incident {
                id,
                kind: *k,
                target: t.clone(),
                alarm: None,
                severity: Severity::Major,
                cause: Some("icmp:timeout".into()),
                opened_at: at(down),
                acknowledged_at: None,
                acknowledged_by: None,
                restored_at: None,
                root_id: None,
                flaps: 0,
                planned: false,
                respond_within: std::time::Duration::from_secs(1800),
                restore_within: std::time::Duration::from_secs(4 * 3600),
            }));
            changes.push(Change::Acknowledged {
                id,
                at: at(down + 300_000),
                by: "duty".into(),
                via: None,
            });
            changes.push(Change::Restored { id, at: at(up) });
        }
        store
            .commit(&Commit {
                transitions: &transitions,
                incidents: &changes,
                ..Commit::default()
            })
            .unwrap();
    }
    (targets.len(), id as usize)
}

/// Runs the release `netkpi report --year 2025` in `format`: its wall time
/// (s) and peak resident memory (MB, the kernel's `ru_maxrss` of that
/// process alone, read with `wait4`).
fn time_report(dir: &std::path::Path, format: &str, out: &str) -> (f64, f64) {
    let started = Instant::now();
    let log = dir.join(format!("{out}.stderr"));
    #[allow(clippy::zombie_processes, reason = "reaped by wait4 below")]
    let child = Command::new(netkpi_bin())
        .args(["report", "--config"])
        .arg(dir.join("netkpi.toml"))
        .args([
            "--year", "2025", "--lang", "en", "--format", format, "--out",
        ])
        .arg(dir.join(out))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child just
    // spawned, which nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "netkpi report --format {format}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Linux gives ru_maxrss in KiB.
    (secs, usage.ru_maxrss as f64 / 1024.0)
}

#[test]
#[ignore = "benchmark: run bench/report.sh"]
fn report_a_year_at_scale() {
    // A city; a larger region; the province: 10,000 targets with 50
    // outages and 50 incidents each.
    // NETKPI_BENCH_ONLY=province runs the last size alone; NETKPI_BENCH_DIR
    // keeps its year there and reuses it on the next run (writing it takes
    // minutes).
    let sizes: &[(usize, usize)] = match std::env::var("NETKPI_BENCH_ONLY").as_deref() {
        Ok("province") => &[(4_995, 50)],
        _ => &[(290, 50), (2_000, 25), (4_995, 50)],
    };
    let kept = std::env::var_os("NETKPI_BENCH_DIR").map(std::path::PathBuf::from);
    for &(devices, outages) in sizes {
        let tmp = tempfile::tempdir().unwrap();
        let dir = match &kept {
            Some(kept) => kept.join(format!("{devices}x{outages}")),
            None => tmp.path().to_path_buf(),
        };
        let dir = dir.as_path();
        let started = Instant::now();
        let (targets, incidents) = match std::fs::read_to_string(dir.join("written")) {
            Ok(counts) => {
                let (t, i) = counts.trim().split_once(' ').unwrap();
                (t.parse().unwrap(), i.parse().unwrap())
            }
            Err(_) => {
                std::fs::create_dir_all(dir).unwrap();
                let (t, i) = write_year(dir, devices, outages);
                std::fs::write(dir.join("written"), format!("{t} {i}")).unwrap();
                (t, i)
            }
        };
        let written = started.elapsed().as_secs_f64();
        let transitions = targets * outages * 2;
        let mut figures = Vec::new();
        for (format, out) in [
            ("json", "r.json"),
            ("csv", "csv"),
            ("md", "r.md"),
            ("xlsx", "r.xlsx"),
            ("html", "r.html"),
        ] {
            let (secs, rss) = time_report(dir, format, out);
            let size = match std::fs::metadata(dir.join(out)) {
                Ok(m) if m.is_file() => format!(", {:.1} MB", m.len() as f64 / 1e6),
                _ => String::new(),
            };
            figures.push(format!("{format} {secs:.2} s ({rss:.0} MB RSS{size})"));
        }
        let r: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).unwrap()).unwrap();
        assert_eq!(r["incidents"].as_array().unwrap().len(), incidents);
        let outages_seen: u64 = r["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["outages"].as_u64().unwrap())
            .sum();
        assert_eq!(outages_seen, (devices * outages) as u64);
        println!(
            "report bench: {targets} targets, {transitions} transitions, {incidents} incidents \
             (written in {written:.1} s): {}",
            figures.join(", ")
        );
    }
}
