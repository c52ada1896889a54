//! The families rendered at scrape time from the state they mirror: device
//! and line up, time in state, availability, last RTT and loss, quantities,
//! which target sits behind which (device and line info), what the SNMP
//! profiles read, and the trap receiver's, ICMP socket's and
//! store's own counters. Rendered from the live view and the inventory in
//! force, they can never disagree with the ledger and vanish by themselves
//! when a reload removes a target.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::availability::WINDOWS;
use crate::config::Role;
use crate::inventory::timing;
use crate::inventory::Inventory;
use crate::live::{Live, WindowFigures};
use crate::model::{State, TargetKind};
use crate::probes::icmp::IcmpPinger;
use crate::probes::snmp::profile::{Family, SampleKind, Samples};
use crate::probes::snmp::traps::TrapStats;
use crate::probes::Prober;
use crate::store::StoreStats;

/// The components whose state is exported at scrape time.
#[derive(Clone, Debug)]
pub struct Sources {
    pub live: Arc<Live>,
    pub icmp: Option<Arc<IcmpPinger>>,
    pub store: Arc<StoreStats>,
    /// Set once the trap receiver runs.
    pub traps: Arc<OnceLock<Arc<TrapStats>>>,
}

/// Scrape-time collector for values whose source of truth lives elsewhere.
#[derive(Debug)]
pub(super) struct Snapshot {
    pub(super) sources: Arc<OnceLock<Sources>>,
}

/// One metric family written sample by sample.
pub(super) struct FamilyWriter<'a> {
    encoder: prometheus_client::encoding::MetricEncoder<'a>,
    metric_type: MetricType,
}

impl FamilyWriter<'_> {
    pub(super) fn sample(
        &mut self,
        labels: &[(&str, &str)],
        value: f64,
    ) -> Result<(), std::fmt::Error> {
        let encoder = self.encoder.encode_family(&labels)?;
        match self.metric_type {
            MetricType::Counter => ConstCounter::new(value).encode(encoder),
            _ => ConstGauge::new(value).encode(encoder),
        }
    }
}

pub(super) fn family<'a>(
    encoder: &'a mut DescriptorEncoder,
    name: &'a str,
    help: &str,
    metric_type: MetricType,
) -> Result<FamilyWriter<'a>, std::fmt::Error> {
    Ok(FamilyWriter {
        encoder: encoder.encode_descriptor(name, help, None, metric_type)?,
        metric_type,
    })
}

/// The values the devices' probers read (SNMP profiles today), one family
/// per metric name across devices, each sample labelled with its device.
/// Written straight from each device's packed round: for each name, each
/// device's runs of that family in turn, with no list of every sample
/// (10,000 switches: 2.2 million).
fn encode_profile_samples(
    encoder: &mut DescriptorEncoder,
    live: &Live,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let polled: Vec<(&str, Samples)> = inventory
        .devices
        .iter()
        .flat_map(|d| {
            Prober::ALL
                .into_iter()
                .filter(|&p| timing(d, p).is_some())
                .map(|p| (d.name.as_str(), live.round(&d.name, p).readings.samples))
        })
        .filter(|(_, samples)| !samples.is_empty())
        .collect();
    // Each name once, in order, with the type and help of its first sample.
    let mut names: BTreeMap<&str, &Arc<Family>> = BTreeMap::new();
    for (_, samples) in &polled {
        for (family, _) in samples.families() {
            names.entry(family.name.as_str()).or_insert(family);
        }
    }
    let mut labels: Vec<(&str, &str)> = Vec::new();
    for (full_name, first) in names {
        // The encoder appends `_total` to counters itself.
        let (name, metric_type) = match first.kind {
            SampleKind::Counter => (
                full_name.strip_suffix("_total").unwrap_or(full_name),
                MetricType::Counter,
            ),
            SampleKind::Gauge | SampleKind::Info => (full_name, MetricType::Gauge),
        };
        let mut f = family(encoder, name, &first.help, metric_type)?;
        for (device, samples) in &polled {
            for (family, run) in samples.families() {
                if !Arc::ptr_eq(family, first) && family.name != full_name {
                    continue;
                }
                for sample in run {
                    labels.clear();
                    labels.push(("device", device));
                    labels.extend(sample.labels.iter().map(|(k, v)| (&**k, &**v)));
                    f.sample(&labels, sample.value)?;
                }
            }
        }
    }
    Ok(())
}

