//! Compression of one delivered object's bytes, per Firehose's `CompressionFormat`
//! (docs/compatibility.md, "Objects").
//!
//! Each format's framing is what Firehose writes (per floci, probed against AWS):
//! - `GZIP`: one gzip member (`Content-Encoding: gzip`, `.gz`).
//! - `ZIP`: a zip archive holding exactly one deflated entry (`zip`, `.zip`).
//!
//! Both deflate formats compress on every core ([`deflate`]) at the spec's `compressionLevel`.
//! - `Snappy`: xerial snappy-java stream framing, *not* the official Snappy framing
//!   (`snappy-java`, `.snappy`); see [`snappy`].
//! - `HADOOP_SNAPPY`: Hadoop `BlockCompressorStream` framing (`hadoop-snappy`, `.snappy`).

use bytes::Bytes;
use crds::{CompressionFormat, ObjectDelivery};
use thiserror::Error;

mod deflate;
mod gzip;
mod snappy;
mod workers;
mod zip;

/// Why an object could not be encoded.
#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("deflate compression failed: {0}")]
    Deflate(#[source] flate2::CompressError),
    #[error("a compressed chunk went missing (its worker thread ended early)")]
    ChunkLost,
    #[error("a ZIP entry of {0} bytes needs ZIP64, which is not written")]
    ZipTooLarge(usize),
    #[error("a ZIP entry name of {0} bytes is longer than the format's 65,535")]
    ZipName(usize),
    #[error("snappy compression failed: {0}")]
    Snappy(#[from] snap::Error),
    #[error("a compressed block of {0} bytes does not fit the 32-bit length field of the framing")]
    BlockTooLarge(usize),
}

/// zlib's default level, used when a spec sets none.
pub const DEFAULT_LEVEL: u8 = 6;

/// How a writer compresses objects: the format and, for `GZIP` and `ZIP`, the deflate level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    pub format: CompressionFormat,
    level: u8,
}

impl Compression {
    /// The format at zlib's default level.
    pub fn of_format(format: CompressionFormat) -> Self {
        Self {
            format,
            level: DEFAULT_LEVEL,
        }
    }

    /// The format and level a destination's spec names (a level outside 1-9, which validation
    /// refuses, is clamped).
    pub fn of(d: &ObjectDelivery) -> Self {
        Self {
            format: d.compression_format,
            level: d
                .compression_level
                .map_or(DEFAULT_LEVEL, |l| l.clamp(1, 9) as u8),
        }
    }

    fn deflate_level(self) -> flate2::Compression {
        flate2::Compression::new(u32::from(self.level))
    }
}

/// Compresses one object's bytes. `entry_name` is the name of the single file inside a ZIP
/// archive; the other formats ignore it.
pub fn encode(
    compression: Compression,
    data: &Bytes,
    entry_name: &str,
) -> Result<Vec<u8>, EncodeError> {
    match compression.format {
        CompressionFormat::Uncompressed => Ok(data.to_vec()),
        CompressionFormat::Gzip => gzip::encode(data, compression.deflate_level()),
        CompressionFormat::Zip => zip::encode(data, entry_name, compression.deflate_level()),
        CompressionFormat::Snappy => snappy::encode_snappy_java(data),
        CompressionFormat::HadoopSnappy => snappy::encode_hadoop(data),
    }
}

/// The file extension Firehose gives an object of this format when no `fileExtension` is set.
pub fn default_extension(format: CompressionFormat) -> &'static str {
    match format {
        CompressionFormat::Uncompressed => "",
        CompressionFormat::Gzip => ".gz",
        CompressionFormat::Zip => ".zip",
        CompressionFormat::Snappy => ".snappy",
        // The AWS docs say `.hsnappy`, but floci (probing real AWS) reports that Firehose delivers
        // `.snappy` for HADOOP_SNAPPY; we match the observed behaviour.
        CompressionFormat::HadoopSnappy => ".snappy",
    }
}

/// The `Content-Encoding` object metadata Firehose sets for this format (per floci; `None` for
/// uncompressed objects).
pub fn content_encoding(format: CompressionFormat) -> Option<&'static str> {
    match format {
        CompressionFormat::Uncompressed => None,
        CompressionFormat::Gzip => Some("gzip"),
        CompressionFormat::Zip => Some("zip"),
        CompressionFormat::Snappy => Some("snappy-java"),
        CompressionFormat::HadoopSnappy => Some("hadoop-snappy"),
    }
}

