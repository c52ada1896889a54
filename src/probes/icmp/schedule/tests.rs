//! The schedule with hand-built inputs: pacing over a simulated clock,
//! round stamps, and matching of hand-made packets.

use super::*;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;

use crate::probes::FailureKind;
use crate::scheduler::phase;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);
const IDENT: u16 = 0x4e4b;

fn core(t0: Instant) -> Core<u32> {
    let stats = Arc::new(IcmpStats::default());
    Core::new(t0, IDENT, [Some((0, true)), None], stats)
}

fn device_addr(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

/// Runs the schedule wake by wake (every [`Core::stride`] slots) from `t0`
/// for `span`, every echo accepted by the kernel and none answered;
/// returns the echoes sent at each wake, as (target, time sent).
fn simulate(core: &mut Core<u32>, t0: Instant, span: Duration) -> Vec<Vec<(u32, Instant)>> {
    let mut slots = Vec::new();
    let mut out = Vec::new();
    let mut now = t0;
    while now < t0 + span {
        out.clear();
        core.run_due(now, &mut out);
        for o in &out {
            core.sent(o, now);
        }
        slots.push(out.iter().map(|o| (o.owner.target, now)).collect());
        now += SLOT * core.stride() as u32;
    }
    slots
}

#[test]
fn no_slot_holds_more_than_its_share_and_failed_rounds_carry_their_first_send() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let (n, interval, count) = (10_000u32, 10 * SEC, 3);
    let plan = Plan {
        count,
        spacing: SEC,
        timeout: SEC,
    };
    let phases: Vec<Duration> = (0..n)
        .map(|i| phase(&format!("acc-{i:05}"), interval))
        .collect();
    core.replace_scheduled(
        (0..n).map(|i| {
            let a = Address::Fixed(device_addr(i));
            (a, plan, interval, phases[i as usize], i)
        }),
        t0,
    );
    // 10,000 targets x 3 echoes per 10 s = 3,000 echoes/s: 30 in an
    // average 10 ms slot; the engine wakes every 3 slots (at least 64
    // echoes a wake on average: 90), and the budget is twice that.
    assert_eq!(core.stride(), 3);
    let share = 3_000.0 * SLOT.as_secs_f64() * 3.0;
    let cap = (2.0 * share).ceil() as usize;
    assert_eq!(core.cap() as usize, cap);

    let span = 3 * interval + 3 * SEC;
    let slots = simulate(&mut core, t0, span);
    let busiest = slots.iter().map(Vec::len).max().unwrap();
    assert!(busiest <= cap, "a slot held {busiest} echoes");
    assert!(
        busiest as f64 >= share,
        "{busiest}: the test should load the slots"
    );

    // Every echo due went out, within 50 ms of its time: echo k of round r
    // of target i is due at phase_i + r * interval + k s.
    let mut sent = vec![Vec::new(); n as usize];
    for slot in &slots {
        for &(i, at) in slot {
            sent[i as usize].push(at - t0);
        }
    }
    for i in 0..n as usize {
        let due: Vec<Duration> = (0..4)
            .flat_map(|r| (0..count).map(move |k| (r, k)))
            .map(|(r, k)| phases[i] + interval * r + SEC * k)
            .filter(|d| *d < span)
            .collect();
        assert!(
            sent[i].len() == due.len()
                || sent[i].len() + 1 == due.len() && *due.last().unwrap() + 50 * MS >= span,
            "target {i}: sent {:?}, due {due:?}",
            sent[i]
        );
        for (s, d) in sent[i].iter().zip(&due) {
            assert!(
                *s >= *d && *s - *d < 50 * MS,
                "target {i}: sent at {s:?}, due {d:?}"
            );
        }
    }

    // Nothing answered: each round failed with a timeout and is stamped
    // with the time its first echo went out (within a slot or two of the
    // time it was due), not the time it ended.
    let mut done = Vec::new();
    core.take_done(&mut done);
    assert!(done.len() >= 2 * n as usize, "{} rounds", done.len());
    for d in &done {
        let i = d.target;
        let since = d.started - t0;
        let r = ((since - phases[i]).as_nanos() / interval.as_nanos()) as u32;
        let due = phases[i] + interval * r;
        assert!(
            since >= due && since - due < 50 * MS,
            "target {i}: {since:?}, due {due:?}"
        );
        assert_eq!((d.round.sent, d.round.received), (count, 0));
        assert_eq!(d.round.failure, Some(FailureKind::Timeout));
        assert!(d.finished >= d.started + 2 * SEC + plan.timeout);
    }
    // Every echo of those rounds counts as a reply lost, and only those.
    let lost: u64 = done.iter().map(|d| u64::from(d.round.sent)).sum();
    assert_eq!(
        core.stats
            .echoes_timed_out
            .load(std::sync::atomic::Ordering::Relaxed),
        lost
    );
}

