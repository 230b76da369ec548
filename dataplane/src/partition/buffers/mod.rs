//! One buffer per active partition, filled across delivery batches and flushed by the
//! buffering hints (docs/processing.md, "How partitions are buffered"): when it holds `sizeInMBs`, or `intervalInSeconds` after
//! its oldest record arrived (measured on the monotonic clock: see [`Buffers::add_at`]).
//!
//! Where the records are: in the write-ahead log, and in each partition's spool (see
//! [`super::spool`]). Spools hold their records in memory up to a budget shared by all
//! partitions (`memory_bytes`); past it the largest spill to their files, so memory stays
//! bounded whatever the number of partitions and few small partitions never touch the disk.
//! The log's checkpoint cannot pass a batch until every partition holding one of its records is delivered: each
//! batch counts the partition buffers it went into, and when the last of them is delivered
//! the batch is complete. Partitions therefore flush in any order while the checkpoint stays
//! exact, and after a crash the log replays every record whose partition was not delivered.
//! The flush journal ([`super::journal`]) then sends each replayed part where it went before,
//! so each record ends up in exactly one object.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::journal::{FlushJournal, Route};
use super::spool::{self, Spool};
use crate::record::{Batch, FailedRecord, Failure, Hints, Partition};
use crate::support::clock::{entered_at, monotonic_ms, now_ms};

/// When a partition buffer flushes, and how many may be active.
#[derive(Debug, Clone)]
pub struct BufferConfig {
    pub dir: PathBuf,
    /// When each buffer flushes.
    pub hints: Hints,
    pub limit: usize,
    /// Bound on the buffered bytes kept in memory, across partitions.
    pub memory_bytes: usize,
    /// The log's count of bytes kept beside it: spool files add theirs.
    pub disk: Arc<std::sync::atomic::AtomicU64>,
    /// When the log holds more than this, the buffer holding its oldest record flushes early
    /// so the checkpoint can move (otherwise slow buffers could fill the log and stop ingest
    /// until their interval passes).
    pub pressure_bytes: u64,
    /// The log's current encryption key: spool files are sealed with it while it is on.
    pub encryption: crate::wal::CurrentKey,
    /// The log's checkpoint at start: flushes of batches from here on are replayed.
    pub replay_from: u64,
    /// fsync the flush journal's intents (the log's `fsync` durability).
    pub sync: bool,
}

pub struct Buffers {
    config: BufferConfig,
    journal: Arc<FlushJournal>,
    state: Mutex<State>,
    /// Wakes the flusher when a buffer is full.
    pub ready: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    open: HashMap<Arc<Partition>, Buffer>,
    /// Flushes recorded before a crash being gathered again, by journal id, with the
    /// number of their batches still to come.
    regrouping: HashMap<u64, (Arc<Partition>, Buffer, usize)>,
    /// Partitions whose object is being written: still active until it is delivered.
    flushing: HashMap<Arc<Partition>, usize>,
    /// Full buffers for the flusher to take.
    full: Vec<Flush>,
    /// Log ranges not yet complete: first sequence number → (end, parts not yet delivered).
    batches: HashMap<u64, (u64, usize)>,
    next_file: u64,
    /// Bytes the open buffers hold in memory.
    in_memory: usize,
}

impl State {
    /// Takes partition's open buffer for delivery; it stays active until delivered.
    fn take(&mut self, partition: &Arc<Partition>) -> Option<Flush> {
        let buffer = self.open.remove(partition)?;
        self.in_memory = self.in_memory.saturating_sub(buffer.spool.in_memory());
        *self.flushing.entry(partition.clone()).or_default() += 1;
        Some(Flush {
            partition: partition.clone(),
            buffer,
            journal_id: None,
        })
    }

    /// Takes the regrouped flush `id` for delivery.
    fn take_regrouped(&mut self, id: u64) -> Option<Flush> {
        let (partition, buffer, _) = self.regrouping.remove(&id)?;
        self.in_memory = self.in_memory.saturating_sub(buffer.spool.in_memory());
        *self.flushing.entry(partition.clone()).or_default() += 1;
        Some(Flush {
            partition,
            buffer,
            journal_id: Some(id),
        })
    }

