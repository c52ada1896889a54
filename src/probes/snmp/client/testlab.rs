//! A private net-snmp `snmpd` for the client's tests: its own config, state
//! directory and log, on a free high port of 127.0.0.1, killed on drop (and
//! by the kernel if the test thread that started it dies first).
//!
//! Users (net-snmp 5.9.3 as Debian 12 ships it supports them all; its
//! `createUser` takes AES-192/AES-256 with Blumenthal key extension and
//! AES-192-C/AES-256-C with Reeder's, see `KeyExtension`):
//!
//! | user            | auth    | priv       |
//! |-----------------|---------|------------|
//! | testv3          | SHA     | AES        |
//! | md5des          | MD5     | DES        |
//! | sha256aes256    | SHA-256 | AES-256    | (no key extension needed)
//! | shaaes256       | SHA     | AES-256    | Blumenthal
//! | shaaes256c      | SHA     | AES-256-C  | Reeder
//! | authonly        | SHA-512 | —          |
//!
//! A test that needs snmpd and cannot start it fails loudly (STYLE: no
//! silent skips).

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const AUTH_PASS: &str = "authpass123";
pub const PRIV_PASS: &str = "privpass123";

pub struct Snmpd {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Snmpd {
    pub fn start() -> Snmpd {
        let mut last_error = String::new();
        for _ in 0..20 {
            let port = rand::random_range(20_000u16..40_000);
            // Skip ports someone already holds (other tests' agents).
            if UdpSocket::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            match Snmpd::start_on(port) {
                Ok(snmpd) => return snmpd,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start snmpd: {last_error}");
    }

    fn start_on(port: u16) -> Result<Snmpd, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let conf = dir.path().join("snmpd.conf");
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:127.0.0.1:{port}\n\
                 rocommunity public 127.0.0.1\n\
                 createUser testv3 SHA \"{AUTH_PASS}\" AES \"{PRIV_PASS}\"\n\
                 rouser testv3 priv\n\
                 createUser md5des MD5 \"{AUTH_PASS}\" DES \"{PRIV_PASS}\"\n\
                 rouser md5des priv\n\
                 createUser sha256aes256 SHA-256 \"{AUTH_PASS}\" AES-256 \"{PRIV_PASS}\"\n\
                 rouser sha256aes256 priv\n\
                 createUser shaaes256 SHA \"{AUTH_PASS}\" AES-256 \"{PRIV_PASS}\"\n\
                 rouser shaaes256 priv\n\
                 createUser shaaes256c SHA \"{AUTH_PASS}\" AES-256-C \"{PRIV_PASS}\"\n\
                 rouser shaaes256c priv\n\
                 createUser authonly SHA-512 \"{AUTH_PASS}\"\n\
                 rouser authonly auth\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = dir.path().join("snmpd.log");
        let mut command = Command::new("snmpd");
        command
            .args(["-f", "-C", "-c"])
            .arg(&conf)
            .arg("-Lf")
            .arg(&log)
            // No MIB files are needed (numeric OIDs); skipping them spares
            // a log full of "Cannot find module".
            .env("MIBS", "")
            .env("MIBDIRS", dir.path())
            .env("SNMP_PERSISTENT_DIR", dir.path().join("persist"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs post-fork.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run snmpd (apt-get install snmpd): {e}"))?;
        let mut snmpd = Snmpd {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = snmpd.child.try_wait() {
                return Err(format!("snmpd exited with {status}: {}", snmpd.log()));
            }
            if snmpd.answers() {
                return Ok(snmpd);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("snmpd did not answer within 10 s: {}", snmpd.log()))
    }

    /// A v2c GET of sysUpTime.0 by net-snmp's own `snmpget`.
    fn answers(&self) -> bool {
        Command::new("snmpget")
            .args(["-v2c", "-c", "public", "-t", "0.2", "-r", "0", "-On"])
            .arg(self.addr.to_string())
            .arg("1.3.6.1.2.1.1.3.0")
            .env("MIBS", "")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("snmpd.log")).unwrap_or_default()
    }

    #[allow(dead_code)]
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Runs a net-snmp command-line tool (`snmpbulkwalk`, `snmpwalk`, ...)
    /// against this agent with numeric output (`-On -Oq`), returning
    /// (OID, value text) pairs.
    pub fn tool(&self, tool: &str, args: &[&str], root: &str) -> Vec<(String, String)> {
        let output = Command::new(tool)
            .args(args)
            .args(["-On", "-Oq", "-t", "2", "-r", "1"])
            .arg(self.addr.to_string())
            .arg(root)
            .env("MIBS", "")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let (oid, value) = line.split_once(' ').unwrap_or((line, ""));
                let oid = oid.strip_prefix('.')?;
                Some((oid.to_string(), value.trim().trim_matches('"').to_string()))
            })
            .collect()
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
