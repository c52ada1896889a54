//! The SNMP client layer: one narrow trait, [`SnmpClient`], and its
//! implementation on the `snmp2` crate, [`Snmp2Client`].
//!
//! What `snmp2` 0.5.3 gives and lacks shaped this file (measured, issue 3):
//! a session owns a UDP socket and two 64 KiB buffers, has no timeout, retry
//! or walk of its own, and after a timeout the next request on the same
//! session reads the late reply and fails with `RequestIdMismatch`. So:
//!
//! * **A fresh session per attempt.** A poll opens a session, runs its
//!   requests in order and drops it; an attempt that times out drops its
//!   session too, so a late reply lands on a closed socket and can never be
//!   read as the answer to a later request. Request IDs start at a random
//!   value per session, so even a reply that reaches a reused port is told
//!   apart (and treated as no answer).
//! * **A global limit on polls in flight** (a semaphore): memory and sockets
//!   are bounded by concurrency, not by the number of devices.
//! * **Timeout and retries per request**, as net-snmp counts them: a walk of
//!   40 GETBULKs whose 17th exchange is lost retries that exchange on a new
//!   session and carries on from the last OID it has.
//! * **SNMPv3 engine state cached per agent.** Discovery (RFC 3414 §4) is
//!   done here, not by `AsyncSession::init`, because a session cannot hand
//!   its learned state back. The learned `v3::Security` (engine ID, boots,
//!   time, and the localized keys, whose derivation hashes 1 MiB per key) is
//!   kept per (address, user) and cloned into each poll's session with the
//!   engine time advanced by the local clock, so a steady poll costs one
//!   packet per request and no key derivation. The cache is dropped and
//!   rebuilt when the agent reports new boots (a reboot), rejects the cached
//!   state, or the credentials change.

mod ber;
mod contain;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod testlab;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use snmp2::v3;
use snmp2::AsyncSession;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

use super::{
    AuthProtocol, Credentials, KeyExtension, Oid, PrivProtocol, SnmpFailure, SnmpVersion, Value,
    Varbind,
};
use crate::config::SnmpSettings;
use crate::secret::Secret;

/// A walk returning more varbinds than this is stopped with an error: no
/// table we poll comes near it (a 48-port switch's IF-MIB is ~2,000), and an
/// agent that loops or a profile that walks the whole MIB must not eat memory.
pub const MAX_WALK_VARBINDS: usize = 100_000;

/// Default limit on the wall time of one poll's walks; each request's own
/// timeout and retries still apply inside it.
pub const DEFAULT_WALK_DEADLINE: Duration = Duration::from_secs(60);

/// OIDs per GET PDU. A profile's scalars are few; splitting longer lists
/// keeps each response far below the 1,472-byte single-frame UDP payload
/// that old agents answer with `tooBig` beyond.
const MAX_GET_OIDS: usize = 32;

/// The message size we announce in SNMPv3 requests (as snmp2 does: the most
/// a UDP datagram can carry over IPv4).
const V3_MAX_SIZE: i64 = 65_507;

/// How many times one exchange may see the agent's boots/time move on
/// (`AuthUpdated`) before we call it an authentication failure rather than
/// chase a clock that keeps jumping.
const MAX_ENGINE_UPDATES: u32 = 2;

/// One agent as the client needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub addr: SocketAddr,
    pub version: SnmpVersion,
    pub credentials: Credentials,
    /// Per request attempt.
    pub timeout: Duration,
    /// Further attempts after a request timed out.
    pub retries: u32,
    /// GETBULK max-repetitions (v2c/v3 walks); halved on `tooBig`.
    pub max_repetitions: u32,
}

impl Agent {
    /// The agent at `addr` (the device's address, resolved, on
    /// `settings.port`) as its resolved `snmp` settings say to poll it.
    pub fn new(addr: SocketAddr, settings: &SnmpSettings) -> Agent {
        Agent {
            addr,
            version: settings.version,
            credentials: settings.credentials.clone(),
            timeout: settings.timeout,
            retries: settings.retries,
            max_repetitions: settings.max_repetitions,
        }
    }
}

/// What a poll asks, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The exact objects (scalars such as sysUpTime.0).
    Get(Vec<Oid>),
    /// Every object in the subtree (a table or a column).
    Walk(Oid),
}

/// Why a poll failed: a stable kind (the metric label) and a detail for the
/// log. The detail never contains a community or pass phrase: it is built
/// from OIDs, counts, error names and the agent's address only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnmpError {
    pub kind: SnmpFailure,
    pub detail: String,
}

