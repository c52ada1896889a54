//! The hash chain over the ledger's records, and its verification
//! (`netkpi verify`).
//!
//! Every record the figures are computed from gets one row in `chain`, in
//! the same transaction that writes it, in commit order: a transition
//! (`transitions`), an incident as it opens (`incidents`: the columns fixed
//! then, which no event repeats: what failed, its severity and the deadlines
//! it is judged by), an incident event (`incident_events`) and a planned
//! window declared through the API (`maintenance_windows`, with its
//! `maintenance_targets`). Each row holds SHA-256 of the previous row's
//! hash, the record and its commit time, so changing, removing or slipping in a record anywhere
//! breaks every hash after it. Recomputing a chain from scratch is always
//! possible for whoever holds the file; what makes a rewrite show is the
//! head (record count and latest hash) copied where the operator does not
//! write: the `netkpi_ledger_head_info` metric kept by Prometheus, the
//! hourly `ledger head` log line kept by the log shipper, and
//! `GET /api/v1/ledger/head`.
//!
//! Not chained, because the figures are not read from them or they are
//! rebuilt from what is: the other columns of `incidents` (acknowledged,
//! restored, flaps, root, cause, planned: folded from its chained events in
//! the same transaction; `netkpi verify` folds the events again and names
//! the first incident whose row differs (`replay.rs`); planned from the
//! start is the text of its `opened` event), the `missed` column of
//! `incidents` (which deadlines the metrics' running totals count, judged
//! at each commit; not checked), `tallies` (running totals rebuilt from the
//! transitions), `heartbeat` and `meta` (operational), and `daemon_runs`
//! (the figures never read it: a stop is recorded as `unknown` transitions
//! with cause `daemon_stopped`, and a crash as the gap closed at the next
//! start, both chained; and its row is rewritten at the stop).
//!
//! # Canonical encoding
//!
//! Written out so that an auditor can re-implement it (`‖` concatenates):
//!
//! ```text
//! hash_0 = 32 zero bytes
//! hash_n = SHA-256(hash_(n-1) ‖ record_n ‖ INTEGER(committed_ms_n))
//!
//! record = TEXT(table) ‖ INTEGER(rowid) ‖ value(column_1) ‖ … ‖ value(column_k)
//!          and for maintenance_windows also
//!          ‖ INTEGER(m) ‖ value(target_1) ‖ … ‖ value(target_m)
//!            (the window's maintenance_targets.target values, in rowid order)
//!
//! value  = 0x00                                          NULL
//!        | 0x01 ‖ 8 bytes, big-endian two's complement   INTEGER
//!        | 0x02 ‖ 8 bytes, big-endian IEEE 754 bits     REAL
//!        | 0x03 ‖ 8-byte big-endian length ‖ bytes      TEXT (UTF-8 as stored)
//!        | 0x04 ‖ 8-byte big-endian length ‖ bytes      BLOB
//!
//! columns, in this order:
//!   transitions          target, kind, at_ms, state, cause
//!   incidents            kind, target, alarm, severity, opened_ms,
//!                        respond_within_ms, restore_within_ms
//!   incident_events      incident, at_ms, event, by, text, root_id, cause
//!   maintenance_windows  created_ms, created_by, reason, start_ms, end_ms
//! ```
//!
//! `table` is the table's name (`transitions`, ...), `rowid` its `id`
//! column, `committed_ms` the commit's time in milliseconds since the Unix
//! epoch (the `chain.committed_ms` column) and `n` the `chain.seq` column,
//! from 1 without gaps. Values are encoded as SQLite stores them (their
//! storage class), so every row in the file has exactly one encoding.
//!
//! A store created before the chain existed (schema v4 or older) has its
//! records chained when it is migrated, table by table in the order above
//! and each in rowid order, all with the migration's time; `meta` then
//! holds `chain_started_ms` and `chain_genesis` (how many records were
//! chained that way), and `netkpi verify` says so.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Rows, Statement};
use sha2::{Digest, Sha256};

/// The schema version whose migration created the chain.
pub(super) const SINCE_VERSION: usize = 5;

/// The hash before the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// A chained table.
#[derive(Debug)]
pub(super) struct Source {
    pub(super) table: &'static str,
    /// The columns of a record, in encoding order (the rowid comes first).
    pub(super) columns: &'static [&'static str],
    /// Whether its `maintenance_targets` rows are part of the record.
    with_targets: bool,
}

