//! A start that fails leaves the ledger exactly as it was, and the ledger is
//! never silently replaced: the real binary in a private network namespace,
//! with a data dir holding a real store from an earlier run.
//!
//! * the listen port or the trap port already taken, ICMP not permitted
//!   (an unprivileged user with `ping_group_range` closed): exit non-zero
//!   with a clear message; every file in the data dir is byte-identical and
//!   no -wal/-shm appears;
//! * an empty file, a text file or another program's SQLite database where
//!   the store should be: an error that names the file and what to do; the
//!   file is left alone.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use common::{lab_config, listen, netkpi_bin, write_lab_config, Daemon, NetNs};

/// Every file of `dir` by name, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read the data dir")
        .map(|e| {
            let e = e.expect("dir entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read a store file"),
            )
        })
        .collect()
}

/// Runs the daemon once (until every device is up) and stops it cleanly, so
/// `dir/data` holds a real ledger; returns the data dir.
fn existing_store(ns: &NetNs, dir: &Path) -> PathBuf {
    let config = write_lab_config(dir, "data");
    let daemon = Daemon::start(ns, &config, listen(), dir.join("first-run.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(15),
        |doc| {
            doc["devices"]
                .as_array()
                .is_some_and(|a| a.iter().all(|d| d["state"] == "up"))
        },
    );
    let status = daemon.stop();
    assert!(status.success(), "the first run exited {status}");
    let data = dir.join("data");
    assert!(
        data.join("netkpi.sqlite")
            .metadata()
            .expect("the store")
            .len()
            > 0,
        "the first run left a store"
    );
    data
}

/// Runs `cmd` (a `netkpi run` that should fail) and returns its status and
/// stderr; fails the test when it keeps running for 10 s.
fn failed_start(mut cmd: Command, log: &Path) -> (ExitStatus, String) {
    let file = std::fs::File::create(log).expect("log file");
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start netkpi");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for netkpi") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "netkpi kept running; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(log).expect("read stderr");
    assert!(!status.success(), "must fail, exited {status}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status, stderr)
}

fn run_cmd(ns: &NetNs, config: &Path) -> Command {
    let mut cmd = ns.command(netkpi_bin());
    cmd.args(["run", "--config", config.to_str().expect("utf-8 path")]);
    cmd
}

/// The operator's line: `netkpi: ...` (the last one on stderr).
fn summary(stderr: &str) -> &str {
    stderr
        .lines()
        .rfind(|l| l.starts_with("netkpi: "))
        .unwrap_or_else(|| panic!("no `netkpi: ...` line on stderr:\n{stderr}"))
}

#[test]
fn a_start_that_fails_on_a_socket_leaves_the_store_as_it_was() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = existing_store(&ns, dir.path());
    let before = snapshot(&data);
    assert!(
        before
            .keys()
            .all(|n| !n.ends_with("-wal") && !n.ends_with("-shm")),
        "a clean stop leaves no -wal/-shm: {:?}",
        before.keys()
    );

    // The listen port is taken.
    let taken = ns
        .bind(|| std::net::TcpListener::bind(common::LISTEN))
        .expect("take the listen port");
    let config = dir.path().join("netkpi.toml");
    let (_, stderr) = failed_start(run_cmd(&ns, &config), &dir.path().join("port.log"));
    let line = summary(&stderr);
    assert!(
        line.contains("cannot listen on 127.0.0.1:9731 (daemon.listen)") && line.contains("in use"),
        "{line}"
    );
    assert!(line.contains("the store was not opened"), "{line}");
    assert_eq!(snapshot(&data), before, "the store changed");
    drop(taken);

    // The trap port is taken.
    let trap_port = "127.0.0.1:11163";
    let udp = ns
        .bind(move || std::net::UdpSocket::bind(trap_port))
        .expect("take the trap port");
    let traps = dir.path().join("traps.toml");
    std::fs::write(
        &traps,
        lab_config("data")
            + &format!("\n[traps]\nlisten = \"{trap_port}\"\ncommunities = [\"public\"]\n"),
    )
    .expect("write config");
    let (_, stderr) = failed_start(run_cmd(&ns, &traps), &dir.path().join("traps.log"));
    let line = summary(&stderr);
    assert!(
        line.contains("cannot start the trap receiver on 127.0.0.1:11163"),
        "{line}"
    );
    assert_eq!(snapshot(&data), before, "the store changed");
    drop(udp);

    // No ICMP: an unprivileged user (who could write the store) and
    // unprivileged ICMP closed in the namespace.
    let out = ns.exec("sysctl", &["-w", "net.ipv4.ping_group_range=1 0"]);
    assert!(out.status.success());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the test dir");
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&data)
        .status()
        .expect("run chown");
    assert!(chown.success(), "chown failed");
    let mut cmd = ns.command("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ])
    .arg(netkpi_bin())
    .args(["run", "--config", config.to_str().unwrap()]);
    let (_, stderr) = failed_start(cmd, &dir.path().join("icmp.log"));
    let line = summary(&stderr);
    assert!(
        line.contains("CAP_NET_RAW") && line.contains("ping_group_range"),
        "names both remedies: {line}"
    );
    assert!(line.contains("the store was not opened"), "{line}");
    assert_eq!(snapshot(&data), before, "the store changed");
}

#[test]
fn an_empty_or_foreign_store_file_is_refused_and_left_alone() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_lab_config(dir.path(), "data");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir data");
    let store = data.join("netkpi.sqlite");

    for (case, problem) in [
        ("empty", "is empty (0 bytes)"),
        ("text", "is not an SQLite database"),
        (
            "sqlite",
            "is an SQLite database of another program (tables: moz_places, notes)",
        ),
    ] {
        match case {
            "empty" => {
                std::fs::write(&store, "").expect("create the store file");
                let out = Command::new("truncate")
                    .args(["-s", "0"])
                    .arg(&store)
                    .status()
                    .expect("run truncate");
                assert!(out.success());
            }
            "text" => std::fs::write(&store, "# my notes about the ledger\nnothing to see\n")
                .expect("write a text file"),
            _ => {
                // Another program's database: SQLite header, user_version 0.
                std::fs::remove_file(&store).expect("remove the text file");
                rusqlite::Connection::open(&store)
                    .and_then(|c| {
                        c.execute_batch(
                            "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');
                             CREATE TABLE moz_places (url TEXT);",
                        )
                    })
                    .expect("write another program's database");
            }
        }
        let before = snapshot(&data);
        // The read-only paths refuse it too (verify, like report and backup).
        let verify = Command::new(netkpi_bin())
            .arg("verify")
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run netkpi verify");
        let verify_err = String::from_utf8_lossy(&verify.stderr);
        assert_eq!(verify.status.code(), Some(2), "{case}: {verify_err}");
        assert!(verify_err.contains(problem), "{case}: {verify_err}");
        assert_eq!(snapshot(&data), before, "{case}: verify touched the file");
        let (_, stderr) = failed_start(
            run_cmd(&ns, &config),
            &dir.path().join(format!("{case}.log")),
        );
        let line = summary(&stderr);
        for part in [
            store.to_str().unwrap(),
            problem,
            "netkpi never takes over a file",
            "restore the ledger from a backup",
            "move the file away",
        ] {
            assert!(line.contains(part), "{part:?} missing: {line}");
        }
        assert_eq!(snapshot(&data), before, "{case}: the file was touched");
    }
}
