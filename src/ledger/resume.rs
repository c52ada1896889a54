//! Starting again on an existing ledger: the time netkpi was not watching is
//! recorded as unknown, never as the state it last saw.

use std::collections::HashSet;

use jiff::Timestamp;

use crate::inventory::Inventory;
use crate::model::{State, TargetKind, Transition};
use crate::store::{Store, StoreError};
use crate::tally::{Tallies, Tally};

/// The cause of the unknown span covering the time the daemon was not
/// running (a crash, a power cut, `kill -9`).
pub const CAUSE_NOT_RUNNING: &str = "daemon_not_running";
/// The cause of a configured target's first ledger entry.
pub const CAUSE_STARTED: &str = "monitoring_started";

/// The transitions that close the gap since the last run, at start time
/// `now`: every target whose last entry is not unknown becomes unknown from
/// the last point its state was vouched for (how far its tally counted, or
/// the last heartbeat for a ledger written before tallies existed; never
/// before its own last entry), and every configured target without an
/// entry gets its first, unknown, at `now`.
pub fn gap_transitions(
    store: &Store,
    inventory: &Inventory,
    now: Timestamp,
) -> Result<Vec<Transition>, StoreError> {
    let heartbeat = store.last_heartbeat()?;
    let tallies = store.tallies()?;
    let latest = store.latest()?;
    let mut batch = Vec::new();
    for t in &latest {
        if t.state == State::Unknown {
            continue;
        }
        let vouched = tallies
            .get(&(t.kind, t.target.clone()))
            .map(|tally| tally.until)
            .or(heartbeat);
        batch.push(Transition {
            target: t.target.clone(),
            kind: t.kind,
            at: vouched.map_or(t.at, |v| v.max(t.at)).min(now.max(t.at)),
            state: State::Unknown,
            cause: Some(CAUSE_NOT_RUNNING.into()),
        });
    }
    let known: HashSet<(TargetKind, &str)> =
        latest.iter().map(|t| (t.kind, t.target.as_str())).collect();
    for (kind, name) in inventory.targets() {
        if !known.contains(&(kind, name)) {
            batch.push(Transition {
                target: name.to_string(),
                kind,
                at: now,
                state: State::Unknown,
                cause: Some(CAUSE_STARTED.into()),
            });
        }
    }
    Ok(batch)
}

