//! Every query of every shipped Grafana dashboard (`dashboards/*.json`),
//! run against a real Prometheus scraping the real netkpi.
//!
//! Grafana itself is not needed: what a panel shows is what its queries
//! return. Inside one private network namespace the full lab runs
//! (`tests/common/full_lab.rs`: ICMP devices, snmpd, snmpsim recordings of
//! switches, UPSes, an air-conditioning unit and a PDU, traps) with a
//! Prometheus (Debian package `prometheus`) scraping netkpi every second.
//! An access device goes silent and comes back (an incident opened and
//! restored), another one's incident is acknowledged, and after a few more
//! scrapes every panel query, with Grafana's variables filled in as "All"
//! would, must parse and return data (a NaN is no data), unless it is listed
//! in [`EMPTY`] with the reason it has none here. Every query variable's
//! `label_values()` must offer choices too. That each metric name is one
//! netkpi exports is `prometheus_rules`'s check.
//!
//! Needs what the full lab needs (root, nftables, snmpd, snmp, snmpsim) and
//! `prometheus`; fails loudly without them.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::dashboards::{self, Query};
use common::full_lab::with_full_lab;
use common::{state_of, Daemon, NetNs, LISTEN};
use serde_json::Value;

const PROMETHEUS: &str = "127.0.0.1:9090";
const PROMETHEUS_BIN: &str = "/usr/bin/prometheus";
/// The access device that goes silent and comes back (the lab's acc-001,
/// far end of L-001).
const OUTAGE_DEVICE: &str = "acc-001";
const OUTAGE_ADDR: &str = "127.0.20.1";
/// The device whose incident (open since the lab started: it never
/// answers) is acknowledged, so response times have an observation.
const ACK_DEVICE: &str = "acc-silent";

/// Panel queries that have no data in this scenario, and why:
/// (file, panel title, reason).
const EMPTY: &[(&str, &str, &str)] = &[
    (
        "netkpi-lines.json",
        "Availability last month",
        LAST_MONTH_EMPTY,
    ),
    ("netkpi-indicators.json", "Last month", LAST_MONTH_EMPTY),
];
/// The `last_month` window is over before the lab's ledger begins: nothing
/// was observed in it, so there is no availability figure (the window's
/// bounds are `availability::period`'s unit tests).
const LAST_MONTH_EMPTY: &str =
    "the lab's ledger begins when the test starts, after last month ended";

fn prometheus_config() -> String {
    format!(
        r#"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: netkpi
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ["{LISTEN}"]
"#
    )
}

/// Prometheus running in the namespace; killed when dropped.
struct Prometheus<'a> {
    ns: &'a NetNs,
    child: Child,
    log: PathBuf,
    addr: SocketAddr,
}

impl<'a> Prometheus<'a> {
    fn start(ns: &'a NetNs, dir: &Path) -> Prometheus<'a> {
        assert!(
            Path::new(PROMETHEUS_BIN).exists(),
            "{PROMETHEUS_BIN} is missing: install the Debian package prometheus"
        );
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, prometheus_config()).expect("write prometheus.yml");
        let config_flag = format!("--config.file={}", config.display());
        let storage_flag = format!("--storage.tsdb.path={}", dir.join("tsdb").display());
        let listen_flag = format!("--web.listen-address={PROMETHEUS}");
        let log = dir.join("prometheus.log");
        let child = ns.spawn(
            Path::new(PROMETHEUS_BIN),
            &[&config_flag, &storage_flag, &listen_flag],
            &log,
        );
        let mut prometheus = Prometheus {
            ns,
            child,
            log,
            addr: PROMETHEUS.parse().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!(
                    "prometheus exited early with {status}\n{}",
                    prometheus.log_tail()
                );
            }
            if let Ok((200, _)) = ns.http_get(prometheus.addr, "/-/ready") {
                return prometheus;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready\n{}",
                prometheus.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!(
            "--- prometheus log (tail) ---\n{}",
            lines[from..].join("\n")
        )
    }

    /// A GET of the HTTP API: the JSON answer (an error answer is JSON too),
    /// or why there is none.
    fn get(&self, path: &str) -> Result<Value, String> {
        let (status, body) = self
            .ns
            .http_get(self.addr, path)
            .map_err(|e| format!("GET {path}: {e}"))?;
        serde_json::from_str(&body)
            .map_err(|e| format!("GET {path} answered {status}: {e}: {body}"))
    }

    /// `/api/v1/query` at the current time: the result, or Prometheus's
    /// error.
    fn query(&self, expr: &str) -> Result<Value, String> {
        let v = self.get(&format!("/api/v1/query?query={}", encode(expr)))?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(format!("{}: {}", v["errorType"], v["error"]))
        }
    }

