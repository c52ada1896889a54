//! Every ICMP round of the daemon on one timeline: the targets, their
//! rounds in progress, a sorted schedule of slots of [`SLOT`], the pacing
//! budget of a slot, and the tables of echoes in flight. Pure: time is
//! passed in and packets are handed in and out, so the engine task
//! (`engine.rs`) does all the I/O and this is unit-tested with hand-built
//! inputs.
//!
//! Why one schedule and not a task per target: a task per target paid a
//! timer wakeup and a context switch per echo (measured: 1.1-1.6 per echo,
//! half the CPU in the kernel scheduler and `epoll_wait`). Here the echoes
//! due within a slot go out together in one `sendmmsg`, replies are matched
//! in batches, and a round reaches the ledger once, when it is complete.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::packet::{self, DecodeError, Family, Message};
use super::table::{EchoTable, Match, Owner};
use super::{EchoOutcome, IcmpRound, IcmpStats};

/// Width of a slot: echoes due within one slot go out together. A few
/// milliseconds: coarse enough that thousands of targets cost at most 100
/// wakeups per second, fine enough that an echo leaves within 10 ms of its
/// time (RTTs are measured from the actual send, not from the slot).
pub(super) const SLOT: Duration = Duration::from_millis(10);

/// A slot holds at most this many times the echoes the targets' intervals
/// spread into it on average (at least one). Phases come from a hash of the
/// device name, so some slots get more than the average; twice the average
/// is rarely exceeded, and an echo over the budget waits for the next slot
/// rather than joining a burst.
const PACING_HEADROOM: f64 = 2.0;

/// A wake of the engine should find at least this many echoes due on
/// average: when the targets' intervals spread fewer into a slot, the
/// engine wakes every few slots ([`Core::stride`], at most
/// [`MAX_STRIDE`]) and sends the echoes of those slots in one batch.
/// Each wake costs a context switch, a timer and an `epoll_wait`, and the
/// kernel handles a batch of echoes with warm caches; 2,000 targets at
/// 10 s (6 echoes a slot) wake 10 times a second rather than 100, each
/// echo at most 100 ms after its time; 10,000 (30 a slot) wake 33 times.
/// An echo's round-trip time is measured from when it actually left, and
/// a round is stamped then too, so waiting for the batch moves no figure.
const MIN_ECHOES_PER_WAKE: f64 = 64.0;

/// At most this many slots per wake (100 ms).
const MAX_STRIDE: u64 = 10;

/// Buckets of the timing wheel: 4,096 slots of 10 ms, about 41 s. An event
/// further ahead (a round of a longer interval) waits in its bucket and is
/// passed over until its turn comes round. A wheel and not a binary heap:
/// the process sleeps between slots and finds its caches cold, and a heap
/// of thousands of entries costs a cache miss per level on every push and
/// pop, where a bucket is read in order.
const WHEEL: usize = 4_096;

/// An entry of the wheel: target `target` is due in `slot`; entries whose
/// `token` is not the target's `armed` are stale and skipped.
#[derive(Clone, Copy, Debug)]
struct Wake {
    slot: u64,
    token: u64,
    target: usize,
}

/// Where a target's address comes from.
pub enum Address {
    Fixed(IpAddr),
    /// A DNS name, looked up by a task of its own (see [`Lookup`]).
    Looked(Arc<Lookup>),
}

/// A DNS name's address as its resolver task last found it: not looked up
/// yet, no address (the lookup failed and none was ever known), or one.
#[derive(Debug, Default)]
pub struct Lookup(Mutex<Option<Option<IpAddr>>>);

impl Lookup {
    pub fn set(&self, addr: Option<IpAddr>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
    }

    fn get(&self) -> Option<Option<IpAddr>> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How one target's rounds are taken.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub count: u32,
    /// Between the echoes of a round.
    pub spacing: Duration,
    pub timeout: Duration,
}

/// Who a round's result goes to.
enum Owner2<S> {
    /// A target of the configuration, a round every `interval`; results go
    /// out as [`Done`] with the target's index, to be published through `S`.
    Scheduled { interval: Duration, sink: S },
    /// A single round ([`super::IcmpPinger::round`]), answered once.
    Once(Option<oneshot::Sender<IcmpRound>>),
}

