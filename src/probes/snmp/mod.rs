//! SNMP: the words shared by the config, the client, the profiles and the
//! trap receiver.
//!
//! Values are owned copies of what came off the wire (the `snmp2` crate
//! lends them from its receive buffer), so a walk can outlive its session.

pub mod ber;
pub mod client;
pub mod oids;
pub mod poller;
pub mod profile;
#[cfg(test)]
pub mod snmprec;
pub mod traps;

/// The protocol versions and USM words live in a leaf module the config
/// uses too; here they are the SNMP code's own words.
pub use crate::snmp_security::{
    AuthProtocol, Credentials, KeyExtension, PrivProtocol, SnmpVersion,
};

use std::fmt;
use std::str::FromStr;

/// An object identifier, e.g. `1.3.6.1.2.1.1.3.0` (sysUpTime.0).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(pub Vec<u32>);

impl Oid {
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// True when `self` lies inside the subtree rooted at `root`.
    pub fn starts_with(&self, root: &Oid) -> bool {
        self.0.starts_with(&root.0)
    }

    /// The arcs after `root` (the row index of a table column), if inside it.
    pub fn suffix(&self, root: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(root.0.as_slice())
    }

    pub fn child(&self, arc: u32) -> Oid {
        let mut arcs = self.0.clone();
        arcs.push(arc);
        Oid(arcs)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for arc in &self.0 {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl FromStr for Oid {
    type Err = String;

    /// Numeric dotted form; a leading dot is allowed (`.1.3.6.1`).
    fn from_str(s: &str) -> Result<Oid, String> {
        let body = s.trim().strip_prefix('.').unwrap_or(s.trim());
        if body.is_empty() {
            return Err("empty OID".into());
        }
        let arcs = body
            .split('.')
            .map(|a| {
                a.parse::<u32>()
                    .map_err(|_| format!("invalid OID {s:?}: {a:?} is not a number 0-4294967295"))
            })
            .collect::<Result<Vec<u32>, String>>()?;
        if arcs.len() < 2 {
            return Err(format!("invalid OID {s:?}: needs at least two arcs"));
        }
        Ok(Oid(arcs))
    }
}

/// One SNMP value with its wire type (RFC 2578 / RFC 3416).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Integer(i64),
    OctetString(Vec<u8>),
    ObjectId(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    /// Gauge32 and Unsigned32 share a tag on the wire.
    Gauge32(u32),
    TimeTicks(u32),
    Opaque(Vec<u8>),
    Counter64(u64),
    Null,
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
}

impl Value {
    /// The numeric value, for any type that has one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(v) => Some(*v as f64),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => Some(f64::from(*v)),
            Value::Counter64(v) => Some(*v as f64),
            // Many agents report numbers as strings (e.g. "23.5" for a
            // temperature); accept them when they parse cleanly.
            Value::OctetString(bytes) => std::str::from_utf8(bytes).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// Text for labels: strings lossily as UTF-8 (trailing NULs cut, as some
    /// agents pad them), numbers in decimal, OIDs dotted.
    pub fn as_label(&self) -> String {
        match self {
            Value::OctetString(bytes) | Value::Opaque(bytes) => String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .to_string(),
            Value::ObjectId(oid) => oid.to_string(),
            Value::IpAddress(ip) => std::net::Ipv4Addr::from(*ip).to_string(),
            other => other.as_f64().map(|v| v.to_string()).unwrap_or_default(),
        }
    }

    /// The exceptions of RFC 3416 §4.2: the object is not there.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Varbind {
    pub oid: Oid,
    pub value: Value,
}

/// Why an SNMP poll failed, with stable snake_case names used as the
/// `reason` label of `netkpi_poll_errors_total` and in logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnmpFailure {
    /// No (valid) answer within timeout × (retries + 1).
    Timeout,
    /// SNMPv3 authentication or privacy failed (wrong user, key or protocol).
    AuthFailed,
    /// The agent answered with an error-status (e.g. genErr, tooBig).
    AgentError,
    /// None of the profile's objects exist on the agent.
    NoSuchObject,
    /// The answer could not be decoded.
    DecodeError,
    /// The request could not be sent (no route, socket error).
    SendError,
    /// The device's name does not resolve.
    ResolveError,
}

impl SnmpFailure {
    pub const ALL: [SnmpFailure; 7] = [
        SnmpFailure::Timeout,
        SnmpFailure::AuthFailed,
        SnmpFailure::AgentError,
        SnmpFailure::NoSuchObject,
        SnmpFailure::DecodeError,
        SnmpFailure::SendError,
        SnmpFailure::ResolveError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SnmpFailure::Timeout => "timeout",
            SnmpFailure::AuthFailed => "auth_failed",
            SnmpFailure::AgentError => "agent_error",
            SnmpFailure::NoSuchObject => "no_such_object",
            SnmpFailure::DecodeError => "decode_error",
            SnmpFailure::SendError => "send_error",
            SnmpFailure::ResolveError => "resolve_error",
        }
    }
}

/// An SNMP poll as the ledger weighs it: failed with its failure kind
/// (cause `snmp:<kind>`), or answered with the interfaces' oper status it
/// read (when it read IF-MIB).
pub fn classify(
    failure: Option<SnmpFailure>,
    interfaces: Vec<(String, bool)>,
) -> crate::probes::Round {
    use crate::probes::{Prober, Round};
    match failure {
        Some(f) => Round::failed(Prober::Snmp, f.as_str()),
        None => Round {
            interfaces: Some(interfaces),
            ..Round::answered()
        },
    }
}

impl fmt::Display for SnmpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_parse_print_and_nest() {
        let root: Oid = "1.3.6.1.2.1.2.2.1.8".parse().unwrap();
        let cell: Oid = ".1.3.6.1.2.1.2.2.1.8.10101".parse().unwrap();
        assert_eq!(cell.to_string(), "1.3.6.1.2.1.2.2.1.8.10101");
        assert!(cell.starts_with(&root));
        assert_eq!(cell.suffix(&root), Some(&[10101u32][..]));
        assert_eq!(root.child(7).to_string(), "1.3.6.1.2.1.2.2.1.8.7");
        for bad in ["", "1", "1.3.x", "1..3", "1.3.99999999999"] {
            assert!(bad.parse::<Oid>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_become_numbers_and_labels() {
        assert_eq!(Value::Counter64(u64::MAX).as_f64(), Some(u64::MAX as f64));
        assert_eq!(Value::OctetString(b" 23.5".to_vec()).as_f64(), Some(23.5));
        assert_eq!(
            Value::OctetString(b"Gi0/1\0\0".to_vec()).as_label(),
            "Gi0/1"
        );
        assert_eq!(Value::IpAddress([10, 1, 0, 1]).as_label(), "10.1.0.1");
        assert_eq!(Value::NoSuchInstance.as_f64(), None);
        assert!(Value::EndOfMibView.is_exception());
    }
}
