//! ICMP echo prober: one shared socket per address family for the whole
//! daemon, so 10,000 targets cost two file descriptors and two receive tasks.
//!
//! * Sockets are opened by surge-ping's [`AsyncSocket`] (raw first, then the
//!   unprivileged "ping" datagram socket). surge-ping's `Client` is not used:
//!   it cannot say why it ignored a packet, calls `getsockname` for every
//!   packet and does not size the receive buffer.
//! * Packets are built and parsed by [`packet`], ours, total on any input.
//! * The kernel side (opening, buffer size, filters, drop count, `recvmmsg`)
//!   is in `socket.rs`; the tests, some in private network namespaces, in
//!   `tests.rs`.
//! * Each family's receive task reads replies in batches (`recvmmsg` on a
//!   duplicate of the socket's descriptor, registered with tokio), stamps
//!   them on arrival and hands them to the waiting round through a table of
//!   pending echoes keyed by (address, sequence).
//! * Entries stay in the table for `LINGER` after their answer or timeout,
//!   so a duplicate or a late reply is told apart from an unsolicited one,
//!   and every ignored packet is counted by reason in [`IcmpStats`].

pub mod packet;
mod probe;
mod socket;

pub use probe::IcmpProbe;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use surge_ping::AsyncSocket;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::packet::{DecodeError, Family, Message, ECHO_LEN};
use self::socket::{open_family, socket_drops, socket_kind, RecvBatch};
use super::FailureKind;

/// How long an answered or expired echo stays in the pending table, so that
/// its duplicates and late replies are recognised as such. A few seconds
/// covers a congested path; far below the ~20 s in which 10,000 targets
/// (3 echoes per 10 s) wrap the 16-bit sequence counter.
const LINGER: Duration = Duration::from_secs(5);

/// How often a receive task sweeps expired entries and reads the kernel's
/// drop counter.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Packets read per `recvmmsg` call: enough to drain a burst of replies in a
/// few calls, small enough that the buffers stay in cache.
const BATCH: usize = 32;

/// Receive buffer per packet. Echo replies to our requests are 84 bytes with
/// the IPv4 header; ICMP errors quote at most 576 bytes (IPv4, RFC 1812
/// §4.3.2.3) or 1,280 bytes (IPv6, RFC 4443 §2.4). Longer packets are cut,
/// which the decoder treats like any other truncation.
const PACKET_BUF: usize = 1_536;

/// The result of one round of echoes to one target.
#[derive(Clone, Debug, PartialEq)]
pub struct IcmpRound {
    /// Echo requests the round tried to send (including any whose `sendto`
    /// failed: they count as lost).
    pub sent: u32,
    /// Echo replies received within the timeout.
    pub received: u32,
    pub rtt_min: Option<Duration>,
    pub rtt_avg: Option<Duration>,
    pub rtt_max: Option<Duration>,
    /// Mean absolute difference of consecutive RTTs (RFC 3550 §6.4.1 without
    /// its smoothing); `None` with fewer than two replies.
    pub jitter: Option<Duration>,
    /// Why nothing came back; set exactly when `received == 0 && sent > 0`.
    pub failure: Option<FailureKind>,
}

impl IcmpRound {
    /// The round as the ledger weighs it: failed when nothing answered
    /// (cause `icmp:<failure>`), degraded at or above `degraded_loss`
    /// (cause `icmp:loss`), else answered.
    pub fn classify(&self, degraded_loss: f64) -> super::Round {
        let prober = super::Prober::Icmp;
        match crate::state::classify(self.sent, self.received, degraded_loss) {
            crate::state::RoundClass::Failed => {
                super::Round::failed(prober, self.failure.map_or("no_answer", |f| f.as_str()))
            }
            crate::state::RoundClass::Degraded => super::Round {
                class: crate::state::RoundClass::Degraded,
                cause: Some("icmp:loss".into()),
                ..super::Round::answered()
            },
            crate::state::RoundClass::Good => super::Round::answered(),
        }
    }

    /// Fraction of echoes without a reply, 0.0 to 1.0 (0.0 when nothing was
    /// sent, which only a round of `count == 0` does).
    pub fn loss_ratio(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        1.0 - f64::from(self.received.min(self.sent)) / f64::from(self.sent)
    }

