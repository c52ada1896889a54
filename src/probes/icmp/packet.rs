//! ICMP echo encoder and reply decoder (RFC 792 for IPv4, RFC 4443 for IPv6).
//!
//! Our own: surge-ping's echo builder was private and its parser could not
//! tell us *why* a packet was ignored. Everything here is pure and
//! total: [`decode`] returns an error kind for any input and never panics,
//! which the property test at the bottom checks with random and truncated
//! buffers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Echo request payload length: the 56 bytes `ping` and `fping` send, so a
/// device sees the same packets from netkpi as from the tools its operators
/// use by hand (some firewalls rate-limit or drop unusual sizes).
pub const PAYLOAD_LEN: usize = 56;
/// ICMP header: type, code, checksum, identifier, sequence.
pub const ICMP_HEADER_LEN: usize = 8;
/// Length of an encoded echo request.
pub const ECHO_LEN: usize = ICMP_HEADER_LEN + PAYLOAD_LEN;

const ICMPV4_ECHO_REPLY: u8 = 0;
const ICMPV4_DEST_UNREACHABLE: u8 = 3;
const ICMPV4_ECHO_REQUEST: u8 = 8;
const ICMPV4_TIME_EXCEEDED: u8 = 11;
const ICMPV6_DEST_UNREACHABLE: u8 = 1;
const ICMPV6_TIME_EXCEEDED: u8 = 3;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const IPV6_HEADER_LEN: usize = 40;

/// Marker at the start of our payload; only for humans reading a capture
/// (matching uses address, sequence and, on raw sockets, identifier).
const PAYLOAD_MARKER: &[u8; 8] = b"netkpi\0\0";

/// Address family of a socket, which decides the packet layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// Why a received packet was not used. Each maps to one ignored-packet
/// counter: [`DecodeError::Foreign`] to `foreign`, the rest to `malformed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its headers (or its IPv4 total length) say it is.
    Truncated,
    /// IPv4 header that contradicts itself: wrong version, IHL < 5, total
    /// length shorter than the header, or a protocol other than ICMP.
    BadIpHeader,
    /// ICMPv4 checksum does not add up (ICMPv6 checksums are verified by the
    /// kernel, which alone knows the pseudo-header addresses).
    BadChecksum,
    /// A well-formed ICMP message that is not for us: another type (our own
    /// echo requests on a raw socket, router advertisements ...), or an error
    /// quoting something other than an echo request.
    Foreign { icmp_type: u8 },
}

impl DecodeError {
    /// True for the kinds counted as `malformed`.
    pub fn is_malformed(self) -> bool {
        !matches!(self, DecodeError::Foreign { .. })
    }
}

/// What an ICMP error says about one of our echo requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Destination unreachable (v4 type 3, v6 type 1), any code.
    Unreachable,
    /// Time exceeded in transit (v4 type 11, v6 type 3): a routing loop or
    /// a path longer than our TTL; for availability the same as unreachable.
    TimeExceeded,
}

/// A decoded packet that may concern one of our echo requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// An echo reply; who sent it is the address `recvfrom` reports.
    EchoReply { ident: u16, seq: u16 },
    /// An ICMP error quoting an echo request we (or someone) sent to `target`.
    Error {
        kind: ErrorKind,
        target: IpAddr,
        ident: u16,
        seq: u16,
    },
}

