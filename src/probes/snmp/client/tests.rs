use std::sync::Arc;

use super::testlab::{Snmpd, AUTH_PASS, PRIV_PASS};
use super::wire::security_for;
use super::*;
use crate::probes::snmp::{AuthProtocol, KeyExtension, PrivProtocol, Value};
use tokio::net::UdpSocket;

/// ifTable (IF-MIB) and ifXTable (IF-MIB, RFC 2863).
const IF_TABLE: &str = "1.3.6.1.2.1.2.2";
const IF_X_TABLE: &str = "1.3.6.1.2.1.31.1.1";
/// system (SNMPv2-MIB).
const SYSTEM: &str = "1.3.6.1.2.1.1";
const SYS_UP_TIME: &str = "1.3.6.1.2.1.1.3.0";
const SYS_NAME: &str = "1.3.6.1.2.1.1.5.0";
/// snmpInPkts.0 (SNMPv2-MIB): every datagram the agent received.
const SNMP_IN_PKTS: &str = "1.3.6.1.2.1.11.1.0";

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

fn community(addr: SocketAddr, version: SnmpVersion, community: &str) -> Agent {
    Agent {
        addr,
        version,
        credentials: Credentials::Community(Secret::new(community)),
        timeout: Duration::from_secs(1),
        retries: 1,
        max_repetitions: 10,
    }
}

fn v3(
    addr: SocketAddr,
    user: &str,
    auth: Option<(AuthProtocol, &str)>,
    privacy: Option<(PrivProtocol, &str)>,
    key_extension: Option<KeyExtension>,
) -> Agent {
    Agent {
        addr,
        version: SnmpVersion::V3,
        credentials: Credentials::V3 {
            user: user.into(),
            auth: auth.map(|(p, s)| (p, Secret::new(s))),
            privacy: privacy.map(|(p, s)| (p, Secret::new(s))),
            key_extension,
        },
        timeout: Duration::from_secs(1),
        retries: 1,
        max_repetitions: 10,
    }
}

fn testv3(addr: SocketAddr) -> Agent {
    v3(
        addr,
        "testv3",
        Some((AuthProtocol::Sha1, AUTH_PASS)),
        Some((PrivProtocol::Aes128, PRIV_PASS)),
        None,
    )
}

fn oids(varbinds: &[Varbind]) -> Vec<String> {
    varbinds.iter().map(|vb| vb.oid.to_string()).collect()
}

#[test]
fn an_agent_is_made_from_a_devices_resolved_settings() {
    let credentials = Credentials::V3 {
        user: "ops".into(),
        auth: Some((AuthProtocol::Sha256, Secret::new("auth-pass"))),
        privacy: Some((PrivProtocol::Aes256, Secret::new("priv-pass"))),
        key_extension: None,
    };
    let settings = SnmpSettings {
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(3),
        retries: 2,
        version: SnmpVersion::V3,
        port: 1161,
        max_repetitions: 25,
        profiles: vec!["system".into()],
        credentials: credentials.clone(),
    };
    let addr: SocketAddr = "192.0.2.7:1161".parse().unwrap();
    assert_eq!(
        Agent::new(addr, &settings),
        Agent {
            addr,
            version: SnmpVersion::V3,
            credentials,
            timeout: Duration::from_secs(3),
            retries: 2,
            max_repetitions: 25,
        }
    );
}

/// What the agent has received so far, read over v2c (the read itself
/// is one of the packets counted).
async fn in_pkts(client: &Snmp2Client, addr: SocketAddr) -> u32 {
    let agent = community(addr, SnmpVersion::V2c, "public");
    let got = client
        .poll(&agent, &[Request::Get(vec![oid(SNMP_IN_PKTS)])])
        .await
        .unwrap();
    match got[0].value {
        Value::Counter32(n) => n,
        ref other => panic!("snmpInPkts is {other:?}"),
    }
}

