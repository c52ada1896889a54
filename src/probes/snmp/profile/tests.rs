use std::path::Path;

use super::*;
use crate::energy::EnergySpec;
use crate::probes::snmp::{Oid, Value, Varbind};

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

fn vb(o: &str, value: Value) -> Varbind {
    Varbind { oid: oid(o), value }
}

fn errors(text: &str) -> Vec<String> {
    match Profile::parse(Path::new("p/test.toml"), text) {
        Ok(_) => panic!("expected errors"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

fn find<'a>(samples: &'a [Sample], name: &str, label: (&str, &str)) -> &'a Sample {
    samples
        .iter()
        .find(|s| {
            s.name() == name
                && s.labels
                    .iter()
                    .any(|(k, v)| &**k == label.0 && &**v == label.1)
        })
        .unwrap_or_else(|| panic!("no {name} with {label:?} in {samples:#?}"))
}

fn labels(s: &Sample) -> Vec<(&str, &str)> {
    s.labels.iter().map(|(k, v)| (&**k, &**v)).collect()
}

const IF_OPER: &str = r#"
[[metric]]
name = "if_oper_up"
oid  = "1.3.6.1.2.1.2.2.1.8"
type = "gauge"
help = "up"
indexes = [{ label = "if_index", type = "integer" }]
lookups = [
  { label = "if_name",  oid = "1.3.6.1.2.1.31.1.1.1.1" },
  { label = "if_alias", oid = "1.3.6.1.2.1.31.1.1.1.18" },
]
values = { 1 = 1 }
default = 0

[[metric]]
name = "if_in_octets_total"
oid  = "1.3.6.1.2.1.31.1.1.1.6"
type = "counter"
help = "octets"
indexes = [{ label = "if_index", type = "integer" }]
lookups = [{ label = "if_name", oid = "1.3.6.1.2.1.31.1.1.1.1" }]

[[metric]]
name = "uptime_seconds"
oid  = "1.3.6.1.2.1.1.3"
type = "gauge"
help = "uptime"
scale = 0.01
"#;

#[test]
fn metrics_of_one_row_labelled_alike_share_one_label_set() {
    let p = parse_str(
        "rows",
        r#"
[[metric]]
name = "if_in_octets_total"
oid  = "1.3.6.1.2.1.31.1.1.1.6"
type = "counter"
help = "octets"
indexes = [{ label = "if_index", type = "integer" }]
lookups = [{ label = "if_name", oid = "1.3.6.1.2.1.31.1.1.1.1" }]

[[metric]]
name = "if_out_octets_total"
oid  = "1.3.6.1.2.1.31.1.1.1.10"
type = "counter"
help = "octets"
indexes = [{ label = "if_index", type = "integer" }]
lookups = [{ label = "if_name", oid = "1.3.6.1.2.1.31.1.1.1.1" }]
"#,
    );
    let samples = p.evaluate(&[
        vb(
            "1.3.6.1.2.1.31.1.1.1.1.1",
            Value::OctetString(b"a".to_vec()),
        ),
        vb(
            "1.3.6.1.2.1.31.1.1.1.1.2",
            Value::OctetString(b"b".to_vec()),
        ),
        vb("1.3.6.1.2.1.31.1.1.1.6.1", Value::Counter64(1)),
        vb("1.3.6.1.2.1.31.1.1.1.6.2", Value::Counter64(2)),
        vb("1.3.6.1.2.1.31.1.1.1.10.1", Value::Counter64(3)),
        vb("1.3.6.1.2.1.31.1.1.1.10.2", Value::Counter64(4)),
    ]);
    let in1 = find(&samples, "netkpi_if_in_octets_total", ("if_index", "1"));
    let out1 = find(&samples, "netkpi_if_out_octets_total", ("if_index", "1"));
    let out2 = find(&samples, "netkpi_if_out_octets_total", ("if_index", "2"));
    assert_eq!(labels(in1), vec![("if_index", "1"), ("if_name", "a")]);
    assert_eq!(labels(out2), vec![("if_index", "2"), ("if_name", "b")]);
    assert!(std::sync::Arc::ptr_eq(&in1.labels, &out1.labels));
    assert!(std::sync::Arc::ptr_eq(&in1.family, &p.metrics[0].family));
    assert_eq!(out1.value, 3.0);
}

#[test]
fn evaluates_enums_lookups_counters_and_scalars() {
    let p = parse_str("if", IF_OPER);
    let samples = p.evaluate(&[
        vb("1.3.6.1.2.1.1.3.0", Value::TimeTicks(12345)),
        vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(1)),
        vb("1.3.6.1.2.1.2.2.1.8.2", Value::Integer(2)),
        vb("1.3.6.1.2.1.2.2.1.8.3", Value::Integer(7)),
        vb("1.3.6.1.2.1.2.2.1.8.4", Value::NoSuchInstance),
        vb(
            "1.3.6.1.2.1.31.1.1.1.1.1",
            Value::OctetString(b"Gi0/1".to_vec()),
        ),
        vb(
            "1.3.6.1.2.1.31.1.1.1.1.2",
            Value::OctetString(b"Gi0/2".to_vec()),
        ),
        vb(
            "1.3.6.1.2.1.31.1.1.1.18.1",
            Value::OctetString(b"L-001 Finance".to_vec()),
        ),
        vb(
            "1.3.6.1.2.1.31.1.1.1.6.1",
            Value::Counter64(u64::from(u32::MAX) + 10),
        ),
        vb("1.3.6.1.2.1.31.1.1.1.6.2", Value::Counter64(0)),
    ]);
    let up = find(&samples, "netkpi_if_oper_up", ("if_index", "1"));
    assert_eq!(up.value, 1.0);
    assert_eq!(
        labels(up),
        vec![
            ("if_index", "1"),
            ("if_name", "Gi0/1"),
            ("if_alias", "L-001 Finance"),
        ]
    );
    // down(2) and an unknown state are both "not up"; a missing ifAlias is
    // an empty label; an exception is no sample at all.
    let down = find(&samples, "netkpi_if_oper_up", ("if_index", "2"));
    assert_eq!(down.value, 0.0);
    assert_eq!(labels(down)[2], ("if_alias", ""));
    assert_eq!(
        find(&samples, "netkpi_if_oper_up", ("if_index", "3")).value,
        0.0
    );
    assert!(!samples
        .iter()
        .any(|s| s.labels.contains(&("if_index".into(), "4".into()))));
    let octets = find(&samples, "netkpi_if_in_octets_total", ("if_name", "Gi0/1"));
    assert_eq!(octets.kind(), SampleKind::Counter);
    // Other lookups, other labels: not shared.
    assert!(!std::sync::Arc::ptr_eq(&up.labels, &octets.labels));
    assert_eq!(octets.value, (u64::from(u32::MAX) + 10) as f64);
    let up_s = samples
        .iter()
        .find(|s| s.name() == "netkpi_uptime_seconds")
        .unwrap();
    assert_eq!(up_s.value, 123.45);
    assert!(up_s.labels.is_empty());
}

