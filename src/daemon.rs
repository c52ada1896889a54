//! `netkpi run`: wires config, store, probers, ledger, metrics and HTTP
//! together, and takes them down in order on SIGINT/SIGTERM.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alarms::TrapSeen;
use crate::availability::{self, WINDOWS};
use crate::config::Config;
use crate::http::{self, Shared};
use crate::incidents::board::Board;
use crate::incidents::{Change, Incidents, Terms};
use crate::inventory::Inventory;
use crate::ledger::{self, Input, Ledger};
use crate::live::{AvailabilityTable, Live, WindowFigures};
use crate::loader::{self, Loaded, ProfileSet};
use crate::metrics::{Metrics, Sources};
use crate::model::{Span, TargetKind, Transition};
use crate::probes::icmp::IcmpPinger;
use crate::probes::icmp::IcmpTarget;
use crate::probes::snmp::client::Snmp2Client;
use crate::probes::snmp::poller::{SnmpPlan, SnmpPoller};
use crate::probes::snmp::traps::routes::{route_traps, TrapRoutes};
use crate::probes::snmp::traps::{TrapConfig, TrapEvent, TrapReceiver, TrapStats};
use crate::scheduler::Sink;
use crate::secret::Secret;
use crate::store::{Counting, Policy, Store, StoreStats, Window, WriterOptions};
use crate::tally::Tallies;

/// How often the writer records that the daemon is alive. After a crash, the
/// time since the last heartbeat is recorded as unknown, so at most this much
/// observed time is lost (as unknown, never as up).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How often a failed store write is retried.
const RETRY_EVERY: Duration = Duration::from_secs(2);
/// Transitions held in memory while the store fails; beyond this the span is
/// recorded as unknown when the store recovers.
const WRITE_BUFFER_LIMIT: usize = 100_000;
/// The availability gauges are recomputed from the store this often, and
/// soon after every committed transition (but at most once per
/// [`AVAILABILITY_MIN_GAP`], so a burst of changes costs one recomputation).
const AVAILABILITY_EVERY: Duration = Duration::from_secs(60);
const AVAILABILITY_MIN_GAP: Duration = Duration::from_secs(2);
/// The evaluation form year to date (`netkpi_indicator_*`) is recomputed
/// from the store this often (and at start): the form moves slowly, and
/// an alert on a row below target waits longer than this anyway.
const INDICATORS_EVERY: Duration = Duration::from_secs(300);
/// The hash chain's head is read from the store, logged and exported this
/// often (and at start), so that the log shipper and Prometheus keep copies.
const LEDGER_HEAD_EVERY: Duration = Duration::from_secs(3600);
/// ICMP socket receive buffer: with the default (~200 KiB) only about half of
/// 10,000 in-flight replies arrived in our measurements; with 8 MiB all did.
const ICMP_RECV_BUFFER: usize = 8 << 20;
/// Observations queued between the probe tasks and the ledger.
const OBSERVATION_QUEUE: usize = 4096;
/// SNMP polls in flight at once, across all devices: memory is bounded by
/// this, not by the number of devices (each poll holds a session of about
/// 130 KB), and a few silent agents cannot take every slot.
const SNMP_POLLS_IN_FLIGHT: usize = 256;
/// Trap events queued for the handler; beyond this they are counted and
/// dropped (informs are then not acknowledged, so the sender retries).
const TRAP_QUEUE: usize = 1024;

/// Recomputes the availability figures of every window of [`WINDOWS`] from
/// the store.
fn refresh_availability(shared: &Shared) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let config = shared.config();
    let tz = &config.daemon.timezone;
    let periods = WINDOWS.map(|w| availability::window_period(w, now, tz));
    let reader = Store::open_reader(&config.daemon.data_dir)?;
    let inventory = shared.live.inventory();
    let mut table = AvailabilityTable::new(inventory.clone());
    availability::availability_over(&reader, &inventory, periods, now, |kind, name, figures| {
        let ratios = figures.map(|f| WindowFigures {
            availability: f.availability,
            coverage: f.coverage,
        });
        table.set(kind, name, ratios);
    })?;
    shared.live.set_availability(table);
    Ok(())
}

