//! `daemon.web_config_file`: TLS and basic auth for the HTTP server, in the
//! web-config format the Prometheus exporters read (exporter-toolkit's
//! `--web.config.file`), so the file and the scrape config that goes with it
//! are the ones an operator already knows:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//! basic_auth_users:
//!   prometheus: $2y$10$...
//! ```
//!
//! Either section may be left out. Paths are relative to the web-config
//! file's folder. Unknown keys are errors; the exporter-toolkit keys netkpi
//! does not offer (cipher suites, curves, inline certificates, HTTP headers)
//! are refused by name rather than silently ignored.
//!
//! Everything that can be checked without a client is checked here, so
//! `netkpi check`, a start and a reload refuse the same files: the
//! certificate and key are read, parsed and matched (the rustls server
//! config is built), and every password hash must look like bcrypt.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::diag::{Diagnostic, Shown};
use crate::secret::Secret;

/// A web config that was read and checked.
#[derive(Clone)]
pub struct WebConfig {
    /// The file it was read from.
    pub file: PathBuf,
    /// `tls_server_config`, built: `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `basic_auth_users`: user name → bcrypt hash. Empty: no basic auth.
    pub users: BTreeMap<String, Secret>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("file", &self.file)
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<Users>,
    /// exporter-toolkit's (HTTP/2, response headers): refused by name.
    http_server_config: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    // exporter-toolkit keys netkpi does not offer: refused by name.
    cert: Option<serde_yaml::Value>,
    key: Option<serde_yaml::Value>,
    client_ca: Option<serde_yaml::Value>,
    cipher_suites: Option<serde_yaml::Value>,
    curve_preferences: Option<serde_yaml::Value>,
    prefer_server_cipher_suites: Option<serde_yaml::Value>,
    client_allowed_sans: Option<serde_yaml::Value>,
}

/// `basic_auth_users`, in file order, duplicates kept (a plain map would
/// keep the last of a user named twice, silently); checked in [`load_str`],
/// where each problem can be placed at its user.
#[derive(Debug, Default)]
struct Users(Vec<(String, Option<String>)>);

impl<'de> Deserialize<'de> for Users {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Users, D::Error> {
        struct UsersVisitor;
        impl<'de> Visitor<'de> for UsersVisitor {
            type Value = Users;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of user names to bcrypt hashes")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Users, E> {
                Ok(Users::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Users, A::Error> {
                let mut users = Vec::new();
                while let Some(entry) = map.next_entry::<String, Option<String>>()? {
                    users.push(entry);
                }
                Ok(Users(users))
            }
        }
        d.deserialize_any(UsersVisitor)
    }
}

/// Why `hash` is not a bcrypt hash, or `None` when it looks like one.
pub fn bcrypt_problem(hash: &str) -> Option<String> {
    const HOW: &str = "make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`";
    if hash.is_empty() {
        return Some(format!("no password hash; {HOW}"));
    }
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
    else {
        return Some(format!(
            "not a bcrypt hash (it must start with $2a$, $2b$ or $2y$; a plain password does not belong here); {HOW}"
        ));
    };
    let cost = rest.get(..2).and_then(|c| c.parse::<u32>().ok());
    let tail = rest.get(2..);
    match (cost, tail) {
        (Some(cost), Some(tail)) if tail.starts_with('$') => {
            if !(4..=31).contains(&cost) {
                return Some(format!("bcrypt cost {cost} is out of range (4 to 31)"));
            }
            let body = &tail[1..];
            let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
            if body.chars().count() != 53 || !body.chars().all(alphabet) {
                return Some(format!(
                    "not a bcrypt hash: after the cost come 53 characters of [./A-Za-z0-9] (the hash is cut or damaged?); {HOW}"
                ));
            }
            None
        }
        _ => Some(format!(
            "not a bcrypt hash: expected a two-digit cost after the prefix, e.g. $2y$10$; {HOW}"
        )),
    }
}

/// A problem found after the YAML was read: its place is looked up by path.
struct Problem {
    path: String,
    message: String,
    /// Which of the places with this path (a user listed twice: the second).
    nth: usize,
}

/// Reads and checks the web config at `file`. Every problem is returned,
/// each naming `file` and the field (with its line and column).
pub fn load(file: &Path) -> Result<WebConfig, Vec<Diagnostic>> {
    match std::fs::read_to_string(file) {
        Ok(text) => load_str(file, &text),
        Err(e) => Err(vec![Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            path: "-".into(),
            message: format!("cannot read the web config file: {}", io_message(&e)),
        }]),
    }
}

