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
//! the fresh results of every enabled prober (see `combine`): all failing
//! is a failed round, some failing is degraded (with the failing prober as
//! the cause, e.g. the agent is dead but the box pings), none failing is the
//! worst of what they saw.

pub mod resume;

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alarms::{AlarmEvent, Alarms, TrapSeen};
use crate::config::{builtin, Device, Line};
use crate::energy::{Days, Meters, MAX_GAP_INTERVALS};
use crate::inventory::{timing, Inventory};
use crate::model::{Mark, State, TargetKind, Transition};
pub use crate::probes::Observation;
use crate::probes::Prober;
use crate::state::{RoundClass, Thresholds, Tracker};

/// What the ledger task receives, in order.
#[derive(Debug)]
pub enum Input {
    Observation(Observation),
    /// A trap from a polled device: trap alarms are judged on it (it
    /// changes no target's state).
    Trap(TrapSeen),
    /// A reloaded config is in force from now on.
    Reload {
        inventory: Arc<Inventory>,
        generation: u64,
    },
}

/// A prober's latest round on one device.
#[derive(Clone, Debug)]
struct Latest {
    at: Timestamp,
    class: RoundClass,
    cause: Option<String>,
}

/// What the ledger keeps of one prober of one device.
#[derive(Clone, Debug, Default)]
struct ProberLedger {
    latest: Option<Latest>,
    /// The first round of this prober's current run of failed rounds.
    failing_since: Option<Timestamp>,
}

#[derive(Clone, Debug)]
struct DeviceLedger {
    tracker: Tracker,
    /// When the current recorded state began (the stamp of its transition).
    since: Timestamp,
    /// The cause recorded for the current state.
    cause: Option<String>,
    /// While down: what the device's own probes said (its cause whenever
    /// its parent does not explain the outage).
    own_cause: Option<String>,
    probers: [ProberLedger; Prober::ALL.len()],
    /// ifName → oper up, from the latest successful SNMP poll; kept only
    /// while a line watches an interface of the device (nothing else reads
    /// them, and 10,000 switches would keep 240,000 names for nothing).
    interfaces: Vec<(String, bool)>,
    interfaces_at: Option<Timestamp>,
    /// When this device entered the config in force: no round of it can be
    /// stamped earlier.
    watched_since: Timestamp,
}

impl DeviceLedger {
    fn new(at: Timestamp) -> DeviceLedger {
        DeviceLedger {
            tracker: Tracker::default(),
            since: at,
            cause: None,
            own_cause: None,
            probers: Default::default(),
            interfaces: Vec::new(),
            interfaces_at: None,
            watched_since: at,
        }
    }
}

/// How long a prober's latest result counts for the device's state: two
/// intervals and the time one round may take, so one late round does not
/// drop a prober from the combination but a prober that stopped does.
fn fresh_for(device: &Device, prober: Prober) -> Option<Duration> {
    timing(device, prober).map(|t| t.interval * 2 + t.round_max)
}

/// One interval of a prober and the longest its round may take: a failure
/// that this prober sees no later than this after another event is the
/// same event seen on the next round.
fn one_round(device: &Device, prober: Prober) -> Option<Duration> {
    timing(device, prober).map(|t| t.interval + t.round_max)
}

fn is_fresh(latest: &Latest, now: Timestamp, window: Duration) -> bool {
    let age = now.duration_since(latest.at);
    age < SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX)
}

fn plus(at: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
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

/// One prober's fresh result as [`combine`] weighs it.
struct Evidence<'a> {
    latest: &'a Latest,
    failing_since: Option<Timestamp>,
}