#[test]
fn requests_walk_each_column_once_and_get_scalars() {
    let p = parse_str("if", IF_OPER);
    assert_eq!(
        p.requests(),
        vec![
            Request::Walk(oid("1.3.6.1.2.1.2.2.1.8")),
            Request::Walk(oid("1.3.6.1.2.1.31.1.1.1.1")),
            Request::Walk(oid("1.3.6.1.2.1.31.1.1.1.6")),
            Request::Walk(oid("1.3.6.1.2.1.31.1.1.1.18")),
            Request::Get(vec![oid("1.3.6.1.2.1.1.3.0")]),
        ]
    );
    // A column under a walked subtree is not walked again, nor a scalar GET.
    let nested = parse_str(
        "n",
        r#"
[[metric]]
name = "a"
oid = "1.3.6.1.4.1.9.9"
type = "gauge"
help = "h"
indexes = [{ label = "i", type = "oid" }]
[[metric]]
name = "b"
oid = "1.3.6.1.4.1.9.9.1.2"
type = "gauge"
help = "h"
indexes = [{ label = "i", type = "integer" }]
[[metric]]
name = "c"
oid = "1.3.6.1.4.1.9.9.5"
type = "gauge"
help = "h"
"#,
    );
    assert_eq!(
        nested.requests(),
        vec![Request::Walk(oid("1.3.6.1.4.1.9.9"))]
    );
}

