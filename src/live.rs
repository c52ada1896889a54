//! The live view: what the ledger has durably committed, plus the latest probe
//! figures. Written by the store writer after each commit (so nothing shows
//! here before it is on disk) and by the ledger for RTT and loss; read by the
//! metrics collector and the HTTP API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use jiff::Timestamp;

use crate::config::Maintenance;
use crate::incidents::board::Board;
use crate::incidents::Change;
use crate::inventory::Inventory;
use crate::model::{State, TargetKind, Transition};
use crate::probes::snmp::traps::TrapEvent;
use crate::probes::{Prober, Readings};
use crate::report::model::Form;
use crate::tally::{Tallies, Tally};

/// Seconds spent in each state, indexed like [`State::ALL`].
pub type StateSeconds = [f64; 5];

#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// The committed ledger state (never `Maintenance`).
    pub state: State,
    pub since: Timestamp,
    pub cause: Option<String>,
    /// The committed tally: seconds per state as far as the ledger holds
    /// them durably (the `netkpi_state_seconds_total` counters).
    tally: Option<Tally>,
}

/// The latest round of one prober on one device: when, how long it took,
/// why it failed, and what it read.
#[derive(Clone, Debug, Default)]
pub struct RoundStatus {
    pub at: Option<Timestamp>,
    /// Wall time of the round: which device is slow.
    pub duration_seconds: Option<f64>,
    pub failure: Option<&'static str>,
    pub readings: Readings,
}

/// A target's committed status (`None` before its first ledger entry) and
/// its observed change not yet committed, if any.
pub type StatusSnapshot = (Option<TargetStatus>, Option<(State, Timestamp)>);

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

/// How many committed state changes the status page can show.
pub const RECENT_CHANGES: usize = 50;

/// A committed change of a target's state, and the state it left (`None`
/// for a target new to the ledger).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub transition: Transition,
    pub previous: Option<State>,
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
    /// Empty, with room for `devices` and `lines` entries (a table of
    /// 100,000 targets grown by doubling holds the old and the new at once).
    pub fn with_capacity(devices: usize, lines: usize) -> Self {
        let mut maps = [HashMap::new(), HashMap::new()];
        maps[TargetKind::Device as usize].reserve(devices);
        maps[TargetKind::Line as usize].reserve(lines);
        ByTarget(maps)
    }

    pub fn get(&self, kind: TargetKind, name: &str) -> Option<&V> {
        self.0[kind as usize].get(name)
    }

    pub fn get_mut(&mut self, kind: TargetKind, name: &str) -> Option<&mut V> {
        self.0[kind as usize].get_mut(name)
    }

    pub fn insert(&mut self, kind: TargetKind, name: String, value: V) {
        self.0[kind as usize].insert(name, value);
    }

    pub fn remove(&mut self, kind: TargetKind, name: &str) -> Option<V> {
        self.0[kind as usize].remove(name)
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

/// Availability per window of [`crate::availability::WINDOWS`].
pub type WindowRatios = [WindowFigures; crate::availability::WINDOWS.len()];

/// A target's figures over one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowFigures {
    /// `None` when nothing was observed in the window.
    pub availability: Option<f64>,
    /// Observed time ÷ (window − maintenance): how much of the window the
    /// availability stands on.
    pub coverage: Option<f64>,
}

/// Every configured target's [`WindowRatios`] as last recomputed, held
/// with the inventory they were computed for and looked up through its
/// index: no name is copied, and each figure takes 8 bytes (not
/// found = NaN). At 100,000 targets this is 8 MB, where a map keyed by
/// name took 24 MB, and the refresh held the old and the new one at once.
#[derive(Debug)]
pub struct AvailabilityTable {
    inventory: Arc<Inventory>,
    /// Devices, then lines, in the inventory's order: per window,
    /// availability then coverage.
    figures: Vec<[f64; 2 * crate::availability::WINDOWS.len()]>,
}