/// The round fed to the state machine: the combination of every enabled
/// prober's fresh result, and the cause to record.
///
/// A success is evidence that the device still partly works only if it was
/// taken after every failing prober's run of failures began: a slow prober's
/// last success from before a total outage says nothing about the outage,
/// which is down from the first failed round of whichever prober saw it
/// first. A device that really answers one prober and not the other (it
/// pings, its SNMP agent is dead) is degraded.
fn combine(results: &[Evidence]) -> Option<(RoundClass, Option<String>)> {
    if results.is_empty() {
        return None;
    }
    let causes = |rs: &[&Evidence]| {
        let joined: Vec<&str> = rs
            .iter()
            .filter_map(|r| r.latest.cause.as_deref())
            .collect();
        (!joined.is_empty()).then(|| joined.join("+"))
    };
    let (failed, answered): (Vec<&Evidence>, Vec<&Evidence>) = results
        .iter()
        .partition(|r| r.latest.class == RoundClass::Failed);
    if !failed.is_empty() {
        let failing_since = failed
            .iter()
            .map(|r| r.failing_since.unwrap_or(r.latest.at))
            .max();
        let partly_working = answered
            .iter()
            .any(|r| failing_since.is_none_or(|since| r.latest.at >= since));
        let class = if partly_working {
            RoundClass::Degraded
        } else {
            RoundClass::Failed
        };
        return Some((class, causes(&failed)));
    }
    let degraded: Vec<&Evidence> = answered
        .into_iter()
        .filter(|r| r.latest.class == RoundClass::Degraded)
        .collect();
    if degraded.is_empty() {
        Some((RoundClass::Good, None))
    } else {
        Some((RoundClass::Degraded, causes(&degraded)))
    }
}

/// The cause a reload or a stop records for a target it takes to unknown:
/// when a run was being confirmed, its time is unknown from its first round,
/// never the old state.
const CAUSE_UNRESOLVED: &str = "unresolved_at_stop";

pub struct Ledger {
    inventory: Arc<Inventory>,
    generation: u64,
    /// Every (device, alarm)'s state.
    alarms: Alarms,
    /// Each UPS's latest power reading, and the energy metered since the
    /// last hand-over to the store writer.
    meters: Meters,
    energy: Days,
    devices: Vec<DeviceLedger>,
    /// Each line's recorded state and cause, by line index.
    lines: Vec<(State, Option<String>)>,
    /// Device indexes by parent device index.
    children: Vec<Vec<usize>>,
}

fn children_of(inventory: &Inventory) -> Vec<Vec<usize>> {
    let mut children = vec![Vec::new(); inventory.devices.len()];
    for (i, d) in inventory.devices.iter().enumerate() {
        if let Some(p) = d.parent.as_deref().and_then(|p| inventory.device_index(p)) {
            children[p].push(i);
        }
    }
    children
}

impl Ledger {
    /// A ledger for `inventory`, watching from `at` on.
    pub fn new(inventory: Arc<Inventory>, at: Timestamp) -> Ledger {
        let devices = vec![DeviceLedger::new(at); inventory.devices.len()];
        let lines = vec![(State::Unknown, None); inventory.lines.len()];
        let children = children_of(&inventory);
        Ledger {
            inventory,
            generation: 0,
            alarms: Alarms::new(),
            meters: Meters::new(),
            energy: Days::new(),
            devices,
            lines,
            children,
        }
    }

    /// Starts the alarms of `open` (device, alarm name) raised: their
    /// incidents are open from before a restart, so each clears once the
    /// rounds show its condition clear for its `hold`. Returns the clearing
    /// of those the config no longer watches (at `at`).
    pub fn resume_alarms(
        &mut self,
        open: impl IntoIterator<Item = (String, String)>,
        at: Timestamp,
    ) -> Vec<AlarmEvent> {
        self.alarms.resume(open);
        let inventory = &self.inventory;
        self.alarms
            .retain(&inventory.devices, &inventory.alarms, at)
    }

    /// The alarms that fired or cleared with an SNMP round (see
    /// [`crate::alarms`]); nothing for a round of another prober or of an
    /// older config.
    pub fn judge_alarms(&mut self, obs: &Observation) -> Vec<AlarmEvent> {
        let Some(samples) = &obs.samples else {
            return Vec::new();
        };
        if obs.generation != self.generation || self.inventory.alarms.is_empty() {
            return Vec::new();
        }
        let Some(device) = self.inventory.devices.get(obs.device) else {
            return Vec::new();
        };
        self.alarms
            .round(device, &self.inventory.alarms, obs.at, samples)
    }

    /// The trap alarms that a trap raised or cleared (see
    /// [`crate::alarms`]); nothing for a device the config no longer has.
    pub fn judge_trap(&mut self, trap: &TrapSeen) -> Vec<AlarmEvent> {
        let inventory = &self.inventory;
        let Some(device) = inventory.devices.iter().find(|d| d.name == trap.device) else {
            return Vec::new();
        };
        self.alarms.trap(device, &inventory.alarms, trap)
    }

