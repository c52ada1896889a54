//! The ledger task: turns observations into transitions.
//!
//! One task owns every device's [`Tracker`], so a device can consult its
//! parent's state and a line follows its far-end device without locks. It
//! does no I/O: transitions go to the store writer, which announces them
//! (live view, metrics) only after they are on disk.

use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::inventory::Inventory;
use crate::model::{State, TargetKind, Transition};
use crate::probes::icmp::IcmpRound;
use crate::state::{classify, RoundClass, Thresholds, Tracker};

/// One probe round of one device.
#[derive(Debug)]
pub struct Observation {
    /// The config generation the probing task belongs to; observations from
    /// tasks of an older config (still in flight after a reload) are dropped.
    pub generation: u64,
    /// Index into [`Inventory::devices`] of that generation.
    pub device: usize,
    /// When the round started: the time of its first echo.
    pub at: Timestamp,
    pub round: IcmpRound,
}

/// What the ledger task receives, in order.
#[derive(Debug)]
pub enum Input {
    Observation(Observation),
    /// A reloaded config is in force from now on.
    Reload {
        inventory: Arc<Inventory>,
        generation: u64,
    },
}

pub struct Ledger {
    inventory: Arc<Inventory>,
    generation: u64,
    trackers: Vec<Tracker>,
}

impl Ledger {
    pub fn new(inventory: Arc<Inventory>) -> Ledger {
        let trackers = inventory.devices.iter().map(|_| Tracker::new()).collect();
        Ledger {
            inventory,
            generation: 0,
            trackers,
        }
    }

    /// Puts a reloaded inventory in force at `at`, keeping the state of every
    /// device that is still configured. Returns the transitions the change
    /// itself causes: targets no longer configured become unknown, new ones
    /// start unknown, and a line whose far-end device changed takes that
    /// device's state.
    pub fn reload(
        &mut self,
        inventory: Arc<Inventory>,
        generation: u64,
        at: Timestamp,
    ) -> Vec<Transition> {
        let old = std::mem::replace(&mut self.inventory, inventory);
        let mut old_trackers = std::mem::take(&mut self.trackers);
        self.generation = generation;
        self.trackers = self
            .inventory
            .devices
            .iter()
            .map(|d| {
                old.device_index(&d.name)
                    .map(|i| std::mem::take(&mut old_trackers[i]))
                    .unwrap_or_default()
            })
            .collect();
        let unknown = |kind, name: &str, cause: &str| Transition {
            target: name.to_string(),
            kind,
            at,
            state: State::Unknown,
            cause: Some(cause.to_string()),
        };
        let mut out = Vec::new();
        for d in &old.devices {
            if self.inventory.device(&d.name).is_none() {
                out.push(unknown(TargetKind::Device, &d.name, "removed_from_config"));
            }
        }
        for l in &old.lines {
            if self.inventory.line(&l.id).is_none() {
                out.push(unknown(TargetKind::Line, &l.id, "removed_from_config"));
            }
        }
        for d in &self.inventory.devices {
            if old.device(&d.name).is_none() {
                out.push(unknown(TargetKind::Device, &d.name, "monitoring_started"));
            }
        }
        for l in &self.inventory.lines {
            let same_device = old.line(&l.id).is_some_and(|o| o.device == l.device);
            if same_device {
                continue;
            }
            let state = self
                .inventory
                .device_index(&l.device)
                .map_or(State::Unknown, |i| self.trackers[i].state());
            let cause = match state {
                State::Down | State::Degraded => Some(format!("device:{}", l.device)),
                State::Unknown => Some("monitoring_started".to_string()),
                _ => None,
            };
            out.push(Transition {
                target: l.id.clone(),
                kind: TargetKind::Line,
                at,
                state,
                cause,
            });
        }
        out
    }

