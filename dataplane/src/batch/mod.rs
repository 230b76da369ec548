//! Everything after the log, in the order a record meets it:
//!
//! - [`assemble`]: tail the log and cut batches by the hints (size before compression, or
//!   interval since the oldest record), with bounded memory in delivery; after a restart,
//!   at the boundaries [`cuts`] recorded before the crash;
//! - [`stages`]: per batch, the source-record backup lane, the processing stages, dynamic
//!   partitioning, and the partition or transformation buffers;
//! - [`flush`]: buffers flushed as they fill or age (and early when the log fills up);
//! - [`deliver`]: one batch or buffer to the destination, retried within its policy, with
//!   error output ([`error_output`]) and backup for what it gives up on;
//! - [`checkpoint`]: the log checkpointed over what is complete.

mod assemble;
mod checkpoint;
pub mod cuts;
mod deliver;
mod error_output;
mod flush;
mod stages;
mod tracker;

use std::sync::Arc;

use tokio::sync::watch;

use crate::destination::s3_output::S3Output;
use crate::destination::{Destination, Profile};
use crate::metrics::Metrics;
use crate::partition::Partitioning;
use crate::partition::buffers::Buffers;
use crate::process::Processing;
use crate::record::Hints;
use crate::status::DeliveryHealth;
use crate::wal::{Wal, WalReader};
pub use checkpoint::Progress;
use cuts::CutJournal;
use flush::Lane;
pub use tracker::Tracker;

/// Source-record backup: the bucket, and the buffer that cuts its objects by its own hints.
#[derive(Clone)]
pub struct SourceBackup {
    pub out: Arc<S3Output>,
    pub buffers: Arc<Buffers>,
}

/// Everything the batcher and its delivery tasks share.
#[derive(Clone)]
pub struct Pipeline {
    pub wal: Wal,
    pub destination: Arc<dyn Destination>,
    /// The destination's metrics label, error-output type and retry policy.
    pub profile: Profile,
    /// Error output and backup bucket of destinations that have one.
    pub s3_output: Option<Arc<S3Output>>,
    pub processing: Processing,
    /// Where untransformed source records are backed up (`s3BackupMode: Enabled`).
    pub source_backup: Option<SourceBackup>,
    /// Partition buffers (dynamic partitioning), or the transformation's one buffer.
    pub partitioning: Option<Arc<Partitioning>>,
    pub metrics: Metrics,
    pub health: Arc<DeliveryHealth>,
    pub progress: Arc<Progress>,
    /// When batches are cut from the log.
    pub cut: Hints,
    /// Bound on the bytes of batches being delivered (memory), at least one whole batch.
    pub in_flight_bytes: usize,
    /// Highest contiguous delivered sequence number, for the checkpointer.
    pub delivered: Arc<watch::Sender<u64>>,
    /// Where batches were cut: recorded before delivery, replayed after a restart.
    pub cuts: Arc<CutJournal>,
}

impl Pipeline {
    /// Runs until `shutdown` turns true, then delivers everything durable and returns.
    pub async fn run(self, reader: WalReader, shutdown: watch::Receiver<bool>) {
        let checkpoints = tokio::spawn(checkpoint::checkpointer(
            self.wal.clone(),
            self.delivered.subscribe(),
        ));
        // Ends by itself once the last pipeline clone drops the journal.
        let _cut_writer = self.cuts.start(self.delivered.subscribe());
        let (drain_buffers, drain_rx) = watch::channel(false);
        let mut flushers = Vec::new();
        if let Some(p) = &self.partitioning {
            let lane = Lane::Delivery {
                gauges: p.partitioner.is_some(),
            };
            let flusher = self
                .clone()
                .flusher(p.buffers.clone(), lane, drain_rx.clone());
            flushers.push(tokio::spawn(flusher));
        }
        if let Some(b) = &self.source_backup {
            let lane = Lane::Backup(b.out.clone());
            let flusher = self
                .clone()
                .flusher(b.buffers.clone(), lane, drain_rx.clone());
            flushers.push(tokio::spawn(flusher));
        }
        self.clone().assemble(reader, shutdown).await;
        // Every batch is in its buffers: deliver them all.
        drain_buffers.send_replace(true);
        for flusher in flushers {
            if let Err(e) = flusher.await {
                tracing::error!(error = %e, "buffer flusher failed");
            }
        }
        // Dropping every sender ends the checkpointer after a final checkpoint.
        let Pipeline { delivered, .. } = self;
        drop(delivered);
        if let Err(e) = checkpoints.await {
            tracing::error!(error = %e, "checkpoint task failed");
        }
        tracing::info!("all buffered records delivered");
    }

    /// The semaphore budget of batches in delivery.
    fn in_flight_budget(&self) -> usize {
        self.in_flight_bytes.min(u32::MAX as usize)
    }
}
