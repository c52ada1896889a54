//! The per-target state machine. Pure: no I/O, no clock of its own.
//!
//! The scheduler feeds one [`RoundClass`] per probe round with the time the
//! round was taken; the tracker answers with a [`Change`] only once the new
//! state is confirmed by enough consecutive rounds. The change is stamped with
//! the time of the *first* round of the confirming run, so a three-round
//! confirmation does not shorten an outage by two intervals.
//!
//! Time is only ever copied, never subtracted, so a wall clock that steps
//! backwards between rounds cannot make this module panic or misbehave: a
//! change is stamped with the run's first round time exactly as it was given.

use jiff::Timestamp;

use crate::model::State;

/// What one probe round showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundClass {
    /// Every echo answered below the degraded threshold.
    Good,
    /// Answered, but loss at or above `degraded_loss`.
    Degraded,
    /// Nothing answered.
    Failed,
}

/// Classifies a round of `sent` echoes with `received` replies.
///
/// A round that sent nothing proves nothing about the target, so it is
/// `Failed` rather than `Good`. `received > sent` (duplicate replies) counts as
/// no loss.
pub fn classify(sent: u32, received: u32, degraded_loss: f64) -> RoundClass {
    if sent == 0 || received == 0 {
        return RoundClass::Failed;
    }
    let lost = sent.saturating_sub(received);
    let loss = f64::from(lost) / f64::from(sent);
    if loss >= degraded_loss {
        RoundClass::Degraded
    } else {
        RoundClass::Good
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub down_after: u32,
    pub up_after: u32,
}

/// A confirmed change of state, stamped at the first round that showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub at: Timestamp,
    pub state: State,
    pub cause: Option<String>,
}

/// Which state a run of rounds is heading for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    Down,
    /// Out of down (or unknown): good and degraded rounds both count, the
    /// latest round decides between up and degraded.
    Available,
    Up,
    Degraded,
}