/// 1 for a target that delivers service, 0 for one that does not; `None`
/// while unknown (the series is absent rather than a guess).
fn up_value(live: &Live, kind: TargetKind, name: &str) -> Option<f64> {
    match live.status(kind, name)?.state {
        State::Up | State::Degraded => Some(1.0),
        State::Down => Some(0.0),
        State::Unknown | State::Maintenance => None,
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(sources) = self.sources.get() else {
            return Ok(());
        };
        let live = &sources.live;
        let inventory = live.inventory();
        let encoder = &mut encoder;
        encode_up(encoder, live, &inventory)?;
        encode_state_seconds(encoder, live, &inventory)?;
        encode_availability(encoder, live, &inventory)?;
        encode_icmp_rounds(encoder, live, &inventory)?;
        encode_quantities(encoder, &inventory)?;
        encode_inventory_info(encoder, &inventory)?;
        encode_poll_last_duration(encoder, live, &inventory)?;
        encode_profile_samples(encoder, live, &inventory)?;
        encode_energy(encoder, &sources.store, &inventory)?;
        super::incidents::encode_incidents(encoder, live)?;
        super::indicators::encode_indicators(encoder, live)?;
        if let Some(traps) = sources.traps.get() {
            encode_traps(encoder, traps)?;
        }
        if let Some(pinger) = &sources.icmp {
            encode_icmp_socket(encoder, pinger)?;
        }
        encode_store(encoder, &sources.store)
    }
}

/// Whether each device and line delivers service now, and the share of
/// lines that do.
fn encode_up(
    encoder: &mut DescriptorEncoder,
    live: &Live,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let mut f = family(
        encoder,
        "netkpi_device_up",
        "Whether the device answers (1 up or degraded, 0 down); absent while unknown",
        MetricType::Gauge,
    )?;
    for d in inventory.devices.iter() {
        if let Some(v) = up_value(live, TargetKind::Device, &d.name) {
            let labels = [
                ("device", d.name.as_str()),
                ("role", d.role.as_str()),
                ("site", d.site.as_str()),
            ];
            f.sample(&labels, v)?;
        }
    }
    let mut f = family(
        encoder,
        "netkpi_line_up",
        "Whether the leased line carries traffic (1 up or degraded, 0 down); absent while unknown",
        MetricType::Gauge,
    )?;
    let mut connected = 0usize;
    for l in inventory.lines.iter() {
        if let Some(v) = up_value(live, TargetKind::Line, &l.id) {
            connected += (v > 0.0) as usize;
            let labels = [
                ("line", l.id.as_str()),
                ("unit", l.unit.as_str()),
                ("carrier", l.carrier.as_str()),
            ];
            f.sample(&labels, v)?;
        }
    }
    if !inventory.lines.is_empty() {
        family(
            encoder,
            "netkpi_units_connected_ratio",
            "Lines up or degraded now divided by lines configured",
            MetricType::Gauge,
        )?
        .sample(&[], connected as f64 / inventory.lines.len() as f64)?;
    }
    Ok(())
}

/// Seconds each configured target has spent in each state, as far as the
/// ledger holds them durably.
fn encode_state_seconds(
    encoder: &mut DescriptorEncoder,
    live: &Live,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let mut f = family(
        encoder,
        "netkpi_state_seconds",
        "Seconds each target has spent in each state since it was first monitored, as far as the ledger holds it durably (survives restarts, never decreases)",
        MetricType::Counter,
    )?;
    for (kind, name, seconds) in live.state_seconds() {
        let configured = match kind {
            TargetKind::Device => inventory.device(&name).is_some(),
            TargetKind::Line => inventory.line(&name).is_some(),
        };
        if !configured {
            continue;
        }
        for (state, value) in State::ALL.iter().zip(seconds) {
            let labels = [
                ("target", name.as_str()),
                ("kind", kind.as_str()),
                ("state", state.as_str()),
            ];
            f.sample(&labels, value)?;
        }
    }
    Ok(())
}

