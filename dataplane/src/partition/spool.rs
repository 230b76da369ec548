//! A partition buffer's records: in memory as they will be delivered (the bytes
//! concatenated, and where each record sits), and once spilled, on disk as frames of
//! (sequence number, arrival, sub-record, length, bytes) in a file beside the log.
//!
//! A spool is never synced: the log stays the source of truth, since its checkpoint cannot
//! pass a record until that record's partition is delivered. After a crash the spool
//! directory is emptied and the records are read again from the log.
//!
//! While the log encrypts, a spool file is sealed like a log segment (`wal::seal`: a header
//! naming the key, then one chunk per spill) with the log's current key. A file holds one
//! format: a spill after encryption was switched reads the file back and writes it anew in the
//! current one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::record::RecordMeta;
use crate::wal::CurrentKey;
use crate::wal::seal::{Kind, Sealer};

/// Frame header: sequence number, arrival (ms), sub-record index, length.
const HEADER: usize = 8 + 8 + 4 + 4;

#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    file: Option<File>,
    /// Records not spilled: their bytes, and their places in `data`.
    data: Vec<u8>,
    metas: Vec<RecordMeta>,
    /// Writing the file failed once: the rest stays in memory (the log still has it all).
    memory_only: bool,
    /// Bytes in the file, also counted in `disk` (shared by every spool beside one log).
    file_bytes: u64,
    disk: Arc<AtomicU64>,
    /// The key spills are sealed with, followed as it switches.
    key: CurrentKey,
    /// The file's sealer, when the file is sealed.
    sealer: Option<Sealer>,
}

impl Spool {
    /// A spool at `path` whose file's bytes are added to `disk` while it exists, sealed with
    /// `key` whenever it holds one.
    pub fn new(path: PathBuf, disk: Arc<AtomicU64>, key: CurrentKey) -> Self {
        Self {
            path,
            file: None,
            data: Vec::new(),
            metas: Vec::new(),
            memory_only: false,
            file_bytes: 0,
            disk,
            key,
            sealer: None,
        }
    }

