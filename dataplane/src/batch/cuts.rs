//! The cut journal: where the log was cut into batches, recorded durably before a batch is
//! delivered, so that after a crash the same records form the same batches again and their
//! objects get the same names (a replayed object overwrites the one written before the crash
//! instead of duplicating its records).
//!
//! The file `cuts` beside the log holds 20-byte entries: a batch's first and end sequence
//! numbers (little-endian u64) and a CRC-32C of both. Entries are appended by one task in cut
//! order, several per `fdatasync` when batches are cut faster than the disk syncs, so the
//! recorded cuts past the checkpoint always form an unbroken chain starting at it. A torn
//! last entry is dropped on open; the file is rewritten with only the live entries (those
//! ending past the checkpoint) on open and whenever it holds many dead ones.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::support::durable_file;

const FILE: &str = "cuts";
const ENTRY: usize = 20;
/// The file is rewritten when it holds this many more entries than are live.
const COMPACT_AFTER: usize = 4096;

/// A cut to record, and who waits for it to be durable.
type Pending = (u64, u64, oneshot::Sender<()>);

/// Recorded cuts still to replay, and the channel to record new ones.
pub struct CutJournal {
    /// First sequence number → end of each recorded batch not yet replayed.
    replay: Mutex<BTreeMap<u64, u64>>,
    record: mpsc::UnboundedSender<Pending>,
    /// Taken by [`CutJournal::start`].
    writer: Mutex<Option<CutWriter>>,
}

/// Appends cuts to the file; runs as its own task.
struct CutWriter {
    path: PathBuf,
    file: File,
    sync: bool,
    /// Entries in the file, and the live ones (ending past the checkpoint).
    entries: usize,
    live: BTreeMap<u64, u64>,
    pending: mpsc::UnboundedReceiver<Pending>,
}

