//! README "Malformed input": "Nothing received from the network can panic
//! the daemon". Through the real binary (a debug build, as `cargo test`
//! makes it: integer overflow checks on): an SNMPv3 "agent" that answers
//! engine discovery with boots and time out of RFC 3414's range
//! (0..2^31-1) must make its device fail over SNMP, poll after poll, like
//! any agent that cannot be read, never stop its polling.
//!
//! Needs root and `python3` (the fake agent); fails loudly without them.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{listen, sample, Daemon, NetNs, LISTEN};

/// An unauthenticated SNMPv3 Report (RFC 3414 §4 discovery) with engine ID
/// 80001f880466757a7a, snmpEngineBoots 2^63-1 and snmpEngineTime 2^31-1,
/// usmStatsUnknownEngineIDs.0 = 1.
const REPORT_HEX: &str = "3065020103300e020101020300ffe304010002010304233021040980001f880466757a7a02087fffffffffffffff02047fffffff040004000400302b040980001f880466757a7a0400a81c0201000201000201003011300f060a2b060106030f01010400410101";

const AGENT: &str = "127.0.5.1";
const PORT: u16 = 1161;

/// A UDP responder inside the namespace that answers every datagram with
/// the report; killed on drop.
struct FakeAgent(Child);

impl FakeAgent {
    fn start(ns: &NetNs) -> FakeAgent {
        let script = format!(
            "import socket, sys\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('{AGENT}', {PORT}))\n\
             print('ready', flush=True)\n\
             report = bytes.fromhex('{REPORT_HEX}')\n\
             while True:\n\
             \x20   data, peer = s.recvfrom(65535)\n\
             \x20   s.sendto(report, peer)\n"
        );
        let mut child = ns
            .command("python3")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 (the fake agent): {e}"));
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("read from the fake agent");
        assert_eq!(line.trim(), "ready", "the fake agent did not start");
        FakeAgent(child)
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_v3_report_with_out_of_range_boots_fails_polls_without_stopping_them() {
    let ns = NetNs::new();
    let _agent = FakeAgent::start(&ns);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[daemon]
listen = "{LISTEN}"
data_dir = "data"
timezone = "UTC"

[[device]]
name = "ups-odd"
role = "ups"
address = "{AGENT}"
snmp = {{ version = "3", user = "netkpi", port = {PORT}, interval = "1s", timeout = "300ms", retries = 0, profiles = ["system"] }}
"#
        ),
    )
    .expect("write config");
    let mut daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    // Down over SNMP, for an SNMP reason, as for any agent that cannot be
    // read.
    let doc = daemon.wait_for(
        "/api/v1/devices",
        "ups-odd down over SNMP",
        Duration::from_secs(10),
        |doc| {
            let d = &doc["devices"][0];
            d["state"] == "down" && d["cause"].as_str().is_some_and(|c| c.starts_with("snmp:"))
        },
    );
    let failure = doc["devices"][0]["snmp"]["last_failure"].clone();
    assert!(failure.is_string(), "{doc}");
    // And polled on: every round fails and is counted.
    let errors = |m: &str| -> f64 {
        m.lines()
            .filter(|l| l.starts_with("netkpi_poll_errors_total{") && l.contains("prober=\"snmp\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let before = errors(&daemon.metrics());
    daemon.wait_until("three more failed polls", Duration::from_secs(6), || {
        let now = errors(&daemon.metrics());
        if now >= before + 3.0 {
            Ok(())
        } else {
            Err(now)
        }
    });
    assert_eq!(
        sample(
            &daemon.metrics(),
            "netkpi_device_up",
            &[("device", "ups-odd")]
        ),
        Some(0.0)
    );
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "netkpi panicked:\n{log}");
    if let Ok(Some(status)) = daemon.child.try_wait() {
        panic!("netkpi exited with {status}:\n{log}");
    }
}
