//! Batching: tail the log, assemble batches by the buffering hints (size before compression, or
//! interval since the oldest record), hand them to delivery with bounded concurrency, retry until
//! delivered, and checkpoint the log over what is delivered.

mod tracker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::destination::backup::{FailedRecord, S3Output, error_line};
use crate::destination::retry::Backoff;
use crate::destination::{Batch, Destination, Failure, RecordMeta, RecordOutcome};
use crate::metrics::Metrics;
use crate::partition::Partitioning;
use crate::partition::buffers::{Added, Buffers, Flush};
use crate::process::Processing;
use crate::status::DeliveryHealth;
use crate::wal::{Wal, WalReader};
pub use tracker::Tracker;

/// When batches are cut and how much is delivered at once.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    pub size_bytes: usize,
    pub interval: Duration,
    /// Bound on the bytes of batches being delivered (memory), at least one whole batch.
    pub max_in_flight_bytes: usize,
}

/// Batches in delivery hold at most this much memory (or one batch, when batches are larger).
const IN_FLIGHT_BYTES: usize = 32 << 20;

impl BatchConfig {
    /// With partition buffers, the buffers apply the hints, and batches read from the log are
    /// cut small and early so records reach their buffer promptly: by the transformation's own
    /// hints (`bufferSizeInMBs`, `bufferIntervalInSeconds`) when there is one, else at 8 MiB or
    /// 200 ms.
    pub fn for_partition_buffers(self, lambda: Option<&crds::LambdaProcessor>) -> Self {
        match lambda {
            // The function's buffer is its own: it may wait longer than the destination's.
            Some(l) => Self {
                size_bytes: ((l.buffer_size_in_mbs * f64::from(1 << 20)) as usize).max(1),
                interval: Duration::from_secs(l.buffer_interval_in_seconds.max(0) as u64),
                ..self
            },
            None => Self {
                size_bytes: self.size_bytes.min(8 << 20),
                interval: self.interval.min(Duration::from_millis(200)),
                ..self
            },
        }
    }

    pub fn from_hints(hints: &crds::BufferingHints) -> Self {
        let size_bytes = (hints.size_in_mbs.max(1) as usize) << 20;
        Self {
            size_bytes,
            interval: Duration::from_secs(hints.interval_in_seconds.max(0) as u64),
            // A batch can overshoot the size hint by one read chunk.
            max_in_flight_bytes: IN_FLIGHT_BYTES.max(size_bytes + (4 << 20)),
        }
    }
}

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
}

/// Source-record backup: the bucket, and the buffer that cuts its objects by its own hints.
#[derive(Clone)]
pub struct SourceBackup {
    pub out: Arc<S3Output>,
    pub buffers: Arc<Buffers>,
}

/// What a flush of buffered records does with them.
#[derive(Clone)]
enum Lane {
    /// Delivers them to the destination; `gauges`: report the partition gauges.
    Delivery { gauges: bool },
    /// Writes them to the source-record backup.
    Backup(Arc<S3Output>),
}

/// Everything the batcher and its delivery tasks share.
#[derive(Clone)]
pub struct Pipeline {
    pub wal: Wal,
    pub destination: Arc<dyn Destination>,
    /// Error output and backup bucket of destinations that have one.
    pub s3_output: Option<Arc<S3Output>>,
    pub processing: Processing,
    /// Where untransformed source records are backed up (`s3BackupMode: Enabled`).
    pub source_backup: Option<SourceBackup>,
    /// Dynamic partitioning (object destinations).
    pub partitioning: Option<Arc<Partitioning>>,
    pub metrics: Metrics,
    pub health: Arc<DeliveryHealth>,
    pub progress: Arc<Progress>,
    pub config: BatchConfig,
    /// Highest contiguous delivered sequence number, for the checkpointer.
    pub delivered: Arc<watch::Sender<u64>>,
}

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
}

