//! Golden tests: every shipped profile against recorded devices.
//!
//! A recording (`tests/fixtures/snmprec/`) stands in for the device: the
//! profile's requests are answered from it as an agent would (a walk gives
//! everything under its root, a GET the instance or noSuchObject), the
//! answers go through `evaluate`, and the samples, rendered like a scrape,
//! must equal `tests/golden/profiles/<profile>__<recording>.txt`.
//!
//! A golden file only says "the same as last time": a wrong value blessed
//! once stays wrong. So each profile also has exact values in [`WANT`],
//! read by hand from its recordings and checked by code; blessing never
//! skips them.
//!
//! After a deliberate change, regenerate and review the diff by eye:
//!
//!     NETKPI_BLESS=1 cargo test --lib golden
//!
//! (see `tests/golden/README.md`). Blessing only rewrites the golden files:
//! every other check still runs.

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
pub(crate) fn answer(recording: &[Varbind], requests: &[Request]) -> Vec<Varbind> {
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
        // Only the file is rewritten; it is then read back and compared like
        // any other, and the checks below still run.
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap();
        std::fs::write(&path, &got).unwrap();
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

/// One value a profile must produce from a recording, read by hand from the
/// `.snmprec` file (its line is quoted above each entry).
struct Want {
    profile: &'static str,
    recording: &'static str,
    metric: &'static str,
    /// Labels the sample has (among others).
    labels: &'static [(&'static str, &'static str)],
    /// `None`: there must be no such sample (a skipped value, a filtered row).
    value: Option<f64>,
}

const fn want(
    profile: &'static str,
    recording: &'static str,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
    value: Option<f64>,
) -> Want {
    Want {
        profile,
        recording,
        metric,
        labels,
        value,
    }
}

/// Exact values, at least two per shipped profile and one per recording it
/// is tested against. OIDs in the comments are numeric as in the
/// recordings; `|TAG|VALUE` is the recorded cell.
const WANT: &[Want] = &[
    // --- system
    // 1.3.6.1.2.1.1.3.0|67|492446481 (hundredths of a second)
    want(
        "system",
        "cisco-c3560",
        "netkpi_snmp_uptime_seconds",
        &[],
        Some(4924464.81),
    ),
    // 1.3.6.1.2.1.1.5.0|4|DUMSYS-04, 1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.617
    want(
        "system",
        "cisco-c3560",
        "netkpi_snmp_system_info",
        &[
            ("sys_name", "DUMSYS-04"),
            ("sys_object_id", "1.3.6.1.4.1.9.1.617"),
        ],
        Some(1.0),
    ),
    // 1.3.6.1.2.1.1.3.0|67|205301818
    want(
        "system",
        "vertiv-power",
        "netkpi_snmp_uptime_seconds",
        &[],
        Some(2053018.18),
    ),
    // 1.3.6.1.2.1.1.5.0|4|DUMSYS-22, 1.3.6.1.2.1.1.1.0|4|Uninitialized
    want(
        "system",
        "vertiv-power",
        "netkpi_snmp_system_info",
        &[("sys_name", "DUMSYS-22"), ("sys_descr", "Uninitialized")],
        Some(1.0),
    ),
    // --- if_mib
    // ifName.10149 = 4769302f3439 ("Gi0/49"; its ifDescr, GigabitEthernet0/49,
    // is not used), ifOperStatus.10149|2|1
    want(
        "if_mib",
        "cisco-c3560",
        "netkpi_if_oper_up",
        &[
            ("if_index", "10149"),
            ("if_name", "Gi0/49"),
            ("if_alias", ""),
        ],
        Some(1.0),
    ),
    // 1.3.6.1.2.1.31.1.1.1.6.10149|70|1050166720685 (ifHCInOctets)
    want(
        "if_mib",
        "cisco-c3560",
        "netkpi_if_in_octets_total",
        &[("if_index", "10149"), ("if_name", "Gi0/49")],
        Some(1050166720685.0),
    ),
    // 1.3.6.1.2.1.31.1.1.1.10.10149|70|6575276732753 (ifHCOutOctets)
    want(
        "if_mib",
        "cisco-c3560",
        "netkpi_if_out_octets_total",
        &[("if_index", "10149")],
        Some(6575276732753.0),
    ),
    // 1.3.6.1.2.1.31.1.1.1.15.10149|66|1000 (ifHighSpeed, Mbit/s)
    want(
        "if_mib",
        "cisco-c3560",
        "netkpi_if_speed_bytes_per_second",
        &[("if_index", "10149")],
        Some(125_000_000.0),
    ),
    // ifName.10 = "40GE1/0/4", 1.3.6.1.2.1.2.2.1.8.10|2|2 (down)
    want(
        "if_mib",
        "huawei-s12704",
        "netkpi_if_oper_up",
        &[("if_index", "10"), ("if_name", "40GE1/0/4")],
        Some(0.0),
    ),
    // ifName.16 = "XGigabitEthernet4/0/0",
    // 1.3.6.1.2.1.31.1.1.1.6.16|70|37921564594850
    want(
        "if_mib",
        "huawei-s12704",
        "netkpi_if_in_octets_total",
        &[("if_index", "16"), ("if_name", "XGigabitEthernet4/0/0")],
        Some(37921564594850.0),
    ),
    // 1.3.6.1.2.1.31.1.1.1.15.16|66|20000
    want(
        "if_mib",
        "huawei-s12704",
        "netkpi_if_speed_bytes_per_second",
        &[("if_index", "16")],
        Some(2_500_000_000.0),
    ),
    // ifName.54|4|Vlanif401, ifAlias.54 = 524a592d574c414e2d59455755
    want(
        "if_mib",
        "huawei-s12704",
        "netkpi_if_admin_up",
        &[
            ("if_index", "54"),
            ("if_name", "Vlanif401"),
            ("if_alias", "RJY-WLAN-YEWU"),
        ],
        Some(1.0),
    ),
    // No ifXTable: if_name is ifDescr. ifDescr.1 = "GigabitEthernet 1/1/1",
    // 1.3.6.1.2.1.2.2.1.8.1|2|1
    want(
        "if_mib",
        "ruijie-n18010",
        "netkpi_if_oper_up",
        &[
            ("if_index", "1"),
            ("if_name", "GigabitEthernet 1/1/1"),
            ("if_alias", ""),
        ],
        Some(1.0),
    ),
    // ifDescr.27 = "GigabitEthernet 1/1/27", 1.3.6.1.2.1.2.2.1.14.27|65|10134180
    want(
        "if_mib",
        "ruijie-n18010",
        "netkpi_if_in_errors_total",
        &[("if_index", "27"), ("if_name", "GigabitEthernet 1/1/27")],
        Some(10134180.0),
    ),
    // ifDescr.6 = "GigabitEthernet 1/1/6", 1.3.6.1.2.1.2.2.1.19.6|65|14030
    want(
        "if_mib",
        "ruijie-n18010",
        "netkpi_if_out_discards_total",
        &[("if_index", "6"), ("if_name", "GigabitEthernet 1/1/6")],
        Some(14030.0),
    ),
    // ifDescr.16385 = "Loopback 0"
    want(
        "if_mib",
        "ruijie-n18010",
        "netkpi_if_oper_up",
        &[("if_index", "16385"), ("if_name", "Loopback 0")],
        Some(1.0),
    ),
    // No ifXTable, so no ifHCInOctets: no octet counter at all.
    want(
        "if_mib",
        "ruijie-n18010",
        "netkpi_if_in_octets_total",
        &[],
        None,
    ),
    // --- ups_mib
    // 1.3.6.1.2.1.33.1.2.3.0|2|1092 (minutes): 65,520 s
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_battery_runtime_seconds",
        &[],
        Some(65_520.0),
    ),
    // 1.3.6.1.2.1.33.1.2.5.0|2|5210 (0.1 V DC)
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_battery_voltage_volts",
        &[],
        Some(521.0),
    ),
    // 1.3.6.1.2.1.33.1.3.3.1.3.3|2|233 (V)
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_input_voltage_volts",
        &[("ups_input_line", "3")],
        Some(233.0),
    ),
    // 1.3.6.1.2.1.33.1.3.3.1.2.1|2|500 (0.1 Hz)
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_input_frequency_hertz",
        &[("ups_input_line", "1")],
        Some(50.0),
    ),
    // 1.3.6.1.2.1.33.1.4.4.1.3.1|2|270 (0.1 A), .4.1|2|5100 (W), .5.1|2|21 (%)
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_output_current_amperes",
        &[("ups_output_line", "1")],
        Some(27.0),
    ),
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_output_power_watts",
        &[("ups_output_line", "1")],
        Some(5100.0),
    ),
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_output_load_ratio",
        &[("ups_output_line", "1")],
        Some(0.21),
    ),
    // 1.3.6.1.2.1.33.1.4.1.0|2|3 (normal)
    want(
        "ups_mib",
        "eaton-93e-80",
        "netkpi_ups_on_battery",
        &[],
        Some(0.0),
    ),
    // 1.3.6.1.2.1.33.1.2.5.0|2|5385: the battery follows the RFC on this card
    want(
        "ups_mib",
        "huawei-gse200m",
        "netkpi_ups_battery_voltage_volts",
        &[],
        Some(538.5),
    ),
    // 1.3.6.1.2.1.33.1.3.3.1.3.1|66|2369: exported as the RFC says (volts);
    // this card means 0.1 V, which huawei_ups corrects
    want(
        "ups_mib",
        "huawei-gse200m",
        "netkpi_ups_input_voltage_volts",
        &[("ups_input_line", "1")],
        Some(2369.0),
    ),
    // 1.3.6.1.2.1.33.1.2.3.0|2|-1 (unknown): no sample
    want(
        "ups_mib",
        "huawei-gse200m",
        "netkpi_ups_battery_runtime_seconds",
        &[],
        None,
    ),
    // --- huawei_ups (same recording, the card's units)
    // 1.3.6.1.2.1.33.1.3.3.1.3.1|66|2369 (0.1 V)
    want(
        "huawei_ups",
        "huawei-gse200m",
        "netkpi_ups_input_voltage_volts",
        &[("ups_input_line", "1")],
        Some(236.9),
    ),
    // 1.3.6.1.2.1.33.1.4.4.1.2.1|66|2199 (0.1 V)
    want(
        "huawei_ups",
        "huawei-gse200m",
        "netkpi_ups_output_voltage_volts",
        &[("ups_output_line", "1")],
        Some(219.9),
    ),
    // 1.3.6.1.2.1.33.1.3.3.1.2.1|66|5000 (0.01 Hz)
    want(
        "huawei_ups",
        "huawei-gse200m",
        "netkpi_ups_input_frequency_hertz",
        &[("ups_input_line", "1")],
        Some(50.0),
    ),
    // 1.3.6.1.2.1.33.1.2.5.0|2|5385 (0.1 V, as the RFC)
    want(
        "huawei_ups",
        "huawei-gse200m",
        "netkpi_ups_battery_voltage_volts",
        &[],
        Some(538.5),
    ),
    // 1.3.6.1.2.1.33.1.4.4.1.3.1|66|183 (0.1 A, as the RFC)
    want(
        "huawei_ups",
        "huawei-gse200m",
        "netkpi_ups_output_current_amperes",
        &[("ups_output_line", "1")],
        Some(18.3),
    ),
    // --- entity_sensor
    // entPhySensor{Type,Scale,Precision,Value,OperStatus}.100006001 =
    // 8 (celsius), 9 (units), 1, 282, 1 (ok); entPhysicalDescr "Cpu temp sensor"
    want(
        "entity_sensor",
        "arista-dcs-7150s-52-cl",
        "netkpi_temperature_celsius",
        &[
            ("ent_physical_index", "100006001"),
            ("ent_physical_descr", "Cpu temp sensor"),
        ],
        Some(28.2),
    ),
    want(
        "entity_sensor",
        "arista-dcs-7150s-52-cl",
        "netkpi_entity_sensor_value",
        &[
            ("ent_physical_index", "100006001"),
            ("sensor_type", "celsius"),
        ],
        Some(28.2),
    ),
    // .13: 8 (celsius), 9, 0, 34, 1; entPhysicalName "Temperature @ Jaguar [U172]"
    want(
        "entity_sensor",
        "paloalto-pa-5000",
        "netkpi_temperature_celsius",
        &[
            ("ent_physical_index", "13"),
            ("ent_physical_name", "Temperature @ Jaguar [U172]"),
        ],
        Some(34.0),
    ),
    // .10: 10 (rpm), 9, 0, 4470, 1; "Fan #9 RPM" (no temperature: filtered)
    want(
        "entity_sensor",
        "paloalto-pa-5000",
        "netkpi_entity_sensor_value",
        &[
            ("ent_physical_index", "10"),
            ("ent_physical_name", "Fan #9 RPM"),
            ("sensor_type", "rpm"),
        ],
        Some(4470.0),
    ),
    want(
        "entity_sensor",
        "paloalto-pa-5000",
        "netkpi_temperature_celsius",
        &[("ent_physical_index", "10")],
        None,
    ),
    // --- host_resources
    // 1.3.6.1.2.1.25.3.3.1.2.768|2|9 (percent); hrDeviceDescr.768 =
    // "GenuineIntel: Intel(R) Xeon(R) CPU E7-4820 v2 @ 2.00GHz"
    want(
        "host_resources",
        "linux-unknown-004",
        "netkpi_host_processor_load_ratio",
        &[
            ("hr_device_index", "768"),
            (
                "hr_device_descr",
                "GenuineIntel: Intel(R) Xeon(R) CPU E7-4820 v2 @ 2.00GHz",
            ),
        ],
        Some(0.09),
    ),
    // 1.3.6.1.2.1.25.3.3.1.2.769|2|4
    want(
        "host_resources",
        "linux-unknown-004",
        "netkpi_host_processor_load_ratio",
        &[("hr_device_index", "769")],
        Some(0.04),
    ),
    // --- apc_powernet
    // rPDULoadStatus{Load,PhaseNumber,BankNumber}.1 = 14 (0.1 A), 1, 0
    want(
        "apc_powernet",
        "apc-8932",
        "netkpi_pdu_load_amperes",
        &[
            ("pdu_load_index", "1"),
            ("pdu_phase", "1"),
            ("pdu_bank", "0"),
        ],
        Some(1.4),
    ),
    // .2 = 13, 0, 1
    want(
        "apc_powernet",
        "apc-8932",
        "netkpi_pdu_load_amperes",
        &[("pdu_load_index", "2"), ("pdu_bank", "1")],
        Some(1.3),
    ),
    // The synthetic file (see tests/fixtures/snmprec/README.md):
    // upsAdvBatteryRunTimeRemaining 1.3.6.1.4.1.318.1.1.1.2.2.3.0|67|72000
    want(
        "apc_powernet",
        "apc-smart-ups-synthetic",
        "netkpi_ups_battery_runtime_seconds",
        &[],
        Some(720.0),
    ),
    // upsBasicOutputStatus .4.1.1.0|2|3 (onBattery)
    want(
        "apc_powernet",
        "apc-smart-ups-synthetic",
        "netkpi_ups_on_battery",
        &[],
        Some(1.0),
    ),
    // probe 2 is disconnected (iemStatusProbeStatus.2|2|1): no sample
    want(
        "apc_powernet",
        "apc-smart-ups-synthetic",
        "netkpi_temperature_celsius",
        &[("probe_index", "2")],
        None,
    ),
    // --- liebert
    // lgpEnvTemperatureMeasurementDegC.1|2|23, its id .1.1.1 (control)
    want(
        "liebert",
        "vertiv-power",
        "netkpi_temperature_celsius",
        &[("sensor_index", "1"), ("point", "control")],
        Some(23.0),
    ),
    // .5|2|37, its id .1.1.11.2 (compressor 2)
    want(
        "liebert",
        "vertiv-power",
        "netkpi_temperature_celsius",
        &[("sensor_index", "5"), ("point", "compressor_2")],
        Some(37.0),
    ),
    // lgpEnvTemperatureHighThresholdDegC.3|2|30 (return air)
    want(
        "liebert",
        "vertiv-power",
        "netkpi_temperature_high_threshold_celsius",
        &[("sensor_index", "3"), ("point", "return_air")],
        Some(30.0),
    ),
    // lgpEnvHumidityMeasurementRel.2|2|42, its id .2.1.2 (return air)
    want(
        "liebert",
        "vertiv-power",
        "netkpi_humidity_ratio",
        &[("sensor_index", "2"), ("point", "return_air")],
        Some(0.42),
    ),
    // --- huawei
    // hwEntity{CpuUsage,MemUsage,Temperature}.68419593 = 41, 14, 34;
    // entPhysicalName "MPU Board 5"
    want(
        "huawei",
        "huawei-s12704",
        "netkpi_entity_cpu_usage_ratio",
        &[
            ("ent_physical_index", "68419593"),
            ("ent_physical_name", "MPU Board 5"),
        ],
        Some(0.41),
    ),
    want(
        "huawei",
        "huawei-s12704",
        "netkpi_entity_memory_usage_ratio",
        &[("ent_physical_index", "68419593")],
        Some(0.14),
    ),
    want(
        "huawei",
        "huawei-s12704",
        "netkpi_temperature_celsius",
        &[("ent_physical_index", "68419593")],
        Some(34.0),
    ),
    // hwEntityCpuUsage.67108867|2|0: an entity without a CPU, skipped
    want(
        "huawei",
        "huawei-s12704",
        "netkpi_entity_cpu_usage_ratio",
        &[("ent_physical_index", "67108867")],
        None,
    ),
    // --- h3c
    // Old tree 1.3.6.1.4.1.2011.10.2.6.1.1.1.1.{6,8,12}.30 = 49, 53, 40;
    // entPhysicalName "Level 1 Virtual Module #1"
    want(
        "h3c",
        "h3c-e528-1",
        "netkpi_entity_cpu_usage_ratio",
        &[
            ("ent_physical_index", "30"),
            ("ent_physical_name", "Level 1 Virtual Module #1"),
        ],
        Some(0.49),
    ),
    want(
        "h3c",
        "h3c-e528-1",
        "netkpi_entity_memory_usage_ratio",
        &[("ent_physical_index", "30")],
        Some(0.53),
    ),
    want(
        "h3c",
        "h3c-e528-1",
        "netkpi_temperature_celsius",
        &[("ent_physical_index", "30")],
        Some(40.0),
    ),
    // New tree 1.3.6.1.4.1.25506.2.6.1.1.1.1.{8,12}.30 = 55, 40 (its CPU
    // cell is an snmpsim variation, not a recorded value)
    want(
        "h3c",
        "h3c-e528-2",
        "netkpi_entity_memory_usage_ratio",
        &[
            ("ent_physical_index", "30"),
            ("ent_physical_name", "Level 1 Virtual Module #1"),
        ],
        Some(0.55),
    ),
    want(
        "h3c",
        "h3c-e528-2",
        "netkpi_temperature_celsius",
        &[("ent_physical_index", "30")],
        Some(40.0),
    ),
];

