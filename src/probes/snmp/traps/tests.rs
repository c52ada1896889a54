//! `decode` on hand-built, recorded, malformed and random datagrams. The
//! receiver with real net-snmp senders is in [`real_senders`].

mod real_senders;

use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::probes::snmp::ber::{self, Reader};
use crate::probes::snmp::Value;
use crate::probes::snmp::{AuthProtocol, KeyExtension, PrivProtocol};

pub const ENGINE: [u8; 8] = [0x80, 0, 0, 0, 0x01, 0x02, 0x03, 0x04];

// Recorded from net-snmp 5.9 snmptrap with `-e 0x8000000001020304` (engine
// boots 1), uptime argument 12345; the commands are in each comment.

/// `-u tuser -l authPriv -a SHA -A authpass123 -x AES -X privpass123`,
/// linkDown with ifIndex.7 = 7.
pub const V3_SHA_AES: &str = "3081ae020103301102044c4ce159020300ffe30401030201030433303104088000000001020304020101020303226904057475736572040ce29b8eb80b6d1dce1e4d40b804085110bda961bacab204618cfee78c239fd576ff15ff74777c2e7e38ebacddf83a5fdf78d34d828e29109cfb2886979a0ad0adfe87d03fa617195c802c91f3471d23eefe29e8d3ea7fd2dd720c861f257437cb5306dc7d03f34871875cd9eb006e828bc2cb6dfa0f81fc6a4d";
/// `-u md5user -l authNoPriv -a MD5 -A authpass456`, coldStart.
pub const V3_MD5: &str = "30819502010330110204302e3662020300ffe3040101020103042d302b04088000000001020304020101020303226904076d643575736572040c73b16f078222b4abe16818540400304e041180001f888039575c460e430d6b000000000400a73702043877a0e80201000201003029300e06082b06010201010300430230393017060a2b06010603010104010006092b0601060301010501";
/// `-u plain -l noAuthNoPriv`, warmStart.
pub const V3_NOAUTH: &str = "308187020103301102045771e828020300ffe3040100020103041f301d04088000000001020304020101020303226a0405706c61696e04000400304e041180001f888039575c460e430d6b000000000400a73702042d58f4c20201000201003029300e06082b06010201010300430230393017060a2b06010603010104010006092b0601060301010502";
/// `-u sha256user -l authPriv -a SHA-256 -A authpass789 -x AES-256 -X
/// privpass789`, upsTrapAlarmEntryAdded with upsAlarmDescr.1 =
/// upsAlarmOnBattery.
pub const V3_SHA256_AES256: &str = "3081c902010330110204759ce650020300ffe30401030201030444304204088000000001020304020101020303226b040a7368613235367573657204184439d609ae5611aadcd7a55edfe3551f2d6d6a1ebd54c148040862f2afcb8e4cb498046b42c6a79d90f65c5701cfaacd00e30f956a135552d60099df8e828083fbd889f8910fb5aad9a706978f4a16ecac8a8c98468d4cb389f5da6fc1961e1f3ff171945ffcf675a5223c0b16b78d4376f7fa523df2f554f78aa98044974462d4570354ff764105c2661d1ca40a79";
/// `-u desuser -l authPriv -a SHA -A authpass123 -x DES -X privpass123`,
/// upsTrapOnBattery.
pub const V3_SHA_DES: &str = "30819f02010330110204551bf78c020300ffe30401030201030435303304088000000001020304020101020303226c040764657375736572040c850d7da86f9df21dbc4a5e1a040800000005476db9f10450066e82c3b9673b8b614fbab9b0fadcd620a56fe73b4ca82a6505baaa775dc4c32360d9d4ae6a2fdda1d96923508e4a093c28b1b50ae13f980f24b1edc0f419b7ab378009074114ecbcef445b95542e6b";

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn o(s: &str) -> Oid {
    s.parse().unwrap()
}

fn user(
    name: &str,
    auth: Option<(AuthProtocol, &str)>,
    privacy: Option<(PrivProtocol, &str)>,
) -> V3TrapUser {
    V3TrapUser {
        user: name.into(),
        auth: auth.map(|(protocol, pass)| V3Auth {
            protocol,
            pass: Secret::new(pass),
        }),
        privacy: privacy.map(|(protocol, pass)| V3Privacy {
            protocol,
            pass: Secret::new(pass),
            key_extension: None,
        }),
        engine_id: Some(ENGINE.to_vec()),
    }
}

/// The users of the recorded fixtures.
pub fn fixture_users() -> Vec<V3TrapUser> {
    vec![
        user(
            "tuser",
            Some((AuthProtocol::Sha1, "authpass123")),
            Some((PrivProtocol::Aes128, "privpass123")),
        ),
        user("md5user", Some((AuthProtocol::Md5, "authpass456")), None),
        user("plain", None, None),
        user(
            "sha256user",
            Some((AuthProtocol::Sha256, "authpass789")),
            Some((PrivProtocol::Aes256, "privpass789")),
        ),
        user(
            "desuser",
            Some((AuthProtocol::Sha1, "authpass123")),
            Some((PrivProtocol::Des, "privpass123")),
        ),
    ]
}

pub fn config() -> TrapConfig {
    TrapConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        communities: vec![Secret::new("public"), Secret::new("second")],
        v3_users: fixture_users(),
    }
}

