use super::*;

pub(super) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

pub(super) fn tr(target: &str, kind: TargetKind, at_ms: i64, state: State) -> Transition {
    Transition {
        target: target.to_string(),
        kind,
        at: ts(at_ms),
        state,
        cause: None,
    }
}

fn dev(target: &str, at_ms: i64, state: State) -> Transition {
    tr(target, TargetKind::Device, at_ms, state)
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn open_creates_the_dir_and_a_migrated_wal_database() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/data");
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.path(), dir.join(DB_FILE));
    assert_eq!(user_version(store.path()), schema::VERSION);
    let mode: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = store
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    assert!(!dir.join(".netkpi-write-probe").exists());
    assert_eq!(store.last_heartbeat().unwrap(), None);
}

#[test]
fn reopen_keeps_data_and_stamps_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store
        .append(&[dev("r1", 1_000, State::Up)], Some(ts(1_500)))
        .unwrap();
    let created: String = store
        .conn
        .query_row("SELECT value FROM meta WHERE key = 'created_ms'", [], |r| {
            r.get(0)
        })
        .unwrap();
    drop(store);

    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(user_version(store.path()), schema::VERSION);
    assert_eq!(store.latest().unwrap(), vec![dev("r1", 1_000, State::Up)]);
    assert_eq!(store.last_heartbeat().unwrap(), Some(ts(1_500)));
    let (created_again, by): (String, String) = store
        .conn
        .query_row(
            "SELECT (SELECT value FROM meta WHERE key = 'created_ms'),
                    (SELECT value FROM meta WHERE key = 'last_opened_by')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(created_again, created, "created_ms is written once");
    assert_eq!(by, env!("CARGO_PKG_VERSION"));
}

#[test]
fn an_sqlite_database_with_nothing_in_it_becomes_the_ledger() {
    // `sqlite3 FILE VACUUM` makes a valid database that holds nothing: no
    // one's data is lost by initialising it.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DB_FILE);
    Connection::open(&path)
        .unwrap()
        .execute_batch("VACUUM")
        .unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
    assert!(matches!(
        Store::open_reader(tmp.path()).unwrap_err(),
        StoreError::NotMigrated { found: 0, .. }
    ));
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(user_version(&path), schema::VERSION);
    assert!(store.latest().unwrap().is_empty());
    drop(store);
    Store::open_reader(tmp.path()).unwrap();
}

#[test]
fn refuses_a_newer_schema_without_touching_it() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Store::open(tmp.path()).unwrap());
    let path = tmp.path().join(DB_FILE);
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();

    let err = Store::open(tmp.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, known, .. } if known == schema::VERSION),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("schema version 99, newer than"), "{msg}");
    assert!(msg.contains("daemon.data_dir"), "{msg}");
    assert_eq!(user_version(&path), 99, "left as found");

    let err = Store::open_reader(tmp.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
}

#[test]
fn data_dir_that_is_a_regular_file_is_refused_with_advice() {
    // Root ignores permission bits, so unwritability is simulated by a path
    // no one can make a directory of: an existing regular file.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("data");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = Store::open(&file).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::DataDir { .. }), "{err:?}");
    assert!(
        msg.starts_with(&format!("data_dir {} is not a directory", file.display())),
        "{msg}"
    );
    assert!(msg.contains("set daemon.data_dir"), "{msg}");

    // And below it: creating data/sub fails in the OS itself.
    let err = Store::open(&file.join("sub")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "data_dir {} cannot be created:",
            file.join("sub").display()
        )),
        "{msg}"
    );
    assert!(msg.contains("os error"), "the OS reason is shown: {msg}");
}

#[test]
fn data_dir_in_proc_is_refused_even_for_root() {
    // procfs refuses new directories and files to every user, root included.
    let dir = Path::new("/proc/self/netkpi-data");
    let err = Store::open(dir).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("data_dir /proc/self/netkpi-data cannot be created:"),
        "{msg}"
    );
    let dir = Path::new("/proc/self");
    let msg = Store::open(dir).unwrap_err().to_string();
    assert!(
        msg.starts_with("data_dir /proc/self is not writable:"),
        "{msg}"
    );
}

