//! Delivering one batch (or one buffer's worth): attempts until every record is delivered or
//! given up on, retrying only the records an attempt says are retryable, within the
//! destination's retry policy (counted in backoff time only: waiting for responses does not
//! count). What is given up on goes to the error output; with an "all" backup mode the batch
//! is also written to the backup bucket.

use std::borrow::Cow;
use std::time::Duration;

use super::Pipeline;
use crate::destination::s3_output::S3Output;
use crate::destination::{Outcome, RecordOutcome};
use crate::record::{Batch, Failure};
use crate::support::retry::retry_until_ok;

/// What one attempt did to the records still pending.
#[derive(Default)]
struct Attempted {
    /// Indices into the batch to retry, with why.
    retry: Vec<(usize, Failure)>,
    /// Indices given up on at once.
    rejected: Vec<(usize, Failure)>,
}

impl Pipeline {
    /// Delivers `batch`, then writes what failed for good to the error output and, with an
    /// "all" backup mode, the batch to the backup bucket.
    pub(super) async fn deliver(&self, batch: Batch) {
        let policy = self.profile.retry;
        let mut backoff = policy.backoff();
        let mut retry_spent = Duration::ZERO;
        let mut attempts: u32 = 0;
        // Indices into `batch` still to deliver, and those given up on.
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut failed: Vec<(usize, Failure)> = Vec::new();
        while !pending.is_empty() {
            attempts += 1;
            let attempted = self.attempt(&batch, &pending).await;
            failed.extend(attempted.rejected);
            let retry = attempted.retry;
            pending = retry.iter().map(|(i, _)| *i).collect();
            let Some((_, first)) = retry.first() else {
                break;
            };
            let delay = backoff.next_delay();
            if policy
                .duration
                .is_some_and(|limit| retry_spent + delay > limit)
            {
                tracing::warn!(
                    records = retry.len(),
                    attempts,
                    code = %first.code,
                    error = %first.message,
                    "retry duration exhausted; records go to the error output"
                );
                failed.extend(retry);
                break;
            }
            tracing::warn!(
                records = retry.len(),
                code = %first.code,
                error = %first.message,
                retry_in_ms = delay.as_millis() as u64,
                first_seq = batch.first_seq,
                "delivery failed; the records stay in the log and are retried"
            );
            tokio::time::sleep(delay).await;
            retry_spent += delay;
        }
        if !failed.is_empty() {
            self.write_error_output(&batch, attempts, failed).await;
        }
        if let Some(out) = &self.s3_output
            && out.backs_up_all()
        {
            self.write_backup(out, &batch).await;
        }
    }

    /// One attempt at the `pending` records of `batch`, counted in the metrics and health.
    async fn attempt(&self, batch: &Batch, pending: &[usize]) -> Attempted {
        // The first attempt (and every retry of a whole batch) borrows the batch.
        let attempt = if pending.len() == batch.len() {
            Cow::Borrowed(batch)
        } else {
            Cow::Owned(batch.subset(pending))
        };
        let outcome = self
            .destination
            .deliver(&attempt)
            .await
            .unwrap_or_else(|e| Outcome::RetryAll(Failure::new(e.code(), e.to_string())));
        let mut attempted = Attempted::default();
        let mut counts = Counts::default();
        for (i, &index) in pending.iter().enumerate() {
            let bytes = attempt.record(i).len() as u64;
            match outcome.record(i) {
                RecordOutcome::Delivered => counts.ok(bytes),
                RecordOutcome::Retry(f) => {
                    counts.bad(bytes);
                    attempted.retry.push((index, f));
                }
                RecordOutcome::Reject(f) => {
                    counts.bad(bytes);
                    attempted.rejected.push((index, f));
                }
            }
        }
        self.count_attempt(&counts);
        match outcome.first_failure() {
            None => self.health.success(),
            Some(f) => self.health.error(format!("{}: {}", f.code, f.message)),
        }
        attempted
    }

    fn count_attempt(&self, c: &Counts) {
        let (m, kind) = (&self.metrics, self.profile.kind);
        let label = if c.bad_records == 0 {
            "success"
        } else {
            "failure"
        };
        m.delivery_requests.with_label_values(&[kind, label]).inc();
        for (label, records, bytes) in [
            ("success", c.ok_records, c.ok_bytes),
            ("failure", c.bad_records, c.bad_bytes),
        ] {
            if records > 0 {
                m.delivery_records
                    .with_label_values(&[kind, label])
                    .inc_by(records);
                m.delivery_bytes
                    .with_label_values(&[kind, label])
                    .inc_by(bytes);
            }
        }
    }

    /// Writes `batch` to a backup bucket, retrying until it succeeds (the records stay in the
    /// log until then).
    pub(super) async fn write_backup(&self, out: &S3Output, batch: &Batch) {
        let key = retry_until_ok(
            || out.backup(batch),
            |e, delay| {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the backup failed; retrying");
                self.health.error(format!("backup: {e}"));
            },
        )
        .await;
        self.metrics.backup_records.inc_by(batch.len() as u64);
        self.metrics.backup_bytes.inc_by(batch.record_bytes());
        tracing::debug!(key, "backed up batch");
    }
}

/// Records and bytes of one attempt, by result.
#[derive(Default)]
struct Counts {
    ok_records: u64,
    ok_bytes: u64,
    bad_records: u64,
    bad_bytes: u64,
}

impl Counts {
    fn ok(&mut self, bytes: u64) {
        self.ok_records += 1;
        self.ok_bytes += bytes;
    }

    fn bad(&mut self, bytes: u64) {
        self.bad_records += 1;
        self.bad_bytes += bytes;
    }
}
