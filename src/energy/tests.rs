use std::sync::Arc;

use jiff::civil::date;

use jiff::SignedDuration;

use super::*;
use crate::probes::snmp::profile::{Family, Sample, SampleKind, Samples};

const W: &str = "netkpi_ups_output_power_watts";
const V: &str = "netkpi_ups_output_voltage_volts";
const A: &str = "netkpi_ups_output_current_amperes";
const MINUTE: Duration = Duration::from_secs(60);

fn sample(name: &str, line: Option<&str>, value: f64) -> Sample {
    let labels: Vec<(Arc<str>, Arc<str>)> = line
        .map(|l| (Arc::from("ups_output_line"), Arc::from(l)))
        .into_iter()
        .collect();
    Sample {
        family: Arc::new(Family {
            name: name.to_string(),
            kind: SampleKind::Gauge,
            help: "h".to_string(),
        }),
        labels: labels.into(),
        value,
    }
}

/// [`super::power`] on samples as `evaluate` gives them.
fn power(spec: &EnergySpec, samples: &[Sample]) -> Option<Power> {
    super::power(spec, &Samples::from(samples.to_vec()))
}

fn spec() -> EnergySpec {
    EnergySpec {
        power: Some(W.to_string()),
        volt_amps: Some((V.to_string(), A.to_string())),
    }
}

fn real(watts: f64) -> Option<Power> {
    Some(Power {
        watts,
        apparent: false,
    })
}

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

