//! `[[alarm]]`: thresholds on polled values. Each names a metric that a
//! profile of the devices it watches gives, a comparison and a finite value;
//! or a trap (`trap`), whose condition is a metric of its own that the
//! devices' profiles must give likewise (the polls are what clear it).

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use super::super::builtin::METRIC_PREFIX;
use super::super::raw::{RawAlarm, RawConfig, S};
use super::super::read::did_you_mean;
use super::super::{Alarm, Comparison, Device, KnownProfiles, TrapAlarm};
use super::fields::{check_name, check_text, duration, required, severity};
use crate::diag::{Diags, Shown};

pub(super) fn alarms(
    raw: &RawConfig,
    devices: &[Device],
    known: Option<&KnownProfiles>,
    diags: &mut Diags<'_>,
) -> Vec<Alarm> {
    let mut out = Vec::new();
    // name → (index, span of the name), for duplicates.
    let mut names: HashMap<&str, (usize, Range<usize>)> = HashMap::new();
    for (i, entry) in raw.alarms.iter().enumerate() {
        let Some(a) = &entry.value else { continue };
        let path = format!("alarm[{i}]");
        let at = (i, &entry.span, path.as_str());
        if let Some(alarm) = alarm(raw, a, at, &mut names, devices, known, diags) {
            out.push(alarm);
        }
    }
    out
}

fn alarm<'r>(
    raw: &'r RawConfig,
    a: &'r RawAlarm,
    (index, span, path): (usize, &Range<usize>, &str),
    names: &mut HashMap<&'r str, (usize, Range<usize>)>,
    devices: &[Device],
    known: Option<&KnownProfiles>,
    diags: &mut Diags<'_>,
) -> Option<Alarm> {
    let name = required(
        &a.name,
        span,
        path,
        "name",
        "every alarm needs a unique name; it names the incidents it opens",
        diags,
    )
    .filter(|n| check_name(n, &format!("{path}.name"), "alarm name", diags))
    .filter(|n| match names.get(n.get_ref().as_str()) {
        Some((j, first)) => {
            let first = diags.where_is(first.start, n.span().start, &format!("alarm[{j}]"));
            diags.at(
                n.span(),
                format!("{path}.name"),
                format!(
                    "duplicate alarm name {:?}; {first} already uses it",
                    n.get_ref()
                ),
            );
            false
        }
        None => {
            names.insert(n.get_ref(), (index, n.span()));
            true
        }
    });

    // A trap alarm's condition is the one its trap reports: no `metric`,
    // `op` or `value` of its own.
    let trap = a.trap.as_ref().map(|t| trap_kind(a, t, path, diags));
    let (op, value) = match trap {
        Some(t) => (t.map(|t| t.condition().1), t.map(|t| t.condition().2)),
        None => (
            comparison(a, span, path, diags),
            threshold(a, span, path, diags),
        ),
    };

    let severity = match &a.severity {
        None => Some(None),
        Some(s) => severity(s, &format!("{path}.severity"), diags).map(Some),
    };
    let hold = match &a.hold {
        None => Some(Duration::ZERO),
        Some(h) => duration(h, &format!("{path}.hold"), diags),
    };

    let listed = listed_devices(raw, a, path, devices, diags);
    let labels = labels(a, path, diags);

    let metric = match (&a.trap, trap) {
        (Some(t), Some(kind)) => kind.map(|k| (t, k.condition().0.to_string())),
        _ => polled_metric(a, span, path, diags),
    };
    let key = if a.trap.is_some() { "trap" } else { "metric" };

    if let (Some((m, full)), Some(known)) = (&metric, known) {
        let catalog = Catalog { known };
        let ok = check_metric(raw, a, path, (m, key), full, &catalog, devices, diags);
        if let (true, Some(labels)) = (ok, &labels) {
            check_labels(a, path, full, labels, &catalog, diags);
        }
    }

    Some(Alarm {
        name: name?.get_ref().clone(),
        metric: metric?.1,
        op: op?,
        value: value?,
        severity: severity?,
        hold: hold?,
        devices: listed?,
        labels: labels?,
        trap: trap.flatten(),
    })
}