#[test]
fn database_path_that_is_a_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join(DB_FILE)).unwrap();
    let err = Store::open(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
    assert!(err.to_string().contains("is not writable"), "{err}");
}

#[test]
fn sqlite_failures_are_sorted_into_actionable_messages() {
    let path = Path::new("/var/lib/netkpi/netkpi.sqlite");
    let failure = |code| rusqlite::Error::SqliteFailure(ffi::Error::new(code), None);
    let msg = StoreError::sqlite(path, "commit", failure(ffi::SQLITE_FULL)).to_string();
    assert!(
        msg.starts_with("store /var/lib/netkpi/netkpi.sqlite: disk full:"),
        "{msg}"
    );
    assert!(msg.contains("free space"), "{msg}");
    let msg = StoreError::sqlite(path, "commit", failure(ffi::SQLITE_READONLY)).to_string();
    assert!(
        msg.starts_with("store /var/lib/netkpi/netkpi.sqlite is not writable:"),
        "{msg}"
    );
    let msg = StoreError::sqlite(path, "commit", failure(ffi::SQLITE_BUSY)).to_string();
    assert!(msg.contains("locked by another connection"), "{msg}");
    let msg = StoreError::sqlite(path, "commit", failure(ffi::SQLITE_CORRUPT)).to_string();
    assert!(msg.contains("restore it from a backup"), "{msg}");
}

#[test]
fn append_roundtrips_in_order_with_causes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let mut down = dev("r1", 2_000, State::Down);
    down.cause = Some("icmp:timeout".into());
    let batch = vec![
        dev("r1", 1_000, State::Up),
        tr("L-001", TargetKind::Line, 1_000, State::Up),
        down,
    ];
    store.append(&batch, None).unwrap();
    assert_eq!(store.last_heartbeat().unwrap(), None);
    assert_eq!(store.transitions(ts(0), ts(10_000)).unwrap(), batch);
    // [from, to): at == from included, at == to excluded.
    assert_eq!(
        store.transitions(ts(1_000), ts(2_000)).unwrap(),
        batch[..2].to_vec()
    );
}

#[test]
fn append_is_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store.append(&[dev("r1", 1_000, State::Up)], None).unwrap();
    // Make the second insert of the next batch fail inside the transaction.
    store
        .conn
        .execute_batch(
            "CREATE TRIGGER reject BEFORE INSERT ON transitions WHEN NEW.target = 'bad'
             BEGIN SELECT RAISE(ABORT, 'rejected'); END;",
        )
        .unwrap();
    let err = store
        .append(
            &[dev("r2", 2_000, State::Up), dev("bad", 2_000, State::Up)],
            Some(ts(2_000)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("rejected"), "{err}");
    assert_eq!(
        store.transitions(ts(0), ts(10_000)).unwrap(),
        vec![dev("r1", 1_000, State::Up)]
    );
    assert_eq!(store.last_heartbeat().unwrap(), None);
}

#[test]
fn heartbeat_is_one_row_that_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store.append(&[], Some(ts(1_000))).unwrap();
    store.append(&[], Some(ts(2_000))).unwrap();
    store.append(&[], None).unwrap();
    assert_eq!(store.last_heartbeat().unwrap(), Some(ts(2_000)));
    let rows: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM heartbeat", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn sub_millisecond_precision_is_dropped_consistently() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let precise = Timestamp::from_nanosecond(1_000_999_999).unwrap();
    let mut t = dev("r1", 0, State::Up);
    t.at = precise;
    store.append(&[t], None).unwrap();
    let back = store.latest().unwrap();
    assert_eq!(back[0].at, ledger_precision(precise));
    assert_eq!(back[0].at, ts(1_000));
}

