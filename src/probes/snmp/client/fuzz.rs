//! Property test of the response path (README "Malformed input"): random and
//! mutated datagrams (bit flips, byte changes, insertions, deletions,
//! truncations, length lies) are played by a socket of ours as the answer
//! to a real [`Snmp2Client`] GET, v1 and v2c. The client must never panic,
//! must never return success for a datagram that is not a well-formed
//! response to its request, and must return the datagram's values.
//!
//! "Well formed" is decided by a strict reference reader written here from
//! X.690 and RFC 1157/3416 (every length exact, nothing trailing, value
//! types and ranges as SNMP defines them), independent of the `snmp2` code
//! under test. The kinds of malformed response `snmp2` 0.5.3 accepts are
//! listed in [`SNMP2_ACCEPTS`]: the default test counts them, the strict
//! (ignored) one fails on them.
//!
//! SNMPv3: unauthenticated Reports (engine discovery, or in answer to a
//! request) carrying boots and time at and past the RFC 3414 bounds must
//! fail the poll without a panic, including the values `snmp2` overflows on
//! (discovery refuses them; a panic inside the library is contained to the
//! poll, see `contain.rs`).
//!
//! 100,000 iterations by default; run longer, or replay a seed:
//!
//! ```sh
//! SNMP_CLIENT_FUZZ_ITERATIONS=1000000 cargo test --lib snmp::client::fuzz -- --nocapture
//! SNMP_CLIENT_FUZZ_SEED=<seed printed by a failed run> cargo test --lib snmp::client::fuzz
//! cargo test --lib snmp::client::fuzz -- --ignored   # the strict property
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;

use super::wire::from_wire;
use super::{ber, Agent, Request, Snmp2Client, SnmpClient, SnmpError};
use crate::probes::snmp::{Credentials, Oid, SnmpVersion, Value, Varbind};
use crate::secret::Secret;

const COMMUNITY: &[u8] = b"fuzz-community";

/// Kinds of malformed response (keys of [`Mishandled`]) that `snmp2` 0.5.3,
/// which reads every response, returns as good ones; the client cannot see
/// the datagram to check. Found by this test; see the strict test.
const SNMP2_ACCEPTS: &[&str] = &[
    // It never checks that a TLV's content is used up.
    "accepted: bytes after the message",
    "accepted: bytes after the PDU",
    "accepted: bytes after the varbind list",
    "accepted: bytes after a varbind's value",
    // Its varbind iterator ends, silently, at the first element it cannot
    // read.
    "accepted: unreadable varbind list elements after the ones asked for",
    // asn1-rs reads an OID's content as given.
    "accepted: empty OBJECT IDENTIFIER",
    "accepted: OBJECT IDENTIFIER ends inside a subidentifier",
    "accepted: subidentifier with a leading 0x80 octet",
    // and splits the first subidentifier by 40 whatever its size.
    "misread: an OID starting 2.40 or beyond",
    // and returns the single arc 0 for `06 01 00`.
    "misread: the OID 0.0 (zeroDotZero) as 0",
    // Counter32, Gauge32 and TimeTicks are read as i64 and cast to u32.
    "accepted: negative value of an unsigned type",
    "accepted: unsigned value out of its type's range",
    // A response is matched by type, request-id and community only.
    "accepted: another SNMP version",
];

/// What the strict reference reader makes of a datagram, given the request
/// it answers.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Not a well-formed SNMPv1/v2c message: the client must fail.
    /// `varbinds_before`: when the fault is in an element of the varbind
    /// list, how many good varbinds precede it.
    Malformed {
        why: &'static str,
        varbinds_before: Option<usize>,
    },
    /// Well formed, but not an answer to this request (another PDU type,
    /// request-id, community or version): the client must fail.
    Foreign(&'static str),
    /// A well-formed Response to this request.
    Answer {
        error_status: i64,
        varbinds: Vec<Varbind>,
    },
}

/// A strict BER reader over one level of content.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// One TLV with a single-octet tag and a definite length that fits.
    fn tlv(&mut self) -> Result<(u8, &'a [u8]), &'static str> {
        let (&tag, rest) = self.rest.split_first().ok_or("a TLV is missing")?;
        if tag & 0x1f == 0x1f {
            return Err("multi-octet tag");
        }
        let (&first, mut rest) = rest.split_first().ok_or("length missing")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err("indefinite length");
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 || rest.len() < n {
                return Err("length of length too long");
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            rest = &rest[n..];
            len
        };
        if len > rest.len() {
            return Err("length beyond the enclosing content");
        }
        let (content, after) = rest.split_at(len);
        self.rest = after;
        Ok((tag, content))
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], &'static str> {
        match self.tlv()? {
            (t, content) if t == tag => Ok(content),
            _ => Err(what),
        }
    }

    fn integer(&mut self) -> Result<i64, &'static str> {
        signed(self.expect(ber::INTEGER, "INTEGER expected")?)
    }
}

