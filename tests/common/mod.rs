//! Test harness: the real `netkpi` binary in a private network namespace,
//! with nftables to make targets go silent.
//!
//! Everything here needs root (CI runs as root). A test that cannot set up
//! its namespace fails loudly; it never skips.

#![allow(dead_code)]

pub mod dashboards;
pub mod full_lab;
pub mod ledger;
pub mod openapi;
pub mod scale;
pub mod snmpd;
pub mod snmpsim;
pub mod year;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The nftables ruleset of every test namespace: addresses in `down4` stop answering
/// ICMP echo and SNMP on the ports the test agents use (dropped on input, as
/// a real outage looks to the sender).
pub const OUTAGE_RULES: &str = r#"
table inet outage {
  set down4 { type ipv4_addr; }
  chain in {
    type filter hook input priority 0; policy accept;
    ip daddr @down4 icmp type echo-request drop
    ip daddr @down4 udp dport { 161, 1161, 11161 } drop
  }
}
"#;

/// The lab network the e2e tests run against (ledger_e2e, api_e2e,
/// store_failure_e2e): a core router and two access devices on loopback
/// addresses, each access device carrying one leased line.
///
/// ```text
/// core-r1  127.0.10.1  router         core-room
/// ├─ acc-001  127.0.20.1  access_egress  finance-bureau  L-001  Finance Bureau  Carrier A  100M
/// └─ acc-002  127.0.20.2  access_egress  tax-office      L-002  Tax Office      Carrier B   50M
/// ```
///
/// `[planned]` asks for 1 core room, 2 core devices, 3 access devices and 4
/// leased lines, so planned and configured counts differ. A test that needs
/// one more target appends its `[[device]]`/`[[line]]` text to
/// [`lab_config`] rather than writing a config of its own.
pub const LISTEN: &str = "127.0.0.1:9731";

/// The lab's devices, in config order.
pub const DEVICES: [&str; 3] = ["core-r1", "acc-001", "acc-002"];
/// The lab's lines, in config order.
pub const LINES: [&str; 2] = ["L-001", "L-002"];

/// ICMP probe timing of the lab (`[defaults] icmp`): a round every
/// `INTERVAL_MS`, each echo waiting `TIMEOUT_MS`, `ECHO_COUNT` echoes a round;
/// down or up after 2 rounds, degraded from 50 % loss.
pub const INTERVAL_MS: u64 = 1000;
pub const TIMEOUT_MS: u64 = 300;
pub const ECHO_COUNT: u32 = 3;
/// [`INTERVAL_MS`] in seconds: the period of a probe round.
pub const INTERVAL_S: f64 = INTERVAL_MS as f64 / 1000.0;
/// [`TIMEOUT_MS`] in seconds: how long a round waits for its echoes.
/// A state change is stamped at most `INTERVAL_S + TIMEOUT_S` after the
/// event that caused it.
pub const TIMEOUT_S: f64 = TIMEOUT_MS as f64 / 1000.0;

/// The address the lab daemon listens on ([`LISTEN`]).
pub fn listen() -> SocketAddr {
    LISTEN.parse().expect("LISTEN is a socket address")
}

/// The lab config text (see [`LISTEN`]) with `data_dir` as given (relative
/// paths are taken from the config file's directory).
pub fn lab_config(data_dir: &str) -> String {
    format!(
        r#"
[daemon]
listen = "{LISTEN}"
data_dir = "{data_dir}"
timezone = "Asia/Shanghai"

[defaults]
icmp = {{ interval = "{INTERVAL_MS}ms", timeout = "{TIMEOUT_MS}ms", count = {ECHO_COUNT}, down_after = 2, up_after = 2, degraded_loss = 0.5 }}

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
name = "acc-002"
role = "access_egress"
address = "127.0.20.2"
site = "tax-office"
parent = "core-r1"
icmp = {{}}

[[line]]
id = "L-001"
unit = "Finance Bureau"
carrier = "Carrier A"
bandwidth = "100M"
device = "acc-001"

[[line]]
id = "L-002"
unit = "Tax Office"
carrier = "Carrier B"
bandwidth = "50M"
device = "acc-002"

[planned]
core_rooms = 1
core_devices = 2
access_devices = 3
leased_lines = 4
"#
    )
}

