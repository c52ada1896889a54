//! A synthetic year in a real store: a fixed schedule of outages,
//! maintenance, a restart gap, flaps and incidents in 2020 (Asia/Shanghai),
//! written through the crate's own `Store` API as the daemon would have
//! written it, so `netkpi report` reads it like any ledger.
//!
//! The schedule is data ([`Year`]); the report tests compute what each
//! figure must be from it by plain arithmetic, never by calling the code
//! under test.
//!
//! ```text
//! core-r1  router        core-room  2020-07-15 02:00–05:30 down, 03:00–05:00 of it unknown (restart)
//! core-sw1 core_switch   core-room  2020-06-01 00:30–02:00 down; [[maintenance]] 01:00–03:00
//! acc-001  access_egress unit-a     2020-01-31 23:30–02-01 00:30 down (month boundary)
//! acc-002  access_egress unit-b     2020-11-11 08:00–13:00 down (restored late)
//! acc-003  access_egress unit-c     2020-03-04 10:00–10:05 and 10:08–10:20 down (a flap)
//! L-001    on acc-001               2019-12-31 23:00–2020-01-01 01:00 down (year boundary);
//!                                   2020-04-01 08:00–09:00 degraded
//! L-002    on acc-002               2020-09-10 10:00–20:00 down; 10:00–11:00 reclassified
//!                                   as maintenance by a window declared the next day
//! L-003    on acc-003               2020-12-31 23:30–2021-01-01 00:30 down (year end)
//! every target                      2020-07-15 03:00–05:00 unknown (the daemon stopped)
//! ```

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use netkpi::incidents::{Change, Incident};
use netkpi::model::{Severity, State, TargetKind, Transition};
use netkpi::store::{Commit, Store, Window};

/// The configured time zone's fixed offset (Asia/Shanghai has no DST).
pub const OFFSET: &str = "+08:00";

