//! The file as written: one serde struct per TOML table, every field optional
//! and spanned, unknown keys refused.
//!
//! Everything is `Option` so that serde never stops at a missing key: which
//! keys are required, and what each one means, is decided in `validate.rs`
//! where every problem can be collected and placed. The spans let those
//! semantic messages point at the value the operator has to change.

use serde::Deserialize;
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub listen: Option<S<String>>,
    pub data_dir: Option<S<String>>,
    pub timezone: Option<S<String>>,
    pub api_token_file: Option<S<String>>,
    pub profile_dirs: Option<S<Vec<S<String>>>>,
    pub http_max_connections: Option<S<i64>>,
    pub store_stall_after: Option<S<String>>,
    pub web_config_file: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub icmp: Option<S<RawIcmp>>,
    pub snmp: Option<S<RawSnmp>>,
}

/// Integers are read as `i64` so that a negative or oversized value gets a
/// range message from us rather than serde's "expected u32".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIcmp {
    pub interval: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub count: Option<S<i64>>,
    pub down_after: Option<S<i64>>,
    pub up_after: Option<S<i64>>,
    pub degraded_loss: Option<S<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    pub name: Option<S<String>>,
    pub role: Option<S<String>>,
    pub address: Option<S<String>>,
    pub site: Option<S<String>>,
    pub parent: Option<S<String>>,
    pub icmp: Option<S<RawIcmp>>,
    pub snmp: Option<S<RawSnmp>>,
}

/// A device's `snmp` and `[defaults.snmp]`: one shape, so that any key can be
/// defaulted; `validate.rs` refuses `profiles` in the defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSnmp {
    pub interval: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub retries: Option<S<i64>>,
    pub version: Option<S<String>>,
    pub port: Option<S<i64>>,
    pub max_repetitions: Option<S<i64>>,
    pub profiles: Option<S<Vec<S<String>>>>,
    pub community: Option<S<String>>,
    pub community_file: Option<S<String>>,
    pub user: Option<S<String>>,
    pub auth: Option<S<String>>,
    pub auth_pass_file: Option<S<String>>,
    #[serde(rename = "priv")]
    pub privacy: Option<S<String>>,
    pub priv_pass_file: Option<S<String>>,
    pub key_extension: Option<S<String>>,
}

/// `[traps]` without its `[[traps.v3_user]]` entries, which `load.rs` reads
/// one by one like `[[device]]` so each gets its own messages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTraps {
    pub listen: Option<S<String>>,
    pub communities: Option<S<Vec<S<String>>>>,
}

/// One `[[traps.v3_user]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrapUser {
    pub user: Option<S<String>>,
    pub engine_id: Option<S<String>>,
    pub auth: Option<S<String>>,
    pub auth_pass_file: Option<S<String>>,
    #[serde(rename = "priv")]
    pub privacy: Option<S<String>>,
    pub priv_pass_file: Option<S<String>>,
    pub key_extension: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLine {
    pub id: Option<S<String>>,
    pub unit: Option<S<String>>,
    pub carrier: Option<S<String>>,
    pub bandwidth: Option<S<String>>,
    pub device: Option<S<String>>,
    pub interface: Option<S<RawInterface>>,
    pub severity: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInterface {
    pub device: Option<S<String>>,
    pub name: Option<S<String>>,
}

/// `start`/`end` are taken as any TOML value: operators write both quoted
/// strings (as the README does) and bare TOML datetimes, and both are accepted
/// as long as they carry an offset.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaintenance {
    pub targets: Option<S<Vec<S<String>>>>,
    pub start: Option<S<toml::Value>>,
    pub end: Option<S<toml::Value>>,
    pub reason: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSla {
    pub availability_target: Option<S<f64>>,
    pub respond_within: Option<S<String>>,
    pub restore_within: Option<S<String>>,
    pub flap_window: Option<S<String>>,
}

/// One `[[sla.override]]`, read one by one like `[[device]]` so each gets
/// its own messages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlaOverride {
    #[serde(rename = "match")]
    pub matching: Option<S<RawSlaMatch>>,
    pub availability_target: Option<S<f64>>,
    pub respond_within: Option<S<String>>,
    pub restore_within: Option<S<String>>,
    pub severity: Option<S<String>>,
}

/// An override's `match`: exactly one key, checked in `validate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlaMatch {
    pub carrier: Option<S<String>>,
    pub role: Option<S<String>>,
    pub line: Option<S<String>>,
    pub device: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlanned {
    pub core_rooms: Option<S<i64>>,
    pub core_devices: Option<S<i64>>,
    pub access_devices: Option<S<i64>>,
    pub leased_lines: Option<S<i64>>,
}

/// One `[[alarm]]`. `value` is read as a number (an integer converts);
/// `labels` as a table of strings; `trap` names a trap instead of
/// `metric`, `op` and `value`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlarm {
    pub name: Option<S<String>>,
    pub metric: Option<S<String>>,
    pub op: Option<S<String>>,
    pub value: Option<S<f64>>,
    pub severity: Option<S<String>>,
    pub hold: Option<S<String>>,
    pub devices: Option<S<Vec<S<String>>>>,
    pub labels: Option<S<std::collections::BTreeMap<String, S<String>>>>,
    pub trap: Option<S<String>>,
}

