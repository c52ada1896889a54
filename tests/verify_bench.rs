//! Benchmark (ignored in the test suite; run by `bench/verify.sh`): a ledger
//! of 1,000,000 chained records written through the store's own commit
//! path (transitions, incident notes and declared windows, 1,000 commits),
//! then the time of `netkpi verify` over it, and of the migration that
//! chains the same rows in a store from before the chain. Prints figures;
//! asserts only what must hold (verify finds the ledger intact), never a
//! time.

mod common;

use std::process::Command;
use std::time::Instant;

use common::netkpi_bin;
use jiff::Timestamp;
use netkpi::incidents::Change;
use netkpi::model::{State, TargetKind, Transition};
use netkpi::store::{Commit, Store, Window, DB_FILE};

const COMMITS: usize = 1_000;
const TRANSITIONS_PER_COMMIT: usize = 900;
const EVENTS_PER_COMMIT: usize = 99;
/// Plus one window per commit: 1,000 records a commit.
const RECORDS: usize = COMMITS * (TRANSITIONS_PER_COMMIT + EVENTS_PER_COMMIT + 1);
const TARGETS: usize = 2_000;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).expect("a time")
}

#[test]
#[ignore = "benchmark: run bench/verify.sh"]
fn verify_a_million_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let started = Instant::now();
    let mut store = Store::open(dir.path()).expect("open");
    let mut n = 0usize;
    for c in 0..COMMITS {
        let base = start_ms + c as i64 * 30_000;
        let transitions: Vec<Transition> = (0..TRANSITIONS_PER_COMMIT)
            .map(|i| {
                n += 1;
                let t = n % TARGETS;
                Transition {
                    target: if t % 2 == 0 {
                        format!("acc-{t:05}")
                    } else {
                        format!("L-{t:05}")
                    },
                    kind: if t % 2 == 0 {
                        TargetKind::Device
                    } else {
                        TargetKind::Line
                    },
                    at: ts(base + i as i64),
                    state: if (n / TARGETS) % 2 == 0 {
                        State::Down
                    } else {
                        State::Up
                    },
                    cause: (n % 3 == 0).then(|| "icmp:timeout".to_string()),
                }
            })
            .collect();
        let events: Vec<Change> = (0..EVENTS_PER_COMMIT)
            .map(|i| Change::Noted {
                id: (c * EVENTS_PER_COMMIT + i) as u64 / 4 + 1,
                at: ts(base + i as i64),
                by: "noc".into(),
                text: format!("carrier ticket {c}-{i}"),
            })
            .collect();
        let window = Window {
            id: c as u64 + 1,
            created: ts(base),
            by: "noc".into(),
            reason: format!("works {c}"),
            start: ts(base - 60_000),
            end: ts(base + 3_600_000),
            targets: vec![format!("acc-{:05}", (2 * c) % TARGETS), "L-00001".into()],
        };
        store
            .commit(&Commit {
                transitions: &transitions,
                incidents: &events,
                windows: &[window],
                heartbeat: Some(ts(base + 1_000)),
                ..Commit::default()
            })
            .expect("commit");
    }
    let written = started.elapsed();
    let head = store.ledger_head().expect("head");
    drop(store);
    assert_eq!(head.records as usize, RECORDS);
    let db = dir.path().join(DB_FILE);
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {RECORDS} chained records in {COMMITS} commits in {:.1} s ({:.0} MB store)",
        written.as_secs_f64(),
        bytes as f64 / 1e6
    );

    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new(netkpi_bin())
            .arg("verify")
            .arg(&db)
            .args(["--expect-head", &head.hex()[..16]])
            .output()
            .expect("run netkpi verify");
        times.push(t.elapsed().as_secs_f64());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && stdout.starts_with(&format!("ok: {RECORDS} records, head {}", head.hex())),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    times.sort_by(f64::total_cmp);
    println!(
        "netkpi verify over {RECORDS} records: {:.2} s (median of 3: {:.2} / {:.2} / {:.2} s), goal <= 10 s",
        times[1], times[0], times[1], times[2]
    );

    // The same rows in a store from before the chain: the migration chains them.
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "DROP TABLE chain; DELETE FROM meta WHERE key LIKE 'chain%'; PRAGMA user_version = 4;",
    )
    .expect("back to v4");
    drop(conn);
    let t = Instant::now();
    let store = Store::open(dir.path()).expect("migrate");
    let migrated = t.elapsed();
    assert_eq!(store.ledger_head().expect("head").records as usize, RECORDS);
    println!(
        "migrating a v4 store of {RECORDS} records (chaining them): {:.2} s",
        migrated.as_secs_f64()
    );
}
