//! The faults, all at once, on a seeded schedule: ICMP (and SNMP) outages
//! toggled with nftables, the SNMP agents killed and restarted, bounded trap
//! floods, SIGHUP alternating two valid configs, and kill -9 of the daemon
//! followed by a restart on the same store. The daemon's RSS is sampled
//! between faults.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::common::full_lab::{self, FullLab, SIMULATED, SNMPD_ADDR, TRAP_COMMUNITY, TRAP_PORT};
use crate::common::{listen, Daemon, NetNs};
use crate::observe::{rss_kb, Epochs, RssSample};
use crate::rng::Rng;

/// A device only config B has: a reload adds it, the next removes it.
pub const SPARE: &str = "acc-spare";
const SPARE_ADDR: &str = "127.0.20.50";

/// Traps in one flood, at most, and the pause between two sends (the
/// rate is bounded further by starting one `snmptrap` per trap).
const FLOOD_MAX: usize = 60;
const FLOOD_PAUSE: Duration = Duration::from_millis(5);
/// How often the daemon's RSS is read.
const RSS_EVERY: f64 = 2.0;

/// The addresses an outage may hit: the ICMP devices (core-r1, acc-001,
/// the snmpd device, the spare) and the snmpsim devices (SNMP only: the
/// outage rules drop their SNMP port).
fn outage_addresses() -> Vec<&'static str> {
    let mut a = vec!["127.0.10.1", "127.0.20.1", SNMPD_ADDR, SPARE_ADDR];
    a.extend(SIMULATED.iter().map(|(_, _, address, ..)| *address));
    a
}

/// Config A is the full lab's; config B adds [`SPARE`] and a maintenance
/// window in the future (parsed and put in force by every reload, without
/// reclassifying anything the soak measures).
pub fn config_text(b: bool) -> String {
    let mut text = full_lab::config();
    if b {
        text.push_str(&format!(
            "\n[[device]]\nname = \"{SPARE}\"\nrole = \"access_egress\"\n\
             address = \"{SPARE_ADDR}\"\nparent = \"core-r1\"\nicmp = {{}}\n\
             \n[[maintenance]]\ntargets = [\"acc-001\"]\n\
             start = \"2099-01-01T00:00:00Z\"\nend = \"2099-01-01T02:00:00Z\"\n\
             reason = \"soak: a window far ahead\"\n"
        ));
    }
    text
}

/// Writes the config to a temporary name beside it, then renames it over
/// the old one, so a reload never reads half a file.
fn write_config(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, path).expect("rename config");
}

/// A daemon kill -9 and the restart that followed (wall clock).
#[derive(Clone, Copy, Debug)]
pub struct Crash {
    pub killed: Timestamp,
    pub restarted: Timestamp,
}

/// How many faults of each kind the run made.
#[derive(Default, Debug)]
pub struct Counts {
    pub outages_begun: u64,
    pub outages_ended: u64,
    pub snmpd_kills: u64,
    pub snmpd_restarts: u64,
    pub snmpsim_kills: u64,
    pub snmpsim_restarts: u64,
    pub floods: u64,
    pub traps_sent: u64,
    pub hups: u64,
    pub kills: u64,
}

/// Everything the fault driver recorded.
pub struct Record {
    pub counts: Counts,
    pub crashes: Vec<Crash>,
    pub rss: Vec<RssSample>,
    /// The daemon's log of each run, in order.
    pub logs: Vec<PathBuf>,
    /// When the first daemon was started and when the last one had stopped.
    pub started: Timestamp,
    pub stopped: Timestamp,
    /// The exit status of the final SIGTERM stop.
    pub clean_exit: bool,
}

/// The variable that sets [`kill_spacing`].
pub const KILL_SPACING_VAR: &str = "NETKPI_SOAK_KILL_SPACING";

/// The range, in seconds, of the wait between two kill -9s: a few in a CI
/// minute, a few dozen in half an hour by default. `NETKPI_SOAK_KILL_SPACING
/// ="MIN,MAX"` sets it, so a long run can go long stretches (or, with MIN
/// past the duration, the whole run) without a kill and show RSS over them.
pub fn kill_spacing(duration: f64) -> (f64, f64) {
    if let Ok(v) = std::env::var(KILL_SPACING_VAR) {
        let parsed = v.split_once(',').and_then(|(lo, hi)| {
            let (lo, hi): (f64, f64) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
            (lo.is_finite() && hi.is_finite() && 1.0 <= lo && lo <= hi).then_some((lo, hi))
        });
        return parsed.unwrap_or_else(|| {
            panic!("{KILL_SPACING_VAR}={v:?}: want \"MIN,MAX\" in seconds, 1 <= MIN <= MAX (e.g. \"600,900\")")
        });
    }
    if duration <= 120.0 {
        (12.0, 30.0)
    } else {
        (40.0, 160.0)
    }
}

/// The kinds of fault, each on its own clock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    Outage,
    Agent,
    Flood,
    Hup,
    Kill,
    Rss,
}

const FAULTS: [Fault; 6] = [
    Fault::Outage,
    Fault::Agent,
    Fault::Flood,
    Fault::Hup,
    Fault::Kill,
    Fault::Rss,
];

/// Seconds until the next fault of this kind.
fn spacing(fault: Fault, rng: &mut Rng, duration: f64) -> f64 {
    match fault {
        Fault::Outage => rng.between(0.5, 4.0),
        Fault::Agent => rng.between(6.0, 20.0),
        Fault::Flood => rng.between(5.0, 15.0),
        Fault::Hup => rng.between(2.0, 5.0),
        Fault::Kill => {
            let (lo, hi) = kill_spacing(duration);
            rng.between(lo, hi)
        }
        Fault::Rss => RSS_EVERY,
    }
}

