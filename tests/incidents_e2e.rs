//! Incidents end to end: the real binary in a private network namespace,
//! outages made with nftables, acknowledgements through the API and through
//! `netkpi incident`, and the figures checked against the ledger's own rows.

mod common;

use std::path::Path;
use std::time::Duration;

use common::full_lab::promtool_findings;
use common::ledger::{ledger_rows, seconds_between};
use common::{lab_config, listen, netkpi_bin, sample, state_of, Daemon, NetNs};
use jiff::Timestamp;
use serde_json::{json, Value};

const CORE: &str = "127.0.10.1";
const ACC1: &str = "127.0.20.1";
const ACC2: &str = "127.0.20.2";

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, format!("{}\n{extra}", lab_config("data"))).expect("write config");
    path
}

/// An HTTP/1.1 request with a body; status and parsed JSON body.
fn send(ns: &NetNs, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, Value) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
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

fn open_incidents(daemon: &Daemon) -> Vec<Value> {
    daemon.get_json("/api/v1/incidents?state=open")["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until no incident is open.
fn wait_all_restored(daemon: &Daemon) {
    daemon.wait_until("everything restored", Duration::from_secs(20), || {
        let open = open_incidents(daemon);
        if open.is_empty() {
            Ok(())
        } else {
            Err(open)
        }
    });
}

fn by_target<'v>(incidents: &'v [Value], target: &str) -> Option<&'v Value> {
    incidents.iter().find(|i| i["target"] == target)
}

fn time(v: &Value, key: &str) -> Timestamp {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
        .parse()
        .unwrap()
}

/// The stamp of `target`'s last ledger row in `state`.
fn last_row_at(data_dir: &Path, target: &str, state: &str) -> Timestamp {
    ledger_rows(data_dir, target)
        .iter()
        .rev()
        .find(|r| r.state == state)
        .unwrap_or_else(|| panic!("no {state} row for {target}"))
        .at
}

/// Checks that `shown` was acknowledged by `by`, with a `response_s` from
/// `opened` to a moment between `before` and `after` the acknowledgement.
fn assert_response_measured(
    shown: &Value,
    by: &str,
    opened: Timestamp,
    before: Timestamp,
    after: Timestamp,
) {
    assert_eq!(shown["acknowledged_by"], by, "{shown}");
    let response = shown["response_s"].as_f64().unwrap();
    assert!(
        response >= seconds_between(opened, before) - 0.01
            && response <= seconds_between(opened, after) + 0.01,
        "response_s {response} is the time from opening to the acknowledgement"
    );
}

