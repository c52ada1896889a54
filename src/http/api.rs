//! The JSON API: `/healthz` and `/api/v1/...`. Errors are JSON too:
//! `{"error": "..."}` with a 4xx/5xx status.
//!
//! Every body is one of the types below, so other outputs (a report) can
//! reuse them. Their fields are declared in alphabetical order because that
//! is the order of the keys in the JSON these endpoints have always served:
//! the output stays the same byte for byte. Times are RFC 3339 strings in the
//! configured time zone ([`format_time`]); absent values are `null`, never
//! left out.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

use super::AppState;
use crate::availability::{self, Period, PeriodArgs, TargetFigures};
use crate::config::{Device, Line};
use crate::inventory::timing;
use crate::live::{Live, TrapRecord};
use crate::model::{format_time, TargetKind};
use crate::probes::Prober;
use crate::store::Store;

/// `GET /healthz` while everything works: `{"status": "ok"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health {
    pub status: &'static str,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `GET /api/v1/devices`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DevicesResponse {
    pub devices: Vec<DeviceEntry>,
}

/// A device, its state as displayed (maintenance inside a window) and its
/// latest probe round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceEntry {
    pub address: String,
    /// Why the ledger has it in its state (`icmp:timeout`, `parent:...`).
    pub cause: Option<String>,
    /// Why the latest ICMP round failed.
    pub last_failure: Option<&'static str>,
    pub last_probe_at: Option<String>,
    pub loss_ratio: Option<f64>,
    pub name: String,
    pub parent: Option<String>,
    /// An observed change not yet on disk (the store is slow or failing):
    /// when it began. It counts nowhere until it is recorded.
    pub pending_since: Option<String>,
    /// That change's state; `null` when everything observed is recorded.
    pub pending_state: Option<&'static str>,
    /// `icmp` and/or `snmp`, in that order.
    pub probers: Vec<&'static str>,
    pub role: &'static str,
    pub rtt_seconds: Option<f64>,
    /// When the displayed state began; `null` while the ledger has nothing.
    pub since: Option<String>,
    pub site: String,
    /// `null` for a device not polled over SNMP.
    pub snmp: Option<SnmpEntry>,
    pub state: &'static str,
}

/// A device's latest SNMP poll.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnmpEntry {
    pub last_failure: Option<&'static str>,
    pub last_poll_at: Option<String>,
    /// How many values its profiles read.
    pub samples: usize,
}

/// `GET /api/v1/lines`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinesResponse {
    pub lines: Vec<LineEntry>,
}

/// A leased line and its state as displayed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineEntry {
    pub bandwidth: Option<String>,
    pub carrier: String,
    pub cause: Option<String>,
    /// The access device it ends on.
    pub device: String,
    pub id: String,
    /// As for devices: an observed change not yet on disk.
    pub pending_since: Option<String>,
    pub pending_state: Option<&'static str>,
    pub since: Option<String>,
    pub state: &'static str,
    pub unit: String,
}

/// `GET /api/v1/traps`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrapsResponse {
    /// Older traps left out to keep the body under [`MAX_TRAPS_BYTES`].
    pub omitted: usize,
    pub traps: Vec<TrapEntry>,
}

/// `GET /api/v1/ledger/head`: the ledger's hash chain head as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LedgerHeadResponse {
    /// When the latest chained record was committed; `null` before any.
    pub at: Option<String>,
    /// SHA-256 chain hash after the latest record, 64 hex digits.
    pub head: String,
    /// Records chained.
    pub records: u64,
}

/// Parameters echoed in an error message are cut to this many characters.
pub const MAX_ECHO_CHARS: usize = 100;
/// A varbind's value (and any OID) in `/api/v1/traps` is cut to this many
/// characters, marked with `…`.
pub const MAX_TRAP_VALUE_CHARS: usize = 256;
/// `/api/v1/traps` lists the newest traps whose JSON fits in this many bytes.
pub const MAX_TRAPS_BYTES: usize = 512 * 1024;

/// `text`, cut to `max` characters and marked with `…` when it was longer.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A received trap or inform.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrapEntry {
    /// The device it was matched to; `null` for an unknown sender.
    pub device: Option<String>,
    pub inform: bool,
    pub kind: &'static str,
    pub received_at: String,
    pub source: String,
    pub trap_oid: String,
    pub varbinds: Vec<VarbindEntry>,
    pub version: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VarbindEntry {
    pub oid: String,
    pub value: String,
}

