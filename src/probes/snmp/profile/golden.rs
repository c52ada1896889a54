//! Golden tests: every shipped profile against recorded devices.
//!
//! A recording (`tests/fixtures/snmprec/`) stands in for the device: the
//! profile's requests are answered from it as an agent would (a walk gives
//! everything under its root, a GET the instance or noSuchObject), the
//! answers go through `evaluate`, and the samples, rendered like a scrape,
//! must equal `tests/golden/profiles/<profile>__<recording>.txt`.
//!
//! After a deliberate change, regenerate and review the diff by eye:
//!
//!     NETKPI_BLESS=1 cargo test --lib golden
//!
//! (see `tests/golden/README.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{builtin, Profile, Request, Sample};
use crate::probes::snmp::{snmprec, Value, Varbind};

/// Each shipped profile with the recordings it is tested against.
const CASES: &[(&str, &[&str])] = &[
    ("system", &["cisco-c3560", "vertiv-power"]),
    ("if_mib", &["cisco-c3560", "huawei-s12704", "ruijie-n18010"]),
    ("ups_mib", &["eaton-93e-80", "huawei-gse200m"]),
    (
        "entity_sensor",
        &["arista-dcs-7150s-52-cl", "paloalto-pa-5000"],
    ),
    ("host_resources", &["linux-unknown-004"]),
    ("apc_powernet", &["apc-smart-ups-synthetic", "apc-8932"]),
    ("liebert", &["vertiv-power"]),
    ("huawei", &["huawei-s12704"]),
    ("h3c", &["h3c-e528-1", "h3c-e528-2"]),
    ("huawei_ups", &["huawei-gse200m"]),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What an agent holding `recording` answers to `requests`.
pub(super) fn answer(recording: &[Varbind], requests: &[Request]) -> Vec<Varbind> {
    let mut out = Vec::new();
    for r in requests {
        match r {
            Request::Walk(base) => out.extend(
                recording
                    .iter()
                    .filter(|vb| vb.oid.starts_with(base) && vb.oid != *base)
                    .cloned(),
            ),
            Request::Get(oids) => out.extend(oids.iter().map(|oid| {
                Varbind {
                    oid: oid.clone(),
                    value: recording
                        .iter()
                        .find(|vb| vb.oid == *oid)
                        .map_or(Value::NoSuchObject, |vb| vb.value.clone()),
                }
            })),
        }
    }
    out
}

/// The samples as a scrape would show them: per metric name its HELP and
/// TYPE, then its samples, each group sorted, so the file is stable.
pub(super) fn render(samples: &[Sample]) -> String {
    let mut by_name: BTreeMap<&str, (&Sample, Vec<String>)> = BTreeMap::new();
    for s in samples {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let line = if labels.is_empty() {
            format!("{} {}", s.name(), s.value)
        } else {
            format!("{}{{{}}} {}", s.name(), labels.join(","), s.value)
        };
        by_name
            .entry(s.name())
            .or_insert((s, Vec::new()))
            .1
            .push(line);
    }
    let mut out = String::new();
    for (name, (first, mut lines)) in by_name {
        lines.sort();
        let _ = writeln!(out, "# HELP {name} {}", first.help());
        let _ = writeln!(out, "# TYPE {name} {}", first.kind().exposition_type());
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn load_recording(name: &str) -> Vec<Varbind> {
    let path = root().join(format!("tests/fixtures/snmprec/{name}.snmprec"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    snmprec::parse(&text).unwrap_or_else(|errs| {
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        panic!("{}:\n{}", path.display(), msgs.join("\n"))
    })
}

fn golden_path(profile: &str, recording: &str) -> PathBuf {
    root().join(format!("tests/golden/profiles/{profile}__{recording}.txt"))
}

fn check(profile: &Profile, recording: &str, bless: bool, failures: &mut Vec<String>) {
    let rec = load_recording(recording);
    let samples = profile.evaluate(&answer(&rec, &profile.requests()));
    let got = render(&samples);
    let path = golden_path(&profile.name, recording);
    if bless {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if want == got => {}
        Ok(want) => failures.push(format!(
            "{}: differs from `{} x {recording}`; first difference:\n{}",
            path.display(),
            profile.name,
            first_difference(&want, &got)
        )),
        Err(e) => failures.push(format!(
            "{}: {e} (run NETKPI_BLESS=1 cargo test --lib golden)",
            path.display()
        )),
    }
    if samples.is_empty() {
        failures.push(format!("{} x {recording}: no samples at all", profile.name));
    }
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  want: {w}\n  got:  {g}", i + 1);
        }
    }
    format!(
        "lengths differ: want {} lines, got {}",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn golden_every_shipped_profile_against_its_recordings() {
    let bless = std::env::var_os("NETKPI_BLESS").is_some_and(|v| v != "0");
    let profiles = builtin();
    let mut failures = Vec::new();
    for p in &profiles {
        assert!(
            CASES.iter().any(|(name, _)| *name == p.name),
            "shipped profile {} has no golden test",
            p.name
        );
    }
    for (name, recordings) in CASES {
        let profile = profiles
            .iter()
            .find(|p| p.name == *name)
            .unwrap_or_else(|| panic!("no shipped profile {name}"));
        for rec in *recordings {
            check(profile, rec, bless, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
