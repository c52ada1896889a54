//! `netkpi backup`: a consistent copy of the ledger while the daemon runs.
//!
//! SQLite's online backup API copies every page in one step, inside one read
//! transaction of a read-only connection: in WAL mode that is a snapshot of
//! the last commit before it began, and the writer is never blocked. The
//! copy goes to a temporary file beside the target, is checked
//! (`PRAGMA integrity_check`), synced, renamed over the target and the
//! directory synced: the target is the previous backup or the new one,
//! whole, never a part.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError};

/// How often a step that found the source busy is retried.
const BUSY_RETRIES: u32 = 50;
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub transitions: i64,
    /// The newest transition in the copy, if any.
    pub latest: Option<Timestamp>,
}

/// Copies the ledger of `data_dir` to `out` (replacing a previous backup
/// there). `out`'s directory must exist.
pub fn backup(data_dir: &Path, out: &Path) -> Result<BackupReport, StoreError> {
    let msg = |m: String| StoreError::Message(m);
    let source = Store::open_reader(data_dir)?;
    if out.is_dir() {
        return Err(msg(format!(
            "backup target {} is a directory; give a file name (e.g. {}/netkpi.sqlite)",
            out.display(),
            out.display()
        )));
    }
    let name = out
        .file_name()
        .ok_or_else(|| msg(format!("backup target {} has no file name", out.display())))?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let same = out.canonicalize().ok();
    if same.is_some() && same == source.path().canonicalize().ok() {
        return Err(msg(format!(
            "backup target {} is the store itself",
            out.display()
        )));
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = write_copy(&source, &tmp).and_then(|report| {
        std::fs::rename(&tmp, out).map_err(|e| {
            msg(format!(
                "cannot rename {} to {}: {e}",
                tmp.display(),
                out.display()
            ))
        })?;
        // The rename is durable once the directory is synced.
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| msg(format!("cannot sync directory {}: {e}", dir.display())))?;
        Ok(BackupReport {
            path: out.to_path_buf(),
            ..report
        })
    });
    if result.is_err() {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = tmp.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
    result
}

/// Writes the copy to `tmp`, checks and syncs it.
fn write_copy(source: &Store, tmp: &Path) -> Result<BackupReport, StoreError> {
    let err = |what| move |e| StoreError::sqlite(tmp, what, e);
    let _ = std::fs::remove_file(tmp);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut copy =
        Connection::open_with_flags(tmp, flags).map_err(err("create the backup file"))?;
    {
        let backup = Backup::new(&source.conn, &mut copy).map_err(err("start the backup"))?;
        let mut busy = 0;
        loop {
            // -1: every page in one step, so one consistent snapshot.
            match backup.step(-1).map_err(err("copy the pages"))? {
                StepResult::Done => break,
                StepResult::More => {}
                _ => {
                    busy += 1;
                    if busy > BUSY_RETRIES {
                        return Err(StoreError::Busy {
                            path: source.path.clone(),
                            detail: format!("still busy after {BUSY_RETRIES} tries"),
                        });
                    }
                    std::thread::sleep(BUSY_PAUSE);
                }
            }
        }
    }
    // A plain rollback-journal file: one self-contained file to keep or copy
    // back (the daemon turns WAL on again when it opens it).
    copy.pragma_update(None, "journal_mode", "DELETE")
        .map_err(err("set journal_mode=DELETE"))?;
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(err("check the copy"))?;
    if check != "ok" {
        return Err(StoreError::Corrupt {
            path: tmp.to_path_buf(),
            detail: format!("integrity_check of the copy: {check}"),
        });
    }
    let (transitions, latest_ms): (i64, Option<i64>) = copy
        .query_row("SELECT COUNT(*), MAX(at_ms) FROM transitions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(err("count the transitions"))?;
    copy.close().map_err(|(_, e)| err("close the copy")(e))?;
    let file = std::fs::File::open(tmp).map_err(|e| {
        StoreError::Message(format!("cannot open {} to sync it: {e}", tmp.display()))
    })?;
    file.sync_all()
        .map_err(|e| StoreError::Message(format!("cannot sync {}: {e}", tmp.display())))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        path: tmp.to_path_buf(),
        bytes,
        transitions,
        latest: latest_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()),
    })
}