/// `GET /api/v1/availability`: the period and every target's figures over it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AvailabilityResponse {
    pub from: String,
    pub targets: Vec<AvailabilityEntry>,
    pub to: String,
}

/// One target's [`availability::Figures`] over the period, with its name
/// and kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AvailabilityEntry {
    pub availability: Option<f64>,
    /// A line's bandwidth as configured; `null` for a device.
    pub bandwidth: Option<String>,
    /// A line's carrier; `null` for a device.
    pub carrier: Option<String>,
    pub coverage: Option<f64>,
    pub degraded_s: f64,
    pub down_s: f64,
    /// `device` or `line`.
    pub kind: &'static str,
    pub longest_outage_s: f64,
    pub maintenance_s: f64,
    pub outages: u32,
    /// The device's name or the line's id.
    pub target: String,
    /// The member unit a line connects; `null` for a device.
    pub unit: Option<String>,
    pub unknown_s: f64,
    pub up_s: f64,
}

fn opt_time(ts: Option<Timestamp>, tz: &TimeZone) -> Option<String> {
    ts.map(|t| format_time(t, tz))
}

impl DeviceEntry {
    /// `d` as the live view shows it at `now`.
    pub fn new(d: &Device, live: &Live, now: Timestamp, tz: &TimeZone) -> DeviceEntry {
        let (state, since) = live.displayed_state(TargetKind::Device, &d.name, now);
        let status = live.status(TargetKind::Device, &d.name);
        let probe = live.round(&d.name, Prober::Icmp);
        let snmp = d.snmp.as_ref().map(|_| {
            let status = live.round(&d.name, Prober::Snmp);
            SnmpEntry {
                last_poll_at: opt_time(status.at, tz),
                last_failure: status.failure,
                samples: status.readings.samples.len(),
            }
        });
        let probers = Prober::ALL
            .into_iter()
            .filter(|&p| timing(d, p).is_some())
            .map(Prober::as_str)
            .collect();
        let pending = live.pending(TargetKind::Device, &d.name);
        DeviceEntry {
            pending_state: pending.map(|(state, _)| state.as_str()),
            pending_since: pending.and_then(|(_, at)| opt_time(Some(at), tz)),
            name: d.name.clone(),
            role: d.role.as_str(),
            site: d.site.clone(),
            address: d.address.clone(),
            parent: d.parent.clone(),
            state: state.as_str(),
            since: opt_time(since, tz),
            cause: status.and_then(|s| s.cause),
            rtt_seconds: probe.readings.rtt_seconds,
            loss_ratio: probe.readings.loss_ratio,
            last_probe_at: opt_time(probe.at, tz),
            last_failure: probe.failure,
            probers,
            snmp,
        }
    }
}

impl LineEntry {
    /// `l` as the live view shows it at `now`.
    pub fn new(l: &Line, live: &Live, now: Timestamp, tz: &TimeZone) -> LineEntry {
        let (state, since) = live.displayed_state(TargetKind::Line, &l.id, now);
        let status = live.status(TargetKind::Line, &l.id);
        let pending = live.pending(TargetKind::Line, &l.id);
        LineEntry {
            id: l.id.clone(),
            unit: l.unit.clone(),
            carrier: l.carrier.clone(),
            bandwidth: l.bandwidth.clone(),
            device: l.device.clone(),
            state: state.as_str(),
            since: opt_time(since, tz),
            cause: status.and_then(|s| s.cause),
            pending_state: pending.map(|(state, _)| state.as_str()),
            pending_since: pending.and_then(|(_, at)| opt_time(Some(at), tz)),
        }
    }
}

impl TrapEntry {
    pub fn new(t: TrapRecord, tz: &TimeZone) -> TrapEntry {
        TrapEntry {
            received_at: format_time(t.received_at, tz),
            source: t.source,
            device: t.device,
            version: t.version,
            inform: t.inform,
            kind: t.kind,
            trap_oid: clip(&t.trap_oid, MAX_TRAP_VALUE_CHARS),
            varbinds: t
                .varbinds
                .into_iter()
                .map(|(oid, value)| VarbindEntry {
                    oid: clip(&oid, MAX_TRAP_VALUE_CHARS),
                    value: clip(&value, MAX_TRAP_VALUE_CHARS),
                })
                .collect(),
        }
    }
}