/// An instant given as local time in `tz`.
fn local(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> Timestamp {
    date(y, mo, d)
        .at(h, mi, s, 0)
        .to_zoned_datetime(tz.clone())
        .unwrap()
        .timestamp()
}

/// Feeds polls (seconds after `t0`, power) to a fresh meter of "ups-1".
fn meter(tz: &TimeZone, t0: Timestamp, polls: &[(i64, Option<Power>)], max_gap: Duration) -> Days {
    let mut meters = Meters::new();
    let mut days = Days::new();
    for &(s, p) in polls {
        let at = t0 + SignedDuration::from_secs(s);
        meters.answered("ups-1", at, p, max_gap, tz, &mut days);
    }
    days
}

fn day(days: &Days, d: Date) -> DayEnergy {
    days.get(&("ups-1".to_string(), d))
        .copied()
        .unwrap_or_else(|| panic!("no row for {d}: {days:?}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn power_is_the_sum_of_the_output_lines() {
    let samples = [
        sample(W, Some("1"), 5100.0),
        sample(W, Some("2"), 3600.0),
        sample(W, Some("3"), 2700.0),
        sample(V, Some("1"), 220.0),
        sample(A, Some("1"), 27.0),
    ];
    assert_eq!(power(&spec(), &samples), real(11_400.0));
}

#[test]
fn without_real_power_it_is_volts_times_amperes_paired_by_row() {
    let samples = [
        sample(V, Some("1"), 220.0),
        sample(V, Some("2"), 230.0),
        sample(A, Some("2"), 10.0),
        sample(A, Some("1"), 27.0),
    ];
    let expected = 220.0 * 27.0 + 230.0 * 10.0;
    assert_eq!(
        power(&spec(), &samples),
        Some(Power {
            watts: expected,
            apparent: true
        })
    );
    // Scalars (one phase, no index) pair too.
    let scalar = [sample(V, None, 230.0), sample(A, None, 4.5)];
    assert_eq!(power(&spec(), &scalar).unwrap().watts, 230.0 * 4.5);
}

#[test]
fn no_power_when_rows_do_not_pair_or_values_are_not_usable() {
    let unpaired = [sample(V, Some("1"), 220.0), sample(A, Some("2"), 27.0)];
    assert_eq!(power(&spec(), &unpaired), None);
    let missing_current = [sample(V, Some("1"), 220.0), sample(V, Some("2"), 220.0)];
    assert_eq!(power(&spec(), &missing_current), None);
    assert_eq!(power(&spec(), &[sample(W, Some("1"), -1.0)]), None);
    assert_eq!(power(&spec(), &[sample(W, Some("1"), f64::NAN)]), None);
    assert_eq!(power(&spec(), &[]), None);
    let only_power = EnergySpec {
        power: Some(W.to_string()),
        volt_amps: None,
    };
    let va = [sample(V, Some("1"), 220.0), sample(A, Some("1"), 27.0)];
    assert_eq!(power(&only_power, &va), None, "V × A only when named");
}

#[test]
fn constant_power_over_an_hour_is_power_times_an_hour() {
    let tz = shanghai();
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    let polls: Vec<(i64, Option<Power>)> = (0..=60).map(|m| (m * 60, real(1_000.0))).collect();
    let days = meter(&tz, t0, &polls, 3 * MINUTE);
    let e = day(&days, date(2026, 3, 4));
    assert!(close(e.wh, 1_000.0), "{e:?}");
    assert_eq!(e.covered_ms, 3_600_000);
    assert_eq!(e.apparent_ms, 0);
    assert_eq!(e.day_ms, 86_400_000);
    assert_eq!(days.len(), 1);
}

#[test]
fn a_ramp_is_integrated_by_the_trapezoid_rule() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    // 1000 W rising to 2000 W over 60 s, then 2000 W for 60 s.
    let days = meter(
        &tz,
        t0,
        &[
            (0, real(1_000.0)),
            (60, real(2_000.0)),
            (120, real(2_000.0)),
        ],
        3 * MINUTE,
    );
    let e = day(&days, date(2026, 3, 4));
    let expected = (1_500.0 * 60.0 + 2_000.0 * 60.0) / 3_600.0;
    assert!(close(e.wh, expected), "{} != {expected}", e.wh);
    assert_eq!(e.covered_ms, 120_000);
}

#[test]
fn an_interval_across_local_midnight_is_split_with_the_power_interpolated() {
    let tz = shanghai();
    // 23:59:30 at 1000 W, 00:00:30 the next day at 2000 W: 1500 W at midnight.
    let t0 = local(&tz, 2026, 3, 4, 23, 59, 30);
    let days = meter(
        &tz,
        t0,
        &[(0, real(1_000.0)), (60, real(2_000.0))],
        3 * MINUTE,
    );
    let before = day(&days, date(2026, 3, 4));
    let after = day(&days, date(2026, 3, 5));
    assert!(close(before.wh, (1_000.0 + 1_500.0) / 2.0 * 30.0 / 3_600.0));
    assert!(close(after.wh, (1_500.0 + 2_000.0) / 2.0 * 30.0 / 3_600.0));
    assert_eq!((before.covered_ms, after.covered_ms), (30_000, 30_000));
    // Midnight in Shanghai, not in UTC: 16:00Z is the split.
    assert_eq!(
        local(&tz, 2026, 3, 5, 0, 0, 0).to_string(),
        "2026-03-04T16:00:00Z"
    );
}

#[test]
fn a_gap_longer_than_the_bound_is_uncovered() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    // Polls at 0 and 60 s, then nothing until 300 s (> 3 × 60 s), then 360 s.
    let days = meter(
        &tz,
        t0,
        &[
            (0, real(600.0)),
            (60, real(600.0)),
            (300, real(600.0)),
            (360, real(600.0)),
        ],
        3 * MINUTE,
    );
    let e = day(&days, date(2026, 3, 4));
    assert_eq!(e.covered_ms, 120_000, "0–60 s and 300–360 s");
    assert!(close(e.wh, 600.0 * 120.0 / 3_600.0));
    // Exactly the bound is still bridged.
    let days = meter(&tz, t0, &[(0, real(600.0)), (180, real(600.0))], 3 * MINUTE);
    assert_eq!(day(&days, date(2026, 3, 4)).covered_ms, 180_000);
}

#[test]
fn a_poll_without_power_breaks_the_run() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    let days = meter(
        &tz,
        t0,
        &[
            (0, real(600.0)),
            (60, None),
            (120, real(900.0)),
            (180, real(900.0)),
        ],
        3 * MINUTE,
    );
    let e = day(&days, date(2026, 3, 4));
    assert_eq!(e.covered_ms, 60_000, "only 120–180 s");
    assert!(close(e.wh, 900.0 * 60.0 / 3_600.0));
}

#[test]
fn a_restart_forgets_the_last_reading_and_the_day_goes_on() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    let mut days = meter(&tz, t0, &[(0, real(600.0)), (60, real(600.0))], 3 * MINUTE);
    // A new process: a new meter, 30 s later (within the bound, yet the
    // time over the restart is not integrated).
    let more = meter(
        &tz,
        t0,
        &[(90, real(600.0)), (150, real(600.0))],
        3 * MINUTE,
    );
    merge(&mut days, more);
    let e = day(&days, date(2026, 3, 4));
    assert_eq!(e.covered_ms, 120_000, "0–60 s and 90–150 s, not 60–90 s");
    assert!(close(e.wh, 600.0 * 120.0 / 3_600.0));
}

