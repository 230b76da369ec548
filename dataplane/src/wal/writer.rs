//! The single writer thread: group commit.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use super::keys::SegmentKey;
use super::recover::ActiveFormat;
use super::seal::{CHUNK_OVERHEAD, Kind, Sealer};
use super::{Appended, FrameBatch, SegmentInfo, Shared, WalError, Watermark, segment};
use crds::Durability;

/// One append waiting for the writer.
pub struct Request {
    pub frames: FrameBatch,
    pub reply: oneshot::Sender<Result<Appended, WalError>>,
}

/// A group is cut at this many bytes so one fsync never covers an unbounded amount.
const MAX_GROUP_BYTES: usize = 32 << 20;

/// A sealed chunk is closed after the request that takes it past this size, so a reader
/// decrypts (and holds) about this much at a time.
const CHUNK_TARGET: usize = 1 << 20;

/// The requests written with their sequence numbers, and the bytes written.
type Written = (Vec<(Request, Appended)>, u64);
/// A write that failed: the requests to fail, and why.
type Torn = (Vec<Request>, io::Error);

/// How the segment being written is laid out.
#[derive(Debug)]
pub enum Format {
    /// Nothing written yet: the next write decides.
    Empty,
    Plain,
    /// Sealed; `started` once the header is in the file.
    Sealed {
        sealer: Box<Sealer>,
        started: bool,
    },
    /// A sealed segment found at open: never appended to, because its torn tail (cut off)
    /// may have used the next chunk's nonce. The next write rolls.
    Recovered,
}

impl Format {
    pub fn recovered(format: ActiveFormat) -> Self {
        match format {
            ActiveFormat::Empty => Format::Empty,
            ActiveFormat::Plain => Format::Plain,
            ActiveFormat::Sealed => Format::Recovered,
        }
    }

    /// Whether appends under `key` (plaintext if none) may go to this segment.
    fn fits(&self, key: Option<&SegmentKey>) -> bool {
        match (self, key) {
            (Format::Plain, None) => true,
            (Format::Sealed { sealer, .. }, Some(k)) => sealer.key_id() == k.id(),
            _ => false,
        }
    }
}

pub struct Writer {
    pub shared: Arc<Shared>,
    pub rx: mpsc::UnboundedReceiver<Request>,
    pub watermark: watch::Sender<Watermark>,
    pub file: File,
    pub format: Format,
    /// The sealed bytes of a group, reused.
    pub out: Vec<u8>,
    pub state: Watermark,
    pub segment_bytes: u64,
    pub durability: Durability,
    /// Whether the last write ran out of space (to log the episode's start and end once).
    pub out_of_space: bool,
}

/// ENOSPC, or EDQUOT (a quota: the same for the log).
fn is_no_space(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

pub fn spawn(writer: Writer) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("wal-writer".into())
        .spawn(move || writer.run())
        .map(|_| ())
}

impl Writer {
    fn run(mut self) {
        let mut group: Vec<Request> = Vec::new();
        while let Some(first) = self.rx.blocking_recv() {
            let mut bytes = first.frames.len();
            group.push(first);
            while bytes < MAX_GROUP_BYTES {
                match self.rx.try_recv() {
                    Ok(req) => {
                        bytes += req.frames.len();
                        group.push(req);
                    }
                    Err(_) => break,
                }
            }
            self.commit(&mut group);
        }
        tracing::debug!("write-ahead log writer stopped");
    }