impl AvailabilityEntry {
    /// `t`'s figures, with what the config says of the line (`line`: the
    /// line `t` is, when it is one still configured).
    pub fn new(t: TargetFigures, line: Option<&Line>) -> AvailabilityEntry {
        let f = t.figures;
        AvailabilityEntry {
            unit: line.map(|l| l.unit.clone()),
            carrier: line.map(|l| l.carrier.clone()),
            bandwidth: line.and_then(|l| l.bandwidth.clone()),
            target: t.target,
            kind: t.kind.as_str(),
            up_s: f.up_s,
            degraded_s: f.degraded_s,
            down_s: f.down_s,
            unknown_s: f.unknown_s,
            maintenance_s: f.maintenance_s,
            availability: f.availability,
            coverage: f.coverage,
            outages: f.outages,
            longest_outage_s: f.longest_outage_s,
        }
    }
}

/// An API error: an [`ErrorBody`] with a 4xx/5xx status.
pub(super) struct ApiError(pub(super) StatusCode, pub(super) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// An error response: `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError(status, message.into()).into_response()
}

const ENDPOINTS: &str = "/api/v1/devices, /api/v1/lines, /api/v1/availability, /api/v1/incidents, \
     /api/v1/maintenance, /api/v1/traps, /api/v1/ledger/head, /api/v1/report, /api/v1/openapi.json, \
     /metrics, /healthz";

pub(super) async fn not_found(uri: Uri) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint {:?}; see {ENDPOINTS}",
            clip(uri.path(), MAX_ECHO_CHARS)
        ),
    )
}

/// The write endpoints (acknowledge, notes) take POST; every other one
/// answers GET (and HEAD) only.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let writes = uri.path().ends_with("/ack") || uri.path().ends_with("/notes");
    let both = uri.path() == "/api/v1/maintenance";
    let (allowed, allow) = if writes {
        ("POST", "POST")
    } else if both {
        ("GET and POST", "GET,HEAD,POST")
    } else {
        ("GET", "GET,HEAD")
    };
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} not allowed; this endpoint answers {allowed}",
            clip(method.as_str(), MAX_ECHO_CHARS)
        ),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

pub(super) async fn healthz(AxumState(shared): AxumState<AppState>) -> Response {
    let stats = &shared.store_stats;
    let store_ok = stats.healthy.load(Ordering::Relaxed);
    let now = Timestamp::now();
    let stalled = stats.is_stalled(now);
    let probing = shared.probing.load(Ordering::Relaxed);
    if store_ok && !stalled && probing {
        (StatusCode::OK, Json(Health { status: "ok" })).into_response()
    } else {
        let mut problems = Vec::new();
        if !store_ok {
            problems.push("the store is not accepting writes (see the log); transitions are buffered and retried".to_string());
        }
        if stalled {
            problems.push(format!(
                "the store has not committed for {} s (a frozen or hung disk?); transitions wait in memory and are not recorded yet",
                stats.oldest_uncommitted(now).as_secs()
            ));
        }
        if !probing {
            problems.push("probing has stopped".to_string());
        }
        ApiError(StatusCode::SERVICE_UNAVAILABLE, problems.join("; ")).into_response()
    }
}

/// `GET /api/v1/traps`: the most recent traps received (newest first, up to
/// 500), including those from unknown senders and of unknown kinds; long
/// values are cut ([`MAX_TRAP_VALUE_CHARS`]) and the list stops before the
/// body passes [`MAX_TRAPS_BYTES`] (`omitted` says how many were left out).
pub(super) async fn traps(AxumState(shared): AxumState<AppState>) -> Json<TrapsResponse> {
    let config = shared.config();
    let tz = &config.daemon.timezone;
    Json(bounded_traps(
        shared
            .live
            .recent_traps()
            .into_iter()
            .map(|t| TrapEntry::new(t, tz)),
        MAX_TRAPS_BYTES,
    ))
}

