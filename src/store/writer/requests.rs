//! What the writer needs to keep incidents: the config in force
//! ([`Policy`]) and the operators' requests (acknowledge, note), which are
//! written in order with the transitions and answered once committed.

use std::time::Duration;

use jiff::Timestamp;

use super::super::ledger_precision;
use super::{Window, Writer};
use crate::config::builtin;
use crate::incidents::{AckError, Change, Terms};
use crate::model::{Severity, Span, TargetKind};

/// What the config in force says about a target (it changes on reload).
pub trait Policy: Send {
    /// The target's maintenance windows.
    fn windows(&self, kind: TargetKind, target: &str) -> Vec<Span>;
    /// Severity and deadlines of an incident of the target opening at `at`.
    fn terms(&self, kind: TargetKind, target: &str, at: Timestamp) -> Terms;
    /// `sla.flap_window`.
    fn flap_window(&self) -> Duration;
    /// Puts a committed window in force (called right after its commit).
    fn add_window(&self, _window: &Window) {}
}

/// No windows and the built-in deadlines (tests, tools).
pub struct NoPolicy;

impl Policy for NoPolicy {
    fn windows(&self, _: TargetKind, _: &str) -> Vec<Span> {
        Vec::new()
    }

    fn terms(&self, _: TargetKind, _: &str, _: Timestamp) -> Terms {
        Terms {
            severity: Severity::Minor,
            respond_within: builtin::SLA_RESPOND_WITHIN,
            restore_within: builtin::SLA_RESTORE_WITHIN,
            planned: false,
        }
    }

    fn flap_window(&self) -> Duration {
        Duration::from_secs(600)
    }
}

/// An operator's request on an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Acknowledges an open incident, with an optional note.
    Acknowledge {
        id: u64,
        by: String,
        note: Option<String>,
    },
    /// Appends a note (to any incident, restored ones included).
    Note { id: u64, by: String, text: String },
    /// Declares a planned window (`id` and `created` are given by the
    /// writer); `covers` are the targets it covers (a device and its
    /// lines), whose incidents opened inside it become planned.
    Maintenance {
        window: Window,
        covers: Vec<(TargetKind, String)>,
    },
}

/// Why a request was refused; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("no incident {0}")]
    NotFound(u64),
    #[error(transparent)]
    Refused(AckError),
    #[error("the store is not writable ({0}); nothing was recorded, try again when /healthz answers 200")]
    StoreFailing(String),
}

/// The incident's id once the request is committed.
pub type Replied = Result<u64, RequestError>;
pub(super) type Reply = tokio::sync::oneshot::Sender<Replied>;

impl Writer {
    /// Applies a request in its place among the transitions: refused at
    /// once, or queued to be answered after the commit that writes it.
    pub(super) fn handle(&mut self, request: Request, reply: Reply) {
        match self.check(request) {
            Ok((id, changes)) => {
                self.stats.waiting_from(Timestamp::now());
                self.changes.extend(changes);
                self.replies.push((reply, id));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn check(&mut self, request: Request) -> Result<(u64, Vec<Change>), RequestError> {
        // While writes fail, refuse rather than hold an answer nobody can
        // rely on: the operator retries when the store is back.
        if self.failing.is_some() {
            return Err(RequestError::StoreFailing("writes are failing".into()));
        }
        let at = ledger_precision(Timestamp::now());
        match request {
            Request::Acknowledge { id, by, note } => {
                let mut changes = match self.incidents.acknowledge(id, at, &by) {
                    Ok(changes) => changes,
                    // Not among those that can still change: restored
                    // long ago, or no such incident.
                    Err(AckError::NotFound(_)) => return Err(self.why_not_live(id)),
                    Err(refused) => return Err(RequestError::Refused(refused)),
                };
                if let Some(text) = note.filter(|t| !t.trim().is_empty()) {
                    changes.push(Change::Noted { id, at, by, text });
                }
                Ok((id, changes))
            }
            Request::Maintenance { mut window, covers } => {
                let pending_next = self.windows.last().map_or(1, |w| w.id + 1);
                let stored_next = self
                    .store
                    .next_window_id()
                    .map_err(|e| RequestError::StoreFailing(e.to_string()))?;
                window.id = pending_next.max(stored_next);
                window.created = at;
                let mut changes = Vec::new();
                let plan = |id: u64, changes: &mut Vec<Change>| {
                    changes.push(Change::Planned {
                        id,
                        at,
                        window: window.id,
                        by: window.by.clone(),
                        reason: window.reason.clone(),
                    })
                };
                let inside = |t: Timestamp| window.start <= t && t < window.end;
                let live: Vec<(u64, bool)> = self
                    .incidents
                    .live()
                    .filter(|i| covers.iter().any(|(k, n)| *k == i.kind && *n == i.target))
                    .map(|i| (i.id, inside(i.opened_at)))
                    .collect();
                for &(id, opened_inside) in &live {
                    if opened_inside && self.incidents.plan(id) {
                        plan(id, &mut changes);
                    }
                }
                for (kind, target) in &covers {
                    let stored = self
                        .store
                        .unplanned_incidents_opened_in(*kind, target, window.start, window.end)
                        .map_err(|e| RequestError::StoreFailing(e.to_string()))?;
                    for i in stored {
                        if !live.iter().any(|&(id, _)| id == i.id) {
                            plan(i.id, &mut changes);
                        }
                    }
                }
                let id = window.id;
                self.windows.push(window);
                Ok((id, changes))
            }
            Request::Note { id, by, text } => {
                let exists = self.incidents.live().any(|i| i.id == id)
                    || self
                        .store
                        .incident_exists(id)
                        .map_err(|e| RequestError::StoreFailing(e.to_string()))?;
                if !exists {
                    return Err(RequestError::NotFound(id));
                }
                Ok((id, vec![Change::Noted { id, at, by, text }]))
            }
        }
    }

    /// Why an incident the engine no longer holds cannot be acknowledged.
    fn why_not_live(&self, id: u64) -> RequestError {
        match self.store.incident(id) {
            Ok(None) => RequestError::NotFound(id),
            Ok(Some(i)) => match i.acknowledged_by {
                Some(by) => RequestError::Refused(AckError::AlreadyAcknowledged { id, by }),
                None => RequestError::Refused(AckError::Restored(id)),
            },
            Err(e) => RequestError::StoreFailing(e.to_string()),
        }
    }
}
