//! `netkpi verify` on a ledger the real daemon wrote (lab namespace, an
//! outage so that incidents exist): intact, then edited behind its back
//! with the `sqlite3` shell as someone with the file would: a transition's
//! state changed, a transition's time moved (an outage made shorter), a
//! transition deleted, an incident event slipped in, an incident row
//! slipped in, an incident's deadline stretched and its restore time moved
//! (a column the chain does not hold, checked against its chained events).
//! Each is named. A `netkpi backup` copy verifies with the same head, and the
//! head Prometheus scraped during the run is on the chain.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{netkpi_bin, state_of, write_lab_config, Daemon, NetNs};
use rusqlite::{Connection, OpenFlags};

fn verify(args: &[&str]) -> Output {
    Command::new(netkpi_bin())
        .arg("verify")
        .args(args)
        .output()
        .expect("run netkpi verify")
}

fn text(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `ok: N records, head HEX` → (N, HEX); fails the test otherwise.
fn intact(out: &Output) -> (u64, String) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("ok: ")
        .unwrap_or_else(|| panic!("{}", text(out)));
    let (records, head) = rest
        .split_once(" records, head ")
        .unwrap_or_else(|| panic!("{}", text(out)));
    (records.parse().expect("a count"), head.to_string())
}

/// The problem `verify` names (exit 1).
fn altered(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("altered: "))
        .unwrap_or_else(|| panic!("{}", text(out)))
        .to_string()
}