impl SnmpError {
    fn new(kind: SnmpFailure, detail: impl Into<String>) -> SnmpError {
        SnmpError {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for SnmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for SnmpError {}

/// The narrow interface the rest of netkpi uses; a test fake or another
/// backend fits behind it.
pub trait SnmpClient: Send + Sync + 'static {
    /// One poll: one session per attempt, the requests in order. A `Get`
    /// answers one varbind per OID (missing objects as `NoSuchObject` /
    /// `NoSuchInstance`, also on v1); a `Walk` uses GETBULK (v2c/v3, the
    /// agent's `max_repetitions`) or GETNEXT (v1) until the subtree ends, and
    /// stops at the end of the subtree, at `EndOfMibView`, and with an error
    /// on an OID that does not increase (an agent bug that would otherwise
    /// loop), past [`MAX_WALK_VARBINDS`] or past the walk deadline.
    ///
    /// A poll where not one requested object exists (every GET varbind an
    /// exception and every walk empty) fails with `NoSuchObject`.
    fn poll(
        &self,
        agent: &Agent,
        requests: &[Request],
    ) -> impl Future<Output = Result<Vec<Varbind>, SnmpError>> + Send;
}

/// Counters of a [`Snmp2Client`] since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Polls holding a permit now.
    pub polls_in_flight: usize,
    /// The most polls that ever held a permit at once.
    pub max_polls_in_flight: usize,
    pub polls_total: u64,
    /// Varbinds returned by successful polls.
    pub varbinds_total: u64,
    /// Request datagrams sent, retries and v3 discovery included.
    pub requests_total: u64,
    /// SNMPv3 engine discoveries (each one extra round trip and two key
    /// derivations); steady polling of a v3 agent adds none.
    pub engine_discoveries_total: u64,
}

/// [`SnmpClient`] on `snmp2`, shared by every poller of the daemon.
pub struct Snmp2Client {
    permits: Semaphore,
    walk_deadline: Duration,
    engines: Mutex<HashMap<(SocketAddr, String), EngineState>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    polls: AtomicU64,
    varbinds: AtomicU64,
    requests: AtomicU64,
    discoveries: AtomicU64,
}

/// What discovery learned about one agent for one user.
struct EngineState {
    /// The credentials the keys were derived from; a config reload that
    /// changes them must not reuse the keys.
    credentials: Credentials,
    /// Engine ID set, keys localized to it.
    security: v3::Security,
    boots: i64,
    time: i64,
    learned_at: Instant,
}

impl Snmp2Client {
    /// `max_in_flight` polls run at once; the others wait for a permit
    /// (waiting does not count against their timeouts).
    pub fn new(max_in_flight: usize) -> Snmp2Client {
        Snmp2Client {
            permits: Semaphore::new(max_in_flight.max(1)),
            walk_deadline: DEFAULT_WALK_DEADLINE,
            engines: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            polls: AtomicU64::new(0),
            varbinds: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            discoveries: AtomicU64::new(0),
        }
    }

    /// Limit on the wall time of one poll's walks.
    pub fn with_walk_deadline(mut self, deadline: Duration) -> Snmp2Client {
        self.walk_deadline = deadline;
        self
    }

    pub fn stats(&self) -> ClientStats {
        ClientStats {
            polls_in_flight: self.in_flight.load(Ordering::Relaxed),
            max_polls_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            polls_total: self.polls.load(Ordering::Relaxed),
            varbinds_total: self.varbinds.load(Ordering::Relaxed),
            requests_total: self.requests.load(Ordering::Relaxed),
            engine_discoveries_total: self.discoveries.load(Ordering::Relaxed),
        }
    }

    /// Forgets the v3 engine state of an agent (e.g. a device removed from
    /// the config).
    pub fn forget(&self, addr: SocketAddr) {
        self.engines_lock().retain(|(a, _), _| *a != addr);
    }

    fn engines_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(SocketAddr, String), EngineState>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is one insert or remove), so a poisoned lock is safe.
        self.engines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A ready-to-use copy of the cached engine state, its engine time
    /// advanced by the time passed since it was learned (RFC 3414 §2.3: the
    /// agent accepts ±150 s).
    fn cached_security(&self, agent: &Agent, user: &str) -> Option<v3::Security> {
        let engines = self.engines_lock();
        let state = engines.get(&(agent.addr, user.to_string()))?;
        if state.credentials != agent.credentials {
            return None;
        }
        let elapsed = i64::try_from(state.learned_at.elapsed().as_secs()).unwrap_or(i64::MAX);
        let time = state.time.saturating_add(elapsed).min(i64::from(i32::MAX));
        Some(
            state
                .security
                .clone()
                .with_engine_boots_and_time(state.boots, time),
        )
    }

    fn store_engine(&self, agent: &Agent, user: &str, security: &v3::Security) {
        self.engines_lock().insert(
            (agent.addr, user.to_string()),
            EngineState {
                credentials: agent.credentials.clone(),
                security: security.clone(),
                boots: security.engine_boots(),
                time: security.engine_time(),
                learned_at: Instant::now(),
            },
        );
    }

    fn drop_engine(&self, agent: &Agent, user: &str) {
        self.engines_lock().remove(&(agent.addr, user.to_string()));
    }

    async fn run_poll(
        &self,
        agent: &Agent,
        requests: &[Request],
    ) -> Result<Vec<Varbind>, SnmpError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| SnmpError::new(SnmpFailure::SendError, "SNMP client is shut down"))?;
        let _in_flight = InFlight::enter(self);
        self.polls.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.walk_deadline;
        let mut conn = Conn::new(self, agent)?;
        let mut out = Vec::new();
        for request in requests {
            match request {
                Request::Get(oids) => conn.get(oids, &mut out).await?,
                Request::Walk(root) => conn.walk(root, &mut out, deadline).await?,
            }
        }
        let asked = requests.iter().any(|r| match r {
            Request::Get(oids) => !oids.is_empty(),
            Request::Walk(_) => true,
        });
        if asked && out.iter().all(|vb| vb.value.is_exception()) {
            let first = requests
                .iter()
                .map(|r| match r {
                    Request::Get(oids) => oids.first().map(ToString::to_string).unwrap_or_default(),
                    Request::Walk(root) => root.to_string(),
                })
                .find(|s| !s.is_empty())
                .unwrap_or_default();
            return Err(SnmpError::new(
                SnmpFailure::NoSuchObject,
                format!(
                    "none of the requested objects exist on {} (first: {first})",
                    agent.addr
                ),
            ));
        }
        self.varbinds.fetch_add(out.len() as u64, Ordering::Relaxed);
        Ok(out)
    }
}