/// `trap`: a trap alarms can be raised by; `metric`, `op` and `value` are
/// refused beside it. `None` when it is not one.
fn trap_kind(a: &RawAlarm, t: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<TrapAlarm> {
    let kind = TrapAlarm::parse(t.get_ref().trim());
    match kind {
        None => {
            let all: Vec<&str> = TrapAlarm::ALL.iter().map(|t| t.as_str()).collect();
            diags.at(
                t.span(),
                format!("{path}.trap"),
                format!(
                    "unknown trap {:?}; an alarm can be raised by: {}{}",
                    Shown(t.get_ref()),
                    all.join(", "),
                    did_you_mean(t.get_ref().trim(), &all)
                ),
            );
        }
        Some(k) => {
            let (metric, op, value) = k.condition();
            for (key, span) in [
                ("metric", a.metric.as_ref().map(|m| m.span())),
                ("op", a.op.as_ref().map(|o| o.span())),
                ("value", a.value.as_ref().map(|v| v.span())),
            ] {
                if let Some(span) = span {
                    diags.at(
                        span,
                        format!("{path}.{key}"),
                        format!(
                            "a trap alarm has no `{key}`: trap {:?} reports {metric} {} {value}, which the polls confirm or clear; remove `{key}` or `trap`",
                            k.as_str(),
                            op.as_str()
                        ),
                    );
                }
            }
        }
    }
    kind.filter(|_| a.metric.is_none() && a.op.is_none() && a.value.is_none())
}

fn comparison(
    a: &RawAlarm,
    span: &Range<usize>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<Comparison> {
    required(
        &a.op,
        span,
        path,
        "op",
        "the comparison: ==, !=, <, <=, > or >=",
        diags,
    )
    .and_then(|o| {
        let op = Comparison::parse(o.get_ref().trim());
        if op.is_none() {
            let all: Vec<&str> = Comparison::ALL.iter().map(|c| c.as_str()).collect();
            diags.at(
                o.span(),
                format!("{path}.op"),
                format!(
                    "unknown comparison {:?}; expected one of: {}",
                    Shown(o.get_ref()),
                    all.join(", ")
                ),
            );
        }
        op
    })
}

fn threshold(a: &RawAlarm, span: &Range<usize>, path: &str, diags: &mut Diags<'_>) -> Option<f64> {
    required(
        &a.value,
        span,
        path,
        "value",
        "the number the polled value is compared with",
        diags,
    )
    .and_then(|v| {
        let value = *v.get_ref();
        if value.is_finite() {
            Some(value)
        } else {
            diags.at(
                v.span(),
                format!("{path}.value"),
                format!("value must be a finite number, not {value}"),
            );
            None
        }
    })
}

/// `metric`: the polled value, with the prefix added.
fn polled_metric<'r>(
    a: &'r RawAlarm,
    span: &Range<usize>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<(&'r S<String>, String)> {
    required(
        &a.metric,
        span,
        path,
        "metric",
        "the polled value to watch, a metric of the devices' profiles (e.g. \"ups_on_battery\")",
        diags,
    )
    .and_then(|m| {
        let metric_path = format!("{path}.metric");
        if !check_text(
            m,
            &metric_path,
            "metric",
            super::super::builtin::NAME_MAX_CHARS + METRIC_PREFIX.len(),
            diags,
        ) {
            return None;
        }
        let short = m.get_ref().trim();
        let short = short.strip_prefix(METRIC_PREFIX).unwrap_or(short);
        if short.is_empty() {
            diags.at(m.span(), metric_path, "must name a metric");
            return None;
        }
        Some((m, format!("{METRIC_PREFIX}{short}")))
    })
}

/// `devices`: each a configured device polled over SNMP, no repeats.
/// `Some(empty)` when the key is left out (every device).
fn listed_devices(
    raw: &RawConfig,
    a: &RawAlarm,
    path: &str,
    devices: &[Device],
    diags: &mut Diags<'_>,
) -> Option<Vec<String>> {
    let Some(list) = &a.devices else {
        return Some(Vec::new());
    };
    if list.get_ref().is_empty() {
        diags.at(
            list.span(),
            format!("{path}.devices"),
            "must name at least one device; leave the key out to watch every device whose profiles give the metric",
        );
        return None;
    }
    let mut ok = true;
    let mut out: Vec<String> = Vec::new();
    for (k, d) in list.get_ref().iter().enumerate() {
        let item = format!("{path}.devices[{k}]");
        let name = d.get_ref();
        if out.contains(name) {
            diags.at(d.span(), item, format!("{:?} is listed twice", Shown(name)));
            ok = false;
            continue;
        }
        out.push(name.clone());
        if !raw.device_names_seen.iter().any(|n| n == name) {
            diags.at(d.span(), item, format!("no device named {:?}", Shown(name)));
            ok = false;
            continue;
        }
        if let Some(device) = devices.iter().find(|x| x.name == *name) {
            let reported =
                raw_index(raw, name).is_some_and(|i| diags.reported_under(&format!("device[{i}]")));
            if device.snmp.is_none() && !reported {
                diags.at(
                    d.span(),
                    item,
                    format!(
                        "device {:?} is not polled over SNMP (it has no `snmp`), so it has no values to watch",
                        Shown(name)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn raw_index(raw: &RawConfig, name: &str) -> Option<usize> {
    raw.devices.iter().position(|e| {
        e.value
            .as_ref()
            .and_then(|d| d.name.as_ref())
            .is_some_and(|n| n.get_ref() == name)
    })
}

/// `labels`: label name → the value a sample must have.
fn labels(a: &RawAlarm, path: &str, diags: &mut Diags<'_>) -> Option<Vec<(String, String)>> {
    let Some(table) = &a.labels else {
        return Some(Vec::new());
    };
    let mut ok = true;
    let mut out = Vec::new();
    for (key, value) in table.get_ref() {
        let p = format!("{path}.labels.{key}");
        ok &= check_text(
            value,
            &p,
            "label value",
            super::super::builtin::IF_NAME_MAX_CHARS,
            diags,
        );
        out.push((key.clone(), value.get_ref().clone()));
    }
    ok.then_some(out)
}

/// What the known profiles say about metrics.
struct Catalog<'k> {
    known: &'k KnownProfiles,
}

impl Catalog<'_> {
    /// Whether `profile` gives `metric`; `None` when its metrics are not
    /// known (it could not be read): then it may.
    fn gives(&self, profile: &str, metric: &str) -> Option<bool> {
        let metrics = self.known.metrics.get(profile)?;
        Some(metrics.iter().any(|m| m.name == metric))
    }

    /// Whether every known profile's metrics are known.
    fn complete(&self) -> bool {
        self.known
            .names
            .iter()
            .all(|n| self.known.metrics.contains_key(n))
    }

    /// The profiles that give `metric`.
    fn giving(&self, metric: &str) -> Vec<&str> {
        self.known
            .metrics
            .iter()
            .filter(|(_, ms)| ms.iter().any(|m| m.name == metric))
            .map(|(p, _)| p.as_str())
            .collect()
    }

    /// Whether one of `device`'s profiles gives (or may give) `metric`.
    fn device_gives(&self, device: &Device, metric: &str) -> bool {
        device
            .snmp
            .iter()
            .flat_map(|s| &s.profiles)
            .any(|p| self.gives(p, metric) != Some(false))
    }

    /// Every label of `metric` in the profiles that give it.
    fn labels_of(&self, metric: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in self.known.metrics.values().flatten() {
            if m.name == metric {
                for l in &m.labels {
                    if !out.contains(&l.as_str()) {
                        out.push(l);
                    }
                }
            }
        }
        out
    }

    fn all_metrics(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .known
            .metrics
            .values()
            .flatten()
            .map(|m| m.name.strip_prefix(METRIC_PREFIX).unwrap_or(&m.name))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The metric must come from a profile of the devices the alarm watches:
/// reported at the metric when no profile gives it at all, or when it
/// watches every device and none polls such a profile; at a listed device
/// that polls none. Returns whether it is known.
#[allow(clippy::too_many_arguments)]
fn check_metric(
    raw: &RawConfig,
    a: &RawAlarm,
    path: &str,
    (m, key): (&S<String>, &str),
    full: &str,
    catalog: &Catalog<'_>,
    devices: &[Device],
    diags: &mut Diags<'_>,
) -> bool {
    let metric_path = format!("{path}.{key}");
    let short = full.strip_prefix(METRIC_PREFIX).unwrap_or(full);
    let giving = catalog.giving(full);
    if giving.is_empty() {
        if catalog.complete() {
            diags.at(
                m.span(),
                metric_path,
                format!(
                    "unknown metric {:?}: no profile gives it{}",
                    Shown(m.get_ref()),
                    did_you_mean(short, &catalog.all_metrics())
                ),
            );
        }
        return false;
    }
    let profiles_giving = giving.join(", ");
    match a.devices.as_ref().map(|l| l.get_ref()) {
        Some(list) => {
            for (k, d) in list.iter().enumerate() {
                let Some(device) = devices.iter().find(|x| x.name == *d.get_ref()) else {
                    continue;
                };
                let Some(snmp) = &device.snmp else { continue };
                if catalog.device_gives(device, full) {
                    continue;
                }
                diags.at(
                    d.span(),
                    format!("{path}.devices[{k}]"),
                    format!(
                        "device {:?} polls no profile that gives {short} (it polls {}; {short} comes from {profiles_giving})",
                        Shown(d.get_ref()),
                        snmp.profiles.join(", ")
                    ),
                );
            }
        }
        None => {
            // A device with mistakes of its own may be missing here: no
            // verdict on top of those.
            let incomplete = devices.len() < raw.devices.len()
                || diags.reported_under("device")
                || diags.reported_under("defaults");
            if !incomplete && !devices.iter().any(|d| catalog.device_gives(d, full)) {
                diags.at(
                    m.span(),
                    metric_path,
                    format!(
                        "no device polls a profile that gives {short} ({profiles_giving} give it): add one to a device's snmp.profiles"
                    ),
                );
            }
        }
    }
    true
}

/// Each label must be one the metric's samples carry.
fn check_labels(
    a: &RawAlarm,
    path: &str,
    full: &str,
    labels: &[(String, String)],
    catalog: &Catalog<'_>,
    diags: &mut Diags<'_>,
) {
    let Some(table) = &a.labels else { return };
    if !catalog.complete() {
        return;
    }
    let known = catalog.labels_of(full);
    let short = full.strip_prefix(METRIC_PREFIX).unwrap_or(full);
    for (key, _) in labels {
        if known.contains(&key.as_str()) {
            continue;
        }
        let span = table.get_ref().get(key).map_or(table.span(), |v| v.span());
        let message = if known.is_empty() {
            format!("{short} has no labels to match; remove `labels`")
        } else {
            format!(
                "{short} has no label {:?}; its labels: {}{}",
                Shown(key),
                known.join(", "),
                did_you_mean(key, &known)
            )
        };
        diags.at(span, format!("{path}.labels.{key}"), message);
    }
}
