//! Trap and inform receiver: SNMPv1 Trap-PDUs, SNMPv2c traps and informs,
//! SNMPv3 traps under USM, on one UDP socket (configured by `[traps]`).
//!
//! * [`decode`] is pure and total: one datagram in, a [`Decoded`] or a
//!   [`Reject`] with a stable reason out, never a panic. v1 and v2c are read
//!   by our own BER reader ([`super::ber`]); v3 frames too, with only the HMAC
//!   check and decryption left to `snmp2` (`usm`). It lives in
//!   `datagram.rs`.
//! * [`TrapReceiver::start`] binds the socket and runs one receive task that
//!   decodes, answers informs (RFC 3416 §4.2.7) and forwards a [`TrapEvent`]
//!   for every accepted notification, unknown ones included. Everything it
//!   sees is counted in [`TrapStats`]; a rejection is logged once per source
//!   and reason, so a misconfigured sender does not flood the log.
//! * Communities and pass phrases are [`Secret`]s, and nothing taken from a
//!   datagram's community field is ever logged, formatted or forwarded.
//!
//! A trap is a hint, not a verdict: the daemon uses it to poll at once, so a
//! lost linkUp cannot hold a line down (issue 3, part 5). A trap alarm
//! (`[[alarm]] trap = ...`) is raised by its trap and cleared by the polls
//! or its clearing trap; it opens an incident, never changes a state.

mod datagram;
pub mod routes;
#[cfg(test)]
mod tests;
mod usm;

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub use self::datagram::decode;
pub use self::usm::{EngineClock, UsmKeys, V3Auth, V3Privacy, V3TrapUser};
use super::{Oid, Varbind};
use crate::config::Traps;
use crate::secret::Secret;

/// Receive buffer: the largest UDP payload. A longer datagram cannot exist;
/// a cut one fails to decode like any other truncation.
const DATAGRAM_MAX: usize = 65_536;

/// Socket receive buffer asked of the kernel (capped by net.core.rmem_max),
/// so a burst of traps from a flapping core link waits in the kernel rather
/// than being dropped.
const SOCKET_RCVBUF: usize = 4 << 20;

/// Distinct (source, reason) pairs whose first rejection is logged; beyond
/// this rejections are only counted, so a spoofing flood cannot grow memory.
const REJECT_LOG_MAX: usize = 4_096;

/// Pause after a receive error other than a stale ICMP report, so a broken
/// socket cannot spin the task.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The `[traps]` section, resolved.
#[derive(Clone, Debug)]
pub struct TrapConfig {
    pub listen: SocketAddr,
    /// Accepted v1/v2c communities; empty refuses all v1 and v2c.
    pub communities: Vec<Secret>,
    pub v3_users: Vec<V3TrapUser>,
}

impl TrapConfig {
    /// The receiver's settings from the config's `[traps]`.
    pub fn from_config(traps: &Traps) -> TrapConfig {
        TrapConfig {
            listen: traps.listen,
            communities: traps.communities.clone(),
            v3_users: traps.v3_users.iter().map(V3TrapUser::from).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapVersion {
    V1,
    V2c,
    V3,
}

impl TrapVersion {
    pub const ALL: [TrapVersion; 3] = [TrapVersion::V1, TrapVersion::V2c, TrapVersion::V3];

    pub fn as_str(self) -> &'static str {
        match self {
            TrapVersion::V1 => "v1",
            TrapVersion::V2c => "v2c",
            TrapVersion::V3 => "v3",
        }
    }
}

/// What a notification means to netkpi. Anything else is `Other`, still
/// forwarded and counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// IF-MIB linkDown; `if_index` from the ifIndex varbind.
    LinkDown {
        if_index: Option<u32>,
    },
    LinkUp {
        if_index: Option<u32>,
    },
    ColdStart,
    WarmStart,
    /// UPS-MIB upsTrapOnBattery.
    UpsOnBattery,
    /// UPS-MIB upsTrapAlarmEntryAdded; `alarm` from upsAlarmDescr.
    UpsAlarmAdded {
        alarm: Option<Oid>,
    },
    UpsAlarmRemoved {
        alarm: Option<Oid>,
    },
    AuthenticationFailure,
    Other,
}

impl TrapKind {
    /// Stable snake_case name, for labels and log fields.
    pub fn as_str(&self) -> &'static str {
        match self {
            TrapKind::LinkDown { .. } => "link_down",
            TrapKind::LinkUp { .. } => "link_up",
            TrapKind::ColdStart => "cold_start",
            TrapKind::WarmStart => "warm_start",
            TrapKind::UpsOnBattery => "ups_on_battery",
            TrapKind::UpsAlarmAdded { .. } => "ups_alarm_added",
            TrapKind::UpsAlarmRemoved { .. } => "ups_alarm_removed",
            TrapKind::AuthenticationFailure => "authentication_failure",
            TrapKind::Other => "other",
        }
    }
}

