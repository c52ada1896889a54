//! Profiles: which OIDs to poll and how their values become samples.
//!
//! Device knowledge is data (STYLE habit 3): a profile is a TOML file in
//! `config/profiles/` (shipped, embedded in the binary) or in a user's
//! directory, named by its file stem. The format, shaped after
//! prometheus/snmp_exporter's generator `Metric`, is documented in
//! `config/profiles/README.md` and in the header of every shipped file:
//!
//! ```toml
//! [[metric]]
//! name    = "if_oper_up"                 # exported as netkpi_if_oper_up
//! oid     = "1.3.6.1.2.1.2.2.1.8"        # IF-MIB::ifOperStatus
//! type    = "gauge"                      # gauge | counter | info
//! help    = "1 when the interface is up(1), else 0."
//! indexes = [{ label = "if_index", type = "integer" }]   # none: a scalar (.0)
//! lookups = [{ label = "if_name", oid = "1.3.6.1.2.1.31.1.1.1.1" }]
//! values  = { 1 = 1 }                    # device value → exported value
//! default = 0                            # for every other device value
//! ```
//!
//! A UPS profile may also say which of its metrics is the output power
//! (`[energy]`, an [`EnergySpec`]), which [`crate::energy`] meters.
//!
//! [`Profile::requests`] says what one poll must fetch; [`Profile::evaluate`]
//! turns what came back into [`Sample`]s. Both are pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::client::Request;
use super::{Oid, Value, Varbind};
use crate::config::builtin::BUILTIN_PROFILES;
use crate::diag::Diagnostic;
use crate::energy::EnergySpec;

mod intern;
mod parse;
mod samples;

pub use samples::{SampleRef, Samples, Shape};

#[cfg(test)]
pub(crate) mod golden;
#[cfg(test)]
mod tests;

/// Which columns of a profile: see [`Profile::columns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Values,
    Lookups,
}

/// Requests for a set of table columns (walked) and scalar instances (one
/// GET): a column inside another walked subtree is not walked again, and a
/// scalar inside a walked subtree is not fetched again.
pub fn plan(walks: BTreeSet<Oid>, gets: BTreeSet<Oid>) -> Vec<Request> {
    let mut roots: Vec<Oid> = Vec::new();
    for oid in walks {
        // BTreeSet order puts a subtree's root before everything under it.
        if !roots.last().is_some_and(|r| oid.starts_with(r)) {
            roots.push(oid);
        }
    }
    let gets: Vec<Oid> = gets
        .into_iter()
        .filter(|g| !roots.iter().any(|r| g.starts_with(r)))
        .collect();
    let mut out: Vec<Request> = roots.into_iter().map(Request::Walk).collect();
    if !gets.is_empty() {
        out.push(Request::Get(gets));
    }
    out
}

pub use crate::config::builtin::METRIC_PREFIX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleKind {
    Gauge,
    /// The device's raw counter value; Prometheus `rate()` handles wraps and
    /// resets, and [`counter_delta`] does where netkpi computes a difference.
    Counter,
    /// Value 1; the information is in the labels.
    Info,
}

impl SampleKind {
    /// The `# TYPE` a scrape shows: the Prometheus text format 0.0.4 has no
    /// info type, so an info metric is a gauge of value 1 there.
    pub fn exposition_type(self) -> &'static str {
        match self {
            SampleKind::Counter => "counter",
            SampleKind::Gauge | SampleKind::Info => "gauge",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SampleKind::Gauge => "gauge",
            SampleKind::Counter => "counter",
            SampleKind::Info => "info",
        }
    }
}

/// What a metric is: its name, type and help, shared by the metric's
/// definition and every sample of it.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    /// Full name, with [`METRIC_PREFIX`], e.g. `netkpi_if_in_octets_total`.
    pub name: String,
    pub kind: SampleKind,
    pub help: String,
}

/// A sample's labels, in order: names (shared with the profile's
/// definition) and values. Metrics of one row with the same index and lookup
/// labels share one set.
pub type Labels = Arc<[(Arc<str>, Arc<str>)]>;

/// One value a poll read, as [`Profile::evaluate`] gives it: the metric's
/// name, type and help are shared with its definition, the labels with the
/// other metrics of the row. What a device keeps of its round is packed
/// ([`Samples`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub family: Arc<Family>,
    pub labels: Labels,
    pub value: f64,
}

impl Sample {
    /// Full name, e.g. `netkpi_if_in_octets_total`.
    pub fn name(&self) -> &str {
        &self.family.name
    }