    fn commit(&mut self, group: &mut Vec<Request>) {
        if self.shared.failed.load(Ordering::Acquire) {
            for req in group.drain(..) {
                let _ = req.reply.send(Err(WalError::Failed));
            }
            return;
        }
        if let Err(e) = self.prepare_segment() {
            // Nothing reached the segment: a volume out of space only refuses this group.
            if is_no_space(&e) {
                self.refuse_no_space(group, &e);
            } else {
                self.fail(group, e);
            }
            return;
        }
        let before = self.state;
        let result = if matches!(self.format, Format::Sealed { .. }) {
            self.write_sealed(group)
        } else {
            self.write_plain(group)
        };
        let (accepted, written) = match result {
            Ok(done) => done,
            Err((mut rest, e)) if is_no_space(&e) => match self.cut_back(before) {
                Ok(()) => {
                    self.refuse_no_space(&mut rest, &e);
                    return;
                }
                Err(cut) => {
                    tracing::error!(error = %cut, "cutting a failed write off the segment failed");
                    self.fail(&mut rest, e);
                    return;
                }
            },
            Err((mut rest, e)) => {
                // Some bytes may have reached the file: the log cannot be trusted until
                // reopened (which truncates the torn tail).
                self.fail(&mut rest, e);
                return;
            }
        };
        if self.out_of_space {
            self.out_of_space = false;
            tracing::info!("write-ahead log volume has space again; appends resume");
        }
        if accepted.is_empty() {
            return;
        }
        if self.durability == Durability::Fsync {
            let started = Instant::now();
            if let Err(e) = self.file.sync_data() {
                let mut rest: Vec<Request> = accepted.into_iter().map(|(r, _)| r).collect();
                self.fail(&mut rest, e);
                return;
            }
            if let Some(observe) = &self.shared.fsync_observer {
                (observe.0)(started.elapsed().as_secs_f64());
            }
        }
        self.state.segment_len += written;
        self.shared.disk_bytes.fetch_add(written, Ordering::AcqRel);
        if let Ok(mut segments) = self.shared.segments.lock() {
            segments.insert(
                self.state.segment_first,
                SegmentInfo {
                    bytes: self.state.segment_len,
                    sealed: matches!(self.format, Format::Sealed { .. }),
                },
            );
        }
        self.watermark.send_replace(self.state);
        for (req, appended) in accepted {
            let _ = req.reply.send(Ok(appended));
        }
    }

    /// Rolls to a new segment when the current one is full or of another format than the
    /// current key asks for, and decides an empty segment's format.
    fn prepare_segment(&mut self) -> io::Result<()> {
        let want = self.shared.current.get();
        let fits = self.format.fits(want.as_deref());
        if self.state.segment_len > 0 && (self.state.segment_len >= self.segment_bytes || !fits) {
            self.roll()?;
        }
        if self.state.segment_len == 0 && !self.format.fits(want.as_deref()) {
            self.format = match want {
                None => Format::Plain,
                Some(key) => Format::Sealed {
                    sealer: Box::new(Sealer::new(&key, Kind::Segment, self.state.segment_first)?),
                    started: false,
                },
            };
        }
        Ok(())
    }

    /// Writes each request's frames as they are.
    fn write_plain(&mut self, group: &mut Vec<Request>) -> Result<Written, Torn> {
        let mut accepted = Vec::with_capacity(group.len());
        let mut written = 0u64;
        let mut disk = self.used_bytes();
        for req in group.drain(..) {
            let len = req.frames.len() as u64;
            if disk + len > self.shared.max_bytes {
                self.shared.throttling.store(true, Ordering::Release);
                let _ = req.reply.send(Err(WalError::Full));
                continue;
            }
            if let Err(e) = self.file.write_all(req.frames.as_bytes()) {
                let mut rest = vec![req];
                rest.extend(accepted.drain(..).map(|(r, _)| r));
                return Err((rest, e));
            }
            disk += len;
            written += len;
            let appended = self.assign(&req, false);
            accepted.push((req, appended));
        }
        Ok((accepted, written))
    }

