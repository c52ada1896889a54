//! Pure summary tests, then real ICMP on loopback (CI runs as root).
//! Tests that need a silent target, a firewall or fewer privileges run a
//! second copy of this test binary inside a private network namespace
//! (`unshare --net`) and check that exactly that one inner test passed.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Command, Stdio};

use super::packet::{Family, ECHO_LEN};

const MS: Duration = Duration::from_millis(1);
const LOCAL4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCAL6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn open_pinger() -> Arc<IcmpPinger> {
    IcmpPinger::open(1 << 20, CancellationToken::new()).expect("ICMP sockets (tests run as root)")
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Waits up to two seconds for a counter to reach at least `want`.
async fn wait_for(c: &AtomicU64, want: u64, what: &str) {
    for _ in 0..200 {
        if load(c) >= want {
            break;
        }
        tokio::time::sleep(10 * MS).await;
    }
    assert!(load(c) >= want, "{what}: {} < {want}", load(c));
}

fn assert_answered(r: &IcmpRound, count: u32) {
    assert_eq!(
        (r.sent, r.received, r.failure),
        (count, count, None),
        "{r:?}"
    );
    let (min, avg, max) = (r.rtt_min.unwrap(), r.rtt_avg.unwrap(), r.rtt_max.unwrap());
    assert!(
        min <= avg && avg <= max && max < Duration::from_secs(1),
        "{r:?}"
    );
    assert_eq!(r.jitter.is_some(), count >= 2, "{r:?}");
    assert_eq!(r.loss_ratio(), 0.0);
}

#[test]
fn summary_of_replies_and_losses() {
    use EchoOutcome::*;
    let r = IcmpRound::from_outcomes(&[Reply(10 * MS), TimedOut, Reply(14 * MS), Reply(11 * MS)]);
    assert_eq!((r.sent, r.received, r.failure), (4, 3, None));
    assert_eq!((r.rtt_min, r.rtt_max), (Some(10 * MS), Some(14 * MS)));
    assert_eq!(r.rtt_avg, Some(35 * MS / 3));
    // |14 - 10| and |11 - 14| over the replies that arrived, in order.
    assert_eq!(r.jitter, Some(Duration::from_micros(3_500)));
    assert_eq!(r.loss_ratio(), 0.25);
    let one = IcmpRound::from_outcomes(&[Reply(5 * MS), SendFailed]);
    assert_eq!(
        (one.jitter, one.failure, one.loss_ratio()),
        (None, None, 0.5)
    );
}

#[test]
fn failure_kind_when_nothing_came_back() {
    use EchoOutcome::*;
    let kind = |o: &[EchoOutcome]| IcmpRound::from_outcomes(o).failure;
    assert_eq!(kind(&[TimedOut, TimedOut]), Some(FailureKind::Timeout));
    assert_eq!(
        kind(&[TimedOut, Unreachable]),
        Some(FailureKind::Unreachable)
    );
    assert_eq!(
        kind(&[SendFailed, Unreachable]),
        Some(FailureKind::Unreachable)
    );
    assert_eq!(
        kind(&[SendFailed, SendFailed]),
        Some(FailureKind::SendError)
    );
    // One echo left the host and vanished: the target is silent.
    assert_eq!(kind(&[SendFailed, TimedOut]), Some(FailureKind::Timeout));
    let empty = IcmpRound::from_outcomes(&[]);
    assert_eq!(
        (empty.sent, empty.failure, empty.loss_ratio()),
        (0, None, 0.0)
    );
    assert_eq!(IcmpRound::from_outcomes(&[TimedOut]).loss_ratio(), 1.0);
}

#[test]
fn open_without_runtime_is_an_error() {
    let err = IcmpPinger::open(1 << 16, CancellationToken::new()).unwrap_err();
    assert!(matches!(err, IcmpError::NoRuntime), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_ipv4_loopback() {
    let p = open_pinger();
    assert!(p.v4.raw, "as root the IPv4 socket should be raw");
    let r = p.round(LOCAL4, 3, 20 * MS, Duration::from_secs(1)).await;
    assert_answered(&r, 3);
    let s = p.stats();
    assert_eq!(
        (
            load(&s.echoes_sent),
            load(&s.replies_received),
            load(&s.send_errors)
        ),
        (3, 3, 0)
    );
    for (reason, n) in s.ignored() {
        // Other tests share loopback: their replies are foreign to us,
        // and the bad-checksum packet one of them injects is malformed.
        if reason != "foreign" && reason != "malformed" {
            assert_eq!(n, 0, "{reason}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_ipv6_loopback() {
    let p = open_pinger();
    assert!(
        p.v6.is_some(),
        "no IPv6 ICMP socket: this host lacks IPv6 (::1), which this test requires; it fails rather than skip"
    );
    let r = p.round(LOCAL6, 3, 20 * MS, Duration::from_secs(1)).await;
    assert_answered(&r, 3);
    // IPv4-mapped addresses go out over IPv4.
    let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
    assert_answered(&p.round(mapped, 1, MS, Duration::from_secs(1)).await, 1);
    assert_eq!(load(&p.stats().replies_received), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_targets_at_once() {
    let p = open_pinger();
    let rounds = (0..1_000u32).map(|i| {
        let p = Arc::clone(&p);
        let addr = IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8));
        tokio::spawn(async move {
            (
                addr,
                p.round(addr, 3, 50 * MS, Duration::from_secs(2)).await,
            )
        })
    });
    let mut results = Vec::new();
    for r in rounds.collect::<Vec<_>>() {
        results.push(r.await.unwrap());
    }
    for (addr, r) in &results {
        assert_eq!(r.received, 3, "{addr}: {r:?}");
    }
    assert_eq!(load(&p.stats().replies_received), 3_000);
    assert_eq!(load(&p.stats().socket_drops), 0);
}

/// The `sendmmsg` wrapper on a real socket: each packet's fate is reported
/// in order, a packet the kernel refuses (an IPv6 destination on the IPv4
/// socket) does not stop the ones after it, and the replies to the others
/// are read back with `recvmmsg`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendmmsg_reports_each_packet_and_skips_a_refused_one() {
    use std::os::fd::AsRawFd;
    let s = socket::open_family(Family::V4, 1 << 20).expect("raw socket (root)");
    let fd = s.fd.as_raw_fd();
    let ident: u16 = rand::random();
    let mut batch = socket::SendBatch::new();
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    for (seq, to) in [LOCAL4, LOCAL6, other].into_iter().enumerate() {
        packet::encode_echo_request(Family::V4, ident, seq as u16, batch.push(to));
    }
    let mut results = Vec::new();
    batch.send(fd, |i, r| results.push((i, r.is_ok())));
    assert_eq!(results, [(0, true), (1, false), (2, true)]);

    let mut recv = socket::RecvBatch::new();
    let mut seqs = Vec::new();
    let give_up = tokio::time::Instant::now() + Duration::from_secs(2);
    while seqs.len() < 2 && tokio::time::Instant::now() < give_up {
        let Ok(Ok(mut guard)) = tokio::time::timeout_at(give_up, s.fd.readable()).await else {
            break;
        };
        match recv.recv(fd) {
            Ok(n) => {
                for i in 0..n {
                    // Other tests' replies share loopback: only ours count.
                    let (bytes, _) = recv.packet(i);
                    if let Ok(packet::Message::EchoReply { ident: id, seq }) =
                        packet::decode(bytes, Family::V4, true)
                    {
                        if id == ident {
                            seqs.push(seq);
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
            Err(e) => panic!("recvmmsg: {e}"),
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, [0, 2]);
}

/// Sends an echo reply to 127.0.0.1 from a separate raw socket, as if a
/// target had answered request `seq`.
fn inject_reply(ident: u16, seq: u16, bad_checksum: bool) {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut buf = [0u8; ECHO_LEN];
    packet::encode_echo_request(Family::V4, ident, seq, &mut buf);
    buf[0] = 0; // echo reply
    buf[2..4].fill(0);
    let sum = packet::checksum(&buf);
    buf[2..4].copy_from_slice(&sum.to_be_bytes());
    if bad_checksum {
        buf[3] ^= 0x5a;
    }
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).unwrap();
    s.send_to(&buf, &SocketAddr::new(LOCAL4, 0).into()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_each_kind_of_ignored_packet() {
    let p = open_pinger();
    let s = p.stats();
    // A fresh pinger's first echo carries the family's first sequence number.
    let seq = p.v4.first_seq;
    assert_answered(&p.round(LOCAL4, 1, MS, Duration::from_secs(1)).await, 1);

    inject_reply(p.ident, seq, false);
    wait_for(&s.duplicate, 1, "second reply to an answered request").await;
    inject_reply(p.ident, seq.wrapping_add(1_000), false);
    wait_for(&s.unsolicited, 1, "reply to a request never sent").await;
    inject_reply(p.ident, seq, true);
    wait_for(&s.malformed, 1, "bad checksum").await;
    let foreign = load(&s.foreign);
    inject_reply(p.ident ^ 0x8000, seq, false);
    wait_for(&s.foreign, foreign + 1, "another program's identifier").await;

    // A zero timeout expires before any reply can come back.
    let r = p.round(LOCAL4, 1, MS, Duration::ZERO).await;
    assert_eq!((r.received, r.failure), (0, Some(FailureKind::Timeout)));
    wait_for(&s.late, 1, "reply after the timeout").await;

    assert_eq!((load(&s.echoes_sent), load(&s.replies_received)), (2, 1));
    let exact = [&s.duplicate, &s.unsolicited, &s.malformed, &s.late].map(load);
    assert_eq!(
        exact,
        [1, 1, 1, 1],
        "duplicate, unsolicited, malformed, late"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_engine() {
    let cancel = CancellationToken::new();
    let p = IcmpPinger::open(1 << 16, cancel.clone()).unwrap();
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), p.closed())
        .await
        .expect("the engine stops on cancel");
}

// ---- tests inside a private network namespace ----

/// Marks the inner run and carries the host's netns, which the inner
/// test must not be in.
const INNER_ENV: &str = "NETKPI_ICMP_TEST_OUTER_NETNS";

fn netns() -> String {
    let link = std::fs::read_link("/proc/self/ns/net").expect("/proc/self/ns/net");
    link.to_string_lossy().into_owned()
}

/// Runs the ignored test `inner` in a new network namespace, after
/// `setup` (a shell snippet ending in `exec "$@"`), and asserts that it
/// ran and passed.
fn run_in_namespace(inner: &str, setup: &str) {
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, m)| m);
    let name = format!("{module}::{inner}");
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("unshare")
        .args(["--net", "sh", "-ec", setup, "sh"])
        .arg(exe)
        .args([
            "--exact",
            &name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER_ENV, netns())
        .stdin(Stdio::null())
        .output()
        .expect("unshare (util-linux) is required");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in its namespace:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in its namespace:\n{stdout}\n{stderr}"
    );
}

/// Guards the inner tests: they change firewall rules and sysctls, so
/// they refuse to run anywhere but a namespace their outer test made.
fn assert_in_private_namespace() {
    let host = std::env::var(INNER_ENV)
        .expect("inner test: run it through its outer test, which creates its network namespace");
    assert_ne!(
        netns(),
        host,
        "inner test is not in a private network namespace"
    );
}

fn sh(cmd: &str, stdin: &str) {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-ec", cmd])
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "`{cmd}` failed");
}

#[test]
fn silent_unreachable_and_blocked_targets() {
    run_in_namespace(
        "ns_silent_unreachable_and_blocked_targets",
        r#"ip link set lo up; exec "$@""#,
    );
}

/// Three kinds of outage, made by the nftables rules below: 127.0.5.5 drops
/// echo requests on input (a silent device), 127.0.6.6 rejects them with
/// host-unreachable (a router without a route), and output to 127.0.7.7 is
/// dropped so `sendto` itself fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside the namespace made by silent_unreachable_and_blocked_targets"]
async fn ns_silent_unreachable_and_blocked_targets() {
    assert_in_private_namespace();
    sh(
        "nft -f -",
        r#"
        table inet outage {
          set down4 { type ipv4_addr; elements = { 127.0.5.5 } }
          chain in {
            type filter hook input priority 0; policy accept;
            ip daddr @down4 icmp type echo-request drop
            ip daddr 127.0.6.6 icmp type echo-request reject with icmp type host-unreachable
          }
          chain out {
            type filter hook output priority 0; policy accept;
            ip daddr 127.0.7.7 icmp type echo-request drop
          }
        }"#,
    );
    let p = open_pinger();
    let timeout = Duration::from_millis(300);
    let addr = |s: &str| s.parse::<IpAddr>().unwrap();
    let (silent, live, unreachable, blocked) = tokio::join!(
        p.round(addr("127.0.5.5"), 3, 50 * MS, timeout),
        p.round(addr("127.0.5.6"), 3, 50 * MS, timeout),
        p.round(addr("127.0.6.6"), 3, 50 * MS, timeout),
        p.round(addr("127.0.7.7"), 3, 50 * MS, timeout),
    );
    assert_eq!(
        (silent.sent, silent.received, silent.failure),
        (3, 0, Some(FailureKind::Timeout))
    );
    assert_eq!(silent.loss_ratio(), 1.0);
    assert_eq!((silent.rtt_avg, silent.jitter), (None, None));
    assert_answered(&live, 3);
    assert_eq!(
        (unreachable.received, unreachable.failure),
        (0, Some(FailureKind::Unreachable))
    );
    assert_eq!(
        (blocked.received, blocked.failure),
        (0, Some(FailureKind::SendError))
    );
    let s = p.stats();
    assert_eq!(
        load(&s.echoes_sent),
        9,
        "the blocked sends are not counted as sent"
    );
    assert_eq!(load(&s.send_errors), 3);
    assert_eq!(load(&s.replies_received), 3);
    assert_eq!(load(&s.errors_received), 3);
    // Alone in its namespace, the pinger sees nothing it did not ask for.
    assert_eq!(s_ignored_total(s), 0, "{:?}", s.ignored());

    // The silent target comes back.
    sh("nft delete element inet outage down4 '{ 127.0.5.5 }'", "");
    assert_answered(&p.round(addr("127.0.5.5"), 2, 20 * MS, timeout).await, 2);
}

#[test]
fn unprivileged_datagram_sockets() {
    run_in_namespace(
        "ns_unprivileged_datagram_sockets",
        r#"ip link set lo up
           sysctl -qw net.ipv4.ping_group_range="0 2147483647"
           exec setpriv --bounding-set=-net_raw --inh-caps=-net_raw "$@""#,
    );
}

/// Without CAP_NET_RAW but with ping_group_range open, both families fall
/// back to ping sockets, whose identifiers the kernel rewrites.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside the namespace made by unprivileged_datagram_sockets"]
async fn ns_unprivileged_datagram_sockets() {
    assert_in_private_namespace();
    let p = open_pinger();
    assert!(
        !p.v4.raw,
        "CAP_NET_RAW was dropped; expected a datagram socket"
    );
    let v6 = p.v6.as_ref().expect("IPv6 ping socket (::1 required)");
    assert!(!v6.raw);
    let (r4, r6) = tokio::join!(
        p.round(LOCAL4, 3, 20 * MS, Duration::from_secs(1)),
        p.round(LOCAL6, 3, 20 * MS, Duration::from_secs(1)),
    );
    assert_answered(&r4, 3);
    assert_answered(&r6, 3);
    assert_eq!(s_ignored_total(p.stats()), 0);
}

fn s_ignored_total(s: &IcmpStats) -> u64 {
    s.ignored().iter().map(|(_, n)| n).sum()
}

#[test]
fn no_permission_names_both_remedies() {
    run_in_namespace(
        "ns_no_permission_names_both_remedies",
        r#"sysctl -qw net.ipv4.ping_group_range="1 0"
           exec setpriv --bounding-set=-net_raw --inh-caps=-net_raw "$@""#,
    );
}

#[tokio::test]
#[ignore = "runs inside the namespace made by no_permission_names_both_remedies"]
async fn ns_no_permission_names_both_remedies() {
    assert_in_private_namespace();
    let err = IcmpPinger::open(1 << 16, CancellationToken::new()).unwrap_err();
    assert!(matches!(err, IcmpError::NotPermitted { .. }), "{err:?}");
    let msg = err.to_string();
    for remedy in [
        "root",
        "CAP_NET_RAW",
        "setcap cap_net_raw+ep /usr/bin/netkpi",
        "AmbientCapabilities=CAP_NET_RAW",
        "sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"",
    ] {
        assert!(msg.contains(remedy), "{remedy:?} missing from: {msg}");
    }
}