    pub fn kind(&self) -> SampleKind {
        self.family.kind
    }

    pub fn help(&self) -> &str {
        &self.family.help
    }

    /// The value of the label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub(crate) metrics: Vec<Metric>,
    /// Which metrics give the device's output power (`[energy]`), metered
    /// into kWh by [`crate::energy`].
    pub energy: Option<EnergySpec>,
}

#[derive(Clone, Debug)]
pub(crate) struct Metric {
    /// Name, type and help.
    pub family: Arc<Family>,
    pub oid: Oid,
    /// Empty for a scalar, whose only instance is `oid.0`.
    pub indexes: Vec<Index>,
    pub lookups: Vec<Lookup>,
    /// Device value → exported value (enumerations).
    pub values: BTreeMap<i64, f64>,
    /// Exported for device values not in `values`; without it they are skipped.
    pub default: Option<f64>,
    /// Device values meaning "not available" (many agents answer -1): no sample.
    pub skip_values: Vec<i64>,
    pub scale: Ratio,
    /// A column of the same row holding decimal places (ENTITY-SENSOR
    /// entPhySensorPrecision, RFC 3433): the value is divided by 10^p.
    pub precision_oid: Option<Oid>,
    /// A column of the same row holding an ENTITY-SENSOR `SensorDataScale`
    /// (RFC 3433: yocto(1) .. units(9) .. yotta(17)).
    pub si_prefix_oid: Option<Oid>,
    /// Only rows where each filter's column holds one of its `values`.
    pub filters: Vec<Filter>,
    /// Info metrics: the label that carries the polled value as text.
    pub value_label: Option<Arc<str>>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Index {
    pub label: Arc<str>,
    pub kind: IndexKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IndexKind {
    /// One arc (INTEGER, Unsigned32 indexes such as ifIndex).
    Integer,
    /// A length arc then that many character arcs (OCTET STRING index).
    String,
    /// The remaining arcs as characters (IMPLIED OCTET STRING); last only.
    ImpliedString,
    /// Four arcs, printed dotted (IpAddress index).
    Ipv4,
    /// The remaining arcs, printed dotted (several indexes read as one); last only.
    Oid,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Lookup {
    pub label: Arc<str>,
    /// The column whose cell at this row's index gives the label's value.
    pub oid: Oid,
    /// Which index labels form the lookup row's index (default: all, i.e. the
    /// same row of the same or a sibling table).
    pub using: Option<Vec<usize>>,
    /// Device text → label text (e.g. ENTITY-SENSOR type 8 → "celsius").
    pub names: BTreeMap<String, String>,
    /// Columns read in order, at the same row index, when `oid` has no
    /// answer or a blank one (ifDescr for ifName: many routers have ifTable
    /// but no ifXTable).
    pub fallback: Vec<Oid>,
    /// When every column is blank, the text of this index label (a position
    /// in the metric's indexes), so the label is never empty.
    pub fallback_index: Option<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub oid: Oid,
    pub values: Vec<i64>,
}

/// A multiplier kept as a fraction, so `0.1` or `"1/6000"` scale without
/// binary rounding noise (235 × 0.1 is 23.500000000000004; 235 ÷ 10 is 23.5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Ratio {
    pub num: f64,
    pub den: f64,
}

impl Ratio {
    pub const ONE: Ratio = Ratio { num: 1.0, den: 1.0 };

    fn apply(self, v: f64) -> f64 {
        v * self.num / self.den
    }
}

impl Profile {
    /// Reads one profile; its name is the file stem. Every problem is
    /// reported at once, with its line and column.
    pub fn parse(path: &Path, text: &str) -> Result<Profile, Vec<Diagnostic>> {
        parse::parse(path, text)
    }

    /// The subtrees to walk and scalars to GET for one poll: each column once
    /// however many metrics or lookups read it, nothing under a subtree that
    /// is walked anyway, walks first (in OID order), then one GET.
    pub fn requests(&self) -> Vec<Request> {
        let (mut walks, mut gets) = self.columns(Part::Values);
        let (lookup_walks, lookup_gets) = self.columns(Part::Lookups);
        walks.extend(lookup_walks);
        gets.extend(lookup_gets);
        plan(walks, gets)
    }

    /// The columns of one part of the profile: `Values` are what changes
    /// from poll to poll (the metrics and their filters); `Lookups` describe
    /// rows and rarely change (names, aliases, sensor precision), so a poller
    /// may read them less often ([`plan`] turns columns into requests).
    pub fn columns(&self, part: Part) -> (BTreeSet<Oid>, BTreeSet<Oid>) {
        let mut walks = BTreeSet::new();
        let mut gets = BTreeSet::new();
        for m in &self.metrics {
            let columns: Vec<&Oid> = match part {
                Part::Values => std::iter::once(&m.oid)
                    .chain(m.filters.iter().map(|f| &f.oid))
                    .collect(),
                Part::Lookups => m
                    .lookups
                    .iter()
                    .flat_map(|l| std::iter::once(&l.oid).chain(&l.fallback))
                    .chain(m.precision_oid.iter())
                    .chain(m.si_prefix_oid.iter())
                    .collect(),
            };
            for oid in columns {
                if m.indexes.is_empty() {
                    gets.insert(oid.child(0));
                } else {
                    walks.insert(oid.clone());
                }
            }
        }
        (walks, gets)
    }

    /// The samples in one poll's answers. Pure: exceptions (noSuchObject …)
    /// and values that do not fit the metric are skipped, a lookup with no
    /// answer (in its column, its fallbacks or its fallback index) gives an
    /// empty label, counters pass through as the device counted them.
    pub fn evaluate(&self, varbinds: &[Varbind]) -> Vec<Sample> {
        let cells: BTreeMap<&Oid, &Value> = varbinds
            .iter()
            .filter(|vb| !vb.value.is_exception())
            .map(|vb| (&vb.oid, &vb.value))
            .collect();
        // Metrics with the same index and lookup labels label a row alike:
        // its label set is built once and shared (`groups[i]` is the first
        // metric labelled like metric i).
        let groups: Vec<usize> = self
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                self.metrics[..i]
                    .iter()
                    .position(|o| o.indexes == m.indexes && o.lookups == m.lookups)
                    .unwrap_or(i)
            })
            .collect();
        let mut rows: RowLabels<'_> = HashMap::new();
        let mut out = Vec::new();
        for (m, &group) in self.metrics.iter().zip(&groups) {
            if m.indexes.is_empty() {
                let instance = m.oid.child(0);
                if let Some(v) = cells.get(&instance) {
                    m.sample(&[0], &[], v, &cells, (group, &mut rows), &mut out);
                }
                continue;
            }
            for (oid, v) in cells.range::<&Oid, _>(&m.oid..) {
                let Some(index) = oid.suffix(&m.oid) else {
                    break;
                };
                if let Some(parts) = decode_index(&m.indexes, index) {
                    m.sample(index, &parts, v, &cells, (group, &mut rows), &mut out);
                }
            }
        }
        out
    }

