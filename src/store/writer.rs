//! The single writer thread: the only code that writes the ledger.
//!
//! Durable before announced: a batch is handed to `announce` (which feeds the
//! live view, metrics and API) only after its transaction committed, so
//! nobody ever sees a transition that a power cut could take back.
//!
//! A plain thread, not a tokio task: every SQLite call blocks. It drains
//! whatever has queued into one transaction (group commit: one fsync for many
//! transitions), with a heartbeat, and writes the heartbeat alone every
//! `heartbeat_every` when idle. While writes fail, transitions wait in memory
//! in order; past `buffer_limit` they collapse into one lost span that the
//! ledger records as `unknown` (cause `store_overflow`), never as up.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jiff::Timestamp;

mod requests;

use requests::Reply;
pub use requests::{NoPolicy, Policy, Replied, Request, RequestError};

use super::{ledger_precision, Commit, LedgerHead, Store, Window};
use crate::alarms::AlarmEvent;
use crate::energy::{self, Days};
use crate::incidents::{Change, Incidents};
use crate::model::{Mark, State, TargetKind, Transition};
use crate::tally::{Tallies, Tally};

/// How long a write may wait before the store counts as stalled, unless the
/// config says otherwise: two heartbeats, well past any healthy fsync.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(10);

/// The cause written on the `unknown` transitions of a lost span.
pub const CAUSE_STORE_OVERFLOW: &str = "store_overflow";

/// How long shutdown keeps retrying a failing store before giving up. Short
/// enough to finish inside systemd's default 90 s stop timeout; what is not
/// written reads as unknown after the last heartbeat on the next start.
const SHUTDOWN_RETRY_FOR: Duration = Duration::from_secs(10);

/// Called with each committed batch, the tallies committed with it (those
/// of the targets it changed) and the incident changes committed with it,
/// on the writer thread, after the commit.
pub type Announce = Box<dyn FnMut(&[Transition], &Tallies, &[Change]) + Send>;

/// What the writer starts from: each target's [`Tally`] (as stored,
/// advanced over the gap since the last run), the incidents that can still
/// change, and the config in force ([`Policy`]).
pub struct Counting {
    pub tallies: Tallies,
    pub incidents: Incidents,
    pub policy: Box<dyn Policy>,
}

impl Default for Counting {
    fn default() -> Self {
        Counting {
            tallies: Tallies::new(),
            incidents: Incidents::resume(Vec::new(), 1, NoPolicy.flap_window()),
            policy: Box::new(NoPolicy),
        }
    }
}

pub struct WriterOptions {
    /// Heartbeat interval while idle (every commit also writes one).
    pub heartbeat_every: Duration,
    /// Pause between attempts while writes fail.
    pub retry_every: Duration,
    /// Most transitions held in memory while writes fail before they
    /// collapse into a lost span.
    pub buffer_limit: usize,
}

/// The writer's health and counters, read by metrics and `/healthz`.
#[derive(Debug)]
pub struct StoreStats {
    /// False while writes are failing.
    pub healthy: AtomicBool,
    /// Failed write attempts (each retry counts).
    pub write_errors_total: AtomicU64,
    /// Committed transactions (batches and heartbeats).
    pub commits_total: AtomicU64,
    pub transitions_written_total: AtomicU64,
    /// Transitions waiting for a commit.
    pub pending: AtomicU64,
    /// Sum of commit durations in microseconds; the count is `commits_total`.
    pub commit_micros_total: AtomicU64,
    /// Times the pending buffer overflowed and collapsed into a lost span.
    pub lost_spans_total: AtomicU64,
    /// The last heartbeat committed, in milliseconds since the Unix epoch (0: none yet).
    pub last_heartbeat_ms: AtomicI64,
    /// Since when the oldest write not yet committed has waited, in
    /// milliseconds since the Unix epoch (0: nothing waits). A write that
    /// neither commits nor fails (a frozen or hung disk) shows here.
    pub uncommitted_since_ms: AtomicI64,
    /// A write waiting longer than this makes the store unhealthy
    /// (`daemon.store_stall_after`), in milliseconds.
    pub stall_after_ms: AtomicU64,
    /// The hash chain's head as last read from the store (at start, then
    /// hourly), exported so that Prometheus keeps copies of it.
    pub ledger_head: Mutex<Option<LedgerHead>>,
    /// Each device's energy in joules, as far as the store holds it (the
    /// `netkpi_energy_joules_total` counters): read from the store at
    /// start, advanced after each commit.
    pub energy_joules: Mutex<BTreeMap<String, f64>>,
}

