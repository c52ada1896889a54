//! `/api/v1/incidents`: list and show incidents from the store, acknowledge
//! them and add notes through the store writer (answered once on disk).
//!
//! Writes need `Authorization: Bearer <token>` (the content of
//! `daemon.api_token_file`) whenever a token is configured, and always when
//! the daemon listens beyond loopback. With basic auth on, `Authorization`
//! carries the user, and the token goes in `X-Netkpi-Token` instead.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path as AxumPath, Query, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::api::{bad_request, clip, parse_time, ApiError, MAX_ECHO_CHARS};
use super::{AppState, Shared};
use crate::incidents::{AckError, Incident};
use crate::model::format_time;
use crate::store::{Affected, IncidentEvent, IncidentQuery, Request, RequestError, Store};

/// Incidents per page unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// The longest `by` (a person's name or login) and note accepted.
pub(super) const MAX_BY_CHARS: usize = 100;
pub(super) const MAX_TEXT_CHARS: usize = 4000;
/// How long a write waits for its commit before answering 503.
const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One incident as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentEntry {
    pub id: u64,
    pub target: String,
    pub kind: &'static str,
    /// The `[[alarm]]` it is about (null: the target went down).
    pub alarm: Option<String>,
    pub severity: &'static str,
    /// `open` or `restored`.
    pub state: &'static str,
    pub cause: Option<String>,
    pub opened_at: String,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub restored_at: Option<String>,
    /// Time to respond: acknowledged_at − opened_at.
    pub response_s: Option<f64>,
    /// Time to restore: restored_at − opened_at.
    pub restore_s: Option<f64>,
    /// The incident at the root of this one (null: it is a root).
    pub root_id: Option<u64>,
    /// How many incidents have this one as their root, restored ones
    /// included: the reach of the outage.
    pub affected: u64,
    /// How many of those are still open (the status page's count).
    pub affected_open: u64,
    pub planned: bool,
    pub flaps: u32,
    pub respond_within_s: f64,
    pub restore_within_s: f64,
    /// Both deadlines met (null while undecided, and for planned incidents).
    pub sla_met: Option<bool>,
    pub notes: Vec<NoteEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NoteEntry {
    pub at: String,
    pub by: Option<String>,
    pub text: String,
}

/// `GET /api/v1/incidents`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentsResponse {
    pub incidents: Vec<IncidentEntry>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/incidents/{id}`: the incident, what it explains, its record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentEntry,
    pub affected_targets: Vec<AffectedEntry>,
    pub events: Vec<EventEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AffectedEntry {
    pub incident: u64,
    pub target: String,
    pub kind: &'static str,
    pub state: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventEntry {
    pub at: String,
    pub event: String,
    pub by: Option<String>,
    pub text: Option<String>,
    pub root_id: Option<u64>,
    pub cause: Option<String>,
}

fn seconds(d: Option<jiff::SignedDuration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

impl IncidentEntry {
    pub fn new(
        i: &Incident,
        affected: Affected,
        events: &[IncidentEvent],
        now: Timestamp,
        tz: &TimeZone,
    ) -> IncidentEntry {
        let time = |t: Option<Timestamp>| t.map(|t| format_time(t, tz));
        IncidentEntry {
            id: i.id,
            target: i.target.clone(),
            kind: i.kind.as_str(),
            alarm: i.alarm.clone(),
            severity: i.severity.as_str(),
            state: if i.restored_at.is_some() {
                "restored"
            } else {
                "open"
            },
            cause: i.cause.clone(),
            opened_at: format_time(i.opened_at, tz),
            acknowledged_at: time(i.acknowledged_at),
            acknowledged_by: i.acknowledged_by.clone(),
            restored_at: time(i.restored_at),
            response_s: seconds(i.response()),
            restore_s: seconds(i.restore()),
            root_id: i.root_id,
            affected: affected.linked,
            affected_open: affected.open,
            planned: i.planned,
            flaps: i.flaps,
            respond_within_s: i.respond_within.as_secs_f64(),
            restore_within_s: i.restore_within.as_secs_f64(),
            sla_met: i.sla_met(now),
            notes: events
                .iter()
                .filter(|e| e.event == "note")
                .map(|e| NoteEntry {
                    at: format_time(e.at, tz),
                    by: e.by.clone(),
                    text: e.text.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }
}

pub(super) fn store_error(e: impl std::fmt::Display) -> ApiError {
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot read the store: {e}"),
    )
}

/// Runs `f` on a reader of the store, off the async threads.
pub(super) async fn with_reader<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let data_dir = shared.config().daemon.data_dir.clone();
    tokio::task::spawn_blocking(move || {
        let reader = Store::open_reader(&data_dir).map_err(store_error)?;
        f(&reader)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The API's view of `incidents`, each with its notes and how many it
/// explains.
pub(super) fn incident_entries(
    reader: &Store,
    incidents: &[Incident],
    now: Timestamp,
    tz: &TimeZone,
) -> Result<Vec<IncidentEntry>, ApiError> {
    let ids: Vec<u64> = incidents.iter().map(|i| i.id).collect();
    let affected = reader.affected(&ids).map_err(store_error)?;
    incidents
        .iter()
        .map(|i| {
            let events = reader.incident_events(i.id).map_err(store_error)?;
            let n = affected.get(&i.id).copied().unwrap_or_default();
            Ok(IncidentEntry::new(i, n, &events, now, tz))
        })
        .collect()
}

fn query_params(
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) = params.map_err(|e| {
        bad_request(format!(
            "cannot read the query string: {}",
            clip(&e.body_text(), 2 * MAX_ECHO_CHARS)
        ))
    })?;
    Ok(params)
}

/// `GET /api/v1/incidents?state=open|all&target=&from=&to=&limit=&cursor=`:
/// newest first. `from`/`to` select incidents open at some time in
/// `[from, to)`.
pub(super) async fn list(
    AxumState(shared): AxumState<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<IncidentsResponse>, ApiError> {
    let params = query_params(params)?;
    const KNOWN: [&str; 6] = ["state", "target", "from", "to", "limit", "cursor"];
    if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(format!(
            "unknown parameter {:?}; expected one of {}",
            clip(unknown, MAX_ECHO_CHARS),
            KNOWN.join(", ")
        )));
    }
    let open_only = match params.get("state").map(String::as_str) {
        None | Some("all") => false,
        Some("open") => true,
        Some(other) => {
            return Err(bad_request(format!(
                "state={:?}: expected open or all",
                clip(other, MAX_ECHO_CHARS)
            )))
        }
    };
    let number = |key: &str| -> Result<Option<u64>, ApiError> {
        params
            .get(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    bad_request(format!(
                        "{key}={:?} is not a whole number",
                        clip(v, MAX_ECHO_CHARS)
                    ))
                })
            })
            .transpose()
    };
    let limit = number("limit")?.unwrap_or(DEFAULT_LIMIT as u64) as usize;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_request(format!(
            "limit={limit}: must be between 1 and {MAX_LIMIT}"
        )));
    }
    let query = IncidentQuery {
        open_only,
        target: params.get("target").cloned(),
        from: parse_time(&params, "from")?,
        to: parse_time(&params, "to")?,
        before_id: number("cursor")?,
        limit,
    };
    let tz = shared.config().daemon.timezone.clone();
    let now = Timestamp::now();
    with_reader(&shared, move |reader| {
        let page = reader.incidents(&query).map_err(store_error)?;
        let next_cursor = (page.len() == limit)
            .then(|| page.last().map(|i| i.id.to_string()))
            .flatten();
        Ok(Json(IncidentsResponse {
            incidents: incident_entries(reader, &page, now, &tz)?,
            next_cursor,
        }))
    })
    .await
}

pub(super) fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| {
        bad_request(format!(
            "{:?} is not an incident id (a whole number)",
            clip(raw, MAX_ECHO_CHARS)
        ))
    })
}

fn not_found(id: u64) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no incident {id}"))
}

async fn detail(shared: &Shared, id: u64) -> Result<IncidentDetail, ApiError> {
    let tz = shared.config().daemon.timezone.clone();
    let now = Timestamp::now();
    with_reader(shared, move |reader| {
        let incident = reader
            .incident(id)
            .map_err(store_error)?
            .ok_or_else(|| not_found(id))?;
        let entry = incident_entries(reader, std::slice::from_ref(&incident), now, &tz)?.remove(0);
        let affected_targets = reader
            .incidents_behind(id)
            .map_err(store_error)?
            .into_iter()
            .map(|i| AffectedEntry {
                incident: i.id,
                kind: i.kind.as_str(),
                state: if i.restored_at.is_some() {
                    "restored"
                } else {
                    "open"
                },
                target: i.target,
            })
            .collect();
        let events = reader
            .incident_events(id)
            .map_err(store_error)?
            .into_iter()
            .map(|e| EventEntry {
                at: format_time(e.at, &tz),
                event: e.event,
                by: e.by,
                text: e.text,
                root_id: e.root_id,
                cause: e.cause,
            })
            .collect();
        Ok(IncidentDetail {
            incident: entry,
            affected_targets,
            events,
        })
    })
    .await
}

/// `GET /api/v1/incidents/{id}`.
pub(super) async fn show(
    AxumState(shared): AxumState<AppState>,
    AxumPath(id): AxumPath<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(detail(&shared, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    by: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    by: String,
    text: String,
}

/// Constant-time equality, so the time a wrong token takes says nothing
/// about how much of it was right.
pub(super) fn same_token(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, &b) in expected.iter().enumerate() {
        diff |= usize::from(b ^ given.get(i).copied().unwrap_or(!b));
    }
    diff == 0
}

/// Why a write was refused before anything else was looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum TokenRefusal {
    /// No token is configured and the daemon listens beyond loopback.
    WritesDisabled(std::net::SocketAddr),
    /// A token is configured and none was given.
    Missing,
    Wrong,
}

impl TokenRefusal {
    /// As an error answer; `how` says how to give the token where it was
    /// missing (a header for the API, a form field for the status page).
    pub(super) fn error(&self, how: &str) -> ApiError {
        match self {
            TokenRefusal::WritesDisabled(listen) => ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "writes are disabled: the daemon listens on {listen}, beyond loopback, and \
                     no daemon.api_token_file is configured"
                ),
            ),
            TokenRefusal::Missing => ApiError(
                StatusCode::UNAUTHORIZED,
                format!("this endpoint needs {how} (the content of daemon.api_token_file)"),
            ),
            TokenRefusal::Wrong => ApiError(StatusCode::UNAUTHORIZED, "wrong token".into()),
        }
    }
}

/// Whether a write may proceed: with the configured token (compared in
/// constant time), or without one when none is configured and the daemon
/// listens on loopback only. The one rule for every write, the JSON API's
/// and the status page's.
pub(super) fn authorize_token(shared: &Shared, given: Option<&str>) -> Result<(), TokenRefusal> {
    let Some(token) = shared.api_token() else {
        let listen = shared.config().daemon.listen;
        if listen.ip().is_loopback() {
            return Ok(());
        }
        return Err(TokenRefusal::WritesDisabled(listen));
    };
    match given.map(str::trim) {
        Some(given) if same_token(given.as_bytes(), token.expose().as_bytes()) => Ok(()),
        Some(_) => Err(TokenRefusal::Wrong),
        None => Err(TokenRefusal::Missing),
    }
}

/// The header that carries the token when `Authorization` carries basic
/// auth (`daemon.web_config_file`'s users): a request can have only one
/// `Authorization`.
pub const TOKEN_HEADER: &str = "x-netkpi-token";

/// [`authorize_token`] with the token from `Authorization: Bearer <token>`,
/// else from `X-Netkpi-Token: <token>`.
pub(super) fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()));
    authorize_token(shared, given).map_err(|r| {
        r.error(
            "`Authorization: Bearer <token>` (or `X-Netkpi-Token: <token>` when basic auth is on)",
        )
    })
}

pub(super) fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        let status = e.status();
        ApiError(status, clip(&e.body_text(), 2 * MAX_ECHO_CHARS))
    })?;
    serde_json::from_slice(&body).map_err(|e| {
        bad_request(format!(
            "the body is not the JSON expected: {}",
            clip(&e.to_string(), 2 * MAX_ECHO_CHARS)
        ))
    })
}

pub(super) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(bad_request(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(bad_request(format!(
            "{field} is too long: at most {max} characters"
        )));
    }
    let newline_ok = field != "by";
    if value
        .chars()
        .any(|c| c.is_control() && !(newline_ok && (c == '\n' || c == '\t')))
    {
        return Err(bad_request(format!("{field} contains control characters")));
    }
    Ok(())
}

/// Sends a request to the writer and waits for its commit.
pub(super) async fn submit(shared: &Shared, request: Request) -> Result<u64, ApiError> {
    let reply = shared.writer.request(request);
    match tokio::time::timeout(COMMIT_WAIT, reply).await {
        Ok(Ok(Ok(id))) => Ok(id),
        Ok(Ok(Err(e))) => Err(match e {
            RequestError::NotFound(id) => not_found(id),
            RequestError::Refused(AckError::NotFound(id)) => not_found(id),
            RequestError::Refused(refused) => ApiError(StatusCode::CONFLICT, refused.to_string()),
            RequestError::StoreFailing(_) => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }),
        Ok(Err(_)) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store writer has stopped; nothing was recorded".into(),
        )),
        Err(_) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not on disk after {} s (the store is stalled); it is queued and will be \
                 recorded when the store recovers",
                COMMIT_WAIT.as_secs()
            ),
        )),
    }
}

/// `POST /api/v1/incidents/{id}/ack` `{"by": "...", "note": "..."}`.
pub(super) async fn ack(
    AxumState(shared): AxumState<AppState>,
    AxumPath(id): AxumPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IncidentDetail>, ApiError> {
    authorize(&shared, &headers)?;
    let id = parse_id(&id)?;
    let AckBody { by, note } = parse_body(body)?;
    check_text("by", &by, MAX_BY_CHARS)?;
    if let Some(note) = &note {
        check_text("note", note, MAX_TEXT_CHARS)?;
    }
    let by = by.trim().to_string();
    submit(&shared, Request::Acknowledge { id, by, note }).await?;
    Ok(Json(detail(&shared, id).await?))
}

/// `POST /api/v1/incidents/{id}/notes` `{"by": "...", "text": "..."}`.
pub(super) async fn note(
    AxumState(shared): AxumState<AppState>,
    AxumPath(id): AxumPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<IncidentDetail>), ApiError> {
    authorize(&shared, &headers)?;
    let id = parse_id(&id)?;
    let NoteBody { by, text } = parse_body(body)?;
    check_text("by", &by, MAX_BY_CHARS)?;
    check_text("text", &text, MAX_TEXT_CHARS)?;
    let by = by.trim().to_string();
    submit(&shared, Request::Note { id, by, text }).await?;
    Ok((StatusCode::CREATED, Json(detail(&shared, id).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"s3cret", b"s3cret"));
        assert!(!same_token(b"s3cre", b"s3cret"));
        assert!(!same_token(b"s3cretx", b"s3cret"));
        assert!(!same_token(b"", b"s3cret"));
        assert!(!same_token(b"S3cret", b"s3cret"));
    }

    #[test]
    fn names_and_notes_are_checked() {
        assert!(check_text("by", "duty", MAX_BY_CHARS).is_ok());
        assert!(check_text("by", "  ", MAX_BY_CHARS).is_err());
        assert!(check_text("by", "a\nb", MAX_BY_CHARS).is_err());
        assert!(check_text("text", "line 1\nline 2", MAX_TEXT_CHARS).is_ok());
        assert!(check_text("text", &"x".repeat(4001), MAX_TEXT_CHARS).is_err());
        assert!(check_text("text", "bell\u{7}", MAX_TEXT_CHARS).is_err());
    }
}
