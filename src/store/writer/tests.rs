use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;

use super::*;
use crate::incidents::AckError;
use crate::model::Severity;
use crate::store::tests::{tr, ts};
use crate::store::DB_FILE;

type Announced = Arc<Mutex<Vec<Vec<Transition>>>>;

fn opts(buffer_limit: usize) -> WriterOptions {
    WriterOptions {
        heartbeat_every: Duration::from_millis(50),
        retry_every: Duration::from_millis(20),
        buffer_limit,
    }
}

/// A writer store that gives up quickly on a lock held by someone else, so
/// a test can make writes fail for real (SQLITE_BUSY), even as root.
fn store(dir: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    store.conn.busy_timeout(Duration::from_millis(10)).unwrap();
    store
}

/// Another connection holding the write lock, like an operator's sqlite3
/// shell left inside `BEGIN IMMEDIATE`.
fn hold_write_lock(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join(DB_FILE)).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

fn recorder() -> (Announced, Announce) {
    let seen: Announced = Arc::default();
    let sink = seen.clone();
    (
        seen,
        Box::new(move |batch: &[Transition], _: &Tallies, _: &[Change]| {
            sink.lock().unwrap().push(batch.to_vec())
        }),
    )
}

fn dev(target: &str, at_ms: i64, state: State) -> Transition {
    tr(target, TargetKind::Device, at_ms, state)
}

fn all_rows(dir: &Path) -> Vec<Transition> {
    Store::open_reader(dir)
        .unwrap()
        .transitions(ts(0), "9999-01-01T00:00:00Z".parse().unwrap())
        .unwrap()
}

/// Flushes until the writer reports everything committed.
fn flush_until_committed(handle: &WriterHandle) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !handle.flush() {
        assert!(Instant::now() < deadline, "store never recovered");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn group_commit_announces_only_what_is_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let stats = Arc::new(StoreStats::default());
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let seen: Announced = Arc::default();
    let sink = seen.clone();
    let reader_dir = dir.clone();
    let announce = Box::new(move |batch: &[Transition], _: &Tallies, _: &[Change]| {
        // Every announced transition is already readable by another connection.
        let on_disk = all_rows(&reader_dir);
        assert!(
            on_disk.ends_with(batch),
            "announced before commit: {batch:?} vs {on_disk:?}"
        );
        let first = sink.lock().unwrap().is_empty();
        sink.lock().unwrap().push(batch.to_vec());
        if first {
            // Hold the writer here so the next sends pile up behind it.
            entered_tx.send(()).unwrap();
            gate_rx.recv().unwrap();
        }
    });
    let handle = spawn_writer(
        store(&dir),
        opts(1_000),
        stats.clone(),
        Counting::default(),
        announce,
    );

    let mut precise = dev("r0", 0, State::Up);
    precise.at = Timestamp::from_nanosecond(1_000_123_456).unwrap();
    handle.send(vec![precise]);
    entered_rx.recv().unwrap();
    let commits_before = stats.commits_total.load(Ordering::Relaxed);
    let queued: Vec<Transition> = (0..10)
        .map(|i| dev(&format!("r{i}"), 2_000 + i, State::Down))
        .collect();
    for t in &queued {
        handle.send(vec![t.clone()]);
    }
    gate_tx.send(()).unwrap();
    assert!(handle.flush());

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "ten sends, one commit: {seen:?}");
    assert_eq!(
        seen[0],
        vec![dev("r0", 1_000, State::Up)],
        "announced at ledger precision"
    );
    assert_eq!(seen[1], queued);
    assert_eq!(
        stats.commits_total.load(Ordering::Relaxed),
        commits_before + 1
    );
    assert_eq!(stats.transitions_written_total.load(Ordering::Relaxed), 11);
    assert_eq!(all_rows(&dir), seen.concat());
    assert!(handle.shutdown(Vec::new()));
}

