//! The energy table (kWh per month and its coverage), present only when
//! the report has energy figures: the XLSX and HTML formats add it after
//! the shared [`tables`](super::table::tables), taking the tables one at a
//! time ([`names`], [`by_name`]).

use super::table::{percent, Table};
use crate::report::{Lang, Report};

/// The energy table, or `None` when the report has no energy figures.
pub fn table(report: &Report, lang: Lang) -> Option<Table> {
    let energy = report.energy.as_ref()?;
    let mut rows: Vec<Vec<String>> = energy
        .months
        .iter()
        .map(|m| {
            vec![
                m.label.clone(),
                format!("{:.1}", m.kwh),
                percent(m.coverage),
            ]
        })
        .collect();
    rows.push(vec![
        lang.t("total").to_string(),
        format!("{:.1}", energy.total_kwh),
        String::new(),
    ]);
    Some(Table {
        name: "energy",
        title: "section.energy",
        header: ["col.month", "col.kwh", "col.coverage"]
            .iter()
            .map(|k| lang.t(k).to_string())
            .collect(),
        rows,
    })
}

/// The names of the report's tables: the shared ones, then `energy` when
/// the report has energy figures.
pub fn names(report: &Report) -> Vec<&'static str> {
    let mut names = super::table::NAMES.to_vec();
    if report.energy.is_some() {
        names.push("energy");
    }
    names
}

/// One table of [`names`], made when asked for, so a renderer holds one
/// table at a time.
pub fn by_name(report: &Report, name: &str, lang: Lang) -> Option<Table> {
    match name {
        "energy" => table(report, lang),
        _ => super::table::table(report, name, lang),
    }
}
