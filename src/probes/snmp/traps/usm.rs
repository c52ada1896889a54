//! SNMPv3 notifications under the User-based Security Model (RFC 3414).
//!
//! The message frame (RFC 3412 §6) and the USM parameters are read by our own
//! [`ber`](super::ber) reader, so every structural fault is found before any
//! key is touched. Only the cryptography is `snmp2`'s: once the frame is
//! sound and names a configured user, a copy of the datagram goes through
//! [`snmp2::Pdu::from_bytes_with_security`], which checks the HMAC and, for
//! authPriv, decrypts. (`snmp2` zeroes the authentication parameters of the
//! buffer it is given while verifying, so it always gets a private copy.)
//!
//! For a trap the sender is the authoritative engine: keys are localised to
//! the sender's engine ID (RFC 3414 §2.6), and the timeliness check of
//! §3.2.7 b compares against our notion of that engine's clock, kept in
//! [`TimeWindow`] by the receiver.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

use snmp2::v3::{Auth, Security};

use super::datagram::{parse_pdu, Pdu};
use super::{Reject, RejectReason, TrapError};
use crate::config::TrapUser;
use crate::probes::snmp::ber::{self, Reader, OCTET_STRING, SEQUENCE};
use crate::probes::snmp::{AuthProtocol, KeyExtension, PrivProtocol, Value, Varbind};
use crate::secret::Secret;

/// RFC 3414 §2.2.3: the time window, in seconds.
const TIME_WINDOW: u32 = 150;
/// RFC 3414 §2.2.2: snmpEngineBoots never passes 2147483647.
const MAX_ENGINE_BOOTS: u32 = 2_147_483_647;
/// Engine IDs learned per user when the user names none: each costs a key
/// localisation (about a megabyte of hashing, RFC 3414 §A.2), so a sender that
/// invents engine IDs must not be able to grow this without bound.
const MAX_LEARNED_ENGINES: usize = 256;
/// Senders whose clocks [`TimeWindow`] remembers.
const MAX_TIME_NOTIONS: usize = 10_000;
/// `snmp2` refuses a msgMaxSize above its own buffer, 65,507 octets (the
/// largest UDP payload over IPv4).
const SNMP2_MAX_SIZE: i64 = 65_507;

const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;

#[derive(Clone, Debug)]
pub struct V3Auth {
    pub protocol: AuthProtocol,
    pub pass: Secret,
}

#[derive(Clone, Debug)]
pub struct V3Privacy {
    pub protocol: PrivProtocol,
    pub pass: Secret,
    /// Needed only where the auth hash is shorter than the key (AES-192/256
    /// with MD5 or SHA-1, AES-256 with SHA-224).
    pub key_extension: Option<KeyExtension>,
}

/// A USM user whose notifications are accepted. `auth: None` is
/// noAuthNoPriv; `privacy` needs `auth`.
#[derive(Clone, Debug)]
pub struct V3TrapUser {
    pub user: String,
    pub auth: Option<V3Auth>,
    pub privacy: Option<V3Privacy>,
    /// The sender's snmpEngineID (net-snmp `snmptrap -e`). `None` accepts
    /// any engine, localising the keys for each new one on first sight.
    pub engine_id: Option<Vec<u8>>,
}

impl From<&TrapUser> for V3TrapUser {
    /// A `[[traps.v3_user]]` as the receiver takes it; the key extension
    /// goes with the privacy protocol it stretches the key for.
    fn from(user: &TrapUser) -> V3TrapUser {
        V3TrapUser {
            user: user.user.clone(),
            auth: user.auth.as_ref().map(|(protocol, pass)| V3Auth {
                protocol: *protocol,
                pass: pass.clone(),
            }),
            privacy: user.privacy.as_ref().map(|(protocol, pass)| V3Privacy {
                protocol: *protocol,
                pass: pass.clone(),
                key_extension: user.key_extension,
            }),
            engine_id: Some(user.engine_id.clone()),
        }
    }
}