#[test]
fn latest_is_the_last_written_per_target_even_when_the_clock_stepped_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store
        .append(
            &[
                dev("r1", 1_000, State::Up),
                dev("r2", 1_000, State::Up),
                tr("r1", TargetKind::Line, 1_000, State::Down),
                dev("r1", 5_000, State::Down),
                // The clock stepped back: written last, so it is the latest.
                dev("r1", 3_000, State::Up),
            ],
            None,
        )
        .unwrap();
    assert_eq!(
        store.latest().unwrap(),
        vec![
            dev("r1", 3_000, State::Up),
            dev("r2", 1_000, State::Up),
            tr("r1", TargetKind::Line, 1_000, State::Down),
        ]
    );
}

#[test]
fn histories_start_with_the_state_at_from_and_stop_before_to() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store
        .append(
            &[
                dev("a", 100, State::Up),
                dev("a", 500, State::Down), // the state at from = 1000
                dev("b", 1_000, State::Up), // exactly at from: it is the anchor
                dev("a", 1_500, State::Up),
                dev("b", 1_999, State::Down), // just before to
                dev("a", 2_000, State::Down), // at to: excluded
                dev("c", 2_500, State::Up),   // only after to: absent
                tr("a", TargetKind::Line, 1_200, State::Up), // first entry inside
            ],
            None,
        )
        .unwrap();
    let h = store.histories(ts(1_000), ts(2_000)).unwrap();
    let key = |kind, name: &str| (kind, name.to_string());
    assert_eq!(
        h[&key(TargetKind::Device, "a")],
        vec![(ts(500), State::Down), (ts(1_500), State::Up)]
    );
    assert_eq!(
        h[&key(TargetKind::Device, "b")],
        vec![(ts(1_000), State::Up), (ts(1_999), State::Down)]
    );
    assert_eq!(h[&key(TargetKind::Line, "a")], vec![(ts(1_200), State::Up)]);
    assert_eq!(h.len(), 3, "{h:?}");

    // An empty or reversed period holds nothing.
    assert!(store.histories(ts(1_000), ts(1_000)).unwrap().is_empty());
    assert!(store.histories(ts(2_000), ts(1_000)).unwrap().is_empty());
}

#[test]
fn histories_follow_insertion_order_across_a_clock_step() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store
        .append(
            &[
                dev("a", 1_000, State::Up),
                dev("a", 3_000, State::Down),
                // The clock stepped back 2.5 s; this is the newer word.
                dev("a", 500, State::Up),
                dev("a", 2_500, State::Degraded),
            ],
            None,
        )
        .unwrap();
    // At from = 2000, the last entry written with at <= from is (500, up);
    // (3000, down) was written before it and is superseded.
    let h = store.histories(ts(2_000), ts(4_000)).unwrap();
    assert_eq!(
        h[&(TargetKind::Device, "a".to_string())],
        vec![(ts(500), State::Up), (ts(2_500), State::Degraded)]
    );
}

#[test]
fn reader_sees_commits_and_cannot_write() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open_reader(tmp.path()).unwrap_err(),
        StoreError::Missing { .. }
    ));
    let mut writer = Store::open(tmp.path()).unwrap();
    let mut reader = Store::open_reader(tmp.path()).unwrap();
    assert!(reader.latest().unwrap().is_empty());
    writer
        .append(&[dev("r1", 1_000, State::Up)], Some(ts(1_000)))
        .unwrap();
    assert_eq!(reader.latest().unwrap(), vec![dev("r1", 1_000, State::Up)]);
    assert_eq!(reader.last_heartbeat().unwrap(), Some(ts(1_000)));
    let err = reader
        .append(&[dev("r1", 2_000, State::Down)], None)
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
}

