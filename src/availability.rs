//! Period arithmetic (SPEC §3): how long a target spent in each state over
//! `[from, to)`, with maintenance windows taken out. Pure.
//! STUB: to be implemented (helper B).

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{Span, State};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub up_s: f64,
    pub degraded_s: f64,
    pub down_s: f64,
    pub unknown_s: f64,
    pub maintenance_s: f64,
    /// (up + degraded) / (up + degraded + down); `None` when nothing was observed.
    pub availability: Option<f64>,
    /// (up + degraded + down) / (period − maintenance); `None` for an empty period.
    pub coverage: Option<f64>,
    pub outages: u32,
    pub longest_outage_s: f64,
}

/// `history` is the target's ledger in the order it was written, including the
/// last entry before `from` (it gives the state at `from`). Time after `now`
/// has not been observed and is unknown.
pub fn compute(
    history: &[(Timestamp, State)],
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
    maintenance: &[Span],
) -> Figures {
    let _ = (history, from, to, now, maintenance);
    todo!()
}