impl V3TrapUser {
    fn flags(&self) -> u8 {
        match (&self.auth, &self.privacy) {
            (None, _) => 0,
            (Some(_), None) => FLAG_AUTH,
            (Some(_), Some(_)) => FLAG_AUTH | FLAG_PRIV,
        }
    }
}

/// What an authenticated message said about its sender's engine, for the
/// timeliness check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineClock {
    pub engine_id: Vec<u8>,
    pub boots: u32,
    pub time: u32,
}

/// The configured users with their localised keys, built once.
pub struct UsmKeys {
    users: Vec<UserKeys>,
}

struct UserKeys {
    config: V3TrapUser,
    /// Keys not yet localised (no engine ID).
    base: Option<Security>,
    /// Keys localised to the configured engine ID.
    fixed: Option<Security>,
    learned: Mutex<HashMap<Vec<u8>, Security>>,
}

impl fmt::Debug for UsmKeys {
    /// Names only: `snmp2`'s own `Debug` for `Security` prints pass phrases
    /// and keys, so it must never be reached from here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.users.iter().map(|u| &u.config.user))
            .finish()
    }
}

impl UsmKeys {
    /// Checks every user and localises the keys of those with an engine ID.
    pub fn new(users: &[V3TrapUser]) -> Result<UsmKeys, TrapError> {
        let mut out = Vec::with_capacity(users.len());
        let mut problems = Vec::new();
        for (i, user) in users.iter().enumerate() {
            match UserKeys::new(user) {
                Ok(k) => out.push(k),
                Err(why) => problems.push(format!("v3_users[{i}] ({:?}): {why}", user.user)),
            }
            if users[..i].iter().any(|u| u.user == user.user) {
                problems.push(format!("v3_users[{i}] ({:?}): user named twice", user.user));
            }
        }
        if problems.is_empty() {
            Ok(UsmKeys { users: out })
        } else {
            Err(TrapError::Config(problems.join("; ")))
        }
    }

    pub fn empty() -> UsmKeys {
        UsmKeys { users: Vec::new() }
    }
}

impl UserKeys {
    fn new(user: &V3TrapUser) -> Result<UserKeys, &'static str> {
        if user.user.is_empty() || user.user.len() > 32 {
            return Err("user name must be 1 to 32 characters (RFC 3414 §5)");
        }
        if let Some(id) = &user.engine_id {
            if !(5..=32).contains(&id.len()) {
                return Err("engine ID must be 5 to 32 octets (RFC 3411 §5)");
            }
        }
        let Some(auth) = &user.auth else {
            if user.privacy.is_some() {
                return Err("privacy needs authentication");
            }
            return Ok(UserKeys {
                config: user.clone(),
                base: None,
                fixed: None,
                learned: Mutex::default(),
            });
        };
        // RFC 3414 §11.2: pass phrases of at least 8 characters. (snmp2 also
        // indexes into the pass phrase and must never see an empty one.)
        if auth.pass.expose().len() < 8 {
            return Err("authentication pass phrase shorter than 8 characters");
        }
        let mut sec = Security::new(user.user.as_bytes(), auth.pass.expose().as_bytes())
            .with_auth_protocol(auth.protocol.to_snmp2());
        match &user.privacy {
            None => sec = sec.with_auth(Auth::AuthNoPriv),
            Some(p) => {
                if p.pass.expose().len() < 8 {
                    return Err("privacy pass phrase shorter than 8 characters");
                }
                let cipher = p.protocol.to_snmp2();
                if cipher.priv_key_needs_extension(&auth.protocol.to_snmp2()) {
                    match p.key_extension {
                        Some(extension) => {
                            sec = sec.with_key_extension_method(extension.to_snmp2())
                        }
                        None => {
                            return Err(
                                "this auth/priv pair needs a key extension (Blumenthal or Reeder)",
                            )
                        }
                    }
                }
                sec = sec.with_auth(Auth::AuthPriv {
                    cipher,
                    privacy_password: p.pass.expose().as_bytes().to_vec(),
                });
            }
        }
        let fixed = match &user.engine_id {
            Some(id) => Some(
                sec.clone()
                    .with_engine_id(id)
                    .map_err(|_| "keys could not be localised to the engine ID")?,
            ),
            None => None,
        };
        Ok(UserKeys {
            config: user.clone(),
            base: Some(sec),
            fixed,
            learned: Mutex::default(),
        })
    }

    /// Keys localised to `engine_id`: the configured ones, or learned.
    fn keys_for(&self, engine_id: &[u8]) -> Result<Security, Reject> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sec) = learned.get(engine_id) {
            return Ok(sec.clone());
        }
        if learned.len() >= MAX_LEARNED_ENGINES {
            return Err(Reject::new(
                RejectReason::UnknownUser,
                "too many engine IDs for this user; configure its engine_id",
            ));
        }
        drop(learned);
        let base = self.base.clone().ok_or(Reject::new(
            RejectReason::AuthFailed,
            "user has no authentication",
        ))?;
        base.with_engine_id(engine_id).map_err(|_| {
            Reject::new(
                RejectReason::AuthFailed,
                "keys could not be localised to the engine ID",
            )
        })
    }

    /// Remembers keys after they authenticated a message, so a forged engine
    /// ID costs a localisation but never a place in the cache.
    fn learn(&self, engine_id: &[u8], sec: Security) {
        if self.fixed.is_some() {
            return;
        }
        let mut learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        if learned.len() < MAX_LEARNED_ENGINES {
            learned.entry(engine_id.to_vec()).or_insert(sec);
        }
    }
}

