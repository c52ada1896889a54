//! Period arithmetic, the definition every availability figure comes from:
//! how long a target spent in each state over `[from, to)`, with maintenance
//! windows taken out. Pure.
//!
//! All arithmetic is on whole milliseconds (`i64`), converted to seconds only
//! at the end, so sums are exact and the parts always add up to the period.
//!
//! * [`period`]: which periods the figures are published for (rolling
//!   windows, the calendar year in the configured time zone).
//! * [`targets`]: the figures of every configured target over a period, read
//!   from the store (gauges, API and reports all take them from there).

pub mod period;
pub mod targets;

pub use period::{
    month_start, parse_instant, window_period, year_start, Period, PeriodArgs, PeriodKind, WINDOWS,
};
pub use targets::{availability, availability_each, availability_over, TargetFigures};

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{Span, State};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub up_s: f64,
    pub degraded_s: f64,
    pub down_s: f64,
    pub unknown_s: f64,
    pub maintenance_s: f64,
    /// (up + degraded) / (up + degraded + down); `None` when nothing was observed.
    pub availability: Option<f64>,
    /// (up + degraded + down) / (period − maintenance); `None` for an empty period.
    pub coverage: Option<f64>,
    pub outages: u32,
    pub longest_outage_s: f64,
}

/// `history` is the target's ledger in the order it was written, including the
/// last entry before `from` (it gives the state at `from`). Time after `now`
/// has not been observed and is unknown.
///
/// * Each entry lasts until the next one; the last lasts until `now`. Before
///   the first entry the state is unknown.
/// * If the wall clock stepped backwards, an entry written later can carry an
///   earlier `at`. Its effective time is `max(at, previous effective time)`:
///   the ledger's order is the truth, and no duration is ever negative.
/// * Time inside any `maintenance` span (they may overlap and cross the
///   period's edges) is `maintenance_s`, whatever the state; so is time in a
///   ledger entry whose state is `Maintenance` (not normally written).
/// * Outages: see `count_outages`.
pub fn compute(
    history: &[(Timestamp, State)],
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
    maintenance: &[Span],
) -> Figures {
    let (from, to, now) = (
        from.as_millisecond(),
        to.as_millisecond(),
        now.as_millisecond(),
    );
    if to <= from {
        return Figures::default();
    }
    let windows = merged_windows(maintenance, from, to);
    let pieces = split_by_windows(&timeline(history, from, to, now), &windows);

    let (mut up, mut degraded, mut down, mut unknown, mut maint) = (0i64, 0i64, 0i64, 0i64, 0i64);
    for p in &pieces {
        let len = p.end - p.start;
        match (p.in_window, p.state) {
            (true, _) | (false, State::Maintenance) => maint += len,
            (false, State::Up) => up += len,
            (false, State::Degraded) => degraded += len,
            (false, State::Down) => down += len,
            (false, State::Unknown) => unknown += len,
        }
    }
    let (outages, longest) = count_outages(&pieces);

    let observed = up + degraded + down;
    let ratio = |num: i64, den: i64| (den > 0).then(|| (num as f64 / den as f64).clamp(0.0, 1.0));
    Figures {
        up_s: secs(up),
        degraded_s: secs(degraded),
        down_s: secs(down),
        unknown_s: secs(unknown),
        maintenance_s: secs(maint),
        availability: ratio(up + degraded, observed),
        coverage: ratio(observed, (to - from) - maint),
        outages,
        longest_outage_s: secs(longest),
    }
}

impl Figures {
    /// Several targets' figures over the same period pooled into one: the
    /// times added up, availability and coverage by the same definitions
    /// over the sums (so a group's availability weighs each target by its
    /// observed time), outages added, the longest kept. `None` ratios when
    /// nothing was observed, as for one target.
    pub fn pooled<'a>(parts: impl IntoIterator<Item = &'a Figures>) -> Figures {
        let mut sum = Figures::default();
        for f in parts {
            sum.up_s += f.up_s;
            sum.degraded_s += f.degraded_s;
            sum.down_s += f.down_s;
            sum.unknown_s += f.unknown_s;
            sum.maintenance_s += f.maintenance_s;
            sum.outages = sum.outages.saturating_add(f.outages);
            sum.longest_outage_s = sum.longest_outage_s.max(f.longest_outage_s);
        }
        let observed = sum.up_s + sum.degraded_s + sum.down_s;
        let ratio = |num: f64, den: f64| (den > 0.0).then(|| (num / den).clamp(0.0, 1.0));
        sum.availability = ratio(sum.up_s + sum.degraded_s, observed);
        sum.coverage = ratio(observed, observed + sum.unknown_s);
        sum
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A stretch of `[from, to)` with one ledger state, either wholly inside a
/// maintenance window or wholly outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    start: i64,
    end: i64,
    state: State,
    in_window: bool,
}

