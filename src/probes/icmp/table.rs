//! The echoes one socket has in flight: a table indexed by the 16-bit
//! sequence number, allocated once (65,536 entries), so that sending an
//! echo and matching its reply never allocate and never hash.
//!
//! An entry names the round that sent the echo (target slot and round id),
//! so a reply reaches its round directly. It stays after the answer or the
//! timeout until [`LINGER`] has passed (or, in practice, much later, until
//! its sequence number comes round again), so a duplicate or a late reply is
//! told apart from an unsolicited one.

use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long after its deadline an entry still recognises duplicates and
/// late replies; after that a reply to it counts as unsolicited. A few
/// seconds covers a congested path.
pub(super) const LINGER: Duration = Duration::from_secs(5);

const ENTRIES: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Never used, or its send failed.
    Free,
    Waiting,
    Answered,
    /// Timed out, quoted by an ICMP error, or its round gave up.
    Expired,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    state: State,
    addr: IpAddr,
    /// Index of the round's target in the schedule.
    target: u32,
    /// The round's id: a reply to an echo whose round has ended (and whose
    /// target slot may now hold another target) matches no running round.
    round: u32,
    /// The echo's place in its round.
    echo: u32,
    sent_at: Instant,
    deadline: Instant,
}

/// Which round and echo a matched packet answers, and what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Owner {
    pub target: u32,
    pub round: u32,
    pub echo: u32,
}

/// What a received packet is to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Match {
    /// The first answer to an echo still waiting, within its deadline;
    /// `rtt` is the time since it was sent. The entry is closed: an echo
    /// reply makes it answered, an ICMP error expired (later replies to it
    /// are then late, not duplicates).
    OnTime {
        owner: Owner,
        rtt: Duration,
    },
    Duplicate,
    Late,
    /// No echo of ours to that address with that sequence number (or its
    /// entry is older than [`LINGER`] after its deadline).
    Unsolicited,
}

/// One socket's echoes in flight, by sequence number.
pub(super) struct EchoTable {
    entries: Vec<Entry>,
    next_seq: u16,
}

impl EchoTable {
    /// A table whose first echo gets sequence number `first_seq` (random in
    /// the daemon, so a restarted netkpi does not take its predecessor's
    /// late replies for its own).
    pub(super) fn new(first_seq: u16, epoch: Instant) -> Self {
        let free = Entry {
            state: State::Free,
            addr: IpAddr::from([0, 0, 0, 0]),
            target: 0,
            round: 0,
            echo: 0,
            sent_at: epoch,
            deadline: epoch,
        };
        EchoTable {
            entries: vec![free; ENTRIES],
            next_seq: first_seq,
        }
    }

    /// The next sequence number whose entry is not waiting for a reply, or
    /// `None` if all 65,536 are (which needs more echoes in flight than a
    /// 16-bit sequence can tell apart).
    pub(super) fn allocate(&mut self, now: Instant) -> Option<u16> {
        for _ in 0..ENTRIES {
            let seq = self.next_seq;
            self.next_seq = seq.wrapping_add(1);
            let e = &self.entries[usize::from(seq)];
            if e.state != State::Waiting || e.deadline < now {
                return Some(seq);
            }
        }
        None
    }

    /// Records an echo the kernel accepted.
    pub(super) fn sent(
        &mut self,
        seq: u16,
        addr: IpAddr,
        owner: Owner,
        sent_at: Instant,
        timeout: Duration,
    ) {
        self.entries[usize::from(seq)] = Entry {
            state: State::Waiting,
            addr,
            target: owner.target,
            round: owner.round,
            echo: owner.echo,
            sent_at,
            deadline: sent_at + timeout,
        };
    }

