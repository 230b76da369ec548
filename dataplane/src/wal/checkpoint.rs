//! The delivered-checkpoint: every record with a smaller sequence number is delivered (or written
//! to the error output). Replaced atomically (write, fsync, rename, fsync directory) so a crash
//! leaves either the old or the new value, never a torn one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use super::segment;

const FILE: &str = "checkpoint";
const TMP: &str = "checkpoint.tmp";

/// Reads the checkpoint; 0 when none was written yet.
pub fn read(dir: &Path) -> io::Result<u64> {
    let bytes = match fs::read(dir.join(FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if bytes.len() != 12 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "checkpoint file has the wrong length",
        ));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[..8]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[8..]);
    if crc32c::crc32c(&seq) != u32::from_le_bytes(crc) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "checkpoint file fails its checksum",
        ));
    }
    Ok(u64::from_le_bytes(seq))
}

/// Durably replaces the checkpoint.
pub fn write(dir: &Path, delivered: u64) -> io::Result<()> {
    let seq = delivered.to_le_bytes();
    let mut bytes = Vec::with_capacity(12);
    bytes.extend_from_slice(&seq);
    bytes.extend_from_slice(&crc32c::crc32c(&seq).to_le_bytes());
    let tmp = dir.join(TMP);
    let mut file = File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(FILE))?;
    segment::sync_dir(dir)
}
