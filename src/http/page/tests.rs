use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::render::{render, OpenIncidents, Page, Writes};
use crate::incidents::board::Board;
use crate::incidents::Incident;
use crate::inventory::Inventory;
use crate::live::{Live, StateChange};
use crate::model::{Severity, State, TargetKind, Transition};
use crate::tally::Tallies;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + s).unwrap()
}

fn transition(
    kind: TargetKind,
    target: &str,
    s: i64,
    state: State,
    cause: Option<&str>,
) -> Transition {
    Transition {
        target: target.into(),
        kind,
        at: at(s),
        state,
        cause: cause.map(String::from),
    }
}

fn incident(
    id: u64,
    kind: TargetKind,
    target: &str,
    root: Option<u64>,
    severity: Severity,
) -> Incident {
    Incident {
        id,
        kind,
        target: target.into(),
        severity,
        cause: Some("icmp:timeout".into()),
        opened_at: at(0),
        acknowledged_at: None,
        acknowledged_by: None,
        restored_at: None,
        root_id: root,
        flaps: 0,
        planned: false,
        alarm: None,
        respond_within: Duration::from_secs(1800),
        restore_within: Duration::from_secs(4 * 3600),
    }
}

/// Renders `config_text` with `latest` as the ledger and `incidents` on
/// the board, at `now`.
fn page_of(
    config_text: &str,
    latest: &[Transition],
    incidents: Vec<Incident>,
    recent: &[StateChange],
    writes: Writes,
    now: Timestamp,
) -> String {
    let config = crate::config::load_str(std::path::Path::new("t.toml"), config_text).unwrap();
    let inventory = Arc::new(Inventory::new(&config));
    let live = Live::new(inventory.clone(), latest, &Tallies::new());
    let statuses = live.statuses(inventory.targets());
    let board = Board::rebuild(incidents, [], now);
    let incidents = OpenIncidents::take(&board, now);
    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    render(&Page {
        now,
        tz: &tz,
        tz_name: "Asia/Shanghai",
        inventory: &inventory,
        statuses: &statuses,
        incidents: &incidents,
        recent,
        writes,
    })
}

const LAB: &str = r#"
[[device]]
name = "core-r1"
role = "router"
address = "127.0.10.1"
site = "core-room"
icmp = {}

[[device]]
name = "acc-001"
role = "access_egress"
address = "127.0.20.1"
site = "finance-bureau"
parent = "core-r1"
icmp = {}

[[device]]
name = "acc-002"
role = "access_egress"
address = "127.0.20.2"
site = "<b>tax & \"office\"</b>"
parent = "core-r1"
icmp = {}

[[line]]
id = "L-001"
unit = "Finance Bureau"
carrier = "Carrier A"
device = "acc-001"

[[line]]
id = "L-002"
unit = "Tax <Office>"
carrier = "Carrier B"
bandwidth = "50M"
device = "acc-002"
"#;

fn lab_page(writes: Writes, now: Timestamp, acked: bool) -> String {
    use TargetKind::{Device, Line};
    let latest = [
        transition(Device, "core-r1", 0, State::Up, None),
        transition(Device, "acc-001", 0, State::Up, None),
        transition(Device, "acc-002", 0, State::Down, Some("icmp:timeout")),
        transition(Line, "L-001", 0, State::Degraded, Some("icmp:loss")),
        transition(Line, "L-002", 0, State::Down, Some("device:acc-002")),
    ];
    let mut root = incident(7, Device, "acc-002", None, Severity::Minor);
    if acked {
        root.acknowledged_at = Some(at(60));
        root.acknowledged_by = Some("duty-<li>".into());
    }
    let mut line = incident(8, Line, "L-002", Some(7), Severity::Major);
    line.cause = Some("device:acc-002".into());
    let recent = [StateChange {
        transition: latest[2].clone(),
        previous: Some(State::Up),
    }];
    page_of(LAB, &latest, vec![line, root], &recent, writes, now)
}

fn pos(page: &str, needle: &str) -> usize {
    page.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the page:\n{page}"))
}

#[test]
fn problems_come_first_then_incidents_roots_before_what_they_explain() {
    let page = lab_page(Writes::Open, at(12 * 60 + 5), false);
    assert!(page.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(
        page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing loaded from elsewhere"
    );
    let problems = pos(&page, "id=\"problems\"");
    let acc2 = pos(&page, "<td><b>acc-002</b>");
    let l2 = pos(&page, "<td><b>L-002</b>");
    let l1 = pos(&page, "<td><b>L-001</b>");
    let incidents = pos(&page, "id=\"incidents\"");
    let first_up = pos(&page, "<tr class=\"up\">");
    assert!(problems < acc2 && acc2 < l2 && l2 < l1 && l1 < incidents && incidents < first_up);
    assert!(page[problems..incidents].contains("<tr class=\"degraded\">"));

    let root = pos(&page, "id=\"incident-7\"");
    let child = pos(&page, "id=\"incident-8\"");
    assert!(
        incidents < root && root < child,
        "the root first, what it explains under it"
    );
    assert!(page[root..child].contains("root, 1 open behind it"));
    assert!(page[root..child].contains("12 min"));
    assert!(page[child..].contains("behind #7 acc-002"));
    assert!(page[root..].contains("<form class=\"ack\" method=\"post\" action=\"/ack/7\">"));
    assert!(
        !page.contains("name=\"token\""),
        "no token configured on loopback"
    );
    assert!(!page.contains("overdue</td>"), "not yet past 30 min");
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "no blind refresh over a form"
    );
    assert!(page.contains("location.reload()"));
}

