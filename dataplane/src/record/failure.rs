//! Why a record failed, and a record given up on as the error output holds it.

use base64::Engine;
use serde_json::{Map, Value, json};

/// Why a record (or an attempt) failed, in Firehose's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// e.g. `HttpEndpoint.DestinationException`, `Splunk.AckTimeout`, or the HTTP status of an
    /// OpenSearch item.
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A record given up on, for the error output.
#[derive(Debug, Clone)]
pub struct FailedRecord {
    /// `rawData`: the record as it was when it failed.
    pub raw: Vec<u8>,
    pub arrival_ms: u64,
    /// The record's place in the log (sequence and sub-sequence numbers): its error-output
    /// object is named by the places of the records it holds.
    pub seq: u64,
    pub sub: u32,
    pub failure: Failure,
    pub attempts: u32,
    /// Fields of the failure's kind (`esDocumentId`, `lambdaArn`, ...).
    pub extra: Map<String, Value>,
}

impl FailedRecord {
    /// The record's error-output JSON, as one line: the common fields
    /// (docs/destinations.md, "Error output"), then those of the failure's kind.
    pub fn json_line(&self, ending_ms: u64) -> Vec<u8> {
        let mut v = json!({
            "attemptsMade": self.attempts,
            "arrivalTimestamp": self.arrival_ms,
            "errorCode": self.failure.code,
            "errorMessage": self.failure.message,
            "attemptEndingTimestamp": ending_ms,
            "rawData": base64::engine::general_purpose::STANDARD.encode(&self.raw),
        });
        if let Value::Object(map) = &mut v {
            map.extend(self.extra.clone());
        }
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_carry_firehose_fields() {
        let mut extra = Map::new();
        extra.insert("esDocumentId".into(), json!("abc"));
        let record = FailedRecord {
            raw: b"{\"a\":1}".to_vec(),
            arrival_ms: 1000,
            seq: 0,
            sub: 0,
            failure: Failure::new("400", "mapper_parsing_exception"),
            attempts: 3,
            extra,
        };
        let line = record.json_line(2000);
        assert_eq!(line.last(), Some(&b'\n'));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["attemptsMade"], 3);
        assert_eq!(v["arrivalTimestamp"], 1000);
        assert_eq!(v["errorCode"], "400");
        assert_eq!(v["errorMessage"], "mapper_parsing_exception");
        assert_eq!(v["attemptEndingTimestamp"], 2000);
        assert_eq!(v["rawData"], "eyJhIjoxfQ==");
        assert_eq!(v["esDocumentId"], "abc");
    }
}
