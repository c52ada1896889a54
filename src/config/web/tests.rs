//! Fixture tests of the web config: each invalid fixture with exactly what
//! `netkpi check` prints for it; certificates made here with rcgen.

use std::path::{Path, PathBuf};

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/web")
}

/// A fixture's diagnostics as printed, with the directory left out.
fn diagnostics(name: &str) -> Vec<String> {
    let dir = format!("{}/", fixtures().display());
    match load(&fixtures().join(name)) {
        Ok(_) => vec![format!("{name} loaded without errors")],
        Err(ds) => ds
            .iter()
            .map(|d| d.to_string().replacen(&dir, "", 1))
            .collect(),
    }
}

const NO_SUCH_CRT: &str = "tls_server_config.cert_file: cannot read \"no-such.crt\": no such file (a relative path starts at the web config file's folder)";
const NO_SUCH_KEY: &str = "tls_server_config.key_file: cannot read \"no-such.key\": no such file (a relative path starts at the web config file's folder)";
const HOW: &str = "make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`";

/// One entry per rule: the fixture and exactly what `netkpi check` prints
/// (`{crt}`, `{key}` and `{how}` stand for the messages above).
const INVALID: &[(&str, &[&str])] = &[
    ("invalid-client-auth.yml", &[
        "2:14: {crt}",
        "3:13: {key}",
        "4:21: tls_server_config.client_auth_type: RequireAnyClientCert accepts client certificates nobody verified, which netkpi does not do; use RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file",
    ]),
    ("invalid-client-ca-without-auth.yml", &[
        "2:14: {crt}",
        "3:13: {key}",
        "4:19: tls_server_config.client_ca_file: client_ca_file is set but client_auth_type does not ask for client certificates; set client_auth_type: RequireAndVerifyClientCert, or remove client_ca_file",
    ]),
    ("invalid-duplicate-user.yml", &[
        "3:15: basic_auth_users.prometheus: user \"prometheus\" is listed twice; keep one entry",
    ]),
    ("invalid-hash-cost.yml", &[
        "2:15: basic_auth_users.prometheus: bcrypt cost 3 is out of range (4 to 31)",
    ]),
    ("invalid-hash-cut.yml", &[
        "2:15: basic_auth_users.prometheus: not a bcrypt hash: after the cost come 53 characters of [./A-Za-z0-9] (the hash is cut or damaged?); {how}",
    ]),
    ("invalid-hash-missing.yml", &[
        "2:3: basic_auth_users.prometheus: no password hash; {how}",
    ]),
    ("invalid-hash-plain.yml", &[
        "2:15: basic_auth_users.prometheus: not a bcrypt hash (it must start with $2a$, $2b$ or $2y$; a plain password does not belong here); {how}",
    ]),
    ("invalid-missing-cert.yml", &[
        "1:1: tls_server_config.cert_file: missing cert_file: the server's certificate (PEM), followed by its chain if any",
        "2:13: tls_server_config.key_file: cannot read \"server.key\": no such file (a relative path starts at the web config file's folder)",
    ]),
    ("invalid-missing-files.yml", &["2:14: {crt}", "3:13: {key}"]),
    ("invalid-not-a-map.yml", &[
        "1:1: -: wrong type: string \"just some text\"; expected a map of keys (key: value lines), e.g. tls_server_config: or basic_auth_users:",
    ]),
    ("invalid-syntax.yml", &[
        "4:1: tls_server_config.key_file: found unexpected end of stream, while scanning a quoted scalar at line 2 column 14",
    ]),
    ("invalid-unknown-key.yml", &[
        "2:13: tls_server_config.cert_fil: unknown key `cert_fil` in tls_server_config; expected one of: cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version (did you mean `cert_file`?)",
    ]),
    ("invalid-unknown-section.yml", &[
        "1:1: basic_auth_user: unknown key `basic_auth_user` in the web config; expected one of: tls_server_config, basic_auth_users (did you mean `basic_auth_users`?)",
    ]),
    ("invalid-unsupported.yml", &[
        "2:14: {crt}",
        "3:13: {key}",
        "4:18: tls_server_config.cipher_suites: netkpi uses rustls' cipher suites, all of them strong: remove cipher_suites",
        "5:1: http_server_config: netkpi serves HTTP/1.1 only and sets no extra headers: remove http_server_config",
    ]),
    ("invalid-user-name.yml", &[
        "2:18: basic_auth_users.prom:etheus: a user name must not contain `:` (basic auth sends user:password)",
    ]),
    ("invalid-versions.yml", &[
        "2:14: {crt}",
        "3:13: {key}",
        "4:16: tls_server_config.min_version: TLS 1.0 and 1.1 are not offered (they are deprecated, RFC 8996); write TLS12 or TLS13",
        "5:16: tls_server_config.max_version: unknown TLS version \"TLS14\"; write TLS12 or TLS13",
    ]),
];

