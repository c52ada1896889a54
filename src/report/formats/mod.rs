//! The report's formats, each a rendering of the same [`Report`]:
//!
//! * `json`: the model itself (what `GET /api/v1/report` answers);
//! * `csv`: one file per [`table`] in a directory, UTF-8 with a byte order
//!   mark (so Excel on a Chinese Windows reads it as UTF-8), RFC 4180;
//! * `md`: Markdown, every table under its heading;
//! * `xlsx`: one worksheet per table, numbers with formats, a chart of
//!   availability by month ([`xlsx`]);
//! * `html`: one self-contained printable page with inline SVG charts
//!   ([`html`]).
//!
//! Every file is written under a temporary name beside its place and
//! renamed there: a reader never sees half a report.

pub mod csv;
pub mod html;
pub mod md;
pub mod table;
pub mod xlsx;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Lang, Report};

/// The formats `--format` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Md,
    Html,
    Xlsx,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Csv,
        Format::Md,
        Format::Html,
        Format::Xlsx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot make the XLSX workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("{CSV_TO_STDOUT}")]
    CsvToStdout,
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why `--format csv --out -` is refused.
pub const CSV_TO_STDOUT: &str = "--format csv writes a directory of files, one per table, \
     and cannot go to standard output (--out -): give a directory, or take one table \
     from GET /api/v1/report?format=csv&table=NAME";

/// The JSON text of the report (pretty, as the CLI writes it).
pub fn json(report: &Report) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}

/// Writes `report` to `out` in `format`: a file for json, md, html and
/// xlsx (`-`: standard output), a directory of one file per table for csv
/// (created if missing; `-` is refused, [`CSV_TO_STDOUT`]). Returns what
/// was written.
///
/// Files are written as they are rendered (not built whole in memory
/// first), and the incidents table's rows are made one at a time
/// ([`table::Rows`]), so a province's year of incidents costs the report
/// model and a row.
pub fn write(
    report: &Report,
    format: Format,
    lang: Lang,
    out: &Path,
) -> Result<Vec<PathBuf>, WriteError> {
    if out == Path::new("-") {
        let bytes = match format {
            Format::Xlsx => xlsx::workbook(report, lang)?.save_to_buffer()?,
            Format::Html => html::render(report, lang).into_bytes(),
            Format::Md => md::render(report, lang).into_bytes(),
            Format::Json => json(report).into_bytes(),
            Format::Csv => return Err(WriteError::CsvToStdout),
        };
        std::io::stdout()
            .write_all(&bytes)
            .map_err(|source| WriteError::Io {
                path: out.to_path_buf(),
                source,
            })?;
        return Ok(Vec::new());
    }
    match format {
        Format::Xlsx => {
            let mut workbook = xlsx::workbook(report, lang)?;
            write_atomic_with(out, |file| {
                workbook
                    .save_to_writer(BufWriter::new(file))
                    .map_err(std::io::Error::other)
            })?;
        }
        Format::Html => write_atomic_with(out, |file| {
            let mut w = BufWriter::new(file);
            html::write(report, lang, &mut w)?;
            w.flush()
        })?,
        Format::Json => write_atomic_with(out, |file| {
            let mut w = BufWriter::new(file);
            serde_json::to_writer_pretty(&mut w, report)?;
            w.write_all(b"\n")?;
            w.flush()
        })?,
        Format::Md => write_atomic_with(out, |file| {
            let mut w = BufWriter::new(file);
            md::write(report, lang, &mut w)?;
            w.flush()
        })?,
        Format::Csv => return csv::write_dir(report, lang, out),
    }
    Ok(vec![out.to_path_buf()])
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames
/// it to `path`; on failure nothing is left behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Like [`write_atomic`], with `fill` writing the temporary file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        fill(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}
