//! `[report]` and the evaluation form's `[[indicator]]` rows, in the config
//! or in `[report] indicators_file`, and the manual-entries file
//! (`[report] manual_file`). Problems in either file are reported at their
//! place in that file.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use super::super::raw::{Entry, RawConfig, RawIndicator, RawLabel, RawStep, S};
use super::super::read::{self, did_you_mean};
use super::super::report::{
    Direction, Indicator, Label, ManualValue, ReportSettings, ScoreRule, Source, Step, Unit,
};
use super::fields::required;
use crate::diag::{Diags, Shown};

/// What the weights add up to unless `[report] total_weight` says otherwise.
const TOTAL_WEIGHT: f64 = 100.0;
/// Weights may differ from the total by this much (sums of decimals).
const WEIGHT_SLACK: f64 = 1e-6;

pub(super) fn report(raw: &RawConfig, base_dir: &Path, diags: &mut Diags<'_>) -> ReportSettings {
    let settings = raw.report.as_ref();
    let total_weight = match settings.and_then(|r| r.total_weight.as_ref()) {
        None => TOTAL_WEIGHT,
        Some(w) => match number(w, Unit::Count, "report.total_weight", diags) {
            Some(v) if v > 0.0 => v,
            Some(_) => {
                diags.at(
                    w.span(),
                    "report.total_weight",
                    "total_weight must be above 0",
                );
                TOTAL_WEIGHT
            }
            None => TOTAL_WEIGHT,
        },
    };

    let from_file = settings.and_then(|r| r.indicators_file.as_ref());
    let indicators = match from_file {
        None => indicators(&raw.indicators, total_weight, diags),
        Some(file) => {
            if let Some(first) = raw.indicators.first() {
                diags.at(
                    first.span.clone(),
                    "indicator",
                    format!(
                        "the form is read from report.indicators_file ({:?}); write its [[indicator]] rows there or here, not in both",
                        file.get_ref()
                    ),
                );
            }
            other_file(
                file,
                "report.indicators_file",
                base_dir,
                diags,
                |text, fd| {
                    let entries = read::indicators_file(text, fd);
                    indicators(&entries, total_weight, fd)
                },
            )
            .unwrap_or_default()
        }
    };

    let manual_file = settings.and_then(|r| r.manual_file.as_ref());
    let manual = manual_file
        .and_then(|file| {
            other_file(file, "report.manual_file", base_dir, diags, |text, fd| {
                manual_values(text, &indicators, fd)
            })
        })
        .unwrap_or_default();

    ReportSettings {
        indicators,
        total_weight,
        manual_file: manual_file.map(|f| base_dir.join(f.get_ref())),
        manual,
    }
}

/// Reads the file a key names (relative to the config's directory) and
/// checks it with its own diagnostics, which are added to `diags`.
fn other_file<T>(
    file: &S<String>,
    path: &str,
    base_dir: &Path,
    diags: &mut Diags<'_>,
    check: impl FnOnce(&str, &mut Diags<'_>) -> T,
) -> Option<T> {
    let full = base_dir.join(file.get_ref());
    let text = match std::fs::read_to_string(&full) {
        Ok(text) => text,
        Err(e) => {
            diags.at(
                file.span(),
                path,
                format!(
                    "cannot read {:?} ({e}); a relative path is taken from this file's folder",
                    file.get_ref()
                ),
            );
            return None;
        }
    };
    let mut fd = Diags::new(&full, &text);
    let out = check(&text, &mut fd);
    fd.sort_from(0);
    for d in fd.into_vec() {
        diags.push(d);
    }
    Some(out)
}

/// Every row, then the weights' sum against `total_weight`.
fn indicators(
    entries: &[Entry<RawIndicator>],
    total: f64,
    diags: &mut Diags<'_>,
) -> Vec<Indicator> {
    let mut out = Vec::new();
    let mut ids: HashMap<String, (usize, usize)> = HashMap::new();
    let mut all_read = true;
    // Every row that reads counts, a duplicate id too: its weight is real.
    let mut sum = 0.0;
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("indicator[{i}]");
        let row = entry
            .value
            .as_ref()
            .and_then(|raw| indicator(raw, &entry.span, &path, diags));
        let Some(row) = row else {
            all_read = false;
            continue;
        };
        sum += row.weight;
        let line = diags.line_of(entry.span.start);
        if let Some((j, first_line)) = ids.get(&row.id) {
            let span = entry
                .value
                .as_ref()
                .and_then(|r| r.id.as_ref().map(|s| s.span()))
                .unwrap_or(entry.span.clone());
            diags.at(
                span,
                format!("{path}.id"),
                format!(
                    "duplicate indicator id {:?}; indicator[{j}] (line {first_line}) has it already; give one of them an `id`",
                    row.id
                ),
            );
            continue;
        }
        ids.insert(row.id.clone(), (i, line));
        out.push(row);
    }
    if all_read && !entries.is_empty() && (sum - total).abs() > WEIGHT_SLACK {
        diags.at(
            entries[0].span.clone(),
            "indicator",
            format!(
                "the weights add up to {sum}, not {total}; fix them, or declare the form's total as [report] total_weight"
            ),
        );
    }
    out
}