/// [`load`] of `text` as if read from `file` (the base of relative paths).
pub fn load_str(file: &Path, text: &str) -> Result<WebConfig, Vec<Diagnostic>> {
    let raw = match serde_yaml::from_str::<Option<RawWeb>>(text) {
        Ok(raw) => raw.unwrap_or_default(),
        Err(e) => return Err(vec![yaml_diagnostic(file, text, &e)]),
    };
    let base_dir = file.parent().unwrap_or(Path::new(""));
    let mut problems = Vec::new();
    if raw.http_server_config.is_some() {
        problems.push(Problem {
            path: "http_server_config".into(),
            message:
                "netkpi serves HTTP/1.1 only and sets no extra headers: remove http_server_config"
                    .into(),
            nth: 0,
        });
    }
    let tls = raw
        .tls_server_config
        .as_ref()
        .and_then(|raw| tls(raw, base_dir, &mut problems));
    let mut users = BTreeMap::new();
    let mut names_seen: Vec<String> = Vec::new();
    for (name, hash) in raw.basic_auth_users.unwrap_or_default().0 {
        let path = format!("basic_auth_users.{name}");
        let nth = names_seen.iter().filter(|n| **n == name).count();
        names_seen.push(name.clone());
        let hash = hash.unwrap_or_default();
        let problem = if nth > 0 {
            Some(format!(
                "user {:?} is listed twice; keep one entry",
                Shown(&name)
            ))
        } else if name.is_empty() {
            Some("a user name must not be empty".to_string())
        } else if name.contains(':') {
            Some("a user name must not contain `:` (basic auth sends user:password)".to_string())
        } else if name.chars().any(char::is_control) {
            Some("a user name must not contain control characters".to_string())
        } else {
            bcrypt_problem(&hash)
        };
        match problem {
            Some(message) => problems.push(Problem { path, message, nth }),
            None => {
                users.insert(name, Secret::new(hash));
            }
        }
    }
    if problems.is_empty() {
        return Ok(WebConfig {
            file: file.to_path_buf(),
            tls,
            users,
        });
    }
    let keys = keys(text);
    let mut diagnostics: Vec<Diagnostic> = problems
        .into_iter()
        .map(|p| {
            let (line, col) = locate(&keys, &p.path, p.nth);
            Diagnostic {
                file: file.to_path_buf(),
                line,
                col,
                path: p.path,
                message: p.message,
            }
        })
        .collect();
    diagnostics.sort_by_key(|d| (d.line, d.col));
    Err(diagnostics)
}

/// The keys of `tls_server_config` exporter-toolkit has and netkpi refuses,
/// with what to do instead.
fn unsupported_tls_keys(raw: &RawTls) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let mut refuse = |present: bool, key: &'static str, why: &'static str| {
        if present {
            out.push((key, why));
        }
    };
    refuse(
        raw.cert.is_some(),
        "cert",
        "inline PEM is not supported: put it in a file and name it in cert_file",
    );
    refuse(
        raw.key.is_some(),
        "key",
        "inline PEM is not supported: put it in a file and name it in key_file",
    );
    refuse(
        raw.client_ca.is_some(),
        "client_ca",
        "inline PEM is not supported: put it in a file and name it in client_ca_file",
    );
    refuse(
        raw.cipher_suites.is_some(),
        "cipher_suites",
        "netkpi uses rustls' cipher suites, all of them strong: remove cipher_suites",
    );
    refuse(
        raw.curve_preferences.is_some(),
        "curve_preferences",
        "netkpi uses rustls' key exchange groups: remove curve_preferences",
    );
    refuse(
        raw.prefer_server_cipher_suites.is_some(),
        "prefer_server_cipher_suites",
        "netkpi uses rustls' cipher suite order: remove prefer_server_cipher_suites",
    );
    refuse(
        raw.client_allowed_sans.is_some(),
        "client_allowed_sans",
        "not supported: every client certificate signed by client_ca_file is accepted; remove client_allowed_sans",
    );
    out
}

