//! The open incidents section: roots first, most severe first, each with
//! the incidents it explains under it, and a form to acknowledge each one
//! not yet acknowledged.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use jiff::Timestamp;

use super::render::{Page, Writes};
use super::text::{Age, Esc, Local};
use crate::incidents::board::Board;
use crate::incidents::Incident;

/// At most this many incidents listed, and this many under one root.
const MAX_INCIDENT_ROWS: usize = 1000;
const MAX_CHILD_ROWS: usize = 100;

/// The open incidents, copied off the board so it is not held while the
/// page is written.
#[derive(Debug, Default)]
pub struct OpenIncidents {
    pub open: Vec<Incident>,
    /// Open, unplanned, unacknowledged and past the response deadline.
    pub overdue: HashSet<u64>,
    /// The targets of roots that are no longer open (a linked incident can
    /// outlive its root's outage).
    pub closed_roots: HashMap<u64, String>,
}

impl OpenIncidents {
    pub fn take(board: &Board, now: Timestamp) -> OpenIncidents {
        let open: Vec<Incident> = board.open().cloned().collect();
        let overdue = board.overdue(now).map(|i| i.id).collect();
        let open_ids: HashSet<u64> = open.iter().map(|i| i.id).collect();
        let closed_roots = open
            .iter()
            .filter_map(|i| i.root_id)
            .filter(|r| !open_ids.contains(r))
            .filter_map(|r| Some((r, board.get(r)?.target.clone())))
            .collect();
        OpenIncidents {
            open,
            overdue,
            closed_roots,
        }
    }
}

/// The section, with a form on each incident not yet acknowledged.
pub(super) fn open_incidents(out: &mut String, page: &Page<'_>) {
    let all = &page.incidents.open;
    out.push_str("<section id=\"incidents\"><h2>Open incidents (未恢复事件)</h2>");
    if all.is_empty() {
        out.push_str("<p class=\"ok\">No open incident.</p></section>\n");
        return;
    }
    if page.writes == Writes::Disabled {
        out.push_str(
            "<p class=\"mute\">Acknowledging here is disabled: the daemon listens beyond \
             loopback and no daemon.api_token_file is configured.</p>",
        );
    }
    // A true root (itself linked to nothing) with its open linked incidents
    // under it; everything else stands at the top.
    let by_id: HashMap<u64, &Incident> = all.iter().map(|i| (i.id, i)).collect();
    let is_root = |id: u64| by_id.get(&id).is_some_and(|r| r.root_id.is_none());
    let mut top: Vec<&Incident> = Vec::new();
    let mut children: HashMap<u64, Vec<&Incident>> = HashMap::new();
    for i in all {
        match i.root_id {
            Some(r) if r != i.id && is_root(r) => children.entry(r).or_default().push(i),
            _ => top.push(i),
        }
    }
    let order = |i: &Incident| (i.root_id.is_some(), i.severity, i.opened_at, i.id);
    top.sort_by_key(|i| order(i));
    for list in children.values_mut() {
        list.sort_by_key(|i| (i.severity, i.opened_at, i.id));
    }
    out.push_str(
        "<div class=\"wrap\"><table><thead><tr><th>#</th><th>target</th><th>severity</th>\
         <th>age</th><th>cause</th><th>root</th><th>acknowledged</th><th></th></tr></thead><tbody>\n",
    );
    let mut written = 0;
    for i in &top {
        if written >= MAX_INCIDENT_ROWS {
            break;
        }
        let under = children.get(&i.id).map(Vec::as_slice).unwrap_or(&[]);
        incident_row(out, page, i, under.len(), &by_id);
        written += 1;
        for c in under.iter().take(MAX_CHILD_ROWS) {
            incident_row(out, page, c, 0, &by_id);
            written += 1;
        }
        if under.len() > MAX_CHILD_ROWS {
            let _ = writeln!(
                out,
                "<tr class=\"child\"><td></td><td colspan=\"7\">… and {} more behind #{}: \
                 <a href=\"/api/v1/incidents/{}\">all of them</a></td></tr>",
                under.len() - MAX_CHILD_ROWS,
                i.id,
                i.id
            );
        }
    }
    out.push_str("</tbody></table></div>");
    if written < all.len() {
        let _ = write!(
            out,
            "<p>… and {} more open incidents: <a href=\"/api/v1/incidents?state=open\">all of \
             them</a>.</p>",
            all.len() - written
        );
    }
    out.push_str("</section>\n");
}