/// One accepted notification.
#[derive(Clone, Debug, PartialEq)]
pub struct TrapEvent {
    pub received_at: jiff::Timestamp,
    pub source: SocketAddr,
    /// The v1 Trap-PDU's agent-addr (it may differ from `source` behind NAT
    /// or a relay).
    pub agent_addr: Option<Ipv4Addr>,
    pub version: TrapVersion,
    /// An InformRequest, acknowledged before this event was sent.
    pub inform: bool,
    /// snmpTrapOID.0, or the v1 enterprise/generic/specific triple converted
    /// per RFC 3584 §3.1.
    pub trap_oid: Oid,
    /// sysUpTime.0 (v2c, v3) or the time-stamp (v1), in hundredths of a second.
    pub uptime: Option<u32>,
    pub kind: TrapKind,
    /// The variable bindings without sysUpTime.0 and snmpTrapOID.0 (they are
    /// `uptime` and `trap_oid`). A v1 trap gets snmpTrapAddress.0 and
    /// snmpTrapEnterprise.0 appended as RFC 3584 §3.1 (3) says, but never
    /// snmpTrapCommunity.0: the community is a secret.
    pub varbinds: Vec<Varbind>,
}

/// Why a datagram was not turned into an event. Stable snake_case names via
/// [`RejectReason::as_str`], for the `reason` label and log fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// v1/v2c community not among `communities`.
    BadCommunity,
    /// v3: wrong key, wrong security level, outside the time window.
    AuthFailed,
    /// v3: user (or user at this engine ID) not configured.
    UnknownUser,
    /// Not a well-formed SNMP message.
    DecodeError,
    /// A well-formed SNMP message that is not a notification (a GET, a
    /// response, a v3 inform).
    NotATrap,
}

impl RejectReason {
    pub const ALL: [RejectReason; 5] = [
        RejectReason::BadCommunity,
        RejectReason::AuthFailed,
        RejectReason::UnknownUser,
        RejectReason::DecodeError,
        RejectReason::NotATrap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadCommunity => "bad_community",
            RejectReason::AuthFailed => "auth_failed",
            RejectReason::UnknownUser => "unknown_user",
            RejectReason::DecodeError => "decode_error",
            RejectReason::NotATrap => "not_a_trap",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejection: its reason and a fixed phrase saying what was wrong. Neither
/// carries a byte of the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    pub reason: RejectReason,
    pub detail: &'static str,
}

impl Reject {
    fn new(reason: RejectReason, detail: &'static str) -> Reject {
        Reject { reason, detail }
    }

