//! Built-in defaults and bounds: what a key means when it is left out, and
//! the range outside which a value is refused rather than trusted; and the
//! SNMP profiles that ship with netkpi.

use std::time::Duration;

/// Loopback: a fresh install exposes nothing until the operator chooses to.
pub const LISTEN: &str = "127.0.0.1:9731";
/// Relative to the config file's directory, so an unpacked quick start works
/// wherever it is run from.
pub const DATA_DIR: &str = "data";
/// Reports cut days at midnight; UTC at least makes that explicit. Operators
/// are expected to set their own zone.
pub const TIMEZONE: &str = "UTC";

/// HTTP connections open at once (beyond it the oldest is closed): 512 stays
/// well inside the usual soft limit of 1024 open files, with room for the
/// store, the ICMP and trap sockets, while being far more than the few
/// scrapers, health checks and browsers that really connect.
pub const HTTP_MAX_CONNECTIONS: u32 = 512;
/// Fewer would let a handful of idle browser tabs push a scrape or a health
/// check out as soon as it connects.
pub const HTTP_MIN_MAX_CONNECTIONS: u32 = 16;
/// More needs `LimitNOFILE` far above its usual value, and the cap is there
/// to protect the daemon, not to serve crowds.
pub const HTTP_MAX_MAX_CONNECTIONS: u32 = 65_536;

/// How long a store write may hang before the store watchdog counts the
/// store as stalled: a commit on a healthy disk takes milliseconds, and even
/// a WAL checkpoint on a slow SD card or a busy VM well under a second, so
/// 10 s is a disk that has stopped answering, noticed before the next few
/// probe rounds pile up behind it.
pub const STORE_STALL_AFTER: Duration = Duration::from_secs(10);
/// Shorter would call an ordinary fsync on a loaded host a stall.
pub const STORE_MIN_STALL_AFTER: Duration = Duration::from_secs(1);
/// Longer would leave a hung store unnoticed for longer than most outages
/// last, while none of them is recorded.
pub const STORE_MAX_STALL_AFTER: Duration = Duration::from_secs(10 * 60);

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
/// A target down again within 10 minutes of its restoration reopens the same
/// incident: a line that bounces a few times while a fault is being fixed is
/// one outage to the ops team, not a handful of new ones, while a fault a
/// day later is a new incident.
pub const SLA_FLAP_WINDOW: Duration = Duration::from_secs(10 * 60);

/// 60 s between polls: counters and sensor values change slowly, and a
/// city's few hundred agents (many of them UPS and air-conditioning cards
/// with weak CPUs) are walked about once a second in total.
pub const SNMP_INTERVAL: Duration = Duration::from_secs(60);
/// An agent that has not answered in 2 s is busy or gone; waiting longer
/// only delays the verdict (a loaded core switch still answers in well under
/// a second).
pub const SNMP_TIMEOUT: Duration = Duration::from_secs(2);
/// One retry: UDP drops a datagram now and then, and a single loss should
/// not fail a poll.
pub const SNMP_RETRIES: u32 = 1;
/// v2c: what nearly every agent speaks, and it has GETBULK (v1 has not).
pub const SNMP_VERSION: &str = "2c";
/// `public`: the factory default of net-snmp and of most vendors' agents, so
/// an unchanged lab device answers. It is not a recommendation: operators are
/// expected to set their own community (or `community_file`), or to use
/// SNMPv3.
pub const SNMP_COMMUNITY: &str = "public";
/// The registered SNMP agent port (RFC 3417 §4).
pub const SNMP_PORT: u16 = 161;
/// 25 varbinds per GETBULK: a reply of counters stays well inside one
/// 1500-byte Ethernet frame, so it is not fragmented on the WAN, while a
/// 48-port switch's column still takes only two round trips.
pub const SNMP_MAX_REPETITIONS: u32 = 25;

/// Polling faster than every second loads the agents' CPUs (SNMP runs on the
/// control plane) without telling anything new.
pub const SNMP_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Slower polls would hide outages of SNMP-only devices (UPS cards that do not
/// answer ping) shorter than the interval from the ledger.
pub const SNMP_MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// More retries only delay the verdict on a dead agent.
pub const SNMP_MAX_RETRIES: u32 = 10;
/// GETBULK larger than this makes replies too big for one UDP datagram on
/// most agents, which then answer `tooBig` or not at all.
pub const SNMP_MAX_MAX_REPETITIONS: u32 = 1000;
/// net-snmp refuses pass phrases shorter than 8 characters
/// (`USM_LENGTH_P_MIN`), and so do most agents built on it: a shorter one
/// could never match the device.
pub const SNMP_MIN_PASS_PHRASE: usize = 8;

/// Device names and line ids: they become Prometheus label values, URL path
/// segments and maintenance targets, and head every log line and report row
/// about their target. 64 characters hold any real naming scheme (a DNS
/// label is at most 63) and keep those short; a longer value is a paste
/// mistake, not a name.
pub const NAME_MAX_CHARS: usize = 64;
/// Free text shown beside a name: a device's `site`, a line's `unit`,
/// `carrier` and `bandwidth`, a maintenance window's `reason`. 200 characters
/// is a long sentence, room for a unit's full official name or a change
/// ticket's summary, and still one line of a report table.
pub const TEXT_MAX_CHARS: usize = 200;
/// A line's `interface.name` is matched against the port's ifName, a
/// DisplayString of at most 255 characters (RFC 2863, RFC 2579): a longer
/// one can never match.
pub const IF_NAME_MAX_CHARS: usize = 255;

/// Prefix of every metric name netkpi exports; an alarm's `metric` may be
/// written with or without it.
pub const METRIC_PREFIX: &str = "netkpi_";

/// Paths in the config (`data_dir`, `api_token_file`, `profile_dirs`, the
/// secret files): Linux's PATH_MAX; a longer one cannot be opened.
pub const PATH_MAX_CHARS: usize = 4096;

/// Defines the one list of shipped profiles: their names, and each name with
/// its file's text, embedded so the binary works wherever it is installed.
macro_rules! shipped_profiles {
    ($($name:literal),* $(,)?) => {
        /// Profiles that ship with netkpi, from `config/profiles/`. Users add
        /// their own as `*.toml` files in `daemon.profile_dirs`, named by the
        /// file's stem.
        pub const BUILTIN_PROFILE_NAMES: &[&str] = &[$($name),*];
        /// [`BUILTIN_PROFILE_NAMES`], each with its file's text.
        pub const BUILTIN_PROFILES: &[(&str, &str)] = &[$((
            $name,
            include_str!(concat!("../../config/profiles/", $name, ".toml")),
        )),*];
    };
}

shipped_profiles!(
    "system",
    "if_mib",
    "ups_mib",
    "entity_sensor",
    "host_resources",
    "apc_powernet",
    "liebert",
    "huawei",
    "h3c",
    "huawei_ups",
);

/// Where the SNMP trap receiver listens when `[traps]` is present without
/// `listen`: every address, the registered trap port (RFC 3417 §4),
/// which needs CAP_NET_BIND_SERVICE.
pub const TRAPS_LISTEN: &str = "0.0.0.0:162";
/// `public`, the agents' factory default.
pub const TRAPS_COMMUNITY: &str = "public";