impl Default for StoreStats {
    /// Healthy: [`Store::open`] has just proved the store writable.
    fn default() -> Self {
        StoreStats {
            healthy: AtomicBool::new(true),
            write_errors_total: AtomicU64::new(0),
            commits_total: AtomicU64::new(0),
            transitions_written_total: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            commit_micros_total: AtomicU64::new(0),
            lost_spans_total: AtomicU64::new(0),
            last_heartbeat_ms: AtomicI64::new(0),
            uncommitted_since_ms: AtomicI64::new(0),
            stall_after_ms: AtomicU64::new(DEFAULT_STALL_AFTER.as_millis() as u64),
            ledger_head: Mutex::new(None),
            energy_joules: Mutex::new(BTreeMap::new()),
        }
    }
}

impl StoreStats {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Total time spent committing, in seconds (a Prometheus summary's `_sum`).
    pub fn commit_seconds_total(&self) -> f64 {
        self.commit_micros_total.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// How long the oldest write not yet committed has waited at `now`
    /// (zero when nothing waits).
    pub fn oldest_uncommitted(&self, now: Timestamp) -> Duration {
        match self.uncommitted_since_ms.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => {
                Duration::from_millis(now.as_millisecond().saturating_sub(since).max(0) as u64)
            }
        }
    }

    /// Whether writes commit: none failing, and none waiting longer than
    /// the stall threshold (a frozen disk blocks a commit without failing
    /// it).
    pub fn is_writing(&self, now: Timestamp) -> bool {
        self.is_healthy() && !self.is_stalled(now)
    }

    /// Whether a write has waited longer than the stall threshold.
    pub fn is_stalled(&self, now: Timestamp) -> bool {
        self.oldest_uncommitted(now)
            > Duration::from_millis(self.stall_after_ms.load(Ordering::Relaxed))
    }

    /// Marks that something waits to be committed from now on, unless
    /// something older already does.
    fn waiting_from(&self, now: Timestamp) {
        let _ = self.uncommitted_since_ms.compare_exchange(
            0,
            now.as_millisecond().max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The chain head last read ([`StoreStats::ledger_head`]).
    pub fn ledger_head(&self) -> Option<LedgerHead> {
        self.ledger_head
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_ledger_head(&self, head: LedgerHead) {
        *self.ledger_head.lock().unwrap_or_else(|e| e.into_inner()) = Some(head);
    }

    /// Each device's committed energy in joules.
    pub fn energy_joules(&self) -> BTreeMap<String, f64> {
        self.energy_joules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts the energy counters from the store's totals (joules by device).
    pub fn set_energy_joules(&self, totals: BTreeMap<String, f64>) {
        *self.energy_joules.lock().unwrap_or_else(|e| e.into_inner()) = totals;
    }

    /// Advances the energy counters by what a commit wrote.
    fn add_energy(&self, days: &Days) {
        let mut totals = self.energy_joules.lock().unwrap_or_else(|e| e.into_inner());
        for ((device, _), e) in days {
            *totals.entry(device.clone()).or_default() += e.wh * energy::JOULES_PER_WH;
        }
    }

    pub fn last_heartbeat(&self) -> Option<Timestamp> {
        match self.last_heartbeat_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Timestamp::from_millisecond(ms).ok(),
        }
    }
}

enum Msg {
    Batch(Vec<Transition>, Vec<Mark>, Vec<AlarmEvent>),
    Request(Request, Reply),
    Energy(Days),
    Flush(mpsc::SyncSender<bool>),
    Shutdown(Vec<Transition>),
}

/// The way into the writer thread. Cheap to clone; no method waits on the
/// disk except [`WriterHandle::flush`] and [`WriterHandle::shutdown`].
#[derive(Clone)]
pub struct WriterHandle {
    tx: Sender<Msg>,
    thread: Arc<Mutex<Option<JoinHandle<bool>>>>,
}

impl WriterHandle {
    /// Queues transitions for the ledger, in order. Never blocks.
    pub fn send(&self, batch: Vec<Transition>) {
        self.send_with_marks(batch, Vec::new());
    }

    /// Queues transitions and the settled marks that go with them (see
    /// [`Mark`]), in order. Marks alone are a heartbeat: they are committed
    /// at once, with the heartbeat row. Never blocks.
    pub fn send_with_marks(&self, batch: Vec<Transition>, marks: Vec<Mark>) {
        self.send_with_alarms(batch, marks, Vec::new());
    }

    /// Queues transitions, their marks, and the alarms that fired or
    /// cleared after them, in order: the incident engine applies the
    /// alarms after the transitions. Never blocks.
    pub fn send_with_alarms(
        &self,
        batch: Vec<Transition>,
        marks: Vec<Mark>,
        alarms: Vec<AlarmEvent>,
    ) {
        if batch.is_empty() && marks.is_empty() && alarms.is_empty() {
            return;
        }
        if self.tx.send(Msg::Batch(batch, marks, alarms)).is_err() {
            tracing::error!("store writer has stopped; transitions dropped");
        }
    }

    /// Queues energy metered per (device, local day), added to what the
    /// store holds at the next commit. Never blocks.
    pub fn send_energy(&self, days: Days) {
        if days.is_empty() {
            return;
        }
        if self.tx.send(Msg::Energy(days)).is_err() {
            tracing::error!("store writer has stopped; energy readings dropped");
        }
    }

    /// Queues an operator's request on an incident. The reply comes once it
    /// is committed, or at once when it is refused (nothing changed).
    pub fn request(&self, request: Request) -> tokio::sync::oneshot::Receiver<Replied> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A stopped writer drops `tx`: the caller sees the channel closed.
        let _ = self.tx.send(Msg::Request(request, tx));
        rx
    }

    /// Blocks until everything sent before this call is committed (true), or
    /// the store is known to be failing (false; the writer keeps retrying).
    pub fn flush(&self) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Flush(tx)).is_err() {
            return false;
        }
        rx.recv().unwrap_or(false)
    }

    /// Commits everything sent so far, then `final_batch` (typically every
    /// target → unknown, cause `daemon_stopped`), with a last heartbeat,
    /// records the run's stop, and joins the thread. Returns true when all of
    /// it was committed. Only the first shutdown among clones does anything.
    pub fn shutdown(self, final_batch: Vec<Transition>) -> bool {
        let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return false;
        };
        if self.tx.send(Msg::Shutdown(final_batch)).is_err() {
            tracing::error!("store writer had already stopped; final batch dropped");
        }
        thread.join().unwrap_or(false)
    }
}