pub(super) const TRANSITIONS: Source = Source {
    table: "transitions",
    columns: &["target", "kind", "at_ms", "state", "cause"],
    with_targets: false,
};

/// The columns of an incident fixed when it opens (never updated).
pub(super) const INCIDENTS: Source = Source {
    table: "incidents",
    columns: &[
        "kind",
        "target",
        "alarm",
        "severity",
        "opened_ms",
        "respond_within_ms",
        "restore_within_ms",
    ],
    with_targets: false,
};

pub(super) const INCIDENT_EVENTS: Source = Source {
    table: "incident_events",
    columns: &[
        "incident", "at_ms", "event", "by", "text", "root_id", "cause",
    ],
    with_targets: false,
};

pub(super) const MAINTENANCE_WINDOWS: Source = Source {
    table: "maintenance_windows",
    columns: &["created_ms", "created_by", "reason", "start_ms", "end_ms"],
    with_targets: true,
};

/// Every chained table, in the order a migration chains existing rows.
pub(super) const SOURCES: [&Source; 4] = [
    &TRANSITIONS,
    &INCIDENTS,
    &INCIDENT_EVENTS,
    &MAINTENANCE_WINDOWS,
];

impl Source {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `INSERT INTO table (columns) VALUES (?1, ...)`, the values in the
    /// order of [`Source::columns`]; with `with_id`, `id` is given first.
    pub(super) fn insert_sql(&self, with_id: bool) -> String {
        self.insert_sql_with(with_id, &[])
    }

    /// [`Source::insert_sql`] with columns not chained after the chained ones.
    pub(super) fn insert_sql_with(&self, with_id: bool, others: &[&str]) -> String {
        let n = self.columns.len() + with_id as usize + others.len();
        let placeholders: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
        let others: String = others.iter().map(|c| format!(", \"{c}\"")).collect();
        format!(
            "INSERT INTO {} ({}{}{others}) VALUES ({})",
            self.table,
            if with_id { "id, " } else { "" },
            self.column_list(),
            placeholders.join(", ")
        )
    }

    fn select_sql(&self) -> String {
        format!(
            "SELECT id, {} FROM {} ORDER BY id",
            self.column_list(),
            self.table
        )
    }

    fn by_name(name: &[u8]) -> Option<&'static Source> {
        SOURCES.into_iter().find(|s| s.table.as_bytes() == name)
    }
}

/// Parameters for a statement from values as they will be stored.
pub(super) fn bind<'a>(values: &'a [ValueRef<'a>]) -> impl Iterator<Item = ToSqlOutput<'a>> {
    values.iter().map(|v| ToSqlOutput::Borrowed(*v))
}

pub(super) fn text(s: &str) -> ValueRef<'_> {
    ValueRef::Text(s.as_bytes())
}

pub(super) fn opt_text(s: Option<&str>) -> ValueRef<'_> {
    s.map_or(ValueRef::Null, text)
}

pub(super) fn opt_int(i: Option<i64>) -> ValueRef<'static> {
    i.map_or(ValueRef::Null, ValueRef::Integer)
}