/// The scoped PDU, read or decrypted, and the sender's clock if the message
/// was authenticated.
pub struct V3Decoded {
    pub pdu: Pdu,
    pub clock: Option<EngineClock>,
}

/// Decodes an SNMPv3 message. `whole` is the message's complete TLV, `msg`
/// the reader positioned after its msgVersion.
pub fn decode_v3(whole: &[u8], mut msg: Reader<'_>, keys: &UsmKeys) -> Result<V3Decoded, Reject> {
    let dec = |what| Reject::new(RejectReason::DecodeError, what);

    // RFC 3412 §6: HeaderData.
    let mut header = msg.sequence("msgGlobalData not a SEQUENCE").map_err(dec)?;
    let msg_id = header.integer("msgID not an INTEGER").map_err(dec)?;
    let max_size = header.integer("msgMaxSize not an INTEGER").map_err(dec)?;
    let flags = header.octets("msgFlags not an OCTET STRING").map_err(dec)?;
    let model = header
        .integer("msgSecurityModel not an INTEGER")
        .map_err(dec)?;
    header.finish().map_err(dec)?;
    if !(0..=i64::from(i32::MAX)).contains(&msg_id) {
        return Err(dec("msgID out of range"));
    }
    if !(484..=i64::from(i32::MAX)).contains(&max_size) {
        return Err(dec("msgMaxSize out of range"));
    }
    let &[flags] = flags else {
        return Err(dec("msgFlags not one octet"));
    };
    if flags & (FLAG_AUTH | FLAG_PRIV) == FLAG_PRIV {
        return Err(dec("msgFlags: privacy without authentication"));
    }
    if model != 3 {
        return Err(dec("security model other than USM"));
    }

    // RFC 3414 §2.4: UsmSecurityParameters, inside an OCTET STRING.
    let params = msg
        .octets("msgSecurityParameters not an OCTET STRING")
        .map_err(dec)?;
    let mut outer = Reader::new(params);
    let mut usm = outer
        .sequence("UsmSecurityParameters not a SEQUENCE")
        .map_err(dec)?;
    outer.finish().map_err(dec)?;
    let engine_id = usm.octets("engine ID not an OCTET STRING").map_err(dec)?;
    let boots = usm.integer("engine boots not an INTEGER").map_err(dec)?;
    let time = usm.integer("engine time not an INTEGER").map_err(dec)?;
    let user_name = usm.octets("user name not an OCTET STRING").map_err(dec)?;
    let auth_params = usm
        .octets("auth parameters not an OCTET STRING")
        .map_err(dec)?;
    let priv_params = usm
        .octets("priv parameters not an OCTET STRING")
        .map_err(dec)?;
    usm.finish().map_err(dec)?;
    let (Ok(boots), Ok(time)) = (u32::try_from(boots), u32::try_from(time)) else {
        return Err(dec("engine boots or time negative or over 32 bits"));
    };
    if boots > MAX_ENGINE_BOOTS || time > MAX_ENGINE_BOOTS {
        return Err(dec("engine boots or time over 2147483647"));
    }

    // msgData: a plaintext ScopedPDU, or its encryption.
    let (tag, data, _) = msg.tlv().map_err(dec)?;
    msg.finish().map_err(dec)?;
    let encrypted = flags & FLAG_PRIV != 0;
    match (encrypted, tag) {
        (false, SEQUENCE) | (true, OCTET_STRING) => {}
        _ => return Err(dec("msgData does not match msgFlags")),
    }

    let Some(user) = keys
        .users
        .iter()
        .find(|u| u.config.user.as_bytes() == user_name)
    else {
        return Err(Reject::new(RejectReason::UnknownUser, "no such user"));
    };
    if let Some(id) = &user.config.engine_id {
        if id.as_slice() != engine_id {
            return Err(Reject::new(
                RejectReason::UnknownUser,
                "user not configured for this engine ID",
            ));
        }
    }
    // RFC 3414 §3.2 step 5: the level must be the user's. A message less
    // protected than configured is refused, never downgraded.
    if flags & (FLAG_AUTH | FLAG_PRIV) != user.config.flags() {
        return Err(Reject::new(
            RejectReason::AuthFailed,
            "security level differs from the user's",
        ));
    }

    let Some(auth) = &user.config.auth else {
        // noAuthNoPriv: nothing to verify, and no clock to trust.
        return Ok(V3Decoded {
            pdu: scoped_pdu(data).map_err(dec)?,
            clock: None,
        });
    };

    let failed = |what| Reject::new(RejectReason::AuthFailed, what);
    if engine_id.is_empty() {
        return Err(failed("empty engine ID"));
    }
    if boots == 0 {
        // snmp2 treats boots 0 as "not provided"; RFC 3411 has it start at 1.
        return Err(failed("engine boots 0"));
    }
    if auth_params.len() != auth.protocol.mac_len() {
        return Err(failed("authentication parameters of the wrong length"));
    }
    if encrypted && priv_params.len() != 8 {
        return Err(failed("privacy parameters not 8 octets"));
    }
    if max_size > SNMP2_MAX_SIZE {
        return Err(dec("msgMaxSize over 65507, which snmp2 refuses"));
    }

    let keys_for_engine = user.keys_for(engine_id)?;
    // Our notion of the sender's clock is the message's own: timeliness is
    // judged afterwards by `TimeWindow`, and snmp2 builds the AES IV from
    // these two numbers (RFC 3826 §3.1.2.1).
    let mut sec = keys_for_engine
        .clone()
        .with_engine_boots_and_time(i64::from(boots), i64::from(time));
    let copy = whole.to_vec();
    let pdu = match snmp2::Pdu::from_bytes_with_security(&copy, Some(&mut sec)) {
        Ok(p) if encrypted => from_snmp2(&p),
        Ok(_) => {
            // Authenticated plaintext: read it with our own, stricter reader.
            scoped_pdu(data).map_err(dec)
        }
        Err(e) => Err(failed(snmp2_reason(&e))),
    };
    let pdu = pdu?;
    user.learn(engine_id, keys_for_engine);
    Ok(V3Decoded {
        pdu,
        clock: Some(EngineClock {
            engine_id: engine_id.to_vec(),
            boots,
            time,
        }),
    })
}

