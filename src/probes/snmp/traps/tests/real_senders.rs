//! The receiver on a loopback port, fed by net-snmp's own `snmptrap` and
//! `snmpinform` (package `snmp`), as a device would feed it.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{config, o, ENGINE};
use crate::probes::snmp::traps::{
    RejectReason, TrapConfig, TrapEvent, TrapKind, TrapReceiver, TrapStats, TrapVersion,
};
use crate::secret::Secret;

const WAIT: Duration = Duration::from_secs(10);

struct Lab {
    addr: SocketAddr,
    stats: Arc<TrapStats>,
    events: mpsc::Receiver<TrapEvent>,
    cancel: CancellationToken,
    /// net-snmp's persistent state (engine boots) for this test only.
    persist: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Lab {
    async fn start(mut config: TrapConfig, queue: usize) -> Lab {
        config.listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let (tx, events) = mpsc::channel(queue);
        let cancel = CancellationToken::new();
        let stats = TrapReceiver::start(config.clone(), tx, cancel.clone())
            .await
            .unwrap();
        Lab {
            addr: config.listen,
            stats,
            events,
            cancel,
            persist: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs a net-snmp command with `ADDR` replaced by the receiver's address.
    async fn run(&self, cmd: &str, args: &[&str]) -> Output {
        let addr = self.addr.to_string();
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "ADDR" {
                    addr.clone()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let cmd = cmd.to_string();
        let persist = self.persist.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            Command::new(&cmd)
                .args(&args)
                .env("SNMP_PERSISTENT_DIR", persist)
                .output()
                .unwrap_or_else(|e| panic!("{cmd} (Debian package `snmp`) must be installed: {e}"))
        })
        .await
        .unwrap()
    }

    /// Runs a command that must succeed.
    async fn send(&self, cmd: &str, args: &[&str]) {
        let out = self.run(cmd, args).await;
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn event(&mut self) -> TrapEvent {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("an event within the wait")
            .expect("the channel open")
    }

    async fn until(&self, what: &str, f: impl Fn(&TrapStats) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !f(&self.stats) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {:?}",
                self.stats
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn assert_quiet(&mut self) {
        assert!(self.events.try_recv().is_err(), "no further event expected");
    }
}

const V3_SHA_AES: &[&str] = &[
    "-v",
    "3",
    "-u",
    "tuser",
    "-l",
    "authPriv",
    "-a",
    "SHA",
    "-A",
    "authpass123",
    "-x",
    "AES",
    "-X",
    "privpass123",
    "-e",
    "0x8000000001020304",
];

/// The system's uptime in hundredths of a second, as net-snmp reads it.
fn system_uptime_centiseconds() -> u32 {
    let text = std::fs::read_to_string("/proc/uptime").expect("/proc/uptime");
    let seconds: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("/proc/uptime starts with the uptime in seconds");
    (seconds * 100.0).round() as u32
}

fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    [head, tail].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_senders_v1_v2c_informs_and_v3_are_decoded_and_counted() {
    let mut lab = Lab::start(config(), 64).await;
    let started = jiff::Timestamp::now();

    // v1 linkDown (generic-trap 2) from agent 127.0.0.9. With an empty
    // time-stamp, snmptrap sends the system's uptime (/proc/uptime).
    let uptime_before = system_uptime_centiseconds();
    lab.send(
        "snmptrap",
        &[
            "-v",
            "1",
            "-c",
            "public",
            "ADDR",
            "1.3.6.1.4.1.8072.3.2.10",
            "127.0.0.9",
            "2",
            "0",
            "",
            "1.3.6.1.2.1.2.2.1.1.3",
            "i",
            "3",
        ],
    )
    .await;
    let e = lab.event().await;
    assert_eq!(e.version, TrapVersion::V1);
    assert_eq!(e.kind, TrapKind::LinkDown { if_index: Some(3) });
    assert_eq!(e.trap_oid, o("1.3.6.1.6.3.1.1.5.3"));
    assert_eq!(e.agent_addr, Some("127.0.0.9".parse().unwrap()));
    assert_eq!(e.source.ip(), lab.addr.ip());
    let uptime_after = system_uptime_centiseconds();
    assert!(
        e.uptime
            .is_some_and(|u| (uptime_before..=uptime_after).contains(&u)),
        "time-stamp {:?}, system uptime {uptime_before}..={uptime_after} cs",
        e.uptime
    );
    assert!(!e.inform);
    assert!(started <= e.received_at && e.received_at <= jiff::Timestamp::now());

    // v1 enterprise-specific: UPS-MIB upsTrapOnBattery from an SMIv1 agent.
    lab.send(
        "snmptrap",
        &[
            "-v",
            "1",
            "-c",
            "public",
            "ADDR",
            "1.3.6.1.2.1.33.2",
            "",
            "6",
            "1",
            "",
        ],
    )
    .await;
    let e = lab.event().await;
    assert_eq!(e.kind, TrapKind::UpsOnBattery);
    assert_eq!(e.trap_oid, o("1.3.6.1.2.1.33.2.0.1"));

    // v2c linkDown with ifIndex, ifAdminStatus, ifOperStatus.
    lab.send(
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "second",
            "ADDR",
            "",
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.1.7",
            "i",
            "7",
            "1.3.6.1.2.1.2.2.1.7.7",
            "i",
            "1",
            "1.3.6.1.2.1.2.2.1.8.7",
            "i",
            "2",
        ],
    )
    .await;
    let e = lab.event().await;
    assert_eq!(e.version, TrapVersion::V2c);
    assert_eq!(e.kind, TrapKind::LinkDown { if_index: Some(7) });
    assert_eq!(e.trap_oid, o("1.3.6.1.6.3.1.1.5.3"));
    assert_eq!(e.agent_addr, None);
    assert_eq!(e.varbinds.len(), 3);

    // v2c UPS alarm added, naming upsAlarmOnBattery.
    lab.send(
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            "ADDR",
            "",
            "1.3.6.1.2.1.33.2.3",
            "1.3.6.1.2.1.33.1.6.2.1.1.4",
            "i",
            "4",
            "1.3.6.1.2.1.33.1.6.2.1.2.4",
            "o",
            "1.3.6.1.2.1.33.1.6.3.2",
        ],
    )
    .await;
    let e = lab.event().await;
    assert_eq!(
        e.kind,
        TrapKind::UpsAlarmAdded {
            alarm: Some(o("1.3.6.1.2.1.33.1.6.3.2"))
        }
    );

    // v2c inform: snmpinform exits 0 only when acknowledged.
    lab.send(
        "snmpinform",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            "-t",
            "2",
            "-r",
            "1",
            "ADDR",
            "",
            "1.3.6.1.6.3.1.1.5.4",
            "1.3.6.1.2.1.2.2.1.1.7",
            "i",
            "7",
        ],
    )
    .await;
    let e = lab.event().await;
    assert!(e.inform);
    assert_eq!(e.kind, TrapKind::LinkUp { if_index: Some(7) });
    assert_eq!(lab.stats.informs_acknowledged(), 1);

    // v3 authPriv (SHA/AES), authNoPriv (MD5), authPriv (SHA-256/AES-256).
    lab.send(
        "snmptrap",
        &with(
            V3_SHA_AES,
            &[
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.4",
                "1.3.6.1.2.1.2.2.1.1.9",
                "i",
                "9",
            ],
        ),
    )
    .await;
    let e = lab.event().await;
    assert_eq!(e.version, TrapVersion::V3);
    assert_eq!(e.kind, TrapKind::LinkUp { if_index: Some(9) });
    assert_eq!(e.trap_oid, o("1.3.6.1.6.3.1.1.5.4"));
    lab.send(
        "snmptrap",
        &[
            "-v",
            "3",
            "-u",
            "md5user",
            "-l",
            "authNoPriv",
            "-a",
            "MD5",
            "-A",
            "authpass456",
            "-e",
            "0x8000000001020304",
            "ADDR",
            "",
            "1.3.6.1.6.3.1.1.5.1",
        ],
    )
    .await;
    assert_eq!(lab.event().await.kind, TrapKind::ColdStart);
    lab.send(
        "snmptrap",
        &[
            "-v",
            "3",
            "-u",
            "sha256user",
            "-l",
            "authPriv",
            "-a",
            "SHA-256",
            "-A",
            "authpass789",
            "-x",
            "AES-256",
            "-X",
            "privpass789",
            "-e",
            "0x8000000001020304",
            "ADDR",
            "",
            "1.3.6.1.6.3.1.1.5.2",
        ],
    )
    .await;
    assert_eq!(lab.event().await.kind, TrapKind::WarmStart);

    // Wrong community: a trap is refused; an inform is not acknowledged.
    lab.send(
        "snmptrap",
        &["-v", "2c", "-c", "wrong", "ADDR", "", "1.3.6.1.6.3.1.1.5.3"],
    )
    .await;
    lab.until("bad community", |s| {
        s.rejected(RejectReason::BadCommunity) == 1
    })
    .await;
    let out = lab
        .run(
            "snmpinform",
            &[
                "-v",
                "2c",
                "-c",
                "wrong",
                "-t",
                "1",
                "-r",
                "0",
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.3",
            ],
        )
        .await;
    assert!(
        !out.status.success(),
        "an inform with a wrong community was acknowledged"
    );
    assert_eq!(lab.stats.rejected(RejectReason::BadCommunity), 2);

    // v3 with a wrong pass phrase, and an unknown user.
    let mut wrong = V3_SHA_AES.to_vec();
    wrong[9] = "wrongpass123";
    lab.send(
        "snmptrap",
        &with(&wrong, &["ADDR", "", "1.3.6.1.6.3.1.1.5.3"]),
    )
    .await;
    lab.until("auth failed", |s| s.rejected(RejectReason::AuthFailed) == 1)
        .await;
    let mut nobody = V3_SHA_AES.to_vec();
    nobody[3] = "nobody";
    lab.send(
        "snmptrap",
        &with(&nobody, &["ADDR", "", "1.3.6.1.6.3.1.1.5.3"]),
    )
    .await;
    lab.until("unknown user", |s| {
        s.rejected(RejectReason::UnknownUser) == 1
    })
    .await;

    // RFC 3414 §3.2.7 b: a message from an earlier engine time than our
    // notion allows is refused; a newer boot is accepted.
    for (boots_time, accepted) in [("5,1000", true), ("5,100", false), ("6,1", true)] {
        lab.send(
            "snmptrap",
            &with(
                V3_SHA_AES,
                &["-Z", boots_time, "ADDR", "", "1.3.6.1.6.3.1.1.5.1"],
            ),
        )
        .await;
        if accepted {
            assert_eq!(lab.event().await.kind, TrapKind::ColdStart, "{boots_time}");
        } else {
            lab.until("not in time window", |s| {
                s.rejected(RejectReason::AuthFailed) == 2
            })
            .await;
        }
    }

    // Garbage is counted and changes nothing.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for garbage in [&b""[..], b"\x30\x84\xff\xff\xff\xff", b"hello world"] {
        sock.send_to(garbage, lab.addr).await.unwrap();
    }
    lab.until("decode errors", |s| {
        s.rejected(RejectReason::DecodeError) == 3
    })
    .await;
    lab.send(
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            "ADDR",
            "",
            "1.3.6.1.6.3.1.1.5.1",
        ],
    )
    .await;
    assert_eq!(lab.event().await.kind, TrapKind::ColdStart);

    let s = &lab.stats;
    assert_eq!(
        s.received_by_version(),
        vec![("v1", 2), ("v2c", 4), ("v3", 5)]
    );
    assert_eq!(
        s.rejected_by_reason(),
        vec![
            ("bad_community", 2),
            ("auth_failed", 2),
            ("unknown_user", 1),
            ("decode_error", 3),
            ("not_a_trap", 0),
        ]
    );
    assert_eq!((s.informs_acknowledged(), s.events_dropped()), (1, 0));
    lab.assert_quiet();
    lab.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_and_leaves_informs_unacknowledged() {
    let mut lab = Lab::start(config(), 1).await;
    for _ in 0..2 {
        lab.send(
            "snmptrap",
            &[
                "-v",
                "2c",
                "-c",
                "public",
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.1",
            ],
        )
        .await;
    }
    lab.until("one dropped", |s| s.events_dropped() == 1).await;
    let out = lab
        .run(
            "snmpinform",
            &[
                "-v",
                "2c",
                "-c",
                "public",
                "-t",
                "1",
                "-r",
                "0",
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.1",
            ],
        )
        .await;
    assert!(
        !out.status.success(),
        "acknowledged an inform it could not queue"
    );
    assert_eq!(lab.stats.informs_acknowledged(), 0);
    assert_eq!(lab.stats.events_dropped(), 2);
    assert_eq!(lab.stats.received(TrapVersion::V2c), 3);
    assert_eq!(lab.event().await.kind, TrapKind::ColdStart);
    lab.cancel.cancel();
}

