//! The profile reader's primitives: one TOML value read as a table, list,
//! string, OID, number or label, each refusal reported at its own line and
//! column through the shared diagnostics.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::Diags;
use crate::probes::snmp::Oid;

/// The daemon adds `device` to every profile sample, so no profile may use it.
pub(super) const RESERVED_LABELS: &[&str] = &["device"];

pub(super) type Val<'i> = Spanned<DeValue<'i>>;

pub(super) struct Reader<'d, 't> {
    pub(super) diags: &'d mut Diags<'t>,
}

impl Reader<'_, '_> {
    pub(super) fn at(
        &mut self,
        span: Range<usize>,
        path: impl Into<String>,
        msg: impl Into<String>,
    ) {
        self.diags.at(span, path, msg);
    }

    pub(super) fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    }

    pub(super) fn known_keys(&mut self, table: &DeTable<'_>, path: &str, allowed: &[&str]) {
        for key in table.keys() {
            let k: &str = key.get_ref();
            if !allowed.contains(&k) {
                let place = if path.is_empty() { "the profile" } else { path };
                self.at(
                    key.span(),
                    Self::join(path, k),
                    format!(
                        "unknown key `{k}` in {place}; expected one of: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    pub(super) fn table<'a, 'i>(&mut self, v: &'a Val<'i>, path: &str) -> Option<&'a DeTable<'i>> {
        let t = v.get_ref().as_table();
        if t.is_none() {
            self.at(
                v.span(),
                path,
                format!("expected a table, found {}", v.get_ref().type_str()),
            );
        }
        t
    }

    pub(super) fn array<'a, 'i>(&mut self, v: &'a Val<'i>, path: &str) -> Option<&'a [Val<'i>]> {
        match v.get_ref() {
            DeValue::Array(items) => Some(&items[..]),
            other => {
                self.at(
                    v.span(),
                    path,
                    format!("expected a list, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn string(&mut self, v: &Val<'_>, path: &str) -> Option<String> {
        match v.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.at(
                    v.span(),
                    path,
                    format!("expected a string, found {}", v.get_ref().type_str()),
                );
                None
            }
        }
    }

    pub(super) fn required<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        key: &str,
        path: &str,
        span: &Range<usize>,
    ) -> Option<&'a Val<'i>> {
        let v = table.get(key);
        if v.is_none() {
            self.at(
                span.start..span.start,
                Self::join(path, key),
                format!("`{key}` is required"),
            );
        }
        v
    }

    pub(super) fn oid(&mut self, v: &Val<'_>, path: &str) -> Option<Oid> {
        let s = self.string(v, path)?;
        match s.parse::<Oid>() {
            Ok(oid) => Some(oid),
            Err(e) => {
                self.at(
                    v.span(),
                    path,
                    format!("{e}; write OIDs numerically, with the MIB name in a comment"),
                );
                None
            }
        }
    }

    pub(super) fn integer(&mut self, v: &Val<'_>, path: &str) -> Option<i64> {
        let parsed = v
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok());
        if parsed.is_none() {
            self.at(
                v.span(),
                path,
                format!("expected a whole number, found {}", v.get_ref().type_str()),
            );
        }
        parsed
    }

    pub(super) fn number(&mut self, v: &Val<'_>, path: &str) -> Option<f64> {
        let text = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => None,
        };
        if text.is_none() {
            self.at(
                v.span(),
                path,
                format!("expected a number, found {}", v.get_ref().type_str()),
            );
        }
        text.filter(|f| f.is_finite())
    }

    pub(super) fn label(&mut self, v: &Val<'_>, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        if !is_snake(&s) {
            self.at(
                v.span(),
                path,
                format!(
                    "label {s:?} is not snake_case (lower-case letters, digits and `_`, \
                     starting with a letter), e.g. `if_name` for IF-MIB::ifName"
                ),
            );
            return None;
        }
        if RESERVED_LABELS.contains(&s.as_str()) {
            self.at(
                v.span(),
                path,
                format!("label `{s}` is added by netkpi to every sample; choose another name"),
            );
            return None;
        }
        Some(s)
    }
}

pub(super) fn is_snake(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.contains("__")
        && !s.ends_with('_')
}
