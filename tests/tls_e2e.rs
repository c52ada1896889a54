//! TLS and basic auth (`daemon.web_config_file`) end to end: the real daemon
//! in a private namespace serving HTTPS with a certificate made here, curl
//! as a client, a real Prometheus scraping it with `scheme: https`,
//! `tls_config` and `basic_auth`, then a new certificate and new users put
//! in force by SIGHUP: Prometheus's scrapes with the old CA and user fail,
//! and succeed again (up == 1) once its config names the new ones.
//!
//! Needs root, `nftables`, `curl` and `prometheus` (tests/run.sh installs
//! them).

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{lab_config, listen, sample, Daemon, NetNs, LISTEN};
use serde_json::Value;

const PROMETHEUS: &str = "127.0.0.1:9090";
const TOKEN: &str = "write-token-4711";

/// A CA and a server certificate it signed for 127.0.0.1, as PEM.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("netkpi test CA {name}"));
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server certificate");
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// Writes the server's certificate and key where web.yml names them, and
/// the CA to `ca_file` for the clients.
fn install(dir: &Path, pki: &Pki, ca_file: &str) {
    std::fs::write(dir.join("tls/server.crt"), &pki.cert).expect("write cert");
    std::fs::write(dir.join("tls/server.key"), &pki.key).expect("write key");
    std::fs::write(dir.join(ca_file), &pki.ca).expect("write CA");
}

fn web_config(users: &[(&str, &str)]) -> String {
    let mut text = String::from(
        "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\nbasic_auth_users:\n",
    );
    for (user, password) in users {
        let hash = bcrypt::hash(password, 10).expect("bcrypt");
        text.push_str(&format!("  {user}: {hash}\n"));
    }
    text
}

/// What curl got: the status (0 when no HTTP answer came), the response
/// headers and body, and curl's exit code and error.
#[derive(Debug)]
struct Curl {
    status: u16,
    head: String,
    body: String,
    exit: i32,
    /// Shown when an assertion fails (`{:?}`).
    #[allow(dead_code)]
    stderr: String,
}