/// Writes `len` as the big-endian int32 the Java framings use.
fn push_be_i32(out: &mut Vec<u8>, len: usize) -> Result<(), EncodeError> {
    let len = i32::try_from(len).map_err(|_| EncodeError::BlockTooLarge(len))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const ALL: [CompressionFormat; 5] = [
        CompressionFormat::Uncompressed,
        CompressionFormat::Gzip,
        CompressionFormat::Zip,
        CompressionFormat::Snappy,
        CompressionFormat::HadoopSnappy,
    ];

    /// Decodes `bytes` the way a reader of the delivered object would.
    fn decode(format: CompressionFormat, bytes: &[u8]) -> Vec<u8> {
        match format {
            CompressionFormat::Uncompressed => bytes.to_vec(),
            CompressionFormat::Gzip => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            CompressionFormat::Zip => {
                let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
                assert_eq!(archive.len(), 1);
                let mut entry = archive.by_index(0).unwrap();
                let mut out = Vec::new();
                entry.read_to_end(&mut out).unwrap();
                out
            }
            CompressionFormat::Snappy => snappy::decode_snappy_java(bytes),
            CompressionFormat::HadoopSnappy => snappy::decode_hadoop(bytes),
        }
    }

    /// Deterministic, partly compressible, partly noisy test data.
    fn sample(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x1234_5678;
        (0..len)
            .map(|i| {
                if (i / 1000) % 2 == 0 {
                    b"{\"ticker\":\"AMZN\",\"price\":42}\n"[i % 29]
                } else {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                }
            })
            .collect()
    }

    #[test]
    fn every_format_round_trips_small_input() {
        let data = Bytes::from_static(b"{\"a\":1}\n{\"a\":2}\n");
        for format in ALL {
            let encoded = encode(Compression::of_format(format), &data, "part").unwrap();
            assert_eq!(decode(format, &encoded), data, "{format:?}");
        }
    }

    #[test]
    fn every_format_round_trips_empty_input() {
        for format in ALL {
            let encoded = encode(Compression::of_format(format), &Bytes::new(), "part").unwrap();
            assert_eq!(decode(format, &encoded), Vec::<u8>::new(), "{format:?}");
        }
    }

    #[test]
    fn every_format_round_trips_input_spanning_many_blocks() {
        // > 4 hadoop blocks (256 KiB) and > 30 snappy-java blocks (32 KiB), not block-aligned.
        let data = Bytes::from(sample(1024 * 1024 + 12_345));
        for format in ALL {
            let encoded = encode(Compression::of_format(format), &data, "part").unwrap();
            assert_eq!(decode(format, &encoded), data, "{format:?}");
        }
    }

    #[test]
    fn compressing_formats_shrink_repetitive_input() {
        let data = Bytes::from(b"hello firehose ".repeat(10_000));
        for format in ALL.into_iter().skip(1) {
            let encoded = encode(Compression::of_format(format), &data, "part").unwrap();
            assert!(
                encoded.len() < data.len() / 10,
                "{format:?}: {}",
                encoded.len()
            );
        }
    }

    #[test]
    fn uncompressed_is_identity() {
        let data = Bytes::from(sample(5000));
        assert_eq!(
            encode(
                Compression::of_format(CompressionFormat::Uncompressed),
                &data,
                "x"
            )
            .unwrap(),
            data
        );
    }

    #[test]
    fn gzip_has_gzip_magic() {
        let encoded = encode(
            Compression::of_format(CompressionFormat::Gzip),
            &Bytes::from_static(b"abc"),
            "x",
        )
        .unwrap();
        assert_eq!(&encoded[..3], &[0x1f, 0x8b, 0x08]);
    }

    #[test]
    fn zip_holds_one_deflated_entry_with_the_given_name() {
        let data = Bytes::from(sample(70_000));
        let encoded = encode(
            Compression::of_format(CompressionFormat::Zip),
            &data,
            "stream-1-2026-07-13.json",
        )
        .unwrap();
        assert_eq!(&encoded[..4], b"PK\x03\x04");
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(encoded)).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "stream-1-2026-07-13.json");
        assert_eq!(entry.compression(), ::zip::CompressionMethod::Deflated);
        assert_eq!(entry.size(), data.len() as u64);
    }

    #[test]
    fn extensions_match_firehose() {
        let exts: Vec<_> = ALL.into_iter().map(default_extension).collect();
        assert_eq!(exts, ["", ".gz", ".zip", ".snappy", ".snappy"]);
    }

    #[test]
    fn content_encodings_match_firehose() {
        let encodings: Vec<_> = ALL.into_iter().map(content_encoding).collect();
        assert_eq!(
            encodings,
            [
                None,
                Some("gzip"),
                Some("zip"),
                Some("snappy-java"),
                Some("hadoop-snappy")
            ]
        );
    }

    #[test]
    fn be_length_overflow_is_an_error() {
        let mut out = Vec::new();
        push_be_i32(&mut out, 258).unwrap();
        assert_eq!(out, [0, 0, 1, 2]);
        assert!(matches!(
            push_be_i32(&mut out, i32::MAX as usize + 1),
            Err(EncodeError::BlockTooLarge(_))
        ));
    }
}