fn indicator(
    raw: &RawIndicator,
    span: &Range<usize>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<Indicator> {
    let level1 = label(&raw.level1, span, path, "level1", diags);
    let level2 = label(&raw.level2, span, path, "level2", diags);
    let name = label(&raw.name, span, path, "name", diags);
    let source = required(
        &raw.source,
        span,
        path,
        "source",
        "a measured figure (e.g. \"availability\") or \"manual\"",
        diags,
    )
    .and_then(|s| {
        let found = Source::parse(s.get_ref());
        if found.is_none() {
            let names: Vec<&str> = Source::NAMES.iter().map(|(n, _)| *n).collect();
            diags.at(
                s.span(),
                format!("{path}.source"),
                format!(
                    "unknown source {:?}{}; expected one of: {}",
                    Shown(s.get_ref()),
                    did_you_mean(s.get_ref(), &names),
                    names.join(", ")
                ),
            );
        }
        found
    });
    let unit = source.map_or(Unit::Count, Source::unit);
    let target = required(
        &raw.target,
        span,
        path,
        "target",
        "the value the row aims at",
        diags,
    )
    .and_then(|t| number(t, unit, &format!("{path}.target"), diags));
    let weight = required(
        &raw.weight,
        span,
        path,
        "weight",
        "the row's points in the form",
        diags,
    )
    .and_then(|w| number(w, Unit::Count, &format!("{path}.weight"), diags))
    .filter(|w| {
        let ok = *w >= 0.0;
        if !ok {
            let at = raw.weight.as_ref().map_or(span.clone(), |w| w.span());
            diags.at(at, format!("{path}.weight"), "a weight cannot be negative");
        }
        ok
    });
    let direction = match &raw.direction {
        None => source.map(Source::default_direction),
        Some(d) => match d.get_ref().as_str() {
            "higher" => Some(Direction::Higher),
            "lower" => Some(Direction::Lower),
            other => {
                diags.at(
                    d.span(),
                    format!("{path}.direction"),
                    format!(
                        "unknown direction {:?}; expected \"higher\" (more is better) or \"lower\" (less is better, e.g. time to restore)",
                        Shown(other)
                    ),
                );
                None
            }
        },
    };
    if let (Some(u), Some(s)) = (&raw.unit, source) {
        if s != Source::Manual {
            diags.at(
                u.span(),
                format!("{path}.unit"),
                format!("`unit` is for manual rows; {} has its own unit", s.name()),
            );
        }
    }
    let id = match &raw.id {
        Some(id) => {
            let ok = !id.get_ref().is_empty()
                && id
                    .get_ref()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                diags.at(
                    id.span(),
                    format!("{path}.id"),
                    format!(
                        "id {:?} must be snake_case: lowercase letters, digits and _",
                        Shown(id.get_ref())
                    ),
                );
            }
            ok.then(|| id.get_ref().clone())
        }
        None => name.as_ref().map(|n| snake_case(&n.en)).filter(|id| {
            let ok = !id.is_empty();
            if !ok {
                diags.at(
                    span.clone(),
                    format!("{path}.id"),
                    "name.en gives no id (no letters or digits); give an `id`",
                );
            }
            ok
        }),
    };
    // The score rule is checked even when the direction is wrong, in the
    // source's own direction, so every mistake is reported at once.
    let (target, weight) = (target?, weight?);
    let judged_as = direction
        .or(source.map(Source::default_direction))
        .unwrap_or(Direction::Higher);
    let score = score_rule(raw, span, path, unit, target, weight, judged_as, diags);
    let (score, direction) = (score?, direction?);
    Some(Indicator {
        id: id?,
        level1: level1?,
        level2: level2?,
        name: name?,
        source: source?,
        target,
        weight,
        score,
        direction,
        unit: raw.unit.as_ref().map(|u| u.get_ref().clone()),
    })
}

