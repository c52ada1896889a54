//! The config file: TOML, strict, validated all at once.
//!
//! [`load`] returns a fully resolved [`Config`] (defaults merged into every
//! device, names checked, references resolved) or every [`Diagnostic`] found,
//! each with its file, line and column.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::diag::Diagnostic;
use crate::model::Severity;
use crate::secret::Secret;
use crate::snmp_security::{AuthProtocol, Credentials, KeyExtension, PrivProtocol, SnmpVersion};

pub mod builtin;
mod import;
mod include;
mod raw;
mod read;
pub mod report;
mod validate;
pub mod web;

#[cfg(test)]
mod tests;

pub use builtin::BUILTIN_PROFILE_NAMES;
pub use read::{load, load_str, load_str_with, load_with, profile_names};
pub use web::WebConfig;

/// What `netkpi check` prints for a valid config: one line per file read
/// ([`SourceFile::describe`]), then the [`summary`].
pub fn report(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = config.files.iter().map(SourceFile::describe).collect();
    out.push(summary(config));
    out
}

/// One file the config was read from (the config file, an included
/// fragment, a CSV inventory) and how many entries of each kind it gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFile {
    pub file: PathBuf,
    pub devices: usize,
    pub lines: usize,
    pub maintenance: usize,
    pub alarms: usize,
}

impl SourceFile {
    /// `conf.d/10-room.toml: 4 devices, 0 lines`; windows and alarms only
    /// when the file has some.
    pub fn describe(&self) -> String {
        let counted = |n: usize, what: &str| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        };
        let mut parts = vec![counted(self.devices, "device"), counted(self.lines, "line")];
        if self.maintenance > 0 {
            parts.push(counted(self.maintenance, "maintenance window"));
        }
        if self.alarms > 0 {
            parts.push(counted(self.alarms, "alarm"));
        }
        format!("{}: {}", self.file.display(), parts.join(", "))
    }
}

/// The line `netkpi check` prints for a valid config. K is the
/// number of distinct profiles the devices name (what `check` validated),
/// not the number available.
pub fn summary(config: &Config) -> String {
    format!(
        "ok: {} devices, {} lines, {} profiles",
        config.devices.len(),
        config.lines.len(),
        config.profiles_in_use().len()
    )
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from (for messages and for resolving relative paths).
    pub source: PathBuf,
    pub daemon: Daemon,
    pub defaults: Defaults,
    pub devices: Arc<Vec<Device>>,
    pub lines: Arc<Vec<Line>>,
    pub maintenance: Vec<Maintenance>,
    pub sla: Sla,
    pub planned: Planned,
    /// `Some` when the config has a `[traps]` section.
    pub traps: Option<Traps>,
    /// `[[alarm]]`: thresholds on polled values, in file order.
    pub alarms: Vec<Alarm>,
    /// `[report]` and the evaluation form's `[[indicator]]` rows.
    pub report: report::ReportSettings,
    /// Every file read (this one first, then its includes and inventories),
    /// with what each gave.
    pub files: Vec<SourceFile>,
}

impl Config {
    /// Every profile some device polls, each once, in the order first named.
    pub fn profiles_in_use(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for d in self.devices.iter() {
            for p in d.snmp.iter().flat_map(|s| &s.profiles) {
                if !out.contains(&p.as_str()) {
                    out.push(p);
                }
            }
        }
        out
    }
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
    /// Folders of user profiles (`*.toml`, named by file stem), resolved
    /// against the config file's directory; each existed when loaded. Empty
    /// when not given: only the built-in profiles are known.
    pub profile_dirs: Vec<PathBuf>,
    /// HTTP connections open at once; beyond it the oldest is closed. Read
    /// when the HTTP server starts: a reload does not change it.
    pub http_max_connections: usize,
    /// How long a store write may hang before the store counts as stalled.
    pub store_stall_after: Duration,
    /// `daemon.web_config_file`, read and checked with the config (so a
    /// reload re-reads it): TLS and basic auth for the HTTP server.
    pub web: Option<WebConfig>,
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
    /// `Some` when SNMP polling is enabled for this device.
    pub snmp: Option<SnmpSettings>,
}

