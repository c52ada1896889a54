//! `[[inventory]]`: lines and devices read from a CSV file the operator
//! already keeps (an export of their spreadsheet).
//!
//! ```toml
//! [[inventory]]
//! file = "lines.csv"
//! kind = "line"                                  # or "device"
//! columns = { id = "专线编号", unit = "单位" }     # key = header, where they differ
//! ignore = ["备注"]                               # columns not read
//! ```
//!
//! The file is UTF-8, with or without the byte-order mark Excel writes,
//! quoted as RFC 4180 says, comma-separated unless `delimiter` says
//! otherwise; blank rows are skipped and cells are trimmed of surrounding
//! spaces. The first row is the header: each header names a key (itself, or
//! through `columns`), or is listed in `ignore`; any other header is an
//! error, since a misspelt header would otherwise drop a field silently.
//!
//! Each row becomes a `[[line]]` or `[[device]]` entry exactly as if written
//! in TOML and is checked by the same code. Every cell handed to the checks
//! gets a span of its own ([`SourceKind::Table`]), so a problem in it is
//! reported as `lines.csv:ROW:COL: column NAME: message`, ROW being the
//! line the row starts on, the header's being 1 (the spreadsheet's row
//! number, unless a quoted cell above holds a line break), and COL the
//! column's 1-based index.
//!
//! Devices need probes, which are tables: a `template = { icmp = {}, snmp =
//! { profiles = [...] } }` on the entry gives every row the same ones, and
//! an optional `snmp_profiles` column (`system;if_mib`) gives a row its own
//! profile list, keeping the template's other SNMP settings (quote the
//! cell when the delimiter is itself `;`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::raw::{
    Entry, RawConfig, RawDevice, RawInterface, RawInventory, RawLine, RawSnmp, RawTemplate, Tally,
    S,
};
use super::read::did_you_mean;
use crate::diag::{Cell, Diagnostic, Diags, Shown, Source, SourceKind};

/// A `[[line]]`'s keys as CSV columns; the interface's two keys flattened.
const LINE_KEYS: [&str; 8] = [
    "id",
    "unit",
    "carrier",
    "bandwidth",
    "device",
    "interface_device",
    "interface_name",
    "severity",
];
const LINE_REQUIRED: [&str; 3] = ["id", "unit", "device"];

/// A `[[device]]`'s keys as CSV columns; probes come from the template.
const DEVICE_KEYS: [&str; 6] = ["name", "role", "address", "site", "parent", "snmp_profiles"];
const DEVICE_REQUIRED: [&str; 3] = ["name", "role", "address"];

/// What separates the profiles in an `snmp_profiles` cell (a comma would
/// need quoting in a comma-separated file).
const PROFILE_SEPARATOR: char = ';';

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Line,
    Device,
}

impl Kind {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Line => &LINE_KEYS,
            Kind::Device => &DEVICE_KEYS,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Line => "line",
            Kind::Device => "device",
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Line => &LINE_REQUIRED,
            Kind::Device => &DEVICE_REQUIRED,
        }
    }
}

/// One `[[inventory]]` entry, checked.
struct Spec {
    file: PathBuf,
    kind: Kind,
    delimiter: u8,
    /// Key → header, from `columns`.
    columns: BTreeMap<String, String>,
    ignore: Vec<String>,
}

/// Reads every `[[inventory]]` file into `raw`'s devices and lines.
pub(super) fn read_all(base_dir: &Path, raw: &mut RawConfig, diags: &mut Diags<'_>) {
    let inventories = std::mem::take(&mut raw.inventory);
    for (i, entry) in inventories.into_iter().enumerate() {
        let Some(inv) = entry.value else { continue };
        let path = format!("inventory[{i}]");
        if let Some(t) = &inv.template {
            diags.rename(t.span(), "device", format!("{path}.template"));
        }
        let Some(spec) = spec(&inv, &entry.span, base_dir, &path, diags) else {
            continue;
        };
        let bytes = match std::fs::read(&spec.file) {
            Ok(bytes) => bytes,
            Err(e) => {
                let at = inv.file.as_ref().map_or(entry.span.clone(), |f| f.span());
                diags.at(
                    at,
                    format!("{path}.file"),
                    format!(
                        "cannot read {}: {} (a relative path starts at this config file's folder)",
                        spec.file.display(),
                        super::include::io_reason(&e)
                    ),
                );
                continue;
            }
        };
        let tally = Tally::start(spec.file.clone(), raw);
        let mut reading = Reading {
            spec: &spec,
            template: inv.template.as_ref().map(|t| t.get_ref()),
            base: diags.next_base(),
            columns: Vec::new(),
            cells: Vec::new(),
        };
        reading.rows(&bytes, raw, diags);
        diags.add_source(Source {
            file: spec.file.clone(),
            base: reading.base,
            len: reading.cells.len(),
            kind: SourceKind::Table {
                columns: reading.columns,
                cells: reading.cells,
            },
        });
        raw.files.push(tally.finish(raw));
    }
}

