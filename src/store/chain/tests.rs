use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::incidents::Change;
use crate::model::{State, TargetKind};
use crate::store::tests::{tr, ts};
use crate::store::{schema, Commit, Store, Window, DB_FILE};

fn note(id: u64, at_ms: i64, text: &str) -> Change {
    Change::Noted {
        id,
        at: ts(at_ms),
        by: "alice".into(),
        text: text.into(),
    }
}

fn opened(id: u64, at_ms: i64) -> Change {
    Change::Opened(crate::incidents::Incident {
        id,
        kind: TargetKind::Line,
        target: "L-001".into(),
        severity: crate::model::Severity::Critical,
        cause: Some("icmp:timeout".into()),
        opened_at: ts(at_ms),
        acknowledged_at: None,
        acknowledged_by: None,
        restored_at: None,
        root_id: None,
        flaps: 0,
        planned: false,
        alarm: None,
        respond_within: std::time::Duration::from_secs(1800),
        restore_within: std::time::Duration::from_secs(4 * 3600),
    })
}

fn window(id: u64) -> Window {
    Window {
        id,
        created: ts(50_000),
        by: "bob".into(),
        reason: "fibre works".into(),
        start: ts(40_000),
        end: ts(90_000),
        targets: vec!["acc-001".into(), "L-001".into()],
    }
}

/// A store with 6 transitions, an incident with 3 events and a window, in
/// three commits: 11 chained records.
fn filled(dir: &Path) -> Store {
    let mut store = Store::open(dir).unwrap();
    let line = |at, state| tr("L-001", TargetKind::Line, at, state);
    store
        .append(
            &[line(1_000, State::Up), line(2_000, State::Down)],
            Some(ts(2_500)),
        )
        .unwrap();
    store
        .commit(&Commit {
            transitions: &[line(3_000, State::Up), line(4_000, State::Down)],
            incidents: &[
                opened(1, 4_000),
                note(1, 4_000, "carrier called"),
                note(1, 4_100, "again"),
            ],
            windows: &[window(1)],
            ..Commit::default()
        })
        .unwrap();
    store
        .append(
            &[line(5_000, State::Up), line(6_000, State::Degraded)],
            None,
        )
        .unwrap();
    store
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).unwrap()
}

fn verify(dir: &Path) -> Verification {
    Store::open_reader(dir).unwrap().verify(&[]).unwrap()
}

fn problem(dir: &Path) -> String {
    match verify(dir) {
        Verification::Altered { problem, .. } => problem,
        intact => panic!("expected a problem, got {intact:?}"),
    }
}

fn chain_rows(dir: &Path) -> Vec<(i64, String, i64)> {
    let conn = raw(dir);
    let mut stmt = conn
        .prepare("SELECT seq, source, ref FROM chain ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_record_is_chained_in_commit_order() {
    let tmp = tempfile::tempdir().unwrap();
    let store = filled(tmp.path());
    let t = |r| (String::from("transitions"), r);
    let want: Vec<(String, i64)> = vec![
        t(1),
        t(2),
        t(3),
        t(4),
        ("incidents".into(), 1),
        ("incident_events".into(), 1),
        ("incident_events".into(), 2),
        ("incident_events".into(), 3),
        ("maintenance_windows".into(), 1),
        t(5),
        t(6),
    ];
    let got: Vec<(String, i64)> = chain_rows(tmp.path())
        .into_iter()
        .map(|(_, s, r)| (s, r))
        .collect();
    assert_eq!(got, want);
    let seqs: Vec<i64> = chain_rows(tmp.path()).iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());

    let head = store.ledger_head().unwrap();
    assert_eq!(head.records, 11);
    assert_eq!(head.hex().len(), 64);
    assert!(head.at.is_some());
    // The writer's in-memory head is the stored one.
    assert_eq!(store.chain.as_ref().unwrap().hash, head.hash);
    match verify(tmp.path()) {
        Verification::Intact {
            records,
            head: h,
            genesis,
            ..
        } => {
            assert_eq!(records, 11);
            assert_eq!(h, head.hash);
            assert_eq!(genesis, None, "a new store's chain starts with it");
        }
        altered => panic!("{altered:?}"),
    }
    // Heartbeats and tallies alone chain nothing.
    drop(store);
    let mut store = Store::open(tmp.path()).unwrap();
    store.append(&[], Some(ts(9_000))).unwrap();
    assert_eq!(store.ledger_head().unwrap(), head);
}

