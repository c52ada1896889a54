//! Reading the small part of BER (X.690) that SNMP messages use, without
//! trust.
//!
//! Every function is total: any input, however short, long or lying, gives a
//! value or a [`BerError`]; nothing indexes past a slice or overflows. SNMP's
//! grammar is fixed (RFC 3416 §3, RFC 3412 §6), so the reader never recurses
//! into an unknown structure: a value with a constructed or unknown tag is an
//! error, and deep nesting costs nothing.

use super::{
    COUNTER32, COUNTER64, END_OF_MIB_VIEW, GAUGE32, INTEGER, IP_ADDRESS, NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT, NULL, OBJECT_ID, OCTET_STRING, OPAQUE, SEQUENCE, TIMETICKS,
};
use crate::probes::snmp::{Oid, Value, Varbind};

/// Why a datagram could not be read; a fixed phrase, never a byte of input.
pub type BerError = &'static str;

/// RFC 2578 §3.5: at most 128 sub-identifiers in an OID.
const MAX_OID_ARCS: usize = 128;

/// A cursor over the contents of one constructed value.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// One TLV: its tag, its contents and its whole encoding.
    ///
    /// Only single-octet tags and definite lengths of up to four octets: SNMP
    /// uses nothing else, and a length beyond what is left is a lie.
    pub fn tlv(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), BerError> {
        let whole = self.rest;
        let (&tag, after_tag) = whole.split_first().ok_or("truncated: tag expected")?;
        if tag & 0x1f == 0x1f {
            return Err("multi-octet tag");
        }
        let (&first, mut after_len) = after_tag
            .split_first()
            .ok_or("truncated: length expected")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 {
                return Err("indefinite length");
            }
            if count > 4 {
                return Err("length of length over 4 octets");
            }
            let digits = after_len.get(..count).ok_or("truncated: length octets")?;
            after_len = &after_len[count..];
            digits
                .iter()
                .fold(0usize, |acc, &d| (acc << 8) | usize::from(d))
        };
        if len > after_len.len() {
            return Err("length longer than the data");
        }
        let (contents, rest) = after_len.split_at(len);
        let header = whole.len() - after_len.len();
        self.rest = rest;
        Ok((tag, contents, &whole[..header + len]))
    }

    /// The contents of a TLV that must carry `tag`.
    pub fn expect(&mut self, tag: u8, what: BerError) -> Result<&'a [u8], BerError> {
        let (found, contents, _) = self.tlv()?;
        if found != tag {
            return Err(what);
        }
        Ok(contents)
    }

    pub fn sequence(&mut self, what: BerError) -> Result<Reader<'a>, BerError> {
        self.expect(SEQUENCE, what).map(Reader::new)
    }

    pub fn integer(&mut self, what: BerError) -> Result<i64, BerError> {
        signed(self.expect(INTEGER, what)?)
    }

    pub fn octets(&mut self, what: BerError) -> Result<&'a [u8], BerError> {
        self.expect(OCTET_STRING, what)
    }

    pub fn oid(&mut self, what: BerError) -> Result<Oid, BerError> {
        oid(self.expect(OBJECT_ID, what)?)
    }

    /// Fails when anything is left: a structure that carries more than its
    /// grammar allows was not built by an SNMP engine.
    pub fn finish(&self) -> Result<(), BerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err("trailing data")
        }
    }
}