    /// Summarises the outcome of each echo, in the order they were sent.
    fn from_outcomes(outcomes: &[EchoOutcome]) -> Self {
        let rtts: Vec<Duration> = outcomes
            .iter()
            .filter_map(|o| match o {
                EchoOutcome::Reply(rtt) => Some(*rtt),
                _ => None,
            })
            .collect();
        let sent = u32::try_from(outcomes.len()).unwrap_or(u32::MAX);
        let received = u32::try_from(rtts.len()).unwrap_or(u32::MAX);
        let failure = if received > 0 || sent == 0 {
            None
        } else if outcomes.contains(&EchoOutcome::Unreachable) {
            Some(FailureKind::Unreachable)
        } else if outcomes.iter().all(|o| *o == EchoOutcome::SendFailed) {
            Some(FailureKind::SendError)
        } else {
            Some(FailureKind::Timeout)
        };
        let jitter = (rtts.len() >= 2).then(|| {
            let total: Duration = rtts.windows(2).map(|w| w[0].abs_diff(w[1])).sum();
            total / (received - 1)
        });
        IcmpRound {
            sent,
            received,
            rtt_min: rtts.iter().min().copied(),
            rtt_avg: (received > 0).then(|| rtts.iter().sum::<Duration>() / received),
            rtt_max: rtts.iter().max().copied(),
            jitter,
            failure,
        }
    }
}

/// What became of one echo request within a round.
#[derive(Clone, Copy, Debug, PartialEq)]
enum EchoOutcome {
    /// Not sent yet, or sent and still within its timeout.
    Pending,
    Reply(Duration),
    /// An ICMP error (destination unreachable, time exceeded) quoted it.
    Unreachable,
    SendFailed,
    TimedOut,
}

/// Counters since [`IcmpPinger::open`], for self-monitoring metrics.
#[derive(Debug, Default)]
pub struct IcmpStats {
    /// Echo requests the kernel accepted.
    pub echoes_sent: AtomicU64,
    /// Echo replies matched to a waiting request within its timeout.
    pub replies_received: AtomicU64,
    /// ICMP errors (unreachable, time exceeded) matched to a waiting request.
    pub errors_received: AtomicU64,
    /// `sendto` failures (no route, local firewall, no socket for the family).
    pub send_errors: AtomicU64,
    /// Ignored: could not be parsed (truncated, lying header, bad checksum).
    pub malformed: AtomicU64,
    /// Ignored: carried our identifier or came from a target, but matched no
    /// request we remember.
    pub unsolicited: AtomicU64,
    /// Ignored: a second reply to a request already answered.
    pub duplicate: AtomicU64,
    /// Ignored: the reply came after its request had timed out.
    pub late: AtomicU64,
    /// Ignored: not an echo reply for us (other programs' pings, our own
    /// requests on a raw socket, other ICMP types).
    pub foreign: AtomicU64,
    /// Packets the kernel dropped because the receive buffer was full
    /// (`SK_MEMINFO_DROPS`, read once per sweep); raise `recv_buffer` if
    /// this grows.
    pub socket_drops: AtomicU64,
}

impl IcmpStats {
    /// Ignored packets by reason, with the reason's stable label.
    pub fn ignored(&self) -> [(&'static str, u64); 5] {
        [
            ("malformed", self.malformed.load(Ordering::Relaxed)),
            ("unsolicited", self.unsolicited.load(Ordering::Relaxed)),
            ("duplicate", self.duplicate.load(Ordering::Relaxed)),
            ("late", self.late.load(Ordering::Relaxed)),
            ("foreign", self.foreign.load(Ordering::Relaxed)),
        ]
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why the pinger could not start.
#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    #[error(
        "not permitted to open an ICMP socket ({source}); either run netkpi as root or grant it \
         CAP_NET_RAW (`setcap cap_net_raw+ep /usr/bin/netkpi`, or `AmbientCapabilities=CAP_NET_RAW` \
         in its systemd unit), or allow unprivileged ICMP sockets \
         (`sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`)"
    )]
    NotPermitted { source: io::Error },
    #[error("cannot open an {family} ICMP socket: {source}")]
    Socket {
        family: &'static str,
        source: io::Error,
    },
    #[error("the ICMP pinger needs a tokio runtime to run its receive tasks")]
    NoRuntime,
}