/// Checks `WANT` for one profile and recording.
fn check_exact(profile: &Profile, recording: &str, samples: &[Sample], failures: &mut Vec<String>) {
    for w in WANT
        .iter()
        .filter(|w| w.profile == profile.name && w.recording == recording)
    {
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name() == w.metric)
            .filter(|s| w.labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .collect();
        let at = format!("{} x {recording}: {}{:?}", w.profile, w.metric, w.labels);
        match (w.value, found.as_slice()) {
            (None, []) => {}
            (None, _) => failures.push(format!("{at}: expected no sample, got {}", found.len())),
            (Some(v), [s]) if s.value == v => {}
            (Some(v), [s]) => failures.push(format!("{at}: expected {v}, got {}", s.value)),
            (Some(v), _) => failures.push(format!(
                "{at}: expected one sample of {v}, got {}",
                found.len()
            )),
        }
    }
    // if_mib's promise: a name for every interface (ifName, ifDescr, ifIndex).
    if profile.name == "if_mib" {
        let named = |s: &&Sample| s.label("if_name").is_some_and(|n| !n.trim().is_empty());
        if let Some(s) = samples.iter().find(|s| !named(s)) {
            failures.push(format!("if_mib x {recording}: empty if_name in {s:?}"));
        }
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

/// Exact values, independent of the golden files and of `NETKPI_BLESS`.
#[test]
fn exact_values_from_the_recordings() {
    let profiles = builtin();
    let mut failures = Vec::new();
    for p in &profiles {
        let n = WANT.iter().filter(|w| w.profile == p.name).count();
        if n < 2 {
            failures.push(format!(
                "shipped profile {} has {n} exact values in WANT; give it at least 2",
                p.name
            ));
        }
    }
    for w in WANT {
        let listed = CASES
            .iter()
            .any(|(p, recs)| *p == w.profile && recs.contains(&w.recording));
        if !listed {
            failures.push(format!(
                "WANT names {} x {}, not in CASES",
                w.profile, w.recording
            ));
        }
    }
    for (name, recordings) in CASES {
        let profile = profiles
            .iter()
            .find(|p| p.name == *name)
            .unwrap_or_else(|| panic!("no shipped profile {name}"));
        for rec in *recordings {
            if !WANT
                .iter()
                .any(|w| w.profile == *name && w.recording == *rec)
            {
                failures.push(format!("{name} x {rec} has no exact values in WANT"));
            }
            let samples = profile.evaluate(&answer(&load_recording(rec), &profile.requests()));
            check_exact(profile, rec, &samples, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

/// Each shipped profile with `[energy]` gives the output power the
/// recordings hold, computed here by hand from their cells.
#[test]
fn output_power_from_the_recordings() {
    use crate::energy::{power, Power};
    let profiles = builtin();
    let cases = [
        // upsOutputPower .1.3.6.1.2.1.33.1.4.4.1.4.{1,2,3}: 5100, 3600, 2700 W.
        (
            "ups_mib",
            "eaton-93e-80",
            5_100.0 + 3_600.0 + 2_700.0,
            false,
        ),
        // huawei_ups: upsOutputVoltage .4.4.1.2.1 = 2199 (0.1 V) ×
        // upsOutputCurrent .4.4.1.3.1 = 183 (0.1 A); its upsOutputPower (34)
        // is not in watts and is not used.
        ("huawei_ups", "huawei-gse200m", 219.9 * 18.3, true),
        // upsAdvOutputVoltage .318.1.1.1.4.2.1.0 = 230 V ×
        // upsAdvOutputCurrent .318.1.1.1.4.2.4.0 = 5 A.
        ("apc_powernet", "apc-smart-ups-synthetic", 230.0 * 5.0, true),
    ];
    for (name, recording, watts, apparent) in cases {
        let profile = profiles.iter().find(|p| p.name == name).unwrap();
        let spec = profile.energy.as_ref().expect("[energy]");
        let rec = load_recording(recording);
        let samples = profile.evaluate(&answer(&rec, &profile.requests()));
        let got = power(spec, &samples.into()).unwrap_or_else(|| panic!("{name} x {recording}"));
        assert!(
            (got.watts - watts).abs() < 1e-9 && got.apparent == apparent,
            "{name} x {recording}: {got:?}, want {:?}",
            Power { watts, apparent }
        );
    }
    for p in profiles.iter().filter(|p| p.energy.is_some()) {
        assert!(
            ["ups_mib", "huawei_ups", "apc_powernet"].contains(&p.name.as_str()),
            "{} has [energy] but no case here",
            p.name
        );
    }
}
