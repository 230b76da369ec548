//! The write-ahead log: every acknowledged record lives here, fsync'd, until it is delivered.
//!
//! Appends go to one writer thread that groups concurrent requests into one write and one fsync
//! (group commit) and acknowledges each only after the fsync that covers it. The delivery side
//! tails the log with a [`WalReader`] up to the durable watermark, and reports progress with
//! [`Wal::checkpoint`], which persists the delivered position and deletes whole segments below it.

mod checkpoint;
pub mod frame;
mod lock;
mod reader;
mod segment;
mod writer;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use thiserror::Error;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

pub use frame::FrameBatch;
pub use reader::WalReader;

use crds::Durability;

/// Appends waiting for the writer are bounded to this many bytes, so many concurrent producers
/// cannot queue unbounded memory.
const MAX_PENDING_BYTES: usize = 16 << 20;

/// Why an append or checkpoint failed.
#[derive(Debug, Error)]
pub enum WalError {
    /// The log is at its size bound; retry after delivery frees space.
    #[error("the write-ahead log is full")]
    Full,
    /// The request is larger than the log could ever hold.
    #[error("the append is larger than the write-ahead log bound")]
    TooLarge,
    #[error("write-ahead log I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// An earlier write failed; the log accepts nothing until restarted.
    #[error("the write-ahead log failed earlier and refuses writes until restart")]
    Failed,
    #[error("the write-ahead log is shut down")]
    Closed,
}

/// Settings of a log.
#[derive(Debug, Clone)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// Bound on the bytes of all segment files.
    pub max_bytes: u64,
    /// A new segment starts once the current one reaches this size.
    pub segment_bytes: u64,
    pub durability: Durability,
}

/// Sequence numbers `[first, first + count)` assigned to an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first: u64,
    pub count: u64,
}

/// How far the log is durable: records below `next_seq` can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    pub next_seq: u64,
    /// The segment being written and its durable length.
    pub segment_first: u64,
    pub segment_len: u64,
}

/// What opening the log found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// First undelivered sequence number.
    pub delivered: u64,
    /// Next sequence number to assign.
    pub next_seq: u64,
    /// Bytes cut off a torn tail.
    pub truncated_bytes: u64,
    pub segments: usize,
    /// This log's identity, created with it: sequence numbers are unique only within one log,
    /// so IDs derived from them (document IDs, request IDs) include it.
    pub id: uuid::Uuid,
}

/// Reads the log's identity, creating it (durably) on first open.
fn log_id(dir: &std::path::Path) -> Result<uuid::Uuid, WalError> {
    let path = dir.join("id");
    match fs::read_to_string(&path) {
        Ok(text) => {
            if let Ok(id) = uuid::Uuid::parse_str(text.trim()) {
                return Ok(id);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let id = uuid::Uuid::new_v4();
    let tmp = dir.join("id.tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, id.to_string().as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    segment::sync_dir(dir)?;
    Ok(id)
}

/// Sizes and positions, for metrics and `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStats {
    pub disk_bytes: u64,
    pub segments: usize,
    pub next_seq: u64,
    pub delivered: u64,
}

/// State shared by the writer thread, the reader and checkpointing.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    disk_bytes: AtomicU64,
    /// Bytes of copies of logged records kept beside the log (partition spools): they count
    /// toward `max_bytes`, so the volume holds the log and its copies together.
    beside_bytes: Arc<AtomicU64>,
    delivered: AtomicU64,
    /// Segment first sequence number → size in bytes.
    segments: Mutex<BTreeMap<u64, u64>>,
    failed: AtomicBool,
    /// Set when an append was refused for space, cleared when delivery frees some.
    throttling: AtomicBool,
    checkpoint_lock: Mutex<()>,
    fsync_observer: Option<FsyncObserver>,
}

/// Called with each fsync's duration in seconds (the metrics hook).
pub struct FsyncObserver(pub Box<dyn Fn(f64) + Send + Sync>);

impl std::fmt::Debug for FsyncObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FsyncObserver")
    }
}

/// Handle to an open log. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Wal {
    shared: Arc<Shared>,
    /// Held while any handle lives: no other process opens this log meanwhile.
    _lock: Arc<lock::DirLock>,
    tx: mpsc::UnboundedSender<writer::Request>,
    pending: Arc<Semaphore>,
    watermark: watch::Receiver<Watermark>,
}

/// The segment being appended to, as recovery left it.
struct ActiveSegment {
    first: u64,
    valid_len: u64,
    next_seq: u64,
    /// Bytes of torn tail cut off.
    truncated: u64,
}