/// Localising keys costs a megabyte of hashing per user: once per run.
fn keys() -> &'static UsmKeys {
    static KEYS: OnceLock<UsmKeys> = OnceLock::new();
    KEYS.get_or_init(|| UsmKeys::new(&fixture_users()).unwrap())
}

fn dec(datagram: &[u8]) -> Result<Decoded, Reject> {
    decode(datagram, &config(), keys())
}

// BER builders for hand-made datagrams.

pub fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    ber::write::tlv(tag, &parts.concat())
}

pub fn int(v: i64) -> Vec<u8> {
    ber::write::integer(v)
}

pub fn oid_tlv(s: &str) -> Vec<u8> {
    ber::write::oid(&o(s).0)
}

fn unsigned_tlv(tag: u8, v: u64) -> Vec<u8> {
    let mut t = int(v as i64);
    if v > i64::MAX as u64 {
        t = [vec![0x02, 0x09, 0x00], v.to_be_bytes().to_vec()].concat();
    }
    t[0] = tag;
    t
}

pub fn ticks(v: u32) -> Vec<u8> {
    unsigned_tlv(ber::TIMETICKS, u64::from(v))
}

pub fn vb(name: &str, value: &[u8]) -> Vec<u8> {
    tlv(ber::SEQUENCE, &[&oid_tlv(name), value])
}

pub fn message(version: i64, community: &str, pdu: &[u8]) -> Vec<u8> {
    tlv(
        ber::SEQUENCE,
        &[
            &int(version),
            &tlv(ber::OCTET_STRING, &[community.as_bytes()]),
            pdu,
        ],
    )
}

pub fn pdu(tag: u8, request_id: i64, varbinds: &[Vec<u8>]) -> Vec<u8> {
    tlv(
        tag,
        &[
            &int(request_id),
            &int(0),
            &int(0),
            &tlv(ber::SEQUENCE, &[&varbinds.concat()]),
        ],
    )
}

/// sysUpTime.0 and snmpTrapOID.0, then the rest.
pub fn notification_varbinds(trap_oid: &str, rest: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v = vec![
        vb("1.3.6.1.2.1.1.3.0", &ticks(12_345)),
        vb("1.3.6.1.6.3.1.1.4.1.0", &oid_tlv(trap_oid)),
    ];
    v.extend_from_slice(rest);
    v
}

pub fn v2c_trap(community: &str, trap_oid: &str, rest: &[Vec<u8>]) -> Vec<u8> {
    message(
        1,
        community,
        &pdu(ber::PDU_TRAP_V2, 77, &notification_varbinds(trap_oid, rest)),
    )
}

pub fn v1_trap(
    community: &str,
    enterprise: &str,
    generic: i64,
    specific: i64,
    varbinds: &[Vec<u8>],
) -> Vec<u8> {
    let body = tlv(
        ber::PDU_TRAP_V1,
        &[
            &oid_tlv(enterprise),
            &tlv(ber::IP_ADDRESS, &[&[10, 1, 0, 1]]),
            &int(generic),
            &int(specific),
            &ticks(4_242),
            &tlv(ber::SEQUENCE, &[&varbinds.concat()]),
        ],
    );
    message(0, community, &body)
}

pub fn if_index_vb(i: u32) -> Vec<u8> {
    vb(&format!("1.3.6.1.2.1.2.2.1.1.{i}"), &int(i64::from(i)))
}

/// One of each kind of valid datagram, the seeds for mutation.
pub fn valid_datagrams() -> Vec<Vec<u8>> {
    vec![
        v2c_trap("public", "1.3.6.1.6.3.1.1.5.3", &[if_index_vb(7)]),
        message(
            1,
            "second",
            &pdu(
                ber::PDU_INFORM,
                -5,
                &notification_varbinds(
                    "1.3.6.1.2.1.33.2.3",
                    &[vb(
                        "1.3.6.1.2.1.33.1.6.2.1.2.1",
                        &oid_tlv("1.3.6.1.2.1.33.1.6.3.2"),
                    )],
                ),
            ),
        ),
        v1_trap(
            "public",
            "1.3.6.1.4.1.9",
            2,
            0,
            &[
                if_index_vb(3),
                vb("1.3.6.1.4.1.9.2.2.1.1.20.3", &tlv(4, &[b"down"])),
            ],
        ),
        hex(V3_SHA_AES),
        hex(V3_MD5),
        hex(V3_NOAUTH),
        hex(V3_SHA256_AES256),
        hex(V3_SHA_DES),
    ]
}