/// Recomputes the evaluation form year to date from the store (a reader,
/// like the report) for `netkpi_indicator_*`; nothing when the config has
/// no form.
fn refresh_indicators(shared: &Shared) -> anyhow::Result<()> {
    let config = shared.config();
    if config.report.indicators.is_empty() {
        shared.live.set_form(None);
        return Ok(());
    }
    let reader = Store::open_reader(&config.daemon.data_dir)?;
    let inventory = shared.live.inventory();
    let form = crate::report::indicators::form_year_to_date(
        &reader,
        &config,
        &inventory,
        Timestamp::now(),
    )?;
    shared.live.set_form(Some(form));
    Ok(())
}

/// Reads the hash chain's head from the store, exports it
/// (`netkpi_ledger_records`, `netkpi_ledger_head_info`) and logs it whole.
fn refresh_ledger_head(shared: &Shared) -> anyhow::Result<()> {
    let config = shared.config();
    let head = Store::open_reader(&config.daemon.data_dir)?.ledger_head()?;
    let at = head
        .at
        .map(|t| crate::model::format_time(t, &config.daemon.timezone));
    tracing::info!(
        records = head.records,
        head = %head.hex(),
        at = at.as_deref().unwrap_or("-"),
        "ledger head"
    );
    shared.store_stats.set_ledger_head(head);
    Ok(())
}

/// Runs `refresh` on a blocking thread at once, then every `every`, until
/// `cancel`; a failure is logged with `failed` and tried again next time.
fn refresh_every(
    background: &TaskTracker,
    shared: &Arc<Shared>,
    cancel: &CancellationToken,
    every: Duration,
    refresh: fn(&Shared) -> anyhow::Result<()>,
    failed: &'static str,
) {
    let shared = shared.clone();
    let cancel = cancel.clone();
    background.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let shared = shared.clone();
            let result = tokio::task::spawn_blocking(move || refresh(&shared)).await;
            if let Ok(Err(err)) = result {
                tracing::warn!(error = %format!("{err:#}"), "{failed}");
            }
        }
    });
}

/// The probing side of one config generation: its tasks stop together when
/// a reload replaces them.
struct Probing {
    tasks: TaskTracker,
    pinger: Option<Arc<IcmpPinger>>,
    snmp: Arc<Snmp2Client>,
    inputs: mpsc::Sender<Input>,
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    /// Who sent a trap: device addresses to the device's "poll now" signal.
    trap_routes: Arc<RwLock<TrapRoutes>>,
    root: CancellationToken,
    generation: u64,
    current: CancellationToken,
}

impl Probing {
    /// Starts one task per SNMP prober of each device of `inventory` and
    /// hands its ICMP targets to the pinger, as generation `generation`; the
    /// previous generation's tasks and targets stop.
    fn start(
        &mut self,
        inventory: &Inventory,
        profiles: &ProfileSet,
        generation: u64,
    ) -> anyhow::Result<()> {
        let needs_icmp = inventory.devices.iter().any(|d| d.icmp.is_some());
        if needs_icmp && self.pinger.is_none() {
            self.pinger = Some(IcmpPinger::open(ICMP_RECV_BUFFER, self.root.child_token())?);
        }
        self.current.cancel();
        self.current = self.root.child_token();
        self.generation = generation;
        let mut routes = TrapRoutes::default();
        // One plan per distinct profile list, shared by its devices.
        let mut plans: HashMap<&[String], Arc<SnmpPlan>> = HashMap::new();
        let mut icmp = Vec::new();
        for (index, device) in inventory.devices.iter().enumerate() {
            let sink = Sink {
                generation,
                index,
                device: device.name.clone(),
                observations: self.inputs.clone(),
                live: self.live.clone(),
                metrics: self.metrics.clone(),
            };
            if let Some(settings) = device.icmp.clone() {
                icmp.push(IcmpTarget {
                    sink: sink.clone(),
                    address: device.address.clone(),
                    settings,
                });
            }
            if let Some(snmp) = &device.snmp {
                let poll_now = Arc::new(Notify::new());
                if let Ok(ip) = device.address.parse::<IpAddr>() {
                    routes.insert(ip, device.name.clone(), poll_now.clone());
                }
                let plan = plans
                    .entry(snmp.profiles.as_slice())
                    .or_insert_with(|| Arc::new(SnmpPlan::new(profiles.select(&snmp.profiles))))
                    .clone();
                let probe = SnmpPoller::new(
                    device.address.clone(),
                    snmp.clone(),
                    plan,
                    self.snmp.clone(),
                );
                sink.spawn(
                    probe,
                    snmp.interval,
                    Some(poll_now),
                    &self.tasks,
                    self.current.clone(),
                );
            }
        }
        // Every ICMP round of the generation is taken by the pinger's one
        // engine task, in place of the previous generation's.
        if let Some(pinger) = &self.pinger {
            pinger.schedule(icmp, &self.tasks, self.current.clone());
        }
        *self.trap_routes.write().unwrap_or_else(|e| e.into_inner()) = routes;
        Ok(())
    }
}

