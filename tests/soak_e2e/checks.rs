//! The ledger's invariants, checked once the last daemon has stopped, from
//! the store file itself: the raw rows (as an auditor's copy would be
//! read), the crate's own read path (stored tallies, the availability
//! figures) and `netkpi verify`; and every transition a daemon log
//! announced, looked up on disk.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use jiff::Timestamp;
use netkpi::inventory::Inventory;
use netkpi::model::State;
use netkpi::store::Store;

use crate::chaos::Crash;
use crate::common::ledger::{ledger_rows, Row};
use crate::common::netkpi_bin;

/// The result of one invariant: its name, how many things it looked at,
/// and what broke it.
pub struct Check {
    pub name: &'static str,
    pub checked: u64,
    pub violations: Vec<String>,
}

impl Check {
    fn new(name: &'static str) -> Check {
        Check {
            name,
            checked: 0,
            violations: Vec::new(),
        }
    }

    fn fail(&mut self, what: String) {
        self.violations.push(what);
    }
}

/// The state changes among one target's rows: a row in the same state as
/// the one before it only updates the cause (same outage, same unknown
/// span), so it starts no new span.
fn changes(rows: &[Row]) -> Vec<&Row> {
    let mut out: Vec<&Row> = Vec::new();
    for row in rows {
        if out.last().is_none_or(|last| last.state != row.state) {
            out.push(row);
        }
    }
    out
}

/// Milliseconds per state ([`State::ALL`] order) of one target's state
/// changes, each lasting until the next, the last until `end`; computed
/// here, not by the crate, so that it checks the crate's figures.
fn spans_ms(changes: &[&Row], end: Timestamp) -> [i64; 5] {
    let mut ms = [0i64; 5];
    for (i, row) in changes.iter().enumerate() {
        let until = changes.get(i + 1).map_or(end, |next| next.at);
        let state = State::parse(&row.state).expect("a state the crate knows");
        let k = State::ALL.iter().position(|&s| s == state).expect("in ALL");
        ms[k] += until.as_millisecond() - row.at.as_millisecond();
    }
    ms
}

/// The state in force at `t` (the last row stamped no later than it).
fn state_at(rows: &[Row], t: Timestamp) -> Option<&Row> {
    rows.iter().rev().find(|r| r.at <= t)
}

