//! `ZIP`: an archive holding exactly one deflated entry (what Firehose delivers, per floci).

use std::io::{Cursor, Write};

use ::zip::write::SimpleFileOptions;
use ::zip::{CompressionMethod, ZipWriter};

use super::EncodeError;

pub(super) fn encode(data: &[u8], entry_name: &str) -> Result<Vec<u8>, EncodeError> {
    let buffer = Vec::with_capacity(data.len() / 4 + 256);
    let mut writer = ZipWriter::new(Cursor::new(buffer));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // ZIP64 extra fields only when an entry needs them (objects are at most 128 MiB today).
        .large_file(data.len() as u64 >= u64::from(u32::MAX));
    writer.start_file(entry_name, options)?;
    writer
        .write_all(data)
        .map_err(|e| EncodeError::Zip(e.into()))?;
    Ok(writer.finish()?.into_inner())
}
