//! Reading a profile file: the TOML tree walked by hand, so that every
//! unknown key, wrong type and bad value of every metric is reported in one
//! run, each at its own line and column (`netkpi check` prints them all).
//!
//! This file has the profile's grammar (metrics, indexes, lookups, filters,
//! scales); `values.rs` the reading of one value (a table, list, string, OID,
//! number or label) that every part of it uses.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::{
    Family, Filter, Index, IndexKind, Lookup, Metric, Profile, Ratio, SampleKind, METRIC_PREFIX,
};
use crate::diag::{path_at, Diagnostic, Diags};
use crate::energy::EnergySpec;
use crate::probes::snmp::Oid;

mod values;

use values::{is_snake, Reader, Val};

const TOP_KEYS: &[&str] = &["description", "energy", "metric"];
const ENERGY_KEYS: &[&str] = &["power", "voltage", "current"];
const METRIC_KEYS: &[&str] = &[
    "name",
    "oid",
    "type",
    "help",
    "indexes",
    "lookups",
    "values",
    "default",
    "skip_values",
    "scale",
    "precision_oid",
    "si_prefix_oid",
    "filter",
    "value_label",
];
const INDEX_KEYS: &[&str] = &["label", "type"];
const INDEX_TYPES: &[&str] = &["integer", "string", "implied_string", "ipv4", "oid"];
const LOOKUP_KEYS: &[&str] = &[
    "label",
    "oid",
    "using",
    "names",
    "fallback",
    "fallback_index",
];
const FILTER_KEYS: &[&str] = &["oid", "values"];

pub(super) fn parse(path: &Path, text: &str) -> Result<Profile, Vec<Diagnostic>> {
    let mut diags = Diags::new(path, text);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        diags.at(
            0..0,
            "-",
            format!(
                "the profile's name is its file name, and {name:?} is not usable: \
                 use letters, digits, `_` and `-`"
            ),
        );
    }

    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            diags.at(
                span.clone(),
                path_at(text, span.start),
                format!("TOML syntax error: {}", e.message().trim()),
            );
        }
        diags.sort_from(0);
        return Err(diags.into_vec());
    }

    let mut r = Reader { diags: &mut diags };
    let root_span = root.span();
    let root = root.into_inner();
    r.known_keys(&root, "", TOP_KEYS);
    let description = root
        .get("description")
        .and_then(|v| r.string(v, "description"))
        .unwrap_or_default();
    let mut metrics: Vec<(Metric, Range<usize>)> = Vec::new();
    match root.get("metric") {
        None => r.at(
            root_span.start..root_span.start,
            "metric",
            "a profile needs at least one [[metric]]",
        ),
        Some(v) => match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("metric[{i}]");
                    if let Some(m) = r.metric(item, &path) {
                        metrics.push((m, item.span()));
                    }
                }
            }
            other => r.at(
                v.span(),
                "metric",
                format!(
                    "expected [[metric]] tables (double brackets), found {}",
                    other.type_str()
                ),
            ),
        },
    }

    // One name, one meaning: the same metric may be read from two places
    // (an old and a new vendor subtree) but must then agree on what it is.
    let mut first: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, (m, span)) in metrics.iter().enumerate() {
        match first.get(m.family.name.as_str()) {
            None => {
                first.insert(&m.family.name, (i, span.start));
            }
            Some(&(j, at)) => {
                let o = &metrics[j].0;
                if o.family.kind != m.family.kind
                    || o.family.help != m.family.help
                    || label_names(o) != label_names(m)
                {
                    let line = r.diags.line_of(at);
                    r.at(
                        span.clone(),
                        format!("metric[{i}].name"),
                        format!(
                            "`{}` is also defined at line {line} with a different type, \
                             help or labels; one name must mean one thing",
                            m.family.name.trim_start_matches(METRIC_PREFIX)
                        ),
                    );
                }
            }
        }
    }

    let energy = root.get("energy").and_then(|v| r.energy(v, &metrics));

    if !diags.is_empty() {
        diags.sort_from(0);
        return Err(diags.into_vec());
    }
    Ok(Profile {
        name,
        description,
        metrics: metrics.into_iter().map(|(m, _)| m).collect(),
        energy,
    })
}

fn label_names(m: &Metric) -> Vec<&str> {
    m.indexes
        .iter()
        .map(|i| &*i.label)
        .chain(m.value_label.as_deref())
        .chain(m.lookups.iter().map(|l| &*l.label))
        .collect()
}