#[test]
fn heartbeat_advances_while_idle() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = Arc::new(StoreStats::default());
    let (_, announce) = recorder();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        stats.clone(),
        Counting::default(),
        announce,
    );
    assert!(handle.flush());
    let reader = Store::open_reader(tmp.path()).unwrap();
    let first = reader
        .last_heartbeat()
        .unwrap()
        .expect("a heartbeat at start");
    std::thread::sleep(Duration::from_millis(300));
    let later = reader.last_heartbeat().unwrap().unwrap();
    assert!(later > first, "{later} should be after {first}");
    assert!(stats.commits_total.load(Ordering::Relaxed) >= 2);
    assert!(stats.last_heartbeat().unwrap() >= later);
    assert!(handle.shutdown(Vec::new()));
}

#[test]
fn failing_writes_are_retried_in_order_and_announced_once_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = Arc::new(StoreStats::default());
    let (seen, announce) = recorder();
    let store = store(tmp.path());
    let lock = hold_write_lock(tmp.path());
    let handle = spawn_writer(
        store,
        opts(1_000),
        stats.clone(),
        Counting::default(),
        announce,
    );

    let first = vec![dev("a", 1_000, State::Up), dev("b", 1_000, State::Up)];
    let second = vec![dev("a", 2_000, State::Down)];
    handle.send(first.clone());
    assert!(!handle.flush(), "the store is locked: known failed");
    assert!(!stats.is_healthy());
    handle.send(second.clone());
    assert!(!handle.flush());
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing announced before commit"
    );
    assert_eq!(stats.pending.load(Ordering::Relaxed), 3);
    assert!(all_rows(tmp.path()).is_empty());
    std::thread::sleep(Duration::from_millis(100));
    let errors = stats.write_errors_total.load(Ordering::Relaxed);
    assert!(errors >= 2, "every retry counts: {errors}");

    lock.execute_batch("ROLLBACK").unwrap();
    flush_until_committed(&handle);
    let expected = [first, second].concat();
    assert_eq!(all_rows(tmp.path()), expected);
    assert_eq!(seen.lock().unwrap().concat(), expected);
    assert!(stats.is_healthy());
    assert_eq!(stats.pending.load(Ordering::Relaxed), 0);
    assert_eq!(stats.lost_spans_total.load(Ordering::Relaxed), 0);
    assert!(handle.shutdown(Vec::new()));
}