#[test]
fn every_invalid_fixture_reports_exactly_its_problems() {
    let mut failures = Vec::new();
    for (name, expected) in INVALID {
        let expected: Vec<String> = expected
            .iter()
            .map(|e| {
                format!("{name}:{e}")
                    .replace("{crt}", NO_SUCH_CRT)
                    .replace("{key}", NO_SUCH_KEY)
                    .replace("{how}", HOW)
            })
            .collect();
        let got = diagnostics(name);
        if got != expected {
            failures.push(format!(
                "{name}:\n  got:\n    {}\n  expected:\n    {}",
                got.join("\n    "),
                expected.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_is_tested() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("invalid-"))
        .collect();
    on_disk.sort();
    let tested: Vec<String> = INVALID.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, tested);
}

#[test]
fn users_alone_load_and_their_hashes_verify() {
    let web = load(&fixtures().join("valid-users.yml")).unwrap();
    assert!(web.tls.is_none());
    assert_eq!(
        web.users.keys().collect::<Vec<_>>(),
        ["grafana.reader", "prometheus"]
    );
    for hash in web.users.values() {
        assert!(bcrypt::verify("s3cret", hash.expose()).unwrap());
    }
    let empty = load(&fixtures().join("valid-empty.yml")).unwrap();
    assert!(empty.tls.is_none() && empty.users.is_empty());
}

#[test]
fn hashes_from_the_bcrypt_crate_pass() {
    for cost in [4, 10] {
        let hash = bcrypt::hash("x", cost).unwrap();
        assert_eq!(bcrypt_problem(&hash), None, "{hash}");
        let y = hash.replacen("$2b$", "$2y$", 1);
        assert_eq!(bcrypt_problem(&y), None, "{y}");
    }
}

/// A CA and a server certificate it signed for 127.0.0.1, as PEM.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// Writes `files` into a fresh folder and loads `web.yml` from it.
fn load_in_dir(files: &[(&str, &str)]) -> Result<WebConfig, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let prefix = format!("{}/", dir.path().display());
    load(&dir.path().join("web.yml")).map_err(|ds| {
        ds.iter()
            .map(|d| d.to_string().replacen(&prefix, "", 1))
            .collect()
    })
}

#[test]
fn a_certificate_and_its_key_load_relative_to_the_web_config() {
    let pki = pki();
    let web = load_in_dir(&[
        ("web.yml", "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n  min_version: TLS13\n"),
        ("tls/server.crt", &pki.cert),
        ("tls/server.key", &pki.key),
    ])
    .unwrap();
    let tls = web.tls.expect("TLS configured");
    assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let (a, b) = (pki(), pki());
    let got = load_in_dir(&[
        (
            "web.yml",
            "tls_server_config:\n  cert_file: a.crt\n  key_file: b.key\n",
        ),
        ("a.crt", &a.cert),
        ("b.key", &b.key),
    ])
    .unwrap_err();
    assert_eq!(
        got,
        ["web.yml:3:13: tls_server_config.key_file: the private key in \"b.key\" does not belong to the certificate in \"a.crt\""]
    );
}

#[test]
fn files_that_hold_the_wrong_thing_are_refused() {
    let pki = pki();
    let got = load_in_dir(&[
        (
            "web.yml",
            "tls_server_config:\n  cert_file: server.key\n  key_file: server.crt\n",
        ),
        ("server.crt", &pki.cert),
        ("server.key", &pki.key),
    ])
    .unwrap_err();
    assert_eq!(
        got,
        [
            "web.yml:2:14: tls_server_config.cert_file: \"server.key\" holds no certificate (no -----BEGIN CERTIFICATE----- block)",
            "web.yml:3:13: tls_server_config.key_file: \"server.crt\" holds no private key (no -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY block)",
        ]
    );
}

#[test]
fn client_certificates_are_verified_against_client_ca_file() {
    let pki = pki();
    let files = |auth: &str| {
        vec![
            (
                "web.yml".to_string(),
                format!("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n{auth}"),
            ),
            ("s.crt".to_string(), pki.cert.clone()),
            ("s.key".to_string(), pki.key.clone()),
            ("ca.crt".to_string(), pki.ca.clone()),
        ]
    };
    let load_with = |auth: &str| {
        let f = files(auth);
        let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        load_in_dir(&refs)
    };
    for auth in ["RequireAndVerifyClientCert", "VerifyClientCertIfGiven"] {
        let web = load_with(&format!(
            "  client_auth_type: {auth}\n  client_ca_file: ca.crt\n"
        ));
        assert!(web.is_ok_and(|w| w.tls.is_some()), "{auth}");
    }
    assert_eq!(
        load_with("  client_auth_type: RequireAndVerifyClientCert\n").unwrap_err(),
        ["web.yml:4:21: tls_server_config.client_auth_type: client certificates are verified against client_ca_file, which is missing: name the CA certificate(s) file"]
    );
}

#[test]
fn the_config_reports_the_web_config_in_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("netkpi.toml");
    std::fs::write(
        dir.path().join("web.yml"),
        "basic_auth_users:\n  prometheus: s3cret\n",
    )
    .unwrap();
    let prefix = format!("{}/", dir.path().display());
    let check = |text: &str| -> Vec<String> {
        match crate::config::load_str(&config, text) {
            Ok(c) => vec![format!("loaded: {:?}", c.daemon.web)],
            Err(ds) => ds
                .iter()
                .map(|d| d.to_string().replacen(&prefix, "", 1))
                .collect(),
        }
    };
    assert_eq!(
        check("[daemon]\nweb_config_file = \"missing.yml\"\n"),
        ["netkpi.toml:2:19: daemon.web_config_file: cannot read \"missing.yml\": no such file (a relative path starts at this config file's folder)"]
    );
    assert_eq!(
        check("[daemon]\nweb_config_file = \"web.yml\"\ntimezone = \"Mars/Olympus\"\n"),
        [
            "netkpi.toml:3:12: daemon.timezone: unknown time zone \"Mars/Olympus\"; use an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
            format!("web.yml:2:15: basic_auth_users.prometheus: not a bcrypt hash (it must start with $2a$, $2b$ or $2y$; a plain password does not belong here); {HOW}").as_str(),
        ]
    );
    std::fs::write(dir.path().join("web.yml"), "").unwrap();
    let ok = check("[daemon]\nweb_config_file = \"web.yml\"\n");
    assert!(ok[0].starts_with("loaded: Some(WebConfig"), "{ok:?}");
}