    /// Meters the power an SNMP round of the current config read (see
    /// [`crate::energy`]): a round that answered integrates from the
    /// device's previous reading (or, without power, ends its run); a
    /// failed round is skipped over.
    pub fn meter_energy(&mut self, obs: &Observation) {
        if obs.generation != self.generation
            || obs.prober != Prober::Snmp
            || obs.round.class == RoundClass::Failed
        {
            return;
        }
        let Some(device) = self.inventory.devices.get(obs.device) else {
            return;
        };
        let Some(snmp) = timing(device, Prober::Snmp) else {
            return;
        };
        if let Some(power) = obs.round.power {
            tracing::debug!(
                target: "netkpi::energy",
                device = %device.name, at = %obs.at, watts = power.watts, apparent = power.apparent,
                "output power read"
            );
        }
        self.meters.answered(
            &device.name,
            obs.at,
            obs.round.power,
            snmp.interval * MAX_GAP_INTERVALS,
            &self.inventory.timezone,
            &mut self.energy,
        );
    }

    /// The energy metered since the last call, for the store writer.
    pub fn take_energy(&mut self) -> Days {
        std::mem::take(&mut self.energy)
    }

    /// Puts a reloaded inventory in force at `at`, keeping the state of every
    /// target that is still configured. Returns the transitions the change
    /// itself causes: targets no longer configured become unknown (from the
    /// first round of a run still being confirmed, if any), new ones start
    /// unknown, and a line whose far-end device or interface changed takes
    /// its new state.
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
        self.children = children_of(&self.inventory);
        let inventory = &self.inventory;
        self.meters.retain(|d| inventory.device(d).is_some());
        let unresolved_at = |i: usize| old_devices[i].tracker.pending_since();
        let unknown = |kind, name: &str, since: Option<Timestamp>, cause: &str| Transition {
            target: name.to_string(),
            kind,
            at: since.map_or(at, |s| s.min(at)),
            state: State::Unknown,
            cause: Some(cause.to_string()),
        };
        let mut out = Vec::new();
        for (i, d) in old.devices.iter().enumerate() {
            if self.inventory.device(&d.name).is_none() {
                out.push(unknown(
                    TargetKind::Device,
                    &d.name,
                    unresolved_at(i),
                    "removed_from_config",
                ));
            }
        }
        for l in old.lines.iter() {
            if self.inventory.line(&l.id).is_none() {
                let since = old.device_index(&l.device).and_then(unresolved_at);
                out.push(unknown(
                    TargetKind::Line,
                    &l.id,
                    since,
                    "removed_from_config",
                ));
            }
        }
        self.devices = self
            .inventory
            .devices
            .iter()
            .map(|d| {
                old.device_index(&d.name).map_or_else(
                    || DeviceLedger::new(at),
                    |i| std::mem::replace(&mut old_devices[i], DeviceLedger::new(at)),
                )
            })
            .collect();
        // A device no line watches any more keeps no interfaces; one that a
        // line watches from now on has them from its next SNMP poll.
        for (di, entry) in self.devices.iter_mut().enumerate() {
            if self.inventory.lines_watched_on(di).is_empty() {
                entry.interfaces = Vec::new();
                entry.interfaces_at = None;
            }
        }
        self.lines = self
            .inventory
            .lines
            .iter()
            .map(|l| {
                old.line_index(&l.id)
                    .map_or((State::Unknown, None), |i| old_lines[i].clone())
            })
            .collect();
        for d in self.inventory.devices.iter() {
            if old.device(&d.name).is_none() {
                out.push(unknown(
                    TargetKind::Device,
                    &d.name,
                    None,
                    "monitoring_started",
                ));
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
            let derived = self.derive_line(l, at);
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

    /// After a reload at `at`: the alarms no longer watched (the alarm or
    /// its device removed) that were raised are cleared at `at`; the others
    /// keep their state.
    pub fn retain_alarms(&mut self, at: Timestamp) -> Vec<AlarmEvent> {
        let inventory = &self.inventory;
        self.alarms
            .retain(&inventory.devices, &inventory.alarms, at)
    }

    /// Records one prober's round; false when the device has no such
    /// prober (a round of a config that changed since).
    fn record(&mut self, obs: &Observation, device: &Device) -> bool {
        if timing(device, obs.prober).is_none() {
            return false;
        }
        let watched = !self.inventory.lines_watched_on(obs.device).is_empty();
        let entry = &mut self.devices[obs.device];
        if let Some(interfaces) = obs.round.interfaces.as_ref().filter(|_| watched) {
            entry.interfaces = interfaces.clone();
            entry.interfaces_at = Some(obs.at);
        }
        let slot = &mut entry.probers[obs.prober.index()];
        slot.failing_since = match obs.round.class {
            RoundClass::Failed => Some(slot.failing_since.unwrap_or(obs.at)),
            _ => None,
        };
        slot.latest = Some(Latest {
            at: obs.at,
            class: obs.round.class,
            cause: obs.round.cause.clone(),
        });
        true
    }

    /// The transitions one observation causes: the device's, those of every
    /// line it explains (ending on it, or watched on its interface), and the
    /// cause updates of its children when it goes down or comes back. Empty
    /// when nothing changed.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Transition> {
        if obs.generation != self.generation {
            return Vec::new();
        }
        let inventory = Arc::clone(&self.inventory);
        let Some(device) = inventory.devices.get(obs.device) else {
            return Vec::new();
        };
        if !self.record(obs, device) {
            return Vec::new();
        }
        let prober = obs.prober;

        let entry = &self.devices[obs.device];
        let own = &entry.probers[prober.index()];
        // A success taken before another prober's failures began is old news
        // (a slow poll that finished late): it tells nothing about now, so it
        // is no round at all.
        let stale_success = own.failing_since.is_none()
            && Prober::ALL.iter().any(|&p| {
                p != prober
                    && entry.probers[p.index()]
                        .failing_since
                        .is_some_and(|since| obs.at < since)
            });
        if stale_success {
            return self.update_lines(obs.device, obs.at);
        }
        let results: Vec<Evidence> = Prober::ALL
            .into_iter()
            .filter_map(|p| {
                let window = fresh_for(device, p)?;
                let slot = &entry.probers[p.index()];
                let latest = slot
                    .latest
                    .as_ref()
                    .filter(|l| is_fresh(l, obs.at, window))?;
                Some(Evidence {
                    latest,
                    failing_since: slot.failing_since,
                })
            })
            .collect();
        let Some((class, cause)) = combine(&results) else {
            return Vec::new();
        };
        let change = self.devices[obs.device].tracker.observe(
            obs.at,
            class,
            cause.as_deref(),
            thresholds(device),
        );
        let mut out = Vec::new();
        let mut line_time = obs.at;
        if let Some(change) = change {
            line_time = change.at;
            let recorded = match change.state {
                State::Degraded => cause,
                State::Down => {
                    self.devices[obs.device].own_cause = change.cause.clone();
                    match self.explaining_parent(obs.device, change.at) {
                        Some(parent) => Some(format!("parent:{parent}")),
                        None => change.cause,
                    }
                }
                _ => change.cause,
            };
            let entry = &mut self.devices[obs.device];
            entry.since = change.at;
            entry.cause = recorded.clone();
            if change.state != State::Down {
                entry.own_cause = None;
            }
            out.push(Transition {
                target: device.name.clone(),
                kind: TargetKind::Device,
                at: change.at,
                state: change.state,
                cause: recorded,
            });
            out.extend(self.relink_children(obs.device, change.state, change.at));
        }
        out.extend(self.update_lines(obs.device, line_time));
        out
    }

    /// The parent whose outage explains an outage of device `di` that began
    /// at `since`: the parent is down, and its outage (stamped at its first
    /// failed round) began no later than one of its rounds after `since`.
    /// Decided by what happened, not by which probe happened to run first.
    fn explaining_parent(&self, di: usize, since: Timestamp) -> Option<&str> {
        let parent = self.inventory.devices[di].parent.as_deref()?;
        let pi = self.inventory.device_index(parent)?;
        let p = &self.devices[pi];
        let slack = Prober::ALL
            .into_iter()
            .filter_map(|pr| one_round(&self.inventory.devices[pi], pr))
            .min()?;
        (p.tracker.state() == State::Down && p.since <= plus(since, slack)).then_some(parent)
    }

    /// After device `di` went to `state` at `at`: a down child whose own
    /// outage this one explains now names it as its cause (stamped at the
    /// child's outage, which it explains); when `di` comes back, a child
    /// still down takes its own cause again from `at`. A cause update is a
    /// transition to the same state: the same outage, not a new one.
    fn relink_children(&mut self, di: usize, state: State, at: Timestamp) -> Vec<Transition> {
        let name = self.inventory.devices[di].name.clone();
        let linked = format!("parent:{name}");
        let mut out = Vec::new();
        for ci in self.children[di].clone() {
            let child = &self.devices[ci];
            if child.tracker.state() != State::Down {
                continue;
            }
            let update = match state {
                State::Down => (child.cause.as_deref() != Some(linked.as_str())
                    && self.explaining_parent(ci, child.since).is_some())
                .then(|| (child.since, Some(linked.clone()))),
                _ => (child.cause.as_deref() == Some(linked.as_str()))
                    .then(|| (at, child.own_cause.clone())),
            };
            if let Some((when, cause)) = update {
                let child = &mut self.devices[ci];
                child.cause = cause.clone();
                out.push(Transition {
                    target: self.inventory.devices[ci].name.clone(),
                    kind: TargetKind::Device,
                    at: when,
                    state: State::Down,
                    cause,
                });
            }
        }
        out
    }

    /// Re-derives every line device `di` explains.
    fn update_lines(&mut self, di: usize, at: Timestamp) -> Vec<Transition> {
        let inventory = Arc::clone(&self.inventory);
        inventory
            .lines_on(di)
            .iter()
            .chain(inventory.lines_watched_on(di))
            .filter_map(|&li| self.update_line(li, at))
            .collect()
    }

    /// Re-derives a line's state from its far-end device and its watched
    /// interface; a transition at `at` when it changed.
    fn update_line(&mut self, li: usize, at: Timestamp) -> Option<Transition> {
        let inventory = Arc::clone(&self.inventory);
        let line = &inventory.lines[li];
        let (state, cause) = self.derive_line(line, at);
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

    fn derive_line(&self, line: &Line, now: Timestamp) -> (State, Option<String>) {
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
            if !is_fresh(&last_ok, now.max(at), window) {
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

    /// How far device `di`'s recorded state is settled (see [`Mark`]): the
    /// start of the latest round of its slowest prober (a round still in
    /// flight starts later), or the first round of a run being confirmed.
    fn device_settled(&self, di: usize) -> Timestamp {
        let entry = &self.devices[di];
        let device = &self.inventory.devices[di];
        let mut until = Prober::ALL
            .into_iter()
            .filter(|&p| fresh_for(device, p).is_some())
            .map(|p| {
                entry.probers[p.index()]
                    .latest
                    .as_ref()
                    .map_or(entry.watched_since, |l| l.at)
            })
            .min()
            .unwrap_or(entry.watched_since);
        if let Some(pending) = entry.tracker.pending_since() {
            until = until.min(pending);
        }
        until
    }

    fn line_settled(&self, line: &Line) -> Option<Timestamp> {
        let device = self.device_settled(self.inventory.device_index(&line.device)?);
        let watched = line
            .interface
            .as_ref()
            .and_then(|i| self.inventory.device_index(&i.device))
            .map(|di| self.device_settled(di));
        Some(watched.map_or(device, |w| w.min(device)))
    }

    /// The settled point of every configured target.
    pub fn marks(&self) -> Vec<Mark> {
        let inventory = &self.inventory;
        let devices = inventory.devices.iter().enumerate().map(|(di, d)| Mark {
            kind: TargetKind::Device,
            target: d.name.clone(),
            until: self.device_settled(di),
        });
        let lines = inventory.lines.iter().filter_map(|l| {
            Some(Mark {
                kind: TargetKind::Line,
                target: l.id.clone(),
                until: self.line_settled(l)?,
            })
        });
        devices.chain(lines).collect()
    }

    /// The settled points of the targets `transitions` name, written with
    /// them: after a crash a confirmed outage keeps the time its
    /// confirmation observed.
    pub fn marks_for(&self, transitions: &[Transition]) -> Vec<Mark> {
        let mut out: Vec<Mark> = Vec::new();
        for t in transitions {
            if out.iter().any(|m| m.kind == t.kind && m.target == t.target) {
                continue;
            }
            let until = match t.kind {
                TargetKind::Device => self
                    .inventory
                    .device_index(&t.target)
                    .map(|di| self.device_settled(di)),
                TargetKind::Line => self
                    .inventory
                    .line(&t.target)
                    .and_then(|l| self.line_settled(l)),
            };
            if let Some(until) = until {
                out.push(Mark {
                    kind: t.kind,
                    target: t.target.clone(),
                    until,
                });
            }
        }
        out
    }

    /// Every configured target goes to unknown (the daemon stops): at `at`,
    /// or, for a target whose run was still being confirmed, from that run's
    /// first round (cause `unresolved_at_stop`), never the old state.
    pub fn stop_all(&mut self, at: Timestamp) -> Vec<Transition> {
        let inventory = Arc::clone(&self.inventory);
        let pending: Vec<Option<Timestamp>> = self
            .devices
            .iter()
            .map(|d| d.tracker.pending_since().map(|p| p.min(at)))
            .collect();
        let transition = |kind, name: &str, pending: Option<Timestamp>| Transition {
            target: name.to_string(),
            kind,
            at: pending.unwrap_or(at),
            state: State::Unknown,
            cause: Some(
                if pending.is_some() {
                    CAUSE_UNRESOLVED
                } else {
                    "daemon_stopped"
                }
                .into(),
            ),
        };
        let mut out: Vec<Transition> = inventory
            .devices
            .iter()
            .zip(&pending)
            .map(|(d, &p)| transition(TargetKind::Device, &d.name, p))
            .collect();
        for l in inventory.lines.iter() {
            let p = inventory.device_index(&l.device).and_then(|i| pending[i]);
            out.push(transition(TargetKind::Line, &l.id, p));
        }
        for entry in &mut self.devices {
            *entry = DeviceLedger::new(at);
        }
        for line in &mut self.lines {
            *line = (State::Unknown, None);
        }
        out
    }
}

fn same_interface(a: &Line, b: &Line) -> bool {
    match (&a.interface, &b.interface) {
        (None, None) => true,
        (Some(x), Some(y)) => x.device == y.device && x.name == y.name,
        _ => false,
    }
}

/// Receives observations until cancelled and hands transitions to `commit`
/// with the settled marks of the targets they name and the alarms that
/// fired or cleared, in order; every `mark_every` it hands over every
/// target's mark (the heartbeat that vouches for them) and the energy
/// metered since the last one (so a crash loses at most that much of it).
/// Returns the final batch that marks every target unknown at stop time,
/// after handing over the last energy.
pub async fn run(
    mut ledger: Ledger,
    mut inputs: mpsc::Receiver<Input>,
    cancel: CancellationToken,
    mark_every: Duration,
    mut commit: impl FnMut(Vec<Transition>, Vec<Mark>, Vec<AlarmEvent>, Days),
) -> Vec<Transition> {
    let mut ticks = tokio::time::interval(mark_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = ticks.tick() => {
                let energy = ledger.take_energy();
                commit(Vec::new(), ledger.marks(), Vec::new(), energy);
            }
            input = inputs.recv() => {
                let (transitions, alarms) = match input {
                    None => break,
                    Some(Input::Observation(obs)) => {
                        ledger.meter_energy(&obs);
                        (ledger.observe(&obs), ledger.judge_alarms(&obs))
                    }
                    Some(Input::Trap(trap)) => (Vec::new(), ledger.judge_trap(&trap)),
                    Some(Input::Reload { inventory, generation }) => {
                        let at = Timestamp::now();
                        let transitions = ledger.reload(inventory, generation, at);
                        (transitions, ledger.retain_alarms(at))
                    }
                };
                if !transitions.is_empty() || !alarms.is_empty() {
                    let marks = ledger.marks_for(&transitions);
                    commit(transitions, marks, alarms, Days::new());
                }
            }
        }
    }
    commit(Vec::new(), Vec::new(), Vec::new(), ledger.take_energy());
    ledger.stop_all(Timestamp::now())
}

/// Log on change, once the change is on disk: a target that keeps failing
/// logs once when it goes down and once when it recovers (the failure
/// counters count every round). `previous` is the state recorded before `t`;
/// the same state again is a cause update on the same outage.
pub fn log_committed(t: &Transition, previous: Option<State>) {
    let cause = t.cause.as_deref().unwrap_or("");
    let (kind, name) = (t.kind.as_str(), &t.target);
    if previous == Some(t.state) {
        tracing::info!(
            target: "netkpi::ledger",
            kind, name = %name, since = %t.at, state = t.state.as_str(), cause,
            "{kind} {name} is still {}, cause now {cause}", t.state.as_str()
        );
        return;
    }
    match t.state {
        State::Down => tracing::warn!(
            target: "netkpi::ledger",
            kind, name = %name, since = %t.at, cause,
            "{kind} {name} is down"
        ),
        state => tracing::info!(
            target: "netkpi::ledger",
            kind, name = %name, since = %t.at, state = state.as_str(),
            "{kind} {name} is {}", state.as_str()
        ),
    }
}

#[cfg(test)]
mod tests;
