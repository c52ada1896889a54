//! The soak's summary: what was done, what the scraper saw, the daemon's
//! RSS over time, and one row per invariant.

use std::fmt::Write;
use std::path::Path;

use crate::chaos::Record;
use crate::checks::Check;
use crate::observe::{RssSample, Scrapes};

/// The checks on what the scraper saw and on the run itself: counters, API
/// answers, a clean final stop, and that the faults did happen (a soak
/// that injected nothing proves nothing).
pub fn scrape_checks(scrapes: &Scrapes, record: &Record) -> Vec<Check> {
    let counters = Check {
        name: "no counter decreased (durable ones never)",
        checked: scrapes.counters.compared,
        violations: scrapes.counters.violations.clone(),
    };
    let api = Check {
        name: "API answered (no 5xx, JSON, the chain never shorter)",
        checked: scrapes.answered,
        violations: scrapes.violations.clone(),
    };
    let mut exit = Check {
        name: "final SIGTERM stop exits 0",
        checked: 1,
        violations: Vec::new(),
    };
    if !record.clean_exit {
        exit.violations
            .push("the last daemon did not exit 0 on SIGTERM".into());
    }
    let c = &record.counts;
    let traps = scrapes
        .counters
        .total_over_runs("netkpi_traps_received_total", "");
    let mut done = Check {
        name: "every kind of fault happened",
        checked: 6,
        violations: Vec::new(),
    };
    for (what, n) in [
        ("kill -9", c.kills as f64),
        ("SIGHUP", c.hups as f64),
        ("outage", c.outages_begun as f64),
        ("agent kill", (c.snmpd_kills + c.snmpsim_kills) as f64),
        ("trap counted by the daemon", traps),
        ("/metrics scrape compared", scrapes.counters.compared as f64),
    ] {
        // A kill is made whenever one is due: with the spacing set by hand,
        // none is a run spaced out past its end on purpose (to show RSS).
        let spaced_out =
            what == "kill -9" && std::env::var_os(crate::chaos::KILL_SPACING_VAR).is_some();
        if n < 1.0 && !spaced_out {
            done.violations.push(format!("no {what} in the whole run"));
        }
    }
    vec![counters, api, exit, done]
}

/// Median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Seconds of each daemon run left out of the RSS slope: start-up growth
/// (first rounds, first availability refresh) is not a leak.
const RSS_WARMUP_S: f64 = 30.0;

/// The least-squares slope of RSS over time within daemon runs (each run
/// its own intercept: a restart starts from a fresh process), from
/// [`RSS_WARMUP_S`] into each run on, in MB per hour; `None` with too few
/// samples.
fn rss_slope_mb_per_h(samples: &[RssSample]) -> Option<f64> {
    let mut runs: std::collections::BTreeMap<u64, Vec<&RssSample>> = Default::default();
    for s in samples {
        runs.entry(s.run).or_default().push(s);
    }
    for run in runs.values_mut() {
        let start = run.first().map_or(0.0, |s| s.at_s);
        run.retain(|s| s.at_s - start >= RSS_WARMUP_S);
    }
    let (mut num, mut den) = (0.0, 0.0);
    for run in runs.values().filter(|r| r.len() >= 3) {
        let n = run.len() as f64;
        let mt = run.iter().map(|s| s.at_s).sum::<f64>() / n;
        let mr = run.iter().map(|s| s.kb as f64).sum::<f64>() / n;
        for s in run {
            num += (s.at_s - mt) * (s.kb as f64 - mr);
            den += (s.at_s - mt) * (s.at_s - mt);
        }
    }
    (den > 0.0).then(|| num / den / 1024.0 * 3600.0)
}

