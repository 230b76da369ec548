//! One load connection: fills batches, builds bodies, paces, sends, retries and records which
//! records the server acknowledged.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::time::sleep;

use crate::bitmap::Bitmap;
use crate::body::{BodyBuilder, Operation};
use crate::load::Shared;
use crate::record::{Checksum, MAX_COUNTER};

/// Backoff after a throttled (HTTP 503) request, or a batch whose records all failed.
const THROTTLE_BACKOFF: Duration = Duration::from_millis(20);
/// After this many consecutive transport/server errors on one connection the run is aborted.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;
/// Only the first few errors are printed; the rest are just counted.
const MAX_PRINTED_ERRORS: u64 = 10;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// What one connection did.
pub struct WorkerResult {
    pub acked: Bitmap,
    pub checksum: Checksum,
    pub latency: Histogram<u64>,
}

#[derive(Deserialize)]
struct PutRecordBatchResponse {
    #[serde(rename = "RequestResponses")]
    request_responses: Vec<ResponseEntry>,
}

/// PutRecord's answer: the record's id, no per-record error (a failure is the whole response).
#[derive(Deserialize)]
struct PutRecordResponse {
    #[serde(rename = "RecordId")]
    _record_id: String,
}

#[derive(Deserialize)]
struct ResponseEntry {
    #[serde(rename = "ErrorCode", default)]
    error_code: Option<String>,
}

/// Result of one HTTP attempt.
enum Attempt {
    Accepted(Vec<ResponseEntry>),
    Throttled,
    Retryable(String),
    Fatal(String),
}

/// Result of sending one body, including retries.
enum Outcome {
    Accepted(Vec<ResponseEntry>),
    /// The run is stopping; the body was not (known to be) accepted.
    Abandoned,
    Fatal(String),
}

/// Per-connection state.
struct Worker {
    shared: Arc<Shared>,
    builder: BodyBuilder,
    next_counter: u64,
    /// Counters of records that failed individually and must be resent.
    pending: Vec<u64>,
    result: WorkerResult,
}

/// Runs one connection until the run stops, the record budget is used up, or a fatal error.
pub async fn run(shared: Arc<Shared>, builder: BodyBuilder) -> WorkerResult {
    let latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds");
    let mut worker = Worker {
        shared,
        builder,
        next_counter: 0,
        pending: Vec::new(),
        result: WorkerResult {
            acked: Bitmap::default(),
            checksum: Checksum::default(),
            latency,
        },
    };
    worker.run().await;
    worker.result
}

impl Worker {
    async fn run(&mut self) {
        let mut batch = Vec::with_capacity(self.shared.batch_size);
        let mut crcs = Vec::with_capacity(self.shared.batch_size);
        let mut body = BytesMut::new();
        while !self.shared.stopping() {
            self.fill_batch(&mut batch);
            if batch.is_empty() {
                break;
            }
            if let Err(e) = self.builder.build(&batch, &mut body, &mut crcs) {
                self.shared.abort(format!("building request body: {e:#}"));
                break;
            }
            let payload = batch.len() * self.shared.record_size;
            let Some(start) = self.shared.pace(payload).await else {
                break;
            };
            if self.shared.stopping() {
                break;
            }
            let frozen = std::mem::take(&mut body).freeze();
            let outcome = self.send(frozen.clone(), batch.len()).await;
            body = frozen.try_into_mut().unwrap_or_default();
            match outcome {
                Outcome::Accepted(entries) => {
                    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.result.latency.saturating_record(micros.max(1));
                    let all_failed = self.apply(&batch, &crcs, &entries) == batch.len();
                    if all_failed {
                        sleep(THROTTLE_BACKOFF).await;
                    }
                }
                Outcome::Abandoned => break,
                Outcome::Fatal(msg) => {
                    self.shared.abort(msg);
                    break;
                }
            }
        }
    }

    /// Fills `batch` with records to resend first, then fresh records from the budget.
    fn fill_batch(&mut self, batch: &mut Vec<u64>) {
        batch.clear();
        let size = self.shared.batch_size;
        let resend = self.pending.len().min(size);
        batch.extend(self.pending.drain(..resend));
        let room = (size - batch.len())
            .min(usize::try_from(MAX_COUNTER + 1 - self.next_counter).unwrap_or(usize::MAX));
        let fresh = self.shared.claim(room);
        batch.extend(self.next_counter..self.next_counter + fresh as u64);
        self.next_counter += fresh as u64;
    }

    /// Records per-record results; returns the number of failed records (queued for resend).
    fn apply(&mut self, batch: &[u64], crcs: &[u32], entries: &[ResponseEntry]) -> usize {
        let mut failed = 0;
        for ((&counter, &crc), entry) in batch.iter().zip(crcs).zip(entries) {
            if entry.error_code.is_some() {
                failed += 1;
                self.pending.push(counter);
            } else if self.result.acked.insert(counter) {
                self.result.checksum.add(crc);
            }
        }
        let counters = &self.shared.counters;
        counters
            .acked
            .fetch_add((batch.len() - failed) as u64, Relaxed);
        counters.throttled.fetch_add(failed as u64, Relaxed);
        failed
    }

