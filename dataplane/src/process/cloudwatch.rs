//! `Decompression` (GZIP) and `CloudWatchLogProcessing`: CloudWatch Logs subscription payloads
//! are gzip'd JSON documents; control messages are dropped and, with data-message extraction,
//! each log event's message becomes a record.

use std::io::Read;

use serde::Deserialize;

use crate::record::Failure;

/// Refuses decompressed payloads beyond this (a gzip bomb in one record).
const MAX_DECOMPRESSED: u64 = 64 << 20;

pub fn gunzip(record: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(record)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            Failure::new(
                "Decompression.InvalidData",
                format!("the record is not GZIP data: {e}"),
            )
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(Failure::new(
            "Decompression.TooLarge",
            format!("the record decompresses to more than {MAX_DECOMPRESSED} bytes"),
        ));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    message_type: String,
    #[serde(default)]
    log_events: Vec<LogEvent>,
}

#[derive(Deserialize)]
struct LogEvent {
    message: String,
}

/// What a decompressed CloudWatch Logs payload becomes: nothing for a control message, one
/// record per log event's message with extraction, else the payload itself.
pub fn extract(payload: Vec<u8>, messages_only: bool) -> Result<Vec<Vec<u8>>, Failure> {
    let invalid = |why: String| Failure::new("CloudWatchLogProcessing.InvalidData", why);
    // From bytes, serde_json checks UTF-8 only in the strings it keeps: invalid bytes in a member
    // it skips would pass as JSON.
    let text = std::str::from_utf8(&payload)
        .map_err(|e| invalid(format!("the payload is not UTF-8: {e}")))?;
    let parsed: Payload = serde_json::from_str(text)
        .map_err(|e| invalid(format!("not a CloudWatch Logs subscription payload: {e}")))?;
    match parsed.message_type.as_str() {
        "CONTROL_MESSAGE" => Ok(Vec::new()),
        "DATA_MESSAGE" if messages_only => Ok(parsed
            .log_events
            .into_iter()
            .map(|e| e.message.into_bytes())
            .collect()),
        "DATA_MESSAGE" => Ok(vec![payload]),
        other => Err(invalid(format!("unknown messageType `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn control_messages_vanish_and_data_messages_yield_their_messages() {
        let data = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":"first"},{"id":"2","timestamp":2,"message":"second"}]}"#;
        let payload = gunzip(&gz(data)).unwrap();
        assert_eq!(
            extract(payload.clone(), true).unwrap(),
            vec![b"first".to_vec(), b"second".to_vec()]
        );
        assert_eq!(extract(payload, false).unwrap(), vec![data.to_vec()]);
        let control = br#"{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert!(
            extract(gunzip(&gz(control)).unwrap(), true)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            gunzip(b"plain").unwrap_err().code,
            "Decompression.InvalidData"
        );
    }
}