#[test]
fn the_receiver_is_configured_from_the_traps_section() {
    let traps = crate::config::Traps {
        listen: "127.0.0.1:0".parse().unwrap(),
        communities: vec![Secret::new("public")],
        v3_users: vec![
            crate::config::TrapUser {
                user: "tuser".into(),
                engine_id: ENGINE.to_vec(),
                auth: Some((AuthProtocol::Sha1, Secret::new("authpass123"))),
                privacy: Some((PrivProtocol::Aes128, Secret::new("privpass123"))),
                key_extension: None,
            },
            crate::config::TrapUser {
                user: "aes192user".into(),
                engine_id: ENGINE.to_vec(),
                auth: Some((AuthProtocol::Sha1, Secret::new("authpass123"))),
                privacy: Some((PrivProtocol::Aes192, Secret::new("privpass123"))),
                key_extension: Some(KeyExtension::Blumenthal),
            },
        ],
    };
    let config = TrapConfig::from_config(&traps);
    assert_eq!(config.listen, traps.listen);
    assert_eq!(config.communities, traps.communities);
    let aes192 = &config.v3_users[1];
    assert_eq!(aes192.user, "aes192user");
    assert_eq!(aes192.engine_id.as_deref(), Some(&ENGINE[..]));
    let privacy = aes192.privacy.as_ref().unwrap();
    assert_eq!(privacy.protocol, PrivProtocol::Aes192);
    assert_eq!(privacy.key_extension, Some(KeyExtension::Blumenthal));
    // The keys made from them open what net-snmp sent.
    let keys = UsmKeys::new(&config.v3_users).unwrap();
    assert_eq!(
        decode(&hex(V3_SHA_AES), &config, &keys).map(|d| d.kind),
        Ok(TrapKind::LinkDown { if_index: Some(7) })
    );
    assert_eq!(
        decode(&hex(V3_SHA_AES192), &config, &keys).map(|d| d.kind),
        Ok(TrapKind::ColdStart)
    );
}

#[test]
fn a_v2c_link_down_names_its_interface() {
    let d = dec(&v2c_trap(
        "public",
        "1.3.6.1.6.3.1.1.5.3",
        &[if_index_vb(7), vb("1.3.6.1.2.1.2.2.1.8.7", &int(2))],
    ))
    .unwrap();
    assert_eq!(d.version, TrapVersion::V2c);
    assert!(!d.inform && d.reply.is_none());
    assert_eq!(d.trap_oid, o("1.3.6.1.6.3.1.1.5.3"));
    assert_eq!(d.kind, TrapKind::LinkDown { if_index: Some(7) });
    assert_eq!(d.uptime, Some(12_345));
    assert_eq!(
        d.varbinds,
        vec![
            Varbind {
                oid: o("1.3.6.1.2.1.2.2.1.1.7"),
                value: Value::Integer(7)
            },
            Varbind {
                oid: o("1.3.6.1.2.1.2.2.1.8.7"),
                value: Value::Integer(2)
            },
        ]
    );
}

#[test]
fn if_index_falls_back_to_the_instance_and_may_be_absent() {
    let odd = vb("1.3.6.1.2.1.2.2.1.1.12", &tlv(4, &[b"x"]));
    let d = dec(&v2c_trap("public", "1.3.6.1.6.3.1.1.5.4", &[odd])).unwrap();
    assert_eq!(d.kind, TrapKind::LinkUp { if_index: Some(12) });
    let d = dec(&v2c_trap("public", "1.3.6.1.6.3.1.1.5.4", &[])).unwrap();
    assert_eq!(d.kind, TrapKind::LinkUp { if_index: None });
}

#[test]
fn an_inform_is_answered_with_its_request_id_and_varbinds() {
    let varbinds = notification_varbinds("1.3.6.1.6.3.1.1.5.1", &[if_index_vb(1)]);
    for request_id in [0i64, 1, 128, -1, i64::from(i32::MAX), i64::from(i32::MIN)] {
        let datagram = message(1, "second", &pdu(ber::PDU_INFORM, request_id, &varbinds));
        let d = dec(&datagram).unwrap();
        assert!(d.inform);
        assert_eq!(d.kind, TrapKind::ColdStart);
        let reply = d.reply.expect("a response");
        let mut top = Reader::new(reply.bytes());
        let mut msg = top.sequence("message").unwrap();
        top.finish().unwrap();
        assert_eq!(msg.integer("version").unwrap(), 1);
        assert_eq!(msg.octets("community").unwrap(), b"second");
        let body = msg.expect(ber::PDU_RESPONSE, "response").unwrap();
        msg.finish().unwrap();
        let mut body = Reader::new(body);
        assert_eq!(body.integer("id").unwrap(), request_id);
        assert_eq!(body.integer("status").unwrap(), 0);
        assert_eq!(body.integer("index").unwrap(), 0);
        let (_, _, list) = body.tlv().unwrap();
        assert_eq!(list, tlv(ber::SEQUENCE, &[&varbinds.concat()]));
        body.finish().unwrap();
    }
}

