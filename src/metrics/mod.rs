//! Every metric netkpi exports, registered in one place.
//!
//! * [`instruments`]: what the probing side records as it happens (probe
//!   round durations and failures, traps, reboots); a leaf module.
//! * [`collector`]: the series that mirror a state, rendered at scrape time
//!   from the live view and the inventory in force.
//!
//! [`Metrics`] is the registry holding both; it derefs to its
//! [`Instruments`], which is all a writer needs.

pub mod collector;
mod incidents;
mod indicators;
pub mod instruments;

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use collector::Sources;
pub use instruments::{DeviceLabel, Instruments, ProberLabels, ProberReason, TrapLabels};

/// The text formats a scrape can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4, what a plain scrape (and promtool) reads.
    Prometheus,
    /// OpenMetrics text, for scrapers that ask for it in `Accept`.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    instruments: Instruments,
    /// Filled in once the daemon's parts exist; read at scrape time.
    sources: Arc<OnceLock<Sources>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let instruments = Instruments::register(&mut registry);
        registry.register(
            "netkpi_build",
            "Version of the running netkpi",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", env!("NETKPI_COMMIT")),
            ]),
        );
        let sources: Arc<OnceLock<Sources>> = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(collector::Snapshot {
            sources: sources.clone(),
        }));
        Metrics {
            registry,
            instruments,
            sources,
        }
    }

    /// Connects the scrape-time sources; the first call wins.
    pub fn attach(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// Writes the exposition in `format` to `out` as it is encoded (a
    /// scrape streams it; nothing holds the whole text). An error from
    /// `out` stops the encoding.
    pub fn encode_into(&self, format: Format, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(out, &self.registry)
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(out, &self.registry),
        }
    }

    /// Prometheus text format 0.0.4, what a plain scrape (and promtool) reads.
    pub fn encode_prometheus(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.encode_into(Format::Prometheus, &mut out);
        out
    }
}

impl Deref for Metrics {
    type Target = Instruments;