#[test]
fn the_hash_is_the_documented_encoding() {
    // An auditor's re-implementation, written from the module comment.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let mut t = tr("L-001", TargetKind::Line, 1_000, State::Down);
    t.cause = Some("icmp:timeout".into());
    store.append(&[t], None).unwrap();
    store
        .commit(&Commit {
            windows: &[window(7)],
            ..Commit::default()
        })
        .unwrap();
    let conn = raw(tmp.path());
    let committed: Vec<i64> = conn
        .prepare("SELECT committed_ms FROM chain ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();

    fn int(out: &mut Vec<u8>, i: i64) {
        out.push(1);
        out.extend_from_slice(&i.to_be_bytes());
    }
    fn txt(out: &mut Vec<u8>, s: &str) {
        out.push(3);
        out.extend_from_slice(&(s.len() as u64).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut first = Vec::new();
    first.extend_from_slice(&[0u8; 32]);
    txt(&mut first, "transitions");
    int(&mut first, 1);
    txt(&mut first, "L-001");
    txt(&mut first, "line");
    int(&mut first, 1_000);
    txt(&mut first, "down");
    txt(&mut first, "icmp:timeout");
    int(&mut first, committed[0]);
    let h1: [u8; 32] = Sha256::digest(&first).into();

    let mut second = h1.to_vec();
    txt(&mut second, "maintenance_windows");
    int(&mut second, 7);
    int(&mut second, 50_000);
    txt(&mut second, "bob");
    txt(&mut second, "fibre works");
    int(&mut second, 40_000);
    int(&mut second, 90_000);
    int(&mut second, 2);
    txt(&mut second, "acc-001");
    txt(&mut second, "L-001");
    int(&mut second, committed[1]);
    let h2: [u8; 32] = Sha256::digest(&second).into();
    assert_eq!(store.ledger_head().unwrap().hash, h2.to_vec());

    // A NULL cause is the 0x00 byte.
    let mut record = Vec::new();
    put_value(&mut record, ValueRef::Null);
    assert_eq!(record, [0]);
}

#[test]
fn a_failed_commit_chains_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = filled(tmp.path());
    let before = store.ledger_head().unwrap();
    // Window 1 exists: its insert fails after the transition's was made.
    let err = store
        .commit(&Commit {
            transitions: &[tr("L-001", TargetKind::Line, 7_000, State::Up)],
            windows: &[window(1)],
            ..Commit::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("maintenance windows"), "{err}");
    assert_eq!(store.ledger_head().unwrap(), before);
    assert_eq!(chain_rows(tmp.path()).len(), 11);
    // The next commit continues from the stored head, not a lost one.
    store
        .append(&[tr("L-001", TargetKind::Line, 7_000, State::Up)], None)
        .unwrap();
    assert_eq!(store.ledger_head().unwrap().records, 12);
    assert!(matches!(
        verify(tmp.path()),
        Verification::Intact { records: 12, .. }
    ));
}

#[test]
fn another_writer_in_between_is_followed_not_forked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = filled(tmp.path());
    let mut b = Store::open(tmp.path()).unwrap();
    b.append(&[tr("x", TargetKind::Device, 1, State::Up)], None)
        .unwrap();
    // `a`'s cached head is stale: its commit fails once, then re-reads.
    let t = [tr("y", TargetKind::Device, 2, State::Up)];
    if a.append(&t, None).is_err() {
        a.append(&t, None).unwrap();
    }
    assert!(matches!(
        verify(tmp.path()),
        Verification::Intact { records: 13, .. }
    ));
}

#[test]
fn verify_names_the_first_problem() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "a transition's time changed",
            "UPDATE transitions SET at_ms = at_ms - 60000 WHERE id = 2",
            "transitions row 2 (L-001 down at 1969-12-31T23:59:02Z) was altered",
        ),
        (
            "a transition's state changed",
            "UPDATE transitions SET state = 'up' WHERE id = 4",
            "transitions row 4 (L-001 up at 1970-01-01T00:00:04Z) was altered: it no longer matches its chain record 4",
        ),
        (
            "a transition deleted",
            "DELETE FROM transitions WHERE id = 3",
            "transitions row 3, chained as record 3 (committed ",
        ),
        (
            "the last transition deleted",
            "DELETE FROM transitions WHERE id = 6",
            "transitions row 6, chained as record 11",
        ),
        (
            "an incident event inserted",
            "INSERT INTO incident_events (incident, at_ms, event, by, text)
             VALUES (1, 4200, 'acknowledged', 'alice', NULL)",
            "incident_events row 4 (incident 1 acknowledged at 1970-01-01T00:00:04.2Z) has no chain record",
        ),
        (
            "an incident's deadline stretched",
            "UPDATE incidents SET restore_within_ms = 86400000 WHERE id = 1",
            "incidents row 1 (line L-001, critical, opened at 1970-01-01T00:00:04Z) was altered",
        ),
        (
            "a transition slipped in between",
            "DELETE FROM transitions WHERE id = 2;
             INSERT INTO transitions (id, target, kind, at_ms, state) VALUES (2, 'L-001', 'line', 2000, 'up')",
            "transitions row 2 (L-001 up at 1970-01-01T00:00:02Z) was altered",
        ),
        (
            "a chain hash changed",
            "UPDATE chain SET hash = zeroblob(32) WHERE seq = 6",
            "chain record 6 (for incident_events row 1) was altered: its hash does not follow",
        ),
        (
            "a chain row removed",
            "DELETE FROM chain WHERE seq = 5",
            "chain record 5 was removed",
        ),
        (
            "the head's chain row removed",
            "DELETE FROM chain WHERE seq = 11",
            "transitions row 6 (L-001 degraded at 1970-01-01T00:00:06Z) has no chain record",
        ),
        (
            "the head record changed",
            "UPDATE transitions SET state = 'up' WHERE id = 6",
            "transitions row 6 (L-001 up at 1970-01-01T00:00:06Z) or its chain record 11 was altered",
        ),
        (
            "a window's targets changed",
            "UPDATE maintenance_targets SET target = 'L-002' WHERE target = 'L-001'",
            "maintenance_windows row 1 (window by bob from 1970-01-01T00:00:40Z to 1970-01-01T00:01:30Z: fibre works) was altered",
        ),
        (
            "a window target added to a missing window",
            "INSERT INTO maintenance_targets (window, target) VALUES (9, 'L-002')",
            "maintenance_targets rows for window 9 were inserted",
        ),
        (
            "a value's type changed",
            "UPDATE incident_events SET at_ms = CAST(at_ms AS REAL) + 0.5 WHERE id = 3",
            "incident_events row 3 (incident 1 note at 4100.5) was altered",
        ),
        (
            "a chain row names another table",
            "UPDATE chain SET source = 'heartbeat' WHERE seq = 1",
            "chain record 1 was altered: it names \"heartbeat\"",
        ),
    ];
    for (what, sql, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        drop(filled(tmp.path()));
        assert!(
            matches!(verify(tmp.path()), Verification::Intact { records: 11, .. }),
            "{what}: untouched"
        );
        raw(tmp.path()).execute_batch(sql).unwrap();
        let got = problem(tmp.path());
        assert!(got.starts_with(want), "{what}: got {got:?}, want {want:?}");
    }
}