/// RFC 3412 §6: ScopedPDU ::= SEQUENCE { contextEngineID, contextName, data }.
fn scoped_pdu(contents: &[u8]) -> Result<Pdu, ber::BerError> {
    let mut r = Reader::new(contents);
    r.octets("contextEngineID not an OCTET STRING")?;
    r.octets("contextName not an OCTET STRING")?;
    let (tag, pdu, _) = r.tlv()?;
    r.finish()?;
    parse_pdu(tag, pdu)
}

/// A decrypted PDU as snmp2 read it. Its varbind iterator stops quietly at
/// the first thing it cannot read, so this path is less strict than ours;
/// only a sender holding the keys can reach it.
fn from_snmp2(p: &snmp2::Pdu<'_>) -> Result<Pdu, Reject> {
    use snmp2::MessageType as M;
    let dec = |what| Reject::new(RejectReason::AuthFailed, what);
    let tag = match p.message_type {
        M::GetRequest => ber::PDU_GET,
        M::GetNextRequest => ber::PDU_GET_NEXT,
        M::GetBulkRequest => ber::PDU_GET_BULK,
        M::Response => ber::PDU_RESPONSE,
        M::SetRequest => ber::PDU_SET,
        M::InformRequest => ber::PDU_INFORM,
        M::Trap => ber::PDU_TRAP_V2,
        M::TrapV1 => ber::PDU_TRAP_V1,
        M::Report => ber::PDU_REPORT,
    };
    let mut varbinds = Vec::new();
    for (name, value) in p.varbinds.clone() {
        let oid = ber::read::oid(name.as_bytes())
            .map_err(|_| dec("decrypted varbind name unreadable"))?;
        varbinds.push(Varbind {
            oid,
            value: from_snmp2_value(&value).ok_or(dec("decrypted varbind value unreadable"))?,
        });
    }
    Ok(Pdu {
        tag,
        request_id: i64::from(p.req_id),
        varbinds,
        raw_varbinds: None,
    })
}