/// The summary printed after the run.
pub fn summary(
    seed: u64,
    duration: u64,
    record: &Record,
    scrapes: &Scrapes,
    checks: &[Check],
    data_dir: &Path,
) -> String {
    let mut s = String::new();
    let c = &record.counts;
    let _ = writeln!(s, "\n=== soak: {duration} s, seed {seed} ===");
    let _ = writeln!(
        s,
        "faults: {} kill -9 (each restarted on the same store), {} SIGHUP (configs alternating), \
         {} outages begun / {} ended, snmpd {} killed / {} restarted, snmpsim {} killed / {} restarted, \
         {} trap floods ({} traps sent)",
        c.kills,
        c.hups,
        c.outages_begun,
        c.outages_ended,
        c.snmpd_kills,
        c.snmpd_restarts,
        c.snmpsim_kills,
        c.snmpsim_restarts,
        c.floods,
        c.traps_sent
    );
    let w = &scrapes.counters;
    let _ = writeln!(
        s,
        "daemon counted (sum over runs): {} traps received, {} rejected, {} transitions written, \
         {} store commits",
        w.total_over_runs("netkpi_traps_received_total", ""),
        w.total_over_runs("netkpi_traps_rejected_total", ""),
        w.total_over_runs("netkpi_store_transitions_written_total", ""),
        w.total_over_runs("netkpi_store_commits_total", ""),
    );
    if let Ok(db) = rusqlite::Connection::open_with_flags(
        data_dir.join("netkpi.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) {
        let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(-1);
        let _ = writeln!(
            s,
            "ledger: {} transitions, {} incidents, {} daemon runs",
            count("SELECT COUNT(*) FROM transitions"),
            count("SELECT COUNT(*) FROM incidents"),
            count("SELECT COUNT(*) FROM daemon_runs"),
        );
    }
    let _ = writeln!(
        s,
        "scrapes: {} answered by a healthy daemon; counters compared {} times, {} reset by a \
         daemon restart, {} device counters reset by an agent restart",
        scrapes.answered, w.compared, w.reset_by_restart, w.reset_by_agent
    );
    for (path, statuses) in &scrapes.statuses {
        let list: Vec<String> = statuses
            .iter()
            .map(|(status, n)| match status {
                0 => format!("no answer x{n}"),
                s => format!("{s} x{n}"),
            })
            .collect();
        let _ = writeln!(s, "  {path:<22} {}", list.join(", "));
    }

    let mut kb: Vec<f64> = record.rss.iter().map(|r| r.kb as f64 / 1024.0).collect();
    kb.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (kb.first(), kb.last()) {
        let _ = writeln!(
            s,
            "RSS ({} samples every 2 s): min {min:.1} MB, median {:.1} MB, max {max:.1} MB, \
             slope within runs after {RSS_WARMUP_S:.0} s {}",
            kb.len(),
            median(&kb),
            rss_slope_mb_per_h(&record.rss).map_or("n/a".to_string(), |v| format!("{v:+.2} MB/h"))
        );
        // RSS over time: the highest sample of each bucket, and its run.
        let bucket = if duration <= 300 { 10.0 } else { 60.0 };
        let mut line = String::from("RSS over time (max per bucket, MB [run]):");
        let mut current: Option<(u64, f64, u64)> = None;
        let flush = |b: Option<(u64, f64, u64)>, line: &mut String| {
            if let Some((k, mb, run)) = b {
                let _ = write!(line, " {}s:{mb:.1}[{run}]", (k as f64 * bucket) as u64);
            }
        };
        for r in &record.rss {
            let k = (r.at_s / bucket) as u64;
            let mb = r.kb as f64 / 1024.0;
            current = match current {
                Some((ck, cmb, crun)) if ck == k => Some(if mb > cmb {
                    (k, mb, r.run)
                } else {
                    (ck, cmb, crun)
                }),
                other => {
                    flush(other, &mut line);
                    Some((k, mb, r.run))
                }
            };
        }
        flush(current, &mut line);
        let _ = writeln!(s, "{line}");
    }

    let _ = writeln!(s, "\n{:<58} {:>9}  result", "invariant", "checked");
    for check in checks {
        let result = if check.violations.is_empty() {
            "ok".to_string()
        } else {
            format!("FAILED ({})", check.violations.len())
        };
        let _ = writeln!(s, "{:<58} {:>9}  {result}", check.name, check.checked);
        for v in check.violations.iter().take(5) {
            let _ = writeln!(s, "    {v}");
        }
    }
    s
}
