//! The evaluation form: each `[[indicator]]`'s actual value from its
//! source, its score by its rule, and for a row below target a deviation
//! analysis drafted from the data that explains it.
//!
//! Availability and coverage come from the period's [`TargetFigures`]
//! (pooled with [`Figures::pooled`]); incident figures from the incidents'
//! own verdicts ([`Incident::respond_verdict`], [`Incident::restore_verdict`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::i18n::{fill, Lang};
use super::model::{Form, FormRow};
use crate::availability::{Figures, TargetFigures};
use crate::config::report::{
    Category, Direction, Indicator, ManualValue, ReportSettings, Scope, ScoreRule, Source,
    Statistic, Unit,
};
use crate::config::Planned;
use crate::incidents::{Incident, Verdict};
use crate::inventory::Inventory;
use crate::model::TargetKind;

/// How many targets or incidents a drafted sentence names before "…".
const NAMED_MAX: usize = 5;

/// What the form's figures are computed from.
pub(super) struct Facts<'a> {
    pub lang: Lang,
    pub tz: &'a TimeZone,
    pub inventory: &'a Inventory,
    pub planned: &'a Planned,
    /// Every configured target's figures over the period.
    pub figures: &'a [TargetFigures],
    /// Incidents open at some time in the period.
    pub incidents: &'a [Incident],
    pub from: Timestamp,
    pub to: Timestamp,
    pub now: Timestamp,
    pub manual: &'a BTreeMap<String, ManualValue>,
}

/// One source's value and what explains it.
#[derive(Default)]
struct Measured {
    actual: Option<f64>,
    basis: Option<String>,
    /// Sentences explaining a shortfall.
    causes: Vec<String>,
    /// Why there is no value.
    no_data: Option<String>,
}

pub(super) fn evaluate(settings: &ReportSettings, facts: &Facts<'_>) -> Form {
    let rows: Vec<FormRow> = settings
        .indicators
        .iter()
        .map(|ind| row(ind, facts))
        .collect();
    let total_score = rows.iter().map(|r| r.score).sum();
    Form {
        rows,
        total_weight: settings.total_weight,
        total_score,
    }
}

fn row(ind: &Indicator, facts: &Facts<'_>) -> FormRow {
    let lang = facts.lang;
    let m = measure(ind, facts);
    let (score, met) = match m.actual {
        Some(actual) => (
            score(&ind.score, ind.direction, ind.target, ind.weight, actual),
            Some(ind.direction.reaches(actual, ind.target)),
        ),
        None => (0.0, None),
    };
    let deviation = match (m.actual, met) {
        (None, _) => Some(fill(
            lang.t("dev.no_data"),
            &[m.no_data.as_deref().unwrap_or("")],
        )),
        (Some(actual), Some(false)) => {
            let unit = ind.source.unit();
            let mut text = fill(
                lang.t("dev.below"),
                &[
                    &show_value(actual, unit, lang),
                    &show_value(ind.target, unit, lang),
                ],
            );
            for cause in &m.causes {
                text.push(' ');
                text.push_str(cause);
            }
            Some(text)
        }
        _ => None,
    };
    FormRow {
        id: ind.id.clone(),
        level1: ind.level1.clone(),
        level2: ind.level2.clone(),
        name: ind.name.clone(),
        source: ind.source.name(),
        unit: ind.source.unit(),
        unit_text: ind.unit.clone(),
        direction: ind.direction,
        score_rule: ind.score.name(),
        target: ind.target,
        actual: m.actual,
        basis: m.basis,
        weight: ind.weight,
        score,
        met,
        deviation,
    }
}

/// The score a value earns under `rule`, between 0 and `weight`.
///
/// * linear: `weight` at or beyond the target, 0 at or beyond the floor,
///   in proportion between;
/// * threshold: `weight` at or beyond the target, else 0;
/// * steps: the points of the best step reached (capped at `weight`).
pub fn score(rule: &ScoreRule, direction: Direction, target: f64, weight: f64, actual: f64) -> f64 {
    if !actual.is_finite() {
        return 0.0;
    }
    let points = match rule {
        ScoreRule::Threshold => {
            if direction.reaches(actual, target) {
                weight
            } else {
                0.0
            }
        }
        ScoreRule::Linear { floor } => {
            if direction.reaches(actual, target) {
                weight
            } else if !direction.reaches(actual, *floor) || actual == *floor {
                0.0
            } else {
                weight * (actual - floor) / (target - floor)
            }
        }
        ScoreRule::Steps(steps) => steps
            .iter()
            .filter(|s| direction.reaches(actual, s.at))
            .map(|s| s.score)
            .fold(0.0, f64::max),
    };
    points.clamp(0.0, weight)
}

