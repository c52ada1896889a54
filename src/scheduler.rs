//! One task per prober of each device (ICMP rounds, SNMP polls): on a fixed
//! period, started at a stable per-device offset so thousands of targets
//! never burst at once; each sends its observations to the ledger.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, Notify};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Device, IcmpSettings, SnmpSettings};
use crate::ledger::{Input, Observation, Outcome, SnmpOutcome};
use crate::live::{Live, ProbeStatus, SnmpStatus};
use crate::loader;
use crate::metrics::Metrics;
use crate::probes::icmp::{IcmpPinger, IcmpRound};
use crate::probes::snmp::client::{Agent, Request, Snmp2Client, SnmpClient, SnmpError};
use crate::probes::snmp::profile::{Profile, Sample};
use crate::probes::snmp::{Oid, SnmpFailure, Value, Varbind};
use crate::probes::FailureKind;

/// How often a DNS name is looked up again (addresses of member-unit
/// equipment change rarely, but they do change).
const RESOLVE_EVERY: Duration = Duration::from_secs(300);

/// Echoes of one round are spread over at most this much time, as fping does
/// by default; tighter when the interval is short, so a round always ends
/// (last echo plus its timeout) before the next one starts.
const MAX_ECHO_SPACING: Duration = Duration::from_secs(1);

pub fn echo_spacing(settings: &IcmpSettings) -> Duration {
    let budget = settings.interval.saturating_sub(settings.timeout);
    let per_echo = budget / settings.count.max(1);
    per_echo.min(MAX_ECHO_SPACING)
}

/// A device's prober schedule: ticks every `interval`, first at the device's
/// stable [`phase`], so thousands of devices spread evenly and never burst.
fn schedule(device: &str, interval: Duration) -> tokio::time::Interval {
    let start = Instant::now() + phase(device, interval);
    let mut ticks = tokio::time::interval_at(start, interval);
    // A stalled runtime must not fire a burst of catch-up rounds.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

/// Runs a prober task until `cancel` (shutdown, or a reload replacing its
/// generation) or until it ends by itself.
fn spawn_until_cancelled(
    tasks: &TaskTracker,
    cancel: CancellationToken,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tasks.spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = task => {}
        }
    });
}

/// A stable offset in `[0, interval)` from the device name: the same device
/// starts at the same phase after every restart, and devices spread evenly.
pub fn phase(name: &str, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    let millis = interval.as_millis().max(1) as u64;
    Duration::from_millis(hasher.finish() % millis)
}

pub struct IcmpTask {
    /// The config generation this task probes for.
    pub generation: u64,
    pub index: usize,
    pub device: Device,
    pub settings: IcmpSettings,
    pub pinger: Arc<IcmpPinger>,
    pub observations: mpsc::Sender<Input>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
}

impl IcmpTask {
    pub fn spawn(self, tasks: &TaskTracker, cancel: CancellationToken) {
        spawn_until_cancelled(tasks, cancel, self.run());
    }

    async fn run(self) {
        let interval = self.settings.interval;
        let spacing = echo_spacing(&self.settings);
        let mut ticks = schedule(&self.device.name, interval);
        let mut resolver = Resolver::new(self.device.address.clone());
        loop {
            ticks.tick().await;
            let at = Timestamp::now();
            let started = Instant::now();
            let round = match resolver.address().await {
                Some(addr) => {
                    self.pinger
                        .round(addr, self.settings.count, spacing, self.settings.timeout)
                        .await
                }
                None => IcmpRound {
                    sent: 0,
                    received: 0,
                    rtt_min: None,
                    rtt_avg: None,
                    rtt_max: None,
                    jitter: None,
                    failure: Some(FailureKind::ResolveError),
                },
            };
            let duration = started.elapsed().as_secs_f64();
            self.metrics
                .observe_poll("icmp", duration, round.failure.map(|f| f.as_str()));
            let rtt = round.rtt_avg.map(|d| d.as_secs_f64());
            let loss = (round.sent > 0).then(|| round.loss_ratio());
            self.live.record_probe(
                &self.device.name,
                ProbeStatus {
                    at: Some(at),
                    duration_seconds: Some(duration),
                    rtt_seconds: rtt,
                    loss_ratio: loss,
                    failure: round.failure.map(|f| f.as_str()),
                },
            );
            let obs = Input::Observation(Observation {
                generation: self.generation,
                device: self.index,
                at,
                outcome: Outcome::Icmp(round),
            });
            if self.observations.send(obs).await.is_err() {
                return; // the ledger has stopped: we are shutting down
            }
        }
    }
}

