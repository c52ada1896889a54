//! XLSX: one worksheet per table (the same tables, headers and figures as
//! the CSV files), numbers stored as numbers with a format, so a reader can
//! sum, sort and chart them:
//!
//! * ratios (availability, coverage, targets) as fractions formatted
//!   `0.0000%`: the CSV's four decimals of a percentage, so 99.9995 % does
//!   not show as 100 %;
//! * durations as numbers in the unit their header names: minutes
//!   (`#,##0.00`) for the figures, seconds (`#,##0.000`) for an incident's
//!   times to respond and restore, as in the API (plain numbers add up and
//!   average, where Excel's `[h]:mm:ss` durations read back as fractions of
//!   a day);
//! * counts and ids as integers; times stay RFC 3339 text with their
//!   offset, so no time zone is lost.
//!
//! The header row is frozen (and the first column of the wide tables),
//! columns are as wide as their text, and the monthly sheet carries a line
//! chart of the pooled groups' availability month by month.
//!
//! Sheets are written in constant-memory mode (each sheet's rows go to a
//! temporary file as they are written), so memory does not grow with the
//! number of incidents.

use rust_xlsxwriter::{
    Chart, ChartType, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

use super::table::{self, Table};
use crate::config::report::Unit;
use crate::report::{Lang, Report};

/// What a column holds, so its cells are written as numbers with a format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    /// Text that may run long (drafted analysis, definitions): wrapped.
    Prose,
    /// A percentage in the text (`99.9500`), stored as the ratio.
    Percent,
    Minutes,
    Seconds,
    Integer,
    /// Weights and scores, and form values in their own unit.
    Number,
}

/// The kind of each column, found by its header's i18n key.
const COLUMN_KINDS: &[(&str, Kind)] = &[
    ("col.availability_target", Kind::Percent),
    ("col.availability", Kind::Percent),
    ("col.coverage", Kind::Percent),
    ("col.up_min", Kind::Minutes),
    ("col.degraded_min", Kind::Minutes),
    ("col.down_min", Kind::Minutes),
    ("col.unknown_min", Kind::Minutes),
    ("col.maintenance_min", Kind::Minutes),
    ("col.longest_min", Kind::Minutes),
    ("col.outages", Kind::Integer),
    ("col.id", Kind::Integer),
    ("col.root", Kind::Integer),
    ("col.response_s", Kind::Seconds),
    ("col.restore_s", Kind::Seconds),
    ("col.weight", Kind::Number),
    ("col.score", Kind::Number),
    ("col.kwh", Kind::Number),
    ("col.deviation", Kind::Prose),
    ("col.definition", Kind::Prose),
    ("col.basis", Kind::Prose),
    ("col.cause", Kind::Prose),
    ("col.reason", Kind::Prose),
];

/// The widest a column gets (characters); longer text wraps.
const MAX_WIDTH: usize = 60;
const MIN_WIDTH: usize = 6;
/// How many rows a column's width is taken from.
const WIDTH_ROWS: usize = 20_000;

/// The report as a workbook, ready to save. Each table is made, written
/// to its constant-memory sheet and dropped before the next.
pub fn workbook(report: &Report, lang: Lang) -> Result<Workbook, XlsxError> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    for name in table::names(report) {
        let Some(table) = table::table(report, name, lang) else {
            continue;
        };
        let sheet = workbook.add_worksheet_with_constant_memory();
        sheet.set_name(sheet_name(&table, lang))?;
        let kinds = column_kinds(&table, lang);
        layout(sheet, &table, &kinds, &formats)?;
        write_rows(sheet, report, &table, &kinds, &formats, lang)?;
        if table.name == "monthly" {
            monthly_chart(sheet, report, &table, lang)?;
        }
    }
    Ok(workbook)
}

/// The worksheet's name: the table's, translated (Excel allows 31
/// characters and no `[]:*?/\`, which the translations respect).
fn sheet_name(table: &Table, lang: Lang) -> &'static str {
    lang.t(&format!("sheet.{}", table.name))
}

