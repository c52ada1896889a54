//! `[[device]]`: names, roles, addresses, parents, and each device's probes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;

use super::super::builtin;
use super::super::raw::RawConfig;
use super::super::read::did_you_mean;
use super::super::{Device, IcmpSettings, Role};
use super::fields::{check_name, check_text, required};
use super::icmp::icmp_layer;
use super::snmp::{self, SnmpLayer};
use crate::diag::{Diags, Shown};

pub(super) fn devices(
    raw: &RawConfig,
    (default_icmp, default_icmp_timing_known): (&IcmpSettings, bool),
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
                let first = diags.where_is(first.start, n.span().start, &format!("device[{j}]"));
                diags.at(
                    n.span(),
                    format!("{path}.name"),
                    format!(
                        "duplicate device name {:?}; {first} already uses it",
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
                                Shown(r.get_ref()),
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

        if let Some(s) = &d.site {
            check_text(
                s,
                &format!("{path}.site"),
                "site",
                builtin::TEXT_MAX_CHARS,
                diags,
            );
        }

        if let Some(p) = &d.parent {
            parents.push((i, p.get_ref(), p.span()));
        }

        let icmp = d.icmp.as_ref().map(|icmp| {
            icmp_layer(
                icmp.get_ref(),
                default_icmp,
                default_icmp_timing_known,
                "[defaults.icmp]",
                &format!("{path}.icmp"),
                diags,
            )
            .0
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
                diags.at(
                    span.clone(),
                    path,
                    format!("no device named {:?}", Shown(parent)),
                );
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
    let shown = Shown(a);
    if a.is_empty() {
        return Err("address must not be empty".into());
    }
    if a.starts_with('[') && a.ends_with(']') {
        return Err(format!(
            "write the IPv6 address without brackets: {:?}",
            Shown(a.trim_matches(['[', ']']))
        ));
    }
    if a.contains(':') {
        return Err(format!(
            "{shown:?} is not a valid IPv6 address (and a port is not written here)"
        ));
    }
    let labels: Vec<&str> = a.strip_suffix('.').unwrap_or(a).split('.').collect();
    if labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "{shown:?} is not a valid IPv4 address: write four numbers 0-255, e.g. \"10.1.0.1\""
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
            "{shown:?} is neither an IP address nor a valid DNS name (dot-separated labels of letters, digits and `-`)"
        ))
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