/// The ledger as contiguous `(start, end, state)` segments covering exactly
/// `[from, to)`, in order, with no empty segment.
fn timeline(
    history: &[(Timestamp, State)],
    from: i64,
    to: i64,
    now: i64,
) -> Vec<(i64, i64, State)> {
    let observed_end = now.clamp(from, to);
    let mut segs = Vec::new();
    let mut push = |start: i64, end: i64, state: State| {
        let (s, e) = (start.max(from), end.min(observed_end));
        if s < e {
            segs.push((s, e, state));
        }
    };
    let mut start = i64::MIN;
    let mut state = State::Unknown;
    for &(at, next) in history {
        // Effective time never goes back (a clock step backwards).
        let at = at.as_millisecond().max(start);
        push(start, at, state);
        start = at;
        state = next;
    }
    push(start, i64::MAX, state);
    if observed_end < to {
        segs.push((observed_end, to, State::Unknown));
    }
    segs
}

/// Maintenance spans clipped to `[from, to)`, sorted, overlaps and touching
/// spans merged. Empty or inverted spans are ignored.
fn merged_windows(maintenance: &[Span], from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = maintenance
        .iter()
        .map(|s| {
            (
                s.start.as_millisecond().max(from),
                s.end.as_millisecond().min(to),
            )
        })
        .filter(|(s, e)| s < e)
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Cuts the (sorted, contiguous) segments at every window edge.
fn split_by_windows(segs: &[(i64, i64, State)], windows: &[(i64, i64)]) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(segs.len() + 2 * windows.len());
    let mut w = 0;
    for &(start, end, state) in segs {
        let mut t = start;
        while t < end {
            while w < windows.len() && windows[w].1 <= t {
                w += 1;
            }
            let (stop, in_window) = match windows.get(w) {
                Some(&(ws, we)) if ws <= t => (end.min(we), true),
                Some(&(ws, _)) => (end.min(ws), false),
                None => (end, false),
            };
            pieces.push(Piece {
                start: t,
                end: stop,
                state,
                in_window,
            });
            t = stop;
        }
    }
    pieces
}