#[tokio::test]
async fn v1_get_and_walk() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let agent = community(snmpd.addr, SnmpVersion::V1, "public");
    let got = client
        .poll(
            &agent,
            &[Request::Get(vec![oid(SYS_UP_TIME), oid(SYS_NAME)])],
        )
        .await
        .unwrap();
    assert_eq!(oids(&got), [SYS_UP_TIME, SYS_NAME]);
    assert!(
        matches!(got[0].value, Value::TimeTicks(t) if t > 0),
        "{got:?}"
    );
    assert!(matches!(got[1].value, Value::OctetString(ref s) if !s.is_empty()));

    let walked = client
        .poll(&agent, &[Request::Walk(oid(SYSTEM))])
        .await
        .unwrap();
    let expected: Vec<String> = snmpd
        .tool("snmpwalk", &["-v1", "-c", "public"], SYSTEM)
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert!(expected.len() > 5, "{expected:?}");
    assert_eq!(oids(&walked), expected);
}

#[tokio::test]
async fn v2c_get_and_bulk_walk_of_if_table_match_snmpbulkwalk() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let agent = community(snmpd.addr, SnmpVersion::V2c, "public");
    let got = client
        .poll(&agent, &[Request::Get(vec![oid(SYS_UP_TIME)])])
        .await
        .unwrap();
    assert!(
        matches!(
            got[..],
            [Varbind {
                value: Value::TimeTicks(_),
                ..
            }]
        ),
        "{got:?}"
    );

    let walked = client
        .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
        .await
        .unwrap();
    let expected = snmpd.tool("snmpbulkwalk", &["-v2c", "-c", "public", "-Cr10"], IF_TABLE);
    assert!(expected.len() >= 20, "{expected:?}");
    assert_eq!(
        oids(&walked),
        expected.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>()
    );
    // Columns that do not move while we look: ifIndex, ifDescr, ifType,
    // ifMtu, ifAdminStatus, ifOperStatus (counters do: our own traffic).
    let stable = ["1", "2", "3", "4", "7", "8"].map(|c| oid(&format!("{IF_TABLE}.1.{c}")));
    let mut compared = 0;
    for (vb, (_, text)) in walked.iter().zip(&expected) {
        if stable.iter().any(|col| vb.oid.starts_with(col)) {
            assert_eq!(&vb.value.as_label(), text, "{}", vb.oid);
            compared += 1;
        }
    }
    assert!(compared >= 6, "compared {compared} values");
}

#[tokio::test]
async fn v3_auth_priv_sha_aes_get_and_walk() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let got = client
        .poll(
            &testv3(snmpd.addr),
            &[Request::Get(vec![oid(SYS_UP_TIME), oid(SYS_NAME)])],
        )
        .await
        .unwrap();
    assert_eq!(oids(&got), [SYS_UP_TIME, SYS_NAME]);

    let over_v3 = client
        .poll(&testv3(snmpd.addr), &[Request::Walk(oid(IF_X_TABLE))])
        .await
        .unwrap();
    let over_v2c = client
        .poll(
            &community(snmpd.addr, SnmpVersion::V2c, "public"),
            &[Request::Walk(oid(IF_X_TABLE))],
        )
        .await
        .unwrap();
    assert!(over_v3.len() >= 10, "{over_v3:?}");
    assert_eq!(oids(&over_v3), oids(&over_v2c));
}