/// A two's-complement INTEGER of at most 64 bits (non-minimal encodings
/// are accepted, as BER readers commonly do).
fn signed(content: &[u8]) -> Result<i64, &'static str> {
    if content.is_empty() {
        return Err("empty INTEGER");
    }
    if content.len() > 8 {
        return Err("INTEGER beyond 64 bits");
    }
    let mut v: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
    for b in content {
        v = (v << 8) | i64::from(*b);
    }
    Ok(v)
}

/// An unsigned SNMP integer type (Counter32, Gauge32, TimeTicks: `max` =
/// 2^32 - 1; Counter64: 2^64 - 1), encoded as a non-negative INTEGER.
fn unsigned(content: &[u8], max: u64) -> Result<u64, &'static str> {
    if content.is_empty() {
        return Err("empty unsigned integer");
    }
    if content[0] & 0x80 != 0 {
        return Err("negative value of an unsigned type");
    }
    let digits = if content[0] == 0 {
        &content[1..]
    } else {
        content
    };
    if digits.len() > 8 {
        return Err("unsigned value beyond 64 bits");
    }
    let v = digits
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if v > max {
        return Err("unsigned value out of its type's range");
    }
    Ok(v)
}

/// OBJECT IDENTIFIER content as arcs (X.690 §8.19); arcs beyond 32 bits
/// are not representable in SNMP (RFC 2578 §7.1.3).
fn object_id(content: &[u8]) -> Result<Oid, &'static str> {
    if content.is_empty() {
        return Err("empty OBJECT IDENTIFIER");
    }
    if content.last().is_some_and(|b| b & 0x80 != 0) {
        return Err("OBJECT IDENTIFIER ends inside a subidentifier");
    }
    let mut subids = Vec::new();
    let mut v: u64 = 0;
    let mut starts = true;
    for b in content {
        if starts && *b == 0x80 {
            return Err("subidentifier with a leading 0x80 octet");
        }
        starts = b & 0x80 == 0;
        if v > (u64::MAX >> 7) {
            return Err("subidentifier beyond 64 bits");
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            subids.push(v);
            v = 0;
        }
    }
    let first = subids[0];
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut arcs = vec![a, b];
    arcs.extend_from_slice(&subids[1..]);
    arcs.into_iter()
        .map(|a| u32::try_from(a).map_err(|_| "arc beyond 32 bits"))
        .collect::<Result<Vec<u32>, _>>()
        .map(Oid)
}

fn value(tag: u8, content: &[u8]) -> Result<Value, &'static str> {
    let empty = |v: Value| {
        if content.is_empty() {
            Ok(v)
        } else {
            Err("NULL or exception with content")
        }
    };
    let u32_max = u64::from(u32::MAX);
    Ok(match tag {
        0x02 => Value::Integer(signed(content)?),
        0x04 => Value::OctetString(content.to_vec()),
        0x05 => return empty(Value::Null),
        0x06 => Value::ObjectId(object_id(content)?),
        0x40 => Value::IpAddress(content.try_into().map_err(|_| "IpAddress not 4 octets")?),
        0x41 => Value::Counter32(unsigned(content, u32_max)? as u32),
        0x42 => Value::Gauge32(unsigned(content, u32_max)? as u32),
        0x43 => Value::TimeTicks(unsigned(content, u32_max)? as u32),
        0x44 => Value::Opaque(content.to_vec()),
        0x46 => Value::Counter64(unsigned(content, u64::MAX)?),
        0x80 => return empty(Value::NoSuchObject),
        0x81 => return empty(Value::NoSuchInstance),
        0x82 => return empty(Value::EndOfMibView),
        _ => return Err("a value type SNMP does not define"),
    })
}

/// The strict reading of `datagram` as the answer to a request with
/// `req_id`, sent with `version` (0 = v1, 1 = v2c) and [`COMMUNITY`].
fn verdict(datagram: &[u8], version: i64, req_id: i32) -> Verdict {
    match read_message(datagram, version, req_id) {
        Ok(v) => v,
        Err(Fault {
            why,
            varbinds_before,
        }) => Verdict::Malformed {
            why,
            varbinds_before,
        },
    }
}

/// Why a datagram is malformed (see [`Verdict::Malformed`]).
struct Fault {
    why: &'static str,
    varbinds_before: Option<usize>,
}

impl From<&'static str> for Fault {
    fn from(why: &'static str) -> Fault {
        Fault {
            why,
            varbinds_before: None,
        }
    }
}