/// Writes [`lab_config`] to `dir/netkpi.toml` and returns its path.
pub fn write_lab_config(dir: &Path, data_dir: &str) -> PathBuf {
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, lab_config(data_dir)).expect("write config");
    path
}

/// A private network namespace with loopback up, kept alive by a holder
/// process; dropped with it.
pub struct NetNs {
    holder: Child,
    ns_path: PathBuf,
}

impl NetNs {
    pub fn new() -> NetNs {
        let mut holder = Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && echo ready && exec sleep infinity",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run unshare (util-linux); these tests need root");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().expect("holder stdout"))
            .read_line(&mut line)
            .expect("read from namespace holder");
        assert_eq!(
            line.trim(),
            "ready",
            "could not create a network namespace (unshare --net needs root / CAP_SYS_ADMIN)"
        );
        let ns_path = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
        let ns = NetNs { holder, ns_path };
        ns.nft(OUTAGE_RULES);
        ns
    }

    /// The namespace's file (`/proc/PID/ns/net` of its holder), for
    /// `nsenter --net=`.
    pub fn path(&self) -> &Path {
        &self.ns_path
    }

    fn nsenter(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.ns_path.display()))
            .arg("--");
        cmd
    }

    /// A command that runs `program` inside the namespace (`nsenter` execs
    /// it, so the child is the program itself), for callers that need their
    /// own environment or stdio.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.nsenter();
        cmd.arg(program);
        cmd
    }

    /// Runs a command inside the namespace and returns its output, whether
    /// or not it succeeded.
    /// A program that is not installed fails the test (never a silent skip).
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .env("MIBS", "")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("failed to execute"),
            "cannot run {program} (not installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs a command inside the namespace and returns its output; panics
    /// with its stderr when it fails.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .nsenter()
            .arg(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Applies an nftables script inside the namespace.
    pub fn nft(&self, script: &str) {
        let mut child = self
            .nsenter()
            .args(["nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run nft (package nftables)");
        child
            .stdin
            .take()
            .expect("nft stdin")
            .write_all(script.as_bytes())
            .expect("write nft script");
        let out = child.wait_with_output().expect("nft");
        assert!(
            out.status.success(),
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes `addr` stop answering ICMP echo.
    pub fn take_down(&self, addr: &str) {
        self.nft(&format!("add element inet outage down4 {{ {addr} }}\n"));
    }

    pub fn bring_up(&self, addr: &str) {
        self.nft(&format!("delete element inet outage down4 {{ {addr} }}\n"));
    }

    pub fn spawn(&self, program: &Path, args: &[&str], log: &Path) -> Child {
        let log = File::create(log).expect("create log file");
        self.nsenter()
            .arg(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
    }

    /// Opens a TCP connection from inside the namespace: a thread joins the
    /// namespace (setns affects only the calling thread) and connects; the
    /// socket stays in the namespace it was created in.
    pub fn connect(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        let ns = File::open(&self.ns_path)?;
        std::thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd, affecting this thread only.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        })
        .join()
        .expect("connect thread")
    }

    /// Binds a socket inside the namespace (a thread joins it, binds and
    /// returns): `bind` gets the raw socket functions' result.
    pub fn bind<T: Send + 'static>(
        &self,
        bind: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let ns = File::open(&self.ns_path)?;
        std::thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd, affecting this thread only.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            bind()
        })
        .join()
        .expect("bind thread")
    }

    /// Opens `n` TCP connections to `addr` from inside the namespace (one
    /// thread, in order), each within `timeout`; fails on the first that
    /// cannot be opened. The caller needs enough open files (see
    /// [`raise_open_files`]).
    pub fn connect_many(
        &self,
        addr: SocketAddr,
        n: usize,
        timeout: Duration,
    ) -> std::io::Result<Vec<TcpStream>> {
        let ns = File::open(&self.ns_path)?;
        std::thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd, affecting this thread only.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            (0..n)
                .map(|_| TcpStream::connect_timeout(&addr, timeout))
                .collect()
        })
        .join()
        .expect("connect thread")
    }

    /// Sends `request` (a whole HTTP/1.1 request, as bytes on the wire) and
    /// reads the answer until the server closes.
    pub fn http_raw(&self, addr: SocketAddr, request: &[u8]) -> std::io::Result<HttpResponse> {
        let mut stream = self.connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(request)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(parse_response(&raw))
    }

    /// A plain HTTP/1.1 GET; returns status and body.
    pub fn http_get(&self, addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
        let r = self.http_request(addr, path, &[])?;
        Ok((r.status, r.body))
    }

    /// An HTTP/1.1 GET with extra request headers; returns status, response
    /// headers and the (de-chunked) body.
    pub fn http_request(
        &self,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<HttpResponse> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.http_raw(addr, request.as_bytes())
    }

    pub fn get_json(&self, addr: SocketAddr, path: &str) -> Value {
        let (status, body) = self
            .http_get(addr, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }
}

