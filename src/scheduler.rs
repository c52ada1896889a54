//! One task per prober of each device (ICMP rounds, SNMP polls): one loop
//! for every prober, on a fixed period started at a stable per-device
//! offset so thousands of targets never burst at once. The loop times each
//! round, counts it, publishes what it read and sends the observation to
//! the ledger; a prober only says how to take one round ([`Probe`]).

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, Notify};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::IcmpSettings;
use crate::ledger::Input;
use crate::live::{Live, ProbeStatus, SnmpStatus};
use crate::metrics::Metrics;
use crate::probes::icmp::{IcmpPinger, IcmpRound};
use crate::probes::resolve::Resolver;
use crate::probes::snmp::client::SnmpClient;
use crate::probes::snmp::poller::{Polled, SnmpPoller};
use crate::probes::FailureKind;
use crate::probes::{Observation, Prober, Round};

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

/// What differs between probers: how one round is taken, and where what it
/// read is published. Timing, counting and sending live once, in
/// [`ProbeTask`].
pub trait Probe: Send + 'static {
    const PROBER: Prober;
    /// What a round read besides its verdict (RTT and loss, samples).
    type Reading: Send;

    /// Takes one round: the verdict as the ledger weighs it, the failure
    /// reason for `netkpi_poll_errors_total` (a stable snake_case word), and
    /// what it read.
    fn take(&mut self)
        -> impl Future<Output = (Round, Option<&'static str>, Self::Reading)> + Send;

    /// Publishes what the round read, for metrics and the API.
    fn publish(
        &self,
        live: &Live,
        metrics: &Metrics,
        at: Timestamp,
        duration: f64,
        reading: Self::Reading,
    );
}

/// After a triggered round, at most one more is taken this soon, so a trap
/// storm cannot turn into a poll storm.
const MIN_TRIGGERED_GAP: Duration = Duration::from_secs(1);

/// Where a device's rounds go, whichever prober takes them.
#[derive(Clone)]
pub struct Sink {
    /// The config generation the device's tasks probe for.
    pub generation: u64,
    /// The device's index in that generation's inventory.
    pub index: usize,
    pub device: String,
    pub observations: mpsc::Sender<Input>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
}

impl Sink {
    /// Starts `probe` as one task, a round every `interval` (and whenever
    /// `trigger` is notified), until `cancel`.
    pub fn spawn<P: Probe>(
        self,
        probe: P,
        interval: Duration,
        trigger: Option<Arc<Notify>>,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) {
        let task = ProbeTask {
            sink: self,
            interval,
            trigger,
            probe,
        };
        spawn_until_cancelled(tasks, cancel, task.run());
    }
}

/// One prober of one device, as one task.
struct ProbeTask<P> {
    sink: Sink,
    interval: Duration,
    /// Notified to take a round now instead of at the next tick (the trap
    /// receiver does it for SNMP: a linkDown shows faster than polling, but
    /// only a poll confirms it).
    trigger: Option<Arc<Notify>>,
    probe: P,
}

impl<P: Probe> ProbeTask<P> {
    async fn run(mut self) {
        let mut ticks = schedule(&self.sink.device, self.interval);
        let trigger = self.trigger.clone();
        loop {
            let triggered = match &trigger {
                Some(now) => tokio::select! {
                    _ = ticks.tick() => false,
                    _ = now.notified() => {
                        tracing::debug!(device = %self.sink.device, prober = P::PROBER.as_str(), "triggered: taking a round now");
                        true
                    }
                },
                None => {
                    ticks.tick().await;
                    false
                }
            };
            if !self.round().await {
                return; // the ledger has stopped: we are shutting down
            }
            // Only a triggered round waits before the next trigger may act;
            // scheduled rounds keep their phase.
            if triggered {
                tokio::time::sleep(MIN_TRIGGERED_GAP).await;
            }
        }
    }

    /// One round, published and sent; false once the ledger has stopped.
    async fn round(&mut self) -> bool {
        let at = Timestamp::now();
        let started = Instant::now();
        // Boxed: a round's state (a walk, several KB) exists only while it
        // runs, not in each of thousands of idle tasks.
        let (round, failure, reading) = Box::pin(self.probe.take()).await;
        let duration = started.elapsed().as_secs_f64();
        let sink = &self.sink;
        sink.metrics
            .observe_poll(P::PROBER.as_str(), duration, failure);
        self.probe
            .publish(&sink.live, &sink.metrics, at, duration, reading);
        let obs = Input::Observation(Observation {
            generation: sink.generation,
            device: sink.index,
            at,
            prober: P::PROBER,
            round,
        });
        sink.observations.send(obs).await.is_ok()
    }
}

