//! What opening a log does before the writer starts: the log's identity, deleting segments the
//! checkpoint passed, checking every segment's format and key, and cutting a torn tail off the
//! last segment.
//!
//! A torn tail is what a crash leaves of writes that were never acknowledged: in a plaintext
//! segment the first frame that is incomplete or fails its CRC and everything after it; in a
//! sealed one the first chunk that is incomplete, or fails authentication with nothing
//! authentic after it. A sealed chunk that fails authentication while the next chunk is
//! authentic is damage to acknowledged records, and opening fails naming the segment.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::frame::{self, Decoded};
use super::keys::{Keyring, SegmentKey};
use super::seal::{self, HeaderRead, Opener};
use super::{SegmentInfo, WalError, segment};

/// Reads the log's identity, creating it (durably) on first open.
pub fn log_id(dir: &Path) -> Result<uuid::Uuid, WalError> {
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

/// Deletes segments wholly below the checkpoint (a crash may have come between the checkpoint
/// and their deletion); returns the first sequence numbers of those that remain.
pub fn drop_delivered_segments(dir: &Path, delivered: u64) -> Result<Vec<u64>, WalError> {
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

/// How the segment being appended to is laid out, as recovery left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveFormat {
    /// No bytes: the first write decides.
    Empty,
    Plain,
    Sealed,
}

/// The segment being appended to, as recovery left it.
pub struct ActiveSegment {
    pub first: u64,
    pub valid_len: u64,
    pub next_seq: u64,
    /// Bytes of torn tail cut off.
    pub truncated: u64,
    pub format: ActiveFormat,
}

/// Sizes and formats of the finished segments (all but the last). A sealed one must name a
/// key of the keyring: otherwise its records could never be delivered.
pub fn finished_segments(
    dir: &Path,
    firsts: &[u64],
    keyring: &Keyring,
) -> Result<BTreeMap<u64, SegmentInfo>, WalError> {
    let mut segments = BTreeMap::new();
    for &first in firsts.iter().take(firsts.len().saturating_sub(1)) {
        let path = segment::path(dir, first);
        let file = File::open(&path)?;
        let bytes = file.metadata()?.len();
        let sealed = match read_header(&file, bytes)? {
            HeaderRead::NotSealed => false,
            HeaderRead::Header(h) if h.kind == seal::Kind::Segment => {
                known_key(keyring, &h.key_id, &path)?;
                true
            }
            _ => return Err(WalError::BadHeader { segment: path }),
        };
        segments.insert(first, SegmentInfo { bytes, sealed });
    }
    Ok(segments)
}

fn read_header(file: &File, file_len: u64) -> std::io::Result<HeaderRead> {
    let mut prefix = vec![0u8; (file_len as usize).min(seal::MAX_HEADER_LEN)];
    file.read_exact_at(&mut prefix, 0)?;
    Ok(seal::read_header(&prefix))
}

fn known_key(
    keyring: &Keyring,
    id: &str,
    path: &Path,
) -> Result<std::sync::Arc<SegmentKey>, WalError> {
    keyring.get(id).ok_or_else(|| WalError::UnknownKey {
        segment: path.to_owned(),
        key_id: id.to_owned(),
    })
}

/// Scans the last segment and truncates a torn tail, or creates the first segment of a fresh
/// log where the checkpoint says (0, or later if segments were lost).
pub fn recover_active(
    dir: &Path,
    last: Option<u64>,
    delivered: u64,
    keyring: &Keyring,
    segments: &mut BTreeMap<u64, SegmentInfo>,
) -> Result<ActiveSegment, WalError> {
    let Some(first) = last else {
        segment::open_append(&segment::path(dir, delivered))?.sync_all()?;
        segment::sync_dir(dir)?;
        segments.insert(delivered, SegmentInfo::default());
        return Ok(ActiveSegment {
            first: delivered,
            valid_len: 0,
            next_seq: delivered,
            truncated: 0,
            format: ActiveFormat::Empty,
        });
    };
    let path = segment::path(dir, first);
    let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
    let file_len = file.metadata()?.len();
    let (records, valid_len, format) = match read_header(&file, file_len)? {
        HeaderRead::NotSealed => {
            let scan = segment::scan(&mut file)?;
            (scan.records, scan.valid_len, ActiveFormat::Plain)
        }
        // The header is written with the first chunk: torn, it covers no acknowledged record.
        HeaderRead::Incomplete => (0, 0, ActiveFormat::Sealed),
        HeaderRead::Corrupt if file_len < (seal::MAX_HEADER_LEN + seal::CHUNK_OVERHEAD) as u64 => {
            (0, 0, ActiveFormat::Sealed)
        }
        HeaderRead::Header(h) if h.kind == seal::Kind::Segment => {
            let key = known_key(keyring, &h.key_id, &path)?;
            let opener = Opener::new(&key, &h, first)?;
            let (records, valid_len) = scan_sealed(&file, &opener, h.len as u64, file_len, &path)?;
            (records, valid_len, ActiveFormat::Sealed)
        }
        HeaderRead::Corrupt | HeaderRead::Header(_) => {
            return Err(WalError::BadHeader { segment: path });
        }
    };
    // A sealed segment without a whole chunk holds no record: drop its header too, so the
    // segment starts afresh (in whatever format is current).
    let valid_len = if records == 0 { 0 } else { valid_len };
    let truncated = file_len - valid_len;
    if truncated > 0 {
        tracing::warn!(
            segment = %path.display(),
            bytes = truncated,
            "truncating a torn tail of the write-ahead log"
        );
        file.set_len(valid_len)?;
        file.sync_all()?;
    }
    let sealed = format == ActiveFormat::Sealed && valid_len > 0;
    segments.insert(
        first,
        SegmentInfo {
            bytes: valid_len,
            sealed,
        },
    );
    Ok(ActiveSegment {
        first,
        valid_len,
        next_seq: first + records,
        truncated,
        format: if valid_len == 0 {
            ActiveFormat::Empty
        } else {
            format
        },
    })
}

/// Authenticates a sealed segment's chunks from the start: the records they hold and where
/// the authentic chunks end.
fn scan_sealed(
    file: &File,
    opener: &Opener,
    header_len: u64,
    file_len: u64,
    path: &Path,
) -> Result<(u64, u64), WalError> {
    let mut offset = header_len;
    let mut index = 0u64;
    let mut records = 0u64;
    let mut buf = Vec::new();
    while let Some(len) = chunk_at(file, offset, file_len, &mut buf)? {
        match opener.open(index, &mut buf) {
            Some(plain) => {
                records += count_frames(&buf[plain]).ok_or_else(|| WalError::Unauthentic {
                    segment: path.to_owned(),
                    offset,
                })?;
                offset += len;
                index += 1;
            }
            None => {
                // Damage with an authentic chunk after it is not a torn write.
                if chunk_at(file, offset + len, file_len, &mut buf)?.is_some()
                    && opener.open(index + 1, &mut buf).is_some()
                {
                    return Err(WalError::Unauthentic {
                        segment: path.to_owned(),
                        offset,
                    });
                }
                break;
            }
        }
    }
    Ok((records, offset))
}

/// Loads the whole chunk at `offset` into `buf` and returns its length, or `None` if the file
/// ends before it does.
fn chunk_at(
    file: &File,
    offset: u64,
    file_len: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<u64>> {
    if file_len.saturating_sub(offset) < seal::LEN_FIELD as u64 {
        return Ok(None);
    }
    let mut field = [0u8; seal::LEN_FIELD];
    file.read_exact_at(&mut field, offset)?;
    let len = Opener::chunk_len(field);
    if offset + len > file_len {
        return Ok(None);
    }
    buf.resize(len as usize, 0);
    file.read_exact_at(buf, offset)?;
    Ok(Some(len))
}

/// The frames in an authentic chunk's plaintext (which holds whole frames only).
pub fn count_frames(mut plain: &[u8]) -> Option<u64> {
    let mut n = 0;
    while !plain.is_empty() {
        match frame::decode(plain) {
            Decoded::Frame(_, used) => {
                plain = &plain[used..];
                n += 1;
            }
            Decoded::Incomplete(_) | Decoded::Corrupt => return None,
        }
    }
    Some(n)
}