#[test]
fn v1_generic_traps_convert_per_rfc_3584() {
    let kinds = [
        ("1.3.6.1.6.3.1.1.5.1", TrapKind::ColdStart),
        ("1.3.6.1.6.3.1.1.5.2", TrapKind::WarmStart),
        (
            "1.3.6.1.6.3.1.1.5.3",
            TrapKind::LinkDown { if_index: Some(3) },
        ),
        (
            "1.3.6.1.6.3.1.1.5.4",
            TrapKind::LinkUp { if_index: Some(3) },
        ),
        ("1.3.6.1.6.3.1.1.5.5", TrapKind::AuthenticationFailure),
        ("1.3.6.1.6.3.1.1.5.6", TrapKind::Other), // egpNeighborLoss
    ];
    for (generic, (oid, kind)) in kinds.into_iter().enumerate() {
        let d = dec(&v1_trap(
            "public",
            "1.3.6.1.4.1.9",
            generic as i64,
            0,
            &[if_index_vb(3)],
        ))
        .unwrap();
        assert_eq!(d.version, TrapVersion::V1);
        assert_eq!(d.trap_oid, o(oid), "generic {generic}");
        assert_eq!(d.kind, kind, "generic {generic}");
        assert_eq!(d.agent_addr, Some(Ipv4Addr::new(10, 1, 0, 1)));
        assert_eq!(d.uptime, Some(4_242));
        // RFC 3584 §3.1 (3): snmpTrapAddress.0 and snmpTrapEnterprise.0
        // appended, and no snmpTrapCommunity.0.
        assert_eq!(d.varbinds.len(), 3);
        assert_eq!(
            d.varbinds[2],
            Varbind {
                oid: o("1.3.6.1.6.3.1.1.4.3.0"),
                value: Value::ObjectId(o("1.3.6.1.4.1.9"))
            }
        );
        assert!(!d
            .varbinds
            .iter()
            .any(|vb| vb.oid == o("1.3.6.1.6.3.18.1.4.0")));
    }
    let d = dec(&v1_trap("public", "1.3.6.1.4.1.2011", 6, 42, &[])).unwrap();
    assert_eq!(d.trap_oid, o("1.3.6.1.4.1.2011.0.42"));
    assert_eq!(d.kind, TrapKind::Other);
    for (generic, specific) in [(7, 0), (-1, 0), (6, -1), (6, 1 << 33)] {
        let err = dec(&v1_trap("public", "1.3.6.1.4.1.9", generic, specific, &[]));
        assert_eq!(err.unwrap_err().reason, RejectReason::DecodeError);
    }
}

#[test]
fn ups_mib_traps_in_both_spellings() {
    let alarm = vb(
        "1.3.6.1.2.1.33.1.6.2.1.2.4",
        &oid_tlv("1.3.6.1.2.1.33.1.6.3.2"),
    );
    let on_battery = Some(o("1.3.6.1.2.1.33.1.6.3.2"));
    let d = dec(&v2c_trap("public", "1.3.6.1.2.1.33.2.1", &[])).unwrap();
    assert_eq!(d.kind, TrapKind::UpsOnBattery);
    let d = dec(&v2c_trap(
        "public",
        "1.3.6.1.2.1.33.2.3",
        std::slice::from_ref(&alarm),
    ))
    .unwrap();
    assert_eq!(
        d.kind,
        TrapKind::UpsAlarmAdded {
            alarm: on_battery.clone()
        }
    );
    let d = dec(&v2c_trap(
        "public",
        "1.3.6.1.2.1.33.2.4",
        std::slice::from_ref(&alarm),
    ))
    .unwrap();
    assert_eq!(d.kind, TrapKind::UpsAlarmRemoved { alarm: on_battery });
    let d = dec(&v2c_trap("public", "1.3.6.1.2.1.33.2.2", &[])).unwrap();
    assert_eq!(d.kind, TrapKind::Other, "upsTrapTestCompleted");
    // An SMIv1 agent: enterprise upsTraps, specific 1 → upsTraps.0.1.
    let d = dec(&v1_trap("public", "1.3.6.1.2.1.33.2", 6, 1, &[])).unwrap();
    assert_eq!(d.trap_oid, o("1.3.6.1.2.1.33.2.0.1"));
    assert_eq!(d.kind, TrapKind::UpsOnBattery);
    let d = dec(&v1_trap("public", "1.3.6.1.2.1.33.2", 6, 3, &[alarm])).unwrap();
    assert!(matches!(d.kind, TrapKind::UpsAlarmAdded { alarm: Some(_) }));
}

#[test]
fn unknown_traps_are_kept_as_other() {
    let d = dec(&v2c_trap(
        "public",
        "1.3.6.1.4.1.2011.5.25.127.2.30.2",
        &[vb("1.3.6.1.4.1.2011.1", &tlv(4, &[b"fan failed"]))],
    ))
    .unwrap();
    assert_eq!(d.kind, TrapKind::Other);
    assert_eq!(d.trap_oid, o("1.3.6.1.4.1.2011.5.25.127.2.30.2"));
    assert_eq!(d.varbinds.len(), 1);
}

#[test]
fn swapped_header_varbinds_are_understood_and_missing_ones_refused() {
    let swapped = message(
        1,
        "public",
        &pdu(
            ber::PDU_TRAP_V2,
            1,
            &[
                vb("1.3.6.1.6.3.1.1.4.1.0", &oid_tlv("1.3.6.1.6.3.1.1.5.1")),
                vb("1.3.6.1.2.1.1.3.0", &ticks(9)),
            ],
        ),
    );
    let d = dec(&swapped).unwrap();
    assert_eq!(
        (d.kind, d.uptime, d.varbinds.len()),
        (TrapKind::ColdStart, Some(9), 0)
    );
    let without = message(1, "public", &pdu(ber::PDU_TRAP_V2, 1, &[if_index_vb(1)]));
    assert_eq!(dec(&without).unwrap_err().reason, RejectReason::DecodeError);
}

