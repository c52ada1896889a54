//! Diagnostics: one problem in a file, printed as
//! `FILE:LINE:COL: path.to.field: message`; the collector every check of
//! the config and of the SNMP profiles reports into; and byte offsets turned
//! into `LINE:COL`.
//!
//! A leaf: it depends on nothing else in the crate, so the config and the
//! probes can both report through it.
//!
//! One `Diags` may cover several files: the config file and what it pulls
//! in (included TOML fragments, CSV inventories). Each further file's spans
//! are moved past the ones before (`Diags::add_source`), so a span still
//! names one place in one file and the checks need not know which file a
//! value came from; the file, its `LINE:COL` (or `ROW:COL` in a CSV file) and
//! a path in its own terms are worked out when a problem is reported.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a config or profile file, printed as
/// `FILE:LINE:COL: path.to.field: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file (e.g. unreadable).
    pub line: usize,
    pub col: usize,
    /// Dotted path of the field, with 0-based array indices: `line[3].device`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A problem with the file as a whole (it cannot be read) has no
        // place in it: a plain sentence naming the file.
        if self.line == 0 && self.path == "-" {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.path,
            self.message
        )
    }
}

/// How many characters of a value from the file a message quotes.
pub const SHOWN_MAX_CHARS: usize = 40;

/// A value from the file as a message quotes it: like `{:?}` (so control
/// characters show as escapes), but cut after [`SHOWN_MAX_CHARS`] characters
/// and marked `…`, so a runaway value (a 100 000-character name) cannot
/// flood the terminal or the journal.
pub struct Shown<'a>(pub &'a str);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(SHOWN_MAX_CHARS) {
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// Where each line starts, to turn a byte offset into a 1-based line and a
/// 1-based column counted in characters (what editors show).
pub(crate) struct LineIndex<'t> {
    text: Cow<'t, str>,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: impl Into<Cow<'t, str>>) -> Self {
        let text = text.into();
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// A file read after the main one, whose spans were moved to start at
/// `base` ([`Diags::add_source`]).
pub(crate) struct Source {
    pub file: PathBuf,
    pub base: usize,
    /// Offsets `base..base + len` are this file's.
    pub len: usize,
    pub kind: SourceKind,
}

/// How offsets in a further file become a place and a path.
pub(crate) enum SourceKind {
    /// A TOML fragment: `LINE:COL` as in the main file. Its entries were
    /// numbered after those of the files before it, so an index in a path
    /// (`device[12]`) is renumbered from `first` (`("device", 10)`: the
    /// fragment's first device is the config's 10th), which gives the
    /// entry's index in its own file.
    Toml {
        index: LineIndex<'static>,
        first: Vec<(&'static str, usize)>,
    },
    /// A CSV file: offset `base + i` is `cells[i]`, each cell (and each row)
    /// a one-byte span of its own; `columns` are the header's names.
    Table {
        columns: Vec<String>,
        cells: Vec<Cell>,
    },
}

/// One cell of a CSV file, or a whole row when `column` is `None`.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    /// 1-based, the header being row 1.
    pub row: usize,
    /// 1-based column index; 1 for a whole row.
    pub col: usize,
    /// The column's index in the header's names.
    pub column: Option<usize>,
}

/// Spans inside `span` (a `template` in the config file, applied to many
/// entries) have the entry part of their path, `section[N]`, replaced by
/// `to`, so a mistake in the template is one message at the template.
struct Rename {
    span: Range<usize>,
    section: &'static str,
    to: String,
}

/// Every problem found, in the order found; `finish` sorts them by place.
pub(crate) struct Diags<'t> {
    file: PathBuf,
    index: LineIndex<'t>,
    sources: Vec<Source>,
    renames: Vec<Rename>,
    items: Vec<Diagnostic>,
    /// Paths already reported: a later check on the same field (typically
    /// "missing" after a wrong-typed value was dropped) would only repeat it.
    reported: HashSet<String>,
    /// Places and messages already reported: a template applied to many
    /// entries reports its mistake once.
    said: HashSet<(PathBuf, usize, usize, String)>,
}

impl<'t> Diags<'t> {
    pub fn new(file: &Path, text: &'t str) -> Self {
        Diags {
            file: file.to_path_buf(),
            index: LineIndex::new(text),
            sources: Vec::new(),
            renames: Vec::new(),
            items: Vec::new(),
            reported: HashSet::new(),
            said: HashSet::new(),
        }
    }

    pub fn at(&mut self, span: Range<usize>, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        if !self.reported.insert(path.clone()) {
            return;
        }
        let message = message.into();
        let (file, line, col, path) = self.place(span.start, path);
        if !self.said.insert((file.clone(), line, col, message.clone())) {
            return;
        }
        self.items.push(Diagnostic {
            file,
            line,
            col,
            path,
            message,
        });
    }

