//! `/api/v1/maintenance`: the planned windows in force (the config's and
//! those declared here), and `POST` to declare one: from now (an ad-hoc
//! window) or from a time already past (a reclassification of recorded
//! time, kept with who declared it, when and why; the transitions stay as
//! recorded).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::api::{bad_request, clip, ApiError, MAX_ECHO_CHARS};
use super::incidents::{authorize, check_text, parse_body, submit, MAX_BY_CHARS, MAX_TEXT_CHARS};
use super::AppState;
use crate::model::format_time;
use crate::store::{Request, Store, Window};

/// The most targets one declaration may name.
const MAX_TARGETS: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowBody {
    targets: Vec<String>,
    /// Default: now.
    #[serde(default)]
    start: Option<String>,
    end: String,
    reason: String,
    by: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoveredEntry {
    pub kind: &'static str,
    pub target: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowEntry {
    /// The declaration's id; null for a window of the config file.
    pub id: Option<u64>,
    /// `config` or `api`.
    pub source: &'static str,
    pub targets: Vec<String>,
    pub start: String,
    pub end: String,
    pub reason: String,
    pub by: Option<String>,
    pub created_at: Option<String>,
    /// It starts before it was declared: recorded time read as maintenance.
    pub reclassifies: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowsResponse {
    pub windows: Vec<WindowEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeclaredResponse {
    #[serde(flatten)]
    pub window: WindowEntry,
    /// The targets it covers: each named device, the lines that end on it,
    /// each named line.
    pub covers: Vec<CoveredEntry>,
    /// Incidents it declared planned (they opened inside it).
    pub planned_incidents: Vec<u64>,
}

fn time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    text.parse::<Timestamp>().map_err(|_| {
        bad_request(format!(
            "{field}={:?} is not an RFC 3339 time with an offset (e.g. 2026-06-01T01:00:00+08:00)",
            clip(text, MAX_ECHO_CHARS)
        ))
    })
}

/// `GET /api/v1/maintenance`.
pub(super) async fn list(
    AxumState(shared): AxumState<AppState>,
) -> Result<Json<WindowsResponse>, ApiError> {
    let config = shared.config();
    let tz = config.daemon.timezone.clone();
    let mut windows: Vec<WindowEntry> = config
        .maintenance
        .iter()
        .map(|m| WindowEntry {
            id: None,
            source: "config",
            targets: m.targets.clone(),
            start: format_time(m.start, &tz),
            end: format_time(m.end, &tz),
            reason: m.reason.clone(),
            by: None,
            created_at: None,
            reclassifies: false,
        })
        .collect();
    let data_dir = config.daemon.data_dir.clone();
    let declared = tokio::task::spawn_blocking(move || {
        Store::open_reader(&data_dir).and_then(|r| r.windows())
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the store: {e}"),
        )
    })?;
    windows.extend(declared.iter().map(|w| declared_entry(w, &tz)));
    Ok(Json(WindowsResponse { windows }))
}

fn declared_entry(w: &Window, tz: &jiff::tz::TimeZone) -> WindowEntry {
    WindowEntry {
        id: Some(w.id),
        source: "api",
        targets: w.targets.clone(),
        start: format_time(w.start, tz),
        end: format_time(w.end, tz),
        reason: w.reason.clone(),
        by: Some(w.by.clone()),
        created_at: Some(format_time(w.created, tz)),
        reclassifies: w.reclassifies(),
    }
}

/// `POST /api/v1/maintenance` `{"targets", "start", "end", "reason", "by"}`.
pub(super) async fn declare(
    AxumState(shared): AxumState<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<DeclaredResponse>), ApiError> {
    authorize(&shared, &headers)?;
    let body: WindowBody = parse_body(body)?;
    check_text("by", &body.by, MAX_BY_CHARS)?;
    check_text("reason", &body.reason, MAX_TEXT_CHARS)?;
    if body.targets.is_empty() || body.targets.len() > MAX_TARGETS {
        return Err(bad_request(format!(
            "targets must name between 1 and {MAX_TARGETS} devices or lines"
        )));
    }
    let now = Timestamp::now();
    let start = match &body.start {
        Some(text) => time("start", text)?,
        None => now,
    };
    let end = time("end", &body.end)?;
    if end <= start {
        return Err(bad_request("end must be after start"));
    }
    let inventory = shared.live.inventory();
    let unknown: Vec<&str> = body
        .targets
        .iter()
        .filter(|t| inventory.device(t).is_none() && inventory.line(t).is_none())
        .map(|t| t.as_str())
        .take(10)
        .collect();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|t| clip(t, MAX_ECHO_CHARS)).collect();
        return Err(bad_request(format!(
            "no such device or line: {}",
            names.join(", ")
        )));
    }
    let covers = inventory.window_targets(&body.targets);
    let window = Window {
        id: 0,
        created: now,
        by: body.by.trim().to_string(),
        reason: body.reason,
        start,
        end,
        targets: body.targets,
    };
    let id = submit(
        &shared,
        Request::Maintenance {
            window,
            covers: covers.clone(),
        },
    )
    .await?;
    let config = shared.config();
    let tz = config.daemon.timezone.clone();
    let data_dir = config.daemon.data_dir.clone();
    let (declared, planned) = tokio::task::spawn_blocking(move || {
        let reader = Store::open_reader(&data_dir)?;
        let window = reader.windows()?.into_iter().find(|w| w.id == id);
        Ok::<_, crate::store::StoreError>((window, reader.incidents_planned_by(id)?))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("declared, but cannot read it back: {e}"),
        )
    })?;
    let declared = declared.ok_or_else(|| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("window {id} committed but not found"),
        )
    })?;
    Ok((
        StatusCode::CREATED,
        Json(DeclaredResponse {
            window: declared_entry(&declared, &tz),
            covers: covers
                .into_iter()
                .map(|(kind, target)| CoveredEntry {
                    kind: kind.as_str(),
                    target,
                })
                .collect(),
            planned_incidents: planned,
        }),
    ))
}
