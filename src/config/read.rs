//! Reading the config file: TOML syntax, then each section through its serde
//! struct. Only the config file: [`crate::loader`] reads it together with the
//! SNMP profiles it names, which is what the daemon and `netkpi check` use.
//!
//! The text is parsed once by `toml`'s span-keeping parser ([`DeTable`]); the
//! same tree gives serde its input and every diagnostic its line and column,
//! so positions can never disagree with what was parsed. Each section, and
//! each `[[device]]`/`[[line]]`/`[[maintenance]]` entry, is deserialized on
//! its own, and a rejected key is dropped and the entry retried, so one run
//! reports every unknown key and wrong type rather than the first.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::builtin::BUILTIN_PROFILE_NAMES;
use super::raw::{
    Entry, RawAlarm, RawConfig, RawDaemon, RawDefaults, RawDevice, RawIndicator, RawInventory,
    RawLine, RawMaintenance, RawPlanned, RawReport, RawSla, RawSlaOverride, RawTrapUser, RawTraps,
};
use super::raw::{RawManual, Tally};
use super::{import, include, validate, Config, Diagnostic, KnownProfiles};
use crate::diag::{path_at, Diags};

/// The top-level sections of the config file this version reads.
const SECTIONS: [&str; 13] = [
    "daemon",
    "defaults",
    "device",
    "line",
    "maintenance",
    "sla",
    "planned",
    "traps",
    "alarm",
    "include",
    "inventory",
    "report",
    "indicator",
];

/// Keys whose values are secrets: a wrong-typed value there is reported
/// without the value, which may be the secret itself (`community = 12345`).
const SECRET_KEYS: [&str; 2] = ["community", "communities"];

/// A key that is dropped and retried this many times per entry before giving
/// up: far more than any real entry has keys, only a guard against a loop.
const MAX_RETRIES: usize = 64;

/// Reads and validates the config file at `path`; the profiles it may name
/// are the built-in ones and the user files in its `daemon.profile_dirs`
/// ([`profile_names`]).
pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    load_with(path, profile_names)
}

/// [`load`], with the profiles a device may poll given by `known_profiles`,
/// which is called once with the resolved, existing `daemon.profile_dirs`
/// (e.g. to parse the profile files, which this module does not read). A
/// name it does not return is an error at the device; the metrics it gives
/// for a profile are what alarms may watch ([`KnownProfiles`]; names alone,
/// a `Vec<String>`, leave alarms' metrics unchecked).
pub fn load_with<K: Into<KnownProfiles>>(
    path: &Path,
    known_profiles: impl FnOnce(&[PathBuf]) -> K,
) -> Result<Config, Vec<Diagnostic>> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str_with(path, &text, known_profiles),
        Err(e) => Err(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            path: "-".into(),
            message: format!(
                "cannot read the config file ({e}); give another with --config FILE or NETKPI_CONFIG"
            ),
        }]),
    }
}

/// Validates `text` as if read from `path` (which names it in messages and is
/// the base for relative paths: `data_dir`, `profile_dirs`, secret files).
pub fn load_str(path: &Path, text: &str) -> Result<Config, Vec<Diagnostic>> {
    load_str_with(path, text, profile_names)
}

/// [`load_str`] with the known profiles given as in [`load_with`].
pub fn load_str_with<K: Into<KnownProfiles>>(
    path: &Path,
    text: &str,
    known_profiles: impl FnOnce(&[PathBuf]) -> K,
) -> Result<Config, Vec<Diagnostic>> {
    let mut diags = Diags::new(path, text);

    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        report_syntax(text, 0, syntax, &mut diags);
        diags.sort_from(0);
        return Err(diags.into_vec());
    }

    let mut raw = RawConfig::default();
    let tally = Tally::start(path.to_path_buf(), &raw);
    read_sections(root, &mut raw, Part::Main, &mut diags);
    raw.files.push(tally.finish(&raw));
    let base_dir = path.parent().unwrap_or(Path::new(""));
    if !include::read_all(path, base_dir, &mut raw, &mut diags) {
        diags.sort_from(0);
        return Err(diags.into_vec());
    }
    import::read_all(base_dir, &mut raw, &mut diags);
    let structural = diags.len();
    diags.sort_from(0);
    let config = validate::resolve(path, raw, &mut diags, |dirs| known_profiles(dirs).into());
    diags.sort_from(structural);
    match config {
        Some(config) if diags.is_empty() => Ok(config),
        _ => Err(diags.into_vec()),
    }
}