#[test]
fn entity_sensor_scale_precision_filters_and_names() {
    let p = builtin()
        .into_iter()
        .find(|p| p.name == "entity_sensor")
        .unwrap();
    let s = "1.3.6.1.2.1.99.1.1.1";
    let row = |i: u32, typ: i64, scale: i64, prec: i64, val: i64, status: i64| {
        vec![
            vb(&format!("{s}.1.{i}"), Value::Integer(typ)),
            vb(&format!("{s}.2.{i}"), Value::Integer(scale)),
            vb(&format!("{s}.3.{i}"), Value::Integer(prec)),
            vb(&format!("{s}.4.{i}"), Value::Integer(val)),
            vb(&format!("{s}.5.{i}"), Value::Integer(status)),
        ]
    };
    let mut vbs = Vec::new();
    vbs.extend(row(1, 8, 9, 1, 282, 1)); // 28.2 °C
    vbs.extend(row(2, 4, 8, 0, 12050, 1)); // 12050 mV = 12.05 V
    vbs.extend(row(3, 8, 9, 0, 40, 2)); // unavailable: skipped
    vbs.extend(row(4, 6, 10, 2, 150, 1)); // 1.50 kW = 1500 W
    vbs.push(vb(
        "1.3.6.1.2.1.47.1.1.1.1.7.1",
        Value::OctetString(b"CPU".to_vec()),
    ));
    let samples = p.evaluate(&vbs);
    let t = find(
        &samples,
        "netkpi_temperature_celsius",
        ("ent_physical_index", "1"),
    );
    assert_eq!(t.value, 28.2);
    assert!(t
        .labels
        .contains(&("ent_physical_name".into(), "CPU".into())));
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.name() == "netkpi_temperature_celsius")
            .count(),
        1
    );
    let v = find(
        &samples,
        "netkpi_entity_sensor_value",
        ("ent_physical_index", "2"),
    );
    assert_eq!(v.value, 12.05);
    assert!(v
        .labels
        .contains(&("sensor_type".into(), "volts_dc".into())));
    let w = find(
        &samples,
        "netkpi_entity_sensor_value",
        ("ent_physical_index", "4"),
    );
    assert_eq!(w.value, 1500.0);
}

#[test]
fn string_ipv4_and_oid_indexes_and_lookups_using_part_of_the_index() {
    let p = parse_str(
        "idx",
        r#"
[[metric]]
name = "peer_state"
oid = "1.3.6.1.4.1.99.1.2"
type = "gauge"
help = "h"
indexes = [
  { label = "vrf", type = "string" },
  { label = "peer", type = "ipv4" },
  { label = "rest", type = "oid" },
]
lookups = [{ label = "vrf_descr", oid = "1.3.6.1.4.1.99.2.1", using = ["vrf"] }]
"#,
    );
    // vrf "ab" = 2.97.98, then 10.0.0.1, then 7.8
    let samples = p.evaluate(&[
        vb("1.3.6.1.4.1.99.1.2.2.97.98.10.0.0.1.7.8", Value::Gauge32(6)),
        vb("1.3.6.1.4.1.99.1.2.5.97.10.0.0.1", Value::Gauge32(6)), // does not fit: skipped
        vb(
            "1.3.6.1.4.1.99.2.1.2.97.98",
            Value::OctetString(b"office".to_vec()),
        ),
    ]);
    assert_eq!(samples.len(), 1);
    assert_eq!(
        labels(&samples[0]),
        vec![
            ("vrf", "ab"),
            ("peer", "10.0.0.1"),
            ("rest", "7.8"),
            ("vrf_descr", "office"),
        ]
    );
}

