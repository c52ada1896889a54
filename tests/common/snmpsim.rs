//! snmpsim serving recordings of real devices inside a test's network
//! namespace: the venv at [`VENV`] (`.ci/run` creates it), run as
//! `nobody` with its own data and cache folders, on several UDP endpoints.
//!
//! Every endpoint serves every recording; the community selects the
//! recording (its file name without `.snmprec`). Recordings come from
//! `tests/fixtures/snmprec/` (stripped copies of snmpsim-data, see its
//! README), optionally with some records replaced, e.g. by a `writecache`
//! variation (a value the test flips with `snmpset`) or a `delay` one (a slow
//! device).
//!
//! snmpsim answers one request at a time: a `delay` stalls every recording
//! the process serves, so a slow device gets a process of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::NetNs;

/// The Python venv holding snmpsim (`.ci/run` creates it).
pub const VENV: &str = "/opt/netkpi-lab";

/// The folder of the committed recordings.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snmprec")
}

/// One recording to serve.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The community it answers to (its file name in the data folder).
    pub community: String,
    /// The fixture it is copied from (`tests/fixtures/snmprec/<name>.snmprec`).
    pub fixture: String,
    /// Records replaced: (OID, the whole new `OID|TAG|VALUE` line). The OID
    /// must be in the recording.
    pub replace: Vec<(String, String)>,
}

impl Recording {
    pub fn new(community: &str, fixture: &str) -> Recording {
        Recording {
            community: community.to_string(),
            fixture: fixture.to_string(),
            replace: Vec::new(),
        }
    }

    /// Replaces the record of `oid` by `line` (`OID|TAG|VALUE`).
    pub fn with(mut self, oid: &str, line: &str) -> Recording {
        self.replace.push((oid.to_string(), line.to_string()));
        self
    }

    /// Makes `oid` (an INTEGER) writable with `snmpset` (snmpsim
    /// `writecache`), starting at `value`.
    pub fn writable_integer(self, oid: &str, value: i64) -> Recording {
        let line = format!("{oid}|2:writecache|value={value}");
        self.with(oid, &line)
    }

    fn text(&self) -> String {
        let source = fixtures().join(format!("{}.snmprec", self.fixture));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
        let mut seen = vec![false; self.replace.len()];
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            let oid = line.split('|').next().unwrap_or("");
            match self.replace.iter().position(|(o, _)| o == oid) {
                Some(i) => {
                    seen[i] = true;
                    out.push_str(&self.replace[i].1);
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
        for (i, (oid, _)) in self.replace.iter().enumerate() {
            assert!(seen[i], "{oid} is not in {}", source.display());
        }
        out
    }
}

pub struct Snmpsim<'a> {
    ns: &'a NetNs,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// The responder's command line (what [`Snmpsim::restart`] runs again).
    args: Vec<String>,
    /// The communities served (one per recording).
    communities: Vec<String>,
    /// `IP:PORT` of every endpoint.
    pub endpoints: Vec<String>,
}

impl<'a> Snmpsim<'a> {
    /// Starts one snmpsim process serving `recordings` on every endpoint of
    /// `endpoints` (`IP:PORT`, IPv4, inside the namespace), and waits until
    /// each endpoint answers for each recording.
    pub fn start(ns: &'a NetNs, endpoints: &[&str], recordings: &[Recording]) -> Snmpsim<'a> {
        assert!(
            Self::responder().exists(),
            "{} is missing: create the snmpsim venv as .ci/run does \
             (python3 -m venv {VENV} && {VENV}/bin/pip install snmpsim cryptography)",
            Self::responder().display()
        );
        let dir = tempfile::tempdir().expect("temporary folder for snmpsim");
        let data = dir.path().join("data");
        let cache = dir.path().join("cache");
        std::fs::create_dir(&data).expect("create snmpsim data folder");
        std::fs::create_dir(&cache).expect("create snmpsim cache folder");
        for r in recordings {
            std::fs::write(data.join(format!("{}.snmprec", r.community)), r.text())
                .expect("write recording");
        }
        // snmpsim drops to nobody: it must read the data and write the cache.
        chmod(dir.path(), 0o755);
        chmod(&data, 0o755);
        chmod(&cache, 0o777);
        for r in recordings {
            chmod(&data.join(format!("{}.snmprec", r.community)), 0o644);
        }
        let mut args = vec![
            "--process-user=nobody".to_string(),
            "--process-group=nogroup".to_string(),
            format!("--cache-dir={}", cache.display()),
            format!("--data-dir={}", data.display()),
            "--log-level=error".to_string(),
        ];
        args.extend(
            endpoints
                .iter()
                .map(|e| format!("--agent-udpv4-endpoint={e}")),
        );
        let mut sim = Snmpsim {
            ns,
            child: None,
            dir,
            args,
            communities: recordings.iter().map(|r| r.community.clone()).collect(),
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
        };
        sim.restart();
        sim
    }

    fn responder() -> PathBuf {
        Path::new(VENV).join("bin/snmpsim-command-responder")
    }

    /// (Re)starts the responder on the same data (killing it first if it
    /// runs) and waits until every endpoint answers for every recording.
    pub fn restart(&mut self) {
        self.relaunch();
        self.wait_answering();
    }

    /// [`Snmpsim::restart`] without waiting for answers: for a simulator
    /// whose addresses may be cut off at the time (see [`Snmpsim::exited`]).
    pub fn relaunch(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("snmpsim.log"))
            .expect("snmpsim log");
        let child = self
            .ns
            .command(Self::responder())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("snmpsim log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", Self::responder().display()));
        self.child = Some(child);
    }

    fn wait_answering(&mut self) {
        // Indexing the recordings takes a few seconds on the first start.
        let deadline = Instant::now() + Duration::from_secs(30);
        for endpoint in self.endpoints.clone() {
            for community in self.communities.clone() {
                loop {
                    if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                        panic!("snmpsim exited with {status}; log:\n{}", self.log());
                    }
                    if self.answers(&endpoint, &community) {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "snmpsim does not answer on {endpoint} for {community}; log:\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// SIGKILL: every simulated agent dies at once (the boxes still ping).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the responder runs (it was not [`Snmpsim::kill`]ed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The responder's exit status if it was started and has exited by
    /// itself (e.g. it could not bind an endpoint), with its log.
    pub fn exited(&mut self) -> Option<(std::process::ExitStatus, String)> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some((status, self.log()))
    }

    /// A v2c GET of sysName.0 (never delayed by the tests' variations).
    fn answers(&self, endpoint: &str, community: &str) -> bool {
        self.ns
            .run(
                "snmpget",
                &[
                    "-v2c",
                    "-c",
                    community,
                    "-t",
                    "1",
                    "-r",
                    "0",
                    "-On",
                    endpoint,
                    "1.3.6.1.2.1.1.5.0",
                ],
            )
            .status
            .success()
    }

    /// Sets an INTEGER made writable with [`Recording::writable_integer`].
    pub fn set_integer(&self, endpoint: &str, community: &str, oid: &str, value: i64) {
        let value = value.to_string();
        let out = self.ns.run(
            "snmpset",
            &[
                "-v2c", "-c", community, "-t", "2", "-r", "1", "-On", endpoint, oid, "i", &value,
            ],
        );
        assert!(
            out.status.success(),
            "snmpset {oid} = {value} on {endpoint} ({community}) failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("snmpsim.log")).unwrap_or_default()
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

impl Drop for Snmpsim<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}
