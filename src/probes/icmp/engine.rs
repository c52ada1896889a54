//! The ICMP engine task: the one task that sends and receives every echo
//! of the daemon. It sleeps until the next slot with work, hands the echoes
//! due to the kernel in `sendmmsg` batches, reads replies with `recvmmsg`
//! until the socket is empty, and publishes each finished round through its
//! target's [`Sink`], once per round. The logic is in [`Core`]; this file is
//! only the I/O and the task's select loop.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tracing::{debug, warn};

use super::packet::{self, Family};
use super::schedule::{Address, Core, Done, Outgoing, Plan};
use super::socket::{socket_drops, OpenSocket, RecvBatch, SendBatch};
use super::{taken, IcmpRound, IcmpStats, BATCH, SWEEP_EVERY};
use crate::ledger::Input;
use crate::probes::Prober;
use crate::scheduler::Sink;

/// A scheduled target as the engine keeps it.
pub(super) struct Scheduled {
    pub address: Address,
    pub plan: Plan,
    pub interval: Duration,
    pub phase: Duration,
    pub degraded_loss: f64,
    pub sink: Sink,
}

/// What the pinger's handle asks of the engine.
pub(super) enum Command {
    /// Replace the scheduled targets; drop them when `cancel` fires.
    Schedule {
        targets: Vec<Scheduled>,
        cancel: CancellationToken,
    },
    /// One round outside the schedule.
    Once {
        addr: std::net::IpAddr,
        plan: Plan,
        reply: oneshot::Sender<IcmpRound>,
    },
}

/// What the engine keeps per scheduled target to publish its rounds.
pub(super) struct Publish {
    sink: Sink,
    degraded_loss: f64,
}

pub(super) struct Engine {
    core: Core<Publish>,
    /// Per family (v4, v6).
    sockets: [Option<OpenSocket>; 2],
    stats: Arc<IcmpStats>,
    send: SendBatch,
    recv: RecvBatch,
    outgoing: Vec<Outgoing>,
    done: Vec<Done>,
    /// Rounds the ledger's queue had no room for yet, in order.
    outbox: VecDeque<(mpsc::Sender<Input>, Input)>,
    /// Fires when the scheduled targets' generation is cancelled (a reload
    /// or shutdown).
    generation: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    drops_seen: [u32; 2],
}

impl Engine {
    pub(super) fn new(
        core: Core<Publish>,
        sockets: [Option<OpenSocket>; 2],
        stats: Arc<IcmpStats>,
    ) -> Self {
        let drops_seen = [0, 1].map(|i| {
            sockets[i]
                .as_ref()
                .and_then(|s| socket_drops(s.fd.as_raw_fd()))
                .unwrap_or(0)
        });
        Engine {
            core,
            sockets,
            stats,
            send: SendBatch::new(),
            recv: RecvBatch::new(),
            outgoing: Vec::with_capacity(BATCH),
            done: Vec::new(),
            outbox: VecDeque::new(),
            generation: None,
            drops_seen,
        }
    }

