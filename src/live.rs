//! The live view: what the ledger has durably committed, plus the latest probe
//! figures. Written by the store writer after each commit (so nothing shows
//! here before it is on disk) and by the ledger for RTT and loss; read by the
//! metrics collector and the HTTP API.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;

use crate::availability;
use crate::inventory::Inventory;
use crate::model::{Mark, Span, State, TargetKind, Transition};
use crate::probes::snmp::profile::Sample;
use crate::probes::snmp::traps::TrapEvent;
use crate::store::Histories;

/// Seconds spent in each state, indexed like [`State::ALL`].
pub type StateSeconds = [f64; 5];

fn state_index(state: State) -> usize {
    State::ALL
        .iter()
        .position(|&s| s == state)
        .unwrap_or(State::ALL.len() - 1)
}

/// Milliseconds per state, indexed like [`State::ALL`]: integers, so the
/// counters are exact sums and can only grow.
type StateMillis = [i64; 5];

/// Adds `[from, to)` in `state` to `acc`, with maintenance windows taken out
/// as the config in force has them. Nothing when `to <= from`: a counter
/// only ever grows.
fn count_span(
    acc: &mut StateMillis,
    state: State,
    from: Timestamp,
    to: Timestamp,
    maintenance: &[Span],
) {
    if to <= from {
        return;
    }
    let f = availability::compute(&[(from, state)], from, to, to, maintenance);
    let ms = |s: f64| (s * 1000.0).round() as i64;
    acc[state_index(State::Up)] += ms(f.up_s);
    acc[state_index(State::Degraded)] += ms(f.degraded_s);
    acc[state_index(State::Down)] += ms(f.down_s);
    acc[state_index(State::Unknown)] += ms(f.unknown_s);
    acc[state_index(State::Maintenance)] += ms(f.maintenance_s);
}

#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// The committed ledger state (never `Maintenance`).
    pub state: State,
    pub since: Timestamp,
    pub cause: Option<String>,
    /// Milliseconds per state that the ledger holds durably, up to
    /// `counted_until`: the transitions committed, and the marks that vouch
    /// for the current state (see [`crate::model::Mark`]). The
    /// `netkpi_state_seconds_total` counters are exactly this, so they never
    /// show time the ledger might later give to another state.
    counted: StateMillis,
    counted_until: Timestamp,
}

impl TargetStatus {
    /// Counts the current state up to `until` (a committed transition or
    /// mark); time already counted is never counted again nor taken back.
    fn count_until(&mut self, until: Timestamp, maintenance: &[Span]) {
        if until > self.counted_until {
            count_span(
                &mut self.counted,
                self.state,
                self.counted_until,
                until,
                maintenance,
            );
            self.counted_until = until;
        }
    }
}

/// The latest SNMP poll of a device: what its profiles read, or why it
/// failed (then no samples: a value that could not be read is absent, not
/// repeated from an older poll).
#[derive(Clone, Debug, Default)]
pub struct SnmpStatus {
    pub at: Option<Timestamp>,
    /// Wall time of the poll: which device is slow.
    pub duration_seconds: Option<f64>,
    pub failure: Option<&'static str>,
    /// Exactly as long as it needs to be: every device's are kept.
    pub samples: Arc<[Sample]>,
}

/// A received trap as the API shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrapRecord {
    pub received_at: Timestamp,
    pub source: String,
    /// The device it was matched to, if any.
    pub device: Option<String>,
    pub version: &'static str,
    pub inform: bool,
    pub kind: &'static str,
    pub trap_oid: String,
    pub varbinds: Vec<(String, String)>,
}

/// How many received traps the API keeps (the counters count all of them).
const RECENT_TRAPS: usize = 500;

/// The latest ICMP round of a device.
#[derive(Clone, Debug, Default)]
pub struct ProbeStatus {
    pub at: Option<Timestamp>,
    /// Wall time of the round.
    pub duration_seconds: Option<f64>,
    pub rtt_seconds: Option<f64>,
    pub loss_ratio: Option<f64>,
    pub failure: Option<&'static str>,
}

