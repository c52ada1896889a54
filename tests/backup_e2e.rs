//! `netkpi backup` while the daemon writes: the real binary in a private
//! network namespace, two devices made to flap with nftables so the ledger
//! takes a burst of transitions, a backup taken in the middle of it.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{listen, netkpi_bin, write_lab_config, Daemon, NetNs};
use rusqlite::{Connection, OpenFlags};

type Row = (i64, String, String, i64, String, Option<String>);

fn rows(db: &Path) -> Vec<Row> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy_timeout");
    let mut stmt = conn
        .prepare("SELECT id, target, kind, at_ms, state, cause FROM transitions ORDER BY id")
        .expect("prepare");
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("read rows")
}

fn downs(rows: &[Row]) -> usize {
    rows.iter().filter(|r| r.4 == "down").count()
}

#[test]
fn a_backup_taken_during_a_burst_holds_every_committed_transition() {
    let ns = Arc::new(NetNs::new());
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    let db = dir.path().join("data").join("netkpi.sqlite");
    let out_dir = dir.path().join("backups");
    std::fs::create_dir(&out_dir).expect("mkdir backups");
    let out = out_dir.join("netkpi-backup.sqlite");

    // Flap acc-001 and acc-002 (down after 2 rounds of 1 s, up after 2):
    // every ~2.5 s each goes down or up, with its line.
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let (ns, stop) = (ns.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut down = false;
            for _ in 0..40 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                for addr in ["127.0.20.1", "127.0.20.2"] {
                    if down {
                        ns.bring_up(addr);
                    } else {
                        ns.take_down(addr);
                    }
                }
                down = !down;
                std::thread::sleep(Duration::from_millis(2500));
            }
            if down {
                for addr in ["127.0.20.1", "127.0.20.2"] {
                    ns.bring_up(addr);
                }
            }
        })
    };

    // Wait for a burst: at least 8 down transitions on disk.
    let started = Instant::now();
    let before = loop {
        let now = rows(&db);
        if downs(&now) >= 8 {
            break now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the flapping made only {} down transitions:\n{}",
            downs(&now),
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    };

    let backup_began = Instant::now();
    let backup = Command::new(netkpi_bin())
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run netkpi backup");
    let backup_took = backup_began.elapsed();
    let after_backup = rows(&db);
    // Keep flapping a little while after, then stop.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    flapper.join().expect("flapper");
    assert!(
        backup.status.success(),
        "netkpi backup exited {}: {}",
        backup.status,
        String::from_utf8_lossy(&backup.stderr)
    );
    let stdout = String::from_utf8_lossy(&backup.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
    let copy = Connection::open_with_flags(&out, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the backup");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    drop(copy);
    let copied = rows(&out);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = db.with_extension("sqlite-wal");
    eprintln!(
        "backup: `netkpi backup` took {:.0} ms (the whole command) during the burst; copy {} bytes, \
         {} transitions; ledger {} bytes + WAL {} bytes; {}",
        backup_took.as_secs_f64() * 1000.0,
        size(&out),
        copied.len(),
        size(&db),
        size(&wal),
        stdout.trim()
    );

    assert!(
        copied.len() >= before.len() && copied[..before.len()] == before[..],
        "the backup must hold every transition committed before it began: {} before, {} in the copy",
        before.len(),
        copied.len()
    );
    assert!(
        after_backup.starts_with(&copied),
        "the copy is a prefix of the ledger (a snapshot, nothing invented)"
    );
    assert!(
        downs(&rows(&db)) > downs(&before),
        "the daemon kept writing transitions around the backup"
    );
    let names: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("read backups")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["netkpi-backup.sqlite"], "no temporary file left");

    // The daemon noticed nothing.
    assert_eq!(daemon.get("/healthz").0, 200);
    let status = daemon.stop();
    assert!(status.success(), "netkpi exited with {status}");
}
