//! Semantic checks: from the raw file to a resolved [`Config`], collecting
//! every problem (required keys, ranges, names, references, cycles) rather
//! than stopping at the first.
//!
//! One file per part of the config: [`devices`], [`lines`], [`maintenance`],
//! [`sla`] (with `[planned]`), the probes' settings in [`icmp`] and [`snmp`],
//! the trap receiver in [`traps`], thresholds on polled values in
//! [`alarms`], the SNMPv3 users both of those take in
//! [`usm`], and the checks of single values they all share in [`fields`]. This file resolves the whole and `[daemon]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::builtin;
use super::raw::{RawConfig, S};
use super::{Config, Daemon, Defaults, IcmpSettings, KnownProfiles, WebConfig};
use crate::diag::{Diags, Shown};

mod alarms;
mod devices;
mod fields;
mod icmp;
mod indicators;
mod lines;
mod maintenance;
mod sla;
mod snmp;
mod traps;
mod usm;

use alarms::alarms;
use devices::devices;
use icmp::icmp_layer;
use lines::lines;
use maintenance::maintenance;
use sla::{planned, sla};
use snmp::SnmpLayer;

/// Builds the resolved config. Problems go to `diags`; the returned value is
/// only meaningful when none were reported. `known_profiles` is asked once,
/// with the checked `daemon.profile_dirs`, for the profile names devices may use.
pub(super) fn resolve(
    path: &Path,
    mut raw: RawConfig,
    diags: &mut Diags<'_>,
    known_profiles: impl FnOnce(&[PathBuf]) -> KnownProfiles,
) -> Option<Config> {
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let raw_daemon = raw.daemon.take().unwrap_or_default();
    let profile_dirs = snmp::profile_dirs(base_dir, &raw_daemon.profile_dirs, diags);
    let known = profile_dirs.as_deref().map(known_profiles);
    let daemon = daemon(base_dir, raw_daemon, profile_dirs, diags);

    let (default_icmp, default_icmp_timing_known) =
        match raw.defaults.as_ref().and_then(|d| d.icmp.as_ref()) {
            Some(icmp) => icmp_layer(
                icmp.get_ref(),
                &IcmpSettings::default(),
                true,
                "the built-in defaults",
                "defaults.icmp",
                diags,
            ),
            None => (IcmpSettings::default(), true),
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
        (&default_icmp, default_icmp_timing_known),
        &default_snmp,
        known.as_ref().map(|k| k.names.as_slice()),
        base_dir,
        diags,
    );
    let lines = lines(&raw, diags);
    let alarms = alarms(&raw, &devices, known.as_ref(), diags);
    let traps = traps::traps(&raw, base_dir, diags);
    let maintenance = maintenance(&raw, diags);
    let sla = sla(&raw, diags);
    let planned = planned(raw.planned.take().unwrap_or_default(), diags);
    let report = indicators::report(&raw, base_dir, diags);

    Some(Config {
        source: path.to_path_buf(),
        daemon: daemon?,
        defaults: Defaults { icmp: default_icmp },
        devices: Arc::new(devices),
        lines: Arc::new(lines),
        maintenance,
        sla,
        planned,
        traps,
        alarms,
        report,
        files: std::mem::take(&mut raw.files),
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
                        Shown(s.get_ref())
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
    if let (Some(addr), Some(s), None) = (listen, &raw.listen, &raw.api_token_file) {
        listen_needs_token(addr, s, diags);
    }

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
                    "unknown time zone {:?}; use an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
                    Shown(&timezone_name)
                ),
            );
            None
        }
    };

    let http_max_connections = match &raw.http_max_connections {
        None => Some(builtin::HTTP_MAX_CONNECTIONS),
        some => fields::count(
            some,
            builtin::HTTP_MIN_MAX_CONNECTIONS,
            builtin::HTTP_MAX_MAX_CONNECTIONS,
            "daemon",
            "http_max_connections",
            "HTTP connections open at once",
            diags,
        ),
    };
    let store_stall_after = match &raw.store_stall_after {
        None => Some(builtin::STORE_STALL_AFTER),
        Some(s) => store_stall_after(s, diags),
    };
    let web = match &raw.web_config_file {
        None => Some(None),
        Some(s) => non_empty_path(base_dir, s, "daemon.web_config_file", diags)
            .and_then(|file| web_config(&file, s, diags))
            .map(Some),
    };

    Some(Daemon {
        listen: listen?,
        data_dir: data_dir?,
        timezone: timezone?,
        timezone_name,
        api_token_file,
        profile_dirs: profile_dirs?,
        http_max_connections: usize::try_from(http_max_connections?).ok()?,
        store_stall_after: store_stall_after?,
        web: web?,
    })
}

/// Reads `daemon.web_config_file`: a file that cannot be read is reported
/// at the key; what is wrong inside it, at its own place in that file.
fn web_config(file: &Path, s: &S<String>, diags: &mut Diags<'_>) -> Option<WebConfig> {
    const PATH: &str = "daemon.web_config_file";
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            let shown = Shown(s.get_ref());
            let message = match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "cannot read {shown:?}: no such file (a relative path starts at this config file's folder)"
                ),
                std::io::ErrorKind::PermissionDenied => format!(
                    "cannot read {shown:?}: permission denied; make it readable by the user netkpi runs as"
                ),
                std::io::ErrorKind::IsADirectory => {
                    format!("{shown:?} is a folder; write the path of the web config file")
                }
                std::io::ErrorKind::InvalidData => format!("{shown:?} is not UTF-8 text"),
                _ => format!("cannot read {shown:?}: {e}"),
            };
            diags.at(s.span(), PATH, message);
            return None;
        }
    };
    match super::web::load_str(file, &text) {
        Ok(web) => Some(web),
        Err(found) => {
            for d in found {
                diags.push(d);
            }
            None
        }
    }
}

/// An API reachable from the network must not take writes from anyone who
/// can reach the port: without a token, only loopback is allowed.
fn listen_needs_token(addr: SocketAddr, s: &S<String>, diags: &mut Diags<'_>) {
    if addr.ip().to_canonical().is_loopback() {
        return;
    }
    diags.at(
        s.span(),
        "daemon.listen",
        format!(
            "{addr} is not a loopback address, so the API is reachable from the network, and its write endpoints (acknowledging incidents, notes, maintenance) then need a bearer token: set daemon.api_token_file to a file holding the token (chmod 600), or listen on loopback, e.g. \"127.0.0.1:{}\"",
            addr.port()
        ),
    );
}

fn store_stall_after(s: &S<String>, diags: &mut Diags<'_>) -> Option<Duration> {
    const PATH: &str = "daemon.store_stall_after";
    let d = fields::duration(s, PATH, diags)?;
    let message = if d < builtin::STORE_MIN_STALL_AFTER {
        format!(
            "store_stall_after must be at least {}: an ordinary slow fsync would count as a stalled store",
            crate::duration::format(builtin::STORE_MIN_STALL_AFTER)
        )
    } else if d > builtin::STORE_MAX_STALL_AFTER {
        format!(
            "store_stall_after must be at most {}: a hung store would go unnoticed for longer than most outages last",
            crate::duration::format(builtin::STORE_MAX_STALL_AFTER)
        )
    } else {
        return Some(d);
    };
    diags.at(s.span(), PATH, message);
    None
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
    if !fields::check_text(s, path, "path", builtin::PATH_MAX_CHARS, diags) {
        return None;
    }
    Some(base_dir.join(s.get_ref()))
}
