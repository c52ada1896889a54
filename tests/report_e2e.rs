//! The report end to end: the real daemon in a private network namespace,
//! a short real ICMP outage made with nftables and acknowledged through the
//! API, then `netkpi report` for the current year (JSON and CSV, read from
//! the store while the daemon runs) and `GET /api/v1/report` show that
//! outage and its incident, with the figures the ledger's own rows give.

mod common;

use std::path::Path;
use std::time::Duration;

use common::ledger::{ledger_rows, seconds_between};
use common::openapi::OpenApi;
use common::{lab_config, listen, netkpi_bin, Daemon, NetNs};
use jiff::Timestamp;
use serde_json::Value;

const ACC1: &str = "127.0.20.1";

/// A form of two rows: availability and acknowledgement in time.
const FORM: &str = r#"
[[indicator]]
id = "availability"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "质量指标", en = "Quality" }
name = { zh = "网络可用率", en = "Availability" }
source = "availability"
target = 0.999
weight = 60

[[indicator]]
id = "acknowledged"
level1 = { zh = "产出指标", en = "Output" }
level2 = { zh = "时效指标", en = "Timeliness" }
name = { zh = "及时响应率", en = "Acknowledged in time" }
source = "acknowledged_within_share"
target = 1
weight = 40
score = "threshold"
"#;

/// The current calendar year in the lab's zone.
fn this_year() -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    Timestamp::now().to_zoned_datetime(tz).year().to_string()
}

