//! One task per prober of each device (SNMP polls): one loop for every
//! prober, on a fixed period started at a stable per-device offset so
//! thousands of targets never burst at once. The loop times each round,
//! counts it, publishes what it read ([`Sink::publish`]) and sends the
//! observation to the ledger; a prober only says how to take one round
//! ([`Probe`]). ICMP rounds, thousands of tiny ones, are taken by one
//! engine task for all targets (`probes::icmp`), on the same phases, and
//! published through the same [`Sink`].

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, Notify};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::future::FutureExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ledger::Input;
use crate::live::{Live, RoundStatus};
use crate::metrics::Metrics;
use crate::probes::{Observation, Probe, Prober, Taken};

/// A device's prober schedule: ticks every `interval`, first at the device's
/// stable [`phase`], so thousands of devices spread evenly and never burst.
fn schedule(device: &str, interval: Duration) -> tokio::time::Interval {
    let start = Instant::now() + phase(device, interval);
    let mut ticks = tokio::time::interval_at(start, interval);
    // A stalled runtime must not fire a burst of catch-up rounds.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

/// A stable offset in `[0, interval)` from the device name: the same device
/// starts at the same phase after every restart, and devices spread evenly.
pub fn phase(name: &str, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    let millis = interval.as_millis().max(1) as u64;
    Duration::from_millis(hasher.finish() % millis)
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
        tasks.spawn(task.until_cancelled(cancel));
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
    /// The task as spawned: [`ProbeTask::run`] until `cancel` (shutdown, or
    /// a reload replacing its generation) or until it ends by itself. The
    /// task is held once, in place: moving it into `run`, or the future
    /// into another that selects on `cancel`, would keep it twice.
    fn until_cancelled(
        mut self,
        cancel: CancellationToken,
    ) -> impl std::future::Future<Output = Option<()>> + Send + 'static {
        async move { self.run().await }.with_cancellation_token_owned(cancel)
    }

    /// The task's whole life. While it waits for its next round (nearly
    /// always) it holds only the task, its schedule and the wait; a round
    /// (a walk, several KB of state) and the pause after a triggered one
    /// are boxed, so they exist only while they run, not in each of
    /// thousands of idle tasks.
    async fn run(&mut self) {
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
            if !Box::pin(self.round()).await {
                return; // the ledger has stopped: we are shutting down
            }
            // Only a triggered round waits before the next trigger may act;
            // scheduled rounds keep their phase.
            if triggered {
                Box::pin(tokio::time::sleep(MIN_TRIGGERED_GAP)).await;
            }
        }
    }

    /// One round, published and sent; false once the ledger has stopped.
    async fn round(&mut self) -> bool {
        let at = Timestamp::now();
        let started = Instant::now();
        let taken = self.probe.take().await;
        let obs = self.sink.publish(P::PROBER, at, started.elapsed(), taken);
        self.sink.observations.send(obs).await.is_ok()
    }
}

impl Sink {
    /// Counts a finished round, publishes what it read in the live view and
    /// returns the ledger's input for it: the one path every prober's rounds
    /// take (the per-device tasks above, and the ICMP engine, which takes
    /// every ICMP round in one task). `at` is when the round was due.
    pub fn publish(
        &self,
        prober: Prober,
        at: Timestamp,
        duration: Duration,
        taken: Taken,
    ) -> Input {
        let duration = duration.as_secs_f64();
        self.metrics
            .observe_poll(prober.as_str(), duration, taken.failure);
        if taken.readings.rebooted {
            tracing::info!(device = %self.device, prober = prober.as_str(), "device rebooted (its uptime went back)");
            self.metrics.count_reboot(&self.device);
        }
        let samples = (prober == Prober::Snmp).then(|| taken.readings.samples.clone());
        self.live.record_round(
            &self.device,
            prober,
            RoundStatus {
                at: Some(at),
                duration_seconds: Some(duration),
                failure: taken.failure,
                readings: taken.readings,
            },
        );
        Input::Observation(Observation {
            generation: self.generation,
            device: self.index,
            at,
            prober,
            round: taken.round,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::snmp::poller::fake::{poller, FakeAgent};
    use crate::state::RoundClass;
    use crate::tally::Tallies;

    #[tokio::test]
    async fn a_triggered_round_is_taken_at_once_published_and_sent() {
        let agent = FakeAgent::new();
        let (probe, inventory) = poller(&agent);
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
        let samples = obs
            .samples
            .as_ref()
            .expect("an SNMP round carries its samples");
        let status = live.round("sw1", Prober::Snmp);
        assert_eq!(status.at, Some(obs.at), "published before it was sent");
        assert!(!status.readings.samples.is_empty());
        assert!(
            samples.ptr_eq(&status.readings.samples),
            "the ledger gets the same samples the live view shows"
        );
        cancel.cancel();
        tasks.close();
        tasks.wait().await;
    }

    #[tokio::test]
    async fn an_idle_prober_task_holds_little_beyond_its_own_state() {
        let agent = FakeAgent::new();
        let (probe, inventory) = poller(&agent);
        let (tx, _rx) = mpsc::channel(4);
        let mut task = ProbeTask {
            sink: Sink {
                generation: 0,
                index: 0,
                device: "sw1".into(),
                observations: tx,
                live: Arc::new(Live::new(inventory, &[], &Tallies::new())),
                metrics: Arc::new(Metrics::new()),
            },
            interval: Duration::from_secs(60),
            trigger: Some(Arc::new(Notify::new())),
            probe,
        };
        let own = std::mem::size_of_val(&task);
        let round = std::mem::size_of_val(&task.probe.take());
        let spawned = std::mem::size_of_val(&task.until_cancelled(CancellationToken::new()));
        // The schedule, the wait for a tick or a trigger, the cancellation:
        // about 250 bytes. A round (its walk) is boxed; the task was
        // 2.8 KB when it held the task twice and the round inline.
        assert!(
            spawned < own + 320,
            "task {own} B, spawned future {spawned} B, round {round} B"
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