/// Energy each configured UPS delivered, as far as the store holds it.
fn encode_energy(
    encoder: &mut DescriptorEncoder,
    store: &StoreStats,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let totals = store.energy_joules();
    if totals.is_empty() {
        return Ok(());
    }
    let mut f = family(
        encoder,
        "netkpi_energy_joules",
        "Energy the device delivered at its output since it was first metered, in joules, integrated from its polled output power (apparent power where it gives only voltage and current), as far as the store holds it (survives restarts, never decreases)",
        MetricType::Counter,
    )?;
    for (device, joules) in &totals {
        if inventory.device(device).is_some() {
            f.sample(&[("device", device.as_str())], *joules)?;
        }
    }
    Ok(())
}

/// Availability per window (rolling, year and month to date, last month), as last recomputed from the store.
fn encode_availability(
    encoder: &mut DescriptorEncoder,
    live: &Live,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let families: [(&str, &str, WindowFigure); 2] = [
        (
            "netkpi_availability_ratio",
            "(up + degraded) / (up + degraded + down) over the window, maintenance excluded; refreshed every minute",
            |w| w.availability,
        ),
        (
            "netkpi_coverage_ratio",
            "(up + degraded + down) / (window - maintenance): how much of the window the availability figure stands on; refreshed every minute",
            |w| w.coverage,
        ),
    ];
    for (name, help, figure) in families {
        let mut f = family(encoder, name, help, MetricType::Gauge)?;
        for (kind, target) in inventory.targets() {
            let Some(figures) = live.availability(kind, target) else {
                continue;
            };
            for (window, w) in WINDOWS.iter().zip(figures) {
                if let Some(v) = figure(&w) {
                    let labels = [
                        ("target", target),
                        ("kind", kind.as_str()),
                        ("window", window),
                    ];
                    f.sample(&labels, v)?;
                }
            }
        }
    }
    let mut f = family(
        encoder,
        "netkpi_availability_target_ratio",
        "The availability each target should reach (sla.availability_target, or the [[sla.override]] that applies to it)",
        MetricType::Gauge,
    )?;
    for (kind, name) in inventory.targets() {
        f.sample(
            &[("target", name), ("kind", kind.as_str())],
            inventory.sla_of(kind, name).availability_target,
        )?;
    }
    Ok(())
}

/// Round-trip time and loss of each device's latest ICMP round.
fn encode_icmp_rounds(
    encoder: &mut DescriptorEncoder,
    live: &Live,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let probes: Vec<_> = inventory
        .devices
        .iter()
        .filter(|d| d.icmp.is_some())
        .map(|d| (d.name.as_str(), live.round(&d.name, Prober::Icmp).readings))
        .collect();
    let mut f = family(
        encoder,
        "netkpi_icmp_rtt_seconds",
        "Average round-trip time of the device's last ICMP round (absent when nothing answered)",
        MetricType::Gauge,
    )?;
    for (name, probe) in &probes {
        if let Some(rtt) = probe.rtt_seconds {
            f.sample(&[("device", name)], rtt)?;
        }
    }
    let mut f = family(
        encoder,
        "netkpi_icmp_loss_ratio",
        "Share of echoes lost in the device's last ICMP round",
        MetricType::Gauge,
    )?;
    for (name, probe) in &probes {
        if let Some(loss) = probe.loss_ratio {
            f.sample(&[("device", name)], loss)?;
        }
    }
    Ok(())
}

/// What is configured against what the evaluation table plans for.
fn encode_quantities(
    encoder: &mut DescriptorEncoder,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let mut f = family(
        encoder,
        "netkpi_devices_monitored",
        "Devices configured with at least one prober, by role",
        MetricType::Gauge,
    )?;
    for role in Role::ALL {
        let n = inventory
            .devices
            .iter()
            .filter(|d| d.role == role && d.icmp.is_some())
            .count();
        f.sample(&[("role", role.as_str())], n as f64)?;
    }
    let mut f = family(
        encoder,
        "netkpi_devices_planned",
        "Devices the evaluation table plans for (role core or access_egress)",
        MetricType::Gauge,
    )?;
    f.sample(&[("role", "core")], inventory.planned.core_devices.into())?;
    f.sample(
        &[("role", Role::AccessEgress.as_str())],
        inventory.planned.access_devices.into(),
    )?;
    family(
        encoder,
        "netkpi_lines_configured",
        "Leased lines in the config",
        MetricType::Gauge,
    )?
    .sample(&[], inventory.lines.len() as f64)?;
    family(
        encoder,
        "netkpi_lines_planned",
        "Leased lines the evaluation table plans for",
        MetricType::Gauge,
    )?
    .sample(&[], inventory.planned.leased_lines.into())?;
    family(
        encoder,
        "netkpi_core_rooms_planned",
        "Core machine rooms the evaluation table plans for",
        MetricType::Gauge,
    )?
    .sample(&[], inventory.planned.core_rooms.into())?;
    Ok(())
}

