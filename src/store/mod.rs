//! The embedded ledger: SQLite in WAL mode behind one narrow interface.
//!
//! Everything the daemon knows about the past goes through [`Store`]: a
//! writer ([`Store::open`], owned by the single writer thread of
//! [`spawn_writer`]) and any number of readers ([`Store::open_reader`]) that
//! query while it writes. A second backend (PostgreSQL, for several pollers sharing one
//! ledger) implements
//! the same few methods.
//!
//! Times are stored as integer milliseconds since the Unix epoch; anything
//! finer is dropped on the way in (see [`ledger_precision`]).
//!
//! Every record the figures come from is hash-chained in the transaction
//! that writes it (`chain.rs`: what is chained, the exact encoding, and
//! [`Store::verify`], which recomputes the chain for `netkpi verify`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::types::ValueRef;
use rusqlite::{
    ffi, params, params_from_iter, Connection, OpenFlags, OptionalExtension, TransactionBehavior,
};

use crate::energy::Days;
use crate::incidents::Change;
use crate::model::{State, TargetKind, Transition};
use crate::tally::{Tallies, Tally};

mod backup;
mod chain;
mod energy;
mod figures;
mod incidents;
mod maintenance;
mod schema;
mod writer;
pub use crate::energy::EnergyDay;
pub use backup::{backup, BackupReport};
pub use chain::{hex, parse_head, Genesis, HeadSeen, LedgerHead, Verification};
pub use incidents::{Affected, IncidentEvent, IncidentQuery};
pub use maintenance::Window;
pub use writer::{
    spawn_writer, Announce, Counting, NoPolicy, Policy, Replied, Request, RequestError, StoreStats,
    WriterHandle, WriterOptions, CAUSE_STORE_OVERFLOW,
};

/// Everything one transaction writes.
#[derive(Clone, Copy, Debug)]
pub struct Commit<'a> {
    pub transitions: &'a [Transition],
    /// The tallies of the targets they count, replaced.
    pub tallies: &'a Tallies,
    /// Incident changes (opened, restored, acknowledged, notes, ...).
    pub incidents: &'a [Change],
    /// Planned windows declared through the API.
    pub windows: &'a [Window],
    /// Energy per (device, local day), added to what the store holds.
    pub energy: &'a Days,
    pub heartbeat: Option<Timestamp>,
}

impl Default for Commit<'_> {
    fn default() -> Self {
        const NO_TALLIES: &Tallies = &Tallies::new();
        const NO_ENERGY: &Days = &Days::new();
        Commit {
            transitions: &[],
            tallies: NO_TALLIES,
            incidents: &[],
            windows: &[],
            energy: NO_ENERGY,
            heartbeat: None,
        }
    }
}

/// The database file inside `daemon.data_dir`.
pub const DB_FILE: &str = "netkpi.sqlite";