impl CutJournal {
    /// Opens the journal in `dir`: recorded cuts within `[delivered, log_end)` are replayed,
    /// the others forgotten. `sync`: fdatasync each append (the log's `fsync` durability).
    pub fn open(dir: &Path, delivered: u64, log_end: u64, sync: bool) -> io::Result<Self> {
        let path = dir.join(FILE);
        let recorded = match fs::read(&path) {
            Ok(bytes) => decode(&bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let live = chain(&recorded, delivered, log_end);
        let mut entries = live.len();
        if let Err(e) = rewrite(&path, &live) {
            // A full disk must not keep the stream from starting: the old file still holds
            // the live entries among dead ones.
            tracing::warn!(error = %e, "compacting the cut journal failed; appending to it as it is");
            entries = recorded.len();
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (record, pending) = mpsc::unbounded_channel();
        let writer = CutWriter {
            path,
            file,
            sync,
            entries,
            live: live.clone(),
            pending,
        };
        Ok(Self {
            replay: Mutex::new(live),
            record,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Starts appending recorded cuts (once; later calls do nothing). The task ends when the
    /// journal is dropped; `delivered` is the checkpoint, which retires entries.
    pub fn start(&self, delivered: watch::Receiver<u64>) -> Option<tokio::task::JoinHandle<()>> {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        Some(tokio::spawn(writer.run(delivered)))
    }

    /// The end of the recorded batch starting at `first`, if one is still to be replayed.
    pub fn replayed_end(&self, first: u64) -> Option<u64> {
        let mut replay = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        // Cuts before `first` can no longer be met: the reader is past them.
        while let Some(entry) = replay.first_entry() {
            if *entry.key() >= first {
                break;
            }
            entry.remove();
        }
        replay.get(&first).copied()
    }

    /// Records the batch `[first, end)`; the receiver resolves once the entry is durable.
    /// A replayed batch is already recorded: it resolves at once.
    pub fn record(&self, first: u64, end: u64, replayed: bool) -> oneshot::Receiver<()> {
        let (done, durable) = oneshot::channel();
        if replayed {
            let _ = done.send(());
        } else if let Err(mpsc::error::SendError((_, _, done))) =
            self.record.send((first, end, done))
        {
            // The writer is gone (shutting down): the batch is delivered anyway; it was at
            // most not recorded, which costs a duplicate after a crash, never a record.
            let _ = done.send(());
        }
        durable
    }
}

impl CutWriter {
    /// Appends every cut sent until the journal is dropped, pruning entries the checkpoint
    /// (`delivered`) has passed.
    async fn run(self, delivered: watch::Receiver<u64>) {
        let mut writer = self;
        while let Some(first) = writer.pending.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = writer.pending.try_recv() {
                batch.push(more);
            }
            let bytes: Vec<u8> = batch
                .iter()
                .flat_map(|(first, end, _)| encode(*first, *end))
                .collect();
            let checkpoint = *delivered.borrow();
            writer = match tokio::task::spawn_blocking(move || {
                let result = writer.append(&bytes, checkpoint);
                (writer, result)
            })
            .await
            {
                Ok((back, result)) => {
                    if let Err(e) = result {
                        // Delivery goes on: an unrecorded cut costs a duplicate after a crash.
                        tracing::error!(error = %e, "recording batch boundaries failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    back
                }
                Err(e) => {
                    tracing::error!(error = %e, "the cut journal task failed");
                    return;
                }
            };
            for (first, end, done) in batch {
                writer.live.insert(first, end);
                let _ = done.send(());
            }
        }
    }

    fn append(&mut self, bytes: &[u8], checkpoint: u64) -> io::Result<()> {
        self.live.retain(|_, end| *end > checkpoint);
        if self.entries > self.live.len() + COMPACT_AFTER {
            rewrite(&self.path, &self.live)?;
            self.file = OpenOptions::new().append(true).open(&self.path)?;
            self.entries = self.live.len();
        }
        self.file.write_all(bytes)?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.entries += bytes.len() / ENTRY;
        Ok(())
    }
}

fn encode(first: u64, end: u64) -> [u8; ENTRY] {
    let mut entry = [0u8; ENTRY];
    entry[..8].copy_from_slice(&first.to_le_bytes());
    entry[8..16].copy_from_slice(&end.to_le_bytes());
    let crc = crc32c::crc32c(&entry[..16]);
    entry[16..].copy_from_slice(&crc.to_le_bytes());
    entry
}

/// The whole entries of `bytes`, up to the first damaged one (a torn append).
fn decode(bytes: &[u8]) -> Vec<(u64, u64)> {
    let mut cuts = Vec::new();
    for entry in bytes.chunks_exact(ENTRY) {
        let crc = u32::from_le_bytes([entry[16], entry[17], entry[18], entry[19]]);
        if crc32c::crc32c(&entry[..16]) != crc {
            break;
        }
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&entry[at..at + 8]);
            u64::from_le_bytes(b)
        };
        cuts.push((word(0), word(8)));
    }
    cuts
}

/// The recorded cuts that chain from `delivered` without a gap and end within the log (a log
/// without fsync can lose its tail in a machine crash: cuts beyond what it kept are void).
fn chain(recorded: &[(u64, u64)], delivered: u64, log_end: u64) -> BTreeMap<u64, u64> {
    let by_first: BTreeMap<u64, u64> = recorded
        .iter()
        .copied()
        .filter(|&(first, end)| first < end)
        .collect();
    let mut live = BTreeMap::new();
    let mut at = delivered;
    while let Some(&end) = by_first.get(&at) {
        if end > log_end {
            break;
        }
        live.insert(at, end);
        at = end;
    }
    live
}

/// Replaces the file with `live`'s entries, atomically.
fn rewrite(path: &Path, live: &BTreeMap<u64, u64>) -> io::Result<()> {
    let bytes: Vec<u8> = live
        .iter()
        .flat_map(|(&first, &end)| encode(first, end))
        .collect();
    durable_file::replace(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_entry_ends_the_journal() {
        let mut bytes: Vec<u8> = [encode(0, 5), encode(5, 9)].concat();
        bytes.extend_from_slice(&encode(9, 12)[..11]);
        assert_eq!(decode(&bytes), vec![(0, 5), (5, 9)]);
        let mut damaged = bytes.clone();
        damaged[21] ^= 1;
        assert_eq!(decode(&damaged), vec![(0, 5)]);
    }

    #[test]
    fn only_an_unbroken_chain_from_the_checkpoint_within_the_log_is_replayed() {
        let recorded = [(0, 5), (5, 9), (9, 12), (15, 20), (12, 14)];
        assert_eq!(
            chain(&recorded, 5, 100).into_iter().collect::<Vec<_>>(),
            vec![(5, 9), (9, 12), (12, 14)]
        );
        assert_eq!(chain(&recorded, 5, 11).len(), 1, "(9, 12) is past the log");
        assert!(chain(&recorded, 6, 100).is_empty());
    }

    #[tokio::test]
    async fn recorded_cuts_survive_a_reopen_and_are_replayed_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let journal = CutJournal::open(dir.path(), 0, 0, true).expect("open");
        let (delivered_tx, delivered) = watch::channel(0u64);
        let task = journal.start(delivered).expect("first start");
        assert!(journal.start(delivered_tx.subscribe()).is_none());
        for (first, end) in [(0, 4), (4, 10), (10, 11)] {
            journal.record(first, end, false).await.expect("durable");
        }
        delivered_tx.send_replace(4);
        drop(journal);
        task.await.expect("writer");

        let journal = CutJournal::open(dir.path(), 4, 11, true).expect("reopen");
        assert_eq!(journal.replayed_end(4), Some(10));
        assert_eq!(journal.replayed_end(10), Some(11));
        assert_eq!(journal.replayed_end(4), None, "passed");
        assert_eq!(
            fs::metadata(dir.path().join(FILE)).expect("file").len(),
            2 * ENTRY as u64,
            "rewritten with the live entries only"
        );
    }
}
