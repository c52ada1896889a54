//! The periods figures are published for: rolling windows ending now, the
//! calendar year, whose start depends on the configured time zone, and the
//! periods an operator asks for (`year=`, `month=`, `from=`/`to=`), read by
//! one parser for the API and the command line ([`PeriodArgs::resolve`]).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// The windows `netkpi_availability_ratio` is published for (the `window`
/// label): three rolling ones ending now, and two calendar months in the
/// configured time zone for the monthly figures managers ask for.
pub const WINDOWS: [&str; 5] = ["1d", "30d", "ytd", "mtd", "last_month"];

/// Jan 1 00:00 of `now`'s year in `tz`, as an instant.
///
/// Where local midnight does not exist (a DST gap at midnight), the instant
/// just after the gap is used (jiff's "compatible" disambiguation). Falls back
/// to `now` only at the edge of the representable range.
pub fn year_start(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let first = now.to_zoned_datetime(tz.clone()).date().first_of_year();
    local_midnight(first, tz).unwrap_or(now)
}

/// The 1st 00:00 of `now`'s month in `tz`, as an instant (the same
/// disambiguation and fallback as [`year_start`]).
pub fn month_start(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let first = now.to_zoned_datetime(tz.clone()).date().first_of_month();
    local_midnight(first, tz).unwrap_or(now)
}

/// The period `[from, to)` a window of [`WINDOWS`] covers at `now`:
/// - `"1d"` is the last 24 h and `"30d"` the last 30 × 24 h (fixed lengths,
///   not calendar days, so a DST change does not make a window longer);
/// - `"ytd"` runs from [`year_start`] and `"mtd"` from [`month_start`] to now;
/// - `"last_month"` is the whole calendar month before `now`'s, in `tz`.
///
/// Any other name gives `[now, now)`, an empty window whose figures are all
/// `None`, rather than a plausible but wrong number.
pub fn window_period(window: &str, now: Timestamp, tz: &TimeZone) -> (Timestamp, Timestamp) {
    let back = |hours: i64| {
        now.checked_sub(SignedDuration::from_hours(hours))
            .unwrap_or(Timestamp::MIN)
    };
    match window {
        "1d" => (back(24), now),
        "30d" => (back(30 * 24), now),
        "ytd" => (year_start(now, tz), now),
        "mtd" => (month_start(now, tz), now),
        "last_month" => {
            let this = now.to_zoned_datetime(tz.clone()).date().first_of_month();
            let from = this
                .checked_sub(1.month())
                .ok()
                .and_then(|d| local_midnight(d, tz).ok());
            match (from, local_midnight(this, tz)) {
                (Some(from), Ok(to)) => (from, to),
                _ => (now, now),
            }
        }
        _ => (now, now),
    }
}

/// What an operator asked for: at most one of a year, a month, or a
/// `from`/`to` pair, as text (from the command line or a query string).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeriodArgs {
    /// `2020`.
    pub year: Option<String>,
    /// `2020-03`.
    pub month: Option<String>,
    /// An instant ([`parse_instant`]); without it the year of `now` starts.
    pub from: Option<String>,
    /// An instant; without it, `now`.
    pub to: Option<String>,
}

/// Which kind of period was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodKind {
    Year,
    Month,
    Range,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Year => "year",
            PeriodKind::Month => "month",
            PeriodKind::Range => "range",
        }
    }
}