    /// Sends one body, retrying throttles and transient errors with the same body.
    async fn send(&self, body: Bytes, records: usize) -> Outcome {
        let counters = &self.shared.counters;
        let mut consecutive_errors = 0u32;
        loop {
            counters.requests.fetch_add(1, Relaxed);
            match self.attempt(body.clone(), records).await {
                Attempt::Accepted(entries) => return Outcome::Accepted(entries),
                Attempt::Throttled => {
                    counters.throttled.fetch_add(records as u64, Relaxed);
                    sleep(THROTTLE_BACKOFF).await;
                }
                Attempt::Retryable(msg) => {
                    consecutive_errors += 1;
                    self.note_error(&msg);
                    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        return Outcome::Fatal(format!(
                            "giving up after {consecutive_errors} consecutive errors; last: {msg}"
                        ));
                    }
                    sleep(error_backoff(consecutive_errors)).await;
                }
                Attempt::Fatal(msg) => {
                    self.note_error(&msg);
                    return Outcome::Fatal(msg);
                }
            }
            if self.shared.stopping() {
                return Outcome::Abandoned;
            }
        }
    }

    fn note_error(&self, msg: &str) {
        let previous = self.shared.counters.errors.fetch_add(1, Relaxed);
        if previous < MAX_PRINTED_ERRORS {
            eprintln!("loadgen: request error: {msg}");
        } else if previous == MAX_PRINTED_ERRORS {
            eprintln!("loadgen: further request errors are counted but not printed");
        }
    }

    /// One HTTP request.
    async fn attempt(&self, body: Bytes, records: usize) -> Attempt {
        let target = self.shared.operation.target();
        let mut request = self
            .shared
            .client
            .post(&self.shared.endpoint)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("X-Amz-Target", target);
        if let Some(signer) = &self.shared.signer {
            let signed = [("content-type", CONTENT_TYPE), ("x-amz-target", target)];
            match signer.headers(&self.shared.endpoint, &signed, &body, SystemTime::now()) {
                Ok(headers) => {
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                }
                Err(e) => return Attempt::Fatal(format!("{e:#}")),
            }
        }
        let request = request.body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Retryable(format!("request failed: {:#}", anyhow::Error::from(e)));
            }
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Attempt::Retryable(format!(
                    "reading response (HTTP {status}): {:#}",
                    anyhow::Error::from(e)
                ));
            }
        };
        classify_response(self.shared.operation, status.as_u16(), &bytes, records)
    }
}

/// Interprets a response to an `operation` request carrying `records` records.
fn classify_response(operation: Operation, status: u16, body: &[u8], records: usize) -> Attempt {
    match status {
        200 if operation == Operation::PutRecord => {
            match serde_json::from_slice::<PutRecordResponse>(body) {
                Ok(_) => Attempt::Accepted(vec![ResponseEntry { error_code: None }]),
                Err(e) => {
                    Attempt::Retryable(format!("unparseable 200 response: {e}: {}", snippet(body)))
                }
            }
        }
        200 => match serde_json::from_slice::<PutRecordBatchResponse>(body) {
            Ok(parsed) if parsed.request_responses.len() == records => {
                Attempt::Accepted(parsed.request_responses)
            }
            Ok(parsed) => Attempt::Retryable(format!(
                "response has {} entries for {records} records",
                parsed.request_responses.len()
            )),
            Err(e) => {
                Attempt::Retryable(format!("unparseable 200 response: {e}: {}", snippet(body)))
            }
        },
        503 | 429 => Attempt::Throttled,
        400..=499 => Attempt::Fatal(format!("HTTP {status}: {}", snippet(body))),
        _ => Attempt::Retryable(format!("HTTP {status}: {}", snippet(body))),
    }
}

fn error_backoff(consecutive_errors: u32) -> Duration {
    Duration::from_millis(50u64 << consecutive_errors.min(5)).min(Duration::from_secs(1))
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_responses() {
        let ok = br#"{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[{"RecordId":"a"},{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}]}"#;
        match classify_response(Operation::PutRecordBatch, 200, ok, 2) {
            Attempt::Accepted(entries) => {
                assert!(entries[0].error_code.is_none());
                assert_eq!(
                    entries[1].error_code.as_deref(),
                    Some("ServiceUnavailableException")
                );
            }
            _ => panic!("expected accepted"),
        }
        assert!(matches!(
            classify_response(Operation::PutRecordBatch, 200, ok, 3),
            Attempt::Retryable(_)
        ));
        assert!(matches!(
            classify_response(Operation::PutRecordBatch, 200, b"nope", 1),
            Attempt::Retryable(_)
        ));
        let slow = br#"{"__type":"ServiceUnavailableException","message":"Slow down."}"#;
        assert!(matches!(
            classify_response(Operation::PutRecordBatch, 503, slow, 1),
            Attempt::Throttled
        ));
        assert!(matches!(
            classify_response(Operation::PutRecordBatch, 400, b"{}", 1),
            Attempt::Fatal(_)
        ));
        assert!(matches!(
            classify_response(Operation::PutRecordBatch, 500, b"", 1),
            Attempt::Retryable(_)
        ));
    }

    #[test]
    fn classifies_put_record_responses() {
        let ok = br#"{"RecordId":"49546986683135544286507457936321625675700192471156785154","Encrypted":false}"#;
        match classify_response(Operation::PutRecord, 200, ok, 1) {
            Attempt::Accepted(entries) => {
                assert_eq!(entries.len(), 1);
                assert!(entries[0].error_code.is_none());
            }
            _ => panic!("expected accepted"),
        }
        assert!(matches!(
            classify_response(Operation::PutRecord, 200, b"{}", 1),
            Attempt::Retryable(_)
        ));
        assert!(matches!(
            classify_response(Operation::PutRecord, 503, b"{}", 1),
            Attempt::Throttled
        ));
    }

    #[test]
    fn error_backoff_is_capped() {
        assert_eq!(error_backoff(1), Duration::from_millis(100));
        assert_eq!(error_backoff(30), Duration::from_secs(1));
    }
}