/// Writes an echo request into `buf` and returns its length ([`ECHO_LEN`]).
///
/// IPv4 gets its checksum here; for ICMPv6 the kernel fills it in for both
/// raw and datagram sockets (RFC 3542 §3.1), so it is left zero.
pub fn encode_echo_request(
    family: Family,
    ident: u16,
    seq: u16,
    buf: &mut [u8; ECHO_LEN],
) -> usize {
    buf.fill(0);
    buf[0] = match family {
        Family::V4 => ICMPV4_ECHO_REQUEST,
        Family::V6 => ICMPV6_ECHO_REQUEST,
    };
    buf[4..6].copy_from_slice(&ident.to_be_bytes());
    buf[6..8].copy_from_slice(&seq.to_be_bytes());
    buf[8..8 + PAYLOAD_MARKER.len()].copy_from_slice(PAYLOAD_MARKER);
    if family == Family::V4 {
        let sum = checksum(&buf[..]);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    ECHO_LEN
}

/// Internet checksum (RFC 1071) of `data`: the one's complement of the
/// one's complement sum of its 16-bit words. A message whose checksum field
/// is correct sums to zero.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Decodes one datagram from an ICMP socket.
///
/// `with_ip_header` is true for IPv4 raw sockets, which deliver the IP
/// header; IPv4 datagram ("ping") sockets and all IPv6 sockets deliver the
/// bare ICMP message.
pub fn decode(buf: &[u8], family: Family, with_ip_header: bool) -> Result<Message, DecodeError> {
    match family {
        Family::V4 => {
            let icmp = if with_ip_header {
                let (header, payload) = split_ipv4(buf)?;
                if header.protocol != IPPROTO_ICMP {
                    return Err(DecodeError::BadIpHeader);
                }
                payload
            } else {
                buf
            };
            decode_icmpv4(icmp)
        }
        Family::V6 => decode_icmpv6(buf),
    }
}

struct Ipv4Header {
    protocol: u8,
    destination: Ipv4Addr,
}

/// Splits an IPv4 datagram into its header and payload, trusting neither
/// IHL nor total length. Bytes after the total length are ignored.
fn split_ipv4(buf: &[u8]) -> Result<(Ipv4Header, &[u8]), DecodeError> {
    let (header, header_len) = ipv4_header(buf)?;
    let total = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if total < header_len {
        return Err(DecodeError::BadIpHeader);
    }
    let packet = buf.get(..total).ok_or(DecodeError::Truncated)?;
    Ok((header, &packet[header_len..]))
}

/// Parses the fixed part of an IPv4 header and returns it with the header
/// length from IHL, which is checked against the buffer.
fn ipv4_header(buf: &[u8]) -> Result<(Ipv4Header, usize), DecodeError> {
    let fixed = buf.get(..20).ok_or(DecodeError::Truncated)?;
    if fixed[0] >> 4 != 4 {
        return Err(DecodeError::BadIpHeader);
    }
    let header_len = usize::from(fixed[0] & 0x0f) * 4;
    if header_len < 20 {
        return Err(DecodeError::BadIpHeader);
    }
    if buf.len() < header_len {
        return Err(DecodeError::Truncated);
    }
    let header = Ipv4Header {
        protocol: fixed[9],
        destination: Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19]),
    };
    Ok((header, header_len))
}

/// Type, identifier and sequence of an ICMP header, if at least 8 bytes.
fn icmp_header(buf: &[u8]) -> Result<(u8, u16, u16), DecodeError> {
    let h = buf.get(..ICMP_HEADER_LEN).ok_or(DecodeError::Truncated)?;
    Ok((
        h[0],
        u16::from_be_bytes([h[4], h[5]]),
        u16::from_be_bytes([h[6], h[7]]),
    ))
}

fn decode_icmpv4(icmp: &[u8]) -> Result<Message, DecodeError> {
    let (icmp_type, ident, seq) = icmp_header(icmp)?;
    let kind = match icmp_type {
        ICMPV4_ECHO_REPLY => None,
        ICMPV4_DEST_UNREACHABLE => Some(ErrorKind::Unreachable),
        ICMPV4_TIME_EXCEEDED => Some(ErrorKind::TimeExceeded),
        other => return Err(DecodeError::Foreign { icmp_type: other }),
    };
    if checksum(icmp) != 0 {
        return Err(DecodeError::BadChecksum);
    }
    let Some(kind) = kind else {
        return Ok(Message::EchoReply { ident, seq });
    };
    // RFC 792: an error quotes the offending datagram's IP header and at
    // least its first 8 bytes, which for an echo request are the whole ICMP
    // header. The quote is truncated by design, so its total length is not
    // checked against what we have.
    let quoted = &icmp[ICMP_HEADER_LEN..];
    let (inner, inner_len) = ipv4_header(quoted)?;
    if inner.protocol != IPPROTO_ICMP {
        return Err(DecodeError::Foreign { icmp_type });
    }
    let (inner_type, ident, seq) = icmp_header(&quoted[inner_len..])?;
    if inner_type != ICMPV4_ECHO_REQUEST {
        return Err(DecodeError::Foreign { icmp_type });
    }
    Ok(Message::Error {
        kind,
        target: IpAddr::V4(inner.destination),
        ident,
        seq,
    })
}