#[test]
fn lookup_falls_back_to_other_columns_then_to_the_index() {
    // As in if_mib: ifName, else ifDescr, else the ifIndex.
    let p = parse_str(
        "fb",
        r#"
[[metric]]
name = "if_oper_up"
oid  = "1.3.6.1.2.1.2.2.1.8"
type = "gauge"
help = "up"
indexes = [{ label = "if_index", type = "integer" }]
lookups = [
  { label = "if_name", oid = "1.3.6.1.2.1.31.1.1.1.1", fallback = ["1.3.6.1.2.1.2.2.1.2"], fallback_index = "if_index" },
  { label = "if_alias", oid = "1.3.6.1.2.1.31.1.1.1.18" },
]
"#,
    );
    // The fallback column is read with the lookups (cached between polls).
    let (walks, _) = p.columns(Part::Lookups);
    assert!(walks.contains(&oid("1.3.6.1.2.1.2.2.1.2")), "{walks:?}");
    let text = |s: &str| Value::OctetString(s.as_bytes().to_vec());
    let samples = p.evaluate(&[
        vb("1.3.6.1.2.1.2.2.1.2.1", text("GigabitEthernet 1/1/1")),
        vb("1.3.6.1.2.1.2.2.1.2.2", text("GigabitEthernet 1/1/2")),
        vb("1.3.6.1.2.1.2.2.1.2.3", text("  ")),
        vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(1)),
        vb("1.3.6.1.2.1.2.2.1.8.2", Value::Integer(1)),
        vb("1.3.6.1.2.1.2.2.1.8.3", Value::Integer(1)),
        vb("1.3.6.1.2.1.2.2.1.8.4", Value::Integer(1)),
        vb("1.3.6.1.2.1.2.2.1.8.5", Value::Integer(1)),
        // Row 1 has an ifName, which wins; row 5 a blank one.
        vb("1.3.6.1.2.1.31.1.1.1.1.1", text("Gi1/1/1")),
        vb("1.3.6.1.2.1.31.1.1.1.1.5", Value::OctetString(Vec::new())),
        vb("1.3.6.1.2.1.31.1.1.1.1.2", Value::NoSuchInstance),
    ]);
    let name = |i: &str| {
        find(&samples, "netkpi_if_oper_up", ("if_index", i))
            .label("if_name")
            .unwrap()
            .to_string()
    };
    assert_eq!(name("1"), "Gi1/1/1");
    assert_eq!(name("2"), "GigabitEthernet 1/1/2"); // no ifName: ifDescr
    assert_eq!(name("3"), "3"); // blank ifDescr, no ifName: the index
    assert_eq!(name("4"), "4"); // neither column answered
    assert_eq!(name("5"), "5"); // empty ifName, no ifDescr
                                // A lookup without fallbacks still gives an empty label.
    let up = find(&samples, "netkpi_if_oper_up", ("if_index", "2"));
    assert_eq!(up.label("if_alias"), Some(""));
}

