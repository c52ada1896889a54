//! One task per probed device: rounds on a fixed period, started at a stable
//! per-device offset so thousands of targets never burst at once.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use std::net::SocketAddr;

use tokio::sync::Notify;

use crate::config::{Device, IcmpSettings, SnmpSettings};
use crate::ledger::SnmpOutcome;
use crate::ledger::{Input, Observation, Outcome};
use crate::live::SnmpStatus;
use crate::live::{Live, ProbeStatus};
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
        tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = self.run() => {}
            }
        });
    }

    async fn run(self) {
        let interval = self.settings.interval;
        let spacing = echo_spacing(&self.settings);
        let start = Instant::now() + phase(&self.device.name, interval);
        let mut ticks = tokio::time::interval_at(start, interval);
        // A stalled runtime must not fire a burst of catch-up rounds.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
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
        tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = self.run() => {}
            }
        });
    }

    async fn run(self) {
        let interval = self.settings.interval;
        let start = Instant::now() + phase(&self.device.name, interval);
        let mut ticks = tokio::time::interval_at(start, interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
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
                            varbinds.extend(cache.varbinds.iter().cloned());
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

/// The lookup answers of a device's last full poll.
struct LookupCache {
    varbinds: Vec<Varbind>,
    /// Polls made since they were read.
    polls: u32,
    /// sysUpTime at the last poll, in hundredths of a second.
    uptime: Option<u32>,
}

impl LookupCache {
    fn keep(varbinds: &[Varbind], lookups: &[Request], uptime: Option<u32>) -> LookupCache {
        let wanted = |oid: &Oid| {
            lookups.iter().any(|r| match r {
                Request::Walk(root) => oid.starts_with(root),
                Request::Get(oids) => oids.contains(oid),
            })
        };
        LookupCache {
            varbinds: varbinds
                .iter()
                .filter(|v| wanted(&v.oid))
                .cloned()
                .collect(),
            polls: 0,
            uptime,
        }
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
}