/// Reports the TOML syntax errors of `text`, whose spans start at `base`
/// among the config's files.
pub(super) fn report_syntax(
    text: &str,
    base: usize,
    errors: Vec<toml::de::Error>,
    diags: &mut Diags<'_>,
) {
    // After a syntax error the parser's recovery guesses; one message per
    // line avoids reporting the same mistake twice.
    let mut lines_seen = Vec::new();
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let line = text[..span.start.min(text.len())].matches('\n').count();
        if lines_seen.contains(&line) {
            continue;
        }
        lines_seen.push(line);
        diags.at(
            span.start + base..span.end + base,
            path_at(text, span.start),
            syntax_message(&e),
        );
    }
}

/// The built-in profile names, then the stem of every `*.toml` file in
/// `profile_dirs` (sorted; a name in several places is listed once).
pub fn profile_names(profile_dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = BUILTIN_PROFILE_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut user = Vec::new();
    for dir in profile_dirs {
        // Unreadable folders were reported when `profile_dirs` was checked.
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "toml") && p.is_file() {
                if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                    user.push(stem.to_string());
                }
            }
        }
    }
    user.sort();
    for name in user {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// `[report] indicators_file`: a file of `[[indicator]]` tables and nothing
/// else, read like the config (syntax, then each entry through serde).
pub(super) fn indicators_file(text: &str, diags: &mut Diags<'_>) -> Vec<Entry<RawIndicator>> {
    let Some(root) = parse_or_report(text, diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "indicator" => out = entries::<RawIndicator>(key.span(), value, "indicator", 0, diags),
            other => diags.at(
                key.span(),
                other,
                format!(
                    "unknown section `{other}`; an indicators file holds [[indicator]] tables only"
                ),
            ),
        }
    }
    out
}

/// A manual-entries file's top-level keys and their values (each a number,
/// or `{ value = ..., note = "..." }`), with the key's span.
pub(super) fn manual_file(
    text: &str,
    diags: &mut Diags<'_>,
) -> Vec<(String, Range<usize>, Option<RawManual>)> {
    let Some(root) = parse_or_report(text, diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in root.into_inner() {
        let name = key.get_ref().to_string();
        let parsed = if value.get_ref().is_table() {
            deserialize::<RawManual>(value, &name, diags)
        } else {
            let span = value.span();
            deserialize::<toml::Value>(value, &name, diags).map(|v| RawManual {
                value: Some(Spanned::new(span, v)),
                note: None,
            })
        };
        out.push((name, key.span(), parsed));
    }
    out
}

/// The file's tree, or `None` after reporting its syntax errors.
fn parse_or_report<'t>(text: &'t str, diags: &mut Diags<'_>) -> Option<Spanned<DeTable<'t>>> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    if syntax.is_empty() {
        return Some(root);
    }
    for e in syntax {
        let span = e.span().unwrap_or(0..0);
        diags.at(span.clone(), path_at(text, span.start), syntax_message(&e));
    }
    None
}

fn syntax_message(e: &toml::de::Error) -> String {
    let m = e.message().trim();
    let m = m.strip_suffix(", expected nothing").unwrap_or(m);
    let hint = if m.starts_with("invalid float") || m.starts_with("invalid integer") {
        // Typically an unquoted address or name: `address = 10.0.0.1`.
        "; if this is text (an address, a name), put it in quotes"
    } else if m == "duplicate key" {
        "; each key may appear only once in a table"
    } else {
        ""
    };
    format!("TOML syntax error: {m}{hint}")
}

/// Which file `read_sections` reads: the config file takes every section,
/// an included fragment only lists of targets and what applies to them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Main,
    Fragment,
}

/// The sections an included file may hold: `[daemon]`, `[defaults]`,
/// `[sla]` and the like are said once, in the config file.
pub(super) const FRAGMENT_SECTIONS: [&str; 4] = ["device", "line", "maintenance", "alarm"];