/// Runs the faults for `duration` seconds against a daemon on `lab`, the
/// first one started here, then stops the last one with SIGTERM.
pub fn run(
    ns: &NetNs,
    lab: &mut FullLab,
    epochs: &Epochs,
    rng: &mut Rng,
    duration: f64,
    clock: Instant,
) -> Record {
    let addresses = outage_addresses();
    let mut down = vec![false; addresses.len()];
    let mut counts = Counts::default();
    let mut crashes = Vec::new();
    let mut rss = Vec::new();
    let mut logs = Vec::new();
    let mut config_b = false;
    // Run n (from 1) logs to run-n.log.
    let log_path = |n: usize| lab.dir.path().join(format!("run-{}.log", n + 1));

    let started = Timestamp::now();
    logs.push(log_path(0));
    let mut daemon = Daemon::start(ns, &lab.config, listen(), log_path(0));
    epochs.daemon.fetch_add(1, Ordering::SeqCst);
    let mut due: Vec<f64> = FAULTS
        .iter()
        .map(|&f| clock.elapsed().as_secs_f64() + spacing(f, rng, duration))
        .collect();
    loop {
        let (i, &at) = due
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("faults");
        if at >= duration {
            break;
        }
        let now = clock.elapsed().as_secs_f64();
        if at > now {
            std::thread::sleep(Duration::from_secs_f64(at - now));
        }
        let fault = FAULTS[i];
        match fault {
            Fault::Outage => {
                // At most half the addresses down at once.
                let k = rng.below(addresses.len());
                let limit = addresses.len() / 2;
                if down[k] {
                    ns.bring_up(addresses[k]);
                    down[k] = false;
                    counts.outages_ended += 1;
                } else if down.iter().filter(|d| **d).count() < limit {
                    ns.take_down(addresses[k]);
                    down[k] = true;
                    counts.outages_begun += 1;
                }
            }
            Fault::Agent => {
                // An agent that died by itself is the lab's failure, not
                // the daemon's: stop with its log.
                if let Some((status, log)) = lab.snmpd.exited() {
                    panic!("snmpd exited by itself with {status}; log:\n{log}");
                }
                if let Some((status, log)) = lab.sim.exited() {
                    panic!("snmpsim exited by itself with {status}; log:\n{log}");
                }
                // Relaunched without waiting for an answer: the agent's
                // addresses may be cut off by an outage.
                epochs.agents.fetch_add(1, Ordering::SeqCst);
                if rng.below(2) == 0 {
                    if lab.snmpd.is_running() {
                        lab.snmpd.kill();
                        counts.snmpd_kills += 1;
                    } else {
                        lab.snmpd.relaunch();
                        counts.snmpd_restarts += 1;
                    }
                } else if lab.sim.is_running() {
                    lab.sim.kill();
                    counts.snmpsim_kills += 1;
                } else {
                    lab.sim.relaunch();
                    counts.snmpsim_restarts += 1;
                }
                epochs.agents.fetch_add(1, Ordering::SeqCst);
            }
            Fault::Flood => {
                let n = 1 + rng.below(FLOOD_MAX);
                for k in 0..n {
                    send_trap(ns, k % 2 == 0);
                    std::thread::sleep(FLOOD_PAUSE);
                }
                counts.floods += 1;
                counts.traps_sent += n as u64;
            }
            Fault::Hup => {
                config_b = !config_b;
                write_config(&lab.config, &config_text(config_b));
                daemon.signal(libc::SIGHUP);
                counts.hups += 1;
            }
            Fault::Kill => {
                epochs.daemon.fetch_add(1, Ordering::SeqCst);
                daemon.kill9();
                let killed = Timestamp::now();
                counts.kills += 1;
                std::thread::sleep(Duration::from_secs_f64(rng.between(0.0, 3.0)));
                let n = logs.len();
                logs.push(log_path(n));
                let restarted = Timestamp::now();
                daemon = Daemon::start(ns, &lab.config, listen(), log_path(n));
                epochs.daemon.fetch_add(1, Ordering::SeqCst);
                crashes.push(Crash { killed, restarted });
            }
            Fault::Rss => {
                if let Some(kb) = rss_kb(daemon.child.id()) {
                    rss.push(RssSample {
                        at_s: clock.elapsed().as_secs_f64(),
                        run: epochs.daemon.load(Ordering::SeqCst) / 2,
                        kb,
                    });
                }
            }
        }
        due[i] = clock.elapsed().as_secs_f64().max(at) + spacing(fault, rng, duration);
    }
    epochs.daemon.fetch_add(1, Ordering::SeqCst);
    let clean_exit = daemon.stop().success();
    Record {
        counts,
        crashes,
        rss,
        logs,
        started,
        stopped: Timestamp::now(),
        clean_exit,
    }
}

/// A v2c linkDown (or linkUp) for `lo` of the snmpd device, sent from its
/// address: each is counted and triggers a poll of that device.
fn send_trap(ns: &NetNs, link_down: bool) {
    let receiver = format!("127.0.0.1:{TRAP_PORT}");
    let from = format!("--clientaddr={SNMPD_ADDR}");
    let (trap, oper) = if link_down {
        ("1.3.6.1.6.3.1.1.5.3", "2")
    } else {
        ("1.3.6.1.6.3.1.1.5.4", "1")
    };
    full_lab::send(
        ns,
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            TRAP_COMMUNITY,
            &from,
            &receiver,
            "",
            trap,
            "1.3.6.1.2.1.2.2.1.1.1",
            "i",
            "1",
            "1.3.6.1.2.1.2.2.1.8.1",
            "i",
            oper,
        ],
    );
}