#[test]
fn lookup_fallbacks_are_checked() {
    let got = errors(
        r#"
[[metric]]
name = "a"
oid = "1.3.6.1.2.1.2.2.1.8"
type = "gauge"
help = "x"
indexes = [{ label = "if_index", type = "integer" }]
lookups = [
  { label = "n", oid = "1.3.6.1.2.1.31.1.1.1.1", fallback = ["1.3.6.1.2.1.2.2.1.x"] },
  { label = "m", oid = "1.3.6.1.2.1.31.1.1.1.1", fallback = [] },
  { label = "o", oid = "1.3.6.1.2.1.31.1.1.1.1", fallback_index = "ifIndex" },
  { label = "p", oid = "1.3.6.1.2.1.31.1.1.1.1", fallback = "1.3.6.1.2.1.2.2.1.2" },
]
[[metric]]
name = "b"
oid = "1.3.6.1.2.1.1.5"
type = "gauge"
help = "x"
lookups = [{ label = "n", oid = "1.3.6.1.2.1.1.6", fallback_index = "if_index" }]
"#,
    );
    let joined = got.join("\n");
    for needle in [
        "metric[0].lookups[0].fallback[0]: invalid OID",
        "metric[0].lookups[1].fallback: `fallback` needs at least one OID",
        "metric[0].lookups[2].fallback_index: `ifIndex` is not an index label of this metric (it has: if_index)",
        "metric[0].lookups[3].fallback: expected a list, found string",
        "metric[1].lookups[0].fallback_index: `if_index` is not an index label of this metric (it has none: a scalar)",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
    }
}

#[test]
fn scale_as_fraction_and_skip_values() {
    let p = parse_str(
        "s",
        r#"
[[metric]]
name = "minutes"
oid = "1.3.6.1.4.1.318.1.1.1.2.2.3"
type = "gauge"
help = "h"
scale = "1/6000"
[[metric]]
name = "volts"
oid = "1.3.6.1.2.1.33.1.2.5"
type = "gauge"
help = "h"
scale = 0.1
skip_values = [-1]
"#,
    );
    let samples = p.evaluate(&[
        vb("1.3.6.1.4.1.318.1.1.1.2.2.3.0", Value::TimeTicks(72000)),
        vb("1.3.6.1.2.1.33.1.2.5.0", Value::Integer(2369)),
    ]);
    assert_eq!(samples[0].value, 12.0);
    assert_eq!(samples[1].value, 236.9);
    let none = p.evaluate(&[vb("1.3.6.1.2.1.33.1.2.5.0", Value::Integer(-1))]);
    assert!(none.is_empty());
}

#[test]
fn every_problem_at_once_with_line_and_column() {
    let text = r#"descrption = "typo"

[[metric]]
name = "ifInOctets"
oid = "1.3.6.1.2.1.31.1.1.1.6"
type = "counter"
help = "x"

[[metric]]
name = "netkpi_if_up"
oid = "1.3.6.1.2.1.2.2.1.x"
type = "gauge"
help = "x"
colour = "red"

[[metric]]
name = "if_in_octets"
oid = "1.3.6.1.2.1.31.1.1.1.6"
type = "counter"
help = "x"
indexes = [{ label = "ifIndex", type = "integer" }, { label = "b", type = "oid" }]
lookups = [{ label = "if_name", oid = "1.3.6.1.2.1.31.1.1.1.1", using = ["if_index"] }]

[[metric]]
oid = "1.3.6.1.2.1.1.3"
type = "histogram"
help = ""
"#;
    let got = errors(text);
    let want = [
        "p/test.toml:1:1: descrption: unknown key `descrption` in the profile; expected one of: description, energy, metric",
        "p/test.toml:4:8: metric[0].name: metric name \"ifInOctets\" is not snake_case (lower-case letters, digits and `_`, starting with a letter)",
        "p/test.toml:10:8: metric[1].name: write the name without the `netkpi_` prefix (`if_up`); netkpi adds it",
        "p/test.toml:11:7: metric[1].oid: invalid OID \"1.3.6.1.2.1.2.2.1.x\": \"x\" is not a number 0-4294967295; write OIDs numerically, with the MIB name in a comment",
        "p/test.toml:14:1: metric[1].colour: unknown key `colour` in metric[1]; expected one of: name, oid, type, help, indexes, lookups, values, default, skip_values, scale, precision_oid, si_prefix_oid, filter, value_label",
        "p/test.toml:17:8: metric[2].name: a counter's name must end in `_total` (`if_in_octets_total`)",
        "p/test.toml:21:22: metric[2].indexes[0].label: label \"ifIndex\" is not snake_case (lower-case letters, digits and `_`, starting with a letter), e.g. `if_name` for IF-MIB::ifName",
        "p/test.toml:22:74: metric[2].lookups[0].using[0]: the lookup points nowhere: `if_index` is not an index label of this metric (it has: b)",
        "p/test.toml:24:1: metric[3].name: `name` is required",
        "p/test.toml:26:8: metric[3].type: unknown type \"histogram\"; expected one of: gauge, counter, info",
        "p/test.toml:27:8: metric[3].help: help must say what the number means",
    ];
    assert_eq!(got, want, "\n{}", got.join("\n"));
}

