//! One ICMP round as the scheduler's sink takes it: echoes spaced inside
//! the interval, and the finished round classified with its readings.

use std::time::Duration;

use super::IcmpRound;
use crate::config::IcmpSettings;
use crate::probes::{Readings, Taken};

/// Echoes of one round are spread over at most this much time, as fping does
/// by default; tighter when the interval is short, so a round always ends
/// (last echo plus its timeout) before the next one starts.
const MAX_ECHO_SPACING: Duration = Duration::from_secs(1);

pub fn echo_spacing(settings: &IcmpSettings) -> Duration {
    let budget = settings.interval.saturating_sub(settings.timeout);
    let per_echo = budget / settings.count.max(1);
    per_echo.min(MAX_ECHO_SPACING)
}

/// A finished round as the ledger weighs it and the live view shows it.
pub fn taken(round: &IcmpRound, degraded_loss: f64) -> Taken {
    Taken {
        round: round.classify(degraded_loss),
        failure: round.failure.map(|f| f.as_str()),
        readings: Readings {
            rtt_seconds: round.rtt_avg.map(|d| d.as_secs_f64()),
            loss_ratio: (round.sent > 0).then(|| round.loss_ratio()),
            ..Readings::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(interval: u64, timeout: u64, count: u32) -> IcmpSettings {
        IcmpSettings {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
            count,
            down_after: 3,
            up_after: 2,
            degraded_loss: 0.5,
        }
    }

    #[test]
    fn a_round_always_ends_before_the_next_starts() {
        for (interval, timeout, count) in [
            (10_000, 1_000, 3),
            (1_000, 300, 3),
            (1_000, 900, 10),
            (2_000, 1_999, 1),
        ] {
            let s = settings(interval, timeout, count);
            let spacing = echo_spacing(&s);
            let last_reply_deadline = spacing * (count - 1) + s.timeout;
            assert!(
                last_reply_deadline <= s.interval,
                "{interval} {timeout} {count}: {last_reply_deadline:?}"
            );
        }
        assert_eq!(
            echo_spacing(&settings(10_000, 1_000, 3)),
            Duration::from_secs(1)
        );
    }
}