    /// Spills the largest in-memory buffers to their files until half the budget is free.
    fn spill(&mut self, budget: usize) {
        if self.in_memory <= budget {
            return;
        }
        while self.in_memory > budget / 2 {
            let Some(buffer) = self
                .open
                .values_mut()
                .max_by_key(|b| b.spool.in_memory())
                .filter(|b| b.spool.in_memory() > 0)
            else {
                return;
            };
            self.in_memory = self.in_memory.saturating_sub(buffer.spool.in_memory());
            buffer.spool.spill();
            // A spool the disk refused keeps its records in memory.
            self.in_memory += buffer.spool.in_memory();
            if buffer.spool.in_memory() > 0 {
                return;
            }
        }
    }
}

struct Buffer {
    spool: Spool,
    bytes: usize,
    records: usize,
    /// The arrival time of its first record in the log, which names its object.
    oldest_ms: u64,
    /// When the buffer's interval passes, on the monotonic clock.
    due_ms: u64,
    min_seq: u64,
    /// The batches with records here: first sequence number → how many parts.
    batches: BTreeMap<u64, usize>,
}

/// A partition buffer taken for delivery.
pub struct Flush {
    pub partition: Arc<Partition>,
    buffer: Buffer,
    /// Its entry in the flush journal, once recorded.
    journal_id: Option<u64>,
}

/// What adding a batch's parts did.
pub struct Added {
    /// Records of partitions beyond the active-partition limit.
    pub failed: Vec<FailedRecord>,
    pub exceeded: bool,
    pub active: usize,
}

/// Log ranges `[first, end)` whose every record is delivered.
pub type Completed = Vec<(u64, u64)>;