    fn decode(detail: &'static str) -> Reject {
        Reject::new(RejectReason::DecodeError, detail)
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Reject {}

/// The answer to an inform. It carries the community, so its `Debug` shows
/// only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply(Vec<u8>);

impl Reply {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reply(<{} octets>)", self.0.len())
    }
}

/// One datagram, understood.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub version: TrapVersion,
    pub inform: bool,
    pub agent_addr: Option<Ipv4Addr>,
    pub trap_oid: Oid,
    pub uptime: Option<u32>,
    pub kind: TrapKind,
    pub varbinds: Vec<Varbind>,
    /// For an authenticated v3 message: the sender's engine clock, which the
    /// receiver checks against its time window (RFC 3414 §3.2.7 b).
    pub engine: Option<EngineClock>,
    /// For a v2c inform: the Response-PDU to send back.
    pub reply: Option<Reply>,
}

impl Decoded {
    pub fn into_event(self, source: SocketAddr, received_at: jiff::Timestamp) -> TrapEvent {
        TrapEvent {
            received_at,
            source,
            agent_addr: self.agent_addr,
            version: self.version,
            inform: self.inform,
            trap_oid: self.trap_oid,
            uptime: self.uptime,
            kind: self.kind,
            varbinds: self.varbinds,
        }
    }
}

/// Counters of everything the receiver saw. Accepted notifications plus
/// rejections equal the datagrams read.
#[derive(Debug, Default)]
pub struct TrapStats {
    received: [AtomicU64; 3],
    informs_acknowledged: AtomicU64,
    rejected: [AtomicU64; 5],
    events_dropped: AtomicU64,
}

impl TrapStats {
    /// Notifications accepted, by version (informs included).
    pub fn received(&self, version: TrapVersion) -> u64 {
        self.received[version as usize].load(Ordering::Relaxed)
    }

    pub fn received_by_version(&self) -> Vec<(&'static str, u64)> {
        TrapVersion::ALL
            .iter()
            .map(|&v| (v.as_str(), self.received(v)))
            .collect()
    }

    /// Informs answered with a Response-PDU.
    pub fn informs_acknowledged(&self) -> u64 {
        self.informs_acknowledged.load(Ordering::Relaxed)
    }

    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected[reason.index()].load(Ordering::Relaxed)
    }

    /// Every rejection reason with its count, zeros included.
    pub fn rejected_by_reason(&self) -> Vec<(&'static str, u64)> {
        RejectReason::ALL
            .iter()
            .map(|&r| (r.as_str(), self.rejected(r)))
            .collect()
    }

