//! Energy: what each UPS delivered at its output, integrated from the power
//! its SNMP polls read into one total per device and local day. Pure:
//! readings in, day totals out; time and zone passed in.
//!
//! **Power at a poll** ([`power`]). A profile says which of its metrics is
//! the output power in an `[energy]` table ([`EnergySpec`]). The device's
//! power is the sum of that metric over its rows (one per output line or
//! phase), in watts: real power. When the poll read none of it (the agent
//! does not give it, or the profile names none) and the profile names an
//! output voltage and current, the power is the sum over the rows of volts ×
//! amperes, rows paired by their labels: **apparent** power (VA), which
//! exceeds real power by the load's power factor; the time so integrated is
//! kept apart ([`DayEnergy::apparent_ms`]). A poll whose rows do not pair up,
//! or whose sum is negative or not finite, has no power.
//!
//! **Integration** ([`Meters`]). Between two consecutive polls of a device
//! that both read its power, energy += (P₀ + P₁) / 2 × Δt (the trapezoid
//! rule: power is taken to change linearly between polls), provided Δt is at
//! most [`MAX_GAP_INTERVALS`] SNMP intervals; a longer gap, or a poll that
//! answered without power, leaves the time in between **uncovered**. A poll
//! that failed is skipped over: the next answer integrates from the last one,
//! within the same bound. Nothing is remembered across a restart, so the time
//! from the last poll before it to the first after it is uncovered, never
//! extrapolated.
//!
//! **Days.** An interval that crosses local midnight (`daemon.timezone`) is
//! split there, each part with the power interpolated at the split, so each
//! day gets exactly its share. Each (device, local day) keeps its energy,
//! the time integrated (`covered_ms`) and the day's length (23, 24 or 25 h
//! where daylight saving time changes): coverage = covered ÷ length.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::probes::snmp::profile::{SampleRef, Samples};

/// The longest gap between two polls that is integrated, in SNMP intervals
/// of the device: one or two lost polls are bridged (power rarely jumps and
/// comes back between them), an outage or a stopped daemon is not.
pub const MAX_GAP_INTERVALS: u32 = 3;

const MS_PER_HOUR: f64 = 3_600_000.0;

/// Joules in one watt-hour (the store keeps Wh, the metric joules).
pub const JOULES_PER_WH: f64 = 3_600.0;

/// Which metrics of a profile give a device's output power (full names,
/// with the `netkpi_` prefix), from its `[energy]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnergySpec {
    /// Real output power in watts, one sample per row (output line).
    pub power: Option<String>,
    /// Output voltage (V) and current (A) per row, multiplied when the poll
    /// read no `power`.
    pub volt_amps: Option<(String, String)>,
}

/// A device's output power at one poll.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Power {
    pub watts: f64,
    /// From volts × amperes (VA), not from a real-power reading.
    pub apparent: bool,
}

/// The device's output power in one poll's samples (see the module
/// header); `None` when the poll did not read it.
pub fn power(spec: &EnergySpec, samples: &Samples) -> Option<Power> {
    if let Some(name) = &spec.power {
        let mut rows = samples.iter().filter(|s| s.name() == name).peekable();
        if rows.peek().is_some() {
            return usable(rows.map(|s| s.value).sum(), false);
        }
    }
    let (volts, amps) = spec.volt_amps.as_ref()?;
    let volts: Vec<SampleRef> = samples.iter().filter(|s| s.name() == volts).collect();
    let amps: Vec<SampleRef> = samples.iter().filter(|s| s.name() == amps).collect();
    if volts.is_empty() || volts.len() != amps.len() {
        return None;
    }
    let mut watts = 0.0;
    for v in volts {
        let a = amps.iter().find(|a| *a.labels == *v.labels)?;
        watts += v.value * a.value;
    }
    usable(watts, true)
}

fn usable(watts: f64, apparent: bool) -> Option<Power> {
    (watts.is_finite() && watts >= 0.0).then_some(Power { watts, apparent })
}

