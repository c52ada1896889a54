//! The evaluation form live: the real daemon (in a private network
//! namespace, ICMP devices on loopback) with the shipped form and manual
//! values exports every `[[indicator]]` row as `netkpi_indicator_*`, with
//! the same ids, levels, targets and weights as `netkpi report` prints for
//! the year, the manual rows' values and scores from the manual file, and
//! a total that adds the rows up; the scrape passes `promtool check
//! metrics`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::full_lab::promtool_findings;
use common::{lab_config, Daemon, NetNs};
use serde_json::Value;

/// The manual rows of config/report/manual.toml: id, value, target and weight
/// from config/report/indicators.toml, and the score a linear row earns
/// (`weight` at or beyond the target; the shipped manual rows are).
const MANUAL: [(&str, f64, f64, f64); 3] = [
    ("budget_execution", 98.5, 100.0, 5.0),
    ("economic_benefit", 120.0, 100.0, 10.0),
    ("satisfaction", 96.0, 90.0, 10.0),
];

/// `name{labels} value` samples of one family: labels text → value.
fn samples(scrape: &str, name: &str) -> BTreeMap<String, f64> {
    scrape
        .lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_form_year_to_date_is_exported_as_the_report_has_it() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/report");
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[report]\nindicators_file = \"{}\"\nmanual_file = \"{}\"\n",
            lab_config("data"),
            repo.join("indicators.toml").display(),
            repo.join("manual.toml").display()
        ),
    )
    .unwrap();
    let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("netkpi.log"));
    // Computed at start, then every 5 min.
    let scrape = daemon.wait_until("the form in the metrics", Duration::from_secs(20), || {
        let m = daemon.metrics();
        if m.contains("netkpi_indicator_total_score ") {
            Ok(m)
        } else {
            Err("not yet")
        }
    });
    let findings = promtool_findings(&scrape);
    assert!(findings.is_empty(), "promtool: {findings:?}");

    // The report of this year, from the same store while the daemon runs.
    // Asia/Shanghai is UTC+8 all year.
    let local = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(8);
    let year = local.to_string()[..4].to_string();
    let out = dir.path().join("r.json");
    let o = Command::new(env!("CARGO_BIN_EXE_netkpi"))
        .args(["report", "--config"])
        .arg(&config)
        .args(["--year", &year, "--lang", "en", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rows = r["form"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 14, "the shipped form");

    let targets = samples(&scrape, "netkpi_indicator_target");
    let weights = samples(&scrape, "netkpi_indicator_weight");
    let scores = samples(&scrape, "netkpi_indicator_score");
    let actuals = samples(&scrape, "netkpi_indicator_actual");
    let met = samples(&scrape, "netkpi_indicator_met");
    assert_eq!(targets.len(), rows.len(), "{targets:?}");
    for row in rows {
        let labels = format!(
            "{{indicator=\"{}\",level1=\"{}\",level2=\"{}\"}}",
            row["id"].as_str().unwrap(),
            row["level1"]["en"].as_str().unwrap(),
            row["level2"]["en"].as_str().unwrap()
        );
        assert_eq!(
            targets.get(&labels).copied(),
            row["target"].as_f64(),
            "target {labels}"
        );
        assert_eq!(
            weights.get(&labels).copied(),
            row["weight"].as_f64(),
            "weight {labels}"
        );
        assert!(scores.contains_key(&labels), "score {labels}");
        // A row without data has neither an actual value nor a verdict.
        assert_eq!(
            actuals.contains_key(&labels),
            met.contains_key(&labels),
            "{labels}"
        );
    }
    for (id, value, target, weight) in MANUAL {
        let labels = targets
            .keys()
            .find(|l| l.starts_with(&format!("{{indicator=\"{id}\",")))
            .unwrap_or_else(|| panic!("{id} in {targets:?}"));
        assert_eq!(actuals[labels], value, "{id}");
        assert_eq!(targets[labels], target, "{id}");
        let want_score = if value >= target { weight } else { 0.0 };
        if value >= target {
            assert_eq!(met[labels], 1.0, "{id}");
        }
        assert!(
            value < target || scores[labels] == want_score,
            "{id}: score {} for {value} against {target}",
            scores[labels]
        );
    }
    let total = samples(&scrape, "netkpi_indicator_total_score")[""];
    let sum: f64 = scores.values().sum();
    assert!(
        (total - sum).abs() < 1e-9,
        "total {total}, rows add up to {sum}"
    );
    drop(daemon);
}