fn put_value(buf: &mut Vec<u8>, v: ValueRef<'_>) {
    let mut put_bytes = |tag: u8, bytes: &[u8]| {
        buf.push(tag);
        buf.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    match v {
        ValueRef::Null => buf.push(0x00),
        ValueRef::Integer(i) => {
            buf.push(0x01);
            buf.extend_from_slice(&i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            buf.push(0x02);
            buf.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => put_bytes(0x03, t),
        ValueRef::Blob(b) => put_bytes(0x04, b),
    }
}

/// The start of a record: its table and rowid.
fn put_header(buf: &mut Vec<u8>, source: &Source, rowid: i64) {
    buf.clear();
    put_value(buf, text(source.table));
    put_value(buf, ValueRef::Integer(rowid));
}

/// The end of a window's record: its targets.
fn put_targets<'v>(buf: &mut Vec<u8>, targets: impl ExactSizeIterator<Item = ValueRef<'v>>) {
    put_value(buf, ValueRef::Integer(targets.len() as i64));
    for t in targets {
        put_value(buf, t);
    }
}

/// hash_n from hash_(n-1), record_n and its commit time.
fn link(prev: &[u8], record: &[u8], committed_ms: i64) -> [u8; 32] {
    let mut time = Vec::with_capacity(9);
    put_value(&mut time, ValueRef::Integer(committed_ms));
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record);
    h.update(&time);
    h.finalize().into()
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The latest chain row, as the writer continues from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Head {
    /// Its `seq` (0: nothing chained yet).
    pub(super) seq: i64,
    /// Its hash as stored (any length: a damaged head is continued from
    /// as it is, and `netkpi verify` reports it; recording never stops).
    pub(super) hash: Vec<u8>,
    pub(super) committed_ms: Option<i64>,
}

impl Head {
    fn empty() -> Head {
        Head {
            seq: 0,
            hash: GENESIS.to_vec(),
            committed_ms: None,
        }
    }
}

pub(super) fn read_head(conn: &Connection) -> rusqlite::Result<Head> {
    let head = conn
        .query_row(
            "SELECT seq, hash, committed_ms FROM chain ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                let hash = match r.get_ref(1)? {
                    ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                Ok(Head {
                    seq: r.get(0)?,
                    hash,
                    committed_ms: r.get::<_, Option<i64>>(2).ok().flatten(),
                })
            },
        )
        .optional()?;
    Ok(head.unwrap_or_else(Head::empty))
}

/// Appends chain rows inside the transaction that writes their records.
pub(super) struct Appender<'c> {
    conn: &'c Connection,
    head: Head,
    committed_ms: i64,
    buf: Vec<u8>,
}

impl<'c> Appender<'c> {
    pub(super) fn new(conn: &'c Connection, head: Head, committed_ms: i64) -> Appender<'c> {
        Appender {
            conn,
            head,
            committed_ms,
            buf: Vec::with_capacity(256),
        }
    }

    /// Chains the record just written as `rowid` of `source` with `values`
    /// (in the order of its columns) and, for a window, its `targets`.
    pub(super) fn append<'v>(
        &mut self,
        source: &Source,
        rowid: i64,
        values: &[ValueRef<'_>],
        targets: impl ExactSizeIterator<Item = ValueRef<'v>>,
    ) -> rusqlite::Result<()> {
        debug_assert_eq!(values.len(), source.columns.len());
        put_header(&mut self.buf, source, rowid);
        for v in values {
            put_value(&mut self.buf, *v);
        }
        if source.with_targets {
            put_targets(&mut self.buf, targets);
        }
        self.link(source, rowid)
    }

    fn link(&mut self, source: &Source, rowid: i64) -> rusqlite::Result<()> {
        let hash = link(&self.head.hash, &self.buf, self.committed_ms);
        let seq = self.head.seq + 1;
        self.conn
            .prepare_cached(
                "INSERT INTO chain (seq, source, ref, committed_ms, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![seq, source.table, rowid, self.committed_ms, &hash[..]])?;
        self.head = Head {
            seq,
            hash: hash.to_vec(),
            committed_ms: Some(self.committed_ms),
        };
        Ok(())
    }

    /// The head after everything appended (in force once committed).
    pub(super) fn head(self) -> Head {
        self.head
    }
}

/// Each window's `maintenance_targets` values in rowid order, and the
/// rowids of rows whose `window` is not an integer.
type Targets = (BTreeMap<i64, Vec<Value>>, Vec<i64>);

fn load_targets(conn: &Connection) -> rusqlite::Result<Targets> {
    let mut by_window: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    let mut odd = Vec::new();
    let mut stmt =
        conn.prepare("SELECT rowid, \"window\", target FROM maintenance_targets ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        match row.get_ref(1)? {
            ValueRef::Integer(w) => by_window.entry(w).or_default().push(row.get(2)?),
            _ => odd.push(row.get(0)?),
        }
    }
    Ok((by_window, odd))
}

/// Chains the records already in the store, at the migration that creates
/// the chain: table by table, each in rowid order. Returns how many.
pub(super) fn genesis(conn: &Connection, committed_ms: i64) -> rusqlite::Result<u64> {
    let (mut targets, _) = load_targets(conn)?;
    let mut app = Appender::new(conn, read_head(conn)?, committed_ms);
    let mut chained = 0;
    for source in SOURCES {
        let mut stmt = conn.prepare(&source.select_sql())?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            put_header(&mut app.buf, source, rowid);
            for i in 1..=source.columns.len() {
                put_value(&mut app.buf, row.get_ref(i)?);
            }
            if source.with_targets {
                let mine = targets.remove(&rowid).unwrap_or_default();
                put_targets(&mut app.buf, mine.iter().map(ValueRef::from));
            }
            app.link(source, rowid)?;
            chained += 1;
        }
    }
    Ok(chained)
}