/// The newest entries of `traps` whose JSON fits in `max_bytes`.
fn bounded_traps(
    traps: impl ExactSizeIterator<Item = TrapEntry>,
    max_bytes: usize,
) -> TrapsResponse {
    let total = traps.len();
    // `{"omitted":N,"traps":[...]}` around the entries, with their commas.
    let mut used: usize = 64;
    let mut kept = Vec::new();
    for entry in traps {
        let size = serde_json::to_vec(&entry).map_or(usize::MAX, |v| v.len()) + 1;
        if used.saturating_add(size) > max_bytes {
            break;
        }
        used += size;
        kept.push(entry);
    }
    TrapsResponse {
        omitted: total - kept.len(),
        traps: kept,
    }
}

pub(super) fn parse_time(
    params: &HashMap<String, String>,
    key: &str,
) -> Result<Option<Timestamp>, ApiError> {
    match params.get(key) {
        None => Ok(None),
        Some(text) => text.parse::<Timestamp>().map(Some).map_err(|err| {
            // jiff's message may quote the input again: cut it too.
            bad_request(format!(
                "{key}={:?} is not an RFC 3339 time with an offset (e.g. 2026-01-01T00:00:00+08:00): {}",
                clip(text, MAX_ECHO_CHARS),
                clip(&err.to_string(), 2 * MAX_ECHO_CHARS),
            ))
        }),
    }
}

