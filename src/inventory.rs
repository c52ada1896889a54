//! What is monitored, resolved from the config: devices, lines, parents,
//! the maintenance windows that apply to each target, and each target's SLA.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::config::{Alarm, Config, Device, Line, Maintenance, Planned, Sla, SlaOverride};
use crate::model::{Severity, Span, TargetKind, LINE_SEVERITY};
use crate::probes::Prober;

#[derive(Clone, Debug)]
pub struct Inventory {
    pub devices: Arc<Vec<Device>>,
    pub lines: Arc<Vec<Line>>,
    /// Quantities from the evaluation table, compared with what is configured.
    pub planned: Planned,
    /// `sla.availability_target`: the share of time a target should deliver
    /// service unless an `[[sla.override]]` says otherwise for it; a
    /// target's own is [`Inventory::sla_of`]'s.
    pub availability_target: f64,
    /// `sla.flap_window`: a target down again within this after its
    /// restoration reopens the same incident.
    pub flap_window: Duration,
    /// `[[alarm]]`: thresholds on polled values, judged by the ledger task.
    pub alarms: Vec<Alarm>,
    /// `daemon.timezone`: where days begin (energy is kept per local day).
    pub timezone: TimeZone,
    device_index: HashMap<String, usize>,
    line_index: HashMap<String, usize>,
    /// For each device (by index), the lines that end on it.
    lines_on_device: Vec<Vec<usize>>,
    /// For each device (by index), the lines whose core-side interface it
    /// carries (`line.interface.device`).
    lines_watched_on: Vec<Vec<usize>>,
    /// Planned windows per target, indexed by [`TargetKind`] as `usize`.
    maintenance: [HashMap<String, Vec<Span>>; 2],
    /// Each target's SLA, indexed like `maintenance`.
    sla: [HashMap<String, TargetSla>; 2],
    /// What a name that is not configured gets.
    unknown_sla: TargetSla,
}

/// What one target is held to: the global `[sla]` values, the severity its
/// role or line gives it, and the `[[sla.override]]` tables that apply to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetSla {
    pub severity: Severity,
    pub respond_within: Duration,
    pub restore_within: Duration,
    pub availability_target: f64,
}

impl TargetSla {
    fn global(sla: &Sla, severity: Severity) -> TargetSla {
        TargetSla {
            severity,
            respond_within: sla.respond_within,
            restore_within: sla.restore_within,
            availability_target: sla.availability_target,
        }
    }

    /// Applies the overrides that select a target: key by key, the most
    /// specific override that sets a key wins, and among equally specific
    /// ones the later in the file. A severity `fixed` by the target itself
    /// (a line's `severity`) is kept whatever the overrides say.
    fn with_overrides<'a>(
        mut self,
        overrides: impl Iterator<Item = &'a SlaOverride>,
        fixed: Option<Severity>,
    ) -> TargetSla {
        let mut selected: Vec<(usize, &SlaOverride)> = overrides.enumerate().collect();
        // Stable: equal specificity keeps file order, so the later applies last.
        selected.sort_by_key(|(_, o)| o.applies_to.specificity());
        for (_, o) in selected {
            if let Some(v) = o.availability_target {
                self.availability_target = v;
            }
            if let Some(v) = o.respond_within {
                self.respond_within = v;
            }
            if let Some(v) = o.restore_within {
                self.restore_within = v;
            }
            if let Some(v) = o.severity {
                self.severity = v;
            }
        }
        if let Some(v) = fixed {
            self.severity = v;
        }
        self
    }
}