#[test]
fn a_snapshot_does_not_see_what_commits_during_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut writer = Store::open(tmp.path()).unwrap();
    writer.append(&[dev("r1", 1_000, State::Up)], None).unwrap();
    let reader = Store::open_reader(tmp.path()).unwrap();
    let (before, during) = reader
        .snapshot(|r| {
            let before = (r.latest()?, r.ledger_head()?.records);
            writer
                .append(&[dev("r1", 2_000, State::Down)], None)
                .unwrap();
            Ok((before, (r.latest()?, r.ledger_head()?.records)))
        })
        .unwrap();
    assert_eq!(before, during, "one snapshot throughout");
    assert_eq!(
        reader.latest().unwrap(),
        vec![dev("r1", 2_000, State::Down)]
    );
    assert_eq!(reader.ledger_head().unwrap().records, before.1 + 1);
}

#[test]
fn reader_refuses_an_unmigrated_file() {
    // A ledger of schema version 1, as the first netkpi left it.
    let tmp = tempfile::tempdir().unwrap();
    let conn = Connection::open(tmp.path().join(DB_FILE)).unwrap();
    conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    let err = Store::open_reader(tmp.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::NotMigrated { found: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("netkpi run"), "{err}");
}

#[test]
fn corrupt_rows_are_reported_not_guessed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    store
        .conn
        .execute(
            "INSERT INTO transitions (target, kind, at_ms, state) VALUES ('r1', 'device', 1, 'sideways')",
            [],
        )
        .unwrap();
    let err = store.latest().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("unknown state \"sideways\""),
        "{err}"
    );
}

#[test]
fn daemon_runs_record_start_and_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store.record_run_stop(ts(1)).unwrap(); // no run started: nothing to stop
    let id = store.record_run_start(ts(1_000), "0.1.0").unwrap();
    assert_eq!(
        store.runs().unwrap(),
        vec![DaemonRun {
            id,
            started: ts(1_000),
            stopped: None,
            version: "0.1.0".into()
        }]
    );
    store.record_run_stop(ts(9_000)).unwrap();
    assert_eq!(store.runs().unwrap()[0].stopped, Some(ts(9_000)));
}

#[test]
fn a_version_1_ledger_is_migrated_and_keeps_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DB_FILE);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO transitions (target, kind, at_ms, state, cause) VALUES ('r1', 'device', 1000, 'up', NULL)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO heartbeat (id, at_ms) VALUES (1, 5000)", [])
            .unwrap();
    }
    let mut store = Store::open(tmp.path()).unwrap();
    assert_eq!(user_version(&path), schema::VERSION);
    assert_eq!(store.latest().unwrap(), [dev("r1", 1000, State::Up)]);
    assert_eq!(store.last_heartbeat().unwrap(), Some(ts(5000)));
    assert!(store.tallies().unwrap().is_empty());
    let key = (TargetKind::Device, "r1".to_string());
    let tally = |until_ms: i64, up_ms: i64| Tally {
        state: State::Up,
        until: ts(until_ms),
        ms: [up_ms, 0, 0, 0, 0],
    };
    for (until, up) in [(4000, 3000), (4500, 3500)] {
        let tallies: Tallies = [(key.clone(), tally(until, up))].into();
        store.append_with_tallies(&[], &tallies, None).unwrap();
    }
    assert_eq!(
        store.tallies().unwrap(),
        [(key, tally(4500, 3500))].into(),
        "one row per target, replaced"
    );
}

/// SQLite says only "unable to open database file"; when the open failed
/// for want of a file descriptor, the error says so (not a permission
/// problem).
#[test]
fn cannot_open_for_want_of_descriptors_says_too_many_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let cannot_open = || {
        rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_CANTOPEN),
            Some("unable to open database file".into()),
        )
    };
    for errno in [libc::EMFILE, libc::ENFILE] {
        // The errno the failed open(2) leaves behind, read first thing.
        // SAFETY: writes this thread's errno.
        unsafe { *libc::__errno_location() = errno };
        let err = StoreError::sqlite(&path, "open read-only", cannot_open());
        assert!(
            matches!(err, StoreError::TooManyOpenFiles { .. }),
            "{errno}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("too many open files"), "{text}");
        assert!(!text.contains("permission"), "{text}");
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = libc::EACCES };
    let err = StoreError::sqlite(&path, "open", cannot_open());
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
}

