//! The OpenAPI document (`/api/v1/openapi.json`) against the real daemon:
//! every route of `src/http/mod.rs` is in it, and the answers of every JSON
//! endpoint, taken from the lab daemon through an outage, an
//! acknowledgement, a note and a declared window, match its schemas
//! (`common::openapi`, which is shown to catch a broken answer). Also the
//! list filters and the per-target pages as a user reads them, and gzip.

mod common;

use std::io::Read;
use std::time::Duration;

use common::openapi::OpenApi;
use common::{lab_config, listen, state_of, Daemon, NetNs};
use serde_json::Value;

/// One HTTP exchange through the namespace; returns status and JSON body.
fn send(ns: &NetNs, method: &str, path: &str, body: &str) -> (u16, Value) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = ns
        .http_raw(listen(), request.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let value = serde_json::from_str(&r.body).unwrap_or_else(|e| {
        panic!(
            "{method} {path} answered {} with non-JSON ({e}): {}",
            r.status, r.body
        )
    });
    (r.status, value)
}

/// The routes `src/http/mod.rs` declares, as (path, method) with the path
/// in the document's spelling.
fn routes_in_source() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs"))
        .expect("read src/http/mod.rs");
    let mut out = Vec::new();
    // `.route("/path", get(a).post(b))`, possibly over several lines.
    for chunk in source.split(".route(").skip(1) {
        let Some(rest) = chunk.trim_start().strip_prefix('"') else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').expect("a quoted path");
        let handlers = handlers.split("\n        .").next().unwrap_or(handlers);
        for method in ["get", "post"] {
            if handlers.contains(&format!("{method}(")) {
                out.push((path.to_string(), method.to_string()));
            }
        }
    }
    out.sort();
    out
}

fn names(doc: &Value, list: &str, key: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {doc}"))
        .iter()
        .map(|e| e[key].as_str().expect("a name").to_string())
        .collect()
}

/// Fetches `url` with curl inside the namespace asking for gzip; returns
/// the response headers and the body as sent.
fn fetch_gzip(ns: &NetNs, dir: &std::path::Path, path: &str) -> (String, Vec<u8>) {
    let body = dir.join("body.gz");
    let out = ns.exec(
        "curl",
        &[
            "-s",
            "-D",
            "-",
            "-H",
            "Accept-Encoding: gzip",
            "-o",
            body.to_str().expect("utf-8"),
            &format!("http://{}{path}", listen()),
        ],
    );
    let headers = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    (headers, std::fs::read(&body).expect("curl wrote the body"))
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip stream of UTF-8 text");
    text
}

