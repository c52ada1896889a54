//! SNMP settings (`[defaults.snmp]`, each device's `snmp`) and the trap
//! receiver (`[traps]`): layering, credentials, secret files.
//!
//! A device's `snmp` is resolved over `[defaults.snmp]`, which is resolved
//! over the built-in defaults, key by key. Each table is checked for what it
//! writes (ranges, a key of the wrong SNMP version); the combination (v3 user
//! present, auth before priv, a poll fitting in its interval) is checked on
//! what a device ends up with, and reported where the operator has to act.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::builtin;
use super::super::raw::{RawConfig, RawSnmp, RawTrapUser, S};
use super::super::read::did_you_mean;
use super::super::{SnmpSettings, TrapUser, Traps};
use super::fields::{count, duration, required};
use crate::diag::Diags;
use crate::secret::Secret;
use crate::snmp_security::{AuthProtocol, Credentials, KeyExtension, PrivProtocol, SnmpVersion};

/// A value as written at `path`; `value` is `None` when it was refused (and
/// reported), so that checks depending on it stay quiet.
#[derive(Clone, Debug)]
struct Key<T> {
    value: Option<T>,
    span: Range<usize>,
    path: String,
}

/// The v3 (user-based security model) keys of one table.
#[derive(Clone, Debug, Default)]
struct UsmKeys {
    user: Option<Key<String>>,
    auth: Option<Key<AuthProtocol>>,
    auth_pass: Option<Key<Secret>>,
    privacy: Option<Key<PrivProtocol>>,
    priv_pass: Option<Key<Secret>>,
    key_extension: Option<Key<KeyExtension>>,
}

impl UsmKeys {
    /// `other`'s keys where it has them, `self`'s elsewhere.
    fn over(&self, other: UsmKeys) -> UsmKeys {
        UsmKeys {
            user: other.user.or_else(|| self.user.clone()),
            auth: other.auth.or_else(|| self.auth.clone()),
            auth_pass: other.auth_pass.or_else(|| self.auth_pass.clone()),
            privacy: other.privacy.or_else(|| self.privacy.clone()),
            priv_pass: other.priv_pass.or_else(|| self.priv_pass.clone()),
            key_extension: other.key_extension.or_else(|| self.key_extension.clone()),
        }
    }
}

/// The v3 keys as written, whichever table they are in.
struct RawUsm<'a> {
    user: &'a Option<S<String>>,
    auth: &'a Option<S<String>>,
    auth_pass_file: &'a Option<S<String>>,
    privacy: &'a Option<S<String>>,
    priv_pass_file: &'a Option<S<String>>,
    key_extension: &'a Option<S<String>>,
}

impl<'a> RawUsm<'a> {
    fn of_snmp(raw: &'a RawSnmp) -> Self {
        RawUsm {
            user: &raw.user,
            auth: &raw.auth,
            auth_pass_file: &raw.auth_pass_file,
            privacy: &raw.privacy,
            priv_pass_file: &raw.priv_pass_file,
            key_extension: &raw.key_extension,
        }
    }

    fn of_trap_user(raw: &'a RawTrapUser) -> Self {
        RawUsm {
            user: &raw.user,
            auth: &raw.auth,
            auth_pass_file: &raw.auth_pass_file,
            privacy: &raw.privacy,
            priv_pass_file: &raw.priv_pass_file,
            key_extension: &raw.key_extension,
        }
    }

