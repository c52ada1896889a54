//! The incidents as committed: what the status page, the metrics and the
//! overdue alerts read. Fed by the store writer after each commit, so it
//! never shows an incident a power cut could take back; rebuilt from the
//! store at start, so its counters carry on across restarts.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};

use super::{Change, Incident, Verdict};
use crate::model::{Severity, TargetKind};

/// Upper bounds of the response and restore histograms, in seconds: from a
/// minute to a day.
pub const BUCKETS: [f64; 9] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14_400.0, 28_800.0, 86_400.0,
];

/// How long a restored incident stays on the board (it may still reopen
/// within its flap window, and the status page shows recent ones).
pub const KEEP_RESTORED: SignedDuration = SignedDuration::from_hours(24);

/// Whether `i` is on the board at `now`: open, or restored in the last
/// [`KEEP_RESTORED`].
fn kept(i: &Incident, now: Timestamp) -> bool {
    i.restored_at
        .is_none_or(|r| now.duration_since(r) <= KEEP_RESTORED)
}

/// A histogram of durations in seconds over [`BUCKETS`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Durations {
    /// Observations per bucket (not cumulative); the last is +Inf.
    pub counts: [u64; BUCKETS.len() + 1],
    pub sum: f64,
    pub count: u64,
}

impl Durations {
    /// The bucket `seconds` falls in: the first upper bound at or above
    /// it, [`BUCKETS`]`.len()` (+Inf) above them all.
    pub fn slot(seconds: f64) -> usize {
        BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BUCKETS.len())
    }

    pub fn observe(&mut self, d: SignedDuration) {
        let s = d.as_secs_f64().max(0.0);
        self.counts[Self::slot(s)] += 1;
        self.sum += s;
        self.count += 1;
    }

    /// `(upper bound, observations)` pairs, +Inf last, as encoders take them.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.counts)
            .collect()
    }
}

/// Which deadline an incident missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Deadline {
    Respond,
    Restore,
}

impl Deadline {
    pub fn as_str(self) -> &'static str {
        match self {
            Deadline::Respond => "respond",
            Deadline::Restore => "restore",
        }
    }
}

/// The counters and histograms of every incident ever recorded: the
/// `netkpi_incidents_*` metrics. The store keeps them up to date in each
/// commit (`store::figures`), so a start reads them instead of every
/// incident.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Incidents ever opened, by kind and severity.
    pub opened: HashMap<(TargetKind, Severity), u64>,
    /// Unplanned incidents that missed a deadline, counted once each, when
    /// it became known (at the late acknowledgement or restoration, or when
    /// the deadline passed while open).
    pub breaches: HashMap<(TargetKind, Deadline), u64>,
    /// Times to respond (each acknowledgement) and to restore (each
    /// restoration: a flap restores again), unplanned incidents only.
    pub response: HashMap<TargetKind, Durations>,
    pub restore: HashMap<TargetKind, Durations>,
}

#[derive(Debug, Default)]
pub struct Board {
    /// Open incidents and those restored in the last [`KEEP_RESTORED`].
    current: BTreeMap<u64, Incident>,
    figures: Figures,
    /// Of the current incidents, the deadlines already counted as missed.
    counted: HashMap<u64, Vec<Deadline>>,
}

impl Board {
    /// From every incident and every restoration's kind, planned flag and
    /// time to restore (see [`Board::add_past`] and
    /// [`Board::add_restoration`], which do the same one at a time): the
    /// reference the figures the store keeps must equal ([`Board::resume`]).
    pub fn rebuild(
        all: impl IntoIterator<Item = Incident>,
        restorations: impl IntoIterator<Item = (TargetKind, bool, std::time::Duration)>,
        now: Timestamp,
    ) -> Board {
        let mut board = Board::default();
        for (kind, planned, d) in restorations {
            board.add_restoration(kind, planned, d);
        }
        for i in all {
            board.add_past(i, now);
        }
        board
    }

    /// From the store at start: the figures it keeps up to date, and the
    /// incidents still on the board (open, or restored less than a day
    /// before `now`) with the deadlines those figures already counted as
    /// missed. A deadline that passed while the daemon was down is counted
    /// now, once. Equal to [`Board::rebuild`] over the whole store, without
    /// reading years of incidents.
    pub fn resume(
        figures: Figures,
        on_board: impl IntoIterator<Item = (Incident, Vec<Deadline>)>,
        now: Timestamp,
    ) -> Board {
        let mut board = Board {
            figures,
            ..Board::default()
        };
        for (i, counted) in on_board {
            if kept(&i, now) {
                board.counted.insert(i.id, counted);
                let missed = board.count_breaches(&i, now);
                board.counted.insert(i.id, missed);
                board.current.insert(i.id, i);
            }
        }
        board
    }