/// A half-open period `[from, to)` of instants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    /// `2020`, `2020-03`, or the two ends as given.
    pub label: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Period {
    /// The calendar year `year` in `tz`: 2020 in Asia/Shanghai is
    /// 2019-12-31T16:00Z … 2020-12-31T16:00Z.
    pub fn year(year: i16, tz: &TimeZone) -> Result<Period, String> {
        let first = Date::new(year, 1, 1).map_err(|e| format!("year {year}: {e}"))?;
        let next = first
            .checked_add(1.year())
            .map_err(|e| format!("year {year}: {e}"))?;
        Ok(Period {
            kind: PeriodKind::Year,
            label: format!("{year:04}"),
            from: local_midnight(first, tz)?,
            to: local_midnight(next, tz)?,
        })
    }

    /// The calendar month `year`-`month` in `tz`.
    pub fn month(year: i16, month: i8, tz: &TimeZone) -> Result<Period, String> {
        let first = Date::new(year, month, 1).map_err(|e| format!("month {year}-{month}: {e}"))?;
        let next = first
            .checked_add(1.month())
            .map_err(|e| format!("month {year}-{month}: {e}"))?;
        Ok(Period {
            kind: PeriodKind::Month,
            label: format!("{year:04}-{month:02}"),
            from: local_midnight(first, tz)?,
            to: local_midnight(next, tz)?,
        })
    }

    /// The calendar months the period touches, each cut to the period, in
    /// order: `(label, from, to)`.
    pub fn months(&self, tz: &TimeZone) -> Vec<(String, Timestamp, Timestamp)> {
        let mut out = Vec::new();
        let start = self
            .from
            .to_zoned_datetime(tz.clone())
            .date()
            .first_of_month();
        let mut month = start;
        while let Ok(m) = Period::month(month.year(), month.month(), tz) {
            if m.from >= self.to {
                break;
            }
            out.push((m.label, m.from.max(self.from), m.to.min(self.to)));
            match month.checked_add(1.month()) {
                Ok(next) => month = next,
                Err(_) => break,
            }
        }
        out
    }

    /// An error when the period has not begun at `now`: it has no figures.
    pub fn check_started(&self, now: Timestamp, tz: &TimeZone) -> Result<(), String> {
        if self.from >= now {
            return Err(format!(
                "the period {} starts in the future ({}); nothing has been recorded for it yet",
                self.label,
                crate::model::format_time(self.from, tz)
            ));
        }
        Ok(())
    }
}

impl PeriodArgs {
    /// The period asked for, in `tz`; none of the four gives the current
    /// year so far (from its start to `now`). Errors are sentences an
    /// operator can act on: two kinds of period at once, a malformed year,
    /// month or time, `to` not after `from`.
    pub fn resolve(&self, tz: &TimeZone, now: Timestamp) -> Result<Period, String> {
        let range = self.from.is_some() || self.to.is_some();
        let given = [self.year.is_some(), self.month.is_some(), range];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err("give one period: a year, a month, or from and to".to_string());
        }
        if let Some(text) = &self.year {
            let year = text
                .trim()
                .parse::<i16>()
                .ok()
                .filter(|y| (1970..=9999).contains(y))
                .ok_or_else(|| format!("year {text:?} is not a year like 2020"))?;
            return Period::year(year, tz);
        }
        if let Some(text) = &self.month {
            let bad = || format!("month {text:?} is not a month like 2020-03");
            let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
            let year = y
                .parse::<i16>()
                .ok()
                .filter(|y| (1970..=9999).contains(y))
                .ok_or_else(bad)?;
            let month = m
                .parse::<i8>()
                .ok()
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(bad)?;
            if m.len() != 2 {
                return Err(bad());
            }
            return Period::month(year, month, tz);
        }
        let instant = |key: &str, text: &str| {
            parse_instant(text, tz).map_err(|e| format!("{key}={:?} {e}", clip(text.trim())))
        };
        let from = match &self.from {
            Some(text) => instant("from", text)?,
            None => year_start(now, tz),
        };
        let to = match &self.to {
            Some(text) => instant("to", text)?,
            None => now,
        };
        if to <= from {
            return Err(format!(
                "the period is empty: to ({}) must be after from ({})",
                crate::model::format_time(to, tz),
                crate::model::format_time(from, tz)
            ));
        }
        let show = |given: &Option<String>, t: Timestamp| {
            given.as_deref().map_or_else(
                || crate::model::format_time(t, tz),
                |s| s.trim().to_string(),
            )
        };
        Ok(Period {
            kind: PeriodKind::Range,
            label: format!("{} – {}", show(&self.from, from), show(&self.to, to)),
            from,
            to,
        })
    }
}

