//! One poll's exchanges with its agent: sessions (a fresh one per
//! attempt), GETs, walks, SNMPv3 discovery and the engine cache's use,
//! retries and timeouts, and what each snmp2 error means to the operator.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Instant;

use snmp2::v3;
use snmp2::AsyncSession;
use tokio::net::UdpSocket;

use super::wire::*;
use super::*;
use crate::probes::snmp::{Credentials, Oid, SnmpFailure, SnmpVersion, Value, Varbind};

/// One protocol operation, with its OIDs already in snmp2's form.
pub(super) enum Op<'o> {
    Get(&'o [snmp2::Oid<'static>]),
    GetNext(&'o snmp2::Oid<'static>),
    GetBulk(&'o snmp2::Oid<'static>, u32),
}

/// A response, copied out of the session's receive buffer.
pub(super) struct Reply {
    error_status: u32,
    error_index: u32,
    varbinds: Vec<Varbind>,
}

/// Why one attempt at an exchange did not give a reply.
pub(super) enum AttemptError {
    Snmp(snmp2::Error),
    /// A varbind we cannot represent (a non-SNMP type, an OID arc > 2^32-1).
    Decode(String),
}

/// One poll's link to its agent: the current session (if any) and what it
/// needs to open another.
pub(super) struct Conn<'a> {
    client: &'a Snmp2Client,
    agent: &'a Agent,
    community: &'a [u8],
    /// v3 only: the user, for the engine cache key.
    user: Option<&'a str>,
    session: Option<AsyncSession>,
    /// The current session's v3 state came from the cache (so an auth
    /// failure may mean the cache is stale rather than the credentials wrong).
    engine_from_cache: bool,
    /// This poll completed a discovery and then heard nothing: the hint for
    /// a wrong privacy pass phrase, which net-snmp drops silently.
    discovered_then_silent: bool,
    max_repetitions: u32,
}

