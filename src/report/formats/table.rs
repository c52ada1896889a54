//! The report as tables of text cells with translated headers: what CSV
//! writes (one file per table) and Markdown prints, so both show the same
//! columns with the same numbers.
//!
//! Numbers are shown in the unit their header names: ratios as percentages
//! (4 decimals), durations in minutes (2 decimals) except incidents' times,
//! which are seconds as in the API.

use std::borrow::Cow;

use crate::availability::Figures;
use crate::config::report::Unit;
use crate::report::form::trim_number;
use crate::report::model::{Report, WindowRow};
use crate::report::Lang;

/// One table: a stable English name (the CSV file's stem, the API's
/// `table=`), translated headers, rows of cells.
pub struct Table<'a> {
    pub name: &'static str,
    /// The i18n key of its title.
    pub title: &'static str,
    pub header: Vec<String>,
    pub rows: Rows<'a>,
}

/// A table's rows: kept (the small tables) or made one at a time from the
/// report when a renderer asks for them (the incidents: half a million
/// rows of fourteen cells in a province's year, which as text would weigh
/// more than the report itself).
pub enum Rows<'a> {
    Kept(Vec<Vec<String>>),
    Made {
        len: usize,
        row: Box<dyn Fn(usize) -> Vec<String> + 'a>,
    },
}