/// A two's-complement INTEGER of 1 to 8 octets.
pub fn signed(bytes: &[u8]) -> Result<i64, BerError> {
    if bytes.is_empty() {
        return Err("empty integer");
    }
    if bytes.len() > 8 {
        return Err("integer over 64 bits");
    }
    let init: i64 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
    Ok(bytes.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

/// An unsigned application type of at most `max` octets. One leading zero
/// octet (the sign pad BER needs when the top bit is set) is allowed beyond
/// that; some agents leave it out and send Counter32 4294967295 as `ff ff ff
/// ff`, which is read as the unsigned value the type promises.
fn unsigned(bytes: &[u8], max: usize) -> Result<u64, BerError> {
    let digits = match bytes {
        [] => return Err("empty integer"),
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => bytes,
    };
    if digits.len() > max {
        return Err("unsigned value too large for its type");
    }
    Ok(digits
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn unsigned32(bytes: &[u8]) -> Result<u32, BerError> {
    // `unsigned` with max 4 never exceeds u32::MAX.
    unsigned(bytes, 4).map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

/// OBJECT IDENTIFIER contents (X.690 §8.19), each arc at most 32 bits as SNMP
/// requires (RFC 2578 §7.1.3).
pub fn oid(bytes: &[u8]) -> Result<Oid, BerError> {
    if bytes.is_empty() {
        return Err("empty OID");
    }
    let mut arcs = Vec::with_capacity(bytes.len() + 1);
    let mut acc: u64 = 0;
    let mut in_arc = false;
    for &b in bytes {
        if !in_arc && b == 0x80 {
            return Err("OID arc with a leading zero octet");
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        // The first sub-identifier holds two arcs (40·X + Y), so it may reach
        // 80 + u32::MAX; every later one must fit 32 bits.
        if acc > u64::from(u32::MAX) + 80 {
            return Err("OID arc over 32 bits");
        }
        in_arc = b & 0x80 != 0;
        if in_arc {
            continue;
        }
        if arcs.is_empty() {
            let (x, y) = match acc {
                0..=39 => (0, acc),
                40..=79 => (1, acc - 40),
                _ => (2, acc - 80),
            };
            arcs.push(x);
            arcs.push(u32::try_from(y).map_err(|_| "OID arc over 32 bits")?);
        } else {
            arcs.push(u32::try_from(acc).map_err(|_| "OID arc over 32 bits")?);
        }
        if arcs.len() > MAX_OID_ARCS {
            return Err("OID longer than 128 arcs");
        }
        acc = 0;
    }
    if in_arc {
        return Err("OID ends inside an arc");
    }
    Ok(Oid(arcs))
}

/// One value of a variable binding, by its tag.
pub fn value(tag: u8, contents: &[u8]) -> Result<Value, BerError> {
    let empty = |v: Value| {
        if contents.is_empty() {
            Ok(v)
        } else {
            Err("NULL or exception with contents")
        }
    };
    match tag {
        INTEGER => signed(contents).map(Value::Integer),
        OCTET_STRING => Ok(Value::OctetString(contents.to_vec())),
        NULL => empty(Value::Null),
        OBJECT_ID => oid(contents).map(Value::ObjectId),
        IP_ADDRESS => <[u8; 4]>::try_from(contents)
            .map(Value::IpAddress)
            .map_err(|_| "IpAddress not 4 octets"),
        COUNTER32 => unsigned32(contents).map(Value::Counter32),
        GAUGE32 => unsigned32(contents).map(Value::Gauge32),
        TIMETICKS => unsigned32(contents).map(Value::TimeTicks),
        OPAQUE => Ok(Value::Opaque(contents.to_vec())),
        COUNTER64 => unsigned(contents, 8).map(Value::Counter64),
        NO_SUCH_OBJECT => empty(Value::NoSuchObject),
        NO_SUCH_INSTANCE => empty(Value::NoSuchInstance),
        END_OF_MIB_VIEW => empty(Value::EndOfMibView),
        _ => Err("unknown value type"),
    }
}

/// TimeTicks on its own (the v1 trap's time-stamp).
pub fn timeticks(r: &mut Reader<'_>, what: BerError) -> Result<u32, BerError> {
    unsigned32(r.expect(TIMETICKS, what)?)
}

/// A VarBindList (RFC 3416 §3): SEQUENCE OF SEQUENCE { name, value }.
pub fn varbinds(list: &[u8]) -> Result<Vec<Varbind>, BerError> {
    let mut r = Reader::new(list);
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut vb = r.sequence("varbind not a SEQUENCE")?;
        let oid = vb.oid("varbind name not an OID")?;
        let (tag, contents, _) = vb.tlv()?;
        vb.finish()?;
        out.push(Varbind {
            oid,
            value: value(tag, contents)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::write;
    use super::*;

    #[test]
    fn integers_round_trip_in_shortest_form() {
        for v in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            i64::MAX,
            i64::MIN,
        ] {
            let tlv = write::integer(v);
            let mut r = Reader::new(&tlv);
            assert_eq!(r.integer("int").unwrap(), v, "{v}");
            assert!(r.is_empty());
        }
        assert_eq!(write::integer(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(write::integer(-129), [0x02, 0x02, 0xff, 0x7f]);
    }

    #[test]
    fn oids_decode_and_reject_overflow() {
        // 1.3.6.1.2.1.2.2.1.1.4294967295
        let bytes = [
            0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x8f, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(
            oid(&bytes).unwrap().to_string(),
            "1.3.6.1.2.1.2.2.1.1.4294967295"
        );
        let mut over = bytes.to_vec();
        over[9] = 0x9f; // 2^32 + …
        assert!(oid(&over).is_err());
        assert!(oid(&[0x2b, 0x86]).is_err(), "ends inside an arc");
        assert!(oid(&[0x2b, 0x80, 0x01]).is_err(), "leading zero octet");
        assert_eq!(oid(&[0x88, 0x37]).unwrap().to_string(), "2.999");
    }

    #[test]
    fn unsigned_types_accept_the_sign_pad_and_its_absence() {
        assert_eq!(
            value(COUNTER32, &[0, 0xff, 0xff, 0xff, 0xff]).unwrap(),
            Value::Counter32(u32::MAX)
        );
        assert_eq!(
            value(COUNTER32, &[0xff, 0xff, 0xff, 0xff]).unwrap(),
            Value::Counter32(u32::MAX)
        );
        assert!(value(COUNTER32, &[1, 0, 0, 0, 0]).is_err());
        assert_eq!(
            value(
                COUNTER64,
                &[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
            )
            .unwrap(),
            Value::Counter64(u64::MAX)
        );
    }

    #[test]
    fn lengths_that_lie_are_errors() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x02],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30, 0x85, 1, 0, 0, 0, 0],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x1f, 0x01, 0x00],
        ] {
            assert!(Reader::new(bad).tlv().is_err(), "{bad:02x?}");
        }
        let mut r = Reader::new(&[0x30, 0x81, 0x01, 0x05, 0x99]);
        let (tag, contents, whole) = r.tlv().unwrap();
        assert_eq!((tag, contents, whole.len()), (0x30, &[0x05][..], 4));
        assert!(r.finish().is_err());
    }
}