#[tokio::test]
async fn bind_failures_name_the_address_and_cancel_frees_it() {
    let mut config = config();
    let (tx, _rx) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    config.listen = taken.local_addr().unwrap();
    let err = TrapReceiver::start(config.clone(), tx.clone(), cancel.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&config.listen.to_string()), "{err}");
    assert!(err.contains("snmptrapd"), "{err}");
    drop(taken);

    TrapReceiver::start(config.clone(), tx.clone(), cancel.clone())
        .await
        .unwrap();
    cancel.cancel();
    let deadline = tokio::time::Instant::now() + WAIT;
    while std::net::UdpSocket::bind(config.listen).is_err() {
        assert!(tokio::time::Instant::now() < deadline, "socket still bound");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The trap receiver's log lines, captured process-wide. A scoped
/// (`set_default`) subscriber lost lines when the whole test binary ran in
/// parallel: `tracing` caches each call site's interest across threads. A
/// global subscriber limited to the receiver's module sees every line and
/// leaves the other tests' call sites disabled (cheap).
fn trap_log() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::Layer as _;
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone());
        let only_traps = tracing_subscriber::filter::Targets::new()
            .with_target("netkpi::probes::snmp::traps", tracing::Level::TRACE);
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(only_traps));
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the unit tests");
        captured
    })
}