#[test]
fn type_rules_and_duplicate_labels() {
    let got = errors(
        r#"
[[metric]]
name = "a_total"
oid = "1.3.6.1.2.1.2.2.1.10"
type = "counter"
help = "x"
values = { 1 = 1 }
[[metric]]
name = "b"
oid = "1.3.6.1.2.1.1.5"
type = "info"
help = "x"
[[metric]]
name = "c_total"
oid = "1.3.6.1.2.1.1.5"
type = "gauge"
help = "x"
[[metric]]
name = "d"
oid = "1.3.6.1.2.1.2.2.1.8"
type = "gauge"
help = "x"
indexes = [{ label = "device", type = "integer" }, { label = "x", type = "integer" }]
lookups = [{ label = "x", oid = "1.3.6.1.2.1.2.2.1.2" }]
[[metric]]
name = "e"
oid = "1.3.6.1.2.1.2.2.1.8"
type = "gauge"
help = "x"
filter = { oid = "1.3", values = ["up"] }
scale = 0
"#,
    );
    let joined = got.join("\n");
    for needle in [
        "metric[0].values: `values` does not apply to a counter",
        "metric[1].name: an info metric's name must end in `_info` (`b_info`)",
        "metric[2].name: only counters end in `_total`; `c_total` is a gauge",
        "metric[3].indexes[0].label: label `device` is added by netkpi",
        "metric[3].labels: label `x` is given twice",
        "metric[4].filter.values[0]: expected a whole number, found string",
        "metric[4].scale: expected a non-zero number",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
    }
}

#[test]
fn same_name_twice_must_mean_the_same_thing() {
    let got = errors(
        r#"
[[metric]]
name = "temperature_celsius"
oid = "1.3.6.1.4.1.1.1"
type = "gauge"
help = "x"
indexes = [{ label = "i", type = "integer" }]
[[metric]]
name = "temperature_celsius"
oid = "1.3.6.1.4.1.2.1"
type = "gauge"
help = "x"
"#,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("metric[1].name: `temperature_celsius` is also defined at line 2"));
}

#[test]
fn toml_syntax_errors_are_placed() {
    let got = errors("[[metric]]\nname = if_up\n");
    assert!(got[0].starts_with("p/test.toml:2:"), "{got:?}");
    assert!(
        got[0].contains("metric[0].name: TOML syntax error"),
        "{got:?}"
    );
}

#[test]
fn shipped_profiles_parse_and_follow_the_naming_rules() {
    let profiles = builtin();
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "system",
            "if_mib",
            "ups_mib",
            "entity_sensor",
            "host_resources",
            "apc_powernet",
            "liebert",
            "huawei",
            "h3c",
            "huawei_ups"
        ]
    );
    // One name, one type and help across all shipped profiles: the daemon
    // registers each family once.
    let mut seen: std::collections::BTreeMap<String, (SampleKind, String, String)> =
        Default::default();
    for p in &profiles {
        assert!(!p.requests().is_empty());
        for m in &p.metrics {
            if let Some((kind, help, from)) = seen.get(&m.family.name) {
                assert_eq!(
                    (*kind, help.as_str()),
                    (m.family.kind, m.family.help.as_str()),
                    "{} differs between {from} and {}",
                    m.family.name,
                    p.name
                );
            }
            seen.insert(
                m.family.name.clone(),
                (m.family.kind, m.family.help.clone(), p.name.clone()),
            );
        }
    }
    for name in [
        "netkpi_if_oper_up",
        "netkpi_if_in_octets_total",
        "netkpi_ups_on_battery",
        "netkpi_ups_battery_runtime_seconds",
        "netkpi_temperature_celsius",
        "netkpi_snmp_system_info",
    ] {
        assert!(seen.contains_key(name), "{name}");
    }
}