fn sqlite3(db: &Path, sql: &str) {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("run sqlite3 (apt-get install sqlite3)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out));
}

/// The problem `verify` names in a fresh copy of `pristine` at `copy`
/// after `sql`.
fn edited(pristine: &Path, copy: &Path, sql: &str) -> String {
    std::fs::copy(pristine, copy).expect("copy");
    sqlite3(copy, sql);
    altered(&verify(&[copy.to_str().expect("utf-8 path")]))
}

fn query_i64(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn verify_finds_every_edit_of_a_real_ledger() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");
    let config_arg = config.to_str().expect("utf-8 path");
    let db = dir.path().join("data").join("netkpi.sqlite");

    let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("run.log"));
    // An outage: transitions and an incident opened, then restored.
    ns.take_down("127.0.20.2");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-002 down",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", "acc-002") == "down",
    );
    daemon.wait_until("an incident for acc-002", Duration::from_secs(10), || {
        let doc = daemon.get_json("/api/v1/incidents?state=open");
        let open = doc["incidents"].as_array().cloned().unwrap_or_default();
        if open.iter().any(|i| i["target"] == "acc-002") {
            Ok(())
        } else {
            Err(doc)
        }
    });
    ns.bring_up("127.0.20.2");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-002 up again",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", "acc-002") == "up",
    );
    // What Prometheus keeps: the head at start.
    let m = daemon.metrics();
    let scraped = m
        .lines()
        .find_map(|l| l.strip_prefix("netkpi_ledger_head_info{head=\""))
        .map(|rest| rest[..16].to_string())
        .unwrap_or_else(|| panic!("no netkpi_ledger_head_info in\n{m}"));
    // Verified while the daemon writes: a consistent snapshot.
    intact(&verify(&["--config", config_arg]));
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");

    let out = verify(&["--config", config_arg, "--expect-head", &scraped]);
    let (records, head) = intact(&out);
    let events = query_i64(&db, "SELECT COUNT(*) FROM incident_events");
    let transitions = query_i64(&db, "SELECT COUNT(*) FROM transitions");
    let incidents = query_i64(&db, "SELECT COUNT(*) FROM incidents");
    assert!(events >= 2, "opened and restored: {events}");
    assert_eq!(
        records as i64,
        transitions + incidents + events,
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "head {scraped} found: the chain passes through it"
        )),
        "{}",
        text(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("note:"),
        "a new ledger's chain starts with it: {}",
        text(&out)
    );
    // The same figures by data dir.
    let data_dir = dir.path().join("data");
    assert_eq!(
        intact(&verify(&["--data-dir", data_dir.to_str().unwrap()])),
        (records, head.clone())
    );

    // A backup copy: the same records, the same head.
    let pristine = dir.path().join("pristine.sqlite");
    let backup = Command::new(netkpi_bin())
        .args(["backup", "--config", config_arg, "--out"])
        .arg(&pristine)
        .output()
        .expect("run netkpi backup");
    assert!(backup.status.success(), "{}", text(&backup));
    assert_eq!(
        intact(&verify(&[pristine.to_str().unwrap()])),
        (records, head.clone())
    );

    // A transition's state changed in the live store (not the last one).
    let down_id = query_i64(
        &db,
        "SELECT MIN(id) FROM transitions WHERE target = 'acc-002' AND state = 'down'",
    );
    sqlite3(
        &db,
        &format!("UPDATE transitions SET state = 'up' WHERE id = {down_id}"),
    );
    let problem = altered(&verify(&["--config", config_arg]));
    assert!(
        problem.starts_with(&format!("transitions row {down_id} (acc-002 up at 20"))
            && problem.contains(") was altered: it no longer matches its chain record"),
        "{problem}"
    );

    // On fresh copies of the untouched ledger: a transition deleted ...
    let copy = dir.path().join("copy.sqlite");
    let problem = edited(
        &pristine,
        &copy,
        &format!("DELETE FROM transitions WHERE id = {down_id}"),
    );
    assert!(
        problem.starts_with(&format!("transitions row {down_id}, chained as record "))
            && problem.ends_with("was deleted"),
        "{problem}"
    );

    // ... an incident event inserted (an acknowledgement nobody made) ...
    let incident = query_i64(&pristine, "SELECT MIN(incident) FROM incident_events");
    let next_event = query_i64(&pristine, "SELECT MAX(id) + 1 FROM incident_events");
    let sql = format!(
        "INSERT INTO incident_events (incident, at_ms, event, by) \
         VALUES ({incident}, (SELECT MIN(at_ms) FROM incident_events) + 1000, 'acknowledged', 'noc')"
    );
    let problem = edited(&pristine, &copy, &sql);
    assert!(
        problem.starts_with(&format!(
            "incident_events row {next_event} (incident {incident} acknowledged at 20"
        )) && problem.contains("has no chain record"),
        "{problem}"
    );

    // ... an incident's deadline stretched so that it meets its SLA ...
    let problem = edited(
        &pristine,
        &copy,
        &format!("UPDATE incidents SET restore_within_ms = 864000000 WHERE id = {incident}"),
    );
    assert!(
        problem.starts_with(&format!("incidents row {incident} (device acc-002, "))
            && problem.contains(", opened at 20")
            && problem.contains(") was altered: it no longer matches its chain record"),
        "{problem}"
    );

    // ... an incident restored a minute after it opened (the report's
    // restore share, MTTR and SLA read that column) ...
    let restored = query_i64(
        &pristine,
        &format!("SELECT restored_ms FROM incidents WHERE id = {incident}"),
    );
    let problem = edited(
        &pristine,
        &copy,
        &format!("UPDATE incidents SET restored_ms = opened_ms + 60000 WHERE id = {incident}"),
    );
    assert!(
        problem.starts_with(&format!("incidents row {incident} (device acc-002, "))
            && problem.contains(") was altered: its restored_ms is 20")
            && problem.ends_with(&format!("but its chained events give {}", {
                let t = jiff::Timestamp::from_millisecond(restored).unwrap();
                format!("{t} ({restored})")
            })),
        "{problem}"
    );

    // ... the outage made a minute shorter: its down transition moved ...
    let problem = edited(
        &pristine,
        &copy,
        &format!("UPDATE transitions SET at_ms = at_ms + 60000 WHERE id = {down_id}"),
    );
    assert!(
        problem.starts_with(&format!("transitions row {down_id} (acc-002 down at 20"))
            && problem.contains(") was altered: it no longer matches its chain record"),
        "{problem}"
    );

    // ... an incident nobody had slipped in ...
    let next_incident = query_i64(&pristine, "SELECT MAX(id) + 1 FROM incidents");
    let sql = format!(
        "INSERT INTO incidents (id, kind, target, severity, opened_ms, restored_ms, flaps, \
         planned, respond_within_ms, restore_within_ms) \
         SELECT {next_incident}, kind, target, severity, opened_ms + 1000, opened_ms + 2000, 0, \
         0, respond_within_ms, restore_within_ms FROM incidents WHERE id = {incident}"
    );
    let problem = edited(&pristine, &copy, &sql);
    assert!(
        problem.starts_with(&format!("incidents row {next_incident} (device acc-002, "))
            && problem
                .ends_with("has no chain record: it was inserted, or its chain record removed"),
        "{problem}"
    );

    // ... and a hash of the chain itself overwritten.
    let problem = edited(
        &pristine,
        &copy,
        "UPDATE chain SET hash = zeroblob(32) WHERE seq = 1",
    );
    assert!(
        problem.starts_with("chain record 1 (for transitions row 1) was altered"),
        "{problem}"
    );

    // Nothing to verify: exit 2, as for other config problems.
    let out = verify(&["--config", "/nonexistent/netkpi.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = verify(&[dir.path().join("nothing.sqlite").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// A store from before the chain (schema v4, made here from a new store by
/// the `sqlite3` shell), migrated by this netkpi: `verify` says, in one
/// readable sentence, that its first records were chained at the
/// migration.
#[test]
fn verify_says_when_the_chain_of_a_migrated_store_began() {
    use netkpi::model::{State, TargetKind, Transition};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let at = |s: i64| jiff::Timestamp::from_second(1_780_000_000 + s).unwrap();
    let tr = |s: i64, state: State| Transition {
        target: "acc-001".into(),
        kind: TargetKind::Device,
        at: at(s),
        state,
        cause: None,
    };
    let mut store = netkpi::store::Store::open(&data).expect("open a store");
    store
        .append(
            &[tr(0, State::Up), tr(60, State::Down), tr(120, State::Up)],
            None,
        )
        .expect("append");
    drop(store);
    let db = data.join("netkpi.sqlite");
    sqlite3(
        &db,
        "DROP TABLE chain; DROP TABLE energy_days; DROP TABLE incident_figures; \
         ALTER TABLE incidents DROP COLUMN missed; DELETE FROM meta WHERE key LIKE 'chain%'; \
         PRAGMA user_version = 4;",
    );
    drop(netkpi::store::Store::open(&data).expect("migrate the v4 store"));

    let out = verify(&["--data-dir", data.to_str().unwrap()]);
    assert_eq!(intact(&out).0, 3);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let note = stdout
        .lines()
        .find(|l| l.starts_with("note: "))
        .unwrap_or_else(|| panic!("no note: {}", text(&out)));
    let rest = note
        .strip_prefix("note: the chain began at 20")
        .unwrap_or_else(|| panic!("{note}"));
    let (_, rest) = rest.split_once(", ").unwrap_or_else(|| panic!("{note}"));
    assert_eq!(
        rest,
        "when this store was migrated to a netkpi that keeps it: its first 3 records were \
         chained then, in table and row order, not as each was committed; a change made to \
         them before then cannot be detected"
    );
    assert!(!note.contains("  "), "{note}");
}
