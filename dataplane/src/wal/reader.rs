//! Tailing the log from the delivery side, up to the durable watermark, in bounded chunks, so a
//! backlog of any size is streamed rather than loaded.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::frame::{self, Decoded};
use super::keys::Keyring;
use super::seal::{self, HeaderRead, Opener};
use super::{WalError, Watermark, segment};

/// Finds the first segment after the given one.
pub type NextSegment = Arc<dyn Fn(u64) -> Option<u64> + Send + Sync>;

/// A record read back from the log.
#[derive(Debug, Clone, Copy)]
pub struct ReadRecord<'a> {
    pub seq: u64,
    pub arrival_ms: u64,
    pub data: &'a [u8],
}

/// Reads records in sequence order, starting at the first undelivered one.
pub struct WalReader {
    dir: PathBuf,
    watermark: watch::Receiver<Watermark>,
    next_segment: NextSegment,
    /// Segment being read, its file and the offset of the next frame.
    segment_first: u64,
    file: Option<File>,
    offset: u64,
    /// Sequence number of the next frame at `offset`.
    next_seq: u64,
    /// Records below this are skipped (already delivered before a restart).
    start: u64,
    buf: Vec<u8>,
    keyring: Arc<Keyring>,
    /// The current segment's format, known once its first bytes are read.
    format: Format,
    /// Sealed segments: the next chunk's index, and the part of `buf` holding the decrypted
    /// frames of the last chunk not yet passed on.
    chunk: u64,
    pending: std::ops::Range<usize>,
}

/// How the segment being read is laid out.
enum Format {
    Unknown,
    Plain,
    Sealed(Box<Opener>),
}

/// One call of [`WalReader::read`] so far.
struct Progress {
    start: u64,
    /// Records from this one on are left for the next call.
    end: u64,
    max_bytes: usize,
    /// What each record counts beyond its data: the memory the caller keeps per record.
    per_record: usize,
    bytes: usize,
    delivered: usize,
}

/// Why [`emit`] stopped.
enum Stop {
    /// Every byte was a whole frame.
    Drained,
    /// `max_bytes` reached.
    Full,
    /// The bytes end inside a frame.
    Incomplete,
    Corrupt,
}