impl AvailabilityTable {
    /// Every target of `inventory` with nothing observed in any window.
    pub fn new(inventory: Arc<Inventory>) -> Self {
        let n = inventory.devices.len() + inventory.lines.len();
        let mut figures = Vec::new();
        figures.reserve_exact(n);
        figures.resize(n, [f64::NAN; 2 * crate::availability::WINDOWS.len()]);
        AvailabilityTable { inventory, figures }
    }

    fn position(&self, kind: TargetKind, name: &str) -> Option<usize> {
        match kind {
            TargetKind::Device => self.inventory.device_index(name),
            TargetKind::Line => self
                .inventory
                .line_index(name)
                .map(|i| self.inventory.devices.len() + i),
        }
    }

    /// Sets a target's figures; a target not in the inventory is skipped.
    pub fn set(&mut self, kind: TargetKind, name: &str, ratios: WindowRatios) {
        let Some(i) = self.position(kind, name) else {
            return;
        };
        let packed = &mut self.figures[i];
        for (w, f) in ratios.iter().enumerate() {
            packed[2 * w] = f.availability.unwrap_or(f64::NAN);
            packed[2 * w + 1] = f.coverage.unwrap_or(f64::NAN);
        }
    }

    pub fn get(&self, kind: TargetKind, name: &str) -> Option<WindowRatios> {
        let packed = &self.figures[self.position(kind, name)?];
        let some = |v: f64| (!v.is_nan()).then_some(v);
        Some(std::array::from_fn(|w| WindowFigures {
            availability: some(packed[2 * w]),
            coverage: some(packed[2 * w + 1]),
        }))
    }
}

#[derive(Debug, Default)]
struct Inner {
    targets: ByTarget<TargetStatus>,
    /// By prober (its index in [`Prober::ALL`]), then device.
    rounds: [HashMap<String, RoundStatus>; Prober::ALL.len()],
    traps: std::collections::VecDeque<TrapRecord>,
    /// `None` before the first refresh.
    availability: Option<AvailabilityTable>,
    /// Each target's latest observed change not yet committed: shown, so
    /// an operator sees an outage while the disk stalls, but counted
    /// nowhere until it is on disk.
    pending: ByTarget<(State, Timestamp)>,
    /// The latest [`RECENT_CHANGES`] committed state changes since start,
    /// oldest first (cause updates on the same state are left out).
    changes: std::collections::VecDeque<StateChange>,
}

#[derive(Debug)]
pub struct Live {
    /// Swapped on a config reload (SIGHUP).
    inventory: RwLock<Arc<Inventory>>,
    inner: RwLock<Inner>,
    /// The committed incidents (the store writer feeds it).
    incidents: Mutex<Board>,
    /// Planned windows declared through the API: in force on top of
    /// every inventory put in force, a reloaded one included.
    declared: Mutex<Vec<Maintenance>>,
    /// The evaluation form year to date, as last recomputed from the store
    /// (`None` before the first time, and when the config has no form).
    form: RwLock<Option<Arc<Form>>>,
}

impl Live {
    /// The view at start: each target's latest ledger entry and the tallies
    /// the store writer starts from.
    pub fn new(inventory: Arc<Inventory>, latest: &[Transition], tallies: &Tallies) -> Live {
        let mut targets = ByTarget::with_capacity(inventory.devices.len(), inventory.lines.len());
        for t in latest {
            targets.insert(
                t.kind,
                t.target.clone(),
                TargetStatus {
                    state: t.state,
                    since: t.at,
                    cause: t.cause.clone(),
                    tally: tallies.get(&(t.kind, t.target.clone())).cloned(),
                },
            );
        }
        Live {
            inventory: RwLock::new(inventory),
            inner: RwLock::new(Inner {
                targets,
                ..Inner::default()
            }),
            incidents: Mutex::new(Board::default()),
            declared: Mutex::new(Vec::new()),
            form: RwLock::new(None),
        }
    }