    /// The first sample's value of an instant query, if it has one.
    fn value(&self, expr: &str) -> Option<f64> {
        let data = self.query(expr).ok()?;
        data["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// The targets page and the log tail, for a failure message.
    fn diagnostics(&self) -> String {
        let targets = self
            .get("/api/v1/targets")
            .map(|v| serde_json::to_string_pretty(&v).unwrap())
            .unwrap_or_else(|e| e);
        format!(
            "--- Prometheus /api/v1/targets ---\n{targets}\n{}",
            self.log_tail()
        )
    }

    /// Polls `probe` every 500 ms until it returns Ok, or fails after
    /// `timeout` with the last error and the diagnostics.
    fn wait(&self, what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<(), String>) {
        let deadline = Instant::now() + timeout;
        loop {
            match probe() {
                Ok(()) => return,
                Err(last) if Instant::now() >= deadline => panic!(
                    "timed out waiting for {what}: {last}\n{}",
                    self.diagnostics()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }
}

impl Drop for Prometheus<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query-string value (everything but RFC 3986's
/// unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How many series of a query result carry a number (NaN is no data: it is
/// what a quantile of an empty histogram gives).
fn series_with_data(data: &Value) -> usize {
    let is_number = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|x| !x.is_nan())
    };
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| is_number(&s["value"][1]))
            .count(),
        Some("matrix") => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| is_number(&p[1]))
            })
            .count(),
        Some("scalar") => usize::from(is_number(&data["result"][1])),
        Some("string") => 1,
        _ => 0,
    }
}

/// POSTs a JSON body to netkpi's API; the status and body.
fn post(daemon: &Daemon, path: &str, body: &str) -> (u16, String) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = daemon
        .ns
        .http_raw(daemon.listen, request.as_bytes())
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    (r.status, r.body)
}

/// The scenario: an outage of one access device, restored, and an
/// acknowledgement of another's incident, all seen by Prometheus.
fn make_history(daemon: &Daemon, prometheus: &Prometheus) {
    let ns = daemon.ns;
    let first_scrape = Instant::now();
    prometheus.wait(
        "Prometheus to scrape netkpi",
        Duration::from_secs(20),
        || match prometheus.value(r#"up{job="netkpi"}"#) {
            Some(1.0) => Ok(()),
            other => Err(format!("up = {other:?}")),
        },
    );

    ns.take_down(OUTAGE_ADDR);
    daemon.wait_for(
        "/api/v1/devices",
        "the silent access device down",
        Duration::from_secs(15),
        |doc| state_of(doc, "devices", "name", OUTAGE_DEVICE) == "down",
    );

    let open = daemon.get_json(&format!("/api/v1/incidents?state=open&target={ACK_DEVICE}"));
    let id = open["incidents"][0]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no open incident of {ACK_DEVICE}: {open}"));
    let (status, body) = post(
        daemon,
        &format!("/api/v1/incidents/{id}/ack"),
        r#"{"by": "duty", "note": "dashboards test"}"#,
    );
    assert_eq!(status, 200, "acknowledging incident {id}: {body}");

    ns.bring_up(OUTAGE_ADDR);
    daemon.wait_for(
        "/api/v1/lines",
        "the line of the access device up again",
        Duration::from_secs(15),
        |doc| state_of(doc, "lines", "id", "L-001") == "up",
    );
    let restored = Instant::now();

    // Prometheus has seen the restoration and the acknowledgement, a few
    // scrapes since, and enough history for every subquery step (30 s).
    prometheus.wait(
        "Prometheus to see the restoration, the acknowledgement and a few scrapes more",
        Duration::from_secs(60),
        || {
            let count = |name: &str| {
                prometheus
                    .value(&format!(
                        r#"sum(netkpi_incident_{name}_seconds_count{{kind="device"}})"#
                    ))
                    .unwrap_or(0.0)
            };
            let (restores, responses) = (count("restore"), count("response"));
            if restores < 1.0 || responses < 1.0 {
                return Err(format!("{restores} restorations, {responses} responses"));
            }
            if restored.elapsed() < Duration::from_secs(15)
                || first_scrape.elapsed() < Duration::from_secs(40)
            {
                return Err("a few more scrapes".into());
            }
            Ok(())
        },
    );
}