impl Reader<'_, '_> {
    /// `[energy]`: which gauges of this profile are the output power, or
    /// the output voltage and current (see [`crate::energy`]).
    fn energy(&mut self, v: &Val<'_>, metrics: &[(Metric, Range<usize>)]) -> Option<EnergySpec> {
        let t = self.table(v, "energy")?;
        self.known_keys(t, "energy", ENERGY_KEYS);
        // Outer None: refused (reported); inner None: not given.
        let mut named = |key: &str| -> Option<Option<String>> {
            let Some(value) = t.get(key) else {
                return Some(None);
            };
            let path = format!("energy.{key}");
            let short = self.string(value, &path)?;
            let full = format!("{METRIC_PREFIX}{short}");
            match metrics.iter().find(|(m, _)| m.family.name == full) {
                Some((m, _)) if m.family.kind == SampleKind::Gauge => Some(Some(full)),
                Some((m, _)) => {
                    self.at(
                        value.span(),
                        path,
                        format!(
                            "`{short}` is a {}; the {key} must be a gauge",
                            m.family.kind.as_str()
                        ),
                    );
                    None
                }
                None => {
                    self.at(
                        value.span(),
                        path,
                        format!("no [[metric]] of this profile is named `{short}`"),
                    );
                    None
                }
            }
        };
        let (power, voltage, current) = (named("power"), named("voltage"), named("current"));
        let (power, voltage, current) = (power?, voltage?, current?);
        let volt_amps = match (voltage, current) {
            (Some(v), Some(c)) => Some((v, c)),
            (None, None) => None,
            _ => {
                self.at(
                    v.span(),
                    "energy",
                    "`voltage` and `current` go together: apparent power is their product",
                );
                return None;
            }
        };
        if power.is_none() && volt_amps.is_none() {
            self.at(
                v.span(),
                "energy",
                "name the output power (`power`), or the output `voltage` and `current`",
            );
            return None;
        }
        Some(EnergySpec { power, volt_amps })
    }

