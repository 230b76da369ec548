//! Deflate on every core: an object's bytes are cut into chunks compressed at once and joined
//! into one deflate stream, as pigz does. Every chunk but the last ends with a sync flush (an
//! empty stored block: byte-aligned, not final), so the chunks concatenate into a single stream
//! that any inflater reads; each chunk is primed with the 32 KiB of input before it, so the
//! ratio stays close to one serial stream's.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::{Compress, Compression, FlushCompress, Status};

use super::EncodeError;

/// Input bytes per chunk: small enough that a 5 MiB object keeps several cores busy, large
/// enough that what each chunk costs (a compressor, its dictionary, the flush marker) is noise.
const CHUNK_BYTES: usize = 256 << 10;
/// Deflate's window: the most of the preceding input a chunk's dictionary can use.
const WINDOW_BYTES: usize = 32 << 10;

type ChunkResult = Result<(Vec<u8>, crc32fast::Hasher), EncodeError>;

/// Appends `data` as one raw deflate stream to `out` and returns the CRC-32 of `data`.
pub(super) fn deflate_into(
    out: &mut Vec<u8>,
    data: &[u8],
    level: Compression,
) -> Result<u32, EncodeError> {
    // An empty input is still one (final, empty) chunk.
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![data]
    } else {
        data.chunks(CHUNK_BYTES).collect()
    };
    let results: Vec<OnceLock<ChunkResult>> = chunks.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = chunks.get(i) else {
                break;
            };
            let start = i * CHUNK_BYTES;
            let dictionary = &data[start.saturating_sub(WINDOW_BYTES)..start];
            let last = i + 1 == chunks.len();
            let result = compress_chunk(chunk, dictionary, last, level).map(|bytes| {
                let mut crc = crc32fast::Hasher::new();
                crc.update(chunk);
                (bytes, crc)
            });
            // Each index is taken once, so the slot is always empty here.
            let _ = results[i].set(result);
        }
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    std::thread::scope(|scope| {
        let work = &work;
        for _ in 1..workers {
            // A thread that cannot be started leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("hydrant-deflate".into())
                .spawn_scoped(scope, work);
        }
        work();
    });

    let mut crc = crc32fast::Hasher::new();
    for slot in results {
        let (bytes, chunk_crc) = slot.into_inner().ok_or(EncodeError::ChunkLost)??;
        out.extend_from_slice(&bytes);
        crc.combine(&chunk_crc);
    }
    Ok(crc.finalize())
}

/// One chunk as raw deflate: ended by a sync flush, or, for the last, by the final block.
fn compress_chunk(
    chunk: &[u8],
    dictionary: &[u8],
    last: bool,
    level: Compression,
) -> Result<Vec<u8>, EncodeError> {
    let mut compressor = Compress::new(level, false);
    if !dictionary.is_empty() {
        compressor
            .set_dictionary(dictionary)
            .map_err(EncodeError::Deflate)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(chunk.len() / 2 + 1024);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = usize::try_from(compressor.total_in())
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        let status = compressor
            .compress_vec(&chunk[consumed..], &mut out, flush)
            .map_err(EncodeError::Deflate)?;
        let all_read = compressor.total_in() >= chunk.len() as u64;
        match status {
            Status::StreamEnd => return Ok(out),
            // A flush is complete once a call leaves output space unused.
            _ if !last && all_read && out.len() < out.capacity() => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Lines of JSON with a varying counter: compressible, not trivially so.
    fn lines(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 100);
        let mut i = 0u64;
        while out.len() < len {
            out.extend_from_slice(
                format!(
                    "{{\"id\":{i},\"ticker\":\"T{}\",\"price\":{}}}\n",
                    i % 97,
                    i * 7 % 1000
                )
                .as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn chunks_join_into_one_stream_that_inflates_to_the_input() {
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            5 * CHUNK_BYTES + 12_345,
        ] {
            let data = lines(len);
            let mut out = vec![0xAA];
            let crc = deflate_into(&mut out, &data, Compression::new(6)).unwrap();
            assert_eq!(out[0], 0xAA, "appends after what is there");
            assert_eq!(inflate(&out[1..]), data, "{len} bytes");
            assert_eq!(crc, crc32fast::hash(&data), "{len} bytes");
        }
    }

    #[test]
    fn the_ratio_stays_within_one_percent_of_a_serial_stream() {
        let data = lines(4 << 20);
        let mut parallel = Vec::new();
        deflate_into(&mut parallel, &data, Compression::new(6)).unwrap();
        let mut serial = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(6));
        std::io::Write::write_all(&mut serial, &data).unwrap();
        let serial = serial.finish().unwrap();
        assert!(
            (parallel.len() as f64) < serial.len() as f64 * 1.01,
            "parallel {} against serial {}",
            parallel.len(),
            serial.len()
        );
    }

    #[test]
    fn higher_levels_are_not_larger() {
        let data = lines(1 << 20);
        let size = |level| {
            let mut out = Vec::new();
            deflate_into(&mut out, &data, Compression::new(level)).unwrap();
            assert_eq!(inflate(&out), data, "level {level}");
            out.len()
        };
        assert!(size(9) <= size(1), "{} > {}", size(9), size(1));
    }
}
