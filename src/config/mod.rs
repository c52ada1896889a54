//! The config file (SPEC §2): TOML, strict, validated all at once.
//!
//! [`load`] returns a fully resolved [`Config`] (defaults merged into every
//! device, names checked, references resolved) or every [`Diagnostic`] found,
//! each with its file, line and column.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;

pub mod builtin;
mod load;
mod raw;
pub mod secret;
pub(crate) mod span;
mod validate;

#[cfg(test)]
mod tests;

pub use load::{load, load_str};
pub use secret::Secret;

/// The line `netkpi check` prints for a valid config (SPEC §1).
pub fn summary(config: &Config) -> String {
    // SNMP profiles do not exist yet, so none can be named.
    let profiles = 0;
    format!(
        "ok: {} devices, {} lines, {} profiles",
        config.devices.len(),
        config.lines.len(),
        profiles
    )
}

/// One problem in a config file, printed as `FILE:LINE:COL: path.to.field: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file (e.g. unreadable).
    pub line: usize,
    pub col: usize,
    /// Dotted path of the field, with 0-based array indices: `line[3].device`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.path,
            self.message
        )
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from (for messages and for resolving relative paths).
    pub source: PathBuf,
    pub daemon: Daemon,
    pub defaults: Defaults,
    pub devices: Vec<Device>,
    pub lines: Vec<Line>,
    pub maintenance: Vec<Maintenance>,
    pub sla: Sla,
    pub planned: Planned,
}

#[derive(Clone, Debug)]
pub struct Daemon {
    pub listen: SocketAddr,
    /// Resolved against the config file's directory when relative.
    pub data_dir: PathBuf,
    pub timezone: TimeZone,
    /// The IANA name as written, for display.
    pub timezone_name: String,
    pub api_token_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Defaults {
    pub icmp: IcmpSettings,
}

/// How one device is pinged. Every field is resolved (device keys over
/// `[defaults.icmp]` over the built-in defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct IcmpSettings {
    /// Time between the starts of two rounds.
    pub interval: Duration,
    /// How long to wait for each echo's reply.
    pub timeout: Duration,
    /// Echoes per round.
    pub count: u32,
    /// Consecutive failed rounds before the target is down.
    pub down_after: u32,
    /// Consecutive answered rounds before a down target is up again.
    pub up_after: u32,
    /// Loss ratio (0..1) at or above which an answering target is degraded.
    pub degraded_loss: f64,
}

impl Default for IcmpSettings {
    /// The built-in defaults, see [`builtin`] for why each is what it is.
    fn default() -> Self {
        IcmpSettings {
            interval: builtin::ICMP_INTERVAL,
            timeout: builtin::ICMP_TIMEOUT,
            count: builtin::ICMP_COUNT,
            down_after: builtin::ICMP_DOWN_AFTER,
            up_after: builtin::ICMP_UP_AFTER,
            degraded_loss: builtin::ICMP_DEGRADED_LOSS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Router,
    CoreSwitch,
    AggregationSwitch,
    AccessEgress,
    Firewall,
    Ips,
    LoadBalancer,
    Ups,
    AirConditioner,
    EnvSensor,
    Other,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::Router,
        Role::CoreSwitch,
        Role::AggregationSwitch,
        Role::AccessEgress,
        Role::Firewall,
        Role::Ips,
        Role::LoadBalancer,
        Role::Ups,
        Role::AirConditioner,
        Role::EnvSensor,
        Role::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Router => "router",
            Role::CoreSwitch => "core_switch",
            Role::AggregationSwitch => "aggregation_switch",
            Role::AccessEgress => "access_egress",
            Role::Firewall => "firewall",
            Role::Ips => "ips",
            Role::LoadBalancer => "load_balancer",
            Role::Ups => "ups",
            Role::AirConditioner => "air_conditioner",
            Role::EnvSensor => "env_sensor",
            Role::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Core and aggregation equipment, counted against `planned.core_devices`.
    pub fn is_core(self) -> bool {
        matches!(
            self,
            Role::Router
                | Role::CoreSwitch
                | Role::AggregationSwitch
                | Role::Firewall
                | Role::Ips
                | Role::LoadBalancer
        )
    }
}

#[derive(Clone, Debug)]
pub struct Device {
    pub name: String,
    pub role: Role,
    /// IPv4, IPv6 or a DNS name, as written.
    pub address: String,
    /// Empty when not given.
    pub site: String,
    pub parent: Option<String>,
    /// `Some` when ICMP probing is enabled for this device.
    pub icmp: Option<IcmpSettings>,
}

#[derive(Clone, Debug)]
pub struct Line {
    pub id: String,
    pub unit: String,
    /// Empty when not given.
    pub carrier: String,
    pub bandwidth: Option<String>,
    /// The access egress device at the far end.
    pub device: String,
    pub interface: Option<LineInterface>,
}

#[derive(Clone, Debug)]
pub struct LineInterface {
    pub device: String,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Maintenance {
    pub targets: Vec<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct Sla {
    pub availability_target: f64,
    pub respond_within: Duration,
    pub restore_within: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct Planned {
    pub core_rooms: u32,
    pub core_devices: u32,
    pub access_devices: u32,
    pub leased_lines: u32,
}
