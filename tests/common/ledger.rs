//! Reading the ledger file directly, as an auditor's copy of it would be
//! read: the rows in the order they were written.

use std::path::Path;

use jiff::Timestamp;

/// One row of the ledger as the store holds it.
#[derive(Debug, Clone)]
pub struct Row {
    pub at: Timestamp,
    pub state: String,
    pub cause: Option<String>,
}

/// `target`'s ledger rows in the order they were written, from the store in
/// `data_dir` (opened read-only, beside a running daemon or after it).
pub fn ledger_rows(data_dir: &Path, target: &str) -> Vec<Row> {
    let db = rusqlite::Connection::open_with_flags(
        data_dir.join("netkpi.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the ledger read-only");
    let mut stmt = db
        .prepare("SELECT at_ms, state, cause FROM transitions WHERE target = ?1 ORDER BY id")
        .expect("query the ledger");
    stmt.query_map([target], |r| {
        Ok(Row {
            at: Timestamp::from_millisecond(r.get(0)?).expect("a valid stamp"),
            state: r.get(1)?,
            cause: r.get(2)?,
        })
    })
    .expect("read the ledger")
    .map(|r| r.expect("a ledger row"))
    .collect()
}

/// Seconds from `a` to `b` (negative when `b` is earlier).
pub fn seconds_between(a: Timestamp, b: Timestamp) -> f64 {
    b.duration_since(a).as_secs_f64()
}
