//! The accept loop: HTTP/1.1 connections with hyper, under limits that keep
//! `/healthz` and `/metrics` reachable whatever the clients do.
//!
//! * At most `daemon.http_max_connections` connections (default
//!   [`crate::config::builtin::HTTP_MAX_CONNECTIONS`]) are open at once,
//!   fixed when the server starts. A new one beyond the cap closes the **oldest** open connection instead of being
//!   refused: a flood of idle or half-sent connections ages out under new
//!   ones, so a scraper or a health check (always the newest connection)
//!   gets through at once; the flood can delay nothing but itself.
//! * A request's headers must arrive within [`HEADER_READ_TIMEOUT`] of the
//!   connection's start or of the previous response (an idle keep-alive
//!   connection is closed then too).
//! * A request is answered within [`REQUEST_TIMEOUT`] (503 otherwise), and a
//!   body larger than [`MAX_BODY_BYTES`] is refused (413); both in
//!   `limits` in `http/mod.rs`.
//! * Running out of file descriptors (EMFILE/ENFILE) at `accept` is logged as
//!   that (once a minute at most), and the oldest connection is closed to
//!   make room, then accepting goes on.
//! * With TLS ([`Tls`]), each accepted connection first completes its
//!   handshake within [`HEADER_READ_TIMEOUT`], counted among the open
//!   connections like any other. A client that sends plain HTTP gets a 400
//!   saying to use https; any failure is counted ([`Tls::failed`]), logged at
//!   debug and closes that connection only.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take to be answered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request body accepted (no endpoint reads one yet).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// On shutdown, how long requests in flight may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed `accept`, so a persistent failure cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one "too many open files" log line per this period.
const EMFILE_LOG_EVERY: Duration = Duration::from_secs(60);
/// After answering plain HTTP on the TLS port, how long the rest of the
/// request is read and dropped before closing, so the client reads the
/// answer rather than a reset.
const PLAIN_HTTP_LINGER: Duration = Duration::from_millis(500);
/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// TLS for the accept loop: asked for the server config at each accept
/// (`None`: plain HTTP), so a reload takes effect for new connections.
pub struct Tls {
    pub config: Box<dyn Fn() -> Option<Arc<rustls::ServerConfig>> + Send + Sync>,
    /// Called with `plain_http`, `not_tls`, `timeout` or `error` for each
    /// connection whose handshake failed.
    pub failed: Box<dyn Fn(&'static str) + Send + Sync>,
}

impl Tls {
    /// Plain HTTP always.
    pub fn none() -> Tls {
        Tls {
            config: Box::new(|| None),
            failed: Box::new(|_| {}),
        }
    }
}

/// The open connections, oldest first (ids only grow); each one's token
/// closes it.
#[derive(Default)]
struct Open {
    next_id: u64,
    by_age: BTreeMap<u64, CancellationToken>,
}

impl Open {
    fn add(&mut self) -> (u64, CancellationToken) {
        let id = self.next_id;
        self.next_id += 1;
        let token = CancellationToken::new();
        self.by_age.insert(id, token.clone());
        (id, token)
    }

