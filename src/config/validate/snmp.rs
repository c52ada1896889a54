//! SNMP settings (`[defaults.snmp]`, each device's `snmp`): layering,
//! versions, profiles and `daemon.profile_dirs`. The v3 users and secret
//! files are in [`super::usm`], shared with `[traps]` ([`super::traps`]).
//!
//! A device's `snmp` is resolved over `[defaults.snmp]`, which is resolved
//! over the built-in defaults, key by key. Each table is checked for what it
//! writes (ranges, a key of the wrong SNMP version); the combination (v3 user
//! present, auth before priv, a poll fitting in its interval) is checked on
//! what a device ends up with, and reported where the operator has to act.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::builtin;
use super::super::raw::{RawSnmp, S};
use super::super::read::did_you_mean;
use super::super::SnmpSettings;
use super::fields::{check_text, count, duration, required};
use super::usm::{secret_file, usm_finish, usm_keys, Key, RawUsm, UsmKeys};
use crate::diag::{Diags, Shown};
use crate::secret::Secret;
use crate::snmp_security::{Credentials, SnmpVersion};

/// `[defaults.snmp]` or a device's `snmp`, resolved as far as one table can be.
#[derive(Clone, Debug)]
pub(in crate::config) struct SnmpLayer {
    interval: Duration,
    timeout: Duration,
    retries: u32,
    version: SnmpVersion,
    port: u16,
    max_repetitions: u32,
    /// Where `interval`, `timeout` and `retries` were set, for messages about
    /// a value this table did not write.
    interval_from: &'static str,
    timeout_from: &'static str,
    retries_from: &'static str,
    /// False when this layer or one below it wrote an `interval`, `timeout`
    /// or `retries` that was refused: the poll-vs-interval check would then
    /// compare against a fallback the operator did not choose, on top of the
    /// message about the refused value, so it is skipped.
    timing_known: bool,
    /// The built-in layer has one, so v1/v2c always resolve to a community.
    community: Key<Secret>,
    usm: UsmKeys,
}

impl SnmpLayer {
    pub(in crate::config) fn builtin() -> Self {
        SnmpLayer {
            interval: builtin::SNMP_INTERVAL,
            timeout: builtin::SNMP_TIMEOUT,
            retries: builtin::SNMP_RETRIES,
            version: SnmpVersion::parse(builtin::SNMP_VERSION).unwrap_or(SnmpVersion::V2c),
            port: builtin::SNMP_PORT,
            max_repetitions: builtin::SNMP_MAX_REPETITIONS,
            interval_from: BUILTIN,
            timeout_from: BUILTIN,
            retries_from: BUILTIN,
            timing_known: true,
            community: Key {
                value: Some(Secret::new(builtin::SNMP_COMMUNITY)),
                span: 0..0,
                path: BUILTIN.into(),
            },
            usm: UsmKeys::default(),
        }
    }
}

const BUILTIN: &str = "the built-in defaults";