#[test]
fn communities_requests_and_misplaced_pdus_are_refused_by_reason() {
    let trap = |c: &str| v2c_trap(c, "1.3.6.1.6.3.1.1.5.1", &[]);
    assert_eq!(
        dec(&trap("Public")).unwrap_err().reason,
        RejectReason::BadCommunity
    );
    assert_eq!(
        dec(&trap("")).unwrap_err().reason,
        RejectReason::BadCommunity
    );
    assert_eq!(
        dec(&trap("publicx")).unwrap_err().reason,
        RejectReason::BadCommunity
    );
    let mut none = config();
    none.communities.clear();
    assert_eq!(
        decode(&trap("public"), &none, keys()).unwrap_err().reason,
        RejectReason::BadCommunity
    );
    let get = message(
        1,
        "public",
        &pdu(ber::PDU_GET, 1, &[vb("1.3.6.1.2.1.1.3.0", &[5, 0])]),
    );
    assert_eq!(dec(&get).unwrap_err().reason, RejectReason::NotATrap);
    let resp = message(0, "public", &pdu(ber::PDU_RESPONSE, 1, &[]));
    assert_eq!(dec(&resp).unwrap_err().reason, RejectReason::NotATrap);
    // A v2 trap in a v1 message, and a v1 trap in a v2c one.
    let v2_in_v1 = message(0, "public", &pdu(ber::PDU_TRAP_V2, 1, &[]));
    assert_eq!(
        dec(&v2_in_v1).unwrap_err().reason,
        RejectReason::DecodeError
    );
    let mut v1_in_v2 = v1_trap("public", "1.3.6.1.4.1.9", 0, 0, &[]);
    v1_in_v2[4] = 1; // the version INTEGER's value
    assert_eq!(
        dec(&v1_in_v2).unwrap_err().reason,
        RejectReason::DecodeError
    );
    let v2_version = message(2, "public", &pdu(ber::PDU_TRAP_V2, 1, &[]));
    assert_eq!(
        dec(&v2_version).unwrap_err().reason,
        RejectReason::DecodeError
    );
}

#[test]
fn recorded_v3_traps_decode_at_every_security_level() {
    let cases = [
        (
            V3_SHA_AES,
            TrapKind::LinkDown { if_index: Some(7) },
            "1.3.6.1.6.3.1.1.5.3",
            true,
        ),
        (V3_MD5, TrapKind::ColdStart, "1.3.6.1.6.3.1.1.5.1", true),
        (V3_NOAUTH, TrapKind::WarmStart, "1.3.6.1.6.3.1.1.5.2", false),
        (
            V3_SHA256_AES256,
            TrapKind::UpsAlarmAdded {
                alarm: Some(o("1.3.6.1.2.1.33.1.6.3.2")),
            },
            "1.3.6.1.2.1.33.2.3",
            true,
        ),
        (
            V3_SHA_DES,
            TrapKind::UpsOnBattery,
            "1.3.6.1.2.1.33.2.1",
            true,
        ),
    ];
    for (fixture, kind, trap_oid, authenticated) in cases {
        let d = dec(&hex(fixture)).unwrap_or_else(|e| panic!("{trap_oid}: {e}"));
        assert_eq!(d.version, TrapVersion::V3);
        assert_eq!(d.kind, kind);
        assert_eq!(d.trap_oid, o(trap_oid));
        assert_eq!(d.uptime, Some(12_345));
        assert!(!d.inform && d.reply.is_none());
        match d.engine {
            Some(clock) => {
                assert!(authenticated);
                assert_eq!((clock.engine_id, clock.boots), (ENGINE.to_vec(), 1));
            }
            None => assert!(!authenticated, "{trap_oid}"),
        }
    }
}

#[test]
fn v3_wrong_keys_users_engines_and_levels_are_refused() {
    let datagram = hex(V3_SHA_AES);
    let with = |users: Vec<V3TrapUser>| {
        let keys = UsmKeys::new(&users).unwrap();
        decode(&datagram, &config(), &keys).unwrap_err()
    };
    let sha = Some((AuthProtocol::Sha1, "authpass123"));
    let aes = Some((PrivProtocol::Aes128, "privpass123"));
    let wrong_auth = with(vec![user(
        "tuser",
        Some((AuthProtocol::Sha1, "wrongpass123")),
        aes,
    )]);
    assert_eq!(wrong_auth.reason, RejectReason::AuthFailed);
    let wrong_priv = with(vec![user(
        "tuser",
        sha,
        Some((PrivProtocol::Aes128, "wrongpass123")),
    )]);
    assert_eq!(wrong_priv.reason, RejectReason::AuthFailed);
    let wrong_proto = with(vec![user(
        "tuser",
        Some((AuthProtocol::Md5, "authpass123")),
        aes,
    )]);
    assert_eq!(wrong_proto.reason, RejectReason::AuthFailed);
    let downgrade = with(vec![user("tuser", sha, None)]);
    assert_eq!(downgrade.reason, RejectReason::AuthFailed);
    assert_eq!(with(vec![]).reason, RejectReason::UnknownUser);
    let mut elsewhere = user("tuser", sha, aes);
    elsewhere.engine_id = Some(vec![0x80, 0, 0, 0, 9]);
    assert_eq!(with(vec![elsewhere]).reason, RejectReason::UnknownUser);

    // Any engine learned, when the user names none.
    let mut any = user("tuser", sha, aes);
    any.engine_id = None;
    let keys = UsmKeys::new(&[any]).unwrap();
    for _ in 0..2 {
        let d = decode(&datagram, &config(), &keys).unwrap();
        assert_eq!(d.kind, TrapKind::LinkDown { if_index: Some(7) });
    }

    // One flipped bit anywhere after the header breaks the HMAC.
    let mut tampered = datagram.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(dec(&tampered).unwrap_err().reason, RejectReason::AuthFailed);
}

