//! snmpsim's `.snmprec` recordings, read into varbinds.
//!
//! A recording is one object per line, `OID|TAG|VALUE`, as written by
//! `snmpsim-record-commands` (snmpsim's "Simulation data" documentation):
//! the tag is the BER type number (2 Integer, 4 OCTET STRING, 5 NULL, 6 OBJECT
//! IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 68
//! Opaque, 70 Counter64, 128-130 the RFC 3416 exceptions); an `x` after the
//! number means the value is hex-encoded (how the recorder keeps binary and
//! non-ASCII strings); `TAG:module` names a variation module whose value is a
//! `key=value,...` list rather than the value itself.
//!
//! Used by the profile golden tests (a recording stands in for a walk) and by
//! any other test that needs a device's answers without a device; compiled
//! for tests only, so it is not in the daemon.

use std::fmt;

use super::{Oid, Value, Varbind};

/// One line that could not be read, with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Every varbind of a recording, sorted by OID (the order a walk returns
/// them), or every line that could not be read. Blank lines and `#` comments
/// are skipped; when an OID appears twice the first line wins, as one agent
/// can only answer one value for it.
pub fn parse(text: &str) -> Result<Vec<Varbind>, Vec<LineError>> {
    let mut varbinds = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(vb) => varbinds.push(vb),
            Err(message) => errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Stable, so the first of two equal OIDs stays first and survives dedup.
    varbinds.sort_by(|a: &Varbind, b: &Varbind| a.oid.cmp(&b.oid));
    varbinds.dedup_by(|later, first| later.oid == first.oid);
    Ok(varbinds)
}

fn parse_line(line: &str) -> Result<Varbind, String> {
    // The value may itself contain `|` (free text); only the first two split.
    let mut parts = line.splitn(3, '|');
    let (Some(oid), Some(tag), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("expected OID|TAG|VALUE, found {line:?}"));
    };
    let oid: Oid = oid.parse()?;
    let (tag, module) = match tag.split_once(':') {
        Some((t, m)) => (t, Some(m)),
        None => (tag, None),
    };
    let (number, hex) = match tag.strip_suffix('x') {
        Some(n) => (n, true),
        None => (tag, false),
    };
    let number: u32 = number
        .parse()
        .map_err(|_| format!("unknown type tag {tag:?}"))?;
    let bytes: Vec<u8> = match module {
        Some(module) => variation_value(module, value).into_bytes(),
        None if hex => decode_hex(value)?,
        None => value.as_bytes().to_vec(),
    };
    let value = to_value(number, bytes, hex && module.is_none())?;
    Ok(Varbind { oid, value })
}

/// The value a variation module starts from. `numeric` (growing counters,
/// ticking uptime) starts at `initial` plus `offset`; `writecache` and others
/// hold a `value`; anything else reads as 0, which is what a fresh simulated
/// agent would answer first.
fn variation_value(module: &str, params: &str) -> String {
    let get = |key: &str| {
        params
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
    };
    if module == "numeric" {
        let num = |k| get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let start = num("initial") + num("offset");
        return format!("{}", start.trunc() as i128);
    }
    get("value").unwrap_or_else(|| "0".into())
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return Err(format!("hex value {s:?} has an odd number of digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("invalid hex value {s:?}"))
        })
        .collect()
}

