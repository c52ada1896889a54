//! The files in `deploy/` as systemd reads them: the unit passes
//! `systemd-analyze verify` (unknown keys, bad values and missing commands
//! are errors) with its commands pointing at the binary just built, and
//! the sysusers file creates the user the unit runs as. Needs `systemd`
//! (Debian's `systemd-analyze`, `systemd-sysusers`); fails loudly without.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `systemd-analyze verify` on `deploy/NAME` (with the timer beside
/// it when there is one) and fails on any complaint about it.
fn verify(name: &str) -> String {
    let unit = std::fs::read_to_string(root().join("deploy").join(name)).expect("the unit");
    assert!(unit.contains("/usr/bin/netkpi"), "{unit}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(
        &path,
        unit.replace("/usr/bin/netkpi", env!("CARGO_BIN_EXE_netkpi")),
    )
    .expect("write the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (package systemd) is needed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{text}"
    );
    assert!(
        !text.contains(&path.display().to_string()),
        "systemd-analyze complained about the unit:\n{text}"
    );
    unit
}

#[test]
fn the_backup_unit_passes_systemd_analyze_verify() {
    let unit = verify("netkpi-backup.service");
    assert!(
        unit.contains("\nUser=netkpi\n"),
        "the daemon's user, so file owners match"
    );
    let timer =
        std::fs::read_to_string(root().join("deploy/netkpi-backup.timer")).expect("the timer");
    assert!(timer.contains("OnCalendar="), "{timer}");
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let unit = verify("netkpi.service");
    // The capabilities the daemon needs, and only those.
    for line in ["AmbientCapabilities=", "CapabilityBoundingSet="] {
        let value = unit
            .lines()
            .find_map(|l| l.strip_prefix(line))
            .unwrap_or_else(|| panic!("no {line} in the unit"));
        assert_eq!(value, "CAP_NET_RAW CAP_NET_BIND_SERVICE", "{line}");
    }
    assert!(
        unit.contains("\nUser=netkpi\n"),
        "a static user, for secret files"
    );
}

#[test]
fn the_sysusers_file_creates_the_units_user() {
    let out = Command::new("systemd-sysusers")
        .arg("--dry-run")
        .arg(root().join("deploy/netkpi.sysusers"))
        .output()
        .expect("systemd-sysusers (package systemd) is needed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // On a machine where the user exists already, nothing is created.
    let exists = Command::new("getent")
        .args(["passwd", "netkpi"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        exists || text.contains("Creating user 'netkpi'"),
        "the user netkpi is not created:\n{text}"
    );
}
