//! Semantic checks: from the raw file to a resolved [`Config`], collecting
//! every problem (required keys, ranges, names, references, cycles) rather
//! than stopping at the first.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::builtin;
use super::raw::{RawConfig, RawIcmp, RawMaintenance, S};
use super::read::did_you_mean;
use super::{
    Config, Daemon, Defaults, Device, IcmpSettings, Line, LineInterface, Maintenance, Planned,
    Role, Sla,
};
use crate::diag::Diags;

mod snmp;

use snmp::SnmpLayer;

/// Builds the resolved config. Problems go to `diags`; the returned value is
/// only meaningful when none were reported. `known_profiles` is asked once,
/// with the checked `daemon.profile_dirs`, for the profile names devices may use.
pub(super) fn resolve(
    path: &Path,
    mut raw: RawConfig,
    diags: &mut Diags<'_>,
    known_profiles: impl FnOnce(&[PathBuf]) -> Vec<String>,
) -> Option<Config> {
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let raw_daemon = raw.daemon.take().unwrap_or_default();
    let profile_dirs = snmp::profile_dirs(base_dir, &raw_daemon.profile_dirs, diags);
    let known = profile_dirs.as_deref().map(known_profiles);
    let daemon = daemon(base_dir, raw_daemon, profile_dirs, diags);

    let default_icmp = match raw.defaults.as_ref().and_then(|d| d.icmp.as_ref()) {
        Some(icmp) => icmp_layer(
            icmp.get_ref(),
            &IcmpSettings::default(),
            "the built-in defaults",
            "defaults.icmp",
            diags,
        ),
        None => IcmpSettings::default(),
    };

    let default_snmp = match raw.defaults.as_ref().and_then(|d| d.snmp.as_ref()) {
        Some(snmp) => {
            snmp::check_defaults(snmp.get_ref(), diags);
            snmp::snmp_layer(
                snmp.get_ref(),
                &SnmpLayer::builtin(),
                "[defaults.snmp]",
                "defaults.snmp",
                base_dir,
                diags,
            )
        }
        None => SnmpLayer::builtin(),
    };

    let devices = devices(
        &raw,
        &default_icmp,
        &default_snmp,
        known.as_deref(),
        base_dir,
        diags,
    );
    let lines = lines(&raw, diags);
    let traps = snmp::traps(&raw, base_dir, diags);
    let maintenance = maintenance(&raw, diags);
    let sla = sla(raw.sla.take().unwrap_or_default(), diags);
    let planned = planned(raw.planned.take().unwrap_or_default(), diags);

    Some(Config {
        source: path.to_path_buf(),
        daemon: daemon?,
        defaults: Defaults { icmp: default_icmp },
        devices,
        lines,
        maintenance,
        sla,
        planned,
        traps,
    })
}

fn daemon(
    base_dir: &Path,
    raw: super::raw::RawDaemon,
    profile_dirs: Option<Vec<PathBuf>>,
    diags: &mut Diags<'_>,
) -> Option<Daemon> {
    let listen = match &raw.listen {
        None => builtin::LISTEN.parse().ok(),
        Some(s) => match s.get_ref().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                diags.at(
                    s.span(),
                    "daemon.listen",
                    format!(
                        "invalid listen address {:?}; write IP:PORT, e.g. \"127.0.0.1:9731\" or \"[::1]:9731\"",
                        s.get_ref()
                    ),
                );
                None
            }
        },
    };

    let data_dir = match &raw.data_dir {
        None => Some(base_dir.join(builtin::DATA_DIR)),
        Some(s) => non_empty_path(base_dir, s, "daemon.data_dir", diags),
    };
    let api_token_file = match &raw.api_token_file {
        None => None,
        Some(s) => Some(non_empty_path(base_dir, s, "daemon.api_token_file", diags)?),
    };

    let timezone_name = raw
        .timezone
        .as_ref()
        .map_or(builtin::TIMEZONE.to_string(), |s| s.get_ref().clone());
    let timezone = match TimeZone::get(&timezone_name) {
        Ok(tz) => Some(tz),
        Err(_) => {
            let span = raw.timezone.as_ref().map_or(0..0, |s| s.span());
            diags.at(
                span,
                "daemon.timezone",
                format!(
                    "unknown time zone {timezone_name:?}; use an IANA name such as \"Asia/Shanghai\" or \"UTC\""
                ),
            );
            None
        }
    };

    Some(Daemon {
        listen: listen?,
        data_dir: data_dir?,
        timezone: timezone?,
        timezone_name,
        api_token_file,
        profile_dirs: profile_dirs?,
    })
}

