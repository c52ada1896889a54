//! One datagram in, a [`Decoded`] notification or a [`Reject`] with a stable
//! reason out: pure and total, never a panic. v1 and v2c messages, and the
//! frame of v3 ones, are read with the BER reader; the response to an inform
//! is written here too.

use std::net::Ipv4Addr;

use super::usm::{self, UsmKeys};
use super::{Decoded, Reject, RejectReason, Reply, TrapConfig, TrapKind, TrapVersion};
use crate::probes::snmp::ber::{self, Reader};
use crate::probes::snmp::oids::{
    IF_INDEX, SNMP_TRAPS, SNMP_TRAP_ADDRESS_0, SNMP_TRAP_ENTERPRISE_0, SNMP_TRAP_OID_0, SYS_UPTIME,
    UPS_ALARM_DESCR, UPS_TRAPS,
};
use crate::probes::snmp::{Oid, Value, Varbind};

/// A PDU of the RFC 3416 shape (everything but the v1 Trap-PDU), read.
pub(super) struct Pdu {
    pub(super) tag: u8,
    pub(super) request_id: i64,
    pub(super) varbinds: Vec<Varbind>,
    /// The VarBindList TLV as received, kept for an inform's response.
    pub(super) raw_varbinds: Option<Vec<u8>>,
}

/// PDU ::= [tag] IMPLICIT SEQUENCE { request-id, error-status, error-index,
/// variable-bindings } (RFC 3416 §3). Any PDU tag is read the same way; the
/// caller decides what the tag means.
pub(super) fn parse_pdu(tag: u8, contents: &[u8]) -> Result<Pdu, ber::BerError> {
    if !(ber::PDU_GET..=ber::PDU_REPORT).contains(&tag) {
        return Err("unknown PDU type");
    }
    if tag == ber::PDU_TRAP_V1 {
        return Err("SNMPv1 Trap-PDU outside an SNMPv1 message");
    }
    let mut r = Reader::new(contents);
    let request_id = r.integer("request-id not an INTEGER")?;
    r.integer("error-status not an INTEGER")?;
    r.integer("error-index not an INTEGER")?;
    let (list_tag, list, list_tlv) = r.tlv()?;
    r.finish()?;
    if list_tag != ber::SEQUENCE {
        return Err("variable-bindings not a SEQUENCE");
    }
    Ok(Pdu {
        tag,
        request_id,
        varbinds: ber::read::varbinds(list)?,
        raw_varbinds: (tag == ber::PDU_INFORM).then(|| list_tlv.to_vec()),
    })
}

/// Decodes one datagram: what it is, or why it is refused. Pure, total and
/// cheap except for a v3 user without a configured engine ID, whose keys are
/// localised once per new engine.
pub fn decode(datagram: &[u8], config: &TrapConfig, usm: &UsmKeys) -> Result<Decoded, Reject> {
    let mut top = Reader::new(datagram);
    let (tag, contents, whole) = top.tlv().map_err(Reject::decode)?;
    if tag != ber::SEQUENCE {
        return Err(Reject::decode("message not a SEQUENCE"));
    }
    top.finish().map_err(Reject::decode)?;
    let mut msg = Reader::new(contents);
    let version = match msg
        .integer("version not an INTEGER")
        .map_err(Reject::decode)?
    {
        0 => TrapVersion::V1,
        1 => TrapVersion::V2c,
        3 => TrapVersion::V3,
        _ => return Err(Reject::decode("unknown SNMP version")),
    };

    if version == TrapVersion::V3 {
        let v3 = usm::decode_v3(whole, msg, usm)?;
        let mut decoded = notification(TrapVersion::V3, v3.pdu)?;
        decoded.engine = v3.clock;
        return Ok(decoded);
    }

    let community = msg
        .octets("community not an OCTET STRING")
        .map_err(Reject::decode)?;
    if !config
        .communities
        .iter()
        .any(|c| constant_time_eq(c.expose().as_bytes(), community))
    {
        return Err(Reject::new(
            RejectReason::BadCommunity,
            "community not configured",
        ));
    }
    let (pdu_tag, pdu, _) = msg.tlv().map_err(Reject::decode)?;
    msg.finish().map_err(Reject::decode)?;

    if version == TrapVersion::V1 {
        return match pdu_tag {
            ber::PDU_TRAP_V1 => v1_trap(pdu).map_err(Reject::decode),
            ber::PDU_GET | ber::PDU_GET_NEXT | ber::PDU_RESPONSE | ber::PDU_SET => Err(
                Reject::new(RejectReason::NotATrap, "SNMPv1 request or response"),
            ),
            _ => Err(Reject::decode("PDU type not allowed in SNMPv1")),
        };
    }

    let pdu = parse_pdu(pdu_tag, pdu).map_err(Reject::decode)?;
    let reply = pdu
        .raw_varbinds
        .as_deref()
        .map(|list| inform_response(community, pdu.request_id, list));
    let mut decoded = notification(TrapVersion::V2c, pdu)?;
    decoded.reply = reply;
    Ok(decoded)
}