/// Builds the rustls server config of `tls_server_config`; problems go to
/// `problems`.
fn tls(
    raw: &RawTls,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Arc<rustls::ServerConfig>> {
    let mut problem = |key: &str, message: String| {
        problems.push(Problem {
            path: format!("tls_server_config.{key}"),
            message,
            nth: 0,
        })
    };
    let problem = &mut problem;
    for (key, why) in unsupported_tls_keys(raw) {
        problem(key, why.to_string());
    }
    let versions = versions(raw, problem);
    let client_auth = client_auth(raw, base_dir, problem);
    let certs = match &raw.cert_file {
        None => {
            problem(
                "cert_file",
                "missing cert_file: the server's certificate (PEM), followed by its chain if any"
                    .into(),
            );
            None
        }
        Some(name) => read_pem(base_dir, name, "certificate")
            .and_then(|bytes| {
                let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
                match certs {
                    Ok(certs) if !certs.is_empty() => Ok(certs),
                    Ok(_) => Err(format!(
                        "{:?} holds no certificate (no -----BEGIN CERTIFICATE----- block)",
                        Shown(name)
                    )),
                    Err(e) => Err(format!("{:?} is not PEM: {e}", Shown(name))),
                }
            })
            .map_err(|m| problem("cert_file", m))
            .ok(),
    };
    let key = match &raw.key_file {
        None => {
            problem(
                "key_file",
                "missing key_file: the private key (PEM) of the certificate in cert_file".into(),
            );
            None
        }
        Some(name) => read_pem(base_dir, name, "private key")
            .and_then(|bytes| {
                PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
                    rustls::pki_types::pem::Error::NoItemsFound => format!(
                        "{:?} holds no private key (no -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY block)",
                        Shown(name)
                    ),
                    e => format!("{:?} is not PEM: {e}", Shown(name)),
                })
            })
            .map_err(|m| problem("key_file", m))
            .ok(),
    };
    let (Some(certs), Some(key), Some(versions), Some(client_auth)) =
        (certs, key, versions, client_auth)
    else {
        return None;
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
    {
        Ok(builder) => builder,
        Err(e) => {
            problem("min_version", format!("no usable TLS version: {e}"));
            return None;
        }
    };
    let builder = match client_auth {
        None => builder.with_no_client_auth(),
        Some((roots, optional)) => {
            let mut verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider);
            if optional {
                verifier = verifier.allow_unauthenticated();
            }
            match verifier.build() {
                Ok(v) => builder.with_client_cert_verifier(v),
                Err(e) => {
                    problem(
                        "client_ca_file",
                        format!("cannot verify clients with it: {e}"),
                    );
                    return None;
                }
            }
        }
    };
    match builder.with_single_cert(certs, key) {
        Ok(mut config) => {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(Arc::new(config))
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            problem(
                "key_file",
                format!(
                    "the private key in {:?} does not belong to the certificate in {:?}",
                    Shown(raw.key_file.as_deref().unwrap_or_default()),
                    Shown(raw.cert_file.as_deref().unwrap_or_default())
                ),
            );
            None
        }
        Err(e) => {
            problem(
                "key_file",
                format!("cannot use this certificate and key: {e}"),
            );
            None
        }
    }
}

/// `min_version` and `max_version`: the protocol versions offered.
fn versions(
    raw: &RawTls,
    problem: &mut dyn FnMut(&str, String),
) -> Option<Vec<&'static rustls::SupportedProtocolVersion>> {
    let parse = |key: &str, value: &Option<String>, problem: &mut dyn FnMut(&str, String)| {
        match value.as_deref() {
            None => Some(None),
            Some("TLS12") => Some(Some(12)),
            Some("TLS13") => Some(Some(13)),
            Some("TLS10" | "TLS11") => {
                problem(
                    key,
                    "TLS 1.0 and 1.1 are not offered (they are deprecated, RFC 8996); write TLS12 or TLS13".into(),
                );
                None
            }
            Some(other) => {
                problem(
                    key,
                    format!(
                        "unknown TLS version {:?}; write TLS12 or TLS13",
                        Shown(other)
                    ),
                );
                None
            }
        }
    };
    let min = parse("min_version", &raw.min_version, problem);
    let max = parse("max_version", &raw.max_version, problem);
    let (min, max) = (min?.unwrap_or(12), max?.unwrap_or(13));
    if min > max {
        problem(
            "max_version",
            format!("max_version TLS{max} is below min_version TLS{min}"),
        );
        return None;
    }
    let mut out = Vec::new();
    if min <= 12 {
        out.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        out.push(&rustls::version::TLS13);
    }
    Some(out)
}

