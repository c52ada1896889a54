//! The ledger where two things meet, end to end: the real binary in a
//! private network namespace, outages made with nftables, a Prometheus-like
//! scraper reading `/metrics` every 0.2 s through outages, a reload and a
//! crash, a stop in the middle of an outage not yet confirmed, and a device
//! watched by ICMP and SNMP losing everything at once.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::ledger::{ledger_rows, Row};
use common::snmpd::Snmpd;
use common::{
    all_up, counters, figures, lab_config, listen, q, secs, state_of, Daemon, NetNs, INTERVAL_S,
    TIMEOUT_S,
};
use jiff::Timestamp;

/// How long before a drop the first failed round may be stamped. A round is
/// stamped at its scheduled time, and its echoes leave within a 10 ms slot
/// of it, later on a loaded machine: a round scheduled just before the drop
/// whose echoes leave after it is the first failed round.
const SEND_LATENESS: Duration = Duration::from_millis(100);

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("netkpi.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// What a scraper saw: the last scrape's counters, every decrease between
/// two successive scrapes, and how many scrapes it made.
struct Scrapes {
    last: BTreeMap<String, f64>,
    decreases: Vec<String>,
    count: u32,
}

/// Runs `body` while a scraper reads `/metrics` every 0.2 s (as a fast
/// Prometheus would) and records any counter that went down.
fn scraping<R>(ns: &NetNs, body: impl FnOnce() -> R) -> (R, Scrapes) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let scraper = scope.spawn(|| {
            let mut seen = Scrapes {
                last: BTreeMap::new(),
                decreases: Vec::new(),
                count: 0,
            };
            while !stop.load(Ordering::Relaxed) {
                if let Ok((200, text)) = ns.http_get(listen(), "/metrics") {
                    let now = counters(&text);
                    for (series, &value) in &now {
                        if let Some(&before) = seen.last.get(series) {
                            if value < before {
                                seen.decreases
                                    .push(format!("{series}: {before} -> {value}"));
                            }
                        }
                    }
                    seen.last = now;
                    seen.count += 1;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            seen
        });
        let result = body();
        stop.store(true, Ordering::Relaxed);
        (result, scraper.join().expect("scraper thread"))
    })
}

#[test]
fn counters_never_decrease_through_outages_a_reload_and_a_crash() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &lab_config("data"));
    let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("run1.log"));

    let ((), run1) = scraping(&ns, || {
        // Two confirmed outages and one too short to confirm.
        for (target, held) in [
            ("127.0.20.1", 3.5),
            ("127.0.20.2", 1.2),
            ("127.0.10.1", 3.0),
        ] {
            ns.take_down(target);
            std::thread::sleep(Duration::from_secs_f64(held));
            ns.bring_up(target);
            std::thread::sleep(Duration::from_secs(3));
        }
        // A reload that adds a maintenance window over the recent past of
        // a line and a device: figures are reclassified, counters must not
        // go back.
        let start = Timestamp::now() - jiff::SignedDuration::from_secs(20);
        let end = Timestamp::now() + jiff::SignedDuration::from_secs(5);
        std::fs::write(
            &config,
            format!(
                "{}\n[[maintenance]]\ntargets = [\"L-001\", \"acc-002\"]\nstart = \"{start}\"\nend = \"{end}\"\nreason = \"test\"\n",
                lab_config("data")
            ),
        )
        .expect("rewrite config");
        daemon.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_secs(2));
        // An outage in progress at the crash.
        ns.take_down("127.0.20.1");
        std::thread::sleep(Duration::from_secs(3));
    });
    daemon.kill9();
    assert!(
        run1.count > 50,
        "the scraper read /metrics only {} times",
        run1.count
    );
    assert!(
        run1.decreases.is_empty(),
        "counters decreased within one process:\n{}",
        run1.decreases.join("\n")
    );
    let before_crash = run1.last;
    ns.bring_up("127.0.20.1");

    std::thread::sleep(Duration::from_secs(2));
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run2.log"));
    let ((), run2) = scraping(&ns, || std::thread::sleep(Duration::from_secs(4)));
    assert!(run2.decreases.is_empty(), "{}", run2.decreases.join("\n"));
    let after = run2.last;
    let state_series: Vec<(&String, &f64)> = before_crash
        .iter()
        .filter(|(s, _)| s.starts_with("netkpi_state_seconds_total{"))
        .collect();
    assert!(state_series.len() >= 5 * 4, "{state_series:?}");
    for (series, before) in state_series {
        let now = after
            .get(series)
            .unwrap_or_else(|| panic!("{series} is gone after the restart"));
        assert!(
            now >= before,
            "{series}: {before} exported before the crash, {now} after the restart"
        );
    }
    let up = |m: &BTreeMap<String, f64>, target: &str| {
        m.iter()
            .find(|(s, _)| {
                s.starts_with("netkpi_state_seconds_total{")
                    && s.contains(&format!("target=\"{target}\""))
                    && s.contains("state=\"down\"")
            })
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    };
    assert!(
        up(&after, "acc-001") > 2.0,
        "acc-001's outages are counted: {after:?}"
    );
    drop(daemon);
}

