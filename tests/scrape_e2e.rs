//! README "Metrics reference": "A scrape passes `promtool check metrics`".
//! `api_e2e` checks that on an ICMP-only daemon; here the scrape also holds
//! SNMP devices of every shipped profile (net-snmp `snmpd` and snmpsim
//! recordings), SNMP failures, and traps received and refused
//! (`tests/common/full_lab.rs`). No finding is allowed.

mod common;

use common::full_lab::{promtool_findings, with_full_lab, SIMULATED};
use common::sample;

/// A profile metric each SNMP device must show (from its golden file).
const PROFILE_SAMPLES: &[(&str, &str)] = &[
    ("sw-snmpd", "netkpi_if_oper_up"),
    ("sw-huawei", "netkpi_entity_cpu_usage_ratio"),
    ("fw-paloalto", "netkpi_entity_sensor_value"),
    ("ups-eaton", "netkpi_ups_output_power_watts"),
    ("ups-apc", "netkpi_apc_ups_output_status"),
    ("pdu-apc", "netkpi_pdu_load_amperes"),
    ("ac-vertiv", "netkpi_liebert_conditions_present"),
    ("sw-h3c", "netkpi_entity_memory_usage_ratio"),
    ("srv-linux", "netkpi_host_processor_load_ratio"),
];

#[test]
fn a_scrape_with_snmp_devices_and_traps_passes_promtool() {
    with_full_lab(|daemon| {
        let plain = daemon.request("/metrics", &[]);
        assert_eq!(plain.status, 200, "{}", plain.body);
        let content_type = plain.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "content-type {content_type:?}"
        );
        let m = plain.body;

        // The scrape really holds what is to be checked.
        assert_eq!(
            PROFILE_SAMPLES.len(),
            SIMULATED.len() + 1,
            "one profile sample per SNMP device that answers"
        );
        for (device, metric) in PROFILE_SAMPLES {
            assert!(
                sample(&m, metric, &[("device", device)]).is_some(),
                "no {metric} of {device} in the scrape:\n{m}"
            );
        }
        assert!(
            sample(
                &m,
                "netkpi_ups_battery_runtime_seconds",
                &[("device", "ups-eaton")]
            )
            .is_some(),
            "a UPS's runtime (in seconds, promtool's base unit) is in the scrape"
        );
        for (version, kind) in [("v1", "link_down"), ("v2c", "link_up")] {
            assert_eq!(
                sample(
                    &m,
                    "netkpi_traps_received_total",
                    &[("version", version), ("kind", kind)]
                ),
                Some(1.0),
                "{m}"
            );
        }
        assert_eq!(
            sample(&m, "netkpi_trap_informs_acknowledged_total", &[]),
            Some(1.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                "netkpi_traps_rejected_total",
                &[("reason", "bad_community")]
            ),
            Some(1.0),
            "{m}"
        );
        let snmp_errors: f64 = m
            .lines()
            .filter(|l| l.starts_with("netkpi_poll_errors_total{") && l.contains("prober=\"snmp\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(snmp_errors >= 1.0, "ups-mute's failed polls: {m}");
        assert_eq!(
            sample(&m, "netkpi_device_up", &[("device", "acc-silent")]),
            Some(0.0),
            "{m}"
        );

        let findings = promtool_findings(&m);
        assert!(
            findings.is_empty(),
            "promtool check metrics found:\n{}\n--- scrape:\n{m}",
            findings.join("\n")
        );
    });
}