/// `client_auth_type` and `client_ca_file`: `Some(None)` without client
/// certificates, `Some(Some((roots, optional)))` when they are verified.
#[allow(clippy::type_complexity)]
fn client_auth(
    raw: &RawTls,
    base_dir: &Path,
    problem: &mut dyn FnMut(&str, String),
) -> Option<Option<(Arc<rustls::RootCertStore>, bool)>> {
    let optional = match raw.client_auth_type.as_deref().unwrap_or("") {
        "" | "NoClientCert" => {
            if raw.client_ca_file.is_some() {
                problem(
                    "client_ca_file",
                    "client_ca_file is set but client_auth_type does not ask for client certificates; set client_auth_type: RequireAndVerifyClientCert, or remove client_ca_file".into(),
                );
                return None;
            }
            return Some(None);
        }
        "RequireAndVerifyClientCert" => false,
        "VerifyClientCertIfGiven" => true,
        "RequestClientCert" | "RequireAnyClientCert" => {
            problem(
                "client_auth_type",
                format!(
                    "{} accepts client certificates nobody verified, which netkpi does not do; use RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file",
                    raw.client_auth_type.as_deref().unwrap_or_default()
                ),
            );
            return None;
        }
        other => {
            problem(
                "client_auth_type",
                format!(
                    "unknown client_auth_type {:?}; expected one of: NoClientCert, RequireAndVerifyClientCert, VerifyClientCertIfGiven",
                    Shown(other)
                ),
            );
            return None;
        }
    };
    let Some(name) = &raw.client_ca_file else {
        problem(
            "client_auth_type",
            "client certificates are verified against client_ca_file, which is missing: name the CA certificate(s) file".into(),
        );
        return None;
    };
    let bytes = match read_pem(base_dir, name, "CA certificate") {
        Ok(bytes) => bytes,
        Err(m) => {
            problem("client_ca_file", m);
            return None;
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let added = cert
            .map_err(|e| format!("{:?} is not PEM: {e}", Shown(name)))
            .and_then(|c| {
                roots
                    .add(c)
                    .map_err(|e| format!("a certificate in {:?} cannot be a CA: {e}", Shown(name)))
            });
        if let Err(m) = added {
            problem("client_ca_file", m);
            return None;
        }
    }
    if roots.is_empty() {
        problem(
            "client_ca_file",
            format!("{:?} holds no certificate", Shown(name)),
        );
        return None;
    }
    Some(Some((Arc::new(roots), optional)))
}

/// Reads a PEM file named in the web config (relative to its folder).
fn read_pem(base_dir: &Path, name: &str, what: &str) -> Result<Vec<u8>, String> {
    if name.trim().is_empty() {
        return Err(format!(
            "must not be empty; write the path of the {what} file"
        ));
    }
    std::fs::read(base_dir.join(name)).map_err(|e| {
        let shown = Shown(name);
        match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "cannot read {shown:?}: no such file (a relative path starts at the web config file's folder)"
            ),
            _ => format!("cannot read {shown:?}: {}", io_message(&e)),
        }
    })
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; make it readable by the user netkpi runs as".into()
        }
        std::io::ErrorKind::IsADirectory => "it is a folder, not a file".into(),
        std::io::ErrorKind::InvalidData => "it is not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

