//! The few BER encodings the client writes itself: the SNMPv3 engine
//! discovery request (snmp2 builds it only inside `AsyncSession::init`, which
//! cannot hand the learned engine state back) and, in tests, the replies of
//! deliberately broken agents. The encoder is the shared one,
//! [`crate::probes::snmp::ber::write`], re-exported here.

#[cfg(test)]
pub use crate::probes::snmp::ber::write::oid;
pub use crate::probes::snmp::ber::write::{concat, integer, octet_string, tlv};
pub use crate::probes::snmp::ber::SEQUENCE;
#[cfg(test)]
pub use crate::probes::snmp::ber::{INTEGER, OCTET_STRING};
// The response tag by the name the client's tests use.
#[cfg(test)]
pub use crate::probes::snmp::ber::PDU_RESPONSE as RESPONSE;

use crate::probes::snmp::ber::PDU_GET;

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
        PDU_GET,
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
