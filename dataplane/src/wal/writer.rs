//! The single writer thread: group commit.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use super::{Appended, FrameBatch, Shared, WalError, Watermark, segment};
use crds::Durability;

/// One append waiting for the writer.
pub struct Request {
    pub frames: FrameBatch,
    pub reply: oneshot::Sender<Result<Appended, WalError>>,
}

/// A group is cut at this many bytes so one fsync never covers an unbounded amount.
const MAX_GROUP_BYTES: usize = 32 << 20;

pub struct Writer {
    pub shared: Arc<Shared>,
    pub rx: mpsc::UnboundedReceiver<Request>,
    pub watermark: watch::Sender<Watermark>,
    pub file: File,
    pub state: Watermark,
    pub segment_bytes: u64,
    pub durability: Durability,
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
        if self.state.segment_len >= self.segment_bytes
            && let Err(e) = self.roll()
        {
            self.fail(group, e);
            return;
        }
        let mut accepted = Vec::with_capacity(group.len());
        let mut written = 0u64;
        let mut disk = self.shared.disk_bytes.load(Ordering::Acquire)
            + self.shared.beside_bytes.load(Ordering::Acquire);
        for req in group.drain(..) {
            let len = req.frames.len() as u64;
            if disk + len > self.shared.max_bytes {
                self.shared.throttling.store(true, Ordering::Release);
                let _ = req.reply.send(Err(WalError::Full));
                continue;
            }
            if let Err(e) = self.file.write_all(req.frames.as_bytes()) {
                // Some bytes may have reached the file: the log cannot be trusted until reopened
                // (which truncates the torn tail).
                let mut rest = vec![req];
                rest.extend(accepted.drain(..).map(|(r, _)| r));
                self.fail(&mut rest, e);
                return;
            }
            disk += len;
            written += len;
            let appended = Appended {
                first: self.state.next_seq,
                count: req.frames.records(),
            };
            self.state.next_seq += appended.count;
            accepted.push((req, appended));
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
            segments.insert(self.state.segment_first, self.state.segment_len);
        }
        self.watermark.send_replace(self.state);
        for (req, appended) in accepted {
            let _ = req.reply.send(Ok(appended));
        }
    }

    fn roll(&mut self) -> std::io::Result<()> {
        let first = self.state.next_seq;
        let path = segment::path(&self.shared.dir, first);
        let file = segment::open_append(&path)?;
        file.sync_all()?;
        segment::sync_dir(&self.shared.dir)?;
        self.file = file;
        if let Ok(mut segments) = self.shared.segments.lock() {
            segments.insert(first, 0);
        }
        self.state.segment_first = first;
        self.state.segment_len = 0;
        self.watermark.send_replace(self.state);
        Ok(())
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