/// The chain's head as stored: what `GET /api/v1/ledger/head`, the metrics
/// and the hourly log line copy elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerHead {
    /// Chained records (the head's `seq`).
    pub records: u64,
    pub hash: Vec<u8>,
    /// When the latest chained record was committed (`None`: none yet).
    pub at: Option<Timestamp>,
}

impl LedgerHead {
    pub fn hex(&self) -> String {
        hex(&self.hash)
    }
}

pub(super) fn ledger_head(conn: &Connection) -> rusqlite::Result<LedgerHead> {
    let head = read_head(conn)?;
    Ok(LedgerHead {
        records: head.seq.max(0) as u64,
        hash: head.hash,
        at: head
            .committed_ms
            .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
    })
}

/// How the chain began, when the store existed before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// When the migration chained the records already there.
    pub at: Option<Timestamp>,
    /// How many records it chained that way (the first ones of the chain).
    pub records: u64,
}

/// A head copied elsewhere that the recomputed chain passes through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadSeen {
    /// The hex given (a prefix of the hash, 16 to 64 digits).
    pub hex: String,
    /// The chain record whose hash it is.
    pub record: u64,
}

/// The result of recomputing the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every record matches its chain row and every row of the chained
    /// tables has one.
    Intact {
        records: u64,
        head: Vec<u8>,
        at: Option<Timestamp>,
        genesis: Option<Genesis>,
        seen: Vec<HeadSeen>,
    },
    /// The first problem found, in chain order, and how many records
    /// before it were intact.
    Altered { problem: String, intact: u64 },
}

/// Parses a head copied elsewhere (the metric's 16 hex digits or the
/// whole hash) into bytes.
pub fn parse_head(hex: &str) -> Result<Vec<u8>, String> {
    let hex = hex.trim();
    if !(16..=64).contains(&hex.len()) || hex.len() % 2 != 0 {
        return Err(format!(
            "head {hex:?}: give 16 to 64 hexadecimal digits, an even number"
        ));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16)
                .map_err(|_| format!("head {hex:?} is not hexadecimal"))
        })
        .collect()
}

/// One chained table read in rowid order alongside the chain.
struct Cursor<'s> {
    source: &'static Source,
    rows: Rows<'s>,
    /// The rowid of the next row not yet matched to a chain row, whose
    /// record is in `record`.
    next: Option<i64>,
    record: Vec<u8>,
    /// The ref of the last chain row on this table.
    last_ref: Option<i64>,
}

impl<'s> Cursor<'s> {
    fn new(stmt: &'s mut Statement<'_>, source: &'static Source) -> rusqlite::Result<Cursor<'s>> {
        Ok(Cursor {
            source,
            rows: stmt.query([])?,
            next: None,
            record: Vec::with_capacity(256),
            last_ref: None,
        })
    }

    fn advance(&mut self, targets: &mut BTreeMap<i64, Vec<Value>>) -> rusqlite::Result<()> {
        let Some(row) = self.rows.next()? else {
            self.next = None;
            return Ok(());
        };
        let rowid: i64 = row.get(0)?;
        put_header(&mut self.record, self.source, rowid);
        for i in 1..=self.source.columns.len() {
            put_value(&mut self.record, row.get_ref(i)?);
        }
        if self.source.with_targets {
            let mine = targets.remove(&rowid).unwrap_or_default();
            put_targets(&mut self.record, mine.iter().map(ValueRef::from));
        }
        self.next = Some(rowid);
        Ok(())
    }
}

fn time(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

/// A row's content in words, for a message; `None` when it is gone.
fn describe(conn: &Connection, source: &Source, rowid: i64) -> rusqlite::Result<Option<String>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE id = ?1",
        source.column_list(),
        source.table
    );
    conn.query_row(&sql, [rowid], |r| {
        let word = |i: usize| -> String {
            match r.get_ref(i) {
                Ok(ValueRef::Null) => "-".into(),
                Ok(ValueRef::Integer(v)) => v.to_string(),
                Ok(ValueRef::Real(v)) => v.to_string(),
                Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                Ok(ValueRef::Blob(b)) => format!("x'{}'", hex(b)),
                Err(_) => "?".into(),
            }
        };
        let at = |i: usize| match r.get_ref(i) {
            Ok(ValueRef::Integer(ms)) => time(ms),
            _ => word(i),
        };
        Ok(match source.table {
            "transitions" => format!("{} {} at {}", word(0), word(3), at(2)),
            "incidents" => format!("{} {}, {}, opened at {}", word(0), word(1), word(3), at(4)),
            "incident_events" => format!("incident {} {} at {}", word(0), word(2), at(1)),
            _ => format!(
                "window by {} from {} to {}: {}",
                word(1),
                at(3),
                at(4),
                word(2)
            ),
        })
    })
    .optional()
}