#[test]
fn overflow_collapses_into_an_unknown_span_then_restates_at_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = Arc::new(StoreStats::default());
    let (seen, announce) = recorder();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(4),
        stats.clone(),
        Counting::default(),
        announce,
    );
    // z is announced before the outage and sends nothing during it.
    handle.send(vec![dev("z", 1_000, State::Up)]);
    assert!(handle.flush());

    let lock = hold_write_lock(tmp.path());
    let mut a_down = dev("a", 2_500, State::Down);
    a_down.cause = Some("icmp:timeout".into());
    handle.send(vec![
        dev("a", 2_000, State::Down),
        dev("b", 2_100, State::Down),
        dev("a", 2_200, State::Up),
        dev("b", 2_300, State::Up),
    ]);
    assert!(!handle.flush());
    assert_eq!(stats.lost_spans_total.load(Ordering::Relaxed), 0, "4 fit");
    handle.send(vec![dev("c", 2_400, State::Up)]);
    assert!(!handle.flush());
    assert_eq!(stats.lost_spans_total.load(Ordering::Relaxed), 1);
    // Later transitions fold into the lost span: a's latest is down.
    handle.send(vec![a_down.clone()]);
    assert!(!handle.flush());
    assert_eq!(
        stats.lost_spans_total.load(Ordering::Relaxed),
        1,
        "one span"
    );
    assert_eq!(
        stats.pending.load(Ordering::Relaxed),
        8,
        "unknown + restated, 4 targets"
    );

    let before_recovery = ledger_precision(Timestamp::now());
    lock.execute_batch("ROLLBACK").unwrap();
    flush_until_committed(&handle);

    let rows = all_rows(tmp.path());
    assert_eq!(rows[0], dev("z", 1_000, State::Up));
    let recovered_at = rows.last().unwrap().at;
    assert!(recovered_at >= before_recovery);
    let unknown = |name: &str| {
        let mut t = dev(name, 2_000, State::Unknown);
        t.cause = Some(CAUSE_STORE_OVERFLOW.into());
        t
    };
    let restated = |t: Transition| Transition {
        at: recovered_at,
        ..t
    };
    let expected_span = vec![
        unknown("a"),
        unknown("b"),
        unknown("c"),
        unknown("z"),
        restated(a_down),
        restated(dev("b", 0, State::Up)),
        restated(dev("c", 0, State::Up)),
        restated(dev("z", 0, State::Up)),
    ];
    assert_eq!(rows[1..], expected_span[..]);
    assert_eq!(seen.lock().unwrap().last().unwrap(), &expected_span);

    // Read as a period: the lost span is unknown for every target, never up.
    let h = Store::open_reader(tmp.path())
        .unwrap()
        .histories(ts(1_500), recovered_at + jiff::SignedDuration::from_secs(1))
        .unwrap();
    assert_eq!(
        h[&(TargetKind::Device, "z".to_string())],
        vec![
            (ts(1_000), State::Up),
            (ts(2_000), State::Unknown),
            (recovered_at, State::Up)
        ]
    );
    assert!(stats.is_healthy());
    assert!(handle.shutdown(Vec::new()));
}

#[test]
fn shutdown_commits_the_final_batch_last_and_records_the_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = Arc::new(StoreStats::default());
    let (seen, announce) = recorder();
    let started = ledger_precision(Timestamp::now());
    let mut store = store(tmp.path());
    store.record_run_start(started, "test").unwrap();
    let handle = spawn_writer(store, opts(1_000), stats, Counting::default(), announce);
    let other = handle.clone();

    handle.send(vec![dev("a", 1_000, State::Up)]);
    let mut stopped = dev("a", 5_000, State::Unknown);
    stopped.cause = Some("daemon_stopped".into());
    assert!(handle.shutdown(vec![stopped.clone()]));

    assert_eq!(
        all_rows(tmp.path()),
        vec![dev("a", 1_000, State::Up), stopped.clone()]
    );
    assert_eq!(seen.lock().unwrap().concat().last(), Some(&stopped));
    let reader = Store::open_reader(tmp.path()).unwrap();
    assert!(reader.last_heartbeat().unwrap().unwrap() >= started);
    let runs = reader.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].stopped.unwrap() >= started);

    // The clone outlived the thread: it fails cleanly, it does not hang.
    other.send(vec![dev("a", 6_000, State::Up)]);
    assert!(!other.flush());
    assert!(!other.shutdown(Vec::new()));
}

#[test]
fn dropping_every_handle_still_commits_what_was_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, announce) = recorder();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        Arc::default(),
        Counting::default(),
        announce,
    );
    let thread = handle.thread.lock().unwrap().take().unwrap();
    handle.send(vec![dev("a", 1_000, State::Up)]);
    drop(handle);
    assert!(thread.join().unwrap());
    assert_eq!(all_rows(tmp.path()), vec![dev("a", 1_000, State::Up)]);
}

#[test]
fn a_panicking_announce_does_not_stop_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        Arc::default(),
        Counting::default(),
        Box::new(|_, _, _| panic!("consumer bug")),
    );
    handle.send(vec![dev("a", 1_000, State::Up)]);
    assert!(handle.flush());
    handle.send(vec![dev("a", 2_000, State::Down)]);
    assert!(handle.flush());
    assert_eq!(all_rows(tmp.path()).len(), 2);
    assert!(handle.shutdown(Vec::new()));
}