/// The cell formats, made once. Text, integers and plain numbers are
/// written without one (Excel's General shows them as they are): the
/// writer looks each cell's format up by value, which dominated the time
/// of a province's half a million incidents.
struct Formats {
    header: Format,
    prose: Format,
    percent: Format,
    minutes: Format,
    seconds: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(0xD9E1F2)
                .set_border_bottom(FormatBorder::Thin),
            prose: Format::new().set_align(FormatAlign::Top).set_text_wrap(),
            percent: Format::new().set_num_format("0.0000%"),
            minutes: Format::new().set_num_format("#,##0.00"),
            seconds: Format::new().set_num_format("#,##0.000"),
        }
    }

    fn of(&self, kind: Kind) -> Option<&Format> {
        match kind {
            Kind::Text | Kind::Integer | Kind::Number => None,
            Kind::Prose => Some(&self.prose),
            Kind::Percent => Some(&self.percent),
            Kind::Minutes => Some(&self.minutes),
            Kind::Seconds => Some(&self.seconds),
        }
    }
}

/// The kind of each column. The monthly tables' month columns are
/// percentages (availability) or minutes (downtime); the form's target and
/// actual columns take each row's unit ([`unit_columns`]).
fn column_kinds(table: &Table, lang: Lang) -> Vec<Kind> {
    table
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| match table.name {
            "monthly" if i >= 2 => Kind::Percent,
            "monthly_downtime" if i >= 2 => Kind::Minutes,
            _ => COLUMN_KINDS
                .iter()
                .find(|(key, _)| lang.t(key) == h)
                .map_or(Kind::Text, |(_, kind)| *kind),
        })
        .collect()
}

/// The form's target and actual columns, whose cells take each row's
/// unit ([`row_kind`]); none in the other tables.
fn unit_columns(table: &Table, lang: Lang) -> Vec<usize> {
    if table.name != "form" {
        return Vec::new();
    }
    let (target, actual) = (lang.t("col.target"), lang.t("col.actual"));
    (0..table.header.len())
        .filter(|&c| table.header[c] == target || table.header[c] == actual)
        .collect()
}

/// The kind of a form row's target and actual: its unit's (the total row
/// has none).
fn row_kind(report: &Report, row: usize) -> Kind {
    match report.form.rows.get(row).map(|r| r.unit) {
        Some(Unit::Ratio) => Kind::Percent,
        Some(Unit::Seconds) => Kind::Minutes,
        _ => Kind::Number,
    }
}

/// Column widths from the longest text in each (capped: longer text
/// wraps), and the frozen header.
fn layout(
    sheet: &mut Worksheet,
    table: &Table,
    kinds: &[Kind],
    formats: &Formats,
) -> Result<(), XlsxError> {
    // Each column's widest cell among the first rows (a table of half a
    // million incidents is not rendered twice for its widths).
    let mut widths = vec![0; table.header.len()];
    for row in table.rows.iter().take(WIDTH_ROWS) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(display_width(cell));
        }
    }
    for (col, header) in table.header.iter().enumerate() {
        let widest = widths[col];
        // A header may wrap onto two lines rather than widen a column of
        // short numbers.
        let header_width = display_width(header).div_ceil(2).max(MIN_WIDTH);
        let width = (widest + 2).max(header_width).clamp(MIN_WIDTH, MAX_WIDTH);
        let col = col as u16;
        sheet.set_column_width(col, width as f64)?;
        if kinds[col as usize] == Kind::Prose {
            sheet.set_column_format(col, &formats.prose)?;
        }
    }
    let wide = matches!(
        table.name,
        "lines" | "devices" | "monthly" | "monthly_downtime"
    );
    sheet.set_freeze_panes(1, u16::from(wide))?;
    Ok(())
}

