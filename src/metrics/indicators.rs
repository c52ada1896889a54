//! The evaluation form year to date as gauges, one series per
//! `[[indicator]]` row (labelled with its stable English id and its
//! English level 1 and level 2), as the daemon last recomputed it from the
//! store: the actual value, the target, whether the target is met, the
//! weight and the score, and the total score.
//!
//! Values are in the row's unit: ratios 0..1, durations in seconds,
//! counts, kWh, or a manual row's own unit. A row without data (nothing
//! observed yet, no manual value) has no actual value and no `met`
//! series, rather than a guess; its score is 0, as on the form.

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::collector::family;
use crate::live::Live;
use crate::report::model::FormRow;

/// One per-row family: name, help, the row's value (`None`: no sample).
type RowFamily = (&'static str, &'static str, fn(&FormRow) -> Option<f64>);

const ROW_FAMILIES: [RowFamily; 5] = [
    (
        "netkpi_indicator_actual",
        "The evaluation form's row year to date: the value reached, in the row's unit (ratios 0..1, seconds, counts, kWh, or a manual row's unit); absent without data; recomputed every 5 min",
        |r| r.actual,
    ),
    (
        "netkpi_indicator_target",
        "The target of the evaluation form's row, in the row's unit",
        |r| Some(r.target),
    ),
    (
        "netkpi_indicator_met",
        "1 when the row's value year to date reaches its target (at or above it, or at or below it for a lower-is-better row), else 0; absent without data",
        |r| r.met.map(|m| if m { 1.0 } else { 0.0 }),
    ),
    (
        "netkpi_indicator_weight",
        "The points the evaluation form's row is worth",
        |r| Some(r.weight),
    ),
    (
        "netkpi_indicator_score",
        "The points the row earns year to date under its score rule (0 without data)",
        |r| Some(r.score),
    ),
];

pub(super) fn encode_indicators(
    encoder: &mut DescriptorEncoder,
    live: &Live,
) -> Result<(), std::fmt::Error> {
    let Some(form) = live.form() else {
        return Ok(());
    };
    if form.rows.is_empty() {
        return Ok(());
    }
    for (name, help, value) in ROW_FAMILIES {
        let mut f = family(encoder, name, help, MetricType::Gauge)?;
        for row in &form.rows {
            if let Some(v) = value(row).filter(|v| v.is_finite()) {
                let labels = [
                    ("indicator", row.id.as_str()),
                    ("level1", row.level1.en.as_str()),
                    ("level2", row.level2.en.as_str()),
                ];
                f.sample(&labels, v)?;
            }
        }
    }
    // Not `_score_total`: promtool reserves `_total` for counters.
    family(
        encoder,
        "netkpi_indicator_total_score",
        "The evaluation form's total score year to date (the rows' scores added up)",
        MetricType::Gauge,
    )?
    .sample(&[], form.total_score)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use crate::config::report::{Direction, Label, Unit};
    use crate::inventory::Inventory;
    use crate::live::Live;
    use crate::metrics::{Metrics, Sources};
    use crate::report::model::{Form, FormRow};
    use crate::store::StoreStats;
    use crate::tally::Tallies;

    fn label(en: &str) -> Label {
        Label {
            zh: "中文".into(),
            en: en.into(),
        }
    }

    fn row(id: &str, unit: Unit, target: f64, actual: Option<f64>, score: f64) -> FormRow {
        FormRow {
            id: id.into(),
            level1: label("Output"),
            level2: label("Quality"),
            name: label(id),
            source: "availability",
            unit,
            unit_text: None,
            direction: Direction::Higher,
            score_rule: "linear",
            target,
            actual,
            basis: None,
            weight: 5.0,
            score,
            met: actual.map(|a| a >= target),
            deviation: None,
        }
    }

    fn scrape(form: Option<Form>) -> String {
        let config = crate::config::load_str(std::path::Path::new("t.toml"), "").unwrap();
        let live = Arc::new(Live::new(
            Arc::new(Inventory::new(&config)),
            &[],
            &Tallies::new(),
        ));
        live.set_form(form);
        let metrics = Metrics::new();
        metrics.attach(Sources {
            live,
            icmp: None,
            store: Arc::new(StoreStats::default()),
            traps: Arc::new(OnceLock::new()),
        });
        metrics.encode_prometheus()
    }

    #[test]
    fn each_row_with_its_id_and_english_levels_and_the_total() {
        let text = scrape(Some(Form {
            rows: vec![
                row(
                    "network_availability",
                    Unit::Ratio,
                    0.999,
                    Some(0.9962),
                    2.5,
                ),
                row("satisfaction", Unit::Manual, 90.0, None, 0.0),
            ],
            total_weight: 10.0,
            total_score: 2.5,
        }));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let labels = r#"indicator="network_availability",level1="Output",level2="Quality""#;
        for want in [
            format!("netkpi_indicator_actual{{{labels}}} 0.9962"),
            format!("netkpi_indicator_target{{{labels}}} 0.999"),
            format!("netkpi_indicator_met{{{labels}}} 0.0"),
            format!("netkpi_indicator_weight{{{labels}}} 5.0"),
            format!("netkpi_indicator_score{{{labels}}} 2.5"),
            r#"netkpi_indicator_target{indicator="satisfaction",level1="Output",level2="Quality"} 90.0"#
                .to_string(),
            r#"netkpi_indicator_score{indicator="satisfaction",level1="Output",level2="Quality"} 0.0"#
                .to_string(),
            "netkpi_indicator_total_score 2.5".to_string(),
        ] {
            assert!(lines.contains(&want.as_str()), "{want} missing from\n{text}");
        }
        // No data: no actual value and no verdict, rather than a guess.
        for absent in [
            r#"netkpi_indicator_actual{indicator="satisfaction""#,
            r#"netkpi_indicator_met{indicator="satisfaction""#,
        ] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
        assert!(text.contains("# TYPE netkpi_indicator_total_score gauge"));
    }

    #[test]
    fn nothing_without_a_form() {
        for form in [
            None,
            Some(Form {
                rows: Vec::new(),
                total_weight: 100.0,
                total_score: 0.0,
            }),
        ] {
            assert!(!scrape(form).contains("netkpi_indicator"));
        }
    }
}
