//! What is monitored, resolved from the config: devices, lines, parents and
//! the maintenance windows that apply to each target.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::{Config, Device, Line, Maintenance, Planned};
use crate::model::{Span, TargetKind};
use crate::probes::Prober;

#[derive(Clone, Debug)]
pub struct Inventory {
    pub devices: Vec<Device>,
    pub lines: Vec<Line>,
    /// Quantities from the evaluation table, compared with what is configured.
    pub planned: Planned,
    /// `sla.availability_target`: the share of time every target should
    /// deliver service.
    pub availability_target: f64,
    device_index: HashMap<String, usize>,
    line_index: HashMap<String, usize>,
    /// For each device (by index), the lines that end on it.
    lines_on_device: Vec<Vec<usize>>,
    /// For each device (by index), the lines whose core-side interface it
    /// carries (`line.interface.device`).
    lines_watched_on: Vec<Vec<usize>>,
    /// Planned windows per target, indexed by [`TargetKind`] as `usize`.
    maintenance: [HashMap<String, Vec<Span>>; 2],
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
        let mut inventory = Inventory {
            devices,
            lines,
            planned: config.planned.clone(),
            availability_target: config.sla.availability_target,
            device_index,
            line_index,
            lines_on_device,
            lines_watched_on,
            maintenance: Default::default(),
        };
        inventory.add_windows(&config.maintenance);
        inventory
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
