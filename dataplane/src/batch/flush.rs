//! Flushing buffers: a partition (or transformation, or backup) buffer flushes when it holds
//! its size hint or its oldest record is its interval old; the buffer holding the log's oldest
//! record flushes early when the log is filling up; on drain, all of them flush.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::Pipeline;
use crate::destination::s3_output::S3Output;
use crate::partition::buffers::{Buffers, Flush};
use crate::record::{Batch, RecordMeta};
use crate::support::clock::monotonic_ms;
use crate::support::retry::retry_until_ok;

/// What a flush of buffered records does with them.
#[derive(Clone)]
pub(super) enum Lane {
    /// Delivers them to the destination; `gauges`: report the partition gauges.
    Delivery { gauges: bool },
    /// Writes them to the source-record backup.
    Backup(Arc<S3Output>),
}

/// The flusher's bounded set of flushes in delivery.
struct Flushes {
    tasks: JoinSet<()>,
    in_flight: Arc<Semaphore>,
    budget: usize,
    /// A pressure flush is under way (one at a time).
    pressure: Arc<AtomicBool>,
}

impl Pipeline {
    /// Flushes buffers as they fill or age, and early when the log is filling up; when `drain`
    /// turns true, flushes every buffer and returns once all are delivered.
    pub(super) async fn flusher(
        self,
        buffers: Arc<Buffers>,
        lane: Lane,
        mut drain: watch::Receiver<bool>,
    ) {
        let budget = self.in_flight_budget();
        let mut flushes = Flushes {
            tasks: JoinSet::new(),
            in_flight: Arc::new(Semaphore::new(budget)),
            budget,
            pressure: Arc::new(AtomicBool::new(false)),
        };
        loop {
            while flushes.tasks.try_join_next().is_some() {}
            for flush in buffers.take_due(monotonic_ms()) {
                self.spawn_flush(&mut flushes, &buffers, &lane, flush, false);
            }
            if self.wal.used_bytes() > buffers.pressure_bytes()
                && !flushes.pressure.load(Ordering::Acquire)
                && let Some(flush) = buffers.take_oldest()
            {
                tracing::info!(
                    records = flush.records(),
                    "the log is filling up: flushing the partition with its oldest record early"
                );
                flushes.pressure.store(true, Ordering::Release);
                self.spawn_flush(&mut flushes, &buffers, &lane, flush, true);
            }
            if *drain.borrow() {
                break;
            }
            // Polled at least every 200 ms: for the log's size and for intervals.
            let wait = buffers
                .next_deadline_ms()
                .map(|d| d.saturating_sub(monotonic_ms()))
                .unwrap_or(u64::MAX)
                .min(200);
            tokio::select! {
                _ = buffers.ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                changed = drain.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        for flush in buffers.take_all() {
            self.spawn_flush(&mut flushes, &buffers, &lane, flush, false);
        }
        while flushes.tasks.join_next().await.is_some() {}
    }

    /// Delivers one buffer in its own task, within the bytes-in-delivery budget; `pressure`:
    /// this is the early flush of a filling log, which clears its flag when done.
    fn spawn_flush(
        &self,
        flushes: &mut Flushes,
        buffers: &Arc<Buffers>,
        lane: &Lane,
        flush: Flush,
        pressure: bool,
    ) {
        let pipeline = self.clone();
        let buffers = buffers.clone();
        let lane = lane.clone();
        let in_flight = flushes.in_flight.clone();
        let flag = pressure.then(|| flushes.pressure.clone());
        let held = RecordMeta::held_bytes(flush.bytes(), flush.records());
        let cost = held.clamp(1, flushes.budget) as u32;
        flushes.tasks.spawn(async move {
            let Ok(_permit) = in_flight.acquire_many_owned(cost).await else {
                return;
            };
            pipeline.flush_buffer(&buffers, flush, &lane).await;
            if let Some(flag) = flag {
                flag.store(false, Ordering::Release);
            }
        });
    }

    /// Delivers one buffer (or writes it to the backup), then finishes the batches it held.
    async fn flush_buffer(&self, buffers: &Buffers, flush: Flush, lane: &Lane) {
        let Some((mut flush, batch)) = self.read_spool(flush).await else {
            return;
        };
        self.record_flush(buffers, &mut flush).await;
        match lane {
            Lane::Delivery { .. } => self.deliver(batch).await,
            Lane::Backup(out) => self.write_backup(out, &batch).await,
        }
        let (completed, active) = buffers.delivered(flush);
        match lane {
            Lane::Delivery { gauges } => {
                if *gauges {
                    self.metrics.partition_count.set(active as i64);
                }
                for (first, end) in completed {
                    self.finished(first, end);
                }
            }
            // The delivery side releases its own hold: these ranges are complete.
            Lane::Backup(_) => {
                for (first, end) in completed {
                    self.complete(first, end);
                }
            }
        }
    }

    /// Records in the flush journal which batches the flush holds, before its object is
    /// written (a regrouped flush is recorded already). Retried until it succeeds: writing
    /// the object unrecorded could duplicate its records after a crash.
    async fn record_flush(&self, buffers: &Buffers, flush: &mut Flush) {
        if flush.journal_id().is_some() {
            return;
        }
        let journal = buffers.journal();
        let (partition, batches) = (flush.partition.clone(), flush.batches());
        let id = retry_until_ok(
            || {
                let (journal, partition, batches) =
                    (journal.clone(), partition.clone(), batches.clone());
                async move {
                    tokio::task::spawn_blocking(move || journal.intent(&partition, batches))
                        .await
                        .map_err(std::io::Error::other)?
                }
            },
            |e, delay| {
                tracing::error!(error = %e, retry_in_ms = delay.as_millis() as u64, "recording a flush in the flush journal failed; retrying");
                self.health.error(format!("flush journal: {e}"));
            },
        )
        .await;
        flush.recorded(id);
    }

    /// The buffer's records, read back from its spool off the runtime, retried until the read
    /// succeeds (its records are still in the log; a restart replays them). `None` only if
    /// reading panicked: the batches then stay incomplete and the log keeps them.
    async fn read_spool(&self, flush: Flush) -> Option<(Flush, Batch)> {
        let flush = Arc::new(Mutex::new(Some(flush)));
        let batch = retry_until_ok(
            || {
                let flush = flush.clone();
                async move {
                    let read = tokio::task::spawn_blocking(move || {
                        let mut guard = flush.lock().map_err(|_| None)?;
                        let f = guard.as_mut().ok_or(None)?;
                        f.read().map_err(Some)
                    });
                    match read.await {
                        Ok(Ok(batch)) => Ok(Some(batch)),
                        Ok(Err(Some(e))) => Err(e),
                        Ok(Err(None)) | Err(_) => Ok(None),
                    }
                }
            },
            |e, delay| {
                tracing::error!(error = %e, retry_in_ms = delay.as_millis() as u64, "reading a partition spool failed; retrying");
                self.health.error(format!("partition spool: {e}"));
            },
        )
        .await;
        let Some(batch) = batch else {
            tracing::error!("reading a partition spool panicked");
            return None;
        };
        let flush = flush.lock().ok()?.take()?;
        Some((flush, batch))
    }
}
