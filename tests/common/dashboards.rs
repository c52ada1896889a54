//! The Grafana dashboards in `dashboards/`: their files, panels, queries and
//! template variables, and the values a test puts in place of Grafana's
//! variables (`prometheus_rules` parses every query with promtool;
//! `dashboards_e2e` runs every one against a real Prometheus).

use std::path::PathBuf;

use serde_json::Value;

/// The shipped dashboards, one per audience.
pub const FILES: &[&str] = &[
    "netkpi-duty.json",
    "netkpi-lines.json",
    "netkpi-machine-room.json",
    "netkpi-indicators.json",
    "netkpi-self.json",
];

/// What each dashboard's template variables must include (besides
/// `datasource`, which every one has).
pub const VARIABLES: &[(&str, &[&str])] = &[
    (
        "netkpi-duty.json",
        &["site", "role", "unit", "carrier", "line"],
    ),
    ("netkpi-lines.json", &["unit", "carrier", "line"]),
    ("netkpi-machine-room.json", &["site"]),
    (
        "netkpi-indicators.json",
        &["site", "role", "unit", "carrier"],
    ),
    ("netkpi-self.json", &[]),
];

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every `*.json` file in `dashboards/`, by name, sorted; fails unless the
/// shipped [`FILES`] are all there.
pub fn files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("read dashboards/")
        .map(|e| e.expect("dashboards/ entry").file_name())
        .filter_map(|n| n.to_str().map(str::to_string))
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    for want in FILES {
        assert!(
            names.iter().any(|n| n == want),
            "dashboards/{want} is missing (found {names:?})"
        );
    }
    names
}

pub fn load(file: &str) -> Value {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct Query {
    pub file: String,
    pub panel: String,
    pub ref_id: String,
    pub expr: String,
}

impl Query {
    /// `file: panel [refId]`, how a failure names it.
    pub fn name(&self) -> String {
        format!("{}: {} [{}]", self.file, self.panel, self.ref_id)
    }
}

/// Every panel of a dashboard, rows' nested panels included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'v>(list: &'v Value, out: &mut Vec<&'v Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Every query target of every panel, in panel order.
pub fn queries(file: &str, dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for t in panel["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: a target of {} has no expr", panel["title"]));
            out.push(Query {
                file: file.to_string(),
                panel: panel["title"].as_str().unwrap_or("?").to_string(),
                ref_id: t["refId"].as_str().unwrap_or("?").to_string(),
                expr: expr.to_string(),
            });
        }
    }
    out
}

/// The dashboard's template variables (`templating.list`).
pub fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

/// A query variable's query text (`label_values(...)`): the plain string or
/// the `query` of the object form.
pub fn variable_query(var: &Value) -> Option<&str> {
    var["query"].as_str().or(var["query"]["query"].as_str())
}

/// Grafana's variables and what a test puts in their place: every filter
/// matches everything (as "All" does), intervals as Grafana would pick them
/// for a few minutes' range. Longest names first, so `$__range` does not eat
/// the start of a longer one.
pub const SUBSTITUTIONS: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "5m"),
    ("$carrier", ".*"),
    ("$site", ".*"),
    ("$role", ".*"),
    ("$unit", ".*"),
    ("$line", ".*"),
];

/// `expr` with Grafana's variables replaced ([`SUBSTITUTIONS`]); fails on a
/// variable left over (a `$` before a letter, `_` or `{`; `$1` in a
/// `label_replace` is PromQL's own).
pub fn substitute(what: &str, expr: &str) -> String {
    let mut out = expr.to_string();
    for (var, value) in SUBSTITUTIONS {
        out = out.replace(var, value);
    }
    let leftover = out.match_indices('$').map(|(i, _)| &out[i..]).find(|rest| {
        rest[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '{')
    });
    assert!(
        leftover.is_none(),
        "{what}: a Grafana variable this test does not know: {:?} in\n{out}",
        leftover.map(|r| r.chars().take(20).collect::<String>())
    );
    out
}