    /// Replaces the evaluation form year to date (recomputed periodically).
    pub fn set_form(&self, form: Option<Form>) {
        *self.form.write().unwrap_or_else(|e| e.into_inner()) = form.map(Arc::new);
    }

    pub fn form(&self) -> Option<Arc<Form>> {
        self.form.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The windows declared through the API so far, which the inventory
    /// given to [`Live::new`] already includes (at start, from the store).
    pub fn set_declared(&self, windows: Vec<Maintenance>) {
        *self.declared.lock().unwrap_or_else(|e| e.into_inner()) = windows;
    }

    /// Puts a newly committed window in force.
    pub fn declare(&self, window: Maintenance) {
        let mut declared = self.declared.lock().unwrap_or_else(|e| e.into_inner());
        let mut inventory = (*self.inventory()).clone();
        inventory.add_windows(std::slice::from_ref(&window));
        declared.push(window);
        *self.inventory.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(inventory);
    }

    /// The incidents as committed (see [`Board`]); the deadlines they
    /// passed since the last look are counted first.
    pub fn incidents(&self) -> MutexGuard<'_, Board> {
        let mut board = self.incidents.lock().unwrap_or_else(|e| e.into_inner());
        board.tick(Timestamp::now());
        board
    }

    /// Replaces the board (at start, rebuilt from the store).
    pub fn set_incidents(&self, board: Board) {
        *self.incidents.lock().unwrap_or_else(|e| e.into_inner()) = board;
    }

    /// Applies committed incident changes. Called by the store writer only.
    pub fn apply_incidents(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut board = self.incidents.lock().unwrap_or_else(|e| e.into_inner());
        board.apply(changes, Timestamp::now());
    }