/// The record a chain row names, in words: `transitions row 12 (L-001 down at ...)`.
fn named(conn: &Connection, source: &Source, rowid: i64) -> rusqlite::Result<String> {
    Ok(match describe(conn, source, rowid)? {
        Some(what) => format!("{} row {rowid} ({what})", source.table),
        None => format!("{} row {rowid}", source.table),
    })
}

/// A record whose recomputed hash differs from its chain row's, waiting
/// for the next row to tell which of the two changed.
struct Suspect {
    seq: i64,
    source: &'static Source,
    rowid: i64,
}

/// Recomputes the chain from the records, streaming each chained table in
/// rowid order alongside `chain` in seq order (no query per record), and
/// compares. `expected`: heads copied elsewhere that the chain must pass
/// through (from [`parse_head`]). Run it inside a read transaction for a
/// consistent snapshot.
pub(super) fn verify(conn: &Connection, expected: &[Vec<u8>]) -> rusqlite::Result<Verification> {
    let (mut targets, odd_targets) = load_targets(conn)?;
    let mut stmts = SOURCES
        .iter()
        .map(|s| conn.prepare(&s.select_sql()))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut cursors = Vec::with_capacity(SOURCES.len());
    for (stmt, source) in stmts.iter_mut().zip(SOURCES) {
        let mut cursor = Cursor::new(stmt, source)?;
        cursor.advance(&mut targets)?;
        cursors.push(cursor);
    }
    let mut chain =
        conn.prepare("SELECT seq, source, ref, committed_ms, hash FROM chain ORDER BY seq")?;
    let mut rows = chain.query([])?;

    let mut prev = GENESIS.to_vec();
    let mut last_seq: i64 = 0;
    let mut intact: u64 = 0;
    let mut head_at = None;
    let mut suspect: Option<Suspect> = None;
    let mut seen: Vec<Option<u64>> = vec![None; expected.len()];
    let altered = |problem: String, intact: u64| Verification::Altered { problem, intact };
    // The first problem in chain order: a record left suspect by the row
    // before comes first, and is then ambiguous (record or chain row).
    let ambiguous = |s: &Suspect| -> rusqlite::Result<String> {
        Ok(format!(
            "{} or its chain record {} was altered: they no longer match",
            named(conn, s.source, s.rowid)?,
            s.seq
        ))
    };

    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let expected_seq = last_seq + 1;
        let mut problem = None;
        if seq != expected_seq {
            problem = Some(if seq == expected_seq + 1 {
                format!("chain record {expected_seq} was removed")
            } else {
                format!("chain records {expected_seq} to {} were removed", seq - 1)
            });
        }
        let entry = (
            row.get_ref(1)?,
            row.get_ref(2)?,
            row.get_ref(3)?,
            row.get_ref(4)?,
        );
        let (source, rowid, committed_ms, stored) = match entry {
            (
                ValueRef::Text(name),
                ValueRef::Integer(r),
                ValueRef::Integer(c),
                ValueRef::Blob(h),
            ) => match Source::by_name(name) {
                Some(s) => (s, r, c, h),
                None => {
                    let p = format!(
                        "chain record {seq} was altered: it names {:?}, not a chained table",
                        String::from_utf8_lossy(name)
                    );
                    return Ok(altered(problem.unwrap_or(p), intact));
                }
            },
            _ => {
                let p =
                    format!("chain record {seq} was altered: its columns are not of their types");
                return Ok(altered(problem.unwrap_or(p), intact));
            }
        };
        let cursor = cursors
            .iter_mut()
            .find(|c| std::ptr::eq(c.source, source))
            .expect("a cursor per source");
        if problem.is_none() && cursor.last_ref.is_some_and(|last| rowid <= last) {
            problem = Some(format!(
                "chain record {seq} was altered: it names {} row {rowid} again or out of order",
                source.table
            ));
        }
        if problem.is_none() {
            if let Some(next) = cursor.next.filter(|&next| next < rowid) {
                problem = Some(format!(
                    "{} has no chain record: it was inserted, or its chain record removed",
                    named(conn, source, next)?
                ));
            } else if cursor.next != Some(rowid) {
                problem = Some(format!(
                    "{} row {rowid}, chained as record {seq} (committed {}), was deleted",
                    source.table,
                    time(committed_ms)
                ));
            }
        }
        if let Some(p) = problem {
            let p = match &suspect {
                Some(s) => ambiguous(s)?,
                None => p,
            };
            return Ok(altered(p, intact));
        }
        let computed = link(&prev, &cursor.record, committed_ms);
        if let Some(s) = suspect.take() {
            let p = if computed[..] == *stored {
                format!(
                    "{} was altered: it no longer matches its chain record {}",
                    named(conn, s.source, s.rowid)?,
                    s.seq
                )
            } else {
                format!(
                    "chain record {} (for {} row {}) was altered: its hash does not follow from the records",
                    s.seq, s.source.table, s.rowid
                )
            };
            return Ok(altered(p, intact));
        }
        if computed[..] != *stored {
            suspect = Some(Suspect { seq, source, rowid });
        } else {
            intact += 1;
            for (want, slot) in expected.iter().zip(&mut seen) {
                if slot.is_none() && computed.starts_with(want) {
                    *slot = Some(seq as u64);
                }
            }
        }
        last_seq = seq;
        prev.clear();
        prev.extend_from_slice(stored);
        head_at = Timestamp::from_millisecond(committed_ms).ok();
        cursor.last_ref = Some(rowid);
        cursor.advance(&mut targets)?;
    }
    if let Some(s) = &suspect {
        return Ok(altered(ambiguous(s)?, intact));
    }
    for cursor in &cursors {
        if let Some(next) = cursor.next {
            let p = format!(
                "{} has no chain record: it was inserted, or its chain record removed",
                named(conn, cursor.source, next)?
            );
            return Ok(altered(p, intact));
        }
    }
    if let Some((window, _)) = targets.iter().next() {
        return Ok(altered(
            format!("maintenance_targets rows for window {window} were inserted: no such window is chained"),
            intact,
        ));
    }
    if let Some(rowid) = odd_targets.first() {
        return Ok(altered(
            format!("maintenance_targets row {rowid} was altered: its window is not a window id"),
            intact,
        ));
    }
    let meta = |key: &str| -> rusqlite::Result<Option<i64>> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        })
        .optional()
        .map(|v| v.and_then(|v| v.parse().ok()))
    };
    let genesis_records = meta("chain_genesis")?.filter(|&n| n > 0);
    let pre_chain_last: Option<i64> = match genesis_records {
        Some(n) => conn.query_row(
            "SELECT MAX(ref) FROM chain WHERE source = 'incidents' AND seq <= ?1",
            [n],
            |r| r.get(0),
        )?,
        None => None,
    };
    if let Some(p) = replay::incidents(conn, pre_chain_last)? {
        return Ok(altered(p, intact));
    }
    for (want, slot) in expected.iter().zip(&seen) {
        if slot.is_none() {
            return Ok(altered(
                format!(
                    "the recomputed chain never had head {}: the ledger was rewritten since that head was copied, or the head is another ledger's",
                    hex(want)
                ),
                intact,
            ));
        }
    }
    let genesis = match genesis_records {
        Some(n) => Some(Genesis {
            at: meta("chain_started_ms")?.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
            records: n as u64,
        }),
        _ => None,
    };
    Ok(Verification::Intact {
        records: intact,
        head: prev,
        at: head_at,
        genesis,
        seen: expected
            .iter()
            .zip(seen)
            .map(|(want, record)| HeadSeen {
                hex: hex(want),
                record: record.unwrap_or(0),
            })
            .collect(),
    })
}

mod replay;

#[cfg(test)]
mod tests;
