//! The status page at `/`, for the ops room screen and the duty engineer,
//! and `POST /ack/{id}`, where its acknowledge forms go.
//!
//! * `render`: the page itself, from a snapshot of what it shows; its
//!   sections `open` (the open incidents and their forms) and `sites`
//!   (every target by site).
//! * `text`: escaping, local times and ages.
//!
//! The form takes the same path as `POST /api/v1/incidents/{id}/ack`: the
//! same token rule, the same checks, the same store writer request; it
//! answers 303 back to `/` once the acknowledgement is on disk, or an HTML
//! page saying why not.

mod open;
mod render;
mod sites;
mod text;

#[cfg(test)]
mod tests;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path as AxumPath, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use jiff::Timestamp;
use serde::Deserialize;

use super::api::{clip, ApiError, MAX_ECHO_CHARS};
use super::incidents::{
    authorize_token, check_text, parse_id, submit, MAX_BY_CHARS, MAX_TEXT_CHARS,
};
use super::{AppState, Shared};
use crate::store::Request;
use render::{OpenIncidents, Page, Writes, RECENT_ROWS};
use text::Esc;

/// `GET /`.
pub(super) async fn status_page(AxumState(shared): AxumState<AppState>) -> Response {
    let now = Timestamp::now();
    // Thousands of rows: written off the async threads.
    match tokio::task::spawn_blocking(move || page_html(&shared, now)).await {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No status page",
            &format!("the page could not be written: {e}"),
        ),
    }
}

/// The page as it stands at `now`.
fn page_html(shared: &Shared, now: Timestamp) -> String {
    let config = shared.config();
    let inventory = shared.live.inventory();
    let statuses = shared.live.statuses(inventory.targets());
    let incidents = OpenIncidents::take(&shared.live.incidents(), now);
    let recent = shared.live.recent_changes(RECENT_ROWS);
    render::render(&Page {
        now,
        tz: &config.daemon.timezone,
        tz_name: &config.daemon.timezone_name,
        inventory: &inventory,
        statuses: &statuses,
        incidents: &incidents,
        recent: &recent,
        writes: writes(shared),
    })
}

/// What the forms may do, by the rule [`authorize_token`] applies.
fn writes(shared: &Shared) -> Writes {
    if shared.api_token().is_some() {
        Writes::Token
    } else if shared.config().daemon.listen.ip().is_loopback() {
        Writes::Open
    } else {
        Writes::Disabled
    }
}

/// The acknowledge form's fields (`application/x-www-form-urlencoded`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AckForm {
    #[serde(default)]
    by: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// `POST /ack/{id}` from the page's form: 303 to `/` once recorded.
pub(super) async fn ack(
    AxumState(shared): AxumState<AppState>,
    AxumPath(id): AxumPath<String>,
    headers: HeaderMap,
    form: Result<Form<AckForm>, FormRejection>,
) -> Response {
    match acknowledge(&shared, &id, &headers, form).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(ApiError(status, message)) => error_page(status, "Not acknowledged", &message),
    }
}

async fn acknowledge(
    shared: &Shared,
    id: &str,
    headers: &HeaderMap,
    form: Result<Form<AckForm>, FormRejection>,
) -> Result<(), ApiError> {
    // Without a token anyone on this host may acknowledge, but not a page
    // of another site open in their browser (browsers say where a form
    // comes from; tools that send none are let through).
    let from = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if !matches!(from, "same-origin" | "none") {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "a form sent from another site ({}) is refused: acknowledge from the status page",
                clip(from, MAX_ECHO_CHARS)
            ),
        ));
    }
    let Form(form) = form.map_err(|e| {
        let status = match e.status() {
            s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, clip(&e.body_text(), 2 * MAX_ECHO_CHARS))
    })?;
    let token = form.token.as_deref().filter(|t| !t.is_empty());
    authorize_token(shared, token).map_err(|r| r.error("the token field"))?;
    let id = parse_id(id)?;
    check_text("by", &form.by, MAX_BY_CHARS)?;
    // An empty note field is no note.
    let note = form.note.filter(|n| !n.trim().is_empty());
    if let Some(note) = &note {
        check_text("note", note, MAX_TEXT_CHARS)?;
    }
    let by = form.by.trim().to_string();
    submit(shared, Request::Acknowledge { id, by, note }).await?;
    Ok(())
}

/// Why a request was refused, as a page with a way back.
fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{code} · netkpi</title><style>body{{font:16px/1.5 system-ui,sans-serif;\
         margin:2em auto;max-width:40em;padding:0 1em}}.why{{color:#cf222e}}</style></head>\
         <body><h1>{heading} ({code} {reason})</h1><p class=\"why\">{message}</p>\
         <p><a href=\"/\">Back to the status page</a></p></body></html>\n",
        code = status.as_u16(),
        reason = status.canonical_reason().unwrap_or(""),
        heading = Esc(heading),
        message = Esc(message),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}