/// Marks probing stopped when dropped: at the ledger task's end, or while
/// it unwinds from a panic (then also logged: nothing is recorded any more).
struct ProbingStopped(Arc<AtomicBool>);

impl Drop for ProbingStopped {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
        if std::thread::panicking() {
            tracing::error!("the ledger task failed: no observation is recorded any more; /healthz answers 503; restart netkpi");
        }
    }
}

/// What the store writer asks of the config in force: the live view's
/// inventory, swapped on reload.
struct InForce(Arc<Live>);

impl Policy for InForce {
    fn windows(&self, kind: TargetKind, target: &str) -> Vec<Span> {
        self.0.inventory().maintenance(kind, target).to_vec()
    }

    fn terms(&self, kind: TargetKind, target: &str, at: Timestamp) -> Terms {
        let inventory = self.0.inventory();
        let sla = inventory.sla_of(kind, target);
        let planned = inventory
            .maintenance(kind, target)
            .iter()
            .any(|w| w.start <= at && at < w.end);
        Terms {
            severity: sla.severity,
            respond_within: sla.respond_within,
            restore_within: sla.restore_within,
            planned,
        }
    }

    fn flap_window(&self) -> Duration {
        self.0.inventory().flap_window
    }

    fn add_window(&self, window: &Window) {
        self.0.declare(window.as_maintenance());
        tracing::info!(
            window = window.id,
            by = %window.by,
            reason = %window.reason,
            start = %window.start,
            end = %window.end,
            targets = ?window.targets,
            reclassifies = window.reclassifies(),
            "maintenance window declared"
        );
    }
}

/// `daemon.store_stall_after`, in force from now on (a reload changes it).
fn set_stall_after(stats: &StoreStats, config: &Config) {
    let ms = u64::try_from(config.daemon.store_stall_after.as_millis()).unwrap_or(u64::MAX);
    stats.stall_after_ms.store(ms, Ordering::Relaxed);
}

/// SIGHUP: reads the config again and, when it is valid, puts it in force
/// without a restart; the ledger keeps every still-configured target's state.
/// An invalid config is reported and the running one stays.
async fn reload(path: &Path, shared: &Shared, probing: &mut Probing, next_generation: &mut u64) {
    let Loaded { config, profiles } = match loader::load(path) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for d in &diagnostics {
                tracing::error!("{d}");
            }
            tracing::error!(
                problems = diagnostics.len(),
                "reload refused: the config has problems; still running the previous one"
            );
            return;
        }
    };
    let old = shared.config();
    for (what, changed) in [
        ("daemon.listen", config.daemon.listen != old.daemon.listen),
        (
            "daemon.data_dir",
            config.daemon.data_dir != old.daemon.data_dir,
        ),
        (
            "daemon.http_max_connections",
            config.daemon.http_max_connections != old.daemon.http_max_connections,
        ),
    ] {
        if changed {
            tracing::warn!(
                key = what,
                "{what} changed: it takes effect only after a restart"
            );
        }
    }
    if config.daemon.timezone_name != old.daemon.timezone_name {
        tracing::warn!(
            key = "daemon.timezone",
            "daemon.timezone changed: the API and reports use it now; log lines keep the old offset until a restart"
        );
    }
    let api_token = match read_api_token(&config) {
        Ok(token) => token,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "reload refused; still running the previous config");
            return;
        }
    };
    let inventory = Arc::new(Inventory::new(&config));
    *next_generation += 1;
    let generation = *next_generation;
    if config.traps != old.traps {
        tracing::warn!("[traps] changed: it takes effect only after a restart");
    }
    if let Err(err) = probing.start(&inventory, &profiles, generation) {
        tracing::error!(error = %format!("{err:#}"), "reload: cannot start probing");
        return;
    }
    set_stall_after(&shared.store_stats, &config);
    log_web(&config, Some(&old));
    *shared.api_token.write().unwrap_or_else(|e| e.into_inner()) = api_token;
    shared.live.set_inventory(inventory.clone());
    *shared.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    if probing
        .inputs
        .send(Input::Reload {
            inventory: inventory.clone(),
            generation,
        })
        .await
        .is_err()
    {
        tracing::error!("reload: the ledger has stopped");
        return;
    }
    tracing::info!(
        devices = inventory.devices.len(),
        lines = inventory.lines.len(),
        "config reloaded"
    );
    release_freed_memory();
}