/// A varbind-list element: `SEQUENCE { name OID, value }`, nothing more.
fn read_varbind(l: &mut Reader<'_>) -> Result<Varbind, &'static str> {
    let mut vb = Reader::new(l.expect(ber::SEQUENCE, "varbind is not a SEQUENCE")?);
    let oid = object_id(vb.expect(0x06, "varbind name is not an OID")?)?;
    let (tag, content) = vb.tlv()?;
    let value = value(tag, content)?;
    if !vb.is_empty() {
        return Err("bytes after a varbind's value");
    }
    Ok(Varbind { oid, value })
}

fn read_message(datagram: &[u8], version: i64, req_id: i32) -> Result<Verdict, Fault> {
    let mut top = Reader::new(datagram);
    let message = top.expect(ber::SEQUENCE, "message is not a SEQUENCE")?;
    if !top.is_empty() {
        return Err("bytes after the message".into());
    }
    let mut m = Reader::new(message);
    let got_version = m.integer()?;
    if !(0..=1).contains(&got_version) {
        // Another message format (v3) or garbage: not read further.
        return Ok(Verdict::Foreign("not SNMPv1/v2c"));
    }
    let community = m.expect(ber::OCTET_STRING, "community is not an OCTET STRING")?;
    let pdu_tag = m.peek_tag().ok_or("PDU missing")?;
    let (_, pdu) = m.tlv()?;
    if !m.is_empty() {
        return Err("bytes after the PDU".into());
    }
    if !(0xa0..=0xa8).contains(&pdu_tag) {
        return Err("not a PDU type".into());
    }
    if pdu_tag == 0xa4 {
        // A v1 Trap-PDU has another layout: not read further.
        return Ok(Verdict::Foreign("a v1 trap"));
    }
    let mut p = Reader::new(pdu);
    // RFC 3416 §3: request-id INTEGER (-2147483648..2147483647),
    // error-index INTEGER (0..max-bindings); error-status is an enumeration
    // from 0.
    let got_req_id = p.integer()?;
    if i32::try_from(got_req_id).is_err() {
        return Err("request-id out of range".into());
    }
    let error_status = p.integer()?;
    if !(0..=i64::from(i32::MAX)).contains(&error_status) {
        return Err("error-status out of range".into());
    }
    let error_index = p.integer()?;
    if !(0..=i64::from(i32::MAX)).contains(&error_index) {
        return Err("error-index out of range".into());
    }
    let list = p.expect(ber::SEQUENCE, "varbind list is not a SEQUENCE")?;
    if !p.is_empty() {
        return Err("bytes after the varbind list".into());
    }
    let mut l = Reader::new(list);
    let mut varbinds = Vec::new();
    while !l.is_empty() {
        match read_varbind(&mut l) {
            Ok(vb) => varbinds.push(vb),
            Err(why) => {
                return Err(Fault {
                    why,
                    varbinds_before: Some(varbinds.len()),
                })
            }
        }
    }
    // Well formed: is it the answer?
    if pdu_tag != 0xa2 {
        return Ok(Verdict::Foreign("not a Response PDU"));
    }
    if got_req_id != i64::from(req_id) {
        return Ok(Verdict::Foreign("another request-id"));
    }
    if community != COMMUNITY {
        return Ok(Verdict::Foreign("another community"));
    }
    if got_version != version {
        return Ok(Verdict::Foreign("another SNMP version"));
    }
    Ok(Verdict::Answer {
        error_status,
        varbinds,
    })
}

// ---- encoding the agent's answers ----

fn unsigned_tlv(tag: u8, v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut content = Vec::new();
    if bytes[skip] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(&bytes[skip..]);
    ber::tlv(tag, &content)
}

fn encode_value(v: &Value) -> Vec<u8> {
    match v {
        Value::Integer(i) => ber::integer(*i),
        Value::OctetString(b) => ber::tlv(0x04, b),
        Value::ObjectId(o) => ber::oid(o.arcs()),
        Value::IpAddress(a) => ber::tlv(0x40, a),
        Value::Counter32(n) => unsigned_tlv(0x41, u64::from(*n)),
        Value::Gauge32(n) => unsigned_tlv(0x42, u64::from(*n)),
        Value::TimeTicks(n) => unsigned_tlv(0x43, u64::from(*n)),
        Value::Opaque(b) => ber::tlv(0x44, b),
        Value::Counter64(n) => unsigned_tlv(0x46, *n),
        Value::Null => vec![0x05, 0x00],
        Value::NoSuchObject => vec![0x80, 0x00],
        Value::NoSuchInstance => vec![0x81, 0x00],
        Value::EndOfMibView => vec![0x82, 0x00],
    }
}

fn response(version: i64, req_id: i32, error_status: i64, varbinds: &[Varbind]) -> Vec<u8> {
    let list: Vec<Vec<u8>> = varbinds
        .iter()
        .map(|vb| {
            ber::tlv(
                ber::SEQUENCE,
                &ber::concat(&[ber::oid(vb.oid.arcs()), encode_value(&vb.value)]),
            )
        })
        .collect();
    ber::tlv(
        ber::SEQUENCE,
        &ber::concat(&[
            ber::integer(version),
            ber::octet_string(COMMUNITY),
            ber::tlv(
                ber::RESPONSE,
                &ber::concat(&[
                    ber::integer(i64::from(req_id)),
                    ber::integer(error_status),
                    ber::integer(0),
                    ber::tlv(ber::SEQUENCE, &list.concat()),
                ]),
            ),
        ]),
    )
}

fn random_oid(rng: &mut StdRng) -> Oid {
    let mut arcs = vec![1, 3, 6, 1];
    for _ in 0..rng.random_range(1..8) {
        arcs.push(match rng.random_range(0..4) {
            0 => rng.random_range(0..128),
            1 => rng.random_range(128..70_000),
            2 => rng.random(),
            _ => 0,
        });
    }
    Oid(arcs)
}

fn random_value(rng: &mut StdRng) -> Value {
    let bytes = |rng: &mut StdRng| -> Vec<u8> {
        let n = rng.random_range(0..40);
        (0..n).map(|_| rng.random()).collect()
    };
    match rng.random_range(0..13) {
        0 => Value::Integer(match rng.random_range(0..3) {
            0 => rng.random_range(-300..300),
            1 => i64::from(rng.random::<i32>()),
            _ => rng.random(),
        }),
        1 => Value::OctetString(bytes(rng)),
        2 => Value::ObjectId(random_oid(rng)),
        3 => Value::IpAddress(rng.random()),
        4 => Value::Counter32(rng.random()),
        5 => Value::Gauge32(rng.random_range(0..3_000)),
        6 => Value::TimeTicks(rng.random()),
        7 => Value::Opaque(bytes(rng)),
        8 => Value::Counter64(rng.random()),
        9 => Value::Null,
        10 => Value::NoSuchObject,
        11 => Value::NoSuchInstance,
        _ => Value::EndOfMibView,
    }
}

/// Offsets of the length octet of every TLV in a well-formed `datagram`
/// (the constructed ones are entered), for length lies.
fn length_offsets(datagram: &[u8]) -> Vec<usize> {
    fn walk(bytes: &[u8], base: usize, out: &mut Vec<usize>) {
        let mut at = 0;
        while at + 1 < bytes.len() {
            let tag = bytes[at];
            out.push(base + at + 1);
            let first = bytes[at + 1];
            let (len, header) = if first < 0x80 {
                (usize::from(first), 2)
            } else {
                let n = usize::from(first & 0x7f);
                if at + 2 + n > bytes.len() {
                    return;
                }
                let len = bytes[at + 2..at + 2 + n]
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | usize::from(*b));
                (len, 2 + n)
            };
            let start = at + header;
            if start + len > bytes.len() {
                return;
            }
            if tag & 0x20 != 0 {
                walk(&bytes[start..start + len], base + start, out);
            }
            at = start + len;
        }
    }
    let mut out = Vec::new();
    walk(datagram, 0, &mut out);
    out
}