fn mark(target: &str, until_ms: i64) -> Mark {
    Mark {
        kind: TargetKind::Device,
        target: target.into(),
        until: ts(until_ms),
    }
}

#[test]
fn tallies_are_committed_with_what_they_count_once_even_when_a_write_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let announced: Arc<Mutex<Vec<Tallies>>> = Arc::default();
    let sink = announced.clone();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        Arc::default(),
        Counting::default(),
        Box::new(move |_, tallies: &Tallies, _| sink.lock().unwrap().push(tallies.clone())),
    );
    handle.send_with_marks(vec![dev("a", 1_000, State::Up)], vec![mark("a", 4_000)]);
    assert!(handle.flush());
    let key = (TargetKind::Device, "a".to_string());
    let up = |tallies: &Tallies| tallies[&key].ms[0];
    assert_eq!(up(announced.lock().unwrap().last().unwrap()), 3_000);

    // The store fails: the marks and the outage wait, and are counted once
    // when the write finally succeeds.
    let lock = hold_write_lock(tmp.path());
    handle.send_with_marks(Vec::new(), vec![mark("a", 6_000)]);
    handle.send_with_marks(vec![dev("a", 7_000, State::Down)], vec![mark("a", 9_000)]);
    assert!(!handle.flush());
    std::thread::sleep(Duration::from_millis(100)); // several retries
    drop(lock);
    flush_until_committed(&handle);
    let last = announced.lock().unwrap().last().unwrap().clone();
    assert_eq!((last[&key].ms[0], last[&key].ms[2]), (6_000, 2_000));
    assert_eq!(last[&key].until, ts(9_000));
    // As stored, for the next start.
    let stored = Store::open_reader(tmp.path()).unwrap().tallies().unwrap();
    assert_eq!(stored[&key], last[&key]);
    // A mark that vouches for nothing new rewrites nothing.
    let before = announced.lock().unwrap().len();
    handle.send_with_marks(Vec::new(), vec![mark("a", 8_000)]);
    assert!(handle.flush());
    let after = announced.lock().unwrap();
    assert!(
        after.len() == before || after[before..].iter().all(|t| t.is_empty()),
        "{after:?}"
    );
    drop(after);
    assert!(handle.shutdown(Vec::new()));
}

#[test]
fn a_write_that_waits_shows_until_it_commits() {
    let stats = StoreStats::default();
    let now = Timestamp::now();
    assert_eq!(stats.oldest_uncommitted(now), Duration::ZERO);
    assert!(stats.is_writing(now));
    stats.waiting_from(now - jiff::SignedDuration::from_secs(12));
    stats.waiting_from(now); // something newer does not hide the oldest
    assert_eq!(stats.oldest_uncommitted(now).as_secs(), 12);
    assert!(stats.is_stalled(now), "past the default 10 s");
    assert!(stats.is_healthy() && !stats.is_writing(now));
    stats.stall_after_ms.store(60_000, Ordering::Relaxed);
    assert!(stats.is_writing(now));

    // Through the writer: set while a write fails and waits, cleared by
    // the commit that takes it.
    let tmp = tempfile::tempdir().unwrap();
    let stats = Arc::new(StoreStats::default());
    let (_, announce) = recorder();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        stats.clone(),
        Counting::default(),
        announce,
    );
    assert!(handle.flush());
    assert_eq!(stats.uncommitted_since_ms.load(Ordering::Relaxed), 0);
    let lock = hold_write_lock(tmp.path());
    let sent = Timestamp::now();
    handle.send(vec![dev("a", 1_000, State::Up)]);
    assert!(!handle.flush());
    let since = stats.uncommitted_since_ms.load(Ordering::Relaxed);
    assert!(since >= sent.as_millisecond() - 1, "{since} vs {sent}");
    drop(lock);
    flush_until_committed(&handle);
    assert_eq!(stats.uncommitted_since_ms.load(Ordering::Relaxed), 0);
    assert!(handle.shutdown(Vec::new()));
}