/// Reads the top-level sections of one file into `raw`; lists are appended
/// to, so the config file and its fragments make one list of each.
pub(super) fn read_sections(
    root: Spanned<DeTable<'_>>,
    raw: &mut RawConfig,
    part: Part,
    diags: &mut Diags<'_>,
) {
    for (key, value) in root.into_inner() {
        let name: &str = key.get_ref();
        if part == Part::Fragment && !FRAGMENT_SECTIONS.contains(&name) {
            let message = match name {
                "include" => "an included file cannot include others (includes do not nest); list every pattern in the config file's `include`".to_string(),
                other if SECTIONS.contains(&other) || other == "inventory" => format!(
                    "[{other}] may only be in the config file; an included file holds only {}",
                    FRAGMENT_SECTIONS.map(|s| format!("[[{s}]]")).join(", ")
                ),
                other => format!(
                    "unknown section `{other}`; an included file holds only {}{}",
                    FRAGMENT_SECTIONS.map(|s| format!("[[{s}]]")).join(", "),
                    did_you_mean(other, &FRAGMENT_SECTIONS)
                ),
            };
            diags.at(key.span(), name, message);
            continue;
        }
        match name {
            "daemon" => raw.daemon = section::<RawDaemon>(value, "daemon", diags),
            "defaults" => raw.defaults = section::<RawDefaults>(value, "defaults", diags),
            "sla" => read_sla(value, raw, diags),
            "planned" => raw.planned = section::<RawPlanned>(value, "planned", diags),
            "device" => {
                raw.device_names_seen.extend(strings_of(&value, "name"));
                let first = raw.devices.len();
                let found = entries::<RawDevice>(key.span(), value, "device", first, diags);
                raw.devices.extend(found);
            }
            "line" => {
                raw.line_ids_seen.extend(strings_of(&value, "id"));
                raw.line_carriers_seen.extend(strings_of(&value, "carrier"));
                let first = raw.lines.len();
                let found = entries::<RawLine>(key.span(), value, "line", first, diags);
                raw.lines.extend(found);
            }
            "maintenance" => {
                let first = raw.maintenance.len();
                let found =
                    entries::<RawMaintenance>(key.span(), value, "maintenance", first, diags);
                raw.maintenance.extend(found);
            }
            "traps" => read_traps(value, raw, diags),
            "alarm" => {
                let first = raw.alarms.len();
                let found = entries::<RawAlarm>(key.span(), value, "alarm", first, diags);
                raw.alarms.extend(found);
            }
            "include" => raw.include = include_list(value, diags),
            "inventory" => {
                raw.inventory = entries::<RawInventory>(key.span(), value, "inventory", 0, diags)
            }
            "report" => raw.report = section::<RawReport>(value, "report", diags),
            "indicator" => {
                raw.indicators = entries::<RawIndicator>(key.span(), value, "indicator", 0, diags)
            }
            other => diags.at(
                key.span(),
                other,
                format!(
                    "unknown section `{other}`; expected one of: {}{}",
                    SECTIONS.join(", "),
                    did_you_mean(other, &SECTIONS)
                ),
            ),
        }
    }
}

/// `include = ["conf.d/*.toml", ...]`: a list of strings.
fn include_list(
    value: Spanned<DeValue<'_>>,
    diags: &mut Diags<'_>,
) -> Option<Spanned<Vec<Spanned<String>>>> {
    let span = value.span();
    match Spanned::<Vec<Spanned<String>>>::deserialize(ValueDeserializer::from(value)) {
        Ok(list) => Some(list),
        Err(_) => {
            diags.at(
                span,
                "include",
                "expected a list of file patterns, e.g. include = [\"conf.d/*.toml\"]",
            );
            None
        }
    }
}

/// `[traps]`: its own keys as one section, its `[[traps.v3_user]]` entries
/// one by one like `[[device]]`.
fn read_traps(mut value: Spanned<DeValue<'_>>, raw: &mut RawConfig, diags: &mut Diags<'_>) {
    let users = match value.get_mut() {
        DeValue::Table(table) => table.remove_entry("v3_user"),
        _ => None,
    };
    raw.traps = section::<RawTraps>(value, "traps", diags);
    if let Some((users_key, users)) = users {
        raw.trap_users = entries::<RawTrapUser>(users_key.span(), users, "traps.v3_user", 0, diags);
    }
}