/// A response read by [`NetNs::http_request`].
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Raises this process's soft limit of open files to at least `want`
/// (within the hard limit); fails the test when the hard limit is lower.
pub fn raise_open_files(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim),
            0,
            "getrlimit"
        );
        assert!(
            lim.rlim_max >= want,
            "the hard limit of open files is {}, this test needs {want} (ulimit -Hn)",
            lim.rlim_max
        );
        if lim.rlim_cur < want {
            lim.rlim_cur = want;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0, "setrlimit");
        }
    }
}

/// The `netkpi` binary built for this test run.
/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...); `None` once
/// the process is gone.
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

pub fn netkpi_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netkpi"))
}

/// A running daemon inside a namespace.
pub struct Daemon<'a> {
    pub ns: &'a NetNs,
    pub child: Child,
    pub listen: SocketAddr,
    pub log: PathBuf,
}

impl<'a> Daemon<'a> {
    /// Starts `netkpi run --config CONFIG` and waits until /healthz answers 200.
    pub fn start(ns: &'a NetNs, config: &Path, listen: SocketAddr, log: PathBuf) -> Daemon<'a> {
        Daemon::start_with(ns, config, listen, log, &[])
    }

    /// [`Daemon::start`] with more arguments (e.g. `--log-level`).
    pub fn start_with(
        ns: &'a NetNs,
        config: &Path,
        listen: SocketAddr,
        log: PathBuf,
        extra: &[&str],
    ) -> Daemon<'a> {
        Daemon::start_within(ns, config, listen, log, extra, Duration::from_secs(20))
    }