#[test]
fn apparent_power_at_either_end_makes_the_interval_apparent() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    let va = Some(Power {
        watts: 1_000.0,
        apparent: true,
    });
    let days = meter(
        &tz,
        t0,
        &[
            (0, real(1_000.0)),
            (60, va),
            (120, real(1_000.0)),
            (180, real(1_000.0)),
        ],
        3 * MINUTE,
    );
    let e = day(&days, date(2026, 3, 4));
    assert_eq!((e.covered_ms, e.apparent_ms), (180_000, 120_000));
}

#[test]
fn a_clock_step_back_integrates_nothing() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    let days = meter(
        &tz,
        t0,
        &[(60, real(600.0)), (0, real(600.0)), (60, real(600.0))],
        3 * MINUTE,
    );
    assert_eq!(
        day(&days, date(2026, 3, 4)).covered_ms,
        60_000,
        "0–60 s once"
    );
}

#[test]
fn days_are_23_or_25_hours_where_daylight_saving_time_changes() {
    let tz = TimeZone::get("America/New_York").unwrap();
    assert_eq!(day_length_ms(date(2026, 3, 8), &tz), Some(23 * 3_600_000));
    assert_eq!(day_length_ms(date(2026, 11, 1), &tz), Some(25 * 3_600_000));
    assert_eq!(day_length_ms(date(2026, 3, 9), &tz), Some(24 * 3_600_000));
    // A poll at 23:00 on Mar 7 and at 01:00 on Mar 8 (2 h apart): split at
    // midnight, each part one hour; Mar 8 has 23 h.
    let t0 = local(&tz, 2026, 3, 7, 23, 0, 0);
    let days = meter(
        &tz,
        t0,
        &[(0, real(100.0)), (7_200, real(100.0))],
        3 * 3_600 * Duration::from_secs(1),
    );
    let (a, b) = (day(&days, date(2026, 3, 7)), day(&days, date(2026, 3, 8)));
    assert_eq!((a.covered_ms, b.covered_ms), (3_600_000, 3_600_000));
    assert_eq!((a.day_ms, b.day_ms), (24 * 3_600_000, 23 * 3_600_000));
    assert!(close(b.wh, 100.0));
}

#[test]
fn a_reload_keeps_the_meters_of_devices_still_configured() {
    let tz = TimeZone::UTC;
    let t0 = local(&tz, 2026, 3, 4, 10, 0, 0);
    let mut meters = Meters::new();
    let mut days = Days::new();
    for d in ["ups-1", "ups-2"] {
        meters.answered(d, t0, real(100.0), MINUTE, &tz, &mut days);
    }
    meters.retain(|d| d == "ups-1");
    let later = t0 + SignedDuration::from_secs(30);
    for d in ["ups-1", "ups-2"] {
        meters.answered(d, later, real(100.0), MINUTE, &tz, &mut days);
    }
    assert_eq!(days.len(), 1, "{days:?}");
    assert!(days.contains_key(&("ups-1".to_string(), date(2026, 3, 4))));
}

#[test]
fn months_sum_their_days_over_the_months_local_length() {
    let tz = TimeZone::get("America/New_York").unwrap();
    let row = |device: &str, day: Date, kwh: f64, covered_s: f64| EnergyDay {
        device: device.into(),
        day,
        kwh,
        covered_s,
        apparent_s: 0.0,
        day_s: 86_400.0,
    };
    let days = [
        row("ups-1", date(2026, 3, 7), 1.0, 3_600.0),
        row("ups-2", date(2026, 3, 8), 4.0, 82_800.0),
        row("ups-1", date(2026, 3, 31), 2.0, 7_200.0),
        row("ups-1", date(2026, 4, 1), 0.5, 1_800.0),
    ];
    let got = months(&days, &tz);
    let month = |device: &str, m: i8, kwh: f64, covered_s: f64, month_s: f64| EnergyMonth {
        device: device.into(),
        year: 2026,
        month: m,
        kwh,
        covered_s,
        apparent_s: 0.0,
        month_s,
    };
    // March 2026 in New York lost an hour to daylight saving time.
    let march = 31.0 * 86_400.0 - 3_600.0;
    assert_eq!(
        got,
        [
            month("ups-1", 3, 3.0, 10_800.0, march),
            month("ups-2", 3, 4.0, 82_800.0, march),
            month("ups-1", 4, 0.5, 1_800.0, 30.0 * 86_400.0),
        ]
    );
    assert!((got[0].coverage() - 10_800.0 / march).abs() < 1e-15);
    assert!(months(&[], &tz).is_empty());
}