    /// Seals the group's frames into chunks of about [`CHUNK_TARGET`] bytes (whole requests
    /// each) and writes them, after the header if the segment is new, in one write.
    fn write_sealed(&mut self, group: &mut Vec<Request>) -> Result<Written, Torn> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let mut disk = self.used_bytes();
        let mut accepted = Vec::with_capacity(group.len());
        let mut chunk: Option<usize> = None;
        let mut sealed = self.seal_group(group, &mut out, &mut disk, &mut accepted, &mut chunk);
        if sealed.is_ok()
            && let Some(start) = chunk
            && let Format::Sealed { sealer, .. } = &mut self.format
        {
            sealed = sealer.finish(&mut out, start);
        }
        let result = match sealed {
            Err(e) => Err(e),
            Ok(()) if accepted.is_empty() => Ok(0),
            Ok(()) => self.file.write_all(&out).map(|()| out.len() as u64),
        };
        // A large group leaves a large buffer: keep a modest one for the next.
        out.truncate(0);
        out.shrink_to(CHUNK_TARGET * 2);
        self.out = out;
        match result {
            Ok(written) => {
                if written > 0
                    && let Format::Sealed { started, .. } = &mut self.format
                {
                    *started = true;
                }
                Ok((accepted, written))
            }
            Err(e) => Err((accepted.into_iter().map(|(r, _)| r).collect(), e)),
        }
    }

    /// Appends the accepted requests' frames to `out`, sealing a chunk whenever one reaches
    /// [`CHUNK_TARGET`]; `chunk` is left at the start of the chunk still open.
    fn seal_group(
        &mut self,
        group: &mut Vec<Request>,
        out: &mut Vec<u8>,
        disk: &mut u64,
        accepted: &mut Vec<(Request, Appended)>,
        chunk: &mut Option<usize>,
    ) -> io::Result<()> {
        let Format::Sealed { sealer, started } = &mut self.format else {
            return Err(io::Error::other("sealing a plaintext segment"));
        };
        if !*started {
            *disk += sealer.header().len() as u64;
            out.extend_from_slice(sealer.header());
        }
        for req in group.drain(..) {
            let overhead = if chunk.is_none() { CHUNK_OVERHEAD } else { 0 };
            let len = req.frames.len() as u64 + overhead as u64;
            if *disk + len > self.shared.max_bytes {
                self.shared.throttling.store(true, Ordering::Release);
                let _ = req.reply.send(Err(WalError::Full));
                continue;
            }
            let start = *chunk.get_or_insert_with(|| Sealer::begin(out));
            out.extend_from_slice(req.frames.as_bytes());
            *disk += len;
            let appended = Appended {
                first: self.state.next_seq,
                count: req.frames.records(),
                encrypted: true,
            };
            self.state.next_seq += appended.count;
            accepted.push((req, appended));
            if out.len() - start >= CHUNK_TARGET {
                sealer.finish(out, start)?;
                *chunk = None;
            }
        }
        Ok(())
    }

    /// Sequence numbers for the request's records.
    fn assign(&mut self, req: &Request, encrypted: bool) -> Appended {
        let appended = Appended {
            first: self.state.next_seq,
            count: req.frames.records(),
            encrypted,
        };
        self.state.next_seq += appended.count;
        appended
    }

    /// The log's bytes and the copies kept beside it.
    fn used_bytes(&self) -> u64 {
        self.shared.disk_bytes.load(Ordering::Acquire)
            + self.shared.beside_bytes.load(Ordering::Acquire)
    }

    fn roll(&mut self) -> std::io::Result<()> {
        let first = self.state.next_seq;
        let path = segment::path(&self.shared.dir, first);
        let file = segment::open_append(&path)?;
        file.sync_all()?;
        segment::sync_dir(&self.shared.dir)?;
        self.file = file;
        self.format = Format::Empty;
        if let Ok(mut segments) = self.shared.segments.lock() {
            segments.insert(first, SegmentInfo::default());
        }
        self.state.segment_first = first;
        self.state.segment_len = 0;
        self.watermark.send_replace(self.state);
        Ok(())
    }

    /// Undoes a write that ran out of space: the segment is cut back to its durable length
    /// (a partial frame or chunk must never sit before the next append, where recovery would
    /// stop), and the group's sequence numbers are handed out again. A sealed segment is not
    /// appended to again (its sealer may have used the next chunk's nonce); the next write
    /// rolls, or starts the empty segment over with a fresh sealer.
    fn cut_back(&mut self, before: Watermark) -> io::Result<()> {
        self.file.set_len(before.segment_len)?;
        self.state = before;
        if matches!(self.format, Format::Sealed { .. }) {
            self.format = if before.segment_len == 0 {
                Format::Empty
            } else {
                Format::Recovered
            };
        }
        Ok(())
    }

    /// Refuses a group for lack of space; the log stays usable, so the next append that fits
    /// succeeds. Logged once per episode, not per request.
    fn refuse_no_space(&mut self, group: &mut Vec<Request>, error: &io::Error) {
        if !self.out_of_space {
            self.out_of_space = true;
            tracing::error!(%error, dir = %self.shared.dir.display(), "write-ahead log volume is out of space; refusing appends until space is freed");
        }
        for req in group.drain(..) {
            let _ = req.reply.send(Err(WalError::NoSpace));
        }
    }

    fn fail(&mut self, group: &mut Vec<Request>, error: std::io::Error) {
        tracing::error!(%error, "write-ahead log write failed; refusing writes until restart");
        self.shared.failed.store(true, Ordering::Release);
        for req in group.drain(..) {
            let _ = req.reply.send(Err(WalError::Io(std::io::Error::new(
                error.kind(),
                error.to_string(),
            ))));
        }
    }
}
