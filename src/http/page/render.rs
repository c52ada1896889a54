//! The status page as HTML: problems first (targets down or degraded, then
//! the open incidents with their acknowledge forms), every target by site,
//! and the latest state changes. Pure: everything it shows is handed in.
//!
//! One `String` sized up front, rows written into it with `write!`; the
//! only per-row work beyond that is a sort of indices.

use std::fmt::Write;

use jiff::tz::TimeZone;
use jiff::Timestamp;

pub use super::open::OpenIncidents;
use super::text::{Age, Esc, Local};
use super::{open, sites};
use crate::inventory::Inventory;
use crate::live::{displayed, StateChange, StatusSnapshot};
use crate::model::{Severity, State, TargetKind};

/// Seconds between two refreshes of the page.
pub const REFRESH_S: u32 = 10;
/// At most this many rows in the problems table (the rest are counted).
const MAX_PROBLEM_ROWS: usize = 500;
/// Recent state changes listed.
pub const RECENT_ROWS: usize = 20;

/// Whether the page may offer to acknowledge, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writes {
    /// No token configured, listening on loopback only.
    Open,
    /// The form needs the token.
    Token,
    /// No token configured and listening beyond loopback: no form.
    Disabled,
}

/// Everything the page shows.
pub struct Page<'a> {
    pub now: Timestamp,
    pub tz: &'a TimeZone,
    pub tz_name: &'a str,
    pub inventory: &'a Inventory,
    /// Committed status and pending change of each target, in the order of
    /// [`Inventory::targets`] (devices, then lines).
    pub statuses: &'a [StatusSnapshot],
    pub incidents: &'a OpenIncidents,
    /// Newest first.
    pub recent: &'a [StateChange],
    pub writes: Writes,
}

/// One target as shown.
pub(super) struct Row<'a> {
    pub kind: TargetKind,
    /// Into `inventory.devices` or `inventory.lines`.
    pub index: usize,
    pub name: &'a str,
    pub state: State,
    pub since: Option<Timestamp>,
    pub cause: Option<&'a str>,
    /// An observed change not yet on disk, when it differs.
    pub pending: Option<(State, Timestamp)>,
}

impl Row<'_> {
    /// Down or degraded, as recorded or as observed.
    fn is_problem(&self) -> bool {
        let bad = |s: State| matches!(s, State::Down | State::Degraded);
        self.state != State::Maintenance
            && (bad(self.state) || self.pending.is_some_and(|(s, _)| bad(s)))
    }

    /// The worse of the recorded and the observed state.
    fn worst(&self) -> State {
        match self.pending {
            Some((State::Down, _)) => State::Down,
            Some((State::Degraded, _)) if self.state != State::Down => State::Degraded,
            _ => self.state,
        }
    }
}

const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;--alt:#f6f8fa;\
--up:#1a7f37;--deg:#9a6700;--down:#cf222e;--maint:#0969da;--badbg:#ffebe9;--warnbg:#fff8c5}\
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#9198a1;--line:#3d444d;\
--alt:#151b23;--up:#3fb950;--deg:#d29922;--down:#f85149;--maint:#4493f8;--badbg:#3c1618;--warnbg:#3a2d0c}}\
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;padding:.8em 1.2em;max-width:110em;background:var(--bg);color:var(--fg)}\
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:2px solid var(--line)}\
a{color:var(--maint)}.mute,small{color:var(--mute)}.wrap{overflow-x:auto}\
table{border-collapse:collapse;width:100%}th,td{padding:.2em .6em;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}\
thead th{font-size:.85em;color:var(--mute);font-weight:600}tr.site th{background:var(--alt);padding-top:.5em}\
.st{font-weight:600;white-space:nowrap}.up .st{color:var(--up)}.degraded .st{color:var(--deg)}.down .st{color:var(--down)}\
.unknown .st{color:var(--mute)}.maintenance .st{color:var(--maint)}\
#problems tr.down td{background:var(--badbg)}#problems tr.degraded td{background:var(--warnbg)}\
.ok{color:var(--up);font-weight:600}.critical .sev{color:var(--down);font-weight:700}.major .sev{color:var(--deg);font-weight:600}\
tr.child td:nth-child(2){padding-left:1.6em}.overdue{background:var(--badbg);color:var(--down);font-weight:700}\
.tag{font-size:.8em;border:1px solid var(--maint);color:var(--maint);border-radius:3px;padding:0 .3em;margin-left:.3em}\
.nw{white-space:nowrap}.pending{font-size:.85em;color:var(--deg);font-weight:400}\
form.ack{display:flex;flex-wrap:wrap;gap:.3em}form.ack input{font:inherit;padding:.1em .3em;min-width:6em;flex:1}\
form.ack button{font:inherit;cursor:pointer}\
@media (max-width:40em){body{padding:.5em}th,td{padding:.2em .3em}}";