/// One device's energy on one local day.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DayEnergy {
    /// Watt-hours (volt-ampere-hours for the apparent part).
    pub wh: f64,
    /// Milliseconds of the day integrated.
    pub covered_ms: i64,
    /// The part of `covered_ms` integrated from apparent power.
    pub apparent_ms: i64,
    /// The day's length in `daemon.timezone`, in milliseconds.
    pub day_ms: i64,
}

impl DayEnergy {
    pub fn add(&mut self, more: &DayEnergy) {
        self.wh += more.wh;
        self.covered_ms += more.covered_ms;
        self.apparent_ms += more.apparent_ms;
        self.day_ms = more.day_ms;
    }
}

/// Energy per (device, local day).
pub type Days = BTreeMap<(String, Date), DayEnergy>;

/// Adds `more` into `days`.
pub fn merge(days: &mut Days, more: Days) {
    for (key, e) in more {
        days.entry(key).or_default().add(&e);
    }
}

/// A poll that read the power.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub at: Timestamp,
    pub power: Power,
}

/// The energy between two readings (`from` before `to`), by local day in
/// `tz`: the trapezoid over the interval, split at each local midnight with
/// the power interpolated there. Times count in whole milliseconds.
pub fn integrate(from: Reading, to: Reading, tz: &TimeZone) -> Vec<(Date, DayEnergy)> {
    let (t0, t1) = (from.at.as_millisecond(), to.at.as_millisecond());
    let mut out = Vec::new();
    if t1 <= t0 {
        return out;
    }
    let (p0, p1) = (from.power.watts, to.power.watts);
    let at = |t: i64| p0 + (p1 - p0) * (t - t0) as f64 / (t1 - t0) as f64;
    let apparent = from.power.apparent || to.power.apparent;
    let mut a = t0;
    while a < t1 {
        let Some((date, start, end)) = local_day(a, tz) else {
            break; // the edge of the representable range: nothing to count
        };
        let b = end.min(t1);
        let ms = b - a;
        out.push((
            date,
            DayEnergy {
                wh: (at(a) + at(b)) / 2.0 * ms as f64 / MS_PER_HOUR,
                covered_ms: ms,
                apparent_ms: if apparent { ms } else { 0 },
                day_ms: end - start,
            },
        ));
        a = b;
    }
    out
}

/// The local day in `tz` that contains the instant `ms`, with its first and
/// its next day's first instant (where midnight falls in a DST gap, the
/// first instant after it).
fn local_day(ms: i64, tz: &TimeZone) -> Option<(Date, i64, i64)> {
    let date = Timestamp::from_millisecond(ms)
        .ok()?
        .to_zoned_datetime(tz.clone())
        .date();
    let first = |d: Date| {
        d.to_zoned_datetime(tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    };
    Some((date, first(date)?, first(date.tomorrow().ok()?)?))
}

/// The length of local day `date` in `tz`, in milliseconds.
pub fn day_length_ms(date: Date, tz: &TimeZone) -> Option<i64> {
    let first = date
        .to_zoned_datetime(tz.clone())
        .ok()?
        .timestamp()
        .as_millisecond();
    local_day(first, tz).map(|(_, start, end)| end - start)
}

/// One device's energy on one local day, as the store holds it
/// (`Store::energy_days`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EnergyDay {
    pub device: String,
    /// The day in `daemon.timezone` (as it was when recorded).
    pub day: Date,
    /// Kilowatt-hours delivered at the output; the part integrated from
    /// apparent power (see `apparent_s`) counts volt-ampere-hours.
    pub kwh: f64,
    /// Seconds of the day integrated (between polls at most three SNMP
    /// intervals apart).
    pub covered_s: f64,
    /// The part of `covered_s` integrated from volts × amperes.
    pub apparent_s: f64,
    /// The day's length: 86,400 s, or 82,800 / 90,000 where daylight saving
    /// time starts or ends.
    pub day_s: f64,
}

