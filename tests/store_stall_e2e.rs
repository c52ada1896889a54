//! A disk that stalls instead of failing: the store's filesystem (ext4 on a
//! loop device, mounted in the daemon's own private mount namespace) is
//! frozen with `fsfreeze` while a target goes down. Writes then neither
//! commit nor fail. `/healthz` must answer 503 naming the stall once a write
//! has waited past `daemon.store_stall_after` (10 s by default),
//! `netkpi_store_healthy` must be 0 and the wait visible, and the API must
//! show the outage (of the device and of the line behind it) as observed but
//! not yet recorded; after the thaw the outage is recorded with its original
//! stamp. With `--nocapture` it prints the seconds from freeze to 503 and
//! from thaw to 200.
//!
//! Needs root, `mkfs.ext4`, `fsfreeze`, `unshare` and `nsenter`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{lab_config, listen, netkpi_bin, sample, state_of, Daemon, NetNs, DEVICES};
use jiff::Timestamp;
use serde_json::Value;

/// Thaws the filesystem when dropped, so a failing test never leaves the
/// daemon (and its namespace) hung.
struct Frozen {
    pid: u32,
    dir: PathBuf,
}

fn fsfreeze(pid: u32, flag: &str, dir: &Path) -> std::process::Output {
    Command::new("nsenter")
        .arg(format!("--mount=/proc/{pid}/ns/mnt"))
        .arg("--")
        .arg("fsfreeze")
        .arg(flag)
        .arg(dir)
        .output()
        .expect("nsenter and fsfreeze (util-linux) are needed")
}

impl Frozen {
    fn freeze(pid: u32, dir: &Path) -> Frozen {
        let out = fsfreeze(pid, "-f", dir);
        assert!(out.status.success(), "fsfreeze -f: {out:?}");
        Frozen {
            pid,
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = fsfreeze(self.pid, "-u", &self.dir);
    }
}

/// The entry of `name` in the API's `list` ("devices" or "lines").
fn entry<'v>(doc: &'v Value, list: &str, name: &str) -> &'v Value {
    let key = if list == "lines" { "id" } else { "name" };
    doc[list]
        .as_array()
        .and_then(|a| a.iter().find(|e| e[key] == name))
        .unwrap_or_else(|| panic!("{name} missing: {doc}"))
}

/// Waits (up to 10 s) until `name` of `list` has `field` ("state",
/// "pending_state") "down"; returns the API's answer.
fn wait_down(daemon: &Daemon, list: &str, name: &str, field: &str) -> Value {
    daemon.wait_for(
        &format!("/api/v1/{list}"),
        &format!("{name}'s {field} down"),
        Duration::from_secs(10),
        |doc| entry(doc, list, name)[field] == "down",
    )
}

