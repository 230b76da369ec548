//! The error output: records given up on, as Firehose's failed-record JSON lines (or in the
//! destination's own way, such as Redshift's manifest of skipped objects), written under the
//! error-output prefix and retried until written — the records stay in the log until then.

use super::Pipeline;
use crate::record::{Batch, FailedRecord, Failure};
use crate::support::clock::now_ms;
use crate::support::retry::retry_until_ok;

impl Pipeline {
    /// Writes the records of `batch` given up on after `attempts` to the error output.
    /// Without an error output (object destinations, which retry forever) nothing reaches here.
    pub(super) async fn write_error_output(
        &self,
        batch: &Batch,
        attempts: u32,
        failed: Vec<(usize, Failure)>,
    ) {
        let error_type = self.profile.error_output_type;
        if self.destination.write_failed(batch, &failed).is_some() {
            retry_until_ok(
                || async {
                    match self.destination.write_failed(batch, &failed) {
                        Some(write) => write.await,
                        None => Ok(()),
                    }
                },
                |e, delay| {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the failed records failed; retrying");
                    self.health.error(format!("error output: {e}"));
                },
            )
            .await;
            self.count_error_output(error_type, failed.len());
            return;
        }
        let records: Vec<FailedRecord> = failed
            .iter()
            .map(|(index, failure)| {
                let mut extra = serde_json::Map::new();
                self.destination.error_fields(batch, *index, &mut extra);
                FailedRecord {
                    raw: batch.record(*index).to_vec(),
                    arrival_ms: batch.records[*index].arrival_ms,
                    seq: batch.records[*index].seq,
                    sub: batch.records[*index].sub,
                    failure: failure.clone(),
                    attempts,
                    extra,
                }
            })
            .collect();
        self.write_failed_records(error_type, &records).await;
    }

    /// Writes failed records to the error output as failed-record JSON, one object per call.
    pub(super) async fn write_failed_records(&self, error_type: &str, records: &[FailedRecord]) {
        let Some(out) = &self.s3_output else {
            tracing::error!(
                records = records.len(),
                error_type,
                "records failed for good and the destination has no error output; they are dropped"
            );
            return;
        };
        let now = now_ms();
        let mut lines = Vec::new();
        for r in records {
            lines.extend(r.json_line(now));
        }
        let lines = bytes::Bytes::from(lines);
        let key = out.error_key(error_type, records);
        let key = retry_until_ok(
            || out.write_errors(key.clone(), lines.clone()),
            |e, delay| {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the error output failed; retrying");
                self.health.error(format!("error output: {e}"));
            },
        )
        .await;
        self.count_error_output(error_type, records.len());
        tracing::warn!(
            key,
            records = records.len(),
            error_type,
            "wrote failed records to the error output"
        );
    }

    fn count_error_output(&self, error_type: &str, records: usize) {
        self.metrics
            .error_output_records
            .with_label_values(&[self.profile.kind, error_type])
            .inc_by(records as u64);
    }
}