/// Every USM pair the installed net-snmp can serve, including both
/// AES-256 key extensions, and a wrong extension (which net-snmp drops
/// silently, so it is a timeout whose detail names the likely cause).
#[tokio::test]
async fn v3_protocol_pairs_and_key_extensions() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let get = [Request::Get(vec![oid(SYS_NAME)])];
    let cases = [
        ("md5des", AuthProtocol::Md5, Some(PrivProtocol::Des), None),
        (
            "sha256aes256",
            AuthProtocol::Sha256,
            Some(PrivProtocol::Aes256),
            None,
        ),
        (
            "shaaes256",
            AuthProtocol::Sha1,
            Some(PrivProtocol::Aes256),
            Some(KeyExtension::Blumenthal),
        ),
        (
            "shaaes256",
            AuthProtocol::Sha1,
            Some(PrivProtocol::Aes256),
            None,
        ),
        (
            "shaaes256c",
            AuthProtocol::Sha1,
            Some(PrivProtocol::Aes256),
            Some(KeyExtension::Reeder),
        ),
        ("authonly", AuthProtocol::Sha512, None, None),
    ];
    for (user, auth, privacy, ext) in cases {
        let agent = v3(
            snmpd.addr,
            user,
            Some((auth, AUTH_PASS)),
            privacy.map(|p| (p, PRIV_PASS)),
            ext,
        );
        let got = client.poll(&agent, &get).await;
        assert!(
            matches!(
                got.as_deref(),
                Ok([Varbind {
                    value: Value::OctetString(_),
                    ..
                }])
            ),
            "{user} {ext:?}: {got:?}"
        );
    }
    let mut wrong = v3(
        snmpd.addr,
        "shaaes256c",
        Some((AuthProtocol::Sha1, AUTH_PASS)),
        Some((PrivProtocol::Aes256, PRIV_PASS)),
        Some(KeyExtension::Blumenthal),
    );
    wrong.timeout = Duration::from_millis(300);
    let err = client.poll(&wrong, &get).await.unwrap_err();
    assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
    assert!(err.detail.contains("key extension"), "{err}");
}

#[tokio::test]
async fn v3_wrong_auth_pass_or_unknown_user_is_auth_failed() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let get = [Request::Get(vec![oid(SYS_NAME)])];
    for (user, pass) in [("testv3", "wrongpass123"), ("nosuchuser", AUTH_PASS)] {
        let agent = v3(
            snmpd.addr,
            user,
            Some((AuthProtocol::Sha1, pass)),
            Some((PrivProtocol::Aes128, PRIV_PASS)),
            None,
        );
        let started = Instant::now();
        let err = client.poll(&agent, &get).await.unwrap_err();
        assert_eq!(err.kind, SnmpFailure::AuthFailed, "{user}: {err}");
        // Answered by a report at once, not by waiting out a timeout.
        assert!(started.elapsed() < Duration::from_millis(900), "{user}");
    }
    // The right credentials still work afterwards.
    client.poll(&testv3(snmpd.addr), &get).await.unwrap();
}

/// net-snmp drops a v2c request with an unknown community without a
/// word: a timeout after every attempt, as on a real network.
#[tokio::test]
async fn v2c_wrong_community_times_out_within_its_budget() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let mut agent = community(snmpd.addr, SnmpVersion::V2c, "not-the-community");
    agent.timeout = Duration::from_millis(300);
    agent.retries = 2;
    let started = Instant::now();
    let err = client
        .poll(&agent, &[Request::Get(vec![oid(SYS_NAME)])])
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
    assert!(err.detail.contains("3 attempts"), "{err}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(
        took < Duration::from_millis(900) + Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(client.stats().requests_total, 3);
}

#[tokio::test]
async fn a_closed_port_is_a_timeout_saying_connection_refused() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The socket is closed here: the kernel answers port unreachable.
    let client = Snmp2Client::new(4);
    for version in [SnmpVersion::V2c, SnmpVersion::V1] {
        let err = client
            .poll(
                &community(port, version, "public"),
                &[Request::Get(vec![oid(SYS_NAME)])],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
        assert!(err.detail.contains("connection refused"), "{err}");
    }
    let err = client
        .poll(&testv3(port), &[Request::Get(vec![oid(SYS_NAME)])])
        .await
        .unwrap_err();
    assert_eq!(err.kind, SnmpFailure::Timeout, "{err}");
    assert!(err.detail.contains("connection refused"), "{err}");
}