/// Deletes segments wholly below the checkpoint (a crash may have come between the checkpoint
/// and their deletion); returns the first sequence numbers of those that remain.
fn drop_delivered_segments(dir: &std::path::Path, delivered: u64) -> Result<Vec<u64>, WalError> {
    let mut firsts = segment::list(dir)?;
    let mut removed = false;
    while firsts.len() > 1 && firsts[1] <= delivered {
        fs::remove_file(segment::path(dir, firsts[0]))?;
        firsts.remove(0);
        removed = true;
    }
    if removed {
        segment::sync_dir(dir)?;
    }
    Ok(firsts)
}

/// Scans the last segment and truncates a torn tail, or creates the first segment of a fresh
/// log where the checkpoint says (0, or later if segments were lost).
fn recover_active(
    dir: &std::path::Path,
    last: Option<u64>,
    delivered: u64,
    segments: &mut BTreeMap<u64, u64>,
) -> Result<ActiveSegment, WalError> {
    let Some(first) = last else {
        segment::open_append(&segment::path(dir, delivered))?.sync_all()?;
        segment::sync_dir(dir)?;
        segments.insert(delivered, 0);
        return Ok(ActiveSegment {
            first: delivered,
            valid_len: 0,
            next_seq: delivered,
            truncated: 0,
        });
    };
    let path = segment::path(dir, first);
    let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
    let scan = segment::scan(&mut file)?;
    let truncated = scan.file_len - scan.valid_len;
    if truncated > 0 {
        tracing::warn!(
            segment = %path.display(),
            bytes = truncated,
            "truncating a torn tail of the write-ahead log"
        );
        file.set_len(scan.valid_len)?;
        file.sync_all()?;
        segments.insert(first, scan.valid_len);
    }
    Ok(ActiveSegment {
        first,
        valid_len: scan.valid_len,
        next_seq: first + scan.records,
        truncated,
    })
}

impl Wal {
    /// Opens (or creates) the log, truncates a torn tail and drops segments already delivered.
    pub fn open(config: WalConfig) -> Result<(Self, Recovery), WalError> {
        Self::open_observed(config, None)
    }

