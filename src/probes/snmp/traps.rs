//! Trap and inform receiver: SNMPv1 Trap-PDUs, SNMPv2c traps and informs,
//! SNMPv3 traps under USM, on one UDP socket (SPEC §2 `[traps]`).
//!
//! * [`decode`] is pure and total: one datagram in, a [`Decoded`] or a
//!   [`Reject`] with a stable reason out, never a panic. v1 and v2c are read
//!   by our own BER reader ([`ber`]); v3 frames too, with only the HMAC check
//!   and decryption left to `snmp2` ([`usm`]).
//! * [`TrapReceiver::start`] binds the socket and runs one receive task that
//!   decodes, answers informs (RFC 3416 §4.2.7) and forwards a [`TrapEvent`]
//!   for every accepted notification, unknown ones included. Everything it
//!   sees is counted in [`TrapStats`]; a rejection is logged once per source
//!   and reason, so a misconfigured sender does not flood the log.
//! * Communities and pass phrases are [`Secret`]s, and nothing taken from a
//!   datagram's community field is ever logged, formatted or forwarded.
//!
//! A trap is a hint, not a verdict: the daemon uses it to poll at once, so a
//! lost linkUp cannot hold a line down (issue 3, part 5).

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

pub use self::usm::{EngineClock, UsmKeys, V3Auth, V3Privacy, V3TrapUser};
use super::ber::{self, Reader};
use super::oids::{
    IF_INDEX, SNMP_TRAPS, SNMP_TRAP_ADDRESS_0, SNMP_TRAP_ENTERPRISE_0, SNMP_TRAP_OID_0, SYS_UPTIME,
    UPS_ALARM_DESCR, UPS_TRAPS,
};
use super::{Oid, Value, Varbind};
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

/// A PDU of the RFC 3416 shape (everything but the v1 Trap-PDU), read.
pub(crate) struct Pdu {
    tag: u8,
    request_id: i64,
    varbinds: Vec<Varbind>,
    /// The VarBindList TLV as received, kept for an inform's response.
    raw_varbinds: Option<Vec<u8>>,
}

/// PDU ::= [tag] IMPLICIT SEQUENCE { request-id, error-status, error-index,
/// variable-bindings } (RFC 3416 §3). Any PDU tag is read the same way; the
/// caller decides what the tag means.
pub(crate) fn parse_pdu(tag: u8, contents: &[u8]) -> Result<Pdu, ber::BerError> {
    if !(ber::PDU_GET..=ber::PDU_REPORT).contains(&tag) {
        return Err("unknown PDU type");
    }
    if tag == ber::PDU_TRAP_V1 {
        return Err("SNMPv1 Trap-PDU outside an SNMPv1 message");
    }
    let mut r = Reader::new(contents);
    let request_id = r.integer("request-id not an INTEGER")?;
    r.integer("error-status not an INTEGER")?;
    r.integer("error-index not an INTEGER")?;
    let (list_tag, list, list_tlv) = r.tlv()?;
    r.finish()?;
    if list_tag != ber::SEQUENCE {
        return Err("variable-bindings not a SEQUENCE");
    }
    Ok(Pdu {
        tag,
        request_id,
        varbinds: ber::read::varbinds(list)?,
        raw_varbinds: (tag == ber::PDU_INFORM).then(|| list_tlv.to_vec()),
    })
}

