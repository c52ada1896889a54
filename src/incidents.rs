//! Incidents: a target's outage as the ops team answers it. Pure: committed
//! transitions in, incident changes out; no I/O, time passed in.
//!
//! * An incident **opens** when a target goes down, at the ledger's stamp
//!   (the first failed round), and is **restored** when the target answers
//!   again (up or degraded), at that transition's stamp.
//! * A down target that the daemon stopped watching (unknown: a restart, a
//!   crash) keeps its incident open; the incident is restored when the
//!   target is next seen answering, or goes on when it is seen down again.
//! * A target down again within `flap_window` of its restoration **reopens**
//!   the same incident and counts the flap; the ledger still records each
//!   down span exactly.
//! * **Root**: a device down because of its parent (`parent:<name>`), or a
//!   line down because of its far-end device (`device:<name>`), links to the
//!   incident of what explains it, and through it to that incident's root:
//!   one root incident for a core switch and everything behind it. A cause
//!   update on the same outage relinks it; a cause of its own unlinks it.
//! * **Planned**: an incident that opens inside a maintenance window of its
//!   target; planned incidents are left out of SLA figures.
//!
//! * **Alarms**: an alarm that fires on a device (see [`crate::alarms`])
//!   opens an incident of that device named after the alarm, kept apart from
//!   the device's own outage incidents and from its other alarms; it is
//!   restored when the alarm clears, reopened within `flap_window` like an
//!   outage, and always a root (nothing is explained by it).

pub mod board;

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::alarms::AlarmEvent;
pub use crate::model::{Severity, LINE_SEVERITY};
use crate::model::{State, TargetKind, Transition};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: u64,
    pub kind: TargetKind,
    pub target: String,
    /// The alarm it is about (`None`: the target went down).
    pub alarm: Option<String>,
    pub severity: Severity,
    /// What the ledger recorded as the cause when it opened (or was last
    /// relinked).
    pub cause: Option<String>,
    pub opened_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
    pub restored_at: Option<Timestamp>,
    /// The incident at the root of this one (`None`: it is a root).
    pub root_id: Option<u64>,
    /// Times it went down again within the flap window after a restoration.
    pub flaps: u32,
    /// Opened inside a maintenance window of its target.
    pub planned: bool,
    /// The deadlines in force for its target when it opened (they are part
    /// of the record: a later config change does not re-judge it).
    pub respond_within: Duration,
    pub restore_within: Duration,
}

/// What the config in force says about a target's incidents, taken when
/// one opens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Terms {
    pub severity: Severity,
    pub respond_within: Duration,
    pub restore_within: Duration,
    /// Whether the opening transition lies inside a maintenance window of
    /// the target.
    pub planned: bool,
}

/// Whether an incident met one deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// Still open and the deadline has not passed.
    Pending,
}

impl Incident {
    /// Time to respond: acknowledged − opened.
    pub fn response(&self) -> Option<SignedDuration> {
        Some(self.acknowledged_at?.duration_since(self.opened_at))
    }

    /// Time to restore: restored − opened.
    pub fn restore(&self) -> Option<SignedDuration> {
        Some(self.restored_at?.duration_since(self.opened_at))
    }

    /// The response deadline: met when acknowledged within
    /// `respond_within`; also met when the target came back before the
    /// deadline without anyone acknowledging (nothing was left to answer);
    /// missed once the deadline passed while open and unacknowledged.
    pub fn respond_verdict(&self, now: Timestamp) -> Verdict {
        let limit = signed(self.respond_within);
        match (self.response(), self.restored_at) {
            (Some(d), _) => Verdict::from(d <= limit),
            (None, Some(restored)) => {
                Verdict::from(restored.duration_since(self.opened_at) <= limit)
            }
            (None, None) if now.duration_since(self.opened_at) > limit => Verdict::Missed,
            (None, None) => Verdict::Pending,
        }
    }

    /// The restore deadline: met when restored within `restore_within`,
    /// missed once it passed while open.
    pub fn restore_verdict(&self, now: Timestamp) -> Verdict {
        let limit = signed(self.restore_within);
        match self.restore() {
            Some(d) => Verdict::from(d <= limit),
            None if now.duration_since(self.opened_at) > limit => Verdict::Missed,
            None => Verdict::Pending,
        }
    }

    /// Whether it met both deadlines; `None` while that cannot be known yet
    /// at `now`, and for planned incidents, which are not judged.
    pub fn sla_met(&self, now: Timestamp) -> Option<bool> {
        if self.planned {
            return None;
        }
        match (self.respond_verdict(now), self.restore_verdict(now)) {
            (Verdict::Missed, _) | (_, Verdict::Missed) => Some(false),
            (Verdict::Met, Verdict::Met) => Some(true),
            _ => None,
        }
    }
}

