//! Deflate on every core: an object's bytes are cut into chunks compressed at once and joined
//! into one deflate stream, as pigz does. Every chunk but the last ends with a sync flush (an
//! empty stored block: byte-aligned, not final), so the chunks concatenate into a single stream
//! that any inflater reads; each chunk is primed with the 32 KiB of input before it, so the
//! ratio stays close to one serial stream's.

use std::sync::mpsc;

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};

use super::EncodeError;
use super::workers;

/// Input bytes per chunk: small enough that a 5 MiB object keeps several cores busy, large
/// enough that what each chunk costs (a compressor, its dictionary, the flush marker) is noise.
const CHUNK_BYTES: usize = 256 << 10;
/// Deflate's window: the most of the preceding input a chunk's dictionary can use.
const WINDOW_BYTES: usize = 32 << 10;

type ChunkResult = Result<(Vec<u8>, crc32fast::Hasher), EncodeError>;

/// Appends `data` as one raw deflate stream to `out` and returns the CRC-32 of `data`. The
/// chunks are compressed by the shared [`workers`]; this thread waits for them.
pub(super) fn deflate_into(
    out: &mut Vec<u8>,
    data: &Bytes,
    level: Compression,
) -> Result<u32, EncodeError> {
    // An empty input is still one (final, empty) chunk.
    let count = data.len().div_ceil(CHUNK_BYTES).max(1);
    let (results, received) = mpsc::channel::<(usize, ChunkResult)>();
    for i in 0..count {
        let data = data.clone();
        let results = results.clone();
        workers::run(Box::new(move || {
            let start = i * CHUNK_BYTES;
            let chunk = &data[start..(start + CHUNK_BYTES).min(data.len())];
            let dictionary = &data[start.saturating_sub(WINDOW_BYTES)..start];
            let result = compress_chunk(chunk, dictionary, i + 1 == count, level).map(|bytes| {
                let mut crc = crc32fast::Hasher::new();
                crc.update(chunk);
                (bytes, crc)
            });
            // A caller that is gone has nothing left to tell.
            let _ = results.send((i, result));
        }));
    }
    // The loop below ends once every job has answered or been dropped unanswered.
    drop(results);
    let mut slots: Vec<Option<ChunkResult>> = (0..count).map(|_| None).collect();
    for (i, result) in received {
        slots[i] = Some(result);
    }

    let mut crc = crc32fast::Hasher::new();
    for slot in slots {
        let (bytes, chunk_crc) = slot.ok_or(EncodeError::ChunkLost)??;
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
    let mut out = Vec::with_capacity(chunk.len() / 4 + 1024);
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
            let data = Bytes::from(lines(len));
            let mut out = vec![0xAA];
            let crc = deflate_into(&mut out, &data, Compression::new(6)).unwrap();
            assert_eq!(out[0], 0xAA, "appends after what is there");
            assert_eq!(inflate(&out[1..]), data, "{len} bytes");
            assert_eq!(crc, crc32fast::hash(&data), "{len} bytes");
        }
    }

    #[test]
    fn the_ratio_stays_within_one_percent_of_a_serial_stream() {
        let data = Bytes::from(lines(4 << 20));
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
        let data = Bytes::from(lines(1 << 20));
        let size = |level| {
            let mut out = Vec::new();
            deflate_into(&mut out, &data, Compression::new(level)).unwrap();
            assert_eq!(inflate(&out), data, "level {level}");
            out.len()
        };
        assert!(size(9) <= size(1), "{} > {}", size(9), size(1));
    }
}