    /// The inventory in force.
    pub fn inventory(&self) -> Arc<Inventory> {
        self.inventory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a reloaded inventory in force, with the declared windows.
    pub fn set_inventory(&self, inventory: Arc<Inventory>) {
        let declared = self.declared.lock().unwrap_or_else(|e| e.into_inner());
        let inventory = if declared.is_empty() {
            inventory
        } else {
            let mut merged = (*inventory).clone();
            merged.add_windows(&declared);
            Arc::new(merged)
        };
        *self.inventory.write().unwrap_or_else(|e| e.into_inner()) = inventory;
    }

    /// Applies a committed batch and the tallies committed with it. Called
    /// by the store writer only. Returns, for each transition, the state the
    /// target had before it (`None` for a target new to the ledger).
    pub fn apply(&self, batch: &[Transition], tallies: &Tallies) -> Vec<Option<State>> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut previous = Vec::with_capacity(batch.len());
        for t in batch {
            match inner.targets.get_mut(t.kind, &t.target) {
                Some(status) => {
                    previous.push(Some(status.state));
                    if status.state != t.state {
                        // A clock step backwards must not move `since` back.
                        status.since = status.since.max(t.at);
                        status.state = t.state;
                    }
                    // The same state again is a cause update on the same span.
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
                            tally: None,
                        },
                    );
                }
            }
        }
        for t in batch {
            // Committed: a pending change up to this one is recorded now.
            let settled = inner
                .pending
                .get(t.kind, &t.target)
                // Whole milliseconds: the ledger keeps no finer stamp.
                .is_some_and(|&(_, at)| at.as_millisecond() <= t.at.as_millisecond());
            if settled {
                inner.pending.remove(t.kind, &t.target);
            }
        }
        for ((kind, name), tally) in tallies {
            if let Some(status) = inner.targets.get_mut(*kind, name) {
                status.tally = Some(tally.clone());
            }
        }
        // Only the last few of a large batch (the first round after start
        // commits every target) can stay: clone no more than those.
        let changed: Vec<usize> = (0..batch.len())
            .filter(|&i| previous[i] != Some(batch[i].state))
            .collect();
        let keep = &changed[changed.len().saturating_sub(RECENT_CHANGES)..];
        for &i in keep {
            if inner.changes.len() == RECENT_CHANGES {
                inner.changes.pop_front();
            }
            inner.changes.push_back(StateChange {
                transition: batch[i].clone(),
                previous: previous[i],
            });
        }
        previous
    }

    /// Notes changes the ledger has observed and handed to the store,
    /// before they are committed.
    pub fn note_pending(&self, batch: &[Transition]) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for t in batch {
            inner
                .pending
                .insert(t.kind, t.target.clone(), (t.state, t.at));
        }
    }

    /// A target's observed change not yet committed, if any.
    pub fn pending(&self, kind: TargetKind, name: &str) -> Option<(State, Timestamp)> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.pending.get(kind, name).copied()
    }

    pub fn record_round(&self, device: &str, prober: Prober, status: RoundStatus) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let rounds = &mut inner.rounds[prober.index()];
        // Replaced in place: thousands of rounds a minute allocate no key.
        match rounds.get_mut(device) {
            Some(round) => *round = status,
            None => {
                rounds.insert(device.to_string(), status);
            }
        }
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

    /// The latest committed state changes (at most [`RECENT_CHANGES`]),
    /// newest first.
    pub fn recent_changes(&self, max: usize) -> Vec<StateChange> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.changes.iter().rev().take(max).cloned().collect()
    }

    /// The latest round of `prober` on `device` (all `None` before the first).
    pub fn round(&self, device: &str, prober: Prober) -> RoundStatus {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.rounds[prober.index()]
            .get(device)
            .cloned()
            .unwrap_or_default()
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
        displayed(&self.inventory(), kind, name, status.as_ref(), now)
    }

    /// The committed status and the pending change of each of `targets`, in
    /// that order, read under one lock (for pages that list every target).
    pub fn statuses<'n>(
        &self,
        targets: impl IntoIterator<Item = (TargetKind, &'n str)>,
    ) -> Vec<StatusSnapshot> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        targets
            .into_iter()
            .map(|(kind, name)| {
                (
                    inner.targets.get(kind, name).cloned(),
                    inner.pending.get(kind, name).copied(),
                )
            })
            .collect()
    }

    /// Seconds per state for every target with a tally, as far as the
    /// ledger holds them durably: never more, so never taken back.
    pub fn state_seconds(&self) -> Vec<(TargetKind, String, StateSeconds)> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .targets
            .iter()
            .filter_map(|(kind, name, status)| {
                Some((kind, name.clone(), status.tally.as_ref()?.seconds()))
            })
            .collect()
    }

    /// Replaces the availability figures (computed from the store periodically).
    pub fn set_availability(&self, table: AvailabilityTable) {
        // The old table is dropped outside the lock.
        let _old = self
            .inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .availability
            .replace(table);
    }

    pub fn availability(&self, kind: TargetKind, name: &str) -> Option<WindowRatios> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.availability.as_ref()?.get(kind, name)
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

