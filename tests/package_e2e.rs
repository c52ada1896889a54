//! The Debian package as an operator meets it: `cargo deb` builds it (from
//! the debug binary this test run built, to keep CI fast), `dpkg -i`
//! installs it on this machine, the installed config passes `netkpi check`,
//! the installed binary runs as the user `netkpi` with exactly the
//! capabilities the installed unit grants (setpriv, inside a private network
//! namespace, since systemd is not running here) and answers /healthz and
//! pings, the unit passes `systemd-analyze verify`, man pages, completions
//! and docs are where Debian looks for them, and `dpkg --purge` stops the
//! running daemon and leaves no process, no ledger and no file behind.
//!
//! Needs root, `cargo deb` (cargo-deb, installed by tests/run.sh), dpkg-dev,
//! man-db and systemd; fails loudly without them. A guard purges the package
//! (and removes the user netkpi when this test created it) even when the
//! test fails, so the machine is left as it was. It refuses to run where a
//! package named netkpi is already installed: that one is not its to purge.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, NetNs};

const UNIT: &str = "/usr/lib/systemd/system/netkpi.service";
const CONFIG: &str = "/etc/netkpi/netkpi.toml";
const STATE_DIR: &str = "/var/lib/netkpi";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to completion; fails the test, with its output, when it
/// cannot be started or exits non-zero.
fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn package_installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "netkpi"])
        .output()
        .is_ok_and(|o| o.status.success() && stdout(&o).contains("installed"))
}

/// The passwd entry of `user`, if any.
fn passwd(user: &str) -> Option<String> {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| stdout(&out).trim().to_string())
}

/// Leaves the machine as the test found it, pass or fail: purges the
/// package and removes the user netkpi when it did not exist before.
struct Cleanup {
    user_existed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["--purge", "netkpi"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !self.user_existed && passwd("netkpi").is_some() {
            let _ = Command::new("userdel").arg("netkpi").status();
        }
    }
}

/// The capability numbers of linux/capability.h for the names a unit may
/// grant netkpi; a unit naming any other fails the test, which then needs
/// the new name here.
fn capability_bit(name: &str) -> u32 {
    match name {
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_RAW" => 13,
        other => panic!("the unit grants {other}, which this test does not know"),
    }
}

/// The value of `key=` in a unit file (the last one, as systemd reads a
/// single-valued key; these keys appear once in netkpi's units).
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in the unit:\n{unit}"))
}

/// A `Cap*:` mask of /proc/PID/status.
fn status_mask(status: &str, field: &str) -> u64 {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in:\n{status}"));
    u64::from_str_radix(hex.trim(), 16).expect("a hex capability mask")
}

/// Every process on the machine whose executable is `exe` (also when the
/// file was deleted under it).
fn processes_running(exe: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Ok(target) = fs::read_link(entry.path().join("exe")) {
            let target = target.to_string_lossy().into_owned();
            if target == exe || target == format!("{exe} (deleted)") {
                pids.push(pid);
            }
        }
    }
    pids
}

/// The files of the installed package, from dpkg's own list.
fn installed_files() -> BTreeSet<String> {
    stdout(&run(Command::new("dpkg-query").args(["-L", "netkpi"])))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Builds the .deb from the binary this test run built, into `out_dir`.
fn build_package(out_dir: &Path) -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "deb",
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "--output",
        ])
        .arg(out_dir)
        .current_dir(repo())
        .output()
        .expect("cannot run cargo");
    assert!(
        out.status.success(),
        "cargo deb failed (tests/run.sh installs cargo-deb):\n{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let debs: Vec<PathBuf> = fs::read_dir(out_dir)
        .expect("read the output folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one .deb expected: {debs:?}");
    debs.into_iter().next().expect("the .deb")
}

