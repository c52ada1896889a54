//! Markdown: a title, the period, then every table under its heading, the
//! method's definitions and the ledger's head.

use std::fmt::Write;

use super::table::{tables, Table};
use crate::report::{Lang, Report};

pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} {}\n", lang.t("title"), report.period.label);
    let _ = writeln!(
        out,
        "- {}: {} – {} ({})",
        lang.t("period"),
        report.period.from,
        report.period.to,
        report.period.timezone
    );
    let _ = writeln!(out, "- {}: {}", lang.t("generated_at"), report.generated_at);
    if let Some(notice) = &report.notice {
        let _ = writeln!(out, "\n> **{}:** {}", lang.t("notice"), escape(notice));
    }
    for table in tables(report, lang) {
        // The monthly downtime table shares the monthly heading.
        if table.name != "monthly_downtime" {
            let _ = writeln!(out, "\n## {}\n", lang.t(table.title));
        } else {
            out.push('\n');
        }
        render_table(&mut out, &table);
    }
    out
}

fn render_table(out: &mut String, table: &Table) {
    let row = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| escape(c)).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&row(&table.header));
    out.push_str(&format!("|{}\n", " --- |".repeat(table.header.len())));
    for r in &table.rows {
        out.push_str(&row(r));
    }
}

/// A cell's text on one line with `|` escaped.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}
