//! The per-target state machine (SPEC §3). Pure: no I/O, no clock of its own.
//! STUB: to be implemented (helper B).

use jiff::Timestamp;

use crate::model::State;

/// What one probe round showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundClass {
    /// Every echo answered below the degraded threshold.
    Good,
    /// Answered, but loss at or above `degraded_loss`.
    Degraded,
    /// Nothing answered.
    Failed,
}

/// Classifies a round of `sent` echoes with `received` replies.
pub fn classify(sent: u32, received: u32, degraded_loss: f64) -> RoundClass {
    let _ = (sent, received, degraded_loss);
    todo!()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub down_after: u32,
    pub up_after: u32,
}

/// A confirmed change of state, stamped at the first round that showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub at: Timestamp,
    pub state: State,
    pub cause: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Tracker {}

impl Tracker {
    pub fn new() -> Self {
        todo!()
    }

    pub fn state(&self) -> State {
        todo!()
    }

    /// Feeds one round observed at `at`. `reason` is the failure kind of a failed
    /// round (`timeout`, `unreachable`, ...); `parent_down` names the parent
    /// device when it is down at this moment.
    pub fn observe(
        &mut self,
        at: Timestamp,
        class: RoundClass,
        reason: Option<&str>,
        parent_down: Option<&str>,
        th: Thresholds,
    ) -> Option<Change> {
        let _ = (at, class, reason, parent_down, th);
        todo!()
    }

    /// Forces the target to unknown (the daemon stops, or a span is lost):
    /// any run being confirmed is forgotten.
    pub fn reset_unknown(&mut self) {
        todo!()
    }
}
