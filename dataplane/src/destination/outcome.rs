//! What a delivery attempt did to each record.

use crate::record::Failure;

/// One record's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Delivered,
    /// Failed; worth retrying (throttling, server errors, timeouts).
    Retry(Failure),
    /// Failed for good (the record itself is bad): straight to the error output.
    Reject(Failure),
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every record delivered.
    Delivered,
    /// Nothing delivered; every record retryable.
    RetryAll(Failure),
    /// Nothing delivered; no record can ever be (e.g. HTTP 413).
    RejectAll(Failure),
    /// Per record, in batch order.
    PerRecord(Vec<RecordOutcome>),
}

impl Outcome {
    /// The outcome of record `i`.
    pub fn record(&self, i: usize) -> RecordOutcome {
        match self {
            Outcome::Delivered => RecordOutcome::Delivered,
            Outcome::RetryAll(f) => RecordOutcome::Retry(f.clone()),
            Outcome::RejectAll(f) => RecordOutcome::Reject(f.clone()),
            Outcome::PerRecord(v) => v.get(i).cloned().unwrap_or_else(|| {
                RecordOutcome::Retry(Failure::new(
                    "InternalError",
                    "the destination returned no result for this record",
                ))
            }),
        }
    }

    /// The failure to report for the attempt as a whole, if any record failed.
    pub fn first_failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Delivered => None,
            Outcome::RetryAll(f) | Outcome::RejectAll(f) => Some(f),
            Outcome::PerRecord(v) => v.iter().find_map(|o| match o {
                RecordOutcome::Delivered => None,
                RecordOutcome::Retry(f) | RecordOutcome::Reject(f) => Some(f),
            }),
        }
    }
}