/// The paths in the first column of the README's table of what the package
/// installs, with `{a,b}` expanded.
fn readme_installed_paths() -> Vec<String> {
    let readme = fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Install from the Debian package\n")
        .nth(1)
        .expect("README has \"## Install from the Debian package\"");
    // Up to the next section: other tables (the API's) also start with `/.
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut paths = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `/")) {
        let first = row.split(" | ").next().expect("a cell");
        for quoted in first.split('`').skip(1).step_by(2) {
            match quoted.split_once('{') {
                Some((head, rest)) => {
                    let (alternatives, tail) = rest.split_once('}').expect("a closed brace");
                    for a in alternatives.split(',') {
                        paths.push(format!("{head}{a}{tail}"));
                    }
                }
                None => paths.push(quoted.to_string()),
            }
        }
    }
    assert!(
        paths.len() >= 10,
        "the README's table of installed files: {paths:?}"
    );
    paths
}

/// Whether `path` is there; a `*` in the file name matches any text.
fn matches_installed(path: &str) -> bool {
    let Some((prefix, suffix)) = path.split_once('*') else {
        return Path::new(path).exists();
    };
    let (dir, start) = prefix.rsplit_once('/').expect("an absolute path");
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(start) && name.ends_with(suffix)
        })
    })
}

/// The .deb's control data: what it depends on, and its one conffile.
fn check_metadata(deb: &Path) {
    let info = stdout(&run(Command::new("dpkg-deb").arg("--info").arg(deb)));
    for needed in ["systemd", "libc6"] {
        assert!(
            info.lines()
                .any(|l| l.trim_start().starts_with("Depends:") && l.contains(needed)),
            "Depends lacks {needed}:\n{info}"
        );
    }
    let conffiles = stdout(&run(Command::new("dpkg-deb")
        .args(["--info"])
        .arg(deb)
        .arg("conffiles")));
    assert_eq!(conffiles.trim(), CONFIG);
}

/// The installed binary and config (returns the config's listen address),
/// the static user and its state folder (returns its uid and gid), the
/// enabled units and `systemd-analyze verify` on them.
fn check_installed() -> (std::net::SocketAddr, u32, u32) {
    // The installed binary is the one this run built (cargo deb stripped it,
    // so compare what it says, not its bytes).
    let version = |bin: &str| stdout(&run(Command::new(bin).arg("--version")));
    assert_eq!(
        version("/usr/bin/netkpi"),
        version(env!("CARGO_BIN_EXE_netkpi"))
    );
    let mode = fs::metadata("/usr/bin/netkpi")
        .expect("/usr/bin/netkpi")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);

    // The config is a working default, found with and without --config.
    for args in [&["check", "--config", CONFIG][..], &["check"][..]] {
        let out = run(Command::new("/usr/bin/netkpi")
            .args(args)
            .env_remove("NETKPI_CONFIG"));
        // What the file gave, then the totals.
        let text = stdout(&out);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                format!("{CONFIG}: 1 device, 0 lines").as_str(),
                "ok: 1 devices, 0 lines, 0 profiles"
            ],
            "{args:?}"
        );
    }
    let config: toml::Table = fs::read_to_string(CONFIG)
        .expect("the installed config")
        .parse()
        .expect("the installed config is TOML");
    let daemon = config["daemon"].as_table().expect("[daemon]");
    assert_eq!(daemon["data_dir"].as_str(), Some(STATE_DIR));
    let listen: std::net::SocketAddr = daemon["listen"]
        .as_str()
        .expect("daemon.listen")
        .parse()
        .expect("daemon.listen is IP:PORT");
    assert!(
        listen.ip().is_loopback(),
        "{listen}: the default listens on loopback"
    );

    // The static user, its state folder, and the units enabled.
    let user = passwd("netkpi").expect("postinst creates the user netkpi");
    let fields: Vec<&str> = user.split(':').collect();
    assert_eq!(fields[5], STATE_DIR, "home of netkpi: {user}");
    assert!(fields[6].ends_with("nologin"), "shell of netkpi: {user}");
    let uid: u32 = fields[2].parse().expect("uid");
    let gid: u32 = fields[3].parse().expect("gid");
    assert!(uid < 1000, "netkpi is a system user: {user}");
    let state = fs::metadata(STATE_DIR).expect("postinst creates /var/lib/netkpi");
    assert_eq!(
        (state.uid(), state.gid(), state.mode() & 0o7777),
        (uid, gid, 0o750)
    );
    for link in [
        "/etc/systemd/system/multi-user.target.wants/netkpi.service",
        "/etc/systemd/system/timers.target.wants/netkpi-backup.timer",
    ] {
        assert!(
            fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()),
            "{link}: the package enables the unit"
        );
    }

    // The units as systemd reads them, with the installed binary.
    for unit in [
        "netkpi.service",
        "netkpi-backup.service",
        "netkpi-backup.timer",
    ] {
        let path = format!("/usr/lib/systemd/system/{unit}");
        let out = Command::new("systemd-analyze")
            .args(["verify", &path])
            .output()
            .expect("systemd-analyze (package systemd, which the package depends on)");
        let text = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success() && !text.contains(&path),
            "systemd-analyze verify {path}:\n{text}"
        );
    }

    (listen, uid, gid)
}