impl<'a> Rows<'a> {
    pub fn len(&self) -> usize {
        match self {
            Rows::Kept(rows) => rows.len(),
            Rows::Made { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s cells (`i` < [`Rows::len`]).
    pub fn get(&self, i: usize) -> Cow<'_, [String]> {
        match self {
            Rows::Kept(rows) => Cow::Borrowed(&rows[i]),
            Rows::Made { row, .. } => Cow::Owned(row(i)),
        }
    }

    /// Every row in order.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, [String]>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl From<Vec<Vec<String>>> for Rows<'_> {
    fn from(rows: Vec<Vec<String>>) -> Self {
        Rows::Kept(rows)
    }
}

/// Every table's name, in the report's order.
pub const NAMES: [&str; 9] = [
    "form",
    "lines",
    "devices",
    "monthly",
    "monthly_downtime",
    "incidents",
    "maintenance",
    "energy",
    "method",
];

/// The names of the report's tables ([`NAMES`], `energy` only when the
/// period has energy figures), for renderers that make one table at a
/// time with [`table`].
pub fn names(report: &Report) -> Vec<&'static str> {
    NAMES
        .into_iter()
        .filter(|name| *name != "energy" || report.energy.is_some())
        .collect()
}

/// One table by name; `None` for a name not in [`NAMES`].
pub fn table<'a>(report: &'a Report, name: &str, lang: Lang) -> Option<Table<'a>> {
    let h = |keys: &[&str]| keys.iter().map(|k| lang.t(k).to_string()).collect();
    Some(match name {
        "form" => Table {
            name: "form",
            title: "section.form",
            header: h(&[
                "col.level1",
                "col.level2",
                "col.name",
                "col.source",
                "col.target",
                "col.actual",
                "col.unit",
                "col.weight",
                "col.score",
                "col.met",
                "col.basis",
                "col.deviation",
            ]),
            rows: form_rows(report, lang).into(),
        },
        "lines" => Table {
            name: "lines",
            title: "section.lines",
            header: h(&[
                "col.line",
                "col.member_unit",
                "col.carrier",
                "col.bandwidth",
                "col.device",
                "col.availability_target",
                "col.availability",
                "col.coverage",
                "col.up_min",
                "col.degraded_min",
                "col.down_min",
                "col.unknown_min",
                "col.maintenance_min",
                "col.outages",
                "col.longest_min",
                "col.met_target",
            ]),
            rows: report
                .lines
                .iter()
                .map(|l| {
                    let mut row = vec![
                        l.id.clone(),
                        l.unit.clone(),
                        l.carrier.clone(),
                        l.bandwidth.clone().unwrap_or_default(),
                        l.device.clone(),
                        percent(Some(l.availability_target)),
                    ];
                    row.extend(figure_cells(&l.figures));
                    row.push(yes_no(l.met_target, lang));
                    row
                })
                .collect::<Vec<_>>()
                .into(),
        },
        "devices" => Table {
            name: "devices",
            title: "section.devices",
            header: h(&[
                "col.device",
                "col.role",
                "col.category",
                "col.site",
                "col.availability_target",
                "col.availability",
                "col.coverage",
                "col.up_min",
                "col.degraded_min",
                "col.down_min",
                "col.unknown_min",
                "col.maintenance_min",
                "col.outages",
                "col.longest_min",
                "col.met_target",
            ]),
            rows: report
                .devices
                .iter()
                .map(|d| {
                    let mut row = vec![
                        d.name.clone(),
                        lang.t(&format!("role.{}", d.role)).to_string(),
                        d.category
                            .map(|c| lang.t(&format!("category.{c}")).to_string())
                            .unwrap_or_default(),
                        d.site.clone(),
                        percent(Some(d.availability_target)),
                    ];
                    row.extend(figure_cells(&d.figures));
                    row.push(yes_no(d.met_target, lang));
                    row
                })
                .collect::<Vec<_>>()
                .into(),
        },
        "monthly" | "monthly_downtime" => {
            let downtime = name == "monthly_downtime";
            let mut header = vec![
                lang.t("col.target_name").to_string(),
                lang.t("col.kind").to_string(),
            ];
            header.extend(report.monthly.months.iter().map(|m| m.label.clone()));
            header.push(lang.t("col.year_total").to_string());
            let cell = |f: &Figures| {
                if downtime {
                    minutes(f.down_s)
                } else {
                    percent(f.availability)
                }
            };
            Table {
                name: if downtime {
                    "monthly_downtime"
                } else {
                    "monthly"
                },
                title: "section.monthly",
                header,
                rows: report
                    .monthly
                    .rows
                    .iter()
                    .map(|r| {
                        let target = match r.kind {
                            "group" => lang.t(&format!("group.{}", r.target)).to_string(),
                            _ => r.target.clone(),
                        };
                        let mut row = vec![target, lang.t(&format!("kind.{}", r.kind)).to_string()];
                        row.extend(r.months.iter().map(cell));
                        row.push(cell(&r.total));
                        row
                    })
                    .collect::<Vec<_>>()
                    .into(),
            }
        }
        "incidents" => Table {
            name: "incidents",
            title: "section.incidents",
            header: h(&[
                "col.id",
                "col.target_name",
                "col.kind",
                "col.severity",
                "col.opened_at",
                "col.acknowledged_at",
                "col.acknowledged_by",
                "col.restored_at",
                "col.response_s",
                "col.restore_s",
                "col.sla_met",
                "col.planned",
                "col.root",
                "col.cause",
            ]),
            rows: Rows::Made {
                len: report.incidents.len(),
                row: Box::new(move |n| {
                    let i = &report.incidents[n];
                    vec![
                        i.id.to_string(),
                        i.target.clone(),
                        lang.t(&format!("kind.{}", i.kind)).to_string(),
                        lang.t(&format!("severity.{}", i.severity)).to_string(),
                        i.opened_at.clone(),
                        i.acknowledged_at.clone().unwrap_or_default(),
                        i.acknowledged_by.clone().unwrap_or_default(),
                        i.restored_at.clone().unwrap_or_default(),
                        i.response_s.map(|s| format!("{s:.3}")).unwrap_or_default(),
                        i.restore_s.map(|s| format!("{s:.3}")).unwrap_or_default(),
                        yes_no(i.sla_met, lang),
                        yes_no(Some(i.planned), lang),
                        i.root_id.map(|r| r.to_string()).unwrap_or_default(),
                        i.cause.clone().unwrap_or_default(),
                    ]
                }),
            },
        },
        "maintenance" => Table {
            name: "maintenance",
            title: "section.maintenance",
            header: h(&[
                "col.origin",
                "col.id",
                "col.targets",
                "col.start",
                "col.end",
                "col.reason",
                "col.declared_by",
                "col.declared_at",
                "col.reclassifies",
            ]),
            rows: report
                .maintenance
                .iter()
                .map(|w: &WindowRow| {
                    vec![
                        lang.t(&format!("origin.{}", w.origin)).to_string(),
                        w.id.map(|i| i.to_string()).unwrap_or_default(),
                        w.targets.join(" "),
                        w.start.clone(),
                        w.end.clone(),
                        w.reason.clone(),
                        w.declared_by.clone().unwrap_or_default(),
                        w.declared_at.clone().unwrap_or_default(),
                        yes_no(Some(w.reclassifies), lang),
                    ]
                })
                .collect::<Vec<_>>()
                .into(),
        },
        "energy" => Table {
            name: "energy",
            title: "section.energy",
            header: h(&["col.month", "col.kwh", "col.coverage"]),
            rows: report
                .energy
                .iter()
                .flat_map(|e| {
                    e.months
                        .iter()
                        .map(|m| (m.label.clone(), m.kwh, m.coverage))
                        .chain([(lang.t("total").to_string(), e.total_kwh, e.coverage)])
                })
                .map(|(label, kwh, coverage)| vec![label, format!("{kwh:.3}"), percent(coverage)])
                .collect::<Vec<_>>()
                .into(),
        },
        "method" => {
            let m = &report.method;
            let mut rows: Vec<Vec<String>> = vec![
                vec![
                    lang.t("period").to_string(),
                    format!("{} ({} – {})", report.period.label, m.from, m.to),
                ],
                vec![lang.t("timezone").to_string(), m.timezone.clone()],
                vec![
                    lang.t("generated_at").to_string(),
                    report.generated_at.clone(),
                ],
            ];
            rows.extend(
                m.definitions
                    .iter()
                    .map(|d| vec![d.figure.to_string(), d.text.clone()]),
            );
            rows.push(vec![
                lang.t("ledger.records").to_string(),
                m.ledger.records.to_string(),
            ]);
            rows.push(vec![
                lang.t("ledger.head").to_string(),
                m.ledger.head.clone(),
            ]);
            rows.push(vec![
                lang.t("ledger.at").to_string(),
                m.ledger.at.clone().unwrap_or_default(),
            ]);
            Table {
                name: "method",
                title: "section.method",
                header: h(&["col.figure", "col.definition"]),
                rows: rows.into(),
            }
        }
        _ => return None,
    })
}