/// A map keyed by target that is looked up by `(kind, &str)` without
/// allocating (it sits on the scrape path, once per target).
#[derive(Debug)]
pub struct ByTarget<V>([HashMap<String, V>; 2]);

impl<V> Default for ByTarget<V> {
    fn default() -> Self {
        ByTarget([HashMap::new(), HashMap::new()])
    }
}

impl<V> ByTarget<V> {
    pub fn get(&self, kind: TargetKind, name: &str) -> Option<&V> {
        self.0[kind as usize].get(name)
    }

    pub fn get_mut(&mut self, kind: TargetKind, name: &str) -> Option<&mut V> {
        self.0[kind as usize].get_mut(name)
    }

    pub fn insert(&mut self, kind: TargetKind, name: String, value: V) {
        self.0[kind as usize].insert(name, value);
    }

    pub fn len(&self) -> usize {
        self.0[0].len() + self.0[1].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (TargetKind, &String, &V)> {
        [TargetKind::Device, TargetKind::Line]
            .into_iter()
            .flat_map(move |kind| self.0[kind as usize].iter().map(move |(n, v)| (kind, n, v)))
    }
}

/// Availability per window of [`availability::WINDOWS`].
pub type WindowRatios = [Option<f64>; 3];

#[derive(Debug, Default)]
struct Inner {
    targets: ByTarget<TargetStatus>,
    probes: HashMap<String, ProbeStatus>,
    snmp: HashMap<String, SnmpStatus>,
    traps: std::collections::VecDeque<TrapRecord>,
    availability: ByTarget<WindowRatios>,
}

#[derive(Debug)]
pub struct Live {
    /// Swapped on a config reload (SIGHUP).
    inventory: RwLock<Arc<Inventory>>,
    inner: RwLock<Inner>,
}

impl Live {
    /// Builds the view from the whole ledger (`histories` from the beginning
    /// of time, `latest` for each target's last cause) at start time `now`,
    /// after the gap since the last run was closed, so the state-seconds
    /// counters survive restarts: the last entry's open span is durable up to
    /// `now`, since nothing in this run can be stamped earlier.
    pub fn from_histories(
        inventory: Arc<Inventory>,
        histories: &Histories,
        latest: &[Transition],
        now: Timestamp,
    ) -> Live {
        let causes: HashMap<(TargetKind, &str), &Option<String>> = latest
            .iter()
            .map(|t| ((t.kind, t.target.as_str()), &t.cause))
            .collect();
        let mut targets = ByTarget::default();
        for ((kind, name), history) in histories {
            let Some(&(first_at, first_state)) = history.first() else {
                continue;
            };
            let maintenance = inventory.maintenance(*kind, name);
            let mut status = TargetStatus {
                state: first_state,
                since: first_at,
                cause: None,
                counted: [0; 5],
                counted_until: first_at,
            };
            for &(at, state) in &history[1..] {
                status.count_until(at, maintenance);
                status.since = status.since.max(at);
                status.state = state;
            }
            status.count_until(now, maintenance);
            status.cause = causes
                .get(&(*kind, name.as_str()))
                .and_then(|c| (*c).clone());
            targets.insert(*kind, name.clone(), status);
        }
        Live {
            inventory: RwLock::new(inventory),
            inner: RwLock::new(Inner {
                targets,
                ..Inner::default()
            }),
        }
    }

