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
mod conn;
mod contain;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod testlab;
#[cfg(test)]
mod tests;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use snmp2::v3;
use tokio::sync::Semaphore;

use self::conn::*;

use super::{Credentials, Oid, SnmpFailure, SnmpVersion, Varbind};
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
