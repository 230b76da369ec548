//! `ZIP`: an archive holding exactly one deflated entry (what Firehose delivers), around a
//! deflate stream compressed on every core. The zip crate compresses an entry itself, on one
//! core, and has no safe way to take one already deflated, so the three records of a one-entry
//! archive (APPNOTE 6.3: local header, central directory header, end of central directory) are
//! written here.

use bytes::Bytes;
use flate2::Compression;

use super::EncodeError;
use super::deflate::deflate_into;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// 2.0: deflate.
const VERSION_NEEDED: u16 = 20;
/// Made by Unix (3), spec 2.0: readers take the external attributes as a Unix mode.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
const DEFLATED: u16 = 8;
/// General purpose bit 11: the name is UTF-8.
const UTF8_NAME: u16 = 1 << 11;
/// MS-DOS time and date of 1980-01-01 00:00, the earliest they hold (objects carry their time
/// in their name and the store's metadata).
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// A regular file, rw-r--r--.
const UNIX_MODE: u32 = 0o100_644 << 16;

pub(super) fn encode(
    data: &Bytes,
    entry_name: &str,
    level: Compression,
) -> Result<Vec<u8>, EncodeError> {
    let name = entry_name.as_bytes();
    let name_len = u16::try_from(name.len()).map_err(|_| EncodeError::ZipName(name.len()))?;
    let fits = |n: usize| u32::try_from(n).map_err(|_| EncodeError::ZipTooLarge(n));
    let size = fits(data.len())?;

    let mut out = Vec::with_capacity(data.len() / 4 + 2 * name.len() + 128);
    put32(&mut out, LOCAL_HEADER);
    // CRC-32 and compressed size are known only after compressing: placeholders, filled below.
    let sizes_at = out.len() + ENTRY_SIZES_AT;
    put_entry_fields(&mut out, 0, 0, size, name_len);
    out.extend_from_slice(name);
    let data_at = out.len();
    let crc = deflate_into(&mut out, data, level)?;
    let compressed = fits(out.len() - data_at)?;
    out[sizes_at..sizes_at + 4].copy_from_slice(&crc.to_le_bytes());
    out[sizes_at + 4..sizes_at + 8].copy_from_slice(&compressed.to_le_bytes());

    let central_at = fits(out.len())?;
    put32(&mut out, CENTRAL_HEADER);
    put16(&mut out, VERSION_MADE_BY);
    put_entry_fields(&mut out, crc, compressed, size, name_len);
    put16(&mut out, 0); // comment length
    put16(&mut out, 0); // disk number start
    put16(&mut out, 0); // internal attributes
    put32(&mut out, UNIX_MODE);
    put32(&mut out, 0); // offset of the local header
    out.extend_from_slice(name);
    let central_len = fits(out.len())? - central_at;

    put32(&mut out, END_OF_CENTRAL_DIRECTORY);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // the disk the central directory starts on
    put16(&mut out, 1); // entries on this disk
    put16(&mut out, 1); // entries
    put32(&mut out, central_len);
    put32(&mut out, central_at);
    put16(&mut out, 0); // comment length
    Ok(out)
}

/// Where the CRC-32 sits in the fields [`put_entry_fields`] writes.
const ENTRY_SIZES_AT: usize = 10;

/// The fields the local header and the central directory header share, in the order both hold
/// them: version needed, flags, method, time, date, CRC-32, sizes, name and extra lengths.
fn put_entry_fields(out: &mut Vec<u8>, crc: u32, compressed: u32, size: u32, name_len: u16) {
    put16(out, VERSION_NEEDED);
    put16(out, UTF8_NAME);
    put16(out, DEFLATED);
    put16(out, DOS_TIME);
    put16(out, DOS_DATE);
    put32(out, crc);
    put32(out, compressed);
    put32(out, size);
    put16(out, name_len);
    put16(out, 0); // extra field length
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
