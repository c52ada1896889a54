//! `netkpi run`: wires config, store, probers, ledger, metrics and HTTP
//! together, and takes them down in order on SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::availability;
use crate::config::{Config, Role};
use crate::http;
use crate::inventory::Inventory;
use crate::ledger::{self, Ledger};
use crate::live::Live;
use crate::metrics::{AvailabilityLabels, DeviceLabels, LineLabels, Metrics, RoleLabels, Sources};
use crate::model::{State, TargetKind, Transition};
use crate::probes::icmp::IcmpPinger;
use crate::scheduler::IcmpTask;
use crate::store::{Store, StoreStats, WriterOptions};

/// How often the writer records that the daemon is alive. After a crash, the
/// time since the last heartbeat is recorded as unknown, so at most this much
/// observed time is lost (as unknown, never as up).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How often a failed store write is retried.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// Transitions held in memory while the store fails; beyond this the span is
/// recorded as unknown when the store recovers.
const WRITE_BUFFER_LIMIT: usize = 100_000;
/// The availability gauges are recomputed from the store this often.
const AVAILABILITY_EVERY: Duration = Duration::from_secs(60);
/// ICMP socket receive buffer: with the default (~200 KiB) only about half of
/// 10,000 in-flight replies arrived in our measurements; with 8 MiB all did.
const ICMP_RECV_BUFFER: usize = 8 << 20;
/// Observations queued between the probe tasks and the ledger.
const OBSERVATION_QUEUE: usize = 4096;

/// The parts the HTTP layer reads.
pub struct Shared {
    pub config: Arc<Config>,
    pub inventory: Arc<Inventory>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub store_stats: Arc<StoreStats>,
    /// False once the ledger task has ended (probing stopped).
    pub probing: Arc<std::sync::atomic::AtomicBool>,
}

/// Records the time the daemon was not running as unknown, and gives every
/// newly configured target its first ledger entry.
fn close_gap(store: &mut Store, inventory: &Inventory, now: Timestamp) -> anyhow::Result<()> {
    let heartbeat = store.last_heartbeat()?;
    let latest = store.latest()?;
    let mut batch = Vec::new();
    for t in &latest {
        if t.state != State::Unknown {
            // The last heartbeat is the last instant we know the daemon was
            // watching; a transition written after it (between two
            // heartbeats) still holds from its own time.
            let at = heartbeat.map_or(t.at, |h| h.max(t.at));
            batch.push(Transition {
                target: t.target.clone(),
                kind: t.kind,
                at,
                state: State::Unknown,
                cause: Some("daemon_not_running".into()),
            });
        }
    }
    for (kind, name) in inventory.targets() {
        if !latest.iter().any(|t| t.kind == kind && t.target == name) {
            batch.push(Transition {
                target: name.to_string(),
                kind,
                at: now,
                state: State::Unknown,
                cause: Some("monitoring_started".into()),
            });
        }
    }
    if !batch.is_empty() {
        tracing::info!(
            targets = batch.len(),
            last_heartbeat = ?heartbeat.map(|h| h.to_string()),
            "recording the time netkpi was not running as unknown"
        );
    }
    store.append(&batch, Some(now))?;
    Ok(())
}

/// Publishes committed transitions to the gauges that mirror states.
fn publish(metrics: &Metrics, inventory: &Inventory, live: &Live, batch: &[Transition]) {
    for t in batch {
        let value = match t.state {
            State::Up | State::Degraded => Some(1),
            State::Down => Some(0),
            State::Unknown | State::Maintenance => None,
        };
        match t.kind {
            TargetKind::Device => {
                let Some(d) = inventory.device(&t.target) else {
                    continue;
                };
                let labels = DeviceLabels {
                    device: d.name.clone(),
                    role: d.role.as_str().into(),
                    site: d.site.clone(),
                };
                match value {
                    Some(v) => {
                        metrics.device_up.get_or_create(&labels).set(v);
                    }
                    None => {
                        metrics.device_up.remove(&labels);
                    }
                }
            }
            TargetKind::Line => {
                let Some(l) = inventory.line(&t.target) else {
                    continue;
                };
                let labels = LineLabels {
                    line: l.id.clone(),
                    unit: l.unit.clone(),
                    carrier: l.carrier.clone(),
                };
                match value {
                    Some(v) => {
                        metrics.line_up.get_or_create(&labels).set(v);
                    }
                    None => {
                        metrics.line_up.remove(&labels);
                    }
                }
            }
        }
    }
    if !inventory.lines.is_empty() {
        let connected = inventory
            .lines
            .iter()
            .filter(|l| {
                live.status(TargetKind::Line, &l.id)
                    .is_some_and(|s| s.state.is_available())
            })
            .count();
        metrics
            .units_connected_ratio
            .set(connected as f64 / inventory.lines.len() as f64);
    }
}

fn publish_inventory(metrics: &Metrics, config: &Config, inventory: &Inventory) {
    for role in Role::ALL {
        let monitored = inventory
            .devices
            .iter()
            .filter(|d| d.role == role && d.icmp.is_some())
            .count();
        metrics
            .devices_monitored
            .get_or_create(&RoleLabels {
                role: role.as_str().into(),
            })
            .set(monitored as i64);
    }
    metrics
        .devices_planned
        .get_or_create(&RoleLabels {
            role: "core".into(),
        })
        .set(config.planned.core_devices.into());
    metrics
        .devices_planned
        .get_or_create(&RoleLabels {
            role: Role::AccessEgress.as_str().into(),
        })
        .set(config.planned.access_devices.into());
    metrics.lines_configured.set(inventory.lines.len() as i64);
    metrics
        .lines_planned
        .set(config.planned.leased_lines.into());
}