impl Buffers {
    /// Empties the spool directory (its records are still in the log) and starts with no
    /// buffers.
    pub fn new(config: BufferConfig) -> io::Result<Self> {
        spool::reset_dir(&config.dir)?;
        let journal = FlushJournal::open(
            config.dir.with_extension("flushes"),
            config.replay_from,
            config.sync,
        )?;
        Ok(Self {
            journal: Arc::new(journal),
            config,
            state: Mutex::new(State::default()),
            ready: tokio::sync::Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts that are still consistent enough to
        // deliver: every mutation below completes before anything can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the parts of the batch `[first, end)` to their partitions' buffers (blocking: it
    /// may write spool files). The batch stays incomplete until [`Buffers::release`] is
    /// called for it, so its failed records can be written first.
    pub fn add(&self, first: u64, end: u64, parts: Vec<Batch>) -> Added {
        self.add_at(first, end, parts, monotonic_ms(), now_ms())
    }

    /// [`Buffers::add`] at a given time on the monotonic and the wall clock: a part's records
    /// start ageing when they are added, less the age their arrival time shows (up to one
    /// interval), so a jump of the wall clock neither holds nor hurries a buffer.
    pub(crate) fn add_at(
        &self,
        first: u64,
        end: u64,
        parts: Vec<Batch>,
        monotonic_now: u64,
        wall_now: u64,
    ) -> Added {
        let interval_ms = self.config.hints.interval_ms();
        let due = |part: &Batch| {
            entered_at(monotonic_now, wall_now, part.oldest_arrival_ms, interval_ms)
                .saturating_add(interval_ms)
        };
        let mut guard = self.state();
        let state = &mut *guard;
        let mut failed = Vec::new();
        let mut exceeded = false;
        let mut accepted = 0;
        let mut became_full = false;
        for part in parts {
            // An empty part (every record failed processing) joins no buffer: a buffer without
            // records would never come due.
            let Some(partition) = part.partition.clone().filter(|_| !part.is_empty()) else {
                continue;
            };
            match self.journal.route(&partition, first) {
                Route::New => {}
                // Its records are in an object written before the crash.
                Route::Written => continue,
                Route::Regroup { id, batches } => {
                    became_full |=
                        self.regroup(state, id, batches, partition, (first, &part, due(&part)));
                    accepted += 1;
                    continue;
                }
            }
            if !state.open.contains_key(&partition) {
                // A partition being flushed is already active: buffering it again adds none.
                let active = active_count(state);
                if active >= self.config.limit && !state.flushing.contains_key(&partition) {
                    exceeded = true;
                    for (i, meta) in part.records.iter().enumerate() {
                        failed.push(FailedRecord {
                            raw: part.record(i).to_vec(),
                            arrival_ms: meta.arrival_ms,
                            seq: meta.seq,
                            sub: meta.sub,
                            failure: Failure::new(
                                "DynamicPartitioning.PartitionCountExceeded",
                                format!(
                                    "the stream has {active} active partitions; the limit is {}",
                                    self.config.limit
                                ),
                            ),
                            attempts: 1,
                            extra: serde_json::Map::new(),
                        });
                    }
                    continue;
                }
                let buffer = self.empty_buffer(state);
                state.open.insert(partition.clone(), buffer);
            }
            let Some(buffer) = state.open.get_mut(&partition) else {
                continue;
            };
            state.in_memory += buffer.append(first, &part, due(&part));
            let full = self.config.hints.is_full(buffer.bytes, buffer.records);
            accepted += 1;
            if full && let Some(flush) = state.take(&partition) {
                state.full.push(flush);
                became_full = true;
            }
        }
        state.spill(self.config.memory_bytes);
        // One more than the parts: the caller's hold, dropped by `release`.
        state.batches.insert(first, (end, accepted + 1));
        let active = active_count(state);
        drop(guard);
        if became_full {
            self.ready.notify_one();
        }
        Added {
            failed,
            exceeded,
            active,
        }
    }

    fn empty_buffer(&self, state: &mut State) -> Buffer {
        state.next_file += 1;
        let path = self.config.dir.join(format!("{}.spool", state.next_file));
        Buffer {
            spool: Spool::new(
                path,
                self.config.disk.clone(),
                self.config.encryption.clone(),
            ),
            bytes: 0,
            records: 0,
            oldest_ms: u64::MAX,
            due_ms: u64::MAX,
            min_seq: u64::MAX,
            batches: BTreeMap::new(),
        }
    }

    /// Adds a replayed part to the regrouped flush `id` of `batches` batches; true once the
    /// flush is whole again and queued for the flusher.
    fn regroup(
        &self,
        state: &mut State,
        id: u64,
        batches: usize,
        partition: Arc<Partition>,
        (first, part, due_ms): (u64, &Batch, u64),
    ) -> bool {
        if !state.regrouping.contains_key(&id) {
            let buffer = self.empty_buffer(state);
            state.regrouping.insert(id, (partition, buffer, batches));
        }
        let Some((_, buffer, remaining)) = state.regrouping.get_mut(&id) else {
            return false;
        };
        let added = buffer.append(first, part, due_ms);
        *remaining = remaining.saturating_sub(1);
        let whole = *remaining == 0;
        state.in_memory += added;
        if whole && let Some(flush) = state.take_regrouped(id) {
            state.full.push(flush);
            return true;
        }
        false
    }

    /// The journal that records flushes (written to before a flush's object is).
    pub fn journal(&self) -> Arc<FlushJournal> {
        self.journal.clone()
    }

    /// Drops the caller's hold on the batch starting at `first`.
    pub fn release(&self, first: u64) -> Completed {
        let mut state = self.state();
        let mut done = Vec::new();
        finish_part(&mut state.batches, first, 1, &mut done);
        done
    }

    /// Buffers that are full or whose interval has passed at `now_ms` (monotonic clock).
    pub fn take_due(&self, now_ms: u64) -> Vec<Flush> {
        let mut guard = self.state();
        let state = &mut *guard;
        let mut out = std::mem::take(&mut state.full);
        let due: Vec<Arc<Partition>> = state
            .open
            .iter()
            .filter(|(_, b)| b.due_ms <= now_ms)
            .map(|(p, _)| p.clone())
            .collect();
        out.extend(due.iter().filter_map(|p| state.take(p)));
        // A regrouped flush missing a batch (a log without fsync lost it) still flushes.
        let late: Vec<u64> = state
            .regrouping
            .iter()
            .filter(|(_, (_, b, _))| b.due_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect();
        out.extend(late.into_iter().filter_map(|id| state.take_regrouped(id)));
        out
    }

    /// The buffer holding the oldest record in the log: flushing it lets the checkpoint move
    /// when the log is filling up.
    pub fn take_oldest(&self) -> Option<Flush> {
        let mut guard = self.state();
        let state = &mut *guard;
        let partition = state
            .open
            .iter()
            .min_by_key(|(_, b)| b.min_seq)
            .map(|(p, _)| p.clone())?;
        state.take(&partition)
    }

    /// Every buffer (shutdown).
    pub fn take_all(&self) -> Vec<Flush> {
        let mut guard = self.state();
        let state = &mut *guard;
        let mut out = std::mem::take(&mut state.full);
        let open: Vec<Arc<Partition>> = state.open.keys().cloned().collect();
        out.extend(open.iter().filter_map(|p| state.take(p)));
        let regrouping: Vec<u64> = state.regrouping.keys().copied().collect();
        out.extend(
            regrouping
                .into_iter()
                .filter_map(|id| state.take_regrouped(id)),
        );
        out
    }

    /// When the next buffer's interval passes (monotonic clock).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let state = self.state();
        state.open.values().map(|b| b.due_ms).min()
    }

    /// A flush was delivered: its partition is no longer active (unless it buffers again) and
    /// the batches it completes are returned.
    pub fn delivered(&self, flush: Flush) -> (Completed, usize) {
        if let Some(id) = flush.journal_id
            && let Err(e) = self.journal.done(id)
        {
            // Only costs writing the same object again after a crash.
            tracing::warn!(error = %e, "recording a written flush in the flush journal failed");
        }
        let mut guard = self.state();
        let state = &mut *guard;
        if let Some(n) = state.flushing.get_mut(&flush.partition) {
            *n -= 1;
            if *n == 0 {
                state.flushing.remove(&flush.partition);
            }
        }
        let mut done = Vec::new();
        for (&first, &parts) in &flush.buffer.batches {
            finish_part(&mut state.batches, first, parts, &mut done);
        }
        (done, active_count(state))
    }

    pub fn pressure_bytes(&self) -> u64 {
        self.config.pressure_bytes
    }
}

impl Buffer {
    /// Appends `part` of the batch starting at `first`, due at `due_ms`; returns the bytes it
    /// added in memory.
    fn append(&mut self, first: u64, part: &Batch, due_ms: u64) -> usize {
        self.due_ms = self.due_ms.min(due_ms);
        let before = self.spool.in_memory();
        for (i, meta) in part.records.iter().enumerate() {
            let record = part.record(i);
            self.spool.append(meta, record);
            self.bytes += record.len();
            self.records += 1;
            // The oldest record is the log's first, not the least arrival time: after the
            // clock went back, later records carry earlier times.
            if meta.seq < self.min_seq {
                self.min_seq = meta.seq;
                self.oldest_ms = meta.arrival_ms;
            }
        }
        *self.batches.entry(first).or_default() += 1;
        self.spool.in_memory().saturating_sub(before)
    }
}

impl Flush {
    /// The log batches it holds records of (what its journal entry names).
    pub fn batches(&self) -> Vec<u64> {
        self.buffer.batches.keys().copied().collect()
    }

    /// Its journal entry, if recorded.
    pub fn journal_id(&self) -> Option<u64> {
        self.journal_id
    }

    /// Notes the journal entry recorded for it.
    pub fn recorded(&mut self, id: u64) {
        self.journal_id = Some(id);
    }

    /// Bytes of the buffered records.
    pub fn bytes(&self) -> usize {
        self.buffer.bytes
    }

    pub fn records(&self) -> usize {
        self.buffer.records
    }

    /// The buffered records as one batch of the partition (blocking: reads the spool). Takes
    /// the records: once it succeeds, the flush holds none.
    pub fn read(&mut self) -> io::Result<Batch> {
        let (data, records) = self.buffer.spool.take()?;
        let first_seq = records.iter().map(|r| r.seq).min().unwrap_or(0);
        let end_seq = records.iter().map(|r| r.seq + 1).max().unwrap_or(0);
        Ok(Batch {
            first_seq,
            end_seq,
            data: data.into(),
            records,
            oldest_arrival_ms: self.buffer.oldest_ms,
            // The whole-stream buffer has no keys: its objects are named without partition.
            partition: (!self.partition.is_empty()).then(|| self.partition.clone()),
        })
    }
}

fn active_count(state: &State) -> usize {
    state.open.len()
        + state
            .flushing
            .keys()
            .filter(|p| !state.open.contains_key(*p))
            .count()
}

fn finish_part(
    batches: &mut HashMap<u64, (u64, usize)>,
    first: u64,
    parts: usize,
    done: &mut Completed,
) {
    if let Some((end, remaining)) = batches.get_mut(&first) {
        *remaining = remaining.saturating_sub(parts);
        if *remaining == 0 {
            done.push((first, *end));
            batches.remove(&first);
        }
    }
}

#[cfg(test)]
mod tests;