    /// The keys written, by name, in the order of the file's documentation.
    fn written(&self) -> Vec<(&'static str, Range<usize>)> {
        [
            ("user", self.user),
            ("auth", self.auth),
            ("auth_pass_file", self.auth_pass_file),
            ("priv", self.privacy),
            ("priv_pass_file", self.priv_pass_file),
            ("key_extension", self.key_extension),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.span())))
        .collect()
    }
}

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
    let poll = out.timeout.saturating_mul(out.retries.saturating_add(1));
    if (interval_ok || timeout_ok || retries_ok) && poll >= out.interval {
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
        if out.contains(n) {
            ok = false;
            diags.at(
                name.span(),
                format!("{p}[{k}]"),
                format!("profile {n:?} is listed twice; name each profile once"),
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
                        "unknown profile {n:?}; known: {}{}",
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
    let hint = SnmpVersion::parse(norm).map_or(String::new(), |m| {
        format!(" (did you mean `{}`?)", m.as_str())
    });
    diags.at(
        s.span(),
        path,
        format!("unknown SNMP version {v:?}; expected one of: 1, 2c, 3{hint}"),
    );
    None
}

/// One of a closed set of lowercase names, with a hint for the usual slips
/// (capitals, "sha1", "aes").
fn choice<T: Copy>(
    s: &S<String>,
    path: &str,
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    diags: &mut Diags<'_>,
) -> Option<T> {
    let v = s.get_ref();
    if let Some(t) = all.iter().copied().find(|t| name(*t) == v) {
        return Some(t);
    }
    let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
    let lower = v.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "sha1" | "sha-1" => Some("sha"),
        "aes" => Some("aes128"),
        l => names.iter().copied().find(|n| *n == l),
    }
    .filter(|a| names.contains(a));
    let hint = match alias {
        Some(a) => format!(" (did you mean `{a}`?)"),
        None => did_you_mean(&lower, &names),
    };
    diags.at(
        s.span(),
        path,
        format!(
            "unknown {what} {v:?}; expected one of: {}{hint}",
            names.join(", ")
        ),
    );
    None
}

/// One of a fixed set of words (a protocol name) at `path.key`.
fn choice_key<T: Copy>(
    s: &S<String>,
    path: &str,
    key: &str,
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    diags: &mut Diags<'_>,
) -> Key<T> {
    let path = format!("{path}.{key}");
    Key {
        value: choice(s, &path, what, all, name, diags),
        span: s.span(),
        path,
    }
}

fn usm_keys(raw: &RawUsm<'_>, path: &str, base_dir: &Path, diags: &mut Diags<'_>) -> UsmKeys {
    let key = |s: &S<String>, k: &str| (s.span(), format!("{path}.{k}"));
    let mut out = UsmKeys::default();
    if let Some(s) = raw.user {
        let (span, p) = key(s, "user");
        // usmUserName is an SnmpAdminString of 1..32 octets (RFC 3414 §5).
        let len = s.get_ref().len();
        let value = if (1..=32).contains(&len) {
            Some(s.get_ref().clone())
        } else {
            diags.at(
                span.clone(),
                p.clone(),
                "user must be 1 to 32 characters long (an SNMPv3 user name, as configured on the device)",
            );
            None
        };
        out.user = Some(Key {
            value,
            span,
            path: p,
        });
    }
    out.auth = raw.auth.as_ref().map(|s| {
        choice_key(
            s,
            path,
            "auth",
            "auth protocol",
            &AuthProtocol::ALL,
            AuthProtocol::as_str,
            diags,
        )
    });
    if let Some(s) = raw.auth_pass_file {
        out.auth_pass = Some(secret_file(
            base_dir,
            s,
            &format!("{path}.auth_pass_file"),
            "pass phrase",
            builtin::SNMP_MIN_PASS_PHRASE,
            diags,
        ));
    }
    out.privacy = raw.privacy.as_ref().map(|s| {
        choice_key(
            s,
            path,
            "priv",
            "priv protocol",
            &PrivProtocol::ALL,
            PrivProtocol::as_str,
            diags,
        )
    });
    if let Some(s) = raw.priv_pass_file {
        out.priv_pass = Some(secret_file(
            base_dir,
            s,
            &format!("{path}.priv_pass_file"),
            "pass phrase",
            builtin::SNMP_MIN_PASS_PHRASE,
            diags,
        ));
    }
    out.key_extension = raw.key_extension.as_ref().map(|s| {
        choice_key(
            s,
            path,
            "key_extension",
            "key_extension",
            &KeyExtension::ALL,
            KeyExtension::as_str,
            diags,
        )
    });
    out
}

/// A complete v3 user.
struct Usm {
    user: String,
    auth: Option<(AuthProtocol, Secret)>,
    privacy: Option<(PrivProtocol, Secret)>,
    key_extension: Option<KeyExtension>,
}

/// Checks that the v3 keys (written in `path` or inherited) make a usable
/// user. Missing keys are reported at the table (`span`, `path`); keys that
/// do not fit at the key, wherever it was written.
fn usm_finish(
    keys: &UsmKeys,
    span: &Range<usize>,
    path: &str,
    user_why: &str,
    diags: &mut Diags<'_>,
) -> Option<Usm> {
    let mut ok = true;
    let missing = |diags: &mut Diags<'_>, key: &str, why: String| {
        let key_path = format!("{path}.{key}");
        if !diags.reported_under(&key_path) {
            diags.at(span.clone(), key_path, format!("missing `{key}`: {why}"));
        }
    };

    if keys.user.is_none() {
        missing(diags, "user", user_why.to_string());
        ok = false;
    }
    let auth_names = AuthProtocol::ALL.map(AuthProtocol::as_str).join(", ");
    let priv_names = PrivProtocol::ALL.map(PrivProtocol::as_str).join(", ");
    match (&keys.auth, &keys.auth_pass) {
        (Some(a), None) => {
            let name = a.value.map_or("…", AuthProtocol::as_str);
            missing(
                diags,
                "auth_pass_file",
                format!("auth = \"{name}\" needs the file holding its pass phrase"),
            );
            ok = false;
        }
        (None, Some(f)) => {
            diags.at(
                f.span.clone(),
                f.path.clone(),
                format!("auth_pass_file is set but auth is not; set auth to the protocol the device uses: one of {auth_names}"),
            );
            ok = false;
        }
        _ => {}
    }
    match (&keys.privacy, &keys.priv_pass) {
        (Some(p), None) => {
            let name = p.value.map_or("…", PrivProtocol::as_str);
            missing(
                diags,
                "priv_pass_file",
                format!("priv = \"{name}\" needs the file holding its pass phrase"),
            );
            ok = false;
        }
        (None, Some(f)) => {
            diags.at(
                f.span.clone(),
                f.path.clone(),
                format!("priv_pass_file is set but priv is not; set priv to the cipher the device uses: one of {priv_names}"),
            );
            ok = false;
        }
        _ => {}
    }
    if let (Some(p), None) = (&keys.privacy, &keys.auth) {
        // The security levels are noAuthNoPriv, authNoPriv and authPriv
        // (RFC 3411); the privacy key is derived with the auth protocol.
        diags.at(
            p.span.clone(),
            p.path.clone(),
            "priv needs auth: SNMPv3 has no privacy without authentication (RFC 3414); set auth and auth_pass_file as well",
        );
        ok = false;
    }
    let priv_value = keys.privacy.as_ref().and_then(|p| p.value);
    if let Some(k) = &keys.key_extension {
        if !matches!(
            priv_value,
            Some(PrivProtocol::Aes192 | PrivProtocol::Aes256)
        ) {
            diags.at(
                k.span.clone(),
                k.path.clone(),
                "key_extension only applies to priv = \"aes192\" or \"aes256\"; remove it",
            );
            ok = false;
        }
    }
    let auth_value = keys.auth.as_ref().and_then(|a| a.value);
    if let (Some(a), Some(p), Some(pk), None) =
        (auth_value, priv_value, &keys.privacy, &keys.key_extension)
    {
        if a.key_len() < p.key_len() {
            diags.at(
                pk.span.clone(),
                pk.path.clone(),
                format!(
                    "priv = \"{}\" needs a {}-byte key but auth = \"{}\" gives {} bytes; set key_extension = \"blumenthal\" (net-snmp and most agents) or \"reeder\" (Cisco), as the device does",
                    p.as_str(),
                    p.key_len(),
                    a.as_str(),
                    a.key_len()
                ),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }

    Some(Usm {
        user: keys.user.as_ref()?.value.clone()?,
        auth: pair(&keys.auth, &keys.auth_pass)?,
        privacy: pair(&keys.privacy, &keys.priv_pass)?,
        key_extension: match &keys.key_extension {
            None => None,
            Some(k) => Some(k.value?),
        },
    })
}

/// A protocol and its pass phrase: `Some(None)` when neither is set, `None`
/// when one was refused or is missing (and reported).
fn pair<T: Copy>(
    proto: &Option<Key<T>>,
    pass: &Option<Key<Secret>>,
) -> Option<Option<(T, Secret)>> {
    match (proto, pass) {
        (Some(Key { value: Some(p), .. }), Some(Key { value: Some(s), .. })) => {
            Some(Some((*p, s.clone())))
        }
        (None, None) => Some(None),
        _ => None,
    }
}

/// Reads a secret from a file, relative to the config file's folder. One
/// trailing line break (what editors add) is not part of it. The contents
/// never appear in a message.
fn secret_file(
    base_dir: &Path,
    s: &S<String>,
    path: &str,
    what: &str,
    min_chars: usize,
    diags: &mut Diags<'_>,
) -> Key<Secret> {
    let name = s.get_ref();
    let mut key = Key {
        value: None,
        span: s.span(),
        path: path.to_string(),
    };
    if name.trim().is_empty() {
        diags.at(
            s.span(),
            path,
            format!("must not be empty; write the path of the file holding the {what}"),
        );
        return key;
    }
    let text = match std::fs::read_to_string(base_dir.join(name)) {
        Ok(text) => text,
        Err(e) => {
            use std::io::ErrorKind;
            let message = match e.kind() {
                ErrorKind::NotFound => format!(
                    "cannot read {name:?}: no such file (a relative path starts at this config file's folder)"
                ),
                ErrorKind::PermissionDenied => format!(
                    "cannot read {name:?}: permission denied; make it readable by the user netkpi runs as"
                ),
                ErrorKind::IsADirectory => {
                    format!("{name:?} is a folder; write the path of the file holding the {what}")
                }
                ErrorKind::InvalidData => format!("{name:?} is not UTF-8 text"),
                _ => format!("cannot read {name:?}: {e}"),
            };
            diags.at(s.span(), path, message);
            return key;
        }
    };
    let value = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    let problem = if value.is_empty() {
        Some(format!("{name:?} is empty; put the {what} in it"))
    } else if value.contains('\n') {
        Some(format!(
            "{name:?} has more than one line; put only the {what} in it"
        ))
    } else if value.chars().count() < min_chars {
        Some(format!(
            "the {what} in {name:?} is shorter than {min_chars} characters; net-snmp refuses shorter ones, so it cannot be the one set on the device"
        ))
    } else {
        None
    };
    match problem {
        Some(message) => diags.at(s.span(), path, message),
        None => key.value = Some(Secret::new(value)),
    }
    key
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
        if name.trim().is_empty() {
            diags.at(s.span(), p, "must not be empty; write a folder's path");
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
                format!("cannot read profile folder {name:?}: {why}"),
            );
            ok = false;
            continue;
        }
        out.push(dir);
    }
    ok.then_some(out)
}

