//! One outage, one page, end to end: the real netkpi, a real Prometheus
//! loading the shipped alert rules (`deploy/prometheus/alerts.yml`) and a
//! real Alertmanager with the shipped config
//! (`deploy/alertmanager/alertmanager.yml`), all inside one private network
//! namespace.
//!
//! A core switch and everything behind it go silent at once, as when the
//! core switch dies, and so does an access device elsewhere. Alertmanager
//! must then show one active alert for each outage (the core switch's, and
//! that access device's), with every device and line behind the core switch
//! present but suppressed, down a deep chain too (core -> aggregation ->
//! access -> line); and its receiver, a webhook listener in this test, must
//! be sent those two alerts and nothing else.
//!
//! Needs root, `nftables`, `prometheus` and `prometheus-alertmanager`
//! (Debian); fails loudly without them.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{listen, state_of, Daemon, NetNs, LISTEN};
use serde_json::Value;

const PROMETHEUS: &str = "127.0.0.1:9090";
const ALERTMANAGER: &str = "127.0.0.1:9093";
/// Where the shipped config's placeholder receiver sends (unchanged here).
const WEBHOOK: &str = "127.0.0.1:5001";

/// The test copy's `group_wait` (30s shipped): how long Alertmanager holds a
/// new group before notifying, long enough for the alerts that mute it to
/// arrive (they fire within a round or two of each other).
const GROUP_WAIT_S: u64 = 10;

/// (device, role, address, parent, line)
const DEVICES: &[(&str, &str, &str, &str, &str)] = &[
    ("core-sw1", "core_switch", "127.0.30.1", "", ""),
    ("acc-1", "access_egress", "127.0.40.1", "core-sw1", "L-1"),
    ("acc-2", "access_egress", "127.0.40.2", "core-sw1", "L-2"),
    ("acc-3", "access_egress", "127.0.40.3", "core-sw1", "L-3"),
    ("acc-4", "access_egress", "127.0.40.4", "core-sw1", "L-4"),
    ("agg-1", "aggregation_switch", "127.0.31.1", "core-sw1", ""),
    ("acc-5", "access_egress", "127.0.40.5", "agg-1", "L-5"),
    ("core-sw2", "core_switch", "127.0.30.2", "", ""),
    ("acc-9", "access_egress", "127.0.40.9", "core-sw2", "L-9"),
];

/// Everything that goes silent: core-sw1's whole subtree, and acc-9 alone
/// (its parent core-sw2 stays up).
const DROPPED: &[&str] = &[
    "core-sw1", "acc-1", "acc-2", "acc-3", "acc-4", "agg-1", "acc-5", "acc-9",
];

fn address(device: &str) -> &'static str {
    DEVICES
        .iter()
        .find(|d| d.0 == device)
        .map(|d| d.2)
        .expect("a lab device")
}

fn netkpi_config() -> String {
    let mut text = format!(
        r#"
[daemon]
listen = "{LISTEN}"
data_dir = "data"
timezone = "UTC"

[defaults]
icmp = {{ interval = "1s", timeout = "300ms", count = 3, down_after = 2, up_after = 2, degraded_loss = 0.5 }}
"#
    );
    for (name, role, address, parent, _) in DEVICES {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{name}\"\nrole = \"{role}\"\naddress = \"{address}\"\nsite = \"site-{name}\"\nicmp = {{}}\n"
        ));
        if !parent.is_empty() {
            text.push_str(&format!("parent = \"{parent}\"\n"));
        }
    }
    for (name, _, _, _, line) in DEVICES.iter().filter(|d| !d.4.is_empty()) {
        text.push_str(&format!(
            "\n[[line]]\nid = \"{line}\"\nunit = \"Unit of {name}\"\ncarrier = \"Carrier A\"\nbandwidth = \"100M\"\ndevice = \"{name}\"\n"
        ));
    }
    text
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped alert rules with every `for:` set to 5s. Only the `for:`
/// values change (a minute, or more, per alert would make the test slow);
/// the expressions and labels are the shipped ones.
fn test_rules() -> String {
    let shipped =
        std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).expect("alerts.yml");
    let mut changed = 0;
    let mut out = String::new();
    for line in shipped.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("for: ") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}for: 5s\n"));
            changed += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(changed >= 4, "no `for:` found to shorten in alerts.yml");
    out
}

/// The shipped Alertmanager config with a shorter `group_wait`; its
/// receiver URL is left as shipped (this test listens there).
fn test_alertmanager_config() -> String {
    let shipped = std::fs::read_to_string(root().join("deploy/alertmanager/alertmanager.yml"))
        .expect("alertmanager.yml");
    assert!(
        shipped.contains("group_wait: 30s\n")
            && shipped.contains(&format!("url: http://{WEBHOOK}/")),
        "alertmanager.yml no longer has the group_wait or receiver URL this test expects"
    );
    shipped.replace(
        "group_wait: 30s\n",
        &format!("group_wait: {GROUP_WAIT_S}s\n"),
    )
}