/// One `[[inventory]]`: devices or lines read from a CSV file
/// ([`super::import`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInventory {
    pub file: Option<S<String>>,
    pub kind: Option<S<String>>,
    /// Key → the header naming its column, where it is not the key itself.
    pub columns: Option<S<std::collections::BTreeMap<String, S<String>>>>,
    /// Header names of columns that are not read.
    pub ignore: Option<S<Vec<S<String>>>>,
    pub delimiter: Option<S<String>>,
    /// Devices only: the probes every row gets.
    pub template: Option<S<RawTemplate>>,
}

/// An inventory's `template`: what a `[[device]]` would say in `icmp` and
/// `snmp`, for every row.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplate {
    pub icmp: Option<S<RawIcmp>>,
    pub snmp: Option<S<RawSnmp>>,
}

/// One `[[device]]`/`[[line]]`/`[[maintenance]]` entry: `None` when it could
/// not be read at all (e.g. `device = "x"`), so indices still match the file.
#[derive(Debug)]
pub(super) struct Entry<T> {
    pub value: Option<T>,
    /// The entry's table header (or inline table), for "missing key" messages.
    pub span: std::ops::Range<usize>,
}

/// The whole file, each section read independently so that a mistake in one
/// does not hide the others.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub daemon: Option<RawDaemon>,
    pub defaults: Option<RawDefaults>,
    pub devices: Vec<Entry<RawDevice>>,
    pub lines: Vec<Entry<RawLine>>,
    pub maintenance: Vec<Entry<RawMaintenance>>,
    pub sla: Option<RawSla>,
    pub sla_overrides: Vec<Entry<RawSlaOverride>>,
    pub planned: Option<RawPlanned>,
    pub traps: Option<RawTraps>,
    pub trap_users: Vec<Entry<RawTrapUser>>,
    pub alarms: Vec<Entry<RawAlarm>>,
    pub report: Option<RawReport>,
    pub indicators: Vec<Entry<RawIndicator>>,
    /// `include`: file patterns, each as written.
    pub include: Option<S<Vec<S<String>>>>,
    pub inventory: Vec<Entry<RawInventory>>,
    /// Each file read, in order, with what it gave.
    pub files: Vec<super::SourceFile>,
    /// `name` of every `[[device]]` table that has a string one, even when
    /// the entry failed to deserialize, so references to it are not reported
    /// as dangling on top of the real mistake.
    pub device_names_seen: Vec<String>,
    pub line_ids_seen: Vec<String>,
    /// `carrier` of every `[[line]]` table that has a string one, likewise.
    pub line_carriers_seen: Vec<String>,
}

/// `[report]`: where the evaluation form and its manual values are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub indicators_file: Option<S<String>>,
    pub manual_file: Option<S<String>>,
    pub total_weight: Option<S<toml::Value>>,
}

/// `{ zh = "...", en = "..." }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLabel {
    pub zh: Option<S<String>>,
    pub en: Option<S<String>>,
}

/// One `[[indicator]]`. Numbers are any TOML value so that `5` and `5.0`
/// both read, and a time target may be a duration (`"4h"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIndicator {
    pub id: Option<S<String>>,
    pub level1: Option<S<RawLabel>>,
    pub level2: Option<S<RawLabel>>,
    pub name: Option<S<RawLabel>>,
    pub source: Option<S<String>>,
    pub target: Option<S<toml::Value>>,
    pub weight: Option<S<toml::Value>>,
    pub score: Option<S<toml::Value>>,
    pub floor: Option<S<toml::Value>>,
    pub direction: Option<S<String>>,
    pub steps: Option<S<Vec<S<RawStep>>>>,
    pub unit: Option<S<String>>,
}

/// One `[[indicator.steps]]` (or `{ at, score }` in `score = [...]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub at: Option<S<toml::Value>>,
    pub score: Option<S<toml::Value>>,
}

/// One value of the manual-entries file written as a table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManual {
    pub value: Option<S<toml::Value>>,
    pub note: Option<S<String>>,
}

/// What the files read before one file gave, to count what that file adds.
pub(super) struct Tally {
    file: std::path::PathBuf,
    devices: usize,
    lines: usize,
    maintenance: usize,
    alarms: usize,
}

impl Tally {
    pub fn start(file: std::path::PathBuf, raw: &RawConfig) -> Tally {
        Tally {
            file,
            devices: raw.devices.len(),
            lines: raw.lines.len(),
            maintenance: raw.maintenance.len(),
            alarms: raw.alarms.len(),
        }
    }

    pub fn finish(self, raw: &RawConfig) -> super::SourceFile {
        super::SourceFile {
            file: self.file,
            devices: raw.devices.len() - self.devices,
            lines: raw.lines.len() - self.lines,
            maintenance: raw.maintenance.len() - self.maintenance,
            alarms: raw.alarms.len() - self.alarms,
        }
    }
}