#[test]
fn a_stop_or_a_crash_in_an_unconfirmed_outage_leaves_it_unknown_never_up() {
    // Confirmation takes 5 rounds (5 s): the stop and the crash come 2.5 s
    // into an outage, before it is confirmed.
    let text = lab_config("data").replace(
        "down_after = 2, up_after = 2",
        "down_after = 5, up_after = 2",
    );
    assert!(text.contains("down_after = 5"));
    for crash in [false, true] {
        let ns = NetNs::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(dir.path(), &text);
        let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("run1.log"));
        // Long enough for a heartbeat (every 5 s) to be written during the
        // pending run in the crash case: it must not vouch for acc-001.
        std::thread::sleep(Duration::from_millis(1500));
        let dropped = Timestamp::now();
        ns.take_down("127.0.20.1");
        std::thread::sleep(Duration::from_millis(2500));
        let stopped = Timestamp::now();
        if crash {
            daemon.kill9();
        } else {
            assert!(daemon.stop().success());
        }
        let finished = Timestamp::now();
        let data = dir.path().join("data");
        if crash {
            // The next start closes the gap.
            ns.bring_up("127.0.20.1");
            let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run2.log"));
            std::thread::sleep(Duration::from_millis(500));
            assert!(daemon.stop().success());
        }
        let rows = ledger_rows(&data, "acc-001");
        let what = if crash { "kill -9" } else { "SIGTERM" };
        // After the last up row, the next row is unknown, stamped at the
        // first failed round (no later than one round after the drop).
        let last_up = rows
            .iter()
            .rposition(|r| r.state == "up" && r.at < stopped)
            .expect("acc-001 was up");
        let next = &rows[last_up + 1];
        let round = Duration::from_secs_f64(INTERVAL_S + TIMEOUT_S);
        assert_eq!(next.state, "unknown", "{what}: {rows:?}");
        assert!(
            next.at >= dropped - SEND_LATENESS && next.at <= dropped + round,
            "{what}: unknown from {}, the drop was at {dropped}: {rows:?}",
            next.at
        );
        let cause = if crash {
            "daemon_not_running"
        } else {
            "unresolved_at_stop"
        };
        assert_eq!(next.cause.as_deref(), Some(cause), "{what}: {rows:?}");
        // The line follows its device.
        let line = ledger_rows(&data, "L-001");
        let unknown = line
            .iter()
            .find(|r| r.state == "unknown" && r.at >= dropped - SEND_LATENESS && r.at < stopped)
            .unwrap_or_else(|| panic!("{what}: L-001 {line:?}"));
        assert!(unknown.at <= dropped + round, "{what}: {line:?}");
        // A target with nothing pending is unknown from the stop (SIGTERM)
        // or its last settled round (crash), not earlier than a round
        // before the stop.
        let core = ledger_rows(&data, "core-r1");
        let gap = core
            .iter()
            .find(|r| r.state == "unknown" && r.at > dropped)
            .unwrap_or_else(|| panic!("{what}: core-r1 {core:?}"));
        let cause = if crash {
            "daemon_not_running"
        } else {
            "daemon_stopped"
        };
        assert_eq!(gap.cause.as_deref(), Some(cause), "{what}: {core:?}");
        let slack = if crash {
            5.0 + INTERVAL_S + TIMEOUT_S
        } else {
            0.5
        };
        assert!(
            gap.at <= finished && stopped.duration_since(gap.at).as_secs_f64() <= slack,
            "{what}: core-r1 unknown from {} but stopped at {stopped}: {core:?}",
            gap.at
        );
    }
}