impl Inventory {
    pub fn new(config: &Config) -> Inventory {
        let devices = config.devices.clone();
        let lines = config.lines.clone();
        let device_index: HashMap<String, usize> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        let line_index: HashMap<String, usize> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.clone(), i))
            .collect();
        let mut lines_on_device = vec![Vec::new(); devices.len()];
        let mut lines_watched_on = vec![Vec::new(); devices.len()];
        for (li, line) in lines.iter().enumerate() {
            if let Some(&di) = device_index.get(&line.device) {
                lines_on_device[di].push(li);
            }
            if let Some(di) = line
                .interface
                .as_ref()
                .and_then(|i| device_index.get(&i.device))
            {
                lines_watched_on[*di].push(li);
            }
        }
        let sla_config = &config.sla;
        let overrides = &sla_config.overrides;
        let mut sla: [HashMap<String, TargetSla>; 2] = Default::default();
        for d in devices.iter() {
            let resolved = TargetSla::global(sla_config, Severity::of_role(d.role)).with_overrides(
                overrides.iter().filter(|o| o.applies_to.selects_device(d)),
                None,
            );
            sla[TargetKind::Device as usize].insert(d.name.clone(), resolved);
        }
        for l in lines.iter() {
            let resolved = TargetSla::global(sla_config, LINE_SEVERITY).with_overrides(
                overrides.iter().filter(|o| o.applies_to.selects_line(l)),
                l.severity,
            );
            sla[TargetKind::Line as usize].insert(l.id.clone(), resolved);
        }
        let mut inventory = Inventory {
            devices,
            lines,
            planned: config.planned.clone(),
            availability_target: sla_config.availability_target,
            flap_window: sla_config.flap_window,
            alarms: config.alarms.clone(),
            timezone: config.daemon.timezone.clone(),
            device_index,
            line_index,
            lines_on_device,
            lines_watched_on,
            maintenance: Default::default(),
            sla,
            unknown_sla: TargetSla::global(sla_config, Severity::Minor),
        };
        inventory.add_windows(&config.maintenance);
        inventory
    }

    /// What a target is held to, resolved when the inventory was built; a
    /// name that is not configured gets the global `[sla]` values and
    /// severity minor.
    pub fn sla_of(&self, kind: TargetKind, name: &str) -> TargetSla {
        self.sla[kind as usize]
            .get(name)
            .copied()
            .unwrap_or(self.unknown_sla)
    }

    /// Puts planned windows in force on top of the config's (windows an
    /// operator started through the API). A window on a device covers the
    /// lines that end on it too; names that are not configured are skipped.
    pub fn add_windows(&mut self, windows: &[Maintenance]) {
        for window in windows {
            let span = Span {
                start: window.start,
                end: window.end,
            };
            for (kind, name) in self.window_targets(&window.targets) {
                self.maintenance[kind as usize]
                    .entry(name)
                    .or_default()
                    .push(span);
            }
        }
    }

    /// The targets a window on `names` covers: each named device and the
    /// lines that end on it, each named line. Unknown names are left out.
    pub fn window_targets(&self, names: &[String]) -> Vec<(TargetKind, String)> {
        let mut out: Vec<(TargetKind, String)> = Vec::new();
        let mut push = |kind, name: &str| {
            if !out.iter().any(|(k, n)| *k == kind && n == name) {
                out.push((kind, name.to_string()));
            }
        };
        for name in names {
            if let Some(&di) = self.device_index.get(name) {
                push(TargetKind::Device, name);
                // Work on the access device takes its leased lines out of
                // service too: a planned window on the device is planned
                // for them as well.
                for &li in &self.lines_on_device[di] {
                    push(TargetKind::Line, &self.lines[li].id);
                }
            } else if self.line_index.contains_key(name) {
                push(TargetKind::Line, name);
            }
        }
        out
    }

    pub fn device_index(&self, name: &str) -> Option<usize> {
        self.device_index.get(name).copied()
    }

    pub fn device(&self, name: &str) -> Option<&Device> {
        self.device_index(name).map(|i| &self.devices[i])
    }

    pub fn line(&self, id: &str) -> Option<&Line> {
        self.line_index.get(id).map(|&i| &self.lines[i])
    }

    pub fn line_index(&self, id: &str) -> Option<usize> {
        self.line_index.get(id).copied()
    }

    /// Indices of the lines that end on `device`.
    pub fn lines_on(&self, device: usize) -> &[usize] {
        &self.lines_on_device[device]
    }

    /// Indices of the lines whose core-side interface `device` carries.
    pub fn lines_watched_on(&self, device: usize) -> &[usize] {
        &self.lines_watched_on[device]
    }

    /// The planned windows covering a target (empty when none).
    pub fn maintenance(&self, kind: TargetKind, name: &str) -> &[Span] {
        self.maintenance[kind as usize]
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every configured target, devices first, in config order.
    pub fn targets(&self) -> impl Iterator<Item = (TargetKind, &str)> {
        self.devices
            .iter()
            .map(|d| (TargetKind::Device, d.name.as_str()))
            .chain(self.lines.iter().map(|l| (TargetKind::Line, l.id.as_str())))
    }
}