/// Passes the frames at the start of `buf` to `each` (those below `start` are skipped), until
/// `max_bytes` of record data; returns the bytes used and why it stopped.
fn emit(
    buf: &[u8],
    next_seq: &mut u64,
    p: &mut Progress,
    each: &mut impl FnMut(ReadRecord<'_>),
) -> (usize, Stop) {
    let mut used = 0usize;
    loop {
        if p.bytes >= p.max_bytes || *next_seq >= p.end {
            return (used, Stop::Full);
        }
        if used == buf.len() {
            return (used, Stop::Drained);
        }
        match frame::decode(&buf[used..]) {
            Decoded::Frame(f, n) => {
                let seq = *next_seq;
                *next_seq += 1;
                used += n;
                if seq >= p.start {
                    p.bytes += f.data.len() + p.per_record;
                    p.delivered += 1;
                    each(ReadRecord {
                        seq,
                        arrival_ms: f.arrival_ms,
                        data: f.data,
                    });
                }
            }
            Decoded::Incomplete(_) => return (used, Stop::Incomplete),
            Decoded::Corrupt => return (used, Stop::Corrupt),
        }
    }
}

impl WalReader {
    pub(super) fn new(
        dir: PathBuf,
        start: u64,
        watermark: watch::Receiver<Watermark>,
        next_segment: NextSegment,
        keyring: Arc<Keyring>,
    ) -> Self {
        // Begin in the segment holding `start`: the last one whose first <= start.
        let mut first = watermark.borrow().segment_first;
        if let Ok(list) = segment::list(&dir) {
            first = list
                .iter()
                .copied()
                .filter(|&f| f <= start)
                .max()
                .or_else(|| list.first().copied())
                .unwrap_or(first);
        }
        Self {
            dir,
            watermark,
            next_segment,
            segment_first: first,
            file: None,
            offset: 0,
            next_seq: first,
            start,
            buf: Vec::new(),
            keyring,
            format: Format::Unknown,
            chunk: 0,
            pending: 0..0,
        }
    }

    /// Sequence number of the next record this reader returns.
    pub fn position(&self) -> u64 {
        self.next_seq.max(self.start)
    }

    /// Whether durable records are waiting to be read.
    pub fn has_data(&self) -> bool {
        self.watermark.borrow().next_seq > self.position()
    }

    /// Waits until durable records are waiting. Returns false once the log is closed.
    pub async fn wait_for_data(&mut self) -> bool {
        loop {
            if self.has_data() {
                return true;
            }
            if self.watermark.changed().await.is_err() {
                return self.has_data();
            }
        }
    }

    /// Reads up to about `max_bytes` of record data, calling `each` per record. Returns the number
    /// of records passed to `each` (0 when nothing durable is waiting). An error (a sealed chunk
    /// that fails authentication, a key the log does not have) leaves the reader where it was,
    /// after the records already passed to `each`.
    pub fn read(
        &mut self,
        max_bytes: usize,
        each: impl FnMut(ReadRecord<'_>),
    ) -> io::Result<usize> {
        self.read_until(max_bytes, 0, u64::MAX, each)
    }

    /// [`Self::read`], stopping before the record numbered `end`, with each record counting
    /// `per_record` bytes beyond its data against `max_bytes` (so that many small records
    /// cannot make the caller's bookkeeping outgrow the bound).
    pub fn read_until(
        &mut self,
        max_bytes: usize,
        per_record: usize,
        end: u64,
        mut each: impl FnMut(ReadRecord<'_>),
    ) -> io::Result<usize> {
        let mut p = Progress {
            start: self.start,
            end,
            max_bytes,
            per_record,
            bytes: 0,
            delivered: 0,
        };
        while p.bytes < max_bytes {
            // What is left of a decrypted chunk comes first.
            if !self.pending.is_empty() {
                let pending = self.pending.clone();
                let (used, stop) = emit(&self.buf[pending], &mut self.next_seq, &mut p, &mut each);
                self.pending.start += used;
                if matches!(stop, Stop::Incomplete | Stop::Corrupt) {
                    self.pending = 0..0;
                    return Err(self.damaged(self.offset));
                }
                if matches!(stop, Stop::Full) {
                    break;
                }
                continue;
            }
            let wm = *self.watermark.borrow();
            if self.next_seq >= wm.next_seq.min(end) {
                break;
            }
            let limit = if self.segment_first == wm.segment_first {
                wm.segment_len
            } else {
                // A finished segment: its whole (durable) length is readable.
                self.open()?.metadata()?.len()
            };
            if self.offset >= limit {
                if self.segment_first == wm.segment_first || !self.next_segment_file() {
                    break;
                }
                continue;
            }
            match self.format {
                Format::Unknown => self.detect(limit)?,
                Format::Sealed(_) => self.load_chunk(limit)?,
                Format::Plain => {
                    if !self.read_plain(limit, &mut p, &mut each)? {
                        break;
                    }
                }
            }
        }
        Ok(p.delivered)
    }

    /// Moves to the segment after this one; false if there is none yet.
    fn next_segment_file(&mut self) -> bool {
        let Some(next) = (self.next_segment)(self.segment_first) else {
            return false;
        };
        if next != self.next_seq {
            tracing::error!(
                expected = self.next_seq,
                found = next,
                "write-ahead log segment does not continue where the last ended"
            );
        }
        self.segment_first = next;
        self.next_seq = next;
        self.offset = 0;
        self.file = None;
        self.format = Format::Unknown;
        self.chunk = 0;
        true
    }

    /// Reads frames of a plaintext segment; false when no whole frame could be read.
    fn read_plain(
        &mut self,
        limit: u64,
        p: &mut Progress,
        each: &mut impl FnMut(ReadRecord<'_>),
    ) -> io::Result<bool> {
        let avail = (limit - self.offset) as usize;
        self.fill(avail.min((p.max_bytes - p.bytes).max(1 << 16)))?;
        if let Decoded::Incomplete(need) = frame::decode(&self.buf)
            && need > self.buf.len()
            && need <= avail
        {
            // One frame larger than the chunk: read exactly it.
            self.fill(need)?;
        }
        let (used, stop) = emit(&self.buf, &mut self.next_seq, p, each);
        self.offset += used as u64;
        if matches!(stop, Stop::Corrupt) {
            tracing::error!(
                segment = self.segment_first,
                offset = self.offset,
                "corrupt frame in the durable write-ahead log; skipping the rest of the segment"
            );
            self.offset = limit;
            return Ok(true);
        }
        Ok(used > 0)
    }

    /// Reads the segment's first bytes: a sealed segment's header, or a plaintext frame.
    fn detect(&mut self, limit: u64) -> io::Result<()> {
        self.fill((limit as usize).min(seal::MAX_HEADER_LEN))?;
        let path = segment::path(&self.dir, self.segment_first);
        self.format = match seal::read_header(&self.buf) {
            HeaderRead::NotSealed => Format::Plain,
            HeaderRead::Header(h) if h.kind == seal::Kind::Segment => {
                let key = self.keyring.get(&h.key_id).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        WalError::UnknownKey {
                            segment: path.clone(),
                            key_id: h.key_id.clone(),
                        },
                    )
                })?;
                self.offset = h.len as u64;
                Format::Sealed(Box::new(Opener::new(&key, &h, self.segment_first)?))
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    WalError::BadHeader { segment: path },
                ));
            }
        };
        Ok(())
    }

    /// Reads and decrypts the next chunk of a sealed segment into `pending`.
    fn load_chunk(&mut self, limit: u64) -> io::Result<()> {
        let offset = self.offset;
        let avail = limit - offset;
        if avail < seal::LEN_FIELD as u64 {
            return Err(self.damaged(offset));
        }
        self.fill(seal::LEN_FIELD)?;
        let len = Opener::chunk_len([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if len > avail {
            return Err(self.damaged(offset));
        }
        self.fill(len as usize)?;
        let Format::Sealed(opener) = &self.format else {
            return Err(self.damaged(offset));
        };
        match opener.open(self.chunk, &mut self.buf) {
            Some(plain) => {
                self.pending = plain;
                self.chunk += 1;
                self.offset += len;
                Ok(())
            }
            None => Err(self.damaged(offset)),
        }
    }

    /// The error for a sealed chunk at `offset` that is not authentic.
    fn damaged(&self, offset: u64) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            WalError::Unauthentic {
                segment: segment::path(&self.dir, self.segment_first),
                offset,
            },
        )
    }

    fn open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            self.file = Some(File::open(segment::path(&self.dir, self.segment_first))?);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("segment file not open"))
    }

    /// Loads `len` bytes at the current offset into `buf`.
    fn fill(&mut self, len: usize) -> io::Result<()> {
        let offset = self.offset;
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(len, 0);
        let file = self.open()?;
        file.seek(SeekFrom::Start(offset))?;
        let result = file.read_exact(&mut buf);
        self.buf = buf;
        result
    }
}