/// A path that is resolved against the config file's directory when relative,
/// so the daemon finds its files whatever directory it was started from.
fn non_empty_path(
    base_dir: &Path,
    s: &S<String>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<PathBuf> {
    if s.get_ref().trim().is_empty() {
        diags.at(
            s.span(),
            path,
            "must not be empty; write a path or leave the key out",
        );
        return None;
    }
    Some(base_dir.join(s.get_ref()))
}

/// Resolves one `icmp` table over `base` (the built-ins for
/// `[defaults.icmp]`, the defaults for a device). A refused value falls back
/// to `base`, so one mistake is reported once, where it was written.
fn icmp_layer(
    raw: &RawIcmp,
    base: &IcmpSettings,
    base_name: &str,
    path: &str,
    diags: &mut Diags<'_>,
) -> IcmpSettings {
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

    // A round has to end before the next one starts, or rounds overlap and a
    // slow answer is counted against the wrong round. Checked only where this
    // table set one of the two; otherwise it was checked where they were set.
    if (interval_ok || timeout_ok) && out.timeout >= out.interval {
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
    out
}

fn duration(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<Duration> {
    match crate::duration::parse(s.get_ref()) {
        Ok(d) => Some(d),
        Err(e) => {
            diags.at(s.span(), path, e);
            None
        }
    }
}

fn positive_duration(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<Duration> {
    let d = duration(s, path, diags)?;
    if d.is_zero() {
        diags.at(s.span(), path, "must be longer than 0");
        return None;
    }
    Some(d)
}

fn count(
    raw: &Option<S<i64>>,
    min: u32,
    max: u32,
    path: &str,
    key: &str,
    what: &str,
    diags: &mut Diags<'_>,
) -> Option<u32> {
    let s = raw.as_ref()?;
    let v = *s.get_ref();
    if v < i64::from(min) || v > i64::from(max) {
        diags.at(
            s.span(),
            format!("{path}.{key}"),
            format!("{key} must be between {min} and {max} ({what}), not {v}"),
        );
        return None;
    }
    u32::try_from(v).ok()
}

/// A ratio in (0, 1]. Percentages are the usual slip, so they get a hint.
fn ratio(s: &S<f64>, path: &str, key: &str, diags: &mut Diags<'_>) -> Option<f64> {
    let v = *s.get_ref();
    if v > 0.0 && v <= 1.0 {
        return Some(v);
    }
    let hint = if v > 1.0 && v <= 100.0 {
        // Rounded so that 99.9 suggests 0.999, not 0.9990000000000001.
        format!("; for {v}% write {}", (v * 1e7).round() / 1e9)
    } else {
        String::new()
    };
    diags.at(
        s.span(),
        path,
        format!("{key} must be a ratio greater than 0 and at most 1, not {v}{hint}"),
    );
    None
}

fn required<'a, T>(
    field: &'a Option<S<T>>,
    entry_span: &Range<usize>,
    path: &str,
    key: &str,
    why: &str,
    diags: &mut Diags<'_>,
) -> Option<&'a S<T>> {
    let key_path = format!("{path}.{key}");
    // A value serde refused was dropped; it is reported already, not missing.
    if field.is_none() && !diags.reported_under(&key_path) {
        diags.at(
            entry_span.clone(),
            key_path,
            format!("missing `{key}`: {why}"),
        );
    }
    field.as_ref()
}

/// Device names and line ids become metric labels, URL segments and
/// maintenance targets, so they are kept to characters safe in all three.
fn check_name(s: &S<String>, path: &str, what: &str, diags: &mut Diags<'_>) -> bool {
    let name = s.get_ref();
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        diags.at(
            s.span(),
            path,
            format!("invalid {what} {name:?}; use only letters, digits, `_`, `.` and `-`"),
        );
    }
    ok
}

fn devices(
    raw: &RawConfig,
    default_icmp: &IcmpSettings,
    default_snmp: &SnmpLayer,
    known_profiles: Option<&[String]>,
    base_dir: &Path,
    diags: &mut Diags<'_>,
) -> Vec<Device> {
    let mut out = Vec::new();
    // name → (index, span of the name), for duplicates and references.
    let mut names: HashMap<&str, (usize, Range<usize>)> = HashMap::new();
    let mut parents: Vec<(usize, &str, Range<usize>)> = Vec::new();

    for (i, entry) in raw.devices.iter().enumerate() {
        let Some(d) = &entry.value else { continue };
        let path = format!("device[{i}]");
        let span = &entry.span;

        let name = required(
            &d.name,
            span,
            &path,
            "name",
            "every device needs a unique name",
            diags,
        );
        let name_ok =
            name.is_some_and(|n| check_name(n, &format!("{path}.name"), "device name", diags));
        if let (Some(n), true) = (name, name_ok) {
            if let Some((j, first)) = names.get(n.get_ref().as_str()) {
                let line = diags.line_of(first.start);
                diags.at(
                    n.span(),
                    format!("{path}.name"),
                    format!(
                        "duplicate device name {:?}; device[{j}] (line {line}) already uses it",
                        n.get_ref()
                    ),
                );
            } else {
                names.insert(n.get_ref(), (i, n.span()));
            }
        }

        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let role_why = format!("one of {}", all.join(", "));
        let role =
            required(&d.role, span, &path, "role", &role_why, diags).and_then(
                |r| match Role::parse(r.get_ref()) {
                    Some(role) => Some(role),
                    None => {
                        diags.at(
                            r.span(),
                            format!("{path}.role"),
                            format!(
                                "unknown role {:?}; expected one of: {}{}",
                                r.get_ref(),
                                all.join(", "),
                                did_you_mean(r.get_ref(), &all)
                            ),
                        );
                        None
                    }
                },
            );

        let address = required(
            &d.address,
            span,
            &path,
            "address",
            "the IP address or DNS name to probe",
            diags,
        )
        .filter(|a| match check_address(a.get_ref()) {
            Ok(()) => true,
            Err(message) => {
                diags.at(a.span(), format!("{path}.address"), message);
                false
            }
        });

        if let Some(p) = &d.parent {
            parents.push((i, p.get_ref(), p.span()));
        }

        let icmp = d.icmp.as_ref().map(|icmp| {
            icmp_layer(
                icmp.get_ref(),
                default_icmp,
                "[defaults.icmp]",
                &format!("{path}.icmp"),
                diags,
            )
        });

        let snmp = d.snmp.as_ref().map(|snmp| {
            let spath = format!("{path}.snmp");
            let layer = snmp::snmp_layer(
                snmp.get_ref(),
                default_snmp,
                "this device",
                &spath,
                base_dir,
                diags,
            );
            snmp::device_snmp(layer, snmp, &spath, known_profiles, diags)
        });

        if let (Some(name), Some(role), Some(address)) = (name, role, address) {
            out.push(Device {
                name: name.get_ref().clone(),
                role,
                address: address.get_ref().clone(),
                site: d
                    .site
                    .as_ref()
                    .map_or(String::new(), |s| s.get_ref().clone()),
                parent: d.parent.as_ref().map(|p| p.get_ref().clone()),
                icmp,
                snmp: snmp.flatten(),
            });
        }
    }

    // Parents: each must exist; then no chain may loop, since a loop would
    // make each device's outage "explained" by another forever.
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    for (i, parent, span) in &parents {
        let path = format!("device[{i}].parent");
        if !names.contains_key(parent) {
            if !raw.device_names_seen.iter().any(|n| n == parent) {
                diags.at(span.clone(), path, format!("no device named {parent:?}"));
            }
            continue;
        }
        let own = raw.devices[*i].value.as_ref().and_then(|d| d.name.as_ref());
        if let Some(own) = own {
            if names
                .get(own.get_ref().as_str())
                .is_some_and(|(j, _)| j == i)
            {
                parent_of.insert(own.get_ref(), parent);
            }
        }
    }
    for (i, _, span) in &parents {
        let Some(start) = raw.devices[*i].value.as_ref().and_then(|d| d.name.as_ref()) else {
            continue;
        };
        let start = start.get_ref().as_str();
        let mut chain = vec![start];
        let mut cur = start;
        while let Some(&next) = parent_of.get(cur) {
            if next == start {
                // Reported once, on the cycle's first device in the file.
                let first = chain
                    .iter()
                    .filter_map(|n| names.get(n))
                    .map(|(j, _)| *j)
                    .min();
                if first == Some(*i) {
                    chain.push(start);
                    let message = if chain.len() == 2 {
                        format!("device {start:?} cannot be its own parent")
                    } else {
                        format!(
                            "parent chain loops back: {}; a device cannot be upstream of itself",
                            chain.join(" -> ")
                        )
                    };
                    diags.at(span.clone(), format!("device[{i}].parent"), message);
                }
                break;
            }
            if chain.contains(&next) || chain.len() > parent_of.len() {
                break; // a loop that does not include `start`
            }
            chain.push(next);
            cur = next;
        }
    }
    out
}

/// IPv4/IPv6 literal, or a host name by RFC 1123 (letters, digits, `-`).
fn check_address(a: &str) -> Result<(), String> {
    if a.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if a.is_empty() {
        return Err("address must not be empty".into());
    }
    if a.starts_with('[') && a.ends_with(']') {
        return Err(format!(
            "write the IPv6 address without brackets: {:?}",
            a.trim_matches(['[', ']'])
        ));
    }
    if a.contains(':') {
        return Err(format!(
            "{a:?} is not a valid IPv6 address (and a port is not written here)"
        ));
    }
    let labels: Vec<&str> = a.strip_suffix('.').unwrap_or(a).split('.').collect();
    if labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "{a:?} is not a valid IPv4 address: write four numbers 0-255, e.g. \"10.1.0.1\""
        ));
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // A numeric last label would be read as an IPv4 address by resolvers.
    let tld_ok = labels
        .last()
        .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()));
    if a.len() <= 253 && labels.iter().all(label_ok) && tld_ok {
        Ok(())
    } else {
        Err(format!(
            "{a:?} is neither an IP address nor a valid DNS name (dot-separated labels of letters, digits and `-`)"
        ))
    }
}

