use std::time::Duration;

use rusqlite::Connection;

use super::*;
use crate::incidents::board::Board;
use crate::incidents::{Incidents, Terms};
use crate::model::{State, Transition};
use crate::store::{Commit, DB_FILE};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

/// SplitMix64: a seeded schedule, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The board a start resumes from the stored figures and the board a
/// rebuild from every incident and restoration in the store gives.
fn both_boards(store: &Store, now: Timestamp) -> (Board, Board) {
    let resumed = Board::resume(
        store.incident_figures().unwrap(),
        store.board_incidents(now).unwrap(),
        now,
    );
    let mut restorations = Vec::new();
    store
        .each_restoration(|kind, planned, d| restorations.push((kind, planned, d)))
        .unwrap();
    let rebuilt = Board::rebuild(store.all_incidents().unwrap(), restorations, now);
    (resumed, rebuilt)
}

/// The figures of two boards are equal (sums to the microsecond: the
/// store keeps milliseconds, a rebuild adds seconds as floats).
fn assert_same(resumed: &Board, rebuilt: &Board, context: &str) {
    let (a, b) = (resumed.figures(), rebuilt.figures());
    assert_eq!(a.opened, b.opened, "opened, {context}");
    assert_eq!(a.breaches, b.breaches, "breaches, {context}");
    for (name, x, y) in [
        ("response", &a.response, &b.response),
        ("restore", &a.restore, &b.restore),
    ] {
        let kinds: std::collections::BTreeSet<_> = x
            .iter()
            .chain(y)
            .filter(|(_, d)| d.count > 0)
            .map(|(k, _)| *k)
            .collect();
        for kind in kinds {
            let (dx, dy) = (x.get(&kind).cloned(), y.get(&kind).cloned());
            let (dx, dy) = (dx.unwrap_or_default(), dy.unwrap_or_default());
            assert_eq!(
                (dx.counts, dx.count),
                (dy.counts, dy.count),
                "{name} {kind:?}, {context}"
            );
            assert!(
                (dx.sum - dy.sum).abs() < 1e-6 * dy.sum.max(1.0),
                "{name} {kind:?} sum {} != {}, {context}",
                dx.sum,
                dy.sum
            );
        }
    }
    let ids = |b: &Board| b.recent().cloned().collect::<Vec<_>>();
    assert_eq!(
        ids(resumed),
        ids(rebuilt),
        "incidents on the board, {context}"
    );
}

/// Runs `t` through the engine and commits it with the changes it made,
/// as the writer does.
pub(in crate::store) fn commit_transition(
    store: &mut Store,
    engine: &mut Incidents,
    t: &Transition,
    terms: &Terms,
) {
    let changes = engine.apply(t, terms);
    store
        .commit(&Commit {
            transitions: std::slice::from_ref(t),
            incidents: &changes,
            ..Commit::default()
        })
        .unwrap();
}

const TARGETS: [(&str, TargetKind); 5] = [
    ("core", TargetKind::Device),
    ("acc-1", TargetKind::Device),
    ("acc-2", TargetKind::Device),
    ("L-1", TargetKind::Line),
    ("L-2", TargetKind::Line),
];

