//! The CloudWatch Logs decompressor and extractor.
//!
//! The input is tried twice: as the record (GZIP or not), and as the decompressed payload,
//! gzip'd here so the fuzzer reaches the JSON extraction past GZIP's CRC.
//!
//! Asserts: decompression returns what was compressed; failures carry the processors' codes;
//! extraction yields each data message's log-event messages in order, nothing for a control
//! message, and the payload itself without message extraction.

use std::io::Write;

use dataplane::process::cloudwatch::{extract, gunzip};

use super::json_value;

pub fn check(input: &[u8]) {
    match gunzip(input) {
        Ok(payload) => check_extract(payload),
        Err(f) => assert!(f.code.starts_with("Decompression."), "{}", f.code),
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(input).expect("writing to memory");
    let compressed = encoder.finish().expect("writing to memory");
    let payload = gunzip(&compressed).expect("what was compressed decompresses");
    assert_eq!(payload, input);
    check_extract(payload);
}

fn check_extract(payload: Vec<u8>) {
    let messages = extract(payload.clone(), true);
    let whole = extract(payload.clone(), false);
    let (messages, whole) = match (messages, whole) {
        (Ok(m), Ok(w)) => (m, w),
        (Err(a), Err(b)) => {
            assert_eq!(a.code, "CloudWatchLogProcessing.InvalidData");
            assert_eq!(b.code, a.code);
            return;
        }
        (m, w) => panic!("extraction disagrees with itself: {m:?} / {w:?}"),
    };
    let Some(doc) = json_value(&payload) else {
        return;
    };
    match doc["messageType"].as_str() {
        Some("CONTROL_MESSAGE") => {
            assert!(messages.is_empty());
            assert!(whole.is_empty());
        }
        Some("DATA_MESSAGE") => {
            let expected: Vec<Vec<u8>> = doc["logEvents"]
                .as_array()
                .map(|events| {
                    events
                        .iter()
                        .map(|e| {
                            e["message"]
                                .as_str()
                                .expect("a message")
                                .as_bytes()
                                .to_vec()
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(messages, expected);
            assert_eq!(whole, vec![payload]);
        }
        other => panic!("messageType {other:?} was accepted"),
    }
}