fn measure(ind: &Indicator, facts: &Facts<'_>) -> Measured {
    let lang = facts.lang;
    match ind.source {
        Source::DevicesMonitored(cat) => {
            let devices: Vec<&TargetFigures> = device_figures(facts, cat).collect();
            let seen: Vec<&&TargetFigures> = devices.iter().filter(|f| observed(f)).collect();
            let unseen: Vec<&str> = devices
                .iter()
                .filter(|f| !observed(f))
                .map(|f| f.target.as_str())
                .collect();
            count_measure(
                seen.len(),
                devices.len(),
                (ind.target, planned_devices(facts.planned, cat)),
                &unseen,
                lang,
            )
        }
        Source::LinesMonitored => {
            let lines: Vec<&TargetFigures> = facts
                .figures
                .iter()
                .filter(|f| f.kind == TargetKind::Line)
                .collect();
            let seen = lines.iter().filter(|f| observed(f)).count();
            let unseen: Vec<&str> = lines
                .iter()
                .filter(|f| !observed(f))
                .map(|f| f.target.as_str())
                .collect();
            count_measure(
                seen,
                lines.len(),
                (ind.target, facts.planned.leased_lines),
                &unseen,
                lang,
            )
        }
        Source::DevicesPlanned(cat) => Measured {
            actual: Some(planned_devices(facts.planned, cat) as f64),
            ..Measured::default()
        },
        Source::LinesPlanned => Measured {
            actual: Some(facts.planned.leased_lines as f64),
            ..Measured::default()
        },
        Source::CoreRooms => {
            let sites: BTreeSet<&str> = device_figures(facts, Some(Category::Core))
                .filter(|f| observed(f))
                .filter_map(|f| facts.inventory.device(&f.target))
                .map(|d| d.site.as_str())
                .collect();
            let list: Vec<&str> = sites.iter().copied().collect();
            Measured {
                actual: Some(sites.len() as f64),
                basis: Some(fill(lang.t("basis.sites"), &[&list.join(", ")])),
                ..Measured::default()
            }
        }
        Source::Availability(scope) | Source::Coverage(scope) => {
            let parts: Vec<&TargetFigures> = scoped(facts, scope).collect();
            let pooled = Figures::pooled(parts.iter().map(|f| &f.figures));
            let observed_min = (pooled.up_s + pooled.degraded_s + pooled.down_s) / 60.0;
            let actual = match ind.source {
                Source::Availability(_) => pooled.availability,
                _ => pooled.coverage,
            };
            let mut causes = Vec::new();
            if matches!(ind.source, Source::Availability(_)) {
                let worst = worst_downtime(&parts, lang);
                if !worst.is_empty() {
                    causes.push(fill(lang.t("dev.worst"), &[&worst]));
                }
            }
            if pooled.unknown_s > 0.0 {
                causes.push(fill(
                    lang.t("dev.unknown_time"),
                    &[&minutes(pooled.unknown_s)],
                ));
            }
            Measured {
                actual,
                basis: Some(fill(
                    lang.t("basis.observed_time"),
                    &[&parts.len().to_string(), &format!("{observed_min:.1}")],
                )),
                causes,
                no_data: Some(lang.t("dev.nothing_observed").to_string()),
            }
        }
        Source::UnitsConnected => {
            let lines: Vec<&TargetFigures> = facts
                .figures
                .iter()
                .filter(|f| f.kind == TargetKind::Line)
                .collect();
            let planned = match facts.planned.leased_lines {
                0 => lines.len(),
                n => n as usize,
            };
            let mut met = 0;
            let mut missed = Vec::new();
            for f in &lines {
                let target = facts
                    .inventory
                    .sla_of(TargetKind::Line, &f.target)
                    .availability_target;
                match f.figures.availability {
                    Some(a) if a >= target => met += 1,
                    Some(a) => missed.push(format!("{} {}", f.target, percent(a))),
                    None => missed.push(format!("{} {}", f.target, lang.t("dev.nothing_observed"))),
                }
            }
            let mut causes = Vec::new();
            if !missed.is_empty() {
                causes.push(fill(
                    lang.t("dev.lines_missed"),
                    &[
                        &missed.len().to_string(),
                        &lines.len().to_string(),
                        &named(&missed),
                    ],
                ));
            }
            Measured {
                actual: (planned > 0).then(|| met as f64 / planned as f64),
                basis: Some(fill(
                    lang.t("basis.count_of"),
                    &[&met.to_string(), &planned.to_string()],
                )),
                causes,
                no_data: Some(lang.t("dev.nothing_observed").to_string()),
            }
        }
        Source::Faults => {
            let faults = faults(facts);
            let mut per_target: BTreeMap<&str, usize> = BTreeMap::new();
            for i in &faults {
                *per_target.entry(i.target.as_str()).or_default() += 1;
            }
            let mut most: Vec<(&str, usize)> = per_target.into_iter().collect();
            most.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let most: Vec<String> = most.iter().map(|(t, n)| format!("{t} ({n})")).collect();
            Measured {
                actual: Some(faults.len() as f64),
                basis: Some(fill(
                    lang.t("basis.incidents"),
                    &[&faults.len().to_string()],
                )),
                causes: vec![fill(
                    lang.t("dev.faults"),
                    &[&faults.len().to_string(), &named(&most)],
                )],
                no_data: None,
            }
        }
        Source::AcknowledgedWithinShare | Source::RestoredWithinShare => {
            let respond = ind.source == Source::AcknowledgedWithinShare;
            let verdict = |i: &Incident| {
                if respond {
                    i.respond_verdict(facts.now)
                } else {
                    i.restore_verdict(facts.now)
                }
            };
            let judged: Vec<&Incident> = faults(facts)
                .into_iter()
                .filter(|i| verdict(i) != Verdict::Pending)
                .collect();
            let late: Vec<&Incident> = judged
                .iter()
                .copied()
                .filter(|i| verdict(i) == Verdict::Missed)
                .collect();
            let late_names: Vec<String> = late
                .iter()
                .map(|i| late_incident(i, respond, facts))
                .collect();
            let deadlines: BTreeSet<String> = late
                .iter()
                .map(|i| {
                    crate::duration::format(if respond {
                        i.respond_within
                    } else {
                        i.restore_within
                    })
                })
                .collect();
            let deadlines: Vec<String> = deadlines.into_iter().collect();
            let mut causes = Vec::new();
            if !late.is_empty() {
                causes.push(fill(
                    lang.t(if respond {
                        "dev.late_respond"
                    } else {
                        "dev.late_restore"
                    }),
                    &[
                        &late.len().to_string(),
                        &judged.len().to_string(),
                        &deadlines.join(", "),
                        &named(&late_names),
                    ],
                ));
            }
            let met = judged.len() - late.len();
            Measured {
                actual: (!judged.is_empty()).then(|| met as f64 / judged.len() as f64),
                basis: Some(fill(
                    lang.t("basis.count_of"),
                    &[&met.to_string(), &judged.len().to_string()],
                )),
                causes,
                no_data: Some(lang.t("dev.no_incidents").to_string()),
            }
        }
        Source::TimeToRespond(stat) | Source::TimeToRestore(stat) => {
            let respond = matches!(ind.source, Source::TimeToRespond(_));
            let mut timed: Vec<(f64, &Incident)> = faults(facts)
                .into_iter()
                .filter_map(|i| {
                    let d = if respond { i.response() } else { i.restore() }?;
                    Some((d.as_secs_f64(), i))
                })
                .collect();
            timed.sort_by(|a, b| a.0.total_cmp(&b.0));
            let secs: Vec<f64> = timed.iter().map(|(s, _)| *s).collect();
            let slowest: Vec<String> = timed
                .iter()
                .rev()
                .take(3)
                .map(|(s, i)| {
                    format!(
                        "{} {} ({} min)",
                        i.target,
                        local_date(i.opened_at, facts.tz),
                        minutes(*s)
                    )
                })
                .collect();
            Measured {
                actual: statistic(&secs, stat),
                basis: Some(fill(lang.t("basis.incidents"), &[&secs.len().to_string()])),
                causes: if slowest.is_empty() {
                    Vec::new()
                } else {
                    vec![fill(lang.t("dev.slowest"), &[&slowest.join(", ")])]
                },
                no_data: Some(lang.t("dev.no_incidents").to_string()),
            }
        }
        Source::EnergyKwh => Measured {
            // TODO: the per-device daily kWh the store will keep.
            no_data: Some(lang.t("dev.no_energy").to_string()),
            ..Measured::default()
        },
        Source::Manual => match facts.manual.get(&ind.id) {
            Some(v) => Measured {
                actual: Some(v.value),
                basis: v.note.clone(),
                causes: v
                    .note
                    .iter()
                    .map(|n| fill(lang.t("dev.manual_note"), &[n]))
                    .collect(),
                no_data: None,
            },
            None => Measured {
                no_data: Some(fill(lang.t("dev.no_manual"), &[&ind.id])),
                ..Measured::default()
            },
        },
    }
}