/// `{ zh = "...", en = "..." }`, both non-empty.
fn label(
    field: &Option<S<RawLabel>>,
    span: &Range<usize>,
    path: &str,
    key: &str,
    diags: &mut Diags<'_>,
) -> Option<Label> {
    let l = required(
        field,
        span,
        path,
        key,
        "{ zh = \"...\", en = \"...\" }",
        diags,
    )?;
    let mut text = |part: &Option<S<String>>, lang: &str| {
        let at = format!("{path}.{key}.{lang}");
        match part {
            Some(t) if !t.get_ref().trim().is_empty() => Some(t.get_ref().clone()),
            Some(t) => {
                diags.at(t.span(), at, "empty label");
                None
            }
            None => {
                diags.at(
                    l.span(),
                    at,
                    format!("missing `{lang}`: the label in both languages"),
                );
                None
            }
        }
    };
    let zh = text(&l.get_ref().zh, "zh");
    let en = text(&l.get_ref().en, "en");
    Some(Label { zh: zh?, en: en? })
}

#[allow(clippy::too_many_arguments)]
fn score_rule(
    raw: &RawIndicator,
    span: &Range<usize>,
    path: &str,
    unit: Unit,
    target: f64,
    weight: f64,
    direction: Direction,
    diags: &mut Diags<'_>,
) -> Option<ScoreRule> {
    let score_path = format!("{path}.score");
    let name = match raw.score.as_ref().map(|s| (s, s.get_ref())) {
        None => "linear",
        Some((_, toml::Value::String(s))) => s.as_str(),
        Some((s, toml::Value::Array(items))) => {
            if raw.steps.is_some() {
                diags.at(
                    s.span(),
                    score_path,
                    "give the steps either as score = [...] or as [[indicator.steps]], not both",
                );
                return None;
            }
            let mut steps = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let at = format!("{score_path}[{i}]");
                let step = item.as_table().and_then(|t| {
                    let get = |k: &str| t.get(k).and_then(|v| value_number(v, unit));
                    Some(Step {
                        at: get("at")?,
                        score: get("score")?,
                    })
                });
                match step {
                    Some(step) if t_keys_ok(item) => steps.push(step),
                    _ => {
                        diags.at(s.span(), at, "each step is { at = VALUE, score = POINTS }");
                        return None;
                    }
                }
            }
            return steps_rule(steps, s.span(), &score_path, weight, direction, diags);
        }
        Some((s, _)) => {
            diags.at(
                s.span(),
                score_path,
                "expected \"linear\", \"threshold\", \"steps\" or a list of { at, score }",
            );
            return None;
        }
    };
    let at = raw.score.as_ref().map_or(span.clone(), |s| s.span());
    if raw.floor.is_some() && name != "linear" {
        let f = raw.floor.as_ref().map_or(span.clone(), |f| f.span());
        diags.at(
            f,
            format!("{path}.floor"),
            "`floor` applies to score = \"linear\" only",
        );
    }
    if raw.steps.is_some() && name != "steps" {
        let s = raw.steps.as_ref().map_or(span.clone(), |s| s.span());
        diags.at(
            s,
            format!("{path}.steps"),
            "[[indicator.steps]] needs score = \"steps\"",
        );
    }
    match name {
        "linear" => {
            let floor = match &raw.floor {
                Some(f) => number(f, unit, &format!("{path}.floor"), diags)?,
                // Less is better: twice the target scores nothing.
                None if direction == Direction::Lower => 2.0 * target,
                None => 0.0,
            };
            let beyond = match direction {
                Direction::Higher => floor < target,
                Direction::Lower => floor > target,
            };
            if !beyond {
                let f = raw.floor.as_ref().map_or(at, |f| f.span());
                diags.at(
                    f,
                    format!("{path}.floor"),
                    format!(
                        "floor {} must be {} the target {}: it is where the score reaches 0",
                        shown(floor, unit),
                        if direction == Direction::Higher {
                            "below"
                        } else {
                            "above"
                        },
                        shown(target, unit)
                    ),
                );
                return None;
            }
            Some(ScoreRule::Linear { floor })
        }
        "threshold" => Some(ScoreRule::Threshold),
        "steps" => {
            let Some(raw_steps) = &raw.steps else {
                diags.at(
                    at,
                    score_path,
                    "score = \"steps\" needs [[indicator.steps]] tables (at = VALUE, score = POINTS)",
                );
                return None;
            };
            let mut steps = Vec::new();
            for (i, s) in raw_steps.get_ref().iter().enumerate() {
                let p = format!("{path}.steps[{i}]");
                let RawStep { at: a, score: sc } = s.get_ref();
                let a = required(
                    a,
                    &s.span(),
                    &p,
                    "at",
                    "the value that earns the points",
                    diags,
                )
                .and_then(|a| number(a, unit, &format!("{p}.at"), diags));
                let sc = required(sc, &s.span(), &p, "score", "the points earned", diags)
                    .and_then(|v| number(v, Unit::Count, &format!("{p}.score"), diags));
                steps.push(Step { at: a?, score: sc? });
            }
            steps_rule(
                steps,
                raw_steps.span(),
                &score_path,
                weight,
                direction,
                diags,
            )
        }
        other => {
            diags.at(
                at,
                score_path,
                format!(
                    "unknown score rule {:?}; expected \"linear\", \"threshold\" or \"steps\"",
                    Shown(other)
                ),
            );
            None
        }
    }
}