    /// Appends one record, in memory until [`Spool::spill`].
    pub fn append(&mut self, meta: &RecordMeta, record: &[u8]) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(record);
        self.metas.push(RecordMeta {
            start,
            end: self.data.len() as u32,
            ..*meta
        });
    }

    /// Bytes held in memory.
    pub fn in_memory(&self) -> usize {
        self.data.len() + self.metas.len() * std::mem::size_of::<RecordMeta>()
    }

    /// Moves what is in memory to the file (created on the first spill). If the disk refuses,
    /// the records stay in memory rather than fail the batch.
    pub fn spill(&mut self) {
        if self.memory_only || self.metas.is_empty() {
            return;
        }
        if let Err(e) = self.write_out() {
            tracing::warn!(path = %self.path.display(), error = %e, "writing a partition spool failed; its records stay in memory");
            self.memory_only = true;
        }
    }

    fn write_out(&mut self) -> io::Result<()> {
        let key = self.key.get();
        let fits = match (&self.sealer, &key) {
            (None, None) => true,
            (Some(sealer), Some(key)) => sealer.key_id() == key.id(),
            _ => false,
        };
        if self.file.is_some() && !fits {
            self.start_over()?;
        }
        if self.file.is_none() {
            self.sealer = key.map(|k| Sealer::new(&k, Kind::Spool, 0)).transpose()?;
        }
        let mut frames = Vec::with_capacity(self.data.len() + self.metas.len() * HEADER + 300);
        let chunk = match &self.sealer {
            Some(sealer) if self.file.is_none() => {
                frames.extend_from_slice(sealer.header());
                Some(Sealer::begin(&mut frames))
            }
            Some(_) => Some(Sealer::begin(&mut frames)),
            None => None,
        };
        for m in &self.metas {
            frames.extend_from_slice(&m.seq.to_le_bytes());
            frames.extend_from_slice(&m.arrival_ms.to_le_bytes());
            frames.extend_from_slice(&m.sub.to_le_bytes());
            frames.extend_from_slice(&(m.end - m.start).to_le_bytes());
            frames.extend_from_slice(&self.data[m.start as usize..m.end as usize]);
        }
        if let (Some(sealer), Some(start)) = (&mut self.sealer, chunk) {
            sealer.finish(&mut frames, start)?;
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(
                OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&self.path)?,
            ),
        };
        // Counted before the write: a partial write still takes space.
        self.file_bytes += frames.len() as u64;
        self.disk.fetch_add(frames.len() as u64, Ordering::AcqRel);
        file.write_all(&frames)?;
        // Released, not cleared: a spilled partition's memory goes back to the budget.
        self.data = Vec::new();
        self.metas = Vec::new();
        Ok(())
    }

    /// Moves every record back to memory and removes the file, so the next spill writes a
    /// new one (in the current format).
    fn start_over(&mut self) -> io::Result<()> {
        let (data, metas) = self.take()?;
        self.data = data;
        self.metas = metas;
        self.file = None;
        self.sealer = None;
        self.disk.fetch_sub(self.file_bytes, Ordering::AcqRel);
        self.file_bytes = 0;
        fs::remove_file(&self.path)
    }

    /// The file's records, decrypted if it is sealed.
    fn read_file(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        if self.file.is_none() {
            return Ok(bytes);
        }
        File::open(&self.path)?.read_to_end(&mut bytes)?;
        let Some(sealer) = &self.sealer else {
            return Ok(bytes);
        };
        bytes
            .get_mut(sealer.header().len()..)
            .and_then(|sealed| sealer.opener().open_all(sealed))
            .ok_or_else(|| corrupt(&self.path))
    }

    /// Every record appended, in order: the records' bytes concatenated and where each sits.
    /// Takes the records held in memory (no copy unless some were spilled); call once.
    pub fn take(&mut self) -> io::Result<(Vec<u8>, Vec<RecordMeta>)> {
        let spilled = self.read_file()?;
        let (mut data, mut metas) = (
            std::mem::take(&mut self.data),
            std::mem::take(&mut self.metas),
        );
        if spilled.is_empty() {
            return Ok((data, metas));
        }
        let mut all = Vec::with_capacity(spilled.len() + data.len());
        let mut all_metas = Vec::new();
        let parsed = parse(&spilled, &mut all, &mut all_metas);
        if parsed.is_none() {
            // Put back what was taken: the caller may try again.
            self.data = data;
            self.metas = metas;
            return Err(corrupt(&self.path));
        }
        let offset = all.len() as u32;
        all.append(&mut data);
        for m in &mut metas {
            m.start += offset;
            m.end += offset;
        }
        all_metas.append(&mut metas);
        Ok((all, all_metas))
    }
}

/// Appends the records of `frames` to `data` and their places to `metas`; `None` if the last
/// frame is cut short.
fn parse(frames: &[u8], data: &mut Vec<u8>, metas: &mut Vec<RecordMeta>) -> Option<()> {
    let mut at = 0;
    while at < frames.len() {
        let header = frames.get(at..at + HEADER)?;
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[i..i + 4]);
            u32::from_le_bytes(b)
        };
        let (seq, arrival_ms, sub, len) = (u64_at(0), u64_at(8), u32_at(16), u32_at(20));
        at += HEADER;
        let record = frames.get(at..at + len as usize)?;
        at += len as usize;
        let start = data.len() as u32;
        data.extend_from_slice(record);
        metas.push(RecordMeta {
            seq,
            arrival_ms,
            sub,
            start,
            end: data.len() as u32,
        });
    }
    Some(())
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.disk.fetch_sub(self.file_bytes, Ordering::AcqRel);
        if self.file.take().is_some()
            && let Err(e) = fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "removing a partition spool failed");
        }
    }
}

fn corrupt(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "partition spool {} is truncated or fails authentication",
            path.display()
        ),
    )
}

