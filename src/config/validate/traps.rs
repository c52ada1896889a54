//! `[traps]`: the trap receiver's address, communities and v3 senders.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;

use super::super::builtin;
use super::super::raw::{RawConfig, S};
use super::super::{TrapUser, Traps};
use super::fields::required;
use super::usm::{usm_finish, usm_keys, RawUsm};
use crate::diag::{Diags, Shown};
use crate::secret::Secret;

/// `[traps]` and its `[[traps.v3_user]]` entries.
pub(super) fn traps(raw: &RawConfig, base_dir: &Path, diags: &mut Diags<'_>) -> Option<Traps> {
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
                        Shown(s.get_ref())
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
            "engine_id {:?} is not hex; write the engine ID as an even number of hex digits, e.g. \"80001f8880e9630000d61ff449\"",
            Shown(text)
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
