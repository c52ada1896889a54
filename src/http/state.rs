//! What the HTTP layer reads, handed to it by the daemon at start: the
//! config in force, the live view, the metrics and the health flags.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::BasicAuthCache;
use crate::config::Config;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::store::{StoreStats, WriterHandle};

/// The parts the HTTP layer reads. The daemon builds it and keeps a handle to
/// swap the config on a reload; nothing here depends on the daemon.
pub struct Shared {
    /// The config in force (swapped by a reload); the inventory in force is
    /// [`Live::inventory`].
    pub config: RwLock<Arc<Config>>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub store_stats: Arc<StoreStats>,
    /// False once the ledger task has ended (probing stopped).
    pub probing: Arc<AtomicBool>,
    /// Where acknowledgements and notes go to be written.
    pub writer: WriterHandle,
    /// The content of `daemon.api_token_file` (re-read on reload).
    pub api_token: RwLock<Option<Secret>>,
    /// Basic auth's verified (user, password) pairs, for a few minutes.
    pub basic_auth: BasicAuthCache,
    /// `GET /api/v1/report` builds one report at a time.
    pub report_builds: ReportGate,
}

/// How long a report request waits for the build before it (another
/// request's) to end, before it is answered 503.
pub const REPORT_WAIT: Duration = Duration::from_secs(5);

/// What a request refused by [`ReportGate`] is told to wait (`Retry-After`,
/// seconds): a province's year takes about that long to build.
pub const REPORT_RETRY_AFTER_S: u64 = 10;

/// One report build at a time: a build holds a province's year in memory
/// (hundreds of MB), so concurrent requests would multiply that in the
/// daemon. A request waits up to its `wait` for the build before it, then
/// is refused with 503 and `Retry-After`.
pub struct ReportGate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Default for ReportGate {
    fn default() -> Self {
        ReportGate::new(REPORT_WAIT)
    }
}

impl ReportGate {
    pub fn new(wait: Duration) -> ReportGate {
        ReportGate {
            permits: Arc::new(Semaphore::new(1)),
            wait,
        }
    }

    /// The right to build a report, held until the permit is dropped (by
    /// the blocking build itself, so that a request abandoned by its
    /// client or by the request timeout still counts until its build ends);
    /// or, after waiting [`ReportGate::wait`], the 503 to answer.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Response> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the other build.
            Ok(Err(_)) | Err(_) => {
                let mut response = super::api::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "a report is being built; try again",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(REPORT_RETRY_AFTER_S));
                Err(response)
            }
        }
    }
}

impl Shared {
    /// The config in force now.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The bearer token writes need, when one is configured.
    pub fn api_token(&self) -> Option<Secret> {
        self.api_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{header, StatusCode};

    use super::{ReportGate, REPORT_RETRY_AFTER_S};

    /// A second build waits for the first; once its wait is over it gets
    /// 503, the JSON error and Retry-After; after the first ends, the next
    /// one builds.
    #[tokio::test]
    async fn one_report_build_at_a_time() {
        let gate = ReportGate::new(Duration::from_millis(200));
        let first = gate.enter().await.expect("the first build starts");

        let started = std::time::Instant::now();
        let refused = gate
            .enter()
            .await
            .expect_err("a second build waits, then is refused");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            refused.headers()[header::RETRY_AFTER],
            REPORT_RETRY_AFTER_S.to_string()
        );
        assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "a report is being built; try again"})
        );

        // A request that waits while the build ends gets its turn.
        let waiting = tokio::spawn({
            let permits = gate.permits.clone();
            async move {
                let gate = ReportGate {
                    permits,
                    wait: Duration::from_secs(5),
                };
                gate.enter().await.is_ok()
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
        assert!(waiting.await.unwrap(), "the next build starts");
        assert!(gate.enter().await.is_ok(), "and the gate is free after it");
    }
}
