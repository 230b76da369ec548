//! The Kinesis Producer Library's aggregated records: several user records in one Kinesis
//! record. Read by the Kinesis source and by the `RecordDeAggregation` processor.

use super::Failure;

/// The magic bytes that open a KPL-aggregated record.
const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

/// Splits a Kinesis Producer Library aggregated record: magic bytes, a protobuf
/// `AggregatedRecord`, and the MD5 of the protobuf bytes. A record without the magic bytes is
/// not aggregated and stays whole (as the KCL treats it).
pub fn split(record: &[u8]) -> Result<Vec<&[u8]>, Failure> {
    let invalid = |why: &str| Failure::new("RecordDeAggregation.InvalidKplRecord", why.to_owned());
    let Some(rest) = record.strip_prefix(&KPL_MAGIC[..]) else {
        return Ok(vec![record]);
    };
    if rest.len() < 16 {
        return Err(invalid(
            "the aggregated record is shorter than its MD5 trailer",
        ));
    }
    let (message, digest) = rest.split_at(rest.len() - 16);
    use md5::Digest;
    if md5::Md5::digest(message).as_slice() != digest {
        return Err(invalid("the aggregated record's MD5 does not match"));
    }
    let mut out = Vec::new();
    let mut r = Proto(message);
    while !r.0.is_empty() {
        let (field, wire) = r.key().ok_or_else(|| invalid("malformed protobuf"))?;
        match (field, wire) {
            (3, 2) => {
                let mut rec = Proto(r.bytes().ok_or_else(|| invalid("malformed record"))?);
                let mut data = None;
                while !rec.0.is_empty() {
                    let (f, w) = rec.key().ok_or_else(|| invalid("malformed record"))?;
                    match (f, w) {
                        (3, 2) => {
                            data = Some(rec.bytes().ok_or_else(|| invalid("malformed data"))?)
                        }
                        _ => rec
                            .skip(w)
                            .ok_or_else(|| invalid("malformed record field"))?,
                    }
                }
                out.push(data.ok_or_else(|| invalid("a sub-record has no data"))?);
            }
            _ => r
                .skip(wire)
                .ok_or_else(|| invalid("malformed protobuf field"))?,
        }
    }
    Ok(out)
}

/// A minimal protobuf reader: the wire format of `AggregatedRecord`.
struct Proto<'a>(&'a [u8]);

impl<'a> Proto<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn key(&mut self) -> Option<(u64, u8)> {
        let k = self.varint()?;
        Some((k >> 3, (k & 7) as u8))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(b)
    }

    fn skip(&mut self, wire: u8) -> Option<()> {
        let n = match wire {
            0 => return self.varint().map(|_| ()),
            1 => 8,
            2 => return self.bytes().map(|_| ()),
            5 => 4,
            _ => return None,
        };
        self.0 = self.0.get(n..)?;
        Some(())
    }
}

#[cfg(test)]
mod kpl_tests {
    use super::*;
    use md5::Digest;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn field(n: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(n << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    /// An aggregated record as the KPL writes it.
    fn aggregate(records: &[&[u8]]) -> Vec<u8> {
        let mut msg = Vec::new();
        field(1, b"pk", &mut msg);
        for r in records {
            let mut rec = Vec::new();
            varint(1 << 3, &mut rec);
            varint(0, &mut rec);
            field(3, r, &mut rec);
            field(4, b"\x0a\x01t", &mut rec);
            field(3, &rec, &mut msg);
        }
        let mut out = KPL_MAGIC.to_vec();
        out.extend_from_slice(&msg);
        out.extend_from_slice(&md5::Md5::digest(&msg));
        out
    }

    #[test]
    fn aggregated_records_split_and_others_pass() {
        let agg = aggregate(&[b"one", b"", b"three"]);
        assert_eq!(split(&agg).unwrap(), vec![&b"one"[..], b"", b"three"]);
        assert_eq!(split(b"plain").unwrap(), vec![&b"plain"[..]]);
        let mut bad = agg.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert_eq!(
            split(&bad).unwrap_err().code,
            "RecordDeAggregation.InvalidKplRecord"
        );
    }
}