/// How long a statement waits for a lock held by another connection before
/// failing. Readers never block the writer in WAL mode; this covers a
/// checkpoint or an operator's `sqlite3` shell, without stalling the writer
/// thread for long (its retry loop takes over).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Message(String),
    #[error(
        "data_dir {} {problem}: {error}; fix its owner/permissions (or create it as a directory) or set daemon.data_dir",
        dir.display()
    )]
    DataDir {
        dir: PathBuf,
        /// "cannot be created", "is not a directory", "is not writable".
        problem: &'static str,
        /// Shown in the message, not chained as `source`: an `{err:#}`
        /// (anyhow) would print it twice.
        error: std::io::Error,
    },
    #[error(
        "store {} is not writable: {detail}; fix the owner/permissions of the file and of its directory \
         (SQLite also creates {}-wal and -shm beside it) or set daemon.data_dir",
        path.display(), path.display()
    )]
    NotWritable { path: PathBuf, detail: String },
    #[error(
        "store {}: cannot open it: too many open files ({detail}); the process or the system ran \
         out of file descriptors: raise the limit (LimitNOFILE= in the systemd unit, ulimit -n) \
         or find what holds them (ls /proc/PID/fd)",
        path.display()
    )]
    TooManyOpenFiles { path: PathBuf, detail: String },
    #[error(
        "store {}: disk full: {detail}; free space on its filesystem or move daemon.data_dir",
        path.display()
    )]
    DiskFull { path: PathBuf, detail: String },
    #[error(
        "store {} is locked by another connection: {detail}; stop the other netkpi or sqlite3 session writing to it",
        path.display()
    )]
    Busy { path: PathBuf, detail: String },
    #[error(
        "store {} has schema version {found}, newer than this netkpi {} knows ({known}); \
         run the netkpi release that wrote it, or point daemon.data_dir elsewhere",
        path.display(), env!("CARGO_PKG_VERSION")
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "store {} has schema version {found}, older than this netkpi's {known}; \
         start the daemon (netkpi run) once so it migrates the file",
        path.display()
    )]
    NotMigrated {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "store {} does not exist; start the daemon (netkpi run) first, or check daemon.data_dir",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error(
        "store {} {problem}; netkpi never takes over a file, it was left as it is: restore the \
         ledger from a backup (netkpi backup, see README \"Backup\") to that path, or move the \
         file away to start a new, empty ledger there",
        path.display()
    )]
    NotALedger {
        path: PathBuf,
        /// "is empty (0 bytes)", "is not an SQLite database", "is an SQLite
        /// database of another program (tables: ...)".
        problem: String,
    },
    #[error("store {} is damaged: {detail}; restore it from a backup", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("store {} was opened read-only and cannot {what}", path.display())]
    ReadOnly { path: PathBuf, what: &'static str },
    #[error("store {}: {what} failed: {error}", path.display())]
    Sqlite {
        path: PathBuf,
        what: &'static str,
        /// In the message, not chained as `source` (see `DataDir`).
        error: rusqlite::Error,
    },
}

impl StoreError {
    /// Sorts a SQLite failure into what an operator can act on.
    fn sqlite(path: &Path, what: &'static str, e: rusqlite::Error) -> StoreError {
        // First, before anything else can change it: the OS's reason for the
        // failed open(2), which SQLite does not pass on.
        let errno = std::io::Error::last_os_error();
        let path = path.to_path_buf();
        let detail = e.to_string();
        let cannot_open = matches!(
            e.sqlite_error_code(),
            Some(ffi::ErrorCode::CannotOpen | ffi::ErrorCode::SystemIoFailure)
        );
        if cannot_open && out_of_fds(&path, &errno) {
            let os =
                std::io::Error::from_raw_os_error(errno.raw_os_error().unwrap_or(libc::EMFILE));
            return StoreError::TooManyOpenFiles {
                path,
                detail: format!("{detail}: {os}"),
            };
        }
        match e.sqlite_error_code() {
            Some(
                ffi::ErrorCode::ReadOnly
                | ffi::ErrorCode::CannotOpen
                | ffi::ErrorCode::PermissionDenied,
            ) => StoreError::NotWritable { path, detail },
            Some(ffi::ErrorCode::DiskFull) => StoreError::DiskFull { path, detail },
            Some(ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked) => {
                StoreError::Busy { path, detail }
            }
            Some(ffi::ErrorCode::DatabaseCorrupt | ffi::ErrorCode::NotADatabase) => {
                StoreError::Corrupt { path, detail }
            }
            _ => StoreError::Sqlite {
                path,
                what,
                error: e,
            },
        }
    }
}

/// A connection to the ledger: the writer's (from [`Store::open`]) or a
/// reader's (from [`Store::open_reader`]).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
    /// The `daemon_runs` row of this process, once [`Store::record_run_start`] ran.
    run_id: Option<i64>,
    /// The writer's chain head, so a commit needs no query to find it;
    /// `None`: read it from the store at the next commit.
    chain: Option<chain::Head>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Every target's ledger over a period, keyed by (kind, name).
pub type Histories = BTreeMap<(TargetKind, String), Vec<(Timestamp, State)>>;

/// One run of the daemon, as recorded in `daemon_runs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonRun {
    pub id: i64,
    pub started: Timestamp,
    /// `None` while running, or when the run ended without a clean shutdown.
    pub stopped: Option<Timestamp>,
    pub version: String,
}

/// `ts` as the ledger will store it (whole milliseconds, rounded down), so a
/// value announced to readers equals the one they later read back.
pub fn ledger_precision(ts: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(ms_floor(ts)).unwrap_or(ts)
}

fn ms_floor(ts: Timestamp) -> i64 {
    // A Timestamp spans ±9999 years: its milliseconds always fit an i64.
    ts.as_nanosecond().div_euclid(1_000_000) as i64
}