fn block_on<T>(rx: tokio::sync::oneshot::Receiver<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rx = rx;
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "no reply from the writer");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("writer dropped the request: {e}"),
        }
    }
}

fn ack(id: u64, by: &str) -> Request {
    Request::Acknowledge {
        id,
        by: by.into(),
        note: None,
    }
}

#[test]
fn incidents_commit_with_their_transitions_and_requests_are_answered_after_the_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let changes: Arc<Mutex<Vec<Change>>> = Arc::default();
    let sink = changes.clone();
    let reader_dir = tmp.path().to_path_buf();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        Arc::new(StoreStats::default()),
        Counting::default(),
        Box::new(move |_: &[Transition], _: &Tallies, c: &[Change]| {
            // Announced changes are on disk already.
            for change in c {
                let stored = Store::open_reader(&reader_dir)
                    .unwrap()
                    .incident(change.id())
                    .unwrap();
                assert!(stored.is_some(), "announced before commit: {change:?}");
            }
            sink.lock().unwrap().extend_from_slice(c)
        }),
    );
    // The request is queued right behind the transition that opens the
    // incident: it sees it, before either is on disk.
    handle.send(vec![dev("a", 1_000, State::Down)]);
    let acked = handle.request(Request::Acknowledge {
        id: 1,
        by: "duty".into(),
        note: Some("on my way".into()),
    });
    assert_eq!(block_on(acked), Ok(1));
    let reader = Store::open_reader(tmp.path()).unwrap();
    let stored = reader.incident(1).unwrap().unwrap();
    assert_eq!(stored.acknowledged_by.as_deref(), Some("duty"));
    let events: Vec<String> = reader
        .incident_events(1)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["opened", "acknowledged", "note"]);

    // Refused, nothing written: a second ack, an unknown id, an ack of a
    // restored incident (even once it left the engine), a note on nothing.
    assert_eq!(
        block_on(handle.request(ack(1, "other"))),
        Err(RequestError::Refused(AckError::AlreadyAcknowledged {
            id: 1,
            by: "duty".into()
        }))
    );
    assert_eq!(
        block_on(handle.request(ack(99, "duty"))),
        Err(RequestError::NotFound(99))
    );
    handle.send(vec![
        dev("b", 2_000, State::Down),
        dev("b", 3_000, State::Up),
    ]);
    assert_eq!(
        block_on(handle.request(ack(2, "duty"))),
        Err(RequestError::Refused(AckError::Restored(2)))
    );
    let note = |id| Request::Note {
        id,
        by: "duty".into(),
        text: "post-mortem: fibre cut".into(),
    };
    assert_eq!(
        block_on(handle.request(note(99))),
        Err(RequestError::NotFound(99))
    );
    // Notes go on restored incidents too.
    assert_eq!(block_on(handle.request(note(2))), Ok(2));
    assert!(handle.shutdown(Vec::new()));
    let reader = Store::open_reader(tmp.path()).unwrap();
    assert_eq!(reader.incident_events(1).unwrap().len(), 3, "nothing added");
    assert_eq!(reader.incident_events(2).unwrap().len(), 3);
    assert_eq!(
        changes.lock().unwrap().len(),
        3 + 3,
        "every committed change announced once"
    );
}

#[test]
fn requests_are_refused_while_the_store_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let (_, announce) = recorder();
    let handle = spawn_writer(
        store,
        opts(1_000),
        Arc::new(StoreStats::default()),
        Counting::default(),
        announce,
    );
    handle.send(vec![dev("a", 1_000, State::Down)]);
    assert!(handle.flush());
    let lock = hold_write_lock(tmp.path());
    handle.send(vec![dev("x", 2_000, State::Up)]);
    assert!(!handle.flush());
    assert!(matches!(
        block_on(handle.request(ack(1, "duty"))),
        Err(RequestError::StoreFailing(_))
    ));
    lock.execute_batch("ROLLBACK").unwrap();
    flush_until_committed(&handle);
    assert_eq!(block_on(handle.request(ack(1, "duty"))), Ok(1));
    assert!(handle.shutdown(Vec::new()));
}