/// The header row, then each row's cells: numbers where the column holds
/// them, text otherwise, empty cells left empty.
fn write_rows(
    sheet: &mut Worksheet,
    report: &Report,
    table: &Table,
    kinds: &[Kind],
    formats: &Formats,
    lang: Lang,
) -> Result<(), XlsxError> {
    for (col, header) in table.header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, header, &formats.header)?;
    }
    let by_unit = unit_columns(table, lang);
    for (i, row) in table.rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (col, (cell, kind)) in row.iter().zip(kinds).enumerate() {
            if cell.is_empty() {
                continue;
            }
            let kind = if by_unit.contains(&col) {
                row_kind(report, i)
            } else {
                *kind
            };
            let c = col as u16;
            match (number(cell, kind), formats.of(kind)) {
                (Some(v), Some(format)) => sheet.write_number_with_format(r, c, v, format)?,
                (Some(v), None) => sheet.write_number(r, c, v)?,
                (None, Some(format)) => sheet.write_string_with_format(r, c, cell, format)?,
                (None, None) => sheet.write_string(r, c, cell)?,
            };
        }
    }
    Ok(())
}

/// A cell's value as the number a numeric column stores; `None` for text
/// (and for a numeric column's cell that is not a number).
fn number(cell: &str, kind: Kind) -> Option<f64> {
    match kind {
        Kind::Text | Kind::Prose => None,
        Kind::Percent => cell.parse::<f64>().ok().map(|v| v / 100.0),
        _ => cell.parse::<f64>().ok(),
    }
    .filter(|v| v.is_finite())
}

/// A line chart of the pooled groups' availability (all targets, core,
/// access, lines) month by month, right of the table.
fn monthly_chart(
    sheet: &mut Worksheet,
    report: &Report,
    table: &Table,
    lang: Lang,
) -> Result<(), XlsxError> {
    let months = report.monthly.months.len() as u16;
    if months == 0 {
        return Ok(());
    }
    let name = sheet_name(table, lang);
    let mut chart = Chart::new(ChartType::Line);
    chart.title().set_name(lang.t("chart.monthly"));
    chart.y_axis().set_num_format("0.00%");
    let mut series = 0;
    for (i, row) in report.monthly.rows.iter().enumerate() {
        if row.kind != "group" || row.total.availability.is_none() {
            continue;
        }
        let r = i as u32 + 1;
        series += 1;
        chart
            .add_series()
            .set_name((name, r, 0))
            .set_categories((name, 0, 2, 0, months + 1))
            .set_values((name, r, 2, r, months + 1));
    }
    if series == 0 {
        return Ok(());
    }
    chart.set_width(720).set_height(360);
    let right_of_table = table.header.len() as u16 + 1;
    sheet.insert_chart(1, right_of_table, &chart)?;
    Ok(())
}

/// Columns a text takes: two for a wide (CJK) character, one for the rest.
fn display_width(text: &str) -> usize {
    text.lines()
        .map(|l| {
            l.chars()
                .map(|c| if is_wide(c) { 2 } else { 1 })
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// East Asian wide characters (CJK ideographs, punctuation, full-width
/// forms), the ones a spreadsheet shows twice as wide.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_by_kind() {
        assert_eq!(number("99.9500", Kind::Percent), Some(0.9995));
        assert_eq!(number("12.50", Kind::Minutes), Some(12.5));
        assert_eq!(number("L-001", Kind::Text), None);
        assert_eq!(number("是", Kind::Number), None);
        assert_eq!(number("NaN", Kind::Number), None);
    }

    #[test]
    fn wide_characters_count_twice() {
        assert_eq!(display_width("L-001"), 5);
        assert_eq!(display_width("专线可用性"), 10);
        assert_eq!(display_width("ab\nabcd"), 4);
    }

    #[test]
    fn every_sheet_name_fits_excel() {
        for lang in [Lang::En, Lang::Zh] {
            for name in super::super::table::NAMES.iter() {
                let sheet = lang.t(&format!("sheet.{name}"));
                assert_ne!(sheet, "?", "sheet.{name}");
                assert!(sheet.chars().count() <= 31, "{sheet}");
                assert!(!sheet.contains(['[', ']', ':', '*', '?', '/', '\\']));
            }
        }
    }
}