/// Resolves one `snmp` table over `base` (the built-ins for
/// `[defaults.snmp]`, the defaults for a device). A refused value falls back
/// to `base`, so one mistake is reported once, where it was written. `name`
/// is how messages about a layer built on this one refer to it.
pub(in crate::config) fn snmp_layer(
    raw: &RawSnmp,
    base: &SnmpLayer,
    name: &'static str,
    path: &str,
    base_dir: &Path,
    diags: &mut Diags<'_>,
) -> SnmpLayer {
    let mut out = base.clone();
    let mut interval_ok = false;
    let mut timeout_ok = false;
    let mut retries_ok = false;

    if let Some(s) = &raw.interval {
        let p = format!("{path}.interval");
        if let Some(d) = duration(s, &p, diags) {
            if d < builtin::SNMP_MIN_INTERVAL {
                diags.at(
                    s.span(),
                    p,
                    "interval must be at least 1s: faster polls load the agents' CPUs without telling anything new",
                );
            } else if d > builtin::SNMP_MAX_INTERVAL {
                diags.at(
                    s.span(),
                    p,
                    "interval must be at most 1h: outages of devices watched only over SNMP that are shorter than the interval would go unrecorded",
                );
            } else {
                out.interval = d;
                out.interval_from = name;
                interval_ok = true;
            }
        }
    }
    if let Some(s) = &raw.timeout {
        let p = format!("{path}.timeout");
        if let Some(d) = duration(s, &p, diags) {
            if d.is_zero() {
                diags.at(s.span(), p, "timeout must be longer than 0, e.g. \"2s\"");
            } else {
                out.timeout = d;
                out.timeout_from = name;
                timeout_ok = true;
            }
        }
    }
    if let Some(v) = count(
        &raw.retries,
        0,
        builtin::SNMP_MAX_RETRIES,
        path,
        "retries",
        "requests sent again after a timeout",
        diags,
    ) {
        out.retries = v;
        out.retries_from = name;
        retries_ok = true;
    }
    if let Some(v) = count(
        &raw.port,
        1,
        u32::from(u16::MAX),
        path,
        "port",
        "the agent's UDP port",
        diags,
    ) {
        out.port = u16::try_from(v).unwrap_or(builtin::SNMP_PORT);
    }
    if let Some(v) = count(
        &raw.max_repetitions,
        1,
        builtin::SNMP_MAX_MAX_REPETITIONS,
        path,
        "max_repetitions",
        "rows asked for in one GETBULK request",
        diags,
    ) {
        out.max_repetitions = v;
    }

    // The version this table's other keys are read with; unknown when the
    // table wrote one that was refused, and then they are not judged.
    let version = match &raw.version {
        None => Some(base.version),
        Some(s) => {
            let v = version(s, &format!("{path}.version"), diags);
            if let Some(v) = v {
                out.version = v;
            }
            v
        }
    };

    // A poll sends up to `retries + 1` requests, each waiting `timeout`; all
    // of that has to fit before the next poll starts, or polls pile up on a
    // dead agent. Checked only where this table set one of the three.
    let refused = (raw.interval.is_some() && !interval_ok)
        || (raw.timeout.is_some() && !timeout_ok)
        || (raw.retries.is_some() && !retries_ok);
    out.timing_known = base.timing_known && !refused;
    let poll = out.timeout.saturating_mul(out.retries.saturating_add(1));
    if out.timing_known && (interval_ok || timeout_ok || retries_ok) && poll >= out.interval {
        let (span, key) = match (&raw.timeout, &raw.retries, &raw.interval) {
            (Some(t), _, _) if timeout_ok => (t.span(), "timeout"),
            (_, Some(r), _) if retries_ok => (r.span(), "retries"),
            (_, _, i) => (i.as_ref().map_or(0..0, |i| i.span()), "interval"),
        };
        let from = |set_here: bool, origin: &str| {
            if set_here {
                String::new()
            } else {
                format!(" from {origin}")
            }
        };
        diags.at(
            span,
            format!("{path}.{key}"),
            format!(
                "timeout {}{} × (1 + retries {}{}) = {} must be shorter than interval {}{}: a poll and its retries have to finish before the next poll starts",
                crate::duration::format(out.timeout),
                from(timeout_ok, base.timeout_from),
                out.retries,
                from(retries_ok, base.retries_from),
                crate::duration::format(poll),
                crate::duration::format(out.interval),
                from(interval_ok, base.interval_from),
            ),
        );
    }

    match (&raw.community, &raw.community_file) {
        (Some(_), Some(f)) => diags.at(
            f.span(),
            format!("{path}.community_file"),
            "set either community or community_file, not both",
        ),
        (Some(c), None) => {
            let p = format!("{path}.community");
            let value = if c.get_ref().is_empty() {
                diags.at(
                    c.span(),
                    p.clone(),
                    "must not be empty; write the community the device is configured with",
                );
                None
            } else {
                Some(Secret::new(c.get_ref().clone()))
            };
            out.community = Key {
                value,
                span: c.span(),
                path: p,
            };
        }
        (None, Some(f)) => {
            out.community = secret_file(
                base_dir,
                f,
                &format!("{path}.community_file"),
                "community",
                1,
                diags,
            );
        }
        (None, None) => {}
    }

    let usm_raw = RawUsm::of_snmp(raw);
    let usm = usm_keys(&usm_raw, path, base_dir, diags);
    out.usm = base.usm.over(usm);

    // Keys of the other SNMP version, written in this same table, are
    // mistakes (a v3 device with a community would silently not use it).
    // Keys inherited from [defaults.snmp] for another version are not.
    match version {
        Some(SnmpVersion::V1 | SnmpVersion::V2c) => {
            for (key, span) in usm_raw.written() {
                diags.at(
                    span,
                    format!("{path}.{key}"),
                    format!("{key} is only for SNMPv3; set version = \"3\""),
                );
            }
        }
        Some(SnmpVersion::V3) => {
            for (key, s) in [
                ("community", &raw.community),
                ("community_file", &raw.community_file),
            ] {
                if let Some(s) = s {
                    diags.at(
                        s.span(),
                        format!("{path}.{key}"),
                        format!("{key} is only for SNMPv1 and v2c; SNMPv3 authenticates with user, auth and priv"),
                    );
                }
            }
        }
        None => {}
    }
    if let (Some(SnmpVersion::V1), Some(m)) = (version, &raw.max_repetitions) {
        diags.at(
            m.span(),
            format!("{path}.max_repetitions"),
            "max_repetitions is for GETBULK, which SNMPv1 does not have; remove it or set version = \"2c\"",
        );
    }
    out
}

/// Refuses `profiles` in `[defaults.snmp]`.
pub(in crate::config) fn check_defaults(raw: &RawSnmp, diags: &mut Diags<'_>) {
    if let Some(p) = &raw.profiles {
        diags.at(
            p.span(),
            "defaults.snmp.profiles",
            "profiles are chosen per device (a UPS and a router need different ones); move them to each device's snmp",
        );
    }
}

