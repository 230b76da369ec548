//! Destinations, behind one trait: a batch in, delivered or a retryable error out.

pub mod naming;
pub mod object;
pub mod retry;

use futures::future::BoxFuture;
use thiserror::Error;

/// A batch ready for delivery: records `[first_seq, end_seq)` of the log, processed and
/// concatenated, before compression.
#[derive(Debug, Clone)]
pub struct Batch {
    pub first_seq: u64,
    pub end_seq: u64,
    pub records: u64,
    /// Processed record bytes (delimiters included), uncompressed.
    pub data: bytes::Bytes,
    /// Arrival time of the oldest record (ms since the epoch): names the object and measures
    /// freshness.
    pub oldest_arrival_ms: u64,
}

/// Why a delivery attempt failed. Every failure of an object store is retried: nothing is dropped.
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

/// One destination.
pub trait Destination: Send + Sync {
    /// The `destination` metrics label.
    fn kind(&self) -> &'static str;
    /// Delivers the batch once (the caller retries).
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>>;
}