#[test]
fn names_and_texts_are_escaped() {
    let page = lab_page(Writes::Token, at(3600), true);
    assert!(!page.contains("<b>tax"), "{page}");
    assert!(page.contains("&lt;b&gt;tax &amp; &quot;office&quot;&lt;/b&gt;"));
    assert!(page.contains("Tax &lt;Office&gt; · Carrier B · 50M"));
    assert!(
        page.contains("acknowledged by duty-&lt;li&gt; at <span class=\"nw\">2026-05-29"),
        "{page}"
    );
    assert!(!page.contains("action=\"/ack/7\""), "acknowledged: no form");
    // The linked incident is still unacknowledged and past its deadline.
    let child = pos(&page, "id=\"incident-8\"");
    assert!(page[child..].contains("not acknowledged — overdue"));
    assert!(page[child..].contains("name=\"token\""));
}

#[test]
fn without_a_way_to_write_there_is_no_form_and_the_page_refreshes_itself() {
    let page = lab_page(Writes::Disabled, at(60), false);
    assert!(!page.contains("<form"));
    assert!(page.contains("Acknowledging here is disabled"));
    assert!(page.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"));
}

#[test]
fn a_quiet_network_says_so() {
    let page = page_of(LAB, &[], Vec::new(), &[], Writes::Open, at(0));
    assert!(page.contains("No device or line is down or degraded."));
    assert!(page.contains("No open incident."));
    assert!(page.contains("No state change recorded since the daemon started."));
    assert!(page.contains("5 targets: <b class=\"down\">0 down</b>, 0 degraded, 0 up, 5 unknown"));
}

/// `cargo test --lib http::page::tests::render_10000_targets -- --ignored --nocapture`:
/// the time to snapshot and write the page for 10,000 targets (printed,
/// not asserted: it depends on the build and the machine).
#[test]
#[ignore = "a measurement; run by hand"]
fn render_10000_targets() {
    use TargetKind::{Device, Line};
    const UNITS: usize = 4999;
    let mut config = String::with_capacity(UNITS * 300);
    let mut latest = Vec::with_capacity(2 * UNITS + 2);
    let mut incidents = Vec::new();
    for core in ["core-r1", "core-r2"] {
        let _ = write!(
            config,
            "[[device]]\nname = \"{core}\"\nrole = \"router\"\naddress = \"10.0.0.1\"\n\
             site = \"core-room\"\nicmp = {{}}\n\n"
        );
        latest.push(transition(Device, core, 0, State::Up, None));
    }
    for u in 0..UNITS {
        let _ = write!(
            config,
            "[[device]]\nname = \"acc-{u:04}\"\nrole = \"access_egress\"\naddress = \"10.1.{}.{}\"\n\
             site = \"unit-{u:04}\"\nparent = \"core-r1\"\nicmp = {{}}\n\n\
             [[line]]\nid = \"L-{u:04}\"\nunit = \"Unit {u}\"\ncarrier = \"Carrier A\"\n\
             bandwidth = \"100M\"\ndevice = \"acc-{u:04}\"\n\n",
            u / 250,
            u % 250 + 1
        );
        // One unit in twenty cut off (its device and line down, one root
        // incident each with its line behind it), one in fifty degraded.
        let (device, line) = (format!("acc-{u:04}"), format!("L-{u:04}"));
        if u % 20 == 0 {
            latest.push(transition(
                Device,
                &device,
                10,
                State::Down,
                Some("icmp:timeout"),
            ));
            let cause = format!("device:{device}");
            latest.push(transition(Line, &line, 10, State::Down, Some(&cause)));
            let id = 2 * u as u64 + 1;
            incidents.push(incident(id, Device, &device, None, Severity::Minor));
            incidents.push(incident(id + 1, Line, &line, Some(id), Severity::Major));
        } else {
            latest.push(transition(Device, &device, 0, State::Up, None));
            let state = if u % 50 == 1 {
                State::Degraded
            } else {
                State::Up
            };
            latest.push(transition(Line, &line, 0, state, None));
        }
    }
    let config = crate::config::load_str(std::path::Path::new("t.toml"), &config).unwrap();
    let inventory = Arc::new(Inventory::new(&config));
    assert_eq!(inventory.targets().count(), 10_000);
    let live = Live::new(inventory.clone(), &latest, &Tallies::new());
    let tallies = Tallies::new();
    for t in latest.iter().rev().take(30) {
        let mut t = t.clone();
        t.at = at(100);
        t.state = if t.state == State::Up {
            State::Down
        } else {
            State::Up
        };
        live.apply(&[t], &tallies);
    }
    let now = at(3600);
    let board = Board::rebuild(incidents, [], now);
    let tz = TimeZone::get("Asia/Shanghai").unwrap();
    let mut best = Duration::MAX;
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let statuses = live.statuses(inventory.targets());
        let open = OpenIncidents::take(&board, now);
        let recent = live.recent_changes(super::render::RECENT_ROWS);
        let page = render(&Page {
            now,
            tz: &tz,
            tz_name: "Asia/Shanghai",
            inventory: &inventory,
            statuses: &statuses,
            incidents: &open,
            recent: &recent,
            writes: Writes::Token,
        });
        best = best.min(start.elapsed());
        size = page.len();
    }
    println!(
        "status page, 10,000 targets ({} open incidents): best of 5 {:.1} ms, {} KiB ({})",
        board.open().count(),
        best.as_secs_f64() * 1000.0,
        size / 1024,
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        }
    );
}