/// Random outages, flaps (inside and past the flap window), cause
/// updates, acknowledgements (late and in time, with their root), and
/// maintenance declared after the fact over live and settled incidents;
/// the stored figures are compared with a rebuild from every incident at
/// many instants, including deadlines passing while an incident stays open
/// with no event and restarts right after.
#[test]
fn stored_figures_equal_a_rebuild_from_every_incident() {
    for seed in 1..=12u64 {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let window = Duration::from_secs(600);
        let mut engine = Incidents::resume(Vec::new(), 1, window);
        let mut rng = Rng(seed);
        let mut now = 0i64;
        let mut down = [false; TARGETS.len()];
        for step in 0..300 {
            now += [1, 30, 200, 700, 2_000, 20_000][rng.below(6) as usize];
            let at = ts(now) + jiff::SignedDuration::from_millis(rng.below(1000) as i64);
            let terms = Terms {
                severity: [Severity::Critical, Severity::Major, Severity::Minor]
                    [rng.below(3) as usize],
                respond_within: Duration::from_secs([60, 1_800, 7_200][rng.below(3) as usize]),
                restore_within: Duration::from_secs([600, 14_400][rng.below(2) as usize]),
                planned: rng.below(10) == 0,
            };
            let changes = match rng.below(10) {
                0..=5 => {
                    let n = rng.below(TARGETS.len() as u64) as usize;
                    let (target, kind) = TARGETS[n];
                    down[n] = !down[n];
                    let cause = match (down[n], n) {
                        (false, _) => None,
                        (true, 0) => Some("icmp:timeout".to_string()),
                        (true, 1 | 2) if down[0] => Some("parent:core".to_string()),
                        (true, 3) => Some("device:acc-1".to_string()),
                        (true, _) => Some("icmp:timeout".to_string()),
                    };
                    let t = Transition {
                        target: target.into(),
                        kind,
                        at,
                        state: if down[n] { State::Down } else { State::Up },
                        cause,
                    };
                    commit_transition(&mut store, &mut engine, &t, &terms);
                    continue;
                }
                6 | 7 => {
                    let open: Vec<u64> = engine
                        .live()
                        .filter(|i| i.restored_at.is_none() && i.acknowledged_at.is_none())
                        .map(|i| i.id)
                        .collect();
                    if open.is_empty() {
                        continue;
                    }
                    let id = open[rng.below(open.len() as u64) as usize];
                    engine.acknowledge(id, at, "duty").unwrap()
                }
                8 => {
                    // A window declared later: one incident, live or
                    // settled, as the writer does (live ones through the
                    // engine, stored ones when not planned yet).
                    let last = store.next_incident_id().unwrap();
                    if last == 1 {
                        continue;
                    }
                    let id = 1 + rng.below(last - 1);
                    let live = engine.live().any(|i| i.id == id);
                    let stored = store.incident(id).unwrap().unwrap();
                    if (live && !engine.plan(id)) || (!live && stored.planned) {
                        continue;
                    }
                    vec![Change::Planned {
                        id,
                        at,
                        window: 1,
                        by: "ops".into(),
                        reason: "declared later".into(),
                    }]
                }
                _ => {
                    let Some(i) = engine.live().next() else {
                        continue;
                    };
                    vec![Change::Noted {
                        id: i.id,
                        at,
                        by: "duty".into(),
                        text: "still looking".into(),
                    }]
                }
            };
            store
                .commit(&Commit {
                    incidents: &changes,
                    ..Commit::default()
                })
                .unwrap();
            if step % 7 == 0 {
                // A start now, and one after a deadline may have passed
                // with no event.
                for later in [0, 3_700, 90_000] {
                    let at = at + jiff::SignedDuration::from_secs(later);
                    let (resumed, rebuilt) = both_boards(&store, at);
                    assert_same(
                        &resumed,
                        &rebuilt,
                        &format!("seed {seed}, step {step}, +{later} s"),
                    );
                }
            }
        }
        let (resumed, rebuilt) = both_boards(&store, ts(now + 400_000));
        assert_same(&resumed, &rebuilt, &format!("seed {seed}, at the end"));
        assert!(
            rebuilt.figures().opened.values().sum::<u64>() > 20,
            "seed {seed}: the schedule opened incidents"
        );
    }
}

