//! `netkpi check` and a broken config as a user meets them: the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn netkpi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netkpi"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every config shipped: each file in config/ and each config/*/netkpi.toml
/// (a folder holding a config over several files).
fn shipped_configs() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo("config")).expect("config/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "toml") {
            found.push(format!("config/{name}"));
        } else if path.join("netkpi.toml").is_file() {
            found.push(format!("config/{name}/netkpi.toml"));
        }
    }
    found.sort();
    found
}

#[test]
fn the_shipped_configs_pass_check() {
    let expected = [
        (
            "config/city/netkpi.toml",
            &[
                "config/city/netkpi.toml: 0 devices, 0 lines",
                "config/city/conf.d/10-power.toml: 0 devices, 0 lines, 1 alarm",
                "config/city/conf.d/20-maintenance.toml: 0 devices, 0 lines, 1 maintenance window",
                "config/city/devices.csv: 171 devices, 0 lines",
                "config/city/lines.csv: 0 devices, 150 lines",
                "ok: 171 devices, 150 lines, 3 profiles",
            ][..],
        ),
        (
            "config/example.toml",
            &[
                "config/example.toml: 7 devices, 4 lines, 1 maintenance window",
                "ok: 7 devices, 4 lines, 0 profiles",
            ][..],
        ),
        (
            "config/full.toml",
            &[
                "config/full.toml: 8 devices, 4 lines, 1 maintenance window, 3 alarms",
                "ok: 8 devices, 4 lines, 5 profiles",
            ][..],
        ),
        // What the Debian package installs as /etc/netkpi/netkpi.toml.
        (
            "deploy/debian/netkpi.toml",
            &[
                "deploy/debian/netkpi.toml: 1 device, 0 lines",
                "ok: 1 devices, 0 lines, 0 profiles",
            ][..],
        ),
    ];
    let listed: Vec<&str> = expected
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| f.starts_with("config/"))
        .collect();
    assert_eq!(
        shipped_configs(),
        listed,
        "every shipped config is checked here"
    );
    for (file, lines) in expected {
        // Run from the repository, as the README's commands are.
        let out = netkpi()
            .args(["check", "--config", file])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run netkpi");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.lines().collect::<Vec<_>>(), lines, "{file}");
    }
}

#[test]
fn check_prints_every_problem_with_its_position_and_exits_2() {
    let fixture = repo("tests/fixtures/config/invalid-three-mistakes.toml");
    let out = netkpi()
        .args(["check", "--config"])
        .arg(&fixture)
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let prefix = format!("{}:", fixture.display());
    let expected_positions = [
        (
            "4:1: defaults.icmp.timout: unknown key `timout`",
            "did you mean `timeout`",
        ),
        ("9:11: device[0].address:", "10.1.0.300"),
        ("20:10: line[0].device: no device named \"acc-301\"", ""),
    ];
    for (line, (position, detail)) in lines.iter().zip(expected_positions) {
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{line:?} does not start with the file name"));
        assert!(
            rest.starts_with(position),
            "{line:?} should start with {position:?}"
        );
        assert!(rest.contains(detail), "{line:?} should mention {detail:?}");
    }
}

#[test]
fn run_with_a_broken_config_starts_nothing_and_touches_no_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"ledger\"\n\n[[device]]\nname = \"r1\"\nrole = \"routr\"\naddress = \"127.0.0.1\"\nicmp = {}\n",
    )
    .unwrap();
    let out = netkpi()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("device[0].role: unknown role \"routr\""),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert!(
        !dir.path().join("ledger").exists(),
        "the store must not be created"
    );
}

/// `daemon.web_config_file` is checked with the config: `check` names the
/// web-config file and the field, and `run` stops before opening the store.
#[test]
fn a_broken_web_config_is_reported_by_check_and_stops_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        "[daemon]\ndata_dir = \"ledger\"\nweb_config_file = \"web.yml\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: hunter2\n",
    )
    .unwrap();
    let web = dir.path().join("web.yml");
    let out = netkpi()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let at = |rest: &str| format!("{}:{rest}", web.display());
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with(&at(
            "2:14: tls_server_config.cert_file: cannot read \"server.crt\""
        )),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&at(
            "3:13: tls_server_config.key_file: cannot read \"server.key\""
        )),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with(&at("5:15: basic_auth_users.prometheus: not a bcrypt hash")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("hunter2"),
        "a password must not be echoed: {stdout}"
    );

    let out = netkpi()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tls_server_config.cert_file"), "{stderr}");
    assert!(
        !dir.path().join("ledger").exists(),
        "the store must not be created"
    );
}

#[test]
fn an_unreadable_config_is_reported_not_panicked() {
    let out = netkpi()
        .args(["check", "--config", "/nonexistent/netkpi.toml"])
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A plain sentence that names the file and the way out, no `:0:0:`.
    assert_eq!(
        stdout.trim(),
        "/nonexistent/netkpi.toml: cannot read the config file (No such file or directory \
         (os error 2)); give another with --config FILE or NETKPI_CONFIG"
    );
}