fn from_snmp2_value(v: &snmp2::Value<'_>) -> Option<Value> {
    use snmp2::Value as S;
    Some(match v {
        S::Null => Value::Null,
        S::Integer(i) => Value::Integer(*i),
        S::OctetString(b) => Value::OctetString(b.to_vec()),
        S::ObjectIdentifier(o) => Value::ObjectId(ber::read::oid(o.as_bytes()).ok()?),
        S::IpAddress(a) => Value::IpAddress(*a),
        S::Counter32(c) => Value::Counter32(*c),
        S::Unsigned32(g) => Value::Gauge32(*g),
        S::Timeticks(t) => Value::TimeTicks(*t),
        S::Opaque(b) => Value::Opaque(b.to_vec()),
        S::Counter64(c) => Value::Counter64(*c),
        S::EndOfMibView => Value::EndOfMibView,
        S::NoSuchObject => Value::NoSuchObject,
        S::NoSuchInstance => Value::NoSuchInstance,
        _ => return None,
    })
}

/// A fixed phrase for each snmp2 failure (its errors carry no secrets, but a
/// fixed phrase keeps the log vocabulary ours).
fn snmp2_reason(e: &snmp2::Error) -> &'static str {
    use snmp2::v3::AuthErrorKind as K;
    match e {
        snmp2::Error::AuthFailure(K::SignatureMismatch) => {
            "wrong authentication key (HMAC mismatch)"
        }
        snmp2::Error::AuthFailure(K::EngineIdMismatch) => "engine ID mismatch",
        snmp2::Error::AuthFailure(K::UsernameMismatch) => "user name mismatch",
        snmp2::Error::AuthFailure(_) => "authentication failed",
        // The frame was checked before snmp2 saw it, so a failure to read
        // what follows the decryption means the privacy key is wrong.
        _ => "decryption failed (wrong privacy key?)",
    }
}

/// Our notion of each sender engine's clock (RFC 3414 §3.2.7 b), which
/// refuses authenticated messages replayed from outside the time window.
#[derive(Default)]
pub struct TimeWindow {
    engines: HashMap<Vec<u8>, Notion>,
}

#[derive(Clone, Copy)]
struct Notion {
    boots: u32,
    /// latestReceivedEngineTime.
    latest: u32,
    /// When `latest` was received, to advance the notion with our clock.
    at: Instant,
}