/// Makes one length of `d` lie: a short-form length changed by a small
/// amount or replaced by a random one, or a long form claiming up to 4 GiB.
fn lie_about_a_length(rng: &mut StdRng, d: &mut Vec<u8>) {
    let offsets = length_offsets(d);
    if offsets.is_empty() {
        return;
    }
    let at = offsets[rng.random_range(0..offsets.len())];
    if d[at] < 0x80 {
        match rng.random_range(0..3) {
            0 => {
                let delta: i16 = if rng.random_bool(0.5) { 1 } else { -1 };
                let delta = delta * rng.random_range(1..4);
                d[at] = (i16::from(d[at]) + delta).clamp(0, 0x7f) as u8;
            }
            1 => d[at] = rng.random_range(0..0x80),
            _ => {
                let claim: u32 = rng.random();
                d.splice(at..=at, [0x84].into_iter().chain(claim.to_be_bytes()));
            }
        }
    } else {
        // Long form: the last length octet moves.
        let n = usize::from(d[at] & 0x7f);
        let last = at + n;
        if last < d.len() {
            d[last] = d[last].wrapping_add(rng.random_range(1..=255));
        }
    }
}

fn mutate(rng: &mut StdRng, d: &mut Vec<u8>) {
    if d.is_empty() {
        d.push(rng.random());
        return;
    }
    let at = rng.random_range(0..d.len());
    match rng.random_range(0..8) {
        0 => d[at] ^= 1 << rng.random_range(0..8),
        1 => d[at] = rng.random(),
        2 => d[at] = [0x00, 0x7f, 0x80, 0x81, 0x84, 0xff][rng.random_range(0..6)],
        3 => d.insert(at, rng.random()),
        4 => {
            d.remove(at);
        }
        5 => d.truncate(at),
        6 => lie_about_a_length(rng, d),
        _ => {
            let end = rng.random_range(at..d.len()).min(at + 16);
            let chunk = d[at..=end].to_vec();
            d.splice(at..at, chunk);
        }
    }
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

/// How the fake agent answers the first request of a poll.
enum Plan {
    /// The valid response, unchanged: a check of the harness itself.
    Clean,
    /// Random bytes.
    Random,
    /// The valid response with 1 to 4 mutations.
    Mutated,
}

/// One poll's outcome, with what the agent sent first.
struct Exchange {
    result: Result<Vec<Varbind>, SnmpError>,
    sent: Vec<u8>,
    req_id: i32,
    requests: u32,
}

/// Serves requests on `socket` until the poll ends: the first gets the
/// planned datagram, any further one (v1 retrying without a noSuchName
/// object) a clean answer of NULLs.
async fn serve(
    socket: &UdpSocket,
    version: i64,
    varbinds: &[Varbind],
    plan: &Plan,
    rng: &mut StdRng,
    first: &mut Option<(i32, Vec<u8>)>,
    requests: &mut u32,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let request = snmp2::Pdu::from_bytes(&buf[..n]).expect("the client's request decodes");
        let req_id = request.req_id;
        *requests += 1;
        let datagram = if first.is_none() {
            let d = match plan {
                Plan::Clean => response(version, req_id, 0, varbinds),
                Plan::Random => random_datagram(rng),
                Plan::Mutated => {
                    let mut d = response(version, req_id, 0, varbinds);
                    for _ in 0..rng.random_range(1..=4) {
                        mutate(rng, &mut d);
                    }
                    d
                }
            };
            *first = Some((req_id, d.clone()));
            d
        } else {
            let asked: Vec<Varbind> = request
                .varbinds
                .map(|(oid, _)| Varbind {
                    oid: from_wire(&oid).expect("the client's OIDs decode"),
                    value: Value::Null,
                })
                .collect();
            response(version, req_id, 0, &asked)
        };
        let _ = socket.send_to(&datagram, peer).await;
    }
}