/// How one device is polled over SNMP. Every field is resolved (device keys
/// over `[defaults.snmp]` over the built-in defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct SnmpSettings {
    /// Time between the starts of two polls.
    pub interval: Duration,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Requests re-sent after a timeout, so one poll takes at most
    /// `timeout * (retries + 1)`, which is shorter than `interval`.
    pub retries: u32,
    pub version: SnmpVersion,
    pub port: u16,
    /// GETBULK `max-repetitions` (unused with v1, which has no GETBULK).
    pub max_repetitions: u32,
    /// Profile names, at least one, each known, no repeats.
    pub profiles: Vec<String>,
    /// Matches `version`: `Community` for v1 and v2c, `V3` for v3.
    pub credentials: Credentials,
}

/// The SNMP trap and inform receiver (`[traps]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Traps {
    pub listen: SocketAddr,
    /// v1/v2c traps and informs are accepted with any of these; empty means
    /// only v3 is accepted.
    pub communities: Vec<Secret>,
    /// `[[traps.v3_user]]`: the v3 senders accepted.
    pub v3_users: Vec<TrapUser>,
}

/// One v3 trap sender: a USM user as configured on the sending device, whose
/// keys are localized to that device's engine ID (RFC 3414 §2.6).
#[derive(Clone, Debug, PartialEq)]
pub struct TrapUser {
    pub user: String,
    /// The sender's snmpEngineID, 5 to 32 bytes (RFC 3411 §5).
    pub engine_id: Vec<u8>,
    pub auth: Option<(AuthProtocol, Secret)>,
    pub privacy: Option<(PrivProtocol, Secret)>,
    pub key_extension: Option<KeyExtension>,
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
    /// `severity` as written; `None` when not given. The severity in force
    /// (this, else an `[[sla.override]]`, else [`crate::model::LINE_SEVERITY`])
    /// is [`crate::inventory::Inventory::sla_of`]'s.
    pub severity: Option<Severity>,
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

/// `[sla]`: the targets every device and line is measured against, and
/// the `[[sla.override]]` tables that change them for some.
#[derive(Clone, Debug)]
pub struct Sla {
    pub availability_target: f64,
    pub respond_within: Duration,
    pub restore_within: Duration,
    /// A target down again within this after its restoration reopens the
    /// same incident rather than opening a new one.
    pub flap_window: Duration,
    /// In file order: among overrides of equal specificity the later wins.
    pub overrides: Vec<SlaOverride>,
}

/// One `[[sla.override]]`: what it applies to, and the values it sets
/// (at least one is `Some`).
#[derive(Clone, Debug, PartialEq)]
pub struct SlaOverride {
    pub applies_to: SlaMatch,
    pub availability_target: Option<f64>,
    pub respond_within: Option<Duration>,
    pub restore_within: Option<Duration>,
    pub severity: Option<Severity>,
}

/// An override's `match`. Carrier and line select lines, role and device
/// select devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlaMatch {
    /// Every line whose `carrier` is this.
    Carrier(String),
    /// Every device with this role.
    Role(Role),
    /// The line with this id.
    Line(String),
    /// The device with this name.
    Device(String),
}

impl SlaMatch {
    /// How specific the match is: when several overrides set the same key
    /// for a target, the most specific wins (a line or device named > a
    /// carrier > a role), and among equals the later in the file.
    pub fn specificity(&self) -> u8 {
        match self {
            SlaMatch::Role(_) => 0,
            SlaMatch::Carrier(_) => 1,
            SlaMatch::Line(_) | SlaMatch::Device(_) => 2,
        }
    }

    /// Whether it selects the device `device`.
    pub fn selects_device(&self, device: &Device) -> bool {
        match self {
            SlaMatch::Role(r) => *r == device.role,
            SlaMatch::Device(name) => *name == device.name,
            SlaMatch::Carrier(_) | SlaMatch::Line(_) => false,
        }
    }

    /// Whether it selects the line `line`.
    pub fn selects_line(&self, line: &Line) -> bool {
        match self {
            SlaMatch::Carrier(c) => *c == line.carrier,
            SlaMatch::Line(id) => *id == line.id,
            SlaMatch::Role(_) | SlaMatch::Device(_) => false,
        }
    }
}

/// One `[[alarm]]`: a threshold on a polled value, or a trap, that opens
/// an incident on the device while it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Alarm {
    /// Unique among the alarms; names the incident.
    pub name: String,
    /// The metric's full name, with the `netkpi_` prefix.
    pub metric: String,
    pub op: Comparison,
    /// Finite.
    pub value: f64,
    /// The incident's severity; `None`: the device's.
    pub severity: Option<Severity>,
    /// How long the condition must hold before the alarm fires, and be
    /// clear before it clears.
    pub hold: Duration,
    /// Only these devices; empty: every device polled over SNMP.
    pub devices: Vec<String>,
    /// Only samples with these label values.
    pub labels: Vec<(String, String)>,
    /// A trap alarm: raised by this trap at once; `metric`, `op` and
    /// `value` are the polled condition that the trap reports (the polls
    /// confirm or clear it, they never raise it).
    pub trap: Option<TrapAlarm>,
}