impl<'a> Conn<'a> {
    pub(super) fn new(client: &'a Snmp2Client, agent: &'a Agent) -> Result<Conn<'a>, SnmpError> {
        let (community, user): (&[u8], Option<&str>) = match (&agent.credentials, agent.version) {
            (Credentials::Community(c), SnmpVersion::V1 | SnmpVersion::V2c) => {
                (c.expose().as_bytes(), None)
            }
            (Credentials::V3 { user, .. }, SnmpVersion::V3) => (&[], Some(user.as_str())),
            (Credentials::Community(_), SnmpVersion::V3) => {
                return Err(SnmpError::new(
                    SnmpFailure::AuthFailed,
                    "SNMPv3 agent configured with a community instead of a user",
                ))
            }
            (Credentials::V3 { .. }, _) => {
                return Err(SnmpError::new(
                    SnmpFailure::AuthFailed,
                    "SNMPv1/v2c agent configured with a v3 user instead of a community",
                ))
            }
        };
        Ok(Conn {
            client,
            agent,
            community,
            user,
            session: None,
            engine_from_cache: false,
            discovered_then_silent: false,
            max_repetitions: agent.max_repetitions.max(1),
        })
    }

    pub(super) fn is_v1(&self) -> bool {
        self.agent.version == SnmpVersion::V1
    }

    pub(super) async fn open(&mut self) -> Result<AsyncSession, SnmpError> {
        // Random, positive and far from wrapping: a reply meant for an
        // earlier session that reaches this one through a reused port
        // carries an ID this session never sent.
        let req_id = rand::random_range(1..i32::MAX / 2);
        let addr = self.agent.addr;
        let opened = match self.agent.version {
            SnmpVersion::V1 => AsyncSession::new_v1(addr, self.community, req_id).await,
            SnmpVersion::V2c => AsyncSession::new_v2c(addr, self.community, req_id).await,
            SnmpVersion::V3 => {
                let security = self.v3_security().await?;
                AsyncSession::new_v3(addr, req_id, security).await
            }
        };
        opened.map_err(|e| {
            SnmpError::new(
                SnmpFailure::SendError,
                format!("cannot open a socket to {addr}: {e}"),
            )
        })
    }

    /// The v3 security state for a new session: from the cache, or by
    /// discovery.
    pub(super) async fn v3_security(&mut self) -> Result<v3::Security, SnmpError> {
        let user = self.user.unwrap_or_default();
        if let Some(security) = self.client.cached_security(self.agent, user) {
            self.engine_from_cache = true;
            return Ok(security);
        }
        let template = security_for(&self.agent.credentials)?;
        let learned = self.discover(template).await?;
        self.client.store_engine(self.agent, user, &learned);
        self.engine_from_cache = false;
        self.discovered_then_silent = true;
        Ok(learned)
    }

    /// RFC 3414 §4 discovery on a socket of its own, with the same timeout
    /// and retries as any request.
    pub(super) async fn discover(
        &mut self,
        template: v3::Security,
    ) -> Result<v3::Security, SnmpError> {
        self.client.discoveries.fetch_add(1, Ordering::Relaxed);
        let addr = self.agent.addr;
        let mut attempts = 0;
        let mut buf = vec![0u8; 4096];
        loop {
            attempts += 1;
            let msg_id = rand::random_range(1..i32::MAX / 2);
            let packet = ber::v3_discovery_request(msg_id, V3_MAX_SIZE);
            let socket = bind_connected(addr).await?;
            self.client.requests.fetch_add(1, Ordering::Relaxed);
            let exchange = async {
                socket.send(&packet).await?;
                socket.recv(&mut buf).await
            };
            let why = match tokio::time::timeout(self.agent.timeout, exchange).await {
                Err(_) => "no answer to SNMPv3 engine discovery".to_string(),
                Ok(Err(e)) if is_refusal(&e) => "connection refused".to_string(),
                Ok(Err(e)) => {
                    return Err(SnmpError::new(
                        SnmpFailure::SendError,
                        format!("engine discovery with {addr}: {e}"),
                    ))
                }
                Ok(Ok(n)) => {
                    let mut learned = template.clone();
                    let outcome =
                        match snmp2::Pdu::from_bytes_with_security(&buf[..n], Some(&mut learned)) {
                            Ok(_) | Err(snmp2::Error::AuthUpdated) => Ok(()),
                            Err(e) => Err(e),
                        };
                    let in_range = |v: i64| (0..=i64::from(i32::MAX)).contains(&v);
                    let out_of_range =
                        !in_range(learned.engine_boots()) || !in_range(learned.engine_time());
                    match outcome {
                        // RFC 3414 §2.2: snmpEngineBoots and snmpEngineTime
                        // are 0..2^31-1; beyond that the library's arithmetic
                        // overflows later, and no real engine says so.
                        _ if !learned.engine_id().is_empty() && out_of_range =>
                        {
                            return Err(SnmpError::new(
                                SnmpFailure::DecodeError,
                                format!(
                                    "engine discovery with {addr}: snmpEngineBoots {} / snmpEngineTime {} out of range",
                                    learned.engine_boots(),
                                    learned.engine_time()
                                ),
                            ))
                        }
                        _ if !learned.engine_id().is_empty() => return Ok(learned),
                        Err(snmp2::Error::AuthFailure(kind)) => {
                            return Err(SnmpError::new(
                                SnmpFailure::AuthFailed,
                                format!("engine discovery with {addr}: {kind}"),
                            ))
                        }
                        Err(e) => {
                            return Err(SnmpError::new(
                                SnmpFailure::DecodeError,
                                format!("engine discovery with {addr}: {e}"),
                            ))
                        }
                        Ok(()) => {
                            return Err(SnmpError::new(
                                SnmpFailure::DecodeError,
                                format!(
                                    "engine discovery with {addr}: the report carried no engine ID"
                                ),
                            ))
                        }
                    }
                }
            };
            if attempts > self.agent.retries {
                return Err(SnmpError::new(
                    SnmpFailure::Timeout,
                    format!(
                        "{why} from {addr} after {attempts} attempts of {:?}",
                        self.agent.timeout
                    ),
                ));
            }
        }
    }

    /// One request with its timeout and retries: each retry on a fresh
    /// session.
    pub(super) async fn exchange(&mut self, op: &Op<'_>) -> Result<Reply, SnmpError> {
        let addr = self.agent.addr;
        let mut attempts = 0;
        let mut engine_updates = 0;
        let mut rediscovered = false;
        loop {
            if self.session.is_none() {
                self.session = Some(self.open().await?);
            }
            let session = self.session.as_mut().expect("opened above");
            attempts += 1;
            self.client.requests.fetch_add(1, Ordering::Relaxed);
            let why = match tokio::time::timeout(self.agent.timeout, run(session, op)).await {
                Ok(Ok(reply)) => {
                    self.discovered_then_silent = false;
                    return Ok(reply);
                }
                Err(_) => {
                    if self.discovered_then_silent {
                        // net-snmp drops what it cannot decrypt without a
                        // report: after a good discovery, silence most often
                        // means a wrong privacy pass phrase or key extension.
                        "no answer (the engine answered discovery: check the privacy pass phrase and key extension)"
                    } else {
                        "no answer"
                    }
                }
                Ok(Err(AttemptError::Decode(detail))) => {
                    return Err(SnmpError::new(SnmpFailure::DecodeError, format!("reply from {addr}: {detail}")))
                }
                Ok(Err(AttemptError::Snmp(e))) => match e {
                    // A stale or foreign reply: this attempt got no answer.
                    snmp2::Error::RequestIdMismatch | snmp2::Error::CommunityMismatch => {
                        "only a reply to another request"
                    }
                    // snmp2 hides the errno; on a connected UDP socket a
                    // receive error is an ICMP error (port or host
                    // unreachable). On a WAN a dead agent is silence, so it
                    // counts as no answer, retried like one.
                    snmp2::Error::Receive => "connection refused",
                    snmp2::Error::Send => {
                        return Err(SnmpError::new(SnmpFailure::SendError, format!("cannot send to {addr}")))
                    }
                    // The agent's boots/time moved (a reboot, or a cached
                    // state that aged): the session has adopted the new
                    // values; ask again on it, and relearn next poll.
                    snmp2::Error::AuthUpdated => {
                        self.forget_engine();
                        engine_updates += 1;
                        if engine_updates > MAX_ENGINE_UPDATES {
                            return Err(SnmpError::new(
                                SnmpFailure::AuthFailed,
                                format!("{addr} keeps changing its engine boots/time"),
                            ));
                        }
                        attempts -= 1;
                        continue;
                    }
                    // A cached engine state the agent rejects (new engine
                    // ID after a replacement, time out of window, or a Report
                    // instead of a Response): learn it again, once.
                    snmp2::Error::AuthFailure(_) | snmp2::Error::AsnWrongType
                        if self.engine_from_cache && !rediscovered =>
                    {
                        self.forget_engine();
                        self.session = None;
                        rediscovered = true;
                        attempts -= 1;
                        continue;
                    }
                    snmp2::Error::AuthFailure(kind) => {
                        return Err(SnmpError::new(
                            SnmpFailure::AuthFailed,
                            format!(
                                "{addr} rejected the SNMPv3 credentials (unknown user, wrong authentication pass phrase or protocol): {kind}"
                            ),
                        ))
                    }
                    snmp2::Error::AsnWrongType if self.user.is_some() => {
                        return Err(SnmpError::new(
                            SnmpFailure::AuthFailed,
                            format!("{addr} answered with a report instead of a response"),
                        ))
                    }
                    other => {
                        return Err(SnmpError::new(SnmpFailure::DecodeError, format!("reply from {addr}: {other}")))
                    }
                },
            };
            // No usable answer: never read this session again.
            self.session = None;
            if attempts > self.agent.retries {
                return Err(SnmpError::new(
                    SnmpFailure::Timeout,
                    format!(
                        "{why} from {addr} after {attempts} attempts of {:?}",
                        self.agent.timeout
                    ),
                ));
            }
        }
    }

    pub(super) fn forget_engine(&mut self) {
        if let Some(user) = self.user {
            self.client.drop_engine(self.agent, user);
        }
        self.engine_from_cache = false;
    }

    pub(super) async fn get(
        &mut self,
        oids: &[Oid],
        out: &mut Vec<Varbind>,
    ) -> Result<(), SnmpError> {
        for chunk in oids.chunks(MAX_GET_OIDS) {
            // v1 has no exception values: a missing object fails the whole
            // PDU with noSuchName and its index. Drop it, ask for the rest,
            // and report it as noSuchObject like v2c would (as net-snmp's
            // `snmpget -Cf` does).
            let mut pending: Vec<&Oid> = chunk.iter().collect();
            let mut missing: Vec<&Oid> = Vec::new();
            let reply_varbinds = loop {
                if pending.is_empty() {
                    break Vec::new();
                }
                let wire = pending
                    .iter()
                    .map(|o| to_wire(o))
                    .collect::<Result<Vec<_>, _>>()?;
                let reply = self.exchange(&Op::Get(&wire)).await?;
                if reply.error_status == 0 {
                    if reply.varbinds.len() != pending.len() {
                        return Err(SnmpError::new(
                            SnmpFailure::DecodeError,
                            format!(
                                "{} answered {} varbinds to a GET of {}",
                                self.agent.addr,
                                reply.varbinds.len(),
                                pending.len()
                            ),
                        ));
                    }
                    break reply.varbinds;
                }
                let index = reply.error_index as usize;
                if self.is_v1()
                    && reply.error_status == NO_SUCH_NAME
                    && (1..=pending.len()).contains(&index)
                {
                    missing.push(pending.remove(index - 1));
                    continue;
                }
                return Err(agent_error(
                    self.agent,
                    &reply,
                    pending.get(index.wrapping_sub(1)).copied(),
                ));
            };
            let mut answered = reply_varbinds.into_iter();
            for oid in chunk {
                if missing.contains(&oid) {
                    out.push(Varbind {
                        oid: oid.clone(),
                        value: Value::NoSuchObject,
                    });
                } else if let Some(vb) = answered.next() {
                    out.push(vb);
                }
            }
        }
        Ok(())
    }

    pub(super) async fn walk(
        &mut self,
        root: &Oid,
        out: &mut Vec<Varbind>,
        deadline: Instant,
    ) -> Result<(), SnmpError> {
        let start = out.len();
        let mut last = root.clone();
        loop {
            if Instant::now() >= deadline {
                return Err(SnmpError::new(
                    SnmpFailure::Timeout,
                    format!(
                        "walk of {root} on {} passed its deadline after {} varbinds",
                        self.agent.addr,
                        out.len() - start
                    ),
                ));
            }
            let wire = to_wire(&last)?;
            let op = if self.is_v1() {
                Op::GetNext(&wire)
            } else {
                Op::GetBulk(&wire, self.max_repetitions)
            };
            let reply = self.exchange(&op).await?;
            if reply.error_status != 0 {
                // v1 ends a walk past the last object with noSuchName.
                if self.is_v1() && reply.error_status == NO_SUCH_NAME {
                    return Ok(());
                }
                // RFC 3416 §4.2.3 lets an agent drop trailing varbinds, but
                // some answer tooBig instead: ask for fewer.
                if reply.error_status == TOO_BIG && self.max_repetitions > 1 {
                    self.max_repetitions /= 2;
                    continue;
                }
                return Err(agent_error(self.agent, &reply, Some(&last)));
            }
            if reply.varbinds.is_empty() {
                return Err(SnmpError::new(
                    SnmpFailure::DecodeError,
                    format!(
                        "{} answered a walk of {root} with no varbinds",
                        self.agent.addr
                    ),
                ));
            }
            for vb in reply.varbinds {
                if vb.value.is_exception() || !vb.oid.starts_with(root) {
                    return Ok(());
                }
                if vb.oid <= last {
                    return Err(SnmpError::new(
                        SnmpFailure::AgentError,
                        format!(
                            "{} returned OIDs out of order while walking {root}: {} after {last}",
                            self.agent.addr, vb.oid
                        ),
                    ));
                }
                last = vb.oid.clone();
                out.push(vb);
                if out.len() - start > MAX_WALK_VARBINDS {
                    return Err(SnmpError::new(
                        SnmpFailure::AgentError,
                        format!(
                            "walk of {root} on {} passed {MAX_WALK_VARBINDS} varbinds",
                            self.agent.addr
                        ),
                    ));
                }
            }
        }
    }
}