#[test]
fn heads_copied_elsewhere_must_be_on_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = filled(tmp.path());
    let copied = store.ledger_head().unwrap().hex();
    store
        .append(&[tr("L-001", TargetKind::Line, 7_000, State::Up)], None)
        .unwrap();
    let reader = Store::open_reader(tmp.path()).unwrap();
    let short = parse_head(&copied[..16]).unwrap();
    match reader.verify(&[short]).unwrap() {
        Verification::Intact { seen, .. } => assert_eq!(
            seen,
            [HeadSeen {
                hex: copied[..16].to_string(),
                record: 11
            }]
        ),
        altered => panic!("{altered:?}"),
    }
    // Rewritten from scratch with a consistent chain: only the copy tells.
    let conn = raw(tmp.path());
    conn.execute_batch("UPDATE transitions SET state = 'up' WHERE id = 2; DELETE FROM chain;")
        .unwrap();
    let head = read_head(&conn).unwrap();
    assert_eq!(head.seq, 0);
    genesis(&conn, 1).unwrap();
    assert!(matches!(
        reader.verify(&[]).unwrap(),
        Verification::Intact { records: 12, .. }
    ));
    let got = match reader.verify(&[parse_head(&copied).unwrap()]).unwrap() {
        Verification::Altered { problem, .. } => problem,
        intact => panic!("{intact:?}"),
    };
    assert!(
        got.starts_with(&format!("the recomputed chain never had head {copied}")),
        "{got}"
    );
    assert!(parse_head("abc").is_err());
    assert!(parse_head("zz23456789abcdef").is_err());
}

