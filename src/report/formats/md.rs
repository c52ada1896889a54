//! Markdown: a title, the period, then every table under its heading, the
//! method's definitions and the ledger's head.

use std::io::{self, Write};

use super::table::{names, table, Table};
use crate::report::{Lang, Report};

/// The Markdown text of `report`.
pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(report, lang, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// `report` as Markdown to `w`, a row at a time.
pub fn write(report: &Report, lang: Lang, w: &mut impl Write) -> io::Result<()> {
    writeln!(w, "# {} {}\n", lang.t("title"), report.period.label)?;
    writeln!(
        w,
        "- {}: {} – {} ({})",
        lang.t("period"),
        report.period.from,
        report.period.to,
        report.period.timezone
    )?;
    writeln!(w, "- {}: {}", lang.t("generated_at"), report.generated_at)?;
    if let Some(notice) = &report.notice {
        writeln!(w, "\n> **{}:** {}", lang.t("notice"), escape(notice))?;
    }
    for name in names(report) {
        let Some(table) = table(report, name, lang) else {
            continue;
        };
        // The monthly downtime table shares the monthly heading.
        if table.name != "monthly_downtime" {
            writeln!(w, "\n## {}\n", lang.t(table.title))?;
        } else {
            writeln!(w)?;
        }
        write_table(w, &table)?;
    }
    Ok(())
}

fn write_table(w: &mut impl Write, table: &Table) -> io::Result<()> {
    write_cells(w, &table.header)?;
    writeln!(w, "|{}", " --- |".repeat(table.header.len()))?;
    for r in table.rows.iter() {
        write_cells(w, &r)?;
    }
    Ok(())
}

/// One table row: `| a | b |`.
fn write_cells(w: &mut impl Write, cells: &[String]) -> io::Result<()> {
    w.write_all(b"|")?;
    for c in cells {
        write!(w, " {} |", escape(c))?;
    }
    w.write_all(b"\n")
}

/// A cell's text on one line with `|` escaped.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}
