//! The JSON API: `/healthz` and `/api/v1/...`. Errors are JSON too:
//! `{"error": "..."}` with a 4xx/5xx status.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Value};

use super::{AppState, Shared};
use crate::availability;
use crate::model::{format_time, TargetKind};
use crate::store::Store;

/// An API error: JSON `{"error": "..."}` with a 4xx/5xx status.
pub(super) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

pub(super) async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such endpoint; see /api/v1/devices, /api/v1/lines, /api/v1/availability, /metrics, /healthz".into())
}

pub(super) async fn healthz(AxumState(shared): AxumState<AppState>) -> Response {
    let store_ok = shared.store_stats.healthy.load(Ordering::Relaxed);
    let probing = shared.probing.load(Ordering::Relaxed);
    if store_ok && probing {
        (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
    } else {
        let mut problems = Vec::new();
        if !store_ok {
            problems.push("the store is not accepting writes (see the log); transitions are buffered and retried");
        }
        if !probing {
            problems.push("probing has stopped");
        }
        ApiError(StatusCode::SERVICE_UNAVAILABLE, problems.join("; ")).into_response()
    }
}

fn opt_time(ts: Option<Timestamp>, tz: &TimeZone) -> Value {
    ts.map_or(Value::Null, |t| Value::String(format_time(t, tz)))
}

fn device_json(shared: &Shared, now: Timestamp) -> Vec<Value> {
    let config = shared.config();
    let tz = &config.daemon.timezone;
    shared
        .live
        .inventory()
        .devices
        .iter()
        .map(|d| {
            let (state, since) = shared
                .live
                .displayed_state(TargetKind::Device, &d.name, now);
            let status = shared.live.status(TargetKind::Device, &d.name);
            let probe = shared.live.probe(&d.name);
            let snmp = d.snmp.as_ref().map(|_| {
                let status = shared.live.snmp(&d.name);
                json!({
                    "last_poll_at": opt_time(status.at, tz),
                    "last_failure": status.failure,
                    "samples": status.samples.len(),
                })
            });
            let mut probers = Vec::new();
            if d.icmp.is_some() {
                probers.push("icmp");
            }
            if d.snmp.is_some() {
                probers.push("snmp");
            }
            json!({
                "name": d.name,
                "role": d.role.as_str(),
                "site": d.site,
                "address": d.address,
                "parent": d.parent,
                "state": state.as_str(),
                "since": opt_time(since, tz),
                "cause": status.and_then(|s| s.cause),
                "rtt_seconds": probe.rtt_seconds,
                "loss_ratio": probe.loss_ratio,
                "last_probe_at": opt_time(probe.at, tz),
                "last_failure": probe.failure,
                "probers": probers,
                "snmp": snmp,
            })
        })
        .collect()
}

pub(super) async fn devices(AxumState(shared): AxumState<AppState>) -> Json<Value> {
    Json(json!({ "devices": device_json(&shared, Timestamp::now()) }))
}

fn line_json(shared: &Shared, now: Timestamp) -> Vec<Value> {
    let config = shared.config();
    let tz = &config.daemon.timezone;
    shared
        .live
        .inventory()
        .lines
        .iter()
        .map(|l| {
            let (state, since) = shared.live.displayed_state(TargetKind::Line, &l.id, now);
            let status = shared.live.status(TargetKind::Line, &l.id);
            json!({
                "id": l.id,
                "unit": l.unit,
                "carrier": l.carrier,
                "bandwidth": l.bandwidth,
                "device": l.device,
                "state": state.as_str(),
                "since": opt_time(since, tz),
                "cause": status.and_then(|s| s.cause),
            })
        })
        .collect()
}

pub(super) async fn lines(AxumState(shared): AxumState<AppState>) -> Json<Value> {
    Json(json!({ "lines": line_json(&shared, Timestamp::now()) }))
}

/// `GET /api/v1/traps`: the most recent traps received (newest first, up to
/// 500), including those from unknown senders and of unknown kinds.
pub(super) async fn traps(AxumState(shared): AxumState<AppState>) -> Json<Value> {
    let config = shared.config();
    let tz = &config.daemon.timezone;
    let traps: Vec<Value> = shared
        .live
        .recent_traps()
        .into_iter()
        .map(|t| {
            json!({
                "received_at": format_time(t.received_at, tz),
                "source": t.source,
                "device": t.device,
                "version": t.version,
                "inform": t.inform,
                "kind": t.kind,
                "trap_oid": t.trap_oid,
                "varbinds": t.varbinds.iter().map(|(oid, value)| json!({"oid": oid, "value": value})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "traps": traps }))
}

fn parse_time(params: &HashMap<String, String>, key: &str) -> Result<Option<Timestamp>, ApiError> {
    match params.get(key) {
        None => Ok(None),
        Some(text) => text.parse::<Timestamp>().map(Some).map_err(|err| {
            bad_request(format!(
                "{key}={text:?} is not an RFC 3339 time with an offset (e.g. 2026-01-01T00:00:00+08:00): {err}"
            ))
        }),
    }
}

/// `GET /api/v1/availability?from=&to=`: figures per target. Without `from`
/// the period starts at the beginning of the current year (configured time
/// zone); without `to` it ends now.
pub(super) async fn availability_handler(
    AxumState(shared): AxumState<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if let Some(unknown) = params.keys().find(|k| *k != "from" && *k != "to") {
        return Err(bad_request(format!(
            "unknown parameter {unknown:?}; expected from and to"
        )));
    }
    let now = Timestamp::now();
    let config = shared.config();
    let inventory = shared.live.inventory();
    let tz = config.daemon.timezone.clone();
    let from = parse_time(&params, "from")?.unwrap_or_else(|| availability::year_start(now, &tz));
    let to = parse_time(&params, "to")?.unwrap_or(now);
    if to <= from {
        return Err(bad_request(format!(
            "the period is empty: to ({}) must be after from ({})",
            format_time(to, &tz),
            format_time(from, &tz)
        )));
    }
    let data_dir = config.daemon.data_dir.clone();
    let figures = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let reader = Store::open_reader(&data_dir).map_err(|e| e.to_string())?;
        availability::availability(&reader, &inventory, from, to, now).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the store: {e}"),
        )
    })?;
    let targets: Vec<Value> = figures
        .into_iter()
        .map(|t| {
            let f = t.figures;
            json!({
                "target": t.target,
                "kind": t.kind.as_str(),
                "up_s": f.up_s,
                "degraded_s": f.degraded_s,
                "down_s": f.down_s,
                "unknown_s": f.unknown_s,
                "maintenance_s": f.maintenance_s,
                "availability": f.availability,
                "coverage": f.coverage,
                "outages": f.outages,
                "longest_outage_s": f.longest_outage_s,
            })
        })
        .collect();
    Ok(Json(json!({
        "from": format_time(from, &tz),
        "to": format_time(to, &tz),
        "targets": targets,
    })))
}
