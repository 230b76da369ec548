//! One batch through the stages, in Firehose's order: the untransformed records into the
//! source-record backup's buffer, the processors (decompression, de-aggregation, the
//! transformation), then — with partition buffers — dynamic partitioning and each part into
//! its partition's buffer; without them, straight to delivery.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Pipeline;
use crate::partition::buffers::{Added, Buffers};
use crate::record::{Batch, FailedRecord, Partition};

impl Pipeline {
    /// Processes one batch cut from the log and hands it on. The batch completes (and the log
    /// may be checkpointed over it) once every buffer it went into has been delivered.
    pub(super) async fn process(&self, batch: Batch) {
        let (first_seq, end_seq) = (batch.first_seq, batch.end_seq);
        if let Some(backup) = &self.source_backup {
            // Before processing: the records as they arrived, into the backup's own buffer. Its
            // hold on the batch is released when the delivery side is done (`finished`), so the
            // batch completes once both are.
            let whole = vec![whole_stream(batch.clone())];
            if self
                .buffer(&backup.buffers, first_seq, end_seq, whole)
                .await
                .is_none()
            {
                return;
            }
        }
        let (batch, lambda_keys) = self.run_processors(batch).await;
        match &self.partitioning {
            None => {
                self.deliver(batch).await;
                self.finished(first_seq, end_seq);
            }
            Some(_) => self.partition(batch, lambda_keys).await,
        }
    }

    /// The processors, if any; records they fail go to their error output here.
    async fn run_processors(&self, batch: Batch) -> (Batch, Vec<Option<Partition>>) {
        let Some(stages) = self.processing.stages() else {
            return (batch, Vec::new());
        };
        let processed = stages.run(&batch).await;
        let mut by_type: BTreeMap<&'static str, Vec<FailedRecord>> = BTreeMap::new();
        for (kind, record) in processed.failed {
            by_type.entry(kind).or_default().push(record);
        }
        for (kind, records) in by_type {
            self.write_failed_records(kind, &records).await;
        }
        (processed.batch, processed.lambda_keys)
    }

    /// Splits the batch by partition (or keeps it whole) into the partition buffers.
    async fn partition(&self, batch: Batch, lambda_keys: Vec<Option<Partition>>) {
        let Some(partitioning) = &self.partitioning else {
            return;
        };
        let (first_seq, end_seq) = (batch.first_seq, batch.end_seq);
        let (parts, split_failed) = match &partitioning.partitioner {
            Some(partitioner) => {
                let started = std::time::Instant::now();
                let split = partitioner.split(batch, lambda_keys).await;
                self.metrics
                    .partitioning_duration
                    .observe(started.elapsed().as_secs_f64());
                (split.parts, split.failed)
            }
            None => (vec![whole_stream(batch)], Vec::new()),
        };
        let Some(added) = self
            .buffer(&partitioning.buffers, first_seq, end_seq, parts)
            .await
        else {
            return;
        };
        if partitioning.partitioner.is_some() {
            self.metrics.partition_count.set(added.active as i64);
            self.metrics
                .partition_count_exceeded
                .set(i64::from(added.exceeded));
        }
        let mut failed = split_failed;
        failed.extend(added.failed);
        if !failed.is_empty() {
            self.write_failed_records(crate::partition::ERROR_TYPE, &failed)
                .await;
        }
        for (first, end) in partitioning.buffers.release(first_seq) {
            self.finished(first, end);
        }
    }

    /// Adds a batch's parts to `buffers`, off the runtime (it may write spool files). `None`
    /// if that failed: the batch then never completes, and the log keeps it for a restart.
    async fn buffer(
        &self,
        buffers: &Arc<Buffers>,
        first: u64,
        end: u64,
        parts: Vec<Batch>,
    ) -> Option<Added> {
        let b = buffers.clone();
        match tokio::task::spawn_blocking(move || b.add(first, end, parts)).await {
            Ok(added) => Some(added),
            Err(e) => {
                tracing::error!(error = %e, first_seq = first, "buffering a batch failed");
                None
            }
        }
    }
}

/// The batch as the whole stream's one buffer (no partition keys).
fn whole_stream(mut batch: Batch) -> Batch {
    batch.partition = Some(Arc::new(Partition::default()));
    batch
}