    /// The inventory in force.
    pub fn inventory(&self) -> Arc<Inventory> {
        self.inventory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a reloaded inventory in force.
    pub fn set_inventory(&self, inventory: Arc<Inventory>) {
        *self.inventory.write().unwrap_or_else(|e| e.into_inner()) = inventory;
    }

    /// Applies a committed batch and the marks committed with it. Called by
    /// the store writer only. Returns, for each transition, the state the
    /// target had before it (`None` for a target new to the ledger).
    pub fn apply(&self, batch: &[Transition], marks: &[Mark]) -> Vec<Option<State>> {
        let inventory = self.inventory();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut previous = Vec::with_capacity(batch.len());
        for t in batch {
            let maintenance = inventory.maintenance(t.kind, &t.target);
            match inner.targets.get_mut(t.kind, &t.target) {
                Some(status) if status.state == t.state => {
                    // The same state again: a cause update on the same span.
                    previous.push(Some(status.state));
                    status.cause = t.cause.clone();
                }
                Some(status) => {
                    previous.push(Some(status.state));
                    // The old state held until the new one's stamp. A stamp
                    // before what is already counted (a clock step) does
                    // not take counted time back.
                    status.count_until(t.at, maintenance);
                    status.since = status.since.max(t.at);
                    status.state = t.state;
                    status.cause = t.cause.clone();
                }
                None => {
                    previous.push(None);
                    inner.targets.insert(
                        t.kind,
                        t.target.clone(),
                        TargetStatus {
                            state: t.state,
                            since: t.at,
                            cause: t.cause.clone(),
                            counted: [0; 5],
                            counted_until: t.at,
                        },
                    );
                }
            }
        }
        for m in marks {
            if let Some(status) = inner.targets.get_mut(m.kind, &m.target) {
                status.count_until(m.until, inventory.maintenance(m.kind, &m.target));
            }
        }
        previous
    }

    pub fn record_probe(&self, device: &str, status: ProbeStatus) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.probes.insert(device.to_string(), status);
    }

    pub fn record_snmp(&self, device: &str, status: SnmpStatus) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.snmp.insert(device.to_string(), status);
    }

    pub fn record_trap(&self, device: Option<String>, event: &TrapEvent) {
        let record = TrapRecord {
            received_at: event.received_at,
            source: event.source.to_string(),
            device,
            version: event.version.as_str(),
            inform: event.inform,
            kind: event.kind.as_str(),
            trap_oid: event.trap_oid.to_string(),
            varbinds: event
                .varbinds
                .iter()
                .map(|v| (v.oid.to_string(), v.value.as_label()))
                .collect(),
        };
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.traps.len() == RECENT_TRAPS {
            inner.traps.pop_front();
        }
        inner.traps.push_back(record);
    }