/// The period of a query string: `year=`, `month=`, or `from=`/`to=`
/// ([`PeriodArgs::resolve`], the same parser as the command line's); any
/// other key than those and `also` is refused.
pub(super) fn period_of(
    params: &HashMap<String, String>,
    also: &[&str],
    tz: &TimeZone,
    now: Timestamp,
) -> Result<Period, ApiError> {
    const KEYS: [&str; 4] = ["year", "month", "from", "to"];
    if let Some(unknown) = params
        .keys()
        .find(|k| !KEYS.contains(&k.as_str()) && !also.contains(&k.as_str()))
    {
        return Err(bad_request(format!(
            "unknown parameter {:?}; expected {}",
            clip(unknown, MAX_ECHO_CHARS),
            KEYS.iter()
                .chain(also)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let get = |k: &str| params.get(k).cloned();
    PeriodArgs {
        year: get("year"),
        month: get("month"),
        from: get("from"),
        to: get("to"),
    }
    .resolve(tz, now)
    .map_err(|e| bad_request(clip(&e, 3 * MAX_ECHO_CHARS)))
}

/// `GET /api/v1/availability?from=&to=` (or `year=`, `month=`): figures per
/// target. Without any, the period is the current year so far (configured
/// time zone); `from` alone ends now.
pub(super) async fn availability_handler(
    AxumState(shared): AxumState<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<AvailabilityResponse>, ApiError> {
    let Query(params) = params.map_err(|e| {
        bad_request(format!(
            "cannot read the query string: {}",
            clip(&e.body_text(), 2 * MAX_ECHO_CHARS)
        ))
    })?;
    let now = Timestamp::now();
    let config = shared.config();
    let inventory = shared.live.inventory();
    let tz = config.daemon.timezone.clone();
    let period = period_of(&params, &[], &tz, now)?;
    let (from, to) = (period.from, period.to);
    let data_dir = config.daemon.data_dir.clone();
    // The lines' unit, carrier and bandwidth for their rows.
    let configured = inventory.clone();
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
    Ok(Json(AvailabilityResponse {
        from: format_time(from, &tz),
        to: format_time(to, &tz),
        targets: figures
            .into_iter()
            .map(|t| {
                let line = match t.kind {
                    TargetKind::Line => configured.lines.iter().find(|l| l.id == t.target),
                    TargetKind::Device => None,
                };
                AvailabilityEntry::new(t, line)
            })
            .collect(),
    }))
}

/// `GET /api/v1/ledger/head`, read from the store (not a cached copy).
pub(super) async fn ledger_head(
    AxumState(shared): AxumState<AppState>,
) -> Result<Json<LedgerHeadResponse>, ApiError> {
    let config = shared.config();
    let data_dir = config.daemon.data_dir.clone();
    let head = tokio::task::spawn_blocking(move || Store::open_reader(&data_dir)?.ledger_head())
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the store: {e}"),
            )
        })?;
    Ok(Json(LedgerHeadResponse {
        at: head.at.map(|t| format_time(t, &config.daemon.timezone)),
        head: head.hex(),
        records: head.records,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The typed body serializes exactly as the `json!` value the endpoint
    /// used to build (with the fields added since): same keys, same order,
    /// same text.
    fn same_text(typed: impl Serialize, before: serde_json::Value) {
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
    }

    fn device(snmp: Option<SnmpEntry>) -> DeviceEntry {
        DeviceEntry {
            address: "127.0.20.1".into(),
            cause: Some("icmp:timeout".into()),
            last_failure: Some("timeout"),
            last_probe_at: Some("2026-03-01T08:00:00.000+08:00".into()),
            loss_ratio: Some(1.0),
            name: "acc-001".into(),
            parent: Some("core-r1".into()),
            pending_since: None,
            pending_state: None,
            probers: vec!["icmp", "snmp"],
            role: "access_egress",
            rtt_seconds: None,
            since: Some("2026-03-01T07:59:40.000+08:00".into()),
            site: "Finance Bureau".into(),
            snmp,
            state: "down",
        }
    }

    #[test]
    fn devices_as_before() {
        let snmp = SnmpEntry {
            last_failure: None,
            last_poll_at: Some("2026-03-01T08:00:01.250+08:00".into()),
            samples: 12,
        };
        let d = device(Some(snmp.clone()));
        let before = |snmp: serde_json::Value| {
            json!({
                "name": d.name,
                "role": d.role,
                "site": d.site,
                "address": d.address,
                "parent": d.parent,
                "pending_state": null,
                "pending_since": null,
                "state": d.state,
                "since": d.since,
                "cause": d.cause,
                "rtt_seconds": d.rtt_seconds,
                "loss_ratio": d.loss_ratio,
                "last_probe_at": d.last_probe_at,
                "last_failure": d.last_failure,
                "probers": d.probers,
                "snmp": snmp,
            })
        };
        let with_snmp = before(json!({
            "last_poll_at": snmp.last_poll_at,
            "last_failure": snmp.last_failure,
            "samples": snmp.samples,
        }));
        same_text(
            DevicesResponse {
                devices: vec![d.clone()],
            },
            json!({ "devices": [with_snmp] }),
        );
        same_text(device(None), before(serde_json::Value::Null));
        // A NaN (never expected) is null either way.
        let mut nan = device(None);
        nan.rtt_seconds = Some(f64::NAN);
        let text = serde_json::to_string(&nan).unwrap();
        assert!(text.contains(r#""rtt_seconds":null"#), "{text}");
    }

    #[test]
    fn lines_as_before() {
        for bandwidth in [Some("50M".to_string()), None] {
            let l = LineEntry {
                bandwidth: bandwidth.clone(),
                carrier: "Carrier B".into(),
                cause: None,
                device: "acc-002".into(),
                id: "L-002".into(),
                pending_since: Some("2026-03-01T08:00:00.000+08:00".into()),
                pending_state: Some("down"),
                since: None,
                state: "unknown",
                unit: "Tax Office".into(),
            };
            let before = json!({
                "id": "L-002",
                "unit": "Tax Office",
                "carrier": "Carrier B",
                "bandwidth": bandwidth,
                "device": "acc-002",
                "state": "unknown",
                "since": null,
                "cause": null,
                "pending_state": "down",
                "pending_since": "2026-03-01T08:00:00.000+08:00",
            });
            same_text(
                LinesResponse { lines: vec![l] },
                json!({ "lines": [before] }),
            );
        }
    }

    #[test]
    fn traps_as_before() {
        let record = TrapRecord {
            received_at: "2026-03-01T00:00:00Z".parse().unwrap(),
            source: "127.0.20.1:162".into(),
            device: None,
            version: "v2c",
            inform: true,
            kind: "link_down",
            trap_oid: "1.3.6.1.6.3.1.1.5.3".into(),
            varbinds: vec![("1.3.6.1.2.1.2.2.1.1.3".into(), "3".into())],
        };
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let before = json!({
            "received_at": "2026-03-01T08:00:00.000+08:00",
            "source": "127.0.20.1:162",
            "device": null,
            "version": "v2c",
            "inform": true,
            "kind": "link_down",
            "trap_oid": "1.3.6.1.6.3.1.1.5.3",
            "varbinds": [{"oid": "1.3.6.1.2.1.2.2.1.1.3", "value": "3"}],
        });
        same_text(
            TrapsResponse {
                omitted: 0,
                traps: vec![TrapEntry::new(record, &tz)],
            },
            json!({ "omitted": 0, "traps": [before] }),
        );
        same_text(
            TrapsResponse {
                omitted: 0,
                traps: vec![],
            },
            json!({ "omitted": 0, "traps": [] }),
        );
    }

    #[test]
    fn clip_cuts_long_text_and_marks_it() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly10!", 10), "exactly10!");
        assert_eq!(clip("eleven char", 10), "eleven cha…");
        // Characters, not bytes: never cuts inside one.
        assert_eq!(clip("ééé", 2), "éé…");
    }

    #[test]
    fn traps_are_cut_and_bounded_in_bytes() {
        let tz = TimeZone::UTC;
        let record = |i: usize| TrapRecord {
            received_at: "2026-03-01T00:00:00Z".parse().unwrap(),
            source: "127.0.20.1:162".into(),
            device: None,
            version: "v2c",
            inform: false,
            kind: "other",
            trap_oid: format!("1.3.6.1.4.1.{i}"),
            varbinds: vec![("1.3.6.1.4.1.9.1".into(), "x".repeat(10_000))],
        };
        let entry = TrapEntry::new(record(0), &tz);
        let value = &entry.varbinds[0].value;
        assert_eq!(value.chars().count(), MAX_TRAP_VALUE_CHARS + 1, "{value}");
        assert!(value.ends_with('…'));
        let one = serde_json::to_vec(&entry).unwrap().len();
        let all = bounded_traps((0..100).map(|i| TrapEntry::new(record(i), &tz)), 10 * one);
        assert!(
            all.traps.len() < 10 && all.traps.len() >= 8,
            "{}",
            all.traps.len()
        );
        assert_eq!(all.omitted + all.traps.len(), 100);
        assert_eq!(
            all.traps[0].trap_oid, "1.3.6.1.4.1.0",
            "the newest are kept"
        );
        assert!(serde_json::to_vec(&all).unwrap().len() <= 10 * one);
    }

    #[test]
    fn availability_as_before() {
        let f = availability::Figures {
            up_s: 3000.5,
            degraded_s: 0.0,
            down_s: 600.0,
            unknown_s: 0.0,
            maintenance_s: 0.25,
            availability: Some(3000.5 / 3600.5),
            coverage: None,
            outages: 2,
            longest_outage_s: 400.0,
        };
        let line = Line {
            id: "L-001".into(),
            unit: "Finance Bureau".into(),
            carrier: "Carrier A".into(),
            bandwidth: Some("100M".into()),
            device: "acc-001".into(),
            interface: None,
            severity: None,
        };
        let entry = AvailabilityEntry::new(
            TargetFigures {
                kind: TargetKind::Line,
                target: "L-001".into(),
                figures: f.clone(),
            },
            Some(&line),
        );
        let device = AvailabilityEntry::new(
            TargetFigures {
                kind: TargetKind::Device,
                target: "acc-001".into(),
                figures: f.clone(),
            },
            None,
        );
        let device_text = serde_json::to_string(&device).unwrap();
        assert!(
            device_text.contains(r#""bandwidth":null,"carrier":null,"#)
                && device_text.contains(r#""unit":null"#),
            "{device_text}"
        );
        let before = json!({
            "unit": "Finance Bureau",
            "carrier": "Carrier A",
            "bandwidth": "100M",
            "target": "L-001",
            "kind": "line",
            "up_s": f.up_s,
            "degraded_s": f.degraded_s,
            "down_s": f.down_s,
            "unknown_s": f.unknown_s,
            "maintenance_s": f.maintenance_s,
            "availability": f.availability,
            "coverage": f.coverage,
            "outages": f.outages,
            "longest_outage_s": f.longest_outage_s,
        });
        same_text(
            AvailabilityResponse {
                from: "2026-01-01T00:00:00.000+08:00".into(),
                to: "2026-03-01T08:00:00.000+08:00".into(),
                targets: vec![entry],
            },
            json!({
                "from": "2026-01-01T00:00:00.000+08:00",
                "to": "2026-03-01T08:00:00.000+08:00",
                "targets": [before],
            }),
        );
    }

    #[test]
    fn health_and_errors_as_before() {
        same_text(Health { status: "ok" }, json!({ "status": "ok" }));
        same_text(
            ErrorBody {
                error: "probing has stopped".into(),
            },
            json!({ "error": "probing has stopped" }),
        );
    }
}