    fn metric(&mut self, item: &Val<'_>, path: &str) -> Option<Metric> {
        let t = self.table(item, path)?;
        let span = item.span();
        self.known_keys(t, path, METRIC_KEYS);
        let mut ok = true;

        let kind = self.required(t, "type", path, &span).and_then(|v| {
            let p = Self::join(path, "type");
            let s = self.string(v, &p)?;
            let kind = match s.as_str() {
                "gauge" => Some(SampleKind::Gauge),
                "counter" => Some(SampleKind::Counter),
                "info" => Some(SampleKind::Info),
                _ => None,
            };
            if kind.is_none() {
                self.at(
                    v.span(),
                    p,
                    format!("unknown type {s:?}; expected one of: gauge, counter, info"),
                );
            }
            kind
        });

        let name = self.required(t, "name", path, &span).and_then(|v| {
            let p = Self::join(path, "name");
            let s = self.string(v, &p)?;
            match check_name(&s, kind) {
                Ok(()) => Some(s),
                Err(msg) => {
                    self.at(v.span(), p, msg);
                    None
                }
            }
        });
        let oid = self
            .required(t, "oid", path, &span)
            .and_then(|v| self.oid(v, &Self::join(path, "oid")));
        let help = self.required(t, "help", path, &span).and_then(|v| {
            let p = Self::join(path, "help");
            let s = self.string(v, &p)?;
            if s.trim().is_empty() {
                self.at(v.span(), p, "help must say what the number means");
                return None;
            }
            Some(s)
        });

        let mut indexes = Vec::new();
        if let Some(v) = t.get("indexes") {
            let p = Self::join(path, "indexes");
            if let Some(items) = self.array(v, &p) {
                let n = items.len();
                for (i, item) in items.iter().enumerate() {
                    match self.index(item, &format!("{p}[{i}]"), i + 1 == n) {
                        Some(ix) => indexes.push(ix),
                        None => ok = false,
                    }
                }
            }
        }
        let index_labels: Vec<String> = indexes.iter().map(|i| i.label.to_string()).collect();

        let mut lookups = Vec::new();
        if let Some(v) = t.get("lookups") {
            let p = Self::join(path, "lookups");
            if let Some(items) = self.array(v, &p) {
                for (i, item) in items.iter().enumerate() {
                    match self.lookup(item, &format!("{p}[{i}]"), &index_labels) {
                        Some(l) => lookups.push(l),
                        None => ok = false,
                    }
                }
            }
        }

        let mut values = BTreeMap::new();
        if let Some(v) = t.get("values") {
            let p = Self::join(path, "values");
            if let Some(table) = self.table(v, &p) {
                for (key, val) in table.iter() {
                    let k: &str = key.get_ref();
                    let kp = format!("{p}.{k}");
                    let Ok(from) = k.parse::<i64>() else {
                        self.at(
                            key.span(),
                            kp,
                            format!(
                                "{k:?} is not a device value; keys are the numbers the \
                                 device sends, e.g. {{ 1 = 1 }} for up(1)"
                            ),
                        );
                        continue;
                    };
                    if let Some(to) = self.number(val, &kp) {
                        values.insert(from, to);
                    }
                }
            }
        }
        let default = t
            .get("default")
            .and_then(|v| self.number(v, &Self::join(path, "default")));
        let mut skip_values = Vec::new();
        if let Some(v) = t.get("skip_values") {
            let p = Self::join(path, "skip_values");
            if let Some(items) = self.array(v, &p) {
                for (i, item) in items.iter().enumerate() {
                    skip_values.extend(self.integer(item, &format!("{p}[{i}]")));
                }
            }
        }
        let scale = match t.get("scale") {
            None => Some(Ratio::ONE),
            Some(v) => self.scale(v, &Self::join(path, "scale")),
        };
        let precision_oid = t
            .get("precision_oid")
            .map(|v| self.oid(v, &Self::join(path, "precision_oid")));
        let si_prefix_oid = t
            .get("si_prefix_oid")
            .map(|v| self.oid(v, &Self::join(path, "si_prefix_oid")));
        // One `{ oid, values }` table, or a list of them (all must match).
        let mut filters = Vec::new();
        if let Some(v) = t.get("filter") {
            let p = Self::join(path, "filter");
            match v.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        match self.filter(item, &format!("{p}[{i}]")) {
                            Some(f) => filters.push(f),
                            None => ok = false,
                        }
                    }
                }
                _ => match self.filter(v, &p) {
                    Some(f) => filters.push(f),
                    None => ok = false,
                },
            }
        }
        let value_label = t
            .get("value_label")
            .map(|v| self.label(v, &Self::join(path, "value_label")));

        // What each type can use: a counter is the device's own count, an
        // info metric's number is always 1.
        if let Some(kind) = kind {
            let not_for = |key: &str| -> Option<&'static str> {
                match (kind, key) {
                    (SampleKind::Counter, "values" | "default") => {
                        Some("a counter is exported as the device counts it")
                    }
                    (SampleKind::Info, "values" | "default" | "skip_values" | "scale")
                    | (SampleKind::Info, "precision_oid" | "si_prefix_oid") => {
                        Some("an info metric's value is always 1; the information is in labels")
                    }
                    (SampleKind::Gauge | SampleKind::Counter, "value_label") => {
                        Some("only an info metric carries its value in a label")
                    }
                    _ => None,
                }
            };
            for (key, _) in t.iter() {
                let k: &str = key.get_ref();
                if let Some(why) = not_for(k) {
                    self.at(
                        key.span(),
                        Self::join(path, k),
                        format!("`{k}` does not apply to a {}: {why}", kind.as_str()),
                    );
                    ok = false;
                }
            }
            if kind != SampleKind::Info && default.is_some() && values.is_empty() {
                if let Some((key, _)) = t.get_key_value("default") {
                    self.at(
                        key.span(),
                        Self::join(path, "default"),
                        "`default` needs `values`: it is what a device value not listed there becomes",
                    );
                    ok = false;
                }
            }
        }

        // Every label once: Prometheus refuses a sample with a label twice.
        let mut seen: Vec<&str> = Vec::new();
        let all = index_labels
            .iter()
            .map(String::as_str)
            .chain(value_label.iter().flatten().map(String::as_str))
            .chain(lookups.iter().map(|l| &*l.label));
        for label in all {
            if seen.contains(&label) {
                self.at(
                    span.start..span.start,
                    format!("{path}.labels"),
                    format!("label `{label}` is given twice (indexes, value_label and lookups share one set)"),
                );
                ok = false;
            }
            seen.push(label);
        }

        let value_label = match value_label {
            Some(Some(l)) => Some(l),
            Some(None) => return None,
            None => None,
        };
        let flat = |o: Option<Option<Oid>>| -> Result<Option<Oid>, ()> {
            match o {
                Some(Some(oid)) => Ok(Some(oid)),
                Some(None) => Err(()),
                None => Ok(None),
            }
        };
        let (Ok(precision_oid), Ok(si_prefix_oid)) = (flat(precision_oid), flat(si_prefix_oid))
        else {
            return None;
        };
        if !ok {
            return None;
        }
        Some(Metric {
            family: Arc::new(Family {
                name: format!("{METRIC_PREFIX}{}", name?),
                kind: kind?,
                help: help?,
            }),
            oid: oid?,
            indexes,
            lookups,
            values,
            default,
            skip_values,
            scale: scale?,
            precision_oid,
            si_prefix_oid,
            filters,
            value_label: value_label.map(Arc::from),
        })
    }

    fn index(&mut self, item: &Val<'_>, path: &str, last: bool) -> Option<Index> {
        let t = self.table(item, path)?;
        let span = item.span();
        self.known_keys(t, path, INDEX_KEYS);
        let label = self
            .required(t, "label", path, &span)
            .and_then(|v| self.label(v, &Self::join(path, "label")));
        let kind = self.required(t, "type", path, &span).and_then(|v| {
            let p = Self::join(path, "type");
            let s = self.string(v, &p)?;
            let kind = match s.as_str() {
                "integer" => IndexKind::Integer,
                "string" => IndexKind::String,
                "implied_string" => IndexKind::ImpliedString,
                "ipv4" => IndexKind::Ipv4,
                "oid" => IndexKind::Oid,
                _ => {
                    self.at(
                        v.span(),
                        p,
                        format!(
                            "unknown index type {s:?}; expected one of: {}",
                            INDEX_TYPES.join(", ")
                        ),
                    );
                    return None;
                }
            };
            if !last && matches!(kind, IndexKind::ImpliedString | IndexKind::Oid) {
                self.at(
                    v.span(),
                    p,
                    format!("an index of type {s:?} takes every remaining arc, so it must be last"),
                );
                return None;
            }
            Some(kind)
        });
        Some(Index {
            label: label?.into(),
            kind: kind?,
        })
    }

    fn lookup(&mut self, item: &Val<'_>, path: &str, index_labels: &[String]) -> Option<Lookup> {
        let t = self.table(item, path)?;
        let span = item.span();
        self.known_keys(t, path, LOOKUP_KEYS);
        let label = self
            .required(t, "label", path, &span)
            .and_then(|v| self.label(v, &Self::join(path, "label")));
        let oid = self
            .required(t, "oid", path, &span)
            .and_then(|v| self.oid(v, &Self::join(path, "oid")));
        let mut ok = true;
        let using = match t.get("using") {
            None => None,
            Some(v) => {
                let p = Self::join(path, "using");
                let mut positions = Vec::new();
                for (i, item) in self.array(v, &p).unwrap_or(&[]).iter().enumerate() {
                    let ip = format!("{p}[{i}]");
                    let Some(name) = self.string(item, &ip) else {
                        ok = false;
                        continue;
                    };
                    match index_labels.iter().position(|l| *l == name) {
                        Some(pos) => positions.push(pos),
                        None => {
                            let have = if index_labels.is_empty() {
                                "it has none: a scalar".to_string()
                            } else {
                                format!("it has: {}", index_labels.join(", "))
                            };
                            self.at(
                                item.span(),
                                ip,
                                format!(
                                    "the lookup points nowhere: `{name}` is not an index label \
                                     of this metric ({have})"
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                if positions.is_empty() && ok {
                    self.at(v.span(), p, "`using` needs at least one index label");
                    ok = false;
                }
                Some(positions)
            }
        };
        let mut names = BTreeMap::new();
        if let Some(v) = t.get("names") {
            let p = Self::join(path, "names");
            if let Some(table) = self.table(v, &p) {
                for (key, val) in table.iter() {
                    let k: &str = key.get_ref();
                    if let Some(s) = self.string(val, &format!("{p}.{k}")) {
                        names.insert(k.to_string(), s);
                    }
                }
            }
        }
        let mut fallback = Vec::new();
        if let Some(v) = t.get("fallback") {
            let p = Self::join(path, "fallback");
            if let Some(items) = self.array(v, &p) {
                if items.is_empty() {
                    self.at(v.span(), &p, "`fallback` needs at least one OID");
                    ok = false;
                }
                for (i, item) in items.iter().enumerate() {
                    match self.oid(item, &format!("{p}[{i}]")) {
                        Some(oid) => fallback.push(oid),
                        None => ok = false,
                    }
                }
            } else {
                ok = false;
            }
        }
        let fallback_index = match t.get("fallback_index") {
            None => None,
            Some(v) => {
                let p = Self::join(path, "fallback_index");
                match self.string(v, &p) {
                    Some(name) => match index_labels.iter().position(|l| *l == name) {
                        Some(pos) => Some(pos),
                        None => {
                            let have = if index_labels.is_empty() {
                                "it has none: a scalar".to_string()
                            } else {
                                format!("it has: {}", index_labels.join(", "))
                            };
                            self.at(
                                v.span(),
                                p,
                                format!("`{name}` is not an index label of this metric ({have})"),
                            );
                            ok = false;
                            None
                        }
                    },
                    None => {
                        ok = false;
                        None
                    }
                }
            }
        };
        if !ok {
            return None;
        }
        Some(Lookup {
            label: label?.into(),
            oid: oid?,
            using,
            names,
            fallback,
            fallback_index,
        })
    }

    fn filter(&mut self, v: &Val<'_>, path: &str) -> Option<Filter> {
        let t = self.table(v, path)?;
        let span = v.span();
        self.known_keys(t, path, FILTER_KEYS);
        let oid = self
            .required(t, "oid", path, &span)
            .and_then(|v| self.oid(v, &Self::join(path, "oid")));
        let values = self.required(t, "values", path, &span).and_then(|v| {
            let p = Self::join(path, "values");
            let items = self.array(v, &p)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.push(self.integer(item, &format!("{p}[{i}]"))?);
            }
            Some(out)
        });
        Some(Filter {
            oid: oid?,
            values: values?,
        })
    }

    /// A number (`0.1`, kept as 1/10) or a fraction in a string (`"1/6000"`).
    fn scale(&mut self, v: &Val<'_>, path: &str) -> Option<Ratio> {
        let ratio = match v.get_ref() {
            DeValue::String(s) => s.split_once('/').and_then(|(n, d)| {
                let (n, d) = (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?);
                Some(Ratio { num: n, den: d })
            }),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| Ratio {
                    num: n as f64,
                    den: 1.0,
                }),
            DeValue::Float(f) => decimal_ratio(&f.as_str().replace('_', "")),
            _ => None,
        };
        match ratio {
            Some(r) if r.num.is_finite() && r.den.is_finite() && r.num != 0.0 && r.den != 0.0 => {
                Some(r)
            }
            _ => {
                self.at(
                    v.span(),
                    path,
                    "expected a non-zero number (e.g. 0.1) or a fraction in quotes (e.g. \"1/6000\")",
                );
                None
            }
        }
    }
}

/// `0.125` → 125/1000, exactly as written; other forms (`1e-3`) as a plain
/// multiplier.
fn decimal_ratio(s: &str) -> Option<Ratio> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Some((int, frac)) = body.split_once('.') {
        if !int.is_empty()
            && int.chars().all(|c| c.is_ascii_digit())
            && frac.chars().all(|c| c.is_ascii_digit())
            && frac.len() <= 15
        {
            let num: f64 = format!("{int}{frac}").parse().ok()?;
            return Some(Ratio {
                num: sign * num,
                den: 10f64.powi(frac.len() as i32),
            });
        }
    }
    s.parse::<f64>().ok().map(|n| Ratio { num: n, den: 1.0 })
}

/// Prometheus naming (promtool `check metrics`): snake_case, counters end in
/// `_total` and nothing else does, info metrics end in `_info`.
fn check_name(name: &str, kind: Option<SampleKind>) -> Result<(), String> {
    if let Some(rest) = name.strip_prefix(METRIC_PREFIX) {
        return Err(format!(
            "write the name without the `{METRIC_PREFIX}` prefix (`{rest}`); netkpi adds it"
        ));
    }
    if !is_snake(name) {
        return Err(format!(
            "metric name {name:?} is not snake_case (lower-case letters, digits and `_`, \
             starting with a letter)"
        ));
    }
    match kind {
        Some(SampleKind::Counter) if !name.ends_with("_total") => Err(format!(
            "a counter's name must end in `_total` (`{name}_total`)"
        )),
        Some(SampleKind::Gauge | SampleKind::Info) if name.ends_with("_total") => Err(format!(
            "only counters end in `_total`; `{name}` is a {}",
            kind.map_or("", |k| k.as_str())
        )),
        Some(SampleKind::Info) if !name.ends_with("_info") => Err(format!(
            "an info metric's name must end in `_info` (`{name}_info`)"
        )),
        _ => Ok(()),
    }
}
