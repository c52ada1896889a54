//! `include = ["conf.d/*.toml", ...]`: the config split over several files.
//!
//! Each pattern is a glob (`*`, `?`, `[abc]`) relative to the config file's
//! folder, expanded in sorted order; the patterns are read in the order
//! written. A pattern that matches no file is an error: a typo in it would
//! otherwise drop every target of the files it meant, silently. Hidden files
//! (`.name`) are not matched, so an editor's backup is not read. A file
//! matched by two patterns is read once.
//!
//! An included file is a fragment: it holds only `[[device]]`, `[[line]]`,
//! `[[maintenance]]` and `[[alarm]]` ([`super::read::FRAGMENT_SECTIONS`]), which are
//! appended to the config file's own. Includes do not nest: everything the
//! config is made of is listed in one place.
//!
//! Every span of a fragment is moved past those of the files before it
//! ([`Diags::add_source`]), so the checks run once over the whole config
//! and each problem is still reported at its own file's `LINE:COL`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::raw::{RawConfig, Tally, S};
use super::read::{read_sections, report_syntax, Part};
use crate::diag::{Diags, LineIndex, Shown, Source, SourceKind};

/// Reads every file `raw.include` names into `raw`. Returns `false` when
/// one has a TOML syntax error: the config is then not checked further.
pub(super) fn read_all(
    main: &Path,
    base_dir: &Path,
    raw: &mut RawConfig,
    diags: &mut Diags<'_>,
) -> bool {
    let Some(patterns) = raw.include.take() else {
        return true;
    };
    let mut syntax_ok = true;
    for (file, pattern_span) in expand(main, base_dir, &patterns, diags) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                diags.at(
                    pattern_span,
                    "include",
                    format!("cannot read {}: {}", file.display(), io_reason(&e)),
                );
                continue;
            }
        };
        let (root, syntax) = DeTable::parse_recoverable(&text);
        let base = diags.next_base();
        // After a syntax error nothing is validated, so no path needs the
        // fragment's own numbering.
        let first = if syntax.is_empty() {
            vec![
                ("device", raw.devices.len()),
                ("line", raw.lines.len()),
                ("maintenance", raw.maintenance.len()),
                ("alarm", raw.alarms.len()),
            ]
        } else {
            Vec::new()
        };
        diags.add_source(Source {
            file: file.clone(),
            base,
            // One past the end: a syntax error at the end of the file.
            len: text.len() + 1,
            kind: SourceKind::Toml {
                index: LineIndex::new(text.clone()),
                first,
            },
        });
        if !syntax.is_empty() {
            report_syntax(&text, base, syntax, diags);
            syntax_ok = false;
            continue;
        }
        let tally = Tally::start(file, raw);
        read_sections(shifted_table(root, base), raw, Part::Fragment, diags);
        raw.files.push(tally.finish(raw));
    }
    syntax_ok
}

/// The files the patterns match, each once, with the span of the pattern
/// that named it first.
fn expand(
    main: &Path,
    base_dir: &Path,
    patterns: &S<Vec<S<String>>>,
    diags: &mut Diags<'_>,
) -> Vec<(PathBuf, Range<usize>)> {
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    let mut out: Vec<(PathBuf, Range<usize>)> = Vec::new();
    for (i, p) in patterns.get_ref().iter().enumerate() {
        let path = format!("include[{i}]");
        let pattern = p.get_ref();
        if pattern.trim().is_empty() {
            diags.at(
                p.span(),
                path,
                "must not be empty; write a file or a pattern, e.g. \"conf.d/*.toml\"",
            );
            continue;
        }
        let full = base_dir.join(pattern);
        let Some(full) = full.to_str() else {
            diags.at(p.span(), path, "the config file's folder is not UTF-8");
            continue;
        };
        let matches = match glob::glob_with(full, options) {
            Ok(matches) => matches,
            Err(e) => {
                diags.at(
                    p.span(),
                    path,
                    format!("invalid pattern {:?}: {}", Shown(pattern), e.msg),
                );
                continue;
            }
        };
        let mut found = Vec::new();
        for m in matches {
            match m {
                Ok(f) if f.is_file() => found.push(f),
                Ok(_) => {} // a folder matched by `*`
                Err(e) => diags.at(
                    p.span(),
                    path.clone(),
                    format!(
                        "cannot read {}: {}",
                        e.path().display(),
                        io_reason(e.error())
                    ),
                ),
            }
        }
        found.sort();
        if found.is_empty() {
            diags.at(
                p.span(),
                path,
                format!(
                    "{:?} matches no file (a relative pattern starts at this config file's folder, {})",
                    Shown(pattern),
                    match base_dir.as_os_str().is_empty() {
                        true => "the current folder".to_string(),
                        false => format!("{:?}", base_dir.display().to_string()),
                    }
                ),
            );
            continue;
        }
        for f in found {
            if same_file(&f, main) {
                diags.at(
                    p.span(),
                    path.clone(),
                    format!(
                        "{:?} matches the config file itself; put the included files in their own folder, e.g. \"conf.d/*.toml\"",
                        Shown(pattern)
                    ),
                );
            } else if !out.iter().any(|(g, _)| same_file(g, &f)) {
                out.push((f, p.span()));
            }
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// An I/O error in an operator's words.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; make it readable by the user netkpi runs as".to_string()
        }
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
        _ => e.to_string(),
    }
}

/// The table with every span (of keys and values, at any depth) moved by
/// `by` bytes.
fn shifted_table(table: Spanned<DeTable<'_>>, by: usize) -> Spanned<DeTable<'_>> {
    let span = table.span();
    let inner = shift_entries(table.into_inner(), by);
    Spanned::new(span.start + by..span.end + by, inner)
}

fn shift_entries(table: DeTable<'_>, by: usize) -> DeTable<'_> {
    table
        .into_iter()
        .map(|(key, value)| {
            let span = key.span();
            let key = Spanned::new(span.start + by..span.end + by, key.into_inner());
            (key, shifted(value, by))
        })
        .collect()
}

fn shifted(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let inner = match value.into_inner() {
        DeValue::Table(t) => DeValue::Table(shift_entries(t, by)),
        DeValue::Array(items) => {
            DeValue::Array(items.into_iter().map(|v| shifted(v, by)).collect())
        }
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, inner)
}