/// `[traps]` and its `[[traps.v3_user]]` entries.
pub(in crate::config) fn traps(
    raw: &RawConfig,
    base_dir: &Path,
    diags: &mut Diags<'_>,
) -> Option<Traps> {
    let t = raw.traps.as_ref()?;
    let listen = match &t.listen {
        None => builtin::TRAPS_LISTEN.parse().ok(),
        Some(s) => match s.get_ref().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                diags.at(
                    s.span(),
                    "traps.listen",
                    format!(
                        "invalid listen address {:?}; write IP:PORT, e.g. \"0.0.0.0:162\" (every address) or \"10.1.0.9:1162\"",
                        s.get_ref()
                    ),
                );
                None
            }
        },
    };
    let communities = match &t.communities {
        None => Some(vec![Secret::new(builtin::TRAPS_COMMUNITY)]),
        Some(list) => {
            let mut ok = true;
            let mut out = Vec::new();
            for (k, c) in list.get_ref().iter().enumerate() {
                if c.get_ref().is_empty() {
                    diags.at(
                        c.span(),
                        format!("traps.communities[{k}]"),
                        "must not be empty; write a community the devices send traps with",
                    );
                    ok = false;
                } else {
                    out.push(Secret::new(c.get_ref().clone()));
                }
            }
            ok.then_some(out)
        }
    };

    let mut users = Vec::new();
    let mut users_ok = true;
    // (user, engine ID) → (index, span of the user), for duplicates.
    let mut seen: HashMap<(String, Vec<u8>), (usize, Range<usize>)> = HashMap::new();
    for (i, entry) in raw.trap_users.iter().enumerate() {
        let Some(u) = &entry.value else {
            users_ok = false;
            continue;
        };
        let path = format!("traps.v3_user[{i}]");
        let keys = usm_keys(&RawUsm::of_trap_user(u), &path, base_dir, diags);
        let engine_id = required(
            &u.engine_id,
            &entry.span,
            &path,
            "engine_id",
            "v3 traps are keyed to the sending device's snmpEngineID (RFC 3414 §2.6); read it on the device (SNMP-FRAMEWORK-MIB::snmpEngineID.0) and write it in hex",
            diags,
        )
        .and_then(|e| engine_id(e, &format!("{path}.engine_id"), diags));
        let usm = usm_finish(
            &keys,
            &entry.span,
            &path,
            "the user name the sending device uses",
            diags,
        );
        let (Some(usm), Some(engine_id)) = (usm, engine_id) else {
            users_ok = false;
            continue;
        };
        let dup_key = (usm.user.clone(), engine_id.clone());
        if let Some((j, first)) = seen.get(&dup_key) {
            let line = diags.line_of(first.start);
            let span = u.user.as_ref().map_or(entry.span.clone(), |s| s.span());
            diags.at(
                span,
                format!("{path}.user"),
                format!(
                    "traps.v3_user[{j}] (line {line}) already has user {:?} with this engine_id; list each user and engine once",
                    usm.user
                ),
            );
            users_ok = false;
            continue;
        }
        let user_span = u.user.as_ref().map_or(entry.span.clone(), |s| s.span());
        seen.insert(dup_key, (i, user_span));
        users.push(TrapUser {
            user: usm.user,
            engine_id,
            auth: usm.auth,
            privacy: usm.privacy,
            key_extension: usm.key_extension,
        });
    }

    Some(Traps {
        listen: listen?,
        communities: communities?,
        v3_users: users_ok.then_some(users)?,
    })
}

/// An snmpEngineID in hex (an optional `0x`), 5 to 32 bytes (RFC 3411 §5).
fn engine_id(s: &S<String>, path: &str, diags: &mut Diags<'_>) -> Option<Vec<u8>> {
    let text = s.get_ref();
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bytes: Option<Vec<u8>> = if hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect()
    } else {
        None
    };
    let message = match &bytes {
        None => format!(
            "engine_id {text:?} is not hex; write the engine ID as an even number of hex digits, e.g. \"80001f8880e9630000d61ff449\""
        ),
        Some(b) if !(5..=32).contains(&b.len()) => format!(
            "engine_id is {} bytes long; an SNMP engine ID is 5 to 32 bytes (RFC 3411), e.g. \"80001f8880e9630000d61ff449\"",
            b.len()
        ),
        Some(_) => return bytes,
    };
    diags.at(s.span(), path, message);
    None
}