impl SnmpClient for Snmp2Client {
    async fn poll(&self, agent: &Agent, requests: &[Request]) -> Result<Vec<Varbind>, SnmpError> {
        match contain::Contained::new(self.run_poll(agent, requests)).await {
            Ok(result) => result,
            Err(panic) => {
                // Whatever the agent taught us may be what made the library
                // panic: start the next poll from a fresh discovery.
                self.forget(agent.addr);
                Err(SnmpError::new(
                    SnmpFailure::DecodeError,
                    format!(
                        "the SNMP library failed on {}'s answer (a malformed or hostile datagram): {panic}",
                        agent.addr
                    ),
                ))
            }
        }
    }
}

/// Counts a poll in flight for as long as it lives, cancellation included.
struct InFlight<'a>(&'a Snmp2Client);

impl<'a> InFlight<'a> {
    fn enter(client: &'a Snmp2Client) -> InFlight<'a> {
        let now = client.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        client.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(client)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One protocol operation, with its OIDs already in snmp2's form.
enum Op<'o> {
    Get(&'o [snmp2::Oid<'static>]),
    GetNext(&'o snmp2::Oid<'static>),
    GetBulk(&'o snmp2::Oid<'static>, u32),
}

/// A response, copied out of the session's receive buffer.
struct Reply {
    error_status: u32,
    error_index: u32,
    varbinds: Vec<Varbind>,
}

/// Why one attempt at an exchange did not give a reply.
enum AttemptError {
    Snmp(snmp2::Error),
    /// A varbind we cannot represent (a non-SNMP type, an OID arc > 2^32-1).
    Decode(String),
}

/// One poll's link to its agent: the current session (if any) and what it
/// needs to open another.
struct Conn<'a> {
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
    fn new(client: &'a Snmp2Client, agent: &'a Agent) -> Result<Conn<'a>, SnmpError> {
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

    fn is_v1(&self) -> bool {
        self.agent.version == SnmpVersion::V1
    }

