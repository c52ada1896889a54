//! What the soak watches while it runs: a scraper reading `/metrics` and
//! the API in a tight loop (as impatient dashboards would), every counter
//! it sees checked against the previous scrape, and the daemon's RSS.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{counters, listen, NetNs};

/// Counter families that survive restarts: netkpi_state_seconds_total is
/// read from the ledger's durable tallies, netkpi_incidents_total is
/// rebuilt from the ledger at start. Neither may ever go down, not even
/// across a kill -9.
pub const DURABLE: [&str; 2] = ["netkpi_state_seconds_total", "netkpi_incidents_total"];

/// What the daemon and its agents are at, shared by the fault driver (who
/// changes it) and the scraper (who tags each scrape with it).
pub struct Epochs {
    /// Odd while the daemon is down or starting (it starts at 1, before the
    /// first daemon): bumped before a kill and once the restarted daemon is
    /// healthy, so run `n` (from 1) is epoch `2n`. A scrape that saw it change
    /// (or odd) is dropped: it cannot be told which process answered.
    pub daemon: AtomicU64,
    /// Bumped before an agent is killed and after it is back: a counter
    /// that mirrors a device's own (it carries a `device` label) may start
    /// again from the agent's value when the agent restarted.
    pub agents: AtomicU64,
}

impl Epochs {
    pub fn new() -> Epochs {
        Epochs {
            daemon: AtomicU64::new(1),
            agents: AtomicU64::new(0),
        }
    }

    /// The daemon run (1, 2, ...) while one is healthy, `None` between.
    fn run(&self) -> Option<u64> {
        let e = self.daemon.load(Ordering::SeqCst);
        (e % 2 == 0).then_some(e / 2)
    }
}

/// The API paths scraped in turn with `/metrics`.
pub fn api_paths(from: &str, to: &str) -> Vec<String> {
    vec![
        "/api/v1/devices".into(),
        "/api/v1/lines".into(),
        format!("/api/v1/availability?from={from}&to={to}"),
        "/api/v1/incidents?state=all&limit=50".into(),
        "/api/v1/ledger/head".into(),
        "/api/v1/traps".into(),
        "/healthz".into(),
    ]
}

/// The last value of one series and when it was seen.
struct Seen {
    value: f64,
    run: u64,
    agents: u64,
}

/// Every counter seen, and each decrease sorted into allowed and not.
#[derive(Default)]
pub struct CounterWatch {
    last: BTreeMap<String, Seen>,
    /// The highest value ever seen of each [`DURABLE`] series.
    durable_max: BTreeMap<String, f64>,
    /// Decreases that break a promise: what, where, when.
    pub violations: Vec<String>,
    /// Process counters back to zero in a new daemon run (a restart).
    pub reset_by_restart: u64,
    /// Device counters that went down after their agent restarted.
    pub reset_by_agent: u64,
    /// Counter samples compared with an earlier one.
    pub compared: u64,
    /// The highest value each series reached in each run (for totals
    /// across restarts, e.g. traps received).
    pub run_max: BTreeMap<(u64, String), f64>,
}

impl CounterWatch {
    /// Checks one scrape, taken `at_s` seconds into the soak in daemon run
    /// `run` with agent epoch `agents`, against everything seen before.
    pub fn observe(&mut self, text: &str, at_s: f64, run: u64, agents: u64) {
        for (series, value) in counters(text) {
            let family = series.split('{').next().unwrap_or_default();
            if DURABLE.contains(&family) {
                let max = self.durable_max.entry(series.clone()).or_insert(value);
                if value < *max {
                    self.violations.push(format!(
                        "{series} went down from {max} to {value} at {at_s:.1} s (run {run}); \
                         it must never decrease"
                    ));
                }
                *max = max.max(value);
            }
            if let Some(before) = self.last.get(&series) {
                self.compared += 1;
                if value < before.value && !DURABLE.contains(&family) {
                    if before.run != run {
                        self.reset_by_restart += 1;
                    } else if before.agents != agents && series.contains("device=\"") {
                        self.reset_by_agent += 1;
                    } else {
                        self.violations.push(format!(
                            "{series} went down from {} to {value} at {at_s:.1} s within run {run}",
                            before.value
                        ));
                    }
                }
            }
            let max = self.run_max.entry((run, series.clone())).or_insert(value);
            *max = max.max(value);
            self.last.insert(series, Seen { value, run, agents });
        }
    }

