//! The soak test: the real daemon on the full lab (ICMP devices, snmpd,
//! snmpsim recordings for every profile, traps, a line watched on a port)
//! in a private network namespace, under every fault at once for a while:
//!
//! * outages toggled with nftables on the lab's addresses (ICMP and SNMP
//!   dropped), at most half of them down at a time;
//! * snmpd and snmpsim killed and restarted;
//! * bounded trap floods (at most 60 `snmptrap`s, 5 ms apart);
//! * SIGHUP every 2–5 s, alternating two valid configs (the second adds a
//!   device and a maintenance window);
//! * `/metrics` and the API scraped in a tight loop (one request every
//!   20 ms);
//! * kill -9 of the daemon at random times, restarted on the same store.
//!
//! Then, with the daemon stopped (SIGTERM), the invariants: spans in
//! order, the stored tallies and the crate's availability figures equal to
//! the ledger's own spans and summing to the wall time covered, every
//! target unknown through each kill -9 gap, `netkpi verify` passing, every
//! transition a log announced on disk, no counter decreasing (durable ones
//! not even across a restart), no 5xx. It prints a summary table (with RSS
//! over time) and fails naming every violation.
//!
//! Duration `NETKPI_SOAK_SECONDS` (60 by default: the CI run), seed
//! `NETKPI_SOAK_SEED` (printed; the same seed replays the same schedule),
//! the wait between kill -9s `NETKPI_SOAK_KILL_SPACING="MIN,MAX"` seconds
//! (12-30 up to 120 s, 40-160 beyond; part of the schedule a seed replays).
//! `bench/soak.sh DURATION_S [SEED]` runs it in release for longer.
//!
//! Needs what the full lab needs: root, `nftables`, `snmpd`, `snmp` (the
//! tools) and the snmpsim venv; fails loudly without them.

#[path = "../common/mod.rs"]
mod common;

mod chaos;
mod checks;
mod observe;
mod report;
mod rng;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::full_lab::FullLab;
use common::{q, NetNs};

/// How long the faults run when `NETKPI_SOAK_SECONDS` is not set: CI's
/// share (setup and checks add about 15 s).
const DEFAULT_SECONDS: u64 = 60;
/// The pause between two requests of the scraper.
const SCRAPE_PAUSE: Duration = Duration::from_millis(20);

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a whole number")),
    )
}

#[test]
fn soak_under_every_fault_at_once_keeps_the_ledger_whole() {
    let duration = env_u64("NETKPI_SOAK_SECONDS").unwrap_or(DEFAULT_SECONDS);
    assert!(
        (10..=86_400).contains(&duration),
        "NETKPI_SOAK_SECONDS={duration}: between 10 and 86400"
    );
    let seed = env_u64("NETKPI_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
    });
    println!("soak: {duration} s, seed {seed} (NETKPI_SOAK_SEED={seed} replays this schedule)");
    // Read (and refused if malformed) before the lab starts.
    let (kill_min, kill_max) = chaos::kill_spacing(duration as f64);
    println!("soak: kill -9 every {kill_min}-{kill_max} s (NETKPI_SOAK_KILL_SPACING=\"{kill_min},{kill_max}\")");
    let mut rng = rng::Rng::new(seed);

    let ns = NetNs::new();
    let mut lab = FullLab::start(&ns);
    // A config naming every target either config has, for the checks.
    let all_targets = lab.dir.path().join("all-targets.toml");
    std::fs::write(&all_targets, chaos::config_text(true)).expect("write config");
    let data_dir = lab.dir.path().join("data");

    let epochs = observe::Epochs::new();
    let stop = AtomicBool::new(false);
    let clock = Instant::now();
    let from = jiff::Timestamp::now();
    let to = from + Duration::from_secs(duration + 3600);
    let paths = observe::api_paths(&q(&from.to_string()), &q(&to.to_string()));
    let (record, scrapes) = std::thread::scope(|scope| {
        let scraper =
            scope.spawn(|| observe::scrape_loop(&ns, &paths, &epochs, &stop, clock, SCRAPE_PAUSE));
        let record = chaos::run(&ns, &mut lab, &epochs, &mut rng, duration as f64, clock);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (record, scraper.join().expect("scraper thread"))
    });

    let mut results = checks::ledger(
        &all_targets,
        &data_dir,
        record.started,
        record.stopped,
        &record.crashes,
    );
    results.push(checks::verify(&all_targets));
    let (announced, panics) = checks::announced(&record.logs, &data_dir);
    results.push(announced);
    results.push(panics);
    results.extend(report::scrape_checks(&scrapes, &record));

    let summary = report::summary(seed, duration, &record, &scrapes, &results, &data_dir);
    println!("{summary}");
    let broken: Vec<String> = results
        .iter()
        .flat_map(|c| c.violations.iter().map(move |v| format!("{}: {v}", c.name)))
        .collect();
    if !broken.is_empty() {
        // The store, the configs and every run's log, for a post-mortem.
        let FullLab { dir, .. } = lab;
        println!("soak: the lab's folder is kept in {}", dir.keep().display());
    }
    assert!(
        broken.is_empty(),
        "soak (seed {seed}): {} invariant violation(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}
