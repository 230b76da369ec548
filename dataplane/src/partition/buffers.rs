//! One buffer per active partition, filled across delivery batches and flushed by the
//! buffering hints (docs/processing.md, "How partitions are buffered"): when it holds `sizeInMBs`, or `intervalInSeconds` after
//! its oldest record arrived.
//!
//! Where the records are: in the write-ahead log, and in each partition's spool (see
//! [`super::spool`]). Spools hold their records in memory up to a budget shared by all
//! partitions (`memory_bytes`); past it the largest spill to their files, so memory stays
//! bounded whatever the number of partitions and few small partitions never touch the disk.
//! The log's checkpoint cannot pass a batch until every partition holding one of its records is delivered: each
//! batch counts the partition buffers it went into, and when the last of them is delivered
//! the batch is complete. Partitions therefore flush in any order while the checkpoint stays
//! exact, and after a crash the log replays every record whose partition was not delivered.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::spool::{self, Spool};
use crate::record::{Batch, FailedRecord, Failure, Hints, Partition};

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
}

pub struct Buffers {
    config: BufferConfig,
    state: Mutex<State>,
    /// Wakes the flusher when a buffer is full.
    pub ready: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    open: HashMap<Arc<Partition>, Buffer>,
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
    oldest_ms: u64,
    min_seq: u64,
    /// The batches with records here: first sequence number → how many parts.
    batches: BTreeMap<u64, usize>,
}

