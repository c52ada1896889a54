//! `[[maintenance]]`: planned windows, their targets and times.

use jiff::Timestamp;

use super::super::builtin;
use super::super::raw::{RawConfig, RawMaintenance, S};
use super::super::Maintenance;
use super::fields::{check_text, non_empty, required};
use crate::diag::{Diags, Shown};

pub(super) fn maintenance(raw: &RawConfig, diags: &mut Diags<'_>) -> Vec<Maintenance> {
    let exists = |name: &str| {
        raw.device_names_seen.iter().any(|n| n == name)
            || raw.line_ids_seen.iter().any(|n| n == name)
    };
    let mut out = Vec::new();
    for (i, entry) in raw.maintenance.iter().enumerate() {
        let Some(m) = &entry.value else { continue };
        let path = format!("maintenance[{i}]");
        let span = &entry.span;
        let RawMaintenance {
            targets,
            start,
            end,
            reason,
        } = m;

        let targets = required(
            targets,
            span,
            &path,
            "targets",
            "the devices and lines the window covers",
            diags,
        )
        .and_then(|t| {
            if t.get_ref().is_empty() {
                diags.at(
                    t.span(),
                    format!("{path}.targets"),
                    "must name at least one device or line",
                );
                return None;
            }
            let mut ok = true;
            for (k, target) in t.get_ref().iter().enumerate() {
                if !exists(target.get_ref()) {
                    ok = false;
                    diags.at(
                        target.span(),
                        format!("{path}.targets[{k}]"),
                        format!("no device or line named {:?}", Shown(target.get_ref())),
                    );
                }
            }
            ok.then(|| {
                t.get_ref()
                    .iter()
                    .map(|t| t.get_ref().clone())
                    .collect::<Vec<_>>()
            })
        });

        let start = required(
            start,
            span,
            &path,
            "start",
            "when the window begins (RFC 3339)",
            diags,
        )
        .and_then(|s| timestamp(s, &format!("{path}.start"), diags));
        let end_raw = required(
            end,
            span,
            &path,
            "end",
            "when the window ends (RFC 3339)",
            diags,
        );
        let end = end_raw.and_then(|s| timestamp(s, &format!("{path}.end"), diags));
        if let (Some((start, start_text)), Some((end, end_text)), Some(end_raw)) =
            (&start, &end, end_raw)
        {
            if end <= start {
                diags.at(
                    end_raw.span(),
                    format!("{path}.end"),
                    format!("end {end_text} must be after start {start_text}"),
                );
            }
        }

        // Maintenance time is taken out of availability, so auditors ask why.
        let reason = required(
            reason,
            span,
            &path,
            "reason",
            "planned windows are excluded from availability, so each needs its reason",
            diags,
        )
        .filter(|r| {
            let p = format!("{path}.reason");
            non_empty(r, &p, diags) && check_text(r, &p, "reason", builtin::TEXT_MAX_CHARS, diags)
        });

        if let (Some(targets), Some((start, _)), Some((end, _)), Some(reason)) =
            (targets, start, end, reason)
        {
            out.push(Maintenance {
                targets,
                start,
                end,
                reason: reason.get_ref().clone(),
            });
        }
    }
    out
}

/// RFC 3339 with an offset, as a quoted string or a bare TOML datetime. A
/// time without offset is refused: the window must not move with the host's
/// time zone.
fn timestamp(s: &S<toml::Value>, path: &str, diags: &mut Diags<'_>) -> Option<(Timestamp, String)> {
    let text = match s.get_ref() {
        toml::Value::String(t) => t.clone(),
        toml::Value::Datetime(dt) => dt.to_string(),
        other => {
            diags.at(
                s.span(),
                path,
                format!(
                    "expected an RFC 3339 time such as \"2020-06-01T01:00:00+08:00\", found a {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    match text.parse::<Timestamp>() {
        Ok(t) => Some((t, text)),
        Err(_) => {
            let shown = Shown(&text);
            let message = if text.parse::<jiff::civil::DateTime>().is_ok() {
                format!("{shown:?} has no UTC offset; add one, e.g. \"{text}+08:00\", so the window does not depend on the host's time zone")
            } else {
                format!(
                    "{shown:?} is not an RFC 3339 time; write e.g. \"2020-06-01T01:00:00+08:00\""
                )
            };
            diags.at(s.span(), path, message);
            None
        }
    }
}
