//! Alarms: thresholds on polled values (`[[alarm]]`), judged round by round,
//! and trap alarms (`trap = ...`), raised by a trap. Pure: one SNMP round's
//! samples or one trap in, alarm events out; time passed in.
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
//! A **trap alarm** is the same alarm with its condition set by its trap
//! (upsTrapOnBattery: `netkpi_ups_on_battery == 1`; linkDown of the
//! interface its labels select: `netkpi_if_oper_up == 0`). It fires at
//! once when the trap arrives, stamped at its receipt; only the trap
//! raises it, a poll never does. It clears as above: once the condition
//! has been clear for `hold`, as read by the polls or reported by the
//! clearing trap (linkUp of that interface, upsTrapAlarmEntryRemoved of
//! upsAlarmOnBattery), each one more round of evidence. A poll that still
//! reads the condition, or the trap again, restarts the clear run. The
//! polls clear it even when the clearing trap is lost.
//!
//! Evidence older than the latest one taken for a (device, alarm) is
//! ignored: a poll that started before a trap and ended after it says
//! nothing about the time after the trap.
//!
//! The ledger task owns the state and sends the events to the store writer
//! in order with the transitions; the incident engine turns them into
//! incidents of the device, one per alarm.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::config::{Alarm, Device, TrapAlarm};
use crate::model::Severity;
use crate::probes::snmp::profile::Samples;
use crate::probes::snmp::traps::TrapKind;

/// UPS-MIB upsAlarmOnBattery, the alarm of upsTrapAlarmEntryAdded/Removed
/// that means "on battery".
const UPS_ALARM_ON_BATTERY: &[u32] = &[1, 3, 6, 1, 2, 1, 33, 1, 6, 3, 2];

/// A trap from a polled device, as the alarms take it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrapSeen {
    pub device: String,
    /// When it was received.
    pub at: Timestamp,
    pub kind: TrapKind,
}

impl TrapSeen {
    /// Whether a trap of `kind` can raise or clear a trap alarm (the kinds
    /// [`Alarms::trap`] reads): the others need not reach the alarms.
    pub fn concerns_alarms(kind: &TrapKind) -> bool {
        matches!(
            kind,
            TrapKind::LinkDown { .. }
                | TrapKind::LinkUp { .. }
                | TrapKind::UpsOnBattery
                | TrapKind::UpsAlarmAdded { .. }
                | TrapKind::UpsAlarmRemoved { .. }
        )
    }
}

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
    /// The latest evidence taken; older evidence is ignored.
    latest: Option<Timestamp>,
}

impl Watch {
    /// One round: `holds` is the condition in it (`None`: not read). Returns
    /// the stamp of the change when the run has lasted `hold`.
    fn observe(&mut self, holds: Option<bool>, at: Timestamp, hold: Duration) -> Option<Timestamp> {
        let holds = holds?;
        if self.latest.is_some_and(|l| at < l) {
            return None;
        }
        self.latest = Some(at);
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
    /// The latest samples of each device a linkDown alarm watches by
    /// interface name or alias: which interface a trap's ifIndex is.
    interfaces: HashMap<String, Samples>,
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
                    latest: None,
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
            if alarm.trap == Some(TrapAlarm::LinkDown)
                && alarm.labels.iter().any(|(k, _)| k != "if_index")
            {
                self.interfaces.insert(device.name.clone(), samples.clone());
            }
            if alarm.trap.is_some() && !self.is_raised(&device.name, &alarm.name) {
                continue; // only its trap raises a trap alarm
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

    /// A trap from `device`, judged against every trap alarm of `alarms`
    /// that watches it: one that reports its condition raises it at once
    /// (or restarts its clear run); one that reports it clear is one more
    /// round of evidence. Returns the alarms that fired or cleared.
    pub fn trap(&mut self, device: &Device, alarms: &[Alarm], trap: &TrapSeen) -> Vec<AlarmEvent> {
        let mut out = Vec::new();
        for alarm in alarms.iter().filter(|a| a.watches(device)) {
            let Some(holds) = self.reports(device, alarm, &trap.kind) else {
                continue;
            };
            let key = (device.name.clone(), alarm.name.clone());
            let raised = self.is_raised(&device.name, &alarm.name);
            let event = |raised: bool, at: Timestamp| AlarmEvent {
                device: device.name.clone(),
                alarm: alarm.name.clone(),
                raised,
                at,
                severity: alarm.severity,
                condition: alarm.condition(),
            };
            match (holds, raised) {
                (true, false) => {
                    self.watches.insert(
                        key,
                        Watch {
                            raised: true,
                            since: None,
                            latest: Some(trap.at),
                        },
                    );
                    out.push(event(true, trap.at));
                }
                (false, false) => {} // clear already
                (_, true) => {
                    let watch = self.watches.entry(key).or_default();
                    if let Some(stamp) = watch.observe(Some(holds), trap.at, alarm.hold) {
                        out.push(event(watch.raised, stamp));
                    }
                }
            }
        }
        out
    }

    /// What `kind` says of trap alarm `alarm`'s condition on `device`:
    /// `Some(true)` it holds, `Some(false)` it is clear, `None` nothing
    /// (another trap, another interface, or not a trap alarm).
    fn reports(&self, device: &Device, alarm: &Alarm, kind: &TrapKind) -> Option<bool> {
        let on_battery = |oid: &Option<crate::probes::snmp::Oid>| {
            oid.as_ref()
                .is_some_and(|o| o.arcs() == UPS_ALARM_ON_BATTERY)
        };
        match (alarm.trap?, kind) {
            (TrapAlarm::UpsOnBattery, TrapKind::UpsOnBattery) => Some(true),
            (TrapAlarm::UpsOnBattery, TrapKind::UpsAlarmAdded { alarm }) if on_battery(alarm) => {
                Some(true)
            }
            (TrapAlarm::UpsOnBattery, TrapKind::UpsAlarmRemoved { alarm }) if on_battery(alarm) => {
                Some(false)
            }
            (TrapAlarm::LinkDown, TrapKind::LinkDown { if_index }) => {
                self.selects(device, alarm, *if_index).then_some(true)
            }
            (TrapAlarm::LinkDown, TrapKind::LinkUp { if_index }) => {
                self.selects(device, alarm, *if_index).then_some(false)
            }
            _ => None,
        }
    }

    /// Whether linkDown alarm `alarm` watches interface `if_index` of
    /// `device`: every interface without labels; else each label must
    /// match, `if_index` by the trap's, the others by the interface's row
    /// in the device's latest poll.
    fn selects(&self, device: &Device, alarm: &Alarm, if_index: Option<u32>) -> bool {
        if alarm.labels.is_empty() {
            return true;
        }
        let Some(index) = if_index.map(|i| i.to_string()) else {
            return false;
        };
        let row = self.interfaces.get(&device.name).and_then(|samples| {
            samples
                .iter()
                .find(|s| s.name() == alarm.metric && s.label("if_index") == Some(index.as_str()))
        });
        alarm.labels.iter().all(|(k, v)| {
            if k == "if_index" {
                *v == index
            } else {
                row.is_some_and(|s| s.label(k) == Some(v.as_str()))
            }
        })
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
        self.interfaces
            .retain(|device, _| devices.iter().any(|d| d.name == *device));
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