fn assert_decode_error(datagram: &[u8], what: &str) {
    match dec(datagram) {
        Err(r) => assert_eq!(r.reason, RejectReason::DecodeError, "{what}: {r}"),
        Ok(d) => panic!("{what}: decoded {d:?}"),
    }
}

#[test]
fn every_truncation_of_every_valid_datagram_is_a_decode_error() {
    for datagram in valid_datagrams() {
        dec(&datagram).expect("the seed is valid");
        for len in 0..datagram.len() {
            assert_decode_error(&datagram[..len], &format!("cut at {len}"));
        }
        let mut longer = datagram.clone();
        longer.push(0);
        assert_decode_error(&longer, "trailing octet");
    }
}

#[test]
fn lying_lengths_unknown_tags_and_huge_values_are_decode_errors() {
    let trap = |rest: &[Vec<u8>]| v2c_trap("public", "1.3.6.1.6.3.1.1.5.3", rest);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one octet", vec![0x30]),
        ("not a sequence", vec![0x04, 0x00]),
        ("outer length too long", vec![0x30, 0x7f, 0x02, 0x01, 0x01]),
        (
            "length of 4 GiB",
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02],
        ),
        (
            "length of length 8",
            vec![0x30, 0x88, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1, 1],
        ),
        (
            "indefinite length",
            vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00],
        ),
        ("multi-octet tag", vec![0x3f, 0x81, 0x00, 0x00]),
        (
            "varbind length lies",
            trap(&[vec![0x30, 0x7f, 0x06, 0x01, 0x2b, 0x05, 0x00]]),
        ),
        (
            "unknown value tag",
            trap(&[vb("1.3.6.1.4.1.1", &[0x47, 0x01, 0x00])]),
        ),
        (
            "constructed value",
            trap(&[vb("1.3.6.1.4.1.1", &tlv(0x30, &[&int(1)]))]),
        ),
        (
            "context tag value",
            trap(&[vb("1.3.6.1.4.1.1", &[0x83, 0x00])]),
        ),
        (
            "null with contents",
            trap(&[vb("1.3.6.1.4.1.1", &[0x05, 0x01, 0x00])]),
        ),
        (
            "integer of 9 octets",
            trap(&[vb("1.3.6.1.4.1.1", &tlv(2, &[&[1; 9]]))]),
        ),
        ("empty integer", trap(&[vb("1.3.6.1.4.1.1", &[0x02, 0x00])])),
        (
            "Counter32 of 6 octets",
            trap(&[vb("1.3.6.1.4.1.1", &tlv(0x41, &[&[1; 6]]))]),
        ),
        (
            "Counter64 of 10 octets",
            trap(&[vb("1.3.6.1.4.1.1", &tlv(0x46, &[&[1; 10]]))]),
        ),
        (
            "IpAddress of 5 octets",
            trap(&[vb("1.3.6.1.4.1.1", &tlv(0x40, &[&[1; 5]]))]),
        ),
        (
            "OID arc over 32 bits",
            trap(&[tlv(
                0x30,
                &[&[0x06, 0x06, 0x2b, 0x90, 0x80, 0x80, 0x80, 0x00], &[5, 0]],
            )]),
        ),
        (
            "OID of 200 arcs",
            trap(&[tlv(0x30, &[&tlv(6, &[&[0x2b; 200]]), &[5, 0]])]),
        ),
        ("empty OID", trap(&[tlv(0x30, &[&[6, 0], &[5, 0]])])),
        (
            "varbind with three fields",
            trap(&[tlv(0x30, &[&oid_tlv("1.3.6.1"), &[5, 0], &[5, 0]])]),
        ),
        ("unknown PDU tag", message(1, "public", &pdu(0xa9, 1, &[]))),
        (
            "application PDU tag",
            message(1, "public", &pdu(0x64, 1, &[])),
        ),
        ("request-id of 9 octets", {
            let body = tlv(
                0xa7,
                &[&tlv(2, &[&[0x7f; 9]]), &int(0), &int(0), &tlv(0x30, &[])],
            );
            message(1, "public", &body)
        }),
        ("snmpTrapOID.0 not an OID", {
            let vbs = vec![
                vb("1.3.6.1.2.1.1.3.0", &ticks(1)),
                vb("1.3.6.1.6.3.1.1.4.1.0", &int(5)),
            ];
            message(1, "public", &pdu(ber::PDU_TRAP_V2, 1, &vbs))
        }),
        (
            "huge version",
            tlv(0x30, &[&tlv(2, &[&[0x7f; 8]]), &tlv(4, &[b"public"])]),
        ),
        ("community not a string", tlv(0x30, &[&int(1), &int(1)])),
    ];
    for (what, datagram) in cases {
        assert_decode_error(&datagram, what);
    }
}

