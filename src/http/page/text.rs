//! Small writers for the page: escaped text, local times and ages, each a
//! `Display` so rows are written straight into the page with `write!`.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Text escaped for HTML content and quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// A time in the configured zone, to the second: `2026-03-01 08:00:00`.
pub struct Local<'a>(pub Timestamp, pub &'a TimeZone);

impl fmt::Display for Local<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.1.to_datetime(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// How long ago, coarsely: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub struct Age(pub SignedDuration);

impl Age {
    pub fn between(from: Timestamp, now: Timestamp) -> Age {
        Age(now.duration_since(from))
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs().max(0);
        let (m, h, d) = (s / 60, s / 3600, s / 86_400);
        if s < 60 {
            write!(f, "{s} s")
        } else if m < 60 {
            write!(f, "{m} min")
        } else if h < 24 {
            write!(f, "{h} h {} min", m % 60)
        } else {
            write!(f, "{d} d {} h", h % 24)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            Esc(r#"<b a="1">Tom & 'Jerry'</b>"#).to_string(),
            "&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        assert_eq!(Esc("税务局 plain").to_string(), "税务局 plain");
        assert_eq!(Esc("").to_string(), "");
    }

    #[test]
    fn times_are_local_and_ages_coarse() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let ts: Timestamp = "2026-03-01T00:00:05Z".parse().unwrap();
        assert_eq!(Local(ts, &tz).to_string(), "2026-03-01 08:00:05");
        let age = |s| Age(SignedDuration::from_secs(s)).to_string();
        assert_eq!(age(-3), "0 s");
        assert_eq!(age(59), "59 s");
        assert_eq!(age(12 * 60 + 59), "12 min");
        assert_eq!(age(3 * 3600 + 5 * 60), "3 h 5 min");
        assert_eq!(age(2 * 86_400 + 4 * 3600 + 7), "2 d 4 h");
    }
}