impl From<bool> for Verdict {
    fn from(met: bool) -> Verdict {
        if met {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// What one transition (or an acknowledgement) did to the incidents: to
/// be written in the same transaction as what caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Opened(Incident),
    Restored {
        id: u64,
        at: Timestamp,
    },
    /// Down again within the flap window: the same incident, open again.
    Reopened {
        id: u64,
        at: Timestamp,
    },
    /// Its root changed with its cause (a cause update on the same outage).
    Relinked {
        id: u64,
        at: Timestamp,
        root_id: Option<u64>,
        cause: Option<String>,
    },
    Acknowledged {
        id: u64,
        at: Timestamp,
        by: String,
        /// Acknowledged with its root incident (one acknowledgement covers
        /// everything behind a root).
        via: Option<u64>,
    },
    /// Declared planned after the fact: a maintenance window declared later
    /// covers its opening. The record keeps both.
    Planned {
        id: u64,
        at: Timestamp,
        /// The declared window.
        window: u64,
        by: String,
        reason: String,
    },
    /// A note appended to its record (notes are never edited or removed).
    Noted {
        id: u64,
        at: Timestamp,
        by: String,
        text: String,
    },
}

impl Change {
    /// The incident it is about.
    pub fn id(&self) -> u64 {
        match self {
            Change::Opened(i) => i.id,
            Change::Restored { id, .. }
            | Change::Reopened { id, .. }
            | Change::Relinked { id, .. }
            | Change::Acknowledged { id, .. }
            | Change::Planned { id, .. }
            | Change::Noted { id, .. } => *id,
        }
    }
}

/// Why an acknowledgement was refused (nothing changed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("no open incident {0}")]
    NotFound(u64),
    #[error("incident {id} was already acknowledged by {by}")]
    AlreadyAcknowledged { id: u64, by: String },
    #[error("incident {0} is restored")]
    Restored(u64),
}

/// Which incident a change is about: the target's outage (no alarm), or
/// one of its alarms.
type Key = (TargetKind, String, Option<String>);

/// The incidents that can still change: open ones, and restored ones still
/// inside their flap window.
#[derive(Debug)]
pub struct Incidents {
    next_id: u64,
    flap_window: Duration,
    live: HashMap<Key, Incident>,
}

impl Incidents {
    /// Starts from what the store holds: the incidents that can still
    /// change (an incident open at a crash is still open) and the next id.
    pub fn resume(live: Vec<Incident>, next_id: u64, flap_window: Duration) -> Incidents {
        let next_id = live
            .iter()
            .map(|i| i.id + 1)
            .max()
            .unwrap_or(1)
            .max(next_id);
        Incidents {
            next_id,
            flap_window,
            live: live
                .into_iter()
                .map(|i| ((i.kind, i.target.clone(), i.alarm.clone()), i))
                .collect(),
        }
    }

    /// The outage incident of a target that is open now.
    pub fn open_of(&self, kind: TargetKind, target: &str) -> Option<&Incident> {
        self.live
            .get(&(kind, target.to_string(), None))
            .filter(|i| i.restored_at.is_none())
    }

    /// The incident of an alarm on a device that is open now.
    pub fn open_alarm(&self, device: &str, alarm: &str) -> Option<&Incident> {
        self.live
            .get(&(
                TargetKind::Device,
                device.to_string(),
                Some(alarm.to_string()),
            ))
            .filter(|i| i.restored_at.is_none())
    }

    /// Every incident that can still change.
    pub fn live(&self) -> impl Iterator<Item = &Incident> {
        self.live.values()
    }

    /// The root incident of what `cause` names, if that is down now.
    fn root_for(&self, cause: Option<&str>) -> Option<u64> {
        let cause = cause?;
        let upstream = cause
            .strip_prefix("parent:")
            .or_else(|| cause.strip_prefix("device:"))?;
        let incident = self.open_of(TargetKind::Device, upstream)?;
        Some(incident.root_id.unwrap_or(incident.id))
    }

    /// The flap window in force from now on (a reload may change it).
    pub fn set_flap_window(&mut self, window: Duration) {
        self.flap_window = window;
    }

    /// Applies one transition, in ledger order. `terms` are its target's,
    /// used when it opens an incident. Returns what changed, in order.
    ///
    /// Whatever changed, every open incident whose cause leads to an open
    /// incident is then linked to that incident's root: a line that opened
    /// behind its access device follows that device when the device is
    /// linked to a core outage a round later, and back to the device when
    /// the device gets a cause of its own. A root coming back unlinks
    /// nothing.
    pub fn apply(&mut self, t: &Transition, terms: &Terms) -> Vec<Change> {
        let mut out = self.apply_one(t, terms);
        if !out.is_empty() {
            out.extend(self.relink_behind(t.at));
        }
        out
    }