/// Decodes one datagram: what it is, or why it is refused. Pure, total and
/// cheap except for a v3 user without a configured engine ID, whose keys are
/// localised once per new engine.
pub fn decode(datagram: &[u8], config: &TrapConfig, usm: &UsmKeys) -> Result<Decoded, Reject> {
    let mut top = Reader::new(datagram);
    let (tag, contents, whole) = top.tlv().map_err(Reject::decode)?;
    if tag != ber::SEQUENCE {
        return Err(Reject::decode("message not a SEQUENCE"));
    }
    top.finish().map_err(Reject::decode)?;
    let mut msg = Reader::new(contents);
    let version = match msg
        .integer("version not an INTEGER")
        .map_err(Reject::decode)?
    {
        0 => TrapVersion::V1,
        1 => TrapVersion::V2c,
        3 => TrapVersion::V3,
        _ => return Err(Reject::decode("unknown SNMP version")),
    };

    if version == TrapVersion::V3 {
        let v3 = usm::decode_v3(whole, msg, usm)?;
        let mut decoded = notification(TrapVersion::V3, v3.pdu)?;
        decoded.engine = v3.clock;
        return Ok(decoded);
    }

    let community = msg
        .octets("community not an OCTET STRING")
        .map_err(Reject::decode)?;
    if !config
        .communities
        .iter()
        .any(|c| constant_time_eq(c.expose().as_bytes(), community))
    {
        return Err(Reject::new(
            RejectReason::BadCommunity,
            "community not configured",
        ));
    }
    let (pdu_tag, pdu, _) = msg.tlv().map_err(Reject::decode)?;
    msg.finish().map_err(Reject::decode)?;

    if version == TrapVersion::V1 {
        return match pdu_tag {
            ber::PDU_TRAP_V1 => v1_trap(pdu).map_err(Reject::decode),
            ber::PDU_GET | ber::PDU_GET_NEXT | ber::PDU_RESPONSE | ber::PDU_SET => Err(
                Reject::new(RejectReason::NotATrap, "SNMPv1 request or response"),
            ),
            _ => Err(Reject::decode("PDU type not allowed in SNMPv1")),
        };
    }

    let pdu = parse_pdu(pdu_tag, pdu).map_err(Reject::decode)?;
    let reply = pdu
        .raw_varbinds
        .as_deref()
        .map(|list| inform_response(community, pdu.request_id, list));
    let mut decoded = notification(TrapVersion::V2c, pdu)?;
    decoded.reply = reply;
    Ok(decoded)
}

/// An SNMPv2-Trap-PDU or InformRequest-PDU (RFC 3416 §4.2.6, §4.2.7).
fn notification(version: TrapVersion, pdu: Pdu) -> Result<Decoded, Reject> {
    let inform = match pdu.tag {
        ber::PDU_TRAP_V2 => false,
        // Acknowledging a v3 inform needs netkpi to be an authoritative
        // engine with its own engine ID and discovery (RFC 3414 §4); not
        // offered, so senders should use v3 traps.
        ber::PDU_INFORM if version == TrapVersion::V3 => {
            return Err(Reject::new(
                RejectReason::NotATrap,
                "SNMPv3 informs are not accepted; send v3 traps",
            ))
        }
        ber::PDU_INFORM => true,
        _ => {
            return Err(Reject::new(
                RejectReason::NotATrap,
                "request, response or report",
            ))
        }
    };
    let mut varbinds = pdu.varbinds;
    // RFC 3416 §4.2.6: the first two bindings are sysUpTime.0 and
    // snmpTrapOID.0. Agents that swap them are still understood.
    let head = varbinds.len().min(2);
    let trap_oid = varbinds[..head]
        .iter()
        .position(|vb| vb.oid.arcs() == SNMP_TRAP_OID_0)
        .map(|i| varbinds.remove(i).value);
    let Some(Value::ObjectId(trap_oid)) = trap_oid else {
        return Err(Reject::decode(
            "no snmpTrapOID.0 among the first two varbinds",
        ));
    };
    let uptime = match varbinds.first() {
        Some(Varbind {
            oid,
            value: Value::TimeTicks(t),
        }) if oid.arcs() == SYS_UPTIME => {
            let t = *t;
            varbinds.remove(0);
            Some(t)
        }
        _ => None,
    };
    Ok(Decoded {
        version,
        inform,
        agent_addr: None,
        kind: classify(&trap_oid, &varbinds),
        trap_oid,
        uptime,
        varbinds,
        engine: None,
        reply: None,
    })
}

