//! The two Snappy framings Firehose writes. Both wrap *raw* (unframed) Snappy blocks.
//!
//! - `Snappy` = xerial snappy-java `SnappyOutputStream`: a 16-byte header (magic
//!   `0x82 "SNAPPY" 0x00`, int32 BE version 1, int32 BE compatible version 1), then blocks of
//!   `int32 BE compressed length` + raw snappy of up to 32 KiB of input.
//! - `HADOOP_SNAPPY` = Hadoop `BlockCompressorStream`: per block of up to 256 KiB of input,
//!   `int32 BE uncompressed length`, then one chunk `int32 BE compressed length` + raw snappy.

use snap::raw::{Encoder, max_compress_len};

use super::{EncodeError, push_be_i32};

/// snappy-java's stream magic (the first bytes of the header).
#[cfg(test)]
pub(super) const SNAPPY_JAVA_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// snappy-java's header: magic, version 1, minimum compatible version 1.
pub(super) const SNAPPY_JAVA_HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// Input bytes per snappy-java block (`SnappyOutputStream`'s default block size).
pub(super) const SNAPPY_JAVA_BLOCK: usize = 32 * 1024;
/// Input bytes per Hadoop block (`io.compression.codec.snappy.buffersize` default).
pub(super) const HADOOP_BLOCK: usize = 256 * 1024;

/// snappy-java stream framing. The header is always written, even for empty input: snappy-java's
/// `SnappyInputStream` reads a header with no blocks as an empty stream.
pub(super) fn encode_snappy_java(data: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(SNAPPY_JAVA_HEADER.len() + data.len() / 2 + 64);
    out.extend_from_slice(&SNAPPY_JAVA_HEADER);
    let mut encoder = Encoder::new();
    let mut scratch = vec![0; max_compress_len(SNAPPY_JAVA_BLOCK.min(data.len()))];
    for block in data.chunks(SNAPPY_JAVA_BLOCK) {
        let n = encoder.compress(block, &mut scratch)?;
        push_be_i32(&mut out, n)?;
        out.extend_from_slice(&scratch[..n]);
    }
    Ok(out)
}

/// Hadoop block framing. Empty input gives an empty object (no blocks), which Hadoop's
/// `BlockDecompressorStream` reads as end of stream.
pub(super) fn encode_hadoop(data: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut encoder = Encoder::new();
    let mut scratch = vec![0; max_compress_len(HADOOP_BLOCK.min(data.len()))];
    for block in data.chunks(HADOOP_BLOCK) {
        let n = encoder.compress(block, &mut scratch)?;
        push_be_i32(&mut out, block.len())?;
        push_be_i32(&mut out, n)?;
        out.extend_from_slice(&scratch[..n]);
    }
    Ok(out)
}

/// Reads a big-endian int32 length at `pos`.
#[cfg(test)]
fn read_len(bytes: &[u8], pos: &mut usize) -> usize {
    let raw: [u8; 4] = bytes[*pos..*pos + 4].try_into().unwrap();
    *pos += 4;
    let len = i32::from_be_bytes(raw);
    assert!(len >= 0, "negative length {len}");
    len as usize
}

/// Test decoder for the snappy-java framing (what `SnappyInputStream` does).
#[cfg(test)]
pub(super) fn decode_snappy_java(bytes: &[u8]) -> Vec<u8> {
    assert!(bytes.len() >= 16, "missing header");
    assert_eq!(&bytes[..8], &SNAPPY_JAVA_MAGIC, "magic");
    let mut pos = 8;
    assert_eq!(read_len(bytes, &mut pos), 1, "version");
    assert_eq!(read_len(bytes, &mut pos), 1, "compatible version");
    let mut decoder = snap::raw::Decoder::new();
    let mut out = Vec::new();
    while pos < bytes.len() {
        let n = read_len(bytes, &mut pos);
        let block = decoder.decompress_vec(&bytes[pos..pos + n]).unwrap();
        assert!(block.len() <= SNAPPY_JAVA_BLOCK, "block of {}", block.len());
        out.extend_from_slice(&block);
        pos += n;
    }
    out
}