    /// The sum over daemon runs of the highest value each run reached of
    /// every series of `family` whose labels contain `label` (`""` for
    /// all): a process counter's total across restarts.
    pub fn total_over_runs(&self, family: &str, label: &str) -> f64 {
        self.run_max
            .iter()
            .filter(|((_, series), _)| {
                series.split('{').next() == Some(family) && series.contains(label)
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// What the scraper did.
#[derive(Default)]
pub struct Scrapes {
    pub counters: CounterWatch,
    /// Per path: answers by status (0: no answer: refused, reset, timeout).
    pub statuses: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Answers that break a promise: a 5xx from the API, a 200 that is not
    /// JSON, a /healthz that is not 200 from a daemon that was healthy.
    pub violations: Vec<String>,
    /// Requests answered by a healthy daemon (run known before and after).
    pub answered: u64,
    /// The most records `/api/v1/ledger/head` has shown: the chain only
    /// grows, across restarts too.
    pub ledger_records: u64,
}

/// Requests `/metrics` and each of `paths` in turn, `pause` apart, until
/// `stop`; each answer is checked only when one daemon run was healthy from
/// before the request to after it.
pub fn scrape_loop(
    ns: &NetNs,
    paths: &[String],
    epochs: &Epochs,
    stop: &AtomicBool,
    started: Instant,
    pause: Duration,
) -> Scrapes {
    let mut out = Scrapes::default();
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let path = if turn % 2 == 0 {
            "/metrics"
        } else {
            paths[(turn / 2) % paths.len()].as_str()
        };
        turn += 1;
        let before = epochs.run();
        let agents = epochs.agents.load(Ordering::SeqCst);
        let answer = ns.http_get(listen(), path);
        let after = epochs.run();
        let status = answer.as_ref().map(|(s, _)| *s).unwrap_or(0);
        *out.statuses
            .entry(path.split('?').next().unwrap_or(path).to_string())
            .or_default()
            .entry(status)
            .or_default() += 1;
        let at_s = started.elapsed().as_secs_f64();
        match (before, after, answer) {
            (Some(run), Some(same), Ok((status, body))) if run == same => {
                out.answered += 1;
                if path == "/metrics" && status == 200 {
                    out.counters.observe(&body, at_s, run, agents);
                } else if status >= 500 && path != "/healthz" {
                    out.violations.push(format!(
                        "GET {path} answered {status} at {at_s:.1} s: {body}"
                    ));
                } else if status == 200 && path.starts_with("/api/") {
                    match serde_json::from_str::<serde_json::Value>(&body) {
                        Err(_) => out
                            .violations
                            .push(format!("GET {path} at {at_s:.1} s: not JSON: {body}")),
                        Ok(doc) if path == "/api/v1/ledger/head" => {
                            let records = doc["records"].as_u64().unwrap_or(0);
                            if records < out.ledger_records {
                                out.violations.push(format!(
                                    "the ledger's chain went from {} to {records} records at {at_s:.1} s",
                                    out.ledger_records
                                ));
                            }
                            out.ledger_records = out.ledger_records.max(records);
                        }
                        Ok(_) => {}
                    }
                }
            }
            (Some(run), Some(same), Err(e)) if run == same => out.violations.push(format!(
                "GET {path} at {at_s:.1} s: no answer from a running daemon: {e}"
            )),
            _ => {}
        }
        std::thread::sleep(pause);
    }
    out
}

/// One RSS sample of the daemon.
#[derive(Clone, Copy, Debug)]
pub struct RssSample {
    pub at_s: f64,
    pub run: u64,
    pub kb: u64,
}

/// VmRSS of a process in kB, `None` once it is gone.
pub fn rss_kb(pid: u32) -> Option<u64> {
    crate::common::proc_status_kb(pid, "VmRSS")
}
