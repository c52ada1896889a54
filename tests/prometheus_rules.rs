//! The Prometheus side of netkpi: the scrape config and alert rules in
//! `deploy/prometheus/`, the Alertmanager config in `deploy/alertmanager/`
//! and the Grafana dashboards in `dashboards/`.
//!
//! The Alertmanager config is checked with `amtool check-config` (Debian
//! package `prometheus-alertmanager`); `alerting_e2e` runs it for real.
//!
//! Everything is checked with `promtool` (Debian package `prometheus`):
//! the config and rules load, the alert unit tests in `alerts_test.yml` pass,
//! every PromQL expression in every dashboard parses, and every `netkpi_*`
//! metric these files name is one netkpi exports (a misspelt metric name in an
//! alert is not an error to Prometheus: the alert just never fires). What
//! netkpi exports is taken from a scrape of the real daemon running with
//! ICMP and SNMP devices and traps (`tests/common/full_lab.rs`), not from a
//! list kept by hand. (`dashboards_e2e` runs every dashboard query against a
//! real Prometheus scraping that lab.)

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::dashboards;
use common::full_lab::{exported_names, with_full_lab};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_dir() -> PathBuf {
    root().join("deploy/prometheus")
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

#[test]
fn dashboard_queries_parse() {
    // Each query, and each variable's label_values() selector, becomes a
    // recording rule; promtool parses every one. The file and JSON path go
    // into a comment so a failure can be traced to its panel.
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    let mut n = 0;
    for file in dashboards::files() {
        let dashboard = dashboards::load(&file);
        let mut exprs = Vec::new();
        dashboard_exprs(&dashboard["panels"], "$.panels", &mut exprs);
        assert!(
            exprs.len() >= 5,
            "{file}: expected the dashboard's queries, found {} `expr` keys",
            exprs.len()
        );
        for (i, var) in dashboards::variables(&dashboard).iter().enumerate() {
            if let Some(query) = dashboards::variable_query(var).filter(|_| var["type"] == "query")
            {
                let selector = query
                    .strip_prefix("label_values(")
                    .and_then(|q| q.rsplit_once(','))
                    .map(|(selector, _)| selector.to_string())
                    .unwrap_or_else(|| {
                        panic!(
                            "{file}: variable {} is not label_values(SELECTOR, LABEL): {query}",
                            var["name"]
                        )
                    });
                exprs.push((format!("$.templating.list[{i}].query"), selector));
            }
        }
        for (path, expr) in exprs {
            let expr = dashboards::substitute(&format!("{file} {path}"), &expr);
            // A JSON string is a valid YAML double-quoted scalar.
            let quoted = serde_json::to_string(&expr).unwrap();
            rules.push_str(&format!(
                "      # {file} {path}\n      - record: dashboard:query_{n}\n        expr: {quoted}\n"
            ));
            n += 1;
        }
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
        out.contains(&format!("{n} rules found")),
        "promtool did not see every query:\n{out}\n{rules}"
    );
}

#[test]
fn dashboards_import_with_any_prometheus() {
    let mut uids = Vec::new();
    for file in dashboards::files() {
        let dashboard = dashboards::load(&file);
        let schema = dashboard["schemaVersion"].as_u64().unwrap_or(0);
        assert!(
            schema >= 39,
            "{file}: schemaVersion {schema}, want 39 or later"
        );
        let uid = dashboard["uid"].as_str().unwrap_or_default().to_string();
        assert!(
            !uid.is_empty() && !uids.contains(&uid),
            "{file}: uid {uid:?} missing or taken"
        );
        uids.push(uid);
        let vars = dashboards::variables(&dashboard);
        let ds = vars
            .iter()
            .find(|v| v["name"] == "datasource")
            .unwrap_or_else(|| panic!("{file}: no `datasource` variable"));
        assert_eq!(ds["type"], "datasource", "{file}");
        assert_eq!(ds["query"], "prometheus", "{file}");
        let wanted = dashboards::VARIABLES
            .iter()
            .find(|(f, _)| *f == file)
            .map_or(&[][..], |(_, names)| *names);
        for name in wanted {
            let var = vars
                .iter()
                .find(|v| v["name"] == *name)
                .unwrap_or_else(|| panic!("{file}: missing variable {name}"));
            // Choices come from the info series, so a device or line that
            // is down or unknown can still be picked.
            let query = dashboards::variable_query(var).unwrap_or_default();
            assert!(
                query.starts_with("label_values(netkpi_device_info")
                    || query.starts_with("label_values(netkpi_line_info"),
                "{file}: variable {name} does not take label_values of an info metric: {query}"
            );
            assert_eq!(var["datasource"]["uid"], "${datasource}", "{file}: {name}");
        }
        // No panel or query may point at a data source of the machine the
        // dashboard was made on.
        check_datasources(&file, &dashboard, "$");
        for panel in dashboards::panels(&dashboard) {
            if panel["type"] != "row" {
                assert_eq!(
                    panel["datasource"]["uid"], "${datasource}",
                    "{file}: panel {} has no ${{datasource}} data source",
                    panel["title"]
                );
            }
        }
    }
}

fn check_datasources(file: &str, value: &serde_json::Value, path: &str) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(uid) = map.get("datasource").and_then(|d| d.get("uid")) {
                let uid = uid.as_str().unwrap_or_default();
                assert!(
                    uid == "${datasource}" || uid == "-- Grafana --",
                    "{file} {path}: datasource uid {uid:?} is not ${{datasource}}"
                );
            }
            for (k, v) in map {
                check_datasources(file, v, &format!("{path}.{k}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_datasources(file, v, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
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
    let mut files = vec![
        prometheus_dir().join("alerts.yml"),
        prometheus_dir().join("alerts_test.yml"),
    ];
    files.extend(
        dashboards::files()
            .iter()
            .map(|f| dashboards::dir().join(f)),
    );
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