/// The targets observed, and why fewer than the row's `target`: fewer
/// configured (with what `[planned]` says), or some never observed.
fn count_measure(
    seen: usize,
    configured: usize,
    (target, planned): (f64, u32),
    unseen: &[&str],
    lang: Lang,
) -> Measured {
    let mut causes = Vec::new();
    if (configured as f64) < target {
        causes.push(fill(
            lang.t("dev.missing"),
            &[&configured.to_string(), &planned.to_string()],
        ));
    }
    if !unseen.is_empty() {
        let names: Vec<String> = unseen.iter().map(|s| s.to_string()).collect();
        causes.push(fill(lang.t("dev.unobserved"), &[&named(&names)]));
    }
    Measured {
        actual: Some(seen as f64),
        basis: Some(fill(
            lang.t("basis.count_of"),
            &[&seen.to_string(), &configured.to_string()],
        )),
        causes,
        no_data: None,
    }
}

/// Observed at all during the period (some up, degraded or down time).
fn observed(f: &TargetFigures) -> bool {
    f.figures.up_s + f.figures.degraded_s + f.figures.down_s > 0.0
}

fn planned_devices(planned: &Planned, cat: Option<Category>) -> u32 {
    match cat {
        Some(Category::Core) => planned.core_devices,
        Some(Category::Access) => planned.access_devices,
        None => planned.core_devices + planned.access_devices,
    }
}