    /// Runs until `cancel` fires or the pinger's handle is dropped.
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        cancel: CancellationToken,
    ) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        // Made once, not per turn of the loop: each cancellation future
        // registers with its token, under the token's lock.
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            let wake = self.core.next_wake();
            if let Some(at) = wake {
                sleep.as_mut().reset(at.into());
            }
            let v6 = self.sockets[1].is_some();
            let has_generation = self.generation.is_some();
            let Some(v4_fd) = self.sockets[0].as_ref().map(|s| &s.fd) else {
                return;
            };
            let v6_fd = self.sockets[1].as_ref().map(|s| &s.fd);
            let generation = &mut self.generation;
            let ledger = self.outbox.front().map(|(tx, _)| tx.clone());
            tokio::select! {
                // Replies first, so that a reply read in time is stamped
                // before its round's deadline is handled.
                biased;
                () = &mut cancelled => break,
                ready = v4_fd.readable() => match ready {
                    Ok(mut guard) => {
                        let fd = guard.get_inner().as_raw_fd();
                        if drain(&mut self.core, &mut self.recv, fd, Family::V4) {
                            guard.clear_ready();
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "ICMP engine stopped: socket no longer pollable");
                        break;
                    }
                },
                ready = async { v6_fd.expect("guarded").readable().await }, if v6 => match ready {
                    Ok(mut guard) => {
                        let fd = guard.get_inner().as_raw_fd();
                        if drain(&mut self.core, &mut self.recv, fd, Family::V6) {
                            guard.clear_ready();
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "ICMP engine: IPv6 socket no longer pollable");
                        self.sockets[1] = None;
                    }
                },
                () = &mut sleep, if wake.is_some() => self.tick(),
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                () = async { generation.as_mut().expect("guarded").await }, if has_generation => {
                    self.core.clear_scheduled();
                    self.generation = None;
                }
                permit = async { ledger.expect("guarded").reserve_owned().await }, if !self.outbox.is_empty() => {
                    match permit {
                        Ok(permit) => {
                            if let Some((_, input)) = self.outbox.pop_front() {
                                permit.send(input);
                            }
                        }
                        Err(_) => self.ledger_stopped(),
                    }
                }
                _ = sweep.tick() => self.count_drops(),
            }
            self.publish();
        }
        debug!("ICMP engine stopped");
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Schedule { targets, cancel } => {
                self.outbox.clear();
                self.generation = Some(Box::pin(cancel.cancelled_owned()));
                self.core.replace_scheduled(
                    targets.into_iter().map(|t| {
                        let publish = Publish {
                            sink: t.sink,
                            degraded_loss: t.degraded_loss,
                        };
                        (t.address, t.plan, t.interval, t.phase, publish)
                    }),
                    now,
                );
                debug!(
                    echoes_per_wake = self.core.cap(),
                    slots_per_wake = self.core.stride(),
                    "ICMP schedule replaced"
                );
            }
            Command::Once { addr, plan, reply } => self.core.add_once(addr, plan, reply, now),
        }
    }

    /// Sends the echoes due now, in one `sendmmsg` batch per family (more
    /// if a slot holds more than a batch).
    fn tick(&mut self) {
        let now = Instant::now();
        self.outgoing.clear();
        self.core.run_due(now, &mut self.outgoing);
        let ident = self.core.ident();
        for family in [Family::V4, Family::V6] {
            let mut from = 0;
            while from < self.outgoing.len() {
                self.send.clear();
                let mut members = [0usize; BATCH];
                let mut n = 0;
                for (k, o) in self.outgoing.iter().enumerate().skip(from) {
                    from = k + 1;
                    if o.family != family {
                        continue;
                    }
                    let buf = self.send.push(o.addr);
                    packet::encode_echo_request(family, ident, o.seq, buf);
                    members[n] = k;
                    n += 1;
                    if self.send.is_full() {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
                self.flush(family, &members[..n]);
            }
        }
    }

    /// Sends the batch built from `outgoing[members]` and reports each
    /// packet's fate to the core.
    fn flush(&mut self, family: Family, members: &[usize]) {
        let Some(socket) = self.sockets[family_index(family)].as_ref() else {
            let now = Instant::now();
            for &k in members {
                let o = self.outgoing[k];
                self.core.send_failed(&o, now);
            }
            return;
        };
        let fd = socket.fd.as_raw_fd();
        // Stamped just before the call: on loopback the replies are queued
        // before it returns, so a stamp after would shorten the RTT.
        let at = Instant::now();
        let core = &mut self.core;
        let outgoing = &self.outgoing;
        self.send.send(fd, |i, result| {
            let o = &outgoing[members[i]];
            match result {
                Ok(()) => core.sent(o, at),
                Err(e) => {
                    debug!(addr = %o.addr, error = %e, "ICMP send failed");
                    core.send_failed(o, Instant::now());
                }
            }
        });
    }

    /// Publishes the rounds finished since the last call and queues them
    /// for the ledger.
    fn publish(&mut self) {
        self.core.take_done(&mut self.done);
        if self.done.is_empty() {
            return;
        }
        let (now, wall) = (Instant::now(), Timestamp::now());
        let mut finished = std::mem::take(&mut self.done);
        for done in finished.drain(..) {
            let Some(p) = self.core.sink(done.target) else {
                continue;
            };
            // The stamp is when the round's first echo went out: a failed
            // round's stamp is the outage's start.
            let ago = SignedDuration::try_from(now.saturating_duration_since(done.started))
                .unwrap_or(SignedDuration::ZERO);
            let at = wall.checked_sub(ago).unwrap_or(wall);
            let duration = done.finished.saturating_duration_since(done.started);
            let taken = taken(&done.round, p.degraded_loss);
            let input = p.sink.publish(Prober::Icmp, at, duration, taken);
            let tx = &p.sink.observations;
            if !self.outbox.is_empty() {
                self.outbox.push_back((tx.clone(), input));
                continue;
            }
            match tx.try_send(input) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(input)) => {
                    self.outbox.push_back((tx.clone(), input));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.ledger_stopped();
                    break;
                }
            }
        }
        finished.clear();
        // Kept for its capacity: no allocation per round.
        self.done = finished;
    }

    /// The ledger has stopped (shutdown): no more scheduled rounds.
    fn ledger_stopped(&mut self) {
        self.outbox.clear();
        self.done.clear();
        self.core.clear_scheduled();
        self.generation = None;
    }

    /// Adds what the kernel dropped on each socket since the last look.
    fn count_drops(&mut self) {
        for i in 0..2 {
            let Some(socket) = self.sockets[i].as_ref() else {
                continue;
            };
            if let Some(drops) = socket_drops(socket.fd.as_raw_fd()) {
                let new = drops.wrapping_sub(self.drops_seen[i]);
                if new > 0 {
                    self.stats
                        .socket_drops
                        .fetch_add(u64::from(new), Ordering::Relaxed);
                }
                self.drops_seen[i] = drops;
            }
        }
    }
}

/// Reads and matches every packet queued on `family`'s socket `fd`; true
/// when the socket is empty (its readiness may be cleared).
fn drain(core: &mut Core<Publish>, recv: &mut RecvBatch, fd: RawFd, family: Family) -> bool {
    loop {
        match recv.recv(fd) {
            Ok(n) => {
                let now = Instant::now();
                for i in 0..n {
                    let (bytes, from) = recv.packet(i);
                    core.received(family, bytes, from, now);
                }
                if n < BATCH {
                    // The queue was empty when the kernel returned: wait for
                    // the next edge (tokio keeps readiness if one arrived
                    // meanwhile).
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // A pending socket error (e.g. a queued ICMP error on a
                // datagram socket) is reported once and cleared.
                debug!(error = %e, "ICMP receive error");
                return false;
            }
        }
    }
}

fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}