/// A round of the current schedule, finished.
#[derive(Debug)]
pub(super) struct Done {
    pub target: usize,
    /// When its first echo went out (or, when none could, when it was
    /// tried): the stamp the ledger gives it. Not the time it was due: an
    /// echo leaves up to a wake after that, and a round stamped before its
    /// first echo left could date an outage before the fault.
    pub started: Instant,
    pub finished: Instant,
    pub round: IcmpRound,
}

/// An echo to send now, as [`Core::run_due`] hands it out.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outgoing {
    pub family: Family,
    pub addr: IpAddr,
    pub seq: u16,
    pub owner: Owner,
    pub timeout: Duration,
}

struct Running {
    id: u32,
    addr: IpAddr,
    family: Family,
    /// When the round was due (its first echo's time).
    start: Instant,
    /// When its first echo was handed out: the later echoes keep their
    /// spacing from it, even when the budget held the first one back.
    first_out: Instant,
    /// Echoes handed out so far.
    sent: u32,
}

struct Target<S> {
    address: Address,
    plan: Plan,
    owner: Owner2<S>,
    /// When the next round is due.
    next_start: Instant,
    running: Option<Running>,
    /// Per echo of the running round; allocated once per target.
    outcomes: Vec<EchoOutcome>,
    deadlines: Vec<Instant>,
    /// The token of the target's one live entry in the schedule; entries
    /// with another token are stale and skipped.
    armed: u64,
}

impl<S> Target<S> {
    fn counts_in_budget(&self) -> bool {
        matches!(self.owner, Owner2::Scheduled { .. })
    }

    fn echo_due(&self, r: &Running, echo: u32) -> Instant {
        if echo == 0 {
            r.start
        } else {
            r.first_out + self.plan.spacing * echo
        }
    }

    /// All echoes handed out, and each answered, failed or past its
    /// deadline.
    fn complete(&self, now: Instant) -> bool {
        let Some(r) = &self.running else {
            return false;
        };
        r.sent == self.plan.count
            && self
                .outcomes
                .iter()
                .zip(&self.deadlines)
                .all(|(o, d)| *o != EchoOutcome::Pending || *d <= now)
    }
}

/// The schedule and everything in flight.
pub(super) struct Core<S> {
    epoch: Instant,
    ident: u16,
    /// Per family (v4, v6): the table of echoes in flight, if the family has
    /// a socket, and whether the socket is raw.
    tables: [Option<(EchoTable, bool)>; 2],
    stats: Arc<IcmpStats>,
    targets: Vec<Option<Target<S>>>,
    free: Vec<usize>,
    /// The timing wheel: bucket `slot % WHEEL` holds the targets to wake
    /// in `slot`, in arming order.
    wheel: Vec<Vec<Wake>>,
    /// The first slot not handled yet.
    next_slot: u64,
    /// Targets the budget held back, first in first out: they go before
    /// the next slot's own.
    deferred: VecDeque<Wake>,
    /// Reused while a bucket is handled.
    scratch: Vec<Wake>,
    keep: Vec<Wake>,
    next_token: u64,
    next_round: u32,
    /// Slots per wake: the engine wakes at the start of slots that are a
    /// multiple of it (see [`MIN_ECHOES_PER_WAKE`]).
    stride: u64,
    /// Echoes of scheduled targets a wake may hold (the slots of a stride
    /// together), and what is left of it in `budget_slot`.
    cap: u32,
    budget_slot: u64,
    budget_left: u32,
    done: Vec<Done>,
}

