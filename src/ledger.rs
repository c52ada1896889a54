//! The ledger task: turns observations into transitions.
//!
//! One task owns every device's [`Tracker`] and every line's state, so a
//! device can consult its parent's state and a line follows its far-end
//! device and its watched interface without locks. It does no I/O:
//! transitions go to the store writer, which announces them (live view,
//! metrics) only after they are on disk.
//!
//! A device may have several probers (ICMP, SNMP). Each observation updates
//! that prober's latest result; the round fed to the state machine combines
//! the fresh results of every enabled prober (SPEC §3, issue 3): all failing
//! is a failed round, some failing is degraded (with the failing prober as
//! the cause, e.g. the agent is dead but the box pings), none failing is the
//! worst of what they saw.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{builtin, Device, Line};
use crate::inventory::Inventory;
use crate::model::{State, TargetKind, Transition};
use crate::probes::icmp::IcmpRound;
use crate::probes::snmp::SnmpFailure;
use crate::state::{classify, RoundClass, Thresholds, Tracker};

/// What one SNMP poll of a device showed.
#[derive(Debug, Default, Clone)]
pub struct SnmpOutcome {
    pub failure: Option<SnmpFailure>,
    /// ifName → ifOperStatus is up(1), for devices polled with `if_mib`.
    pub interfaces: Vec<(String, bool)>,
}

/// What one prober saw in one round.
#[derive(Debug, Clone)]
pub enum Outcome {
    Icmp(IcmpRound),
    Snmp(SnmpOutcome),
}

/// One probe round of one device.
#[derive(Debug)]
pub struct Observation {
    /// The config generation the probing task belongs to; observations from
    /// tasks of an older config (still in flight after a reload) are dropped.
    pub generation: u64,
    /// Index into [`Inventory::devices`] of that generation.
    pub device: usize,
    /// When the round started: the time of its first request.
    pub at: Timestamp,
    pub outcome: Outcome,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prober {
    Icmp = 0,
    Snmp = 1,
}

/// A prober's latest round on one device.
#[derive(Clone, Debug)]
struct Latest {
    at: Timestamp,
    class: RoundClass,
    cause: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct DeviceLedger {
    tracker: Tracker,
    latest: [Option<Latest>; 2],
    /// ifName → oper up, from the latest successful SNMP poll.
    interfaces: Vec<(String, bool)>,
    interfaces_at: Option<Timestamp>,
}

/// How long a prober's latest result counts for the device's state: two
/// intervals and the time one round may take, so one late round does not
/// drop a prober from the combination but a prober that stopped does.
fn fresh_for(device: &Device, prober: Prober) -> Option<Duration> {
    match prober {
        Prober::Icmp => device.icmp.as_ref().map(|s| s.interval * 2 + s.timeout),
        Prober::Snmp => device
            .snmp
            .as_ref()
            .map(|s| s.interval * 2 + s.timeout * (s.retries + 1)),
    }
}

fn is_fresh(latest: &Latest, now: Timestamp, window: Duration) -> bool {
    let age = now.duration_since(latest.at);
    age < SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX)
}

/// Confirmation thresholds: the device's ICMP settings, or the built-in
/// ICMP defaults for a device polled over SNMP only.
fn thresholds(device: &Device) -> Thresholds {
    match &device.icmp {
        Some(s) => Thresholds {
            down_after: s.down_after,
            up_after: s.up_after,
        },
        None => Thresholds {
            down_after: builtin::ICMP_DOWN_AFTER,
            up_after: builtin::ICMP_UP_AFTER,
        },
    }
}

/// The round fed to the state machine: the combination of every enabled
/// prober's fresh result, and the cause to record.
fn combine(results: &[&Latest]) -> Option<(RoundClass, Option<String>)> {
    if results.is_empty() {
        return None;
    }
    let failed: Vec<&&Latest> = results
        .iter()
        .filter(|r| r.class == RoundClass::Failed)
        .collect();
    let causes = |rs: &[&&Latest]| {
        let joined: Vec<&str> = rs.iter().filter_map(|r| r.cause.as_deref()).collect();
        (!joined.is_empty()).then(|| joined.join("+"))
    };
    if failed.len() == results.len() {
        return Some((RoundClass::Failed, causes(&failed)));
    }
    if !failed.is_empty() {
        return Some((RoundClass::Degraded, causes(&failed)));
    }
    let degraded: Vec<&&Latest> = results
        .iter()
        .filter(|r| r.class == RoundClass::Degraded)
        .collect();
    if degraded.is_empty() {
        Some((RoundClass::Good, None))
    } else {
        Some((RoundClass::Degraded, causes(&degraded)))
    }
}

pub struct Ledger {
    inventory: Arc<Inventory>,
    generation: u64,
    devices: Vec<DeviceLedger>,
    /// Each line's committed-to-be state and cause, by line index.
    lines: Vec<(State, Option<String>)>,
}

impl Ledger {
    pub fn new(inventory: Arc<Inventory>) -> Ledger {
        let devices = vec![DeviceLedger::default(); inventory.devices.len()];
        let lines = vec![(State::Unknown, None); inventory.lines.len()];
        Ledger {
            inventory,
            generation: 0,
            devices,
            lines,
        }
    }

