//! ICMP settings (`[defaults.icmp]`, each device's `icmp`), layered over
//! the built-in defaults.

use super::super::builtin;
use super::super::raw::RawIcmp;
use super::super::IcmpSettings;
use super::fields::{count, duration, ratio};
use crate::diag::Diags;

/// Resolves one `icmp` table over `base` (the built-ins for
/// `[defaults.icmp]`, the defaults for a device). A refused value falls back
/// to `base`, so one mistake is reported once, where it was written.
///
/// `base_timing_known` is false when `base` had an `interval` or `timeout`
/// that was refused; the returned flag says the same of the result. Where
/// either is unknown the timeout-vs-interval check is skipped: the value it
/// would compare against is a fallback the operator did not choose, and
/// the refused value is reported already.
pub(super) fn icmp_layer(
    raw: &RawIcmp,
    base: &IcmpSettings,
    base_timing_known: bool,
    base_name: &str,
    path: &str,
    diags: &mut Diags<'_>,
) -> (IcmpSettings, bool) {
    let mut out = base.clone();
    let mut interval_ok = false;
    let mut timeout_ok = false;

    if let Some(s) = &raw.interval {
        let p = format!("{path}.interval");
        if let Some(d) = duration(s, &p, diags) {
            if d < builtin::ICMP_MIN_INTERVAL {
                diags.at(
                    s.span(),
                    p,
                    "interval must be at least 1s: faster rounds load the devices' control planes without detecting an outage sooner",
                );
            } else if d > builtin::ICMP_MAX_INTERVAL {
                diags.at(
                    s.span(),
                    p,
                    "interval must be at most 1h: outages shorter than the interval would go unrecorded",
                );
            } else {
                out.interval = d;
                interval_ok = true;
            }
        }
    }
    if let Some(s) = &raw.timeout {
        let p = format!("{path}.timeout");
        if let Some(d) = duration(s, &p, diags) {
            if d.is_zero() {
                diags.at(s.span(), p, "timeout must be longer than 0, e.g. \"1s\"");
            } else {
                out.timeout = d;
                timeout_ok = true;
            }
        }
    }
    if let Some(v) = count(
        &raw.count,
        1,
        builtin::ICMP_MAX_COUNT,
        path,
        "count",
        "echoes per round",
        diags,
    ) {
        out.count = v;
    }
    if let Some(v) = count(
        &raw.down_after,
        1,
        builtin::ICMP_MAX_CONFIRM,
        path,
        "down_after",
        "failed rounds",
        diags,
    ) {
        out.down_after = v;
    }
    if let Some(v) = count(
        &raw.up_after,
        1,
        builtin::ICMP_MAX_CONFIRM,
        path,
        "up_after",
        "answered rounds",
        diags,
    ) {
        out.up_after = v;
    }
    if let Some(s) = &raw.degraded_loss {
        if let Some(v) = ratio(s, &format!("{path}.degraded_loss"), "degraded_loss", diags) {
            out.degraded_loss = v;
        }
    }

    let refused =
        (raw.interval.is_some() && !interval_ok) || (raw.timeout.is_some() && !timeout_ok);
    let timing_known = base_timing_known && !refused;

    // A round has to end before the next one starts, or rounds overlap and a
    // slow answer is counted against the wrong round. Checked only where this
    // table set one of the two; otherwise it was checked where they were set.
    if timing_known && (interval_ok || timeout_ok) && out.timeout >= out.interval {
        let (span, key) = match (&raw.timeout, timeout_ok) {
            (Some(t), true) => (t.span(), "timeout"),
            _ => (raw.interval.as_ref().map_or(0..0, |i| i.span()), "interval"),
        };
        let from = |set_here: bool| {
            if set_here {
                String::new()
            } else {
                format!(" from {base_name}")
            }
        };
        diags.at(
            span,
            format!("{path}.{key}"),
            format!(
                "timeout {}{} must be shorter than interval {}{}: each round has to finish before the next starts",
                crate::duration::format(out.timeout),
                from(timeout_ok),
                crate::duration::format(out.interval),
                from(interval_ok),
            ),
        );
    }
    (out, timing_known)
}