fn curl(ns: &NetNs, dir: &Path, ca: &str, path: &str, args: &[&str]) -> Curl {
    let ca = dir.join(ca);
    let ca = ca.to_str().expect("utf-8 path");
    let head_file = dir.join("curl-head.txt");
    let _ = std::fs::remove_file(&head_file);
    let url = format!("https://{LISTEN}{path}");
    let mut all = vec![
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        ca,
        "-D",
        head_file.to_str().expect("utf-8 path"),
        "-w",
        "\n%{http_code}",
    ];
    all.extend_from_slice(args);
    all.push(&url);
    let out = ns.run("curl", &all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    Curl {
        status: code.trim().parse().unwrap_or(0),
        head: std::fs::read_to_string(&head_file).unwrap_or_default(),
        body: body.to_string(),
        exit: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Polls `probe` every 300 ms until it returns Ok, or fails after `timeout`
/// with the last error and `context()`.
fn wait(
    what: &str,
    timeout: Duration,
    context: &dyn Fn() -> String,
    probe: &mut dyn FnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(()) => return,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out waiting for {what}: {last}\n{}", context())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

/// Prometheus, started in the namespace; killed when dropped.
struct Prometheus {
    child: Child,
    log: PathBuf,
}

impl Prometheus {
    fn start(ns: &NetNs, dir: &Path, config: &Path) -> Prometheus {
        let program = Path::new("/usr/bin/prometheus");
        assert!(
            program.exists(),
            "{} is missing: install the Debian package prometheus",
            program.display()
        );
        let log = dir.join("prometheus.log");
        let config_flag = format!("--config.file={}", config.display());
        let storage_flag = format!("--storage.tsdb.path={}", dir.join("tsdb").display());
        let listen_flag = format!("--web.listen-address={PROMETHEUS}");
        let child = ns.spawn(program, &[&config_flag, &storage_flag, &listen_flag], &log);
        let mut prometheus = Prometheus { child, log };
        let addr = PROMETHEUS.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!(
                    "prometheus exited early with {status}\n{}",
                    prometheus.log_tail()
                );
            }
            if let Ok((200, _)) = ns.http_get(addr, "/-/ready") {
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
        let from = lines.len().saturating_sub(20);
        format!(
            "--- prometheus log (tail) ---\n{}",
            lines[from..].join("\n")
        )
    }
}

/// A Prometheus config that scrapes netkpi every second over HTTPS,
/// trusting `ca` and logging in as `user`.
fn prometheus_config(ca: &Path, user: &str, password: &str) -> String {
    format!(
        r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: netkpi
    scrape_interval: 1s
    scrape_timeout: 1s
    scheme: https
    tls_config:
      ca_file: {ca}
    basic_auth:
      username: {user}
      password: {password}
    static_configs:
      - targets: ["{LISTEN}"]
"#,
        ca = ca.display()
    )
}

/// Waits until Prometheus's latest `up` of the netkpi job is `want` ("1"
/// or "0").
fn wait_up(ns: &NetNs, want: &str, what: &str, within: Duration, context: &dyn Fn() -> String) {
    wait(what, within, context, &mut || {
        let (status, body) = ns
            .http_get(
                PROMETHEUS.parse().unwrap(),
                "/api/v1/query?query=up%7Bjob%3D%22netkpi%22%7D",
            )
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{status}: {e}"))?;
        match v["data"]["result"][0]["value"][1].as_str() {
            Some(up) if up == want => Ok(()),
            other => Err(format!("up = {other:?}: {body}")),
        }
    });
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_with_basic_auth_is_scraped_by_prometheus_and_reloaded_by_sighup() {
    let started = Instant::now();
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    std::fs::create_dir(dir.join("tls")).unwrap();
    let first = pki("one");
    install(dir, &first, "ca-one.crt");
    std::fs::write(
        dir.join("web.yml"),
        web_config(&[("prometheus", "scrape-pw-1")]),
    )
    .unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let config = dir.join("netkpi.toml");
    std::fs::write(
        &config,
        lab_config("data").replacen(
            "[daemon]\n",
            "[daemon]\nweb_config_file = \"web.yml\"\napi_token_file = \"token\"\nhttp_max_connections = 16\n",
            1,
        ),
    )
    .unwrap();

    // The harness's Daemon::start asks /healthz over plain HTTP: start it
    // here and ask over HTTPS.
    let log = dir.join("netkpi.log");
    let child = ns.spawn(
        &common::netkpi_bin(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--log-format",
            "json",
        ],
        &log,
    );
    let mut daemon = Daemon {
        ns: &ns,
        child,
        listen: listen(),
        log,
    };
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("netkpi exited early with {status}\n{}", daemon.log_text());
            }
            if curl(&ns, dir, "ca-one.crt", "/healthz", &[]).status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "netkpi did not answer /healthz over HTTPS\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let log_of = |d: &Daemon| d.log_text();

    // The right user: 200, and the exposition.
    let ok = curl(
        &ns,
        dir,
        "ca-one.crt",
        "/metrics",
        &["-u", "prometheus:scrape-pw-1"],
    );
    assert_eq!(ok.status, 200, "{ok:?}\n{}", log_of(&daemon));
    assert!(ok.body.contains("netkpi_build_info"), "{ok:?}");
    let api = curl(
        &ns,
        dir,
        "ca-one.crt",
        "/api/v1/devices",
        &["-u", "prometheus:scrape-pw-1"],
    );
    assert_eq!(api.status, 200, "{api:?}");
    serde_json::from_str::<Value>(&api.body).expect("devices JSON");

    // No, a wrong or an unknown user's credentials: 401, the challenge and
    // a JSON error; for every path but /healthz.
    for (path, args) in [
        ("/metrics", vec![]),
        ("/metrics", vec!["-u", "prometheus:wrong"]),
        ("/metrics", vec!["-u", "nobody:scrape-pw-1"]),
        ("/", vec![]),
        ("/api/v1/lines", vec![]),
        ("/no/such/path", vec![]),
    ] {
        let refused = curl(&ns, dir, "ca-one.crt", path, &args);
        assert_eq!(refused.status, 401, "{path} {args:?}: {refused:?}");
        assert!(
            refused
                .head
                .to_ascii_lowercase()
                .contains("www-authenticate: basic realm=\"netkpi\""),
            "{refused:?}"
        );
        let error: Value = serde_json::from_str(&refused.body).expect("JSON error");
        assert!(error["error"].is_string(), "{refused:?}");
    }
    let health = curl(&ns, dir, "ca-one.crt", "/healthz", &[]);
    assert_eq!(health.status, 200, "{health:?}");

    // Writes: basic auth is not enough, the token is still needed; with
    // basic auth in `Authorization`, it goes in X-Netkpi-Token.
    let note = |extra: &[&str]| {
        let mut args = vec![
            "-u",
            "prometheus:scrape-pw-1",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data",
            r#"{"by": "ops", "text": "checked"}"#,
        ];
        args.extend_from_slice(extra);
        curl(&ns, dir, "ca-one.crt", "/api/v1/incidents/999/notes", &args)
    };
    let without = note(&[]);
    assert_eq!(without.status, 401, "{without:?}");
    assert!(without.body.contains("X-Netkpi-Token"), "{without:?}");
    let wrong = note(&["-H", "X-Netkpi-Token: nope"]);
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let token_header = format!("X-Netkpi-Token: {TOKEN}");
    let with = note(&["-H", &token_header]);
    assert_eq!(
        with.status, 404,
        "authorized, and no incident 999: {with:?}"
    );

    // Plain HTTP on the TLS port: a clean 400 saying so, nothing else.
    let plain = ns
        .http_get(listen(), "/healthz")
        .expect("plain HTTP to the TLS port is answered");
    assert_eq!(plain.0, 400, "{plain:?}");
    assert!(plain.1.contains("https://"), "{plain:?}");
    // The connection cap holds before the handshake too: 40 connections
    // that never start one (cap 16) leave room for a scrape.
    let idle = ns
        .connect_many(listen(), 40, Duration::from_secs(5))
        .expect("open idle connections");
    let through = curl(
        &ns,
        dir,
        "ca-one.crt",
        "/metrics",
        &["-u", "prometheus:scrape-pw-1"],
    );
    assert_eq!(through.status, 200, "past 40 idle connections: {through:?}");
    drop(idle);
    // A client that does not trust the certificate gets no answer.
    let untrusted = {
        let url = format!("https://{LISTEN}/healthz");
        ns.run("curl", &["-sS", "--max-time", "10", &url])
    };
    assert_eq!(untrusted.status.code(), Some(60), "{untrusted:?}");
    // Both counted (the server may see the client's alert a moment after
    // curl gave up).
    wait(
        "the failed handshakes to be counted",
        Duration::from_secs(5),
        &|| daemon.log_text(),
        &mut || {
            let metrics = curl(
                &ns,
                dir,
                "ca-one.crt",
                "/metrics",
                &["-u", "prometheus:scrape-pw-1"],
            )
            .body;
            let failed = |reason: &str| {
                sample(
                    &metrics,
                    "netkpi_http_tls_handshake_failures_total",
                    &[("reason", reason)],
                )
                .unwrap_or(0.0)
            };
            if failed("plain_http") >= 1.0 && failed("error") >= 1.0 {
                Ok(())
            } else {
                Err(metrics
                    .lines()
                    .filter(|l| l.contains("handshake"))
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
        },
    );

    // A real Prometheus scrapes it with scheme https, the CA and basic auth.
    let prometheus_yml = dir.join("prometheus.yml");
    std::fs::write(
        &prometheus_yml,
        prometheus_config(&dir.join("ca-one.crt"), "prometheus", "scrape-pw-1"),
    )
    .unwrap();
    let prometheus = Prometheus::start(&ns, dir, &prometheus_yml);
    let prom_addr = PROMETHEUS.parse().unwrap();
    let targets = || match ns.http_get(prom_addr, "/api/v1/targets") {
        Ok((200, body)) => body,
        other => format!("{other:?}"),
    };
    let context = || {
        format!(
            "--- targets ---\n{}\n{}\n--- netkpi log ---\n{}",
            targets(),
            prometheus.log_tail(),
            daemon.log_text()
        )
    };
    wait_up(
        &ns,
        "1",
        "Prometheus to scrape netkpi over HTTPS (up == 1)",
        Duration::from_secs(30),
        &context,
    );
    // And it got the data, not only an answer.
    wait(
        "netkpi's own series in Prometheus",
        Duration::from_secs(15),
        &context,
        &mut || {
            let (_, body) = ns
                .http_get(prom_addr, "/api/v1/query?query=netkpi_build_info")
                .map_err(|e| e.to_string())?;
            let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            if v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                Ok(())
            } else {
                Err(body)
            }
        },
    );

    // A new certificate (from another CA) and new users, put in force by
    // SIGHUP: new connections get them, without a restart.
    let second = pki("two");
    install(dir, &second, "ca-two.crt");
    std::fs::write(dir.join("web.yml"), web_config(&[("grafana", "view-pw-2")])).unwrap();
    daemon.signal(libc::SIGHUP);
    wait(
        "the new certificate and user after SIGHUP",
        Duration::from_secs(15),
        &|| daemon.log_text(),
        &mut || {
            let c = curl(
                &ns,
                dir,
                "ca-two.crt",
                "/metrics",
                &["-u", "grafana:view-pw-2"],
            );
            if c.status == 200 {
                Ok(())
            } else {
                Err(format!("{c:?}"))
            }
        },
    );
    let old_user = curl(
        &ns,
        dir,
        "ca-two.crt",
        "/metrics",
        &["-u", "prometheus:scrape-pw-1"],
    );
    assert_eq!(old_user.status, 401, "the removed user: {old_user:?}");
    let old_ca = curl(&ns, dir, "ca-one.crt", "/healthz", &[]);
    assert_eq!(
        (old_ca.status, old_ca.exit),
        (0, 60),
        "the old certificate is no longer served: {old_ca:?}"
    );
    assert!(daemon.log_text().contains("config reloaded"));

    // Prometheus, still with the old CA and user, now fails to scrape ...
    wait_up(
        &ns,
        "0",
        "Prometheus's scrape with the old CA and user to fail (up == 0)",
        Duration::from_secs(15),
        &context,
    );
    // ... and scrapes again once its config names the new CA and user,
    // reloaded by SIGHUP as an operator would after a rotation.
    std::fs::write(
        &prometheus_yml,
        prometheus_config(&dir.join("ca-two.crt"), "grafana", "view-pw-2"),
    )
    .unwrap();
    // SAFETY: signalling our own child process.
    let rc = unsafe { libc::kill(prometheus.child.id() as i32, libc::SIGHUP) };
    assert_eq!(rc, 0, "SIGHUP to prometheus");
    wait_up(
        &ns,
        "1",
        "Prometheus to scrape the new certificate over HTTPS (up == 1)",
        Duration::from_secs(30),
        &context,
    );
    drop(prometheus);

    // A broken web config is refused at reload, and the one in force stays.
    std::fs::write(
        dir.join("web.yml"),
        "basic_auth_users:\n  grafana: view-pw-2\n",
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    wait(
        "the broken web config to be refused",
        Duration::from_secs(10),
        &|| daemon.log_text(),
        &mut || {
            let log = daemon.log_text();
            if log.contains("basic_auth_users.grafana: not a bcrypt hash")
                && log.contains("reload refused")
            {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    let still = curl(
        &ns,
        dir,
        "ca-two.crt",
        "/metrics",
        &["-u", "grafana:view-pw-2"],
    );
    assert_eq!(still.status, 200, "{still:?}");

    let status = daemon.stop();
    assert!(status.success(), "netkpi stopped with {status}");
    eprintln!("tls_e2e took {:.1} s", started.elapsed().as_secs_f64());
}