/// Gives the heap memory freed since the config was read back to the
/// system. Reading a large config and starting on it (100,000 devices)
/// peaks at a few hundred MB of short-lived values, which glibc's allocator
/// would otherwise keep in the process for its whole life.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer; it only hands glibc's free
    // pages back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Says how the HTTP server is protected by `daemon.web_config_file` (at
/// start, and at a reload with the config it replaces): basic auth over
/// plain HTTP sends passwords in the clear, so it is a warning.
fn log_web(config: &Config, old: Option<&Config>) {
    let web = config.daemon.web.as_ref();
    let tls = web.is_some_and(|w| w.tls.is_some());
    let users = web.map_or(0, |w| w.users.len());
    if let Some(web) = web {
        tracing::info!(
            web_config_file = %web.file.display(),
            tls,
            basic_auth_users = users,
            "web config in force (new connections)"
        );
    }
    if users > 0 && !tls {
        tracing::warn!(
            "basic auth over plain HTTP: passwords cross the network readable by anyone on the way; \
             add tls_server_config to daemon.web_config_file"
        );
    }
    if let Some(old) = old {
        let was_tls = old.daemon.web.as_ref().is_some_and(|w| w.tls.is_some());
        if was_tls != tls {
            tracing::warn!(
                tls,
                "TLS turned {} by the reload: scrapers and clients must switch to {}://",
                if tls { "on" } else { "off" },
                if tls { "https" } else { "http" }
            );
        }
    }
}

/// Everything `run` needs that can fail at start, other than the store:
/// acquired before the store is opened for writing, so a start that fails
/// leaves the ledger exactly as it was (no migration, no run recorded, no
/// gap closed, no -wal/-shm created). Secrets were read with the config, and
/// so was `daemon.web_config_file` (its certificate, key and users): a
/// broken one stops the start before `acquire` even runs.
struct Acquired {
    listener: tokio::net::TcpListener,
    pinger: Option<Arc<IcmpPinger>>,
    /// The trap receiver's counters and its queue of events, when `[traps]`.
    traps: Option<(Arc<TrapStats>, mpsc::Receiver<TrapEvent>)>,
    /// The bearer token of the write endpoints, when configured.
    api_token: Option<Secret>,
}

/// Reads `daemon.api_token_file`: its content, surrounding whitespace
/// (a trailing newline) dropped.
fn read_api_token(config: &Config) -> anyhow::Result<Option<Secret>> {
    let Some(path) = &config.daemon.api_token_file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read daemon.api_token_file {}; create it (chmod 600) with the token,              or remove the key",
            path.display()
        )
    })?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!(
            "daemon.api_token_file {} is empty; put the bearer token the API's write              endpoints should accept in it",
            path.display()
        );
    }
    Ok(Some(Secret::new(token)))
}

