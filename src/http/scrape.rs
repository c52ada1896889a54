//! `/metrics` streamed: the exposition is encoded on a blocking thread into
//! chunks of about [`CHUNK`] bytes that go to the socket as they are made,
//! so a scrape of millions of series never holds the whole text (nor a
//! second copy of it) in memory. At most [`IN_FLIGHT`] chunks wait for a
//! slow scraper; one that takes no chunk for [`STALL`] is abandoned (its
//! text ends early, which the scraper reads as a failed scrape), and one
//! that goes away stops the encoding at the next chunk.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::metrics::{Format, Metrics};

/// Bytes of text a chunk holds before it is sent.
pub const CHUNK: usize = 64 * 1024;
/// Chunks made but not yet taken by the connection.
const IN_FLIGHT: usize = 2;
/// How long a chunk may wait for the scraper.
const STALL: Duration = Duration::from_secs(30);

/// The body of a scrape in `format`, encoded as the scraper reads it.
pub fn stream(metrics: Arc<Metrics>, format: Format) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(IN_FLIGHT);
    let runtime = Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks {
            buf: String::with_capacity(CHUNK + CHUNK / 8),
            tx,
            runtime,
        };
        if metrics.encode_into(format, &mut out).is_ok() {
            let _ = out.send();
        }
    });
    Body::from_stream(Received(rx))
}

/// The chunks as a stream; it may be polled again after its end (some
/// layers do), and stays ended.
struct Received(mpsc::Receiver<Bytes>);

impl futures_util::Stream for Received {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

/// A `fmt::Write` that hands its text on in chunks; a chunk nobody takes
/// (the scraper went away or stalled) fails the write, which stops the
/// encoder.
struct Chunks {
    buf: String,
    tx: mpsc::Sender<Bytes>,
    runtime: Handle,
}

impl Chunks {
    fn send(&mut self) -> fmt::Result {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK + CHUNK / 8));
        self.runtime
            .block_on(self.tx.send_timeout(Bytes::from(text), STALL))
            .map_err(|_| fmt::Error)
    }
}

impl fmt::Write for Chunks {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    /// The streamed body is exactly the text encoded whole, in several
    /// chunks when it is long.
    #[tokio::test]
    async fn the_stream_is_the_whole_text_in_chunks() {
        let metrics = Arc::new(Metrics::new());
        for i in 0..5_000 {
            metrics.count_tls_handshake_failure(if i % 2 == 0 { "a" } else { "b" });
        }
        let whole = metrics.encode_prometheus();
        let body = stream(metrics.clone(), Format::Prometheus);
        let streamed = to_bytes(body, usize::MAX).await.expect("the body");
        assert_eq!(String::from_utf8(streamed.to_vec()).unwrap(), whole);
    }

    /// A scraper that goes away stops the encoding: the sender sees its
    /// chunk refused.
    #[tokio::test]
    async fn a_scraper_that_goes_away_stops_the_encoder() {
        let (tx, rx) = mpsc::channel::<Bytes>(1);
        drop(rx);
        let runtime = Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut out = Chunks {
                buf: String::new(),
                tx,
                runtime,
            };
            fmt::Write::write_str(&mut out, &"x".repeat(CHUNK))
        })
        .await
        .unwrap();
        assert_eq!(result, Err(fmt::Error));
    }
}