fn decode_icmpv6(icmp: &[u8]) -> Result<Message, DecodeError> {
    let (icmp_type, ident, seq) = icmp_header(icmp)?;
    let kind = match icmp_type {
        ICMPV6_ECHO_REPLY => return Ok(Message::EchoReply { ident, seq }),
        ICMPV6_DEST_UNREACHABLE => ErrorKind::Unreachable,
        ICMPV6_TIME_EXCEEDED => ErrorKind::TimeExceeded,
        other => return Err(DecodeError::Foreign { icmp_type: other }),
    };
    // RFC 4443 §3.1: the error quotes as much of the invoking packet as fits
    // in the minimum MTU, starting with its 40-byte IPv6 header. An echo
    // request carrying extension headers is not one of ours.
    let inner = icmp
        .get(ICMP_HEADER_LEN..ICMP_HEADER_LEN + IPV6_HEADER_LEN)
        .ok_or(DecodeError::Truncated)?;
    if inner[0] >> 4 != 6 {
        return Err(DecodeError::BadIpHeader);
    }
    if inner[6] != IPPROTO_ICMPV6 {
        return Err(DecodeError::Foreign { icmp_type });
    }
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&inner[24..40]);
    let (inner_type, ident, seq) = icmp_header(&icmp[ICMP_HEADER_LEN + IPV6_HEADER_LEN..])?;
    if inner_type != ICMPV6_ECHO_REQUEST {
        return Err(DecodeError::Foreign { icmp_type });
    }
    Ok(Message::Error {
        kind,
        target: IpAddr::V6(Ipv6Addr::from(dst)),
        ident,
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
    const ME: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);

    /// An IPv4 header (no options unless `ihl` > 5, zero-filled) around `payload`.
    fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, ihl: u8, protocol: u8, payload: &[u8]) -> Vec<u8> {
        let header_len = usize::from(ihl) * 4;
        let mut p = vec![0u8; header_len.max(20)];
        p[0] = 0x40 | ihl;
        let total = (p.len() + payload.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = 64;
        p[9] = protocol;
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// An ICMP message with a correct v4 checksum.
    fn icmp(icmp_type: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
        let mut m = vec![icmp_type, code, 0, 0];
        m.extend_from_slice(&rest);
        m.extend_from_slice(body);
        let sum = checksum(&m);
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }

    fn echo(icmp_type: u8, ident: u16, seq: u16) -> Vec<u8> {
        let [i0, i1] = ident.to_be_bytes();
        let [s0, s1] = seq.to_be_bytes();
        icmp(icmp_type, 0, [i0, i1, s0, s1], &[0xab; PAYLOAD_LEN])
    }

    /// A v4 destination-unreachable from `router` quoting our request to `target`.
    fn unreachable_v4(router: Ipv4Addr, target: Ipv4Addr, ident: u16, seq: u16) -> Vec<u8> {
        let request = echo(ICMPV4_ECHO_REQUEST, ident, seq);
        let quoted = ipv4(ME, target, 5, IPPROTO_ICMP, &request[..8]);
        ipv4(router, ME, 5, IPPROTO_ICMP, &icmp(3, 1, [0; 4], &quoted))
    }

    fn ipv6_header(dst: Ipv6Addr, next: u8) -> Vec<u8> {
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[6] = next;
        h[7] = 64;
        h[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        h[24..40].copy_from_slice(&dst.octets());
        h
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        // An odd trailing byte is padded with zero on the right.
        assert_eq!(checksum(&[0x12]), !0x1200);
    }

    #[test]
    fn encoded_v4_request_has_valid_checksum_and_fields() {
        let mut buf = [0u8; ECHO_LEN];
        let n = encode_echo_request(Family::V4, 0xbeef, 0x0102, &mut buf);
        assert_eq!(n, 64);
        assert_eq!(buf[0], 8);
        assert_eq!(&buf[4..8], &[0xbe, 0xef, 0x01, 0x02]);
        assert_eq!(checksum(&buf), 0);
        assert_eq!(&buf[8..16], PAYLOAD_MARKER);
    }

    #[test]
    fn encoded_v6_request_leaves_checksum_to_kernel() {
        let mut buf = [0xffu8; ECHO_LEN];
        encode_echo_request(Family::V6, 7, 9, &mut buf);
        assert_eq!(&buf[..8], &[128, 0, 0, 0, 0, 7, 0, 9]);
    }

    #[test]
    fn v4_reply_with_ip_header() {
        let pkt = ipv4(SRC, ME, 5, IPPROTO_ICMP, &echo(0, 0x1234, 42));
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Ok(Message::EchoReply {
                ident: 0x1234,
                seq: 42
            })
        );
    }

    #[test]
    fn v4_reply_with_ip_options_and_trailing_bytes() {
        let mut pkt = ipv4(SRC, ME, 7, IPPROTO_ICMP, &echo(0, 1, 2));
        // Ethernet padding after the datagram must not count as ICMP data.
        pkt.extend_from_slice(&[0xee; 6]);
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Ok(Message::EchoReply { ident: 1, seq: 2 })
        );
    }

    #[test]
    fn v4_reply_without_ip_header_from_dgram_socket() {
        assert_eq!(
            decode(&echo(0, 5, 6), Family::V4, false),
            Ok(Message::EchoReply { ident: 5, seq: 6 })
        );
    }

    #[test]
    fn v4_unreachable_quoting_our_request() {
        let pkt = unreachable_v4(SRC, Ipv4Addr::new(10, 2, 3, 4), 77, 1000);
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Ok(Message::Error {
                kind: ErrorKind::Unreachable,
                target: IpAddr::V4(Ipv4Addr::new(10, 2, 3, 4)),
                ident: 77,
                seq: 1000
            })
        );
    }

    #[test]
    fn v4_time_exceeded_quoting_our_request() {
        let request = echo(ICMPV4_ECHO_REQUEST, 3, 4);
        let quoted = ipv4(ME, SRC, 5, IPPROTO_ICMP, &request);
        let pkt = icmp(11, 0, [0; 4], &quoted);
        assert_eq!(
            decode(&pkt, Family::V4, false),
            Ok(Message::Error {
                kind: ErrorKind::TimeExceeded,
                target: IpAddr::V4(SRC),
                ident: 3,
                seq: 4
            })
        );
    }

    #[test]
    fn v4_unreachable_quoting_udp_is_foreign() {
        let quoted = ipv4(ME, SRC, 5, 17, &[0u8; 8]);
        let pkt = icmp(3, 3, [0; 4], &quoted);
        assert_eq!(
            decode(&pkt, Family::V4, false),
            Err(DecodeError::Foreign { icmp_type: 3 })
        );
    }

    #[test]
    fn v4_unreachable_quoting_an_echo_reply_is_foreign() {
        let quoted = ipv4(ME, SRC, 5, IPPROTO_ICMP, &echo(0, 1, 1));
        let pkt = icmp(3, 1, [0; 4], &quoted);
        assert_eq!(
            decode(&pkt, Family::V4, false),
            Err(DecodeError::Foreign { icmp_type: 3 })
        );
    }

    #[test]
    fn v4_other_types_are_foreign() {
        // Our own echo requests, seen on a raw socket on loopback.
        let pkt = ipv4(ME, ME, 5, IPPROTO_ICMP, &echo(8, 1, 1));
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Err(DecodeError::Foreign { icmp_type: 8 })
        );
        // A timestamp reply.
        let pkt = icmp(14, 0, [0; 4], &[0; 12]);
        assert_eq!(
            decode(&pkt, Family::V4, false),
            Err(DecodeError::Foreign { icmp_type: 14 })
        );
    }

    #[test]
    fn v4_bad_checksum() {
        let mut m = echo(0, 1, 2);
        m[20] ^= 0x01;
        let pkt = ipv4(SRC, ME, 5, IPPROTO_ICMP, &m);
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Err(DecodeError::BadChecksum)
        );
        assert!(DecodeError::BadChecksum.is_malformed());
    }

    #[test]
    fn v4_lying_ihl() {
        // IHL says 60 bytes of header, the packet has 20 + 8.
        let mut pkt = ipv4(SRC, ME, 5, IPPROTO_ICMP, &echo(0, 1, 2)[..8]);
        pkt[0] = 0x4f;
        pkt.truncate(28);
        assert_eq!(decode(&pkt, Family::V4, true), Err(DecodeError::Truncated));
        // IHL below the minimum.
        let mut pkt = ipv4(SRC, ME, 5, IPPROTO_ICMP, &echo(0, 1, 2));
        pkt[0] = 0x44;
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Err(DecodeError::BadIpHeader)
        );
    }

    #[test]
    fn v4_lying_total_length() {
        let mut pkt = ipv4(SRC, ME, 5, IPPROTO_ICMP, &echo(0, 1, 2));
        pkt[2..4].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(decode(&pkt, Family::V4, true), Err(DecodeError::Truncated));
        pkt[2..4].copy_from_slice(&12u16.to_be_bytes());
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Err(DecodeError::BadIpHeader)
        );
        // Total length that cuts the ICMP header short.
        pkt[2..4].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(decode(&pkt, Family::V4, true), Err(DecodeError::Truncated));
    }

    #[test]
    fn v4_wrong_version_and_protocol() {
        let mut pkt = ipv4(SRC, ME, 5, IPPROTO_ICMP, &echo(0, 1, 2));
        pkt[0] = 0x65;
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Err(DecodeError::BadIpHeader)
        );
        let pkt = ipv4(SRC, ME, 5, 6, &echo(0, 1, 2));
        assert_eq!(
            decode(&pkt, Family::V4, true),
            Err(DecodeError::BadIpHeader)
        );
    }

    #[test]
    fn v4_truncated_everywhere() {
        assert_eq!(decode(&[], Family::V4, true), Err(DecodeError::Truncated));
        assert_eq!(decode(&[], Family::V4, false), Err(DecodeError::Truncated));
        assert_eq!(
            decode(&echo(0, 1, 2)[..7], Family::V4, false),
            Err(DecodeError::Truncated)
        );
        // An error whose quote stops inside the inner IP header or its ICMP
        // header (checksum recomputed so only the truncation is wrong).
        for cut in [8, 20, 28 + 4] {
            let quoted = ipv4(ME, SRC, 5, IPPROTO_ICMP, &echo(8, 1, 2));
            let pkt = icmp(3, 1, [0; 4], &quoted[..cut - 8]);
            assert_eq!(
                decode(&pkt, Family::V4, false),
                Err(DecodeError::Truncated),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn v6_reply_and_errors() {
        assert_eq!(
            decode(&echo(129, 9, 8), Family::V6, false),
            Ok(Message::EchoReply { ident: 9, seq: 8 })
        );
        let target: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let mut quoted = ipv6_header(target, IPPROTO_ICMPV6);
        quoted.extend_from_slice(&echo(128, 11, 12)[..8]);
        let pkt = icmp(1, 3, [0; 4], &quoted);
        assert_eq!(
            decode(&pkt, Family::V6, false),
            Ok(Message::Error {
                kind: ErrorKind::Unreachable,
                target: IpAddr::V6(target),
                ident: 11,
                seq: 12
            })
        );
        let pkt = icmp(3, 0, [0; 4], &quoted);
        assert!(matches!(
            decode(&pkt, Family::V6, false),
            Ok(Message::Error {
                kind: ErrorKind::TimeExceeded,
                ..
            })
        ));
    }

    #[test]
    fn v6_malformed_and_foreign() {
        let target = Ipv6Addr::LOCALHOST;
        // Our own echo request and a neighbour solicitation.
        assert_eq!(
            decode(&echo(128, 1, 1), Family::V6, false),
            Err(DecodeError::Foreign { icmp_type: 128 })
        );
        assert_eq!(
            decode(&icmp(135, 0, [0; 4], &[0; 16]), Family::V6, false),
            Err(DecodeError::Foreign { icmp_type: 135 })
        );
        // Quote cut inside the inner IPv6 header, then inside its ICMP header.
        let mut quoted = ipv6_header(target, IPPROTO_ICMPV6);
        quoted.extend_from_slice(&echo(128, 1, 1)[..8]);
        let pkt = icmp(1, 0, [0; 4], &quoted[..30]);
        assert_eq!(decode(&pkt, Family::V6, false), Err(DecodeError::Truncated));
        let pkt = icmp(1, 0, [0; 4], &quoted[..44]);
        assert_eq!(decode(&pkt, Family::V6, false), Err(DecodeError::Truncated));
        // Inner header that is not IPv6.
        let mut bad = quoted.clone();
        bad[0] = 0x45;
        assert_eq!(
            decode(&icmp(1, 0, [0; 4], &bad), Family::V6, false),
            Err(DecodeError::BadIpHeader)
        );
        // Quoting UDP.
        let mut udp = ipv6_header(target, 17);
        udp.extend_from_slice(&[0; 8]);
        assert_eq!(
            decode(&icmp(1, 4, [0; 4], &udp), Family::V6, false),
            Err(DecodeError::Foreign { icmp_type: 1 })
        );
    }

    /// Property: `decode` is total. Random bytes, every prefix of valid
    /// packets and random corruptions of valid packets all return an answer
    /// instead of panicking.
    #[test]
    fn decode_never_panics() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x6e65_746b_7069);
        let valid: Vec<(Vec<u8>, Family, bool)> = vec![
            (
                ipv4(SRC, ME, 5, IPPROTO_ICMP, &echo(0, 1, 2)),
                Family::V4,
                true,
            ),
            (
                ipv4(SRC, ME, 6, IPPROTO_ICMP, &echo(0, 1, 2)),
                Family::V4,
                true,
            ),
            (unreachable_v4(SRC, ME, 3, 4), Family::V4, true),
            (echo(0, 1, 2), Family::V4, false),
            (echo(129, 1, 2), Family::V6, false),
            {
                let mut q = ipv6_header(Ipv6Addr::LOCALHOST, IPPROTO_ICMPV6);
                q.extend_from_slice(&echo(128, 1, 1));
                (icmp(1, 0, [0; 4], &q), Family::V6, false)
            },
        ];
        for (pkt, family, with_ip) in &valid {
            assert!(decode(pkt, *family, *with_ip).is_ok());
            for cut in 0..pkt.len() {
                let _ = decode(&pkt[..cut], *family, *with_ip);
            }
        }
        for _ in 0..200_000 {
            let (pkt, family, with_ip) = &valid[rng.random_range(0..valid.len())];
            let mut pkt = pkt.clone();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..pkt.len());
                pkt[i] = rng.random();
            }
            let cut = rng.random_range(0..=pkt.len());
            let _ = decode(&pkt[..cut], *family, *with_ip);

            let len = rng.random_range(0..200);
            let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            for (family, with_ip) in [(Family::V4, true), (Family::V4, false), (Family::V6, false)]
            {
                let _ = decode(&noise, family, with_ip);
            }
        }
    }
}
