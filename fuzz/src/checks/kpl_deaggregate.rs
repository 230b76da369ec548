//! The KPL de-aggregator and the JSON / delimiter de-aggregation.
//!
//! Asserts: the input split as a KPL record yields sub-records that lie inside the input and
//! add up to no more than it; an aggregate built from the input's pieces splits back into
//! exactly those pieces; JSON de-aggregation yields objects that parse on their own; the
//! delimited split loses only delimiters.

use dataplane::process::deaggregate;
use dataplane::record::kpl;
use md5::Digest;

use super::json_value;

const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

pub fn check(input: &[u8]) {
    if let Ok(parts) = kpl::split(input) {
        let range = input.as_ptr_range();
        let mut total = 0;
        for p in &parts {
            assert!(range.start <= p.as_ptr() && p.as_ptr_range().end <= range.end);
            total += p.len();
        }
        assert!(total <= input.len());
    }

    // The input's pieces between 0xFF bytes, aggregated as the KPL writes them.
    let pieces: Vec<&[u8]> = input.split(|&b| b == 0xFF).collect();
    let aggregated = aggregate(&pieces);
    assert_eq!(
        kpl::split(&aggregated).expect("a well-formed aggregate splits"),
        pieces
    );

    if let Ok(objects) = deaggregate::json(input) {
        for o in objects {
            if let Some(value) = json_value(o) {
                assert!(value.is_object());
            }
        }
    }

    let delimiter = b"\n--\n";
    let parts = deaggregate::delimited(input, delimiter);
    assert!(parts.iter().all(|p| !p.is_empty()));
    let kept: usize = parts.iter().map(|p| p.len()).sum();
    let removed = input.len() - kept;
    assert_eq!(removed % delimiter.len(), 0);
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// An `AggregatedRecord`: a partition key table, then per record its key index (varint field
/// 1), its data (field 3) and a tag (field 4); magic bytes before, MD5 after.
fn aggregate(records: &[&[u8]]) -> Vec<u8> {
    let mut message = Vec::new();
    field(1, b"pk", &mut message);
    for r in records {
        let mut record = Vec::new();
        varint(1 << 3, &mut record);
        varint(0, &mut record);
        field(3, r, &mut record);
        field(4, b"\x0a\x01t", &mut record);
        field(3, &record, &mut message);
    }
    let mut out = KPL_MAGIC.to_vec();
    out.extend_from_slice(&message);
    out.extend_from_slice(&md5::Md5::digest(&message));
    out
}
