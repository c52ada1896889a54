//! Every metric netkpi exports, declared in one place (SPEC §5).
//!
//! Event-driven values live in families updated by the ledger and the store
//! writer; counters that already exist elsewhere (ledger seconds, ICMP packet
//! counts, store statistics) are read at scrape time by [`Snapshot`], so there
//! is one source of truth for each figure.

use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::live::Live;
use crate::model::State;
use crate::probes::icmp::IcmpPinger;
use crate::store::StoreStats;

pub type GaugeF = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabels {
    pub device: String,
    pub role: String,
    pub site: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LineLabels {
    pub line: String,
    pub unit: String,
    pub carrier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AvailabilityLabels {
    pub target: String,
    pub kind: String,
    pub window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceOnly {
    pub device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProberLabels {
    pub prober: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProberReason {
    pub prober: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoleLabels {
    pub role: String,
}

/// Buckets for probe rounds and store commits: 1 ms to ~30 s.
fn duration_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ]
    .into_iter()
}

pub struct Metrics {
    registry: Registry,
    pub device_up: Family<DeviceLabels, Gauge>,
    pub line_up: Family<LineLabels, Gauge>,
    pub availability_ratio: Family<AvailabilityLabels, GaugeF>,
    pub icmp_rtt_seconds: Family<DeviceOnly, GaugeF>,
    pub icmp_loss_ratio: Family<DeviceOnly, GaugeF>,
    pub units_connected_ratio: GaugeF,
    pub devices_monitored: Family<RoleLabels, Gauge>,
    pub devices_planned: Family<RoleLabels, Gauge>,
    pub lines_configured: Gauge,
    pub lines_planned: Gauge,
    pub poll_duration_seconds: Family<ProberLabels, Histogram>,
    pub poll_errors_total: Family<ProberReason, Counter>,
    /// Filled in once the daemon's parts exist; read at scrape time.
    sources: Arc<OnceLock<Sources>>,
}

/// The components whose own counters are exported at scrape time.
#[derive(Clone, Debug)]
pub struct Sources {
    pub live: Arc<Live>,
    pub icmp: Option<Arc<IcmpPinger>>,
    pub store: Arc<StoreStats>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let device_up = Family::<DeviceLabels, Gauge>::default();
        registry.register(
            "netkpi_device_up",
            "Whether the device answers (1 up or degraded, 0 down); absent while unknown",
            device_up.clone(),
        );
        let line_up = Family::<LineLabels, Gauge>::default();
        registry.register(
            "netkpi_line_up",
            "Whether the leased line carries traffic (1 up or degraded, 0 down); absent while unknown",
            line_up.clone(),
        );
        let availability_ratio = Family::<AvailabilityLabels, GaugeF>::default();
        registry.register(
            "netkpi_availability_ratio",
            "(up + degraded) / (up + degraded + down) over the window, maintenance excluded",
            availability_ratio.clone(),
        );
        let icmp_rtt_seconds = Family::<DeviceOnly, GaugeF>::default();
        registry.register(
            "netkpi_icmp_rtt_seconds",
            "Average round-trip time of the device's last ICMP round",
            icmp_rtt_seconds.clone(),
        );
        let icmp_loss_ratio = Family::<DeviceOnly, GaugeF>::default();
        registry.register(
            "netkpi_icmp_loss_ratio",
            "Share of echoes lost in the device's last ICMP round",
            icmp_loss_ratio.clone(),
        );
        let units_connected_ratio = GaugeF::default();
        registry.register(
            "netkpi_units_connected_ratio",
            "Lines up or degraded now divided by lines configured",
            units_connected_ratio.clone(),
        );
        let devices_monitored = Family::<RoleLabels, Gauge>::default();
        registry.register(
            "netkpi_devices_monitored",
            "Devices configured with at least one prober, by role",
            devices_monitored.clone(),
        );
        let devices_planned = Family::<RoleLabels, Gauge>::default();
        registry.register(
            "netkpi_devices_planned",
            "Devices the evaluation table plans for (role core or access_egress)",
            devices_planned.clone(),
        );
        let lines_configured = Gauge::default();
        registry.register(
            "netkpi_lines_configured",
            "Leased lines in the config",
            lines_configured.clone(),
        );
        let lines_planned = Gauge::default();
        registry.register(
            "netkpi_lines_planned",
            "Leased lines the evaluation table plans for",
            lines_planned.clone(),
        );
        let poll_duration_seconds = Family::<ProberLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(duration_buckets())
        });
        registry.register(
            "netkpi_poll_duration_seconds",
            "Wall time of one probe round",
            poll_duration_seconds.clone(),
        );
        let poll_errors_total = Family::<ProberReason, Counter>::default();
        registry.register(
            "netkpi_poll_errors",
            "Probe rounds that failed, by reason",
            poll_errors_total.clone(),
        );
        registry.register(
            "netkpi_build",
            "Version of the running netkpi",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let sources: Arc<OnceLock<Sources>> = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(Snapshot {
            sources: sources.clone(),
        }));
        Metrics {
            registry,
            device_up,
            line_up,
            availability_ratio,
            icmp_rtt_seconds,
            icmp_loss_ratio,
            units_connected_ratio,
            devices_monitored,
            devices_planned,
            lines_configured,
            lines_planned,
            poll_duration_seconds,
            poll_errors_total,
            sources,
        }
    }

    /// Connects the scrape-time sources; the first call wins.
    pub fn attach(&self, sources: Sources) {
        let _ = self.sources.set(sources);
    }

    /// Prometheus text format 0.0.4, what a plain scrape (and promtool) reads.
    pub fn encode_prometheus(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// OpenMetrics text, for scrapers that ask for it in `Accept`.
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn count_poll_error(&self, prober: &str, reason: &str) {
        self.poll_errors_total
            .get_or_create(&ProberReason {
                prober: prober.to_string(),
                reason: reason.to_string(),
            })
            .inc();
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

/// Scrape-time collector for values whose source of truth lives elsewhere.
#[derive(Debug)]
struct Snapshot {
    sources: Arc<OnceLock<Sources>>,
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(&[(&str, &str)], f64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (labels, value) in samples {
        let c = ConstCounter::new(*value);
        c.encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    ConstGauge::new(value).encode(metric)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(sources) = self.sources.get() else {
            return Ok(());
        };
        let now = jiff::Timestamp::now();
        {
            let mut metric = encoder.encode_descriptor(
                "netkpi_state_seconds",
                "Seconds each target has spent in each state since it was first monitored (from the durable ledger, survives restarts)",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (kind, name, seconds) in sources.live.state_seconds(now) {
                for (state, value) in State::ALL.iter().zip(seconds) {
                    let labels = [
                        ("target", name.as_str()),
                        ("kind", kind.as_str()),
                        ("state", state.as_str()),
                    ];
                    ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
                }
            }
        }
        if let Some(pinger) = &sources.icmp {
            let icmp = pinger.stats();
            counter(
                &mut encoder,
                "netkpi_icmp_echoes_sent",
                "ICMP echo requests sent",
                &[(&[], icmp.echoes_sent.load(Ordering::Relaxed) as f64)],
            )?;
            counter(
                &mut encoder,
                "netkpi_icmp_replies_received",
                "ICMP echo replies matched to a request in time",
                &[(&[], icmp.replies_received.load(Ordering::Relaxed) as f64)],
            )?;
            let ignored: Vec<(&'static str, u64)> = icmp.ignored().to_vec();
            let reasons: Vec<[(&str, &str); 1]> =
                ignored.iter().map(|(r, _)| [("reason", *r)]).collect();
            let samples: Vec<(&[(&str, &str)], f64)> = reasons
                .iter()
                .zip(&ignored)
                .map(|(labels, (_, v))| (labels.as_slice(), *v as f64))
                .collect();
            counter(
                &mut encoder,
                "netkpi_icmp_packets_ignored",
                "Received ICMP packets that matched no request in flight, by reason",
                &samples,
            )?;
        }
        let store = &sources.store;
        gauge(
            &mut encoder,
            "netkpi_store_healthy",
            "1 while the store accepts writes, 0 while writes fail and are retried",
            if store.healthy.load(Ordering::Relaxed) {
                1.0
            } else {
                0.0
            },
        )?;
        gauge(
            &mut encoder,
            "netkpi_store_pending_transitions",
            "Transitions waiting to be written after a store error",
            store.pending.load(Ordering::Relaxed) as f64,
        )?;
        counter(
            &mut encoder,
            "netkpi_store_write_errors",
            "Failed store writes (each is retried)",
            &[(&[], store.write_errors_total.load(Ordering::Relaxed) as f64)],
        )?;
        counter(
            &mut encoder,
            "netkpi_store_transitions_written",
            "Transitions committed durably",
            &[(
                &[],
                store.transitions_written_total.load(Ordering::Relaxed) as f64,
            )],
        )?;
        counter(
            &mut encoder,
            "netkpi_store_lost_spans",
            "Times the retry buffer overflowed and a span was recorded as unknown",
            &[(&[], store.lost_spans_total.load(Ordering::Relaxed) as f64)],
        )?;
        Ok(())
    }
}