/// `[sla]`: its own keys as one section, its `[[sla.override]]` entries
/// one by one like `[[device]]`.
fn read_sla(mut value: Spanned<DeValue<'_>>, raw: &mut RawConfig, diags: &mut Diags<'_>) {
    let overrides = match value.get_mut() {
        DeValue::Table(table) => table.remove_entry("override"),
        _ => None,
    };
    raw.sla = section::<RawSla>(value, "sla", diags);
    if let Some((key, overrides)) = overrides {
        raw.sla_overrides =
            entries::<RawSlaOverride>(key.span(), overrides, "sla.override", 0, diags);
    }
}

/// A single-table section such as `[daemon]`.
fn section<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<T> {
    if !value.get_ref().is_table() {
        let found = value.get_ref().type_str();
        diags.at(
            value.span(),
            path,
            format!("expected a table ([{path}]), found {}", article(found)),
        );
        return None;
    }
    deserialize(value, path, diags)
}

/// An array-of-tables section such as `[[device]]`.
///
/// `first` is the index of the list's first entry: 10 when 10 devices were
/// read from the files before this one, so that every entry has one index
/// in the whole config.
fn entries<T: DeserializeOwned>(
    key_span: Range<usize>,
    value: Spanned<DeValue<'_>>,
    path: &str,
    first: usize,
    diags: &mut Diags<'_>,
) -> Vec<Entry<T>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let item_path = format!("{path}[{}]", first + i);
                let span = item.span();
                let value = if item.get_ref().is_table() {
                    deserialize(item, &item_path, diags)
                } else {
                    diags.at(
                        span.clone(),
                        item_path,
                        format!(
                            "expected a table (one [[{path}]] entry), found {}",
                            article(item.get_ref().type_str())
                        ),
                    );
                    None
                };
                Entry { value, span }
            })
            .collect(),
        DeValue::Table(_) => {
            diags.at(
                key_span,
                path,
                format!(
                    "write [[{path}]] with double brackets: each {path} is one entry of a list"
                ),
            );
            Vec::new()
        }
        other => {
            diags.at(
                span,
                path,
                format!(
                    "expected a list of [[{path}]] tables, found {}",
                    article(other.type_str())
                ),
            );
            Vec::new()
        }
    }
}

/// The string values of `key` in each table of an array section, read before
/// serde so a reference to an entry that has other mistakes still resolves.
fn strings_of(value: &Spanned<DeValue<'_>>, key: &str) -> Vec<String> {
    let items: Vec<&Spanned<DeValue<'_>>> = match value.get_ref() {
        DeValue::Array(items) => items.iter().collect(),
        // `[device]` written for `[[device]]`: reported, but its name counts.
        DeValue::Table(_) => vec![value],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| item.get_ref().as_table()?.get(key)?.get_ref().as_str())
        .map(str::to_owned)
        .collect()
}

/// Deserializes one table; each key serde rejects is reported, removed, and
/// the table tried again, so every bad key of the table is reported.
fn deserialize<T: DeserializeOwned>(
    mut value: Spanned<DeValue<'_>>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<T> {
    for _ in 0..MAX_RETRIES {
        let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => return Some(t),
            Err(e) => e,
        };
        let message = err.message().trim().to_string();
        let Some(span) = err.span() else {
            diags.at(value.span(), path, message);
            return None;
        };
        let whole = value.span();
        let Some(found) = remove_at(value.get_mut(), &span, path) else {
            // Not attributable to one key (e.g. the entry itself has the
            // wrong shape): report it and give up on this entry.
            let span = if span == (0..0) { whole } else { span };
            diags.at(span, path, type_message(&message));
            return None;
        };
        let text = match found.kind {
            Found::Key => unknown_key_message(&found.path, &message),
            Found::Value if is_secret(&found.path) => type_message(&without_values(&message)),
            // `version = 3`: the version is a string because of "2c".
            Found::Value if found.path.ends_with("snmp.version") => format!(
                "{}; write the version in quotes: \"1\", \"2c\" or \"3\"",
                type_message(&message)
            ),
            Found::Value => type_message(&message),
        };
        diags.at(span, found.path, text);
    }
    None
}