async fn exchange(
    client: &Snmp2Client,
    agent: &Agent,
    socket: &UdpSocket,
    varbinds: &[Varbind],
    plan: &Plan,
    rng: &mut StdRng,
) -> Exchange {
    let version = match agent.version {
        SnmpVersion::V1 => 0,
        _ => 1,
    };
    let request = [Request::Get(
        varbinds.iter().map(|vb| vb.oid.clone()).collect(),
    )];
    let mut first = None;
    let mut requests = 0;
    let result = tokio::select! {
        r = client.poll(agent, &request) => r,
        _ = serve(socket, version, varbinds, plan, rng, &mut first, &mut requests) => unreachable!(),
    };
    let (req_id, sent) = first.expect("the client sent a request");
    Exchange {
        result,
        sent,
        req_id,
        requests,
    }
}

/// How the client mishandled one response: a short key (for counting) and
/// the details.
struct Mishandled {
    key: String,
    detail: String,
}

fn mishandled(key: impl Into<String>, detail: impl Into<String>) -> Mishandled {
    Mishandled {
        key: key.into(),
        detail: detail.into(),
    }
}

/// An OID (name or value) starting 2.40 or beyond: its first subidentifier
/// (80 + the second arc, X.690 §8.19.4) is 120 or more, which asn1-rs
/// divides by 40 as if the first arc could exceed 2.
fn starts_beyond_2_39(vb: &Varbind) -> bool {
    let long = |o: &Oid| o.arcs().len() >= 2 && o.arcs()[0] == 2 && o.arcs()[1] >= 40;
    long(&vb.oid) || matches!(&vb.value, Value::ObjectId(o) if long(o))
}

/// The OID 0.0 (SNMPv2-SMI zeroDotZero, encoded `06 01 00`) as a name or
/// value.
fn is_zero_dot_zero(vb: &Varbind) -> bool {
    let zero = |o: &Oid| o.arcs() == [0, 0];
    zero(&vb.oid) || matches!(&vb.value, Value::ObjectId(o) if zero(o))
}