#[test]
fn every_answer_matches_the_openapi_document() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    let window = "\n[[maintenance]]\ntargets = [\"core-r1\"]\nstart = \"2020-06-01T01:00:00+08:00\"\nend = \"2020-06-01T03:00:00+08:00\"\nreason = \"firmware\"\n";
    std::fs::write(&config, lab_config("data") + window).expect("write config");
    let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("run.log"));

    let (status, served) = send(&ns, "GET", "/api/v1/openapi.json", "");
    assert_eq!(status, 200);
    let api = OpenApi::new(&served.to_string());

    // The document lists every route the router has, and nothing else.
    assert_eq!(
        api.operations(),
        routes_in_source(),
        "document vs src/http/mod.rs"
    );

    // An outage with an incident, acknowledged, with a note.
    ns.take_down("127.0.20.2");
    let incidents = daemon.wait_for(
        "/api/v1/incidents?state=open",
        "an incident on acc-002",
        Duration::from_secs(15),
        |doc| names(doc, "incidents", "target").contains(&"acc-002".to_string()),
    );
    let id = incidents["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == "acc-002")
        .unwrap()["id"]
        .as_u64()
        .unwrap();

    let mut checked: Vec<(String, String)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut check = |template: &str, method: &str, status: u16, got_status: u16, body: &Value| {
        if got_status != status {
            failures.push(format!(
                "{method} {template}: status {got_status}, expected {status}: {body}"
            ));
            return;
        }
        let schema = api.response_schema(template, method, status);
        for e in api.check(schema, body) {
            failures.push(format!("{method} {template} ({status}): {e}"));
        }
        checked.push((template.to_string(), method.to_string()));
    };

    let ack = format!("/api/v1/incidents/{id}/ack");
    let (s, body) = send(&ns, "POST", &ack, r#"{"by": "duty", "note": "on it"}"#);
    check("/api/v1/incidents/{id}/ack", "post", 200, s, &body);
    let (s, body) = send(&ns, "POST", &ack, r#"{"by": "duty"}"#);
    check("/api/v1/incidents/{id}/ack", "post", 409, s, &body);
    let (s, body) = send(
        &ns,
        "POST",
        &format!("/api/v1/incidents/{id}/notes"),
        r#"{"by": "duty", "text": "carrier called"}"#,
    );
    check("/api/v1/incidents/{id}/notes", "post", 201, s, &body);
    let (s, body) = send(
        &ns,
        "POST",
        "/api/v1/maintenance",
        r#"{"targets": ["L-001"], "start": "2031-01-01T01:00:00+08:00", "end": "2031-01-01T02:00:00+08:00", "reason": "carrier work", "by": "duty"}"#,
    );
    check("/api/v1/maintenance", "post", 201, s, &body);

    let gets: Vec<(&str, String, u16)> = vec![
        ("/healthz", "/healthz".into(), 200),
        ("/api/v1/openapi.json", "/api/v1/openapi.json".into(), 200),
        ("/api/v1/devices", "/api/v1/devices".into(), 200),
        (
            "/api/v1/devices",
            "/api/v1/devices?state=down&role=access_egress".into(),
            200,
        ),
        (
            "/api/v1/devices",
            "/api/v1/devices?state=broken".into(),
            400,
        ),
        (
            "/api/v1/devices/{name}",
            "/api/v1/devices/acc-002".into(),
            200,
        ),
        (
            "/api/v1/devices/{name}",
            "/api/v1/devices/acc-999".into(),
            404,
        ),
        ("/api/v1/lines", "/api/v1/lines".into(), 200),
        ("/api/v1/lines", "/api/v1/lines?state=down".into(), 200),
        ("/api/v1/lines/{id}", "/api/v1/lines/L-002".into(), 200),
        ("/api/v1/lines/{id}", "/api/v1/lines/L-999".into(), 404),
        ("/api/v1/availability", "/api/v1/availability".into(), 200),
        (
            "/api/v1/availability",
            "/api/v1/availability?from=yesterday".into(),
            400,
        ),
        ("/api/v1/traps", "/api/v1/traps".into(), 200),
        ("/api/v1/ledger/head", "/api/v1/ledger/head".into(), 200),
        ("/api/v1/incidents", "/api/v1/incidents".into(), 200),
        ("/api/v1/incidents", "/api/v1/incidents?limit=0".into(), 400),
        (
            "/api/v1/incidents/{id}",
            format!("/api/v1/incidents/{id}"),
            200,
        ),
        (
            "/api/v1/incidents/{id}",
            "/api/v1/incidents/999999".into(),
            404,
        ),
        ("/api/v1/maintenance", "/api/v1/maintenance".into(), 200),
        ("/api/v1/report", "/api/v1/report".into(), 200),
        ("/api/v1/report", "/api/v1/report?year=2999".into(), 400),
    ];
    for (template, path, status) in &gets {
        let (s, body) = send(&ns, "GET", path, "");
        check(template, "get", *status, s, &body);
    }
    assert!(
        failures.is_empty(),
        "answers that do not match the document:\n{}",
        failures.join("\n")
    );

    // Every JSON operation of the document was answered and checked; the
    // others are the page, its form and the scrape, asked here.
    let mut not_json: Vec<(String, String)> = api
        .operations()
        .into_iter()
        .filter(|op| !checked.contains(op))
        .collect();
    not_json.sort();
    let expect = |p: &str, m: &str| (p.to_string(), m.to_string());
    assert_eq!(
        not_json,
        [
            expect("/", "get"),
            expect("/ack/{id}", "post"),
            expect("/metrics", "get")
        ]
    );
    let page = ns.http_request(listen(), "/", &[]).expect("GET /");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));

    // A broken answer is caught: a field missing, one of the wrong type,
    // one not in the document, a state outside the enum.
    let mut broken = daemon.get_json("/api/v1/devices");
    let first = broken["devices"][0].as_object_mut().unwrap();
    first.remove("since");
    first.insert("rtt_seconds".into(), Value::String("fast".into()));
    first.insert("colour".into(), Value::String("green".into()));
    first.insert("state".into(), Value::String("sleepy".into()));
    let errors = api.check(api.response_schema("/api/v1/devices", "get", 200), &broken);
    for expected in [
        "$.devices[0]: `since` is required but missing",
        "$.devices[0].rtt_seconds: expected number or null, found \"fast\"",
        "$.devices[0]: `colour` is not in the document",
        "$.devices[0].state: \"sleepy\" is not one of",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{expected:?} not caught: {errors:#?}"
        );
    }
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

#[test]
fn filters_target_pages_and_gzip() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(&config, lab_config("data")).expect("write config");
    let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("run.log"));
    ns.take_down("127.0.20.2");
    daemon.wait_for(
        "/api/v1/incidents?state=open",
        "an incident on acc-002",
        Duration::from_secs(15),
        |doc| names(doc, "incidents", "target").contains(&"acc-002".to_string()),
    );

    // Filters: the lab's devices and lines, by what the config says of them.
    let devices = |q: &str| {
        names(
            &daemon.get_json(&format!("/api/v1/devices{q}")),
            "devices",
            "name",
        )
    };
    let lines = |q: &str| {
        names(
            &daemon.get_json(&format!("/api/v1/lines{q}")),
            "lines",
            "id",
        )
    };
    assert_eq!(devices(""), ["core-r1", "acc-001", "acc-002"]);
    assert_eq!(devices("?state=down"), ["acc-002"]);
    assert_eq!(devices("?state=up"), ["core-r1", "acc-001"]);
    assert_eq!(devices("?site=core-room"), ["core-r1"]);
    assert_eq!(devices("?role=access_egress"), ["acc-001", "acc-002"]);
    assert_eq!(devices("?role=access_egress&state=up"), ["acc-001"]);
    assert!(devices("?site=nowhere").is_empty());
    assert_eq!(lines("?state=down"), ["L-002"]);
    assert_eq!(lines("?unit=Finance%20Bureau"), ["L-001"]);
    assert_eq!(lines("?carrier=Carrier%20B"), ["L-002"]);
    let (status, body) = daemon.get("/api/v1/devices?state=sleepy");
    assert_eq!(status, 400);
    assert!(
        body.contains("up, degraded, down, unknown, maintenance"),
        "{body}"
    );
    let (status, body) = daemon.get("/api/v1/devices?role=switch");
    assert_eq!(status, 400);
    assert!(body.contains("core_switch"), "{body}");
    let (status, body) = daemon.get("/api/v1/lines?site=x");
    assert_eq!(status, 400);
    assert!(body.contains("state, unit, carrier"), "{body}");

    // A device's page: its row, its transitions newest first, its incident.
    let page = daemon.get_json("/api/v1/devices/acc-002");
    assert_eq!(page["name"], "acc-002");
    assert_eq!(page["state"], "down");
    let states: Vec<&str> = page["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"down"), "{page}");
    assert!(states.contains(&"up"), "{page}");
    assert_eq!(page["transitions"][0]["at"], page["since"], "{page}");
    let open = page["open_incidents"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{page}");
    assert_eq!(open[0]["target"], "acc-002");
    let healthy = daemon.get_json("/api/v1/devices/acc-001");
    assert!(
        healthy["open_incidents"].as_array().unwrap().is_empty(),
        "{healthy}"
    );
    let line = daemon.get_json("/api/v1/lines/L-002");
    assert_eq!(
        (line["state"].as_str(), line["cause"].as_str()),
        (Some("down"), Some("device:acc-002")),
        "{line}"
    );
    let (status, body) = daemon.get("/api/v1/lines/L-404");
    assert_eq!(status, 404);
    assert!(body.contains("no line \\\"L-404\\\""), "{body}");

    // Availability rows: a line's unit, carrier and bandwidth; null for devices.
    let availability = daemon.get_json("/api/v1/availability");
    let row = |target: &str| {
        availability["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["target"] == target)
            .unwrap_or_else(|| panic!("{target} missing: {availability}"))
            .clone()
    };
    let l2 = row("L-002");
    assert_eq!(
        (
            l2["unit"].as_str(),
            l2["carrier"].as_str(),
            l2["bandwidth"].as_str()
        ),
        (Some("Tax Office"), Some("Carrier B"), Some("50M"))
    );
    let r1 = row("core-r1");
    assert!(
        r1["unit"].is_null() && r1["carrier"].is_null() && r1["bandwidth"].is_null(),
        "{r1}"
    );

    // gzip when asked, the same document once decoded; plain otherwise.
    for path in ["/api/v1/devices", "/metrics"] {
        let (headers, body) = fetch_gzip(&ns, dir.path(), path);
        assert!(
            headers.contains("content-encoding: gzip"),
            "{path}: {headers}"
        );
        assert!(
            headers.contains("vary: accept-encoding"),
            "{path}: {headers}"
        );
        let text = gunzip(&body);
        let plain = daemon.request(path, &[]);
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        if path == "/metrics" {
            assert!(
                body.len() * 3 < text.len(),
                "{path}: {} bytes compressed, {} plain",
                body.len(),
                text.len()
            );
            assert!(text.contains("# TYPE netkpi_device_up gauge"), "{text}");
        } else {
            let doc: Value = serde_json::from_str(&text).expect("JSON once decoded");
            assert_eq!(
                names(&doc, "devices", "name"),
                ["core-r1", "acc-001", "acc-002"]
            );
            assert_eq!(state_of(&doc, "devices", "name", "acc-002"), "down");
        }
    }
}