    async fn open(&mut self) -> Result<AsyncSession, SnmpError> {
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
    async fn v3_security(&mut self) -> Result<v3::Security, SnmpError> {
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
    async fn discover(&mut self, template: v3::Security) -> Result<v3::Security, SnmpError> {
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
    async fn exchange(&mut self, op: &Op<'_>) -> Result<Reply, SnmpError> {
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

    fn forget_engine(&mut self) {
        if let Some(user) = self.user {
            self.client.drop_engine(self.agent, user);
        }
        self.engine_from_cache = false;
    }

    async fn get(&mut self, oids: &[Oid], out: &mut Vec<Varbind>) -> Result<(), SnmpError> {
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

    async fn walk(
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
const TOO_BIG: u32 = 1;
const NO_SUCH_NAME: u32 = 2;

fn error_status_name(status: u32) -> &'static str {
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

fn agent_error(agent: &Agent, reply: &Reply, oid: Option<&Oid>) -> SnmpError {
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

fn to_wire(oid: &Oid) -> Result<snmp2::Oid<'static>, SnmpError> {
    let arcs: Vec<u64> = oid.arcs().iter().map(|a| u64::from(*a)).collect();
    snmp2::Oid::from(&arcs).map_err(|e| {
        SnmpError::new(
            SnmpFailure::SendError,
            format!("OID {oid} cannot be encoded: {e:?}"),
        )
    })
}

fn from_wire(oid: &snmp2::Oid<'_>) -> Result<Oid, String> {
    let arcs = oid
        .iter()
        .ok_or_else(|| format!("OID {oid} has an arc beyond 64 bits"))?;
    arcs.map(|a| u32::try_from(a).map_err(|_| format!("OID {oid} has an arc beyond 32 bits")))
        .collect::<Result<Vec<u32>, String>>()
        .map(Oid)
}

fn own_value(value: snmp2::Value<'_>) -> Result<Value, String> {
    use snmp2::Value as W;
    Ok(match value {
        W::Null => Value::Null,
        W::Integer(v) => Value::Integer(v),
        W::OctetString(b) => Value::OctetString(b.to_vec()),
        W::ObjectIdentifier(o) => Value::ObjectId(from_wire(&o)?),
        W::IpAddress(a) => Value::IpAddress(a),
        W::Counter32(v) => Value::Counter32(v),
        W::Unsigned32(v) => Value::Gauge32(v),
        W::Timeticks(v) => Value::TimeTicks(v),
        W::Opaque(b) => Value::Opaque(b.to_vec()),
        W::Counter64(v) => Value::Counter64(v),
        W::EndOfMibView => Value::EndOfMibView,
        W::NoSuchObject => Value::NoSuchObject,
        W::NoSuchInstance => Value::NoSuchInstance,
        W::Boolean(_) => return Err("a BOOLEAN value, which SNMP does not define".into()),
        _ => return Err("a constructed value where SNMP allows only a simple type".into()),
    })
}

/// The snmp2 security context for a v3 user, without engine state yet.
fn security_for(credentials: &Credentials) -> Result<v3::Security, SnmpError> {
    let Credentials::V3 {
        user,
        auth,
        privacy,
        key_extension,
    } = credentials
    else {
        return Err(SnmpError::new(
            SnmpFailure::AuthFailed,
            "not an SNMPv3 user",
        ));
    };
    // snmp2's password-to-key indexes the pass phrase and panics on an empty
    // one; the config validator requires 8 characters (RFC 3414 §11.2).
    let nonempty = |s: &Secret, what: &str| {
        if s.is_empty() {
            Err(SnmpError::new(
                SnmpFailure::AuthFailed,
                format!("empty {what} pass phrase for user {user:?}"),
            ))
        } else {
            Ok(s.expose().as_bytes().to_vec())
        }
    };
    let (auth_protocol, auth_pass) = match auth {
        Some((protocol, pass)) => (*protocol, nonempty(pass, "authentication")?),
        None => (AuthProtocol::Md5, Vec::new()),
    };
    let level = match (auth, privacy) {
        (None, None) => v3::Auth::NoAuthNoPriv,
        (Some(_), None) => v3::Auth::AuthNoPriv,
        (Some(_), Some((cipher, pass))) => v3::Auth::AuthPriv {
            cipher: cipher.to_snmp2(),
            privacy_password: nonempty(pass, "privacy")?,
        },
        (None, Some(_)) => {
            return Err(SnmpError::new(
                SnmpFailure::AuthFailed,
                format!("user {user:?} has privacy without authentication (USM needs both)"),
            ))
        }
    };
    // Without a key extension Blumenthal's is used; it only matters for the
    // pairs that need one, and the config requires it to be named for those.
    let key_extension = key_extension.unwrap_or(KeyExtension::Blumenthal);
    Ok(v3::Security::new(user.as_bytes(), &auth_pass)
        .with_auth_protocol(auth_protocol.to_snmp2())
        .with_auth(level)
        .with_key_extension_method(key_extension.to_snmp2()))
}

// The shared protocol words as `snmp2` spells them (the trap receiver's USM
// uses these too).

impl AuthProtocol {
    pub(crate) fn to_snmp2(self) -> v3::AuthProtocol {
        match self {
            AuthProtocol::Md5 => v3::AuthProtocol::Md5,
            AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
            AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
            AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
            AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
            AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
        }
    }
}

impl PrivProtocol {
    pub(crate) fn to_snmp2(self) -> v3::Cipher {
        match self {
            PrivProtocol::Des => v3::Cipher::Des,
            PrivProtocol::Aes128 => v3::Cipher::Aes128,
            PrivProtocol::Aes192 => v3::Cipher::Aes192,
            PrivProtocol::Aes256 => v3::Cipher::Aes256,
        }
    }
}

impl KeyExtension {
    pub(crate) fn to_snmp2(self) -> v3::KeyExtension {
        match self {
            KeyExtension::Blumenthal => v3::KeyExtension::Blumenthal,
            KeyExtension::Reeder => v3::KeyExtension::Reeder,
        }
    }
}

async fn bind_connected(addr: SocketAddr) -> Result<UdpSocket, SnmpError> {
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
fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::testlab::{Snmpd, AUTH_PASS, PRIV_PASS};
    use super::*;

    /// ifTable (IF-MIB) and ifXTable (IF-MIB, RFC 2863).
    const IF_TABLE: &str = "1.3.6.1.2.1.2.2";
    const IF_X_TABLE: &str = "1.3.6.1.2.1.31.1.1";
    /// system (SNMPv2-MIB).
    const SYSTEM: &str = "1.3.6.1.2.1.1";
    const SYS_UP_TIME: &str = "1.3.6.1.2.1.1.3.0";
    const SYS_NAME: &str = "1.3.6.1.2.1.1.5.0";
    /// snmpInPkts.0 (SNMPv2-MIB): every datagram the agent received.
    const SNMP_IN_PKTS: &str = "1.3.6.1.2.1.11.1.0";

    fn oid(s: &str) -> Oid {
        s.parse().unwrap()
    }

    fn community(addr: SocketAddr, version: SnmpVersion, community: &str) -> Agent {
        Agent {
            addr,
            version,
            credentials: Credentials::Community(Secret::new(community)),
            timeout: Duration::from_secs(1),
            retries: 1,
            max_repetitions: 10,
        }
    }

    fn v3(
        addr: SocketAddr,
        user: &str,
        auth: Option<(AuthProtocol, &str)>,
        privacy: Option<(PrivProtocol, &str)>,
        key_extension: Option<KeyExtension>,
    ) -> Agent {
        Agent {
            addr,
            version: SnmpVersion::V3,
            credentials: Credentials::V3 {
                user: user.into(),
                auth: auth.map(|(p, s)| (p, Secret::new(s))),
                privacy: privacy.map(|(p, s)| (p, Secret::new(s))),
                key_extension,
            },
            timeout: Duration::from_secs(1),
            retries: 1,
            max_repetitions: 10,
        }
    }

    fn testv3(addr: SocketAddr) -> Agent {
        v3(
            addr,
            "testv3",
            Some((AuthProtocol::Sha1, AUTH_PASS)),
            Some((PrivProtocol::Aes128, PRIV_PASS)),
            None,
        )
    }

    fn oids(varbinds: &[Varbind]) -> Vec<String> {
        varbinds.iter().map(|vb| vb.oid.to_string()).collect()
    }

    #[test]
    fn an_agent_is_made_from_a_devices_resolved_settings() {
        let credentials = Credentials::V3 {
            user: "ops".into(),
            auth: Some((AuthProtocol::Sha256, Secret::new("auth-pass"))),
            privacy: Some((PrivProtocol::Aes256, Secret::new("priv-pass"))),
            key_extension: None,
        };
        let settings = SnmpSettings {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(3),
            retries: 2,
            version: SnmpVersion::V3,
            port: 1161,
            max_repetitions: 25,
            profiles: vec!["system".into()],
            credentials: credentials.clone(),
        };
        let addr: SocketAddr = "192.0.2.7:1161".parse().unwrap();
        assert_eq!(
            Agent::new(addr, &settings),
            Agent {
                addr,
                version: SnmpVersion::V3,
                credentials,
                timeout: Duration::from_secs(3),
                retries: 2,
                max_repetitions: 25,
            }
        );
    }

    /// What the agent has received so far, read over v2c (the read itself
    /// is one of the packets counted).
    async fn in_pkts(client: &Snmp2Client, addr: SocketAddr) -> u32 {
        let agent = community(addr, SnmpVersion::V2c, "public");
        let got = client
            .poll(&agent, &[Request::Get(vec![oid(SNMP_IN_PKTS)])])
            .await
            .unwrap();
        match got[0].value {
            Value::Counter32(n) => n,
            ref other => panic!("snmpInPkts is {other:?}"),
        }
    }

    #[tokio::test]
    async fn v1_get_and_walk() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let agent = community(snmpd.addr, SnmpVersion::V1, "public");
        let got = client
            .poll(
                &agent,
                &[Request::Get(vec![oid(SYS_UP_TIME), oid(SYS_NAME)])],
            )
            .await
            .unwrap();
        assert_eq!(oids(&got), [SYS_UP_TIME, SYS_NAME]);
        assert!(
            matches!(got[0].value, Value::TimeTicks(t) if t > 0),
            "{got:?}"
        );
        assert!(matches!(got[1].value, Value::OctetString(ref s) if !s.is_empty()));

        let walked = client
            .poll(&agent, &[Request::Walk(oid(SYSTEM))])
            .await
            .unwrap();
        let expected: Vec<String> = snmpd
            .tool("snmpwalk", &["-v1", "-c", "public"], SYSTEM)
            .into_iter()
            .map(|(o, _)| o)
            .collect();
        assert!(expected.len() > 5, "{expected:?}");
        assert_eq!(oids(&walked), expected);
    }

    #[tokio::test]
    async fn v2c_get_and_bulk_walk_of_if_table_match_snmpbulkwalk() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let agent = community(snmpd.addr, SnmpVersion::V2c, "public");
        let got = client
            .poll(&agent, &[Request::Get(vec![oid(SYS_UP_TIME)])])
            .await
            .unwrap();
        assert!(
            matches!(
                got[..],
                [Varbind {
                    value: Value::TimeTicks(_),
                    ..
                }]
            ),
            "{got:?}"
        );

        let walked = client
            .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
            .await
            .unwrap();
        let expected = snmpd.tool("snmpbulkwalk", &["-v2c", "-c", "public", "-Cr10"], IF_TABLE);
        assert!(expected.len() >= 20, "{expected:?}");
        assert_eq!(
            oids(&walked),
            expected.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>()
        );
        // Columns that do not move while we look: ifIndex, ifDescr, ifType,
        // ifMtu, ifAdminStatus, ifOperStatus (counters do: our own traffic).
        let stable = ["1", "2", "3", "4", "7", "8"].map(|c| oid(&format!("{IF_TABLE}.1.{c}")));
        let mut compared = 0;
        for (vb, (_, text)) in walked.iter().zip(&expected) {
            if stable.iter().any(|col| vb.oid.starts_with(col)) {
                assert_eq!(&vb.value.as_label(), text, "{}", vb.oid);
                compared += 1;
            }
        }
        assert!(compared >= 6, "compared {compared} values");
    }

    #[tokio::test]
    async fn v3_auth_priv_sha_aes_get_and_walk() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let got = client
            .poll(
                &testv3(snmpd.addr),
                &[Request::Get(vec![oid(SYS_UP_TIME), oid(SYS_NAME)])],
            )
            .await
            .unwrap();
        assert_eq!(oids(&got), [SYS_UP_TIME, SYS_NAME]);

        let over_v3 = client
            .poll(&testv3(snmpd.addr), &[Request::Walk(oid(IF_X_TABLE))])
            .await
            .unwrap();
        let over_v2c = client
            .poll(
                &community(snmpd.addr, SnmpVersion::V2c, "public"),
                &[Request::Walk(oid(IF_X_TABLE))],
            )
            .await
            .unwrap();
        assert!(over_v3.len() >= 10, "{over_v3:?}");
        assert_eq!(oids(&over_v3), oids(&over_v2c));
    }

    /// Every USM pair the installed net-snmp can serve, including both
    /// AES-256 key extensions, and a wrong extension (which net-snmp drops
    /// silently, so it is a timeout whose detail names the likely cause).
    #[tokio::test]
    async fn v3_protocol_pairs_and_key_extensions() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let get = [Request::Get(vec![oid(SYS_NAME)])];
        let cases = [
            ("md5des", AuthProtocol::Md5, Some(PrivProtocol::Des), None),
            (
                "sha256aes256",
                AuthProtocol::Sha256,
                Some(PrivProtocol::Aes256),
                None,
            ),
            (
                "shaaes256",
                AuthProtocol::Sha1,
                Some(PrivProtocol::Aes256),
                Some(KeyExtension::Blumenthal),
            ),
            (
                "shaaes256",
                AuthProtocol::Sha1,
                Some(PrivProtocol::Aes256),
                None,
            ),
            (
                "shaaes256c",
                AuthProtocol::Sha1,
                Some(PrivProtocol::Aes256),
                Some(KeyExtension::Reeder),
            ),
            ("authonly", AuthProtocol::Sha512, None, None),
        ];
        for (user, auth, privacy, ext) in cases {
            let agent = v3(
                snmpd.addr,
                user,
                Some((auth, AUTH_PASS)),
                privacy.map(|p| (p, PRIV_PASS)),
                ext,
            );
            let got = client.poll(&agent, &get).await;
            assert!(
                matches!(
                    got.as_deref(),
                    Ok([Varbind {
                        value: Value::OctetString(_),
                        ..
                    }])
                ),
                "{user} {ext:?}: {got:?}"
            );
        }
        let mut wrong = v3(
            snmpd.addr,
            "shaaes256c",
            Some((AuthProtocol::Sha1, AUTH_PASS)),
            Some((PrivProtocol::Aes256, PRIV_PASS)),
            Some(KeyExtension::Blumenthal),
        );
        wrong.timeout = Duration::from_millis(300);
        let err = client.poll(&wrong, &get).await.unwrap_err();
        assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
        assert!(err.detail.contains("key extension"), "{err}");
    }

    #[tokio::test]
    async fn v3_wrong_auth_pass_or_unknown_user_is_auth_failed() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let get = [Request::Get(vec![oid(SYS_NAME)])];
        for (user, pass) in [("testv3", "wrongpass123"), ("nosuchuser", AUTH_PASS)] {
            let agent = v3(
                snmpd.addr,
                user,
                Some((AuthProtocol::Sha1, pass)),
                Some((PrivProtocol::Aes128, PRIV_PASS)),
                None,
            );
            let started = Instant::now();
            let err = client.poll(&agent, &get).await.unwrap_err();
            assert_eq!(err.kind, SnmpFailure::AuthFailed, "{user}: {err}");
            // Answered by a report at once, not by waiting out a timeout.
            assert!(started.elapsed() < Duration::from_millis(900), "{user}");
        }
        // The right credentials still work afterwards.
        client.poll(&testv3(snmpd.addr), &get).await.unwrap();
    }

    /// net-snmp drops a v2c request with an unknown community without a
    /// word: a timeout after every attempt, as on a real network.
    #[tokio::test]
    async fn v2c_wrong_community_times_out_within_its_budget() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let mut agent = community(snmpd.addr, SnmpVersion::V2c, "not-the-community");
        agent.timeout = Duration::from_millis(300);
        agent.retries = 2;
        let started = Instant::now();
        let err = client
            .poll(&agent, &[Request::Get(vec![oid(SYS_NAME)])])
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
        assert!(err.detail.contains("3 attempts"), "{err}");
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(
            took < Duration::from_millis(900) + Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(client.stats().requests_total, 3);
    }

    #[tokio::test]
    async fn a_closed_port_is_a_timeout_saying_connection_refused() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The socket is closed here: the kernel answers port unreachable.
        let client = Snmp2Client::new(4);
        for version in [SnmpVersion::V2c, SnmpVersion::V1] {
            let err = client
                .poll(
                    &community(port, version, "public"),
                    &[Request::Get(vec![oid(SYS_NAME)])],
                )
                .await
                .unwrap_err();
            assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
            assert!(err.detail.contains("connection refused"), "{err}");
        }
        let err = client
            .poll(&testv3(port), &[Request::Get(vec![oid(SYS_NAME)])])
            .await
            .unwrap_err();
        assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
        assert!(err.detail.contains("connection refused"), "{err}");
    }

    #[tokio::test]
    async fn missing_objects() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let missing = oid("1.3.6.1.2.1.1.99.0");
        for version in [SnmpVersion::V2c, SnmpVersion::V1] {
            let agent = community(snmpd.addr, version, "public");
            let err = client
                .poll(&agent, &[Request::Get(vec![missing.clone()])])
                .await
                .unwrap_err();
            assert_eq!(err.kind, SnmpFailure::NoSuchObject, "{version:?}: {err}");

            // Some present, some missing: the poll succeeds and says which.
            let got = client
                .poll(
                    &agent,
                    &[Request::Get(vec![missing.clone(), oid(SYS_NAME)])],
                )
                .await
                .unwrap();
            assert_eq!(got.len(), 2, "{version:?}");
            assert!(got[0].value.is_exception(), "{version:?}: {got:?}");
            assert!(matches!(got[1].value, Value::OctetString(_)), "{version:?}");

            // A walk of a subtree the agent does not have.
            let err = client
                .poll(&agent, &[Request::Walk(oid("1.3.6.1.2.1.33"))])
                .await
                .unwrap_err();
            assert_eq!(err.kind, SnmpFailure::NoSuchObject, "{version:?}: {err}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn polls_in_flight_never_exceed_the_limit() {
        let snmpd = Snmpd::start();
        let client = Arc::new(Snmp2Client::new(3));
        let agent = community(snmpd.addr, SnmpVersion::V2c, "public");
        let polls: Vec<_> = (0..40)
            .map(|_| {
                let (client, agent) = (client.clone(), agent.clone());
                tokio::spawn(async move {
                    client
                        .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
                        .await
                        .map(|v| v.len())
                })
            })
            .collect();
        for poll in polls {
            assert!(poll.await.unwrap().unwrap() > 0);
        }
        let stats = client.stats();
        assert_eq!(stats.polls_total, 40);
        assert_eq!(stats.polls_in_flight, 0);
        assert_eq!(stats.max_polls_in_flight, 3, "{stats:?}");
    }

    /// Counted by the agent itself (snmpInPkts): the first v3 poll costs a
    /// discovery and the GET, later polls the GET alone.
    #[tokio::test]
    async fn v3_engine_state_is_cached_between_polls() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let get = [Request::Get(vec![oid(SYS_UP_TIME)])];
        let mut packets = Vec::new();
        for _ in 0..3 {
            let before = in_pkts(&client, snmpd.addr).await;
            client.poll(&testv3(snmpd.addr), &get).await.unwrap();
            let after = in_pkts(&client, snmpd.addr).await;
            packets.push(after - before - 1);
        }
        assert_eq!(packets, [2, 1, 1]);
        assert_eq!(client.stats().engine_discoveries_total, 1);

        // Other credentials for the same agent do not reuse those keys.
        let other = v3(
            snmpd.addr,
            "testv3",
            Some((AuthProtocol::Sha1, "wrongpass123")),
            Some((PrivProtocol::Aes128, PRIV_PASS)),
            None,
        );
        let err = client.poll(&other, &get).await.unwrap_err();
        assert_eq!(err.kind, SnmpFailure::AuthFailed, "{err}");
        assert_eq!(client.stats().engine_discoveries_total, 2);
    }

    /// A cached engine state that the agent no longer accepts (here: a
    /// made-up engine ID, as after a device swap) is relearned within the
    /// same poll rather than failing it.
    #[tokio::test]
    async fn a_stale_engine_cache_is_relearned_in_the_same_poll() {
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let agent = testv3(snmpd.addr);
        let stale = security_for(&agent.credentials)
            .unwrap()
            .with_engine_id(&[0x80, 0, 0x1f, 0x88, 4, 1, 2, 3, 4])
            .unwrap()
            .with_engine_boots_and_time(1, 100);
        client.store_engine(&agent, "testv3", &stale);
        let got = client
            .poll(&agent, &[Request::Get(vec![oid(SYS_NAME)])])
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(client.stats().engine_discoveries_total, 1);
    }

    /// Isolation (issue 3 part 6): agents that never answer, polled at the
    /// same time as a live one, hold only their own permits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn silent_agents_do_not_delay_live_polls() {
        let snmpd = Snmpd::start();
        let client = Arc::new(Snmp2Client::new(8));
        let silent: Vec<std::net::UdpSocket> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let started = Instant::now();
        let silent_polls: Vec<_> = silent
            .iter()
            .map(|socket| {
                let mut agent = community(socket.local_addr().unwrap(), SnmpVersion::V2c, "public");
                agent.timeout = Duration::from_secs(3);
                agent.retries = 1;
                let client = client.clone();
                tokio::spawn(async move {
                    let r = client.poll(&agent, &[Request::Walk(oid(IF_TABLE))]).await;
                    (r, started.elapsed())
                })
            })
            .collect();
        let live_agent = community(snmpd.addr, SnmpVersion::V2c, "public");
        let live_polls: Vec<_> = (0..20)
            .map(|_| {
                let (client, agent) = (client.clone(), live_agent.clone());
                tokio::spawn(async move {
                    let r = client
                        .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
                        .await
                        .map(|v| v.len());
                    (r, started.elapsed())
                })
            })
            .collect();
        let mut live_done = Duration::ZERO;
        for poll in live_polls {
            let (result, at) = poll.await.unwrap();
            assert!(result.unwrap() > 0);
            live_done = live_done.max(at);
        }
        for poll in silent_polls {
            let (result, at) = poll.await.unwrap();
            assert_eq!(result.unwrap_err().kind, SnmpFailure::Timeout);
            assert!(at >= Duration::from_secs(6), "{at:?}");
        }
        // The silent agents take 2 × 3 s; the live ones finish in
        // milliseconds. 3 s of margin for a loaded machine.
        assert!(
            live_done < Duration::from_secs(3),
            "live polls took {live_done:?}"
        );
    }