/// A message from the receive task to the round waiting for it.
#[derive(Debug)]
struct Event {
    index: usize,
    outcome: EchoOutcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EchoState {
    Waiting,
    Answered,
    Expired,
}

struct Pending {
    state: EchoState,
    sent_at: Instant,
    deadline: Instant,
    /// The round waiting for this echo and the echo's place in it; dropped
    /// once answered so a finished round's channel is freed early.
    waiter: Option<(mpsc::UnboundedSender<Event>, usize)>,
}

type PendingTable = HashMap<(IpAddr, u16), Pending>;

/// One address family's socket and the echoes it has in flight.
struct FamilySocket {
    family: Family,
    /// Sends go through surge-ping's socket; receives through `recv_fd`.
    socket: AsyncSocket,
    /// Raw sockets deliver the IPv4 header and keep our identifier; the
    /// kernel rewrites the identifier of datagram sockets to their "port".
    raw: bool,
    seq: AtomicU16,
    pending: Mutex<PendingTable>,
}

impl FamilySocket {
    fn table(&self) -> MutexGuard<'_, PendingTable> {
        // The table has no invariant a panicking holder could break halfway.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The daemon's ICMP engine. Open one with [`IcmpPinger::open`] and share it.
pub struct IcmpPinger {
    /// Our echo identifier: random, so two netkpi processes on one host do
    /// not take each other's replies on raw sockets.
    ident: u16,
    v4: FamilySocket,
    v6: Option<FamilySocket>,
    stats: IcmpStats,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for IcmpPinger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcmpPinger")
            .field("ident", &self.ident)
            .field("v4_raw", &self.v4.raw)
            .field("v6_raw", &self.v6.as_ref().map(|s| s.raw))
            .finish_non_exhaustive()
    }
}

impl IcmpPinger {
    /// Opens the sockets and spawns the receive task(s); needs a tokio
    /// runtime. The receive buffer is raised to `recv_buffer` bytes
    /// (`SO_RCVBUFFORCE` as root, else `SO_RCVBUF`, capped by
    /// `net.core.rmem_max`): with the default buffer only about half of
    /// 10,000 in-flight replies arrive.
    ///
    /// IPv4 is required. IPv6 is optional: if its socket cannot be opened a
    /// warning is logged and IPv6 rounds fail with `send_error`.
    ///
    /// The receive tasks run until `cancel` fires; rounds still running then
    /// see no more replies, so their results must be discarded.
    pub fn open(recv_buffer: usize, cancel: CancellationToken) -> Result<Arc<Self>, IcmpError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| IcmpError::NoRuntime)?;
        let (v4, v4_fd) = open_family(Family::V4, recv_buffer).map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => IcmpError::NotPermitted { source: e },
            _ => IcmpError::Socket {
                family: "IPv4",
                source: e,
            },
        })?;
        let (v6, v6_fd) = match open_family(Family::V6, recv_buffer) {
            Ok((socket, fd)) => (Some(socket), Some(fd)),
            Err(e) => {
                warn!(error = %e, "no IPv6 ICMP socket; IPv6 targets will fail with send_error");
                (None, None)
            }
        };
        let pinger = Arc::new(IcmpPinger {
            ident: rand::random(),
            v4,
            v6,
            stats: IcmpStats::default(),
            tasks: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        for (family, fd) in [(Family::V4, Some(v4_fd)), (Family::V6, v6_fd)] {
            if let Some(fd) = fd {
                let task = receive_loop(Arc::clone(&pinger), family, fd, cancel.clone());
                tasks.push(runtime.spawn(task));
            }
        }
        *pinger.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        info!(
            v4 = socket_kind(pinger.v4.raw),
            v6 = pinger.v6.as_ref().map_or("none", |s| socket_kind(s.raw)),
            "ICMP sockets open"
        );
        Ok(pinger)
    }

    /// Sends `count` echoes to `addr`, `spacing` apart, each waiting at most
    /// `timeout` for its reply; returns when all are answered or timed out.
    pub async fn round(
        &self,
        addr: IpAddr,
        count: u32,
        spacing: Duration,
        timeout: Duration,
    ) -> IcmpRound {
        let addr = addr.to_canonical();
        let count = count as usize;
        let mut outcomes = vec![EchoOutcome::Pending; count];
        let Some(fam) = self.family_socket(addr) else {
            // No socket for this family: each echo counts as a failed send.
            self.stats
                .send_errors
                .fetch_add(count as u64, Ordering::Relaxed);
            outcomes.fill(EchoOutcome::SendFailed);
            return IcmpRound::from_outcomes(&outcomes);
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = tokio::time::Instant::now();
        let send_at = |i: usize| start + spacing * u32::try_from(i).unwrap_or(u32::MAX);
        let mut next = 0;
        // Echoes in flight with their deadlines, in send order; since every
        // echo has the same timeout, the front is always the next to expire.
        let mut in_flight: VecDeque<(usize, tokio::time::Instant)> = VecDeque::with_capacity(count);
        let sleep = tokio::time::sleep_until(start);
        tokio::pin!(sleep);
        loop {
            while next < count && send_at(next) <= tokio::time::Instant::now() {
                match self.send_echo(fam, addr, next, timeout, &tx).await {
                    Ok(deadline) => in_flight.push_back((next, deadline.into())),
                    Err(_) => outcomes[next] = EchoOutcome::SendFailed,
                }
                next += 1;
            }
            // Take answers already delivered before expiring anything, so a
            // reply the receive task stamped in time is never lost to a race.
            while let Ok(event) = rx.try_recv() {
                apply(&mut outcomes, event);
            }
            let now = tokio::time::Instant::now();
            while let Some(&(i, deadline)) = in_flight.front() {
                if outcomes[i] != EchoOutcome::Pending {
                    in_flight.pop_front();
                } else if deadline <= now {
                    outcomes[i] = EchoOutcome::TimedOut;
                    in_flight.pop_front();
                } else {
                    break;
                }
            }
            let wake = match (next < count, in_flight.front()) {
                (true, Some(&(_, deadline))) => send_at(next).min(deadline),
                (true, None) => send_at(next),
                (false, Some(&(_, deadline))) => deadline,
                (false, None) => break,
            };
            sleep.as_mut().reset(wake);
            tokio::select! {
                biased;
                Some(event) = rx.recv() => apply(&mut outcomes, event),
                () = &mut sleep => {}
            }
        }
        IcmpRound::from_outcomes(&outcomes)
    }

    pub fn stats(&self) -> &IcmpStats {
        &self.stats
    }

    /// Waits until the receive tasks have stopped (after `cancel`).
    pub async fn closed(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }

    fn family_socket(&self, addr: IpAddr) -> Option<&FamilySocket> {
        match addr {
            IpAddr::V4(_) => Some(&self.v4),
            IpAddr::V6(_) => self.v6.as_ref(),
        }
    }

    fn bump(counter: &AtomicU64) {
        IcmpStats::bump(counter);
    }

    /// Registers and sends one echo; returns its deadline.
    async fn send_echo(
        &self,
        fam: &FamilySocket,
        addr: IpAddr,
        index: usize,
        timeout: Duration,
        tx: &mpsc::UnboundedSender<Event>,
    ) -> io::Result<Instant> {
        let seq = fam.seq.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; ECHO_LEN];
        packet::encode_echo_request(fam.family, self.ident, seq, &mut buf);
        // Registered before sending: on loopback the reply can reach the
        // receive task before `sendto` returns.
        let sent_at = Instant::now();
        let deadline = sent_at + timeout;
        fam.table().insert(
            (addr, seq),
            Pending {
                state: EchoState::Waiting,
                sent_at,
                deadline,
                waiter: Some((tx.clone(), index)),
            },
        );
        match fam
            .socket
            .send_to(&mut buf, &SocketAddr::new(addr, 0))
            .await
        {
            Ok(_) => {
                Self::bump(&self.stats.echoes_sent);
                Ok(deadline)
            }
            Err(e) => {
                fam.table().remove(&(addr, seq));
                Self::bump(&self.stats.send_errors);
                debug!(%addr, error = %e, "ICMP send failed");
                Err(e)
            }
        }
    }

    /// Matches a batch of received packets against the pending table.
    fn dispatch(&self, fam: &FamilySocket, batch: &RecvBatch, received: usize, now: Instant) {
        let stats = &self.stats;
        let with_ip_header = fam.raw && fam.family == Family::V4;
        let mut table: Option<MutexGuard<'_, PendingTable>> = None;
        for i in 0..received {
            let (bytes, from) = batch.packet(i);
            let (key, ident, outcome) = match packet::decode(bytes, fam.family, with_ip_header) {
                Ok(Message::EchoReply { ident, seq }) => {
                    let Some(from) = from else {
                        Self::bump(&stats.malformed);
                        continue;
                    };
                    ((from.to_canonical(), seq), ident, None)
                }
                Ok(Message::Error {
                    target, ident, seq, ..
                }) => (
                    (target.to_canonical(), seq),
                    ident,
                    Some(EchoOutcome::Unreachable),
                ),
                Err(DecodeError::Foreign { .. }) => {
                    Self::bump(&stats.foreign);
                    continue;
                }
                Err(_) => {
                    Self::bump(&stats.malformed);
                    continue;
                }
            };
            if fam.raw && ident != self.ident {
                Self::bump(&stats.foreign);
                continue;
            }
            let table = table.get_or_insert_with(|| fam.table());
            let Some(entry) = table.get_mut(&key) else {
                Self::bump(&stats.unsolicited);
                continue;
            };
            match entry.state {
                EchoState::Answered => Self::bump(&stats.duplicate),
                EchoState::Expired => Self::bump(&stats.late),
                EchoState::Waiting if now > entry.deadline => {
                    entry.state = EchoState::Expired;
                    entry.waiter = None;
                    Self::bump(&stats.late);
                }
                EchoState::Waiting => {
                    let outcome = outcome.unwrap_or(EchoOutcome::Reply(
                        now.saturating_duration_since(entry.sent_at),
                    ));
                    let waiter = entry.waiter.take().filter(|(tx, _)| !tx.is_closed());
                    let Some((tx, index)) = waiter else {
                        // The round gave up (it finished or was dropped).
                        entry.state = EchoState::Expired;
                        Self::bump(&stats.late);
                        continue;
                    };
                    // Counted before the round is woken, so a round that
                    // reads the statistics sees its own reply counted.
                    if outcome == EchoOutcome::Unreachable {
                        // Later replies to it are late, not duplicates.
                        entry.state = EchoState::Expired;
                        Self::bump(&stats.errors_received);
                    } else {
                        entry.state = EchoState::Answered;
                        Self::bump(&stats.replies_received);
                    }
                    // Fails only if the round was dropped this instant; the
                    // reply was then on time and stays counted.
                    let _ = tx.send(Event { index, outcome });
                }
            }
        }
    }
}