#[tokio::test]
async fn missing_objects() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let missing = oid("1.3.6.1.2.1.1.99.0");
    for version in [SnmpVersion::V2c, SnmpVersion::V1] {
        let agent = community(snmpd.addr, version, "public");
        let err = client
            .poll(&agent, &[Request::Get(vec![missing.clone()])])
            .await
            .unwrap_err();
        assert_eq!(err.kind, SnmpFailure::NoSuchObject, "{version:?}: {err}");

        // Some present, some missing: the poll succeeds and says which.
        let got = client
            .poll(
                &agent,
                &[Request::Get(vec![missing.clone(), oid(SYS_NAME)])],
            )
            .await
            .unwrap();
        assert_eq!(got.len(), 2, "{version:?}");
        assert!(got[0].value.is_exception(), "{version:?}: {got:?}");
        assert!(matches!(got[1].value, Value::OctetString(_)), "{version:?}");

        // A walk of a subtree the agent does not have.
        let err = client
            .poll(&agent, &[Request::Walk(oid("1.3.6.1.2.1.33"))])
            .await
            .unwrap_err();
        assert_eq!(err.kind, SnmpFailure::NoSuchObject, "{version:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polls_in_flight_never_exceed_the_limit() {
    let snmpd = Snmpd::start();
    let client = Arc::new(Snmp2Client::new(3));
    let agent = community(snmpd.addr, SnmpVersion::V2c, "public");
    let polls: Vec<_> = (0..40)
        .map(|_| {
            let (client, agent) = (client.clone(), agent.clone());
            tokio::spawn(async move {
                client
                    .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
                    .await
                    .map(|v| v.len())
            })
        })
        .collect();
    for poll in polls {
        assert!(poll.await.unwrap().unwrap() > 0);
    }
    let stats = client.stats();
    assert_eq!(stats.polls_total, 40);
    assert_eq!(stats.polls_in_flight, 0);
    assert_eq!(stats.max_polls_in_flight, 3, "{stats:?}");
}

/// Counted by the agent itself (snmpInPkts): the first v3 poll costs a
/// discovery and the GET, later polls the GET alone.
#[tokio::test]
async fn v3_engine_state_is_cached_between_polls() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let get = [Request::Get(vec![oid(SYS_UP_TIME)])];
    let mut packets = Vec::new();
    for _ in 0..3 {
        let before = in_pkts(&client, snmpd.addr).await;
        client.poll(&testv3(snmpd.addr), &get).await.unwrap();
        let after = in_pkts(&client, snmpd.addr).await;
        packets.push(after - before - 1);
    }
    assert_eq!(packets, [2, 1, 1]);
    assert_eq!(client.stats().engine_discoveries_total, 1);

    // Other credentials for the same agent do not reuse those keys.
    let other = v3(
        snmpd.addr,
        "testv3",
        Some((AuthProtocol::Sha1, "wrongpass123")),
        Some((PrivProtocol::Aes128, PRIV_PASS)),
        None,
    );
    let err = client.poll(&other, &get).await.unwrap_err();
    assert_eq!(err.kind, SnmpFailure::AuthFailed, "{err}");
    assert_eq!(client.stats().engine_discoveries_total, 2);
}

/// A cached engine state that the agent no longer accepts (here: a
/// made-up engine ID, as after a device swap) is relearned within the
/// same poll rather than failing it.
#[tokio::test]
async fn a_stale_engine_cache_is_relearned_in_the_same_poll() {
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let agent = testv3(snmpd.addr);
    let stale = security_for(&agent.credentials)
        .unwrap()
        .with_engine_id(&[0x80, 0, 0x1f, 0x88, 4, 1, 2, 3, 4])
        .unwrap()
        .with_engine_boots_and_time(1, 100);
    client.store_engine(&agent, "testv3", &stale);
    let got = client
        .poll(&agent, &[Request::Get(vec![oid(SYS_NAME)])])
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(client.stats().engine_discoveries_total, 1);
}