fn report(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(netkpi_bin())
        .args(["report", "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("run netkpi report")
}

/// The CSV file's rows (our files quote nothing in these tables' cells
/// but the deviation text, which this test does not read).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').expect("a byte order mark");
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn a_real_outage_in_the_report_and_the_api() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("netkpi.toml");
    std::fs::write(&config, format!("{}\n{FORM}", lab_config("data"))).unwrap();
    let data = tmp.path().join("data");
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));

    // acc-001 goes silent; its incident opens; the duty engineer
    // acknowledges it; it answers again and the incident is restored.
    ns.take_down(ACC1);
    let incident = daemon.wait_until("acc-001's incident", Duration::from_secs(15), || {
        let open = daemon.get_json("/api/v1/incidents?state=open");
        open["incidents"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["target"] == "acc-001").cloned())
            .ok_or(open)
    });
    let id = incident["id"].as_u64().unwrap();
    let body = r#"{"by": "duty-li"}"#;
    let ack = format!(
        "POST /api/v1/incidents/{id}/ack HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = ns.http_raw(listen(), ack.as_bytes()).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    std::thread::sleep(Duration::from_secs(2));
    ns.bring_up(ACC1);
    daemon.wait_for(
        &format!("/api/v1/incidents/{id}"),
        "acc-001 restored",
        Duration::from_secs(15),
        |i| !i["restored_at"].is_null(),
    );

    // What the ledger says: one down span of acc-001, and of L-001 behind it.
    let span = |target: &str| {
        let rows = ledger_rows(&data, target);
        let down = rows
            .iter()
            .position(|r| r.state == "down")
            .expect("a down row");
        let up = rows[down..]
            .iter()
            .find(|r| r.state == "up")
            .expect("back up");
        seconds_between(rows[down].at, up.at)
    };
    let (acc_down, line_down) = (span("acc-001"), span("L-001"));
    assert!(acc_down > 1.0, "a real outage: {acc_down} s");

    // The report of this year, read while the daemon runs.
    let year = this_year();
    let json_out = tmp.path().join("report.json");
    let o = report(
        &config,
        &[
            "--year",
            &year,
            "--lang",
            "en",
            "--out",
            json_out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    let device = r["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "acc-001")
        .unwrap();
    assert!(
        (device["down_s"].as_f64().unwrap() - acc_down).abs() < 0.002,
        "{device}"
    );
    assert_eq!(device["outages"], 1);
    let line = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "L-001")
        .unwrap();
    assert!(
        (line["down_s"].as_f64().unwrap() - line_down).abs() < 0.002,
        "{line}"
    );
    assert_eq!(line["outages"], 1);
    let inc = r["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("incident {id} in {}", r["incidents"]));
    assert_eq!(inc["target"], "acc-001");
    assert_eq!(inc["acknowledged_by"], "duty-li");
    assert!(!inc["restored_at"].is_null());
    let rows = r["form"]["rows"].as_array().unwrap();
    assert_eq!(
        rows[1]["actual"], 1.0,
        "acknowledged within 30 min: {}",
        rows[1]
    );
    assert!(rows[0]["actual"].as_f64().unwrap() < 1.0, "{}", rows[0]);
    assert_eq!(r["method"]["ledger"]["head"].as_str().unwrap().len(), 64);

    // CSV: the same outage and incident.
    let csv_out = tmp.path().join("csv");
    let o = report(
        &config,
        &[
            "--year",
            &year,
            "--format",
            "csv",
            "--lang",
            "en",
            "--out",
            csv_out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let devices = csv_rows(&std::fs::read_to_string(csv_out.join("devices.csv")).unwrap());
    let down_col = devices[0]
        .iter()
        .position(|h| h == "Downtime (min)")
        .unwrap();
    let acc = devices.iter().find(|r| r[0] == "acc-001").unwrap();
    assert_eq!(
        acc[down_col],
        format!("{:.2}", device["down_s"].as_f64().unwrap() / 60.0)
    );
    let incidents = csv_rows(&std::fs::read_to_string(csv_out.join("incidents.csv")).unwrap());
    let row = incidents.iter().find(|r| r[0] == id.to_string()).unwrap();
    assert_eq!((row[1].as_str(), row[6].as_str()), ("acc-001", "duty-li"));

    // The API answers the same report (another instant: the same ledger),
    // as the OpenAPI document describes it, form rows included.
    let api = daemon.get_json(&format!("/api/v1/report?year={year}"));
    let doc = OpenApi::new(include_str!("../src/http/openapi.json"));
    let problems = doc.check(doc.response_schema("/api/v1/report", "get", 200), &api);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(api["incidents"], r["incidents"]);
    assert_eq!(api["lines"][0]["down_s"], r["lines"][0]["down_s"]);
    assert_eq!(
        api["method"]["ledger"]["head"],
        r["method"]["ledger"]["head"]
    );
    // A + offset sent unencoded arrives as a space and is read back.
    let api = daemon.get_json(&format!(
        "/api/v1/report?from={year}-01-01T00:00:00+08:00&lang=zh"
    ));
    assert_eq!(
        api["period"]["from"],
        format!("{year}-01-01T00:00:00.000+08:00")
    );
    assert_eq!(api["lang"], "zh");
    // CSV by format= or by Accept, one table.
    let csv = daemon.request(
        &format!("/api/v1/report?year={year}&format=csv&table=incidents"),
        &[],
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv_rows(&csv.body)
        .iter()
        .any(|r| r[0] == id.to_string() && r[1] == "acc-001"));
    let csv = daemon.request(
        &format!("/api/v1/report?year={year}"),
        &[("Accept", "text/csv")],
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv_rows(&csv.body)[0][0], "Level 1", "the form by default");
    // Refused with a reason.
    for (query, why) in [
        ("year=2999", "future"),
        ("year=20x0", "not a year"),
        ("from=2026-02-01&to=2026-01-01", "must be after"),
        ("format=xlsx", "expected json or csv"),
        ("table=nope", "expected one of"),
        ("lang=fr", "expected zh or en"),
        ("window=1d", "unknown parameter"),
    ] {
        let (status, body) = daemon.get(&format!("/api/v1/report?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
    }
    // The availability endpoint takes the same periods.
    let avail = daemon.get_json(&format!("/api/v1/availability?year={year}"));
    assert_eq!(avail["from"], format!("{year}-01-01T00:00:00.000+08:00"));

    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}
