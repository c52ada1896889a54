//! ICMP echo prober: one shared socket per address family for the whole
//! daemon, and one task that takes every ICMP round of every target.
//!
//! * Sockets are opened raw first, then as the unprivileged "ping" datagram
//!   socket; the kernel side (buffer size, filters, drop count, `sendmmsg`,
//!   `recvmmsg`) is in `socket.rs`.
//! * Packets are built and parsed by [`packet`], ours, total on any input.
//! * The schedule (`schedule.rs`, pure) keeps every target's rounds on one
//!   timeline of 10 ms slots; the echoes due in a slot go out in one
//!   `sendmmsg`, at most what the targets' intervals spread into a slot.
//! * Replies are read in batches with `recvmmsg`, stamped on arrival and
//!   matched to their echo by sequence number in a preallocated table
//!   (`table.rs`), without allocation. A round reaches the ledger once, when
//!   it is complete, stamped with the time its first echo went out.
//! * The engine task (`engine.rs`) does all the I/O; the tests, some in
//!   private network namespaces, are in `tests.rs`.
//! * Entries stay in the table after their answer or timeout, so a duplicate
//!   or a late reply is told apart from an unsolicited one, and every
//!   ignored packet is counted by reason in [`IcmpStats`].

mod engine;
pub mod packet;
mod probe;
mod schedule;
mod socket;
mod table;

pub use probe::{echo_spacing, taken};
pub use schedule::Lookup;

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use self::engine::{Command, Engine};
use self::packet::Family;
use self::schedule::{Address, Plan};
use self::socket::{open_family, socket_kind};
use super::FailureKind;
use crate::config::IcmpSettings;
use crate::probes::resolve::Resolver;
use crate::scheduler::Sink;