/// Which target sits behind which: one `netkpi_device_info` per device
/// (its parent, site and role) and one `netkpi_line_info` per line (its
/// far-end device, unit, carrier, bandwidth and the core-side port it is
/// watched on, if any), value 1, for alert rules and dashboards to join on. Rendered from the inventory in force, so a
/// reload leaves no stale series.
fn encode_inventory_info(
    encoder: &mut DescriptorEncoder,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    // The encoder appends `_info` to an info family's name.
    let mut f = encoder.encode_descriptor(
        "netkpi_device",
        "Each configured device: its parent (empty when none), site and role; value 1",
        None,
        MetricType::Info,
    )?;
    for d in inventory.devices.iter() {
        let labels = [
            ("device", d.name.as_str()),
            ("parent", d.parent.as_deref().unwrap_or("")),
            ("site", d.site.as_str()),
            ("role", d.role.as_str()),
        ];
        f.encode_info(&labels)?;
    }
    let mut f = encoder.encode_descriptor(
        "netkpi_line",
        "Each configured leased line: its far-end device, unit, carrier, bandwidth, and the device and if_name of its core-side port (each empty when not given); value 1",
        None,
        MetricType::Info,
    )?;
    for l in inventory.lines.iter() {
        let labels = [
            ("line", l.id.as_str()),
            ("device", l.device.as_str()),
            ("unit", l.unit.as_str()),
            ("carrier", l.carrier.as_str()),
            ("bandwidth", l.bandwidth.as_deref().unwrap_or("")),
            (
                "interface_device",
                l.interface.as_ref().map_or("", |i| i.device.as_str()),
            ),
            (
                "if_name",
                l.interface.as_ref().map_or("", |i| i.name.as_str()),
            ),
        ];
        f.encode_info(&labels)?;
    }
    Ok(())
}

/// Wall time of each device's latest round, by prober.
fn encode_poll_last_duration(
    encoder: &mut DescriptorEncoder,
    live: &Live,
    inventory: &Inventory,
) -> Result<(), std::fmt::Error> {
    let mut f = family(
        encoder,
        "netkpi_poll_last_duration_seconds",
        "Wall time of each device's latest round, by prober: which device is slow",
        MetricType::Gauge,
    )?;
    for d in inventory.devices.iter() {
        for prober in Prober::ALL.into_iter().filter(|&p| timing(d, p).is_some()) {
            if let Some(v) = live.round(&d.name, prober).duration_seconds {
                f.sample(
                    &[("device", d.name.as_str()), ("prober", prober.as_str())],
                    v,
                )?;
            }
        }
    }
    Ok(())
}

/// The trap receiver's own counters.
fn encode_traps(encoder: &mut DescriptorEncoder, traps: &TrapStats) -> Result<(), std::fmt::Error> {
    let mut f = family(
        encoder,
        "netkpi_traps_rejected",
        "Trap and inform datagrams refused, by reason (bad community, failed v3 authentication, malformed, ...)",
        MetricType::Counter,
    )?;
    for (reason, n) in traps.rejected_by_reason() {
        f.sample(&[("reason", reason)], n as f64)?;
    }
    family(
        encoder,
        "netkpi_trap_informs_acknowledged",
        "SNMP informs answered",
        MetricType::Counter,
    )?
    .sample(&[], traps.informs_acknowledged() as f64)?;
    Ok(())
}