/// Whether the value at `path` (e.g. `traps.communities[1]`) is a secret.
fn is_secret(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let key = last.split('[').next().unwrap_or(last);
    SECRET_KEYS.contains(&key)
}

/// serde's message with every quoted value (`` `5` ``) left out.
fn without_values(serde_message: &str) -> String {
    let mut out = String::new();
    for (i, part) in serde_message.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out.replace("  ", " ").replace(" ,", ",")
}

enum Found {
    /// The error's span is a key: serde refused the key itself.
    Key,
    /// The error's span is in a value: wrong type or value.
    Value,
}

struct Removed {
    path: String,
    kind: Found,
}

/// Finds the entry of `table` (at any depth) the error `span` points at,
/// removes it, and returns its dotted path.
fn remove_at(value: &mut DeValue<'_>, span: &Range<usize>, path: &str) -> Option<Removed> {
    let DeValue::Table(table) = value else {
        return None;
    };
    let mut hit = None;
    for (key, val) in table.iter_mut() {
        let key_path = format!("{path}.{}", key.get_ref());
        if key.span() == *span {
            hit = Some((key.get_ref().to_string(), key_path, Found::Key));
            break;
        }
        // A `[a.b]` header's span does not cover its keys, so nested tables
        // are searched whether or not their span contains the error.
        if val.get_ref().is_table() {
            if let Some(found) = remove_at(val.get_mut(), span, &key_path) {
                return Some(found);
            }
        }
        let vs = val.span();
        if vs.start <= span.start && span.end <= vs.end {
            let item_path = match val.get_ref().as_array() {
                Some(items) => match items.iter().position(|item| item.span() == *span) {
                    Some(i) => format!("{key_path}[{i}]"),
                    None => key_path,
                },
                None => key_path,
            };
            hit = Some((key.get_ref().to_string(), item_path, Found::Value));
            break;
        }
    }
    let (key, path, kind) = hit?;
    table.remove(key.as_str());
    Some(Removed { path, kind })
}

/// `path` is the unknown key's full path, e.g. `defaults.icmp.intervall`.
fn unknown_key_message(path: &str, serde_message: &str) -> String {
    let (context, key) = path.rsplit_once('.').unwrap_or(("", path));
    // serde: "unknown field `x`, expected one of `a`, `b`" / "expected `a`".
    let expected: Vec<&str> = serde_message
        .split('`')
        .skip(1)
        .step_by(2)
        .skip(1)
        .collect();
    if expected.is_empty() {
        return format!("unknown key `{key}` in {context}; it takes no keys");
    }
    format!(
        "unknown key `{key}` in {context}; expected one of: {}{}",
        expected.join(", "),
        did_you_mean(key, &expected)
    )
}

/// serde's "invalid type: integer `5`, expected a string" in an operator's words.
fn type_message(serde_message: &str) -> String {
    let Some(rest) = serde_message.strip_prefix("invalid type: ") else {
        return serde_message.to_string();
    };
    let Some((found, expected)) = rest.split_once(", expected ") else {
        return serde_message.to_string();
    };
    let expected = match expected {
        "i64" | "u32" | "u64" => "a whole number".to_string(),
        "f64" => "a number".to_string(),
        "a sequence" => "a list, e.g. [\"a\", \"b\"]".to_string(),
        "any valid TOML value" => "a value".to_string(),
        e if e.starts_with("struct ") => "a table, e.g. { key = value }".to_string(),
        e => e.to_string(),
    };
    let found = match found {
        "sequence" => "a list".to_string(),
        "map" => "a table".to_string(),
        f => f.replace('`', ""),
    };
    format!("expected {expected}, found {found}")
}

fn article(type_str: &str) -> String {
    match type_str.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_str}"),
        _ => format!("a {type_str}"),
    }
}

/// ` (did you mean `x`?)` when one candidate is a likely typo of `word`.
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.min(c.len() / 3 + 1))
        .min_by_key(|(d, _)| *d)
        .map_or(String::new(), |(_, c)| format!(" (did you mean `{c}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