/// Recomputes the 1d/30d/ytd availability gauges from the store.
fn refresh_availability(shared: &Shared) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let tz = &shared.config.daemon.timezone;
    let windows = ["1d", "30d", "ytd"].map(|w| (w, availability::window_start(w, now, tz)));
    let earliest = windows.iter().map(|(_, s)| *s).min().unwrap_or(now);
    let reader = Store::open_reader(&shared.config.daemon.data_dir)?;
    let histories = reader.histories(earliest, now)?;
    let inventory = &shared.inventory;
    for (kind, name) in inventory.targets() {
        let history = histories
            .get(&(kind, name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let maintenance = inventory.maintenance(kind, name);
        for (window, start) in &windows {
            let figures = availability::compute(history, *start, now, now, maintenance);
            let labels = AvailabilityLabels {
                target: name.to_string(),
                kind: kind.as_str().into(),
                window: (*window).into(),
            };
            match figures.availability {
                Some(a) => {
                    shared
                        .metrics
                        .availability_ratio
                        .get_or_create(&labels)
                        .set(a);
                }
                None => {
                    shared.metrics.availability_ratio.remove(&labels);
                }
            }
        }
    }
    Ok(())
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let inventory = Arc::new(Inventory::new(&config));
    let data_dir = &config.daemon.data_dir;

    let mut store = Store::open(data_dir)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let now = Timestamp::now();
    close_gap(&mut store, &inventory, now).context("cannot write to the store")?;
    store.record_run_start(now, env!("CARGO_PKG_VERSION"))?;
    let histories = store.histories(Timestamp::UNIX_EPOCH, now)?;
    let latest = store.latest()?;
    let live = Arc::new(Live::from_histories(inventory.clone(), &histories, &latest));

    let metrics = Arc::new(Metrics::new());
    publish_inventory(&metrics, &config, &inventory);

    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();

    let needs_icmp = inventory.devices.iter().any(|d| d.icmp.is_some());
    let pinger = if needs_icmp {
        Some(IcmpPinger::open(ICMP_RECV_BUFFER, cancel.child_token())?)
    } else {
        None
    };

    let store_stats = Arc::new(StoreStats::default());
    metrics.attach(Sources {
        live: live.clone(),
        icmp: pinger.clone(),
        store: store_stats.clone(),
    });
    let writer = {
        let (metrics, inventory, live) = (metrics.clone(), inventory.clone(), live.clone());
        crate::store::spawn_writer(
            store,
            WriterOptions {
                heartbeat_every: HEARTBEAT_EVERY,
                retry_every: RETRY_EVERY,
                buffer_limit: WRITE_BUFFER_LIMIT,
            },
            store_stats.clone(),
            Box::new(move |batch: &[Transition]| {
                live.apply(batch);
                publish(&metrics, &inventory, &live, batch);
            }),
        )
    };

    let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let shared = Arc::new(Shared {
        config: config.clone(),
        inventory: inventory.clone(),
        live: live.clone(),
        metrics: metrics.clone(),
        store_stats: store_stats.clone(),
        probing: probing.clone(),
    });

    let (obs_tx, obs_rx) = mpsc::channel(OBSERVATION_QUEUE);
    if let Some(pinger) = &pinger {
        for (index, device) in inventory.devices.iter().enumerate() {
            let Some(settings) = device.icmp.clone() else {
                continue;
            };
            IcmpTask {
                index,
                device: device.clone(),
                settings,
                pinger: pinger.clone(),
                observations: obs_tx.clone(),
                live: live.clone(),
                metrics: metrics.clone(),
            }
            .spawn(&tasks, cancel.clone());
        }
    }
    drop(obs_tx);

    let ledger_task = {
        let writer = writer.clone();
        let ledger = Ledger::new(inventory.clone());
        let cancel = cancel.clone();
        let probing = probing.clone();
        tokio::spawn(async move {
            let final_batch = ledger::run(ledger, obs_rx, cancel, |batch| writer.send(batch)).await;
            probing.store(false, std::sync::atomic::Ordering::Relaxed);
            final_batch
        })
    };

    {
        let shared = shared.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let mut ticks = tokio::time::interval(AVAILABILITY_EVERY);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let shared = shared.clone();
                let result =
                    tokio::task::spawn_blocking(move || refresh_availability(&shared)).await;
                if let Ok(Err(err)) = result {
                    tracing::warn!(error = %err, "cannot refresh availability gauges");
                }
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .with_context(|| format!("cannot listen on {} (daemon.listen)", config.daemon.listen))?;
    tracing::info!(
        listen = %config.daemon.listen,
        devices = inventory.devices.len(),
        lines = inventory.lines.len(),
        data_dir = %data_dir.display(),
        "netkpi is running"
    );
    {
        let cancel = cancel.clone();
        let shared = shared.clone();
        tasks.spawn(async move {
            if let Err(err) = http::serve(listener, shared, cancel).await {
                tracing::error!(error = %err, "HTTP server failed");
            }
        });
    }

    wait_for_shutdown(&cancel).await;
    tracing::info!("shutting down");
    cancel.cancel();
    tasks.close();
    tasks.wait().await;
    let final_batch = ledger_task.await.unwrap_or_default();
    tokio::task::spawn_blocking(move || writer.shutdown(final_batch))
        .await
        .context("store writer")?;
    tracing::info!("stopped; every target recorded as unknown from now on");
    Ok(())
}

async fn wait_for_shutdown(cancel: &CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = cancel.cancelled() => {}
    }
}