/// Keeps the page fresh without losing what someone is typing: reloads
/// every [`REFRESH_S`] seconds unless a form field has focus or holds text
/// typed since the page loaded.
const SCRIPT: &str = "(function(){var typed=false,note=document.getElementById('refresh');\
document.addEventListener('input',function(e){if(e.target.form)typed=true;});\
function busy(){var a=document.activeElement;if(a&&a.form)return true;if(!typed)return false;\
var f=document.querySelectorAll('form.ack input');for(var i=0;i<f.length;i++){if(f[i].value)return true;}return false;}\
setInterval(function(){if(busy()){if(note)note.textContent='auto refresh paused while you type';}\
else{location.reload();}},SECONDS*1000);})();";

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let rows = rows(page);
    let incidents = &page.incidents.open;
    let mut out = String::with_capacity(8192 + rows.len() * 220 + incidents.len() * 700);
    let any_form =
        page.writes != Writes::Disabled && incidents.iter().any(|i| i.acknowledged_at.is_none());

    let mut counts = [0usize; 5];
    for r in &rows {
        counts[State::ALL.iter().position(|&s| s == r.state).unwrap_or(3)] += 1;
    }
    let [up, degraded, down, unknown, maintenance] = counts;
    let unacked = incidents
        .iter()
        .filter(|i| i.acknowledged_at.is_none())
        .count();

    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}netkpi status</title>",
        title = if down > 0 {
            format!("{down} down · ")
        } else {
            String::new()
        }
    );
    if !any_form {
        // Without script the page still refreshes, unless there is a form
        // someone might be filling in.
        let _ = write!(
            out,
            "<noscript><meta http-equiv=\"refresh\" content=\"{REFRESH_S}\"></noscript>"
        );
    }
    let _ = write!(
        out,
        "<style>{STYLE}</style></head><body>\n<header><h1>netkpi status (网络运行状态)</h1>\
         <p>{total} targets: <b class=\"down\">{down} down</b>, {degraded} degraded, {up} up, \
         {unknown} unknown, {maintenance} in maintenance · {n} open incidents, {unacked} not \
         acknowledged, <b{overdue_class}>{overdue} overdue</b></p><p class=\"mute\">As of {asof} ({tzname}) · \
         <span id=\"refresh\">refreshes every {REFRESH_S} s</span> · \
         <a href=\"/api/v1/incidents?state=open\">incidents (JSON)</a> · \
         <a href=\"/api/v1/availability\">availability, year to date</a> · \
         <a href=\"/metrics\">metrics</a></p></header>\n",
        total = rows.len(),
        n = incidents.len(),
        overdue = page.incidents.overdue.len(),
        overdue_class = if page.incidents.overdue.is_empty() {
            ""
        } else {
            " class=\"overdue\""
        },
        asof = Local(page.now, page.tz),
        tzname = Esc(page.tz_name),
    );

    problems(&mut out, page, &rows);
    open::open_incidents(&mut out, page);
    sites::by_site(&mut out, page, &rows);
    recent(&mut out, page);

    let _ = write!(
        out,
        "<footer><p class=\"mute\">Times in {tz}. Acknowledging records who answered an \
         incident; it changes no state.</p></footer>\n<script>{script}</script></body></html>\n",
        tz = Esc(page.tz_name),
        script = SCRIPT.replace("SECONDS", &REFRESH_S.to_string()),
    );
    out
}

fn rows<'a>(page: &Page<'a>) -> Vec<Row<'a>> {
    let inv = page.inventory;
    inv.targets()
        .enumerate()
        .map(|(i, (kind, name))| {
            let (status, pending) = page
                .statuses
                .get(i)
                .map(|(s, p)| (s.as_ref(), *p))
                .unwrap_or((None, None));
            let (state, since) = displayed(inv, kind, name, status, page.now);
            Row {
                kind,
                index: match kind {
                    TargetKind::Device => i,
                    TargetKind::Line => i - inv.devices.len(),
                },
                name,
                state,
                since,
                cause: status.and_then(|s| s.cause.as_deref()),
                pending: pending.filter(|&(s, _)| s != state),
            }
        })
        .collect()
}

/// Where a target is: a device's site and role, a line's unit and carrier.
fn place(out: &mut String, inv: &Inventory, r: &Row<'_>) {
    match r.kind {
        TargetKind::Device => {
            let d = &inv.devices[r.index];
            let _ = write!(out, "{} · {}", Esc(&d.site), d.role.as_str());
        }
        TargetKind::Line => line_detail(out, inv, r.index),
    }
}

