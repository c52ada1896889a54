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
pub mod instruments;

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use collector::Sources;
pub use instruments::{DeviceLabel, Instruments, ProberLabels, ProberReason, TrapLabels};

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
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
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
