//! The energy table (kWh per month and its coverage), present only when
//! the report has energy figures: the XLSX and HTML formats add it after
//! the shared [`tables`](super::table::tables).

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

/// Every table of the report: the shared ones, then energy when present.
pub fn all_tables(report: &Report, lang: Lang) -> Vec<Table> {
    let mut tables = super::table::tables(report, lang);
    tables.extend(table(report, lang));
    tables
}