    /// Puts a reloaded inventory in force at `at`, keeping the state of every
    /// target that is still configured. Returns the transitions the change
    /// itself causes: targets no longer configured become unknown, new ones
    /// start unknown, and a line whose far-end device or interface changed
    /// takes its new state.
    pub fn reload(
        &mut self,
        inventory: Arc<Inventory>,
        generation: u64,
        at: Timestamp,
    ) -> Vec<Transition> {
        let old = std::mem::replace(&mut self.inventory, inventory);
        let mut old_devices = std::mem::take(&mut self.devices);
        let old_lines = std::mem::take(&mut self.lines);
        self.generation = generation;
        self.devices = self
            .inventory
            .devices
            .iter()
            .map(|d| {
                old.device_index(&d.name)
                    .map(|i| std::mem::take(&mut old_devices[i]))
                    .unwrap_or_default()
            })
            .collect();
        self.lines = self
            .inventory
            .lines
            .iter()
            .map(|l| {
                old.line_index(&l.id)
                    .map_or((State::Unknown, None), |i| old_lines[i].clone())
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
        let inventory = Arc::clone(&self.inventory);
        for (li, l) in inventory.lines.iter().enumerate() {
            if old
                .line(&l.id)
                .is_some_and(|o| o.device == l.device && same_interface(o, l))
            {
                continue;
            }
            // New, or now explained by another device or interface: it takes
            // the state those give it from now on.
            let derived = self.derive_line(l);
            self.lines[li] = derived.clone();
            let (state, cause) = match derived {
                (State::Unknown, _) => (State::Unknown, Some("monitoring_started".to_string())),
                derived => derived,
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
    /// every line it explains (ending on it, or watched on its interface).
    /// Empty when nothing changed.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Transition> {
        if obs.generation != self.generation {
            return Vec::new();
        }
        let inventory = Arc::clone(&self.inventory);
        let Some(device) = inventory.devices.get(obs.device) else {
            return Vec::new();
        };
        let (prober, latest) = match &obs.outcome {
            Outcome::Icmp(round) => {
                let Some(settings) = &device.icmp else {
                    return Vec::new();
                };
                let class = classify(round.sent, round.received, settings.degraded_loss);
                let cause = match class {
                    RoundClass::Failed => Some(format!(
                        "icmp:{}",
                        round.failure.map_or("no_answer", |f| f.as_str())
                    )),
                    RoundClass::Degraded => Some("icmp:loss".to_string()),
                    RoundClass::Good => None,
                };
                (
                    Prober::Icmp,
                    Latest {
                        at: obs.at,
                        class,
                        cause,
                    },
                )
            }
            Outcome::Snmp(snmp) => {
                if device.snmp.is_none() {
                    return Vec::new();
                }
                let (class, cause) = match snmp.failure {
                    Some(f) => (RoundClass::Failed, Some(format!("snmp:{}", f.as_str()))),
                    None => (RoundClass::Good, None),
                };
                if snmp.failure.is_none() {
                    let entry = &mut self.devices[obs.device];
                    entry.interfaces = snmp.interfaces.clone();
                    entry.interfaces_at = Some(obs.at);
                }
                (
                    Prober::Snmp,
                    Latest {
                        at: obs.at,
                        class,
                        cause,
                    },
                )
            }
        };
        self.devices[obs.device].latest[prober as usize] = Some(latest);

        let entry = &self.devices[obs.device];
        let results: Vec<&Latest> = [Prober::Icmp, Prober::Snmp]
            .into_iter()
            .filter_map(|p| {
                let window = fresh_for(device, p)?;
                entry.latest[p as usize]
                    .as_ref()
                    .filter(|l| is_fresh(l, obs.at, window))
            })
            .collect();
        let Some((class, cause)) = combine(&results) else {
            return Vec::new();
        };
        let parent_down = device.parent.as_deref().filter(|parent| {
            inventory
                .device_index(parent)
                .is_some_and(|i| self.devices[i].tracker.state() == State::Down)
        });
        let change = self.devices[obs.device].tracker.observe(
            obs.at,
            class,
            cause.as_deref(),
            parent_down,
            thresholds(device),
        );
        let mut out = Vec::new();
        let mut line_time = obs.at;
        if let Some(change) = change {
            line_time = change.at;
            let cause = match change.state {
                State::Degraded => cause,
                _ => change.cause,
            };
            out.push(Transition {
                target: device.name.clone(),
                kind: TargetKind::Device,
                at: change.at,
                state: change.state,
                cause,
            });
        }
        let affected: Vec<usize> = inventory
            .lines_on(obs.device)
            .iter()
            .chain(inventory.lines_watched_on(obs.device))
            .copied()
            .collect();
        for li in affected {
            out.extend(self.update_line(li, line_time));
        }
        out
    }

    /// Re-derives a line's state from its far-end device and its watched
    /// interface (SPEC §3); a transition at `at` when it changed.
    fn update_line(&mut self, li: usize, at: Timestamp) -> Option<Transition> {
        let inventory = Arc::clone(&self.inventory);
        let line = &inventory.lines[li];
        let (state, cause) = self.derive_line(line);
        if (state, &cause) == (self.lines[li].0, &self.lines[li].1) {
            return None;
        }
        self.lines[li] = (state, cause.clone());
        Some(Transition {
            target: line.id.clone(),
            kind: TargetKind::Line,
            at,
            state,
            cause,
        })
    }

    fn derive_line(&self, line: &Line) -> (State, Option<String>) {
        let device_state = self
            .inventory
            .device_index(&line.device)
            .map_or(State::Unknown, |i| self.devices[i].tracker.state());
        let interface_up = line.interface.as_ref().and_then(|iface| {
            let di = self.inventory.device_index(&iface.device)?;
            let entry = &self.devices[di];
            let device = &self.inventory.devices[di];
            let at = entry.interfaces_at?;
            let window = fresh_for(device, Prober::Snmp)?;
            let last_ok = Latest {
                at,
                class: RoundClass::Good,
                cause: None,
            };
            if !is_fresh(&last_ok, Timestamp::now().max(at), window) {
                return None;
            }
            entry
                .interfaces
                .iter()
                .find(|(name, _)| *name == iface.name)
                .map(|(_, up)| *up)
        });
        let device_cause = || Some(format!("device:{}", line.device));
        match (interface_up, device_state) {
            (Some(false), _) => {
                let iface = line.interface.as_ref().map_or(String::new(), |i| {
                    format!("interface:{}/{}", i.device, i.name)
                });
                (State::Down, Some(iface))
            }
            (_, State::Down) => (State::Down, device_cause()),
            (_, State::Degraded) => (State::Degraded, device_cause()),
            (_, State::Up) => (State::Up, None),
            (Some(true), _) => (State::Up, None),
            (None, _) => (State::Unknown, None),
        }
    }

    /// Every configured target goes to unknown at `at` (the daemon stops).
    pub fn stop_all(&mut self, at: Timestamp) -> Vec<Transition> {
        for entry in &mut self.devices {
            *entry = DeviceLedger::default();
        }
        for line in &mut self.lines {
            *line = (State::Unknown, None);
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

fn same_interface(a: &Line, b: &Line) -> bool {
    match (&a.interface, &b.interface) {
        (None, None) => true,
        (Some(x), Some(y)) => x.device == y.device && x.name == y.name,
        _ => false,
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
            outcome: Outcome::Icmp(round(received)),
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
