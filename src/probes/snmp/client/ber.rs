//! The few BER encodings the client writes itself: the SNMPv3 engine
//! discovery request (snmp2 builds it only inside `AsyncSession::init`, which
//! cannot hand the learned engine state back) and, in tests, the replies of
//! deliberately broken agents.

/// Universal and SNMP tags (X.690, RFC 3416 §3).
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
#[cfg(test)]
pub const OBJECT_IDENTIFIER: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const GET_REQUEST: u8 = 0xa0;
#[cfg(test)]
pub const RESPONSE: u8 = 0xa2;

/// Tag, definite length (short or long form), content.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// INTEGER in the fewest two's-complement octets.
pub fn integer(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(INTEGER, &bytes[start..])
}

pub fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, bytes)
}

/// OBJECT IDENTIFIER; callers pass at least two arcs with a valid first pair.
#[cfg(test)]
pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = (v & 0x7f) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        content.extend_from_slice(&tmp[i..]);
    };
    push(u64::from(arcs[0]) * 40 + u64::from(arcs[1]));
    for arc in &arcs[2..] {
        push(u64::from(*arc));
    }
    tlv(OBJECT_IDENTIFIER, &content)
}

pub fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The unauthenticated, reportable GET with an empty engine ID and user that
/// makes an agent answer with a Report carrying its engine ID, boots and time
/// (RFC 3414 §4, "discovery").
pub fn v3_discovery_request(msg_id: i32, max_size: i64) -> Vec<u8> {
    let usm = tlv(
        SEQUENCE,
        &concat(&[
            octet_string(b""), // msgAuthoritativeEngineID
            integer(0),        // msgAuthoritativeEngineBoots
            integer(0),        // msgAuthoritativeEngineTime
            octet_string(b""), // msgUserName
            octet_string(b""), // msgAuthenticationParameters
            octet_string(b""), // msgPrivacyParameters
        ]),
    );
    let pdu = tlv(
        GET_REQUEST,
        &concat(&[
            integer(i64::from(msg_id)), // request-id
            integer(0),                 // error-status
            integer(0),                 // error-index
            tlv(SEQUENCE, &[]),         // no varbinds
        ]),
    );
    tlv(
        SEQUENCE,
        &concat(&[
            integer(3), // msgVersion: SNMPv3
            tlv(
                SEQUENCE,
                &concat(&[
                    integer(i64::from(msg_id)),
                    integer(max_size),
                    octet_string(&[0x04]), // msgFlags: reportable, noAuthNoPriv
                    integer(3),            // msgSecurityModel: USM
                ]),
            ),
            octet_string(&usm),
            tlv(
                SEQUENCE,
                &concat(&[octet_string(b""), octet_string(b""), pdu]),
            ),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_lengths_use_the_shortest_form() {
        assert_eq!(integer(0), [0x02, 0x01, 0x00]);
        assert_eq!(integer(127), [0x02, 0x01, 0x7f]);
        assert_eq!(integer(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(-1), [0x02, 0x01, 0xff]);
        assert_eq!(integer(-129), [0x02, 0x02, 0xff, 0x7f]);
        assert_eq!(integer(65_507), [0x02, 0x03, 0x00, 0xff, 0xe3]);
        let long = tlv(OCTET_STRING, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(
            oid(&[1, 3, 6, 1, 4, 1, 2021]),
            [0x06, 0x07, 0x2b, 6, 1, 4, 1, 0x8f, 0x65]
        );
    }

    /// Byte for byte what snmp2's own `AsyncSession::init` sends, captured
    /// on a socket standing in for the agent.
    #[tokio::test]
    async fn the_discovery_request_matches_snmp2s_own() {
        let agent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let security = snmp2::v3::Security::new(b"user", b"password");
        let mut session = snmp2::AsyncSession::new_v3(agent.local_addr().unwrap(), 4711, security)
            .await
            .unwrap();
        let init = tokio::spawn(async move {
            // No answer comes; the task is aborted below.
            let _ = session.init().await;
        });
        let mut buf = [0u8; 1500];
        let (n, _) = agent.recv_from(&mut buf).await.unwrap();
        init.abort();
        assert_eq!(buf[..n], v3_discovery_request(4711, 65_507)[..]);
    }
}