/// The traps an `[[alarm]]` can be raised by (`trap = "..."`), each with
/// the polled condition it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapAlarm {
    /// UPS-MIB upsTrapOnBattery (or upsTrapAlarmEntryAdded of
    /// upsAlarmOnBattery); cleared by upsTrapAlarmEntryRemoved of it, and
    /// by polls reading `netkpi_ups_on_battery` 0.
    UpsOnBattery,
    /// IF-MIB linkDown of an interface the alarm's labels select; cleared
    /// by its linkUp, and by polls reading `netkpi_if_oper_up` 1.
    LinkDown,
}

impl TrapAlarm {
    pub const ALL: [TrapAlarm; 2] = [TrapAlarm::UpsOnBattery, TrapAlarm::LinkDown];

    /// The config's name, the trap kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrapAlarm::UpsOnBattery => "ups_on_battery",
            TrapAlarm::LinkDown => "link_down",
        }
    }

    pub fn parse(s: &str) -> Option<TrapAlarm> {
        TrapAlarm::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The polled condition the trap reports: (metric, op, value).
    pub fn condition(self) -> (&'static str, Comparison, f64) {
        match self {
            TrapAlarm::UpsOnBattery => ("netkpi_ups_on_battery", Comparison::Eq, 1.0),
            TrapAlarm::LinkDown => ("netkpi_if_oper_up", Comparison::Eq, 0.0),
        }
    }
}

impl Alarm {
    /// Whether it watches `device` (which must be polled over SNMP).
    pub fn watches(&self, device: &Device) -> bool {
        device.snmp.is_some() && (self.devices.is_empty() || self.devices.contains(&device.name))
    }

    /// The condition as text, e.g. `netkpi_ups_on_battery == 1`,
    /// `netkpi_ups_input_voltage_volts{ups_input_line="1"} < 200` or, for a
    /// trap alarm, `trap link_down{if_name="ge-0/0/1"}`.
    pub fn condition(&self) -> String {
        if let Some(trap) = self.trap {
            return format!("trap {}{}", trap.as_str(), self.labels_text());
        }
        format!(
            "{}{} {} {}",
            self.metric,
            self.labels_text(),
            self.op.as_str(),
            self.value
        )
    }

    /// `{k="v",...}`, or nothing without labels.
    fn labels_text(&self) -> String {
        if self.labels.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            format!("{{{}}}", pairs.join(","))
        }
    }
}

/// An alarm's comparison of a polled value with its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub const ALL: [Comparison; 6] = [
        Comparison::Eq,
        Comparison::Ne,
        Comparison::Lt,
        Comparison::Le,
        Comparison::Gt,
        Comparison::Ge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }

    pub fn parse(s: &str) -> Option<Comparison> {
        Comparison::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether `value` compared with `threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Eq => value == threshold,
            Comparison::Ne => value != threshold,
            Comparison::Lt => value < threshold,
            Comparison::Le => value <= threshold,
            Comparison::Gt => value > threshold,
            Comparison::Ge => value >= threshold,
        }
    }
}

/// What the caller of [`load_with`] knows of the SNMP profiles devices may
/// name: every name, and for the profiles it could read, the metrics each
/// gives, which alarms are checked against. A profile without an entry in
/// `metrics` is taken to give whatever an alarm names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KnownProfiles {
    pub names: Vec<String>,
    /// Profile name → the metrics it gives.
    pub metrics: BTreeMap<String, Vec<KnownMetric>>,
}

/// One metric a profile gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownMetric {
    /// Full name, with the `netkpi_` prefix.
    pub name: String,
    /// The labels its samples carry (besides `device`).
    pub labels: Vec<String>,
}

impl From<Vec<String>> for KnownProfiles {
    /// Names only: no metric is known.
    fn from(names: Vec<String>) -> KnownProfiles {
        KnownProfiles {
            names,
            metrics: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Planned {
    pub core_rooms: u32,
    pub core_devices: u32,
    pub access_devices: u32,
    pub leased_lines: u32,
}
