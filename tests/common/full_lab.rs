//! The daemon with every kind of target at once, for tests about the whole
//! scrape (`scrape_e2e`, `prometheus_rules`) and the soak (`soak_e2e`, which
//! starts the agents with [`FullLab`] and runs the daemon itself): ICMP devices (one of them
//! silent), a line, net-snmp `snmpd` polled over v2c with ICMP too,
//! snmpsim recordings for every shipped profile, an SNMP device whose agent
//! never answers, and traps received (v1, v2c, an inform, one refused).
//! The line L-001 is also watched on a core-side port (`lo` of the snmpd
//! device, which is up and carries the lab's own traffic).
//!
//! Needs what `snmp_e2e` needs: root, `snmpd`, `snmp` (the tools),
//! `nftables`, `promtool` and the snmpsim venv; fails loudly without them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::snmpd::{self, Snmpd};
use super::snmpsim::{Recording, Snmpsim};
use super::{listen, sample, Daemon, NetNs, LISTEN};

/// The trap receiver inside the namespace.
pub const TRAP_PORT: u16 = 11162;
pub const TRAP_COMMUNITY: &str = "trapcomm";
/// The snmpd agent (also pinged).
pub const SNMPD_ADDR: &str = "127.0.1.1";
pub const SNMPD_PORT: u16 = 11161;
pub const SIM_PORT: u16 = 1161;
/// A device that never answers ICMP (dropped by nftables).
pub const SILENT_ADDR: &str = "127.0.20.9";

/// (device, role, snmpsim address, recording, profiles): every shipped
/// profile against a recording its golden test uses.
pub const SIMULATED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "sw-huawei",
        "core_switch",
        "127.0.2.1",
        "huawei-s12704",
        r#""system", "if_mib", "huawei""#,
    ),
    (
        "fw-paloalto",
        "firewall",
        "127.0.2.2",
        "paloalto-pa-5000",
        r#""entity_sensor""#,
    ),
    (
        "ups-eaton",
        "ups",
        "127.0.2.3",
        "eaton-93e-80",
        r#""system", "ups_mib""#,
    ),
    (
        "ups-apc",
        "ups",
        "127.0.2.4",
        "apc-smart-ups-synthetic",
        r#""apc_powernet""#,
    ),
    (
        "pdu-apc",
        "other",
        "127.0.2.5",
        "apc-8932",
        r#""apc_powernet""#,
    ),
    (
        "ac-vertiv",
        "air_conditioner",
        "127.0.2.6",
        "vertiv-power",
        r#""system", "liebert""#,
    ),
    (
        "sw-h3c",
        "aggregation_switch",
        "127.0.2.7",
        "h3c-e528-1",
        r#""h3c""#,
    ),
    (
        "srv-linux",
        "other",
        "127.0.2.8",
        "linux-unknown-004",
        r#""host_resources""#,
    ),
];

/// Every device of the config and the state it settles in.
pub fn expected_states() -> Vec<(&'static str, &'static str)> {
    let mut states = vec![
        ("core-r1", "up"),
        ("acc-001", "up"),
        ("acc-silent", "down"),
        ("sw-snmpd", "up"),
        ("ups-mute", "down"),
    ];
    states.extend(SIMULATED.iter().map(|(name, ..)| (*name, "up")));
    states
}