pub struct SnmpTask {
    /// The config generation this task polls for.
    pub generation: u64,
    pub index: usize,
    pub device: Device,
    pub settings: SnmpSettings,
    /// Shared by every device with the same profile list.
    pub plan: Arc<SnmpPlan>,
    pub client: Arc<Snmp2Client>,
    pub observations: mpsc::Sender<Input>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    /// Notified by the trap receiver: poll now instead of at the next tick
    /// (a linkDown shows faster than polling, but only a poll confirms it).
    pub poll_now: Arc<Notify>,
}

/// After a trap-triggered poll, at most one more is made this soon, so a trap
/// storm cannot turn into a poll storm.
const MIN_TRIGGERED_GAP: Duration = Duration::from_secs(1);

impl SnmpTask {
    pub fn spawn(self, tasks: &TaskTracker, cancel: CancellationToken) {
        spawn_until_cancelled(tasks, cancel, self.run());
    }

    async fn run(self) {
        let mut ticks = schedule(&self.device.name, self.settings.interval);
        let mut resolver = Resolver::new(self.device.address.clone());
        let mut lookups: Option<LookupCache> = None;
        loop {
            let triggered = tokio::select! {
                _ = ticks.tick() => false,
                _ = self.poll_now.notified() => {
                    tracing::debug!(device = %self.device.name, "trap: polling now");
                    true
                }
            };
            // Boxed: a poll's state (the client's walk, several KB) exists
            // only while it runs, not in each of thousands of idle tasks.
            if !Box::pin(self.poll(&mut resolver, &mut lookups)).await {
                return;
            }
            // Only a trap-triggered poll waits before the next trigger may
            // act, so a trap storm cannot become a poll storm; scheduled
            // polls keep their phase.
            if triggered {
                tokio::time::sleep(MIN_TRIGGERED_GAP).await;
            }
        }
    }