impl Pipeline {
    /// Runs until `shutdown` turns true, then delivers everything durable and returns.
    pub async fn run(self, mut reader: WalReader, mut shutdown: watch::Receiver<bool>) {
        let checkpoints = tokio::spawn(checkpointer(self.wal.clone(), self.delivered.subscribe()));
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
        let budget = self.config.max_in_flight_bytes.min(u32::MAX as usize);
        let in_flight = Arc::new(Semaphore::new(budget));
        let mut tasks = JoinSet::new();
        let mut draining = *shutdown.borrow();
        let mut open = true;
        let mut batch = Assembling::empty(reader.position());
        let interval_ms = self.config.interval.as_millis() as u64;
        loop {
            while tasks.try_join_next().is_some() {}
            if reader.has_data() && batch.data.len() < self.config.size_bytes {
                let room = (self.config.size_bytes - batch.data.len()).clamp(1, 4 << 20);
                let processing = &self.processing;
                let result = reader.read(room, |r| {
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
                });
                if let Err(e) = result {
                    tracing::error!(error = %e, "reading the write-ahead log failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                self.progress
                    .assembling_oldest_ms
                    .store(batch.oldest_ms.unwrap_or(0), Ordering::Release);
            }
            let caught_up = !reader.has_data();
            let due = batch
                .oldest_ms
                .is_some_and(|o| crate::ingest::now_ms() >= o.saturating_add(interval_ms));
            let full = batch.data.len() >= self.config.size_bytes;
            if !batch.records.is_empty()
                && (full || due || (caught_up && (interval_ms == 0 || draining)))
            {
                let end = reader.position();
                let ready = std::mem::replace(&mut batch, Assembling::empty(end));
                // Sized once so the batch never regrows (and copies) while it fills.
                batch.data.reserve_exact(self.config.size_bytes + (4 << 20));
                self.progress
                    .assembling_oldest_ms
                    .store(0, Ordering::Release);
                let cost = ready.data.len().clamp(1, budget) as u32;
                let Ok(permit) = in_flight.clone().acquire_many_owned(cost).await else {
                    break;
                };
                let batch_out = Batch {
                    first_seq: ready.first_seq,
                    end_seq: end,
                    records: ready.records,
                    data: ready.data.into(),
                    oldest_arrival_ms: ready.oldest_ms.unwrap_or(0),
                    partition: None,
                };
                if let Ok(mut t) = self.progress.tracker.lock() {
                    t.start(batch_out.first_seq, batch_out.oldest_arrival_ms);
                }
                let pipeline = self.clone();
                tasks.spawn(async move {
                    pipeline.deliver(batch_out).await;
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
                let wait = o
                    .saturating_add(interval_ms)
                    .saturating_sub(crate::ingest::now_ms());
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

    /// Delivers one batch: retries what is retryable within the destination's retry policy,
    /// writes what failed for good to the error output (and with an "all" backup mode, the whole
    /// batch to the backup bucket), then checkpoints the log. Writes to the bucket are retried
    /// forever: a record leaves the log only once it is somewhere durable.
    async fn deliver(&self, batch: Batch) {
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
        let (batch, lambda_keys) = match self.processing.stages() {
            None => (batch, Vec::new()),
            Some(stages) => {
                let processed = stages.run(&batch).await;
                let mut by_type: std::collections::BTreeMap<&'static str, Vec<FailedRecord>> =
                    std::collections::BTreeMap::new();
                for (kind, record) in processed.failed {
                    by_type.entry(kind).or_default().push(record);
                }
                for (kind, records) in by_type {
                    self.write_failed_records(kind, &records).await;
                }
                (processed.batch, processed.lambda_keys)
            }
        };
        let Some(partitioning) = &self.partitioning else {
            self.deliver_part(batch).await;
            self.finished(first_seq, end_seq);
            return;
        };
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

    /// The delivery side of the log range `[first, end)` is done (delivered, or in its error
    /// output). With a source backup, the backup buffer's hold on the range is released and
    /// the range completes once its backup is written too.
    fn finished(&self, first: u64, end: u64) {
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
    fn complete(&self, first: u64, end: u64) {
        let advanced = self
            .progress
            .tracker
            .lock()
            .ok()
            .and_then(|mut t| t.complete(first, end));
        if let Some(delivered) = advanced {
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

    /// Flushes partition buffers as they fill or age, and early when the log is filling up;
    /// when `drain` turns true, flushes every buffer and returns once all are delivered.
    async fn flusher(self, buffers: Arc<Buffers>, lane: Lane, mut drain: watch::Receiver<bool>) {
        let budget = self.config.max_in_flight_bytes.min(u32::MAX as usize);
        let in_flight = Arc::new(Semaphore::new(budget));
        let pressure_flush = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        let spawn = |tasks: &mut JoinSet<()>,
                     flush: Flush,
                     pressure: Option<Arc<std::sync::atomic::AtomicBool>>| {
            let pipeline = self.clone();
            let buffers = buffers.clone();
            let lane = lane.clone();
            let in_flight = in_flight.clone();
            tasks.spawn(async move {
                let cost = flush.bytes().clamp(1, budget) as u32;
                let Ok(_permit) = in_flight.acquire_many_owned(cost).await else {
                    return;
                };
                pipeline.flush_buffer(&buffers, flush, &lane).await;
                if let Some(flag) = pressure {
                    flag.store(false, Ordering::Release);
                }
            });
        };
        loop {
            while tasks.try_join_next().is_some() {}
            for flush in buffers.take_due(crate::ingest::now_ms()) {
                spawn(&mut tasks, flush, None);
            }
            if self.wal.used_bytes() > buffers.pressure_bytes()
                && !pressure_flush.load(Ordering::Acquire)
                && let Some(flush) = buffers.take_oldest()
            {
                tracing::info!(
                    records = flush.records(),
                    "the log is filling up: flushing the partition with its oldest record early"
                );
                pressure_flush.store(true, Ordering::Release);
                spawn(&mut tasks, flush, Some(pressure_flush.clone()));
            }
            if *drain.borrow() {
                break;
            }
            // Polled at least every 200 ms: for the log's size and for intervals.
            let wait = buffers
                .next_deadline_ms()
                .map(|d| d.saturating_sub(crate::ingest::now_ms()))
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
            spawn(&mut tasks, flush, None);
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Delivers one buffer (or writes it to the backup), then finishes the batches it held.
    async fn flush_buffer(&self, buffers: &Buffers, flush: Flush, lane: &Lane) {
        let mut backoff = Backoff::default();
        let mut flush = flush;
        let (flush, batch) = loop {
            let read = tokio::task::spawn_blocking(move || {
                let mut flush = flush;
                let read = flush.read();
                (flush, read)
            })
            .await;
            let Ok((flush_back, read)) = read else {
                // Only a panic gets here. The batches stay incomplete, so the log keeps them
                // and a restart delivers them.
                tracing::error!("reading a partition spool panicked");
                return;
            };
            match read {
                Ok(batch) => break (flush_back, batch),
                Err(e) => {
                    // Its records are still in the log; keep trying (a restart replays them).
                    let delay = backoff.next_delay();
                    tracing::error!(error = %e, retry_in_ms = delay.as_millis() as u64, "reading a partition spool failed; retrying");
                    self.health.error(format!("partition spool: {e}"));
                    tokio::time::sleep(delay).await;
                    flush = flush_back;
                }
            }
        };
        match lane {
            Lane::Delivery { .. } => self.deliver_part(batch).await,
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
}

/// The batch as the whole stream's one buffer (no partition keys).
fn whole_stream(mut batch: Batch) -> Batch {
    batch.partition = Some(Arc::new(Default::default()));
    batch
}

/// Checkpoints at most every [`CHECKPOINT_INTERVAL`]: each checkpoint costs fsyncs that contend with
/// the log's own, and a later checkpoint covers everything an earlier one would have. A crash
/// between checkpoints only means those records are delivered again.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

impl Pipeline {
    /// Delivers one batch (or one partition's part of it): retries what is retryable within
    /// the destination's retry policy, writes what failed for good to the error output, and
    /// with an "all" backup mode writes the batch to the backup bucket.
    async fn deliver_part(&self, batch: Batch) {
        let kind = self.destination.kind();
        let policy = self.destination.retry_policy();
        let mut backoff = Backoff::new(policy.initial, policy.max);
        let mut retry_spent = Duration::ZERO;
        let mut attempts: u32 = 0;
        // Indices into `batch` still to deliver, and those given up on.
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut failed: Vec<(usize, Failure)> = Vec::new();
        while !pending.is_empty() {
            attempts += 1;
            // The first attempt (and every retry of a whole batch) borrows the batch.
            let attempt = if pending.len() == batch.len() {
                std::borrow::Cow::Borrowed(&batch)
            } else {
                std::borrow::Cow::Owned(batch.subset(&pending))
            };
            let outcome = self
                .destination
                .deliver(&attempt)
                .await
                .unwrap_or_else(|e| {
                    crate::destination::Outcome::RetryAll(Failure::new(e.code(), e.to_string()))
                });
            let mut retry = Vec::new();
            let (mut ok_records, mut ok_bytes, mut bad_records, mut bad_bytes) = (0, 0, 0, 0);
            for (i, &index) in pending.iter().enumerate() {
                let bytes = attempt.record(i).len() as u64;
                match outcome.record(i) {
                    RecordOutcome::Delivered => {
                        ok_records += 1;
                        ok_bytes += bytes;
                    }
                    RecordOutcome::Retry(f) => {
                        bad_records += 1;
                        bad_bytes += bytes;
                        retry.push((index, f));
                    }
                    RecordOutcome::Reject(f) => {
                        bad_records += 1;
                        bad_bytes += bytes;
                        failed.push((index, f));
                    }
                }
            }
            let m = &self.metrics;
            let label = if bad_records == 0 {
                "success"
            } else {
                "failure"
            };
            m.delivery_requests.with_label_values(&[kind, label]).inc();
            for (label, records, bytes) in [
                ("success", ok_records, ok_bytes),
                ("failure", bad_records, bad_bytes),
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
            match outcome.first_failure() {
                None => self.health.success(),
                Some(f) => self.health.error(format!("{}: {}", f.code, f.message)),
            }
            pending = retry.iter().map(|(i, _)| *i).collect();
            if pending.is_empty() {
                break;
            }
            let delay = backoff.next_delay();
            let exhausted = policy
                .duration
                .is_some_and(|limit| retry_spent + delay > limit);
            let first = &retry[0].1;
            if exhausted {
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
}

impl Pipeline {
    /// Writes `batch` to a backup bucket, retrying until it succeeds (the records stay in the
    /// log until then).
    async fn write_backup(&self, out: &S3Output, batch: &Batch) {
        let mut backoff = Backoff::default();
        loop {
            match out.backup(batch).await {
                Ok(key) => {
                    self.metrics.backup_records.inc_by(batch.len() as u64);
                    self.metrics.backup_bytes.inc_by(batch.record_bytes());
                    tracing::debug!(key, "backed up batch");
                    return;
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the backup failed; retrying");
                    self.health.error(format!("backup: {e}"));
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Writes the records given up on to the error output, retrying until it succeeds (the
    /// records stay in the log until then). Without an error output (object destinations,
    /// which retry forever) nothing reaches here.
    async fn write_error_output(
        &self,
        batch: &Batch,
        attempts: u32,
        failed: Vec<(usize, Failure)>,
    ) {
        let error_type = self.destination.error_output_type();
        if self.destination.write_failed(batch, &failed).is_some() {
            let mut backoff = Backoff::default();
            while let Some(write) = self.destination.write_failed(batch, &failed) {
                match write.await {
                    Ok(()) => {
                        self.metrics
                            .error_output_records
                            .with_label_values(&[self.destination.kind(), error_type])
                            .inc_by(failed.len() as u64);
                        return;
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the failed records failed; retrying");
                        self.health.error(format!("error output: {e}"));
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        let records: Vec<FailedRecord> = failed
            .iter()
            .map(|(index, failure)| {
                let meta = batch.records[*index];
                let mut extra = serde_json::Map::new();
                self.destination.error_fields(batch, *index, &mut extra);
                FailedRecord {
                    raw: batch.record(*index).to_vec(),
                    arrival_ms: meta.arrival_ms,
                    failure: failure.clone(),
                    attempts,
                    extra,
                }
            })
            .collect();
        self.write_failed_records(error_type, &records).await;
    }

    /// Writes failed records to the error output as Firehose's failed-record JSON, retrying
    /// until it succeeds (the records stay in the log until then).
    async fn write_failed_records(&self, error_type: &str, records: &[FailedRecord]) {
        let Some(out) = &self.s3_output else {
            tracing::error!(
                records = records.len(),
                error_type,
                "records failed for good and the destination has no error output; they are dropped"
            );
            return;
        };
        let now = crate::ingest::now_ms();
        let mut lines = Vec::new();
        let mut oldest = u64::MAX;
        for r in records {
            oldest = oldest.min(r.arrival_ms);
            lines.extend(error_line(
                r.attempts,
                r.arrival_ms,
                &r.failure,
                now,
                &r.raw,
                r.extra.clone(),
            ));
        }
        let lines = bytes::Bytes::from(lines);
        let mut backoff = Backoff::default();
        loop {
            match out.write_errors(error_type, oldest, lines.clone()).await {
                Ok(key) => {
                    self.metrics
                        .error_output_records
                        .with_label_values(&[self.destination.kind(), error_type])
                        .inc_by(records.len() as u64);
                    tracing::warn!(
                        key,
                        records = records.len(),
                        error_type,
                        "wrote failed records to the error output"
                    );
                    return;
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "writing the error output failed; retrying");
                    self.health.error(format!("error output: {e}"));
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

async fn checkpointer(wal: Wal, mut delivered: watch::Receiver<u64>) {
    let mut done = *delivered.borrow();
    loop {
        let open = delivered.changed().await.is_ok();
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

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