/// A store whose incidents went through every change that rewrites their
/// row: 1 acknowledged, restored, reopened with another cause, restored
/// again; 2 opened inside a window (planned from the start); 3 declared
/// planned later.
fn incidents_store(dir: &Path) {
    let mut store = Store::open(dir).unwrap();
    let mut planned_from_start = opened(2, 1_500);
    if let Change::Opened(i) = &mut planned_from_start {
        i.planned = true;
        i.target = "L-002".into();
    }
    let changes = [
        opened(1, 1_000),
        planned_from_start,
        Change::Acknowledged {
            id: 1,
            at: ts(1_200),
            by: "alice".into(),
            via: None,
        },
        Change::Restored {
            id: 1,
            at: ts(2_000),
        },
        Change::Reopened {
            id: 1,
            at: ts(2_500),
        },
        Change::Relinked {
            id: 1,
            at: ts(2_500),
            root_id: Some(2),
            cause: Some("device:acc-001".into()),
        },
        Change::Restored {
            id: 1,
            at: ts(3_000),
        },
        opened(3, 4_000),
        Change::Planned {
            id: 3,
            at: ts(5_000),
            window: 1,
            by: "bob".into(),
            reason: "fibre works".into(),
        },
    ];
    for change in changes {
        store
            .commit(&Commit {
                incidents: &[change],
                ..Commit::default()
            })
            .unwrap();
    }
}