#[test]
fn the_config_comes_from_netkpi_config_or_the_default_path() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let out = netkpi()
        .arg("check")
        .env("NETKPI_CONFIG", &example)
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // What the file gave, then the summary.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("{}: ", example.display())),
        "{stdout}"
    );
    assert!(lines[1].starts_with("ok: "), "{stdout}");
    // Without either, the path the package and the unit use.
    let out = netkpi()
        .args(["check", "--help"])
        .env_remove("NETKPI_CONFIG")
        .output()
        .expect("run netkpi");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("[default: /etc/netkpi/netkpi.toml]"),
        "{help}"
    );
    assert!(help.contains("NETKPI_CONFIG"), "{help}");
}

#[test]
fn check_points_at_a_broken_user_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("rack_pdu.toml"),
        "description = \"a PDU\"\n\n[[metric]]\nname = \"pdu_load_amperes\"\noid  = \"1.3.6.1.4.1.318.x\"\ntype = \"gauge\"\nhelp = \"Load.\"\n",
    )
    .unwrap();
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        "[daemon]\nprofile_dirs = [\"profiles\"]\n\n[[device]]\nname = \"pdu-1\"\nrole = \"other\"\naddress = \"127.0.0.1\"\nsnmp = { profiles = [\"rack_pdu\"] }\n",
    )
    .unwrap();
    let out = netkpi()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run netkpi");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!("{}:5:", profiles.join("rack_pdu.toml").display());
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&expected) && l.contains("1.3.6.1.4.1.318.x")),
        "the malformed OID is reported with its file and line:\n{stdout}"
    );
    assert!(
        !stdout.contains("unknown profile"),
        "a broken profile is not also reported as unknown:\n{stdout}"
    );
}

/// `netkpi check` on a config with a runaway value: a 100 000-character
/// device name (named again by a parent, a line and a maintenance window)
/// and a NUL byte in a `site`. Each is one short message, exit 2, at once.
#[test]
fn a_huge_name_and_a_nul_byte_are_one_short_message_each() {
    let long = "r".repeat(100_000);
    let huge_name = format!(
        "[[device]]\nname = \"{long}\"\nrole = \"router\"\naddress = \"10.0.0.1\"\n\n\
         [[device]]\nname = \"acc-1\"\nrole = \"access_egress\"\naddress = \"10.0.0.2\"\nparent = \"{long}\"\n\n\
         [[line]]\nid = \"L-1\"\nunit = \"Finance Bureau\"\ndevice = \"{long}\"\n\n\
         [[maintenance]]\ntargets = [\"{long}\", \"L-1\"]\nstart = \"2020-06-01T01:00:00+08:00\"\nend = \"2020-06-01T02:00:00+08:00\"\nreason = \"upgrade\"\n"
    );
    let nul_site =
        "[[device]]\nname = \"r1\"\nrole = \"router\"\naddress = \"10.0.0.1\"\nsite = \"room\\u0000 2\"\n";
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text, expected) in [
        (
            "huge-name.toml",
            huge_name.as_str(),
            "2:8: device[0].name: device name is 100000 characters long; at most 64 are allowed",
        ),
        (
            "nul-site.toml",
            nul_site,
            "5:8: device[0].site: site contains the control character U+0000 at character 5; control characters (NUL, newline, tab and the like) are not allowed",
        ),
    ] {
        let config = dir.path().join(name);
        std::fs::write(&config, text).unwrap();
        let started = std::time::Instant::now();
        let out = netkpi()
            .args(["check", "--config"])
            .arg(&config)
            .output()
            .expect("run netkpi");
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}");
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            [format!("{}:{expected}", config.display())],
            "{name}"
        );
        assert!(
            took < std::time::Duration::from_secs(10),
            "{name}: took {took:?}"
        );
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = netkpi().arg("--version").output().expect("run netkpi");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = text
        .trim()
        .strip_prefix(concat!("netkpi ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("{text}"));
    let (commit, date) = rest
        .strip_suffix(')')
        .and_then(|r| r.split_once(", "))
        .unwrap_or_else(|| panic!("{text}"));
    // Built from this checkout: its commit and that commit's date.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git");
    // (Where git cannot read the checkout, e.g. a source tarball, both
    // say "unknown".)
    let head = String::from_utf8_lossy(&head.stdout);
    let head = if head.trim().is_empty() {
        "unknown"
    } else {
        head.trim()
    };
    assert_eq!(commit, head, "{text}");
    if commit == "unknown" {
        assert_eq!(date, "unknown", "{text}");
    } else {
        assert_eq!(date.len(), "2026-12-04".len(), "{text}");
    }
}

#[test]
fn completions_are_scripts_the_shell_accepts() {
    let out = netkpi()
        .args(["completions", "bash"])
        .output()
        .expect("run netkpi");
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8_lossy(&out.stdout);
    for word in ["check", "run", "backup", "--config"] {
        assert!(script.contains(word), "{word} is not completed:\n{script}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("netkpi.bash");
    std::fs::write(&path, script.as_bytes()).expect("write the script");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash");
    assert!(syntax.status.success(), "bash -n: {syntax:?}");
}
