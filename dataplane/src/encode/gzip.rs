//! `GZIP`: one gzip member (RFC 1952) around a deflate stream compressed on every core.

use bytes::Bytes;
use flate2::Compression;

use super::EncodeError;
use super::deflate::deflate_into;

/// Magic, CM = deflate, no flags, MTIME 0 (none), XFL 0, OS 255 (unknown): what `gzip -n`
/// writes for data from a stream.
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];

pub(super) fn encode(data: &Bytes, level: Compression) -> Result<Vec<u8>, EncodeError> {
    // Compressed output is usually much smaller than the input; start with a modest buffer.
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    out.extend_from_slice(&HEADER);
    let crc = deflate_into(&mut out, data, level)?;
    out.extend_from_slice(&crc.to_le_bytes());
    // ISIZE is the input's length modulo 2^32.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}