/// `huawei_ups` is `ups_mib` with the UPS5000's units: the two must not
/// drift apart, since dashboards and alerts read both as one set of metrics.
#[test]
fn huawei_ups_is_ups_mib_with_the_cards_units() {
    let profiles = builtin();
    let get = |name: &str| profiles.iter().find(|p| p.name == name).unwrap();
    let (rfc, huawei) = (get("ups_mib"), get("huawei_ups"));
    // Metric name and column → the scale huawei_ups uses instead of ups_mib's.
    let corrected = [
        (
            "netkpi_ups_input_voltage_volts",
            "1.3.6.1.2.1.33.1.3.3.1.3",
            (1.0, 10.0), // 0.1 V
        ),
        (
            "netkpi_ups_output_voltage_volts",
            "1.3.6.1.2.1.33.1.4.4.1.2",
            (1.0, 10.0), // 0.1 V
        ),
        (
            "netkpi_ups_input_frequency_hertz",
            "1.3.6.1.2.1.33.1.3.3.1.2",
            (1.0, 100.0), // 0.01 Hz
        ),
    ];
    assert_eq!(rfc.metrics.len(), huawei.metrics.len());
    let mut seen = 0;
    for (a, b) in rfc.metrics.iter().zip(&huawei.metrics) {
        let mut b = b.clone();
        if let Some((_, column, (num, den))) =
            corrected.iter().find(|(name, _, _)| *name == b.family.name)
        {
            assert_eq!(b.oid, oid(column), "{}", b.family.name);
            assert_eq!(
                (b.scale.num, b.scale.den),
                (*num, *den),
                "{}",
                b.family.name
            );
            assert_ne!(a.scale, b.scale, "{}", b.family.name);
            b.scale = a.scale;
            seen += 1;
        }
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert_eq!(seen, corrected.len());
}

#[test]
fn load_dir_reads_every_toml_and_reports_every_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("my_ups.toml"),
        "[[metric]]\nname = \"x\"\noid = \"1.3.6.1.4.1.1\"\ntype = \"gauge\"\nhelp = \"h\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a profile").unwrap();
    let ok = load_dir(dir.path()).unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].name, "my_ups");
    std::fs::write(dir.path().join("bad.toml"), "[[metric]]\nname = \"x\"\n").unwrap();
    let errs = load_dir(dir.path()).unwrap_err();
    assert!(
        errs.iter().all(|d| d.file.ends_with("bad.toml")),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 3, "{errs:?}"); // oid, type, help missing
    let missing = load_dir(&dir.path().join("nope")).unwrap_err();
    assert!(missing[0].message.starts_with("cannot read the profile"));
}

#[test]
fn counter_delta_never_goes_negative_or_huge() {
    let max32 = u64::from(u32::MAX);
    assert_eq!(counter_delta(100, 250, 32, false), Some(150));
    assert_eq!(counter_delta(100, 100, 64, false), Some(0));
    // A Counter32 wrap: the modular difference.
    assert_eq!(counter_delta(max32 - 5, 10, 32, false), Some(16));
    // Going back far (a reset from a small value) is not a wrap.
    assert_eq!(counter_delta(1_000, 10, 32, false), None);
    // A Counter64 going back is always a reset.
    assert_eq!(counter_delta(u64::MAX - 5, 10, 64, false), None);
    // After a reboot nothing is trusted, even an increase.
    assert_eq!(counter_delta(100, 250, 32, true), None);
    // Values that do not fit the width, and unknown widths.
    assert_eq!(counter_delta(100, max32 + 1, 32, false), None);
    assert_eq!(counter_delta(1, 2, 16, false), None);
    // Whatever the input, never more than the width allows.
    for (p, c) in [(0, max32), (max32, 0), (max32 / 2, max32 / 2 - 1), (7, 3)] {
        if let Some(d) = counter_delta(p, c, 32, false) {
            assert!(d <= max32, "{p} {c} {d}");
        }
    }
}