/// A run of consecutive rounds pointing away from the current state.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    goal: Goal,
    since: Timestamp,
    rounds: u32,
    /// Failure kind of the run's first failed round (only for `Goal::Down`).
    reason: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Tracker {
    state: State,
    run: Option<Run>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            state: State::Unknown,
            run: None,
        }
    }
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Time of the first round of a run that is being confirmed but is not yet
    /// a change, if any.
    pub fn pending_since(&self) -> Option<Timestamp> {
        self.run.as_ref().map(|r| r.since)
    }

    /// Feeds one round observed at `at`. `reason` is the cause of a failed
    /// round as the ledger writes it (`icmp:timeout`, `snmp:auth_failed`, ...;
    /// `no_answer` when none is given).
    ///
    /// A threshold of 0 is treated as 1: a change needs at least one round.
    pub fn observe(
        &mut self,
        at: Timestamp,
        class: RoundClass,
        reason: Option<&str>,
        th: Thresholds,
    ) -> Option<Change> {
        let goal = match (self.state, class) {
            (State::Down, RoundClass::Failed) => None,
            (_, RoundClass::Failed) => Some(Goal::Down),
            // `Maintenance` is never held by a tracker (it is derived from the
            // configured windows); if it were, it would behave like unknown.
            (State::Down | State::Unknown | State::Maintenance, _) => Some(Goal::Available),
            (State::Up, RoundClass::Good) => None,
            (State::Up, RoundClass::Degraded) => Some(Goal::Degraded),
            (State::Degraded, RoundClass::Degraded) => None,
            (State::Degraded, RoundClass::Good) => Some(Goal::Up),
        };
        let Some(goal) = goal else {
            // A round that agrees with the current state ends any run.
            self.run = None;
            return None;
        };

        let run = match &mut self.run {
            Some(run) if run.goal == goal => {
                run.rounds = run.rounds.saturating_add(1);
                run
            }
            // A new goal interrupts whatever run was pending: it restarts here.
            slot => slot.insert(Run {
                goal,
                since: at,
                rounds: 1,
                reason: match goal {
                    Goal::Down => reason.filter(|r| !r.is_empty()).map(str::to_owned),
                    _ => None,
                },
            }),
        };

        let needed = match goal {
            Goal::Down => th.down_after,
            // Nothing to hold against a first answer: unknown becomes
            // available on the first round that answers.
            Goal::Available if matches!(self.state, State::Unknown | State::Maintenance) => 1,
            Goal::Available | Goal::Up | Goal::Degraded => th.up_after,
        }
        .max(1);
        if run.rounds < needed {
            return None;
        }

        let (state, cause) = match goal {
            Goal::Down => {
                // Whether a parent's outage explains this one is the
                // ledger's call: it knows when the parent's outage began.
                let cause = run.reason.clone().unwrap_or_else(|| "no_answer".to_owned());
                (State::Down, Some(cause))
            }
            Goal::Up => (State::Up, None),
            Goal::Degraded => (State::Degraded, None),
            Goal::Available => match class {
                RoundClass::Degraded => (State::Degraded, None),
                _ => (State::Up, None),
            },
        };
        let at = run.since;
        self.state = state;
        self.run = None;
        Some(Change { at, state, cause })
    }

    /// Forces the target to unknown (the daemon stops, or a span is lost):
    /// any run being confirmed is forgotten.
    pub fn reset_unknown(&mut self) {
        self.state = State::Unknown;
        self.run = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RoundClass::{Degraded as D, Failed as F, Good as G};

    const TH: Thresholds = Thresholds {
        down_after: 3,
        up_after: 2,
    };

    /// Round `i` of a 10 s interval, from a fixed origin (no real clock).
    fn t(i: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + 10 * i).unwrap()
    }

    /// Feeds `classes` at rounds `start`, `start + 1`, ... and returns every
    /// change with the round index it was returned at.
    fn feed(
        tr: &mut Tracker,
        start: i64,
        classes: &[RoundClass],
        th: Thresholds,
    ) -> Vec<(i64, Change)> {
        let mut out = Vec::new();
        for (k, &c) in classes.iter().enumerate() {
            let i = start + k as i64;
            let reason = (c == F).then_some("icmp:timeout");
            if let Some(ch) = tr.observe(t(i), c, reason, th) {
                out.push((i, ch));
            }
        }
        out
    }

    fn change(at: i64, state: State, cause: Option<&str>) -> Change {
        Change {
            at: t(at),
            state,
            cause: cause.map(str::to_owned),
        }
    }

    fn up_tracker() -> Tracker {
        let mut tr = Tracker::new();
        assert!(feed(&mut tr, 0, &[G], TH).len() == 1);
        assert_eq!(tr.state(), State::Up);
        tr
    }

    #[test]
    fn classify_rounds() {
        assert_eq!(classify(3, 0, 0.5), RoundClass::Failed);
        assert_eq!(classify(0, 0, 0.5), RoundClass::Failed);
        assert_eq!(classify(3, 3, 0.5), RoundClass::Good);
        assert_eq!(classify(3, 2, 0.5), RoundClass::Good); // 33 % < 50 %
        assert_eq!(classify(4, 2, 0.5), RoundClass::Degraded); // exactly at the threshold
        assert_eq!(classify(3, 1, 0.5), RoundClass::Degraded);
        assert_eq!(classify(3, 5, 0.5), RoundClass::Good); // duplicates: no loss
        assert_eq!(classify(10, 10, 0.0), RoundClass::Degraded); // threshold 0: any answer ≥ 0
    }

    #[test]
    fn starts_unknown_with_nothing_pending() {
        let tr = Tracker::new();
        assert_eq!(tr.state(), State::Unknown);
        assert_eq!(tr.pending_since(), None);
    }

    #[test]
    fn unknown_to_up_or_degraded_on_first_answer() {
        let mut tr = Tracker::new();
        assert_eq!(
            feed(&mut tr, 0, &[G], TH),
            vec![(0, change(0, State::Up, None))]
        );
        let mut tr = Tracker::new();
        assert_eq!(
            feed(&mut tr, 5, &[D], TH),
            vec![(5, change(5, State::Degraded, None))]
        );
    }

    #[test]
    fn unknown_to_down_after_down_after_failures_stamped_at_first() {
        let mut tr = Tracker::new();
        let got = feed(&mut tr, 0, &[F, F, F, F], TH);
        assert_eq!(got, vec![(2, change(0, State::Down, Some("icmp:timeout")))]);
        assert_eq!(tr.state(), State::Down);
    }

    #[test]
    fn unknown_pending_failures_then_answer_is_up_at_the_answer() {
        let mut tr = Tracker::new();
        let got = feed(&mut tr, 0, &[F, F, G], TH);
        assert_eq!(got, vec![(2, change(2, State::Up, None))]);
    }

    #[test]
    fn up_to_down_stamped_at_first_failed_round() {
        let mut tr = up_tracker();
        let got = feed(&mut tr, 1, &[G, F], TH);
        assert!(got.is_empty());
        assert_eq!(tr.pending_since(), Some(t(2)));
        let got = feed(&mut tr, 3, &[F, F], TH);
        // Confirmed at round 4, but the outage began at round 2.
        assert_eq!(got, vec![(4, change(2, State::Down, Some("icmp:timeout")))]);
        assert_eq!(tr.pending_since(), None);
    }

    #[test]
    fn cause_uses_reason_of_first_failed_round_or_no_answer() {
        let mut tr = up_tracker();
        assert_eq!(tr.observe(t(1), F, Some("icmp:unreachable"), TH), None);
        assert_eq!(tr.observe(t(2), F, Some("icmp:timeout"), TH), None);
        let ch = tr.observe(t(3), F, Some("icmp:timeout"), TH).unwrap();
        assert_eq!(ch.cause.as_deref(), Some("icmp:unreachable"));

        let mut tr = up_tracker();
        for i in 1..3 {
            assert_eq!(tr.observe(t(i), F, None, TH), None);
        }
        let ch = tr.observe(t(3), F, Some("icmp:timeout"), TH).unwrap();
        assert_eq!(ch.cause.as_deref(), Some("no_answer"));
    }

    #[test]
    fn flapping_never_confirms_down() {
        let mut tr = up_tracker();
        let got = feed(&mut tr, 1, &[F, G, F, G, F, G, F, G, F, F, G], TH);
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(tr.state(), State::Up);
        assert_eq!(tr.pending_since(), None);
    }

    #[test]
    fn down_recovers_after_up_after_rounds_stamped_at_first() {
        let mut tr = Tracker::new();
        feed(&mut tr, 0, &[F, F, F, F], TH);
        assert_eq!(tr.state(), State::Down);
        let got = feed(&mut tr, 4, &[G, G, G], TH);
        assert_eq!(got, vec![(5, change(4, State::Up, None))]);
    }

    #[test]
    fn recovery_interrupted_by_a_failure_restarts() {
        let mut tr = Tracker::new();
        feed(&mut tr, 0, &[F, F, F], TH);
        let got = feed(&mut tr, 3, &[G, F, G, F, G], TH);
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(tr.state(), State::Down);
        assert_eq!(tr.pending_since(), Some(t(7)));
        let got = feed(&mut tr, 8, &[G], TH);
        assert_eq!(got, vec![(8, change(7, State::Up, None))]);
    }

    #[test]
    fn failure_run_interrupted_by_an_answer_restarts() {
        let mut tr = up_tracker();
        let got = feed(&mut tr, 1, &[F, F, G, F, F, F], TH);
        assert_eq!(got, vec![(6, change(4, State::Down, Some("icmp:timeout")))]);
    }

    #[test]
    fn recovery_with_mixed_rounds_takes_latest_class() {
        let mut tr = Tracker::new();
        feed(&mut tr, 0, &[F, F, F], TH);
        let got = feed(&mut tr, 3, &[G, D], TH);
        assert_eq!(got, vec![(4, change(3, State::Degraded, None))]);

        let mut tr = Tracker::new();
        feed(&mut tr, 0, &[F, F, F], TH);
        let got = feed(&mut tr, 3, &[D, G], TH);
        assert_eq!(got, vec![(4, change(3, State::Up, None))]);
        // The rounds that follow decide up ↔ degraded by the usual rule.
        let got = feed(&mut tr, 5, &[D, D], TH);
        assert_eq!(got, vec![(6, change(5, State::Degraded, None))]);
    }

    #[test]
    fn degraded_hysteresis() {
        let mut tr = up_tracker();
        // One degraded round is not enough; a good one ends the run.
        assert!(feed(&mut tr, 1, &[D, G, D, G], TH).is_empty());
        assert_eq!(tr.state(), State::Up);
        let got = feed(&mut tr, 5, &[D, D, D], TH);
        assert_eq!(got, vec![(6, change(5, State::Degraded, None))]);
        // And back: up_after good rounds, stamped at the first.
        assert!(feed(&mut tr, 8, &[G, D, G], TH).is_empty());
        assert_eq!(tr.state(), State::Degraded);
        let got = feed(&mut tr, 11, &[G], TH);
        assert_eq!(got, vec![(11, change(10, State::Up, None))]);
    }

    #[test]
    fn degraded_to_down_and_failure_interrupts_degraded_run() {
        let mut tr = Tracker::new();
        feed(&mut tr, 0, &[D], TH);
        assert_eq!(tr.state(), State::Degraded);
        let got = feed(&mut tr, 1, &[F, F, F], TH);
        assert_eq!(got, vec![(3, change(1, State::Down, Some("icmp:timeout")))]);

        let mut tr = up_tracker();
        // D, F, D: the failure interrupts the degraded run, which restarts.
        assert!(feed(&mut tr, 1, &[D, F, D], TH).is_empty());
        assert_eq!(tr.pending_since(), Some(t(3)));
        let got = feed(&mut tr, 4, &[D], TH);
        assert_eq!(got, vec![(4, change(3, State::Degraded, None))]);
    }

    #[test]
    fn thresholds_of_one_change_on_every_round() {
        let th = Thresholds {
            down_after: 1,
            up_after: 1,
        };
        let mut tr = Tracker::new();
        let got = feed(&mut tr, 0, &[F, G, D, G, F], th);
        assert_eq!(
            got,
            vec![
                (0, change(0, State::Down, Some("icmp:timeout"))),
                (1, change(1, State::Up, None)),
                (2, change(2, State::Degraded, None)),
                (3, change(3, State::Up, None)),
                (4, change(4, State::Down, Some("icmp:timeout"))),
            ]
        );
        // Zero is treated as one, not as "already confirmed".
        let zero = Thresholds {
            down_after: 0,
            up_after: 0,
        };
        let mut tr = up_tracker();
        assert_eq!(
            feed(&mut tr, 1, &[G, F], zero),
            vec![(2, change(2, State::Down, Some("icmp:timeout")))]
        );
    }

    #[test]
    fn reset_unknown_forgets_pending_run() {
        let mut tr = up_tracker();
        feed(&mut tr, 1, &[F, F], TH);
        assert_eq!(tr.pending_since(), Some(t(1)));
        tr.reset_unknown();
        assert_eq!(tr.state(), State::Unknown);
        assert_eq!(tr.pending_since(), None);
        // The two earlier failures no longer count.
        let got = feed(&mut tr, 10, &[F, F, F], TH);
        assert_eq!(
            got,
            vec![(12, change(10, State::Down, Some("icmp:timeout")))]
        );
    }

    #[test]
    fn clock_stepping_backwards_does_not_panic_and_stamps_first_round() {
        let mut tr = up_tracker();
        // Rounds at 100, then the clock steps back to 40, 50.
        assert_eq!(tr.observe(t(100), F, Some("icmp:timeout"), TH), None);
        assert_eq!(tr.observe(t(40), F, Some("icmp:timeout"), TH), None);
        let ch = tr.observe(t(50), F, Some("icmp:timeout"), TH).unwrap();
        assert_eq!(ch, change(100, State::Down, Some("icmp:timeout")));
        // And extremes of the representable range are only copied.
        let got = tr.observe(Timestamp::MIN, G, None, TH);
        assert_eq!(got, None);
        let ch = tr.observe(Timestamp::MAX, G, None, TH).unwrap();
        assert_eq!(ch.at, Timestamp::MIN);
        assert_eq!(ch.state, State::Up);
    }
}