/// Man pages, completions, docs, the changelog and copyright, dashboards and
/// examples, and every path the README's table names.
fn check_docs() {
    // Man pages, completions and docs where Debian's tools look for them.
    let man = run(Command::new("man")
        .args(["-l", "/usr/share/man/man1/netkpi.1.gz"])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat"));
    let page = stdout(&man);
    for section in ["NAME", "SYNOPSIS", "SUBCOMMANDS", "FILES", "EXIT STATUS"] {
        assert!(
            page.contains(section),
            "netkpi(1) has no {section}:\n{page}"
        );
    }
    for sub in [
        "run",
        "check",
        "backup",
        "verify",
        "report",
        "incident",
        "completions",
    ] {
        assert!(
            page.contains(&format!("netkpi-{sub}(1)")),
            "netkpi(1) does not list {sub}:\n{page}"
        );
        let path = format!("/usr/share/man/man1/netkpi-{sub}.1.gz");
        assert!(Path::new(&path).is_file(), "{path}");
    }
    let found = stdout(&run(Command::new("man").args(["-w", "netkpi-verify"])));
    assert_eq!(found.trim(), "/usr/share/man/man1/netkpi-verify.1.gz");
    for (shell, path) in [
        ("bash", "/usr/share/bash-completion/completions/netkpi"),
        ("zsh", "/usr/share/zsh/vendor-completions/_netkpi"),
        ("fish", "/usr/share/fish/vendor_completions.d/netkpi.fish"),
    ] {
        let script = fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let printed = run(Command::new("/usr/bin/netkpi").args(["completions", shell])).stdout;
        assert!(
            script == printed,
            "{path} differs from `netkpi completions {shell}`"
        );
    }
    for (installed, source) in [
        ("/usr/share/doc/netkpi/README.md", "README.md"),
        ("/usr/share/doc/netkpi/LICENSE", "LICENSE"),
        (
            "/usr/share/doc/netkpi/examples/full.toml",
            "config/full.toml",
        ),
        (
            "/usr/share/netkpi/prometheus/alerts.yml",
            "deploy/prometheus/alerts.yml",
        ),
        (
            "/usr/share/netkpi/alertmanager/alertmanager.yml",
            "deploy/alertmanager/alertmanager.yml",
        ),
        (
            "/usr/share/netkpi/dashboards/netkpi-duty.json",
            "dashboards/netkpi-duty.json",
        ),
    ] {
        let a = fs::read(installed).unwrap_or_else(|e| panic!("{installed}: {e}"));
        assert!(
            a == fs::read(repo().join(source)).expect(source),
            "{installed} != {source}"
        );
    }
    // Debian's changelog names this very version.
    let version_installed = stdout(&run(Command::new("dpkg-query").args([
        "-W",
        "-f=${Version}",
        "netkpi",
    ])));
    assert_eq!(
        version_installed,
        format!("{}-1", env!("CARGO_PKG_VERSION"))
    );
    let changelog = run(Command::new("zcat").arg("/usr/share/doc/netkpi/changelog.Debian.gz"));
    let first = stdout(&changelog)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.starts_with(&format!("netkpi ({version_installed}) ")),
        "deploy/debian/changelog's first entry is not {version_installed}: {first}"
    );
    let copyright = fs::read_to_string("/usr/share/doc/netkpi/copyright").expect("copyright");
    assert!(copyright
        .starts_with("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"));
    assert!(copyright.contains("License: Apache-2.0"), "{copyright}");
    let files = installed_files();
    let dashboards = files
        .iter()
        .filter(|f| f.starts_with("/usr/share/netkpi/dashboards/") && f.ends_with(".json"))
        .count();
    let in_repo = fs::read_dir(repo().join("dashboards"))
        .expect("dashboards/")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(dashboards, in_repo, "every dashboard is installed");

    // Every path the README's table of installed files names is installed.
    for path in readme_installed_paths() {
        assert!(
            matches_installed(&path),
            "the README says the package installs {path}; it does not"
        );
    }
}

