//! Between our types and snmp2's: OIDs and values, SNMPv3 security
//! parameters from the configured credentials, error status names.

use snmp2::v3;

use super::*;
use crate::probes::snmp::{
    AuthProtocol, Credentials, KeyExtension, Oid, PrivProtocol, SnmpFailure, Value,
};

pub(super) fn to_wire(oid: &Oid) -> Result<snmp2::Oid<'static>, SnmpError> {
    let arcs: Vec<u64> = oid.arcs().iter().map(|a| u64::from(*a)).collect();
    snmp2::Oid::from(&arcs).map_err(|e| {
        SnmpError::new(
            SnmpFailure::SendError,
            format!("OID {oid} cannot be encoded: {e:?}"),
        )
    })
}

pub(super) fn from_wire(oid: &snmp2::Oid<'_>) -> Result<Oid, String> {
    let arcs = oid
        .iter()
        .ok_or_else(|| format!("OID {oid} has an arc beyond 64 bits"))?;
    arcs.map(|a| u32::try_from(a).map_err(|_| format!("OID {oid} has an arc beyond 32 bits")))
        .collect::<Result<Vec<u32>, String>>()
        .map(Oid)
}

pub(super) fn own_value(value: snmp2::Value<'_>) -> Result<Value, String> {
    use snmp2::Value as W;
    Ok(match value {
        W::Null => Value::Null,
        W::Integer(v) => Value::Integer(v),
        W::OctetString(b) => Value::OctetString(b.to_vec()),
        W::ObjectIdentifier(o) => Value::ObjectId(from_wire(&o)?),
        W::IpAddress(a) => Value::IpAddress(a),
        W::Counter32(v) => Value::Counter32(v),
        W::Unsigned32(v) => Value::Gauge32(v),
        W::Timeticks(v) => Value::TimeTicks(v),
        W::Opaque(b) => Value::Opaque(b.to_vec()),
        W::Counter64(v) => Value::Counter64(v),
        W::EndOfMibView => Value::EndOfMibView,
        W::NoSuchObject => Value::NoSuchObject,
        W::NoSuchInstance => Value::NoSuchInstance,
        W::Boolean(_) => return Err("a BOOLEAN value, which SNMP does not define".into()),
        _ => return Err("a constructed value where SNMP allows only a simple type".into()),
    })
}

/// The snmp2 security context for a v3 user, without engine state yet.
pub(super) fn security_for(credentials: &Credentials) -> Result<v3::Security, SnmpError> {
    let Credentials::V3 {
        user,
        auth,
        privacy,
        key_extension,
    } = credentials
    else {
        return Err(SnmpError::new(
            SnmpFailure::AuthFailed,
            "not an SNMPv3 user",
        ));
    };
    // snmp2's password-to-key indexes the pass phrase and panics on an empty
    // one; the config validator requires 8 characters (RFC 3414 §11.2).
    let nonempty = |s: &Secret, what: &str| {
        if s.is_empty() {
            Err(SnmpError::new(
                SnmpFailure::AuthFailed,
                format!("empty {what} pass phrase for user {user:?}"),
            ))
        } else {
            Ok(s.expose().as_bytes().to_vec())
        }
    };
    let (auth_protocol, auth_pass) = match auth {
        Some((protocol, pass)) => (*protocol, nonempty(pass, "authentication")?),
        None => (AuthProtocol::Md5, Vec::new()),
    };
    let level = match (auth, privacy) {
        (None, None) => v3::Auth::NoAuthNoPriv,
        (Some(_), None) => v3::Auth::AuthNoPriv,
        (Some(_), Some((cipher, pass))) => v3::Auth::AuthPriv {
            cipher: cipher.to_snmp2(),
            privacy_password: nonempty(pass, "privacy")?,
        },
        (None, Some(_)) => {
            return Err(SnmpError::new(
                SnmpFailure::AuthFailed,
                format!("user {user:?} has privacy without authentication (USM needs both)"),
            ))
        }
    };
    // Without a key extension Blumenthal's is used; it only matters for the
    // pairs that need one, and the config requires it to be named for those.
    let key_extension = key_extension.unwrap_or(KeyExtension::Blumenthal);
    Ok(v3::Security::new(user.as_bytes(), &auth_pass)
        .with_auth_protocol(auth_protocol.to_snmp2())
        .with_auth(level)
        .with_key_extension_method(key_extension.to_snmp2()))
}

// The shared protocol words as `snmp2` spells them (the trap receiver's USM
// uses these too).

impl AuthProtocol {
    pub(crate) fn to_snmp2(self) -> v3::AuthProtocol {
        match self {
            AuthProtocol::Md5 => v3::AuthProtocol::Md5,
            AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
            AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
            AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
            AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
            AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
        }
    }
}

impl PrivProtocol {
    pub(crate) fn to_snmp2(self) -> v3::Cipher {
        match self {
            PrivProtocol::Des => v3::Cipher::Des,
            PrivProtocol::Aes128 => v3::Cipher::Aes128,
            PrivProtocol::Aes192 => v3::Cipher::Aes192,
            PrivProtocol::Aes256 => v3::Cipher::Aes256,
        }
    }
}

impl KeyExtension {
    pub(crate) fn to_snmp2(self) -> v3::KeyExtension {
        match self {
            KeyExtension::Blumenthal => v3::KeyExtension::Blumenthal,
            KeyExtension::Reeder => v3::KeyExtension::Reeder,
        }
    }
}