const UPS: &str = r#"
[[metric]]
name = "ups_output_power_watts"
oid  = "1.3.6.1.2.1.33.1.4.4.1.4"
type = "gauge"
help = "W"
indexes = [{ label = "ups_output_line", type = "integer" }]

[[metric]]
name = "ups_output_voltage_volts"
oid  = "1.3.6.1.2.1.33.1.4.4.1.2"
type = "gauge"
help = "V"
indexes = [{ label = "ups_output_line", type = "integer" }]

[[metric]]
name = "ups_output_current_amperes"
oid  = "1.3.6.1.2.1.33.1.4.4.1.3"
type = "gauge"
help = "A"
indexes = [{ label = "ups_output_line", type = "integer" }]

[[metric]]
name = "ups_input_line_bads_total"
oid  = "1.3.6.1.2.1.33.1.3.1"
type = "counter"
help = "n"
"#;

#[test]
fn energy_names_the_output_power_or_voltage_and_current() {
    let p = parse_str(
        "u",
        &format!("[energy]\npower = \"ups_output_power_watts\"\nvoltage = \"ups_output_voltage_volts\"\ncurrent = \"ups_output_current_amperes\"\n{UPS}"),
    );
    assert_eq!(
        p.energy,
        Some(EnergySpec {
            power: Some("netkpi_ups_output_power_watts".into()),
            volt_amps: Some((
                "netkpi_ups_output_voltage_volts".into(),
                "netkpi_ups_output_current_amperes".into()
            )),
        })
    );
    let va = parse_str(
        "u",
        &format!("[energy]\nvoltage = \"ups_output_voltage_volts\"\ncurrent = \"ups_output_current_amperes\"\n{UPS}"),
    );
    assert_eq!(va.energy.unwrap().power, None);
    assert_eq!(parse_str("u", UPS).energy, None, "no [energy]: not metered");
}

#[test]
fn energy_problems_are_placed() {
    let text = format!(
        "[energy]\npower = \"ups_output_watts\"\nvoltage = \"ups_output_voltage_volts\"\nunit = \"W\"\n{UPS}"
    );
    let got = errors(&text);
    let want = [
        "p/test.toml:1:1: energy: `voltage` and `current` go together: apparent power is their product",
        "p/test.toml:2:9: energy.power: no [[metric]] of this profile is named `ups_output_watts`",
        "p/test.toml:4:1: energy.unit: unknown key `unit` in energy; expected one of: power, voltage, current",
    ];
    // The pairing is judged only once each name is known: fix the power first.
    let got_first: Vec<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(got_first, want[1..], "\n{}", got.join("\n"));
    let text = format!(
        "[energy]\npower = \"ups_output_power_watts\"\nvoltage = \"ups_output_voltage_volts\"\n{UPS}"
    );
    assert_eq!(errors(&text), [want[0]]);
    let text = format!("[energy]\npower = \"ups_input_line_bads_total\"\n{UPS}");
    assert_eq!(
        errors(&text),
        ["p/test.toml:2:9: energy.power: `ups_input_line_bads_total` is a counter; the power must be a gauge"]
    );
    assert_eq!(
        errors(&format!("[energy]\n{UPS}")),
        ["p/test.toml:1:1: energy: name the output power (`power`), or the output `voltage` and `current`"]
    );
}