fn apply(outcomes: &mut [EchoOutcome], event: Event) {
    if let Some(slot) = outcomes.get_mut(event.index) {
        // A reply the receive task accepted within the deadline wins even
        // if this round's timer fired first.
        if matches!(slot, EchoOutcome::Pending | EchoOutcome::TimedOut) {
            *slot = event.outcome;
        }
    }
}

/// One family's receive task: reads replies in batches and sweeps the
/// pending table, until `cancel` fires.
async fn receive_loop(
    pinger: Arc<IcmpPinger>,
    family: Family,
    fd: AsyncFd<OwnedFd>,
    cancel: CancellationToken,
) {
    let fam = match family {
        Family::V4 => &pinger.v4,
        Family::V6 => match &pinger.v6 {
            Some(fam) => fam,
            None => return,
        },
    };
    let mut batch = RecvBatch::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    let mut drops_seen = socket_drops(fd.as_raw_fd()).unwrap_or(0);
    loop {
        tokio::select! {
            biased;
            () = &mut cancelled => break,
            _ = sweep.tick() => {
                let now = Instant::now();
                fam.table().retain(|_, p| now < p.deadline + LINGER);
                if let Some(drops) = socket_drops(fd.as_raw_fd()) {
                    let new = drops.wrapping_sub(drops_seen);
                    if new > 0 {
                        pinger.stats.socket_drops.fetch_add(u64::from(new), Ordering::Relaxed);
                    }
                    drops_seen = drops;
                }
            }
            ready = fd.readable() => {
                let mut guard = match ready {
                    Ok(guard) => guard,
                    Err(e) => {
                        warn!(error = %e, "ICMP receive task stopped: socket no longer pollable");
                        break;
                    }
                };
                match batch.recv(fd.as_raw_fd()) {
                    Ok(n) => {
                        let now = Instant::now();
                        if n < BATCH {
                            // The queue was empty when the kernel returned:
                            // wait for the next edge (tokio keeps readiness if
                            // one arrived meanwhile).
                            guard.clear_ready();
                        }
                        pinger.dispatch(fam, &batch, n, now);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // A pending socket error (e.g. a queued ICMP error on
                        // a datagram socket) is reported once and cleared.
                        debug!(error = %e, "ICMP receive error");
                    }
                }
            }
        }
    }
    debug!(family = ?family, "ICMP receive task stopped");
}

#[cfg(test)]
mod tests;