fn lines(raw: &RawConfig, diags: &mut Diags<'_>) -> Vec<Line> {
    let device_exists = |name: &str| raw.device_names_seen.iter().any(|n| n == name);
    let device_index = |name: &str| {
        raw.devices.iter().position(|e| {
            e.value
                .as_ref()
                .and_then(|d| d.name.as_ref())
                .is_some_and(|n| n.get_ref() == name)
        })
    };
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
                let line = diags.line_of(first.start);
                diags.at(
                    id.span(),
                    idp,
                    format!(
                        "duplicate line id {:?}; line[{j}] (line {line}) already uses it",
                        id.get_ref()
                    ),
                );
            } else {
                ids.insert(id.get_ref(), (i, id.span()));
                if let Some(j) = device_index(id.get_ref()) {
                    diags.at(
                        id.span(),
                        idp,
                        format!(
                            "line id {:?} is also the name of device[{j}]; maintenance targets name devices and lines alike, so rename one",
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
        .filter(|u| non_empty(u, &format!("{path}.unit"), diags));

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
                    format!("no device named {:?}", d.get_ref()),
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
                        format!("no device named {:?}", d.get_ref()),
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
            .filter(|n| non_empty(n, &format!("{ipath}.name"), diags));
            Some(LineInterface {
                device: dev?.get_ref().clone(),
                name: name?.get_ref().clone(),
            })
        });

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

fn non_empty(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> bool {
    let ok = !s.get_ref().trim().is_empty();
    if !ok {
        diags.at(s.span(), path, "must not be empty");
    }
    ok
}

fn maintenance(raw: &RawConfig, diags: &mut Diags<'_>) -> Vec<Maintenance> {
    let exists = |name: &str| {
        raw.device_names_seen.iter().any(|n| n == name)
            || raw.line_ids_seen.iter().any(|n| n == name)
    };
    let mut out = Vec::new();
    for (i, entry) in raw.maintenance.iter().enumerate() {
        let Some(m) = &entry.value else { continue };
        let path = format!("maintenance[{i}]");
        let span = &entry.span;
        let RawMaintenance {
            targets,
            start,
            end,
            reason,
        } = m;

        let targets = required(
            targets,
            span,
            &path,
            "targets",
            "the devices and lines the window covers",
            diags,
        )
        .and_then(|t| {
            if t.get_ref().is_empty() {
                diags.at(
                    t.span(),
                    format!("{path}.targets"),
                    "must name at least one device or line",
                );
                return None;
            }
            let mut ok = true;
            for (k, target) in t.get_ref().iter().enumerate() {
                if !exists(target.get_ref()) {
                    ok = false;
                    diags.at(
                        target.span(),
                        format!("{path}.targets[{k}]"),
                        format!("no device or line named {:?}", target.get_ref()),
                    );
                }
            }
            ok.then(|| {
                t.get_ref()
                    .iter()
                    .map(|t| t.get_ref().clone())
                    .collect::<Vec<_>>()
            })
        });

        let start = required(
            start,
            span,
            &path,
            "start",
            "when the window begins (RFC 3339)",
            diags,
        )
        .and_then(|s| timestamp(s, &format!("{path}.start"), diags));
        let end_raw = required(
            end,
            span,
            &path,
            "end",
            "when the window ends (RFC 3339)",
            diags,
        );
        let end = end_raw.and_then(|s| timestamp(s, &format!("{path}.end"), diags));
        if let (Some((start, start_text)), Some((end, end_text)), Some(end_raw)) =
            (&start, &end, end_raw)
        {
            if end <= start {
                diags.at(
                    end_raw.span(),
                    format!("{path}.end"),
                    format!("end {end_text} must be after start {start_text}"),
                );
            }
        }

        // Maintenance time is taken out of availability, so auditors ask why.
        let reason = required(
            reason,
            span,
            &path,
            "reason",
            "planned windows are excluded from availability, so each needs its reason",
            diags,
        )
        .filter(|r| non_empty(r, &format!("{path}.reason"), diags));

        if let (Some(targets), Some((start, _)), Some((end, _)), Some(reason)) =
            (targets, start, end, reason)
        {
            out.push(Maintenance {
                targets,
                start,
                end,
                reason: reason.get_ref().clone(),
            });
        }
    }
    out
}

/// RFC 3339 with an offset, as a quoted string or a bare TOML datetime. A
/// time without offset is refused: the window must not move with the host's
/// time zone.
fn timestamp(s: &S<toml::Value>, path: &str, diags: &mut Diags<'_>) -> Option<(Timestamp, String)> {
    let text = match s.get_ref() {
        toml::Value::String(t) => t.clone(),
        toml::Value::Datetime(dt) => dt.to_string(),
        other => {
            diags.at(
                s.span(),
                path,
                format!(
                    "expected an RFC 3339 time such as \"2020-06-01T01:00:00+08:00\", found a {}",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    match text.parse::<Timestamp>() {
        Ok(t) => Some((t, text)),
        Err(_) => {
            let message = if text.parse::<jiff::civil::DateTime>().is_ok() {
                format!("{text:?} has no UTC offset; add one, e.g. \"{text}+08:00\", so the window does not depend on the host's time zone")
            } else {
                format!(
                    "{text:?} is not an RFC 3339 time; write e.g. \"2020-06-01T01:00:00+08:00\""
                )
            };
            diags.at(s.span(), path, message);
            None
        }
    }
}

fn sla(raw: super::raw::RawSla, diags: &mut Diags<'_>) -> Sla {
    let mut sla = Sla {
        availability_target: builtin::SLA_AVAILABILITY_TARGET,
        respond_within: builtin::SLA_RESPOND_WITHIN,
        restore_within: builtin::SLA_RESTORE_WITHIN,
    };
    if let Some(v) = raw
        .availability_target
        .as_ref()
        .and_then(|s| ratio(s, "sla.availability_target", "availability_target", diags))
    {
        sla.availability_target = v;
    }
    if let Some(d) = raw
        .respond_within
        .as_ref()
        .and_then(|s| positive_duration(s, "sla.respond_within", diags))
    {
        sla.respond_within = d;
    }
    if let Some(d) = raw
        .restore_within
        .as_ref()
        .and_then(|s| positive_duration(s, "sla.restore_within", diags))
    {
        sla.restore_within = d;
    }
    sla
}

fn planned(raw: super::raw::RawPlanned, diags: &mut Diags<'_>) -> Planned {
    let mut get = |field: &Option<S<i64>>, key: &str| -> u32 {
        let Some(s) = field else { return 0 };
        match u32::try_from(*s.get_ref()) {
            Ok(v) => v,
            Err(_) => {
                let message = if *s.get_ref() < 0 {
                    format!(
                        "{key} is a planned quantity and cannot be negative ({})",
                        s.get_ref()
                    )
                } else {
                    format!("{key} is too large ({})", s.get_ref())
                };
                diags.at(s.span(), format!("planned.{key}"), message);
                0
            }
        }
    };
    Planned {
        core_rooms: get(&raw.core_rooms, "core_rooms"),
        core_devices: get(&raw.core_devices, "core_devices"),
        access_devices: get(&raw.access_devices, "access_devices"),
        leased_lines: get(&raw.leased_lines, "leased_lines"),
    }
}

#[cfg(test)]
mod tests {
    use super::check_address;

    #[test]
    fn addresses() {
        for ok in [
            "10.1.0.1",
            "::1",
            "fe80::1",
            "core-r1.example.gov.cn",
            "localhost",
            "r1.",
            "a1b",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        for bad in [
            "10.1.0.300",
            "10.1.0",
            "bad host!",
            "",
            "-r1",
            "a..b",
            "[::1]",
            "1.2.3.4:161",
            "r_1",
            "10.1.0.1a.5",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