/// The shared ICMP socket's own counters.
fn encode_icmp_socket(
    encoder: &mut DescriptorEncoder,
    pinger: &IcmpPinger,
) -> Result<(), std::fmt::Error> {
    let icmp = pinger.stats();
    family(
        encoder,
        "netkpi_icmp_echoes_sent",
        "ICMP echo requests sent",
        MetricType::Counter,
    )?
    .sample(&[], icmp.echoes_sent.load(Ordering::Relaxed) as f64)?;
    family(
        encoder,
        "netkpi_icmp_replies_received",
        "ICMP echo replies matched to a request in time",
        MetricType::Counter,
    )?
    .sample(&[], icmp.replies_received.load(Ordering::Relaxed) as f64)?;
    family(
        encoder,
        "netkpi_icmp_echoes_timed_out",
        "ICMP echo requests sent that got neither a reply nor an error within their timeout (replies lost)",
        MetricType::Counter,
    )?
    .sample(&[], icmp.echoes_timed_out.load(Ordering::Relaxed) as f64)?;
    let mut f = family(
        encoder,
        "netkpi_icmp_packets_ignored",
        "Received ICMP packets that matched no request in flight, by reason",
        MetricType::Counter,
    )?;
    for (reason, n) in icmp.ignored() {
        f.sample(&[("reason", reason)], n as f64)?;
    }
    Ok(())
}

/// Picks one figure of a window's.
type WindowFigure = fn(&WindowFigures) -> Option<f64>;

/// The store writer's health and counters.
fn encode_store(
    encoder: &mut DescriptorEncoder,
    store: &StoreStats,
) -> Result<(), std::fmt::Error> {
    let now = jiff::Timestamp::now();
    let gauges = [
        (
            "netkpi_store_healthy",
            "1 while the store commits writes, 0 while writes fail and are retried or one has waited past daemon.store_stall_after",
            if store.is_writing(now) { 1.0 } else { 0.0 },
        ),
        (
            "netkpi_store_pending_transitions",
            "Transitions waiting to be written after a store error",
            store.pending.load(Ordering::Relaxed) as f64,
        ),
        (
            "netkpi_store_oldest_uncommitted_seconds",
            "How long the oldest write not yet committed has waited (0 when nothing waits); grows while a disk is frozen or hung",
            store.oldest_uncommitted(now).as_secs_f64(),
        ),
    ];
    for (name, help, value) in gauges {
        family(encoder, name, help, MetricType::Gauge)?.sample(&[], value)?;
    }
    let counters = [
        (
            "netkpi_store_write_errors",
            "Failed store writes (each is retried)",
            store.write_errors_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "netkpi_store_transitions_written",
            "Transitions committed durably",
            store.transitions_written_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "netkpi_store_commit_seconds",
            "Time spent committing batches of transitions durably (divide by netkpi_store_commits_total for the mean latency)",
            store.commit_seconds_total(),
        ),
        (
            "netkpi_store_commits",
            "Durable commits (each a batch of transitions and/or a heartbeat)",
            store.commits_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "netkpi_store_lost_spans",
            "Times the retry buffer overflowed and a span was recorded as unknown",
            store.lost_spans_total.load(Ordering::Relaxed) as f64,
        ),
    ];
    for (name, help, value) in counters {
        family(encoder, name, help, MetricType::Counter)?.sample(&[], value)?;
    }
    encode_ledger_head(encoder, store)
}

/// The ledger's hash chain head, as last read (at start, then hourly): the
/// copies Prometheus keeps let an auditor check that the ledger was not
/// rewritten since (`netkpi verify --expect-head`).
fn encode_ledger_head(
    encoder: &mut DescriptorEncoder,
    store: &StoreStats,
) -> Result<(), std::fmt::Error> {
    let Some(head) = store.ledger_head() else {
        return Ok(());
    };
    family(
        encoder,
        "netkpi_ledger_records",
        "Records in the ledger's hash chain (transitions, incident events, declared windows) when its head was last read; refreshed hourly",
        MetricType::Gauge,
    )?
    .sample(&[], head.records as f64)?;
    let hex = head.hex();
    // The encoder appends `_info` to an info family's name.
    let mut f = encoder.encode_descriptor(
        "netkpi_ledger_head",
        "The first 16 hex digits of the ledger's hash chain head when last read (hourly); value 1",
        None,
        MetricType::Info,
    )?;
    f.encode_info(&[("head", &hex[..16.min(hex.len())])])
}