/// Checks one exchange against the reference reading; returns the verdict's
/// class for the statistics, or how the client mishandled it.
fn check(
    version: i64,
    ex: &Exchange,
    plan: &Plan,
    asked: usize,
) -> Result<&'static str, Mishandled> {
    let v = verdict(&ex.sent, version, ex.req_id);
    if matches!(plan, Plan::Clean) && !matches!(v, Verdict::Answer { .. }) {
        return Err(mishandled(
            "harness",
            format!("the harness built a bad response: {v:?}"),
        ));
    }
    match (&v, &ex.result) {
        (
            Verdict::Malformed {
                why,
                varbinds_before,
            },
            Ok(got),
        ) => Err(mishandled(
            // snmp2 stops reading the list at the first element it cannot
            // read; when the ones before are all that was asked for, the
            // rest goes unnoticed.
            if *varbinds_before == Some(asked) {
                "accepted: unreadable varbind list elements after the ones asked for".to_string()
            } else {
                format!("accepted: {why}")
            },
            format!("a malformed response ({why}) was accepted as {got:?}"),
        )),
        (Verdict::Malformed { .. }, Err(_)) => Ok("malformed"),
        (Verdict::Foreign(why), Ok(got)) => Err(mishandled(
            format!("accepted: {why}"),
            format!("a datagram that does not answer the request ({why}) was accepted as {got:?}"),
        )),
        (Verdict::Foreign(_), Err(_)) => Ok("foreign"),
        // A v1 agent's noSuchName made the client ask again: the final
        // result mixes two answers and is not compared.
        (Verdict::Answer { .. }, _) if ex.requests > 1 => Ok("answer, asked again"),
        (
            Verdict::Answer {
                error_status,
                varbinds,
            },
            result,
        ) => {
            let usable = *error_status == 0
                && varbinds.len() == asked
                && !varbinds.iter().all(|vb| vb.value.is_exception());
            match result {
                Ok(got) if got != varbinds => Err(mishandled(
                    if varbinds.iter().any(starts_beyond_2_39) {
                        "misread: an OID starting 2.40 or beyond"
                    } else if varbinds.iter().any(is_zero_dot_zero) {
                        "misread: the OID 0.0 (zeroDotZero) as 0"
                    } else {
                        "values differ from the datagram's"
                    },
                    format!("the client returned {got:?}, the datagram says {varbinds:?}"),
                )),
                Ok(_) if !usable => Err(mishandled(
                    "accepted an unusable answer",
                    format!(
                        "accepted an answer with error-status {error_status} and {} of {asked} varbinds",
                        varbinds.len()
                    ),
                )),
                Ok(_) => Ok("answer"),
                Err(e) if usable => Err(mishandled(
                    format!("rejected a good answer as {}", e.kind.as_str()),
                    format!("rejected a good answer: {e}"),
                )),
                Err(_) => Ok("answer with an error"),
            }
        }
    }
}

