//! Checks of single values that every section uses: durations, counts,
//! ratios, required keys, names.

use std::ops::Range;
use std::time::Duration;

use super::super::builtin;
use super::super::raw::S;
use super::super::read::did_you_mean;
use crate::diag::{Diags, Shown};
use crate::model::Severity;

pub(super) fn duration(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<Duration> {
    match crate::duration::parse(s.get_ref()) {
        Ok(d) => Some(d),
        Err(e) => {
            diags.at(s.span(), path, e);
            None
        }
    }
}

pub(super) fn positive_duration(
    s: &S<String>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<Duration> {
    let d = duration(s, path, diags)?;
    if d.is_zero() {
        diags.at(s.span(), path, "must be longer than 0");
        return None;
    }
    Some(d)
}

pub(super) fn count(
    raw: &Option<S<i64>>,
    min: u32,
    max: u32,
    path: &str,
    key: &str,
    what: &str,
    diags: &mut Diags<'_>,
) -> Option<u32> {
    let s = raw.as_ref()?;
    let v = *s.get_ref();
    if v < i64::from(min) || v > i64::from(max) {
        diags.at(
            s.span(),
            format!("{path}.{key}"),
            format!("{key} must be between {min} and {max} ({what}), not {v}"),
        );
        return None;
    }
    u32::try_from(v).ok()
}

/// A ratio in (0, 1]. Percentages are the usual slip, so they get a hint.
pub(super) fn ratio(s: &S<f64>, path: &str, key: &str, diags: &mut Diags<'_>) -> Option<f64> {
    let v = *s.get_ref();
    if v > 0.0 && v <= 1.0 {
        return Some(v);
    }
    let hint = if v > 1.0 && v <= 100.0 {
        // Rounded so that 99.9 suggests 0.999, not 0.9990000000000001.
        format!("; for {v}% write {}", (v * 1e7).round() / 1e9)
    } else {
        String::new()
    };
    diags.at(
        s.span(),
        path,
        format!("{key} must be a ratio greater than 0 and at most 1, not {v}{hint}"),
    );
    None
}

/// An incident severity word: `critical`, `major` or `minor`.
pub(super) fn severity(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<Severity> {
    let word = s.get_ref();
    if let Some(v) = Severity::parse(word) {
        return Some(v);
    }
    let all = Severity::ALL.map(Severity::as_str);
    diags.at(
        s.span(),
        path,
        format!(
            "unknown severity {:?}; expected one of: {}{}",
            Shown(word),
            all.join(", "),
            did_you_mean(word, &all)
        ),
    );
    None
}

pub(super) fn required<'a, T>(
    field: &'a Option<S<T>>,
    entry_span: &Range<usize>,
    path: &str,
    key: &str,
    why: &str,
    diags: &mut Diags<'_>,
) -> Option<&'a S<T>> {
    let key_path = format!("{path}.{key}");
    // A value serde refused was dropped; it is reported already, not missing.
    if field.is_none() && !diags.reported_under(&key_path) {
        diags.at(
            entry_span.clone(),
            key_path,
            format!("missing `{key}`: {why}"),
        );
    }
    field.as_ref()
}

/// Device names and line ids become metric labels, URL segments and
/// maintenance targets, so they are kept to characters safe in all three,
/// and to [`builtin::NAME_MAX_CHARS`].
pub(super) fn check_name(s: &S<String>, path: &str, what: &str, diags: &mut Diags<'_>) -> bool {
    if !check_text(s, path, what, builtin::NAME_MAX_CHARS, diags) {
        return false;
    }
    let name = s.get_ref();
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        diags.at(
            s.span(),
            path,
            format!(
                "invalid {what} {:?}; use only letters, digits, `_`, `.` and `-`",
                Shown(name)
            ),
        );
    }
    ok
}

/// Text that is printed, logged and exported (names, sites, units, reasons):
/// at most `max` characters and no control characters (NUL, newline, tab or
/// any other Unicode Cc), which would split or corrupt log lines, report
/// rows and metric labels. `what` names the value in the message. One
/// message at most, the length first, so a runaway value is reported once.
pub(super) fn check_text(
    s: &S<String>,
    path: &str,
    what: &str,
    max: usize,
    diags: &mut Diags<'_>,
) -> bool {
    let text = s.get_ref();
    let len = text.chars().count();
    if len > max {
        diags.at(
            s.span(),
            path,
            format!("{what} is {len} characters long; at most {max} are allowed"),
        );
        return false;
    }
    if let Some((i, c)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
        diags.at(
            s.span(),
            path,
            format!(
                "{what} contains the control character U+{:04X} at character {}; control characters (NUL, newline, tab and the like) are not allowed",
                u32::from(c),
                i + 1
            ),
        );
        return false;
    }
    true
}

pub(super) fn non_empty(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> bool {
    let ok = !s.get_ref().trim().is_empty();
    if !ok {
        diags.at(s.span(), path, "must not be empty");
    }
    ok
}
