//! `[[line]]`: leased lines, the device at their far end, and the interface
//! that carries them.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::super::builtin;
use super::super::raw::{RawConfig, S};
use super::super::{Line, LineInterface};
use super::fields::{check_name, check_text, non_empty, required, severity};
use crate::diag::{Diags, Shown};

pub(super) fn lines(raw: &RawConfig, diags: &mut Diags<'_>) -> Vec<Line> {
    // Looked up once per line: a province's config has tens of thousands.
    let seen: HashSet<&str> = raw.device_names_seen.iter().map(String::as_str).collect();
    let device_exists = |name: &str| seen.contains(name);
    let mut first_named: HashMap<&str, usize> = HashMap::new();
    for (j, e) in raw.devices.iter().enumerate() {
        if let Some(n) = e.value.as_ref().and_then(|d| d.name.as_ref()) {
            first_named.entry(n.get_ref().as_str()).or_insert(j);
        }
    }
    let device_index = |name: &str| first_named.get(name).copied();
    let mut out = Vec::new();
    let mut ids: HashMap<&str, (usize, Range<usize>)> = HashMap::new();

    for (i, entry) in raw.lines.iter().enumerate() {
        let Some(l) = &entry.value else { continue };
        let path = format!("line[{i}]");
        let span = &entry.span;

        let id = required(
            &l.id,
            span,
            &path,
            "id",
            "every line needs a unique id, e.g. \"L-001\"",
            diags,
        )
        .filter(|id| check_name(id, &format!("{path}.id"), "line id", diags));
        if let Some(id) = id {
            let idp = format!("{path}.id");
            if let Some((j, first)) = ids.get(id.get_ref().as_str()) {
                let first = diags.where_is(first.start, id.span().start, &format!("line[{j}]"));
                diags.at(
                    id.span(),
                    idp,
                    format!(
                        "duplicate line id {:?}; {first} already uses it",
                        id.get_ref()
                    ),
                );
            } else {
                ids.insert(id.get_ref(), (i, id.span()));
                if let Some(j) = device_index(id.get_ref()) {
                    let name_at = raw.devices[j]
                        .value
                        .as_ref()
                        .and_then(|d| d.name.as_ref())
                        .map_or(0, |n| n.span().start);
                    let device = diags.where_is(name_at, id.span().start, &format!("device[{j}]"));
                    diags.at(
                        id.span(),
                        idp,
                        format!(
                            "line id {:?} is also the name of {device}; maintenance targets name devices and lines alike, so rename one",
                            id.get_ref()
                        ),
                    );
                }
            }
        }

        let unit = required(
            &l.unit,
            span,
            &path,
            "unit",
            "the member unit this line connects",
            diags,
        )
        .filter(|u| {
            let p = format!("{path}.unit");
            non_empty(u, &p, diags) && check_text(u, &p, "unit", builtin::TEXT_MAX_CHARS, diags)
        });
        for (key, value) in [("carrier", &l.carrier), ("bandwidth", &l.bandwidth)] {
            if let Some(v) = value {
                let p = format!("{path}.{key}");
                check_text(v, &p, key, builtin::TEXT_MAX_CHARS, diags);
            }
        }

        let device = required(
            &l.device,
            span,
            &path,
            "device",
            "the access egress device at the far end",
            diags,
        )
        .filter(|d| {
            let ok = device_exists(d.get_ref());
            if !ok {
                diags.at(
                    d.span(),
                    format!("{path}.device"),
                    format!("no device named {:?}", Shown(d.get_ref())),
                );
            }
            ok
        });

        let interface = l.interface.as_ref().and_then(|iface| {
            let ipath = format!("{path}.interface");
            let ispan = iface.span();
            let iface = iface.get_ref();
            let dev = required(
                &iface.device,
                &ispan,
                &ipath,
                "device",
                "the device that has the port",
                diags,
            )
            .filter(|d| {
                let ok = device_exists(d.get_ref());
                if !ok {
                    diags.at(
                        d.span(),
                        format!("{ipath}.device"),
                        format!("no device named {:?}", Shown(d.get_ref())),
                    );
                }
                ok
            })
            .filter(|d| {
                let Some(j) = device_index(d.get_ref()) else {
                    return true; // its entry is unreadable, and reported
                };
                interface_device_polls_if_mib(raw, j, d, &format!("{ipath}.device"), diags)
            });
            let name = required(
                &iface.name,
                &ispan,
                &ipath,
                "name",
                "the port's ifName, e.g. \"GigabitEthernet0/0/1\"",
                diags,
            )
            .filter(|n| {
                let p = format!("{ipath}.name");
                non_empty(n, &p, diags)
                    && check_text(n, &p, "interface name", builtin::IF_NAME_MAX_CHARS, diags)
            });
            Some(LineInterface {
                device: dev?.get_ref().clone(),
                name: name?.get_ref().clone(),
            })
        });

        let severity = l
            .severity
            .as_ref()
            .and_then(|s| severity(s, &format!("{path}.severity"), diags));

        if let (Some(id), Some(unit), Some(device)) = (id, unit, device) {
            out.push(Line {
                id: id.get_ref().clone(),
                unit: unit.get_ref().clone(),
                carrier: l
                    .carrier
                    .as_ref()
                    .map_or(String::new(), |c| c.get_ref().clone()),
                bandwidth: l.bandwidth.as_ref().map(|b| b.get_ref().clone()),
                device: device.get_ref().clone(),
                interface,
                severity,
            });
        }
    }
    out
}

/// A line's `interface` is watched through IF-MIB's ifOperStatus on the
/// device that has the port, so that device must poll `if_mib`.
fn interface_device_polls_if_mib(
    raw: &RawConfig,
    j: usize,
    d: &S<String>,
    path: &str,
    diags: &mut Diags<'_>,
) -> bool {
    const IF_MIB: &str = "if_mib";
    // A device whose `snmp` was refused is reported there already.
    if diags.reported_under(&format!("device[{j}].snmp")) {
        return true;
    }
    let snmp = raw.devices[j]
        .value
        .as_ref()
        .and_then(|dev| dev.snmp.as_ref());
    let fix = match snmp.map(|s| s.get_ref().profiles.as_ref()) {
        None => format!("so give that device snmp = {{ profiles = [\"{IF_MIB}\"] }}"),
        // No `profiles`: reported at the device.
        Some(None) => return true,
        Some(Some(list)) if list.get_ref().iter().any(|p| p.get_ref() == IF_MIB) => return true,
        Some(Some(_)) => format!("so add \"{IF_MIB}\" to that device's snmp profiles"),
    };
    diags.at(
        d.span(),
        path,
        format!(
            "device {:?} has no SNMP polling with the {IF_MIB} profile; a line's interface state comes from IF-MIB, {fix}",
            d.get_ref()
        ),
    );
    false
}
