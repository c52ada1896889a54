//! CSV: one file per table, UTF-8 with a byte order mark, RFC 4180 (fields
//! with a comma, quote or line break quoted, quotes doubled, CRLF line
//! ends).

use std::path::{Path, PathBuf};

use super::table::{tables, Table};
use super::{write_atomic, WriteError};
use crate::report::{Lang, Report};

/// The byte order mark Excel needs to read a CSV file as UTF-8.
pub const BOM: &str = "\u{feff}";

/// `table` as CSV text, with the byte order mark.
pub fn render(table: &Table) -> String {
    let mut out = String::from(BOM);
    for row in std::iter::once(&table.header).chain(&table.rows) {
        let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One field, quoted when RFC 4180 requires it.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Every table as `DIR/NAME.csv`; the directory is created if missing.
pub fn write_dir(report: &Report, lang: Lang, dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for table in tables(report, lang) {
        let path = dir.join(format!("{}.csv", table.name));
        write_atomic(&path, render(&table).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4180_quoting_and_bom() {
        let t = Table {
            name: "t",
            title: "section.form",
            header: vec!["a".into(), "b,c".into()],
            rows: vec![
                vec!["say \"hi\"".into(), "line\nbreak".into()],
                vec!["中文".into(), String::new()],
            ],
        };
        assert_eq!(
            render(&t),
            "\u{feff}a,\"b,c\"\r\n\"say \"\"hi\"\"\",\"line\nbreak\"\r\n中文,\r\n"
        );
    }
}
