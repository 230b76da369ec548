//! The S3 bucket beside a non-S3 destination (`s3Configuration`): failed records as JSON under
//! the error-output prefix, and with the "all" backup modes every batch as an object under the
//! prefix.

use std::path::Path;

use bytes::Bytes;

use super::DeliveryError;
use super::object_writer::{BuildError, ObjectWriter};
use crate::record::Batch;
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
        stream: &str,
        version_id: &str,
        secrets_dir: &Path,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            objects: ObjectWriter::s3(s3, stream, version_id, secrets_dir)?,
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