/// A YAML or structure error as a diagnostic: serde_yaml's place, its path
/// (`tls_server_config`) as the field (else the key on that line), the
/// message without the place and in the config's words.
fn yaml_diagnostic(file: &Path, text: &str, e: &serde_yaml::Error) -> Diagnostic {
    let keys = keys(text);
    let (line, col) = e
        .location()
        .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
    let mut message = e.to_string();
    if let Some(l) = e.location() {
        message = message.replacen(
            &format!(" at line {} column {}", l.line(), l.column()),
            "",
            1,
        );
    }
    // "path: message" when serde_yaml knows the field.
    let (path, message) = match message.split_once(": ") {
        Some((p, m))
            if !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.[]-".contains(c)) =>
        {
            (Some(p.to_string()), m.to_string())
        }
        _ => (None, message),
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default();
        let (context, expected): (&str, &[&str]) = match path.as_deref() {
            None => ("the web config", &["tls_server_config", "basic_auth_users"]),
            Some(p) => (p, SUPPORTED_TLS_KEYS),
        };
        let path = path
            .as_ref()
            .map_or(key.to_string(), |p| format!("{p}.{key}"));
        // serde_yaml places it at the map; the key itself is more useful.
        let (line, col) = locate(&keys, &path, 0);
        return Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            message: format!(
                "unknown key `{key}` in {context}; expected one of: {}{}",
                expected.join(", "),
                super::read::did_you_mean(key, expected)
            ),
            path,
        };
    }
    let message = match message.split_once(", expected struct ") {
        Some((found, _)) => format!(
            "{}; expected a map of keys (key: value lines), e.g. tls_server_config: or basic_auth_users:",
            found.replace("invalid type", "wrong type")
        ),
        None => message,
    };
    let path = path.unwrap_or_else(|| {
        keys.iter()
            .rev()
            .find(|k| k.line <= line)
            .map_or("-".to_string(), |k| k.path.clone())
    });
    Diagnostic {
        file: file.to_path_buf(),
        line,
        col,
        path,
        message,
    }
}

/// The keys of `tls_server_config` netkpi reads (others are refused).
const SUPPORTED_TLS_KEYS: &[&str] = &[
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
];

/// A key of block-style YAML: its dotted path (the first two levels are
/// all a web config has; a deeper key's path is its first two), its line,
/// and the 1-based column of its value (or of the key, when the value is not
/// on its line).
#[derive(Debug)]
struct KeyAt {
    path: String,
    line: usize,
    col: usize,
}

/// Every key of block-style YAML in `text`, in order. Flow style (`{...}`)
/// and sequences are not looked into: their keys are found at their parent.
fn keys(text: &str) -> Vec<KeyAt> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = &line[indent..];
        if body.is_empty() || body.starts_with('#') || body.starts_with('-') {
            continue;
        }
        let Some((key, value_at)) = yaml_key(body) else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let at = value_at.map_or(indent, |v| indent + v);
        out.push(KeyAt {
            path: stack
                .iter()
                .take(2)
                .map(|(_, k)| k.as_str())
                .collect::<Vec<_>>()
                .join("."),
            line: n + 1,
            col: line[..at].chars().count() + 1,
        });
    }
    out
}

/// Where the key at `path` is: the `nth` (0-based) place it appears, else
/// its first, else its parent's, else 1:1 (flow style is not looked into).
fn locate(keys: &[KeyAt], path: &str, nth: usize) -> (usize, usize) {
    let at = |p: &str, nth: usize| {
        keys.iter()
            .filter(|k| k.path == p)
            .nth(nth)
            .map(|k| (k.line, k.col))
    };
    let parent = path.split_once('.').map_or(path, |(p, _)| p);
    at(path, nth)
        .or_else(|| at(path, 0))
        .or_else(|| at(parent, 0))
        .unwrap_or((1, 1))
}
/// A block mapping line's key (unquoted) and the byte offset of its value
/// in `body`, if it has one on this line.
fn yaml_key(body: &str) -> Option<(String, Option<usize>)> {
    let (key, after) = match body.chars().next()? {
        q @ ('"' | '\'') => {
            let end = body[1..].find(q)? + 1;
            (body[1..end].to_string(), end + 1)
        }
        _ => {
            let colon = body
                .match_indices(':')
                .find(|(i, _)| body[i + 1..].is_empty() || body[i + 1..].starts_with(' '))?
                .0;
            (body[..colon].trim_end().to_string(), colon)
        }
    };
    let rest = body[after..].strip_prefix(':')?;
    let value = rest.trim_start();
    let value_at = (!value.is_empty() && !value.starts_with('#')).then(|| body.len() - value.len());
    Some((key, value_at))
}

#[cfg(test)]
mod tests;