/// Starts the writer thread, which owns `store` from now on.
pub fn spawn_writer(
    store: Store,
    opts: WriterOptions,
    stats: Arc<StoreStats>,
    counting: Counting,
    announce: Announce,
) -> WriterHandle {
    let (tx, rx) = mpsc::channel();
    let now = Instant::now();
    let writer = Writer {
        store,
        opts,
        stats,
        announce,
        incidents: counting.incidents,
        policy: counting.policy,
        changes: Vec::new(),
        windows: Vec::new(),
        replies: Vec::new(),
        pending: Vec::new(),
        marks: BTreeMap::new(),
        energy: Days::new(),
        tallies: counting.tallies,
        lost: None,
        known: BTreeMap::new(),
        failing: None,
        next_heartbeat: now,
        next_retry: now,
    };
    let thread = std::thread::Builder::new()
        .name("netkpi-store".into())
        .spawn(move || writer.run(rx))
        .expect("spawning the store writer thread");
    WriterHandle {
        tx,
        thread: Arc::new(Mutex::new(Some(thread))),
    }
}

type Key = (TargetKind, String);

/// Transitions dropped on overflow, reduced to what the ledger will say.
struct Lost {
    /// The earliest `at` among the dropped transitions: unknown from here.
    since: Timestamp,
    /// Each target's latest desired (state, cause), restated at recovery.
    desired: BTreeMap<Key, (State, Option<String>)>,
}

impl Lost {
    fn fold(&mut self, t: Transition) {
        self.desired.insert((t.kind, t.target), (t.state, t.cause));
    }