/// An SNMPv2-Trap-PDU or InformRequest-PDU (RFC 3416 §4.2.6, §4.2.7).
fn notification(version: TrapVersion, pdu: Pdu) -> Result<Decoded, Reject> {
    let inform = match pdu.tag {
        ber::PDU_TRAP_V2 => false,
        // Acknowledging a v3 inform needs netkpi to be an authoritative
        // engine with its own engine ID and discovery (RFC 3414 §4); not
        // offered, so senders should use v3 traps.
        ber::PDU_INFORM if version == TrapVersion::V3 => {
            return Err(Reject::new(
                RejectReason::NotATrap,
                "SNMPv3 informs are not accepted; send v3 traps",
            ))
        }
        ber::PDU_INFORM => true,
        _ => {
            return Err(Reject::new(
                RejectReason::NotATrap,
                "request, response or report",
            ))
        }
    };
    let mut varbinds = pdu.varbinds;
    // RFC 3416 §4.2.6: the first two bindings are sysUpTime.0 and
    // snmpTrapOID.0. Agents that swap them are still understood.
    let head = varbinds.len().min(2);
    let trap_oid = varbinds[..head]
        .iter()
        .position(|vb| vb.oid.arcs() == SNMP_TRAP_OID_0)
        .map(|i| varbinds.remove(i).value);
    let Some(Value::ObjectId(trap_oid)) = trap_oid else {
        return Err(Reject::decode(
            "no snmpTrapOID.0 among the first two varbinds",
        ));
    };
    let uptime = match varbinds.first() {
        Some(Varbind {
            oid,
            value: Value::TimeTicks(t),
        }) if oid.arcs() == SYS_UPTIME => {
            let t = *t;
            varbinds.remove(0);
            Some(t)
        }
        _ => None,
    };
    Ok(Decoded {
        version,
        inform,
        agent_addr: None,
        kind: classify(&trap_oid, &varbinds),
        trap_oid,
        uptime,
        varbinds,
        engine: None,
        reply: None,
    })
}

/// Trap-PDU ::= [4] IMPLICIT SEQUENCE { enterprise, agent-addr, generic-trap,
/// specific-trap, time-stamp, variable-bindings } (RFC 1157 §4.1.6).
fn v1_trap(contents: &[u8]) -> Result<Decoded, ber::BerError> {
    let mut r = Reader::new(contents);
    let enterprise = r.oid("enterprise not an OID")?;
    let addr = r.expect(ber::IP_ADDRESS, "agent-addr not an IpAddress")?;
    let agent_addr =
        Ipv4Addr::from(<[u8; 4]>::try_from(addr).map_err(|_| "agent-addr not 4 octets")?);
    let generic = r.integer("generic-trap not an INTEGER")?;
    let specific = r.integer("specific-trap not an INTEGER")?;
    let uptime = ber::read::timeticks(&mut r, "time-stamp not TimeTicks")?;
    let list = r.expect(ber::SEQUENCE, "variable-bindings not a SEQUENCE")?;
    r.finish()?;
    let mut varbinds = ber::read::varbinds(list)?;

    // RFC 3584 §3.1 (2).
    let trap_oid = match generic {
        0..=5 => Oid(SNMP_TRAPS.to_vec()).child(generic as u32 + 1),
        6 => {
            let specific = u32::try_from(specific).map_err(|_| "specific-trap out of range")?;
            enterprise.child(0).child(specific)
        }
        _ => return Err("generic-trap out of range"),
    };
    // RFC 3584 §3.1 (3), except snmpTrapCommunity.0 (a secret).
    for (oid, value) in [
        (SNMP_TRAP_ADDRESS_0, Value::IpAddress(agent_addr.octets())),
        (SNMP_TRAP_ENTERPRISE_0, Value::ObjectId(enterprise)),
    ] {
        if !varbinds.iter().any(|vb| vb.oid.arcs() == oid) {
            varbinds.push(Varbind {
                oid: Oid(oid.to_vec()),
                value,
            });
        }
    }
    Ok(Decoded {
        version: TrapVersion::V1,
        inform: false,
        agent_addr: Some(agent_addr),
        kind: classify(&trap_oid, &varbinds),
        trap_oid,
        uptime: Some(uptime),
        varbinds,
        engine: None,
        reply: None,
    })
}