/// An empty or foreign file where the ledger should be, another program's
/// SQLite database (user_version 0, with tables) included, is an error
/// naming the file and the remedies, and is left byte for byte as it was.
#[test]
fn an_empty_or_foreign_file_is_never_taken_over() {
    let other = tempfile::tempdir().unwrap();
    let other_db = other.path().join("places.sqlite");
    Connection::open(&other_db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('kept');
             CREATE TABLE bookmarks (url TEXT); CREATE INDEX by_url ON bookmarks (url);",
        )
        .unwrap();
    let other_db = std::fs::read(&other_db).unwrap();
    for (content, problem) in [
        (&b""[..], "is empty (0 bytes)"),
        (&b"these are my notes\n"[..], "is not an SQLite database"),
        (
            &other_db[..],
            "is an SQLite database of another program (tables: bookmarks, notes, by_url)",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        std::fs::write(&path, content).unwrap();
        for err in [
            Store::open(dir.path()).unwrap_err(),
            Store::open_reader(dir.path()).unwrap_err(),
            Store::open_file_reader(&path).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::NotALedger { .. }), "{err:?}");
            let text = err.to_string();
            for part in [
                &path.display().to_string(),
                problem,
                "netkpi never takes over a file",
                "restore the ledger from a backup",
                "move the file away",
            ] {
                assert!(text.contains(part), "{part:?} missing from: {text}");
            }
        }
        assert_eq!(std::fs::read(&path).unwrap(), content);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [DB_FILE], "no journal, -wal or -shm beside it");
    }
}

/// A backup taken while the writer holds uncommitted work has every
/// committed transition and nothing else, passes integrity_check, replaces
/// the previous backup whole and leaves no temporary file.
#[test]
fn backup_copies_what_is_committed_and_replaces_the_target_whole() {
    let data = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("ledger-backup.sqlite");
    std::fs::write(&out, "the previous backup").unwrap();
    let mut store = Store::open(data.path()).unwrap();
    let committed: Vec<_> = (0..100)
        .map(|i| {
            dev(
                "core-r1",
                1_000 * i,
                if i % 2 == 0 { State::Down } else { State::Up },
            )
        })
        .collect();
    store.append(&committed, Some(ts(200_000))).unwrap();
    // Work in progress in the writer's connection: not in the copy.
    store.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    store
        .conn
        .execute(
            "INSERT INTO transitions (target, kind, at_ms, state, cause) VALUES ('x', 'device', 1, 'up', NULL)",
            [],
        )
        .unwrap();

    let report = backup(data.path(), &out).unwrap();
    assert_eq!(report.transitions, 100);
    assert_eq!(report.latest, Some(ts(99_000)));
    store.conn.execute_batch("ROLLBACK").unwrap();

    let copy = Connection::open(&out).unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let reader = Store::open_reader(out_dir.path()).map(|_| ()).unwrap_err();
    assert!(matches!(reader, StoreError::Missing { .. }), "{reader:?}");
    let copied = Store {
        conn: copy,
        path: out.clone(),
        read_only: true,
        run_id: None,
        chain: None,
    }
    .transitions(ts(0), ts(1_000_000))
    .unwrap();
    assert_eq!(copied, committed);
    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ledger-backup.sqlite"], "no temporary file left");
    // The store itself is refused as a target.
    let err = backup(data.path(), &data.path().join(DB_FILE)).unwrap_err();
    assert!(err.to_string().contains("the store itself"), "{err}");
}