#[test]
fn malformed_v3_frames_are_decode_errors() {
    let good = hex(V3_SHA_AES);
    // msgFlags is the OCTET STRING at 0x13, security model the INTEGER at 0x16.
    assert_eq!(&good[0x13..0x19], &[0x04, 0x01, 0x03, 0x02, 0x01, 0x03]);
    let mut priv_only = good.clone();
    priv_only[0x15] = 0x02;
    assert_decode_error(&priv_only, "privacy without authentication");
    let mut model = good.clone();
    model[0x18] = 2;
    assert_decode_error(&model, "security model");
    // Plaintext flags with an encrypted payload.
    let mut mismatch = good.clone();
    mismatch[0x15] = 0x01;
    assert_decode_error(&mismatch, "msgData against msgFlags");
}

#[test]
fn deep_nesting_costs_nothing() {
    let mut deep = vec![0x05, 0x00];
    for _ in 0..15_000 {
        deep = tlv(ber::SEQUENCE, &[&deep]);
    }
    assert!(deep.len() < 65_536);
    assert_decode_error(&deep, "nested message");
    let mut inner = vec![0x05, 0x00];
    for _ in 0..12_000 {
        inner = tlv(ber::SEQUENCE, &[&inner]);
    }
    let datagram = v2c_trap(
        "public",
        "1.3.6.1.6.3.1.1.5.3",
        &[vb("1.3.6.1.4.1.1", &inner)],
    );
    assert_decode_error(&datagram, "nested value");
    // Indefinite-length nesting, 60,000 levels deep.
    let mut indefinite = Vec::new();
    for _ in 0..30_000 {
        indefinite.extend([0x30, 0x80]);
    }
    assert_decode_error(&indefinite, "indefinite nesting");
}