    /// One poll, its samples and its observation; false once the ledger has
    /// stopped (we are shutting down).
    async fn poll(&self, resolver: &mut Resolver, lookups: &mut Option<LookupCache>) -> bool {
        let plan = &*self.plan;
        let at = Timestamp::now();
        let started = Instant::now();
        let refresh = !plan.lookups.is_empty()
            && lookups
                .as_ref()
                .is_none_or(|c| c.polls >= LOOKUP_REFRESH_POLLS);
        let requests = if refresh {
            &plan.with_lookups
        } else {
            &plan.values
        };
        let result = match resolver.address().await {
            Some(ip) => {
                let agent = Agent::new(SocketAddr::new(ip, self.settings.port), &self.settings);
                let mut result = self.client.poll(&agent, requests).await;
                if let Ok(varbinds) = &mut result {
                    let uptime = uptime_ticks(varbinds);
                    let rebooted = lookups
                        .as_ref()
                        .and_then(|c| Some(uptime? < c.uptime?))
                        .unwrap_or(false);
                    if rebooted {
                        tracing::info!(device = %self.device.name, "device rebooted (sysUpTime went back)");
                        self.metrics.count_reboot(&self.device.name);
                    }
                    if refresh {
                        *lookups = Some(LookupCache::keep(varbinds, &plan.lookups, uptime));
                    } else if rebooted && !plan.lookups.is_empty() {
                        // Rows may be renumbered after a reboot: read the
                        // lookups again before using them.
                        *lookups = match self.client.poll(&agent, &plan.lookups).await {
                            Ok(fresh) => Some(LookupCache::keep(&fresh, &plan.lookups, uptime)),
                            Err(_) => None,
                        };
                    } else if let Some(cache) = lookups.as_mut() {
                        cache.polls += 1;
                        cache.uptime = uptime.or(cache.uptime);
                    }
                    if !refresh {
                        if let Some(cache) = lookups.as_ref() {
                            cache.restore(&plan.lookups, varbinds);
                        }
                    }
                }
                result
            }
            None => Err(SnmpError {
                kind: SnmpFailure::ResolveError,
                detail: format!("cannot resolve {}", self.device.address),
            }),
        };
        let failure = result.as_ref().err().map(|e| e.kind);
        let duration = started.elapsed().as_secs_f64();
        self.metrics
            .observe_poll("snmp", duration, failure.map(|f| f.as_str()));
        let samples: Vec<Sample> = match &result {
            Ok(varbinds) => plan
                .profiles
                .iter()
                .flat_map(|p| p.evaluate(varbinds))
                .collect(),
            Err(_) => Vec::new(),
        };
        drop(result);
        let interfaces = oper_status_by_name(&samples);
        self.live.record_snmp(
            &self.device.name,
            SnmpStatus {
                at: Some(at),
                duration_seconds: Some(duration),
                failure: failure.map(|f| f.as_str()),
                samples: samples.into(),
            },
        );
        let obs = Input::Observation(Observation {
            generation: self.generation,
            device: self.index,
            at,
            outcome: Outcome::Snmp(SnmpOutcome {
                failure,
                interfaces,
            }),
        });
        self.observations.send(obs).await.is_ok()
    }
}

/// What the devices with one profile list poll: computed once per distinct
/// list and shared, not once per device.
#[derive(Debug)]
pub struct SnmpPlan {
    pub profiles: Vec<Arc<Profile>>,
    /// Read at every poll.
    pub values: Vec<Request>,
    /// Read when the device's lookup cache is missing, old or invalidated.
    pub lookups: Vec<Request>,
    /// `values` then `lookups`: a poll that refreshes the cache.
    pub with_lookups: Vec<Request>,
}

impl SnmpPlan {
    pub fn new(profiles: Vec<Arc<Profile>>) -> SnmpPlan {
        let plan = loader::poll_plan(&profiles);
        let with_lookups = plan.values.iter().chain(&plan.lookups).cloned().collect();
        SnmpPlan {
            profiles,
            values: plan.values,
            lookups: plan.lookups,
            with_lookups,
        }
    }
}

/// Lookup columns (names, aliases, precision) are read again after this many
/// polls, and at once after a reboot; in between each poll reads only the
/// values (for IF-MIB: 7 of 9 columns).
const LOOKUP_REFRESH_POLLS: u32 = 10;

/// The lookup answers of a device's last full poll, packed: each varbind as
/// the lookup request it answers (an index into [`lookup_roots`]), its arcs
/// after that root and its value, in a compact byte encoding (LEB128
/// numbers). A 24-port `if_mib` device keeps ~0.6 KB instead of the ~7 KB of
/// 48 owned [`Varbind`]s; [`LookupCache::restore`] gives the same varbinds
/// back, in the same order, for each poll that does not read them.
struct LookupCache {
    packed: Box<[u8]>,
    /// Polls made since they were read.
    polls: u32,
    /// sysUpTime at the last poll, in hundredths of a second.
    uptime: Option<u32>,
}

/// The OIDs that lookup requests are answered under: each walk's root, each
/// GET's instances.
fn lookup_roots(lookups: &[Request]) -> impl Iterator<Item = &Oid> {
    lookups.iter().flat_map(|r| match r {
        Request::Walk(root) => std::slice::from_ref(root),
        Request::Get(oids) => oids.as_slice(),
    })
}

