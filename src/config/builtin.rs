//! Built-in defaults and bounds: what a key means when it is left out, and
//! the range outside which a value is refused rather than trusted.

use std::time::Duration;

/// Loopback: a fresh install exposes nothing until the operator chooses to.
pub const LISTEN: &str = "127.0.0.1:9731";
/// Relative to the config file's directory, so an unpacked quick start works
/// wherever it is run from.
pub const DATA_DIR: &str = "data";
/// Reports cut days at midnight; UTC at least makes that explicit. Operators
/// are expected to set their own zone.
pub const TIMEZONE: &str = "UTC";

/// 10 s between rounds: with `down_after = 3` an outage is declared within
/// about 30 s, while a city's few hundred targets cost a few echoes a second.
pub const ICMP_INTERVAL: Duration = Duration::from_secs(10);
/// WAN round trips are tens of milliseconds; an echo later than 1 s is as
/// useless to a user as a lost one.
pub const ICMP_TIMEOUT: Duration = Duration::from_secs(1);
/// Three echoes per round so that one lost packet does not fail a round.
pub const ICMP_COUNT: u32 = 3;
/// Three failed rounds in a row before "down": one bad round is noise.
pub const ICMP_DOWN_AFTER: u32 = 3;
/// Two good rounds before "up" again, so a flapping line is not counted as
/// restored on its first answer.
pub const ICMP_UP_AFTER: u32 = 2;
/// Half the echoes lost: users notice, but the line still carries traffic.
pub const ICMP_DEGRADED_LOSS: f64 = 0.5;

/// Faster rounds load device control planes (ICMP is rate-limited there)
/// without detecting an outage any sooner than `down_after` allows.
pub const ICMP_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Slower rounds would hide outages shorter than the interval from the ledger.
pub const ICMP_MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// More echoes per round add load, not information.
pub const ICMP_MAX_COUNT: u32 = 100;
/// Confirmation counts above this would make detection take hours.
pub const ICMP_MAX_CONFIRM: u32 = 100;

/// "Three nines", the usual target in the evaluation table.
pub const SLA_AVAILABILITY_TARGET: f64 = 0.999;
/// Acknowledge an incident within half an hour.
pub const SLA_RESPOND_WITHIN: Duration = Duration::from_secs(30 * 60);
/// Restore service within four hours.
pub const SLA_RESTORE_WITHIN: Duration = Duration::from_secs(4 * 3600);