    /// Each metric this profile exports with the labels its samples carry
    /// (index, lookup and value labels), for checking alarms against.
    pub fn metric_labels(&self) -> Vec<(&str, Vec<&str>)> {
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for m in &self.metrics {
            let labels = seen.entry(m.family.name.as_str()).or_default();
            let own = m
                .indexes
                .iter()
                .map(|i| &*i.label)
                .chain(m.lookups.iter().map(|l| &*l.label))
                .chain(m.value_label.as_deref());
            for label in own {
                if !labels.contains(&label) {
                    labels.push(label);
                }
            }
        }
        seen.into_iter().collect()
    }

    /// The names and types of the metrics this profile exports, for
    /// registration before the first poll.
    pub fn metric_names(&self) -> Vec<(&str, SampleKind)> {
        let mut seen = BTreeMap::new();
        for m in &self.metrics {
            seen.entry(m.family.name.as_str()).or_insert(m.family.kind);
        }
        seen.into_iter().collect()
    }
}

type Cells<'a> = BTreeMap<&'a Oid, &'a Value>;

/// The label sets built during one evaluation, by label group and row index.
type RowLabels<'a> = HashMap<(usize, &'a [u32]), Labels>;

/// A label value; the empty one (a lookup without answer, an empty ifAlias)
/// is one shared allocation.
fn label_text(text: String) -> Arc<str> {
    static EMPTY: OnceLock<Arc<str>> = OnceLock::new();
    if text.is_empty() {
        EMPTY.get_or_init(|| Arc::from("")).clone()
    } else {
        Arc::from(text)
    }
}

/// One index label's arcs and its text.
struct IndexPart {
    arcs: std::ops::Range<usize>,
    text: String,
}