/// The names of an incident's events, oldest first.
fn event_names(shown: &Value) -> Vec<&str> {
    shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// Runs `netkpi incident ARGS` inside the namespace.
fn cli(ns: &NetNs, args: &[&str]) -> std::process::Output {
    let url = format!("http://{}", listen());
    let mut all = vec!["incident", "--url", url.as_str()];
    all.extend_from_slice(args);
    ns.command(netkpi_bin())
        .args(&all)
        .output()
        .expect("run netkpi incident")
}

#[test]
fn an_outage_is_one_incident_acknowledged_and_restored_with_its_times_measured() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "");
    let data = tmp.path().join("data");
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));

    ns.take_down(ACC2);
    let incidents = daemon.wait_until(
        "acc-002 and L-002 incidents",
        Duration::from_secs(15),
        || {
            let open = open_incidents(&daemon);
            match (by_target(&open, "acc-002"), by_target(&open, "L-002")) {
                (Some(d), Some(l)) => Ok((d.clone(), l.clone())),
                _ => Err(open),
            }
        },
    );
    let (device, line) = incidents;
    let opened = time(&device, "opened_at");
    assert_eq!(
        opened,
        last_row_at(&data, "acc-002", "down"),
        "opened at the ledger's stamp (the first failed round)"
    );
    assert_eq!(device["severity"], "minor", "access equipment");
    assert_eq!(line["severity"], "major", "a member unit cut off");
    assert_eq!(device["root_id"], Value::Null);
    assert_eq!(
        line["root_id"], device["id"],
        "the line is behind its device"
    );
    let id = device["id"].as_u64().unwrap();
    let shown = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    assert_eq!(shown["affected"], 1);
    assert_eq!(shown["affected_targets"][0]["target"], "L-002");
    assert_eq!(shown["state"], "open");
    assert_eq!(
        open_incidents(&daemon).len(),
        2,
        "core-r1 and acc-001 answer: nothing else is open"
    );

    // Acknowledged through `netkpi incident ack` a few seconds later.
    std::thread::sleep(Duration::from_secs(2));
    let before_ack = Timestamp::now();
    let out = cli(
        &ns,
        &[
            "ack",
            &id.to_string(),
            "--by",
            "duty-wang",
            "--note",
            "on my way",
        ],
    );
    let after_ack = Timestamp::now();
    assert!(
        out.status.success(),
        "netkpi incident ack: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    assert_response_measured(&shown, "duty-wang", opened, before_ack, after_ack);
    assert_eq!(shown["notes"][0]["text"], "on my way");

    // Refused, with a JSON error and nothing changed.
    let ack_path = format!("/api/v1/incidents/{id}/ack");
    let (status, body) = send(&ns, "POST", &ack_path, &[], r#"{"by": "other"}"#);
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("duty-wang"),
        "{body}"
    );
    let (status, body) = send(
        &ns,
        "POST",
        "/api/v1/incidents/99999/ack",
        &[],
        r#"{"by": "x"}"#,
    );
    assert_eq!((status, body["error"].is_string()), (404, true), "{body}");
    let (status, body) = send(&ns, "POST", &ack_path, &[], r#"{"by": "#);
    assert_eq!((status, body["error"].is_string()), (400, true), "{body}");
    let (status, body) = send(&ns, "POST", &ack_path, &[], r#"{"who": "x"}"#);
    assert_eq!(
        (status, body["error"].is_string()),
        (400, true),
        "unknown field: {body}"
    );
    let huge = format!(r#"{{"by": "x", "text": "{}"}}"#, "a".repeat(100_000));
    let (status, body) = send(
        &ns,
        "POST",
        &format!("/api/v1/incidents/{id}/notes"),
        &[],
        &huge,
    );
    assert_eq!((status, body["error"].is_string()), (413, true), "{body}");
    let (status, body) = send(&ns, "GET", &ack_path, &[], "");
    assert_eq!((status, body["error"].is_string()), (405, true), "{body}");
    let shown_after = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    assert_eq!(
        shown_after["events"], shown["events"],
        "refusals change nothing"
    );

    // A note through the API, then one through the CLI.
    let (status, body) = send(
        &ns,
        "POST",
        &format!("/api/v1/incidents/{id}/notes"),
        &[],
        &json!({"by": "duty-wang", "text": "carrier ticket 4711"}).to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let out = cli(
        &ns,
        &["note", &id.to_string(), "fibre cut at km 12", "--by", "li"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Restored: restore_s is the outage as the ledger recorded it.
    ns.bring_up(ACC2);
    let restored = daemon.wait_for(
        &format!("/api/v1/incidents/{id}"),
        "acc-002's incident restored",
        Duration::from_secs(15),
        |i| i["state"] == "restored",
    );
    let back = last_row_at(&data, "acc-002", "up");
    assert_eq!(time(&restored, "restored_at"), back);
    let restore_s = restored["restore_s"].as_f64().unwrap();
    assert!(
        (restore_s - seconds_between(opened, back)).abs() < 0.002,
        "restore_s {restore_s} is the ledger's outage"
    );
    let texts: Vec<&str> = restored["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["on my way", "carrier ticket 4711", "fibre cut at km 12"]
    );
    assert_eq!(
        event_names(&restored),
        ["opened", "acknowledged", "note", "note", "note", "restored"]
    );
    let (status, body) = send(&ns, "POST", &ack_path, &[], r#"{"by": "late"}"#);
    assert_eq!(status, 409, "a restored incident: {body}");
    daemon.wait_until("L-002's incident restored", Duration::from_secs(10), || {
        if open_incidents(&daemon).is_empty() {
            Ok(())
        } else {
            Err(open_incidents(&daemon))
        }
    });

    // The CLI's listing, and the metrics.
    let out = cli(&ns, &["list", "--state", "all"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("acc-002") && table.contains("L-002"),
        "{table}"
    );
    let scrape = daemon.metrics();
    let device_minor = [("kind", "device"), ("severity", "minor")];
    assert_eq!(
        sample(&scrape, "netkpi_incidents_total", &device_minor),
        Some(1.0)
    );
    assert_eq!(
        sample(&scrape, "netkpi_incidents_open", &device_minor),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "netkpi_incidents_total",
            &[("kind", "line"), ("severity", "major")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "netkpi_incident_response_seconds_count",
            &[("kind", "device")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "netkpi_incident_restore_seconds_count",
            &[("kind", "device")]
        ),
        Some(1.0)
    );
    let within_a_minute = ["60", "60.0"].iter().find_map(|le| {
        sample(
            &scrape,
            "netkpi_incident_restore_seconds_bucket",
            &[("kind", "device"), ("le", le)],
        )
    });
    assert_eq!(
        within_a_minute,
        Some(1.0),
        "restored within a minute:\n{scrape}"
    );
    assert_eq!(promtool_findings(&scrape), Vec::<String>::new());
}

/// Writes need the bearer token once one is configured; it never shows.
#[test]
fn writes_need_the_token_when_one_is_configured() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("token"), "sentinel-token-4711\n").unwrap();
    let config = tmp.path().join("netkpi.toml");
    let text = lab_config("data").replacen(
        "timezone = \"Asia/Shanghai\"",
        "timezone = \"Asia/Shanghai\"\napi_token_file = \"token\"",
        1,
    );
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));
    ns.take_down(ACC1);
    let incident = daemon.wait_until("acc-001's incident", Duration::from_secs(15), || {
        by_target(&open_incidents(&daemon), "acc-001")
            .cloned()
            .ok_or(())
    });
    let id = incident["id"].as_u64().unwrap();
    let opened = time(&incident, "opened_at");
    let path = format!("/api/v1/incidents/{id}/ack");
    let body = r#"{"by": "duty"}"#;
    let (status, doc) = send(&ns, "POST", &path, &[], body);
    assert_eq!((status, doc["error"].is_string()), (401, true), "{doc}");
    let (status, _) = send(&ns, "POST", &path, &["Authorization: Bearer wrong"], body);
    assert_eq!(status, 401);
    // Acknowledged straight through the API a little later: response_s is
    // the time from opening to that request, as for `netkpi incident ack`.
    std::thread::sleep(Duration::from_secs(2));
    let before_ack = Timestamp::now();
    let (status, _) = send(
        &ns,
        "POST",
        &path,
        &["Authorization: Bearer sentinel-token-4711"],
        body,
    );
    let after_ack = Timestamp::now();
    assert_eq!(status, 200);
    let shown = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    assert_response_measured(&shown, "duty", opened, before_ack, after_ack);
    // The CLI reads the token from --token-file.
    let out = cli(
        &ns,
        &[
            "--token-file",
            tmp.path().join("token").to_str().unwrap(),
            "note",
            &id.to_string(),
            "checked",
            "--by",
            "duty",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&ns, &["note", &id.to_string(), "no token", "--by", "duty"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    let scrape = daemon.metrics();
    let log = daemon.log_text();
    assert!(
        !log.contains("sentinel-token-4711") && !scrape.contains("sentinel-token-4711"),
        "the token never shows"
    );
}

/// A core router with two access devices and their lines, all silent at
/// once, at several phase offsets from the core's probe rounds, each drop
/// after the flap window has passed: every incident opens fresh (new ids,
/// no flap) and every child's incident links to the core's, one root; then
/// a drop inside the flap window reopens the same incidents, and a child
/// back before its root is still counted in the API's `affected` but not
/// in `affected_open` nor on the status page.
#[test]
fn a_parent_and_its_children_down_together_are_one_root_incident() {
    const FLAP_WINDOW_S: i64 = 4;
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        &format!("[sla]\nflap_window = \"{FLAP_WINDOW_S}s\"\n"),
    );
    let data = tmp.path().join("data");
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));
    let targets = ["core-r1", "acc-001", "acc-002", "L-001", "L-002"];
    let children = &targets[1..];
    let drop_all = || {
        for addr in [CORE, ACC1, ACC2] {
            ns.take_down(addr);
        }
    };
    let five_linked = || {
        daemon.wait_until("five incidents", Duration::from_secs(20), || {
            let open = open_incidents(&daemon);
            let linked = open.iter().filter(|i| !i["root_id"].is_null()).count();
            if open.len() == 5 && linked == 4 {
                Ok(open)
            } else {
                Err(open)
            }
        })
    };
    let bring_all_up = || {
        for addr in [CORE, ACC1, ACC2] {
            ns.bring_up(addr);
        }
        wait_all_restored(&daemon);
    };
    let mut seen = Vec::new();
    let mut last = Vec::new();
    for offset_ms in [150i64, 500, 850] {
        // The core's rounds fall on whole seconds from its last up row (or
        // its first, at the start); drop everything offset_ms after one of
        // them, past the flap window of every restoration so far.
        let phase = last_row_at(&data, "core-r1", "up");
        let settled = targets
            .iter()
            .map(|t| last_row_at(&data, t, "up"))
            .max()
            .unwrap()
            + jiff::SignedDuration::from_secs(FLAP_WINDOW_S)
            + jiff::SignedDuration::from_millis(300);
        let mut at = phase + jiff::SignedDuration::from_millis(offset_ms);
        while at < settled.max(Timestamp::now()) {
            at += jiff::SignedDuration::from_secs(1);
        }
        std::thread::sleep(Duration::try_from(at.duration_since(Timestamp::now())).unwrap());
        drop_all();
        let open = five_linked();
        let core = by_target(&open, "core-r1").expect("the core's incident");
        assert_eq!(
            core["root_id"],
            Value::Null,
            "offset {offset_ms} ms: {open:?}"
        );
        assert_eq!(core["severity"], "critical");
        let ids: Vec<u64> = targets
            .iter()
            .map(|t| by_target(&open, t).unwrap()["id"].as_u64().unwrap())
            .collect();
        for (t, id) in targets.iter().zip(&ids) {
            let shown = daemon.get_json(&format!("/api/v1/incidents/{id}"));
            let events = event_names(&shown);
            assert!(
                !seen.contains(id) && shown["flaps"] == 0 && !events.contains(&"reopened"),
                "offset {offset_ms} ms: {t} opened fresh, not reopened: {shown}"
            );
            if children.contains(t) {
                assert_eq!(
                    shown["root_id"], core["id"],
                    "offset {offset_ms} ms: {t} behind the core: {shown}"
                );
            }
        }
        assert_eq!(
            daemon.get_json(&format!("/api/v1/incidents/{}", ids[0]))["affected"],
            4
        );
        seen.extend_from_slice(&ids);
        last = ids;
        bring_all_up();
    }

    // Down again at once, inside the flap window: the same incidents,
    // reopened, still one root.
    drop_all();
    let open = five_linked();
    for (t, id) in targets.iter().zip(&last) {
        let i = by_target(&open, t).unwrap();
        assert_eq!(i["id"], *id, "{t} reopened: {open:?}");
        assert_eq!(i["flaps"], 1, "{t}: {i}");
        if children.contains(t) {
            assert_eq!(i["root_id"], last[0], "{t}: {i}");
        }
    }

    // acc-001 answers again while the core stays down: its incident and
    // L-001's are restored. The API's `affected` still counts all four
    // behind the root, `affected_open` the two still open, and the status
    // page shows that second count.
    ns.bring_up(ACC1);
    let root = last[0];
    let shown = daemon.wait_for(
        &format!("/api/v1/incidents/{root}"),
        "acc-001 and L-001 restored behind the core",
        Duration::from_secs(15),
        |i| i["affected_open"] == 2,
    );
    assert_eq!(shown["state"], "open");
    assert_eq!(shown["affected"], 4, "{shown}");
    let mut behind: Vec<(&str, &str)> = shown["affected_targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["target"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    behind.sort_unstable();
    assert_eq!(
        behind,
        [
            ("L-001", "restored"),
            ("L-002", "open"),
            ("acc-001", "restored"),
            ("acc-002", "open")
        ]
    );
    let listed = by_target(&open_incidents(&daemon), "core-r1")
        .cloned()
        .expect("the core's incident listed");
    assert_eq!(
        (&listed["affected"], &listed["affected_open"]),
        (&json!(4), &json!(2))
    );
    let (status, page) = daemon.get("/");
    assert_eq!(status, 200);
    let row = page
        .split("<tr ")
        .find(|r| r.starts_with(&format!("id=\"incident-{root}\"")))
        .unwrap_or_else(|| panic!("no row for incident {root}: {page}"));
    assert!(
        row.contains("root, 2 open behind it"),
        "the page counts the open ones: {row}"
    );
    ns.bring_up(CORE);
    ns.bring_up(ACC2);
    wait_all_restored(&daemon);
    let all = daemon.get_json("/api/v1/incidents?state=all&limit=100");
    assert_eq!(
        all["incidents"].as_array().unwrap().len(),
        15,
        "five fresh incidents per drop, none for the flap: {all}"
    );
}

/// An incident open at a crash is still open after the restart (the same
/// incident, not a second one) and closes correctly on recovery.
#[test]
fn an_incident_open_at_a_crash_stays_open_and_closes_on_recovery() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "");
    let data = tmp.path().join("data");
    let log = tmp.path().join("netkpi.log");
    let daemon = Daemon::start_all_up(&ns, &config, &log);
    ns.take_down(ACC1);
    let before = daemon.wait_until("acc-001's incident", Duration::from_secs(15), || {
        by_target(&open_incidents(&daemon), "acc-001")
            .cloned()
            .ok_or(())
    });
    daemon.kill9();
    std::thread::sleep(Duration::from_secs(2));
    let daemon = Daemon::start(&ns, &config, listen(), tmp.path().join("netkpi2.log"));
    // Seen down again after the restart: still the same incident.
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 down again",
        Duration::from_secs(15),
        |doc| state_of(doc, "devices", "name", "acc-001") == "down",
    );
    let open = open_incidents(&daemon);
    assert_eq!(
        open.iter().filter(|i| i["target"] == "acc-001").count(),
        1,
        "{open:?}"
    );
    let after = by_target(&open, "acc-001").unwrap();
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["opened_at"], before["opened_at"]);
    ns.bring_up(ACC1);
    let id = before["id"].as_u64().unwrap();
    let restored = daemon.wait_for(
        &format!("/api/v1/incidents/{id}"),
        "restored",
        Duration::from_secs(15),
        |i| i["state"] == "restored",
    );
    assert_eq!(
        time(&restored, "restored_at"),
        last_row_at(&data, "acc-001", "up")
    );
    assert_eq!(restored["flaps"], 0, "a crash is not a flap");
}

/// An outage inside a maintenance window is planned: never judged against
/// the deadlines (no breach counted, never overdue), left out of the
/// response and restore figures. An outage beside it outside the window,
/// left unacknowledged past a 2 s respond_within, is scraped as overdue
/// and counts one respond breach per incident.
#[test]
fn an_outage_inside_maintenance_is_planned() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    let window = format!(
        "[[maintenance]]\ntargets = [\"acc-002\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"firmware upgrade\"\n",
        now - jiff::SignedDuration::from_hours(1),
        now + jiff::SignedDuration::from_hours(1)
    );
    // A seconds-scale response deadline, so that one passes in the test.
    let config = write_config(
        tmp.path(),
        &format!("[sla]\nrespond_within = \"2s\"\n{window}"),
    );
    let daemon = Daemon::start(&ns, &config, listen(), tmp.path().join("netkpi.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "acc-002 answering inside its window",
        Duration::from_secs(15),
        |doc| state_of(doc, "devices", "name", "acc-002") == "maintenance",
    );
    // acc-001, outside any window, goes down with it as the contrast.
    ns.take_down(ACC2);
    ns.take_down(ACC1);
    let open = daemon.wait_until("acc-002's incident", Duration::from_secs(15), || {
        let open = open_incidents(&daemon);
        match (by_target(&open, "acc-002"), by_target(&open, "L-002")) {
            (Some(d), Some(l)) if open.len() == 4 => Ok((d.clone(), l.clone())),
            _ => Err(open),
        }
    });
    assert_eq!(open.0["planned"], true);
    assert_eq!(
        open.1["planned"], true,
        "the window on the device covers its line"
    );
    let id = open.0["id"].as_u64().unwrap();
    let unplanned = by_target(&open_incidents(&daemon), "acc-001")
        .cloned()
        .expect("acc-001's incident");
    assert_eq!(unplanned["planned"], false);
    let unplanned_id = unplanned["id"].as_u64().unwrap();

    // Nobody acknowledges: past respond_within, acc-001 and L-001 show as
    // overdue and count one respond breach each; the planned acc-002 and
    // L-002 count none.
    let overdue = |scrape: &str, kind: &str, severity: &str| {
        sample(
            scrape,
            "netkpi_incidents_unacknowledged_overdue",
            &[("kind", kind), ("severity", severity)],
        )
    };
    let breaches = |scrape: &str, kind: &str, deadline: &str| {
        sample(
            scrape,
            "netkpi_incident_sla_breaches_total",
            &[("kind", kind), ("deadline", deadline)],
        )
    };
    let deadline = time(&unplanned, "opened_at") + jiff::SignedDuration::from_secs(2);
    let scrape = daemon.metrics();
    if Timestamp::now() < deadline {
        assert_eq!(overdue(&scrape, "device", "minor"), Some(0.0), "{scrape}");
        assert_eq!(breaches(&scrape, "device", "respond"), Some(0.0));
    }
    let scrape = daemon.wait_until("acc-001 overdue", Duration::from_secs(10), || {
        let scrape = daemon.metrics();
        match overdue(&scrape, "device", "minor") {
            Some(n) if n > 0.0 => Ok(scrape),
            _ => Err(scrape),
        }
    });
    assert!(
        Timestamp::now() >= deadline,
        "overdue only past the deadline"
    );
    assert_eq!(overdue(&scrape, "device", "minor"), Some(1.0), "{scrape}");
    assert_eq!(overdue(&scrape, "line", "major"), Some(1.0), "{scrape}");
    assert_eq!(breaches(&scrape, "device", "respond"), Some(1.0));
    assert_eq!(breaches(&scrape, "line", "respond"), Some(1.0));
    for kind in ["device", "line"] {
        assert_eq!(breaches(&scrape, kind, "restore"), Some(0.0), "{scrape}");
    }
    // A late acknowledgement of acc-001 (which acknowledges L-001 behind
    // it too) ends the overdue state but not the breaches, counted once.
    let ack = |id: u64| {
        let path = format!("/api/v1/incidents/{id}/ack");
        let (status, body) = send(&ns, "POST", &path, &[], r#"{"by": "duty"}"#);
        assert_eq!(status, 200, "{path}: {body}");
    };
    ack(unplanned_id);
    let scrape = daemon.metrics();
    assert_eq!(overdue(&scrape, "device", "minor"), Some(0.0), "{scrape}");
    assert_eq!(overdue(&scrape, "line", "major"), Some(0.0), "{scrape}");
    assert_eq!(breaches(&scrape, "device", "respond"), Some(1.0));
    assert_eq!(breaches(&scrape, "line", "respond"), Some(1.0));
    ack(id);
    ns.bring_up(ACC2);
    ns.bring_up(ACC1);
    let restored = daemon.wait_for(
        &format!("/api/v1/incidents/{id}"),
        "restored",
        Duration::from_secs(15),
        |i| i["state"] == "restored",
    );
    assert_eq!(restored["sla_met"], Value::Null, "planned: not judged");
    wait_all_restored(&daemon);
    let late = daemon.get_json(&format!("/api/v1/incidents/{unplanned_id}"));
    assert_eq!(late["sla_met"], false, "acknowledged late: {late}");
    let scrape = daemon.metrics();
    assert_eq!(
        sample(
            &scrape,
            "netkpi_incident_response_seconds_count",
            &[("kind", "device")]
        ),
        Some(1.0),
        "acc-001's acknowledgement only; the planned one is left out"
    );
    assert_eq!(
        sample(
            &scrape,
            "netkpi_incidents_total",
            &[("kind", "device"), ("severity", "minor")]
        ),
        Some(2.0),
        "the planned incident is still counted as an incident"
    );
    for kind in ["device", "line"] {
        assert_eq!(overdue(&scrape, kind, "minor"), Some(0.0), "{scrape}");
        assert_eq!(overdue(&scrape, kind, "major"), Some(0.0), "{scrape}");
        assert_eq!(
            breaches(&scrape, kind, "respond"),
            Some(1.0),
            "acc-001 and L-001 only, once each: {scrape}"
        );
        assert_eq!(breaches(&scrape, kind, "restore"), Some(0.0));
    }
}

/// A window declared through the API: in force at once (the device reads
/// maintenance), and a window declared after the fact over an outage makes
/// its incident planned and its time maintenance in the figures, while the
/// ledger's rows stay as recorded.
#[test]
fn maintenance_declared_through_the_api_applies_now_and_after_the_fact() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "");
    let data = tmp.path().join("data");
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));
    let start = Timestamp::now();

    // An outage of acc-002, restored, judged unplanned.
    ns.take_down(ACC2);
    let id = daemon.wait_until("acc-002's incident", Duration::from_secs(15), || {
        by_target(&open_incidents(&daemon), "acc-002")
            .and_then(|i| i["id"].as_u64())
            .ok_or(())
    });
    ns.bring_up(ACC2);
    let before = daemon.wait_for(
        &format!("/api/v1/incidents/{id}"),
        "restored",
        Duration::from_secs(15),
        |i| i["state"] == "restored",
    );
    assert_eq!(before["planned"], false);
    let rows_before = ledger_rows(&data, "acc-002").len();

    // Refused: unknown target, end before start, malformed times.
    let declare = |body: Value| send(&ns, "POST", "/api/v1/maintenance", &[], &body.to_string());
    let (status, body) = declare(json!({
        "targets": ["acc-999"], "end": "2099-01-01T00:00:00Z", "reason": "x", "by": "y"
    }));
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("acc-999"));
    let (status, _) = declare(json!({
        "targets": ["acc-002"], "start": "2099-01-02T00:00:00Z", "end": "2099-01-01T00:00:00Z",
        "reason": "x", "by": "y"
    }));
    assert_eq!(status, 400);

    // After the fact: the carrier's planned work, announced late.
    let end = Timestamp::now();
    let (status, declared) = declare(json!({
        "targets": ["acc-002"],
        "start": (start - jiff::SignedDuration::from_mins(2)).to_string(),
        "end": end.to_string(),
        "reason": "carrier splicing, notice received late",
        "by": "manager-zhao"
    }));
    assert_eq!(status, 201, "{declared}");
    assert_eq!(declared["reclassifies"], true);
    assert_eq!(declared["planned_incidents"][0], id, "{declared}");
    let covered: Vec<&str> = declared["covers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        covered,
        ["acc-002", "L-002"],
        "a device's window covers its line"
    );
    let after = daemon.get_json(&format!("/api/v1/incidents/{id}"));
    assert_eq!(after["planned"], true);
    assert_eq!(after["sla_met"], Value::Null);
    let last = after["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["event"].as_str(), last["by"].as_str()),
        (Some("planned"), Some("manager-zhao"))
    );
    assert_eq!(
        ledger_rows(&data, "acc-002").len(),
        rows_before,
        "the recorded transitions are kept as they were"
    );
    let figures = daemon.get_json(&format!(
        "/api/v1/availability?from={}&to={}",
        common::q(&start.to_string()),
        common::q(&end.to_string())
    ));
    let acc2 = common::figures(&figures, "acc-002");
    assert_eq!(common::secs(acc2, "down_s"), 0.0, "{acc2}");
    assert!(common::secs(acc2, "maintenance_s") > 0.0, "{acc2}");

    // Now: acc-001 reads maintenance at once, and the window is listed.
    let (status, body) = declare(json!({
        "targets": ["acc-001"],
        "end": (Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string(),
        "reason": "replacing the power supply",
        "by": "duty-wang"
    }));
    assert_eq!(
        (status, body["reclassifies"].as_bool()),
        (201, Some(false)),
        "{body}"
    );
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 in maintenance",
        Duration::from_secs(5),
        |doc| state_of(doc, "devices", "name", "acc-001") == "maintenance",
    );
    let listed = daemon.get_json("/api/v1/maintenance");
    assert_eq!(listed["windows"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed["windows"][1]["by"], "duty-wang");

    // Still in force after a restart.
    daemon.stop();
    let daemon = Daemon::start(&ns, &config, listen(), tmp.path().join("netkpi2.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 still in maintenance",
        Duration::from_secs(15),
        |doc| state_of(doc, "devices", "name", "acc-001") == "maintenance",
    );
}

/// Each incident keeps the deadlines the `[[sla.override]]`s give its
/// target, key by key (a line's own override beats its carrier's, a role's
/// applies to devices only), and the listing's cursor walks every incident
/// exactly once.
#[test]
fn incidents_get_their_overrides_deadlines_and_the_cursor_walks_every_incident_once() {
    let ns = NetNs::new();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        r#"
[sla]
respond_within = "30m"
restore_within = "4h"

[[sla.override]]
match = { carrier = "Carrier A" }
respond_within = "1h"
restore_within = "6h"

[[sla.override]]
match = { line = "L-001" }
respond_within = "5m"

[[sla.override]]
match = { role = "access_egress" }
respond_within = "20m"
restore_within = "3h"
"#,
    );
    let daemon = Daemon::start_all_up(&ns, &config, &tmp.path().join("netkpi.log"));
    for addr in [ACC1, ACC2] {
        ns.take_down(addr);
    }
    let open = daemon.wait_until("four incidents", Duration::from_secs(20), || {
        let open = open_incidents(&daemon);
        if open.len() == 4 {
            Ok(open)
        } else {
            Err(open)
        }
    });
    // (respond_within_s, restore_within_s) by target.
    let expected = [
        // The line's own respond_within, its carrier's restore_within.
        ("L-001", 300.0, 21_600.0),
        // Carrier B has no override: [sla].
        ("L-002", 1_800.0, 14_400.0),
        ("acc-001", 1_200.0, 10_800.0),
        ("acc-002", 1_200.0, 10_800.0),
    ];
    for (target, respond, restore) in expected {
        let i = by_target(&open, target).unwrap_or_else(|| panic!("no {target}: {open:?}"));
        assert_eq!(
            (
                i["respond_within_s"].as_f64(),
                i["restore_within_s"].as_f64()
            ),
            (Some(respond), Some(restore)),
            "{target}: {i}"
        );
        // The one-incident view says the same.
        let id = i["id"].as_u64().unwrap();
        let shown = daemon.get_json(&format!("/api/v1/incidents/{id}"));
        assert_eq!(shown["respond_within_s"].as_f64(), Some(respond), "{shown}");
        assert_eq!(shown["restore_within_s"].as_f64(), Some(restore), "{shown}");
    }
    for addr in [ACC1, ACC2] {
        ns.bring_up(addr);
    }
    wait_all_restored(&daemon);

    // The cursor walks every incident once, newest first, whatever the
    // page size; the last page has no cursor.
    let all = daemon.get_json("/api/v1/incidents?state=all");
    let mut every: Vec<u64> = all["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(every.len(), 4, "{all}");
    assert_eq!(all["next_cursor"], Value::Null, "{all}");
    let mut newest_first = every.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(every, newest_first, "newest first");
    every.sort_unstable();
    for limit in [1, 2, 3] {
        let mut walked = Vec::new();
        let mut pages = 0;
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("/api/v1/incidents?state=all&limit={limit}"),
                Some(c) => format!("/api/v1/incidents?state=all&limit={limit}&cursor={c}"),
            };
            let page = daemon.get_json(&path);
            let ids = page["incidents"].as_array().unwrap();
            assert!(ids.len() <= limit, "limit {limit}: {page}");
            walked.extend(ids.iter().map(|i| i["id"].as_u64().unwrap()));
            pages += 1;
            assert!(
                pages <= 5,
                "limit {limit}: the cursor does not end: {walked:?}"
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let mut sorted = walked.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(walked, sorted, "limit {limit}: newest first across pages");
        sorted.sort_unstable();
        assert_eq!(sorted, every, "limit {limit}: each incident exactly once");
    }
    // A cursor that is no id is refused.
    let (status, body) = send(&ns, "GET", "/api/v1/incidents?cursor=abc", &[], "");
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string(), "{body}");
}