/// What a user sees at `now` of a target whose committed status is
/// `status`: its ledger state and since when, or `Maintenance` from the
/// start of a planned window of `inventory` that covers `now`.
pub fn displayed(
    inventory: &Inventory,
    kind: TargetKind,
    name: &str,
    status: Option<&TargetStatus>,
    now: Timestamp,
) -> (State, Option<Timestamp>) {
    let windows = inventory.maintenance(kind, name);
    if let Some(w) = windows.iter().find(|w| w.start <= now && now < w.end) {
        return (State::Maintenance, Some(w.start));
    }
    match status {
        Some(s) => (s.state, Some(s.since)),
        None => (State::Unknown, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(devices: &[&str], lines: &[&str]) -> Arc<Inventory> {
        let mut text = String::new();
        for (i, d) in devices.iter().enumerate() {
            text += &format!(
                "[[device]]\nname = \"{d}\"\nrole = \"access_egress\"\naddress = \"127.0.0.{}\"\nicmp = {{}}\n",
                i + 1
            );
        }
        for l in lines {
            text += &format!(
                "[[line]]\nid = \"{l}\"\nunit = \"u\"\ncarrier = \"c\"\ndevice = \"{}\"\n",
                devices[0]
            );
        }
        let config = crate::config::load_str(std::path::Path::new("t.toml"), &text).unwrap();
        Arc::new(Inventory::new(&config))
    }

    #[test]
    fn the_availability_table_keeps_each_figure_by_target_and_none_as_none() {
        let old = inventory(&["a", "b"], &["L-1"]);
        let ratios = |v: f64| -> WindowRatios {
            std::array::from_fn(|w| WindowFigures {
                availability: (w != 1).then_some(v + w as f64),
                coverage: (w != 2).then_some(v / 2.0),
            })
        };
        let mut table = AvailabilityTable::new(old.clone());
        table.set(TargetKind::Device, "b", ratios(0.25));
        table.set(TargetKind::Line, "L-1", ratios(0.5));
        // Not configured: skipped, not an error.
        table.set(TargetKind::Device, "gone", ratios(0.75));
        let live = Live::new(old, &[], &Tallies::new());
        assert_eq!(live.availability(TargetKind::Device, "a"), None);
        live.set_availability(table);
        assert_eq!(
            live.availability(TargetKind::Device, "b"),
            Some(ratios(0.25))
        );
        assert_eq!(
            live.availability(TargetKind::Line, "L-1"),
            Some(ratios(0.5))
        );
        // A device and a line of the same name are told apart.
        assert_eq!(live.availability(TargetKind::Line, "b"), None);
        assert_eq!(live.availability(TargetKind::Device, "gone"), None);
        let none = [WindowFigures::default(); crate::availability::WINDOWS.len()];
        assert_eq!(live.availability(TargetKind::Device, "a"), Some(none));
        // After a reload that reorders the devices, until the next refresh,
        // a target still configured keeps its own figures.
        live.set_inventory(inventory(&["c", "b", "a"], &["L-1"]));
        assert_eq!(
            live.availability(TargetKind::Device, "b"),
            Some(ratios(0.25))
        );
        assert_eq!(live.availability(TargetKind::Device, "a"), Some(none));
    }

    #[test]
    fn recent_changes_keep_state_changes_only_newest_first_and_bounded() {
        let config = crate::config::load_str(
            std::path::Path::new("t.toml"),
            "[[device]]\nname = \"a\"\nrole = \"router\"\naddress = \"127.0.0.1\"\nicmp = {}\n",
        )
        .unwrap();
        let live = Live::new(Arc::new(Inventory::new(&config)), &[], &Tallies::new());
        let t = |s: i64, state, cause: Option<&str>| Transition {
            target: "a".into(),
            kind: TargetKind::Device,
            at: Timestamp::from_second(1_780_000_000 + s).unwrap(),
            state,
            cause: cause.map(String::from),
        };
        live.apply(&[t(0, State::Up, None)], &Tallies::new());
        live.apply(
            &[
                t(10, State::Down, Some("icmp:timeout")),
                // A cause update on the same span is not a change of state.
                t(11, State::Down, Some("parent:core")),
            ],
            &Tallies::new(),
        );
        let recent = live.recent_changes(10);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].transition.state, State::Down);
        assert_eq!(recent[0].previous, Some(State::Up));
        assert_eq!(recent[1].previous, None);

        let flaps: Vec<Transition> = (0..2 * RECENT_CHANGES as i64)
            .map(|i| t(100 + i, [State::Up, State::Down][i as usize % 2], None))
            .collect();
        live.apply(&flaps, &Tallies::new());
        let recent = live.recent_changes(usize::MAX);
        assert_eq!(recent.len(), RECENT_CHANGES);
        assert_eq!(recent[0].transition, *flaps.last().unwrap());
        assert_eq!(live.recent_changes(20).len(), 20);
    }
}