/// Isolation (issue 3 part 6): agents that never answer, polled at the
/// same time as a live one, hold only their own permits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_agents_do_not_delay_live_polls() {
    let snmpd = Snmpd::start();
    let client = Arc::new(Snmp2Client::new(8));
    let silent: Vec<std::net::UdpSocket> = (0..3)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let started = Instant::now();
    let silent_polls: Vec<_> = silent
        .iter()
        .map(|socket| {
            let mut agent = community(socket.local_addr().unwrap(), SnmpVersion::V2c, "public");
            agent.timeout = Duration::from_secs(3);
            agent.retries = 1;
            let client = client.clone();
            tokio::spawn(async move {
                let r = client.poll(&agent, &[Request::Walk(oid(IF_TABLE))]).await;
                (r, started.elapsed())
            })
        })
        .collect();
    let live_agent = community(snmpd.addr, SnmpVersion::V2c, "public");
    let live_polls: Vec<_> = (0..20)
        .map(|_| {
            let (client, agent) = (client.clone(), live_agent.clone());
            tokio::spawn(async move {
                let r = client
                    .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
                    .await
                    .map(|v| v.len());
                (r, started.elapsed())
            })
        })
        .collect();
    let mut live_done = Duration::ZERO;
    for poll in live_polls {
        let (result, at) = poll.await.unwrap();
        assert!(result.unwrap() > 0);
        live_done = live_done.max(at);
    }
    for poll in silent_polls {
        let (result, at) = poll.await.unwrap();
        assert_eq!(result.unwrap_err().kind, SnmpFailure::Timeout);
        assert!(at >= Duration::from_secs(6), "{at:?}");
    }
    // The silent agents take 2 × 3 s; the live ones finish in
    // milliseconds. 3 s of margin for a loaded machine.
    assert!(
        live_done < Duration::from_secs(3),
        "live polls took {live_done:?}"
    );
}

/// An agent that repeats an OID (a real bug of some old agents) ends the
/// walk with an error instead of looping; one that sends garbage is a
/// decode error. Both are played by a socket of ours, as snmpd cannot
/// be made to misbehave.
#[tokio::test]
async fn broken_agents_cannot_loop_or_crash_a_walk() {
    let agent_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = agent_socket.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let mut served = 0u32;
        loop {
            let (n, peer) = agent_socket.recv_from(&mut buf).await.unwrap();
            let req_id = snmp2::Pdu::from_bytes(&buf[..n]).unwrap().req_id;
            served += 1;
            let reply = if served <= 3 {
                // Always the same row: ifIndex.1 = 1.
                ber::tlv(
                    ber::SEQUENCE,
                    &ber::concat(&[
                        ber::integer(1),
                        ber::octet_string(b"public"),
                        ber::tlv(
                            ber::RESPONSE,
                            &ber::concat(&[
                                ber::integer(i64::from(req_id)),
                                ber::integer(0),
                                ber::integer(0),
                                ber::tlv(
                                    ber::SEQUENCE,
                                    &ber::tlv(
                                        ber::SEQUENCE,
                                        &ber::concat(&[
                                            ber::oid(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 1]),
                                            ber::integer(1),
                                        ]),
                                    ),
                                ),
                            ]),
                        ),
                    ]),
                )
            } else {
                // A lying length.
                vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01]
            };
            agent_socket.send_to(&reply, peer).await.unwrap();
        }
    });
    let client = Snmp2Client::new(4);
    let agent = community(addr, SnmpVersion::V2c, "public");
    let err = client
        .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
        .await
        .unwrap_err();
    assert_eq!(err.kind, SnmpFailure::AgentError, "{err}");
    assert!(err.detail.contains("out of order"), "{err}");
    // The third answer (served <= 3) starts a new walk; the fourth is
    // garbage.
    let err = client
        .poll(&agent, &[Request::Walk(oid(IF_TABLE))])
        .await
        .unwrap_err();
    assert_eq!(err.kind, SnmpFailure::DecodeError, "{err}");
    fake.abort();
}

