//! `[sla]` with its `[[sla.override]]` tables, and `[planned]`: the targets
//! the figures are measured against.

use super::super::builtin;
use super::super::raw::{RawConfig, RawPlanned, RawSlaMatch, RawSlaOverride, S};
use super::super::read::did_you_mean;
use super::super::{Planned, Role, Sla, SlaMatch, SlaOverride};
use super::fields::{positive_duration, ratio, required, severity};
use crate::diag::{Diags, Shown};

/// How many carriers an "unknown carrier" message lists before `…`.
const CARRIERS_LISTED: usize = 10;

pub(super) fn sla(raw: &RawConfig, diags: &mut Diags<'_>) -> Sla {
    let mut sla = Sla {
        availability_target: builtin::SLA_AVAILABILITY_TARGET,
        respond_within: builtin::SLA_RESPOND_WITHIN,
        restore_within: builtin::SLA_RESTORE_WITHIN,
        flap_window: builtin::SLA_FLAP_WINDOW,
        overrides: Vec::new(),
    };
    if let Some(s) = &raw.sla {
        if let Some(v) = s
            .availability_target
            .as_ref()
            .and_then(|s| ratio(s, "sla.availability_target", "availability_target", diags))
        {
            sla.availability_target = v;
        }
        for (field, key, value) in [
            (&s.respond_within, "respond_within", &mut sla.respond_within),
            (&s.restore_within, "restore_within", &mut sla.restore_within),
            (&s.flap_window, "flap_window", &mut sla.flap_window),
        ] {
            if let Some(d) = field
                .as_ref()
                .and_then(|s| positive_duration(s, &format!("sla.{key}"), diags))
            {
                *value = d;
            }
        }
    }
    for (i, entry) in raw.sla_overrides.iter().enumerate() {
        let Some(o) = &entry.value else { continue };
        if let Some(o) = sla_override(raw, o, &entry.span, &format!("sla.override[{i}]"), diags) {
            sla.overrides.push(o);
        }
    }
    sla
}

fn sla_override(
    raw: &RawConfig,
    o: &RawSlaOverride,
    span: &std::ops::Range<usize>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<SlaOverride> {
    let applies_to = required(
        &o.matching,
        span,
        path,
        "match",
        "what the override applies to: one of carrier, role, line or device, e.g. match = { carrier = \"Carrier A\" }",
        diags,
    )
    .and_then(|m| sla_match(raw, m, &format!("{path}.match"), diags));

    let availability_target = o.availability_target.as_ref().map(|s| {
        ratio(
            s,
            &format!("{path}.availability_target"),
            "availability_target",
            diags,
        )
    });
    let respond_within = o
        .respond_within
        .as_ref()
        .map(|s| positive_duration(s, &format!("{path}.respond_within"), diags));
    let restore_within = o
        .restore_within
        .as_ref()
        .map(|s| positive_duration(s, &format!("{path}.restore_within"), diags));
    let severity = o
        .severity
        .as_ref()
        .map(|s| severity(s, &format!("{path}.severity"), diags));

    let sets_nothing = availability_target.is_none()
        && respond_within.is_none()
        && restore_within.is_none()
        && severity.is_none();
    // A key refused as unknown or of the wrong type is reported already.
    if sets_nothing && !diags.reported_under(path) {
        diags.at(
            span.clone(),
            path,
            "the override sets nothing; give it at least one of availability_target, respond_within, restore_within, severity",
        );
        return None;
    }
    // `Some(None)`: given, but refused (and reported).
    Some(SlaOverride {
        applies_to: applies_to?,
        availability_target: availability_target.map_or(Some(None), |v| v.map(Some))?,
        respond_within: respond_within.map_or(Some(None), |v| v.map(Some))?,
        restore_within: restore_within.map_or(Some(None), |v| v.map(Some))?,
        severity: severity.map_or(Some(None), |v| v.map(Some))?,
    })
}

/// `match`: exactly one key, naming something the config has.
fn sla_match(
    raw: &RawConfig,
    m: &S<RawSlaMatch>,
    path: &str,
    diags: &mut Diags<'_>,
) -> Option<SlaMatch> {
    let RawSlaMatch {
        carrier,
        role,
        line,
        device,
    } = m.get_ref();
    let mut keys: Vec<(&str, &S<String>)> = [
        ("carrier", carrier),
        ("role", role),
        ("line", line),
        ("device", device),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v.as_ref()?)))
    .collect();
    keys.sort_by_key(|(_, v)| v.span().start);
    let (key, value) = match keys.as_slice() {
        [one] => *one,
        [] => {
            // A key refused as unknown or of the wrong type is reported already.
            if !diags.reported_under(path) {
                diags.at(
                    m.span(),
                    path,
                    "match is empty; name exactly one of carrier, role, line or device, e.g. { carrier = \"Carrier A\" }",
                );
            }
            return None;
        }
        [_, second, ..] => {
            let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
            diags.at(
                second.1.span(),
                path,
                format!(
                    "match has {} keys ({}); an override matches by exactly one, so write one [[sla.override]] for each",
                    names.len(),
                    names.join(", ")
                ),
            );
            return None;
        }
    };
    let kpath = format!("{path}.{key}");
    let name = value.get_ref();
    let unknown = |diags: &mut Diags<'_>, what: String| {
        diags.at(value.span(), &kpath, what);
        None
    };
    match key {
        "carrier" => {
            let mut carriers: Vec<&str> = Vec::new();
            for c in &raw.line_carriers_seen {
                if !c.is_empty() && !carriers.contains(&c.as_str()) {
                    carriers.push(c);
                }
            }
            if carriers.contains(&name.as_str()) {
                return Some(SlaMatch::Carrier(name.clone()));
            }
            let known = if carriers.is_empty() {
                "; no line has a carrier".to_string()
            } else {
                let mut listed: Vec<String> = carriers
                    .iter()
                    .take(CARRIERS_LISTED)
                    .map(|c| format!("{:?}", Shown(c)))
                    .collect();
                if carriers.len() > CARRIERS_LISTED {
                    listed.push("…".into());
                }
                format!(
                    "; the lines' carriers are {}{}",
                    listed.join(", "),
                    did_you_mean(name, &carriers)
                )
            };
            unknown(
                diags,
                format!("no line has carrier {:?}{known}", Shown(name)),
            )
        }
        "role" => match Role::parse(name) {
            Some(r) => Some(SlaMatch::Role(r)),
            None => {
                let all = Role::ALL.map(Role::as_str);
                unknown(
                    diags,
                    format!(
                        "unknown role {:?}; expected one of: {}{}",
                        Shown(name),
                        all.join(", "),
                        did_you_mean(name, &all)
                    ),
                )
            }
        },
        "line" => {
            let ids: Vec<&str> = raw.line_ids_seen.iter().map(String::as_str).collect();
            if ids.contains(&name.as_str()) {
                return Some(SlaMatch::Line(name.clone()));
            }
            unknown(
                diags,
                format!(
                    "no line named {:?}{}",
                    Shown(name),
                    did_you_mean(name, &ids)
                ),
            )
        }
        _ => {
            let names: Vec<&str> = raw.device_names_seen.iter().map(String::as_str).collect();
            if names.contains(&name.as_str()) {
                return Some(SlaMatch::Device(name.clone()));
            }
            unknown(
                diags,
                format!(
                    "no device named {:?}{}",
                    Shown(name),
                    did_you_mean(name, &names)
                ),
            )
        }
    }
}

pub(super) fn planned(raw: RawPlanned, diags: &mut Diags<'_>) -> Planned {
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