    /// The rows to write at `now`: every target unknown from `since`, then
    /// its latest state restated from `now`, so the span reads unknown.
    fn rows(&self, now: Timestamp) -> Vec<Transition> {
        // After a clock step back, `now` may precede `since`: never restate
        // a state before the unknown span starts.
        let restated_at = now.max(self.since);
        let unknown = self.desired.keys().map(|(kind, target)| Transition {
            target: target.clone(),
            kind: *kind,
            at: self.since,
            state: State::Unknown,
            cause: Some(CAUSE_STORE_OVERFLOW.to_string()),
        });
        let restated = self
            .desired
            .iter()
            .map(|((kind, target), (state, cause))| Transition {
                target: target.clone(),
                kind: *kind,
                at: restated_at,
                state: *state,
                cause: cause.clone(),
            });
        unknown.chain(restated).collect()
    }
}

/// The current failure episode.
struct Failing {
    since: Instant,
    attempts: u64,
}

struct Writer {
    store: Store,
    opts: WriterOptions,
    stats: Arc<StoreStats>,
    announce: Announce,
    /// The incident engine, fed every transition in ledger order (ahead of
    /// the disk: its changes wait in `changes` with the transitions).
    incidents: Incidents,
    policy: Box<dyn Policy>,
    /// Incident changes not yet committed, in order.
    changes: Vec<Change>,
    /// Windows declared through the API, not yet committed.
    windows: Vec<Window>,
    /// Requests waiting for the commit of their changes.
    replies: Vec<(Reply, u64)>,
    /// Transitions not yet committed, in the order they were sent.
    pending: Vec<Transition>,
    /// Marks not yet committed: the latest of each target.
    marks: BTreeMap<Key, Timestamp>,
    /// Energy not yet committed, to add to the stored days.
    energy: Days,
    /// Every target's committed tally.
    tallies: Tallies,
    /// Set after an overflow: then `pending` is empty and new transitions fold in here.
    lost: Option<Lost>,
    /// Every target announced so far, with its last committed (state, cause).
    known: BTreeMap<Key, (State, Option<String>)>,
    failing: Option<Failing>,
    next_heartbeat: Instant,
    next_retry: Instant,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) -> bool {
        loop {
            let wake = if self.failing.is_some() {
                self.next_retry
            } else {
                self.next_heartbeat
            };
            let mut flushes = Vec::new();
            let mut shutdown = None;
            match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(first) => {
                    // Group commit: take everything already queued.
                    let mut next = Some(first);
                    while let Some(msg) = next {
                        match msg {
                            Msg::Batch(batch, marks, alarms) => {
                                self.enqueue(batch);
                                self.enqueue_marks(marks);
                                self.enqueue_alarms(alarms);
                            }
                            Msg::Request(request, reply) => self.handle(request, reply),
                            Msg::Energy(days) => {
                                self.stats.waiting_from(Timestamp::now());
                                energy::merge(&mut self.energy, days);
                            }
                            Msg::Flush(reply) => flushes.push(reply),
                            Msg::Shutdown(last) => shutdown = Some(last),
                        }
                        next = rx.try_recv().ok();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // Every handle dropped without a shutdown: commit what we have.
                Err(RecvTimeoutError::Disconnected) => return self.finish(None),
            }
            if let Some(last) = shutdown {
                let ok = self.finish(Some(last));
                for reply in flushes {
                    let _ = reply.send(ok);
                }
                return ok;
            }
            let now = Instant::now();
            let due = match self.failing {
                Some(_) => now >= self.next_retry,
                None => self.has_pending() || now >= self.next_heartbeat,
            };
            if due {
                self.attempt();
            }
            let committed = !self.has_pending();
            for reply in flushes {
                let _ = reply.send(committed);
            }
        }
    }

    fn has_pending(&self) -> bool {
        !self.pending.is_empty()
            || self.lost.is_some()
            || !self.marks.is_empty()
            || !self.changes.is_empty()
            || !self.windows.is_empty()
            || !self.energy.is_empty()
    }

    fn enqueue_marks(&mut self, marks: Vec<Mark>) {
        if !marks.is_empty() {
            self.stats.waiting_from(Timestamp::now());
        }
        for m in marks {
            let until = ledger_precision(m.until);
            let slot = self.marks.entry((m.kind, m.target)).or_insert(until);
            // A mark never goes back (a later-sent mark that is earlier
            // comes from a clock step; the earlier vouching stands).
            *slot = (*slot).max(until);
        }
    }

    fn enqueue(&mut self, batch: Vec<Transition>) {
        if !batch.is_empty() {
            self.stats.waiting_from(Timestamp::now());
        }
        self.incidents.set_flap_window(self.policy.flap_window());
        for mut t in batch {
            // Announce exactly what a reader will read back.
            t.at = ledger_precision(t.at);
            let terms = self.policy.terms(t.kind, &t.target, t.at);
            let changes = self.incidents.apply(&t, &terms);
            if !changes.is_empty() {
                self.stats.waiting_from(Timestamp::now());
                self.changes.extend(changes);
            }
            match &mut self.lost {
                Some(lost) => lost.fold(t),
                None => self.pending.push(t),
            }
        }
        self.enforce_limit();
    }

    /// Feeds alarms that fired or cleared to the incident engine, in order:
    /// an alarm's incident takes the device's terms, with the alarm's own
    /// severity when it has one.
    fn enqueue_alarms(&mut self, alarms: Vec<AlarmEvent>) {
        self.incidents.set_flap_window(self.policy.flap_window());
        for mut e in alarms {
            e.at = ledger_precision(e.at);
            let mut terms = self.policy.terms(TargetKind::Device, &e.device, e.at);
            if let Some(severity) = e.severity {
                terms.severity = severity;
            }
            let changes = self.incidents.alarm(&e, &terms);
            if !changes.is_empty() {
                self.stats.waiting_from(Timestamp::now());
                self.changes.extend(changes);
            }
        }
    }

    /// While the store fails, keeps memory bounded by collapsing the pending
    /// transitions into one lost span. A healthy store commits right away, so
    /// a large burst is not dropped just for arriving at once.
    fn enforce_limit(&mut self) {
        if self.failing.is_some()
            && self.lost.is_none()
            && self.pending.len() > self.opts.buffer_limit
        {
            // The earliest time, not the first sent: after a clock step the
            // queue is not in time order, and the span must cover every drop.
            let since = self
                .pending
                .iter()
                .map(|t| t.at)
                .min()
                .expect("pending is over the limit, so not empty");
            let dropped = self.pending.len();
            let mut lost = Lost {
                since,
                desired: self.known.clone(),
            };
            for t in self.pending.drain(..) {
                lost.fold(t);
            }
            tracing::error!(
                %since,
                dropped,
                targets = lost.desired.len(),
                buffer_limit = self.opts.buffer_limit,
                "store write buffer overflowed; the span from `since` until the store recovers \
                 will be recorded as unknown (cause {CAUSE_STORE_OVERFLOW})"
            );
            self.lost = Some(lost);
            self.stats.lost_spans_total.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .pending
            .store(self.pending_rows() as u64, Ordering::Relaxed);
    }

    fn pending_rows(&self) -> usize {
        match &self.lost {
            Some(lost) => 2 * lost.desired.len(),
            None => self.pending.len(),
        }
    }

    /// The tallies `batch` and the pending marks make, for the targets they
    /// touch, from the committed ones (kept until the commit succeeds).
    fn count(&self, batch: &[Transition]) -> Tallies {
        let mut next = Tallies::new();
        for t in batch {
            let key = (t.kind, t.target.clone());
            let windows = self.policy.windows(t.kind, &t.target);
            match next.get_mut(&key) {
                Some(tally) => tally.apply(t, &windows),
                None => {
                    let tally = match self.tallies.get(&key) {
                        Some(committed) => {
                            let mut tally = committed.clone();
                            tally.apply(t, &windows);
                            tally
                        }
                        None => Tally::start(t),
                    };
                    next.insert(key, tally);
                }
            }
        }
        for ((kind, target), &until) in &self.marks {
            let key = (*kind, target.clone());
            let Some(tally) = next.get(&key).or_else(|| self.tallies.get(&key)) else {
                continue; // no ledger entry yet: nothing to count
            };
            if until <= tally.until {
                continue; // nothing new vouched for: no row to rewrite
            }
            let mut tally = tally.clone();
            let mark = Mark {
                kind: *kind,
                target: target.clone(),
                until,
            };
            tally.mark(&mark, &self.policy.windows(*kind, target));
            next.insert(key, tally);
        }
        next
    }

    /// One transaction: every pending transition plus a heartbeat. Announces
    /// the batch only once it is committed. Returns whether it committed.
    fn attempt(&mut self) -> bool {
        let now = ledger_precision(Timestamp::now());
        // A heartbeat alone is a write too: if it hangs, it shows.
        self.stats.waiting_from(now);
        let lost_rows;
        let batch: &[Transition] = match &self.lost {
            Some(lost) => {
                lost_rows = lost.rows(now);
                &lost_rows
            }
            None => &self.pending,
        };
        let tallies = self.count(batch);
        let started = Instant::now();
        let commit = Commit {
            transitions: batch,
            tallies: &tallies,
            incidents: &self.changes,
            windows: &self.windows,
            energy: &self.energy,
            heartbeat: Some(now),
        };
        match self.store.commit(&commit) {
            Ok(()) => {
                let stats = &self.stats;
                stats.commits_total.fetch_add(1, Ordering::Relaxed);
                stats
                    .commit_micros_total
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                stats
                    .transitions_written_total
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                stats
                    .last_heartbeat_ms
                    .store(now.as_millisecond(), Ordering::Relaxed);
                stats.healthy.store(true, Ordering::Relaxed);
                if let Some(episode) = self.failing.take() {
                    tracing::info!(
                        failed_for = ?episode.since.elapsed(),
                        attempts = episode.attempts,
                        transitions = batch.len(),
                        "store writes recovered"
                    );
                }
                for t in batch {
                    self.known
                        .insert((t.kind, t.target.clone()), (t.state, t.cause.clone()));
                }
                self.tallies
                    .extend(tallies.iter().map(|(k, t)| (k.clone(), t.clone())));
                if !batch.is_empty() || !tallies.is_empty() || !self.changes.is_empty() {
                    // A panicking consumer must not stop the ledger.
                    let announce = &mut self.announce;
                    let changes = &self.changes;
                    if catch_unwind(AssertUnwindSafe(|| announce(batch, &tallies, changes)))
                        .is_err()
                    {
                        tracing::error!(
                            transitions = batch.len(),
                            "announce panicked after a commit; the ledger is intact, live views may lag"
                        );
                    }
                }
                // In force from the next transition on: planned incidents,
                // tallies and figures all see the new windows.
                for window in self.windows.drain(..) {
                    self.policy.add_window(&window);
                }
                for (reply, id) in self.replies.drain(..) {
                    let _ = reply.send(Ok(id));
                }
                self.stats.add_energy(&self.energy);
                self.energy.clear();
                self.changes.clear();
                self.pending.clear();
                self.marks.clear();
                self.lost = None;
                self.stats.pending.store(0, Ordering::Relaxed);
                self.stats.uncommitted_since_ms.store(0, Ordering::Relaxed);
                self.next_heartbeat = Instant::now() + self.opts.heartbeat_every;
                true
            }
            Err(e) => {
                self.stats
                    .write_errors_total
                    .fetch_add(1, Ordering::Relaxed);
                self.stats.healthy.store(false, Ordering::Relaxed);
                match &mut self.failing {
                    // Log once per episode; the counter records every attempt.
                    Some(episode) => {
                        episode.attempts += 1;
                        tracing::debug!(error = %e, attempts = episode.attempts, "store write failed again");
                    }
                    None => {
                        tracing::error!(
                            error = %e,
                            pending = batch.len(),
                            retry_every = ?self.opts.retry_every,
                            "store write failed; keeping transitions in memory and retrying"
                        );
                        self.failing = Some(Failing {
                            since: Instant::now(),
                            attempts: 1,
                        });
                    }
                }
                self.next_retry = Instant::now() + self.opts.retry_every;
                self.enforce_limit();
                false
            }
        }
    }

    /// Commits what is pending plus `last`, retrying a failing store for a
    /// while; on a clean shutdown also records the run's stop.
    fn finish(mut self, last: Option<Vec<Transition>>) -> bool {
        let clean = last.is_some();
        if let Some(last) = last {
            self.enqueue(last);
        }
        let give_up = Instant::now() + SHUTDOWN_RETRY_FOR;
        let committed = loop {
            if self.attempt() {
                break true;
            }
            if Instant::now() + self.opts.retry_every > give_up {
                tracing::error!(
                    transitions = self.pending_rows(),
                    "store still failing at shutdown; these transitions are not written \
                     (the next start records the time since the last heartbeat as unknown)"
                );
                break false;
            }
            std::thread::sleep(self.opts.retry_every);
        };
        if committed && clean {
            if let Err(e) = self.store.record_run_stop(Timestamp::now()) {
                tracing::error!(error = %e, "could not record the daemon run's stop");
            }
        }
        committed
    }
}

#[cfg(test)]
mod tests;