    /// Relinks every open incident whose root is not the one its cause
    /// leads to now; repeats until nothing moves (chains are short; the
    /// bound only guards against a cycle).
    fn relink_behind(&mut self, at: Timestamp) -> Vec<Change> {
        let mut out = Vec::new();
        for _ in 0..=self.live.len() {
            let stale: Vec<(Key, Option<u64>)> = self
                .live
                .iter()
                .filter(|(_, i)| i.restored_at.is_none())
                .filter_map(|(key, i)| {
                    // Only towards a root that is down now: when the root
                    // comes back, the incidents behind it stay linked to
                    // it (that is what happened); a child still down gets
                    // a cause of its own from the ledger, which relinks it.
                    let root = self.root_for(i.cause.as_deref())?;
                    (Some(root) != i.root_id && root != i.id).then(|| (key.clone(), Some(root)))
                })
                .collect();
            if stale.is_empty() {
                break;
            }
            for (key, root) in stale {
                let Some(i) = self.live.get_mut(&key) else {
                    continue;
                };
                i.root_id = root;
                out.push(Change::Relinked {
                    id: i.id,
                    at,
                    root_id: root,
                    cause: i.cause.clone(),
                });
            }
        }
        out
    }

    fn apply_one(&mut self, t: &Transition, terms: &Terms) -> Vec<Change> {
        self.forget_settled(t.at);
        let key = (t.kind, t.target.clone(), None);
        let root = self.root_for(t.cause.as_deref());
        let Some(current) = self.live.get_mut(&key) else {
            if t.state != State::Down {
                return Vec::new();
            }
            let incident = Incident {
                id: self.next_id,
                kind: t.kind,
                target: t.target.clone(),
                alarm: None,
                severity: terms.severity,
                cause: t.cause.clone(),
                opened_at: t.at,
                acknowledged_at: None,
                acknowledged_by: None,
                restored_at: None,
                root_id: root,
                flaps: 0,
                planned: terms.planned,
                respond_within: terms.respond_within,
                restore_within: terms.restore_within,
            };
            self.next_id += 1;
            self.live.insert(key, incident.clone());
            return vec![Change::Opened(incident)];
        };
        match (t.state, current.restored_at) {
            // Down again within the flap window: the same incident.
            (State::Down, Some(_)) => {
                current.restored_at = None;
                current.flaps += 1;
                let mut out = vec![Change::Reopened {
                    id: current.id,
                    at: t.at,
                }];
                if current.root_id != root || current.cause != t.cause {
                    current.root_id = root;
                    current.cause = t.cause.clone();
                    out.push(Change::Relinked {
                        id: current.id,
                        at: t.at,
                        root_id: root,
                        cause: t.cause.clone(),
                    });
                }
                out
            }
            // Still down (a cause update, or seen down again after a
            // restart): relinked if what explains it changed.
            (State::Down, None) => {
                if current.root_id == root && current.cause == t.cause {
                    return Vec::new();
                }
                current.root_id = root;
                current.cause = t.cause.clone();
                vec![Change::Relinked {
                    id: current.id,
                    at: t.at,
                    root_id: root,
                    cause: t.cause.clone(),
                }]
            }
            // Answering again: restored.
            (State::Up | State::Degraded, None) => {
                current.restored_at = Some(t.at);
                vec![Change::Restored {
                    id: current.id,
                    at: t.at,
                }]
            }
            // Not watched (stopped, crashed, removed), or already restored:
            // nothing to say yet.
            (State::Unknown | State::Maintenance, _) | (State::Up | State::Degraded, Some(_)) => {
                Vec::new()
            }
        }
    }

