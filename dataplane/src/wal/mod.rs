//! The write-ahead log: every acknowledged record lives here, fsync'd, until it is delivered.
//!
//! Appends go to one writer thread that groups concurrent requests into one write and one fsync
//! (group commit) and acknowledges each only after the fsync that covers it. The delivery side
//! tails the log with a [`WalReader`] up to the durable watermark, and reports progress with
//! [`Wal::checkpoint`], which persists the delivered position and deletes whole segments below it.
//!
//! With a key ([`WalConfig::encryption`], [`Wal::set_encryption`]) segments are sealed with
//! AES-256-GCM ([`seal`]); a segment holds one format and one key, so a switch starts a new
//! segment, and the keyring reads segments written under any key it knows.

mod checkpoint;
pub mod frame;
mod keys;
mod lock;
mod reader;
mod recover;
pub mod seal;
mod segment;
mod writer;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use thiserror::Error;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

pub use frame::FrameBatch;
pub use keys::{CurrentKey, Keyring, MAX_KEY_ID_LEN, SegmentKey};
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
    /// The log's volume is out of space (ENOSPC): the failed write was cut back off the
    /// segment, so the log is intact; retry once space is freed.
    #[error("the write-ahead log's volume is out of space")]
    NoSpace,
    #[error("write-ahead log I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// An earlier write failed; the log accepts nothing until restarted.
    #[error("the write-ahead log failed earlier and refuses writes until restart")]
    Failed,
    #[error("the write-ahead log is shut down")]
    Closed,
    /// A sealed segment names a key this log was not given: its records cannot be read.
    #[error(
        "write-ahead log segment {} is encrypted with key {key_id}, which this log does not have (was the key removed while records sealed with it were undelivered?)",
        segment.display()
    )]
    UnknownKey { segment: PathBuf, key_id: String },
    /// A sealed chunk before the tail fails authentication: acknowledged records are damaged.
    #[error(
        "write-ahead log segment {} fails authentication at byte {offset}: it was altered, or sealed with another key of the same id",
        segment.display()
    )]
    Unauthentic { segment: PathBuf, offset: u64 },
    #[error(
        "write-ahead log segment {} has a damaged encryption header, or one of a newer format",
        segment.display()
    )]
    BadHeader { segment: PathBuf },
    #[error("invalid encryption key id {0:?}: 1 to 255 bytes, no control characters")]
    KeyId(String),
    #[error("two different encryption keys have the id {0}")]
    KeyConflict(String),
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
    /// The key appends are sealed with; none: plaintext.
    pub encryption: Option<SegmentKey>,
    /// Further keys segments may be sealed with (earlier keys of this log); the current one
    /// need not be repeated here.
    pub keyring: Vec<SegmentKey>,
}

/// Sequence numbers `[first, first + count)` assigned to an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first: u64,
    pub count: u64,
    /// Whether the records were sealed (the `Encrypted` of a put's answer).
    pub encrypted: bool,
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

/// Sizes and positions, for metrics and `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStats {
    pub disk_bytes: u64,
    pub segments: usize,
    pub next_seq: u64,
    pub delivered: u64,
    /// Whether appends are sealed now.
    pub encrypted: bool,
    /// Segments on disk that are sealed (the rest are plaintext).
    pub encrypted_segments: usize,
}

/// A segment's size in bytes and whether it is sealed.
#[derive(Debug, Clone, Copy, Default)]
struct SegmentInfo {
    bytes: u64,
    sealed: bool,
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
    /// Segment first sequence number → size and format.
    segments: Mutex<BTreeMap<u64, SegmentInfo>>,
    /// Every key segments may be sealed with, and the one appends are sealed with now.
    keyring: Arc<Keyring>,
    current: CurrentKey,
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
        let id = recover::log_id(&dir)?;
        let (keyring, current) = keyring(&config)?;
        let firsts = recover::drop_delivered_segments(&dir, delivered)?;
        let mut segments = recover::finished_segments(&dir, &firsts, &keyring)?;
        let active = recover::recover_active(
            &dir,
            firsts.last().copied(),
            delivered,
            &keyring,
            &mut segments,
        )?;
        let next_seq = active.next_seq;
        // A checkpoint can never be ahead of what exists.
        let delivered = delivered.min(next_seq);
        let disk_bytes = segments.values().map(|s| s.bytes).sum();
        let segment_count = segments.len();
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            max_bytes: config.max_bytes,
            disk_bytes: AtomicU64::new(disk_bytes),
            beside_bytes: Arc::new(AtomicU64::new(0)),
            delivered: AtomicU64::new(delivered),
            segments: Mutex::new(segments),
            keyring,
            current,
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
            format: writer::Format::recovered(active.format),
            out: Vec::new(),
            state: watermark,
            // Space is freed a whole segment at a time, so segments must be small next to the bound
            // or a full log could never free any.
            segment_bytes: config.segment_bytes.min(config.max_bytes / 8).max(1),
            durability: config.durability,
            out_of_space: false,
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
                encrypted: self.is_encrypted(),
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
            self.shared.keyring.clone(),
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
                .map(|w| (w[0], segments[&w[0]].bytes))
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
        let (segments, encrypted_segments) = self
            .shared
            .segments
            .lock()
            .map(|s| (s.len(), s.values().filter(|i| i.sealed).count()))
            .unwrap_or((0, 0));
        WalStats {
            disk_bytes: self.shared.disk_bytes.load(Ordering::Acquire),
            segments,
            next_seq: self.watermark.borrow().next_seq,
            delivered: self.shared.delivered.load(Ordering::Acquire),
            encrypted: self.is_encrypted(),
            encrypted_segments,
        }
    }

    /// Seals appends with `key` from the next append on (`None`: plaintext again). The
    /// segment being written keeps its format: the next append starts a new segment. The key
    /// joins the keyring, so segments sealed with it stay readable after a later switch.
    /// Callable from any task, on any handle of the log.
    pub fn set_encryption(&self, key: Option<SegmentKey>) -> Result<(), WalError> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(WalError::Failed);
        }
        if self.tx.is_closed() {
            return Err(WalError::Closed);
        }
        let key = key.map(|k| self.shared.keyring.insert(k)).transpose()?;
        let id = key.as_ref().map(|k| k.id().to_owned());
        self.shared.current.set(key);
        tracing::info!(key = ?id, "write-ahead log encryption switched");
        Ok(())
    }

    /// Whether appends are sealed now (the `Encrypted` of the put answers).
    pub fn is_encrypted(&self) -> bool {
        self.shared.current.is_on()
    }

    /// The id of the key appends are sealed with now.
    pub fn encryption_key_id(&self) -> Option<String> {
        self.shared.current.get().map(|k| k.id().to_owned())
    }

    /// The key the files kept beside the log (partition spools) seal with: it follows
    /// [`Wal::set_encryption`].
    pub fn current_key(&self) -> CurrentKey {
        self.shared.current.clone()
    }

    #[cfg(test)]
    fn checkpoint_without_deleting(&self, delivered: u64) -> Result<(), WalError> {
        self.checkpoint_inner(delivered, false)
    }
}

/// The keyring of a log being opened, and the key appends start with.
fn keyring(config: &WalConfig) -> Result<(Arc<Keyring>, CurrentKey), WalError> {
    let keyring = Keyring::default();
    for key in &config.keyring {
        keyring.insert(key.clone())?;
    }
    let current = config
        .encryption
        .clone()
        .map(|k| keyring.insert(k))
        .transpose()?;
    Ok((Arc::new(keyring), CurrentKey::new(current)))
}

#[cfg(test)]
mod model_test;
#[cfg(test)]
mod seal_test;
