//! Probers: how netkpi asks the network. Each returns an outcome that carries
//! the reason it failed, as a [`FailureKind`] with a stable snake_case name.

pub mod icmp;
pub mod snmp;

pub use icmp::{IcmpError, IcmpPinger, IcmpRound, IcmpStats};

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
