//! The S3 bucket beside a non-S3 destination (`s3Configuration`): failed records as JSON under
//! the error-output prefix, and with the "all" backup modes every batch as an object under the
//! prefix.

use std::path::Path;

use bytes::Bytes;

use super::DeliveryError;
use super::object_writer::{BuildError, Naming, ObjectWriter};
use crate::record::{Batch, FailedRecord};
use crate::support::clock::time_of;
use crds::S3Destination;

/// Writes error output and backups to one bucket.
pub struct S3Output {
    objects: ObjectWriter,
    backup_all: bool,
}

impl S3Output {
    pub fn build(
        s3: &S3Destination,
        backup_all: bool,
        naming: Naming<'_>,
        secrets_dir: &Path,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            objects: ObjectWriter::s3(s3, naming, secrets_dir)?.for_backups(),
            backup_all,
        })
    }

    /// Error output into a destination's own bucket or directory (S3 and local destinations:
    /// processing failures), never a backup.
    pub fn from_objects(objects: ObjectWriter) -> Self {
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

    /// The key of the error-output object of `records` of `error_type`, timed by the oldest.
    pub fn error_key(&self, error_type: &str, records: &[FailedRecord]) -> String {
        let oldest = records.iter().map(|r| r.arrival_ms).min().unwrap_or(0);
        let id = self.objects.error_identity(error_type, records);
        self.objects
            .namer()
            .error_key(error_type, time_of(oldest), &id)
    }

    /// Writes newline-delimited failed-record JSON under `key` (from [`Self::error_key`]).
    pub async fn write_errors(&self, key: String, lines: Bytes) -> Result<String, DeliveryError> {
        self.objects.put(key, lines).await
    }
}