#[test]
fn a_frozen_disk_shows_within_the_stall_threshold_and_nothing_is_lost() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("store.ext4");
    let mount = dir.path().join("mnt");
    std::fs::create_dir(&mount).expect("mount point");
    let out = Command::new("truncate")
        .args(["-s", "32M"])
        .arg(&image)
        .output()
        .expect("truncate");
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("mkfs.ext4")
        .arg("-q")
        .arg(&image)
        .output()
        .expect("mkfs.ext4 (e2fsprogs) is needed");
    assert!(out.status.success(), "{out:?}");
    let data = mount.join("data");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(&config, lab_config(data.to_str().expect("utf-8 path"))).expect("write config");

    // The daemon in a mount namespace of its own (the loop mount lives and
    // dies with it) and in the test's network namespace.
    let log = dir.path().join("netkpi.log");
    let script = format!(
        "mount -o loop {image} {mount} && exec nsenter --net={net} -- {bin} run --config {config} --log-format json",
        image = image.display(),
        mount = mount.display(),
        net = ns.path().display(),
        bin = netkpi_bin().display(),
        config = config.display(),
    );
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("unshare (util-linux) is needed");
    let pid = child.id();
    let daemon = Daemon {
        ns: &ns,
        child,
        listen: listen(),
        log,
    };
    daemon.wait_until("/healthz", Duration::from_secs(20), || {
        daemon
            .ns
            .http_get(daemon.listen, "/healthz")
            .map_err(|e| e.to_string())
    });
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(20),
        |doc| {
            DEVICES
                .iter()
                .all(|d| state_of(doc, "devices", "name", d) == "up")
        },
    );
    assert_eq!(daemon.get("/healthz").0, 200);

    let frozen = Frozen::freeze(pid, &mount);
    let frozen_at = Instant::now();
    let dropped = Timestamp::now();
    ns.take_down("127.0.20.1");
    // Observed within a few rounds, shown as pending, not recorded.
    let doc = wait_down(&daemon, "devices", "acc-001", "pending_state");
    let acc = entry(&doc, "devices", "acc-001");
    assert_eq!(
        acc["state"], "up",
        "nothing recorded while the disk is frozen: {acc}"
    );
    let pending_since: Timestamp = acc["pending_since"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("pending_since: {acc}"));
    assert!(
        pending_since >= dropped - jiff::SignedDuration::from_millis(100)
            && pending_since <= dropped + jiff::SignedDuration::from_secs(2),
        "{acc}"
    );
    // L-001 hangs off acc-001: its outage is observed and pending too.
    let doc = wait_down(&daemon, "lines", "L-001", "pending_state");
    let l001 = entry(&doc, "lines", "L-001");
    assert_eq!(l001["state"], "up", "nothing recorded: {l001}");
    assert!(l001["pending_since"].is_string(), "{l001}");
    assert_eq!(entry(&doc, "lines", "L-002")["pending_state"], Value::Null);
    eprintln!(
        "stall: acc-001 and L-001 shown as pending_state \"down\" {:.1} s after the freeze",
        frozen_at.elapsed().as_secs_f64()
    );
    // Past the threshold: /healthz names the stall, the metrics show it.
    let body = daemon.wait_until("/healthz 503", Duration::from_secs(20), || {
        match daemon.get("/healthz") {
            (503, body) => Ok(body),
            other => Err(other),
        }
    });
    eprintln!(
        "stall: /healthz 503 {:.1} s after the freeze (store_stall_after 10 s): {body}",
        frozen_at.elapsed().as_secs_f64()
    );
    assert!(body.contains("has not committed for"), "{body}");
    let m = daemon.metrics();
    assert_eq!(sample(&m, "netkpi_store_healthy", &[]), Some(0.0), "{m}");
    let waited = sample(&m, "netkpi_store_oldest_uncommitted_seconds", &[]).expect("the wait");
    assert!(waited > 10.0, "waited {waited} s");
    assert_eq!(
        sample(&m, "netkpi_device_up", &[("device", "acc-001")]),
        Some(1.0),
        "the recorded state stays until it is on disk"
    );

    // The thaw: the outage is recorded with its first failed round.
    drop(frozen);
    let thawed_at = Instant::now();
    daemon.wait_until(
        "/healthz 200 again",
        Duration::from_secs(15),
        || match daemon.get("/healthz") {
            (200, body) => Ok(body),
            other => Err(other),
        },
    );
    eprintln!(
        "stall: /healthz 200 again {:.2} s after the thaw (frozen {:.1} s in all)",
        thawed_at.elapsed().as_secs_f64(),
        (thawed_at - frozen_at).as_secs_f64()
    );
    let doc = wait_down(&daemon, "devices", "acc-001", "state");
    let acc = entry(&doc, "devices", "acc-001");
    let since: Timestamp = acc["since"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("since");
    assert_eq!(
        since, pending_since,
        "recorded with the stamp it was observed with: {acc}"
    );
    assert!(acc["pending_state"].is_null(), "{acc}");
    let doc = wait_down(&daemon, "lines", "L-001", "state");
    let l001 = entry(&doc, "lines", "L-001");
    assert!(l001["pending_state"].is_null(), "{l001}");
    let m = daemon.metrics();
    assert_eq!(
        sample(&m, "netkpi_store_oldest_uncommitted_seconds", &[]),
        Some(0.0)
    );
    ns.bring_up("127.0.20.1");
    assert!(daemon.stop().success());
}
