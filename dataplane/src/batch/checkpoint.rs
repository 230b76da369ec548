//! Checkpointing: batches finish out of order (partitions flush when they fill, backups by
//! their own hints), so the log is checkpointed up to the first batch not yet complete, at
//! most every [`CHECKPOINT_INTERVAL`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::Pipeline;
use super::tracker::Tracker;
use crate::wal::Wal;

/// Each checkpoint costs fsyncs that contend with the log's own, and a later checkpoint
/// covers everything an earlier one would have. A crash between checkpoints only means those
/// records are delivered again.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Delivery progress, shared with `/status` and the freshness metric.
#[derive(Debug)]
pub struct Progress {
    tracker: Mutex<Tracker>,
    /// Arrival (ms) of the oldest record in the batch being assembled; 0 when it is empty.
    assembling_oldest_ms: AtomicU64,
}

impl Progress {
    pub fn new(delivered: u64) -> Self {
        Self {
            tracker: Mutex::new(Tracker::new(delivered)),
            assembling_oldest_ms: AtomicU64::new(0),
        }
    }

    /// Arrival time of the oldest record read back from the log and not yet delivered.
    pub fn oldest_undelivered_ms(&self) -> Option<u64> {
        let in_flight = self
            .tracker
            .lock()
            .ok()
            .and_then(|t| t.oldest_in_flight_ms());
        let assembling = match self.assembling_oldest_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(ms),
        };
        match (in_flight, assembling) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The batch being assembled starts with a record that arrived at `oldest_ms` (0: empty).
    pub(super) fn assembling(&self, oldest_ms: u64) {
        self.assembling_oldest_ms
            .store(oldest_ms, Ordering::Release);
    }

    /// A batch starting at `first` was handed to delivery.
    pub(super) fn started(&self, first: u64, oldest_arrival_ms: u64) {
        if let Ok(mut t) = self.tracker.lock() {
            t.start(first, oldest_arrival_ms);
        }
    }

    /// The range `[first, end)` is complete; the new checkpoint target if it moved.
    fn completed(&self, first: u64, end: u64) -> Option<u64> {
        self.tracker
            .lock()
            .ok()
            .and_then(|mut t| t.complete(first, end))
    }
}

impl Pipeline {
    /// The delivery side of the log range `[first, end)` is done (delivered, or in its error
    /// output). With a source backup, the backup buffer's hold on the range is released and
    /// the range completes once its backup is written too.
    pub(super) fn finished(&self, first: u64, end: u64) {
        match &self.source_backup {
            Some(backup) => {
                for (first, end) in backup.buffers.release(first) {
                    self.complete(first, end);
                }
            }
            None => self.complete(first, end),
        }
    }

    /// The log range `[first, end)` is delivered (or in its error output): move the
    /// checkpoint target over it once everything before it is too.
    pub(super) fn complete(&self, first: u64, end: u64) {
        if let Some(delivered) = self.progress.completed(first, end) {
            // Deliveries finish concurrently: never move the checkpoint target backwards.
            self.delivered.send_if_modified(|current| {
                let advance = delivered > *current;
                if advance {
                    *current = delivered;
                }
                advance
            });
        }
    }
}

/// Checkpoints the log as the target moves, until every sender of `delivered` is dropped;
/// then a final checkpoint.
pub(super) async fn checkpointer(wal: Wal, mut delivered: watch::Receiver<u64>) {
    let mut done = *delivered.borrow();
    loop {
        // A failed checkpoint (a full disk) is tried again even if delivery stops moving:
        // only a checkpoint frees the log's delivered segments.
        let open = if done < *delivered.borrow() {
            tokio::time::timeout(CHECKPOINT_INTERVAL, delivered.changed())
                .await
                .map_or(true, |changed| changed.is_ok())
        } else {
            delivered.changed().await.is_ok()
        };
        let target = *delivered.borrow_and_update();
        if target > done {
            let wal = wal.clone();
            match tokio::task::spawn_blocking(move || wal.checkpoint(target)).await {
                Ok(Ok(())) => done = target,
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "checkpointing the write-ahead log failed; records will be delivered again after a restart"
                ),
                Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
            }
        }
        if !open {
            return;
        }
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
    }
}