/// A device's resolved `snmp`. `known` is every profile name that may be
/// used, `None` when `daemon.profile_dirs` is wrong and names cannot be judged.
pub(in crate::config) fn device_snmp(
    layer: SnmpLayer,
    raw: &S<RawSnmp>,
    path: &str,
    known: Option<&[String]>,
    diags: &mut Diags<'_>,
) -> Option<SnmpSettings> {
    let span = raw.span();
    let profiles = profiles(raw.get_ref(), &span, path, known, diags);
    let credentials = match layer.version {
        SnmpVersion::V1 | SnmpVersion::V2c => Credentials::Community(layer.community.value?),
        SnmpVersion::V3 => {
            let usm = usm_finish(
                &layer.usm,
                &span,
                path,
                "SNMPv3 needs the user name configured on the device",
                diags,
            )?;
            Credentials::V3 {
                user: usm.user,
                auth: usm.auth,
                privacy: usm.privacy,
                key_extension: usm.key_extension,
            }
        }
    };
    Some(SnmpSettings {
        interval: layer.interval,
        timeout: layer.timeout,
        retries: layer.retries,
        version: layer.version,
        port: layer.port,
        max_repetitions: layer.max_repetitions,
        profiles: profiles?,
        credentials,
    })
}

fn profiles(
    raw: &RawSnmp,
    span: &Range<usize>,
    path: &str,
    known: Option<&[String]>,
    diags: &mut Diags<'_>,
) -> Option<Vec<String>> {
    let list = required(
        &raw.profiles,
        span,
        path,
        "profiles",
        "the profiles to poll, e.g. profiles = [\"system\", \"if_mib\"]",
        diags,
    )?;
    let p = format!("{path}.profiles");
    if list.get_ref().is_empty() {
        diags.at(
            list.span(),
            p,
            "must name at least one profile, e.g. [\"system\", \"if_mib\"]",
        );
        return None;
    }
    let mut ok = true;
    let mut out: Vec<String> = Vec::new();
    for (k, name) in list.get_ref().iter().enumerate() {
        let n = name.get_ref();
        let shown = Shown(n);
        if out.contains(n) {
            ok = false;
            diags.at(
                name.span(),
                format!("{p}[{k}]"),
                format!("profile {shown:?} is listed twice; name each profile once"),
            );
            continue;
        }
        if let Some(known) = known {
            if !known.iter().any(|kn| kn == n) {
                ok = false;
                let all: Vec<&str> = known.iter().map(String::as_str).collect();
                diags.at(
                    name.span(),
                    format!("{p}[{k}]"),
                    format!(
                        "unknown profile {shown:?}; known: {}{}",
                        all.join(", "),
                        did_you_mean(n, &all)
                    ),
                );
                continue;
            }
        }
        out.push(n.clone());
    }
    ok.then_some(out)
}

fn version(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<SnmpVersion> {
    let v = s.get_ref();
    if let Some(version) = SnmpVersion::parse(v) {
        return Some(version);
    }
    // "v2c", "2", "V3": the usual ways of writing what is meant.
    let norm = v.to_ascii_lowercase();
    let norm = norm.trim_start_matches('v');
    let norm = if norm == "2" { "2c" } else { norm };
    let shown = Shown(v);
    let hint = SnmpVersion::parse(norm).map_or(String::new(), |m| {
        format!(" (did you mean `{}`?)", m.as_str())
    });
    diags.at(
        s.span(),
        path,
        format!("unknown SNMP version {shown:?}; expected one of: 1, 2c, 3{hint}"),
    );
    None
}

/// Checks each `daemon.profile_dirs` entry is a readable folder; `None` when
/// one is not (then profile names cannot be judged).
pub(in crate::config) fn profile_dirs(
    base_dir: &Path,
    raw: &Option<S<Vec<S<String>>>>,
    diags: &mut Diags<'_>,
) -> Option<Vec<PathBuf>> {
    let Some(list) = raw else {
        return Some(Vec::new());
    };
    let mut ok = true;
    let mut out = Vec::new();
    for (k, s) in list.get_ref().iter().enumerate() {
        let p = format!("daemon.profile_dirs[{k}]");
        let name = s.get_ref();
        let shown = Shown(name);
        if name.trim().is_empty() {
            diags.at(s.span(), p, "must not be empty; write a folder's path");
            ok = false;
            continue;
        }
        if !check_text(s, &p, "path", builtin::PATH_MAX_CHARS, diags) {
            ok = false;
            continue;
        }
        let dir = base_dir.join(name);
        if let Err(e) = std::fs::read_dir(&dir) {
            use std::io::ErrorKind;
            let why = match e.kind() {
                ErrorKind::NotFound => "no such folder (a relative path starts at this config file's folder); create it or remove it from profile_dirs".to_string(),
                ErrorKind::NotADirectory => "it is a file; list the folder that holds the profile files".to_string(),
                ErrorKind::PermissionDenied => "permission denied; make it readable by the user netkpi runs as".to_string(),
                _ => e.to_string(),
            };
            diags.at(
                s.span(),
                p,
                format!("cannot read profile folder {shown:?}: {why}"),
            );
            ok = false;
            continue;
        }
        out.push(dir);
    }
    ok.then_some(out)
}