#[test]
fn a_crowd_due_at_once_is_spread_over_slots() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let n = 1_000u32;
    let plan = Plan {
        count: 3,
        spacing: SEC,
        timeout: SEC,
    };
    // All due at the same instant (phase 0): 300 echoes/s, 3 per 10 ms slot
    // on average: the engine wakes every 10 slots (100 ms, the longest
    // stride: 30 echoes on average) and sends at most 60 at a wake.
    core.replace_scheduled(
        (0..n).map(|i| {
            (
                Address::Fixed(device_addr(i)),
                plan,
                10 * SEC,
                Duration::ZERO,
                i,
            )
        }),
        t0,
    );
    assert_eq!(core.stride(), 10);
    let cap = (2.0 * 300.0 * 10.0 * SLOT.as_secs_f64()).ceil() as usize;
    assert_eq!(core.cap() as usize, cap);
    let slots = simulate(&mut core, t0, 2 * SEC);
    assert!(slots.iter().all(|s| s.len() <= cap));
    // The first echoes of all 1,000 rounds, `cap` a slot, in arming order.
    let first: Vec<u32> = slots
        .iter()
        .flatten()
        .map(|(i, _)| *i)
        .take(1_000)
        .collect();
    assert_eq!(first, (0..n).collect::<Vec<_>>());
    let last_first = slots
        .iter()
        .position(|s| s.iter().any(|(i, _)| *i == n - 1));
    assert_eq!(last_first, Some(999 / cap));
}

/// An echo reply from `ident`/`seq` as a raw IPv4 socket delivers it: IPv4
/// header, then the ICMP message, its checksum spoilt if asked.
fn ipv4_reply(ident: u16, seq: u16, bad_checksum: bool) -> Vec<u8> {
    let mut icmp = [0u8; packet::ECHO_LEN];
    packet::encode_echo_request(Family::V4, ident, seq, &mut icmp);
    icmp[0] = 0; // echo reply
    icmp[2..4].fill(0);
    let sum = packet::checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    if bad_checksum {
        icmp[7] ^= 0x01;
    }
    let total = (20 + icmp.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
    p.extend_from_slice(&icmp);
    p
}

#[test]
fn replies_complete_their_round_and_every_ignored_packet_is_counted_by_reason() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let target = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let (tx, mut rx) = oneshot::channel();
    let plan = Plan {
        count: 2,
        spacing: Duration::ZERO,
        timeout: 100 * MS,
    };
    core.add_once(target, plan, tx, t0);
    let mut out = Vec::new();
    core.run_due(t0, &mut out);
    assert_eq!(out.len(), 2, "both echoes due at once");
    let (a, b) = (out[0], out[1]);
    assert_eq!((a.seq, b.seq), (0, 1));
    for o in &out {
        core.sent(o, t0);
    }
    let rx_at = |ms| t0 + MS * ms;
    let v4 = Family::V4;
    core.received(v4, &ipv4_reply(IDENT, a.seq, false), Some(target), rx_at(3));
    core.received(v4, &ipv4_reply(IDENT, a.seq, false), Some(target), rx_at(4));
    core.received(
        v4,
        &ipv4_reply(IDENT ^ 1, b.seq, false),
        Some(target),
        rx_at(5),
    );
    core.received(v4, &ipv4_reply(IDENT, 999, false), Some(target), rx_at(5));
    core.received(v4, &ipv4_reply(IDENT, b.seq, false), Some(other), rx_at(5));
    core.received(v4, &ipv4_reply(IDENT, b.seq, true), Some(target), rx_at(5));
    core.received(v4, &[0x45, 0, 0], Some(target), rx_at(5));
    assert!(rx.try_recv().is_err(), "one echo still waits");
    // The second reply comes after its 100 ms deadline.
    core.received(
        v4,
        &ipv4_reply(IDENT, b.seq, false),
        Some(target),
        rx_at(150),
    );
    out.clear();
    core.run_due(rx_at(150), &mut out);
    let round = rx.try_recv().expect("the round ended at its deadline");
    assert_eq!((round.sent, round.received, round.failure), (2, 1, None));
    assert_eq!((round.rtt_min, round.rtt_max), (Some(3 * MS), Some(3 * MS)));

    let s = &core.stats;
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(
        (
            n(&s.echoes_sent),
            n(&s.replies_received),
            n(&s.echoes_timed_out)
        ),
        (2, 1, 1),
        "sent, answered, lost"
    );
    assert_eq!(
        [n(&s.duplicate), n(&s.foreign), n(&s.unsolicited), n(&s.malformed), n(&s.late)],
        [1, 1, 2, 2, 1],
        "duplicate, foreign (identifier), unsolicited (sequence, address), malformed (checksum, truncated), late"
    );
    // Nothing is left scheduled: a single round does not come back.
    assert_eq!(core.next_wake(), None);
}