fn ms_ceil(ts: Timestamp) -> i64 {
    -((-ts.as_nanosecond()).div_euclid(1_000_000) as i64)
}

impl Store {
    /// Opens (creating if needed) the ledger in `data_dir` for writing,
    /// migrating it to this binary's schema. Proves the directory and the
    /// file writable by committing a real write before returning.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let dir_err = |problem| {
            move |error| StoreError::DataDir {
                dir: data_dir.to_path_buf(),
                problem,
                error,
            }
        };
        if std::fs::metadata(data_dir).is_ok_and(|m| !m.is_dir()) {
            let source = std::io::Error::from_raw_os_error(libc::ENOTDIR);
            return Err(dir_err("is not a directory")(source));
        }
        std::fs::create_dir_all(data_dir).map_err(dir_err("cannot be created"))?;
        // SQLite only says "unable to open database file"; a plain file write
        // first gives the operator the OS's reason (EACCES, EROFS, ENOSPC).
        probe_dir_writable(data_dir).map_err(dir_err("is not writable"))?;

        let path = data_dir.join(DB_FILE);
        // A new ledger only where there is no file: an empty or foreign
        // file is never taken over (SQLite would happily turn a 0-byte file
        // into a fresh, empty database).
        let exists = check_is_ledger(&path)?;
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if !exists {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| StoreError::sqlite(&path, "open", e))?;
        let p = &path;
        let err = |what| move |e| StoreError::sqlite(p, what, e);
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(err("set busy_timeout"))?;
        // FULL: the WAL is synced at every commit, so a committed transition
        // survives power loss (NORMAL would only protect against a crash).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err("set synchronous=FULL"))?;

        let mut store = Store {
            conn,
            path: path.clone(),
            read_only: false,
            run_id: None,
            chain: None,
        };
        let found = store.schema_version()?;
        if found > schema::VERSION {
            return Err(StoreError::TooNew {
                path,
                found,
                known: schema::VERSION,
            });
        }
        store.migrate()?;

        let mode: String = store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| StoreError::sqlite(&path, "set journal_mode=WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWritable {
                path,
                detail: format!("journal_mode stayed {mode:?} instead of \"wal\""),
            });
        }
        store.chain =
            Some(chain::read_head(&store.conn).map_err(store.err("read the chain head"))?);
        Ok(store)
    }

    /// Opens the ledger read-only, for queries that run while the writer
    /// writes (reports, the HTTP API). Never creates or migrates the file.
    pub fn open_reader(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_file_reader(&data_dir.join(DB_FILE))
    }

    /// [`Store::open_reader`] for a store file by its path (a backup copy).
    pub fn open_file_reader(path: &Path) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        if !path.exists() {
            return Err(StoreError::Missing { path });
        }
        check_is_ledger(&path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| StoreError::sqlite(&path, "open read-only", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::sqlite(&path, "set busy_timeout", e))?;
        let store = Store {
            conn,
            path: path.clone(),
            read_only: true,
            run_id: None,
            chain: None,
        };
        let found = store.schema_version()?;
        if found > schema::VERSION {
            return Err(StoreError::TooNew {
                path,
                found,
                known: schema::VERSION,
            });
        }
        if found == 0 {
            check_holds_nothing(&store.conn, &path)?;
        }
        if found < schema::VERSION {
            return Err(StoreError::NotMigrated {
                path,
                found,
                known: schema::VERSION,
            });
        }
        Ok(store)
    }

    /// The database file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::sqlite(&self.path, what, e)
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(self.err("read the schema version"))
    }

    /// Applies the missing migrations and stamps `meta`, in one transaction:
    /// this commit is also the proof that the file is writable.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = &self.path;
        let err = |what| move |e| StoreError::sqlite(path, what, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("begin the schema transaction"))?;
        // Read again under the write lock: another process may have migrated.
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(err("read the schema version"))?;
        if found > schema::VERSION {
            return Err(StoreError::TooNew {
                path: path.clone(),
                found,
                known: schema::VERSION,
            });
        }
        if found == 0 {
            // Never netkpi's (its first commit sets the version): only an
            // SQLite file with nothing in it may become the ledger.
            check_holds_nothing(&tx, path)?;
        }
        let now_ms = ms_floor(Timestamp::now());
        for (from, sql) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql).map_err(err("migrate the schema"))?;
            tracing::info!(store = %path.display(), from, to = from + 1, "migrated the store schema");
            if from + 1 == figures::SINCE_VERSION {
                figures::genesis(&tx, now_ms).map_err(err("count the incidents already there"))?;
            }
            if from + 1 == chain::SINCE_VERSION {
                let chained =
                    chain::genesis(&tx, now_ms).map_err(err("chain the existing records"))?;
                let mut started = vec![("chain_started_ms", now_ms.to_string())];
                if found > 0 {
                    // Chained now, not as each was committed: verify says so.
                    started.push(("chain_genesis", chained.to_string()));
                    tracing::info!(
                        store = %path.display(),
                        records = chained,
                        "chained the records already in the store; changes made to them before now cannot be detected"
                    );
                }
                for (key, value) in started {
                    tx.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                        [key, value.as_str()],
                    )
                    .map_err(err("write meta"))?;
                }
            }
        }
        tx.pragma_update(None, "user_version", schema::VERSION)
            .map_err(err("set the schema version"))?;
        let now = now_ms.to_string();
        tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_ms', ?1)",
            [&now],
        )
        .map_err(err("write meta"))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('last_opened_ms', ?1), ('last_opened_by', ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [now.as_str(), env!("CARGO_PKG_VERSION")],
        )
        .map_err(err("write meta"))?;
        tx.commit().map_err(err("commit the schema transaction"))
    }

    fn check_writable(&self, what: &'static str) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
                what,
            });
        }
        Ok(())
    }

    /// The last heartbeat: the latest instant the daemon was known recording.
    pub fn last_heartbeat(&self) -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> = self
            .conn
            .query_row("SELECT at_ms FROM heartbeat WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(self.err("read the heartbeat"))?;
        ms.map(|ms| self.timestamp(ms, "heartbeat")).transpose()
    }

    /// Writes every transition of `batch`, in order, and the heartbeat if
    /// given, in one transaction: all of it is on disk, or none of it.
    pub fn append(
        &mut self,
        batch: &[Transition],
        heartbeat: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.append_with_tallies(batch, &Tallies::new(), heartbeat)
    }

    /// [`Store::append`], with the tallies of the targets it counts
    /// replaced in the same transaction.
    pub fn append_with_tallies(
        &mut self,
        batch: &[Transition],
        tallies: &Tallies,
        heartbeat: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.commit(&Commit {
            transitions: batch,
            tallies,
            heartbeat,
            ..Commit::default()
        })
    }

    /// [`Store::append_with_tallies`], with the incident changes those
    /// transitions (or an operator's request) made and the windows declared,
    /// in the same transaction.
    ///
    /// Every transition, incident event and window is chained (see
    /// `chain.rs`) in the same transaction.
    pub fn commit(&mut self, c: &Commit) -> Result<(), StoreError> {
        self.check_writable("append transitions")?;
        let result = self.write(c);
        // A failed commit appended nothing: the head is read again at the
        // next one (another connection may also have written meanwhile).
        self.chain = result.as_ref().ok().cloned();
        result.map(|_| ())
    }

    /// [`Store::commit`]'s transaction; returns the chain head after it.
    fn write(&mut self, c: &Commit) -> Result<chain::Head, StoreError> {
        let Commit {
            transitions: batch,
            tallies,
            incidents,
            windows,
            energy,
            heartbeat,
        } = *c;
        let path = &self.path;
        let err = |what| move |e| StoreError::sqlite(path, what, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("begin a write"))?;
        let head = match self.chain.take() {
            Some(head) => head,
            None => chain::read_head(&tx).map_err(err("read the chain head"))?,
        };
        let mut chain = chain::Appender::new(&tx, head, ms_floor(Timestamp::now()));
        {
            let mut insert = tx
                .prepare_cached(&chain::TRANSITIONS.insert_sql(false))
                .map_err(err("prepare the insert"))?;
            for t in batch {
                let values = [
                    chain::text(&t.target),
                    chain::text(t.kind.as_str()),
                    ValueRef::Integer(ms_floor(t.at)),
                    chain::text(t.state.as_str()),
                    chain::opt_text(t.cause.as_deref()),
                ];
                insert
                    .execute(params_from_iter(chain::bind(&values)))
                    .map_err(err("insert a transition"))?;
                chain
                    .append(
                        &chain::TRANSITIONS,
                        tx.last_insert_rowid(),
                        &values,
                        [].into_iter(),
                    )
                    .map_err(err("chain a transition"))?;
            }
        }
        if !tallies.is_empty() {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO tallies (kind, target, state, until_ms, up_ms, degraded_ms,
                                          down_ms, unknown_ms, maintenance_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (kind, target) DO UPDATE SET
                         state = excluded.state, until_ms = excluded.until_ms,
                         up_ms = excluded.up_ms, degraded_ms = excluded.degraded_ms,
                         down_ms = excluded.down_ms, unknown_ms = excluded.unknown_ms,
                         maintenance_ms = excluded.maintenance_ms",
                )
                .map_err(err("prepare the tallies"))?;
            for ((kind, target), t) in tallies {
                upsert
                    .execute(params![
                        kind.as_str(),
                        target,
                        t.state.as_str(),
                        ms_floor(t.until),
                        t.ms[0],
                        t.ms[1],
                        t.ms[2],
                        t.ms[3],
                        t.ms[4]
                    ])
                    .map_err(err("write a tally"))?;
            }
        }
        incidents::write_changes(&tx, &mut chain, incidents).map_err(err("write incidents"))?;
        maintenance::write_windows(&tx, &mut chain, windows)
            .map_err(err("write maintenance windows"))?;
        energy::write_days(&tx, energy).map_err(err("write energy"))?;
        if let Some(hb) = heartbeat {
            tx.execute(
                "INSERT INTO heartbeat (id, at_ms) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                [ms_floor(hb)],
            )
            .map_err(err("write the heartbeat"))?;
        }
        let head = chain.head();
        tx.commit().map_err(err("commit"))?;
        Ok(head)
    }

    /// The chain's head as stored: records chained, latest hash, and when
    /// the latest chained record was committed.
    pub fn ledger_head(&self) -> Result<LedgerHead, StoreError> {
        chain::ledger_head(&self.conn).map_err(self.err("read the chain head"))
    }

    /// Runs `read` inside one read transaction: every query it makes sees
    /// the same snapshot of the ledger, however much the daemon writes
    /// meanwhile (a report's figures and the chain head it names agree).
    pub fn snapshot<T>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err("begin a read"))?;
        let result = read(self);
        drop(tx);
        result
    }

    /// Recomputes the hash chain from the records and compares it with the
    /// stored one, in one read transaction (a consistent snapshot while
    /// the daemon writes). `expected`: heads copied elsewhere (from
    /// [`parse_head`]) the chain must pass through.
    pub fn verify(&self, expected: &[Vec<u8>]) -> Result<Verification, StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err("begin a read"))?;
        let result = chain::verify(&tx, expected).map_err(self.err("verify the chain"));
        drop(tx);
        result
    }

    /// Every target's stored tally (see [`Tally`]).
    pub fn tallies(&self) -> Result<Tallies, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT kind, target, state, until_ms, up_ms, degraded_ms, down_ms, unknown_ms,
                        maintenance_ms
                 FROM tallies",
            )
            .map_err(self.err("read the tallies"))?;
        type Row = (String, String, String, i64, [i64; 5]);
        let rows = stmt
            .query_map([], |r| -> rusqlite::Result<Row> {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
                ))
            })
            .map_err(self.err("read the tallies"))?;
        let mut out = Tallies::new();
        for row in rows {
            let (kind, target, state, until_ms, ms) = row.map_err(self.err("read the tallies"))?;
            // A row this binary cannot read counts nothing: the target's
            // tally is then rebuilt from its ledger.
            let (Some(kind), Some(state)) = (TargetKind::parse(&kind), State::parse(&state)) else {
                continue;
            };
            let until = self.timestamp(until_ms, "tally")?;
            out.insert((kind, target), Tally { state, until, ms });
        }
        Ok(out)
    }

    /// The last transition (by insertion order) of every (kind, target),
    /// ordered by kind then target.
    pub fn latest(&self) -> Result<Vec<Transition>, StoreError> {
        self.query_transitions(
            "SELECT id, target, kind, at_ms, state, cause FROM transitions
             WHERE id IN (SELECT MAX(id) FROM transitions GROUP BY kind, target)
             ORDER BY kind, target",
            [],
        )
    }

    /// The last `limit` transitions of one target, newest (last written)
    /// first: what `/api/v1/devices/{name}` and `/api/v1/lines/{id}` show.
    pub fn recent_transitions(
        &self,
        kind: TargetKind,
        target: &str,
        limit: usize,
    ) -> Result<Vec<Transition>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query_transitions(
            "SELECT id, target, kind, at_ms, state, cause FROM transitions
             WHERE kind = ?1 AND target = ?2 ORDER BY id DESC LIMIT ?3",
            rusqlite::params![kind.as_str(), target, limit],
        )
    }

    /// Every transition with `from <= at < to`, in insertion order.
    pub fn transitions(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Transition>, StoreError> {
        self.query_transitions(
            "SELECT id, target, kind, at_ms, state, cause FROM transitions
             WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY id",
            [ms_ceil(from), ms_ceil(to)],
        )
    }

    /// For every (kind, target), its ledger as needed to compute `[from, to)`:
    /// the last entry written with `at <= from` (the state at `from`), then
    /// every later-written entry with `from < at < to`, in insertion order.
    ///
    /// Insertion order, not `at` order: after the wall clock steps back, an
    /// entry written later may carry an earlier time, and it is still the
    /// newer word on the target's state. Entries written before the anchor
    /// are superseded by it, whatever their time.
    pub fn histories(&self, from: Timestamp, to: Timestamp) -> Result<Histories, StoreError> {
        if from >= to {
            return Ok(Histories::new());
        }
        let (from_ms, to_ms) = (ms_floor(from), ms_ceil(to));
        // One pass in insertion order over the anchors and the entries
        // after `from`: an anchor replaces whatever was collected for its
        // target before it (written earlier, so superseded by it). Nothing
        // is held but the result (at 100,000 targets, collecting the
        // anchors first held 20 MB more).
        let mut out = Histories::new();
        self.for_each_row(
            "SELECT id, target, kind, at_ms, state, cause FROM transitions
             WHERE id IN (SELECT MAX(id) FROM transitions WHERE at_ms <= ?1 GROUP BY kind, target)
             UNION ALL
             SELECT id, target, kind, at_ms, state, cause FROM transitions
             WHERE at_ms > ?1 AND at_ms < ?2
             ORDER BY id",
            [from_ms, to_ms],
            |_, t| {
                let entry = (t.at, t.state);
                if t.at.as_millisecond() <= from_ms {
                    out.insert((t.kind, t.target), vec![entry]);
                } else {
                    out.entry((t.kind, t.target)).or_default().push(entry);
                }
            },
        )?;
        Ok(out)
    }

    /// Records that a daemon run started; its stop is recorded by
    /// [`Store::record_run_stop`] (the writer thread does it at shutdown).
    pub fn record_run_start(
        &mut self,
        started: Timestamp,
        version: &str,
    ) -> Result<i64, StoreError> {
        self.check_writable("record a daemon run")?;
        self.conn
            .execute(
                "INSERT INTO daemon_runs (started_ms, version) VALUES (?1, ?2)",
                params![ms_floor(started), version],
            )
            .map_err(self.err("record the daemon run start"))?;
        let id = self.conn.last_insert_rowid();
        self.run_id = Some(id);
        Ok(id)
    }

    /// Records the stop of the run started by [`Store::record_run_start`] on
    /// this store; does nothing if none was started.
    pub fn record_run_stop(&mut self, stopped: Timestamp) -> Result<(), StoreError> {
        let Some(id) = self.run_id else {
            return Ok(());
        };
        self.check_writable("record a daemon run")?;
        self.conn
            .execute(
                "UPDATE daemon_runs SET stopped_ms = ?1 WHERE id = ?2",
                params![ms_floor(stopped), id],
            )
            .map_err(self.err("record the daemon run stop"))?;
        Ok(())
    }

    /// Every daemon run, oldest first.
    pub fn runs(&self) -> Result<Vec<DaemonRun>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, started_ms, stopped_ms, version FROM daemon_runs ORDER BY id")
            .map_err(self.err("read daemon runs"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(self.err("read daemon runs"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, started, stopped, version) = row.map_err(self.err("read daemon runs"))?;
            out.push(DaemonRun {
                id,
                started: self.timestamp(started, "daemon_runs.started_ms")?,
                stopped: stopped
                    .map(|ms| self.timestamp(ms, "daemon_runs.stopped_ms"))
                    .transpose()?,
                version,
            });
        }
        Ok(out)
    }

    /// Runs a query selecting `id, target, kind, at_ms, state, cause`.
    fn query_transitions<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Vec<Transition>, StoreError> {
        let mut out = Vec::new();
        self.for_each_row(sql, params, |_, t| out.push(t))?;
        Ok(out)
    }

    /// Runs a query selecting `id, target, kind, at_ms, state, cause` and
    /// hands each row to `each` as it is read.
    fn for_each_row<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        mut each: impl FnMut(i64, Transition),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(self.err("prepare a query"))?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(self.err("query transitions"))?;
        for row in rows {
            let (id, target, kind, at_ms, state, cause) =
                row.map_err(self.err("read a transition"))?;
            let corrupt = |detail: String| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("transitions row {id}: {detail}"),
            };
            let kind = TargetKind::parse(&kind)
                .ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?;
            let state =
                State::parse(&state).ok_or_else(|| corrupt(format!("unknown state {state:?}")))?;
            let at = Timestamp::from_millisecond(at_ms)
                .map_err(|e| corrupt(format!("at_ms {at_ms}: {e}")))?;
            each(
                id,
                Transition {
                    target,
                    kind,
                    at,
                    state,
                    cause,
                },
            );
        }
        Ok(())
    }

    fn timestamp(&self, ms: i64, column: &str) -> Result<Timestamp, StoreError> {
        Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            detail: format!("{column} {ms}: {e}"),
        })
    }
}