/// ICMP: a round of echoes from the shared socket.
pub struct IcmpProbe {
    pub device: String,
    pub settings: IcmpSettings,
    pub pinger: Arc<IcmpPinger>,
    pub resolver: Resolver,
}

impl Probe for IcmpProbe {
    const PROBER: Prober = Prober::Icmp;
    type Reading = IcmpRound;

    async fn take(&mut self) -> (Round, Option<&'static str>, IcmpRound) {
        let round = match self.resolver.address().await {
            Some(addr) => {
                let spacing = echo_spacing(&self.settings);
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
        let verdict = round.classify(self.settings.degraded_loss);
        (verdict, round.failure.map(|f| f.as_str()), round)
    }

    fn publish(&self, live: &Live, _: &Metrics, at: Timestamp, duration: f64, round: IcmpRound) {
        live.record_probe(
            &self.device,
            ProbeStatus {
                at: Some(at),
                duration_seconds: Some(duration),
                rtt_seconds: round.rtt_avg.map(|d| d.as_secs_f64()),
                loss_ratio: (round.sent > 0).then(|| round.loss_ratio()),
                failure: round.failure.map(|f| f.as_str()),
            },
        );
    }
}

/// SNMP: one poll of the device's profiles.
pub struct SnmpProbe<C> {
    pub device: String,
    pub poller: SnmpPoller<C>,
}

impl<C: SnmpClient> Probe for SnmpProbe<C> {
    const PROBER: Prober = Prober::Snmp;
    type Reading = Polled;

    async fn take(&mut self) -> (Round, Option<&'static str>, Polled) {
        let polled = self.poller.poll().await;
        let verdict = crate::probes::snmp::classify(polled.failure, polled.interfaces());
        (verdict, polled.failure.map(|f| f.as_str()), polled)
    }

    fn publish(
        &self,
        live: &Live,
        metrics: &Metrics,
        at: Timestamp,
        duration: f64,
        polled: Polled,
    ) {
        if polled.rebooted {
            metrics.count_reboot(&self.device);
        }
        live.record_snmp(
            &self.device,
            SnmpStatus {
                at: Some(at),
                duration_seconds: Some(duration),
                failure: polled.failure.map(|f| f.as_str()),
                samples: polled.samples.into(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Mutex;

    use crate::inventory::Inventory;
    use crate::probes::snmp::client::{Agent, Request, SnmpError};
    use crate::probes::snmp::poller::SnmpPlan;
    use crate::probes::snmp::{SnmpFailure, Value, Varbind};
    use crate::state::RoundClass;
    use crate::tally::Tallies;

    /// An SNMP agent answering from a real device's recording (a Cisco
    /// Catalyst 3560), whose silence and sysUpTime a test controls.
    struct FakeAgent {
        recording: Mutex<Vec<Varbind>>,
        silent: AtomicBool,
        polls: AtomicU32,
    }

    impl FakeAgent {
        fn new() -> Arc<FakeAgent> {
            let text = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/snmprec/cisco-c3560.snmprec"
            ))
            .expect("the recording");
            let recording = crate::probes::snmp::snmprec::parse(&text).expect("a valid recording");
            Arc::new(FakeAgent {
                recording: Mutex::new(recording),
                silent: AtomicBool::new(false),
                polls: AtomicU32::new(0),
            })
        }

        fn set_uptime(&self, ticks: u32) {
            let mut rec = self.recording.lock().unwrap();
            for vb in rec.iter_mut() {
                if vb.oid.arcs() == crate::loader::SYS_UPTIME {
                    vb.value = Value::TimeTicks(ticks);
                }
            }
        }
    }

    impl SnmpClient for FakeAgent {
        async fn poll(&self, _: &Agent, requests: &[Request]) -> Result<Vec<Varbind>, SnmpError> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            if self.silent.load(Ordering::Relaxed) {
                return Err(SnmpError {
                    kind: SnmpFailure::Timeout,
                    detail: "no answer".into(),
                });
            }
            let rec = self.recording.lock().unwrap();
            Ok(crate::probes::snmp::profile::golden::answer(&rec, requests))
        }
    }

    const CONFIG: &str = r#"
[[device]]
name = "sw1"
role = "core_switch"
address = "127.0.0.1"
snmp = { interval = "1h", profiles = ["if_mib"] }
"#;

    fn snmp_probe(agent: &Arc<FakeAgent>) -> (SnmpProbe<FakeAgent>, Arc<Inventory>) {
        let config = crate::config::load_str(std::path::Path::new("t.toml"), CONFIG).unwrap();
        let inventory = Arc::new(Inventory::new(&config));
        let device = &inventory.devices[0];
        let settings = device.snmp.clone().unwrap();
        let profiles = crate::probes::snmp::profile::builtin()
            .into_iter()
            .filter(|p| p.name == "if_mib")
            .map(Arc::new)
            .collect();
        let poller = SnmpPoller::new(
            device.name.clone(),
            device.address.clone(),
            settings,
            Arc::new(SnmpPlan::new(profiles)),
            agent.clone(),
        );
        let probe = SnmpProbe {
            device: device.name.clone(),
            poller,
        };
        (probe, inventory)
    }

    #[tokio::test]
    async fn an_snmp_round_classifies_itself_and_reads_the_interfaces() {
        let agent = FakeAgent::new();
        let (mut probe, _) = snmp_probe(&agent);
        let (round, failure, polled) = probe.take().await;
        assert_eq!(
            (round.class, round.cause.as_deref(), failure),
            (RoundClass::Good, None, None)
        );
        let interfaces = round.interfaces.expect("if_mib read the interfaces");
        // As recorded: ifName.1 "Vl1" with ifOperStatus.1 down(2), ifName.2
        // "Vl2" with ifOperStatus.2 up(1).
        assert!(
            interfaces.contains(&("Vl1".to_string(), false)),
            "{interfaces:?}"
        );
        assert!(
            interfaces.contains(&("Vl2".to_string(), true)),
            "{interfaces:?}"
        );
        assert_eq!(interfaces.len(), polled.interfaces().len());
        assert!(!polled.samples.is_empty());

        agent.silent.store(true, Ordering::Relaxed);
        let (round, failure, polled) = probe.take().await;
        assert_eq!(
            (round.class, round.cause.as_deref(), failure),
            (RoundClass::Failed, Some("snmp:timeout"), Some("timeout"))
        );
        assert_eq!(
            round.interfaces, None,
            "a failed poll says nothing of the interfaces"
        );
        assert!(polled.samples.is_empty());
    }

    #[tokio::test]
    async fn a_reboot_rereads_the_lookups_at_once() {
        let agent = FakeAgent::new();
        let (mut probe, _) = snmp_probe(&agent);
        agent.set_uptime(500_000);
        let (_, _, first) = probe.take().await;
        let (_, _, second) = probe.take().await;
        assert!(!first.rebooted && !second.rebooted);
        assert_eq!(
            agent.polls.load(Ordering::Relaxed),
            2,
            "one request set per poll"
        );
        let names = |p: &Polled| p.interfaces();
        assert_eq!(
            names(&first),
            names(&second),
            "lookups restored from the cache"
        );
        agent.set_uptime(100);
        let (_, _, third) = probe.take().await;
        assert!(third.rebooted);
        assert_eq!(
            agent.polls.load(Ordering::Relaxed),
            4,
            "the lookups read again after the reboot"
        );
        assert_eq!(names(&third), names(&first));
    }

    #[tokio::test]
    async fn a_triggered_round_is_taken_at_once_published_and_sent() {
        let agent = FakeAgent::new();
        let (probe, inventory) = snmp_probe(&agent);
        let live = Arc::new(Live::new(inventory, &[], &Tallies::new()));
        let (tx, mut rx) = mpsc::channel(4);
        let sink = Sink {
            generation: 7,
            index: 0,
            device: "sw1".into(),
            observations: tx,
            live: live.clone(),
            metrics: Arc::new(Metrics::new()),
        };
        let trigger = Arc::new(Notify::new());
        let tasks = TaskTracker::new();
        let cancel = CancellationToken::new();
        // The schedule's first tick is somewhere in the next hour: only the
        // trigger can make this round.
        sink.spawn(
            probe,
            Duration::from_secs(3600),
            Some(trigger.clone()),
            &tasks,
            cancel.clone(),
        );
        trigger.notify_one();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a round within 5 s of the trigger")
            .expect("an observation");
        let Input::Observation(obs) = got else {
            panic!("not an observation: {got:?}");
        };
        assert_eq!(
            (obs.generation, obs.device, obs.prober),
            (7, 0, Prober::Snmp)
        );
        assert_eq!(obs.round.class, RoundClass::Good);
        let status = live.snmp("sw1");
        assert_eq!(status.at, Some(obs.at), "published before it was sent");
        assert!(!status.samples.is_empty());
        cancel.cancel();
        tasks.close();
        tasks.wait().await;
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
}