    /// The counters and histograms so far.
    pub fn figures(&self) -> &Figures {
        &self.figures
    }

    /// Counts a restoration read from the store, for [`Board::rebuild`].
    pub fn add_restoration(&mut self, kind: TargetKind, planned: bool, d: std::time::Duration) {
        if !planned {
            let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
            self.figures.restore.entry(kind).or_default().observe(d);
        }
    }

    /// Counts an incident read from the store (oldest first), and
    /// keeps it on the board while it is open or recently restored.
    pub fn add_past(&mut self, i: Incident, now: Timestamp) {
        *self.figures.opened.entry((i.kind, i.severity)).or_default() += 1;
        if let (Some(d), false) = (i.response(), i.planned) {
            self.figures.response.entry(i.kind).or_default().observe(d);
        }
        let keep = kept(&i, now);
        let missed = self.count_breaches(&i, now);
        if keep {
            self.counted.insert(i.id, missed);
            self.current.insert(i.id, i);
        }
    }

    /// Counts the deadlines `i` has missed at `now` that were not counted
    /// yet; returns every deadline it missed so far.
    fn count_breaches(&mut self, i: &Incident, now: Timestamp) -> Vec<Deadline> {
        let mut missed = self.counted.get(&i.id).cloned().unwrap_or_default();
        note_breaches(i, now, &mut missed, &mut self.figures.breaches);
        missed
    }

    /// Applies committed changes, in order; `now` judges deadlines.
    pub fn apply(&mut self, changes: &[Change], now: Timestamp) {
        for change in changes {
            let id = change.id();
            match change {
                Change::Opened(i) => {
                    *self.figures.opened.entry((i.kind, i.severity)).or_default() += 1;
                    self.current.insert(i.id, i.clone());
                }
                Change::Restored { at, .. } => {
                    if let Some(i) = self.current.get_mut(&id) {
                        i.restored_at = Some(*at);
                        if !i.planned {
                            let d = at.duration_since(i.opened_at);
                            self.figures.restore.entry(i.kind).or_default().observe(d);
                        }
                    }
                }
                Change::Reopened { .. } => {
                    if let Some(i) = self.current.get_mut(&id) {
                        i.restored_at = None;
                        i.flaps += 1;
                    }
                }
                Change::Relinked { root_id, cause, .. } => {
                    if let Some(i) = self.current.get_mut(&id) {
                        i.root_id = *root_id;
                        i.cause.clone_from(cause);
                    }
                }
                Change::Acknowledged { at, by, .. } => {
                    if let Some(i) = self.current.get_mut(&id) {
                        i.acknowledged_at = Some(*at);
                        i.acknowledged_by = Some(by.clone());
                        if !i.planned {
                            let d = at.duration_since(i.opened_at);
                            self.figures.response.entry(i.kind).or_default().observe(d);
                        }
                    }
                }
                Change::Planned { .. } => {
                    // Figures already counted stay (counters never go
                    // back); a restart rebuilds them without it.
                    if let Some(i) = self.current.get_mut(&id) {
                        i.planned = true;
                    }
                }
                Change::Noted { .. } => {}
            }
        }
        self.tick(now);
    }

    /// Counts deadlines passed since the last look, and lets restored
    /// incidents go after a day.
    pub fn tick(&mut self, now: Timestamp) {
        let Board {
            current,
            counted,
            figures,
        } = self;
        let breaches = &mut figures.breaches;
        current.retain(|id, i| {
            note_breaches(i, now, counted.entry(*id).or_default(), breaches);
            let keep = kept(i, now);
            if !keep {
                counted.remove(id);
            }
            keep
        });
    }

    /// Open incidents, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &Incident> {
        self.current.values().filter(|i| i.restored_at.is_none())
    }

    /// Open incidents and those restored in the last day.
    pub fn recent(&self) -> impl Iterator<Item = &Incident> {
        self.current.values()
    }

    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.current.get(&id)
    }

    /// Open incidents whose root is `id`.
    pub fn affected(&self, id: u64) -> usize {
        self.open().filter(|i| i.root_id == Some(id)).count()
    }

    /// Open, unplanned, unacknowledged incidents past their response
    /// deadline at `now`.
    pub fn overdue(&self, now: Timestamp) -> impl Iterator<Item = &Incident> {
        self.open().filter(move |i| {
            !i.planned && i.acknowledged_at.is_none() && i.respond_verdict(now) == Verdict::Missed
        })
    }

    pub fn opened_total(&self) -> &HashMap<(TargetKind, Severity), u64> {
        &self.figures.opened
    }

    pub fn breaches_total(&self) -> &HashMap<(TargetKind, Deadline), u64> {
        &self.figures.breaches
    }

    pub fn response(&self, kind: TargetKind) -> Durations {
        self.figures
            .response
            .get(&kind)
            .cloned()
            .unwrap_or_default()
    }

    pub fn restore(&self, kind: TargetKind) -> Durations {
        self.figures.restore.get(&kind).cloned().unwrap_or_default()
    }
}