#[test]
fn every_dashboard_panel_has_data_from_a_real_prometheus() {
    let test_start = Instant::now();
    let files = dashboards::files();
    let mut queries: Vec<Query> = Vec::new();
    let mut variables: Vec<(String, String, String)> = Vec::new();
    for file in &files {
        let dashboard = dashboards::load(file);
        queries.extend(dashboards::queries(file, &dashboard));
        for var in dashboards::variables(&dashboard) {
            if var["type"] != "query" {
                continue;
            }
            let query = dashboards::variable_query(var).unwrap_or_default();
            let (selector, label) = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .and_then(|q| q.rsplit_once(','))
                .unwrap_or_else(|| {
                    panic!(
                        "{file}: variable {} is not label_values(): {query}",
                        var["name"]
                    )
                });
            variables.push((
                format!("{file}: variable {}", var["name"].as_str().unwrap_or("?")),
                dashboards::substitute(file, selector.trim()),
                label.trim().to_string(),
            ));
        }
    }
    for (file, panel, _) in EMPTY {
        assert!(
            queries.iter().any(|q| q.file == *file && q.panel == *panel),
            "EMPTY names {file}: {panel}, which is no panel"
        );
    }

    with_full_lab(|daemon| {
        let dir = tempfile::tempdir().expect("tempdir");
        let prometheus = Prometheus::start(daemon.ns, dir.path());
        make_history(daemon, &prometheus);

        let mut failures = Vec::new();
        let mut report = Vec::new();
        for (what, selector, label) in &variables {
            let path = format!("/api/v1/label/{label}/values?match[]={}", encode(selector));
            match prometheus.get(&path) {
                Ok(v) if v["data"].as_array().is_some_and(|a| !a.is_empty()) => {
                    report.push((
                        what.clone(),
                        v["data"].as_array().unwrap().len().to_string(),
                    ));
                }
                Ok(v) => failures.push(format!("{what}: no choices from {selector}: {v}")),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
        for q in &queries {
            let expr = dashboards::substitute(&q.name(), &q.expr);
            let empty_reason = EMPTY
                .iter()
                .find(|(file, panel, _)| *file == q.file && *panel == q.panel)
                .map(|(.., reason)| *reason);
            match prometheus.query(&expr) {
                Err(e) => failures.push(format!(
                    "{}: Prometheus refused the query: {e}\n{expr}",
                    q.name()
                )),
                Ok(data) => {
                    let n = series_with_data(&data);
                    match (n, empty_reason) {
                        (0, None) => failures.push(format!(
                            "{}: no data (listed in EMPTY? it is not)\n{expr}\nanswer: {data}",
                            q.name()
                        )),
                        (0, Some(reason)) => report.push((q.name(), format!("0 (empty: {reason})"))),
                        (n, Some(reason)) => failures.push(format!(
                            "{}: listed as empty ({reason}) but has {n} series: take it off the list",
                            q.name()
                        )),
                        (n, None) => report.push((q.name(), n.to_string())),
                    }
                }
            }
        }

        let width = report.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut table = format!("{:width$}  series\n", "panel [query]");
        for (name, count) in &report {
            table.push_str(&format!("{name:width$}  {count}\n"));
        }
        eprintln!("{table}");
        for file in &files {
            let dashboard = dashboards::load(file);
            let panels = dashboards::panels(&dashboard)
                .iter()
                .filter(|p| p["type"] != "row")
                .count();
            eprintln!("{file}: {panels} panels");
        }
        assert!(
            failures.is_empty(),
            "{} dashboard quer(ies) failed:\n\n{}\n\n{}",
            failures.len(),
            failures.join("\n\n"),
            prometheus.diagnostics()
        );
        eprintln!(
            "{} queries and {} variables checked; {:.1} s in all",
            queries.len(),
            variables.len(),
            test_start.elapsed().as_secs_f64()
        );
    });
}
