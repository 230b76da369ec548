//! Tailing the log from the delivery side, up to the durable watermark, in bounded chunks, so a
//! backlog of any size is streamed rather than loaded.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::Watermark;
use super::frame::{self, Decoded};
use super::segment;

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
}

impl WalReader {
    pub(super) fn new(
        dir: PathBuf,
        start: u64,
        watermark: watch::Receiver<Watermark>,
        next_segment: NextSegment,
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
    /// of records passed to `each` (0 when nothing durable is waiting).
    pub fn read(
        &mut self,
        max_bytes: usize,
        mut each: impl FnMut(ReadRecord<'_>),
    ) -> io::Result<usize> {
        let mut delivered = 0usize;
        let mut bytes = 0usize;
        while bytes < max_bytes {
            let wm = *self.watermark.borrow();
            if self.next_seq >= wm.next_seq {
                break;
            }
            let limit = if self.segment_first == wm.segment_first {
                wm.segment_len
            } else {
                // A finished segment: its whole (durable) length is readable.
                self.open()?.metadata()?.len()
            };
            if self.offset >= limit {
                if self.segment_first == wm.segment_first {
                    break;
                }
                match (self.next_segment)(self.segment_first) {
                    Some(next) => {
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
                        continue;
                    }
                    None => break,
                }
            }
            let want = ((limit - self.offset) as usize).min((max_bytes - bytes).max(1 << 16));
            self.fill(want)?;
            let mut used = 0usize;
            let mut progressed = false;
            loop {
                match frame::decode(&self.buf[used..]) {
                    Decoded::Frame(f, n) => {
                        let seq = self.next_seq;
                        self.next_seq += 1;
                        used += n;
                        progressed = true;
                        if seq >= self.start {
                            bytes += f.data.len();
                            delivered += 1;
                            each(ReadRecord {
                                seq,
                                arrival_ms: f.arrival_ms,
                                data: f.data,
                            });
                        }
                        if bytes >= max_bytes {
                            break;
                        }
                    }
                    Decoded::Incomplete(need) => {
                        if !progressed {
                            // One frame larger than the chunk: read exactly it.
                            let need = need.min((limit - self.offset) as usize);
                            if need > self.buf.len() {
                                self.fill(need)?;
                                continue;
                            }
                        }
                        break;
                    }
                    Decoded::Corrupt => {
                        tracing::error!(
                            segment = self.segment_first,
                            offset = self.offset + used as u64,
                            "corrupt frame in the durable write-ahead log; skipping the rest of the segment"
                        );
                        self.offset = limit;
                        used = 0;
                        break;
                    }
                }
            }
            self.offset += used as u64;
            if !progressed && self.offset < limit {
                break;
            }
        }
        Ok(delivered)
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
