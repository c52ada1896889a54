//! The HTTP surface: `/metrics`, `/healthz`, `/api/v1/...` and a small
//! status page. The only writes are an operator's acknowledgements and
//! notes, which go through the store writer like everything else.
//!
//! * [`Shared`] (`state.rs`): what the handlers read; the daemon fills it.
//! * [`api`]: the JSON API (`/healthz`, `/api/v1/...`).
//! * [`targets`]: `/api/v1/devices` and `/api/v1/lines` (filtered lists,
//!   and one target with its recent transitions and open incidents).
//! * [`incidents`]: `/api/v1/incidents` (list, show, acknowledge, notes).
//! * [`maintenance`]: `/api/v1/maintenance` (windows in force; declare one,
//!   now or after the fact).
//! * `page`: the status page at `/`, and `POST /ack/{id}` for its
//!   acknowledge forms.
//! * [`mod@serve`]: the accept loop and its limits (connections, timeouts, body
//!   size), and TLS when `daemon.web_config_file` configures it.
//! * `openapi.json`: the OpenAPI document served at `/api/v1/openapi.json`.
//! * [`auth`]: basic auth for every path but `/healthz`, when the web config
//!   lists users.

pub mod api;
pub mod auth;
pub mod incidents;
pub mod maintenance;
mod page;
mod report;
mod scrape;
pub mod serve;
mod state;
pub mod targets;

pub use state::{ReportGate, Shared};

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;

use crate::metrics::Format;

type AppState = Arc<Shared>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page::status_page))
        .route("/ack/{id}", post(page::ack))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/devices", get(targets::devices))
        .route("/api/v1/devices/{name}", get(targets::device))
        .route("/api/v1/lines", get(targets::lines))
        .route("/api/v1/lines/{id}", get(targets::line))
        .route("/api/v1/availability", get(api::availability_handler))
        .route("/api/v1/traps", get(api::traps))
        .route("/api/v1/ledger/head", get(api::ledger_head))
        .route("/api/v1/report", get(report::report))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::show))
        .route("/api/v1/incidents/{id}/ack", post(incidents::ack))
        .route("/api/v1/incidents/{id}/notes", post(incidents::note))
        .route(
            "/api/v1/maintenance",
            get(maintenance::list).post(maintenance::declare),
        )
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            auth::basic_auth,
        ))
        .layer(middleware::from_fn(limits))
        .layer(DefaultBodyLimit::max(serve::MAX_BODY_BYTES))
        // gzip when the client sends `Accept-Encoding: gzip` (the example
        // city's /metrics shrinks twelvefold, bench/city.sh), with `Vary:
        // Accept-Encoding`; bodies under 32 bytes are sent as they are.
        .layer(CompressionLayer::new())
        .with_state(shared)
}

/// Serves the API on `listener` until `cancel`, under the limits of
/// [`mod@serve`], with at most `max_connections` open at once
/// (`daemon.http_max_connections` as the daemon started with it). Each new
/// connection is served with the TLS of the web config in force then (a
/// reload changes it for new connections), and a failed handshake counts in
/// `netkpi_http_tls_handshake_failures_total`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    max_connections: usize,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let tls = {
        let shared = shared.clone();
        let metrics = shared.metrics.clone();
        serve::Tls {
            config: Box::new(move || shared.config().daemon.web.as_ref()?.tls.clone()),
            failed: Box::new(move |reason| metrics.count_tls_handshake_failure(reason)),
        }
    };
    serve::serve_with_limits(
        listener,
        router(shared),
        max_connections,
        Arc::new(tls),
        cancel,
    )
    .await
}

/// Every request: a declared body over [`serve::MAX_BODY_BYTES`] is refused
/// (413) before any handler runs, and the answer must come within
/// [`serve::REQUEST_TIMEOUT`] (503 otherwise). Both as JSON errors.
async fn limits(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > serve::MAX_BODY_BYTES as u64) {
        return api::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body too large: at most {} bytes",
                serve::MAX_BODY_BYTES
            ),
        );
    }
    match tokio::time::timeout(serve::REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => api::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} s and was abandoned",
                serve::REQUEST_TIMEOUT.as_secs()
            ),
        ),
    }
}

/// The OpenAPI 3.1 document of every endpoint above, written by hand beside
/// this file; `tests/openapi_e2e.rs` checks the daemon's real answers
/// against it and that it lists every route of [`router`].
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn metrics(AxumState(shared): AxumState<AppState>, headers: HeaderMap) -> Response {
    // OpenMetrics only when the scraper asks for it; a plain scrape (curl,
    // promtool) gets the Prometheus text format 0.0.4.
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let format = if wants_openmetrics {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    };
    (
        [(header::CONTENT_TYPE, format.content_type())],
        scrape::stream(shared.metrics.clone(), format),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    /// The document parses, and every schema it refers to is defined.
    #[test]
    fn the_openapi_document_is_json_with_its_references_defined() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut refs = Vec::new();
        fn walk(v: &serde_json::Value, refs: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                        refs.push(r.to_string());
                    }
                    map.values().for_each(|v| walk(v, refs));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        walk(&doc, &mut refs);
        assert!(refs.len() > 20, "{refs:?}");
        for r in refs {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} is not a local schema"));
            assert!(schemas.contains_key(name), "{r} is not defined");
        }
    }
}