/// Test decoder for the Hadoop block framing (what `BlockDecompressorStream` does, including
/// several compressed chunks per block, which a Hadoop writer may produce).
#[cfg(test)]
pub(super) fn decode_hadoop(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = snap::raw::Decoder::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let uncompressed = read_len(bytes, &mut pos);
        assert!(uncompressed <= HADOOP_BLOCK, "block of {uncompressed}");
        let mut got = 0;
        while got < uncompressed {
            let n = read_len(bytes, &mut pos);
            let chunk = decoder.decompress_vec(&bytes[pos..pos + n]).unwrap();
            got += chunk.len();
            out.extend_from_slice(&chunk);
            pos += n;
        }
        assert_eq!(got, uncompressed, "block length");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snappy_java_header_bytes() {
        let encoded = encode_snappy_java(b"x").unwrap();
        assert_eq!(
            &encoded[..16],
            &[
                0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1
            ]
        );
        assert_eq!(&encoded[..8], &SNAPPY_JAVA_MAGIC);
    }

    #[test]
    fn snappy_java_empty_is_header_only() {
        assert_eq!(encode_snappy_java(&[]).unwrap(), SNAPPY_JAVA_HEADER);
    }

    #[test]
    fn snappy_java_blocks_are_32_kib_of_raw_snappy() {
        let data: Vec<u8> = (0..(SNAPPY_JAVA_BLOCK * 2 + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        let encoded = encode_snappy_java(&data).unwrap();
        let mut pos = 16;
        let mut sizes = Vec::new();
        while pos < encoded.len() {
            let n = read_len(&encoded, &mut pos);
            let block = &encoded[pos..pos + n];
            // Raw snappy starts with the varint uncompressed length.
            sizes.push(snap::raw::decompress_len(block).unwrap());
            pos += n;
        }
        assert_eq!(sizes, [SNAPPY_JAVA_BLOCK, SNAPPY_JAVA_BLOCK, 10]);
        assert_eq!(decode_snappy_java(&encoded), data);
    }

    #[test]
    fn hadoop_empty_is_empty() {
        assert!(encode_hadoop(&[]).unwrap().is_empty());
    }

    #[test]
    fn hadoop_small_input_layout() {
        let data = b"hello hadoop";
        let encoded = encode_hadoop(data).unwrap();
        assert_eq!(&encoded[..4], &(data.len() as i32).to_be_bytes());
        let compressed_len = i32::from_be_bytes(encoded[4..8].try_into().unwrap()) as usize;
        assert_eq!(encoded.len(), 8 + compressed_len);
        assert_eq!(
            snap::raw::Decoder::new()
                .decompress_vec(&encoded[8..])
                .unwrap(),
            data
        );
    }

    #[test]
    fn hadoop_blocks_are_256_kib() {
        let data: Vec<u8> = (0..(HADOOP_BLOCK * 3 + 1)).map(|i| (i % 7) as u8).collect();
        let encoded = encode_hadoop(&data).unwrap();
        let mut pos = 0;
        let mut sizes = Vec::new();
        while pos < encoded.len() {
            sizes.push(read_len(&encoded, &mut pos));
            let n = read_len(&encoded, &mut pos);
            pos += n;
        }
        assert_eq!(sizes, [HADOOP_BLOCK, HADOOP_BLOCK, HADOOP_BLOCK, 1]);
        assert_eq!(decode_hadoop(&encoded), data);
    }

    #[test]
    fn exact_block_multiple_has_no_empty_trailing_block() {
        let data = vec![9u8; SNAPPY_JAVA_BLOCK * 2];
        let encoded = encode_snappy_java(&data).unwrap();
        let mut pos = 16;
        let mut blocks = 0;
        while pos < encoded.len() {
            let n = read_len(&encoded, &mut pos);
            pos += n;
            blocks += 1;
        }
        assert_eq!(blocks, 2);
        let data = vec![9u8; HADOOP_BLOCK];
        let encoded = encode_hadoop(&data).unwrap();
        let mut pos = 0;
        read_len(&encoded, &mut pos);
        let n = read_len(&encoded, &mut pos);
        assert_eq!(pos + n, encoded.len());
    }
}
