//! The HTTP surface: `/metrics`, `/healthz`, `/api/v1/...` and a small
//! status page. Readers only: nothing here changes the ledger.
//!
//! * [`Shared`] (`state.rs`): what the handlers read; the daemon fills it.
//! * [`api`]: the JSON API (`/healthz`, `/api/v1/...`).
//! * `page`: the status page at `/`.

pub mod api;
mod page;
mod state;

pub use state::Shared;

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

type AppState = Arc<Shared>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page::status_page))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/devices", get(api::devices))
        .route("/api/v1/lines", get(api::lines))
        .route("/api/v1/availability", get(api::availability_handler))
        .route("/api/v1/traps", get(api::traps))
        .fallback(api::not_found)
        .with_state(shared)
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
}

async fn metrics(AxumState(shared): AxumState<AppState>, headers: HeaderMap) -> Response {
    // OpenMetrics only when the scraper asks for it; a plain scrape (curl,
    // promtool) gets the Prometheus text format 0.0.4.
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if wants_openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            shared.metrics.encode_openmetrics(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            shared.metrics.encode_prometheus(),
        )
            .into_response()
    }
}