pub(super) fn line_detail(out: &mut String, inv: &Inventory, index: usize) {
    let l = &inv.lines[index];
    let _ = write!(out, "{}", Esc(&l.unit));
    if !l.carrier.is_empty() {
        let _ = write!(out, " · {}", Esc(&l.carrier));
    }
    if let Some(bw) = &l.bandwidth {
        let _ = write!(out, " · {}", Esc(bw));
    }
}

/// The state cell: the state, and an observed change not yet recorded.
pub(super) fn state_cell(out: &mut String, page: &Page<'_>, r: &Row<'_>) {
    let _ = write!(out, "<td class=\"st\">{}", r.state.as_str());
    if let Some((s, at)) = r.pending {
        let _ = write!(
            out,
            " <span class=\"pending\" title=\"observed, not yet on disk\">({} since {}, not yet \
             recorded)</span>",
            s.as_str(),
            Local(at, page.tz)
        );
    }
    out.push_str("</td>");
}

pub(super) fn since_cell(out: &mut String, page: &Page<'_>, since: Option<Timestamp>) {
    match since {
        Some(t) => {
            let _ = write!(out, "<td>{}</td>", Local(t, page.tz));
        }
        None => out.push_str("<td class=\"mute\">—</td>"),
    }
}

fn problems(out: &mut String, page: &Page<'_>, rows: &[Row<'_>]) {
    let inv = page.inventory;
    let mut bad: Vec<&Row<'_>> = rows.iter().filter(|r| r.is_problem()).collect();
    let rank = |r: &Row<'_>| match r.kind {
        TargetKind::Device => Severity::of_role(inv.devices[r.index].role),
        TargetKind::Line => Severity::Minor,
    };
    bad.sort_by(|a, b| {
        (a.worst() != State::Down, a.kind, rank(a), a.since, a.name).cmp(&(
            b.worst() != State::Down,
            b.kind,
            rank(b),
            b.since,
            b.name,
        ))
    });
    out.push_str("<section id=\"problems\"><h2>Problems (故障)</h2>");
    if bad.is_empty() {
        out.push_str("<p class=\"ok\">No device or line is down or degraded.</p></section>\n");
        return;
    }
    out.push_str(
        "<div class=\"wrap\"><table><thead><tr><th>state</th><th>kind</th><th>name</th>\
         <th>where</th><th>since</th><th>for</th><th>cause</th></tr></thead><tbody>\n",
    );
    for r in bad.iter().take(MAX_PROBLEM_ROWS) {
        let _ = write!(
            out,
            "<tr class=\"{}\">",
            match r.pending {
                Some(_) => r.worst().as_str(),
                None => r.state.as_str(),
            }
        );
        state_cell(out, page, r);
        let _ = write!(
            out,
            "<td>{}</td><td><b>{}</b></td><td>",
            r.kind.as_str(),
            Esc(r.name)
        );
        place(out, inv, r);
        out.push_str("</td>");
        let since = r.pending.map(|(_, at)| at).or(r.since);
        since_cell(out, page, since);
        match since {
            Some(t) => {
                let _ = write!(out, "<td>{}</td>", Age::between(t, page.now));
            }
            None => out.push_str("<td></td>"),
        }
        let _ = writeln!(out, "<td>{}</td></tr>", Esc(r.cause.unwrap_or("")));
    }
    out.push_str("</tbody></table></div>");
    if bad.len() > MAX_PROBLEM_ROWS {
        let _ = write!(
            out,
            "<p>… and {} more down or degraded: see the tables below or \
             <a href=\"/api/v1/devices\">devices</a> and <a href=\"/api/v1/lines\">lines</a>.</p>",
            bad.len() - MAX_PROBLEM_ROWS
        );
    }
    out.push_str("</section>\n");
}
fn recent(out: &mut String, page: &Page<'_>) {
    out.push_str("<section id=\"recent\"><h2>Recent changes (最近状态变化)</h2>");
    if page.recent.is_empty() {
        out.push_str("<p class=\"mute\">No state change recorded since the daemon started.</p>");
    } else {
        out.push_str(
            "<div class=\"wrap\"><table><thead><tr><th>at</th><th>kind</th><th>name</th>\
             <th>from</th><th>to</th><th>cause</th></tr></thead><tbody>\n",
        );
        for c in page.recent.iter().take(RECENT_ROWS) {
            let t = &c.transition;
            let _ = writeln!(
                out,
                "<tr class=\"{to}\"><td>{at}</td><td>{kind}</td><td>{name}</td><td>{from}</td>\
                 <td class=\"st\">{to}</td><td>{cause}</td></tr>",
                at = Local(t.at, page.tz),
                kind = t.kind.as_str(),
                name = Esc(&t.target),
                from = c.previous.map_or("—", State::as_str),
                to = t.state.as_str(),
                cause = Esc(t.cause.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>\n");
}