/// The user and the capabilities netkpi.service runs with: setpriv's
/// `-all,+cap,...` list and the kernel's bit mask of the same set.
fn unit_confinement() -> (String, u64) {
    let unit = fs::read_to_string(UNIT).expect("the installed unit");
    assert_eq!(unit_value(&unit, "User"), "netkpi");
    assert_eq!(unit_value(&unit, "NoNewPrivileges"), "yes");
    let granted: BTreeSet<&str> = unit_value(&unit, "AmbientCapabilities")
        .split_whitespace()
        .collect();
    let bounding: BTreeSet<&str> = unit_value(&unit, "CapabilityBoundingSet")
        .split_whitespace()
        .collect();
    assert_eq!(
        granted, bounding,
        "the unit's ambient set is its bounding set"
    );
    let mask: u64 = granted.iter().map(|c| 1u64 << capability_bit(c)).sum();
    let caps = format!(
        "-all,{}",
        granted
            .iter()
            .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
            .collect::<Vec<_>>()
            .join(",")
    );
    (caps, mask)
}

#[test]
fn the_package_installs_runs_confined_and_purges_clean() {
    assert!(
        !package_installed(),
        "a package netkpi is installed on this machine; this test installs and purges its own: remove that one first"
    );
    let _cleanup = Cleanup {
        user_existed: passwd("netkpi").is_some(),
    };
    let work = tempfile::tempdir().expect("tempdir");
    let deb = build_package(work.path());
    check_metadata(&deb);
    let install = run(Command::new("dpkg")
        .arg("-i")
        .arg(&deb)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(
        stdout(&install).contains("installed and enabled, not started"),
        "{}",
        stdout(&install)
    );
    assert!(package_installed());

    let (listen, uid, gid) = check_installed();
    check_docs();
    let files = installed_files();

    // Run the installed binary as the unit would: its user and group, no new
    // privileges, and exactly its capabilities (ambient, inheritable and the
    // bounding set), in a private network namespace.
    let (caps, mask) = unit_confinement();
    let ns = NetNs::new();
    // In a new namespace unprivileged ICMP sockets are off (ping_group_range
    // "1 0"), so a device answering proves the raw socket CAP_NET_RAW allows.
    let range = stdout(&ns.exec("cat", &["/proc/sys/net/ipv4/ping_group_range"]));
    assert_eq!(range.split_whitespace().collect::<Vec<_>>(), ["1", "0"]);
    let log = work.path().join("netkpi.log");
    let mut cmd = ns.command("setpriv");
    cmd.args([
        "--reuid",
        "netkpi",
        "--regid",
        "netkpi",
        "--init-groups",
        "--no-new-privs",
        &format!("--inh-caps={caps}"),
        &format!("--ambient-caps={caps}"),
        &format!("--bounding-set={caps}"),
        "/usr/bin/netkpi",
        "run",
        "--config",
        CONFIG,
        "--log-format",
        "json",
    ])
    .env_remove("NETKPI_CONFIG")
    .stdout(Stdio::null())
    .stderr(fs::File::create(&log).expect("log file"));
    let child = cmd.spawn().expect("cannot run setpriv (util-linux)");
    let pid = child.id();
    let mut daemon = Daemon {
        ns: &ns,
        child,
        listen,
        log,
    };
    let healthy = daemon.wait_until("/healthz 200", Duration::from_secs(20), || {
        match ns.http_get(listen, "/healthz") {
            Ok((200, body)) => Ok(body),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(!healthy.is_empty());
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon's status");
    let ids = |field: &str| -> Vec<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .unwrap_or_else(|| panic!("no {field} in status"))
            .split_whitespace()
            .map(|v| v.parse().expect("an id"))
            .collect()
    };
    assert_eq!(ids("Uid:"), [uid; 4], "runs as netkpi");
    assert_eq!(ids("Gid:"), [gid; 4], "runs as group netkpi");
    for field in ["CapEff", "CapPrm", "CapAmb", "CapBnd", "CapInh"] {
        assert_eq!(status_mask(&status, field), mask, "{field}:\n{status}");
    }
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    daemon.wait_for(
        "/api/v1/devices",
        "the packaged config's device up (ICMP through CAP_NET_RAW)",
        Duration::from_secs(30),
        |doc| common::state_of(doc, "devices", "name", "localhost") == "up",
    );
    let ledger = fs::metadata(format!("{STATE_DIR}/netkpi.sqlite")).expect("the ledger");
    assert_eq!(ledger.uid(), uid, "the ledger belongs to netkpi");

    // Purge with the daemon running: prerm stops it (SIGTERM, as the unit
    // would), then nothing of the package is left. (Until it is reaped here
    // the stopped daemon is a zombie, which prerm's start-stop-daemon no
    // longer counts as running the binary.)
    let started = Instant::now();
    let purge = run(Command::new("dpkg")
        .args(["--purge", "netkpi"])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let exit = loop {
        if let Some(status) = daemon.child.try_wait().expect("wait for netkpi") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "netkpi still runs after the purge; dpkg said:\n{}",
            stdout(&purge)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        exit.success(),
        "netkpi stopped with {exit}; log:\n{}",
        daemon.log_text()
    );
    assert!(
        daemon
            .log_text()
            .contains("stopped; every target recorded as unknown"),
        "a clean stop, not a kill:\n{}",
        daemon.log_text()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped within the unit's 30 s"
    );
    assert_eq!(processes_running("/usr/bin/netkpi"), Vec::<u32>::new());
    assert!(
        !package_installed(),
        "dpkg still knows netkpi after the purge"
    );
    for gone in files.iter().filter(|f| !f.ends_with('/')) {
        let p = Path::new(gone);
        // dpkg lists the shared folders (/usr, /usr/share/man/man1...) too:
        // only what is netkpi's own must be gone.
        if gone.contains("netkpi") {
            assert!(
                fs::symlink_metadata(p).is_err(),
                "{gone} is still there after the purge"
            );
        }
    }
    for gone in [
        STATE_DIR,
        "/var/lib/netkpi-backup",
        "/etc/netkpi",
        "/etc/systemd/system/multi-user.target.wants/netkpi.service",
        "/etc/systemd/system/timers.target.wants/netkpi-backup.timer",
    ] {
        assert!(
            fs::symlink_metadata(gone).is_err(),
            "{gone} is still there after the purge"
        );
    }
    // Debian keeps system users on purge (files elsewhere may still be
    // theirs); the guard removes it if this test brought it.
    assert!(
        passwd("netkpi").is_some(),
        "the user netkpi is kept on purge"
    );
}