fn energy_of(
    device: &str,
    day: jiff::civil::Date,
    e: crate::energy::DayEnergy,
) -> crate::energy::Days {
    [((device.to_string(), day), e)].into()
}

/// A store as schema v5 left it (the chain, no energy) keeps working: the
/// migration adds the energy table, and the ledger and its chain stand.
#[test]
fn a_version_5_store_is_migrated_to_energy_days() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(DB_FILE);
    {
        let mut store = Store::open(tmp.path()).unwrap();
        store
            .append(&[dev("ups-1", 1_000, State::Up)], Some(ts(2_000)))
            .unwrap();
    }
    {
        // Back to v5: what a v5 binary wrote.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE energy_days; DROP TABLE incident_figures;
             ALTER TABLE incidents DROP COLUMN missed;",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
    }
    let mut store = Store::open(tmp.path()).unwrap();
    assert_eq!(user_version(&path), schema::VERSION);
    assert_eq!(store.latest().unwrap(), [dev("ups-1", 1_000, State::Up)]);
    assert!(store.energy_joules().unwrap().is_empty());
    let day = jiff::civil::date(2026, 3, 4);
    let e = crate::energy::DayEnergy {
        wh: 250.0,
        covered_ms: 60_000,
        apparent_ms: 0,
        day_ms: 86_400_000,
    };
    store
        .commit(&Commit {
            energy: &energy_of("ups-1", day, e),
            ..Commit::default()
        })
        .unwrap();
    assert!(matches!(
        store.verify(&[]).unwrap(),
        Verification::Intact { records: 1, .. }
    ));
}

/// Each commit adds to the day's row; days are read back per device in
/// `[from, to)`, with the totals behind the metric.
#[test]
fn energy_days_add_up_across_commits_and_are_read_by_day() {
    use crate::energy::DayEnergy;
    use jiff::civil::date;
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let e = |wh: f64, covered_ms: i64, apparent_ms: i64, day_ms: i64| DayEnergy {
        wh,
        covered_ms,
        apparent_ms,
        day_ms,
    };
    let commits = [
        energy_of("ups-1", date(2026, 3, 7), e(100.0, 60_000, 0, 86_400_000)),
        energy_of(
            "ups-1",
            date(2026, 3, 7),
            e(50.5, 30_000, 30_000, 86_400_000),
        ),
        energy_of(
            "ups-2",
            date(2026, 3, 8),
            e(1_000.0, 3_600_000, 0, 82_800_000),
        ),
        energy_of("ups-1", date(2026, 3, 9), e(7.0, 1_000, 0, 86_400_000)),
    ];
    for days in &commits {
        store
            .commit(&Commit {
                energy: days,
                heartbeat: Some(ts(1_000)),
                ..Commit::default()
            })
            .unwrap();
    }
    let reader = Store::open_reader(tmp.path()).unwrap();
    let got = reader
        .energy_days(date(2026, 3, 7), date(2026, 3, 9))
        .unwrap();
    let want = [
        EnergyDay {
            device: "ups-1".into(),
            day: date(2026, 3, 7),
            kwh: 0.1505,
            covered_s: 90.0,
            apparent_s: 30.0,
            day_s: 86_400.0,
        },
        EnergyDay {
            device: "ups-2".into(),
            day: date(2026, 3, 8),
            kwh: 1.0,
            covered_s: 3_600.0,
            apparent_s: 0.0,
            day_s: 82_800.0,
        },
    ];
    assert_eq!(got, want, "Mar 9 is outside [Mar 7, Mar 9)");
    assert!((got[1].coverage() - 3_600.0 / 82_800.0).abs() < 1e-12);
    let totals = reader.energy_joules().unwrap();
    assert_eq!(totals.len(), 2);
    assert!((totals["ups-1"] - (100.0 + 50.5 + 7.0) * 3_600.0).abs() < 1e-6);
    assert!((totals["ups-2"] - 1_000.0 * 3_600.0).abs() < 1e-6);
}
