//! Every target by site: a table section per site, its devices by role
//! (the order of the config's roles), each followed by the lines ending on
//! it.

use std::fmt::Write;

use super::render::{line_detail, since_cell, state_cell, Page, Row};
use super::text::Esc;
use crate::config::Role;
use crate::model::State;

/// The section: sites by name, those with no site last.
pub(super) fn by_site(out: &mut String, page: &Page<'_>, rows: &[Row<'_>]) {
    let inv = page.inventory;
    let nd = inv.devices.len();
    let mut order: Vec<usize> = (0..nd).collect();
    let role_rank = |i: usize| {
        let role = inv.devices[i].role;
        Role::ALL
            .iter()
            .position(|&r| r == role)
            .unwrap_or(usize::MAX)
    };
    order.sort_by(|&a, &b| {
        let (da, db) = (&inv.devices[a], &inv.devices[b]);
        // Devices with no site last.
        (da.site.is_empty(), &da.site, role_rank(a), &da.name).cmp(&(
            db.site.is_empty(),
            &db.site,
            role_rank(b),
            &db.name,
        ))
    });
    out.push_str(
        "<section id=\"targets\"><h2>By site (按站点)</h2><div class=\"wrap\"><table>\
         <thead><tr><th>name</th><th>role / line</th><th>state</th><th>since</th><th>cause</th>\
         </tr></thead>\n",
    );
    let mut on_known_device = vec![false; inv.lines.len()];
    let mut start = 0;
    while start < order.len() {
        let site = &inv.devices[order[start]].site;
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| inv.devices[i].site == *site)
                .count();
        let group = &order[start..end];
        let (mut lines, mut down) = (0, 0);
        for &d in group {
            down += usize::from(rows[d].state == State::Down);
            for &l in inv.lines_on(d) {
                lines += 1;
                down += usize::from(rows[nd + l].state == State::Down);
            }
        }
        let _ = writeln!(
            out,
            "<tbody><tr class=\"site\"><th colspan=\"5\">{site} <small>{n} device{s}, {lines} \
             line{ls}{down}</small></th></tr>",
            site = if site.is_empty() {
                Esc("(no site)")
            } else {
                Esc(site)
            },
            n = group.len(),
            s = plural(group.len()),
            ls = plural(lines),
            down = if down > 0 {
                format!(", {down} down")
            } else {
                String::new()
            },
        );
        for &d in group {
            let r = &rows[d];
            let _ = write!(
                out,
                "<tr class=\"{}\"><td>{}</td><td>{}</td>",
                r.state.as_str(),
                Esc(r.name),
                inv.devices[d].role.as_str()
            );
            target_cells(out, page, r);
            for &l in inv.lines_on(d) {
                on_known_device[l] = true;
                let r = &rows[nd + l];
                let _ = write!(
                    out,
                    "<tr class=\"{} line\"><td>↳ {}</td><td>line · ",
                    r.state.as_str(),
                    Esc(r.name)
                );
                line_detail(out, inv, l);
                out.push_str("</td>");
                target_cells(out, page, r);
            }
        }
        out.push_str("</tbody>\n");
        start = end;
    }
    // Lines whose far-end device is not configured (the config check
    // refuses them, but the page never hides a target).
    let orphans: Vec<usize> = (0..inv.lines.len())
        .filter(|&l| !on_known_device[l])
        .collect();
    if !orphans.is_empty() {
        out.push_str("<tbody><tr class=\"site\"><th colspan=\"5\">(other lines)</th></tr>\n");
        for l in orphans {
            let r = &rows[nd + l];
            let _ = write!(
                out,
                "<tr class=\"{} line\"><td>{}</td><td>line · ",
                r.state.as_str(),
                Esc(r.name)
            );
            line_detail(out, inv, l);
            out.push_str("</td>");
            target_cells(out, page, r);
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table></div></section>\n");
}

/// State, since and cause, closing the row.
fn target_cells(out: &mut String, page: &Page<'_>, r: &Row<'_>) {
    state_cell(out, page, r);
    since_cell(out, page, r.since);
    let _ = writeln!(out, "<td>{}</td></tr>", Esc(r.cause.unwrap_or("")));
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