#[test]
fn a_failed_send_fails_its_echo_and_a_round_of_failed_sends_ends_at_once() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let (tx, mut rx) = oneshot::channel();
    let plan = Plan {
        count: 2,
        spacing: Duration::ZERO,
        timeout: SEC,
    };
    core.add_once(IpAddr::V4(Ipv4Addr::LOCALHOST), plan, tx, t0);
    let mut out = Vec::new();
    core.run_due(t0, &mut out);
    for o in &out {
        core.send_failed(o, t0);
    }
    let round = rx
        .try_recv()
        .expect("ended without waiting for the timeout");
    assert_eq!(
        (round.sent, round.failure),
        (2, Some(FailureKind::SendError))
    );
    // No IPv6 socket in this core: a round to ::1 fails every send.
    let (tx, mut rx) = oneshot::channel();
    core.add_once(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), plan, tx, t0);
    out.clear();
    // Slot 0 is behind us: a round added now starts in the next slot.
    assert_eq!(core.next_wake(), Some(t0 + SLOT));
    core.run_due(t0 + SLOT, &mut out);
    assert!(out.is_empty());
    let round = rx.try_recv().expect("ended at once");
    assert_eq!(
        (round.sent, round.failure),
        (2, Some(FailureKind::SendError))
    );
    assert_eq!(core.stats.send_errors.load(Ordering::Relaxed), 4);
}

/// Few echoes a slot: the engine wakes only on stride boundaries, never
/// before an echo is due and at most a stride after; a round carries the
/// time its echo went out, never earlier (an outage is never dated before
/// the fault), and the next round stays on the target's phase.
#[test]
fn sparse_targets_wake_every_few_slots_stamped_when_their_echo_left() {
    let t0 = Instant::now();
    let mut core = core(t0);
    let plan = Plan {
        count: 1,
        spacing: Duration::ZERO,
        timeout: 100 * MS,
    };
    // 100 targets, one echo every 10 s: 10 echoes/s, 0.1 a slot.
    // Spread evenly, as hashed phases are on average.
    let phases: Vec<Duration> = (0..100u32).map(|i| SLOT * (7 + 10 * i)).collect();
    core.replace_scheduled(
        (0..100u32).map(|i| {
            let a = Address::Fixed(device_addr(i));
            (a, plan, 10 * SEC, phases[i as usize], i)
        }),
        t0,
    );
    assert_eq!(core.stride(), MAX_STRIDE);
    let stride = SLOT * MAX_STRIDE as u32;
    let mut out = Vec::new();
    let mut sent = 0;
    let mut now = t0;
    while now < t0 + 11 * SEC {
        let wake = core.next_wake().expect("work ahead");
        let since = wake.duration_since(t0);
        assert_eq!(since.as_nanos() % stride.as_nanos(), 0, "{since:?}");
        assert!(wake >= now);
        now = wake;
        out.clear();
        core.run_due(now, &mut out);
        for o in &out {
            // Its latest round's due time: every 10 s from its phase.
            let first = t0 + phases[o.owner.target as usize];
            let rounds = now.duration_since(first).as_secs() / 10;
            let due = first + 10 * SEC * rounds as u32;
            assert!(now < due + stride, "echo of {} late", o.owner.target);
            core.sent(o, now);
        }
        sent += out.len();
        let mut done = Vec::new();
        core.take_done(&mut done);
        for d in done {
            let since = d.started.duration_since(t0 + phases[d.target]);
            let late = since.as_nanos() % (10 * SEC).as_nanos();
            assert!(late > 0 && late < stride.as_nanos(), "{since:?}");
            assert!(d.started <= d.finished);
        }
    }
    // Every target's first round, and the second of the ten due by 11 s.
    assert_eq!(sent, 110);
}