fn classify(trap_oid: &Oid, varbinds: &[Varbind]) -> TrapKind {
    let arcs = trap_oid.arcs();
    if let Some(&[n]) = arcs.strip_prefix(SNMP_TRAPS) {
        return match n {
            1 => TrapKind::ColdStart,
            2 => TrapKind::WarmStart,
            3 => TrapKind::LinkDown {
                if_index: if_index(varbinds),
            },
            4 => TrapKind::LinkUp {
                if_index: if_index(varbinds),
            },
            5 => TrapKind::AuthenticationFailure,
            _ => TrapKind::Other,
        };
    }
    // RFC 1628 defines upsTrapOnBattery as upsTraps.1; an SMIv1 agent sends
    // enterprise upsTraps with specific-trap 1, which RFC 3584 §3.1 turns
    // into upsTraps.0.1. Both spell the same notification.
    let ups = match arcs.strip_prefix(UPS_TRAPS) {
        Some(&[n]) | Some(&[0, n]) => n,
        _ => return TrapKind::Other,
    };
    match ups {
        1 => TrapKind::UpsOnBattery,
        3 => TrapKind::UpsAlarmAdded {
            alarm: ups_alarm(varbinds),
        },
        4 => TrapKind::UpsAlarmRemoved {
            alarm: ups_alarm(varbinds),
        },
        // 2 is upsTrapTestCompleted: nothing for availability.
        _ => TrapKind::Other,
    }
}

/// ifIndex.N's value, or N when the value is not a usable integer.
fn if_index(varbinds: &[Varbind]) -> Option<u32> {
    varbinds.iter().find_map(|vb| {
        let suffix = vb.oid.arcs().strip_prefix(IF_INDEX)?;
        match (&vb.value, suffix) {
            (Value::Integer(i), _) if u32::try_from(*i).is_ok() => u32::try_from(*i).ok(),
            (_, &[n]) => Some(n),
            _ => None,
        }
    })
}

fn ups_alarm(varbinds: &[Varbind]) -> Option<Oid> {
    varbinds.iter().find_map(|vb| match &vb.value {
        Value::ObjectId(alarm) if vb.oid.arcs().starts_with(UPS_ALARM_DESCR) => Some(alarm.clone()),
        _ => None,
    })
}

/// Response-PDU for an SNMPv2c inform: same request-id, noError, the
/// inform's variable-bindings unchanged (RFC 3416 §4.2.7).
fn inform_response(community: &[u8], request_id: i64, varbinds_tlv: &[u8]) -> Reply {
    use ber::write::{concat, integer, octet_string, tlv};
    let pdu = tlv(
        ber::PDU_RESPONSE,
        &concat(&[
            integer(request_id),
            integer(0),
            integer(0),
            varbinds_tlv.to_vec(),
        ]),
    );
    let msg = concat(&[integer(1), octet_string(community), pdu]);
    Reply(tlv(ber::SEQUENCE, &msg))
}

/// Compares without an early exit, so response timing does not reveal how
/// much of a guessed community was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
