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
    /// Index into [`Inventory::devices`].
    pub device: usize,
    /// When the round started: the time of its first echo.
    pub at: Timestamp,
    pub round: IcmpRound,
}

pub struct Ledger {
    inventory: Arc<Inventory>,
    trackers: Vec<Tracker>,
}

impl Ledger {
    pub fn new(inventory: Arc<Inventory>) -> Ledger {
        let trackers = inventory.devices.iter().map(|_| Tracker::new()).collect();
        Ledger {
            inventory,
            trackers,
        }
    }

    /// The transitions one observation causes: the device's, and those of
    /// every line ending on it. Empty when nothing changed.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Transition> {
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
                cause: (change.state == State::Down).then(|| format!("device:{}", device.name)),
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
    mut observations: mpsc::Receiver<Observation>,
    cancel: CancellationToken,
    mut commit: impl FnMut(Vec<Transition>),
) -> Vec<Transition> {
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            obs = observations.recv() => {
                let Some(obs) = obs else { break };
                let transitions = ledger.observe(&obs);
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

    #[test]
    fn an_unknown_device_index_is_ignored() {
        let mut l = ledger();
        assert!(l.observe(&obs(7, 0, 3)).is_empty());
    }
}