#[test]
fn each_incident_column_the_figures_read_is_folded_from_its_events() {
    let cases: &[(&str, &str, u64, &str)] = &[
        (
            "a restore time moved",
            "UPDATE incidents SET restored_ms = 1060 WHERE id = 1",
            1,
            "its restored_ms is 1970-01-01T00:00:01.06Z (1060), but its chained events give \
             1970-01-01T00:00:03Z (3000)",
        ),
        (
            "an open incident restored",
            "UPDATE incidents SET restored_ms = 4100 WHERE id = 3",
            3,
            "its restored_ms is 1970-01-01T00:00:04.1Z (4100), but its chained events give none",
        ),
        (
            "an acknowledgement moved",
            "UPDATE incidents SET acknowledged_ms = 1001 WHERE id = 1",
            1,
            "its acknowledged_ms is 1970-01-01T00:00:01.001Z (1001)",
        ),
        (
            "an acknowledgement invented",
            "UPDATE incidents SET acknowledged_ms = 4001, acknowledged_by = 'noc' WHERE id = 3",
            3,
            "its acknowledged_ms is 1970-01-01T00:00:04.001Z (4001), but its chained events give none",
        ),
        (
            "who acknowledged changed",
            "UPDATE incidents SET acknowledged_by = 'carol' WHERE id = 1",
            1,
            "its acknowledged_by is \"carol\", but its chained events give \"alice\"",
        ),
        (
            "an unplanned incident made planned",
            "UPDATE incidents SET planned = 1 WHERE id = 1",
            1,
            "its planned is 1, but its chained events give 0",
        ),
        (
            "a planned incident made unplanned",
            "UPDATE incidents SET planned = 0 WHERE id = 2",
            2,
            "its planned is 0, but its chained events give 1",
        ),
        (
            "declared planned, then not",
            "UPDATE incidents SET planned = 0 WHERE id = 3",
            3,
            "its planned is 0",
        ),
        (
            "a flap forgotten",
            "UPDATE incidents SET flaps = 0 WHERE id = 1",
            1,
            "its flaps is 0, but its chained events give 1",
        ),
        (
            "the root unlinked",
            "UPDATE incidents SET root_id = NULL WHERE id = 1",
            1,
            "its root_id is none, but its chained events give 2",
        ),
        (
            "the cause rewritten",
            "UPDATE incidents SET cause = 'power' WHERE id = 1",
            1,
            "its cause is \"power\", but its chained events give \"device:acc-001\"",
        ),
        (
            "a time stored as another type",
            "UPDATE incidents SET restored_ms = 3000.5 WHERE id = 1",
            1,
            "its restored_ms is 3000.5, but its chained events give 1970-01-01T00:00:03Z (3000)",
        ),
    ];
    let opened = ["01Z", "01.5Z", "04Z"];
    for (what, sql, id, want) in cases {
        let line = if *id == 2 { "L-002" } else { "L-001" };
        let want = format!(
            "incidents row {id} (line {line}, critical, opened at 1970-01-01T00:00:{}) \
             was altered: {want}",
            opened[*id as usize - 1]
        );
        let tmp = tempfile::tempdir().unwrap();
        incidents_store(tmp.path());
        assert!(
            matches!(verify(tmp.path()), Verification::Intact { records: 12, .. }),
            "{what}: untouched: {:?}",
            verify(tmp.path())
        );
        raw(tmp.path()).execute_batch(sql).unwrap();
        let got = match verify(tmp.path()) {
            Verification::Altered { problem, .. } => problem,
            intact => panic!("{what}: not found: {intact:?}"),
        };
        assert!(got.starts_with(&want), "{what}: got {got:?}, want {want:?}");
    }
}

/// A ledger as schema v4 left it, with rows in every chained table.
fn v4_store(dir: &Path) {
    let conn = Connection::open(dir.join(DB_FILE)).unwrap();
    for sql in &schema::MIGRATIONS[..4] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 4).unwrap();
    conn.execute_batch(
        "INSERT INTO transitions (target, kind, at_ms, state, cause) VALUES
             ('acc-001', 'device', 1000, 'up', NULL),
             ('acc-001', 'device', 2000, 'down', 'icmp:timeout'),
             ('acc-001', 'device', 3000, 'up', NULL);
         INSERT INTO incidents (id, kind, target, severity, cause, opened_ms, restored_ms, flaps,
                                planned, respond_within_ms, restore_within_ms)
             VALUES (1, 'device', 'acc-001', 'major', 'icmp:timeout', 2000, 3000, 0, 0, 1800000, 14400000),
                    (2, 'line', 'L-001', 'major', NULL, 5000, 6000, 0, 1, 1800000, 14400000);
         -- As v4 wrote them: an opened event says nothing of a window.
         INSERT INTO incident_events (incident, at_ms, event, cause)
             VALUES (1, 2000, 'opened', 'icmp:timeout'), (1, 3000, 'restored', NULL),
                    (2, 5000, 'opened', NULL), (2, 6000, 'restored', NULL);
         INSERT INTO maintenance_windows (id, created_ms, created_by, reason, start_ms, end_ms)
             VALUES (1, 5000, 'bob', 'works', 4000, 9000);
         INSERT INTO maintenance_targets (window, target) VALUES (1, 'acc-001');",
    )
    .unwrap();
}

