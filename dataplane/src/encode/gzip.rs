//! `GZIP`: a single gzip member at flate2's default level.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::EncodeError;

pub(super) fn encode(data: &[u8]) -> Result<Vec<u8>, EncodeError> {
    // Compressed output is usually much smaller than the input; start with a modest buffer.
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        Compression::default(),
    );
    encoder.write_all(data).map_err(EncodeError::Gzip)?;
    encoder.finish().map_err(EncodeError::Gzip)
}