    /// The first offset free for a further file's spans.
    pub fn next_base(&self) -> usize {
        self.sources
            .last()
            .map_or(self.index.text.len(), |s| s.base + s.len)
            + 1
    }

    /// Registers a further file whose spans were moved to `source.base..`.
    pub fn add_source(&mut self, source: Source) {
        self.sources.push(source);
    }

    /// Paths of spans inside `span` get `to` for their `section[N]`.
    pub fn rename(&mut self, span: Range<usize>, section: &'static str, to: String) {
        self.renames.push(Rename { span, section, to });
    }

    fn source_of(&self, offset: usize) -> Option<&Source> {
        self.sources
            .iter()
            .find(|s| s.base <= offset && offset < s.base + s.len.max(1))
    }

    /// The file, `LINE:COL` and path, in that file's own terms, of `offset`.
    fn place(&self, offset: usize, path: String) -> (PathBuf, usize, usize, String) {
        let Some(source) = self.source_of(offset) else {
            let (line, col) = self.index.line_col(offset);
            let path = match self.renames.iter().find(|r| r.span.contains(&offset)) {
                Some(r) => replace_entry(&path, r.section, |_| Some(r.to.clone())),
                None => path,
            };
            return (self.file.clone(), line, col, path);
        };
        let local = offset - source.base;
        match &source.kind {
            SourceKind::Toml { index, first } => {
                let (line, col) = index.line_col(local);
                let path = first.iter().fold(path, |p, (section, first)| {
                    replace_entry(&p, section, |n| {
                        n.checked_sub(*first).map(|k| format!("{section}[{k}]"))
                    })
                });
                (source.file.clone(), line, col, path)
            }
            SourceKind::Table { columns, cells } => match cells.get(local) {
                Some(cell) => {
                    let path = match cell.column.and_then(|i| columns.get(i)) {
                        Some(name) => format!("column {name}"),
                        None => "row".to_string(),
                    };
                    (source.file.clone(), cell.row, cell.col, path)
                }
                None => (source.file.clone(), 0, 0, path),
            },
        }
    }

    /// Where the value at `first` is, said from the point of view of a
    /// message at `here`: `device[3] (line 7)` in the same file, else
    /// `FILE:LINE:COL` (`FILE:ROW:COL` in a CSV file), for "already uses it".
    pub fn where_is(&self, first: usize, here: usize, path: &str) -> String {
        let (file, line, col, local) = self.place(first, path.to_string());
        let (here_file, ..) = self.place(here, String::new());
        let in_table = self
            .source_of(first)
            .is_some_and(|s| matches!(s.kind, SourceKind::Table { .. }));
        match (file == here_file, in_table) {
            (true, true) => format!("row {line}"),
            (true, false) => format!("{local} (line {line})"),
            (false, _) => format!("{}:{line}:{col}", file.display()),
        }
    }