fn to_value(tag: u32, bytes: Vec<u8>, raw_hex: bool) -> Result<Value, String> {
    let text = || {
        String::from_utf8(bytes.clone())
            .map(|s| s.trim().to_string())
            .map_err(|_| "value is not text".to_string())
    };
    let int = |what: &str| -> Result<i128, String> {
        let t = text()?;
        t.parse::<i128>()
            .map_err(|_| format!("{what} value {t:?} is not a whole number"))
    };
    let ranged = |what: &str, min: i128, max: i128| -> Result<i128, String> {
        let v = int(what)?;
        if v < min || v > max {
            return Err(format!("{what} value {v} is out of range {min}..={max}"));
        }
        Ok(v)
    };
    let u32max = i128::from(u32::MAX);
    Ok(match tag {
        2 => Value::Integer(ranged("Integer", i128::from(i64::MIN), i128::from(i64::MAX))? as i64),
        4 => Value::OctetString(bytes),
        5 => Value::Null,
        6 => Value::ObjectId(text()?.parse()?),
        64 if raw_hex => {
            let octets: [u8; 4] = bytes
                .try_into()
                .map_err(|_| "IpAddress needs 4 octets".to_string())?;
            Value::IpAddress(octets)
        }
        64 => match text()
            .ok()
            .and_then(|t| t.parse::<std::net::Ipv4Addr>().ok())
        {
            Some(ip) => Value::IpAddress(ip.octets()),
            // The recorder writes some addresses as their four raw octets
            // (pysnmp accepts either form), e.g. `64|eEij` in snmpsim-data.
            None => match <[u8; 4]>::try_from(bytes.as_slice()) {
                Ok(octets) => Value::IpAddress(octets),
                Err(_) => {
                    let shown = String::from_utf8_lossy(&bytes);
                    return Err(format!(
                        "IpAddress value {shown:?} is neither dotted-quad nor 4 octets"
                    ));
                }
            },
        },
        65 => Value::Counter32(ranged("Counter32", 0, u32max)? as u32),
        66 => Value::Gauge32(ranged("Gauge32", 0, u32max)? as u32),
        67 => Value::TimeTicks(ranged("TimeTicks", 0, u32max)? as u32),
        68 => Value::Opaque(bytes),
        70 => Value::Counter64(ranged("Counter64", 0, i128::from(u64::MAX))? as u64),
        128 => Value::NoSuchObject,
        129 => Value::NoSuchInstance,
        130 => Value::EndOfMibView,
        other => return Err(format!("unknown type tag {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_tag_and_sorts_by_oid() {
        let text = "\
# a comment
1.3.6.1.2.1.1.5.0|4|core-sw1
1.3.6.1.2.1.1.1.0|4x|4875617765692056525020e5bd95
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.2011.2.23
1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=123
1.3.6.1.2.1.2.2.1.8.1|2|1
1.3.6.1.2.1.2.2.1.8.2|2:writecache|value=2
1.3.6.1.2.1.4.20.1.1.10.0.0.1|64|10.0.0.1
1.3.6.1.2.1.4.20.1.1.10.0.0.2|64x|0a000002
1.3.6.1.2.1.4.20.1.1.10.0.0.3|64|eEij
1.3.6.1.2.1.2.2.1.10.1|65|4294967295
1.3.6.1.2.1.2.2.1.5.1|66|1000000000
1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615
1.3.6.1.2.1.31.1.1.1.6.2|70:numeric|rate=125000,wrap=1
1.3.6.1.4.1.9.1|68x|9f780442c80000
1.3.6.1.4.1.9.2|5|
1.3.6.1.4.1.9.3|130|
1.3.6.1.2.1.1.5.0|4|duplicate, ignored
";
        let vbs = parse(text).unwrap();
        let oids: Vec<String> = vbs.iter().map(|v| v.oid.to_string()).collect();
        let mut sorted = oids.clone();
        sorted.sort_by_key(|o| o.parse::<Oid>().unwrap());
        assert_eq!(oids, sorted);
        let get = |o: &str| {
            let oid: Oid = o.parse().unwrap();
            vbs.iter().find(|v| v.oid == oid).unwrap().value.clone()
        };
        assert_eq!(get("1.3.6.1.2.1.1.1.0").as_label(), "Huawei VRP \u{5f55}");
        assert_eq!(
            get("1.3.6.1.2.1.1.5.0"),
            Value::OctetString(b"core-sw1".to_vec())
        );
        assert_eq!(get("1.3.6.1.2.1.1.3.0"), Value::TimeTicks(123));
        assert_eq!(get("1.3.6.1.2.1.2.2.1.8.2"), Value::Integer(2));
        assert_eq!(
            get("1.3.6.1.2.1.4.20.1.1.10.0.0.1"),
            Value::IpAddress([10, 0, 0, 1])
        );
        assert_eq!(
            get("1.3.6.1.2.1.4.20.1.1.10.0.0.2"),
            Value::IpAddress([10, 0, 0, 2])
        );
        assert_eq!(
            get("1.3.6.1.2.1.4.20.1.1.10.0.0.3"),
            Value::IpAddress(*b"eEij")
        );
        assert_eq!(get("1.3.6.1.2.1.2.2.1.10.1"), Value::Counter32(u32::MAX));
        assert_eq!(get("1.3.6.1.2.1.31.1.1.1.6.1"), Value::Counter64(u64::MAX));
        assert_eq!(get("1.3.6.1.2.1.31.1.1.1.6.2"), Value::Counter64(0));
        assert_eq!(
            get("1.3.6.1.4.1.9.1"),
            Value::Opaque(vec![0x9f, 0x78, 0x04, 0x42, 0xc8, 0, 0])
        );
        assert_eq!(get("1.3.6.1.4.1.9.2"), Value::Null);
        assert_eq!(get("1.3.6.1.4.1.9.3"), Value::EndOfMibView);
        assert_eq!(
            get("1.3.6.1.2.1.1.2.0"),
            Value::ObjectId("1.3.6.1.4.1.2011.2.23".parse().unwrap())
        );
    }

    #[test]
    fn bad_lines_are_errors_with_their_line_numbers_never_panics() {
        let text = "\
1.3.6.1.2.1.1.5.0|4|ok
not an oid|4|x
1.3.6.1.2.1.1.3.0|67|-5
1.3.6.1.2.1.1.3.0|99|1
1.3.6.1.2.1.1.1.0|4x|abc
1.3.6.1.2.1.1.1.0
1.3.6.1.2.1.2.2.1.10.1|65|4294967296
1.3.6.1.2.1.2.2.1.10.1|2|99999999999999999999999
1.3.6.1.2.1.4.20.1.1.1|64x|0a00
1.3.6.1.2.1.4.20.1.1.1|6|1.x
";
        let errors = parse(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(
            errors[1].to_string(),
            "line 3: TimeTicks value -5 is out of range 0..=4294967295"
        );
        // Arbitrary bytes: an error or a value, never a panic.
        for junk in [
            "|||",
            "1.3|4x|zz",
            "1.3|4x|ä",
            "1.3|2|",
            "1.3|x|1",
            "\u{0}|\u{0}|\u{0}",
        ] {
            let _ = parse(junk);
        }
    }
}
