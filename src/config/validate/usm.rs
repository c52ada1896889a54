//! SNMPv3 users (the user-based security model's keys) and secret files,
//! as a device's `snmp`, `[defaults.snmp]` and `[[traps.v3_user]]` write
//! them: each key checked where it is written, the whole user checked once
//! the layers are merged.

use std::ops::Range;
use std::path::Path;

use super::super::builtin;
use super::super::raw::{RawSnmp, RawTrapUser, S};
use super::super::read::did_you_mean;
use super::fields::check_text;
use crate::diag::{Diags, Shown};
use crate::secret::Secret;
use crate::snmp_security::{AuthProtocol, KeyExtension, PrivProtocol};

/// A value as written at `path`; `value` is `None` when it was refused (and
/// reported), so that checks depending on it stay quiet.
#[derive(Clone, Debug)]
pub(super) struct Key<T> {
    pub(super) value: Option<T>,
    pub(super) span: Range<usize>,
    pub(super) path: String,
}

/// The v3 (user-based security model) keys of one table.
#[derive(Clone, Debug, Default)]
pub(super) struct UsmKeys {
    pub(super) user: Option<Key<String>>,
    pub(super) auth: Option<Key<AuthProtocol>>,
    pub(super) auth_pass: Option<Key<Secret>>,
    pub(super) privacy: Option<Key<PrivProtocol>>,
    pub(super) priv_pass: Option<Key<Secret>>,
    pub(super) key_extension: Option<Key<KeyExtension>>,
}

impl UsmKeys {
    /// `other`'s keys where it has them, `self`'s elsewhere.
    pub(super) fn over(&self, other: UsmKeys) -> UsmKeys {
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
pub(super) struct RawUsm<'a> {
    user: &'a Option<S<String>>,
    auth: &'a Option<S<String>>,
    auth_pass_file: &'a Option<S<String>>,
    privacy: &'a Option<S<String>>,
    priv_pass_file: &'a Option<S<String>>,
    key_extension: &'a Option<S<String>>,
}

impl<'a> RawUsm<'a> {
    pub(super) fn of_snmp(raw: &'a RawSnmp) -> Self {
        RawUsm {
            user: &raw.user,
            auth: &raw.auth,
            auth_pass_file: &raw.auth_pass_file,
            privacy: &raw.privacy,
            priv_pass_file: &raw.priv_pass_file,
            key_extension: &raw.key_extension,
        }
    }

    pub(super) fn of_trap_user(raw: &'a RawTrapUser) -> Self {
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
    pub(super) fn written(&self) -> Vec<(&'static str, Range<usize>)> {
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
    let shown = Shown(v);
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
            "unknown {what} {shown:?}; expected one of: {}{hint}",
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

pub(super) fn usm_keys(
    raw: &RawUsm<'_>,
    path: &str,
    base_dir: &Path,
    diags: &mut Diags<'_>,
) -> UsmKeys {
    let key = |s: &S<String>, k: &str| (s.span(), format!("{path}.{k}"));
    let mut out = UsmKeys::default();
    if let Some(s) = raw.user {
        let (span, p) = key(s, "user");
        // usmUserName is an SnmpAdminString of 1..32 octets (RFC 3414 §5).
        let len = s.get_ref().len();
        let value = if (1..=32).contains(&len) {
            // Within 32 octets, so only control characters can be refused.
            check_text(s, &p, "user", 32, diags).then(|| s.get_ref().clone())
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
pub(super) struct Usm {
    pub(super) user: String,
    pub(super) auth: Option<(AuthProtocol, Secret)>,
    pub(super) privacy: Option<(PrivProtocol, Secret)>,
    pub(super) key_extension: Option<KeyExtension>,
}

/// Checks that the v3 keys (written in `path` or inherited) make a usable
/// user. Missing keys are reported at the table (`span`, `path`); keys that
/// do not fit at the key, wherever it was written.
pub(super) fn usm_finish(
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
    // A protocol needs its pass phrase file, and a pass phrase file its
    // protocol: the same two checks for authentication and privacy.
    let pairs = [
        (
            "auth",
            keys.auth
                .as_ref()
                .map(|a| a.value.map_or("…", AuthProtocol::as_str)),
            keys.auth_pass.as_ref(),
            "auth_pass_file",
            "the protocol",
            auth_names,
        ),
        (
            "priv",
            keys.privacy
                .as_ref()
                .map(|p| p.value.map_or("…", PrivProtocol::as_str)),
            keys.priv_pass.as_ref(),
            "priv_pass_file",
            "the cipher",
            priv_names,
        ),
    ];
    for (key, protocol, pass, pass_key, what, names) in pairs {
        match (protocol, pass) {
            (Some(name), None) => missing(
                diags,
                pass_key,
                format!("{key} = \"{name}\" needs the file holding its pass phrase"),
            ),
            (None, Some(f)) => diags.at(
                f.span.clone(),
                f.path.clone(),
                format!("{pass_key} is set but {key} is not; set {key} to {what} the device uses: one of {names}"),
            ),
            _ => continue,
        }
        ok = false;
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
pub(super) fn secret_file(
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
    if !check_text(s, path, "path", builtin::PATH_MAX_CHARS, diags) {
        return key;
    }
    let shown = Shown(name);
    let text = match std::fs::read_to_string(base_dir.join(name)) {
        Ok(text) => text,
        Err(e) => {
            use std::io::ErrorKind;
            let message = match e.kind() {
                ErrorKind::NotFound => format!(
                    "cannot read {shown:?}: no such file (a relative path starts at this config file's folder)"
                ),
                ErrorKind::PermissionDenied => format!(
                    "cannot read {shown:?}: permission denied; make it readable by the user netkpi runs as"
                ),
                ErrorKind::IsADirectory => {
                    format!("{shown:?} is a folder; write the path of the file holding the {what}")
                }
                ErrorKind::InvalidData => format!("{shown:?} is not UTF-8 text"),
                _ => format!("cannot read {shown:?}: {e}"),
            };
            diags.at(s.span(), path, message);
            return key;
        }
    };
    let value = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    let problem = if value.is_empty() {
        Some(format!("{shown:?} is empty; put the {what} in it"))
    } else if value.contains('\n') {
        Some(format!(
            "{shown:?} has more than one line; put only the {what} in it"
        ))
    } else if value.chars().count() < min_chars {
        Some(format!(
            "the {what} in {shown:?} is shorter than {min_chars} characters; net-snmp refuses shorter ones, so it cannot be the one set on the device"
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