/// The full lab's config text (`data_dir` is `data` beside the file).
pub fn config() -> String {
    let mut text = format!(
        r#"
[daemon]
listen = "{LISTEN}"
data_dir = "data"
timezone = "UTC"

[defaults]
icmp = {{ interval = "1s", timeout = "300ms", count = 3, down_after = 2, up_after = 2, degraded_loss = 0.5 }}
snmp = {{ interval = "3s", timeout = "1s", retries = 1, port = {SIM_PORT} }}

[traps]
listen = "127.0.0.1:{TRAP_PORT}"
communities = ["{TRAP_COMMUNITY}"]

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
site = "core-room"
icmp = {{}}

[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
site = "finance-bureau"
parent = "core-r1"
icmp = {{}}

[[device]]
name = "acc-silent"
role = "access_egress"
address = "{SILENT_ADDR}"
site = "tax-office"
parent = "core-r1"
icmp = {{}}

[[device]]
name = "sw-snmpd"
role = "core_switch"
address = "{SNMPD_ADDR}"
site = "core-room"
icmp = {{}}
snmp = {{ version = "2c", community = "{community}", port = {SNMPD_PORT}, profiles = ["system", "if_mib"] }}

[[device]]
name = "ups-mute"
role = "ups"
address = "127.0.2.99"
snmp = {{ community = "no-such-recording", timeout = "300ms", retries = 0, profiles = ["ups_mib"] }}

[[line]]
id = "L-001"
unit = "Finance Bureau"
carrier = "Carrier A"
bandwidth = "100M"
device = "acc-001"
interface = {{ device = "sw-snmpd", name = "lo" }}

[[line]]
id = "L-002"
unit = "Tax Office"
carrier = "Carrier B"
bandwidth = "50M"
device = "acc-silent"

[planned]
core_rooms = 1
core_devices = 2
access_devices = 3
leased_lines = 4

# The shipped evaluation form and manual values: the daemon exports the form
# year to date (netkpi_indicator_*).
[report]
indicators_file = "{repo}/config/report/indicators.toml"
manual_file = "{repo}/config/report/manual.toml"
"#,
        community = snmpd::COMMUNITY,
        repo = env!("CARGO_MANIFEST_DIR"),
    );
    for (name, role, address, recording, profiles) in SIMULATED {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{name}\"\nrole = \"{role}\"\naddress = \"{address}\"\n\
             snmp = {{ community = \"{recording}\", profiles = [{profiles}] }}\n"
        ));
    }
    text
}

/// Runs a net-snmp notification tool inside the namespace; panics unless it
/// exits 0.
pub fn send(ns: &NetNs, tool: &str, args: &[&str]) {
    let out = ns.run(tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?} exited {}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends a v1 linkDown and a v2c linkDown from the snmpd device, a v2c
/// linkUp inform, a coldStart from no device and one trap with a wrong
/// community. Returns the (version, kind) counts that must show.
fn send_traps(ns: &NetNs) -> Vec<(&'static str, &'static str)> {
    let receiver = format!("127.0.0.1:{TRAP_PORT}");
    let from = format!("--clientaddr={SNMPD_ADDR}");
    let if_varbinds = [
        "1.3.6.1.2.1.2.2.1.1.1",
        "i",
        "1",
        "1.3.6.1.2.1.2.2.1.8.1",
        "i",
        "2",
    ];
    let mut v1 = vec![
        "-v",
        "1",
        "-c",
        TRAP_COMMUNITY,
        from.as_str(),
        receiver.as_str(),
        "1.3.6.1.4.1.8072.3.2.10",
        SNMPD_ADDR,
        "2",
        "0",
        "",
    ];
    v1.extend(if_varbinds);
    send(ns, "snmptrap", &v1);
    let mut v2 = vec![
        "-v",
        "2c",
        "-c",
        TRAP_COMMUNITY,
        from.as_str(),
        receiver.as_str(),
        "",
        "1.3.6.1.6.3.1.1.5.3",
    ];
    v2.extend(if_varbinds);
    send(ns, "snmptrap", &v2);
    let mut inform = vec![
        "-v",
        "2c",
        "-c",
        TRAP_COMMUNITY,
        "-t",
        "2",
        "-r",
        "1",
        from.as_str(),
        receiver.as_str(),
        "",
        "1.3.6.1.6.3.1.1.5.4",
    ];
    inform.extend(if_varbinds);
    send(ns, "snmpinform", &inform);
    send(
        ns,
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            TRAP_COMMUNITY,
            receiver.as_str(),
            "",
            "1.3.6.1.6.3.1.1.5.1",
        ],
    );
    send(
        ns,
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "not-the-community",
            from.as_str(),
            receiver.as_str(),
            "",
            "1.3.6.1.6.3.1.1.5.3",
        ],
    );
    vec![
        ("v1", "link_down"),
        ("v2c", "link_down"),
        ("v2c", "link_up"),
        ("v2c", "cold_start"),
    ]
}