    /// Applies an alarm that fired or cleared on a device, in ledger order.
    /// `terms` are the device's, with the alarm's own severity if it has
    /// one. Fired: opens the alarm's incident, or reopens it within the flap
    /// window (a flap); cleared: restores it. Returns what changed.
    pub fn alarm(&mut self, e: &AlarmEvent, terms: &Terms) -> Vec<Change> {
        self.forget_settled(e.at);
        let key = (TargetKind::Device, e.device.clone(), Some(e.alarm.clone()));
        let Some(current) = self.live.get_mut(&key) else {
            if !e.raised {
                return Vec::new();
            }
            let incident = Incident {
                id: self.next_id,
                kind: TargetKind::Device,
                target: e.device.clone(),
                alarm: Some(e.alarm.clone()),
                severity: terms.severity,
                cause: (!e.condition.is_empty()).then(|| e.condition.clone()),
                opened_at: e.at,
                acknowledged_at: None,
                acknowledged_by: None,
                restored_at: None,
                // An alarm explains nothing and is explained by nothing.
                root_id: None,
                flaps: 0,
                planned: terms.planned,
                respond_within: terms.respond_within,
                restore_within: terms.restore_within,
            };
            self.next_id += 1;
            self.live.insert(key, incident.clone());
            return vec![Change::Opened(incident)];
        };
        match (e.raised, current.restored_at) {
            (true, Some(_)) => {
                current.restored_at = None;
                current.flaps += 1;
                vec![Change::Reopened {
                    id: current.id,
                    at: e.at,
                }]
            }
            (false, None) => {
                current.restored_at = Some(e.at);
                vec![Change::Restored {
                    id: current.id,
                    at: e.at,
                }]
            }
            // Fired while open (resumed after a restart), or cleared again.
            (true, None) | (false, Some(_)) => Vec::new(),
        }
    }

    /// Records who acknowledged an open incident, when; for a root, also
    /// every open, unacknowledged incident behind it: whoever takes on a
    /// core outage takes on what it cut off (one acknowledgement, not 300).
    pub fn acknowledge(
        &mut self,
        id: u64,
        at: Timestamp,
        by: &str,
    ) -> Result<Vec<Change>, AckError> {
        let mut out = vec![self.acknowledge_one(id, at, by, None)?];
        let behind: Vec<u64> = self
            .live
            .values()
            .filter(|i| {
                i.root_id == Some(id) && i.restored_at.is_none() && i.acknowledged_by.is_none()
            })
            .map(|i| i.id)
            .collect();
        for child in behind {
            out.extend(self.acknowledge_one(child, at, by, Some(id)).ok());
        }
        Ok(out)
    }

    fn acknowledge_one(
        &mut self,
        id: u64,
        at: Timestamp,
        by: &str,
        via: Option<u64>,
    ) -> Result<Change, AckError> {
        let incident = self
            .live
            .values_mut()
            .find(|i| i.id == id)
            .ok_or(AckError::NotFound(id))?;
        if let Some(who) = &incident.acknowledged_by {
            return Err(AckError::AlreadyAcknowledged {
                id,
                by: who.clone(),
            });
        }
        if incident.restored_at.is_some() {
            return Err(AckError::Restored(id));
        }
        incident.acknowledged_at = Some(at);
        incident.acknowledged_by = Some(by.to_string());
        Ok(Change::Acknowledged {
            id,
            at,
            by: by.to_string(),
            via,
        })
    }

    /// Marks a live incident planned (a window declared after it opened
    /// covers its opening). Returns whether it was live and unplanned.
    pub fn plan(&mut self, id: u64) -> bool {
        match self.live.values_mut().find(|i| i.id == id) {
            Some(i) if !i.planned => {
                i.planned = true;
                true
            }
            _ => false,
        }
    }

    /// Drops restored incidents whose flap window has passed: they can no
    /// longer change.
    fn forget_settled(&mut self, now: Timestamp) {
        let window = SignedDuration::try_from(self.flap_window).unwrap_or(SignedDuration::MAX);
        self.live.retain(|_, i| match i.restored_at {
            Some(r) => now.duration_since(r) <= window,
            None => true,
        });
    }
}

#[cfg(test)]
mod tests;

/// Logs a committed incident change, one line each, for the journal.
pub fn log_committed(change: &Change) {
    match change {
        Change::Opened(i) => tracing::warn!(
            incident = i.id,
            kind = i.kind.as_str(),
            target = %i.target,
            alarm = i.alarm.as_deref().unwrap_or(""),
            severity = i.severity.as_str(),
            cause = i.cause.as_deref().unwrap_or(""),
            root = ?i.root_id,
            planned = i.planned,
            "incident opened"
        ),
        Change::Restored { id, at } => tracing::info!(incident = id, %at, "incident restored"),
        Change::Reopened { id, at } => {
            tracing::warn!(incident = id, %at, "incident reopened: down again within the flap window")
        }
        Change::Relinked {
            id, root_id, cause, ..
        } => tracing::info!(
            incident = id,
            root = ?root_id,
            cause = cause.as_deref().unwrap_or(""),
            "incident relinked"
        ),
        Change::Acknowledged { id, by, .. } => {
            tracing::info!(incident = id, by = %by, "incident acknowledged")
        }
        Change::Noted { id, by, .. } => tracing::info!(incident = id, by = %by, "note added"),
        Change::Planned { id, window, by, .. } => tracing::info!(
            incident = id,
            window,
            by = %by,
            "incident declared planned by a maintenance window"
        ),
    }
}
