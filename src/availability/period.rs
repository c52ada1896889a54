//! The periods figures are published for: rolling windows ending now and the
//! calendar year, whose start depends on the configured time zone.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The rolling windows `netkpi_availability_ratio` is published for (the
/// `window` label).
pub const WINDOWS: [&str; 3] = ["1d", "30d", "ytd"];

/// Jan 1 00:00 of `now`'s year in `tz`, as an instant.
///
/// Where local midnight does not exist (a DST gap at midnight), the instant
/// just after the gap is used (jiff's "compatible" disambiguation). Falls back
/// to `now` only at the edge of the representable range.
pub fn year_start(now: Timestamp, tz: &TimeZone) -> Timestamp {
    now.to_zoned_datetime(tz.clone())
        .date()
        .first_of_year()
        .to_zoned_datetime(tz.clone())
        .map(|zdt| zdt.timestamp())
        .unwrap_or(now)
}

/// Start of a rolling window ending at `now`: `"1d"` is the last 24 h,
/// `"30d"` the last 30 × 24 h (fixed lengths, not calendar days, so a DST
/// change does not make a window longer), `"ytd"` is [`year_start`].
///
/// Any other name (see [`WINDOWS`]) gives `now`, an empty window whose figures
/// are all `None`, rather than a plausible but wrong number.
pub fn window_start(window: &str, now: Timestamp, tz: &TimeZone) -> Timestamp {
    let back = |hours: i64| {
        now.checked_sub(SignedDuration::from_hours(hours))
            .unwrap_or(Timestamp::MIN)
    };
    match window {
        "1d" => back(24),
        "30d" => back(30 * 24),
        "ytd" => year_start(now, tz),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_start_in_shanghai() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now: Timestamp = "2026-01-01T00:30:00+08:00".parse().unwrap();
        let want: Timestamp = "2025-12-31T16:00:00Z".parse().unwrap();
        assert_eq!(year_start(now, &tz), want);
        // Just before local midnight it is still the previous year.
        let now: Timestamp = "2025-12-31T23:59:59+08:00".parse().unwrap();
        let want: Timestamp = "2024-12-31T16:00:00Z".parse().unwrap();
        assert_eq!(year_start(now, &tz), want);
        assert_eq!(window_start("ytd", now, &tz), want);
    }

    #[test]
    fn rolling_windows() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let day: Timestamp = "2026-03-09T12:00:00Z".parse().unwrap();
        let month: Timestamp = "2026-02-08T12:00:00Z".parse().unwrap();
        assert_eq!(window_start("1d", now, &tz), day);
        assert_eq!(window_start("30d", now, &tz), month);
        assert_eq!(window_start("7y", now, &tz), now);
        for w in WINDOWS {
            assert!(window_start(w, now, &tz) < now, "{w}");
        }
    }
}