impl Metric {
    fn sample<'a>(
        &self,
        index: &'a [u32],
        parts: &[IndexPart],
        value: &Value,
        cells: &Cells<'_>,
        (group, rows): (usize, &mut RowLabels<'a>),
        out: &mut Vec<Sample>,
    ) {
        let cell = |column: &Oid| -> Option<&Value> {
            let mut oid = column.clone();
            oid.0.extend_from_slice(index);
            cells.get(&oid).copied()
        };
        let int_at = |column: &Option<Oid>| column.as_ref().and_then(&cell).and_then(as_int);

        for f in &self.filters {
            match cell(&f.oid).and_then(as_int) {
                Some(v) if f.values.contains(&v) => {}
                _ => return,
            }
        }

        let number = match self.family.kind {
            SampleKind::Info => 1.0,
            SampleKind::Gauge | SampleKind::Counter => {
                let raw = as_int(value);
                if raw.is_some_and(|r| self.skip_values.contains(&r)) {
                    return;
                }
                let mut v = if self.values.is_empty() {
                    match value.as_f64() {
                        Some(v) => v,
                        None => return,
                    }
                } else {
                    match raw
                        .and_then(|r| self.values.get(&r).copied())
                        .or(self.default)
                    {
                        Some(v) => v,
                        None => return,
                    }
                };
                v = self.scale.apply(v);
                if let Some(p) = int_at(&self.precision_oid) {
                    // RFC 3433: 1..9 are decimal places; 0 and the negative
                    // values (accurate digits only) leave the value as is.
                    if (1..=9).contains(&p) {
                        v /= 10f64.powi(p as i32);
                    }
                }
                if let Some(s) = int_at(&self.si_prefix_oid) {
                    match si_exponent(s) {
                        Some(e) if e > 0 => v *= 10f64.powi(e),
                        Some(e) if e < 0 => v /= 10f64.powi(-e),
                        Some(_) => {}
                        None => return,
                    }
                }
                if !v.is_finite() {
                    return;
                }
                v
            }
        };

        // Index labels, the value label (info metrics), then lookups.
        let build = |value_label: Option<(Arc<str>, Arc<str>)>| -> Labels {
            let indexes = self
                .indexes
                .iter()
                .zip(parts)
                .map(|(ix, p)| (ix.label.clone(), label_text(p.text.clone())));
            let lookups = self.lookups.iter().map(|l| {
                let read = |column: &Oid| match &l.using {
                    None => cell(column).map(Value::as_label),
                    Some(using) => {
                        let mut oid = column.clone();
                        for &i in using {
                            oid.0.extend_from_slice(&index[parts[i].arcs.clone()]);
                        }
                        cells.get(&oid).map(|v| v.as_label())
                    }
                };
                // The first non-blank answer among the column and its
                // fallbacks; if all are blank, the first answer as it is.
                let mut text: Option<String> = None;
                for t in std::iter::once(&l.oid).chain(&l.fallback).filter_map(read) {
                    let blank = t.trim().is_empty();
                    if !blank || text.is_none() {
                        text = Some(t);
                    }
                    if !blank {
                        break;
                    }
                }
                let text = text.unwrap_or_default();
                let mut text = l.names.get(&text).cloned().unwrap_or(text);
                if let Some(i) = l.fallback_index.filter(|_| text.trim().is_empty()) {
                    text.clone_from(&parts[i].text);
                }
                (l.label.clone(), label_text(text))
            });
            indexes.chain(value_label).chain(lookups).collect()
        };
        let labels = match (&self.value_label, self.family.kind) {
            (Some(label), SampleKind::Info) => {
                build(Some((label.clone(), label_text(value.as_label()))))
            }
            _ => rows
                .entry((group, index))
                .or_insert_with(|| build(None))
                .clone(),
        };

        out.push(Sample {
            family: self.family.clone(),
            labels,
            value: number,
        });
    }
}

