//! Segment files: `<first sequence number, 20 digits>.seg`, holding consecutive frames.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::frame::{self, Decoded};

const SUFFIX: &str = ".seg";

/// Path of the segment whose first record has sequence number `first`.
pub fn path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}{SUFFIX}"))
}

/// First sequence numbers of the segments in `dir`, ascending.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut firsts = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(SUFFIX)
            && let Ok(first) = stem.parse::<u64>()
        {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

/// What a scan of a segment found: how many valid frames, and where they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    pub records: u64,
    pub valid_len: u64,
    pub file_len: u64,
}

/// Scans a segment from the start, stopping at the first incomplete or corrupt frame.
pub fn scan(file: &mut File) -> io::Result<Scan> {
    let file_len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut buf: Vec<u8> = Vec::with_capacity(2 << 20);
    let mut records = 0u64;
    let mut offset = 0u64;
    loop {
        let n = file.read(&mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0usize;
        loop {
            match frame::decode(&buf[used..]) {
                Decoded::Frame(_, k) => {
                    used += k;
                    records += 1;
                }
                Decoded::Incomplete(_) => break,
                Decoded::Corrupt => {
                    return Ok(Scan {
                        records,
                        valid_len: offset + used as u64,
                        file_len,
                    });
                }
            }
        }
        offset += used as u64;
        buf.drain(..used);
        if n == 0 {
            return Ok(Scan {
                records,
                valid_len: offset,
                file_len,
            });
        }
    }
}

/// Opens a segment for appending.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Makes a directory entry change (create, rename, delete) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