impl LookupCache {
    /// Keeps the answers to `lookups` among `varbinds`.
    fn keep(varbinds: &[Varbind], lookups: &[Request], uptime: Option<u32>) -> LookupCache {
        let mut out = Vec::new();
        for vb in varbinds {
            let Some((root, arcs)) = lookup_roots(lookups)
                .enumerate()
                .find_map(|(i, root)| Some((i, vb.oid.suffix(root)?)))
            else {
                continue;
            };
            put(&mut out, root as u64);
            put_arcs(&mut out, arcs);
            put_value(&mut out, &vb.value);
        }
        LookupCache {
            packed: out.into_boxed_slice(),
            polls: 0,
            uptime,
        }
    }

    /// Appends the kept varbinds to `out`; `lookups` is the plan `keep` had.
    fn restore(&self, lookups: &[Request], out: &mut Vec<Varbind>) {
        let roots: Vec<&Oid> = lookup_roots(lookups).collect();
        let mut r = Reader(&self.packed);
        while !r.0.is_empty() {
            // Only a bug (another plan) makes this fail: keep what decoded.
            let Some(vb) = r.varbind(&roots) else {
                return;
            };
            out.push(vb);
        }
    }
}

/// Unsigned LEB128.
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_arcs(out: &mut Vec<u8>, arcs: &[u32]) {
    put(out, arcs.len() as u64);
    for &a in arcs {
        put(out, u64::from(a));
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Integer(v) => {
            out.push(0);
            put(out, ((v << 1) ^ (v >> 63)) as u64); // zigzag
        }
        Value::OctetString(b) => {
            out.push(1);
            put_bytes(out, b);
        }
        Value::ObjectId(oid) => {
            out.push(2);
            put_arcs(out, oid.arcs());
        }
        Value::IpAddress(ip) => {
            out.push(3);
            out.extend_from_slice(ip);
        }
        Value::Counter32(v) => {
            out.push(4);
            put(out, u64::from(*v));
        }
        Value::Gauge32(v) => {
            out.push(5);
            put(out, u64::from(*v));
        }
        Value::TimeTicks(v) => {
            out.push(6);
            put(out, u64::from(*v));
        }
        Value::Opaque(b) => {
            out.push(7);
            put_bytes(out, b);
        }
        Value::Counter64(v) => {
            out.push(8);
            put(out, *v);
        }
        Value::Null => out.push(9),
        Value::NoSuchObject => out.push(10),
        Value::NoSuchInstance => out.push(11),
        Value::EndOfMibView => out.push(12),
    }
}

/// Reads what [`LookupCache::keep`] wrote.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn uint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    /// `prefix` then the arcs read.
    fn arcs(&mut self, prefix: &[u32]) -> Option<Vec<u32>> {
        let n = usize::try_from(self.uint()?).ok()?;
        let mut into = Vec::with_capacity(prefix.len() + n.min(self.0.len()));
        into.extend_from_slice(prefix);
        for _ in 0..n {
            into.push(self.u32()?);
        }
        Some(into)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.uint()?).ok()?;
        let bytes = self.0.get(..n)?.to_vec();
        self.0 = &self.0[n..];
        Some(bytes)
    }

    fn varbind(&mut self, roots: &[&Oid]) -> Option<Varbind> {
        let root = roots.get(usize::try_from(self.uint()?).ok()?)?;
        let oid = Oid(self.arcs(root.arcs())?);
        let value = match self.byte()? {
            0 => {
                let z = self.uint()?;
                Value::Integer((z >> 1) as i64 ^ -((z & 1) as i64))
            }
            1 => Value::OctetString(self.bytes()?),
            2 => Value::ObjectId(Oid(self.arcs(&[])?)),
            3 => {
                let ip = self.0.get(..4)?.try_into().ok()?;
                self.0 = &self.0[4..];
                Value::IpAddress(ip)
            }
            4 => Value::Counter32(self.u32()?),
            5 => Value::Gauge32(self.u32()?),
            6 => Value::TimeTicks(self.u32()?),
            7 => Value::Opaque(self.bytes()?),
            8 => Value::Counter64(self.uint()?),
            9 => Value::Null,
            10 => Value::NoSuchObject,
            11 => Value::NoSuchInstance,
            12 => Value::EndOfMibView,
            _ => return None,
        };
        Some(Varbind { oid, value })
    }
}