/// Number of outages in the period and the down milliseconds of the longest.
///
/// An outage is a maximal stretch of down time outside maintenance; successive
/// down entries (say with different causes) are one outage. **Choice:** an
/// outage that a maintenance window cuts in two is still *one* outage when
/// the only thing between its pieces is maintenance *and the ledger does not
/// show the target recovering inside the window* (it stays down throughout, or
/// the gap is a `Maintenance` entry that says nothing about the target). The
/// device never delivered service in between, so reporting two outages would
/// inflate the count; if the ledger shows it up or unknown inside the window,
/// the outages really are separate.
///
/// Likewise, down time interrupted only by **unknown** time (the daemon was
/// stopped or crashed, the store was failing) is one outage: nothing showed
/// the target working in between, so a restart in the middle of an outage
/// does not make it two. The unknown part stays unknown: it is not added to
/// the outage's length. An outage's length counts only its down
/// time outside maintenance, clipped to the period; an outage lying wholly
/// inside maintenance or outside the period is not counted.
fn count_outages(pieces: &[Piece]) -> (u32, i64) {
    let mut count = 0u32;
    let mut longest = 0i64;
    let mut current: Option<i64> = None;
    let mut close = |current: &mut Option<i64>| {
        if let Some(len) = current.take() {
            count = count.saturating_add(1);
            longest = longest.max(len);
        }
    };
    for p in pieces {
        let counted_down = !p.in_window && p.state == State::Down;
        let bridges = matches!(p.state, State::Maintenance | State::Unknown)
            || (p.in_window && p.state == State::Down);
        if counted_down {
            *current.get_or_insert(0) += p.end - p.start;
        } else if !bridges {
            close(&mut current);
        }
    }
    close(&mut current);
    (count, longest)
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use State::{Degraded as Dg, Down as Dn, Maintenance as Mt, Unknown as Un, Up};

    /// Minute `m` after a fixed origin (no real clock).
    fn t(m: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + 60 * m).unwrap()
    }

    fn span(a: i64, b: i64) -> Span {
        Span {
            start: t(a),
            end: t(b),
        }
    }

    fn hist(entries: &[(i64, State)]) -> Vec<(Timestamp, State)> {
        entries.iter().map(|&(m, s)| (t(m), s)).collect()
    }

    /// Figures with durations in whole minutes, for readable expectations.
    #[allow(clippy::too_many_arguments)]
    fn fig(
        up: i64,
        dg: i64,
        dn: i64,
        un: i64,
        mt: i64,
        outages: u32,
        longest: i64,
        availability: Option<f64>,
        coverage: Option<f64>,
    ) -> Figures {
        Figures {
            up_s: (up * 60) as f64,
            degraded_s: (dg * 60) as f64,
            down_s: (dn * 60) as f64,
            unknown_s: (un * 60) as f64,
            maintenance_s: (mt * 60) as f64,
            availability,
            coverage,
            outages,
            longest_outage_s: (longest * 60) as f64,
        }
    }

    fn assert_sums_to_period(f: &Figures, from: i64, to: i64) {
        let sum = f.up_s + f.degraded_s + f.down_s + f.unknown_s + f.maintenance_s;
        assert_eq!(sum, ((to - from) * 60) as f64, "{f:?}");
    }

    #[test]
    fn empty_or_inverted_period_is_all_zero() {
        let h = hist(&[(0, Up)]);
        assert_eq!(compute(&h, t(10), t(10), t(20), &[]), Figures::default());
        assert_eq!(compute(&h, t(10), t(5), t(20), &[]), Figures::default());
    }

    #[test]
    fn empty_history_is_unknown() {
        let f = compute(&[], t(0), t(60), t(100), &[]);
        assert_eq!(f, fig(0, 0, 0, 60, 0, 0, 0, None, Some(0.0)));
    }

    #[test]
    fn outage_crossing_both_period_edges() {
        let h = hist(&[(0, Up), (10, Dn), (100, Up)]);
        let f = compute(&h, t(20), t(80), t(200), &[]);
        assert_eq!(f, fig(0, 0, 60, 0, 0, 1, 60, Some(0.0), Some(1.0)));
    }

    #[test]
    fn simple_mix_with_degraded() {
        // 0..30 up, 30..40 down, 40..50 degraded, 50..60 up.
        let h = hist(&[(-5, Up), (30, Dn), (40, Dg), (50, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        assert_eq!(
            f,
            fig(40, 10, 10, 0, 0, 1, 10, Some(50.0 / 60.0), Some(1.0))
        );
    }

    #[test]
    fn maintenance_partly_overlapping_an_outage() {
        // Down 20..40; window 30..50 takes the second half of the outage and 10 min of up.
        let h = hist(&[(0, Up), (20, Dn), (40, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[span(30, 50)]);
        assert_eq!(
            f,
            fig(30, 0, 10, 0, 20, 1, 10, Some(30.0 / 40.0), Some(1.0))
        );
    }

    #[test]
    fn maintenance_fully_covering_an_outage() {
        let h = hist(&[(0, Up), (20, Dn), (40, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[span(15, 45)]);
        assert_eq!(f, fig(30, 0, 0, 0, 30, 0, 0, Some(1.0), Some(1.0)));
    }

    #[test]
    fn maintenance_crossing_period_edges_is_clipped() {
        let h = hist(&[(0, Up)]);
        let f = compute(&h, t(10), t(70), t(100), &[span(-50, 20), span(60, 500)]);
        assert_eq!(f, fig(40, 0, 0, 0, 20, 0, 0, Some(1.0), Some(1.0)));
    }

    #[test]
    fn overlapping_maintenance_windows_count_once() {
        let h = hist(&[(0, Up)]);
        let w = [
            span(10, 30),
            span(20, 40),
            span(25, 35),
            span(40, 45),
            span(50, 50),
        ];
        let f = compute(&h, t(0), t(60), t(60), &w);
        assert_eq!(f, fig(25, 0, 0, 0, 35, 0, 0, Some(1.0), Some(1.0)));
    }

    #[test]
    fn whole_period_in_maintenance_has_no_coverage() {
        let h = hist(&[(0, Dn)]);
        let f = compute(&h, t(0), t(60), t(60), &[span(-10, 70)]);
        assert_eq!(f, fig(0, 0, 0, 0, 60, 0, 0, None, None));
    }

    #[test]
    fn maintenance_entry_in_history_counts_as_maintenance() {
        let h = hist(&[(0, Up), (10, Mt), (20, Up)]);
        let f = compute(&h, t(0), t(30), t(30), &[]);
        assert_eq!(f, fig(20, 0, 0, 0, 10, 0, 0, Some(1.0), Some(1.0)));
    }

    #[test]
    fn restart_gap_is_unknown_not_up() {
        // Up, daemon stopped at 20 (unknown), back at 35 and up.
        let h = hist(&[(0, Up), (20, Un), (35, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        assert_eq!(f, fig(45, 0, 0, 15, 0, 0, 0, Some(1.0), Some(0.75)));
    }

    #[test]
    fn outage_open_at_to() {
        let h = hist(&[(0, Up), (50, Dn)]);
        let f = compute(&h, t(0), t(60), t(120), &[]);
        assert_eq!(f, fig(50, 0, 10, 0, 0, 1, 10, Some(50.0 / 60.0), Some(1.0)));
    }

    #[test]
    fn outage_open_at_now_then_future_is_unknown() {
        let h = hist(&[(0, Up), (30, Dn)]);
        let f = compute(&h, t(0), t(60), t(45), &[]);
        assert_eq!(
            f,
            fig(30, 0, 15, 15, 0, 1, 15, Some(30.0 / 45.0), Some(0.75))
        );
    }

    #[test]
    fn period_entirely_in_the_future() {
        let h = hist(&[(0, Up)]);
        let f = compute(&h, t(100), t(160), t(50), &[]);
        assert_eq!(f, fig(0, 0, 0, 60, 0, 0, 0, None, Some(0.0)));
    }

    #[test]
    fn period_before_any_history() {
        let h = hist(&[(100, Up)]);
        let f = compute(&h, t(0), t(60), t(200), &[]);
        assert_eq!(f, fig(0, 0, 0, 60, 0, 0, 0, None, Some(0.0)));
    }

    #[test]
    fn clock_stepping_backwards_never_gives_negative_durations() {
        // Written in this order: up at 0, down at 30, then the clock stepped
        // back and up was written "at 20", then down "at 25" and up at 40.
        let h = hist(&[(0, Up), (30, Dn), (20, Up), (25, Dn), (40, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        // Effective: up 0..30, down 30..30 (empty), up 30..30, down 30..40, up 40..60.
        assert_eq!(f, fig(50, 0, 10, 0, 0, 1, 10, Some(50.0 / 60.0), Some(1.0)));
        assert_sums_to_period(&f, 0, 60);

        // An entry stepped back before `from` stays inside the ordering too.
        let h = hist(&[(10, Up), (50, Dn), (-100, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        assert_eq!(f, fig(50, 0, 0, 10, 0, 0, 0, Some(1.0), Some(50.0 / 60.0)));
        assert!(f.availability.unwrap() <= 1.0 && f.coverage.unwrap() <= 1.0);
    }

    #[test]
    fn entry_stamped_after_now_is_not_observed_yet() {
        // An entry stamped after `now` (clock ahead when written) is not observed yet.
        let h = hist(&[(0, Up), (50, Dn)]);
        let f = compute(&h, t(0), t(60), t(40), &[]);
        assert_eq!(f, fig(40, 0, 0, 20, 0, 0, 0, Some(1.0), Some(40.0 / 60.0)));
    }

    #[test]
    fn outages_count_and_longest() {
        // Down 10..15, 20..35 (two causes, one outage), 40..42, and 55..70 clipped at 60.
        let h = hist(&[
            (0, Up),
            (10, Dn),
            (15, Up),
            (20, Dn),
            (28, Dn),
            (35, Dg),
            (40, Dn),
            (42, Up),
            (55, Dn),
            (70, Up),
        ]);
        let f = compute(&h, t(0), t(60), t(100), &[]);
        assert_eq!(f.outages, 4);
        assert_eq!(f.longest_outage_s, 15.0 * 60.0);
        assert_eq!(f.down_s, (5 + 15 + 2 + 5) as f64 * 60.0);
        assert_sums_to_period(&f, 0, 60);
    }

    #[test]
    fn outage_split_by_a_restart_gap_is_one_outage() {
        // Down 10..20, the daemon not running 20..25 (unknown), down again
        // 25..40: one outage of 25 down minutes, the 5 unknown ones apart.
        let h = hist(&[(0, Up), (10, Dn), (20, Un), (25, Dn), (40, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        assert_eq!(
            f,
            fig(30, 0, 25, 5, 0, 1, 25, Some(30.0 / 55.0), Some(55.0 / 60.0))
        );

        // Seen up after the gap: the outage ended, the next one is another.
        let h = hist(&[(0, Up), (10, Dn), (20, Un), (25, Up), (30, Dn), (40, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        assert_eq!((f.outages, f.longest_outage_s), (2, 600.0));

        // Unknown before any outage bridges nothing; an outage still open
        // into an unknown end of the period is one.
        let h = hist(&[(0, Un), (10, Dn), (20, Un)]);
        let f = compute(&h, t(0), t(60), t(60), &[]);
        assert_eq!((f.outages, f.longest_outage_s), (1, 600.0));
    }

    #[test]
    fn outage_split_by_maintenance_is_one_outage() {
        // Down 10..50 throughout a window 20..30: one outage of 30 down minutes.
        let h = hist(&[(0, Up), (10, Dn), (50, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[span(20, 30)]);
        assert_eq!(f.outages, 1);
        assert_eq!(f.longest_outage_s, 30.0 * 60.0);
        assert_eq!(f.down_s, 30.0 * 60.0);

        // But if the ledger shows it up inside the window, they are two.
        let h = hist(&[(0, Up), (10, Dn), (22, Up), (27, Dn), (50, Up)]);
        let f = compute(&h, t(0), t(60), t(60), &[span(20, 30)]);
        assert_eq!(f.outages, 2);
        assert_eq!(f.longest_outage_s, 20.0 * 60.0);
    }

    #[test]
    fn pooled_figures_weigh_targets_by_their_observed_time() {
        // 50 up + 10 down, and 20 up + 10 degraded + 30 unknown + 10 maintenance.
        let a = fig(50, 0, 10, 0, 0, 1, 10, Some(50.0 / 60.0), Some(1.0));
        let b = fig(20, 10, 0, 30, 10, 0, 0, Some(1.0), Some(0.5));
        let p = Figures::pooled([&a, &b]);
        assert_eq!(
            p,
            fig(
                70,
                10,
                10,
                30,
                10,
                1,
                10,
                Some(80.0 / 90.0),
                Some(90.0 / 120.0)
            )
        );
        assert_eq!(Figures::pooled([]), Figures::default());
        let unknown = fig(0, 0, 0, 60, 0, 0, 0, None, Some(0.0));
        assert_eq!(Figures::pooled([&unknown]).availability, None);
        assert_eq!(Figures::pooled([&unknown]).coverage, Some(0.0));
    }

    #[test]
    fn millisecond_precision() {
        let from = t(0);
        let down = from
            .checked_add(SignedDuration::from_millis(1_500))
            .unwrap();
        let up = from
            .checked_add(SignedDuration::from_millis(3_750))
            .unwrap();
        let to = from
            .checked_add(SignedDuration::from_millis(10_000))
            .unwrap();
        let f = compute(&[(from, Up), (down, Dn), (up, Up)], from, to, to, &[]);
        assert_eq!(f.down_s, 2.25);
        assert_eq!(f.up_s, 7.75);
        assert_eq!(f.longest_outage_s, 2.25);
        assert_eq!(f.availability, Some(0.775));
    }
}