/// Habit 5: a sentinel community and pass phrases appear in no error
/// text and no debug output, whatever went wrong.
#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug_output() {
    const SENTINEL: &str = "Sentinel-7f3a9c";
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(4);
    let get = [Request::Get(vec![oid(SYS_NAME)])];
    let mut v2c = community(
        snmpd.addr,
        SnmpVersion::V2c,
        &format!("{SENTINEL}-community"),
    );
    v2c.timeout = Duration::from_millis(200);
    v2c.retries = 0;
    let mut wrong_auth = v3(
        snmpd.addr,
        "testv3",
        Some((AuthProtocol::Sha1, &format!("{SENTINEL}-auth"))),
        Some((PrivProtocol::Aes128, &format!("{SENTINEL}-priv"))),
        None,
    );
    wrong_auth.timeout = Duration::from_millis(200);
    let mut wrong_priv = v3(
        snmpd.addr,
        "testv3",
        Some((AuthProtocol::Sha1, AUTH_PASS)),
        Some((PrivProtocol::Aes128, &format!("{SENTINEL}-priv"))),
        None,
    );
    wrong_priv.timeout = Duration::from_millis(200);
    wrong_priv.retries = 0;
    let mut empty = wrong_auth.clone();
    if let Credentials::V3 {
        ref mut privacy, ..
    } = empty.credentials
    {
        *privacy = Some((PrivProtocol::Des, Secret::new("")));
    }
    let mut seen = Vec::new();
    for agent in [&v2c, &wrong_auth, &wrong_priv, &empty] {
        let err = client.poll(agent, &get).await.unwrap_err();
        seen.push(err.kind);
        for text in [err.to_string(), format!("{err:?}"), format!("{agent:?}")] {
            assert!(!text.contains(SENTINEL), "leaked: {text}");
        }
    }
    assert_eq!(
        seen,
        [
            SnmpFailure::Timeout,
            SnmpFailure::AuthFailed,
            SnmpFailure::Timeout,
            SnmpFailure::AuthFailed
        ]
    );
    assert!(!snmpd.log().contains(SENTINEL));
}

/// Not a test: CPU per IF-MIB walk (ifTable + ifXTable) against snmpd.
/// `cargo test --release --lib snmp::client::tests::bench -- --ignored --nocapture`
#[tokio::test]
#[ignore]
async fn bench_if_mib_walk_cpu() {
    fn cpu() -> Duration {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct we own.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }
    let snmpd = Snmpd::start();
    let client = Snmp2Client::new(16);
    let walks = [Request::Walk(oid(IF_TABLE)), Request::Walk(oid(IF_X_TABLE))];
    let mut v2c = community(snmpd.addr, SnmpVersion::V2c, "public");
    let mut v3 = testv3(snmpd.addr);
    v2c.max_repetitions = 25;
    v3.max_repetitions = 25;
    for (label, agent) in [("v2c", &v2c), ("v3 authPriv SHA/AES", &v3)] {
        for _ in 0..20 {
            client.poll(agent, &walks).await.unwrap();
        }
        let n = 1_000u32;
        let (cpu0, wall0, req0) = (cpu(), Instant::now(), client.stats().requests_total);
        let mut varbinds = 0usize;
        for _ in 0..n {
            varbinds += client.poll(agent, &walks).await.unwrap().len();
        }
        let (cpu1, wall1) = (cpu() - cpu0, wall0.elapsed());
        let requests = client.stats().requests_total - req0;
        println!(
            "{label}: {n} IF-MIB polls, {} varbinds and {} requests each; \
             CPU {:.1} µs/poll, {:.2} µs/varbind; wall {:.1} µs/poll",
            varbinds / n as usize,
            requests / u64::from(n),
            cpu1.as_secs_f64() * 1e6 / f64::from(n),
            cpu1.as_secs_f64() * 1e6 / varbinds as f64,
            wall1.as_secs_f64() * 1e6 / f64::from(n),
        );
    }
    // What the engine cache saves: a v3 GET on a client that has never
    // seen the agent (discovery, two key derivations, the GET).
    let get = [Request::Get(vec![oid(SYS_UP_TIME)])];
    let n = 100u32;
    let cpu0 = cpu();
    for _ in 0..n {
        Snmp2Client::new(1).poll(&v3, &get).await.unwrap();
    }
    let cold = (cpu() - cpu0).as_secs_f64() * 1e6 / f64::from(n);
    let cpu0 = cpu();
    for _ in 0..n {
        client.poll(&v3, &get).await.unwrap();
    }
    let warm = (cpu() - cpu0).as_secs_f64() * 1e6 / f64::from(n);
    println!("v3 GET sysUpTime: CPU {cold:.1} µs without the engine cache, {warm:.1} µs with it");
}