/// Checks an `[[inventory]]` entry's own keys.
fn spec(
    inv: &RawInventory,
    span: &Range<usize>,
    base_dir: &Path,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<Spec> {
    let file = match &inv.file {
        None => {
            diags.at(
                span.clone(),
                format!("{path}.file"),
                "missing `file`: the CSV file to read, e.g. \"lines.csv\"",
            );
            None
        }
        Some(f) if f.get_ref().trim().is_empty() => {
            diags.at(f.span(), format!("{path}.file"), "must not be empty");
            None
        }
        Some(f) => Some(base_dir.join(f.get_ref())),
    };
    let kind = match &inv.kind {
        None => {
            diags.at(
                span.clone(),
                format!("{path}.kind"),
                "missing `kind`: \"line\" or \"device\", what each row is",
            );
            None
        }
        Some(k) => match k.get_ref().as_str() {
            "line" => Some(Kind::Line),
            "device" => Some(Kind::Device),
            other => {
                diags.at(
                    k.span(),
                    format!("{path}.kind"),
                    format!(
                        "unknown kind {:?}; expected \"line\" or \"device\"{}",
                        Shown(other),
                        did_you_mean(other, &["line", "device"])
                    ),
                );
                None
            }
        },
    };
    let delimiter = match &inv.delimiter {
        None => Some(b','),
        Some(d) => match d.get_ref().as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Some(*b),
            _ => {
                diags.at(
                    d.span(),
                    format!("{path}.delimiter"),
                    "must be one ASCII character other than a quote or a line break, e.g. \";\" or \"\\t\"",
                );
                None
            }
        },
    };
    if let (Some(Kind::Line), Some(t)) = (kind, &inv.template) {
        diags.at(
            t.span(),
            format!("{path}.template"),
            "a template gives devices their probes; lines have none, leave it out",
        );
    }
    let mut columns = BTreeMap::new();
    let mut columns_ok = true;
    if let (Some(kind), Some(map)) = (kind, &inv.columns) {
        for (key, header) in map.get_ref() {
            if !kind.keys().contains(&key.as_str()) {
                diags.at(
                    map.span(),
                    format!("{path}.columns.{key}"),
                    format!(
                        "unknown key `{key}` for a {} inventory; expected one of: {}{}",
                        kind.as_str(),
                        kind.keys().join(", "),
                        did_you_mean(key, kind.keys())
                    ),
                );
                columns_ok = false;
            } else if header.get_ref().trim().is_empty() {
                diags.at(
                    header.span(),
                    format!("{path}.columns.{key}"),
                    "must not be empty: write the header of the column that holds it",
                );
                columns_ok = false;
            } else {
                columns.insert(key.clone(), header.get_ref().trim().to_string());
            }
        }
    }
    let ignore = inv.ignore.as_ref().map_or(Vec::new(), |list| {
        list.get_ref()
            .iter()
            .map(|h| h.get_ref().trim().to_string())
            .collect()
    });
    if !columns_ok {
        return None;
    }
    Some(Spec {
        file: file?,
        kind: kind?,
        delimiter: delimiter?,
        columns,
        ignore,
    })
}

/// One inventory file being read: the cells handed to the checks, each at
/// offset `base + index`, and the header's names they refer to.
struct Reading<'a> {
    spec: &'a Spec,
    template: Option<&'a RawTemplate>,
    base: usize,
    columns: Vec<String>,
    cells: Vec<Cell>,
}

/// For each column of the header, the key it gives (`None`: ignored).
type Keys = Vec<Option<&'static str>>;

