//! The status page at `/`, for the ops room screen.

use axum::extract::State as AxumState;
use axum::response::Html;
use jiff::Timestamp;

use super::AppState;
use crate::model::{format_time, State, TargetKind};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page for the ops room screen: every target, its state and since when.
pub(super) async fn status_page(AxumState(shared): AxumState<AppState>) -> Html<String> {
    let now = Timestamp::now();
    let config = shared.config();
    let inventory = shared.live.inventory();
    let tz = &config.daemon.timezone;
    let mut rows = String::new();
    let mut row = |kind: TargetKind, name: &str, detail: &str| {
        let (state, since) = shared.live.displayed_state(kind, name, now);
        let since = since.map(|t| format_time(t, tz)).unwrap_or_default();
        rows.push_str(&format!(
            "<tr class=\"{s}\"><td>{k}</td><td>{n}</td><td>{d}</td><td>{s}</td><td>{since}</td></tr>\n",
            s = state.as_str(),
            k = kind.as_str(),
            n = escape(name),
            d = escape(detail),
        ));
    };
    for d in &inventory.devices {
        row(TargetKind::Device, &d.name, d.role.as_str());
    }
    for l in &inventory.lines {
        row(TargetKind::Line, &l.id, &l.unit);
    }
    let states = shared.live.states();
    let down = states.iter().filter(|(_, _, s)| *s == State::Down).count();
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>netkpi</title><style>
body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}}
td,th{{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}}
.up td:nth-child(4){{color:#1a7f37}} .degraded td:nth-child(4){{color:#9a6700}}
.down td:nth-child(4){{color:#cf222e;font-weight:bold}} .unknown td:nth-child(4){{color:#6e7781}}
.maintenance td:nth-child(4){{color:#0969da}}
</style></head><body><h1>netkpi</h1><p>{n} targets, {down} down. Times in {tzname}. <a href="/metrics">metrics</a> · <a href="/api/v1/availability">availability (year to date)</a></p>
<table><tr><th>kind</th><th>name</th><th></th><th>state</th><th>since</th></tr>
{rows}</table></body></html>"#,
        n = inventory.devices.len() + inventory.lines.len(),
        tzname = escape(&config.daemon.timezone_name),
    ))
}