/// The devices of a category (core and access when `None`).
fn device_figures<'a>(
    facts: &'a Facts<'_>,
    cat: Option<Category>,
) -> impl Iterator<Item = &'a TargetFigures> + 'a {
    let inventory = facts.inventory;
    facts.figures.iter().filter(move |f| {
        f.kind == TargetKind::Device
            && inventory
                .device(&f.target)
                .and_then(|d| Category::of(d.role))
                .is_some_and(|c| cat.is_none_or(|want| want == c))
    })
}

/// The targets a pooled figure covers.
pub(super) fn scoped<'a>(
    facts: &'a Facts<'_>,
    scope: Scope,
) -> Box<dyn Iterator<Item = &'a TargetFigures> + 'a> {
    match scope {
        Scope::All => Box::new(facts.figures.iter()),
        Scope::Lines => Box::new(facts.figures.iter().filter(|f| f.kind == TargetKind::Line)),
        Scope::Devices(cat) => Box::new(device_figures(facts, Some(cat))),
    }
}

/// Incidents opened in the period, planned ones excluded.
fn faults<'a>(facts: &'a Facts<'_>) -> Vec<&'a Incident> {
    facts
        .incidents
        .iter()
        .filter(|i| !i.planned && i.opened_at >= facts.from && i.opened_at < facts.to)
        .collect()
}

/// "L-017 2020-03-04 (312.0 min)": when it opened and how long it took;
/// "(not acknowledged)" for a response that never came.
fn late_incident(i: &Incident, respond: bool, facts: &Facts<'_>) -> String {
    let took = if respond { i.response() } else { i.restore() };
    let took = match took {
        Some(d) => format!("{} min", minutes(d.as_secs_f64())),
        None if respond => facts.lang.t("dev.not_acknowledged").to_string(),
        None => facts.lang.t("dev.not_restored").to_string(),
    };
    format!(
        "{} {} ({took})",
        i.target,
        local_date(i.opened_at, facts.tz)
    )
}

