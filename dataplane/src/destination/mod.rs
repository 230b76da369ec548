//! Destinations, behind one trait: a batch in, a per-record outcome out. Delivery (in
//! `batch/`) owns retry, error output and backup, so every destination gets the same
//! durability rules.
//!
//! One file (or folder) per destination; [`registry`] says what each is (its metrics label,
//! error-output type and retry policy) and builds it. The shared parts sit beside them:
//! [`object_writer`] and [`object_naming`] (objects and their Firehose names), [`s3_output`]
//! (the error-output and backup bucket), [`pg_connect`] (PostgreSQL and Redshift connections).

pub mod http_endpoint;
pub mod object_identity;
pub mod object_naming;
pub mod object_writer;
pub mod opensearch;
pub mod outcome;
pub mod pg_connect;
pub mod postgresql;
pub mod redshift;
pub mod registry;
pub mod s3;
pub mod s3_output;
pub mod splunk;

use futures::future::BoxFuture;
use thiserror::Error;

use crate::record::{Batch, Failure};
pub use outcome::{Outcome, RecordOutcome};
pub use registry::Profile;

/// A failure of the whole attempt: every record in it is retried.
#[derive(Debug, Error)]
pub enum DeliveryError {
    #[error("compressing the batch failed: {0}")]
    Encode(#[from] crate::encode::EncodeError),
    #[error("writing the object failed: {0}")]
    Store(#[from] object_store::Error),
    #[error("writing the object failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("delivery task failed: {0}")]
    Task(String),
}

impl DeliveryError {
    /// Firehose-style error code for the error output and logs.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::Store(_) | DeliveryError::Io(_) => "S3.WriteFailed",
            DeliveryError::Encode(_) | DeliveryError::Task(_) => "InternalError",
        }
    }
}

/// One destination.
pub trait Destination: Send + Sync {
    /// Delivers the batch once (the caller retries what is retryable). `Err` fails every record
    /// of the attempt, retryably.
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>>;

    /// Writes the records given up on in the destination's own way (Redshift: a manifest of the
    /// skipped staged objects). `None`: failed-record JSON in the error output.
    fn write_failed<'a>(
        &'a self,
        _batch: &'a Batch,
        _failed: &'a [(usize, Failure)],
    ) -> Option<BoxFuture<'a, Result<(), DeliveryError>>> {
        None
    }

    /// Destination-specific fields of a failed record's error-output JSON
    /// (docs/destinations.md, "Error output"), e.g. `esDocumentId`, `EventId`.
    fn error_fields(
        &self,
        _batch: &Batch,
        _index: usize,
        _fields: &mut serde_json::Map<String, serde_json::Value>,
    ) {
    }
}