/// How a prober times its rounds on one device.
pub struct Timing {
    pub interval: Duration,
    /// The longest one round may take.
    pub round_max: Duration,
}

/// The one place that maps a prober to its settings on a device (a new
/// prober adds its arm here); `None` when the prober is not enabled there.
pub fn timing(device: &Device, prober: Prober) -> Option<Timing> {
    match prober {
        Prober::Icmp => device.icmp.as_ref().map(|s| Timing {
            interval: s.interval,
            round_max: s.timeout,
        }),
        Prober::Snmp => device.snmp.as_ref().map(|s| Timing {
            interval: s.interval,
            round_max: s.timeout * (s.retries + 1),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::Severity::{Critical, Major, Minor};

    const MIN: Duration = Duration::from_secs(60);

    /// A core router, an aggregation switch, two access devices, and three
    /// lines: two with Carrier A, one (critical by its own key) with Carrier B.
    const TARGETS: &str = r#"
[[device]]
name = "core-r1"
role = "router"
address = "10.1.0.1"

[[device]]
name = "agg-1"
role = "aggregation_switch"
address = "10.1.0.2"

[[device]]
name = "acc-001"
role = "access_egress"
address = "10.2.0.1"

[[device]]
name = "acc-002"
role = "access_egress"
address = "10.2.0.2"

[[line]]
id = "L-001"
unit = "Finance Bureau"
carrier = "Carrier A"
device = "acc-001"

[[line]]
id = "L-002"
unit = "Education Bureau"
carrier = "Carrier A"
device = "acc-002"

[[line]]
id = "L-003"
unit = "Hospital"
carrier = "Carrier B"
device = "acc-002"
severity = "critical"
"#;

    fn inventory(sla: &str) -> Inventory {
        let text = format!("{TARGETS}\n{sla}");
        let config = crate::config::load_str(Path::new("t.toml"), &text)
            .unwrap_or_else(|ds| panic!("{ds:#?}"));
        Inventory::new(&config)
    }

    fn sla(severity: Severity, respond: u32, restore: u32, availability_target: f64) -> TargetSla {
        TargetSla {
            severity,
            respond_within: respond * MIN,
            restore_within: restore * MIN,
            availability_target,
        }
    }

    #[test]
    fn without_overrides_every_target_has_the_global_sla_and_its_own_severity() {
        let inv = inventory("");
        assert_eq!(inv.flap_window, 10 * MIN);
        assert_eq!(inv.availability_target, 0.999);
        let of = |kind, name| inv.sla_of(kind, name);
        assert_eq!(
            of(TargetKind::Device, "core-r1"),
            sla(Critical, 30, 240, 0.999)
        );
        assert_eq!(of(TargetKind::Device, "agg-1"), sla(Major, 30, 240, 0.999));
        assert_eq!(
            of(TargetKind::Device, "acc-001"),
            sla(Minor, 30, 240, 0.999)
        );
        assert_eq!(of(TargetKind::Line, "L-001"), sla(Major, 30, 240, 0.999));
        assert_eq!(of(TargetKind::Line, "L-003"), sla(Critical, 30, 240, 0.999));
        // Unknown names, and a name asked for as the wrong kind.
        assert_eq!(of(TargetKind::Line, "L-404"), sla(Minor, 30, 240, 0.999));
        assert_eq!(of(TargetKind::Line, "core-r1"), sla(Minor, 30, 240, 0.999));
    }

    #[test]
    fn the_global_values_are_the_base_of_every_target() {
        let inv = inventory(
            "[sla]\navailability_target = 0.99\nrespond_within = \"10m\"\nrestore_within = \"2h\"\nflap_window = \"3m\"\n",
        );
        assert_eq!(inv.flap_window, 3 * MIN);
        assert_eq!(
            inv.sla_of(TargetKind::Line, "L-002"),
            sla(Major, 10, 120, 0.99)
        );
        assert_eq!(
            inv.sla_of(TargetKind::Device, "nowhere"),
            sla(Minor, 10, 120, 0.99)
        );
    }

    #[test]
    fn line_beats_carrier_and_device_beats_role_whatever_the_order() {
        // The most specific tables come first, so file order alone would
        // let the broader ones win.
        let inv = inventory(
            r#"
[[sla.override]]
match = { line = "L-001" }
respond_within = "5m"

[[sla.override]]
match = { device = "acc-001" }
severity = "major"
availability_target = 0.9999

[[sla.override]]
match = { carrier = "Carrier A" }
respond_within = "1h"
restore_within = "8h"

[[sla.override]]
match = { role = "access_egress" }
severity = "critical"
availability_target = 0.99
respond_within = "2h"
"#,
        );
        // Key by key: the line's own respond_within, the carrier's restore_within.
        assert_eq!(
            inv.sla_of(TargetKind::Line, "L-001"),
            sla(Major, 5, 480, 0.999)
        );
        assert_eq!(
            inv.sla_of(TargetKind::Line, "L-002"),
            sla(Major, 60, 480, 0.999)
        );
        assert_eq!(
            inv.sla_of(TargetKind::Line, "L-003"),
            sla(Critical, 30, 240, 0.999),
            "another carrier: untouched"
        );
        assert_eq!(
            inv.sla_of(TargetKind::Device, "acc-001"),
            sla(Major, 120, 240, 0.9999)
        );
        assert_eq!(
            inv.sla_of(TargetKind::Device, "acc-002"),
            sla(Critical, 120, 240, 0.99)
        );
        assert_eq!(
            inv.sla_of(TargetKind::Device, "core-r1"),
            sla(Critical, 30, 240, 0.999),
            "another role: untouched"
        );
    }

    #[test]
    fn carrier_beats_role_and_kinds_do_not_mix() {
        // A role never selects a line, nor a carrier a device, even the
        // device a line of that carrier ends on.
        let inv = inventory(
            r#"
[[sla.override]]
match = { carrier = "Carrier A" }
severity = "minor"

[[sla.override]]
match = { role = "access_egress" }
severity = "critical"
"#,
        );
        assert_eq!(inv.sla_of(TargetKind::Line, "L-001").severity, Minor);
        assert_eq!(inv.sla_of(TargetKind::Device, "acc-001").severity, Critical);
    }

    #[test]
    fn among_equally_specific_overrides_the_later_wins() {
        let inv = inventory(
            r#"
[[sla.override]]
match = { carrier = "Carrier A" }
restore_within = "8h"
respond_within = "1h"

[[sla.override]]
match = { line = "L-002" }
restore_within = "6h"

[[sla.override]]
match = { line = "L-002" }
restore_within = "3h"

[[sla.override]]
match = { role = "router" }
availability_target = 0.995

[[sla.override]]
match = { role = "router" }
availability_target = 0.9995
"#,
        );
        assert_eq!(
            inv.sla_of(TargetKind::Line, "L-002"),
            sla(Major, 60, 180, 0.999)
        );
        assert_eq!(
            inv.sla_of(TargetKind::Device, "core-r1"),
            sla(Critical, 30, 240, 0.9995)
        );
    }

    #[test]
    fn a_lines_own_severity_beats_every_override() {
        let inv = inventory(
            r#"
[[sla.override]]
match = { carrier = "Carrier B" }
severity = "minor"
restore_within = "8h"

[[sla.override]]
match = { line = "L-003" }
severity = "major"
"#,
        );
        assert_eq!(
            inv.sla_of(TargetKind::Line, "L-003"),
            sla(Critical, 30, 480, 0.999)
        );
    }
}