/// Empties (or creates) the spool directory: what a previous run left there is still in the
/// log.
pub fn reset_dir(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_from_memory_and_disk() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("1.spool");
        let disk = Arc::new(AtomicU64::new(0));
        let mut spool = Spool::new(path.clone(), disk.clone(), CurrentKey::default());
        let records: Vec<&[u8]> = vec![b"a", b"spilled", b"", b"tail"];
        for (i, r) in records.iter().enumerate() {
            let meta = RecordMeta {
                seq: 10 + i as u64,
                arrival_ms: 100 + i as u64,
                sub: i as u32,
                start: 0,
                end: 0,
            };
            spool.append(&meta, r);
            if i == 1 {
                spool.spill();
                assert_eq!(spool.in_memory(), 0);
            }
        }
        assert!(path.exists(), "the first two records went to disk");
        assert_eq!(
            disk.load(Ordering::Acquire),
            2 * 24 + 1 + 7,
            "frames counted"
        );
        let (data, metas) = spool.take().expect("read");
        assert_eq!(metas.len(), 4);
        for (i, m) in metas.iter().enumerate() {
            assert_eq!(m.seq, 10 + i as u64);
            assert_eq!(m.arrival_ms, 100 + i as u64);
            assert_eq!(m.sub, i as u32);
            assert_eq!(&data[m.start as usize..m.end as usize], records[i]);
        }
        drop(spool);
        assert!(!path.exists(), "dropping a spool removes its file");
        assert_eq!(disk.load(Ordering::Acquire), 0);
    }

    #[test]
    fn while_the_log_encrypts_spills_are_sealed_and_follow_a_switch() {
        use crate::wal::SegmentKey;
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("1.spool");
        let disk = Arc::new(AtomicU64::new(0));
        let key = CurrentKey::new(Some(Arc::new(
            SegmentKey::new("spool-key", [3; 32]).expect("key"),
        )));
        let mut spool = Spool::new(path.clone(), disk.clone(), key.clone());
        let records: Vec<Vec<u8>> = (0..6)
            .map(|i| format!("PLAINTEXT-MARKER-{i}").into_bytes())
            .collect();
        let meta = |i: usize| RecordMeta {
            seq: i as u64,
            arrival_ms: 7,
            sub: 0,
            start: 0,
            end: 0,
        };
        let on_disk = || std::fs::read(&path).expect("spool file");
        let has_marker = |b: &[u8]| b.windows(9).any(|w| w == b"PLAINTEXT");
        for (i, r) in records.iter().enumerate().take(2) {
            spool.append(&meta(i), r);
            spool.spill();
        }
        assert!(!has_marker(&on_disk()), "sealed spills");
        assert_eq!(disk.load(Ordering::Acquire), on_disk().len() as u64);
        // Off: the sealed file is read back and written anew in plaintext, and on again.
        key.set(None);
        spool.append(&meta(2), &records[2]);
        spool.spill();
        assert!(has_marker(&on_disk()));
        key.set(Some(Arc::new(
            SegmentKey::new("other", [4; 32]).expect("key"),
        )));
        spool.append(&meta(3), &records[3]);
        spool.spill();
        spool.append(&meta(4), &records[4]);
        spool.spill();
        assert!(!has_marker(&on_disk()), "sealed again");
        assert_eq!(disk.load(Ordering::Acquire), on_disk().len() as u64);
        spool.append(&meta(5), &records[5]);
        let (data, metas) = spool.take().expect("take");
        let back: Vec<&[u8]> = metas
            .iter()
            .map(|m| &data[m.start as usize..m.end as usize])
            .collect();
        assert_eq!(back, records.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(
            metas.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (0..6).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_damaged_sealed_spool_is_an_error() {
        use crate::wal::SegmentKey;
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("1.spool");
        let key = CurrentKey::new(Some(Arc::new(SegmentKey::new("k", [3; 32]).expect("key"))));
        let mut spool = Spool::new(path.clone(), Arc::default(), key);
        let meta = RecordMeta {
            seq: 1,
            arrival_ms: 1,
            sub: 0,
            start: 0,
            end: 0,
        };
        spool.append(&meta, b"record");
        spool.spill();
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        let err = spool.take().expect_err("damaged");
        assert!(err.to_string().contains("fails authentication"), "{err}");
    }
}
