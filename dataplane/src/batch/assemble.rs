//! Assembling batches from the log: records are read back in order and appended to the batch
//! being assembled (with the delimiter, when no later stage adds it); the batch is cut when it
//! reaches the size hint, when its oldest record is `interval` old, or at once when the log is
//! caught up and the interval is zero or the stream is draining. Each cut batch goes to its
//! own task, within a bound on the bytes in delivery.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::Pipeline;
use crate::record::{Batch, RecordMeta};
use crate::support::clock::now_ms;
use crate::wal::WalReader;

/// A batch can overshoot the size hint by one read chunk.
const READ_CHUNK: usize = 4 << 20;

/// The batch being assembled.
struct Assembling {
    first_seq: u64,
    records: Vec<RecordMeta>,
    oldest_ms: Option<u64>,
    data: Vec<u8>,
}

impl Assembling {
    fn empty(first_seq: u64) -> Self {
        Self {
            first_seq,
            records: Vec::new(),
            oldest_ms: None,
            data: Vec::new(),
        }
    }

    fn into_batch(self, end_seq: u64) -> Batch {
        Batch {
            first_seq: self.first_seq,
            end_seq,
            records: self.records,
            data: self.data.into(),
            oldest_arrival_ms: self.oldest_ms.unwrap_or(0),
            partition: None,
        }
    }
}

impl Pipeline {
    /// Cuts batches from the log and delivers each until `shutdown` turns true and the log is
    /// read to its end; returns once every batch handed out is done.
    pub(super) async fn assemble(self, mut reader: WalReader, mut shutdown: watch::Receiver<bool>) {
        let budget = self.in_flight_budget();
        let in_flight = Arc::new(Semaphore::new(budget));
        let mut tasks = JoinSet::new();
        let mut draining = *shutdown.borrow();
        let mut open = true;
        let mut batch = Assembling::empty(reader.position());
        let interval_ms = self.cut.interval_ms();
        loop {
            while tasks.try_join_next().is_some() {}
            if reader.has_data()
                && batch.data.len() < self.cut.size_bytes
                && let Err(e) = self.read_into(&mut reader, &mut batch)
            {
                tracing::error!(error = %e, "reading the write-ahead log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let caught_up = !reader.has_data();
            let due = batch
                .oldest_ms
                .is_some_and(|o| now_ms() >= o.saturating_add(interval_ms));
            let full = batch.data.len() >= self.cut.size_bytes;
            if !batch.records.is_empty()
                && (full || due || (caught_up && (interval_ms == 0 || draining)))
            {
                let end = reader.position();
                let ready = std::mem::replace(&mut batch, Assembling::empty(end));
                // Sized once so the batch never regrows (and copies) while it fills.
                batch.data.reserve_exact(self.cut.size_bytes + READ_CHUNK);
                self.progress.assembling(0);
                let cost = ready.data.len().clamp(1, budget) as u32;
                let Ok(permit) = in_flight.clone().acquire_many_owned(cost).await else {
                    break;
                };
                let ready = ready.into_batch(end);
                self.progress
                    .started(ready.first_seq, ready.oldest_arrival_ms);
                let pipeline = self.clone();
                tasks.spawn(async move {
                    pipeline.process(ready).await;
                    drop(permit);
                });
                continue;
            }
            if !caught_up {
                tokio::task::yield_now().await;
                continue;
            }
            if draining || !open {
                break;
            }
            let deadline = batch.oldest_ms.map(|o| {
                let wait = o.saturating_add(interval_ms).saturating_sub(now_ms());
                tokio::time::Instant::now() + Duration::from_millis(wait)
            });
            tokio::select! {
                more = reader.wait_for_data() => open = more,
                _ = sleep_until(deadline) => {}
                changed = shutdown.changed() => {
                    draining = changed.is_err() || *shutdown.borrow();
                }
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Appends what the log holds, up to the room left in `batch`.
    fn read_into(&self, reader: &mut WalReader, batch: &mut Assembling) -> std::io::Result<()> {
        let room = (self.cut.size_bytes - batch.data.len()).clamp(1, READ_CHUNK);
        let processing = &self.processing;
        reader.read(room, |r| {
            if batch.oldest_ms.is_none() {
                batch.oldest_ms = Some(r.arrival_ms);
            }
            let start = batch.data.len() as u32;
            processing.append(&mut batch.data, r.data);
            batch.records.push(RecordMeta {
                seq: r.seq,
                arrival_ms: r.arrival_ms,
                sub: 0,
                start,
                end: batch.data.len() as u32,
            });
        })?;
        self.progress.assembling(batch.oldest_ms.unwrap_or(0));
        Ok(())
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