impl TimeWindow {
    pub fn check(&mut self, clock: &EngineClock, now: Instant) -> Result<(), Reject> {
        let late = || Reject::new(RejectReason::AuthFailed, "not in time window");
        let fresh = Notion {
            boots: clock.boots,
            latest: clock.time,
            at: now,
        };
        let Some(known) = self.engines.get_mut(&clock.engine_id) else {
            if self.engines.len() >= MAX_TIME_NOTIONS {
                // Forget the engine heard from longest ago.
                if let Some(oldest) = self
                    .engines
                    .iter()
                    .min_by_key(|(_, n)| n.at)
                    .map(|(k, _)| k.clone())
                {
                    self.engines.remove(&oldest);
                }
            }
            self.engines.insert(clock.engine_id.clone(), fresh);
            return Ok(());
        };
        if known.boots == MAX_ENGINE_BOOTS || clock.boots < known.boots {
            return Err(late());
        }
        if clock.boots > known.boots {
            *known = fresh;
            return Ok(());
        }
        let elapsed = now.saturating_duration_since(known.at).as_secs();
        let notion = u64::from(known.latest) + elapsed;
        if u64::from(clock.time) + u64::from(TIME_WINDOW) < notion {
            return Err(late());
        }
        if clock.time > known.latest {
            *known = fresh;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn clock(boots: u32, time: u32) -> EngineClock {
        EngineClock {
            engine_id: vec![0x80, 0, 0, 0, 1],
            boots,
            time,
        }
    }

    #[test]
    fn the_time_window_refuses_old_boots_and_stale_times() {
        let t0 = Instant::now();
        let mut w = TimeWindow::default();
        w.check(&clock(5, 1000), t0).unwrap();
        // Slightly out of order within the window is fine.
        w.check(&clock(5, 900), t0).unwrap();
        assert!(w.check(&clock(5, 849), t0).is_err(), "151 s behind");
        assert!(w.check(&clock(4, 5000), t0).is_err(), "an earlier boot");
        // Our notion advances with our own clock.
        let later = t0 + Duration::from_secs(600);
        assert!(w.check(&clock(5, 1100), later).is_err());
        w.check(&clock(5, 1500), later).unwrap();
        // A reboot of the sender starts a new notion.
        w.check(&clock(6, 3), later).unwrap();
        assert!(w.check(&clock(5, 1600), later).is_err());
        assert!(w.check(&clock(MAX_ENGINE_BOOTS, 1), later).is_ok());
        assert!(
            w.check(&clock(MAX_ENGINE_BOOTS, 2), later).is_err(),
            "boots latched"
        );
    }

    #[test]
    fn bad_users_are_refused_with_every_problem_and_no_secret() {
        let short = V3TrapUser {
            user: "mon".into(),
            auth: Some(V3Auth {
                protocol: AuthProtocol::Sha1,
                pass: Secret::new("sentinel"[..7].to_string()),
            }),
            privacy: None,
            engine_id: None,
        };
        let no_ext = V3TrapUser {
            user: "mon2".into(),
            auth: Some(V3Auth {
                protocol: AuthProtocol::Sha1,
                pass: Secret::new("sentinel-auth-4711"),
            }),
            privacy: Some(V3Privacy {
                protocol: PrivProtocol::Aes256,
                pass: Secret::new("sentinel-priv-4711"),
                key_extension: None,
            }),
            engine_id: Some(vec![1, 2, 3]),
        };
        let priv_only = V3TrapUser {
            user: "mon".into(),
            auth: None,
            privacy: no_ext.privacy.clone(),
            engine_id: None,
        };
        let err = UsmKeys::new(&[short, no_ext, priv_only])
            .unwrap_err()
            .to_string();
        for want in [
            "v3_users[0] (\"mon\"): authentication pass phrase shorter than 8",
            "v3_users[1] (\"mon2\"): engine ID must be 5 to 32 octets",
            "v3_users[2] (\"mon\"): privacy needs authentication",
            "v3_users[2] (\"mon\"): user named twice",
        ] {
            assert!(err.contains(want), "{err}");
        }
        assert!(!err.contains("sentinel"), "{err}");
    }
}