/// Writes [`gap_transitions`] (with a heartbeat at `now`) and returns every
/// target's tally as of `now`, for the store writer to go on from: the
/// stored tally advanced over the gap, or, for a ledger written before
/// tallies were stored, one rebuilt from the whole history.
pub fn close_gap(
    store: &mut Store,
    inventory: &Inventory,
    now: Timestamp,
) -> Result<Tallies, StoreError> {
    let batch = gap_transitions(store, inventory, now)?;
    if !batch.is_empty() {
        tracing::info!(
            targets = batch.len(),
            "recording the time netkpi was not running as unknown"
        );
    }
    let mut tallies = store.tallies()?;
    for t in &batch {
        if let Some(tally) = tallies.get_mut(&(t.kind, t.target.clone())) {
            tally.apply(t, inventory.maintenance(t.kind, &t.target));
        }
    }
    store.append_with_tallies(&batch, &tallies, Some(now))?;
    let mut out = Tallies::new();
    let mut missing = Vec::new();
    for t in store.latest()? {
        let key = (t.kind, t.target);
        match tallies.remove(&key) {
            Some(mut tally) => {
                tally.advance(now, inventory.maintenance(key.0, &key.1));
                out.insert(key, tally);
            }
            None => missing.push(key),
        }
    }
    if !missing.is_empty() {
        // Up to and including `now`: the gap's own rows are stamped then.
        let to = now + jiff::SignedDuration::from_millis(1);
        let histories = store.histories(Timestamp::UNIX_EPOCH, to)?;
        for key in missing {
            let history = histories.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(tally) = Tally::rebuild(history, now, inventory.maintenance(key.0, &key.1))
            {
                out.insert(key, tally);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[[device]]
name = "a"
role = "router"
address = "127.0.0.1"
icmp = {}

[[device]]
name = "b"
role = "router"
address = "127.0.0.2"
icmp = {}

[[device]]
name = "c"
role = "router"
address = "127.0.0.3"
icmp = {}

[[device]]
name = "new"
role = "router"
address = "127.0.0.4"
icmp = {}
"#;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    fn dev(name: &str, s: i64, state: State) -> Transition {
        Transition {
            target: name.into(),
            kind: TargetKind::Device,
            at: ts(s),
            state,
            cause: None,
        }
    }

    fn summary(batch: &[Transition]) -> Vec<(&str, i64, State, &str)> {
        let mut out: Vec<_> = batch
            .iter()
            .map(|t| {
                (
                    t.target.as_str(),
                    t.at.as_second() - ts(0).as_second(),
                    t.state,
                    t.cause.as_deref().unwrap_or(""),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn fresh() -> (tempfile::TempDir, Store, Inventory) {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let config = crate::config::load_str(std::path::Path::new("t.toml"), CONFIG).unwrap();
        (tmp, store, Inventory::new(&config))
    }

    /// (up, down, unknown) seconds of `name`'s tally.
    fn counted(tallies: &Tallies, name: &str) -> (f64, f64, f64) {
        let s = tallies[&(TargetKind::Device, name.to_string())].seconds();
        (s[0], s[2], s[3])
    }

    #[test]
    fn the_gap_starts_at_each_targets_mark_not_at_the_heartbeat_nor_the_last_transition() {
        let (_tmp, mut store, inventory) = fresh();
        // a: up since 10, vouched up to 95; b: up since 10, a failure run
        // pending since 80 (its mark stays there); c: already unknown.
        store
            .append(
                &[
                    dev("a", 10, State::Up),
                    dev("b", 10, State::Up),
                    dev("c", 10, State::Unknown),
                ],
                None,
            )
            .unwrap();
        let mut tallies = Tallies::new();
        for (name, until) in [("a", 95), ("b", 80)] {
            tallies.insert(
                (TargetKind::Device, name.to_string()),
                Tally {
                    state: State::Up,
                    until: ts(until),
                    ms: [(until - 10) * 1000, 0, 0, 0, 0],
                },
            );
        }
        store
            .append_with_tallies(&[], &tallies, Some(ts(98)))
            .unwrap();
        let gap = gap_transitions(&store, &inventory, ts(200)).unwrap();
        assert_eq!(
            summary(&gap),
            [
                ("a", 95, State::Unknown, CAUSE_NOT_RUNNING),
                ("b", 80, State::Unknown, CAUSE_NOT_RUNNING),
                ("new", 200, State::Unknown, CAUSE_STARTED),
            ]
        );

        // A transition committed after the mark holds from its own time.
        store.append(&[dev("a", 97, State::Down)], None).unwrap();
        let gap = gap_transitions(&store, &inventory, ts(200)).unwrap();
        assert_eq!(
            summary(&gap)[0],
            ("a", 97, State::Unknown, CAUSE_NOT_RUNNING)
        );
    }

    #[test]
    fn closing_the_gap_carries_each_tally_over_it_or_rebuilds_it() {
        let (_tmp, mut store, inventory) = fresh();
        // a: counted by this binary up to 95 (85 s up); b: written by a
        // binary that kept no tallies (up at 10, down at 40, heartbeat 50).
        store
            .append(
                &[
                    dev("a", 10, State::Up),
                    dev("b", 10, State::Up),
                    dev("b", 40, State::Down),
                ],
                Some(ts(50)),
            )
            .unwrap();
        let tally = Tally {
            state: State::Up,
            until: ts(95),
            ms: [85_000, 0, 0, 0, 0],
        };
        let stored: Tallies = [((TargetKind::Device, "a".to_string()), tally)].into();
        store.append_with_tallies(&[], &stored, None).unwrap();
        let tallies = close_gap(&mut store, &inventory, ts(200)).unwrap();
        assert_eq!(counted(&tallies, "a"), (85.0, 0.0, 105.0));
        assert_eq!(counted(&tallies, "b"), (30.0, 10.0, 150.0));
        assert_eq!(counted(&tallies, "new"), (0.0, 0.0, 0.0));
        // What a crash right now would rebuild from: the gap is stored.
        let again = store.tallies().unwrap();
        assert_eq!(
            again[&(TargetKind::Device, "a".to_string())].state,
            State::Unknown
        );
    }

    #[test]
    fn a_ledger_without_marks_falls_back_to_the_heartbeat() {
        let (_tmp, mut store, inventory) = fresh();
        store
            .append(
                &[dev("a", 10, State::Up), dev("b", 10, State::Down)],
                Some(ts(50)),
            )
            .unwrap();
        store.append(&[dev("b", 60, State::Up)], None).unwrap();
        let gap = gap_transitions(&store, &inventory, ts(200)).unwrap();
        assert_eq!(
            summary(&gap),
            [
                ("a", 50, State::Unknown, CAUSE_NOT_RUNNING),
                ("b", 60, State::Unknown, CAUSE_NOT_RUNNING),
                ("c", 200, State::Unknown, CAUSE_STARTED),
                ("new", 200, State::Unknown, CAUSE_STARTED),
            ]
        );
        // Closing the gap writes exactly that.
        close_gap(&mut store, &inventory, ts(200)).unwrap();
        assert!(gap_transitions(&store, &inventory, ts(300))
            .unwrap()
            .is_empty());
    }
}