/// RFC 3416 §3 error-status values we act on.
pub(super) const TOO_BIG: u32 = 1;
pub(super) const NO_SUCH_NAME: u32 = 2;

pub(super) fn error_status_name(status: u32) -> &'static str {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    NAMES.get(status as usize).copied().unwrap_or("unknown")
}

pub(super) fn agent_error(agent: &Agent, reply: &Reply, oid: Option<&Oid>) -> SnmpError {
    let at = oid.map(|o| format!(" at {o}")).unwrap_or_default();
    SnmpError::new(
        SnmpFailure::AgentError,
        format!(
            "{} answered {}({}){at}",
            agent.addr,
            error_status_name(reply.error_status),
            reply.error_status
        ),
    )
}

async fn run(session: &mut AsyncSession, op: &Op<'_>) -> Result<Reply, AttemptError> {
    let pdu = match op {
        Op::Get(oids) => {
            let refs: Vec<&snmp2::Oid<'_>> = oids.iter().collect();
            session.get_many(&refs).await
        }
        Op::GetNext(oid) => session.getnext(oid).await,
        Op::GetBulk(oid, max_repetitions) => session.getbulk(&[*oid], 0, *max_repetitions).await,
    }
    .map_err(AttemptError::Snmp)?;
    let mut varbinds = Vec::new();
    for (oid, value) in pdu.varbinds {
        varbinds.push(Varbind {
            oid: from_wire(&oid).map_err(AttemptError::Decode)?,
            value: own_value(value).map_err(AttemptError::Decode)?,
        });
    }
    Ok(Reply {
        error_status: pdu.error_status,
        error_index: pdu.error_index,
        varbinds,
    })
}

pub(super) async fn bind_connected(addr: SocketAddr) -> Result<UdpSocket, SnmpError> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| {
        SnmpError::new(
            SnmpFailure::SendError,
            format!("cannot open a socket to {addr}: {e}"),
        )
    })?;
    socket
        .connect(addr)
        .await
        .map_err(|e| SnmpError::new(SnmpFailure::SendError, format!("cannot reach {addr}: {e}")))?;
    Ok(socket)
}

/// ICMP errors reported on a connected UDP socket: the agent is not there,
/// which on a WAN looks like silence.
pub(super) fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}