    /// A problem found in another file the config names (the web config),
    /// already placed in that file; listed after this file's own.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Whether `path` or anything under it (`path.x`, `path[2]`) was reported.
    pub fn reported_under(&self, path: &str) -> bool {
        self.reported.iter().any(|p| {
            p.strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }

    /// 1-based line of a byte offset, for "first defined at line N".
    pub fn line_of(&self, offset: usize) -> usize {
        self.index.line_col(offset).0
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Sorts the diagnostics from `from` on by their place, so a phase's
    /// messages read top to bottom whatever order the checks ran in: the
    /// main file, then the further files in the order read, then any other.
    pub fn sort_from(&mut self, from: usize) {
        let rank = |file: &PathBuf| {
            if *file == self.file {
                return 0;
            }
            self.sources
                .iter()
                .position(|s| s.file == *file)
                .map_or(usize::MAX, |i| i + 1)
        };
        let mut keyed: Vec<_> = self.items.drain(from..).collect();
        keyed.sort_by_key(|d| (rank(&d.file), d.line, d.col));
        self.items.extend(keyed);
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// `path` with its leading `section[N]` replaced by what `to(N)` gives
/// (unchanged when it does not start so, or `to` gives `None`).
fn replace_entry(path: &str, section: &str, to: impl Fn(usize) -> Option<String>) -> String {
    let Some(rest) = path.strip_prefix(section).and_then(|r| r.strip_prefix('[')) else {
        return path.to_string();
    };
    let Some((n, tail)) = rest.split_once(']') else {
        return path.to_string();
    };
    match n.parse().ok().and_then(to) {
        Some(entry) => format!("{entry}{tail}"),
        None => path.to_string(),
    }
}

/// The dotted path of the place at `offset`, for TOML syntax errors (where
/// there is no parsed tree to ask): the last table header above it, counted
/// like `device[2]` for arrays of tables, plus the key on the error's line.
pub(crate) fn path_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    let mut on_header = false;
    let mut pos = 0;
    for raw in text.split_inclusive('\n') {
        if pos > line_start {
            break;
        }
        let this_line = pos == line_start;
        pos += raw.len();
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("[[") {
            if let Some(name) = rest.split("]]").next().filter(|_| rest.contains("]]")) {
                let name = unquote_key(name);
                let n = counts.entry(name.clone()).or_insert(0);
                table = format!("{name}[{n}]");
                *n += 1;
            } else {
                table = unquote_key(rest.trim_end_matches(']'));
            }
            on_header = this_line;
        } else if let Some(rest) = line.strip_prefix('[') {
            table = unquote_key(rest.split(']').next().unwrap_or(rest));
            on_header = this_line;
        }
    }
    if on_header {
        return table;
    }
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| unquote_key(k))
        .filter(|k| !k.is_empty() && !k.contains(['[', '{', '#', ' ']));
    match (table.is_empty(), key) {
        (_, None) if !table.is_empty() => table,
        (true, Some(key)) => key,
        (false, Some(key)) => format!("{table}.{key}"),
        _ => "-".to_string(),
    }
}

fn unquote_key(k: &str) -> String {
    k.split('.')
        .map(|part| part.trim().trim_matches(['"', '\'']))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let idx = LineIndex::new("a = 1\nunit = \"财政局\" x\n");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(6), (2, 1));
        let x = "a = 1\nunit = \"财政局\" x\n".find('x').unwrap();
        assert_eq!(idx.line_col(x), (2, 14));
    }

    #[test]
    fn shown_cuts_long_values() {
        assert_eq!(format!("{:?}", Shown("a\tb")), "\"a\\tb\"");
        let long = "x".repeat(100_000);
        assert_eq!(
            format!("{:?}", Shown(&long)),
            format!("{:?}…", "x".repeat(SHOWN_MAX_CHARS))
        );
    }

    #[test]
    fn a_further_file_is_placed_in_its_own_terms() {
        let main = "[[device]]\nname = \"a\"\n";
        let mut diags = Diags::new(Path::new("main.toml"), main);
        // A fragment whose first device is the config's second.
        let fragment = "[[device]]\nname = \"a\"\n";
        let base = diags.next_base();
        assert!(base > main.len());
        diags.add_source(Source {
            file: PathBuf::from("conf.d/a.toml"),
            base,
            len: fragment.len() + 1,
            kind: SourceKind::Toml {
                index: LineIndex::new(fragment.to_string()),
                first: vec![("device", 1)],
            },
        });
        // A CSV file: a row and one cell of column "名称".
        let csv = diags.next_base();
        diags.add_source(Source {
            file: PathBuf::from("d.csv"),
            base: csv,
            len: 2,
            kind: SourceKind::Table {
                columns: vec!["id".into(), "名称".into()],
                cells: vec![
                    Cell {
                        row: 3,
                        col: 1,
                        column: None,
                    },
                    Cell {
                        row: 3,
                        col: 2,
                        column: Some(1),
                    },
                ],
            },
        });
        let name_at = base + fragment.find("\"a\"").unwrap();
        diags.at(name_at..name_at + 3, "device[1].name", "twice");
        diags.at(csv + 1..csv + 2, "device[7].name", "bad");
        diags.at(csv..csv + 1, "device[7]", "row problem");
        let shown: Vec<String> = diags.into_vec().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            [
                "conf.d/a.toml:2:8: device[0].name: twice",
                "d.csv:3:2: column 名称: bad",
                "d.csv:3:1: row: row problem",
            ]
        );
    }

    #[test]
    fn where_is_names_the_other_file() {
        let main = "[[device]]\nname = \"a\"\n";
        let mut diags = Diags::new(Path::new("main.toml"), main);
        let base = diags.next_base();
        diags.add_source(Source {
            file: PathBuf::from("conf.d/a.toml"),
            base,
            len: 10,
            kind: SourceKind::Toml {
                index: LineIndex::new("x = 1\ny = 2\n".to_string()),
                first: vec![("device", 1)],
            },
        });
        let first = main.find("\"a\"").unwrap();
        assert_eq!(
            diags.where_is(first, base + 6, "device[0]"),
            "main.toml:2:8"
        );
        assert_eq!(diags.where_is(first, 0, "device[0]"), "device[0] (line 2)");
        assert_eq!(
            replace_entry("device[12].name", "device", |n| Some(format!(
                "device[{}]",
                n - 10
            ))),
            "device[2].name"
        );
        assert_eq!(replace_entry("line[3]", "device", |_| None), "line[3]");
    }

    #[test]
    fn path_at_counts_array_tables() {
        let text =
            "[daemon]\nlisten = 1\n[[device]]\nname = \"a\"\n[[device]]\nname = \"b\nrole = 1\n";
        assert_eq!(path_at(text, text.find("\"b").unwrap()), "device[1].name");
        assert_eq!(path_at(text, text.find("listen").unwrap()), "daemon.listen");
        assert_eq!(
            path_at(text, text.rfind("[[device]]").unwrap()),
            "device[1]"
        );
    }
}