fn device<'v>(doc: &'v Value, name: &str) -> &'v Value {
    doc["devices"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{name} missing from /devices: {doc}"))
}

/// The full lab's agents and config in a namespace (the daemon is the
/// caller's): snmpd, one snmpsim for every [`SIMULATED`] device, the silent
/// device dropped, and [`config`] written to `dir/netkpi.toml`.
pub struct FullLab<'a> {
    pub snmpd: Snmpd<'a>,
    pub sim: Snmpsim<'a>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl<'a> FullLab<'a> {
    pub fn start(ns: &'a NetNs) -> FullLab<'a> {
        ns.take_down(SILENT_ADDR);
        let snmpd = Snmpd::start(ns, &[SNMPD_ADDR], SNMPD_PORT);
        let endpoints: Vec<String> = SIMULATED
            .iter()
            .map(|(_, _, address, ..)| format!("{address}:{SIM_PORT}"))
            .collect();
        let endpoint_refs: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        let recordings: Vec<Recording> = SIMULATED
            .iter()
            .map(|(_, _, _, recording, _)| Recording::new(recording, recording))
            .collect();
        let sim = Snmpsim::start(ns, &endpoint_refs, &recordings);
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("netkpi.toml");
        std::fs::write(&config, self::config()).expect("write config");
        FullLab {
            snmpd,
            sim,
            dir,
            config,
        }
    }
}

/// Starts the whole lab in a fresh namespace, waits until every device is in
/// its [`expected_states`] (SNMP devices with samples), the traps are
/// counted and every state has been rendered, then calls `f` with the
/// running daemon.
pub fn with_full_lab<T>(f: impl FnOnce(&Daemon) -> T) -> T {
    let ns = NetNs::new();
    let lab = FullLab::start(&ns);
    let daemon = Daemon::start(
        &ns,
        &lab.config,
        listen(),
        lab.dir.path().join("netkpi.log"),
    );

    let states = expected_states();
    daemon.wait_for(
        "/api/v1/devices",
        "every device in its expected state, SNMP devices with samples",
        Duration::from_secs(40),
        |doc| {
            states.iter().all(|(name, state)| {
                let d = device(doc, name);
                d["state"] == *state
                    && (*state != "up"
                        || d["snmp"].is_null()
                        || d["snmp"]["samples"].as_u64().unwrap_or(0) > 0)
            })
        },
    );
    let traps = send_traps(&ns);
    daemon.wait_until("the traps counted", Duration::from_secs(10), || {
        let m = daemon.metrics();
        let missing: Vec<_> = traps
            .iter()
            .filter(|(version, kind)| {
                sample(
                    &m,
                    "netkpi_traps_received_total",
                    &[("version", version), ("kind", kind)],
                ) != Some(1.0)
            })
            .collect();
        let refused = sample(
            &m,
            "netkpi_traps_rejected_total",
            &[("reason", "bad_community")],
        );
        if missing.is_empty() && refused == Some(1.0) {
            Ok(())
        } else {
            Err((missing, refused))
        }
    });
    f(&daemon)
}

/// `promtool check metrics` on `scrape`: its findings, one per line (there
/// must be none). Fails loudly when promtool is missing.
pub fn promtool_findings(scrape: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}); install the Debian package `prometheus`")
        });
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(scrape.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("wait for promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<String> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    // promtool exits 3 for lint findings; anything else but 0 means it
    // could not read the text at all.
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(3),
        "promtool check metrics exited {code:?}: {report}"
    );
    findings
}

/// Names every `netkpi_*` sample and `# TYPE`/`# HELP` line of a scrape
/// uses (for a histogram, its `_bucket`, `_count` and `_sum` samples and its
/// own name).
pub fn exported_names(scrape: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in scrape.lines() {
        let name = match line
            .strip_prefix("# TYPE ")
            .or(line.strip_prefix("# HELP "))
        {
            Some(rest) => rest.split_whitespace().next(),
            None if line.starts_with('#') => None,
            None => line.split(['{', ' ']).next(),
        };
        if let Some(name) = name.filter(|n| n.starts_with("netkpi_")) {
            names.insert(name.to_string());
        }
    }
    names
}