#[test]
fn migrating_a_v4_store_chains_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    v4_store(tmp.path());
    let mut store = Store::open(tmp.path()).unwrap();
    let got: Vec<(String, i64)> = chain_rows(tmp.path())
        .into_iter()
        .map(|(_, s, r)| (s, r))
        .collect();
    let want: Vec<(String, i64)> = [
        ("transitions", 1),
        ("transitions", 2),
        ("transitions", 3),
        ("incidents", 1),
        ("incidents", 2),
        ("incident_events", 1),
        ("incident_events", 2),
        ("incident_events", 3),
        ("incident_events", 4),
        ("maintenance_windows", 1),
    ]
    .iter()
    .map(|(s, r)| (s.to_string(), *r))
    .collect();
    assert_eq!(got, want);
    let meta = |key: &str| -> String {
        raw(tmp.path())
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(meta("chain_genesis"), "10");
    let started: i64 = meta("chain_started_ms").parse().unwrap();
    // New commits continue the chain.
    store
        .append(
            &[tr("acc-001", TargetKind::Device, 10_000, State::Down)],
            None,
        )
        .unwrap();
    match verify(tmp.path()) {
        Verification::Intact {
            records, genesis, ..
        } => {
            assert_eq!(records, 11);
            assert_eq!(
                genesis,
                Some(Genesis {
                    at: Some(ts(started)),
                    records: 10
                })
            );
        }
        altered => panic!("{altered:?}"),
    }
    drop(store);
    // A later edit of a row older than the chain is detected too.
    raw(tmp.path())
        .execute("UPDATE transitions SET cause = NULL WHERE id = 2", [])
        .unwrap();
    let got = problem(tmp.path());
    assert!(
        got.starts_with("transitions row 2 (acc-001 down at 1970-01-01T00:00:02Z) was altered"),
        "{got}"
    );
    // Incident 2, planned when it opened before the chain (no event says
    // so), verifies as it is; its restore time, edited now, does not.
    raw(tmp.path())
        .execute(
            "UPDATE transitions SET cause = 'icmp:timeout' WHERE id = 2",
            [],
        )
        .unwrap();
    assert!(matches!(verify(tmp.path()), Verification::Intact { .. }));
    raw(tmp.path())
        .execute("UPDATE incidents SET restored_ms = 5001 WHERE id = 2", [])
        .unwrap();
    let got = problem(tmp.path());
    assert!(
        got.starts_with(
            "incidents row 2 (line L-001, major, opened at 1970-01-01T00:00:05Z) was altered: \
             its restored_ms is 1970-01-01T00:00:05.001Z (5001), but its chained events give \
             1970-01-01T00:00:06Z (6000)"
        ),
        "{got}"
    );
}

#[test]
fn a_new_store_records_when_its_chain_started_but_no_genesis() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Store::open(tmp.path()).unwrap());
    let conn = raw(tmp.path());
    let keys: Vec<String> = conn
        .prepare("SELECT key FROM meta WHERE key LIKE 'chain%' ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, ["chain_started_ms"]);
    match verify(tmp.path()) {
        Verification::Intact {
            records, head, at, ..
        } => {
            assert_eq!((records, at), (0, None));
            assert_eq!(head, GENESIS);
        }
        altered => panic!("{altered:?}"),
    }
}

#[test]
fn insert_sql_follows_the_encoded_columns() {
    assert_eq!(
        TRANSITIONS.insert_sql(false),
        r#"INSERT INTO transitions ("target", "kind", "at_ms", "state", "cause") VALUES (?1, ?2, ?3, ?4, ?5)"#
    );
    assert_eq!(
        MAINTENANCE_WINDOWS.insert_sql(true),
        r#"INSERT INTO maintenance_windows (id, "created_ms", "created_by", "reason", "start_ms", "end_ms") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#
    );
}