/// An instant as an operator writes it: RFC 3339 with an offset
/// (`2026-01-01T00:00:00+08:00`, `...Z`), a local date (`2026-01-01`: local
/// midnight in `tz`), or a local date and time without offset
/// (`2026-01-01T08:00:00`, in `tz`).
///
/// A `+` offset that arrived as a space (a query string decodes `+` as a
/// space: `2026-01-01T00:00:00 08:00`) is read as the `+` it was.
pub fn parse_instant(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let text = text.trim();
    let repaired;
    let text = match text.rsplit_once(' ') {
        Some((time, offset)) if looks_like_offset(offset) && time.contains('T') => {
            repaired = format!("{time}+{offset}");
            repaired.as_str()
        }
        _ => text,
    };
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = text.parse::<Date>() {
        if text.len() == 10 {
            return local_midnight(date, tz);
        }
    }
    if let Ok(dt) = text.parse::<DateTime>() {
        if !text.ends_with(['Z', 'z']) && !has_offset(text) {
            return dt
                .to_zoned_datetime(tz.clone())
                .map(|z| z.timestamp())
                .map_err(|e| {
                    format!(
                        "is not a time in {}: {e}",
                        tz.iana_name().unwrap_or("the configured zone")
                    )
                });
        }
    }
    Err("is not a time: write RFC 3339 with an offset (2026-01-01T00:00:00+08:00) or a local date (2026-01-01)".to_string())
}