    /// Closes the oldest connection; false when none is open.
    fn close_oldest(&mut self) -> bool {
        match self.by_age.pop_first() {
            Some((_, token)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

/// Whether an I/O error means the process or the system ran out of file
/// descriptors.
pub fn is_out_of_fds(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Serves `app` on `listener` until `cancel`, with at most `max_connections`
/// open at once (at least 1), over TLS when `tls` gives a config, then lets
/// requests in flight finish (for up to `SHUTDOWN_GRACE`).
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    tls: Arc<Tls>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let max_connections = max_connections.max(1);
    let open = Arc::new(Mutex::new(Open::default()));
    let tasks = TaskTracker::new();
    let mut last_emfile_log: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) if is_out_of_fds(&err) => {
                if last_emfile_log.is_none_or(|t| t.elapsed() >= EMFILE_LOG_EVERY) {
                    last_emfile_log = Some(Instant::now());
                    tracing::error!(
                        error = %err,
                        "cannot accept an HTTP connection: too many open files; closing the oldest \
                         connection to make room (raise LimitNOFILE / ulimit -n if this persists)"
                    );
                }
                lock(&open).close_oldest();
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            Err(err) => {
                // ECONNABORTED and the like: that client's problem.
                tracing::debug!(error = %err, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let (id, closed) = {
            let mut open = lock(&open);
            while open.by_age.len() >= max_connections && open.close_oldest() {}
            open.add()
        };
        let app = app.clone();
        let stop = cancel.clone();
        let open = open.clone();
        let server_config = (tls.config)();
        let tls = tls.clone();
        tasks.spawn(async move {
            match server_config {
                None => serve_connection(stream, app, &closed, &stop).await,
                Some(config) => {
                    let handshake = tokio::select! {
                        h = handshake(stream, config) => Some(h),
                        _ = closed.cancelled() => None,
                        _ = stop.cancelled() => None,
                    };
                    match handshake {
                        Some(Ok(stream)) => serve_connection(stream, app, &closed, &stop).await,
                        Some(Err(failure)) => {
                            tracing::debug!(
                                reason = failure.reason,
                                detail = %failure.detail,
                                "TLS handshake failed"
                            );
                            (tls.failed)(failure.reason);
                            if let Some(mut stream) = failure.plain_http {
                                refuse_plain_http(&mut stream).await;
                            }
                        }
                        None => {}
                    }
                }
            }
            lock(&open).by_age.remove(&id);
        });
    }
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Serves HTTP/1.1 on one connection until it ends, `closed` (the cap made
/// room) or `stop` (shutdown: requests in flight may finish).
async fn serve_connection<S>(
    stream: S,
    app: Router,
    closed: &CancellationToken,
    stop: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    tokio::select! {
        _ = conn.as_mut() => {}
        // Dropping the connection closes the socket.
        _ = closed.cancelled() => {}
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

/// Why a TLS handshake failed.
struct HandshakeFailure {
    /// The metric's label: `plain_http`, `not_tls`, `timeout` or `error`.
    reason: &'static str,
    detail: String,
    /// The connection, when the client spoke plain HTTP: to be told so.
    plain_http: Option<TcpStream>,
}

impl HandshakeFailure {
    fn new(reason: &'static str, detail: impl Into<String>) -> HandshakeFailure {
        HandshakeFailure {
            reason,
            detail: detail.into(),
            plain_http: None,
        }
    }
}

/// The server side of a TLS handshake, within [`HEADER_READ_TIMEOUT`].
async fn handshake(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, HandshakeFailure> {
    let attempt = async {
        let mut first = [0u8; 1];
        let n = stream
            .peek(&mut first)
            .await
            .map_err(|e| HandshakeFailure::new("error", e.to_string()))?;
        if n == 0 {
            return Err(HandshakeFailure::new(
                "error",
                "closed before the handshake",
            ));
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            return Err(if first[0].is_ascii_uppercase() {
                HandshakeFailure {
                    plain_http: Some(stream),
                    ..HandshakeFailure::new("plain_http", "a plain HTTP request on the TLS port")
                }
            } else {
                HandshakeFailure::new(
                    "not_tls",
                    format!("first byte {:#04x} is no TLS handshake", first[0]),
                )
            });
        }
        tokio_rustls::TlsAcceptor::from(config)
            .accept(stream)
            .await
            .map_err(|e| HandshakeFailure::new("error", e.to_string()))
    };
    match tokio::time::timeout(HEADER_READ_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(HandshakeFailure::new(
            "timeout",
            format!("no handshake within {} s", HEADER_READ_TIMEOUT.as_secs()),
        )),
    }
}

/// Answers a plain HTTP request on the TLS port with a 400 that says so (as
/// Go's servers do), then reads and drops what the client still sends for a
/// moment, so it gets the answer rather than a connection reset.
async fn refuse_plain_http(stream: &mut TcpStream) {
    const BODY: &str = "{\"error\":\"this port speaks HTTPS: use https:// (daemon.web_config_file configures TLS)\"}\n";
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let written = tokio::time::timeout(PLAIN_HTTP_LINGER, stream.write_all(response.as_bytes()));
    if !matches!(written.await, Ok(Ok(()))) {
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(PLAIN_HTTP_LINGER, async {
        let mut total = 0;
        while let Ok(n) = stream.read(&mut sink).await {
            total += n;
            if n == 0 || total > MAX_BODY_BYTES {
                break;
            }
        }
    })
    .await;
}

fn lock(open: &Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    open.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_connection_is_closed_first() {
        let mut open = Open::default();
        let tokens: Vec<_> = (0..3).map(|_| open.add().1).collect();
        assert!(open.close_oldest());
        assert!(tokens[0].is_cancelled());
        assert!(!tokens[1].is_cancelled() && !tokens[2].is_cancelled());
        assert!(open.close_oldest() && open.close_oldest());
        assert!(!open.close_oldest(), "nothing left to close");
    }

    #[test]
    fn out_of_fds_is_recognised() {
        assert!(is_out_of_fds(&std::io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_out_of_fds(&std::io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_out_of_fds(&std::io::Error::from_raw_os_error(
            libc::EACCES
        )));
    }
}
