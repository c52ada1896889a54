//! Human durations in the config file: `"500ms"`, `"10s"`, `"5m"`, `"4h"`, `"1d"`.

use std::time::Duration;

/// Parses one of the forms above. Compound forms (`"1h30m"`) are accepted too,
/// since operators write them; a bare number is refused because its unit
/// would be a guess.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let text = crate::diag::Shown(text);
    if s.is_empty() {
        return Err("empty duration; write e.g. \"10s\", \"500ms\", \"5m\"".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}; write a number and a unit: ms, s, m, h, d (e.g. \"10s\")"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration {text:?} is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "duration {text:?} has no unit; write e.g. \"{number}s\" or \"{number}ms\""
                ))
            }
            other => {
                let other = crate::diag::Shown(other);
                return Err(format!(
                    "unknown unit {other:?} in duration {text:?}; use ms, s, m, h or d"
                ));
            }
        };
        let millis = number
            .checked_mul(millis_per_unit)
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way the config file writes it, for messages.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1_000 == 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("4h"), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess() {
        assert!(parse("10").unwrap_err().contains("no unit"));
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("10 sec").is_err());
        assert!(parse("3w").unwrap_err().contains("unknown unit \"w\""));
        assert!(parse("99999999999999999999s")
            .unwrap_err()
            .contains("too large"));
        assert!(parse("-1s").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["500ms", "10s", "5m", "4h"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