    /// Like [`Wal::open`], calling `fsync_observer` with each fsync's duration in seconds.
    pub fn open_observed(
        config: WalConfig,
        fsync_observer: Option<FsyncObserver>,
    ) -> Result<(Self, Recovery), WalError> {
        fs::create_dir_all(&config.dir)?;
        let dir = config.dir.clone();
        let dir_lock = lock::acquire(&dir)?;
        let delivered = checkpoint::read(&dir)?;
        let id = log_id(&dir)?;
        let firsts = drop_delivered_segments(&dir, delivered)?;
        let mut segments = BTreeMap::new();
        for &first in &firsts {
            let len = fs::metadata(segment::path(&dir, first))?.len();
            segments.insert(first, len);
        }
        let active = recover_active(&dir, firsts.last().copied(), delivered, &mut segments)?;
        let next_seq = active.next_seq;
        // A checkpoint can never be ahead of what exists.
        let delivered = delivered.min(next_seq);
        let disk_bytes = segments.values().sum();
        let segment_count = segments.len();
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            max_bytes: config.max_bytes,
            disk_bytes: AtomicU64::new(disk_bytes),
            beside_bytes: Arc::new(AtomicU64::new(0)),
            delivered: AtomicU64::new(delivered),
            segments: Mutex::new(segments),
            failed: AtomicBool::new(false),
            throttling: AtomicBool::new(false),
            checkpoint_lock: Mutex::new(()),
            fsync_observer,
        });
        let watermark = Watermark {
            next_seq,
            segment_first: active.first,
            segment_len: active.valid_len,
        };
        let (wm_tx, wm_rx) = watch::channel(watermark);
        let (tx, rx) = mpsc::unbounded_channel();
        let file = segment::open_append(&segment::path(&dir, active.first))?;
        writer::spawn(writer::Writer {
            shared: shared.clone(),
            rx,
            watermark: wm_tx,
            file,
            state: watermark,
            // Space is freed a whole segment at a time, so segments must be small next to the bound
            // or a full log could never free any.
            segment_bytes: config.segment_bytes.min(config.max_bytes / 8).max(1),
            durability: config.durability,
        })?;
        Ok((
            Self {
                shared,
                _lock: Arc::new(dir_lock),
                tx,
                pending: Arc::new(Semaphore::new(MAX_PENDING_BYTES)),
                watermark: wm_rx,
            },
            Recovery {
                delivered,
                next_seq,
                truncated_bytes: active.truncated,
                segments: segment_count,
                id,
            },
        ))
    }

    /// Appends the frames and returns once they are durable (per the configured durability).
    pub async fn append(&self, frames: FrameBatch) -> Result<Appended, WalError> {
        if frames.records() == 0 {
            return Ok(Appended {
                first: self.watermark.borrow().next_seq,
                count: 0,
            });
        }
        if frames.len() as u64 > self.shared.max_bytes {
            return Err(WalError::TooLarge);
        }
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(WalError::Failed);
        }
        let permits = frames.len().clamp(1, MAX_PENDING_BYTES) as u32;
        let _permit = self
            .pending
            .acquire_many(permits)
            .await
            .map_err(|_| WalError::Closed)?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(writer::Request { frames, reply })
            .map_err(|_| WalError::Closed)?;
        rx.await.map_err(|_| WalError::Closed)?
    }

    /// Whether the log is refusing appends for lack of space (until delivery frees some).
    pub fn is_full(&self) -> bool {
        self.shared.throttling.load(Ordering::Acquire) || self.used_bytes() >= self.shared.max_bytes
    }

    /// The bound on [`Wal::used_bytes`].
    pub fn max_bytes(&self) -> u64 {
        self.shared.max_bytes
    }

    /// Bytes on the log's volume: the segments and the copies kept beside them.
    pub fn used_bytes(&self) -> u64 {
        self.shared.disk_bytes.load(Ordering::Acquire)
            + self.shared.beside_bytes.load(Ordering::Acquire)
    }

    /// The counter that files kept beside the log (copies of its records) add their bytes to,
    /// and subtract them from when removed.
    pub fn beside_bytes(&self) -> Arc<AtomicU64> {
        self.shared.beside_bytes.clone()
    }

    /// A reader that starts at the first undelivered record.
    pub fn reader(&self) -> WalReader {
        WalReader::new(
            self.shared.dir.clone(),
            self.shared.delivered.load(Ordering::Acquire),
            self.watermark.clone(),
            self.segment_after_fn(),
        )
    }

    fn segment_after_fn(&self) -> reader::NextSegment {
        let shared = self.shared.clone();
        Arc::new(move |after: u64| {
            shared
                .segments
                .lock()
                .ok()
                .and_then(|s| s.range(after + 1..).next().map(|(&k, _)| k))
        })
    }

    /// Records every sequence number below `delivered` as delivered: persists it, then deletes
    /// segments that hold nothing else. Blocking (fsync); call from a blocking context.
    pub fn checkpoint(&self, delivered: u64) -> Result<(), WalError> {
        self.checkpoint_inner(delivered, true)
    }

    fn checkpoint_inner(&self, delivered: u64, delete: bool) -> Result<(), WalError> {
        let _guard = self
            .shared
            .checkpoint_lock
            .lock()
            .map_err(|_| WalError::Failed)?;
        let current = self.shared.delivered.load(Ordering::Acquire);
        let delivered = delivered.min(self.watermark.borrow().next_seq);
        if delivered <= current {
            return Ok(());
        }
        checkpoint::write(&self.shared.dir, delivered)?;
        self.shared.delivered.store(delivered, Ordering::Release);
        if !delete {
            return Ok(());
        }
        let doomed: Vec<(u64, u64)> = {
            let segments = self.shared.segments.lock().map_err(|_| WalError::Failed)?;
            let keys: Vec<u64> = segments.keys().copied().collect();
            keys.windows(2)
                .filter(|w| w[1] <= delivered)
                .map(|w| (w[0], segments[&w[0]]))
                .collect()
        };
        if doomed.is_empty() {
            return Ok(());
        }
        for &(first, _) in &doomed {
            match fs::remove_file(segment::path(&self.shared.dir, first)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        segment::sync_dir(&self.shared.dir)?;
        let mut segments = self.shared.segments.lock().map_err(|_| WalError::Failed)?;
        for (first, size) in doomed {
            segments.remove(&first);
            self.shared.disk_bytes.fetch_sub(size, Ordering::AcqRel);
        }
        self.shared.throttling.store(false, Ordering::Release);
        Ok(())
    }

    /// Current sizes and positions.
    pub fn stats(&self) -> WalStats {
        WalStats {
            disk_bytes: self.shared.disk_bytes.load(Ordering::Acquire),
            segments: self.shared.segments.lock().map(|s| s.len()).unwrap_or(0),
            next_seq: self.watermark.borrow().next_seq,
            delivered: self.shared.delivered.load(Ordering::Acquire),
        }
    }

    #[cfg(test)]
    fn checkpoint_without_deleting(&self, delivered: u64) -> Result<(), WalError> {
        self.checkpoint_inner(delivered, false)
    }
}

#[cfg(test)]
mod model_test;