impl EnergyDay {
    /// Share of the day the energy stands on: `covered_s ÷ day_s`.
    pub fn coverage(&self) -> f64 {
        if self.day_s > 0.0 {
            self.covered_s / self.day_s
        } else {
            0.0
        }
    }
}

/// One device's energy over one calendar month of `daemon.timezone`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EnergyMonth {
    pub device: String,
    pub year: i16,
    pub month: i8,
    /// The sum of its days' kWh.
    pub kwh: f64,
    /// Seconds of the month integrated (the sum of its days').
    pub covered_s: f64,
    /// Of `covered_s`, seconds integrated from apparent power.
    pub apparent_s: f64,
    /// The month's length in `tz` (days without a row count too).
    pub month_s: f64,
}

impl EnergyMonth {
    /// Share of the month the energy stands on: `covered_s ÷ month_s`.
    pub fn coverage(&self) -> f64 {
        if self.month_s > 0.0 {
            self.covered_s / self.month_s
        } else {
            0.0
        }
    }
}

/// Each device's months from its days (as [`crate::store::Store::energy_days`]
/// reads them), ordered by month, then device. The month's length comes
/// from `tz`, so a month with days not metered at all has the coverage it
/// deserves; a month without any row is absent.
pub fn months(days: &[EnergyDay], tz: &TimeZone) -> Vec<EnergyMonth> {
    let mut by: BTreeMap<(i16, i8, &str), EnergyMonth> = BTreeMap::new();
    for d in days {
        let (year, month) = (d.day.year(), d.day.month());
        let m = by
            .entry((year, month, d.device.as_str()))
            .or_insert_with(|| EnergyMonth {
                device: d.device.clone(),
                year,
                month,
                kwh: 0.0,
                covered_s: 0.0,
                apparent_s: 0.0,
                month_s: month_length_ms(d.day.first_of_month(), tz).unwrap_or(0) as f64 / 1_000.0,
            });
        m.kwh += d.kwh;
        m.covered_s += d.covered_s;
        m.apparent_s += d.apparent_s;
    }
    by.into_values().collect()
}

/// The length of the month that starts on `first` in `tz`, in milliseconds.
fn month_length_ms(first: Date, tz: &TimeZone) -> Option<i64> {
    let start = |d: Date| {
        d.to_zoned_datetime(tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    };
    let next = first.last_of_month().tomorrow().ok()?;
    Some(start(next)? - start(first)?)
}

/// Each device's latest reading, by name (a reload keeps those still
/// configured).
#[derive(Debug, Default)]
pub struct Meters {
    last: HashMap<String, Reading>,
}

impl Meters {
    pub fn new() -> Meters {
        Meters::default()
    }

    /// A poll of `device` at `at` that answered, with the power it read
    /// (`None`: none). Adds to `days` the energy since the device's previous
    /// reading when that is at most `max_gap` older.
    pub fn answered(
        &mut self,
        device: &str,
        at: Timestamp,
        power: Option<Power>,
        max_gap: Duration,
        tz: &TimeZone,
        days: &mut Days,
    ) {
        let Some(power) = power else {
            self.last.remove(device);
            return;
        };
        let now = Reading { at, power };
        let previous = match self.last.get_mut(device) {
            Some(slot) => Some(std::mem::replace(slot, now)),
            None => {
                self.last.insert(device.to_string(), now);
                None
            }
        };
        let Some(previous) = previous else {
            return;
        };
        // In whole milliseconds, as the interval is integrated and stored.
        let gap_ms = at.as_millisecond() - previous.at.as_millisecond();
        let max_gap_ms = i64::try_from(max_gap.as_millis()).unwrap_or(i64::MAX);
        if gap_ms > 0 && gap_ms <= max_gap_ms {
            for (date, e) in integrate(previous, now, tz) {
                days.entry((device.to_string(), date)).or_default().add(&e);
            }
        }
    }

    /// Forgets the devices `keep` does not name.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.last.retain(|device, _| keep(device));
    }
}

#[cfg(test)]
mod tests;
