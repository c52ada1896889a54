//! Words shared by every layer: targets, states and transitions.

use jiff::Timestamp;
use serde::Serialize;

use crate::config::Role;

/// What a target is: a monitored device, or a leased line ending on one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Device,
    Line,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Device => "device",
            TargetKind::Line => "line",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "device" => Some(TargetKind::Device),
            "line" => Some(TargetKind::Line),
            _ => None,
        }
    }
}

/// The state of a target at an instant. Exactly one holds at any time.
///
/// `Maintenance` is never written to the ledger: it is derived from the
/// configured windows when figures are computed, so editing a window later
/// re-classifies the past correctly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Up,
    Degraded,
    Down,
    Unknown,
    Maintenance,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Up,
        State::Degraded,
        State::Down,
        State::Unknown,
        State::Maintenance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Unknown => "unknown",
            State::Maintenance => "maintenance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Up and degraded both deliver service: they count as available.
    pub fn is_available(self) -> bool {
        matches!(self, State::Up | State::Degraded)
    }
}

/// One entry of the availability ledger: from `at` on, `target` is in `state`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub target: String,
    pub kind: TargetKind,
    pub at: Timestamp,
    pub state: State,
    /// Why, as a stable snake_case word: `icmp:timeout`, `parent:core-sw1`,
    /// `device:acc-001`, `daemon_stopped`, `store_overflow`.
    pub cause: Option<String>,
}

/// How far a target's current ledger state is durably settled: up to `until`
/// the ledger holds the target in its latest recorded state, and no later
/// transition can be stamped before it. It is what the ledger knows when no
/// transition is written: the start of the latest round of the slowest
/// prober, or the first round of a run that is still being confirmed (that
/// time may yet belong to another state). After a crash the unknown gap
/// starts here, and the state-seconds counters count up to here, never
/// beyond, so neither ever has to take time back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub kind: TargetKind,
    pub target: String,
    pub until: Timestamp,
}

/// A half-open span of time `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// RFC 3339 with the offset of `tz` and millisecond precision, as the API
/// and reports print times: `2026-03-01T08:00:00.000+08:00`.
pub fn format_time(ts: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    ts.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// How urgent an incident is, from what failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Major,
    Minor,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Critical, Severity::Major, Severity::Minor];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Core equipment (and the machine room it stands in) is critical: its
    /// outage takes many units down; aggregation is major; one unit's
    /// access equipment and the sensors are minor.
    pub fn of_role(role: Role) -> Severity {
        match role {
            Role::Router
            | Role::CoreSwitch
            | Role::Firewall
            | Role::Ips
            | Role::LoadBalancer
            | Role::Ups
            | Role::AirConditioner => Severity::Critical,
            Role::AggregationSwitch => Severity::Major,
            Role::AccessEgress | Role::EnvSensor | Role::Other => Severity::Minor,
        }
    }
}

/// A leased line's severity when the config does not say: a member unit
/// cut off from the network.
pub const LINE_SEVERITY: Severity = Severity::Major;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339_in_the_configured_zone() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let ts: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        assert_eq!(format_time(ts, &tz), "2026-03-01T08:00:00.000+08:00");
        let back: Timestamp = format_time(ts, &tz).parse().unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn state_names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("UP"), None);
    }
}