    /// Accepted notifications not forwarded because the event queue was
    /// full or closed (an inform is then not acknowledged, so its sender
    /// retries).
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    fn count_received(&self, version: TrapVersion) {
        self.received[version as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn count_rejected(&self, reason: RejectReason) {
        self.rejected[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrapError {
    #[error("cannot listen for SNMP traps on {addr}: {source}{hint}")]
    Bind {
        addr: SocketAddr,
        source: io::Error,
        hint: &'static str,
    },
    #[error("[traps] configuration: {0}")]
    Config(String),
}

impl TrapError {
    fn bind(addr: SocketAddr, source: io::Error) -> TrapError {
        let hint = match source.kind() {
            io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE, e.g. \
                 AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit; \
                 or listen on a port of 1024 or above)"
            }
            io::ErrorKind::AddrInUse => " (another process, perhaps snmptrapd, listens there)",
            io::ErrorKind::AddrNotAvailable => " (no local interface has that address)",
            _ => "",
        };
        TrapError::Bind { addr, source, hint }
    }
}

pub struct TrapReceiver;

impl TrapReceiver {
    /// Binds the socket (the error names the address and, for a port below
    /// 1024, CAP_NET_BIND_SERVICE) and spawns the receive task, which runs
    /// until `cancel`; events go to `events`. Never panics on input; counts
    /// everything.
    pub async fn start(
        config: TrapConfig,
        events: mpsc::Sender<TrapEvent>,
        cancel: CancellationToken,
    ) -> Result<Arc<TrapStats>, TrapError> {
        let usm = UsmKeys::new(&config.v3_users)?;
        let socket = bind(config.listen)?;
        let stats = Arc::new(TrapStats::default());
        let task = ReceiveTask {
            socket,
            config,
            usm,
            events,
            stats: Arc::clone(&stats),
            window: usm::TimeWindow::default(),
            logged: HashSet::new(),
        };
        tokio::spawn(task.run(cancel));
        Ok(stats)
    }
}

fn bind(addr: SocketAddr) -> Result<UdpSocket, TrapError> {
    let fail = |e| TrapError::bind(addr, e);
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(fail)?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(SOCKET_RCVBUF);
    socket.set_nonblocking(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    UdpSocket::from_std(socket.into()).map_err(fail)
}

struct ReceiveTask {
    socket: UdpSocket,
    config: TrapConfig,
    usm: UsmKeys,
    events: mpsc::Sender<TrapEvent>,
    stats: Arc<TrapStats>,
    window: usm::TimeWindow,
    /// (source address, reason) pairs already logged.
    logged: HashSet<(IpAddr, &'static str)>,
}

impl ReceiveTask {
    async fn run(mut self, cancel: CancellationToken) {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        loop {
            let received = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                r = self.socket.recv_from(&mut buf) => r,
            };
            match received {
                Ok((len, source)) => {
                    // On a dual-stack `[::]` socket IPv4 senders arrive as
                    // ::ffff:a.b.c.d; devices are known by their IPv4 address.
                    let source = match source.ip() {
                        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                            Some(v4) => SocketAddr::new(IpAddr::V4(v4), source.port()),
                            None => source,
                        },
                        IpAddr::V4(_) => source,
                    };
                    self.handle(&buf[..len], source).await
                }
                // A reply's ICMP port-unreachable surfaces on the next read.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    if self.log_once(self.config.listen.ip(), "receive_error") {
                        warn!(listen = %self.config.listen, error = %e, "trap receiver: receive failed");
                    }
                    tokio::time::sleep(RECV_ERROR_PAUSE).await;
                }
            }
        }
        debug!(listen = %self.config.listen, "trap receiver stopped");
    }

    async fn handle(&mut self, datagram: &[u8], source: SocketAddr) {
        let decoded = decode(datagram, &self.config, &self.usm).and_then(|d| {
            if let Some(clock) = &d.engine {
                self.window.check(clock, Instant::now())?;
            }
            Ok(d)
        });
        let mut decoded = match decoded {
            Ok(d) => d,
            Err(reject) => {
                self.stats.count_rejected(reject.reason);
                if self.log_once(source.ip(), reject.reason.as_str()) {
                    warn!(
                        source = %source.ip(),
                        reason = reject.reason.as_str(),
                        detail = reject.detail,
                        "trap rejected (logged once per source and reason, counted every time)"
                    );
                }
                return;
            }
        };
        self.stats.count_received(decoded.version);
        let reply = decoded.reply.take();
        let event = decoded.into_event(source, jiff::Timestamp::now());
        debug!(
            source = %source,
            version = event.version.as_str(),
            kind = event.kind.as_str(),
            trap_oid = %event.trap_oid,
            inform = event.inform,
            "trap received"
        );
        if let Err(e) = self.events.try_send(event) {
            self.stats.events_dropped.fetch_add(1, Ordering::Relaxed);
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "queue_full",
                mpsc::error::TrySendError::Closed(_) => "queue_closed",
            };
            if self.log_once(self.config.listen.ip(), why) {
                warn!(
                    reason = why,
                    "trap event dropped (logged once, counted every time)"
                );
            }
            return;
        }
        if let Some(reply) = reply {
            match self.socket.send_to(reply.bytes(), source).await {
                Ok(_) => {
                    self.stats
                        .informs_acknowledged
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => debug!(source = %source, error = %e, "inform response not sent"),
            }
        }
    }

    /// True the first time (address, what) is seen, while the set has room.
    fn log_once(&mut self, addr: IpAddr, what: &'static str) -> bool {
        if self.logged.len() >= REJECT_LOG_MAX {
            return false;
        }
        self.logged.insert((addr, what))
    }
}
