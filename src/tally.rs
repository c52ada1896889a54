//! The running tally behind `netkpi_state_seconds_total`: milliseconds per
//! state for one target, counted only as far as the ledger holds it durably.
//! Pure: no I/O, time passed in.
//!
//! The store writer advances a target's tally with every committed
//! transition and settled mark (see [`Mark`]) and writes it in the same
//! transaction, so the counters a scrape shows are exactly what the ledger
//! holds, never more: they never have to go back, within a run or across a
//! crash and restart. Time is classified when it is counted, with the
//! maintenance windows in force then; a window added later for the past
//! reclassifies availability figures and reports, not a counter that was
//! already exported (Prometheus would read a decrease as a reset).

use jiff::Timestamp;

use std::collections::BTreeMap;

use crate::availability;
use crate::model::{Mark, Span, State, TargetKind, Transition};

/// Tallies by target.
pub type Tallies = BTreeMap<(TargetKind, String), Tally>;

/// Milliseconds per state, indexed like [`State::ALL`].
pub type StateMillis = [i64; 5];

fn index(state: State) -> usize {
    State::ALL
        .iter()
        .position(|&s| s == state)
        .unwrap_or(State::ALL.len() - 1)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The state the target is recorded in from `until` on.
    pub state: State,
    /// Counted up to here.
    pub until: Timestamp,
    pub ms: StateMillis,
}

impl Tally {
    /// The tally of a target whose first ledger entry is `first`.
    pub fn start(first: &Transition) -> Tally {
        Tally {
            state: first.state,
            until: first.at,
            ms: [0; 5],
        }
    }

    /// Counts the current state up to `until`: a point the ledger vouches
    /// for (a committed transition's stamp, a mark, the start of a run).
    /// Time already counted is never counted again nor taken back, so a
    /// stamp before `self.until` (a clock step) adds nothing.
    pub fn advance(&mut self, until: Timestamp, maintenance: &[Span]) {
        if until <= self.until {
            return;
        }
        let f = availability::compute(
            &[(self.until, self.state)],
            self.until,
            until,
            until,
            maintenance,
        );
        let ms = |s: f64| (s * 1000.0).round() as i64;
        self.ms[index(State::Up)] += ms(f.up_s);
        self.ms[index(State::Degraded)] += ms(f.degraded_s);
        self.ms[index(State::Down)] += ms(f.down_s);
        self.ms[index(State::Unknown)] += ms(f.unknown_s);
        self.ms[index(State::Maintenance)] += ms(f.maintenance_s);
        self.until = until;
    }

    /// Applies a committed transition: the old state held until its stamp.
    /// The same state again is a cause update and counts nothing.
    pub fn apply(&mut self, t: &Transition, maintenance: &[Span]) {
        if t.state == self.state {
            return;
        }
        self.advance(t.at, maintenance);
        self.state = t.state;
    }

    /// Applies a committed mark.
    pub fn mark(&mut self, m: &Mark, maintenance: &[Span]) {
        self.advance(m.until, maintenance);
    }

    /// Seconds per state, indexed like [`State::ALL`].
    pub fn seconds(&self) -> [f64; 5] {
        self.ms.map(|ms| ms as f64 / 1000.0)
    }

    /// The tally of a whole ledger history (as the store returns it, in
    /// insertion order), counted up to `until`: for a ledger written before
    /// tallies were stored.
    pub fn rebuild(
        history: &[(Timestamp, State)],
        until: Timestamp,
        maintenance: &[Span],
    ) -> Option<Tally> {
        let (&(first_at, first_state), rest) = history.split_first()?;
        let mut tally = Tally {
            state: first_state,
            until: first_at,
            ms: [0; 5],
        };
        for &(at, state) in rest {
            if state != tally.state {
                tally.advance(at, maintenance);
                tally.state = state;
            }
        }
        tally.advance(until, maintenance);
        Some(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap()
    }

    fn t(s: i64, state: State) -> Transition {
        Transition {
            target: "a".into(),
            kind: TargetKind::Device,
            at: ts(s),
            state,
            cause: None,
        }
    }

    fn m(s: i64) -> Mark {
        Mark {
            kind: TargetKind::Device,
            target: "a".into(),
            until: ts(s),
        }
    }

    /// (up, down, unknown, maintenance) seconds.
    fn secs(t: &Tally) -> (f64, f64, f64, f64) {
        let s = t.seconds();
        (s[0], s[2], s[3], s[4])
    }

    #[test]
    fn counts_only_what_is_vouched_and_never_goes_back() {
        let mut tally = Tally::start(&t(0, State::Up));
        assert_eq!(secs(&tally), (0.0, 0.0, 0.0, 0.0), "nothing vouched yet");
        tally.mark(&m(20), &[]);
        assert_eq!(secs(&tally), (20.0, 0.0, 0.0, 0.0));
        // A failure run pending since 30: marks hold there, not at now.
        tally.mark(&m(30), &[]);
        tally.mark(&m(30), &[]);
        assert_eq!(secs(&tally), (30.0, 0.0, 0.0, 0.0));
        // Confirmed, stamped at 30, with the confirming round's mark.
        tally.apply(&t(30, State::Down), &[]);
        tally.mark(&m(50), &[]);
        assert_eq!(secs(&tally), (30.0, 20.0, 0.0, 0.0));
        // A cause update on the same outage, stamped at its start.
        tally.apply(&t(30, State::Down), &[]);
        assert_eq!(secs(&tally), (30.0, 20.0, 0.0, 0.0));
        // A stamp before what is counted (clock step) and a mark going back
        // take nothing back.
        tally.apply(&t(40, State::Up), &[]);
        tally.mark(&m(45), &[]);
        assert_eq!(secs(&tally), (30.0, 20.0, 0.0, 0.0));
        tally.mark(&m(70), &[]);
        assert_eq!(secs(&tally), (50.0, 20.0, 0.0, 0.0));
    }

    #[test]
    fn maintenance_is_classified_when_counted() {
        let window = [Span {
            start: ts(10),
            end: ts(20),
        }];
        let mut tally = Tally::start(&t(0, State::Down));
        tally.mark(&m(15), &window);
        assert_eq!(secs(&tally), (0.0, 10.0, 0.0, 5.0));
        // A window added later for time already counted changes nothing
        // counted; the rest of it counts as maintenance.
        let later = [Span {
            start: ts(0),
            end: ts(30),
        }];
        tally.mark(&m(25), &later);
        assert_eq!(secs(&tally), (0.0, 10.0, 0.0, 15.0));
    }

    #[test]
    fn a_rebuilt_tally_covers_the_history_up_to_the_given_time() {
        let h = [
            (ts(0), State::Up),
            (ts(10), State::Down),
            (ts(12), State::Down),
            (ts(15), State::Unknown),
        ];
        let tally = Tally::rebuild(&h, ts(40), &[]).unwrap();
        assert_eq!(secs(&tally), (10.0, 5.0, 25.0, 0.0));
        assert_eq!((tally.state, tally.until), (State::Unknown, ts(40)));
        assert_eq!(Tally::rebuild(&[], ts(40), &[]), None);
    }
}