fn uptime_ticks(varbinds: &[Varbind]) -> Option<u32> {
    varbinds
        .iter()
        .find_map(|v| match (&v.value, v.oid.arcs() == loader::SYS_UPTIME) {
            (Value::TimeTicks(t), true) => Some(*t),
            _ => None,
        })
}

/// ifName → ifOperStatus up, from the `if_mib` profile's samples.
fn oper_status_by_name(samples: &[Sample]) -> Vec<(String, bool)> {
    samples
        .iter()
        .filter(|s| s.name() == "netkpi_if_oper_up")
        .filter_map(|s| {
            let name = s.label("if_name")?;
            (!name.is_empty()).then(|| (name.to_string(), s.value == 1.0))
        })
        .collect()
}

/// Resolves a device address: literals once, DNS names at start and every
/// [`RESOLVE_EVERY`], keeping the last good address when a lookup fails (a
/// DNS hiccup is not an outage of the device).
struct Resolver {
    name: String,
    literal: Option<IpAddr>,
    cached: Option<(IpAddr, Instant)>,
    failing: bool,
}

impl Resolver {
    fn new(name: String) -> Resolver {
        let literal = name.parse().ok();
        Resolver {
            name,
            literal,
            cached: None,
            failing: false,
        }
    }

    async fn address(&mut self) -> Option<IpAddr> {
        if let Some(addr) = self.literal {
            return Some(addr);
        }
        if let Some((addr, at)) = self.cached {
            if at.elapsed() < RESOLVE_EVERY {
                return Some(addr);
            }
        }
        match tokio::net::lookup_host((self.name.as_str(), 0)).await {
            Ok(mut addrs) => {
                if let Some(sa) = addrs.next() {
                    if self.failing {
                        tracing::info!(host = %self.name, address = %sa.ip(), "name resolves again");
                    }
                    self.failing = false;
                    self.cached = Some((sa.ip(), Instant::now()));
                    return Some(sa.ip());
                }
            }
            Err(err) => {
                if !self.failing {
                    tracing::warn!(host = %self.name, error = %err, "cannot resolve device address");
                }
            }
        }
        self.failing = true;
        self.cached.map(|(addr, _)| addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_cache_gives_back_the_lookup_varbinds_it_kept() {
        let oid = |s: &str| Oid(s.split('.').map(|a| a.parse().unwrap()).collect());
        let vb = |o: &str, value: Value| Varbind { oid: oid(o), value };
        let lookups = vec![
            Request::Walk(oid("1.3.6.1.2.1.31.1.1.1.1")),
            Request::Walk(oid("1.3.6.1.4.1.99.2")),
            Request::Get(vec![oid("1.3.6.1.4.1.99.7.0"), oid("1.3.6.1.4.1.99.8.0")]),
        ];
        let kept = vec![
            vb(
                "1.3.6.1.2.1.31.1.1.1.1.1",
                Value::OctetString(b"lo".to_vec()),
            ),
            vb(
                "1.3.6.1.2.1.31.1.1.1.1.4294967295",
                Value::OctetString(Vec::new()),
            ),
            vb("1.3.6.1.4.1.99.2.1.3.118.114.102", Value::Integer(i64::MIN)),
            vb("1.3.6.1.4.1.99.2.1.1", Value::Integer(-1)),
            vb("1.3.6.1.4.1.99.2.1.2", Value::Integer(i64::MAX)),
            vb(
                "1.3.6.1.4.1.99.2.2",
                Value::ObjectId(oid("1.3.6.1.4.1.9.1.2")),
            ),
            vb("1.3.6.1.4.1.99.2.3", Value::IpAddress([10, 0, 255, 1])),
            vb("1.3.6.1.4.1.99.2.4", Value::Counter32(u32::MAX)),
            vb("1.3.6.1.4.1.99.2.5", Value::Gauge32(7)),
            vb("1.3.6.1.4.1.99.2.6", Value::TimeTicks(123_456)),
            vb("1.3.6.1.4.1.99.2.7", Value::Opaque(vec![0, 0x9f, 0x78])),
            vb("1.3.6.1.4.1.99.2.8", Value::Counter64(u64::MAX)),
            vb("1.3.6.1.4.1.99.2.9", Value::Null),
            vb("1.3.6.1.4.1.99.7.0", Value::NoSuchObject),
            vb("1.3.6.1.4.1.99.8.0", Value::NoSuchInstance),
            vb("1.3.6.1.4.1.99.2.10", Value::EndOfMibView),
        ];
        // Values of the same poll, not lookups: not kept.
        let mut polled = vec![
            vb("1.3.6.1.2.1.1.3.0", Value::TimeTicks(5)),
            vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(1)),
        ];
        polled.extend(kept.iter().cloned());
        polled.push(vb("1.3.6.1.4.1.99.3.1", Value::Integer(2)));
        let cache = LookupCache::keep(&polled, &lookups, Some(5));
        let mut out = vec![vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(2))];
        cache.restore(&lookups, &mut out);
        assert_eq!(out[0], vb("1.3.6.1.2.1.2.2.1.8.1", Value::Integer(2)));
        assert_eq!(out[1..], kept[..]);
        assert!(cache.packed.len() < 200, "{} bytes", cache.packed.len());

        let empty = LookupCache::keep(&[], &lookups, None);
        let mut out = Vec::new();
        empty.restore(&lookups, &mut out);
        assert!(out.is_empty());
    }

