//! Probers: how netkpi asks the network. The words every prober shares live
//! here: which prober ([`Prober`]), and what one of its rounds showed
//! ([`Round`]), classified by the prober itself with a stable cause
//! (`icmp:timeout`, `snmp:auth_failed`). The ledger combines rounds without
//! knowing how any prober asks.

pub mod icmp;
pub mod resolve;
pub mod snmp;

pub use icmp::{IcmpError, IcmpPinger, IcmpRound, IcmpStats};

use std::future::Future;

use jiff::Timestamp;

use crate::energy::Power;
use crate::probes::snmp::profile::Samples;
use crate::state::RoundClass;

/// How netkpi asks a device: a closed set. A new prober is a variant here,
/// its folder under `probes/`, its config block, and its timing in the
/// ledger's one list of probers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prober {
    Icmp,
    Snmp,
}

impl Prober {
    pub const ALL: [Prober; 2] = [Prober::Icmp, Prober::Snmp];

    /// The stable name used as the `prober` metric label and in causes.
    pub fn as_str(self) -> &'static str {
        match self {
            Prober::Icmp => "icmp",
            Prober::Snmp => "snmp",
        }
    }

    /// Its position in [`Prober::ALL`] (for per-prober arrays).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What one round of one prober showed, as the prober classified it.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub class: RoundClass,
    /// Why, when the round failed or was degraded: `<prober>:<reason>`,
    /// e.g. `icmp:timeout`, `icmp:loss`, `snmp:auth_failed`.
    pub cause: Option<String>,
    /// ifName → ifOperStatus is up(1), when the round read IF-MIB (an SNMP
    /// poll with the `if_mib` profile); lines watch these.
    pub interfaces: Option<Vec<(String, bool)>>,
    /// The device's output power, when the round read it (an SNMP poll
    /// with a profile that has `[energy]`); the ledger meters it.
    pub power: Option<Power>,
}

impl Round {
    /// A round that got an answer.
    pub fn answered() -> Round {
        Round {
            class: RoundClass::Good,
            cause: None,
            interfaces: None,
            power: None,
        }
    }

    /// A round that got no answer, for `reason` (a stable snake_case word).
    pub fn failed(prober: Prober, reason: &str) -> Round {
        Round {
            class: RoundClass::Failed,
            cause: Some(format!("{}:{reason}", prober.as_str())),
            interfaces: None,
            power: None,
        }
    }
}

/// What a round read besides its verdict: published for metrics and the
/// API, never part of the ledger.
#[derive(Clone, Debug, Default)]
pub struct Readings {
    /// Average round-trip time of the answers (ICMP).
    pub rtt_seconds: Option<f64>,
    /// Share of requests without an answer (ICMP).
    pub loss_ratio: Option<f64>,
    /// The values the device's profiles read (SNMP); empty when the round
    /// failed: a value that could not be read is absent, not repeated.
    pub samples: Samples,
    /// The device restarted since the previous round (its uptime went back).
    pub rebooted: bool,
}

/// One round as a prober took it.
#[derive(Clone, Debug)]
pub struct Taken {
    /// The verdict, as the ledger weighs it.
    pub round: Round,
    /// Why it failed, as the `reason` label of `netkpi_poll_errors_total`.
    pub failure: Option<&'static str>,
    pub readings: Readings,
}

/// How a prober takes one round on one device. Everything else (the
/// schedule, timing, counting, publishing, sending to the ledger) is the
/// same for every prober and lives once, in the scheduler.
pub trait Probe: Send + 'static {
    const PROBER: Prober;

    fn take(&mut self) -> impl Future<Output = Taken> + Send;
}

/// One prober's round of one device, as the ledger receives it.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The config generation the probing task belongs to; observations from
    /// tasks of an older config (still in flight after a reload) are dropped.
    pub generation: u64,
    /// Index into the inventory's devices of that generation.
    pub device: usize,
    /// When the round started: the time of its first request.
    pub at: Timestamp,
    pub prober: Prober,
    pub round: Round,
    /// What an SNMP round read (`None` for other probers): alarms are
    /// judged on it. Shared with the live view, not copied.
    pub samples: Option<Samples>,
}

/// Why a round failed. [`FailureKind::as_str`] gives the stable snake_case
/// names used as metric labels and log fields; they never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// No answer within the timeout.
    Timeout,
    /// A router (or the target's host) answered with an ICMP error such as
    /// destination unreachable instead of an echo reply.
    Unreachable,
    /// The local host refused to send: no route, a local firewall, no socket
    /// for the address family.
    SendError,
    /// The target's DNS name did not resolve (set by the caller, which owns
    /// name resolution; the ICMP prober only takes addresses).
    ResolveError,
}

impl FailureKind {
    pub const ALL: [FailureKind; 4] = [
        FailureKind::Timeout,
        FailureKind::Unreachable,
        FailureKind::SendError,
        FailureKind::ResolveError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Unreachable => "unreachable",
            FailureKind::SendError => "send_error",
            FailureKind::ResolveError => "resolve_error",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kind_names_are_stable_snake_case() {
        let names: Vec<&str> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            ["timeout", "unreachable", "send_error", "resolve_error"]
        );
        assert_eq!(FailureKind::SendError.to_string(), "send_error");
    }
}
