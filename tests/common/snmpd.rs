//! A private net-snmp `snmpd` inside a test's network namespace:
//! its own config, persistent state and log in a temporary folder, listening
//! on the given addresses and port, killed on drop.
//!
//! It answers v2c for community [`COMMUNITY`] from anywhere in the namespace
//! and v3 authPriv for user [`V3_USER`] (SHA-1 / AES-128, pass phrases
//! [`AUTH_PASS`] / [`PRIV_PASS`]), and calls itself [`SYS_NAME`]. Inside a
//! fresh namespace its IF-MIB lists `lo` (ifIndex 1), up.
//!
//! Needs `snmpd` and `snmpget` (packages `snmpd`, `snmp`); fails loudly
//! without them.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::NetNs;

pub const COMMUNITY: &str = "public";
pub const V3_USER: &str = "testv3";
pub const AUTH_PASS: &str = "authpass123";
pub const PRIV_PASS: &str = "privpass123";
/// sysName.0 as the agent reports it (`sysName` in its config).
pub const SYS_NAME: &str = "netkpi-lab-snmpd";

pub struct Snmpd<'a> {
    ns: &'a NetNs,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// `IP:PORT` of every address it listens on.
    pub endpoints: Vec<String>,
}

impl<'a> Snmpd<'a> {
    /// Starts snmpd on `port` of each of `addresses` (IPv4 literals inside
    /// the namespace) and waits until each answers a v2c GET.
    pub fn start(ns: &'a NetNs, addresses: &[&str], port: u16) -> Snmpd<'a> {
        let dir = tempfile::tempdir().expect("temporary folder for snmpd");
        let endpoints: Vec<String> = addresses.iter().map(|a| format!("{a}:{port}")).collect();
        let agent_address = endpoints
            .iter()
            .map(|e| format!("udp:{e}"))
            .collect::<Vec<_>>()
            .join(",");
        std::fs::write(
            dir.path().join("snmpd.conf"),
            format!(
                "agentAddress {agent_address}\n\
                 rocommunity {COMMUNITY} default\n\
                 createUser {V3_USER} SHA \"{AUTH_PASS}\" AES \"{PRIV_PASS}\"\n\
                 rouser {V3_USER} priv\n\
                 sysName {SYS_NAME}\n\
                 sysLocation netkpi test namespace\n"
            ),
        )
        .expect("write snmpd.conf");
        let mut snmpd = Snmpd {
            ns,
            child: None,
            dir,
            endpoints,
        };
        snmpd.restart();
        snmpd
    }

    /// (Re)starts the agent on the same config and persistent state (killing
    /// it first if it runs) and waits until every endpoint answers: an agent
    /// that crashed and was brought back.
    pub fn restart(&mut self) {
        self.relaunch();
        self.wait_answering();
    }

    /// [`Snmpd::restart`] without waiting for answers: for an agent whose
    /// addresses may be cut off at the time (see [`Snmpd::exited`]).
    pub fn relaunch(&mut self) {
        self.kill();
        let child = self
            .ns
            .command("snmpd")
            .args(["-f", "-C", "-c"])
            .arg(self.dir.path().join("snmpd.conf"))
            .arg("-Lf")
            .arg(self.dir.path().join("snmpd.log"))
            // Numeric OIDs only: no MIB files to load (Debian ships almost none).
            .env("MIBS", "")
            .env("MIBDIRS", self.dir.path())
            .env("SNMP_PERSISTENT_DIR", self.persist_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start snmpd (apt-get install snmpd): {e}"));
        self.child = Some(child);
    }

    fn wait_answering(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        for endpoint in self.endpoints.clone() {
            loop {
                if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                    panic!(
                        "snmpd exited with {status} (exit status 127: not installed, \
                         apt-get install snmpd); log:\n{}",
                        self.log()
                    );
                }
                if self.answers(&endpoint) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "snmpd does not answer on {endpoint}; log:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Whether the agent process runs (it was not [`Snmpd::kill`]ed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The agent's exit status if it was started and has exited by itself
    /// (e.g. it could not bind its port), with its log.
    pub fn exited(&mut self) -> Option<(std::process::ExitStatus, String)> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some((status, self.log()))
    }

    /// A v2c GET of sysUpTime.0 by net-snmp's `snmpget`, from inside the
    /// namespace.
    fn answers(&self, endpoint: &str) -> bool {
        let out = self.ns.run(
            "snmpget",
            &[
                "-v2c",
                "-c",
                COMMUNITY,
                "-t",
                "0.3",
                "-r",
                "0",
                "-On",
                endpoint,
                "1.3.6.1.2.1.1.3.0",
            ],
        );
        out.status.success()
    }

    /// SIGKILL: the agent dies, the box stays (it still pings).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn persist_dir(&self) -> PathBuf {
        self.dir.path().join("persist")
    }
}

impl Drop for Snmpd<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}
