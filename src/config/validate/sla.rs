//! `[sla]` and `[planned]`: the targets the figures are measured against.

use super::super::builtin;
use super::super::raw::{RawPlanned, RawSla, S};
use super::super::{Planned, Sla};
use super::fields::{positive_duration, ratio};
use crate::diag::Diags;

pub(super) fn sla(raw: RawSla, diags: &mut Diags<'_>) -> Sla {
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