fn prometheus_config(rules: &Path) -> String {
    format!(
        r#"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{ALERTMANAGER}"]
scrape_configs:
  - job_name: netkpi
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ["{LISTEN}"]
"#,
        rules = rules.display()
    )
}

/// A program started in the namespace; killed when dropped.
struct Service {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Service {
    fn start(ns: &NetNs, name: &'static str, program: &str, args: &[&str], log: PathBuf) -> Self {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: install the Debian package {}",
            if name == "prometheus" {
                "prometheus"
            } else {
                "prometheus-alertmanager"
            }
        );
        let child = ns.spawn(Path::new(program), args, &log);
        Service { name, child, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!(
            "--- {} log (tail) ---\n{}",
            self.name,
            lines[from..].join("\n")
        )
    }

    /// Waits until `GET /-/ready` answers 200.
    fn wait_ready(&mut self, ns: &NetNs, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited early with {status}\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if let Ok((200, _)) = ns.http_get(addr, "/-/ready") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become ready\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP listener inside the namespace that answers every POST with 200
/// and keeps the bodies: what Alertmanager's webhook receiver was sent.
struct Webhook {
    bodies: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    fn start(ns: &NetNs) -> Webhook {
        let listener = ns
            .bind(|| {
                let l = TcpListener::bind(WEBHOOK)?;
                l.set_nonblocking(true)?;
                Ok(l)
            })
            .expect("bind the webhook listener in the namespace");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (bodies, stop) = (bodies.clone(), stop.clone());
            std::thread::spawn(move || {
                // Bounded: the test ends long before this.
                let deadline = Instant::now() + Duration::from_secs(300);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Some(body) = serve_one(stream) {
                                bodies.lock().unwrap().push(body);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
        };
        Webhook {
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    /// The alerts of every notification received so far.
    fn notified(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                let v: Value = serde_json::from_str(b)
                    .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {b}"));
                v["alerts"].as_array().cloned().unwrap_or_default()
            })
            .collect()
    }

    fn raw(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP request (head and a Content-Length body), answers 200 and
/// closes; returns the body.
fn serve_one(mut stream: TcpStream) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(pos) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..pos]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (pos + 4, length);
        }
        if raw.len() > 1 << 20 {
            return None;
        }
    };
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(String::from_utf8_lossy(&raw[head_end..]).into_owned())
}

/// An alert in Alertmanager's `/api/v2/alerts`, reduced to what is checked.
#[derive(Debug, Clone)]
struct AmAlert {
    labels: BTreeMap<String, String>,
    state: String,
    inhibited_by: Vec<String>,
    silenced_by: Vec<String>,
    fingerprint: String,
}

impl AmAlert {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }

    /// `alertname/line-or-device`, e.g. `NetkpiLineDown/L-1`.
    fn key(&self) -> String {
        let name = self.label("alertname").unwrap_or("?");
        let what = self.label("line").or(self.label("device")).unwrap_or("?");
        format!("{name}/{what}")
    }
}

fn am_alerts(doc: &Value) -> Vec<AmAlert> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    doc.as_array()
        .unwrap_or_else(|| panic!("/api/v2/alerts is not a list: {doc}"))
        .iter()
        .map(|a| AmAlert {
            labels: a["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            state: a["status"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            inhibited_by: strings(&a["status"]["inhibitedBy"]),
            silenced_by: strings(&a["status"]["silencedBy"]),
            fingerprint: a["fingerprint"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Every alert the outage must raise, by [`AmAlert::key`].
fn expected_keys() -> Vec<String> {
    let mut keys: Vec<String> = DROPPED
        .iter()
        .map(|d| format!("NetkpiDeviceDown/{d}"))
        .collect();
    for (name, .., line) in DEVICES {
        if !line.is_empty() && DROPPED.contains(name) {
            keys.push(format!("NetkpiLineDown/{line}"));
        }
    }
    // The markers: a down device that is some device's parent.
    keys.push("NetkpiUpstreamDown/core-sw1".into());
    keys.push("NetkpiUpstreamDown/agg-1".into());
    keys.sort();
    keys
}

/// The alerts that page: one per outage.
const ACTIVE: &[&str] = &["NetkpiDeviceDown/acc-9", "NetkpiDeviceDown/core-sw1"];

/// What is wrong with Alertmanager's view (empty when it is as expected).
fn problems(alerts: &[AmAlert]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut keys: Vec<String> = alerts.iter().map(AmAlert::key).collect();
    keys.sort();
    if keys != expected_keys() {
        problems.push(format!("alerts {keys:?}, expected {:?}", expected_keys()));
        return problems;
    }
    for a in alerts {
        let key = a.key();
        if !a.silenced_by.is_empty() {
            problems.push(format!("{key} is silenced: {:?}", a.silenced_by));
        }
        if ACTIVE.contains(&key.as_str()) {
            if a.state != "active" || !a.inhibited_by.is_empty() {
                problems.push(format!(
                    "{key} must page: state {}, inhibited by {:?}",
                    a.state, a.inhibited_by
                ));
            }
        } else if a.state != "suppressed" || a.inhibited_by.is_empty() {
            problems.push(format!(
                "{key} must be muted: state {}, inhibited by {:?}",
                a.state, a.inhibited_by
            ));
        }
    }
    problems
}

fn find<'a>(alerts: &'a [AmAlert], key: &str) -> &'a AmAlert {
    alerts
        .iter()
        .find(|a| a.key() == key)
        .unwrap_or_else(|| panic!("no alert {key} in {alerts:#?}"))
}

#[test]
fn a_dead_core_switch_pages_once() {
    let test_start = Instant::now();
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(&config, netkpi_config()).expect("write netkpi config");
    let rules = dir.path().join("alerts.yml");
    std::fs::write(&rules, test_rules()).expect("write rules");
    let prometheus_yml = dir.path().join("prometheus.yml");
    std::fs::write(&prometheus_yml, prometheus_config(&rules)).expect("write prometheus.yml");
    let alertmanager_yml = dir.path().join("alertmanager.yml");
    std::fs::write(&alertmanager_yml, test_alertmanager_config()).expect("write alertmanager.yml");

    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(20),
        |doc| {
            DEVICES
                .iter()
                .all(|d| state_of(doc, "devices", "name", d.0) == "up")
        },
    );

    let webhook = Webhook::start(&ns);
    let am_addr: SocketAddr = ALERTMANAGER.parse().unwrap();
    let prom_addr: SocketAddr = PROMETHEUS.parse().unwrap();
    let am_config_flag = format!("--config.file={}", alertmanager_yml.display());
    let am_storage_flag = format!("--storage.path={}", dir.path().join("am").display());
    let am_listen_flag = format!("--web.listen-address={ALERTMANAGER}");
    let mut alertmanager = Service::start(
        &ns,
        "alertmanager",
        "/usr/bin/prometheus-alertmanager",
        &[
            &am_config_flag,
            &am_storage_flag,
            &am_listen_flag,
            // A single instance: no cluster gossip.
            "--cluster.listen-address=",
        ],
        dir.path().join("alertmanager.log"),
    );
    let prom_config_flag = format!("--config.file={}", prometheus_yml.display());
    let prom_storage_flag = format!("--storage.tsdb.path={}", dir.path().join("tsdb").display());
    let prom_listen_flag = format!("--web.listen-address={PROMETHEUS}");
    let mut prometheus = Service::start(
        &ns,
        "prometheus",
        "/usr/bin/prometheus",
        &[&prom_config_flag, &prom_storage_flag, &prom_listen_flag],
        dir.path().join("prometheus.log"),
    );
    alertmanager.wait_ready(&ns, am_addr);
    prometheus.wait_ready(&ns, prom_addr);

    let get = |addr: SocketAddr, path: &str| -> Value {
        match ns.http_get(addr, path) {
            Ok((200, body)) => serde_json::from_str(&body).unwrap_or(Value::Null),
            other => Value::String(format!("GET {path}: {other:?}")),
        }
    };
    let diagnostics = |what: &str| -> String {
        format!(
            "{what}\n--- Prometheus /api/v1/alerts ---\n{}\n--- Alertmanager /api/v2/alerts ---\n{}\n--- webhook notifications ---\n{:#?}\n{}\n{}\n--- netkpi log (tail) ---\n{}",
            serde_json::to_string_pretty(&get(prom_addr, "/api/v1/alerts")).unwrap(),
            serde_json::to_string_pretty(&get(am_addr, "/api/v2/alerts")).unwrap(),
            webhook.raw(),
            prometheus.log_tail(),
            alertmanager.log_tail(),
            daemon
                .log_text()
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    // Polls `probe` every 500 ms until it returns Ok, or fails after
    // `timeout` with the last error and the diagnostics.
    let wait = |what: &str, timeout: Duration, probe: &mut dyn FnMut() -> Result<(), String>| {
        let deadline = Instant::now() + timeout;
        loop {
            match probe() {
                Ok(()) => return,
                Err(last) if Instant::now() >= deadline => {
                    panic!(
                        "{}",
                        diagnostics(&format!("timed out waiting for {what}: {last}"))
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    };

    // Prometheus sees the network up, with the info series to join on.
    let n = DEVICES.len();
    wait(
        "Prometheus to see every device up",
        Duration::from_secs(30),
        &mut || {
            let v = get(
                prom_addr,
                "/api/v1/query?query=sum(netkpi_device_up*on(device)group_left()netkpi_device_info)",
            );
            match v["data"]["result"][0]["value"][1].as_str() {
                Some(s) if s == n.to_string() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );

    // The outage: everything behind core-sw1, core-sw1 itself, and acc-9
    // elsewhere, silent in one step.
    let addresses: Vec<&str> = DROPPED.iter().map(|d| address(d)).collect();
    let outage_start = Instant::now();
    ns.nft(&format!(
        "add element inet outage down4 {{ {} }}\n",
        addresses.join(", ")
    ));

    let mut alerts = Vec::new();
    wait(
        "Alertmanager to show the outage with one active alert each",
        Duration::from_secs(60),
        &mut || {
            alerts = am_alerts(&get(am_addr, "/api/v2/alerts"));
            let p = problems(&alerts);
            if p.is_empty() {
                Ok(())
            } else {
                Err(p.join("; "))
            }
        },
    );
    let settled = Instant::now();
    eprintln!(
        "alerts settled {:.1} s after the drop",
        (settled - outage_start).as_secs_f64()
    );

    // What hangs off what, as Alertmanager matches on it.
    let labels = |key: &str, name: &str| find(&alerts, key).label(name).map(str::to_string);
    assert_eq!(labels("NetkpiDeviceDown/core-sw1", "upstream"), None);
    assert_eq!(
        labels("NetkpiDeviceDown/core-sw1", "severity").as_deref(),
        Some("critical")
    );
    for d in ["acc-1", "acc-2", "acc-3", "acc-4", "agg-1"] {
        assert_eq!(
            labels(&format!("NetkpiDeviceDown/{d}"), "upstream").as_deref(),
            Some("core-sw1"),
            "{d}"
        );
    }
    assert_eq!(
        labels("NetkpiDeviceDown/acc-5", "upstream").as_deref(),
        Some("agg-1")
    );
    for (line, device, upstream) in [
        ("L-1", "acc-1", "core-sw1"),
        ("L-5", "acc-5", "agg-1"),
        ("L-9", "acc-9", "core-sw2"),
    ] {
        let key = format!("NetkpiLineDown/{line}");
        assert_eq!(labels(&key, "device").as_deref(), Some(device), "{line}");
        assert_eq!(
            labels(&key, "upstream").as_deref(),
            Some(upstream),
            "{line}"
        );
    }

    // The deep chain: acc-5 is muted by agg-1's marker, which is itself
    // muted (by agg-1's own alert) and mutes all the same.
    let agg_marker = find(&alerts, "NetkpiUpstreamDown/agg-1");
    assert_eq!(agg_marker.state, "suppressed", "{agg_marker:?}");
    let acc5 = find(&alerts, "NetkpiDeviceDown/acc-5");
    assert_eq!(
        acc5.inhibited_by,
        vec![agg_marker.fingerprint.clone()],
        "acc-5 is muted by agg-1's marker: {acc5:?}"
    );
    let acc1 = find(&alerts, "NetkpiDeviceDown/acc-1");
    let core_marker = find(&alerts, "NetkpiUpstreamDown/core-sw1");
    assert_eq!(
        acc1.inhibited_by,
        vec![core_marker.fingerprint.clone()],
        "{acc1:?}"
    );

    // The receiver: once every group has waited out its group_wait, exactly
    // the two alerts that page were sent, each once.
    wait(
        "the notifications",
        Duration::from_secs(GROUP_WAIT_S + 30),
        &mut || match webhook.notified().len() {
            n if n >= ACTIVE.len() => Ok(()),
            n => Err(format!("{n} alert(s) notified")),
        },
    );
    // Any other group would have been notified by now.
    let quiet_until = settled + Duration::from_secs(GROUP_WAIT_S + 3);
    std::thread::sleep(quiet_until.saturating_duration_since(Instant::now()));
    let mut sent: Vec<String> = webhook
        .notified()
        .iter()
        .map(|a| {
            format!(
                "{}/{} {}",
                a["labels"]["alertname"].as_str().unwrap_or("?"),
                a["labels"]["device"].as_str().unwrap_or("?"),
                a["status"].as_str().unwrap_or("?")
            )
        })
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            "NetkpiDeviceDown/acc-9 firing",
            "NetkpiDeviceDown/core-sw1 firing"
        ],
        "{}",
        diagnostics("the receiver must be sent one alert per outage")
    );

    // Still so, after the wait.
    let now = am_alerts(&get(am_addr, "/api/v2/alerts"));
    let p = problems(&now);
    assert!(p.is_empty(), "{}", diagnostics(&p.join("; ")));

    eprintln!(
        "a_dead_core_switch_pages_once: {:.1} s",
        test_start.elapsed().as_secs_f64()
    );
}