/// A partition buffer taken for delivery.
pub struct Flush {
    pub partition: Arc<Partition>,
    buffer: Buffer,
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
        Ok(Self {
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
            if !state.open.contains_key(&partition) {
                // A partition being flushed is already active: buffering it again adds none.
                let active = active_count(state);
                if active >= self.config.limit && !state.flushing.contains_key(&partition) {
                    exceeded = true;
                    for (i, meta) in part.records.iter().enumerate() {
                        failed.push(FailedRecord {
                            raw: part.record(i).to_vec(),
                            arrival_ms: meta.arrival_ms,
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
                state.next_file += 1;
                let path = self.config.dir.join(format!("{}.spool", state.next_file));
                state.open.insert(
                    partition.clone(),
                    Buffer {
                        spool: Spool::new(path, self.config.disk.clone()),
                        bytes: 0,
                        records: 0,
                        oldest_ms: u64::MAX,
                        min_seq: u64::MAX,
                        batches: BTreeMap::new(),
                    },
                );
            }
            let Some(buffer) = state.open.get_mut(&partition) else {
                continue;
            };
            let before = buffer.spool.in_memory();
            for (i, meta) in part.records.iter().enumerate() {
                let record = part.record(i);
                buffer.spool.append(meta, record);
                buffer.bytes += record.len();
                buffer.records += 1;
                buffer.oldest_ms = buffer.oldest_ms.min(meta.arrival_ms);
                buffer.min_seq = buffer.min_seq.min(meta.seq);
            }
            *buffer.batches.entry(first).or_default() += 1;
            let full = buffer.bytes >= self.config.hints.size_bytes;
            state.in_memory += buffer.spool.in_memory() - before;
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

    /// Drops the caller's hold on the batch starting at `first`.
    pub fn release(&self, first: u64) -> Completed {
        let mut state = self.state();
        let mut done = Vec::new();
        finish_part(&mut state.batches, first, 1, &mut done);
        done
    }

    /// Buffers that are full or whose interval has passed at `now_ms`.
    pub fn take_due(&self, now_ms: u64) -> Vec<Flush> {
        let mut guard = self.state();
        let state = &mut *guard;
        let mut out = std::mem::take(&mut state.full);
        let due: Vec<Arc<Partition>> = state
            .open
            .iter()
            .filter(|(_, b)| b.oldest_ms.saturating_add(self.config.hints.interval_ms()) <= now_ms)
            .map(|(p, _)| p.clone())
            .collect();
        out.extend(due.iter().filter_map(|p| state.take(p)));
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
        out
    }

    /// When the next buffer's interval passes (ms since the epoch).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let state = self.state();
        state
            .open
            .values()
            .map(|b| b.oldest_ms.saturating_add(self.config.hints.interval_ms()))
            .min()
    }

    /// A flush was delivered: its partition is no longer active (unless it buffers again) and
    /// the batches it completes are returned.
    pub fn delivered(&self, flush: Flush) -> (Completed, usize) {
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

impl Flush {
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
mod tests {
    use super::*;

    fn part(first: u64, key: &str, records: &[&str]) -> Batch {
        let mut b = Batch::from_records(first, 1000 + first, records.iter().map(|r| r.as_bytes()));
        let mut p = Partition::new();
        p.insert("partitionKeyFromQuery:k".into(), key.into());
        b.partition = Some(Arc::new(p));
        b
    }

    fn buffers(dir: &std::path::Path, size_bytes: usize, limit: usize) -> Buffers {
        Buffers::new(BufferConfig {
            dir: dir.join("partitions"),
            hints: Hints {
                size_bytes,
                interval: std::time::Duration::from_secs(60),
            },
            limit,
            memory_bytes: 1 << 20,
            disk: Default::default(),
            pressure_bytes: u64::MAX,
        })
        .expect("buffers")
    }

    #[test]
    fn a_batch_completes_when_its_last_partition_is_delivered_out_of_order() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = buffers(tmp.path(), 1 << 20, 10);
        let added = b.add(0, 3, vec![part(0, "a", &["1"]), part(1, "b", &["2", "3"])]);
        assert_eq!(added.active, 2);
        assert!(b.release(0).is_empty(), "both partitions still buffer it");
        b.add(3, 4, vec![part(3, "b", &["4"])]);
        assert!(b.release(3).is_empty());

        // Partition b flushes first: batch [3, 4) completes, [0, 3) waits for a.
        let mut flushes = b.take_all();
        flushes.sort_by_key(|f| f.partition["partitionKeyFromQuery:k"].clone());
        let mut fb = flushes.pop().expect("b");
        let fa = flushes.pop().expect("a");
        let batch = fb.read().expect("read");
        assert_eq!(batch.iter().collect::<Vec<_>>(), vec![b"2", b"3", b"4"]);
        let (done, active) = b.delivered(fb);
        assert_eq!(done, vec![(3, 4)]);
        assert_eq!(active, 1);
        let (done, active) = b.delivered(fa);
        assert_eq!(done, vec![(0, 3)]);
        assert_eq!(active, 0);
    }

    #[test]
    fn an_empty_part_completes_with_its_batch() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = buffers(tmp.path(), 1 << 20, 10);
        let added = b.add(0, 5, vec![part(0, "a", &[])]);
        assert_eq!(added.active, 0);
        assert_eq!(b.release(0), vec![(0, 5)]);
        assert_eq!(b.next_deadline_ms(), None);
    }

    #[test]
    fn the_hold_keeps_a_batch_open_until_released() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = buffers(tmp.path(), 1, 10);
        // A full buffer is flushed and delivered before the batch's failed records are
        // written: the batch must not complete yet.
        b.add(0, 1, vec![part(0, "a", &["x"])]);
        let flush = b.take_due(0).pop().expect("full");
        assert!(b.delivered(flush).0.is_empty());
        assert_eq!(b.release(0), vec![(0, 1)]);
    }

    #[test]
    fn partitions_beyond_the_limit_fail_and_free_slots_are_reused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = buffers(tmp.path(), 1 << 20, 1);
        let added = b.add(0, 2, vec![part(0, "a", &["1"]), part(1, "b", &["2"])]);
        assert!(added.exceeded);
        assert_eq!(added.failed.len(), 1);
        assert_eq!(
            added.failed[0].failure.code,
            "DynamicPartitioning.PartitionCountExceeded"
        );
        // A partition being flushed still counts as active, and may buffer again.
        let flush = b.take_oldest().expect("a");
        assert!(b.add(2, 3, vec![part(2, "c", &["3"])]).exceeded);
        let again = b.add(3, 4, vec![part(3, "a", &["4"])]);
        assert!(!again.exceeded);
        assert_eq!(again.active, 1);
        b.delivered(flush);
        for flush in b.take_all() {
            b.delivered(flush);
        }
        let added = b.add(4, 5, vec![part(4, "c", &["5"])]);
        assert!(!added.exceeded);
        assert_eq!(added.active, 1);
    }

    #[test]
    fn buffers_flush_by_size_and_by_interval() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = buffers(tmp.path(), 4, 10);
        b.add(
            0,
            2,
            vec![part(0, "a", &["12", "34"]), part(1, "b", &["5"])],
        );
        let full = b.take_due(0);
        assert_eq!(full.len(), 1, "a holds 4 bytes");
        assert_eq!(b.next_deadline_ms(), Some(1001 + 60_000));
        assert!(b.take_due(1001 + 59_999).is_empty());
        assert_eq!(b.take_due(1001 + 60_000).len(), 1);
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn past_the_memory_budget_the_largest_buffers_spill_to_disk() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("partitions");
        let b = Buffers::new(BufferConfig {
            dir: dir.clone(),
            hints: Hints {
                size_bytes: 1 << 30,
                interval: std::time::Duration::from_secs(60),
            },
            limit: 10,
            memory_bytes: 1000,
            disk: Default::default(),
            pressure_bytes: u64::MAX,
        })
        .expect("buffers");
        let part = |first: u64, key: &str, len: usize| {
            let record = vec![b'x'; len];
            let mut batch = Batch::from_records(first, 1, [record.as_slice()]);
            let mut p = Partition::new();
            p.insert("k".into(), key.into());
            batch.partition = Some(Arc::new(p));
            b.add(first, first + 1, vec![batch]);
            b.release(first);
        };
        part(0, "small", 100);
        part(1, "big", 600);
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            0,
            "within budget"
        );
        part(2, "big", 600);
        let files = std::fs::read_dir(&dir).expect("dir").count();
        assert_eq!(files, 1, "only the largest spilled");
        let mut all = b.take_all();
        all.sort_by_key(|f| f.records());
        let batches: Vec<usize> = all
            .iter_mut()
            .map(|f| f.read().expect("read").len())
            .collect();
        assert_eq!(batches, vec![1, 2]);
    }
}