fn incident_row(
    out: &mut String,
    page: &Page<'_>,
    i: &Incident,
    affected: usize,
    by_id: &HashMap<u64, &Incident>,
) {
    let child = i.root_id.is_some();
    let _ = write!(
        out,
        "<tr id=\"incident-{id}\" class=\"{sev}{child}\"><td>#{id}</td><td>{arrow}<b>{target}</b> \
         <small>{kind}</small>{alarm}{planned}</td><td class=\"sev\">{sev}</td>\
         <td title=\"opened {opened}\">{age}</td><td>{cause}</td><td>",
        id = i.id,
        sev = i.severity.as_str(),
        child = if child { " child" } else { "" },
        arrow = if child { "↳ " } else { "" },
        target = Esc(&i.target),
        kind = i.kind.as_str(),
        alarm = AlarmTag(i.alarm.as_deref()),
        planned = if i.planned {
            "<span class=\"tag\">planned</span>"
        } else {
            ""
        },
        opened = Local(i.opened_at, page.tz),
        age = Age::between(i.opened_at, page.now),
        cause = Esc(i.cause.as_deref().unwrap_or("")),
    );
    match i.root_id {
        // The incidents behind it still open: the API's `affected_open`
        // (its `affected` counts the restored ones too).
        None if affected > 0 => {
            let _ = write!(out, "root, {affected} open behind it");
        }
        None => out.push_str("root"),
        Some(r) => {
            let target = by_id
                .get(&r)
                .map(|r| r.target.as_str())
                .or_else(|| page.incidents.closed_roots.get(&r).map(String::as_str));
            let _ = write!(out, "behind #{r}");
            if let Some(t) = target {
                let _ = write!(out, " {}", Esc(t));
            }
        }
    }
    out.push_str("</td>");
    match (&i.acknowledged_by, i.acknowledged_at) {
        (Some(by), Some(at)) => {
            let _ = writeln!(
                out,
                "<td>acknowledged by {} at <span class=\"nw\">{}</span></td><td></td></tr>",
                Esc(by),
                Local(at, page.tz)
            );
        }
        _ => {
            if page.incidents.overdue.contains(&i.id) {
                out.push_str("<td class=\"overdue\">not acknowledged — overdue</td><td>");
            } else {
                out.push_str("<td>not acknowledged</td><td>");
            }
            ack_form(out, page.writes, i.id);
            out.push_str("</td></tr>\n");
        }
    }
}

fn ack_form(out: &mut String, writes: Writes, id: u64) {
    if writes == Writes::Disabled {
        return;
    }
    let _ = write!(
        out,
        "<form class=\"ack\" method=\"post\" action=\"/ack/{id}\">\
         <input name=\"by\" required maxlength=\"100\" placeholder=\"your name\" \
         aria-label=\"acknowledged by\" autocomplete=\"name\">\
         <input name=\"note\" maxlength=\"4000\" placeholder=\"note (optional)\" aria-label=\"note\">"
    );
    if writes == Writes::Token {
        out.push_str(
            "<input type=\"password\" name=\"token\" required placeholder=\"token\" \
             aria-label=\"API token\" autocomplete=\"current-password\">",
        );
    }
    out.push_str("<button type=\"submit\">Acknowledge</button></form>");
}

/// The alarm an incident is about, as a tag (nothing for an outage).
struct AlarmTag<'a>(Option<&'a str>);

impl std::fmt::Display for AlarmTag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(name) => write!(f, "<span class=\"tag\">alarm {}</span>", Esc(name)),
            None => Ok(()),
        }
    }
}