/// `08:00` or `0800`: an offset whose `+` became a space.
fn looks_like_offset(s: &str) -> bool {
    let digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    match s.split_once(':') {
        Some((h, m)) => digits(h) && digits(m),
        None => s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Whether a date-time text carries a numeric offset after its time.
fn has_offset(text: &str) -> bool {
    text.split_once('T')
        .is_some_and(|(_, time)| time.contains(['+', '-']))
}

/// At most 100 characters of what was given, for a message.
fn clip(text: &str) -> String {
    match text.char_indices().nth(100) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// Midnight at the start of `date` in `tz` (just after a DST gap there).
fn local_midnight(date: Date, tz: &TimeZone) -> Result<Timestamp, String> {
    date.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| format!("{date}: {e}"))
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
        assert_eq!(window_period("ytd", now, &tz), (want, now));
    }

    #[test]
    fn month_windows_in_shanghai() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        // Just after local midnight on the 1st: a new month in Shanghai, while
        // it is still the last day of the previous one in UTC.
        let now = ts("2026-03-01T00:00:01+08:00");
        assert_eq!(month_start(now, &tz), ts("2026-02-28T16:00:00Z"));
        assert_eq!(
            window_period("mtd", now, &tz),
            (ts("2026-02-28T16:00:00Z"), now)
        );
        assert_eq!(
            window_period("last_month", now, &tz),
            (ts("2026-01-31T16:00:00Z"), ts("2026-02-28T16:00:00Z")),
            "February 2026, 28 days"
        );
        // One second before local midnight: still February.
        let now = ts("2026-02-28T23:59:59+08:00");
        assert_eq!(
            window_period("mtd", now, &tz),
            (ts("2026-01-31T16:00:00Z"), now)
        );
        assert_eq!(
            window_period("last_month", now, &tz),
            (ts("2025-12-31T16:00:00Z"), ts("2026-01-31T16:00:00Z"))
        );
        // January: last month is December of the year before, and the month
        // to date starts where the year to date does.
        let now = ts("2026-01-15T12:00:00+08:00");
        assert_eq!(
            window_period("last_month", now, &tz),
            (ts("2025-11-30T16:00:00Z"), ts("2025-12-31T16:00:00Z"))
        );
        assert_eq!(
            window_period("mtd", now, &tz),
            window_period("ytd", now, &tz)
        );
        // A leap February.
        let now = ts("2028-03-10T08:00:00+08:00");
        assert_eq!(
            window_period("last_month", now, &tz),
            (ts("2028-01-31T16:00:00Z"), ts("2028-02-29T16:00:00Z"))
        );
        // The same calendar as the `month=` of reports.
        let feb = Period::month(2028, 2, &tz).unwrap();
        assert_eq!(window_period("last_month", now, &tz), (feb.from, feb.to));
    }

    #[test]
    fn rolling_windows() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let day: Timestamp = "2026-03-09T12:00:00Z".parse().unwrap();
        let month: Timestamp = "2026-02-08T12:00:00Z".parse().unwrap();
        assert_eq!(window_period("1d", now, &tz), (day, now));
        assert_eq!(window_period("30d", now, &tz), (month, now));
        assert_eq!(window_period("7y", now, &tz), (now, now));
        for w in WINDOWS {
            let (from, to) = window_period(w, now, &tz);
            assert!(from < to && to <= now, "{w}");
        }
    }

    fn args(
        year: Option<&str>,
        month: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> PeriodArgs {
        PeriodArgs {
            year: year.map(str::to_string),
            month: month.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn calendar_periods_in_the_zone() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now = ts("2026-06-01T00:00:00Z");
        let y = args(Some("2020"), None, None, None)
            .resolve(&tz, now)
            .unwrap();
        assert_eq!(
            (y.from, y.to),
            (ts("2019-12-31T16:00:00Z"), ts("2020-12-31T16:00:00Z"))
        );
        assert_eq!((y.kind, y.label.as_str()), (PeriodKind::Year, "2020"));
        let m = args(None, Some("2020-02"), None, None)
            .resolve(&tz, now)
            .unwrap();
        assert_eq!(
            (m.from, m.to),
            (ts("2020-01-31T16:00:00Z"), ts("2020-02-29T16:00:00Z"))
        );
        let months = y.months(&tz);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].0, "2020-01");
        assert_eq!(months[11].2, y.to);
        for w in months.windows(2) {
            assert_eq!(w[0].2, w[1].1, "months are contiguous");
        }
        // A range cut inside months.
        let r = args(None, None, Some("2020-01-15"), Some("2020-03-10"))
            .resolve(&tz, now)
            .unwrap();
        let months = r.months(&tz);
        assert_eq!(
            months.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
            ["2020-01", "2020-02", "2020-03"]
        );
        assert_eq!((months[0].1, months[2].2), (r.from, r.to));
    }

    #[test]
    fn instants_as_operators_write_them() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let want = ts("2025-12-31T16:00:00Z");
        for text in [
            "2026-01-01",
            "2026-01-01T00:00:00+08:00",
            "2026-01-01T00:00:00 08:00",
            " 2026-01-01T00:00:00 0800",
            "2025-12-31T16:00:00Z",
            "2026-01-01T00:00:00",
        ] {
            assert_eq!(parse_instant(text, &tz), Ok(want), "{text}");
        }
        for bad in [
            "2026-13-01",
            "yesterday",
            "2026/01/01",
            "",
            "2026-01-01T00:00:00 8",
        ] {
            let err = parse_instant(bad, &tz).unwrap_err();
            assert!(
                err.contains("not a time") || err.contains(bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_periods_are_refused_with_a_reason() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now = ts("2026-06-01T00:00:00Z");
        let err = |a: PeriodArgs| a.resolve(&tz, now).unwrap_err();
        assert!(
            err(args(None, None, Some("2020-03-01"), Some("2020-02-01"))).contains("must be after")
        );
        assert!(err(args(Some("2020"), Some("2020-01"), None, None)).contains("one period"));
        assert!(err(args(Some("20x0"), None, None, None)).contains("not a year"));
        assert!(err(args(None, Some("2020-13"), None, None)).contains("not a month"));
        assert!(err(args(None, Some("2020-3"), None, None)).contains("not a month"));
        assert!(
            err(args(None, None, Some("soon"), None)).starts_with("from=\"soon\" is not a time")
        );
        let future = args(Some("2027"), None, None, None)
            .resolve(&tz, now)
            .unwrap();
        assert!(future
            .check_started(now, &tz)
            .unwrap_err()
            .contains("future"));
        let current = args(Some("2026"), None, None, None)
            .resolve(&tz, now)
            .unwrap();
        assert_eq!(current.check_started(now, &tz), Ok(()));
        // Nothing given: the year so far.
        let ytd = PeriodArgs::default().resolve(&tz, now).unwrap();
        assert_eq!((ytd.from, ytd.to), (ts("2025-12-31T16:00:00Z"), now));
    }
}