/// The three targets with the most downtime: "L-017 down 12.0 min in 2 outage(s)".
fn worst_downtime(parts: &[&TargetFigures], lang: Lang) -> String {
    let mut down: Vec<&&TargetFigures> = parts.iter().filter(|f| f.figures.down_s > 0.0).collect();
    down.sort_by(|a, b| {
        b.figures
            .down_s
            .total_cmp(&a.figures.down_s)
            .then(a.target.cmp(&b.target))
    });
    down.iter()
        .take(3)
        .map(|f| {
            fill(
                lang.t("dev.target_downtime"),
                &[
                    &f.target,
                    &minutes(f.figures.down_s),
                    &f.figures.outages.to_string(),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Mean, median or 95th percentile (nearest rank) of sorted values.
pub fn statistic(sorted: &[f64], stat: Statistic) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    Some(match stat {
        Statistic::Mean => sorted.iter().sum::<f64>() / n as f64,
        Statistic::Median if n % 2 == 1 => sorted[n / 2],
        Statistic::Median => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        Statistic::P95 => sorted[(0.95 * n as f64).ceil() as usize - 1],
    })
}

/// The first [`NAMED_MAX`] names, then "…".
fn named(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(NAMED_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMED_MAX {
        out.push_str(", …");
    }
    out
}

fn minutes(seconds: f64) -> String {
    format!("{:.1}", seconds / 60.0)
}

fn percent(ratio: f64) -> String {
    format!("{:.3}%", ratio * 100.0)
}

fn local_date(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned_datetime(tz.clone()).date().to_string()
}

/// A value as the form shows it: ratios as percentages, seconds as minutes.
pub fn show_value(v: f64, unit: Unit, lang: Lang) -> String {
    match unit {
        Unit::Ratio => percent(v),
        Unit::Seconds => format!("{} {}", minutes(v), lang.t("unit.seconds")),
        Unit::Kwh => format!("{v:.1} {}", lang.t("unit.kwh")),
        Unit::Count | Unit::Manual => trim_number(v),
    }
}

/// `150` rather than `150.0`; other values as they are.
pub fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::report::Step;

    #[test]
    fn linear_threshold_and_steps() {
        let lin = ScoreRule::Linear { floor: 0.99 };
        let h = Direction::Higher;
        assert_eq!(score(&lin, h, 0.999, 5.0, 0.9995), 5.0);
        assert_eq!(score(&lin, h, 0.999, 5.0, 0.999), 5.0);
        assert_eq!(score(&lin, h, 0.999, 5.0, 0.98), 0.0);
        assert!((score(&lin, h, 0.999, 5.0, 0.9945) - 2.5).abs() < 1e-9);
        // Lower is better: full at or below 4 h, 0 at 8 h.
        let lin = ScoreRule::Linear { floor: 8.0 };
        let l = Direction::Lower;
        assert_eq!(score(&lin, l, 4.0, 10.0, 3.0), 10.0);
        assert_eq!(score(&lin, l, 4.0, 10.0, 6.0), 5.0);
        assert_eq!(score(&lin, l, 4.0, 10.0, 9.0), 0.0);
        assert_eq!(score(&ScoreRule::Threshold, h, 150.0, 5.0, 149.0), 0.0);
        assert_eq!(score(&ScoreRule::Threshold, h, 150.0, 5.0, 150.0), 5.0);
        let steps = ScoreRule::Steps(vec![
            Step {
                at: 0.99,
                score: 5.0,
            },
            Step {
                at: 0.95,
                score: 3.0,
            },
        ]);
        assert_eq!(score(&steps, h, 0.99, 5.0, 0.97), 3.0);
        assert_eq!(score(&steps, h, 0.99, 5.0, 0.999), 5.0);
        assert_eq!(score(&steps, h, 0.99, 5.0, 0.5), 0.0);
        assert_eq!(score(&steps, h, 0.99, 5.0, f64::NAN), 0.0);
    }

    #[test]
    fn statistics_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(statistic(&v, Statistic::Mean), Some(10.5));
        assert_eq!(statistic(&v, Statistic::Median), Some(10.5));
        assert_eq!(statistic(&v, Statistic::P95), Some(19.0));
        assert_eq!(statistic(&[3.0], Statistic::P95), Some(3.0));
        assert_eq!(statistic(&[1.0, 2.0, 9.0], Statistic::Median), Some(2.0));
        assert_eq!(statistic(&[], Statistic::Mean), None);
    }
}