/// The first bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` exists (false: a new ledger may be created there); an
/// existing file must begin as an SQLite database does.
fn check_is_ledger(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        // Permissions and the like: SQLite's open reports them.
        Err(e) if out_of_fds(path, &e) => {
            return Err(StoreError::TooManyOpenFiles {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        }
        Err(_) => return Ok(true),
    };
    let mut head = Vec::with_capacity(SQLITE_HEADER.len());
    let read = Read::by_ref(&mut file)
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut head);
    let not_a_ledger = |problem: String| StoreError::NotALedger {
        path: path.to_path_buf(),
        problem,
    };
    match read {
        // A directory, an I/O error: SQLite's open says what it is.
        Err(_) => Ok(true),
        Ok(0) => Err(not_a_ledger("is empty (0 bytes)".into())),
        Ok(_) if head != SQLITE_HEADER => Err(not_a_ledger(
            "is not an SQLite database (it lacks the SQLite header)".into(),
        )),
        Ok(_) => Ok(true),
    }
}

/// Refuses an SQLite database at `path` that netkpi never initialised
/// (`user_version` 0) but that holds tables, views or the like: another
/// program's file, never to be migrated into a ledger.
fn check_holds_nothing(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    /// Names listed in the message; the rest are counted.
    const SHOWN: usize = 8;
    let names = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
             ORDER BY type <> 'table', name",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| StoreError::sqlite(path, "read the schema", e))?;
    if names.is_empty() {
        return Ok(());
    }
    let mut listed: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|name| {
            // Another program's names: short and printable in a log line.
            let mut shown: String = name.chars().take(64).flat_map(char::escape_debug).collect();
            if name.chars().count() > 64 {
                shown.push('…');
            }
            shown
        })
        .collect();
    if names.len() > SHOWN {
        listed.push(format!("and {} more", names.len() - SHOWN));
    }
    Err(StoreError::NotALedger {
        path: path.to_path_buf(),
        problem: format!(
            "is an SQLite database of another program (tables: {})",
            listed.join(", ")
        ),
    })
}

/// Whether a failed open of `path` was for want of a file descriptor: the
/// errno SQLite's open(2) left behind says so, or opening the file now fails
/// that way (never to be mistaken for a permission problem).
fn out_of_fds(path: &Path, errno: &std::io::Error) -> bool {
    let is_fds = |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
    is_fds(errno) || std::fs::File::open(path).is_err_and(|e| is_fds(&e))
}

/// Creates, writes, syncs and removes a small file in `dir`.
fn probe_dir_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(".netkpi-write-probe");
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .and_then(|mut f| {
            f.write_all(b"netkpi\n")?;
            f.sync_all()
        });
    let removed = std::fs::remove_file(&probe);
    result.and(removed)
}

#[cfg(test)]
mod tests;