/// Only `at` and `score` in an inline step.
fn t_keys_ok(item: &toml::Value) -> bool {
    item.as_table()
        .is_some_and(|t| t.keys().all(|k| k == "at" || k == "score"))
}

/// Steps sorted best first, each worth at most the weight.
fn steps_rule(
    mut steps: Vec<Step>,
    span: Range<usize>,
    path: &str,
    weight: f64,
    direction: Direction,
    diags: &mut Diags<'_>,
) -> Option<ScoreRule> {
    if steps.is_empty() {
        diags.at(span, path, "no steps given");
        return None;
    }
    if let Some(s) = steps.iter().find(|s| s.score < 0.0 || s.score > weight) {
        diags.at(
            span,
            path,
            format!(
                "a step's score ({}) must be between 0 and the weight ({weight})",
                s.score
            ),
        );
        return None;
    }
    steps.sort_by(|a, b| match direction {
        Direction::Higher => b.at.total_cmp(&a.at),
        Direction::Lower => a.at.total_cmp(&b.at),
    });
    Some(ScoreRule::Steps(steps))
}

/// A value as the operator wrote it: a time as a duration.
fn shown(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds if v >= 0.0 => crate::duration::format(std::time::Duration::from_secs_f64(v)),
        _ => v.to_string(),
    }
}

/// A finite number; for a time (`unit` seconds) also a duration (`"4h"`).
fn number(v: &S<toml::Value>, unit: Unit, path: &str, diags: &mut Diags<'_>) -> Option<f64> {
    let found = value_number(v.get_ref(), unit);
    if found.is_none() {
        let expected = if unit == Unit::Seconds {
            "a number of seconds or a duration like \"4h\""
        } else {
            "a finite number"
        };
        diags.at(v.span(), path, format!("expected {expected}"));
    }
    found
}

fn value_number(v: &toml::Value, unit: Unit) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        toml::Value::String(s) if unit == Unit::Seconds => {
            crate::duration::parse(s).ok().map(|d| d.as_secs_f64())
        }
        _ => None,
    }
}

/// `name.en` as an id: lowercase ASCII letters and digits, everything
/// else one `_`, none at the ends ("Leased lines (in service)" →
/// `leased_lines_in_service`).
pub(super) fn snake_case(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The manual-entries file: each key the id of a "manual" row, each value
/// a number or `{ value = NUMBER, note = "where it comes from" }`.
fn manual_values(
    text: &str,
    indicators: &[Indicator],
    diags: &mut Diags<'_>,
) -> BTreeMap<String, ManualValue> {
    let manual_ids: Vec<&str> = indicators
        .iter()
        .filter(|i| i.source == Source::Manual)
        .map(|i| i.id.as_str())
        .collect();
    let mut out = BTreeMap::new();
    for (id, key_span, raw) in read::manual_file(text, diags) {
        if !manual_ids.contains(&id.as_str()) {
            diags.at(
                key_span,
                id.as_str(),
                format!(
                    "no indicator with source = \"manual\" has id {:?}{}; manual rows: {}",
                    Shown(&id),
                    did_you_mean(&id, &manual_ids),
                    if manual_ids.is_empty() {
                        "none".to_string()
                    } else {
                        manual_ids.join(", ")
                    }
                ),
            );
            continue;
        }
        let Some(raw) = raw else { continue };
        let Some(v) = required(
            &raw.value,
            &key_span,
            &id,
            "value",
            "the number entered",
            diags,
        ) else {
            continue;
        };
        let Some(value) = number(v, Unit::Manual, &format!("{id}.value"), diags) else {
            continue;
        };
        out.insert(
            id,
            ManualValue {
                value,
                note: raw.note.map(|n| n.into_inner()),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn ids_from_english_names() {
        assert_eq!(
            snake_case("Leased lines (in service)"),
            "leased_lines_in_service"
        );
        assert_eq!(snake_case("  7×24 availability "), "7_24_availability");
        assert_eq!(snake_case("网络"), "");
    }
}