    /// [`Daemon::start_with`], waiting at most `within` for /healthz.
    pub fn start_within(
        ns: &'a NetNs,
        config: &Path,
        listen: SocketAddr,
        log: PathBuf,
        extra: &[&str],
        within: Duration,
    ) -> Daemon<'a> {
        let config = config.to_str().expect("utf-8 path");
        let mut args = vec!["run", "--config", config, "--log-format", "json"];
        args.extend_from_slice(extra);
        let child = ns.spawn(&netkpi_bin(), &args, &log);
        let mut daemon = Daemon {
            ns,
            child,
            listen,
            log,
        };
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "netkpi exited early with {status}; log:\n{}",
                    daemon.log_text()
                );
            }
            if let Ok((200, _)) = ns.http_get(listen, "/healthz") {
                return daemon;
            }
            assert!(
                Instant::now() < deadline,
                "netkpi did not become healthy; log:\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A GET of a JSON document; fails the test with the daemon's log when
    /// the request fails or does not answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self
            .ns
            .http_get(self.listen, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nlog:\n{}", self.log_text()));
        assert_eq!(
            status,
            200,
            "GET {path} answered {status}: {body}\nlog:\n{}",
            self.log_text()
        );
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.ns
            .http_get(self.listen, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nlog:\n{}", self.log_text()))
    }

    /// A GET with extra request headers.
    pub fn request(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        self.ns
            .http_request(self.listen, path, headers)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A plain `/metrics` scrape (Prometheus text 0.0.4); panics unless 200.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "GET /metrics answered {status}: {body}");
        body
    }

    /// Polls `probe` every 200 ms until it returns `Some`, or fails the test
    /// after `timeout` with `what`, the last value seen and the daemon's log.
    pub fn wait_until<T, S: std::fmt::Debug>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Result<T, S>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match probe() {
                Ok(v) => return v,
                Err(last) => assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}; last seen: {last:?}\nlog:\n{}",
                    self.log_text()
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until `pred` holds for the JSON at `path`, polling.
    pub fn wait_for(
        &self,
        path: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.get_json(path);
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last {path}: {v}\nlog:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends a signal (e.g. `libc::SIGHUP`) to the daemon.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child process.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({sig}) failed");
    }

    /// SIGKILL: the crash case.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the clean stop.
    pub fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().expect("wait for netkpi")
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether every lab device ([`DEVICES`]) is up in a /devices document.
pub fn all_up(doc: &Value) -> bool {
    DEVICES
        .iter()
        .all(|d| state_of(doc, "devices", "name", d) == "up")
}

impl<'a> Daemon<'a> {
    /// Starts the lab daemon on [`listen`] and waits until every device
    /// answers.
    pub fn start_all_up(ns: &'a NetNs, config: &Path, log: &Path) -> Daemon<'a> {
        let daemon = Daemon::start(ns, config, listen(), log.to_path_buf());
        daemon.wait_for(
            "/api/v1/devices",
            "every device up",
            Duration::from_secs(15),
            all_up,
        );
        daemon
    }
}

/// The state of a named device or line in a /devices or /lines document.
pub fn state_of<'v>(doc: &'v Value, list: &str, key: &str, name: &str) -> &'v str {
    doc[list]
        .as_array()
        .and_then(|a| a.iter().find(|d| d[key] == name))
        .and_then(|d| d["state"].as_str())
        .unwrap_or_else(|| panic!("{name} missing from {list}: {doc}"))
}

/// The availability record of one target in an /availability document.
pub fn figures<'v>(doc: &'v Value, target: &str) -> &'v Value {
    doc["targets"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["target"] == target))
        .unwrap_or_else(|| panic!("{target} missing from availability: {doc}"))
}

/// Seconds as f64 from a JSON number field.
pub fn secs(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number in {v}"))
}

/// Percent-encodes an RFC 3339 time for a query string (`+` matters).
pub fn q(time: &str) -> String {
    time.replace('+', "%2B").replace(':', "%3A")
}

/// The value of the sample of metric `name` (the full sample name, e.g.
/// `netkpi_poll_errors_total`) whose labels include every `labels` pair, in a
/// Prometheus or OpenMetrics text exposition.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (label_text, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            Some((label_text, value))
        })
        .find(|(label_text, _)| {
            let label_text = format!(",{label_text}");
            labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!(",{k}=\"{v}\"")))
        })
        .and_then(|(_, value)| value.split_whitespace().next()?.parse().ok())
}

/// Every counter sample (`*_total`) of a Prometheus text exposition:
/// `name{labels}` → value.
pub fn counters(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            name.ends_with("_total")
                .then(|| Some((series.to_string(), value.parse().ok()?)))
                .flatten()
        })
        .collect()
}

/// Status, headers and (de-chunked) body of a raw HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut head_lines = head.lines();
    let status: u16 = head_lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = head_lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        netkpi::client::dechunk(body)
    } else {
        body.to_string()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}