    fn deref(&self) -> &Instruments {
        &self.instruments
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::inventory::Inventory;
    use crate::live::{AvailabilityTable, Live, RoundStatus, WindowFigures};
    use crate::model::{State, TargetKind, Transition};
    use crate::probes::{Prober, Readings};
    use crate::store::StoreStats;
    use crate::tally::{Tallies, Tally};

    const CONFIG: &str = r#"
[defaults]
icmp = { interval = "10s", timeout = "1s", count = 3, down_after = 2, up_after = 2 }

[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
icmp = {}
snmp = { community = "public", profiles = ["if_mib"] }

[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
parent = "core-r1"
icmp = {}

[[line]]
id = "L-001"
unit = "Finance Bureau"
carrier = "Carrier A"
bandwidth = "100M"
device = "acc-001"
interface = { device = "core-r1", name = "GigabitEthernet0/0/1" }

[[line]]
id = "L-002"
unit = "Tax Office"
carrier = "Carrier B"
device = "acc-001"

[[sla.override]]
match = { carrier = "Carrier B" }
availability_target = 0.99
"#;

    /// core-r1 up, acc-001 down, L-001 degraded, L-002 unknown (no entry),
    /// and a line no longer configured with a tally.
    fn scrape() -> String {
        let config = crate::config::load_str(std::path::Path::new("t.toml"), CONFIG).unwrap();
        let inventory = Arc::new(Inventory::new(&config));
        let at = Timestamp::from_second(1_780_000_000).unwrap();
        let entry = |kind, target: &str, state| Transition {
            target: target.into(),
            kind,
            at,
            state,
            cause: None,
        };
        let latest = [
            entry(TargetKind::Device, "core-r1", State::Up),
            entry(TargetKind::Device, "acc-001", State::Down),
            entry(TargetKind::Line, "L-001", State::Degraded),
            entry(TargetKind::Line, "gone", State::Up),
        ];
        let mut tallies = Tallies::new();
        for (kind, name) in [(TargetKind::Device, "core-r1"), (TargetKind::Line, "gone")] {
            tallies.insert(
                (kind, name.into()),
                Tally {
                    state: State::Up,
                    until: at,
                    ms: [1_500, 0, 250, 0, 0],
                },
            );
        }
        let live = Arc::new(Live::new(inventory.clone(), &latest, &tallies));
        let mut ratios = AvailabilityTable::new(inventory);
        ratios.set(
            TargetKind::Line,
            "L-001",
            [
                WindowFigures::default(),
                WindowFigures {
                    availability: Some(0.25),
                    coverage: Some(0.5),
                },
                WindowFigures {
                    availability: Some(0.75),
                    coverage: Some(1.0),
                },
                WindowFigures {
                    availability: Some(0.5),
                    coverage: Some(1.0),
                },
                WindowFigures {
                    availability: Some(1.0),
                    coverage: Some(0.125),
                },
            ],
        );
        live.set_availability(ratios);
        live.record_round(
            "core-r1",
            Prober::Icmp,
            RoundStatus {
                at: Some(at),
                duration_seconds: Some(0.5),
                failure: None,
                readings: Readings {
                    rtt_seconds: Some(0.001),
                    loss_ratio: Some(0.0),
                    ..Readings::default()
                },
            },
        );
        let metrics = Metrics::new();
        metrics.observe_poll("icmp", 0.2, Some("timeout"));
        let store = StoreStats::default();
        store.set_ledger_head(crate::store::LedgerHead {
            records: 9,
            hash: (0..32).collect(),
            at: Some(at),
        });
        metrics.attach(Sources {
            live,
            icmp: None,
            store: Arc::new(store),
            traps: Arc::new(OnceLock::new()),
        });
        metrics.encode_prometheus()
    }

    #[test]
    fn state_derived_families_follow_the_live_view_and_the_inventory() {
        let text = scrape();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        for want in [
            r#"netkpi_device_up{device="core-r1",role="router",site=""} 1.0"#,
            r#"netkpi_device_up{device="acc-001",role="access_egress",site=""} 0.0"#,
            r#"netkpi_line_up{line="L-001",unit="Finance Bureau",carrier="Carrier A"} 1.0"#,
            "netkpi_units_connected_ratio 0.5",
            r#"netkpi_state_seconds_total{target="core-r1",kind="device",state="up"} 1.5"#,
            r#"netkpi_state_seconds_total{target="core-r1",kind="device",state="down"} 0.25"#,
            r#"netkpi_availability_ratio{target="L-001",kind="line",window="30d"} 0.25"#,
            r#"netkpi_availability_ratio{target="L-001",kind="line",window="ytd"} 0.75"#,
            r#"netkpi_availability_ratio{target="L-001",kind="line",window="mtd"} 0.5"#,
            r#"netkpi_availability_ratio{target="L-001",kind="line",window="last_month"} 1.0"#,
            r#"netkpi_coverage_ratio{target="L-001",kind="line",window="last_month"} 0.125"#,
            r#"netkpi_coverage_ratio{target="L-001",kind="line",window="30d"} 0.5"#,
            r#"netkpi_availability_target_ratio{target="L-001",kind="line"} 0.999"#,
            r#"netkpi_availability_target_ratio{target="L-002",kind="line"} 0.99"#,
            r#"netkpi_availability_target_ratio{target="acc-001",kind="device"} 0.999"#,
            r#"netkpi_icmp_rtt_seconds{device="core-r1"} 0.001"#,
            r#"netkpi_poll_last_duration_seconds{device="core-r1",prober="icmp"} 0.5"#,
            r#"netkpi_devices_monitored{role="router"} 1.0"#,
            "netkpi_lines_configured 2.0",
            "netkpi_core_rooms_planned 0.0",
            // Every configured target, whatever its state (L-002 is unknown).
            r#"netkpi_device_info{device="core-r1",parent="",site="",role="router"} 1"#,
            r#"netkpi_device_info{device="acc-001",parent="core-r1",site="",role="access_egress"} 1"#,
            // The core-side port a line is watched on, if any.
            r#"netkpi_line_info{line="L-001",device="acc-001",unit="Finance Bureau",carrier="Carrier A",bandwidth="100M",interface_device="core-r1",if_name="GigabitEthernet0/0/1"} 1"#,
            r#"netkpi_line_info{line="L-002",device="acc-001",unit="Tax Office",carrier="Carrier B",bandwidth="",interface_device="",if_name=""} 1"#,
            r#"netkpi_poll_errors_total{prober="icmp",reason="timeout"} 1"#,
            "netkpi_store_healthy 1.0",
            "netkpi_ledger_records 9.0",
            r#"netkpi_ledger_head_info{head="0001020304050607"} 1"#,
        ] {
            assert!(lines.contains(&want), "{want} missing from\n{text}");
        }
        // Unknown is absent, not a guess; a target no longer configured is gone.
        for absent in [r#"line="L-002""#, r#"target="gone""#, r#"window="1d""#] {
            assert!(
                !lines
                    .iter()
                    .filter(|l| !l.starts_with("netkpi_line_info"))
                    .any(|l| l.contains(absent)),
                "{absent} in\n{text}"
            );
        }
        assert!(!text.contains(r#""gone""#), "{text}");
        // The instruments first, then the build info, then the collector's
        // families in their fixed order.
        let order: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let at = |name: &str| order.iter().position(|n| *n == name).unwrap();
        let sequence = [
            "netkpi_poll_duration_seconds",
            "netkpi_poll_errors_total",
            "netkpi_build_info",
            "netkpi_device_up",
            "netkpi_line_up",
            "netkpi_units_connected_ratio",
            "netkpi_state_seconds_total",
            "netkpi_availability_ratio",
            "netkpi_coverage_ratio",
            "netkpi_availability_target_ratio",
            "netkpi_icmp_rtt_seconds",
            "netkpi_devices_monitored",
            "netkpi_lines_planned",
            "netkpi_device_info",
            "netkpi_line_info",
            "netkpi_poll_last_duration_seconds",
            "netkpi_store_healthy",
            "netkpi_store_lost_spans_total",
            "netkpi_ledger_records",
            "netkpi_ledger_head_info",
        ];
        for pair in sequence.windows(2) {
            assert!(at(pair[0]) < at(pair[1]), "{pair:?} in {order:?}");
        }
    }

    #[test]
    fn nothing_state_derived_before_the_sources_are_attached() {
        let metrics = Metrics::new();
        let text = metrics.encode_prometheus();
        assert!(text.contains("netkpi_build_info"), "{text}");
        assert!(!text.contains("netkpi_device_up"), "{text}");
        assert!(!text.contains("netkpi_store_healthy"), "{text}");
    }
}