async fn acquire(
    config: &Config,
    inventory: &Inventory,
    cancel: &CancellationToken,
) -> anyhow::Result<Acquired> {
    let api_token = read_api_token(config)?;
    let needs_icmp = inventory.devices.iter().any(|d| d.icmp.is_some());
    let pinger = if needs_icmp {
        Some(IcmpPinger::open(ICMP_RECV_BUFFER, cancel.child_token())?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(config.daemon.listen)
        .await
        .with_context(|| format!("cannot listen on {} (daemon.listen)", config.daemon.listen))?;
    let traps = match &config.traps {
        None => None,
        Some(traps) => {
            let (events_tx, events_rx) = mpsc::channel(TRAP_QUEUE);
            let stats = TrapReceiver::start(
                TrapConfig::from_config(traps),
                events_tx,
                cancel.child_token(),
            )
            .await
            .with_context(|| {
                format!(
                    "cannot start the trap receiver on {} ([traps] listen)",
                    traps.listen
                )
            })?;
            Some((stats, events_rx))
        }
    };
    Ok(Acquired {
        listener,
        pinger,
        traps,
        api_token,
    })
}

pub async fn run(config_path: &Path, loaded: Loaded) -> anyhow::Result<()> {
    let Loaded { config, profiles } = loaded;
    let config = Arc::new(config);
    let inventory = Arc::new(Inventory::new(&config));
    let data_dir = config.daemon.data_dir.clone();
    let cancel = CancellationToken::new();

    // Sockets first: a start that fails there leaves the store untouched.
    let Acquired {
        listener,
        pinger,
        traps,
        api_token,
    } = match acquire(&config, &inventory, &cancel).await {
        Ok(acquired) => acquired,
        Err(err) => {
            cancel.cancel();
            return Err(err.context("nothing was started; the store was not opened"));
        }
    };

    let mut store = Store::open(&data_dir)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let now = Timestamp::now();
    // Windows declared through the API count like the config's own.
    let declared: Vec<_> = store
        .windows()?
        .iter()
        .map(Window::as_maintenance)
        .collect();
    let inventory = Arc::new({
        let mut merged = (*inventory).clone();
        merged.add_windows(&declared);
        merged
    });
    let tallies = ledger::resume::close_gap(&mut store, &inventory, now)
        .context("cannot write to the store")?;
    store.record_run_start(now, env!("CARGO_PKG_VERSION"))?;
    let latest = store.latest()?;
    let live = Arc::new(Live::new(inventory.clone(), &latest, &tallies));
    live.set_declared(declared);
    let incidents = Incidents::resume(
        store.live_incidents(now, inventory.flap_window)?,
        store.next_incident_id()?,
        inventory.flap_window,
    );
    // Alarms whose incident is open start raised in the ledger, so one whose
    // condition cleared while netkpi was down is cleared after its hold.
    let open_alarms: Vec<(String, String)> = incidents
        .live()
        .filter(|i| i.restored_at.is_none())
        .filter_map(|i| Some((i.target.clone(), i.alarm.clone()?)))
        .collect();
    // The figures of years of incidents are kept in the store: only the
    // incidents still on the board are read.
    live.set_incidents(Board::resume(
        store.incident_figures()?,
        store.board_incidents(now)?,
        now,
    ));

    let metrics = Arc::new(Metrics::new());
    let (inputs, inputs_rx) = mpsc::channel(OBSERVATION_QUEUE);
    let trap_routes = Arc::new(RwLock::new(TrapRoutes::default()));
    let mut probing = Probing {
        tasks: TaskTracker::new(),
        pinger,
        snmp: Arc::new(Snmp2Client::new(SNMP_POLLS_IN_FLIGHT)),
        inputs,
        trap_routes: trap_routes.clone(),
        live: live.clone(),
        metrics: metrics.clone(),
        root: cancel.child_token(),
        generation: 0,
        current: CancellationToken::new(),
    };
    probing.start(&inventory, &profiles, 0)?;

    let store_stats = Arc::new(StoreStats::default());
    set_stall_after(&store_stats, &config);
    store_stats.set_energy_joules(store.energy_joules()?);
    let trap_stats = Arc::new(OnceLock::new());
    metrics.attach(Sources {
        live: live.clone(),
        icmp: probing.pinger.clone(),
        store: store_stats.clone(),
        traps: trap_stats.clone(),
    });
    let background = TaskTracker::new();
    if let (Some(traps), Some((stats, events_rx))) = (&config.traps, traps) {
        let _ = trap_stats.set(stats);
        let (live, metrics) = (live.clone(), metrics.clone());
        let ledger_inputs = probing.inputs.clone();
        background.spawn(route_traps(events_rx, trap_routes, move |device, event| {
            metrics.count_trap(event.version.as_str(), event.kind.as_str());
            // The trap alarms are judged by the ledger task, in order with
            // the rounds; a trap never changes a target's state.
            if let Some(device) = device.as_ref().filter(|_| TrapSeen::concerns_alarms(&event.kind)) {
                let trap = TrapSeen {
                    device: device.clone(),
                    at: event.received_at,
                    kind: event.kind.clone(),
                };
                if ledger_inputs.try_send(Input::Trap(trap)).is_err() {
                    tracing::warn!(device = %device, kind = event.kind.as_str(), "the ledger is behind: a trap was not judged for alarms (the polls still are)");
                }
            }
            live.record_trap(device, event);
        }));
        tracing::info!(listen = %traps.listen, "receiving traps");
    }
    let ledger_changed = Arc::new(Notify::new());
    let writer = {
        let live = live.clone();
        let ledger_changed = ledger_changed.clone();
        crate::store::spawn_writer(
            store,
            WriterOptions {
                heartbeat_every: HEARTBEAT_EVERY,
                retry_every: RETRY_EVERY,
                buffer_limit: WRITE_BUFFER_LIMIT,
            },
            store_stats.clone(),
            Counting {
                tallies,
                incidents,
                policy: Box::new(InForce(live.clone())),
            },
            Box::new(
                move |batch: &[Transition], tallies: &Tallies, changes: &[Change]| {
                    let previous = live.apply(batch, tallies);
                    for (t, before) in batch.iter().zip(previous) {
                        ledger::log_committed(t, before);
                    }
                    live.apply_incidents(changes);
                    for change in changes {
                        crate::incidents::log_committed(change);
                    }
                    if !batch.is_empty() {
                        ledger_changed.notify_one();
                    }
                },
            ),
        )
    };

    let probing_alive = Arc::new(AtomicBool::new(true));
    let shared = Arc::new(Shared {
        config: RwLock::new(config.clone()),
        live: live.clone(),
        metrics: metrics.clone(),
        store_stats: store_stats.clone(),
        probing: probing_alive.clone(),
        writer: writer.clone(),
        api_token: RwLock::new(api_token),
        basic_auth: Default::default(),
        report_builds: Default::default(),
    });

    let ledger_task = {
        let writer = writer.clone();
        let mut ledger = Ledger::new(inventory.clone(), now);
        // Those the config no longer watches are cleared now.
        writer.send_with_alarms(
            Vec::new(),
            Vec::new(),
            ledger.resume_alarms(open_alarms, now),
        );
        let cancel = cancel.clone();
        let live = live.clone();
        tokio::spawn(async move {
            // Cleared however the ledger task ends, a panic included, so
            // `/healthz` stops answering 200 when nothing records any more.
            let _stopped = ProbingStopped(probing_alive);
            let final_batch = ledger::run(
                ledger,
                inputs_rx,
                cancel,
                HEARTBEAT_EVERY,
                |batch, marks, alarms, energy| {
                    live.note_pending(&batch);
                    writer.send_with_alarms(batch, marks, alarms);
                    writer.send_energy(energy);
                },
            )
            .await;
            final_batch
        })
    };

    {
        let shared = shared.clone();
        let cancel = cancel.clone();
        let ledger_changed = ledger_changed.clone();
        background.spawn(async move {
            let mut ticks = tokio::time::interval(AVAILABILITY_EVERY);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = ticks.tick() => {}
                    _ = ledger_changed.notified() => {}
                }
                let shared = shared.clone();
                let result =
                    tokio::task::spawn_blocking(move || refresh_availability(&shared)).await;
                if let Ok(Err(err)) = result {
                    tracing::warn!(error = %format!("{err:#}"), "cannot refresh availability figures");
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(AVAILABILITY_MIN_GAP) => {}
                }
            }
        });
    }

    // The first tick of each is at once: the head and the form at start.
    refresh_every(
        &background,
        &shared,
        &cancel,
        LEDGER_HEAD_EVERY,
        refresh_ledger_head,
        "cannot read the ledger head",
    );
    refresh_every(
        &background,
        &shared,
        &cancel,
        INDICATORS_EVERY,
        refresh_indicators,
        "cannot recompute the evaluation form",
    );

    log_web(&config, None);
    tracing::info!(
        listen = %config.daemon.listen,
        devices = inventory.devices.len(),
        lines = inventory.lines.len(),
        data_dir = %data_dir.display(),
        "netkpi is running"
    );
    release_freed_memory();
    {
        let cancel = cancel.clone();
        let shared = shared.clone();
        // Fixed for the process's life: a reload warns that it needs a restart.
        let max_connections = config.daemon.http_max_connections;
        background.spawn(async move {
            if let Err(err) = http::serve(listener, shared, max_connections, cancel).await {
                tracing::error!(error = %err, "HTTP server failed");
            }
        });
    }

    let mut next_generation = 0;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => {
                tracing::info!(config = %config_path.display(), "SIGHUP: reloading the config");
                reload(config_path, &shared, &mut probing, &mut next_generation).await;
            }
        }
    }
    tracing::info!("shutting down");
    cancel.cancel();
    probing.tasks.close();
    probing.tasks.wait().await;
    background.close();
    background.wait().await;
    let final_batch = ledger_task.await.unwrap_or_default();
    let committed = tokio::task::spawn_blocking(move || writer.shutdown(final_batch))
        .await
        .context("store writer")?;
    if committed {
        tracing::info!("stopped; every target recorded as unknown from now on");
    } else {
        tracing::error!("stopped, but the last transitions could not be written; the time since the last heartbeat will read as unknown");
    }
    Ok(())
}