    fn settings(interval: u64, timeout: u64, count: u32) -> IcmpSettings {
        IcmpSettings {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
            count,
            down_after: 3,
            up_after: 2,
            degraded_loss: 0.5,
        }
    }

    #[test]
    fn a_round_always_ends_before_the_next_starts() {
        for (interval, timeout, count) in [
            (10_000, 1_000, 3),
            (1_000, 300, 3),
            (1_000, 900, 10),
            (2_000, 1_999, 1),
        ] {
            let s = settings(interval, timeout, count);
            let spacing = echo_spacing(&s);
            let last_reply_deadline = spacing * (count - 1) + s.timeout;
            assert!(
                last_reply_deadline <= s.interval,
                "{interval} {timeout} {count}: {last_reply_deadline:?}"
            );
        }
        assert_eq!(
            echo_spacing(&settings(10_000, 1_000, 3)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn phases_are_stable_and_inside_the_interval() {
        let interval = Duration::from_secs(10);
        assert_eq!(phase("core-r1", interval), phase("core-r1", interval));
        for i in 0..1000 {
            assert!(phase(&format!("acc-{i}"), interval) < interval);
        }
    }

    // ---- DNS names: a test inside a private network and mount namespace ----

    /// Marks the inner run and carries the host's network namespace, which
    /// the inner test must not be in.
    const RESOLVER_INNER_ENV: &str = "NETKPI_RESOLVER_TEST_OUTER_NETNS";
    /// The hosts file the outer test bind-mounts over /etc/hosts.
    const RESOLVER_HOSTS_ENV: &str = "NETKPI_RESOLVER_TEST_HOSTS";
    const TEST_NAME: &str = "netkpi-dns-check.test";

    fn netns() -> String {
        std::fs::read_link("/proc/self/ns/net")
            .expect("/proc/self/ns/net")
            .to_string_lossy()
            .into_owned()
    }

    /// README: a DNS name is "looked up at start and every 5 min; the last
    /// good address is kept while lookups fail". The lookups are real
    /// (`getaddrinfo`), answered from a hosts file this test rewrites, in a
    /// network namespace with no route anywhere, so a name missing from the
    /// file fails at once and no query leaves the machine.
    #[test]
    fn a_dns_name_keeps_its_last_good_address_while_lookups_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "").expect("hosts file");
        let inner = format!(
            "{}::a_dns_name_inner",
            module_path!()
                .split_once("::")
                .map_or(module_path!(), |(_, m)| m)
        );
        let out = std::process::Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "sh",
                "-ec",
                r#"mount --bind "$NETKPI_RESOLVER_TEST_HOSTS" /etc/hosts; exec "$@""#,
                "sh",
            ])
            .arg(std::env::current_exe().expect("test binary path"))
            .args([
                "--exact",
                &inner,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(RESOLVER_INNER_ENV, netns())
            .env(RESOLVER_HOSTS_ENV, &hosts)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("unshare (util-linux) is required; the test needs root");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("test result: ok. 1 passed"),
            "{inner} failed or did not run in its namespace:\n{stdout}\n{stderr}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    #[ignore = "runs inside the namespace made by a_dns_name_keeps_its_last_good_address_while_lookups_fail"]
    async fn a_dns_name_inner() {
        let host = std::env::var(RESOLVER_INNER_ENV)
            .expect("inner test: run it through its outer test, which makes its namespaces");
        assert_ne!(netns(), host, "not in a private network namespace");
        let hosts = std::env::var(RESOLVER_HOSTS_ENV).expect("hosts file");
        // Written in place: /etc/hosts is a bind mount of this very file.
        let set_hosts = |text: &str| std::fs::write(&hosts, text).expect("rewrite hosts file");
        let resolves_now = || {
            std::net::ToSocketAddrs::to_socket_addrs(&(TEST_NAME, 0))
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
        };
        let aged = |r: &mut Resolver| {
            let (addr, _) = r.cached.expect("a cached address");
            let past = Instant::now()
                .checked_sub(RESOLVE_EVERY + Duration::from_secs(1))
                .expect("the clock goes back 5 min");
            r.cached = Some((addr, past));
        };
        let a: IpAddr = "127.0.0.7".parse().unwrap();
        let b: IpAddr = "127.0.0.8".parse().unwrap();
        let c: IpAddr = "127.0.0.9".parse().unwrap();

        // A name that never resolved has no address.
        assert_eq!(resolves_now(), None);
        let mut never = Resolver::new(TEST_NAME.to_string());
        assert_eq!(never.address().await, None);
        assert!(never.failing);

        set_hosts(&format!("{a} {TEST_NAME}\n"));
        assert_eq!(resolves_now(), Some(a), "the bind mount is in force");
        let mut r = Resolver::new(TEST_NAME.to_string());
        assert_eq!(r.address().await, Some(a));

        // Within 5 minutes the name is not looked up again.
        set_hosts(&format!("{b} {TEST_NAME}\n"));
        assert_eq!(resolves_now(), Some(b));
        assert_eq!(r.address().await, Some(a));

        // 5 minutes later the lookup fails (gone from the file, no DNS
        // server reachable): the last good address stays.
        set_hosts("");
        assert_eq!(resolves_now(), None);
        aged(&mut r);
        assert_eq!(r.address().await, Some(a));
        assert!(r.failing);
        assert_eq!(r.address().await, Some(a), "still failing, still kept");

        // The name resolves again, to a new address: taken at once.
        set_hosts(&format!("{c} {TEST_NAME}\n"));
        assert_eq!(r.address().await, Some(c));
        assert!(!r.failing);
        // And kept for the next 5 minutes.
        set_hosts(&format!("{a} {TEST_NAME}\n"));
        assert_eq!(r.address().await, Some(c));
        aged(&mut r);
        assert_eq!(r.address().await, Some(a));
    }
}