/// Trap-PDU ::= [4] IMPLICIT SEQUENCE { enterprise, agent-addr, generic-trap,
/// specific-trap, time-stamp, variable-bindings } (RFC 1157 §4.1.6).
fn v1_trap(contents: &[u8]) -> Result<Decoded, ber::BerError> {
    let mut r = Reader::new(contents);
    let enterprise = r.oid("enterprise not an OID")?;
    let addr = r.expect(ber::IP_ADDRESS, "agent-addr not an IpAddress")?;
    let agent_addr =
        Ipv4Addr::from(<[u8; 4]>::try_from(addr).map_err(|_| "agent-addr not 4 octets")?);
    let generic = r.integer("generic-trap not an INTEGER")?;
    let specific = r.integer("specific-trap not an INTEGER")?;
    let uptime = ber::read::timeticks(&mut r, "time-stamp not TimeTicks")?;
    let list = r.expect(ber::SEQUENCE, "variable-bindings not a SEQUENCE")?;
    r.finish()?;
    let mut varbinds = ber::read::varbinds(list)?;

    // RFC 3584 §3.1 (2).
    let trap_oid = match generic {
        0..=5 => Oid(SNMP_TRAPS.to_vec()).child(generic as u32 + 1),
        6 => {
            let specific = u32::try_from(specific).map_err(|_| "specific-trap out of range")?;
            enterprise.child(0).child(specific)
        }
        _ => return Err("generic-trap out of range"),
    };
    // RFC 3584 §3.1 (3), except snmpTrapCommunity.0 (a secret).
    for (oid, value) in [
        (SNMP_TRAP_ADDRESS_0, Value::IpAddress(agent_addr.octets())),
        (SNMP_TRAP_ENTERPRISE_0, Value::ObjectId(enterprise)),
    ] {
        if !varbinds.iter().any(|vb| vb.oid.arcs() == oid) {
            varbinds.push(Varbind {
                oid: Oid(oid.to_vec()),
                value,
            });
        }
    }
    Ok(Decoded {
        version: TrapVersion::V1,
        inform: false,
        agent_addr: Some(agent_addr),
        kind: classify(&trap_oid, &varbinds),
        trap_oid,
        uptime: Some(uptime),
        varbinds,
        engine: None,
        reply: None,
    })
}

fn classify(trap_oid: &Oid, varbinds: &[Varbind]) -> TrapKind {
    let arcs = trap_oid.arcs();
    if let Some(&[n]) = arcs.strip_prefix(SNMP_TRAPS) {
        return match n {
            1 => TrapKind::ColdStart,
            2 => TrapKind::WarmStart,
            3 => TrapKind::LinkDown {
                if_index: if_index(varbinds),
            },
            4 => TrapKind::LinkUp {
                if_index: if_index(varbinds),
            },
            5 => TrapKind::AuthenticationFailure,
            _ => TrapKind::Other,
        };
    }
    // RFC 1628 defines upsTrapOnBattery as upsTraps.1; an SMIv1 agent sends
    // enterprise upsTraps with specific-trap 1, which RFC 3584 §3.1 turns
    // into upsTraps.0.1. Both spell the same notification.
    let ups = match arcs.strip_prefix(UPS_TRAPS) {
        Some(&[n]) | Some(&[0, n]) => n,
        _ => return TrapKind::Other,
    };
    match ups {
        1 => TrapKind::UpsOnBattery,
        3 => TrapKind::UpsAlarmAdded {
            alarm: ups_alarm(varbinds),
        },
        4 => TrapKind::UpsAlarmRemoved {
            alarm: ups_alarm(varbinds),
        },
        // 2 is upsTrapTestCompleted: nothing for availability.
        _ => TrapKind::Other,
    }
}

/// ifIndex.N's value, or N when the value is not a usable integer.
fn if_index(varbinds: &[Varbind]) -> Option<u32> {
    varbinds.iter().find_map(|vb| {
        let suffix = vb.oid.arcs().strip_prefix(IF_INDEX)?;
        match (&vb.value, suffix) {
            (Value::Integer(i), _) if u32::try_from(*i).is_ok() => u32::try_from(*i).ok(),
            (_, &[n]) => Some(n),
            _ => None,
        }
    })
}

fn ups_alarm(varbinds: &[Varbind]) -> Option<Oid> {
    varbinds.iter().find_map(|vb| match &vb.value {
        Value::ObjectId(alarm) if vb.oid.arcs().starts_with(UPS_ALARM_DESCR) => Some(alarm.clone()),
        _ => None,
    })
}

/// Response-PDU for an SNMPv2c inform: same request-id, noError, the
/// inform's variable-bindings unchanged (RFC 3416 §4.2.7).
fn inform_response(community: &[u8], request_id: i64, varbinds_tlv: &[u8]) -> Reply {
    use ber::write::{concat, integer, octet_string, tlv};
    let pdu = tlv(
        ber::PDU_RESPONSE,
        &concat(&[
            integer(request_id),
            integer(0),
            integer(0),
            varbinds_tlv.to_vec(),
        ]),
    );
    let msg = concat(&[integer(1), octet_string(community), pdu]);
    Reply(tlv(ber::SEQUENCE, &msg))
}

/// Compares without an early exit, so response timing does not reveal how
/// much of a guessed community was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
