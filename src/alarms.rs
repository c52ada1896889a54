//! Alarms: thresholds on polled values (`[[alarm]]`), judged round by round.
//! Pure: one SNMP round's samples in, alarm events out; time passed in.
//!
//! For each (device, alarm) the condition **holds** in a round when any
//! sample of the alarm's metric with its labels satisfies the comparison,
//! and is **clear** when such samples were read and none does. A round
//! that read none (the poll failed, the agent does not give the value)
//! neither confirms nor clears: it is no evidence either way.
//!
//! An alarm **fires** once its condition has held in every round for
//! `hold`, stamped at the first round where it held (as the ledger stamps an
//! outage at its first failed round), and **clears** once it has been clear
//! in every round for `hold`, stamped at the first clear round. A condition
//! that comes and goes faster than `hold` never fires.
//!
//! The ledger task owns the state and sends the events to the store writer
//! in order with the transitions; the incident engine turns them into
//! incidents of the device, one per alarm.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::config::{Alarm, Device};
use crate::model::Severity;
use crate::probes::snmp::profile::Samples;

/// An alarm fired (raised) or cleared on a device.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmEvent {
    pub device: String,
    /// The alarm's name.
    pub alarm: String,
    /// True: fired; false: cleared.
    pub raised: bool,
    /// The first round of the run that decided it.
    pub at: Timestamp,
    /// The alarm's own severity; `None`: the device's.
    pub severity: Option<Severity>,
    /// The condition, as text (e.g. `netkpi_ups_on_battery == 1`), recorded
    /// as the incident's cause.
    pub condition: String,
}

/// Whether `alarm`'s condition holds in one round's samples: `None` when no
/// sample of its metric with its labels was read.
pub fn condition(alarm: &Alarm, samples: &Samples) -> Option<bool> {
    let mut matched = false;
    for s in samples.iter() {
        if s.name() != alarm.metric
            || !alarm
                .labels
                .iter()
                .all(|(k, v)| s.label(k) == Some(v.as_str()))
        {
            continue;
        }
        if alarm.op.holds(s.value, alarm.value) {
            return Some(true);
        }
        matched = true;
    }
    matched.then_some(false)
}

/// One (device, alarm): whether it is raised, and since when the rounds
/// have said otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
struct Watch {
    raised: bool,
    /// The first round of the current run that contradicts `raised`.
    since: Option<Timestamp>,
}

impl Watch {
    /// One round: `holds` is the condition in it (`None`: not read). Returns
    /// the stamp of the change when the run has lasted `hold`.
    fn observe(&mut self, holds: Option<bool>, at: Timestamp, hold: Duration) -> Option<Timestamp> {
        let holds = holds?;
        if holds == self.raised {
            self.since = None;
            return None;
        }
        let since = *self.since.get_or_insert(at);
        let hold = SignedDuration::try_from(hold).unwrap_or(SignedDuration::MAX);
        if at.duration_since(since) < hold {
            return None;
        }
        self.raised = holds;
        self.since = None;
        Some(since)
    }
}

/// The state of every (device, alarm), by names: a reload keeps the state
/// of every pair still configured.
#[derive(Debug, Default)]
pub struct Alarms {
    watches: HashMap<(String, String), Watch>,
}

impl Alarms {
    pub fn new() -> Alarms {
        Alarms::default()
    }

    /// Marks each (device, alarm) of `open` raised: its incident is open
    /// (from before a restart), so a condition that cleared meanwhile is
    /// cleared once the rounds have shown it clear for `hold`.
    pub fn resume(&mut self, open: impl IntoIterator<Item = (String, String)>) {
        for key in open {
            self.watches.insert(
                key,
                Watch {
                    raised: true,
                    since: None,
                },
            );
        }
    }

    /// Whether `alarm` is raised on `device`.
    pub fn is_raised(&self, device: &str, alarm: &str) -> bool {
        self.watches
            .get(&(device.to_string(), alarm.to_string()))
            .is_some_and(|w| w.raised)
    }

    /// One SNMP round of `device` at `at`, judged against every alarm of
    /// `alarms` that watches it. Returns the alarms that fired or cleared.
    pub fn round(
        &mut self,
        device: &Device,
        alarms: &[Alarm],
        at: Timestamp,
        samples: &Samples,
    ) -> Vec<AlarmEvent> {
        let mut out = Vec::new();
        for alarm in alarms.iter().filter(|a| a.watches(device)) {
            let holds = condition(alarm, samples);
            if holds.is_none() {
                continue; // no evidence: no state to create
            }
            let watch = self
                .watches
                .entry((device.name.clone(), alarm.name.clone()))
                .or_default();
            if let Some(stamp) = watch.observe(holds, at, alarm.hold) {
                out.push(AlarmEvent {
                    device: device.name.clone(),
                    alarm: alarm.name.clone(),
                    raised: watch.raised,
                    at: stamp,
                    severity: alarm.severity,
                    condition: alarm.condition(),
                });
            }
        }
        out
    }

    /// Keeps the state of the (device, alarm) pairs `alarms` still watch on
    /// `devices` (a reload, or the start); a raised one that nothing
    /// watches any more (its alarm, or its device, was removed) is cleared
    /// at `at`, so its incident does not stay open forever.
    pub fn retain(
        &mut self,
        devices: &[Device],
        alarms: &[Alarm],
        at: Timestamp,
    ) -> Vec<AlarmEvent> {
        let watched = |device: &str, alarm: &str| {
            let Some(a) = alarms.iter().find(|a| a.name == alarm) else {
                return false;
            };
            devices.iter().any(|d| d.name == device && a.watches(d))
        };
        let mut out = Vec::new();
        self.watches.retain(|(device, alarm), w| {
            if watched(device, alarm) {
                return true;
            }
            if w.raised {
                out.push(AlarmEvent {
                    device: device.clone(),
                    alarm: alarm.clone(),
                    raised: false,
                    at,
                    severity: None,
                    condition: String::new(),
                });
            }
            false
        });
        out.sort_by(|a, b| (&a.device, &a.alarm).cmp(&(&b.device, &b.alarm)));
        out
    }
}

#[cfg(test)]
mod tests;