#[test]
fn alarms_open_and_restore_incidents_of_their_own_in_order_with_the_transitions() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, announce) = recorder();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        Arc::new(StoreStats::default()),
        Counting::default(),
        announce,
    );
    let fired = |at_ms: i64, raised: bool, severity: Option<Severity>| AlarmEvent {
        device: "ups-1".into(),
        alarm: "on-battery".into(),
        raised,
        at: Timestamp::from_millisecond(at_ms).unwrap(),
        severity,
        condition: "netkpi_ups_on_battery == 1".into(),
    };
    // The device goes down and its alarm fires in the same batch: two
    // incidents, the outage first. The alarm's severity is its own; the
    // outage's the device's (NoPolicy: minor).
    handle.send_with_alarms(
        vec![dev("ups-1", 1_000, State::Down)],
        Vec::new(),
        vec![fired(1_500, true, Some(Severity::Critical))],
    );
    // Another alarm without a severity of its own takes the device's.
    let mut low = fired(1_700, true, None);
    low.alarm = "battery-low".into();
    handle.send_with_alarms(Vec::new(), Vec::new(), vec![low]);
    handle.send_with_alarms(
        vec![dev("ups-1", 2_000, State::Up)],
        Vec::new(),
        vec![fired(3_000, false, None)],
    );
    assert!(handle.flush());
    let reader = Store::open_reader(tmp.path()).unwrap();
    let all = reader.all_incidents().unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|i| {
            (
                i.id,
                i.alarm.as_deref(),
                i.severity,
                i.opened_at.as_millisecond(),
                i.restored_at.map(|t| t.as_millisecond()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, None, Severity::Minor, 1_000, Some(2_000)),
            (
                2,
                Some("on-battery"),
                Severity::Critical,
                1_500,
                Some(3_000)
            ),
            (3, Some("battery-low"), Severity::Minor, 1_700, None),
        ]
    );
    assert!(handle.shutdown(Vec::new()));
}

/// Energy waits in memory while writes fail, is added to the day's row
/// once committed, and only then to the counters (which start from the
/// store's totals).
#[test]
fn energy_counts_once_committed_and_waits_while_writes_fail() {
    use crate::energy::DayEnergy;
    let tmp = tempfile::tempdir().unwrap();
    let stats = Arc::new(StoreStats::default());
    stats.set_energy_joules([("ups-1".to_string(), 3_600.0)].into());
    let (_, announce) = recorder();
    let handle = spawn_writer(
        store(tmp.path()),
        opts(1_000),
        stats.clone(),
        Counting::default(),
        announce,
    );
    let lock = hold_write_lock(tmp.path());
    let day = jiff::civil::date(2026, 3, 4);
    let e = |wh| DayEnergy {
        wh,
        covered_ms: 1_000,
        apparent_ms: 0,
        day_ms: 86_400_000,
    };
    handle.send_energy([(("ups-1".to_string(), day), e(1.0))].into());
    handle.send_energy([(("ups-1".to_string(), day), e(2.0))].into());
    assert!(!handle.flush(), "the store is locked");
    assert_eq!(
        stats.energy_joules()["ups-1"],
        3_600.0,
        "nothing counted before it is on disk"
    );
    drop(lock);
    flush_until_committed(&handle);
    assert_eq!(stats.energy_joules()["ups-1"], 4.0 * 3_600.0);
    let days = Store::open_reader(tmp.path())
        .unwrap()
        .energy_days(day, day.tomorrow().unwrap())
        .unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!((days[0].kwh, days[0].covered_s), (0.003, 2.0));
    assert!(handle.shutdown(Vec::new()));
}