#[test]
fn the_reference_reader_agrees_with_hand_made_cases() {
    let vbs = vec![Varbind {
        oid: Oid(vec![1, 3, 6, 1, 2, 1, 1, 3, 0]),
        value: Value::TimeTicks(7),
    }];
    let good = response(1, 42, 0, &vbs);
    assert_eq!(
        verdict(&good, 1, 42),
        Verdict::Answer {
            error_status: 0,
            varbinds: vbs.clone()
        }
    );
    assert_eq!(
        verdict(&good, 1, 43),
        Verdict::Foreign("another request-id")
    );
    assert_eq!(
        verdict(&good, 0, 42),
        Verdict::Foreign("another SNMP version")
    );
    for cut in 0..good.len() {
        assert!(
            matches!(verdict(&good[..cut], 1, 42), Verdict::Malformed { .. }),
            "truncated at {cut}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        verdict(&trailing, 1, 42),
        Verdict::Malformed {
            why: "bytes after the message",
            varbinds_before: None
        }
    );
    // TimeTicks 7 is the last TLV: 43 01 07. A negative TimeTicks:
    let mut negative = good.clone();
    let last = negative.len() - 1;
    negative[last] = 0xff;
    assert_eq!(
        verdict(&negative, 1, 42),
        Verdict::Malformed {
            why: "negative value of an unsigned type",
            varbinds_before: Some(0)
        }
    );
    // Every length offset found is a length octet of the message.
    assert_eq!(length_offsets(&good).len(), 11);
}

/// Runs the property with `iterations` GETs (`SNMP_CLIENT_FUZZ_ITERATIONS`,
/// default 100,000) answered with a tenth clean responses, 45 % random
/// bytes and 45 % mutated responses; the seed is printed
/// (`SNMP_CLIENT_FUZZ_SEED`). Fails on a panic and on every mishandled
/// response whose key is not in `tolerated` (those are counted and printed).
fn property(tolerated: &[&str]) {
    let seed: u64 = std::env::var("SNMP_CLIENT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let iterations: usize = std::env::var("SNMP_CLIENT_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    eprintln!("SNMP_CLIENT_FUZZ_SEED={seed}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let socket = runtime
        .block_on(UdpSocket::bind("127.0.0.1:0"))
        .expect("bind the fake agent");
    let addr: SocketAddr = socket.local_addr().expect("agent address");
    let client = Snmp2Client::new(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut classes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut tolerated_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for i in 0..iterations {
        let version = if rng.random_bool(0.5) {
            SnmpVersion::V1
        } else {
            SnmpVersion::V2c
        };
        let agent = Agent {
            addr,
            version,
            credentials: Credentials::Community(Secret::new(
                std::str::from_utf8(COMMUNITY).expect("ASCII"),
            )),
            // Never reached: every request is answered at once.
            timeout: Duration::from_secs(2),
            retries: 0,
            max_repetitions: 10,
        };
        let varbinds: Vec<Varbind> = (0..rng.random_range(1..=5))
            .map(|_| Varbind {
                oid: random_oid(&mut rng),
                value: random_value(&mut rng),
            })
            .collect();
        let plan = match i % 20 {
            0 | 1 => Plan::Clean,
            n if n % 2 == 0 => Plan::Random,
            _ => Plan::Mutated,
        };
        let ex = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(exchange(
                &client, &agent, &socket, &varbinds, &plan, &mut rng,
            ))
        }))
        .unwrap_or_else(|_| {
            panic!("the client panicked (SNMP_CLIENT_FUZZ_SEED={seed}, iteration {i})")
        });
        if let Err(e) = &ex.result {
            *kinds.entry(e.kind.as_str()).or_insert(0) += 1;
        }
        let v = if version == SnmpVersion::V1 { 0 } else { 1 };
        match check(v, &ex, &plan, varbinds.len()) {
            Ok(class) => *classes.entry(class).or_insert(0) += 1,
            Err(m) if tolerated.contains(&m.key.as_str()) => {
                *tolerated_seen.entry(m.key).or_insert(0) += 1;
            }
            Err(m) => {
                let first = format!(
                    "iteration {i}, {version:?}, request-id {}: {}\n  datagram: {:02x?}",
                    ex.req_id, m.detail, ex.sent
                );
                failures.entry(m.key).or_insert((0, first)).0 += 1;
            }
        }
    }
    eprintln!("verdicts {classes:?}; failure kinds {kinds:?}");
    eprintln!("tolerated (known to be accepted by snmp2): {tolerated_seen:?}");
    assert!(
        failures.is_empty(),
        "responses mishandled (SNMP_CLIENT_FUZZ_SEED={seed}, {iterations} iterations), by kind with the first of each:\n{}",
        failures
            .iter()
            .map(|(key, (n, first))| format!("{key}: {n} times; first: {first}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The harness really exercised both sides.
    assert!(
        classes.get("malformed").copied().unwrap_or(0) > iterations / 3,
        "{classes:?}"
    );
    assert!(
        classes.get("answer").copied().unwrap_or(0) >= iterations / 20,
        "{classes:?}"
    );
}

/// Property: no panic, and no success for a malformed or foreign datagram,
/// except the kinds of malformed response `snmp2` is known to accept
/// ([`SNMP2_ACCEPTS`], each counted and printed; the strict test below
/// fails on them).
#[test]
fn responses_random_or_mutated_never_panic_nor_pass_as_answers() {
    property(SNMP2_ACCEPTS);
}

/// The same property with nothing tolerated.
#[test]
#[ignore = "snmp2 0.5.3 accepts malformed responses and misreads some OIDs (SNMP2_ACCEPTS): trailing bytes, cut or empty OIDs, negative or oversized Counter32/Gauge32/TimeTicks, 0.0 read as 0, 2.40+ misread"]
fn responses_random_or_mutated_never_pass_as_answers_strict() {
    property(&[]);
}

// ---- SNMPv3: the engine discovery report ----

/// An unauthenticated SNMPv3 Report as an agent answers engine discovery
/// (RFC 3414 §4): its engine ID, boots and time, and
/// usmStatsUnknownEngineIDs.0.
fn v3_report(engine_id: &[u8], boots: i64, time: i64) -> Vec<u8> {
    let usm = ber::tlv(
        ber::SEQUENCE,
        &ber::concat(&[
            ber::octet_string(engine_id),
            ber::integer(boots),
            ber::integer(time),
            ber::octet_string(b""),
            ber::octet_string(b""),
            ber::octet_string(b""),
        ]),
    );
    let report = ber::tlv(
        0xa8,
        &ber::concat(&[
            ber::integer(0),
            ber::integer(0),
            ber::integer(0),
            ber::tlv(
                ber::SEQUENCE,
                &ber::tlv(
                    ber::SEQUENCE,
                    &ber::concat(&[
                        ber::oid(&[1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0]),
                        unsigned_tlv(0x41, 1),
                    ]),
                ),
            ),
        ]),
    );
    ber::tlv(
        ber::SEQUENCE,
        &ber::concat(&[
            ber::integer(3),
            ber::tlv(
                ber::SEQUENCE,
                &ber::concat(&[
                    ber::integer(1),
                    ber::integer(65_507),
                    ber::octet_string(&[0x00]),
                    ber::integer(3),
                ]),
            ),
            ber::octet_string(&usm),
            ber::tlv(
                ber::SEQUENCE,
                &ber::concat(&[ber::octet_string(engine_id), ber::octet_string(b""), report]),
            ),
        ]),
    )
}

/// A v3 noAuthNoPriv poll against a socket of ours that answers every
/// request (discovery and GET alike) with `answer(i)`, `i` counting the
/// requests of this poll.
fn v3_poll(
    runtime: &tokio::runtime::Runtime,
    client: &Snmp2Client,
    socket: &UdpSocket,
    mut answer: impl FnMut(u32) -> Vec<u8>,
) -> std::thread::Result<Result<Vec<Varbind>, SnmpError>> {
    let agent = Agent {
        addr: socket.local_addr().expect("agent address"),
        version: SnmpVersion::V3,
        credentials: Credentials::V3 {
            user: "fuzz".into(),
            auth: None,
            privacy: None,
            key_extension: None,
        },
        timeout: Duration::from_secs(2),
        retries: 0,
        max_repetitions: 10,
    };
    let request = [Request::Get(vec![Oid(vec![1, 3, 6, 1, 2, 1, 1, 3, 0])])];
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let serve = async {
                let mut buf = vec![0u8; 65_536];
                let mut i = 0;
                loop {
                    let Ok((_, peer)) = socket.recv_from(&mut buf).await else {
                        continue;
                    };
                    let _ = socket.send_to(&answer(i), peer).await;
                    i += 1;
                }
            };
            tokio::select! {
                r = client.poll(&agent, &request) => r,
                _ = serve => unreachable!(),
            }
        })
    }))
}

