//! `netkpi incident ...`: operates on incidents through the running
//! daemon's API, so every acknowledgement and note goes through the one
//! writer of the ledger. A tiny HTTP/1.1 client: it only ever talks to
//! netkpi itself, plain HTTP, one request per connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

/// How long the client waits for the daemon (an acknowledgement waits for
/// its commit, which the daemon bounds at 10 s).
const TIMEOUT: Duration = Duration::from_secs(15);

/// Where the daemon answers, and the token its write endpoints need.
pub struct Endpoint {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Endpoint {
    /// From `--url http://HOST:PORT` (and `--token-file`), else from the
    /// config's `daemon.listen` (an unspecified address means this host's
    /// loopback) and `daemon.api_token_file`.
    pub fn resolve(
        url: Option<&str>,
        token_file: Option<&Path>,
        config: impl FnOnce() -> anyhow::Result<(SocketAddr, Option<std::path::PathBuf>)>,
    ) -> anyhow::Result<Endpoint> {
        let (addr, configured_token) = match url {
            Some(url) => (parse_url(url)?, None),
            None => {
                let (mut addr, token) = config()?;
                if addr.ip().is_unspecified() {
                    addr.set_ip(match addr {
                        SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                (addr, token)
            }
        };
        let token = match token_file.map(Path::to_path_buf).or(configured_token) {
            Some(path) => Some(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read the API token file {}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        Ok(Endpoint { addr, token })
    }

    /// Sends one request; returns the status and the JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, TIMEOUT).with_context(|| {
            format!(
                "cannot reach netkpi at {} (is the daemon running? see daemon.listen or --url)",
                self.addr
            )
        })?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.addr
        );
        if let Some(token) = &self.token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if method != "GET" {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .with_context(|| format!("no complete answer from netkpi at {}", self.addr))?;
        parse_response(&raw)
    }
}

fn parse_url(url: &str) -> anyhow::Result<SocketAddr> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--url {url:?}: expected http://HOST:PORT (netkpi's own API, plain HTTP)");
    };
    let hostport = rest.trim_end_matches('/');
    hostport
        .to_socket_addrs()
        .with_context(|| format!("--url {url:?}: cannot resolve {hostport:?}"))?
        .next()
        .with_context(|| format!("--url {url:?}: {hostport:?} has no address"))
}

fn parse_response(raw: &[u8]) -> anyhow::Result<(u16, Value)> {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("malformed HTTP answer from netkpi");
    };
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("malformed HTTP status line from netkpi")?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    let value = serde_json::from_str(&body)
        .with_context(|| format!("netkpi answered {status} with a body that is not JSON"))?;
    Ok((status, value))
}

/// The body of a chunked HTTP/1.1 answer, joined.
pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The body of a 2xx answer, or the daemon's `{"error": ...}` as the error.
pub fn expect_ok((status, body): (u16, Value)) -> anyhow::Result<Value> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let message = body
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| body.to_string(), str::to_string);
    bail!("netkpi answered {status}: {message}")
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

fn duration(v: &Value, key: &str) -> String {
    match v.get(key).and_then(Value::as_f64) {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.0}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

/// An incident's target, with its alarm when it is about one.
fn target(i: &Value) -> String {
    match i["alarm"].as_str() {
        Some(alarm) => format!("{} ({alarm})", text(i, "target")),
        None => text(i, "target").to_string(),
    }
}

/// One line per incident, newest first.
pub fn print_list(doc: &Value) {
    println!(
        "{:>6}  {:<8}  {:<6}  {:<20}  {:<29}  {:>7}  {:>7}  {:<12}  ROOT",
        "ID", "STATE", "SEV", "TARGET", "OPENED", "RESPOND", "RESTORE", "ACK BY"
    );
    for i in doc["incidents"].as_array().into_iter().flatten() {
        let root = match (i["root_id"].as_u64(), i["affected"].as_u64()) {
            (Some(root), _) => format!("behind #{root}"),
            (None, Some(n)) if n > 0 => format!("root of {n}"),
            _ => String::new(),
        };
        println!(
            "{:>6}  {:<8}  {:<6}  {:<20}  {:<29}  {:>7}  {:>7}  {:<12}  {root}",
            i["id"],
            text(i, "state"),
            text(i, "severity"),
            target(i),
            text(i, "opened_at"),
            duration(i, "response_s"),
            duration(i, "restore_s"),
            text(i, "acknowledged_by"),
        );
    }
    if let Some(cursor) = doc["next_cursor"].as_str() {
        println!("(more: --cursor {cursor})");
    }
}

/// An incident with its record.
pub fn print_detail(i: &Value) {
    println!(
        "incident #{} — {} {} ({}), {}",
        i["id"],
        text(i, "kind"),
        text(i, "target"),
        text(i, "severity"),
        text(i, "state")
    );
    if let Some(alarm) = i["alarm"].as_str() {
        println!("  alarm:        {alarm}");
    }
    println!("  cause:        {}", text(i, "cause"));
    println!("  opened:       {}", text(i, "opened_at"));
    println!(
        "  acknowledged: {} by {} (respond {}, deadline {})",
        text(i, "acknowledged_at"),
        text(i, "acknowledged_by"),
        duration(i, "response_s"),
        duration(i, "respond_within_s")
    );
    println!(
        "  restored:     {} (restore {}, deadline {})",
        text(i, "restored_at"),
        duration(i, "restore_s"),
        duration(i, "restore_within_s")
    );
    if let Some(root) = i["root_id"].as_u64() {
        println!("  root:         #{root}");
    }
    println!(
        "  planned: {}  flaps: {}  sla met: {}",
        i["planned"], i["flaps"], i["sla_met"]
    );
    let affected = i["affected_targets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !affected.is_empty() {
        println!("  affected ({}):", affected.len());
        for a in &affected {
            println!(
                "    #{} {} {} ({})",
                a["incident"],
                text(a, "kind"),
                text(a, "target"),
                text(a, "state")
            );
        }
    }
    println!("  record:");
    for e in i["events"].as_array().into_iter().flatten() {
        let mut line = format!("    {}  {}", text(e, "at"), text(e, "event"));
        if let Some(by) = e["by"].as_str() {
            line.push_str(&format!(" by {by}"));
        }
        if let Some(t) = e["text"].as_str() {
            line.push_str(&format!(": {t}"));
        }
        if let Some(c) = e["cause"].as_str() {
            line.push_str(&format!(" (cause {c})"));
        }
        println!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plain_or_chunked() {
        let plain = b"HTTP/1.1 409 Conflict\r\ncontent-length: 13\r\n\r\n{\"error\":\"x\"}";
        let (status, v) = parse_response(plain).unwrap();
        assert_eq!((status, v["error"].as_str()), (409, Some("x")));
        assert_eq!(
            expect_ok((status, v)).unwrap_err().to_string(),
            "netkpi answered 409: x"
        );
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n4\r\n:11}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap().1["a"], 11);
    }

    #[test]
    fn urls_name_netkpi_over_plain_http() {
        assert_eq!(
            parse_url("http://127.0.0.1:9731/").unwrap(),
            "127.0.0.1:9731".parse().unwrap()
        );
        assert!(parse_url("https://127.0.0.1:9731").is_err());
    }
}