/// `2020-01-31 23:30` local time as an instant.
pub fn local(text: &str) -> Timestamp {
    format!("{}:00{OFFSET}", text.replace(' ', "T"))
        .parse()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// One target's time away from up: contiguous pieces, each with its state.
/// Before and after an episode the target is up.
#[derive(Clone, Debug)]
pub struct Episode {
    pub target: &'static str,
    pub kind: TargetKind,
    pub pieces: Vec<(Timestamp, Timestamp, State)>,
}

/// An incident as scheduled: when it opened, who acknowledged when,
/// when it was restored (the last restoration of a flapping one), and
/// whether a declared window made it planned.
#[derive(Clone, Debug)]
pub struct ScheduledIncident {
    pub id: u64,
    pub target: &'static str,
    pub kind: TargetKind,
    pub opened: Timestamp,
    pub ack: Option<(Timestamp, &'static str)>,
    /// Restored, reopened within the flap window, ... in order: the last is
    /// the final restoration.
    pub restored: Vec<Timestamp>,
    pub reopened: Vec<Timestamp>,
    pub planned: bool,
}

/// A maintenance window: targets, start, end, reason; declared ones also
/// say who declared them and when.
#[derive(Clone, Debug)]
pub struct ScheduledWindow {
    pub targets: Vec<&'static str>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: &'static str,
    pub declared: Option<(Timestamp, &'static str)>,
}

pub struct Year {
    pub devices: Vec<(&'static str, &'static str, &'static str)>,
    /// id, unit, carrier, bandwidth, device.
    pub lines: Vec<(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    )>,
    pub episodes: Vec<Episode>,
    pub incidents: Vec<ScheduledIncident>,
    pub windows: Vec<ScheduledWindow>,
    /// When every target was first seen up.
    pub first_seen: Timestamp,
    pub respond_within: Duration,
    pub restore_within: Duration,
    pub availability_target: f64,
}

/// The year's schedule (see the module's table).
pub fn year() -> Year {
    use State::{Degraded, Down, Unknown};
    use TargetKind::{Device, Line};
    let ep = |target, kind, pieces: &[(&str, &str, State)]| Episode {
        target,
        kind,
        pieces: pieces
            .iter()
            .map(|(a, b, s)| (local(a), local(b), *s))
            .collect(),
    };
    let restart = ("2020-07-15 03:00", "2020-07-15 05:00", Unknown);
    let mut episodes = vec![
        ep(
            "core-r1",
            Device,
            &[
                ("2020-07-15 02:00", "2020-07-15 03:00", Down),
                restart,
                ("2020-07-15 05:00", "2020-07-15 05:30", Down),
            ],
        ),
        ep(
            "core-sw1",
            Device,
            &[("2020-06-01 00:30", "2020-06-01 02:00", Down)],
        ),
        ep(
            "acc-001",
            Device,
            &[("2020-01-31 23:30", "2020-02-01 00:30", Down)],
        ),
        ep(
            "acc-002",
            Device,
            &[("2020-11-11 08:00", "2020-11-11 13:00", Down)],
        ),
        ep(
            "acc-003",
            Device,
            &[("2020-03-04 10:00", "2020-03-04 10:05", Down)],
        ),
        ep(
            "acc-003",
            Device,
            &[("2020-03-04 10:08", "2020-03-04 10:20", Down)],
        ),
        ep(
            "L-001",
            Line,
            &[("2019-12-31 23:00", "2020-01-01 01:00", Down)],
        ),
        ep(
            "L-001",
            Line,
            &[("2020-04-01 08:00", "2020-04-01 09:00", Degraded)],
        ),
        ep(
            "L-002",
            Line,
            &[("2020-09-10 10:00", "2020-09-10 20:00", Down)],
        ),
        ep(
            "L-003",
            Line,
            &[("2020-12-31 23:30", "2021-01-01 00:30", Down)],
        ),
    ];
    // The restart gap for every target but core-r1, whose outage spans it.
    for (target, kind) in [
        ("core-sw1", Device),
        ("acc-001", Device),
        ("acc-002", Device),
        ("acc-003", Device),
        ("L-001", Line),
        ("L-002", Line),
        ("L-003", Line),
    ] {
        episodes.push(ep(target, kind, &[restart]));
    }
    let inc = |id,
               target,
               kind,
               opened: &str,
               ack: Option<(&str, &'static str)>,
               restored: &[&str],
               reopened: &[&str],
               planned| {
        ScheduledIncident {
            id,
            target,
            kind,
            opened: local(opened),
            ack: ack.map(|(t, by)| (local(t), by)),
            restored: restored.iter().map(|t| local(t)).collect(),
            reopened: reopened.iter().map(|t| local(t)).collect(),
            planned,
        }
    };
    let incidents = vec![
        inc(
            1,
            "L-001",
            Line,
            "2019-12-31 23:00",
            Some(("2019-12-31 23:10", "li")),
            &["2020-01-01 01:00"],
            &[],
            false,
        ),
        inc(
            2,
            "acc-001",
            Device,
            "2020-01-31 23:30",
            Some(("2020-02-01 00:20", "wang")),
            &["2020-02-01 00:30"],
            &[],
            false,
        ),
        inc(
            3,
            "acc-003",
            Device,
            "2020-03-04 10:00",
            Some(("2020-03-04 10:02", "zhao")),
            &["2020-03-04 10:05", "2020-03-04 10:20"],
            &["2020-03-04 10:08"],
            false,
        ),
        inc(
            4,
            "core-sw1",
            Device,
            "2020-06-01 00:30",
            Some(("2020-06-01 00:40", "li")),
            &["2020-06-01 02:00"],
            &[],
            false,
        ),
        inc(
            5,
            "core-r1",
            Device,
            "2020-07-15 02:00",
            None,
            &["2020-07-15 05:30"],
            &[],
            false,
        ),
        inc(
            6,
            "L-002",
            Line,
            "2020-09-10 10:00",
            Some(("2020-09-10 10:15", "li")),
            &["2020-09-10 20:00"],
            &[],
            true,
        ),
        inc(
            7,
            "acc-002",
            Device,
            "2020-11-11 08:00",
            Some(("2020-11-11 08:20", "wang")),
            &["2020-11-11 13:00"],
            &[],
            false,
        ),
        inc(
            8,
            "L-003",
            Line,
            "2020-12-31 23:30",
            Some(("2020-12-31 23:45", "li")),
            &["2021-01-01 00:30"],
            &[],
            false,
        ),
    ];
    let windows = vec![
        ScheduledWindow {
            targets: vec!["core-sw1"],
            start: local("2020-06-01 01:00"),
            end: local("2020-06-01 03:00"),
            reason: "core switch firmware upgrade",
            declared: None,
        },
        ScheduledWindow {
            targets: vec!["L-002"],
            start: local("2020-09-10 10:00"),
            end: local("2020-09-10 11:00"),
            reason: "carrier work notified late",
            declared: Some((local("2020-09-11 09:00"), "zhang")),
        },
    ];
    Year {
        devices: vec![
            ("core-r1", "router", "core-room"),
            ("core-sw1", "core_switch", "core-room"),
            ("acc-001", "access_egress", "unit-a"),
            ("acc-002", "access_egress", "unit-b"),
            ("acc-003", "access_egress", "unit-c"),
        ],
        lines: vec![
            ("L-001", "Finance Bureau", "Carrier A", "100M", "acc-001"),
            ("L-002", "Tax Office", "Carrier B", "50M", "acc-002"),
            ("L-003", "Health Commission", "Carrier A", "20M", "acc-003"),
        ],
        episodes,
        incidents,
        windows,
        first_seen: local("2019-12-20 00:00"),
        respond_within: Duration::from_secs(30 * 60),
        restore_within: Duration::from_secs(4 * 3600),
        availability_target: 0.999,
    }
}

impl Year {
    /// The config's text: the targets (on loopback addresses nothing
    /// probes: only `netkpi report` reads this config), the config's own
    /// maintenance window, SLA and plan; `extra` is appended (the
    /// `[report]` section of a test).
    pub fn config(&self, data_dir: &str, extra: &str) -> String {
        let mut text = format!(
            "[daemon]\nlisten = \"127.0.0.1:9731\"\ndata_dir = \"{data_dir}\"\ntimezone = \"Asia/Shanghai\"\n\n"
        );
        for (i, (name, role, site)) in self.devices.iter().enumerate() {
            text += &format!(
                "[[device]]\nname = \"{name}\"\nrole = \"{role}\"\naddress = \"127.0.30.{}\"\nsite = \"{site}\"\nicmp = {{}}\n\n",
                i + 1
            );
        }
        for (id, unit, carrier, bw, device) in &self.lines {
            text += &format!(
                "[[line]]\nid = \"{id}\"\nunit = \"{unit}\"\ncarrier = \"{carrier}\"\nbandwidth = \"{bw}\"\ndevice = \"{device}\"\n\n"
            );
        }
        for w in self.windows.iter().filter(|w| w.declared.is_none()) {
            let targets: Vec<String> = w.targets.iter().map(|t| format!("{t:?}")).collect();
            text += &format!(
                "[[maintenance]]\ntargets = [{}]\nstart = \"{}\"\nend = \"{}\"\nreason = \"{}\"\n\n",
                targets.join(", "),
                w.start,
                w.end,
                w.reason
            );
        }
        text += &format!(
            "[sla]\navailability_target = {}\nrespond_within = \"30m\"\nrestore_within = \"4h\"\nflap_window = \"10m\"\n\n",
            self.availability_target
        );
        text +=
            "[planned]\ncore_rooms = 1\ncore_devices = 2\naccess_devices = 3\nleased_lines = 3\n\n";
        text + extra
    }

    /// Writes the year into a new store in `data_dir` through the crate's
    /// `Store`: every change in the order of its time, each commit with
    /// the transitions and incident changes of one instant, the declared
    /// window when it was declared.
    pub fn write_store(&self, data_dir: &Path) {
        let mut store = Store::open(data_dir).expect("create the store");
        // (at, order within the instant, what)
        let mut events: Vec<(Timestamp, u8, Event)> = Vec::new();
        let targets = self
            .devices
            .iter()
            .map(|d| (d.0, TargetKind::Device))
            .chain(self.lines.iter().map(|l| (l.0, TargetKind::Line)));
        for (target, kind) in targets {
            events.push((self.first_seen, 0, Event::State(target, kind, State::Up)));
        }
        for e in &self.episodes {
            for (start, _, state) in &e.pieces {
                events.push((*start, 0, Event::State(e.target, e.kind, *state)));
            }
            let end = e.pieces.last().expect("an episode has pieces").1;
            events.push((end, 0, Event::State(e.target, e.kind, State::Up)));
        }
        for i in &self.incidents {
            events.push((i.opened, 1, Event::Opened(i.clone())));
            if let Some((at, by)) = i.ack {
                events.push((at, 1, Event::Ack(i.id, by)));
            }
            for at in &i.restored {
                events.push((*at, 1, Event::Restored(i.id)));
            }
            for at in &i.reopened {
                events.push((*at, 1, Event::Reopened(i.id)));
            }
        }
        for (n, w) in self.windows.iter().enumerate() {
            if let Some((at, by)) = w.declared {
                events.push((at, 2, Event::Declared(n as u64 + 1, w.clone(), by)));
                for i in self.incidents.iter().filter(|i| i.planned) {
                    events.push((at, 3, Event::Planned(i.id, n as u64 + 1, by, w.reason)));
                }
            }
        }
        events.sort_by_key(|(at, order, _)| (*at, *order));
        // The same instant may hold a restoration and a state change of
        // another target; commit one instant at a time.
        let mut i = 0;
        while i < events.len() {
            let at = events[i].0;
            let mut transitions = Vec::new();
            let mut changes = Vec::new();
            let mut windows = Vec::new();
            while i < events.len() && events[i].0 == at {
                match &events[i].2 {
                    Event::State(target, kind, state) => transitions.push(Transition {
                        target: target.to_string(),
                        kind: *kind,
                        at,
                        state: *state,
                        cause: (*state == State::Down).then(|| "icmp:timeout".to_string()),
                    }),
                    Event::Opened(s) => changes.push(Change::Opened(Incident {
                        id: s.id,
                        kind: s.kind,
                        target: s.target.to_string(),
                        alarm: None,
                        severity: Severity::Major,
                        cause: Some("icmp:timeout".to_string()),
                        opened_at: s.opened,
                        acknowledged_at: None,
                        acknowledged_by: None,
                        restored_at: None,
                        root_id: None,
                        flaps: 0,
                        planned: false,
                        respond_within: self.respond_within,
                        restore_within: self.restore_within,
                    })),
                    Event::Ack(id, by) => changes.push(Change::Acknowledged {
                        id: *id,
                        at,
                        by: by.to_string(),
                        via: None,
                    }),
                    Event::Restored(id) => changes.push(Change::Restored { id: *id, at }),
                    Event::Reopened(id) => changes.push(Change::Reopened { id: *id, at }),
                    Event::Declared(id, w, by) => windows.push(Window {
                        id: *id,
                        created: at,
                        by: by.to_string(),
                        reason: w.reason.to_string(),
                        start: w.start,
                        end: w.end,
                        targets: w.targets.iter().map(|t| t.to_string()).collect(),
                    }),
                    Event::Planned(id, window, by, reason) => changes.push(Change::Planned {
                        id: *id,
                        at,
                        window: *window,
                        by: by.to_string(),
                        reason: reason.to_string(),
                    }),
                }
                i += 1;
            }
            store
                .commit(&Commit {
                    transitions: &transitions,
                    incidents: &changes,
                    windows: &windows,
                    heartbeat: Some(at),
                    ..Commit::default()
                })
                .expect("commit the synthetic year");
        }
    }
}

enum Event {
    State(&'static str, TargetKind, State),
    Opened(ScheduledIncident),
    Ack(u64, &'static str),
    Restored(u64),
    Reopened(u64),
    Declared(u64, ScheduledWindow, &'static str),
    Planned(u64, u64, &'static str, &'static str),
}

// ---------------------------------------------------------------------
// Expected figures, by plain arithmetic on the schedule.

/// Seconds of `[a, b)` ∩ `[from, to)`.
pub fn overlap(a: Timestamp, b: Timestamp, from: Timestamp, to: Timestamp) -> i64 {
    let s = a.as_second().max(from.as_second());
    let e = b.as_second().min(to.as_second());
    (e - s).max(0)
}

/// What the schedule says one target spent in each state over a period,
/// in seconds, maintenance taken out.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Expected {
    pub up: i64,
    pub degraded: i64,
    pub down: i64,
    pub unknown: i64,
    pub maintenance: i64,
    pub outages: u32,
    pub longest: i64,
}

impl Expected {
    pub fn availability(&self) -> Option<f64> {
        let observed = self.up + self.degraded + self.down;
        (observed > 0).then(|| (self.up + self.degraded) as f64 / observed as f64)
    }
}

impl Year {
    /// The windows covering `target` (a window on a device covers the
    /// lines that end on it).
    fn windows_of(&self, target: &str) -> Vec<(Timestamp, Timestamp)> {
        let device_of_line = self.lines.iter().find(|l| l.0 == target).map(|l| l.4);
        self.windows
            .iter()
            .filter(|w| {
                w.targets
                    .iter()
                    .any(|t| *t == target || Some(*t) == device_of_line)
            })
            .map(|w| (w.start, w.end))
            .collect()
    }

    /// The schedule's figures of `target` over `[from, to)`. The windows
    /// of this schedule do not overlap one another, so time inside them is
    /// their plain sum.
    pub fn expected(&self, target: &str, from: Timestamp, to: Timestamp) -> Expected {
        let windows = self.windows_of(target);
        let in_windows = |a: Timestamp, b: Timestamp| -> i64 {
            windows
                .iter()
                .map(|(ws, we)| {
                    let s = a.max(*ws);
                    let e = b.min(*we);
                    if s < e {
                        overlap(s, e, from, to)
                    } else {
                        0
                    }
                })
                .sum()
        };
        let mut x = Expected::default();
        // Before the target was first seen it is unknown.
        x.unknown += overlap(Timestamp::MIN, self.first_seen, from, to);
        for e in self.episodes.iter().filter(|e| e.target == target) {
            let mut outage_down = 0;
            for (a, b, state) in &e.pieces {
                let secs = overlap(*a, *b, from, to) - in_windows(*a, *b);
                match state {
                    State::Down => {
                        x.down += secs;
                        outage_down += secs;
                    }
                    State::Degraded => x.degraded += secs,
                    State::Unknown => x.unknown += secs,
                    _ => unreachable!("episodes are not up"),
                }
            }
            // An episode is one outage (pieces joined by unknown time).
            if outage_down > 0 {
                x.outages += 1;
                x.longest = x.longest.max(outage_down);
            }
        }
        x.maintenance = windows.iter().map(|(a, b)| overlap(*a, *b, from, to)).sum();
        let period = to.as_second() - from.as_second();
        x.up = period - x.degraded - x.down - x.unknown - x.maintenance;
        x
    }

    /// Every target: devices in config order, then lines.
    pub fn targets(&self) -> Vec<&'static str> {
        self.devices
            .iter()
            .map(|d| d.0)
            .chain(self.lines.iter().map(|l| l.0))
            .collect()
    }
}