impl Reading<'_> {
    /// A span of its own for a cell (`column`: its index), or with no
    /// column for a whole row.
    fn span(&mut self, row: usize, col: usize, column: Option<usize>) -> Range<usize> {
        let at = self.base + self.cells.len();
        self.cells.push(Cell { row, col, column });
        at..at + 1
    }

    /// A problem found here rather than by the checks; `path` is
    /// `column NAME`, `row` or `header`.
    fn problem(&self, row: usize, col: usize, path: String, message: String) -> Diagnostic {
        Diagnostic {
            file: self.spec.file.clone(),
            line: row,
            col,
            path,
            message,
        }
    }

    fn column_path(&self, i: usize) -> String {
        self.columns
            .get(i)
            .map_or("row".to_string(), |name| format!("column {name}"))
    }

    fn rows(&mut self, bytes: &[u8], raw: &mut RawConfig, diags: &mut Diags<'_>) {
        // Excel's "CSV UTF-8" starts with a byte-order mark.
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.spec.delimiter)
            .from_reader(text);
        let rows = Rows::new(text);
        let mut keys: Option<Keys> = None;
        for result in reader.records() {
            let record = match result {
                Ok(record) => record,
                Err(e) => {
                    let row = e.position().map_or(0, |p| rows.row_at(p.byte()));
                    let problem = match e.kind() {
                        csv::ErrorKind::Utf8 { err, .. } => self.problem(
                            row,
                            err.field() + 1,
                            self.column_path(err.field()),
                            "not UTF-8 text; save the file as UTF-8 (in Excel: \"CSV UTF-8\")"
                                .to_string(),
                        ),
                        _ => {
                            self.problem(row, 1, "row".into(), format!("cannot read the file: {e}"))
                        }
                    };
                    diags.push(problem);
                    if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                        continue;
                    }
                    return;
                }
            };
            let row = record.position().map_or(0, |p| rows.row_at(p.byte()));
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            match &keys {
                None => match self.header(&record, row, diags) {
                    Some(k) => keys = Some(k),
                    // Rows read against a broken header would each repeat it.
                    None => return,
                },
                Some(k) => self.row(&record, row, k, raw, diags),
            }
        }
    }

    fn header(
        &mut self,
        record: &csv::StringRecord,
        row: usize,
        diags: &mut Diags<'_>,
    ) -> Option<Keys> {
        let spec = self.spec;
        let keys_all = spec.kind.keys();
        let mut keys: Keys = Vec::new();
        let mut ok = true;
        for (i, name) in record.iter().enumerate() {
            let name = name.trim();
            self.columns.push(name.to_string());
            let mapped = spec
                .columns
                .iter()
                .find(|(_, h)| *h == name)
                .and_then(|(k, _)| keys_all.iter().find(|key| **key == k.as_str()))
                .copied();
            // A key's own name counts unless `columns` gives it another header.
            let own = keys_all
                .iter()
                .find(|k| **k == name && !spec.columns.contains_key(**k))
                .copied();
            let message = match mapped.or(own) {
                Some(k) if keys.contains(&Some(k)) => Some(format!(
                    "a second column for `{k}`; keep one, or list this one in ignore"
                )),
                Some(k) => {
                    keys.push(Some(k));
                    None
                }
                // Excel writes the empty columns of a formatted sheet as
                // trailing commas; a value under no header is refused below.
                None if name.is_empty() || spec.ignore.iter().any(|h| h == name) => None,
                None => Some(match spec.columns.get(name) {
                    Some(header) => format!(
                        "`{name}` is read from column {header:?} (columns); list this one in ignore = [...] or remove it"
                    ),
                    None => format!(
                        "unknown column; expected one of: {}{}; map a header of your own with columns = {{ key = \"header\" }}, or list it in ignore = [...]",
                        keys_all.join(", "),
                        did_you_mean(name, keys_all)
                    ),
                }),
            };
            if keys.len() == i {
                keys.push(None);
            }
            if let Some(message) = message {
                diags.push(self.problem(row, i + 1, format!("column {name}"), message));
                ok = false;
            }
        }
        let what = spec.kind.as_str();
        for (key, header) in &spec.columns {
            if !self.columns.contains(header) {
                diags.push(self.problem(
                    row,
                    1,
                    "header".into(),
                    format!("no column {header:?} (given for `{key}` in columns) in the header"),
                ));
                ok = false;
            }
        }
        for key in spec.kind.required() {
            if !keys.contains(&Some(key)) {
                diags.push(self.problem(
                    row,
                    1,
                    "header".into(),
                    format!(
                        "the header has no column for `{key}`, which every {what} needs; name one `{key}` or map it with columns = {{ {key} = \"header\" }}"
                    ),
                ));
                ok = false;
            }
        }
        ok.then_some(keys)
    }

    /// One row: each cell becomes the value of its key, with a span of its
    /// own; an empty cell is a key left out, except in a column every entry
    /// needs, where it is an empty value for the checks to refuse at that
    /// cell.
    fn row(
        &mut self,
        record: &csv::StringRecord,
        row: usize,
        keys: &Keys,
        raw: &mut RawConfig,
        diags: &mut Diags<'_>,
    ) {
        let width = keys.len();
        if let Some(extra) = record.iter().skip(width).position(|c| !c.trim().is_empty()) {
            let col = width + extra + 1;
            diags.push(self.problem(
                row,
                col,
                "row".into(),
                format!("a value in column {col}, beyond the header's {width} columns; give the column a header, or quote a value that holds the delimiter"),
            ));
            return;
        }
        let unnamed = (0..width).find(|&i| {
            self.columns[i].is_empty() && record.get(i).is_some_and(|c| !c.trim().is_empty())
        });
        if let Some(i) = unnamed {
            diags.push(self.problem(
                row,
                i + 1,
                "row".into(),
                format!(
                    "a value in column {}, which has no header; give the column a header",
                    i + 1
                ),
            ));
            return;
        }
        let required = self.spec.kind.required();
        let mut values: BTreeMap<&'static str, S<String>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            let Some(key) = key else { continue };
            let cell = record.get(i).unwrap_or("").trim();
            if cell.is_empty() && !required.contains(key) {
                continue;
            }
            let span = self.span(row, i + 1, Some(i));
            values.insert(key, S::new(span, cell.to_string()));
        }
        let span = self.span(row, 1, None);
        match self.spec.kind {
            Kind::Line => {
                self.interface_pair(&mut values, row, keys, diags);
                let line = line_of(&mut values);
                raw.line_ids_seen
                    .extend(line.id.iter().map(|s| s.get_ref().clone()));
                raw.line_carriers_seen
                    .extend(line.carrier.iter().map(|s| s.get_ref().clone()));
                raw.lines.push(Entry {
                    value: Some(line),
                    span,
                });
            }
            Kind::Device => {
                let device = device_of(&mut values, self.template);
                raw.device_names_seen
                    .extend(device.name.iter().map(|s| s.get_ref().clone()));
                raw.devices.push(Entry {
                    value: Some(device),
                    span,
                });
            }
        }
    }

    /// A line's core-side port is two cells, `interface_device` and
    /// `interface_name`: one without the other is reported here, in the
    /// sheet's words, and the port left out.
    fn interface_pair(
        &self,
        values: &mut BTreeMap<&'static str, S<String>>,
        row: usize,
        keys: &Keys,
        diags: &mut Diags<'_>,
    ) {
        const PAIR: [(&str, &str); 2] = [
            ("interface_device", "interface_name"),
            ("interface_name", "interface_device"),
        ];
        for (given, missing) in PAIR {
            if values.contains_key(given) && !values.contains_key(missing) {
                let i = keys.iter().position(|k| *k == Some(given)).unwrap_or(0);
                diags.push(self.problem(
                    row,
                    i + 1,
                    self.column_path(i),
                    format!(
                        "`{given}` without `{missing}`: the core-side port needs both, the device that has it and its ifName (or neither)"
                    ),
                ));
                values.remove(given);
            }
        }
    }
}