/// The deadlines an incident has missed at `now` (none for a planned
/// one, which is not judged). Once missed, a deadline stays missed: a
/// later acknowledgement or restoration comes later still.
pub fn missed(i: &Incident, now: Timestamp) -> Vec<Deadline> {
    if i.planned {
        return Vec::new();
    }
    [
        (Deadline::Respond, i.respond_verdict(now)),
        (Deadline::Restore, i.restore_verdict(now)),
    ]
    .into_iter()
    .filter(|(_, verdict)| *verdict == Verdict::Missed)
    .map(|(deadline, _)| deadline)
    .collect()
}

/// Adds to `missed` (and counts in `breaches`) the deadlines an unplanned
/// incident has missed at `now` that `missed` does not hold yet.
fn note_breaches(
    i: &Incident,
    now: Timestamp,
    counted: &mut Vec<Deadline>,
    breaches: &mut HashMap<(TargetKind, Deadline), u64>,
) {
    for deadline in missed(i, now) {
        if !counted.contains(&deadline) {
            counted.push(deadline);
            *breaches.entry((i.kind, deadline)).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::incidents::{Incidents, Terms};
    use crate::model::{State, Transition};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    fn tr(target: &str, s: i64, state: State) -> Transition {
        Transition {
            target: target.into(),
            kind: TargetKind::Device,
            at: at(s),
            state,
            cause: None,
        }
    }

    const TERMS: Terms = Terms {
        severity: Severity::Critical,
        respond_within: Duration::from_secs(1800),
        restore_within: Duration::from_secs(4 * 3600),
        planned: false,
    };

    #[test]
    fn breaches_are_counted_once_when_they_become_known() {
        let mut engine = Incidents::resume(Vec::new(), 1, Duration::from_secs(600));
        let mut board = Board::default();
        let mut feed = |board: &mut Board, t: Transition| {
            let now = t.at;
            board.apply(&engine.apply(&t, &TERMS), now);
        };
        feed(&mut board, tr("a", 0, State::Down));
        assert_eq!(board.open().count(), 1);
        assert!(board.breaches_total().is_empty());
        board.tick(at(1801));
        assert_eq!(board.overdue(at(1801)).count(), 1);
        assert_eq!(
            board.breaches_total()[&(TargetKind::Device, Deadline::Respond)],
            1
        );
        board.tick(at(1900));
        assert_eq!(
            board.breaches_total()[&(TargetKind::Device, Deadline::Respond)],
            1,
            "counted once"
        );
        // Restored in time for the restore deadline: no second breach; the
        // restore histogram has it.
        feed(&mut board, tr("a", 3600, State::Up));
        assert_eq!(board.open().count(), 0);
        assert_eq!(board.breaches_total().len(), 1);
        assert_eq!(board.restore(TargetKind::Device).count, 1);
        assert_eq!(board.restore(TargetKind::Device).counts[4], 1, "≤ 1 h");

        // The same figures from the store at a restart.
        let all: Vec<Incident> = board.recent().cloned().collect();
        let rebuilt = Board::rebuild(
            all,
            [(TargetKind::Device, false, Duration::from_secs(3600))],
            at(4000),
        );
        assert_eq!(rebuilt.breaches_total(), board.breaches_total());
        assert_eq!(rebuilt.opened_total(), board.opened_total());
        assert_eq!(
            rebuilt.restore(TargetKind::Device),
            board.restore(TargetKind::Device)
        );
    }

    #[test]
    fn buckets_hold_each_observation_once() {
        let mut d = Durations::default();
        for s in [30, 60, 61, 100_000] {
            d.observe(SignedDuration::from_secs(s));
        }
        let b = d.buckets();
        assert_eq!(b[0], (60.0, 2));
        assert_eq!(b[1], (300.0, 1));
        assert_eq!(b[9], (f64::INFINITY, 1));
        assert_eq!(d.count, 4);
    }
}