    /// The transitions one observation causes: the device's, and those of
    /// every line ending on it. Empty when nothing changed.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Transition> {
        if obs.generation != self.generation {
            return Vec::new();
        }
        let inventory = Arc::clone(&self.inventory);
        let Some(device) = inventory.devices.get(obs.device) else {
            return Vec::new();
        };
        let Some(settings) = &device.icmp else {
            return Vec::new();
        };
        let class = classify(obs.round.sent, obs.round.received, settings.degraded_loss);
        let reason = match class {
            RoundClass::Failed => obs.round.failure.map(|f| f.as_str()),
            _ => None,
        };
        let parent_down = device.parent.as_deref().filter(|parent| {
            inventory
                .device_index(parent)
                .is_some_and(|i| self.trackers[i].state() == State::Down)
        });
        let thresholds = Thresholds {
            down_after: settings.down_after,
            up_after: settings.up_after,
        };
        let Some(change) =
            self.trackers[obs.device].observe(obs.at, class, reason, parent_down, thresholds)
        else {
            return Vec::new();
        };
        let mut out = vec![Transition {
            target: device.name.clone(),
            kind: TargetKind::Device,
            at: change.at,
            state: change.state,
            cause: change.cause.clone(),
        }];
        for line in inventory.lines_on(obs.device) {
            out.push(Transition {
                target: line.id.clone(),
                kind: TargetKind::Line,
                at: change.at,
                state: change.state,
                cause: (change.state != State::Up).then(|| format!("device:{}", device.name)),
            });
        }
        out
    }

    /// Every configured target goes to unknown at `at` (the daemon stops).
    pub fn stop_all(&mut self, at: Timestamp) -> Vec<Transition> {
        for tracker in &mut self.trackers {
            tracker.reset_unknown();
        }
        self.inventory
            .targets()
            .map(|(kind, name)| Transition {
                target: name.to_string(),
                kind,
                at,
                state: State::Unknown,
                cause: Some("daemon_stopped".into()),
            })
            .collect()
    }
}

/// Receives observations until cancelled, hands transitions to `commit`, and
/// returns the final batch that marks every target unknown at stop time.
pub async fn run(
    mut ledger: Ledger,
    mut inputs: mpsc::Receiver<Input>,
    cancel: CancellationToken,
    mut commit: impl FnMut(Vec<Transition>),
) -> Vec<Transition> {
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            input = inputs.recv() => {
                let transitions = match input {
                    None => break,
                    Some(Input::Observation(obs)) => ledger.observe(&obs),
                    Some(Input::Reload { inventory, generation }) => {
                        ledger.reload(inventory, generation, Timestamp::now())
                    }
                };
                if !transitions.is_empty() {
                    log_changes(&transitions);
                    commit(transitions);
                }
            }
        }
    }
    ledger.stop_all(Timestamp::now())
}