fn family_of(addr: IpAddr) -> Family {
    match addr {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

fn family_index(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl<S> Core<S> {
    /// `sockets`: per family (v4, v6), `Some((first sequence number, raw))`
    /// if the family has a socket.
    pub(super) fn new(
        epoch: Instant,
        ident: u16,
        sockets: [Option<(u16, bool)>; 2],
        stats: Arc<IcmpStats>,
    ) -> Self {
        Core {
            epoch,
            ident,
            tables: sockets.map(|s| s.map(|(seq, raw)| (EchoTable::new(seq, epoch), raw))),
            stats,
            targets: Vec::new(),
            free: Vec::new(),
            wheel: vec![Vec::new(); WHEEL],
            next_slot: 0,
            deferred: VecDeque::new(),
            scratch: Vec::new(),
            keep: Vec::new(),
            next_token: 0,
            next_round: 0,
            stride: 1,
            cap: 1,
            budget_slot: u64::MAX,
            budget_left: 0,
            done: Vec::new(),
        }
    }

    /// The slot in which an event at `at` is handled: the first slot that
    /// starts at or after it.
    fn slot_at_or_after(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.epoch).as_nanos();
        let w = SLOT.as_nanos();
        u64::try_from(d.div_ceil(w)).unwrap_or(u64::MAX)
    }

    /// The slot `now` is in.
    fn slot_of(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(d / SLOT.as_nanos()).unwrap_or(u64::MAX)
    }

    fn slot_start(&self, slot: u64) -> Instant {
        self.epoch + SLOT * u32::try_from(slot).unwrap_or(u32::MAX)
    }

    fn arm(&mut self, index: usize, at: Instant) {
        // A slot already handled is too late: the next one to be handled.
        let slot = self.slot_at_or_after(at).max(self.next_slot);
        let token = self.next_token;
        self.next_token += 1;
        if let Some(t) = self.targets[index].as_mut() {
            t.armed = token;
        }
        self.wheel[bucket(slot)].push(Wake {
            slot,
            token,
            target: index,
        });
    }

    fn is_armed(&self, w: &Wake) -> bool {
        self.targets
            .get(w.target)
            .and_then(Option::as_ref)
            .is_some_and(|t| t.armed == w.token)
    }

    fn insert(&mut self, target: Target<S>) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.targets[i] = Some(target);
                i
            }
            None => {
                self.targets.push(Some(target));
                self.targets.len() - 1
            }
        }
    }

    fn new_target(address: Address, plan: Plan, owner: Owner2<S>, start: Instant) -> Target<S> {
        let count = plan.count as usize;
        Target {
            address,
            plan,
            owner,
            next_start: start,
            running: None,
            outcomes: vec![EchoOutcome::Pending; count],
            deadlines: vec![start; count],
            armed: 0,
        }
    }

    /// Adds a single round to `addr`, due now; its result goes to `reply`.
    pub(super) fn add_once(
        &mut self,
        addr: IpAddr,
        plan: Plan,
        reply: oneshot::Sender<IcmpRound>,
        now: Instant,
    ) {
        let target = Self::new_target(
            Address::Fixed(addr.to_canonical()),
            plan,
            Owner2::Once(Some(reply)),
            now,
        );
        let i = self.insert(target);
        self.arm(i, now);
    }

    /// Replaces the scheduled targets (a new configuration): rounds of the
    /// old ones in progress are dropped, their replies count as late. Each
    /// new target's first round is due at `now + phase`, then every
    /// `interval`. The slot budget is set from the new targets' echo rate.
    pub(super) fn replace_scheduled(
        &mut self,
        targets: impl IntoIterator<Item = (Address, Plan, Duration, Duration, S)>,
        now: Instant,
    ) {
        self.clear_scheduled();
        // Grown once to the size needed, not by doubling: with 100,000
        // targets a doubling holds both the old table and one twice its need.
        let targets = targets.into_iter();
        let free = self.free.len();
        self.targets
            .reserve_exact(targets.size_hint().0.saturating_sub(free));
        let mut rate = 0.0; // echoes per second
        for (address, plan, interval, phase, sink) in targets {
            rate += f64::from(plan.count) / interval.as_secs_f64().max(1e-3);
            let target = Self::new_target(
                address,
                plan,
                Owner2::Scheduled { interval, sink },
                now + phase,
            );
            let i = self.insert(target);
            self.arm(i, now + phase);
        }
        self.stride = stride(rate);
        self.cap = slot_cap(rate, self.stride);
    }

    /// Drops every scheduled target (their generation was cancelled).
    pub(super) fn clear_scheduled(&mut self) {
        for (i, slot) in self.targets.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|t| t.counts_in_budget()) {
                *slot = None;
                self.free.push(i);
            }
        }
        self.done.clear();
    }

    /// Our echo identifier.
    pub(super) fn ident(&self) -> u16 {
        self.ident
    }

    /// Echoes of scheduled targets a wake may hold.
    pub(super) fn cap(&self) -> u32 {
        self.cap
    }

    /// Slots per wake.
    pub(super) fn stride(&self) -> u64 {
        self.stride
    }

    /// When the engine wakes next, if there is work: the start of the first
    /// slot on a [`Core::stride`] boundary at or after the next slot with
    /// work.
    pub(super) fn next_wake(&mut self) -> Option<Instant> {
        let slot = self.next_work()?;
        Some(self.slot_start(slot.div_ceil(self.stride).saturating_mul(self.stride)))
    }

    /// The next slot with work.
    fn next_work(&self) -> Option<u64> {
        if !self.deferred.is_empty() {
            return Some(self.budget_slot.saturating_add(1));
        }
        // At most one turn of the wheel; an entry further ahead is reached
        // by waking at the end of the turn.
        let mut any = false;
        for s in self.next_slot..self.next_slot + WHEEL as u64 {
            let entries = &self.wheel[bucket(s)];
            any |= !entries.is_empty();
            if entries.iter().any(|w| w.slot == s && self.is_armed(w)) {
                return Some(s);
            }
        }
        any.then_some(self.next_slot + WHEEL as u64)
    }

    /// The sink of a scheduled target (for a [`Done`]).
    pub(super) fn sink(&self, index: usize) -> Option<&S> {
        match &self.targets.get(index)?.as_ref()?.owner {
            Owner2::Scheduled { sink, .. } => Some(sink),
            Owner2::Once(_) => None,
        }
    }

    /// Rounds finished since the last call.
    pub(super) fn take_done(&mut self, into: &mut Vec<Done>) {
        into.append(&mut self.done);
    }

    /// Handles every target due up to `now`: starts rounds, hands out the
    /// echoes due (within the slot's budget) into `out`, and ends rounds
    /// whose last deadline has passed. Each echo in `out` must be reported
    /// back with [`Core::sent`] or [`Core::send_failed`].
    pub(super) fn run_due(&mut self, now: Instant, out: &mut Vec<Outgoing>) {
        let slot = self.slot_of(now);
        if slot != self.budget_slot {
            self.budget_slot = slot;
            self.budget_left = self.cap;
        }
        // Those the budget held back first, in the order they were due.
        while let Some(w) = self.deferred.pop_front() {
            if !self.is_armed(&w) {
                continue;
            }
            if self.wake(w.target, now, out).is_some() {
                self.deferred.push_front(w);
                break;
            }
        }
        while self.next_slot <= slot {
            let s = self.next_slot;
            // Waking a target may arm another event in this same slot (a
            // round that ends now and the next one due now): drain until
            // the bucket holds only later turns of the wheel.
            loop {
                let mut entries = std::mem::take(&mut self.scratch);
                std::mem::swap(&mut entries, &mut self.wheel[bucket(s)]);
                if entries.is_empty() {
                    self.scratch = entries;
                    break;
                }
                for w in entries.drain(..) {
                    if w.slot > s {
                        self.keep.push(w);
                    } else if !self.is_armed(&w) {
                        continue;
                    } else if self.wake(w.target, now, out).is_some() {
                        // Over the slot's budget: same token, and ahead of
                        // the targets due in the next slot.
                        self.deferred.push_back(w);
                    }
                }
                self.scratch = entries;
            }
            self.wheel[bucket(s)].append(&mut self.keep);
            self.next_slot += 1;
        }
    }

    /// One target's due work; returns a slot to wait for when the budget
    /// stopped it, else re-arms it itself.
    fn wake(&mut self, i: usize, now: Instant, out: &mut Vec<Outgoing>) -> Option<u64> {
        let t = self.targets[i].as_mut()?;
        if t.running.is_none() {
            if now < t.next_start {
                let at = t.next_start;
                self.arm(i, at);
                return None;
            }
            let start = t.next_start;
            let addr = match &t.address {
                Address::Fixed(addr) => Some(*addr),
                Address::Looked(lookup) => match lookup.get() {
                    // The first lookup is still running: wait for it
                    // rather than fail the round.
                    None => {
                        self.arm(i, now + SLOT);
                        return None;
                    }
                    Some(addr) => addr.map(|a| a.to_canonical()),
                },
            };
            let Some(addr) = addr else {
                self.finish(i, start, now, now, Some(IcmpRound::resolve_failed()));
                return None;
            };
            let family = family_of(addr);
            let id = self.next_round;
            self.next_round = self.next_round.wrapping_add(1);
            let t = self.targets[i].as_mut()?;
            t.outcomes.fill(EchoOutcome::Pending);
            t.running = Some(Running {
                id,
                addr,
                family,
                start,
                first_out: start,
                sent: 0,
            });
            if self.tables[family_index(family)].is_none() {
                // No socket for this family: each echo counts as a failed send.
                let t = self.targets[i].as_mut()?;
                let count = t.plan.count;
                t.outcomes.fill(EchoOutcome::SendFailed);
                if let Some(r) = t.running.as_mut() {
                    r.sent = count;
                }
                IcmpStats::add(&self.stats.send_errors, u64::from(count));
                self.finish(i, start, now, now, None);
                return None;
            }
        }
        // Hand out the echoes that are due.
        loop {
            let t = self.targets[i].as_mut()?;
            let r = t.running.as_ref()?;
            if r.sent >= t.plan.count || t.echo_due(r, r.sent) > now {
                break;
            }
            let budgeted = t.counts_in_budget();
            if budgeted && self.budget_left == 0 {
                return Some(self.budget_slot + 1);
            }
            let (family, addr, id, echo) = (r.family, r.addr, r.id, r.sent);
            let timeout = t.plan.timeout;
            let Some((table, _)) = self.tables[family_index(family)].as_mut() else {
                break;
            };
            let seq = table.allocate(now);
            let t = self.targets[i].as_mut()?;
            if let Some(r) = t.running.as_mut() {
                if r.sent == 0 {
                    r.first_out = now;
                }
                r.sent += 1;
            }
            let e = echo as usize;
            t.deadlines[e] = now + timeout;
            match seq {
                Some(seq) => {
                    if budgeted {
                        self.budget_left -= 1;
                    }
                    out.push(Outgoing {
                        family,
                        addr,
                        seq,
                        owner: Owner {
                            target: u32::try_from(i).unwrap_or(u32::MAX),
                            round: id,
                            echo,
                        },
                        timeout,
                    });
                }
                None => {
                    // Every sequence number is waiting: cannot send.
                    t.outcomes[e] = EchoOutcome::SendFailed;
                    IcmpStats::bump(&self.stats.send_errors);
                }
            }
        }
        self.settle(i, now);
        None
    }

    /// After a target's round changed: ends it if complete, else arms the
    /// target for its next echo or its last deadline.
    fn settle(&mut self, i: usize, now: Instant) {
        let Some(t) = self.targets[i].as_ref() else {
            return;
        };
        let Some(r) = &t.running else {
            return;
        };
        if t.complete(now) {
            let (start, first_out) = (r.start, r.first_out);
            self.finish(i, start, first_out, now, None);
            return;
        }
        let at = if r.sent < t.plan.count {
            t.echo_due(r, r.sent)
        } else {
            // Deadlines rise with the send order: the last is the latest.
            t.deadlines.last().copied().unwrap_or(now)
        };
        self.arm(i, at);
    }

    /// Ends target `i`'s round (`round` given, or summarised from its
    /// outcomes), delivers it stamped `started` and arms the next an
    /// interval after `start`, when it was due.
    fn finish(
        &mut self,
        i: usize,
        start: Instant,
        started: Instant,
        now: Instant,
        round: Option<IcmpRound>,
    ) {
        let Some(t) = self.targets[i].as_mut() else {
            return;
        };
        let stats = &self.stats;
        let round = round.unwrap_or_else(|| {
            for o in &mut t.outcomes {
                if *o == EchoOutcome::Pending {
                    *o = EchoOutcome::TimedOut;
                    IcmpStats::bump(&stats.echoes_timed_out);
                }
            }
            IcmpRound::from_outcomes(&t.outcomes)
        });
        t.running = None;
        let next = match &mut t.owner {
            Owner2::Once(reply) => {
                if let Some(reply) = reply.take() {
                    // The caller may have stopped waiting; nothing to do then.
                    let _ = reply.send(round);
                }
                None
            }
            Owner2::Scheduled { interval, .. } => {
                // A stalled process does not catch up with a burst: the next
                // round is an interval after this one was due, or now.
                let next = (start + *interval).max(now);
                t.next_start = next;
                self.done.push(Done {
                    target: i,
                    started,
                    finished: now,
                    round,
                });
                Some(next)
            }
        };
        match next {
            Some(next) => self.arm(i, next),
            None => {
                self.targets[i] = None;
                self.free.push(i);
            }
        }
    }

    /// The kernel took echo `o` at `at`.
    pub(super) fn sent(&mut self, o: &Outgoing, at: Instant) {
        IcmpStats::bump(&self.stats.echoes_sent);
        let i = o.owner.target as usize;
        if self.is_running(o.owner) {
            if let Some(t) = self.targets[i].as_mut() {
                t.deadlines[o.owner.echo as usize] = at + o.timeout;
            }
        }
        // Registered even if its round is over already (a zero timeout):
        // the entry tells its reply apart as late.
        if let Some((table, _)) = self.tables[family_index(o.family)].as_mut() {
            table.sent(o.seq, o.addr, o.owner, at, o.timeout);
        }
    }

    /// The kernel refused echo `o` (no route, local firewall ...).
    pub(super) fn send_failed(&mut self, o: &Outgoing, now: Instant) {
        IcmpStats::bump(&self.stats.send_errors);
        let i = o.owner.target as usize;
        if !self.is_running(o.owner) {
            return;
        }
        if let Some(t) = self.targets[i].as_mut() {
            t.outcomes[o.owner.echo as usize] = EchoOutcome::SendFailed;
        }
        if self.targets[i].as_ref().is_some_and(|t| t.complete(now)) {
            self.settle(i, now);
        }
    }

    fn is_running(&self, owner: Owner) -> bool {
        self.targets
            .get(owner.target as usize)
            .and_then(Option::as_ref)
            .and_then(|t| t.running.as_ref())
            .is_some_and(|r| r.id == owner.round)
    }

    /// Matches one received packet, read at `now` from the `family`
    /// socket, and counts it: a reply in time completes its echo (and its
    /// round, if it was the last); anything else is counted by reason.
    pub(super) fn received(
        &mut self,
        family: Family,
        bytes: &[u8],
        from: Option<IpAddr>,
        now: Instant,
    ) {
        let Some((_, raw)) = self.tables[family_index(family)] else {
            return;
        };
        let with_ip_header = raw && family == Family::V4;
        let (addr, seq, ident, error) = match packet::decode(bytes, family, with_ip_header) {
            Ok(Message::EchoReply { ident, seq }) => {
                let Some(from) = from else {
                    IcmpStats::bump(&self.stats.malformed);
                    return;
                };
                (from.to_canonical(), seq, ident, false)
            }
            Ok(Message::Error {
                target, ident, seq, ..
            }) => (target.to_canonical(), seq, ident, true),
            Err(DecodeError::Foreign { .. }) => {
                IcmpStats::bump(&self.stats.foreign);
                return;
            }
            Err(_) => {
                IcmpStats::bump(&self.stats.malformed);
                return;
            }
        };
        // The kernel rewrites the identifier of datagram sockets and
        // delivers them only their own replies.
        if raw && ident != self.ident {
            IcmpStats::bump(&self.stats.foreign);
            return;
        }
        let targets = &self.targets;
        let running = |owner: Owner| {
            targets
                .get(owner.target as usize)
                .and_then(Option::as_ref)
                .and_then(|t| t.running.as_ref())
                .is_some_and(|r| r.id == owner.round)
        };
        let Some((table, _)) = self.tables[family_index(family)].as_mut() else {
            return;
        };
        let (owner, rtt) = match table.classify(addr, seq, error, now, running) {
            Match::OnTime { owner, rtt } => (owner, rtt),
            Match::Duplicate => return IcmpStats::bump(&self.stats.duplicate),
            Match::Late => return IcmpStats::bump(&self.stats.late),
            Match::Unsolicited => return IcmpStats::bump(&self.stats.unsolicited),
        };
        let i = owner.target as usize;
        let Some(t) = self.targets[i].as_mut() else {
            return;
        };
        t.outcomes[owner.echo as usize] = if error {
            IcmpStats::bump(&self.stats.errors_received);
            EchoOutcome::Unreachable
        } else {
            IcmpStats::bump(&self.stats.replies_received);
            EchoOutcome::Reply(rtt)
        };
        if t.complete(now) {
            self.settle(i, now);
        }
    }
}

fn bucket(slot: u64) -> usize {
    (slot % WHEEL as u64) as usize
}

/// Slots per wake for `rate` echoes per second: enough for
/// [`MIN_ECHOES_PER_WAKE`] on average, at most [`MAX_STRIDE`].
fn stride(rate: f64) -> u64 {
    let per_slot = rate * SLOT.as_secs_f64();
    if per_slot <= 0.0 {
        return 1;
    }
    ((MIN_ECHOES_PER_WAKE / per_slot).ceil() as u64).clamp(1, MAX_STRIDE)
}

/// Echoes a wake of `stride` slots may hold for `rate` echoes per second:
/// [`PACING_HEADROOM`] times their average share, at least one.
fn slot_cap(rate: f64, stride: u64) -> u32 {
    let share = rate * SLOT.as_secs_f64() * stride as f64 * PACING_HEADROOM;
    // Rounded to a millionth first, so that 30.000000000000004 is 30.
    let share = (share * 1e6).round() / 1e6;
    (share.ceil() as u32).max(1)
}

#[cfg(test)]
mod tests;