    /// An agent that repeats an OID (a real bug of some old agents) ends the
    /// walk with an error instead of looping; one that sends garbage is a
    /// decode error. Both are played by a socket of ours, as snmpd cannot
    /// be made to misbehave.
    #[tokio::test]
    async fn broken_agents_cannot_loop_or_crash_a_walk() {
        let agent_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = agent_socket.local_addr().unwrap();
        let fake = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            let mut served = 0u32;
            loop {
                let (n, peer) = agent_socket.recv_from(&mut buf).await.unwrap();
                let req_id = snmp2::Pdu::from_bytes(&buf[..n]).unwrap().req_id;
                served += 1;
                let reply = if served <= 3 {
                    // Always the same row: ifIndex.1 = 1.
                    ber::tlv(
                        ber::SEQUENCE,
                        &ber::concat(&[
                            ber::integer(1),
                            ber::octet_string(b"public"),
                            ber::tlv(
                                ber::RESPONSE,
                                &ber::concat(&[
                                    ber::integer(i64::from(req_id)),
                                    ber::integer(0),
                                    ber::integer(0),
                                    ber::tlv(
                                        ber::SEQUENCE,
                                        &ber::tlv(
                                            ber::SEQUENCE,
                                            &ber::concat(&[
                                                ber::oid(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 1]),
                                                ber::integer(1),
                                            ]),
                                        ),
                                    ),
                                ]),
                            ),
                        ]),
                    )
                } else {
                    // A lying length.
                    vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01]
                };
                agent_socket.send_to(&reply, peer).await.unwrap();
            }
        });
        let client = Snmp2Client::new(4);
        let agent = community(addr, SnmpVersion::V2c, "public");
        let err = client
            .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
            .await
            .unwrap_err();
        assert_eq!(err.kind, SnmpFailure::AgentError, "{err}");
        assert!(err.detail.contains("out of order"), "{err}");
        // The third answer (served <= 3) starts a new walk; the fourth is
        // garbage.
        let err = client
            .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
            .await
            .unwrap_err();
        assert_eq!(err.kind, SnmpFailure::DecodeError, "{err}");
        fake.abort();
    }

    /// Habit 5: a sentinel community and pass phrases appear in no error
    /// text and no debug output, whatever went wrong.
    #[tokio::test]
    async fn secrets_never_appear_in_errors_or_debug_output() {
        const SENTINEL: &str = "Sentinel-7f3a9c";
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(4);
        let get = [Request::Get(vec![oid(SYS_NAME)])];
        let mut v2c = community(
            snmpd.addr,
            SnmpVersion::V2c,
            &format!("{SENTINEL}-community"),
        );
        v2c.timeout = Duration::from_millis(200);
        v2c.retries = 0;
        let mut wrong_auth = v3(
            snmpd.addr,
            "testv3",
            Some((AuthProtocol::Sha1, &format!("{SENTINEL}-auth"))),
            Some((PrivProtocol::Aes128, &format!("{SENTINEL}-priv"))),
            None,
        );
        wrong_auth.timeout = Duration::from_millis(200);
        let mut wrong_priv = v3(
            snmpd.addr,
            "testv3",
            Some((AuthProtocol::Sha1, AUTH_PASS)),
            Some((PrivProtocol::Aes128, &format!("{SENTINEL}-priv"))),
            None,
        );
        wrong_priv.timeout = Duration::from_millis(200);
        wrong_priv.retries = 0;
        let mut empty = wrong_auth.clone();
        if let Credentials::V3 {
            ref mut privacy, ..
        } = empty.credentials
        {
            *privacy = Some((PrivProtocol::Des, Secret::new("")));
        }
        let mut seen = Vec::new();
        for agent in [&v2c, &wrong_auth, &wrong_priv, &empty] {
            let err = client.poll(agent, &get).await.unwrap_err();
            seen.push(err.kind);
            for text in [err.to_string(), format!("{err:?}"), format!("{agent:?}")] {
                assert!(!text.contains(SENTINEL), "leaked: {text}");
            }
        }
        assert_eq!(
            seen,
            [
                SnmpFailure::Timeout,
                SnmpFailure::AuthFailed,
                SnmpFailure::Timeout,
                SnmpFailure::AuthFailed
            ]
        );
        assert!(!snmpd.log().contains(SENTINEL));
    }

    /// Not a test: CPU per IF-MIB walk (ifTable + ifXTable) against snmpd.
    /// `cargo test --release --lib snmp::client::tests::bench -- --ignored --nocapture`
    #[tokio::test]
    #[ignore]
    async fn bench_if_mib_walk_cpu() {
        fn cpu() -> Duration {
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: getrusage writes into the struct we own.
            unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            tv(usage.ru_utime) + tv(usage.ru_stime)
        }
        let snmpd = Snmpd::start();
        let client = Snmp2Client::new(16);
        let walks = [Request::Walk(oid(IF_TABLE)), Request::Walk(oid(IF_X_TABLE))];
        let mut v2c = community(snmpd.addr, SnmpVersion::V2c, "public");
        let mut v3 = testv3(snmpd.addr);
        v2c.max_repetitions = 25;
        v3.max_repetitions = 25;
        for (label, agent) in [("v2c", &v2c), ("v3 authPriv SHA/AES", &v3)] {
            for _ in 0..20 {
                client.poll(agent, &walks).await.unwrap();
            }
            let n = 1_000u32;
            let (cpu0, wall0, req0) = (cpu(), Instant::now(), client.stats().requests_total);
            let mut varbinds = 0usize;
            for _ in 0..n {
                varbinds += client.poll(agent, &walks).await.unwrap().len();
            }
            let (cpu1, wall1) = (cpu() - cpu0, wall0.elapsed());
            let requests = client.stats().requests_total - req0;
            println!(
                "{label}: {n} IF-MIB polls, {} varbinds and {} requests each; \
                 CPU {:.1} µs/poll, {:.2} µs/varbind; wall {:.1} µs/poll",
                varbinds / n as usize,
                requests / u64::from(n),
                cpu1.as_secs_f64() * 1e6 / f64::from(n),
                cpu1.as_secs_f64() * 1e6 / varbinds as f64,
                wall1.as_secs_f64() * 1e6 / f64::from(n),
            );
        }
        // What the engine cache saves: a v3 GET on a client that has never
        // seen the agent (discovery, two key derivations, the GET).
        let get = [Request::Get(vec![oid(SYS_UP_TIME)])];
        let n = 100u32;
        let cpu0 = cpu();
        for _ in 0..n {
            Snmp2Client::new(1).poll(&v3, &get).await.unwrap();
        }
        let cold = (cpu() - cpu0).as_secs_f64() * 1e6 / f64::from(n);
        let cpu0 = cpu();
        for _ in 0..n {
            client.poll(&v3, &get).await.unwrap();
        }
        let warm = (cpu() - cpu0).as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "v3 GET sysUpTime: CPU {cold:.1} µs without the engine cache, {warm:.1} µs with it"
        );
    }
}
