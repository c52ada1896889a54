//! `GET /api/v1/report`: the report of a period as JSON (the same model
//! `netkpi report --format json` writes), or one of its tables as CSV.
//!
//! The period is `year=`, `month=` or `from=`/`to=` (the same parser as the
//! command line and `/api/v1/availability`); none gives the current year so
//! far. `lang=zh|en` (default `en`) picks the language of the drafted text
//! and of the CSV headers. CSV is asked for with `format=csv` or
//! `Accept: text/csv`; `table=` names the table (default `form`: the
//! evaluation form), one of [`table::NAMES`].

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::Timestamp;

use super::api::{bad_request, clip, period_of, ApiError, MAX_ECHO_CHARS};
use super::AppState;
use crate::report::formats::{csv, table};
use crate::report::{Lang, Report, Silent};
use crate::store::Store;

pub(super) async fn report(
    AxumState(shared): AxumState<AppState>,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| {
        bad_request(format!(
            "cannot read the query string: {}",
            clip(&e.body_text(), 2 * MAX_ECHO_CHARS)
        ))
    })?;
    let now = Timestamp::now();
    let config = shared.config();
    let tz = config.daemon.timezone.clone();
    let period = period_of(&params, &["lang", "format", "table"], &tz, now)?;
    period
        .check_started(now, &tz)
        .map_err(|e| bad_request(clip(&e, 3 * MAX_ECHO_CHARS)))?;
    let lang = match params.get("lang") {
        None => Lang::En,
        Some(l) => Lang::parse(l).ok_or_else(|| {
            bad_request(format!(
                "lang={:?}: expected zh or en",
                clip(l, MAX_ECHO_CHARS)
            ))
        })?,
    };
    let wants_csv = match params.get("format").map(String::as_str) {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(bad_request(format!(
                "format={:?}: expected json or csv (the other formats: netkpi report)",
                clip(other, MAX_ECHO_CHARS)
            )))
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    let table_name = params.get("table").map_or("form", String::as_str);
    if !table::NAMES.contains(&table_name) {
        return Err(bad_request(format!(
            "table={:?}: expected one of {}",
            clip(table_name, MAX_ECHO_CHARS),
            table::NAMES.join(", ")
        )));
    }

    // One build at a time (a build holds the period's figures in memory):
    // wait a little for the one before, else 503. The permit goes into the
    // blocking task so that it is held until the build ends, even when this
    // request is abandoned first.
    let permit = match shared.report_builds.enter().await {
        Ok(permit) => permit,
        Err(busy) => return Ok(busy),
    };
    let data_dir = config.daemon.data_dir.clone();
    let build_config = config.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<Report, String> {
        let _permit = permit;
        let reader = Store::open_reader(&data_dir).map_err(|e| e.to_string())?;
        Report::build(&reader, &build_config, &period, now, lang, &mut Silent)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the store: {e}"),
        )
    })?;

    if !wants_csv {
        return Ok(Json(report).into_response());
    }
    let Some(t) = table::table(&report, table_name, lang) else {
        return Err(bad_request("unknown table"));
    };
    let file = format!(
        "attachment; filename=\"netkpi-{}-{}.csv\"",
        report
            .period
            .label
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        t.name
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file),
        ],
        csv::render(&t),
    )
        .into_response())
}