    /// The most recent traps, newest first.
    pub fn recent_traps(&self) -> Vec<TrapRecord> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.traps.iter().rev().cloned().collect()
    }

    pub fn snmp(&self, device: &str) -> SnmpStatus {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.snmp.get(device).cloned().unwrap_or_default()
    }

    pub fn probe(&self, device: &str) -> ProbeStatus {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.probes.get(device).cloned().unwrap_or_default()
    }

    /// The committed status of a target; `None` when the ledger has no entry yet.
    pub fn status(&self, kind: TargetKind, name: &str) -> Option<TargetStatus> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.targets.get(kind, name).cloned()
    }

    /// What a user sees now: the ledger state, or `Maintenance` inside a window.
    pub fn displayed_state(
        &self,
        kind: TargetKind,
        name: &str,
        now: Timestamp,
    ) -> (State, Option<Timestamp>) {
        let status = self.status(kind, name);
        let inventory = self.inventory();
        let windows = inventory.maintenance(kind, name);
        if let Some(w) = windows.iter().find(|w| w.start <= now && now < w.end) {
            return (State::Maintenance, Some(w.start));
        }
        match status {
            Some(s) => (s.state, Some(s.since)),
            None => (State::Unknown, None),
        }
    }

    /// Seconds per state for every target, as far as the ledger holds them
    /// durably (see [`TargetStatus`]): never more, so never taken back.
    pub fn state_seconds(&self) -> Vec<(TargetKind, String, StateSeconds)> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .targets
            .iter()
            .map(|(kind, name, status)| {
                (
                    kind,
                    name.clone(),
                    status.counted.map(|ms| ms as f64 / 1000.0),
                )
            })
            .collect()
    }

    /// Replaces the availability figures (computed from the store periodically).
    pub fn set_availability(&self, ratios: ByTarget<WindowRatios>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.availability = ratios;
    }

    pub fn availability(&self, kind: TargetKind, name: &str) -> Option<WindowRatios> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.availability.get(kind, name).copied()
    }

    /// Every target with a ledger entry and its committed state.
    pub fn states(&self) -> Vec<(TargetKind, String, State)> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .targets
            .iter()
            .map(|(k, n, s)| (k, n.clone(), s.state))
            .collect()
    }
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
"#;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    fn t(s: i64, state: State, cause: Option<&str>) -> Transition {
        Transition {
            target: "a".into(),
            kind: TargetKind::Device,
            at: ts(s),
            state,
            cause: cause.map(Into::into),
        }
    }

    fn m(s: i64) -> Mark {
        Mark {
            kind: TargetKind::Device,
            target: "a".into(),
            until: ts(s),
        }
    }

    fn live() -> Live {
        let config = crate::config::load_str(std::path::Path::new("t.toml"), CONFIG).unwrap();
        Live::from_histories(
            Arc::new(Inventory::new(&config)),
            &Histories::new(),
            &[],
            ts(0),
        )
    }

    /// (up, down, unknown) seconds of target "a".
    fn counted(live: &Live) -> (f64, f64, f64) {
        let (_, _, s) = live.state_seconds().pop().unwrap();
        (s[0], s[2], s[3])
    }

    #[test]
    fn counters_count_only_what_is_durable_and_never_go_back() {
        let live = live();
        live.apply(&[t(0, State::Up, None)], &[]);
        assert_eq!(counted(&live), (0.0, 0.0, 0.0), "nothing vouched yet");
        live.apply(&[], &[m(20)]);
        assert_eq!(counted(&live), (20.0, 0.0, 0.0));
        // A failure run pending since 30: the marks hold there, not at now.
        live.apply(&[], &[m(30)]);
        live.apply(&[], &[m(30)]);
        assert_eq!(counted(&live), (30.0, 0.0, 0.0));
        // Confirmed down stamped at 30, with the confirming round's mark.
        live.apply(&[t(30, State::Down, Some("icmp:timeout"))], &[m(50)]);
        assert_eq!(counted(&live), (30.0, 20.0, 0.0));
        // A cause update on the same outage, stamped at its start, changes
        // the cause and nothing counted.
        let before = live.apply(&[t(30, State::Down, Some("parent:core"))], &[]);
        assert_eq!(before, [Some(State::Down)]);
        assert_eq!(counted(&live), (30.0, 20.0, 0.0));
        assert_eq!(
            live.status(TargetKind::Device, "a")
                .unwrap()
                .cause
                .as_deref(),
            Some("parent:core")
        );
        // A stamp before what is counted (a clock step) takes nothing back;
        // a mark going back is ignored.
        live.apply(&[t(40, State::Up, None)], &[m(45)]);
        assert_eq!(counted(&live), (0.0 + 30.0, 20.0, 0.0));
        live.apply(&[], &[m(70)]);
        assert_eq!(counted(&live), (50.0, 20.0, 0.0));
    }

    #[test]
    fn rebuilt_counters_cover_the_ledger_up_to_the_start() {
        let config = crate::config::load_str(std::path::Path::new("t.toml"), CONFIG).unwrap();
        let mut histories = Histories::new();
        histories.insert(
            (TargetKind::Device, "a".into()),
            vec![
                (ts(0), State::Up),
                (ts(10), State::Down),
                (ts(15), State::Unknown),
            ],
        );
        let live = Live::from_histories(
            Arc::new(Inventory::new(&config)),
            &histories,
            &[t(15, State::Unknown, Some("daemon_not_running"))],
            ts(40),
        );
        assert_eq!(counted(&live), (10.0, 5.0, 25.0));
    }
}