/// How often the engine reads the kernel's drop counter.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Packets read per `recvmmsg` call and sent per `sendmmsg` call: enough to
/// drain a burst of replies in a few calls, small enough that the buffers
/// stay in cache.
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

    /// A round that could not start: the device's name does not resolve.
    fn resolve_failed() -> Self {
        IcmpRound {
            sent: 0,
            received: 0,
            rtt_min: None,
            rtt_avg: None,
            rtt_max: None,
            jitter: None,
            failure: Some(FailureKind::ResolveError),
        }
    }

    /// Summarises the outcome of each echo, in the order they were sent
    /// (without allocating: it runs once per round of every target).
    fn from_outcomes(outcomes: &[EchoOutcome]) -> Self {
        let rtts = || {
            outcomes.iter().filter_map(|o| match o {
                EchoOutcome::Reply(rtt) => Some(*rtt),
                _ => None,
            })
        };
        let sent = u32::try_from(outcomes.len()).unwrap_or(u32::MAX);
        let received = u32::try_from(rtts().count()).unwrap_or(u32::MAX);
        let failure = if received > 0 || sent == 0 {
            None
        } else if outcomes.contains(&EchoOutcome::Unreachable) {
            Some(FailureKind::Unreachable)
        } else if outcomes.iter().all(|o| *o == EchoOutcome::SendFailed) {
            Some(FailureKind::SendError)
        } else {
            Some(FailureKind::Timeout)
        };
        let jitter = (received >= 2).then(|| {
            let total: Duration = rtts().zip(rtts().skip(1)).map(|(a, b)| a.abs_diff(b)).sum();
            total / (received - 1)
        });
        IcmpRound {
            sent,
            received,
            rtt_min: rtts().min(),
            rtt_avg: (received > 0).then(|| rtts().sum::<Duration>() / received),
            rtt_max: rtts().max(),
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
    /// Echo requests sent whose round ended with neither a reply nor an
    /// error in their timeout: the replies lost.
    pub echoes_timed_out: AtomicU64,
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
    /// (`SK_MEMINFO_DROPS`, read every second); raise `recv_buffer` if
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

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
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
    #[error("the ICMP pinger needs a tokio runtime to run its engine task")]
    NoRuntime,
}

/// What the pinger knows of one family's socket.
#[derive(Debug)]
struct FamilyInfo {
    /// Raw sockets deliver the IPv4 header and keep our identifier; the
    /// kernel rewrites the identifier of datagram sockets to their "port".
    raw: bool,
    /// The sequence number of the family's first echo.
    first_seq: u16,
}

/// One ICMP target of a configuration, for [`IcmpPinger::schedule`].
pub struct IcmpTarget {
    /// Where its rounds are published and sent.
    pub sink: Sink,
    /// An IP address or a DNS name.
    pub address: String,
    pub settings: IcmpSettings,
}

/// The daemon's ICMP engine. Open one with [`IcmpPinger::open`] and share it.
pub struct IcmpPinger {
    /// Our echo identifier: random, so two netkpi processes on one host do
    /// not take each other's replies on raw sockets.
    ident: u16,
    v4: FamilyInfo,
    v6: Option<FamilyInfo>,
    stats: Arc<IcmpStats>,
    commands: mpsc::UnboundedSender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
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
    /// Opens the sockets and spawns the engine task; needs a tokio runtime.
    /// The receive buffer is raised to `recv_buffer` bytes
    /// (`SO_RCVBUFFORCE` as root, else `SO_RCVBUF`, capped by
    /// `net.core.rmem_max`): with the default buffer only about half of
    /// 10,000 in-flight replies arrive.
    ///
    /// IPv4 is required. IPv6 is optional: if its socket cannot be opened a
    /// warning is logged and IPv6 rounds fail with `send_error`.
    ///
    /// The engine runs until `cancel` fires; rounds still running then are
    /// dropped (a pending [`IcmpPinger::round`] returns a timed-out round).
    pub fn open(recv_buffer: usize, cancel: CancellationToken) -> Result<Arc<Self>, IcmpError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| IcmpError::NoRuntime)?;
        let v4 = open_family(Family::V4, recv_buffer).map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => IcmpError::NotPermitted { source: e },
            _ => IcmpError::Socket {
                family: "IPv4",
                source: e,
            },
        })?;
        let v6 = match open_family(Family::V6, recv_buffer) {
            Ok(socket) => Some(socket),
            Err(e) => {
                warn!(error = %e, "no IPv6 ICMP socket; IPv6 targets will fail with send_error");
                None
            }
        };
        let ident = rand::random();
        let stats = Arc::new(IcmpStats::default());
        let info = |raw| FamilyInfo {
            raw,
            first_seq: rand::random(),
        };
        let v4_info = info(v4.raw);
        let v6_info = v6.as_ref().map(|s| info(s.raw));
        info!(
            v4 = socket_kind(v4_info.raw),
            v6 = v6_info.as_ref().map_or("none", |s| socket_kind(s.raw)),
            "ICMP sockets open"
        );
        let core = schedule::Core::new(
            Instant::now(),
            ident,
            [
                Some((v4_info.first_seq, v4_info.raw)),
                v6_info.as_ref().map(|s| (s.first_seq, s.raw)),
            ],
            Arc::clone(&stats),
        );
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let engine = Engine::new(core, [Some(v4), v6], Arc::clone(&stats));
        let task = runtime.spawn(engine.run(commands_rx, cancel));
        Ok(Arc::new(IcmpPinger {
            ident,
            v4: v4_info,
            v6: v6_info,
            stats,
            commands,
            task: Mutex::new(Some(task)),
        }))
    }

    /// Takes the rounds of `targets` from now on, in place of the targets
    /// given before (a reload): each target's first round comes at its
    /// stable phase in its interval ([`crate::scheduler::phase`]), then one
    /// every interval. DNS names are looked up by a task each, on `tasks`;
    /// everything stops when `cancel` fires.
    pub fn schedule(
        &self,
        targets: Vec<IcmpTarget>,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) {
        let targets = targets
            .into_iter()
            .map(|t| {
                let address = match t.address.parse::<IpAddr>() {
                    Ok(ip) => Address::Fixed(ip.to_canonical()),
                    Err(_) => {
                        let lookup = Arc::new(Lookup::default());
                        tasks.spawn(resolve(
                            t.address.clone(),
                            t.settings.interval,
                            Arc::clone(&lookup),
                            cancel.clone(),
                        ));
                        Address::Looked(lookup)
                    }
                };
                let plan = Plan {
                    count: t.settings.count,
                    spacing: echo_spacing(&t.settings),
                    timeout: t.settings.timeout,
                };
                let phase = crate::scheduler::phase(&t.sink.device, t.settings.interval);
                engine::Scheduled {
                    address,
                    plan,
                    interval: t.settings.interval,
                    phase,
                    degraded_loss: t.settings.degraded_loss,
                    sink: t.sink,
                }
            })
            .collect();
        // Fails only when the engine has stopped (shutdown).
        let _ = self.commands.send(Command::Schedule { targets, cancel });
    }

    /// Sends `count` echoes to `addr`, `spacing` apart, each waiting at most
    /// `timeout` for its reply; returns when all are answered or timed out.
    /// A single round outside the schedule (it does not count in the slot
    /// budget), through the same engine.
    pub async fn round(
        &self,
        addr: IpAddr,
        count: u32,
        spacing: Duration,
        timeout: Duration,
    ) -> IcmpRound {
        let (reply, result) = oneshot::channel();
        let plan = Plan {
            count,
            spacing,
            timeout,
        };
        let _ = self.commands.send(Command::Once { addr, plan, reply });
        match result.await {
            Ok(round) => round,
            // The engine stopped (cancelled) before the round ended.
            Err(_) => IcmpRound::from_outcomes(&vec![EchoOutcome::TimedOut; count as usize]),
        }
    }

    pub fn stats(&self) -> &IcmpStats {
        &self.stats
    }

    /// Waits until the engine task has stopped (after `cancel`).
    pub async fn closed(&self) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Looks a device's DNS name up now and then once per `interval` (the
/// [`Resolver`] keeps a good address for its own period and the last good
/// one while lookups fail), publishing the result in `lookup` for the
/// engine, which cannot wait for DNS.
async fn resolve(name: String, interval: Duration, lookup: Arc<Lookup>, cancel: CancellationToken) {
    let mut resolver = Resolver::new(name);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            addr = resolver.address() => lookup.set(addr),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests;
