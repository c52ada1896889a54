//! The ICMP engine under load, as a user runs it: the real binary in a
//! private network namespace pinging 303 targets on loopback every second
//! (about 900 echoes a second, several to a 10 ms slot, so echoes go out
//! in `sendmmsg` batches and replies come back in `recvmmsg` batches), one
//! target cut off with nftables. The batched sender must stamp the outage
//! with the time of the first round that saw it, within one interval of
//! the drop, as a task per target did, and leave every other target up.

mod common;

use std::time::Duration;

use common::ledger::{ledger_rows, seconds_between};
use common::{lab_config, listen, state_of, Daemon, NetNs, INTERVAL_S, TIMEOUT_S};
use jiff::Timestamp;
use serde_json::Value;

/// Targets added to the lab's three.
const EXTRA: u32 = 300;

fn extra_name(i: u32) -> String {
    format!("acc-b-{i:04}")
}

fn extra_addr(i: u32) -> String {
    format!("127.3.{}.{}", i / 250, i % 250 + 1)
}

fn names() -> Vec<String> {
    let mut names: Vec<String> = common::DEVICES.iter().map(|d| d.to_string()).collect();
    names.extend((0..EXTRA).map(extra_name));
    names
}

fn states(doc: &Value) -> Vec<(String, String)> {
    names()
        .into_iter()
        .map(|n| {
            let s = state_of(doc, "devices", "name", &n).to_string();
            (n, s)
        })
        .collect()
}

fn metric(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the scrape"))
}

#[test]
fn a_batched_sender_stamps_an_outage_within_one_interval_of_the_drop() {
    let ns = NetNs::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = lab_config("data");
    for i in 0..EXTRA {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{}\"\nrole = \"access_egress\"\naddress = \"{}\"\nicmp = {{}}\n",
            extra_name(i),
            extra_addr(i)
        ));
    }
    let config = dir.path().join("netkpi.toml");
    std::fs::write(&config, text).expect("write config");
    let data = dir.path().join("data");

    let daemon = Daemon::start(&ns, &config, listen(), dir.path().join("run.log"));
    daemon.wait_for(
        "/api/v1/devices",
        "all 303 devices up",
        Duration::from_secs(30),
        |doc| states(doc).iter().all(|(_, s)| s == "up"),
    );

    let victim = 150;
    let (name, addr) = (extra_name(victim), extra_addr(victim));
    let drop_start = Timestamp::now();
    ns.take_down(&addr);
    let after_drop = Timestamp::now();
    daemon.wait_for(
        "/api/v1/devices",
        "the cut-off target down",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", &name) == "down",
    );
    // Every other target kept answering through it.
    let doc = daemon.get_json("/api/v1/devices");
    let not_up: Vec<_> = states(&doc)
        .into_iter()
        .filter(|(n, s)| *n != name && s != "up")
        .collect();
    assert!(not_up.is_empty(), "{not_up:?}");

    let rows = ledger_rows(&data, &name);
    let down = rows
        .iter()
        .find(|r| r.state == "down")
        .unwrap_or_else(|| panic!("no outage recorded: {rows:?}"));
    // The first round with no answer starts at the drop at the earliest
    // (an earlier one had an echo out before it) and within one interval
    // of it; its stamp is when it was due.
    let early = seconds_between(drop_start, down.at);
    let late = seconds_between(after_drop, down.at);
    assert!(
        early >= -0.1 && late <= INTERVAL_S,
        "down stamped {late} s after the drop: {rows:?}"
    );
    assert_eq!(down.cause.as_deref(), Some("icmp:timeout"), "{rows:?}");

    let before_up = Timestamp::now();
    ns.bring_up(&addr);
    let after_up = Timestamp::now();
    daemon.wait_for(
        "/api/v1/devices",
        "the target back up",
        Duration::from_secs(10),
        |doc| state_of(doc, "devices", "name", &name) == "up",
    );
    let rows = ledger_rows(&data, &name);
    let up = rows
        .iter()
        .find(|r| r.state == "up" && r.at > down.at)
        .unwrap_or_else(|| panic!("no recovery recorded: {rows:?}"));
    // The first answered round may have had only its last echo answered.
    let late_up = seconds_between(after_up, up.at);
    assert!(
        seconds_between(before_up, up.at) >= -INTERVAL_S && late_up <= INTERVAL_S + TIMEOUT_S,
        "up stamped {late_up} s after the drop ended: {rows:?}"
    );

    // Every echo that was not cut off was answered: the echoes lost (timed
    // out) are at most those to the cut-off target while it was down (3 a
    // second), and at least one of its rounds'. What is neither answered
    // nor lost is in flight as the scrape reads the counters (an echo
    // counts as sent when the kernel takes it, its reply when it is read
    // back): at most one wake's echoes, twice the share of 909 echoes a
    // second over 8 slots of 10 ms (the engine wakes for 64 on average).
    let scrape = daemon.metrics();
    let sent = metric(&scrape, "netkpi_icmp_echoes_sent_total");
    let received = metric(&scrape, "netkpi_icmp_replies_received_total");
    let lost = metric(&scrape, "netkpi_icmp_echoes_timed_out_total");
    let cut_s = seconds_between(drop_start, after_up) + INTERVAL_S;
    let in_flight = (2.0 * 909.0 * 0.080_f64).ceil();
    let counters = || {
        scrape
            .lines()
            .filter(|l| l.starts_with("netkpi_icmp") || l.contains("prober=\"icmp\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(sent > 900.0 * 3.0, "{sent} echoes sent");
    assert!(
        (3.0..=3.0 * cut_s.ceil()).contains(&lost),
        "{lost} lost over a {cut_s} s cut; {}",
        counters()
    );
    assert!(
        sent - received - lost <= in_flight,
        "{sent} sent, {received} received, {lost} lost; {}",
        counters()
    );
    daemon.stop();
}
