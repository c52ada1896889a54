//! The instruments the probing side writes as things happen: probe round
//! durations and failures, traps received, reboots seen. A leaf: it depends
//! on nothing but prometheus-client, so whatever records into it needs no
//! other part of netkpi.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Static words (a prober's name, a failure's reason), so recording a
/// round allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProberLabels {
    pub prober: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabel {
    pub device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrapLabels {
    pub version: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProberReason {
    pub prober: &'static str,
    pub reason: &'static str,
}

/// Buckets for probe rounds: 1 ms to 30 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub struct Instruments {
    pub poll_duration_seconds: Family<ProberLabels, Histogram>,
    pub poll_errors_total: Family<ProberReason, Counter>,
    pub traps_received_total: Family<TrapLabels, Counter>,
    pub reboots_total: Family<DeviceLabel, Counter>,
    pub tls_handshake_failures_total: Family<ReasonLabel, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

impl Instruments {
    /// Creates the instruments and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Instruments {
        let poll_duration_seconds = Family::<ProberLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(DURATION_BUCKETS)
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
        let traps_received_total = Family::<TrapLabels, Counter>::default();
        registry.register(
            "netkpi_traps_received",
            "Traps and informs accepted, by SNMP version and kind (link_down, link_up, cold_start, ups_on_battery, other, ...)",
            traps_received_total.clone(),
        );
        let reboots_total = Family::<DeviceLabel, Counter>::default();
        registry.register(
            "netkpi_device_reboots",
            "Reboots seen over SNMP (sysUpTime went back) since netkpi started",
            reboots_total.clone(),
        );
        let tls_handshake_failures_total = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "netkpi_http_tls_handshake_failures",
            "HTTPS connections closed before a request: plain HTTP sent to the TLS port (plain_http), other bytes (not_tls), no handshake within the header timeout (timeout), or a refused handshake (error)",
            tls_handshake_failures_total.clone(),
        );
        Instruments {
            tls_handshake_failures_total,
            poll_duration_seconds,
            poll_errors_total,
            traps_received_total,
            reboots_total,
        }
    }

    /// An HTTPS connection that failed before its handshake completed.
    pub fn count_tls_handshake_failure(&self, reason: &str) {
        self.tls_handshake_failures_total
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn count_reboot(&self, device: &str) {
        self.reboots_total
            .get_or_create(&DeviceLabel {
                device: device.to_string(),
            })
            .inc();
    }

    /// A trap or inform accepted: its SNMP version and kind, as named by
    /// the trap receiver.
    pub fn count_trap(&self, version: &str, kind: &str) {
        self.traps_received_total
            .get_or_create(&TrapLabels {
                version: version.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    pub fn observe_poll(&self, prober: &'static str, seconds: f64, failure: Option<&'static str>) {
        self.poll_duration_seconds
            .get_or_create(&ProberLabels { prober })
            .observe(seconds);
        if let Some(reason) = failure {
            self.poll_errors_total
                .get_or_create(&ProberReason { prober, reason })
                .inc();
        }
    }
}

impl std::fmt::Debug for Instruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instruments").finish_non_exhaustive()
    }
}
