//! Assembling batches from the log: records are read back in order and appended to the batch
//! being assembled (with the delimiter, when no later stage adds it); the batch is cut when it
//! reaches the size hint (or holds twice it, counting each record's bookkeeping), when its
//! oldest record is `interval` old, or at once when the log is caught up and the interval is
//! zero or the stream is draining. The age runs on the monotonic clock from when the batch's
//! first record is read (less the age its arrival time shows, up to an interval), so a jump of
//! the wall clock neither holds nor hurries a batch. After a restart, a batch that starts where
//! one was cut before the crash is cut where that one ended instead, so its objects are named
//! as they were. Each cut batch is recorded, then goes to its own task, within a bound on the
//! memory in delivery.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::Pipeline;
use crate::record::{Batch, RecordMeta};
use crate::support::clock::{entered_ms, monotonic_ms};
use crate::wal::WalReader;

/// A batch can overshoot the size hint by one read chunk.
const READ_CHUNK: usize = 4 << 20;

/// The batch being assembled.
struct Assembling {
    first_seq: u64,
    /// Where the batch ends when it replays one recorded before a restart.
    replayed_end: Option<u64>,
    records: Vec<RecordMeta>,
    oldest_ms: Option<u64>,
    /// When the batch's interval passes, on the monotonic clock.
    due_ms: Option<u64>,
    data: Vec<u8>,
}

impl Assembling {
    fn empty(first_seq: u64, replayed_end: Option<u64>) -> Self {
        Self {
            first_seq,
            replayed_end,
            records: Vec::new(),
            oldest_ms: None,
            due_ms: None,
            data: Vec::new(),
        }
    }

    /// The memory the batch holds: its data and its records' bookkeeping.
    fn held(&self) -> usize {
        RecordMeta::held_bytes(self.data.len(), self.records.len())
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
        let mut batch = self.next_batch(reader.position());
        let interval_ms = self.cut.interval_ms();
        loop {
            while tasks.try_join_next().is_some() {}
            let room = match batch.replayed_end {
                Some(end) => reader.position() < end,
                None => !self.cut.is_full(batch.data.len(), batch.records.len()),
            };
            if reader.has_data()
                && room
                && let Err(e) = self.read_into(&mut reader, &mut batch)
            {
                tracing::error!(error = %e, "reading the write-ahead log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let caught_up = !reader.has_data();
            let due = batch.due_ms.is_some_and(|d| monotonic_ms() >= d);
            let full = self.cut.is_full(batch.data.len(), batch.records.len());
            let cut = match batch.replayed_end {
                Some(end) => reader.position() >= end,
                None => full || due || (caught_up && (interval_ms == 0 || draining)),
            };
            if !batch.records.is_empty() && cut {
                let end = reader.position();
                let ready = std::mem::replace(&mut batch, self.next_batch(end));
                let durable = self
                    .cuts
                    .record(ready.first_seq, end, ready.replayed_end.is_some());
                // Sized once so the batch never regrows (and copies) while it fills.
                batch.data.reserve_exact(self.cut.size_bytes + READ_CHUNK);
                self.progress.assembling(0);
                let cost = ready.held().clamp(1, budget) as u32;
                let Ok(permit) = in_flight.clone().acquire_many_owned(cost).await else {
                    break;
                };
                let ready = ready.into_batch(end);
                self.progress
                    .started(ready.first_seq, ready.oldest_arrival_ms);
                let pipeline = self.clone();
                tasks.spawn(async move {
                    // Nothing is written before the batch's boundaries are durable.
                    let _ = durable.await;
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
            let deadline = batch.due_ms.map(|d| {
                let wait = d.saturating_sub(monotonic_ms());
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

    /// An empty batch starting at `first`, to end where a recorded one did if there is one.
    fn next_batch(&self, first: u64) -> Assembling {
        Assembling::empty(first, self.cuts.replayed_end(first))
    }

    /// Appends what the log holds, up to the room left in `batch`.
    fn read_into(&self, reader: &mut WalReader, batch: &mut Assembling) -> std::io::Result<()> {
        let size = self.cut.size_bytes;
        let room = size
            .saturating_sub(batch.data.len())
            .min(size.saturating_mul(2).saturating_sub(batch.held()))
            .clamp(1, READ_CHUNK);
        let end = batch.replayed_end.unwrap_or(u64::MAX);
        let processing = &self.processing;
        let interval_ms = self.cut.interval_ms();
        reader.read_until(room, size_of::<RecordMeta>(), end, |r| {
            if batch.oldest_ms.is_none() {
                batch.oldest_ms = Some(r.arrival_ms);
                batch.due_ms =
                    Some(entered_ms(r.arrival_ms, interval_ms).saturating_add(interval_ms));
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