fn form_rows(report: &Report, lang: Lang) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = report
        .form
        .rows
        .iter()
        .map(|r| {
            vec![
                lang.pick(&r.level1).to_string(),
                lang.pick(&r.level2).to_string(),
                lang.pick(&r.name).to_string(),
                r.source.to_string(),
                in_unit(Some(r.target), r.unit),
                in_unit(r.actual, r.unit),
                unit_label(r.unit, r.unit_text.as_deref(), lang),
                trim_number(r.weight),
                format!("{:.2}", r.score),
                yes_no(r.met, lang),
                r.basis.clone().unwrap_or_default(),
                r.deviation.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut total = vec![String::new(); 12];
    total[0] = lang.t("total").to_string();
    total[7] = trim_number(report.form.total_weight);
    total[8] = format!("{:.2}", report.form.total_score);
    rows.push(total);
    rows
}

/// availability, coverage, up, degraded, down, unknown, maintenance,
/// outages, longest.
fn figure_cells(f: &Figures) -> Vec<String> {
    vec![
        percent(f.availability),
        percent(f.coverage),
        minutes(f.up_s),
        minutes(f.degraded_s),
        minutes(f.down_s),
        minutes(f.unknown_s),
        minutes(f.maintenance_s),
        f.outages.to_string(),
        minutes(f.longest_outage_s),
    ]
}

/// A value in the unit the form shows (percent, minutes), without the unit.
pub fn in_unit(v: Option<f64>, unit: Unit) -> String {
    match (v, unit) {
        (None, _) => String::new(),
        (Some(v), Unit::Ratio) => percent(Some(v)),
        (Some(v), Unit::Seconds) => minutes(v),
        (Some(v), Unit::Kwh) => format!("{v:.1}"),
        (Some(v), Unit::Count | Unit::Manual) => trim_number(v),
    }
}

/// The unit a form row's values are shown in.
pub fn unit_label(unit: Unit, own: Option<&str>, lang: Lang) -> String {
    match unit {
        Unit::Manual => own.unwrap_or("").to_string(),
        Unit::Count => lang.t("unit.count").to_string(),
        Unit::Ratio => lang.t("unit.ratio").to_string(),
        Unit::Seconds => lang.t("unit.seconds").to_string(),
        Unit::Kwh => lang.t("unit.kwh").to_string(),
    }
}

/// A ratio as a percentage with 4 decimals (`99.9500`); empty when `None`.
pub fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.4}", v * 100.0)).unwrap_or_default()
}

/// Seconds as minutes with 2 decimals.
pub fn minutes(seconds: f64) -> String {
    format!("{:.2}", seconds / 60.0)
}

fn yes_no(v: Option<bool>, lang: Lang) -> String {
    match v {
        Some(true) => lang.t("yes").to_string(),
        Some(false) => lang.t("no").to_string(),
        None => String::new(),
    }
}