/// The integer in a value, for enumerations, filters and precision.
fn as_int(v: &Value) -> Option<i64> {
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Powers of ten of ENTITY-SENSOR `SensorDataScale`. RFC 3433 lists
/// `exa(14), peta(15)` in that order although peta is the smaller; the values
/// follow the names, as agents implement the names.
fn si_exponent(scale: i64) -> Option<i32> {
    Some(match scale {
        1..=13 => 3 * (scale as i32 - 9),
        14 => 18,
        15 => 15,
        16 => 21,
        17 => 24,
        _ => return None,
    })
}

/// Splits a row index into its labels; `None` when the arcs do not fit the
/// declared indexes exactly (a row of another shape is not this metric's).
fn decode_index(indexes: &[Index], arcs: &[u32]) -> Option<Vec<IndexPart>> {
    let mut parts = Vec::with_capacity(indexes.len());
    let mut at = 0;
    for ix in indexes {
        let rest = &arcs[at..];
        let (len, text) = match ix.kind {
            IndexKind::Integer => (1, rest.first()?.to_string()),
            IndexKind::Ipv4 => {
                let a = rest.get(..4)?;
                if a.iter().any(|&x| x > 255) {
                    return None;
                }
                (4, format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]))
            }
            IndexKind::String => {
                let n = *rest.first()? as usize;
                (1 + n, arcs_text(rest.get(1..1 + n)?)?)
            }
            IndexKind::ImpliedString => (rest.len(), arcs_text(rest)?),
            IndexKind::Oid => {
                if rest.is_empty() {
                    return None;
                }
                (rest.len(), Oid(rest.to_vec()).to_string())
            }
        };
        parts.push(IndexPart {
            arcs: at..at + len,
            text,
        });
        at += len;
    }
    (at == arcs.len()).then_some(parts)
}

fn arcs_text(arcs: &[u32]) -> Option<String> {
    let bytes: Option<Vec<u8>> = arcs.iter().map(|&a| u8::try_from(a).ok()).collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// The profiles shipped in `config/profiles/` (the list, with the embedded
/// texts, is [`BUILTIN_PROFILES`]), parsed.
pub fn builtin() -> Vec<Profile> {
    BUILTIN_PROFILES
        .iter()
        .map(|&(name, text)| {
            let path = Path::new("config/profiles").join(format!("{name}.toml"));
            // The test `shipped_profiles_parse` keeps this from failing in a
            // release: these files are fixed at compile time.
            Profile::parse(&path, text).unwrap_or_else(|d| {
                let msgs: Vec<String> = d.iter().map(ToString::to_string).collect();
                panic!("shipped profile {name} is invalid:\n{}", msgs.join("\n"))
            })
        })
        .collect()
}

/// Every `*.toml` in `dir` (a user's profiles), sorted by name; all problems
/// of all files at once.
pub fn load_dir(dir: &Path) -> Result<Vec<Profile>, Vec<Diagnostic>> {
    let unreadable = |path: &Path, e: std::io::Error| Diagnostic {
        file: path.to_path_buf(),
        line: 0,
        col: 0,
        path: "-".into(),
        message: format!("cannot read the profile: {e}"),
    };
    let entries = std::fs::read_dir(dir).map_err(|e| vec![unreadable(dir, e)])?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    let mut profiles = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => match Profile::parse(&path, &text) {
                Ok(p) => profiles.push(p),
                Err(d) => diags.extend(d),
            },
            Err(e) => diags.push(unreadable(&path, e)),
        }
    }
    if diags.is_empty() {
        Ok(profiles)
    } else {
        Err(diags)
    }
}

/// How much a counter grew between two polls, for figures netkpi derives
/// itself (traffic and energy in reports). `None` when the difference cannot
/// be trusted: the device rebooted (sysUpTime went back), a value does not
/// fit `width_bits`, the width is neither 32 nor 64, or the counter went
/// back by more than a wrap explains (a reset: "clear counters", a line card
/// swap). A Counter32 that went back is taken as one wrap only when the
/// modular difference is under half the range: at 10 Gbit/s ifInOctets
/// wraps every 3.4 s, so a wrap is common, but a modular difference near
/// 2^32 is far more likely a reset from a small value.
/// A Counter64 does not wrap in practice (RFC 2863 §3.1.6: 64-bit counters
/// exist so that they don't); going back is a reset.
pub fn counter_delta(prev: u64, cur: u64, width_bits: u32, rebooted: bool) -> Option<u64> {
    if rebooted {
        return None;
    }
    let max = match width_bits {
        32 => u64::from(u32::MAX),
        64 => u64::MAX,
        _ => return None,
    };
    if prev > max || cur > max {
        return None;
    }
    if cur >= prev {
        return Some(cur - prev);
    }
    if width_bits == 64 {
        return None;
    }
    let wrapped = (max - prev) + cur + 1;
    (wrapped < 1u64 << 31).then_some(wrapped)
}

/// Builds a profile in code, for tests of other modules.
#[cfg(test)]
pub(crate) fn parse_str(name: &str, text: &str) -> Profile {
    Profile::parse(&Path::new(name).with_extension("toml"), text).unwrap_or_else(|d| {
        let msgs: Vec<String> = d.iter().map(ToString::to_string).collect();
        panic!("{}", msgs.join("\n"))
    })
}
