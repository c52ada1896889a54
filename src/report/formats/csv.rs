//! CSV: one file per table, UTF-8 with a byte order mark, RFC 4180 (fields
//! with a comma, quote or line break quoted, quotes doubled, CRLF line
//! ends).

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::table::{names, table, Table};
use super::{write_atomic_with, WriteError};
use crate::report::{Lang, Report};

/// The byte order mark Excel needs to read a CSV file as UTF-8.
pub const BOM: &str = "\u{feff}";

/// `table` as CSV text, with the byte order mark.
pub fn render(table: &Table) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(table, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// `table` as CSV to `w`, with the byte order mark, a row at a time.
pub fn write(table: &Table, w: &mut impl Write) -> io::Result<()> {
    w.write_all(BOM.as_bytes())?;
    write_row(&table.header, w)?;
    for row in table.rows.iter() {
        write_row(&row, w)?;
    }
    Ok(())
}

fn write_row(row: &[String], w: &mut impl Write) -> io::Result<()> {
    for (i, f) in row.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(field(f).as_bytes())?;
    }
    w.write_all(b"\r\n")
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
    for name in names(report) {
        let Some(table) = table(report, name, lang) else {
            continue;
        };
        let path = dir.join(format!("{}.csv", table.name));
        write_atomic_with(&path, |file| {
            let mut w = BufWriter::new(file);
            write(&table, &mut w)?;
            w.flush()
        })?;
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
            ]
            .into(),
        };
        assert_eq!(
            render(&t),
            "\u{feff}a,\"b,c\"\r\n\"say \"\"hi\"\"\",\"line\nbreak\"\r\n中文,\r\n"
        );
    }
}