#[test]
fn a_total_outage_of_a_device_polled_by_icmp_and_snmp_is_down_from_the_first_failed_round() {
    let ns = NetNs::new();
    let _agent = Snmpd::start(&ns, &["127.0.1.1"], 161);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[daemon]
listen = "{listen}"
data_dir = "data"

[[device]]
name = "core-sw1"
role = "core_switch"
address = "127.0.1.1"
icmp = {{ interval = "1s", timeout = "300ms", count = 3, down_after = 3, up_after = 2 }}
snmp = {{ interval = "8s", timeout = "500ms", retries = 0, profiles = ["system"] }}
"#,
            listen = listen()
        ),
    );
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "core-sw1 up",
        Duration::from_secs(15),
        |doc| state_of(doc, "devices", "name", "core-sw1") == "up",
    );
    // Let SNMP answer, then drop everything right after, well before its
    // next poll (8 s later): its success is then fresh but from before the
    // outage.
    let polled = daemon.wait_until("an SNMP poll", Duration::from_secs(12), || {
        let doc = daemon.get_json("/api/v1/devices");
        let d = doc["devices"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == "core-sw1"))
            .cloned()
            .unwrap_or_default();
        match (
            d["snmp"]["last_poll_at"].as_str(),
            d["snmp"]["last_failure"].is_null(),
        ) {
            (Some(at), true) => Ok(at.parse::<Timestamp>().expect("an RFC 3339 time")),
            _ => Err(d),
        }
    });
    let since_poll = Timestamp::now().duration_since(polled).as_secs_f64();
    assert!(since_poll < 4.0, "dropping {since_poll} s after the poll");
    let dropped = Timestamp::now();
    ns.take_down("127.0.1.1");
    daemon.wait_for(
        "/api/v1/devices",
        "core-sw1 down",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", "core-sw1") == "down",
    );
    let confirmed = Instant::now();
    // Past the next SNMP poll.
    std::thread::sleep(Duration::from_secs(9).saturating_sub(confirmed.elapsed()));
    ns.bring_up("127.0.1.1");
    let data = dir.path().join("data");
    let rows = ledger_rows(&data, "core-sw1");
    let after: Vec<&Row> = rows
        .iter()
        .filter(|r| r.at >= dropped - SEND_LATENESS)
        .collect();
    assert_eq!(
        after[0].state, "down",
        "a total outage is never degraded: {rows:?}"
    );
    let round = Duration::from_secs_f64(1.3);
    assert!(
        after[0].at <= dropped + round,
        "down from the first failed round (dropped at {dropped}): {rows:?}"
    );
    assert!(after.iter().all(|r| r.state != "degraded"), "{rows:?}");
    let period = format!(
        "/api/v1/availability?from={}&to={}",
        q(&dropped.to_string()),
        q(&(dropped + Duration::from_secs(6)).to_string())
    );
    let f = daemon.get_json(&period);
    let f = figures(&f, "core-sw1");
    assert!(secs(f, "down_s") >= 6.0 - 1.3, "{f}");
    assert_eq!(secs(f, "degraded_s"), 0.0, "{f}");
}

#[test]
fn an_outage_interrupted_by_a_crash_is_one_outage() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &lab_config("data"));
    let daemon = Daemon::start_all_up(&ns, &config, &dir.path().join("run1.log"));
    let start = Timestamp::now();
    let down = |doc: &serde_json::Value| state_of(doc, "devices", "name", "acc-001") == "down";
    ns.take_down("127.0.20.1");
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 down",
        Duration::from_secs(10),
        down,
    );
    daemon.kill9();
    let crashed = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    // Still down when netkpi comes back: the same outage goes on.
    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run2.log"));
    let gap_s = crashed.elapsed().as_secs_f64();
    daemon.wait_for(
        "/api/v1/devices",
        "acc-001 down again",
        Duration::from_secs(10),
        down,
    );
    ns.bring_up("127.0.20.1");
    daemon.wait_for(
        "/api/v1/devices",
        "every device up",
        Duration::from_secs(10),
        all_up,
    );
    let period = format!(
        "/api/v1/availability?from={}&to={}",
        q(&start.to_string()),
        q(&Timestamp::now().to_string())
    );
    let doc = daemon.get_json(&period);
    for target in ["acc-001", "L-001"] {
        let f = figures(&doc, target);
        assert_eq!(
            f["outages"], 1,
            "{target}: one outage across the restart: {f}"
        );
        let unknown = secs(f, "unknown_s");
        assert!(
            unknown >= gap_s - 0.5,
            "{target}: the gap stays unknown: {f}"
        );
        assert!(
            (secs(f, "longest_outage_s") - secs(f, "down_s")).abs() < 1e-6,
            "{target}: the outage's length is its down time, not the gap: {f}"
        );
    }
}
