//! Every shipped profile's output, as recorded in its golden files (which
//! are in the exposition format a scrape shows), passes `promtool check
//! metrics`: metric names, units and types a Prometheus user can rely on.

use std::path::Path;
use std::process::{Command, Stdio};

use std::io::Write;

#[test]
fn golden_profile_outputs_pass_promtool() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/profiles");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 9,
        "expected a golden file per shipped profile, found {}",
        files.len()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool not found: install the `prometheus` package (.ci/run does)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let problems: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            problems.is_empty(),
            "{}: promtool says:\n{}",
            file.display(),
            problems.join("\n")
        );
    }
}