/// Log on change: a target that keeps failing logs here once, when it goes
/// down, and once when it recovers; the failure counters count every round.
fn log_changes(transitions: &[Transition]) {
    for t in transitions {
        let cause = t.cause.as_deref().unwrap_or("");
        match t.state {
            State::Down => tracing::warn!(
                target: "netkpi::ledger",
                kind = t.kind.as_str(), name = %t.target, since = %t.at, cause,
                "{} {} is down", t.kind.as_str(), t.target
            ),
            state => tracing::info!(
                target: "netkpi::ledger",
                kind = t.kind.as_str(), name = %t.target, since = %t.at, state = state.as_str(),
                "{} {} is {}", t.kind.as_str(), t.target, state.as_str()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::FailureKind;

    const CONFIG: &str = r#"
[defaults]
icmp = { interval = "10s", timeout = "1s", count = 3, down_after = 2, up_after = 2 }

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}

[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
parent = "core-r1"
icmp = {}

[[line]]
id = "L-001"
unit = "Finance Bureau"
device = "acc-001"
"#;

    fn ledger() -> Ledger {
        let config = crate::config::load_str(std::path::Path::new("test.toml"), CONFIG)
            .expect("test config is valid");
        Ledger::new(Arc::new(Inventory::new(&config)))
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    fn round(received: u32) -> IcmpRound {
        IcmpRound {
            sent: 3,
            received,
            rtt_min: None,
            rtt_avg: None,
            rtt_max: None,
            jitter: None,
            failure: (received == 0).then_some(FailureKind::Timeout),
        }
    }

    fn obs(device: usize, s: i64, received: u32) -> Observation {
        Observation {
            generation: 0,
            device,
            at: at(s),
            round: round(received),
        }
    }

    #[test]
    fn a_line_follows_its_device_with_the_first_round_stamp() {
        let mut l = ledger();
        let up = l.observe(&obs(1, 0, 3));
        assert_eq!(up.len(), 2);
        assert_eq!(
            (up[1].target.as_str(), up[1].kind, up[1].state),
            ("L-001", TargetKind::Line, State::Up)
        );
        assert!(
            l.observe(&obs(1, 10, 0)).is_empty(),
            "one failed round is not an outage"
        );
        let down = l.observe(&obs(1, 20, 0));
        assert_eq!(down.len(), 2);
        for t in &down {
            assert_eq!((t.state, t.at), (State::Down, at(10)), "{t:?}");
        }
        assert_eq!(down[0].cause.as_deref(), Some("icmp:timeout"));
        assert_eq!(down[1].cause.as_deref(), Some("device:acc-001"));
    }

    #[test]
    fn a_child_behind_a_down_parent_is_down_with_the_parent_as_cause() {
        let mut l = ledger();
        l.observe(&obs(0, 0, 3));
        l.observe(&obs(1, 0, 3));
        l.observe(&obs(0, 10, 0));
        let parent = l.observe(&obs(0, 20, 0));
        assert_eq!(parent[0].state, State::Down);
        l.observe(&obs(1, 11, 0));
        let child = l.observe(&obs(1, 21, 0));
        assert_eq!(child[0].state, State::Down);
        assert_eq!(child[0].cause.as_deref(), Some("parent:core-r1"));
    }

    #[test]
    fn stopping_marks_every_target_unknown() {
        let mut l = ledger();
        l.observe(&obs(0, 0, 3));
        let stop = l.stop_all(at(100));
        assert_eq!(stop.len(), 3);
        assert!(stop.iter().all(|t| t.state == State::Unknown
            && t.at == at(100)
            && t.cause.as_deref() == Some("daemon_stopped")));
        // After a stop, the first answered round brings it straight back up.
        assert_eq!(l.observe(&obs(0, 110, 3))[0].state, State::Up);
    }

    fn inventory(text: &str) -> Arc<Inventory> {
        let config = crate::config::load_str(std::path::Path::new("test.toml"), text)
            .expect("test config is valid");
        Arc::new(Inventory::new(&config))
    }

    #[test]
    fn a_reload_keeps_state_and_accounts_for_added_and_removed_targets() {
        let mut l = ledger();
        l.observe(&obs(0, 0, 3));
        l.observe(&obs(1, 0, 3));
        // core-r1 stays, acc-001 and L-001 go, acc-002 arrives and L-002
        // ends on the (up) core-r1.
        let next = inventory(
            r#"
[defaults]
icmp = { down_after = 2 }

[[device]]
name = "acc-002"
role = "access_egress"
address = "127.0.20.2"
icmp = {}

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}

[[line]]
id = "L-002"
unit = "Tax Office"
device = "core-r1"
"#,
        );
        let changes = l.reload(next, 1, at(50));
        let summary: Vec<(&str, State, Option<&str>)> = changes
            .iter()
            .map(|t| (t.target.as_str(), t.state, t.cause.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("acc-001", State::Unknown, Some("removed_from_config")),
                ("L-001", State::Unknown, Some("removed_from_config")),
                ("acc-002", State::Unknown, Some("monitoring_started")),
                ("L-002", State::Up, None),
            ]
        );
        assert!(changes.iter().all(|t| t.at == at(50)));
        // Observations of the old generation are dropped...
        assert!(l.observe(&obs(0, 60, 0)).is_empty());
        // ...and core-r1 (now index 1) kept its state: one failed round of the
        // new generation does not confirm anything, two do.
        let mut fail = |s| {
            l.observe(&Observation {
                generation: 1,
                ..obs(1, s, 0)
            })
        };
        assert!(fail(70).is_empty());
        let down = fail(80);
        assert_eq!(
            down.iter()
                .map(|t| (t.target.as_str(), t.state))
                .collect::<Vec<_>>(),
            [("core-r1", State::Down), ("L-002", State::Down)]
        );
    }

    #[test]
    fn an_unknown_device_index_is_ignored() {
        let mut l = ledger();
        assert!(l.observe(&obs(7, 0, 3)).is_empty());
    }
}
