//! The Prometheus side of netkpi: the scrape config and alert rules in
//! `deploy/prometheus/`, the Alertmanager config in `deploy/alertmanager/`
//! and the Grafana dashboard in `dashboards/`.
//!
//! The Alertmanager config is checked with `amtool check-config` (Debian
//! package `prometheus-alertmanager`); `alerting_e2e` runs it for real.
//!
//! Everything is checked with `promtool` (Debian package `prometheus`):
//! the config and rules load, the alert unit tests in `alerts_test.yml` pass,
//! every PromQL expression in the dashboard parses, and every `netkpi_*`
//! metric these files name is one netkpi exports (a misspelt metric name in an
//! alert is not an error to Prometheus: the alert just never fires). What
//! netkpi exports is taken from a scrape of the real daemon running with
//! ICMP and SNMP devices and traps (`tests/common/full_lab.rs`), not from a
//! list kept by hand.

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::full_lab::{exported_names, with_full_lab};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_dir() -> PathBuf {
    root().join("deploy/prometheus")
}

fn dashboard_path() -> PathBuf {
    root().join("dashboards/netkpi.json")
}

/// Runs `promtool ARGS` in `dir` and fails the test, with promtool's output,
/// unless it succeeds. Fails loudly if promtool is not installed.
fn promtool(dir: &Path, args: &[&str]) -> String {
    promtool_explained(dir, args, "")
}

/// [`promtool`], with `context` added to the failure message.
fn promtool_explained(dir: &Path, args: &[&str], context: &str) -> String {
    let output = match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "promtool is not installed: these tests need it. Install the `prometheus` \
             package (Debian: `apt-get install prometheus`, which provides /usr/bin/promtool)"
        ),
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`promtool {}` in {} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}{context}",
        args.join(" "),
        dir.display(),
        output.status,
    );
    stdout
}

#[test]
fn alert_rules_are_valid() {
    promtool(&prometheus_dir(), &["check", "rules", "alerts.yml"]);
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    promtool(&prometheus_dir(), &["test", "rules", "alerts_test.yml"]);
}

#[test]
fn prometheus_config_is_valid() {
    // Also loads the rule files the config names.
    let out = promtool(&prometheus_dir(), &["check", "config", "prometheus.yml"]);
    assert!(
        out.contains("alerts.yml"),
        "prometheus.yml does not load alerts.yml:\n{out}"
    );
}

#[test]
fn alertmanager_config_is_valid() {
    let dir = root().join("deploy/alertmanager");
    let output = match Command::new("amtool")
        .args(["check-config", "alertmanager.yml"])
        .current_dir(&dir)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "amtool is not installed: this test needs it. Install the \
             `prometheus-alertmanager` package (Debian), which provides /usr/bin/amtool"
        ),
        Err(e) => panic!("cannot run amtool: {e}"),
    };
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "`amtool check-config alertmanager.yml` failed ({}):\n{out}",
        output.status
    );
    assert!(out.contains("3 inhibit rules"), "{out}");
}

/// Every string under an `"expr"` key, with the JSON path where it was found.
fn dashboard_exprs(value: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{path}.{key}");
                match (key.as_str(), v) {
                    ("expr", serde_json::Value::String(expr)) => out.push((here, expr.clone())),
                    _ => dashboard_exprs(v, &here, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                dashboard_exprs(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn load_dashboard() -> serde_json::Value {
    let path = dashboard_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// Replaces Grafana's variables with values Grafana could put there.
fn substitute_grafana_variables(expr: &str) -> String {
    // Longest names first, so `$__range` does not eat the start of a longer one.
    const VARS: &[(&str, &str)] = &[
        ("$__rate_interval", "1m"),
        ("$__interval", "30s"),
        ("$__range", "1h"),
        ("${site}", "core-room|finance-bureau"),
        ("$site", "core-room|finance-bureau"),
        ("${role}", ".*"),
        ("$role", ".*"),
    ];
    let mut expr = expr.to_string();
    for (var, value) in VARS {
        expr = expr.replace(var, value);
    }
    expr
}

#[test]
fn dashboard_queries_parse() {
    let dashboard = load_dashboard();
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, "$", &mut exprs);
    assert!(
        exprs.len() >= 10,
        "expected the dashboard's queries, found {} `expr` keys",
        exprs.len()
    );

    // Each query becomes a recording rule; promtool parses every one. The
    // JSON path goes into a comment so a failure can be traced to its panel.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (path, expr)) in exprs.iter().enumerate() {
        let expr = substitute_grafana_variables(expr);
        // A JSON string is a valid YAML double-quoted scalar.
        let quoted = serde_json::to_string(&expr).unwrap();
        rules.push_str(&format!(
            "      # {path}\n      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard_queries.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = promtool_explained(
        dir.path(),
        &["check", "rules", "dashboard_queries.yml"],
        &format!("\n--- dashboard_queries.yml ---\n{rules}"),
    );
    assert!(
        out.contains(&format!("{} rules found", exprs.len())),
        "promtool did not see every query:\n{out}\n{rules}"
    );
}

#[test]
fn dashboard_imports_with_any_prometheus() {
    let dashboard = load_dashboard();
    let vars = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let ds = vars
        .iter()
        .find(|v| v["name"] == "DS_PROMETHEUS")
        .expect("a DS_PROMETHEUS data source variable");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    for name in ["site", "role"] {
        assert!(
            vars.iter().any(|v| v["name"] == name),
            "missing variable {name}"
        );
    }
    // No panel or query may point at a data source of the machine the
    // dashboard was made on.
    fn check(value: &serde_json::Value, path: &str) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(uid) = map.get("datasource").and_then(|d| d.get("uid")) {
                    let uid = uid.as_str().unwrap_or_default();
                    assert!(
                        uid == "${DS_PROMETHEUS}" || uid == "-- Grafana --",
                        "{path}: datasource uid {uid:?} is not ${{DS_PROMETHEUS}}"
                    );
                }
                for (k, v) in map {
                    check(v, &format!("{path}.{k}"));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check(v, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }
    check(&dashboard, "$");
}

/// Identifiers starting with `netkpi_` anywhere in `text`.
fn netkpi_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while let Some(pos) = text[i..].find("netkpi_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && is_ident(bytes[end]) {
            end += 1;
        }
        // Only whole identifiers (not e.g. `my_netkpi_x`).
        if start == 0 || !is_ident(bytes[start - 1]) {
            names.insert(text[start..end].to_string());
        }
        i = end;
    }
    names
}

#[test]
fn only_exported_metrics_are_used() {
    let exported = with_full_lab(|daemon| exported_names(&daemon.metrics()));
    // The scrape is the real one: core, SNMP and trap families are in it.
    for name in [
        "netkpi_device_up",
        "netkpi_line_up",
        "netkpi_poll_duration_seconds_bucket",
        "netkpi_if_oper_up",
        "netkpi_traps_received_total",
    ] {
        assert!(
            exported.contains(name),
            "{name} is not in the scrape; names seen: {exported:?}"
        );
    }
    let files = [
        prometheus_dir().join("alerts.yml"),
        prometheus_dir().join("alerts_test.yml"),
        dashboard_path(),
    ];
    let mut unknown = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let names = netkpi_names(&text);
        assert!(
            !names.is_empty(),
            "{} names no netkpi metric",
            file.display()
        );
        for name in names {
            if !exported.contains(&name) {
                unknown.push(format!("{}: {name}", file.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metric names a scrape of netkpi does not have:\n{}\n(the scrape has: {exported:?})",
        unknown.join("\n")
    );
}