/// Engine boots and time as an agent (or anything that can put a datagram
/// on its address) reports them, unauthenticated: in discovery (the first
/// poll learns them, the next takes them from the cache) or in answer to
/// the GET. Whatever comes, the poll fails (a Report never answers a GET)
/// and nothing panics. Returns what panicked.
fn v3_reports_with(cases: &[(i64, i64)]) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let socket = runtime
        .block_on(UdpSocket::bind("127.0.0.1:0"))
        .expect("bind the fake agent");
    let mut panics = Vec::new();
    for &(boots, time) in cases {
        let engine = b"\x80\x00\x1f\x88\x04fuzz";
        let report = v3_report(engine, boots, time);
        let client = Snmp2Client::new(1);
        for poll in ["first", "cached"] {
            match v3_poll(&runtime, &client, &socket, |_| report.clone()) {
                Ok(Ok(got)) => panic!("boots {boots}, time {time}, {poll} poll: success {got:?}"),
                Ok(Err(_)) => {}
                Err(_) => panics.push(format!("boots {boots}, time {time}, {poll} poll")),
            }
        }
        // After an ordinary discovery, snmp2 takes an unauthenticated
        // report's newer boots and asks again.
        let ordinary = v3_report(engine, 1, 100);
        let client = Snmp2Client::new(1);
        let answer = |i: u32| {
            if i == 0 {
                ordinary.clone()
            } else {
                report.clone()
            }
        };
        match v3_poll(&runtime, &client, &socket, answer) {
            Ok(Ok(got)) => {
                panic!("boots {boots}, time {time}, in answer to a GET: success {got:?}")
            }
            Ok(Err(_)) => {}
            Err(_) => panics.push(format!("boots {boots}, time {time}, in answer to a GET")),
        }
    }
    panics
}

/// RFC 3414 bounds boots and time to 0..2^31-1; values at and past the
/// bounds, except the ones of the test below.
#[test]
fn v3_reports_with_odd_boots_and_time_fail_without_panic() {
    let panics = v3_reports_with(&[
        (1, 0),
        (1, i64::from(i32::MAX) - 1),
        (1, i64::from(i32::MAX)),
        (i64::from(i32::MAX), i64::from(i32::MAX)),
        (1, i64::MAX),
        (i64::MAX, 0),
        (-1, -1),
        (0, 0),
    ]);
    assert!(
        panics.is_empty(),
        "the client panicked:\n{}",
        panics.join("\n")
    );
}

/// Boots of 2^63-1 with a time past 2^31-2, or a time of -2^63.
#[test]
fn v3_reports_with_extreme_boots_and_time_fail_without_panic() {
    let panics = v3_reports_with(&[
        (i64::MAX, i64::from(i32::MAX)),
        (i64::MAX, i64::MAX),
        (1, i64::MIN),
    ]);
    assert!(
        panics.is_empty(),
        "the client panicked:\n{}",
        panics.join("\n")
    );
}
