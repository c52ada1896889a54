//! The targets: `/api/v1/devices` and `/api/v1/lines`, filtered by the
//! query (`?state=&site=&role=` for devices, `?state=&unit=&carrier=` for
//! lines), and one target with its recent record:
//! `/api/v1/devices/{name}` and `/api/v1/lines/{id}` (the list's row, the
//! last [`RECENT_TRANSITIONS`] transitions from the ledger, newest first,
//! and the target's open incidents).

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as AxumPath, Query, State as AxumState};
use axum::http::StatusCode;
use axum::Json;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

use super::api::{
    bad_request, clip, ApiError, DeviceEntry, DevicesResponse, LineEntry, LinesResponse,
    MAX_ECHO_CHARS,
};
use super::incidents::{incident_entries, store_error, with_reader, IncidentEntry};
use super::AppState;
use crate::config::Role;
use crate::model::{format_time, State, TargetKind, Transition};
use crate::store::IncidentQuery;

/// Transitions a target's page shows: enough for a few weeks of a flapping
/// line, small enough to answer at once.
pub const RECENT_TRANSITIONS: usize = 50;
/// Open incidents a target's page lists (a target rarely has more than one
/// or two: its outage and its alarms).
const MAX_OPEN_INCIDENTS: usize = 100;

/// `GET /api/v1/devices/{name}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceEntry,
    /// Not restored, newest first.
    pub open_incidents: Vec<IncidentEntry>,
    /// The last transitions in the ledger, newest first.
    pub transitions: Vec<TransitionEntry>,
}

/// `GET /api/v1/lines/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineDetail {
    #[serde(flatten)]
    pub line: LineEntry,
    pub open_incidents: Vec<IncidentEntry>,
    pub transitions: Vec<TransitionEntry>,
}

/// One entry of the ledger: the target entered `state` at `at`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionEntry {
    pub at: String,
    /// Why, e.g. `icmp:timeout`, `parent:core-sw1`, `daemon_stopped`.
    pub cause: Option<String>,
    pub state: &'static str,
}

impl TransitionEntry {
    fn new(t: &Transition, tz: &TimeZone) -> TransitionEntry {
        TransitionEntry {
            at: format_time(t.at, tz),
            cause: t.cause.clone(),
            state: t.state.as_str(),
        }
    }
}

/// A list's query: each key known, each value checked.
fn filters(
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
    known: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) = params.map_err(|e| {
        bad_request(format!(
            "cannot read the query string: {}",
            clip(&e.body_text(), 2 * MAX_ECHO_CHARS)
        ))
    })?;
    if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad_request(format!(
            "unknown parameter {:?}; expected one of {}",
            clip(unknown, MAX_ECHO_CHARS),
            known.join(", ")
        )));
    }
    if let Some(state) = params.get("state") {
        if State::parse(state).is_none() {
            let all: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
            return Err(bad_request(format!(
                "state={:?}: expected one of {}",
                clip(state, MAX_ECHO_CHARS),
                all.join(", ")
            )));
        }
    }
    Ok(params)
}

/// Whether `value` passes the filter `key` (absent: everything passes).
fn passes(params: &HashMap<String, String>, key: &str, value: &str) -> bool {
    params.get(key).is_none_or(|want| want == value)
}

/// `GET /api/v1/devices?state=&site=&role=`: every device, or those whose
/// displayed state, site and role are the ones given.
pub(super) async fn devices(
    AxumState(shared): AxumState<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<DevicesResponse>, ApiError> {
    let params = filters(params, &["state", "site", "role"])?;
    if let Some(role) = params.get("role") {
        if Role::parse(role).is_none() {
            let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            return Err(bad_request(format!(
                "role={:?}: expected one of {}",
                clip(role, MAX_ECHO_CHARS),
                all.join(", ")
            )));
        }
    }
    let config = shared.config();
    let tz = &config.daemon.timezone;
    let now = Timestamp::now();
    let devices = shared
        .live
        .inventory()
        .devices
        .iter()
        .filter(|d| passes(&params, "site", &d.site) && passes(&params, "role", d.role.as_str()))
        .map(|d| DeviceEntry::new(d, &shared.live, now, tz))
        .filter(|d| passes(&params, "state", d.state))
        .collect();
    Ok(Json(DevicesResponse { devices }))
}

/// `GET /api/v1/lines?state=&unit=&carrier=`.
pub(super) async fn lines(
    AxumState(shared): AxumState<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<LinesResponse>, ApiError> {
    let params = filters(params, &["state", "unit", "carrier"])?;
    let config = shared.config();
    let tz = &config.daemon.timezone;
    let now = Timestamp::now();
    let lines = shared
        .live
        .inventory()
        .lines
        .iter()
        .filter(|l| passes(&params, "unit", &l.unit) && passes(&params, "carrier", &l.carrier))
        .map(|l| LineEntry::new(l, &shared.live, now, tz))
        .filter(|l| passes(&params, "state", l.state))
        .collect();
    Ok(Json(LinesResponse { lines }))
}

/// The recent record of one target, read from the store.
async fn record(
    shared: &super::Shared,
    kind: TargetKind,
    target: String,
    now: Timestamp,
) -> Result<(Vec<TransitionEntry>, Vec<IncidentEntry>), ApiError> {
    let tz = shared.config().daemon.timezone.clone();
    with_reader(shared, move |reader| {
        let transitions = reader
            .recent_transitions(kind, &target, RECENT_TRANSITIONS)
            .map_err(store_error)?
            .iter()
            .map(|t| TransitionEntry::new(t, &tz))
            .collect();
        let query = IncidentQuery {
            open_only: true,
            target: Some(target),
            from: None,
            to: None,
            before_id: None,
            limit: MAX_OPEN_INCIDENTS,
        };
        let open = reader.incidents(&query).map_err(store_error)?;
        Ok((transitions, incident_entries(reader, &open, now, &tz)?))
    })
    .await
}

fn no_such(what: &str, name: &str, list: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no {what} {:?} in the config; /api/v1/{list} lists them",
            clip(name, MAX_ECHO_CHARS)
        ),
    )
}

/// `GET /api/v1/devices/{name}`.
pub(super) async fn device(
    AxumState(shared): AxumState<AppState>,
    AxumPath(name): AxumPath<String>,
) -> Result<Json<DeviceDetail>, ApiError> {
    let inventory = shared.live.inventory();
    let d = inventory
        .devices
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| no_such("device", &name, "devices"))?;
    let now = Timestamp::now();
    let device = DeviceEntry::new(d, &shared.live, now, &shared.config().daemon.timezone);
    let (transitions, open_incidents) = record(&shared, TargetKind::Device, name, now).await?;
    Ok(Json(DeviceDetail {
        device,
        open_incidents,
        transitions,
    }))
}

/// `GET /api/v1/lines/{id}`.
pub(super) async fn line(
    AxumState(shared): AxumState<AppState>,
    AxumPath(id): AxumPath<String>,
) -> Result<Json<LineDetail>, ApiError> {
    let inventory = shared.live.inventory();
    let l = inventory
        .lines
        .iter()
        .find(|l| l.id == id)
        .ok_or_else(|| no_such("line", &id, "lines"))?;
    let now = Timestamp::now();
    let line = LineEntry::new(l, &shared.live, now, &shared.config().daemon.timezone);
    let (transitions, open_incidents) = record(&shared, TargetKind::Line, id, now).await?;
    Ok(Json(LineDetail {
        line,
        open_incidents,
        transitions,
    }))
}