/// The checks of every target of `config` (the config naming every target
/// the soak used) on the ledger in `data_dir`.
pub fn ledger(
    config: &Path,
    data_dir: &Path,
    started: Timestamp,
    stopped: Timestamp,
    crashes: &[Crash],
) -> Vec<Check> {
    let loaded = netkpi::loader::load(config)
        .unwrap_or_else(|d| panic!("the soak's config does not load: {d:?}"));
    let inventory = Inventory::new(&loaded.config);
    let store = Store::open_reader(data_dir).expect("open the ledger read-only");
    let tallies = store.tallies().expect("read the tallies");

    let mut order = Check::new("spans in order, none overlapping");
    let mut ends = Check::new("last entry unknown, tally in its state from its change");
    let mut tally = Check::new("stored tally = ledger spans, sum = wall time covered");
    let mut figures = Check::new("availability figures = ledger spans (crate read API)");
    let mut wall = Check::new("ledger covers the soak's wall time");
    let mut gaps = Check::new("unknown through every kill -9 gap");

    for (kind, name) in inventory.targets() {
        let rows = ledger_rows(data_dir, name);
        let Some(first) = rows.first() else {
            order.fail(format!("{name}: no ledger entry at all"));
            continue;
        };
        let first_at = first.at;
        order.checked += rows.len() as u64;
        for pair in rows.windows(2) {
            if pair[1].at < pair[0].at {
                order.fail(format!(
                    "{name}: {} ({}) written after {} ({}): overlapping spans",
                    pair[1].at, pair[1].state, pair[0].at, pair[0].state
                ));
            }
        }

        let changes = changes(&rows);
        let last = rows.last().expect("not empty");
        let last_change = changes.last().expect("not empty");
        let Some(t) = tallies.get(&(kind, name.to_string())) else {
            tally.fail(format!("{name}: no stored tally"));
            continue;
        };
        let end = t.until;
        ends.checked += 1;
        if last.state != "unknown" {
            ends.fail(format!(
                "{name}: the last entry is {} at {} (cause {:?}), not unknown",
                last.state, last.at, last.cause
            ));
        }
        if end < last_change.at || t.state.as_str() != last.state {
            ends.fail(format!(
                "{name}: the tally is {} up to {end}, the ledger {} from {}",
                t.state.as_str(),
                last_change.state,
                last_change.at
            ));
        }

        let spans = spans_ms(&changes, end);
        let covered = end.as_millisecond() - first_at.as_millisecond();
        tally.checked += 1;
        if t.ms != spans {
            tally.fail(format!(
                "{name}: stored tally {:?} ms, the ledger's spans {spans:?} ms ({:?})",
                t.ms,
                State::ALL.map(State::as_str)
            ));
        }
        if t.ms.iter().sum::<i64>() != covered {
            tally.fail(format!(
                "{name}: the tally sums to {} ms, {first_at}..{end} is {covered} ms",
                t.ms.iter().sum::<i64>()
            ));
        }

        let f = netkpi::availability::availability(&store, &inventory, first_at, end, end)
            .expect("availability from the store");
        let f = &f
            .iter()
            .find(|f| f.kind == kind && f.target == name)
            .expect("every target has figures")
            .figures;
        let crate_ms = [f.up_s, f.degraded_s, f.down_s, f.unknown_s, f.maintenance_s]
            .map(|s| (s * 1000.0).round() as i64);
        let by_state: BTreeMap<&str, i64> = State::ALL
            .iter()
            .zip(spans)
            .map(|(s, ms)| (s.as_str(), ms))
            .collect();
        let own = [
            by_state["up"],
            by_state["degraded"],
            by_state["down"],
            by_state["unknown"],
            by_state["maintenance"],
        ];
        figures.checked += 1;
        if crate_ms != own || crate_ms.iter().sum::<i64>() != covered {
            figures.fail(format!(
                "{name}: availability over {first_at}..{end} gives up/degraded/down/unknown/maintenance \
                 {crate_ms:?} ms, the ledger's spans {own:?} ms, {covered} ms covered"
            ));
        }

        // Targets configured from the start (all but the spare a reload
        // adds and removes) are covered from the first start to the stop.
        // The stop's own entry is stamped at the stop, except for a target
        // whose outage was still being confirmed: that entry is unknown from
        // the run's first failed round (within the last daemon's run), and
        // it holds through the stop.
        if name != crate::chaos::SPARE {
            wall.checked += 1;
            let last_start = crashes.last().map_or(started, |c| c.restarted);
            let unresolved =
                last.cause.as_deref() == Some("unresolved_at_stop") && last.at >= last_start;
            let held = if unresolved {
                stopped
            } else {
                end.max(last.at)
            };
            let late = first_at.duration_since(started).as_secs_f64();
            let early = stopped.duration_since(held).as_secs_f64();
            if !(0.0..=10.0).contains(&late) || !(0.0..=10.0).contains(&early) {
                wall.fail(format!(
                    "{name}: the ledger covers {first_at}..{held} (last entry {} at {}, cause {:?}), \
                     the soak ran {started}..{stopped}",
                    last.state, last.at, last.cause
                ));
            }
        }

        for c in crashes {
            gaps.checked += 1;
            match state_at(&rows, c.killed) {
                Some(r) if r.state == "unknown" => {}
                r => gaps.fail(format!(
                    "{name}: killed at {}, the ledger says {:?} then",
                    c.killed,
                    r.map(|r| (&r.state, r.at, &r.cause))
                )),
            }
            if let Some(r) = rows.iter().find(|r| r.at > c.killed && r.at < c.restarted) {
                gaps.fail(format!(
                    "{name}: an entry {} at {} while no daemon ran ({}..{})",
                    r.state, r.at, c.killed, c.restarted
                ));
            }
        }
    }
    vec![order, ends, tally, figures, wall, gaps]
}

/// `netkpi verify` on the store: the chain recomputed from the first record.
pub fn verify(config: &Path) -> Check {
    let mut check = Check::new("netkpi verify (hash chain intact)");
    let out = Command::new(netkpi_bin())
        .args(["verify", "--config"])
        .arg(config)
        .output()
        .expect("run netkpi verify");
    check.checked = 1;
    if !out.status.success() {
        check.fail(format!(
            "netkpi verify exited {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    check
}

/// Every transition a daemon announced in its log (the `netkpi::ledger`
/// lines, written once the transition is committed) is in the ledger with
/// its stamp and state; also no panic in any log.
pub fn announced(logs: &[std::path::PathBuf], data_dir: &Path) -> (Check, Check) {
    let mut check = Check::new("every announced transition on disk");
    let mut panics = Check::new("no panic in any daemon log");
    let mut rows: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        panics.checked += 1;
        for line in text.lines() {
            if line.contains("panicked") {
                panics.fail(format!("{}: {line}", log.display()));
            }
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if event["target"] != "netkpi::ledger" {
                continue;
            }
            let fields = &event["fields"];
            let (Some(name), Some(since)) = (fields["name"].as_str(), fields["since"].as_str())
            else {
                continue;
            };
            // A down transition is logged as a warning without a state field.
            let state = fields["state"].as_str().unwrap_or("down");
            let since: Timestamp = since.parse().expect("since is RFC 3339");
            check.checked += 1;
            let target_rows = rows
                .entry(name.to_string())
                .or_insert_with(|| ledger_rows(data_dir, name));
            let found = target_rows
                .iter()
                .any(|r| r.state == state && r.at.as_millisecond() == since.as_millisecond());
            if !found {
                check.fail(format!(
                    "{}: announced {name} {state} since {since}, not in the ledger",
                    log.display()
                ));
            }
        }
    }
    (check, panics)
}
