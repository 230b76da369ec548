//! The stream's own fields: `metadata.name`, `spec.ingest`, `spec.replicas`, `spec.buffer`.

use super::{MIN_BUFFER_BYTES, check_range};
use crate::{DeliveryStream, parse_quantity};

pub(super) fn validate_stream_fields(stream: &DeliveryStream, fail: &mut impl FnMut(&str, String)) {
    match stream.metadata.name.as_deref() {
        None | Some("") => fail("metadata.name", "the stream needs a name".into()),
        Some(name) => {
            if name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                fail(
                    "metadata.name",
                    format!(
                        "`{name}` is not a valid DeliveryStreamName: 1-64 characters of [a-zA-Z0-9_.-]"
                    ),
                );
            }
        }
    }
    let spec = &stream.spec;
    if !(1..=65535).contains(&spec.ingest.port) {
        fail(
            "spec.ingest.port",
            format!("{} is not a port (1-65535)", spec.ingest.port),
        );
    }
    if let Some(replicas) = spec.replicas {
        check_range("spec.replicas", replicas, 0, 1000, fail);
    }
    match parse_quantity(&spec.buffer.max_bytes.0) {
        Ok(bytes) if bytes < MIN_BUFFER_BYTES => fail(
            "spec.buffer.maxBytes",
            format!("{bytes} bytes is below the minimum of 16Mi"),
        ),
        Ok(_) => {}
        Err(e) => fail("spec.buffer.maxBytes", e.to_string()),
    }
    if spec.buffer.directory.is_empty() {
        fail("spec.buffer.directory", "must not be empty".into());
    }
}
