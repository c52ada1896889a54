//! Secrets (SNMP communities, v3 pass phrases, API tokens) as a type whose
//! `Debug` and `Display` never print the value, so it cannot leak into logs,
//! metrics, API output or panic messages by accident.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new("sentinel-4711");
        for text in [
            format!("{s:?}"),
            format!("{s}"),
            format!("{:?}", Some(&s)),
            serde_json::to_string(&s).unwrap(),
        ] {
            assert!(!text.contains("sentinel"), "{text}");
        }
        assert_eq!(s.expose(), "sentinel-4711");
    }
}
