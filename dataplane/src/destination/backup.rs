//! The S3 bucket beside a non-S3 destination (`s3Configuration`): failed records as JSON under
//! the error-output prefix, and with the "all" backup modes every batch as an object under the
//! prefix.

use std::path::Path;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::object::{BuildError, ObjectDestination, time_of};
use super::{Batch, DeliveryError, Failure};
use crds::S3Destination;

/// Writes error output and backups to one bucket.
pub struct S3Output {
    objects: ObjectDestination,
    backup_all: bool,
}

impl S3Output {
    pub fn build(
        s3: &S3Destination,
        backup_all: bool,
        stream: &str,
        version_id: &str,
        secrets_dir: &Path,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            objects: ObjectDestination::s3(s3, stream, version_id, secrets_dir, "s3_backup")?,
            backup_all,
        })
    }

    /// Error output into a destination's own bucket or directory (S3 and local destinations:
    /// processing failures), never a backup.
    pub fn from_objects(objects: ObjectDestination) -> Self {
        Self {
            objects,
            backup_all: false,
        }
    }

    /// Whether every batch is backed up (AllDocuments / AllEvents / AllData).
    pub fn backs_up_all(&self) -> bool {
        self.backup_all
    }

    /// Writes the batch's records as one object under the backup prefix.
    pub async fn backup(&self, batch: &Batch) -> Result<String, DeliveryError> {
        self.objects.write(batch).await
    }

    /// Writes newline-delimited failed-record JSON under the error-output prefix for
    /// `error_type`, timed by the oldest failed record.
    pub async fn write_errors(
        &self,
        error_type: &str,
        oldest_arrival_ms: u64,
        lines: Bytes,
    ) -> Result<String, DeliveryError> {
        let key = self
            .objects
            .namer()
            .error_key(error_type, time_of(oldest_arrival_ms));
        self.objects.put(key, lines).await
    }
}

/// A record given up on, for the error output.
#[derive(Debug, Clone)]
pub struct FailedRecord {
    /// `rawData`: the record as it was when it failed.
    pub raw: Vec<u8>,
    pub arrival_ms: u64,
    pub failure: Failure,
    pub attempts: u32,
    /// Fields of the failure's kind (`esDocumentId`, `lambdaArn`, ...).
    pub extra: Map<String, Value>,
}

/// One failed record's error-output JSON (firehose.md §3.5): the common fields, then the
/// destination's own (`extra`), as one line.
pub fn error_line(
    attempts: u32,
    arrival_ms: u64,
    failure: &Failure,
    ending_ms: u64,
    raw: &[u8],
    extra: Map<String, Value>,
) -> Vec<u8> {
    let mut v = json!({
        "attemptsMade": attempts,
        "arrivalTimestamp": arrival_ms,
        "errorCode": failure.code,
        "errorMessage": failure.message,
        "attemptEndingTimestamp": ending_ms,
        "rawData": base64::engine::general_purpose::STANDARD.encode(raw),
    });
    if let Value::Object(map) = &mut v {
        map.extend(extra);
    }
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_carry_firehose_fields() {
        let mut extra = Map::new();
        extra.insert("esDocumentId".into(), json!("abc"));
        let line = error_line(
            3,
            1000,
            &Failure::new("400", "mapper_parsing_exception"),
            2000,
            b"{\"a\":1}",
            extra,
        );
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
