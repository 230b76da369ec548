//! Destinations, behind one trait: a batch in, a per-record outcome out. The batcher owns retry,
//! error output and backup, so every destination gets the same durability rules.

pub mod backup;
pub mod batch;
pub mod build;
pub mod http_client;
pub mod http_endpoint;
pub mod index_name;
pub mod naming;
pub mod object;
pub mod opensearch;
pub mod outcome;
pub mod pg_connect;
pub mod pg_rows;
pub mod postgresql;
pub mod redshift;
pub mod retry;
pub mod secrets;
pub mod splunk;

use std::time::Duration;

use futures::future::BoxFuture;
use thiserror::Error;

pub use batch::{Batch, RecordMeta};
pub use outcome::{Failure, Outcome, RecordOutcome};

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

/// How long, and how often, a destination's failing records are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retrying stops once the backoff waits add up to this; `None` retries forever (object
    /// stores: records never leave the log undelivered).
    pub duration: Option<Duration>,
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn forever() -> Self {
        Self {
            duration: None,
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
        }
    }

    /// Retries for `retryOptions.durationInSeconds`, backing off from `initial` to `max`.
    pub fn for_duration(seconds: i32, initial: Duration, max: Duration) -> Self {
        Self {
            duration: Some(Duration::from_secs(seconds.max(0) as u64)),
            initial,
            max,
        }
    }
}

/// One destination.
pub trait Destination: Send + Sync {
    /// The `destination` metrics label.
    fn kind(&self) -> &'static str;

    /// The `!{firehose:error-output-type}` of records this destination gives up on.
    fn error_output_type(&self) -> &'static str;

    fn retry_policy(&self) -> RetryPolicy;

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

    /// Destination-specific fields of a failed record's error-output JSON (firehose.md §3.5),
    /// e.g. `esDocumentId`, `EventId`.
    fn error_fields(
        &self,
        _batch: &Batch,
        _index: usize,
        _fields: &mut serde_json::Map<String, serde_json::Value>,
    ) {
    }
}