/// The running board and a start right after agree too: what a restart
/// shows is what the daemon showed before it (no deadline passing between).
#[test]
fn a_start_shows_the_figures_the_running_board_showed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let mut engine = Incidents::resume(Vec::new(), 1, Duration::from_secs(600));
    let mut board = Board::default();
    let terms = Terms {
        severity: Severity::Critical,
        respond_within: Duration::from_secs(1_800),
        restore_within: Duration::from_secs(4 * 3_600),
        planned: false,
    };
    let commit = |store: &mut Store, board: &mut Board, changes: Vec<Change>, now| {
        store
            .commit(&Commit {
                incidents: &changes,
                ..Commit::default()
            })
            .unwrap();
        board.apply(&changes, now);
    };
    let t = |s: i64, state| Transition {
        target: "acc-1".into(),
        kind: TargetKind::Device,
        at: ts(s),
        state,
        cause: None,
    };
    // Restored late (5 h): a restore breach; acknowledged late: a respond
    // breach; then down again, open past its respond deadline at the end.
    for (s, state) in [(0, State::Down), (18_000, State::Up), (40_000, State::Down)] {
        let changes = engine.apply(&t(s, state), &terms);
        commit(&mut store, &mut board, changes, ts(s));
    }
    let changes = engine.acknowledge(2, ts(40_100), "duty").unwrap();
    commit(&mut store, &mut board, changes, ts(40_100));
    let changes = engine.apply(&t(41_000, State::Up), &terms);
    commit(&mut store, &mut board, changes, ts(41_000));
    let changes = engine.apply(&t(42_000, State::Down), &terms);
    commit(&mut store, &mut board, changes, ts(42_000));
    board.tick(ts(50_000));
    let resumed = Board::resume(
        store.incident_figures().unwrap(),
        store.board_incidents(ts(50_000)).unwrap(),
        ts(50_000),
    );
    assert_eq!(resumed.figures().opened, board.figures().opened);
    assert_eq!(resumed.figures().breaches, board.figures().breaches);
    assert_eq!(
        resumed.figures().breaches[&(TargetKind::Device, Deadline::Respond)],
        2,
        "the first (never acknowledged, restored late) and the third (open past 30 min)"
    );
    assert_eq!(
        resumed.figures().restore[&TargetKind::Device].counts,
        board.figures().restore[&TargetKind::Device].counts
    );
}

/// A store written before the figures were kept is counted by the
/// migration that adds them, and nothing else changes.
#[test]
fn the_migration_counts_the_incidents_already_there() {
    let tmp = tempfile::tempdir().unwrap();
    let mut engine = Incidents::resume(Vec::new(), 1, Duration::from_secs(600));
    let terms = Terms {
        severity: Severity::Major,
        respond_within: Duration::from_secs(600),
        restore_within: Duration::from_secs(3_600),
        planned: false,
    };
    {
        let mut store = Store::open(tmp.path()).unwrap();
        for (n, target) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let base = n as i64 * 10_000;
            for (s, state) in [
                (base, State::Down),
                (base + 700 * (n as i64 + 1), State::Up),
            ] {
                let t = Transition {
                    target: target.into(),
                    kind: TargetKind::Device,
                    at: ts(s),
                    state,
                    cause: None,
                };
                commit_transition(&mut store, &mut engine, &t, &terms);
            }
        }
        // Still open: judged at the migration's time.
        let t = Transition {
            target: "e".into(),
            kind: TargetKind::Line,
            at: ts(50_000),
            state: State::Down,
            cause: None,
        };
        commit_transition(&mut store, &mut engine, &t, &terms);
    }
    // Back to the schema before the figures.
    let path = tmp.path().join(DB_FILE);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE incident_figures; ALTER TABLE incidents DROP COLUMN missed;
             PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let store = Store::open(tmp.path()).unwrap();
    let now = Timestamp::now();
    let (resumed, rebuilt) = both_boards(&store, now);
    assert_same(&resumed, &rebuilt, "after the migration");
    assert_eq!(resumed.figures().opened.values().sum::<u64>(), 5);
    assert_eq!(
        resumed.figures().restore[&TargetKind::Device].count,
        4,
        "four restorations"
    );
    let verification = store.verify(&[]).unwrap();
    assert!(
        matches!(verification, crate::store::Verification::Intact { .. }),
        "the chain is untouched: {verification:?}"
    );
}