/// Property: `decode` is total. 100,000 datagrams, half random bytes, half
/// valid datagrams (every version and v3 level) with a few mutations; none
/// may panic, and every rejection has a reason. Run with a fixed seed from
/// `TRAPS_FUZZ_SEED` to reproduce a failure.
#[test]
fn decode_never_panics_on_random_or_mutated_datagrams() {
    let seed = std::env::var("TRAPS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let iterations: usize = std::env::var("TRAPS_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    eprintln!("TRAPS_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let seeds = valid_datagrams();
    let config = config();
    let mut accepted = 0usize;
    let mut by_reason = std::collections::HashMap::new();
    for i in 0..iterations {
        let datagram = if i % 2 == 0 {
            random_datagram(&mut rng)
        } else {
            let mut d = seeds[rng.random_range(0..seeds.len())].clone();
            for _ in 0..rng.random_range(1..=4) {
                mutate(&mut rng, &mut d);
            }
            d
        };
        let outcome = std::panic::catch_unwind(|| decode(&datagram, &config, keys()));
        match outcome {
            Err(_) => panic!("panic on {datagram:02x?} (TRAPS_FUZZ_SEED={seed})"),
            Ok(Ok(d)) => {
                accepted += 1;
                assert_eq!(d.reply.is_some(), d.inform, "{datagram:02x?}");
            }
            Ok(Err(r)) => *by_reason.entry(r.reason.as_str()).or_insert(0usize) += 1,
        }
    }
    eprintln!("accepted {accepted}, rejected {by_reason:?}");
    assert!(by_reason.get("decode_error").copied().unwrap_or(0) > iterations / 3);
}

fn random_datagram(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.random_range(0..600);
    let mut d: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    // Often a plausible start, so the reader gets past the first TLV.
    if len > 4 && rng.random_bool(0.5) {
        d[0] = 0x30;
        if len - 2 < 0x80 {
            d[1] = (len - 2) as u8;
        } else {
            d[1] = 0x82;
            d[2] = ((len - 4) >> 8) as u8;
            d[3] = (len - 4) as u8;
        }
    }
    d
}

fn mutate(rng: &mut StdRng, d: &mut Vec<u8>) {
    if d.is_empty() {
        d.push(rng.random());
        return;
    }
    let at = rng.random_range(0..d.len());
    match rng.random_range(0..7) {
        0 => d[at] ^= 1 << rng.random_range(0..8),
        1 => d[at] = rng.random(),
        2 => d[at] = [0x00, 0x7f, 0x80, 0x81, 0x84, 0xff][rng.random_range(0..6)],
        3 => d.insert(at, rng.random()),
        4 => {
            d.remove(at);
        }
        5 => d.truncate(at),
        _ => {
            let end = rng.random_range(at..d.len()).min(at + 16);
            let chunk = d[at..=end].to_vec();
            d.splice(at..at, chunk);
        }
    }
}

#[test]
fn a_sentinel_secret_never_appears_in_debug_or_errors() {
    let sentinel = "sentinel-4711";
    let mut config = config();
    config.communities = vec![Secret::new(format!("{sentinel}-community"))];
    config.v3_users[0].auth.as_mut().unwrap().pass = Secret::new(format!("{sentinel}-auth"));
    config.v3_users[0].privacy.as_mut().unwrap().pass = Secret::new(format!("{sentinel}-priv"));
    let keys = UsmKeys::new(&config.v3_users).unwrap();
    let community = format!("{sentinel}-community");
    let mut texts = vec![format!("{config:?}"), format!("{keys:?}")];
    for datagram in [
        v2c_trap(&community, "1.3.6.1.6.3.1.1.5.3", &[if_index_vb(1)]),
        message(
            1,
            &community,
            &pdu(
                ber::PDU_INFORM,
                3,
                &notification_varbinds("1.3.6.1.6.3.1.1.5.1", &[]),
            ),
        ),
        v1_trap(&community, "1.3.6.1.4.1.9", 0, 0, &[]),
        v2c_trap(&format!("{sentinel}-wrong"), "1.3.6.1.6.3.1.1.5.3", &[]),
        message(1, &community, &pdu(ber::PDU_GET, 1, &[])),
        message(1, &community, &pdu(0xa9, 1, &[])),
        hex(V3_SHA_AES),
    ] {
        match decode(&datagram, &config, &keys) {
            Ok(d) => {
                texts.push(format!("{d:?}"));
                let reply = d.reply.clone();
                texts.push(format!(
                    "{:?}",
                    d.into_event("127.0.0.1:1".parse().unwrap(), jiff::Timestamp::UNIX_EPOCH)
                ));
                if let Some(r) = reply {
                    // The reply itself must carry the community on the wire.
                    assert!(r
                        .bytes()
                        .windows(community.len())
                        .any(|w| w == community.as_bytes()));
                    texts.push(format!("{r:?}"));
                }
            }
            Err(r) => texts.extend([format!("{r:?}"), r.to_string()]),
        }
    }
    let mut short = config.v3_users[0].clone();
    short.user = "x".repeat(40);
    texts.push(UsmKeys::new(&[short]).unwrap_err().to_string());
    texts.push(
        TrapError::bind(
            "127.0.0.1:162".parse().unwrap(),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        )
        .to_string(),
    );
    for text in &texts {
        assert!(!text.contains("sentinel"), "{text}");
    }
    assert!(texts.iter().any(|t| t.contains("bad_community")));
}

#[test]
fn bind_errors_name_the_address_and_the_capability() {
    let e = TrapError::bind(
        "0.0.0.0:162".parse().unwrap(),
        std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    )
    .to_string();
    assert!(
        e.contains("0.0.0.0:162") && e.contains("CAP_NET_BIND_SERVICE"),
        "{e}"
    );
    let e = TrapError::bind(
        "0.0.0.0:10162".parse().unwrap(),
        std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    )
    .to_string();
    assert!(!e.contains("CAP_NET_BIND_SERVICE"), "{e}");
}

#[test]
fn stats_list_every_reason_and_version() {
    let stats = TrapStats::default();
    stats.count_rejected(RejectReason::AuthFailed);
    stats.count_rejected(RejectReason::AuthFailed);
    stats.count_received(TrapVersion::V2c);
    assert_eq!(
        stats.rejected_by_reason(),
        vec![
            ("bad_community", 0),
            ("auth_failed", 2),
            ("unknown_user", 0),
            ("decode_error", 0),
            ("not_a_trap", 0)
        ]
    );
    assert_eq!(
        stats.received_by_version(),
        vec![("v1", 0), ("v2c", 1), ("v3", 0)]
    );
}

/// `-u aes192user -l authPriv -a SHA -A authpass123 -x AES-192 -X privpass123`, coldStart.
const V3_SHA_AES192: &str = "3081a20201033011020452de7d1c020300ffe30401030201030438303604088000000001020304020101020303b3b0040a61657331393275736572040ceb9bb187c328a62d6c1aea870408f4f46e931470bb980450ccf96ac7b60e47755c7a3278855bf7d9a323a3c693f3a75469426489914e396f7f9b8b81930f5993b67a97410aa829dba7148d519d7980a4a5a0766e266f27b85f332e306bb47fe549baf486b6c19632";
/// `-u aes256cuser -l authPriv -a SHA -A authpass123 -x AES-256-C -X privpass123`, warmStart.
const V3_SHA_AES256C: &str = "3081a3020103301102040b412d80020300ffe30401030201030439303704088000000001020304020101020303b3b1040b6165733235366375736572040c60067933a922a6554a6e3b7c040869bbbbd5779dd1270450ba37425ddc4ace99f0b39a0140b7e468f4d2ee4d8131e88ecd8d96d6a53d6596bb29960146da8adfe911f25abb8cb28ffc1827fce1f7ecd4466540fde4ad20a2ed044b7567b8bf7183db2378e0b4a94a";

#[test]
fn aes_192_and_256_keys_are_extended_as_net_snmp_does() {
    let case = |fixture: &str, name: &str, protocol, extension| {
        let mut u = user(
            name,
            Some((AuthProtocol::Sha1, "authpass123")),
            Some((protocol, "privpass123")),
        );
        u.privacy.as_mut().unwrap().key_extension = Some(extension);
        let keys = UsmKeys::new(&[u]).unwrap();
        decode(&hex(fixture), &config(), &keys).map(|d| d.kind)
    };
    // net-snmp's AES-192/AES-256 follow Blumenthal; its "-C" (Cisco)
    // variants follow Reeder.
    assert_eq!(
        case(
            V3_SHA_AES192,
            "aes192user",
            PrivProtocol::Aes192,
            KeyExtension::Blumenthal
        ),
        Ok(TrapKind::ColdStart)
    );
    assert_eq!(
        case(
            V3_SHA_AES192,
            "aes192user",
            PrivProtocol::Aes192,
            KeyExtension::Reeder
        )
        .unwrap_err()
        .reason,
        RejectReason::AuthFailed
    );
    assert_eq!(
        case(
            V3_SHA_AES256C,
            "aes256cuser",
            PrivProtocol::Aes256,
            KeyExtension::Reeder
        ),
        Ok(TrapKind::WarmStart)
    );
}
