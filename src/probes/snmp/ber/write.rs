//! The BER encoder: whole TLVs in their shortest definite form, which is what
//! SNMP engines send and what `snmp2` writes.

#[cfg(test)]
use super::OBJECT_ID;
use super::{INTEGER, OCTET_STRING};

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
    tlv(OBJECT_ID, &content)
}

pub fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
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

    #[test]
    fn lengths_encode_shortest() {
        for (len, want) in [
            (0usize, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x81, 0x80]),
            (65_535, vec![0x82, 0xff, 0xff]),
        ] {
            let out = tlv(OCTET_STRING, &vec![0u8; len]);
            assert_eq!(out[1..1 + want.len()], want, "{len}");
        }
    }
}