    /// Classifies a reply (or an ICMP error quoting a request) from `from`
    /// for sequence `seq`, received at `now`, and updates its entry. `error`
    /// says it was an ICMP error; `running` says whether the entry's round
    /// still runs (if not, a reply in time is late: the round gave up).
    pub(super) fn classify(
        &mut self,
        from: IpAddr,
        seq: u16,
        error: bool,
        now: Instant,
        running: impl FnOnce(Owner) -> bool,
    ) -> Match {
        let e = &mut self.entries[usize::from(seq)];
        if e.state == State::Free || e.addr != from || now > e.deadline + LINGER {
            return Match::Unsolicited;
        }
        let owner = Owner {
            target: e.target,
            round: e.round,
            echo: e.echo,
        };
        match e.state {
            State::Answered => Match::Duplicate,
            State::Expired => Match::Late,
            State::Waiting if now > e.deadline || !running(owner) => {
                e.state = State::Expired;
                Match::Late
            }
            State::Waiting | State::Free => {
                e.state = if error {
                    State::Expired
                } else {
                    State::Answered
                };
                Match::OnTime {
                    owner,
                    rtt: now.saturating_duration_since(e.sent_at),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const MS: Duration = Duration::from_millis(1);

    fn owner(echo: u32) -> Owner {
        Owner {
            target: 7,
            round: 3,
            echo,
        }
    }

    #[test]
    fn a_reply_matches_once_then_duplicates_late_and_foreign_are_told_apart() {
        let t0 = Instant::now();
        let mut t = EchoTable::new(65_535, t0);
        let first = t.allocate(t0).unwrap();
        let second = t.allocate(t0).unwrap();
        assert_eq!((first, second), (65_535, 0), "sequence numbers wrap");
        t.sent(first, A, owner(0), t0, 100 * MS);
        t.sent(second, A, owner(1), t0, 100 * MS);
        let running = |_| true;

        // Another address, or a sequence number never sent: unsolicited.
        assert_eq!(
            t.classify(B, first, false, t0 + MS, running),
            Match::Unsolicited
        );
        assert_eq!(
            t.classify(A, 5, false, t0 + MS, running),
            Match::Unsolicited
        );
        // The real reply, then the same again.
        assert_eq!(
            t.classify(A, first, false, t0 + 3 * MS, running),
            Match::OnTime {
                owner: owner(0),
                rtt: 3 * MS
            }
        );
        assert_eq!(
            t.classify(A, first, false, t0 + 4 * MS, running),
            Match::Duplicate
        );
        // After its deadline: late, and stays late.
        assert_eq!(
            t.classify(A, second, false, t0 + 101 * MS, running),
            Match::Late
        );
        assert_eq!(
            t.classify(A, second, false, t0 + 102 * MS, running),
            Match::Late
        );
        // Long after: the entry no longer recognises anything.
        let much_later = t0 + 100 * MS + LINGER + MS;
        assert_eq!(
            t.classify(A, first, false, much_later, running),
            Match::Unsolicited
        );
    }

    #[test]
    fn an_error_closes_its_echo_and_a_finished_round_takes_nothing() {
        let t0 = Instant::now();
        let mut t = EchoTable::new(10, t0);
        for echo in 0..2 {
            let seq = t.allocate(t0).unwrap();
            t.sent(seq, A, owner(echo), t0, 100 * MS);
        }
        assert!(matches!(
            t.classify(A, 10, true, t0 + MS, |_| true),
            Match::OnTime { .. }
        ));
        // A reply after the error for the same request: late, not a duplicate.
        assert_eq!(t.classify(A, 10, false, t0 + 2 * MS, |_| true), Match::Late);
        // In time, but its round has ended.
        assert_eq!(t.classify(A, 11, false, t0 + MS, |_| false), Match::Late);
    }

    #[test]
    fn allocation_skips_echoes_still_waiting() {
        let t0 = Instant::now();
        let mut t = EchoTable::new(0, t0);
        t.sent(1, A, owner(0), t0, 100 * MS);
        t.sent(2, A, owner(1), t0, MS);
        assert_eq!(t.allocate(t0), Some(0));
        // 1 still waits; 2 waits too, until its deadline has passed.
        assert_eq!(t.allocate(t0), Some(3));
        t.next_seq = 1;
        assert_eq!(t.allocate(t0 + 2 * MS), Some(2));
    }
}
