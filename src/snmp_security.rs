//! The SNMP protocol versions and the v3 user-based security model's words
//! (RFC 3414, RFC 3826, RFC 7860), shared by the config, the client and the
//! trap receiver.
//!
//! A leaf (it uses only [`crate::secret`]): the config names these and the
//! probes speak them, and neither has to import the other for them.
//!
//! `as_str` gives each value as written in the config (the user-facing
//! spelling, as in net-snmp); `parse` is its inverse and `ALL` lists them in
//! the order the config's messages name them. The mapping to `snmp2`'s
//! types lives with the code that talks to `snmp2`, in
//! [`crate::probes::snmp::client`].

use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnmpVersion {
    V1,
    V2c,
    V3,
}

impl SnmpVersion {
    pub const ALL: [SnmpVersion; 3] = [SnmpVersion::V1, SnmpVersion::V2c, SnmpVersion::V3];

    /// As written in the config: `"1"`, `"2c"`, `"3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnmpVersion::V1 => "1",
            SnmpVersion::V2c => "2c",
            SnmpVersion::V3 => "3",
        }
    }

    pub fn parse(s: &str) -> Option<SnmpVersion> {
        SnmpVersion::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How an agent is spoken to: a community (v1, v2c) or a USM user (v3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// v1/v2c community, from `community` or `community_file`.
    Community(Secret),
    /// v3 user-based security (RFC 3414). No `auth` means noAuthNoPriv;
    /// `privacy` is only ever `Some` when `auth` is: there is no privacy
    /// without authentication.
    V3 {
        user: String,
        auth: Option<(AuthProtocol, Secret)>,
        privacy: Option<(PrivProtocol, Secret)>,
        /// How a too-short localized key is stretched for AES-192/256;
        /// `None` uses it as it is (enough with SHA-256 or longer).
        key_extension: Option<KeyExtension>,
    },
}

/// The v3 authentication protocol: HMAC-MD5-96 and HMAC-SHA-96 (RFC 3414),
/// the HMAC-SHA-2 family (RFC 7860).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl AuthProtocol {
    pub const ALL: [AuthProtocol; 6] = [
        AuthProtocol::Md5,
        AuthProtocol::Sha1,
        AuthProtocol::Sha224,
        AuthProtocol::Sha256,
        AuthProtocol::Sha384,
        AuthProtocol::Sha512,
    ];

    /// As written in the config; `"sha"` is SHA-1, as in net-snmp.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthProtocol::Md5 => "md5",
            AuthProtocol::Sha1 => "sha",
            AuthProtocol::Sha224 => "sha224",
            AuthProtocol::Sha256 => "sha256",
            AuthProtocol::Sha384 => "sha384",
            AuthProtocol::Sha512 => "sha512",
        }
    }

    pub fn parse(s: &str) -> Option<AuthProtocol> {
        AuthProtocol::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Length of the localized key (the hash's output, RFC 3414 §2.6).
    pub fn key_len(self) -> usize {
        match self {
            AuthProtocol::Md5 => 16,
            AuthProtocol::Sha1 => 20,
            AuthProtocol::Sha224 => 28,
            AuthProtocol::Sha256 => 32,
            AuthProtocol::Sha384 => 48,
            AuthProtocol::Sha512 => 64,
        }
    }

    /// Octets of msgAuthenticationParameters (RFC 3414 §6.3.1, RFC 7860 §4.2.1).
    pub fn mac_len(self) -> usize {
        match self {
            AuthProtocol::Md5 | AuthProtocol::Sha1 => 12,
            AuthProtocol::Sha224 => 16,
            AuthProtocol::Sha256 => 24,
            AuthProtocol::Sha384 => 32,
            AuthProtocol::Sha512 => 48,
        }
    }
}

/// The v3 privacy protocol: CBC-DES (RFC 3414), CFB-AES-128 (RFC 3826), and
/// the AES-192/256 variants of draft-blumenthal-aes-usm-04 (with a
/// [`KeyExtension`] where the auth hash is shorter than the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

impl PrivProtocol {
    pub const ALL: [PrivProtocol; 4] = [
        PrivProtocol::Des,
        PrivProtocol::Aes128,
        PrivProtocol::Aes192,
        PrivProtocol::Aes256,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PrivProtocol::Des => "des",
            PrivProtocol::Aes128 => "aes128",
            PrivProtocol::Aes192 => "aes192",
            PrivProtocol::Aes256 => "aes256",
        }
    }

    pub fn parse(s: &str) -> Option<PrivProtocol> {
        PrivProtocol::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Key material the cipher takes from the localized key (DES: 8 bytes
    /// of key and 8 of pre-IV, RFC 3414 §8.1.1.1).
    pub fn key_len(self) -> usize {
        match self {
            PrivProtocol::Des | PrivProtocol::Aes128 => 16,
            PrivProtocol::Aes192 => 24,
            PrivProtocol::Aes256 => 32,
        }
    }
}

/// How the localized key is lengthened when the auth hash is shorter than an
/// AES-192/256 key (MD5 or SHA-1 with AES-192/256, SHA-224 with AES-256).
/// Agents differ, and the two methods give different keys, so it has to
/// match the device; other pairs ignore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyExtension {
    /// draft-reeder-snmpv3-usm-3desede §2.1: append password-to-key(key).
    /// Cisco IOS, net-snmp's `AES192C`/`AES256C` ("AES-192-C"/"AES-256-C").
    Reeder,
    /// draft-blumenthal-aes-usm-04 §3.1.2.1: append H(key). net-snmp's
    /// `AES192`/`AES256` and most other agents.
    Blumenthal,
}

impl KeyExtension {
    pub const ALL: [KeyExtension; 2] = [KeyExtension::Reeder, KeyExtension::Blumenthal];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyExtension::Reeder => "reeder",
            KeyExtension::Blumenthal => "blumenthal",
        }
    }

    pub fn parse(s: &str) -> Option<KeyExtension> {
        KeyExtension::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config's spellings are user-facing: they must not drift.
    #[test]
    fn config_spellings_round_trip() {
        let versions = SnmpVersion::ALL.map(SnmpVersion::as_str);
        assert_eq!(versions, ["1", "2c", "3"]);
        let auths = AuthProtocol::ALL.map(AuthProtocol::as_str);
        assert_eq!(
            auths,
            ["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
        );
        let privs = PrivProtocol::ALL.map(PrivProtocol::as_str);
        assert_eq!(privs, ["des", "aes128", "aes192", "aes256"]);
        let extensions = KeyExtension::ALL.map(KeyExtension::as_str);
        assert_eq!(extensions, ["reeder", "blumenthal"]);
        for v in SnmpVersion::ALL {
            assert_eq!(SnmpVersion::parse(v.as_str()), Some(v));
        }
        for a in AuthProtocol::ALL {
            assert_eq!(AuthProtocol::parse(a.as_str()), Some(a));
        }
        for p in PrivProtocol::ALL {
            assert_eq!(PrivProtocol::parse(p.as_str()), Some(p));
        }
        for k in KeyExtension::ALL {
            assert_eq!(KeyExtension::parse(k.as_str()), Some(k));
        }
        assert_eq!(AuthProtocol::parse("sha1"), None);
    }
}