/// Row numbers from byte offsets. The reader's own line count starts a
/// record before the line break that ends the one before it (with `\r\n`
/// endings) and before the blank lines it skips, so the row is counted here:
/// the line of the record's first character that is not a line break.
struct Rows<'a> {
    text: &'a [u8],
    /// Offset of every `\n`.
    breaks: Vec<usize>,
}

impl<'a> Rows<'a> {
    fn new(text: &'a [u8]) -> Self {
        let breaks = text
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Rows { text, breaks }
    }

    fn row_at(&self, byte: u64) -> usize {
        let mut at = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        self.breaks.partition_point(|&b| b < at) + 1
    }
}

fn line_of(values: &mut BTreeMap<&'static str, S<String>>) -> RawLine {
    let iface_device = values.remove("interface_device");
    let iface_name = values.remove("interface_name");
    let interface = match (&iface_device, &iface_name) {
        (None, None) => None,
        (Some(at), _) | (None, Some(at)) => Some(S::new(
            at.span(),
            RawInterface {
                device: iface_device.clone(),
                name: iface_name.clone(),
            },
        )),
    };
    RawLine {
        id: values.remove("id"),
        unit: values.remove("unit"),
        carrier: values.remove("carrier"),
        bandwidth: values.remove("bandwidth"),
        device: values.remove("device"),
        interface,
        severity: values.remove("severity"),
    }
}

fn device_of(
    values: &mut BTreeMap<&'static str, S<String>>,
    template: Option<&RawTemplate>,
) -> RawDevice {
    let mut snmp = template.and_then(|t| t.snmp.clone());
    if let Some(cell) = values.remove("snmp_profiles") {
        let span = cell.span();
        let profiles: Vec<S<String>> = cell
            .get_ref()
            .split(PROFILE_SEPARATOR)
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| S::new(span.clone(), p.to_string()))
            .collect();
        let settings = snmp.map(|s| s.into_inner()).unwrap_or_default();
        snmp = Some(S::new(
            span.clone(),
            RawSnmp {
                profiles: Some(S::new(span, profiles)),
                ..settings
            },
        ));
    }
    RawDevice {
        name: values.remove("name"),
        role: values.remove("role"),
        address: values.remove("address"),
        site: values.remove("site"),
        parent: values.remove("parent"),
        icmp: template.and_then(|t| t.icmp.clone()),
        snmp,
    }
}