#[test]
fn sentinel_secrets_never_reach_the_log() {
    let sentinel = "sentinel4711";
    let captured = trap_log().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut config = config();
        let community = format!("{sentinel}-community");
        let auth = format!("{sentinel}-auth");
        let privacy = format!("{sentinel}-priv");
        config.communities = vec![Secret::new(community.clone())];
        let tuser = &mut config.v3_users[0];
        tuser.auth.as_mut().unwrap().pass = Secret::new(auth.clone());
        tuser.privacy.as_mut().unwrap().pass = Secret::new(privacy.clone());
        tuser.engine_id = None; // learned, to log that path too
        let mut lab = Lab::start(config, 16).await;
        let engine = format!(
            "0x{}",
            ENGINE
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );

        lab.send(
            "snmptrap",
            &[
                "-v",
                "2c",
                "-c",
                &community,
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.3",
            ],
        )
        .await;
        lab.event().await;
        lab.send(
            "snmpinform",
            &[
                "-v",
                "2c",
                "-c",
                &community,
                "-t",
                "2",
                "-r",
                "1",
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.4",
            ],
        )
        .await;
        lab.event().await;
        let v3 = |auth: &str, tail: &[&str]| -> Vec<String> {
            [
                "-v", "3", "-u", "tuser", "-l", "authPriv", "-a", "SHA", "-A", auth, "-x", "AES",
                "-X", &privacy, "-e", &engine,
            ]
            .iter()
            .chain(tail)
            .map(|s| s.to_string())
            .collect()
        };
        let good = v3(&auth, &["ADDR", "", "1.3.6.1.6.3.1.1.5.1"]);
        lab.send(
            "snmptrap",
            &good.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await;
        lab.event().await;
        let wrong_community = format!("{sentinel}-wrong");
        lab.send(
            "snmptrap",
            &[
                "-v",
                "2c",
                "-c",
                &wrong_community,
                "ADDR",
                "",
                "1.3.6.1.6.3.1.1.5.3",
            ],
        )
        .await;
        let bad = v3(
            &format!("{sentinel}-bad"),
            &["ADDR", "", "1.3.6.1.6.3.1.1.5.1"],
        );
        lab.send(
            "snmptrap",
            &bad.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await;
        lab.until("both refused", |s| {
            s.rejected(RejectReason::BadCommunity) == 1 && s.rejected(RejectReason::AuthFailed) == 1
        })
        .await;
        let stats = format!("{:?}", lab.stats);
        assert!(!stats.contains(sentinel), "{stats}");
        lab.cancel.cancel();
        tokio::task::yield_now().await;
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("bad_community") && log.contains("auth_failed"),
        "{log}"
    );
    assert!(log.contains("trap received"), "{log}");
    assert!(!log.contains(sentinel), "{log}");
}
