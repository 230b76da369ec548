//! `POST /records`: one record per line, for curl and log shippers. The line break is not part of
//! the record (`AppendDelimiterToRecord` adds one back on delivery).

use super::Ingest;
use super::error::ApiError;
use super::limits::{MAX_RECORD_BYTES, record_too_large};
use crate::support::clock::now_ms;
use crate::wal::FrameBatch;

/// A body's lines as the log would get them, stamped `arrival_ms`, or the error a put answers.
pub fn frames(body: &[u8], arrival_ms: u64) -> Result<FrameBatch, ApiError> {
    // The final line break ends the last line: it does not start an empty one.
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    // Nothing but a line break, LF or CRLF.
    if body.is_empty() || body == b"\r" {
        return Err(ApiError::invalid_argument(
            "The body holds no records: send one record per line",
        ));
    }
    let mut errors = Vec::new();
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_RECORD_BYTES {
            errors.push(record_too_large(&format!("line {}", i + 1), line.len()));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    let mut frames = FrameBatch::with_capacity(body.len() + 4096);
    for line in body.split(|&b| b == b'\n') {
        frames.push(arrival_ms, line.strip_suffix(b"\r").unwrap_or(line));
    }
    Ok(frames)
}

pub async fn put(ingest: &Ingest, body: &[u8]) -> Result<String, ApiError> {
    ingest.check_puts()?;
    let frames = frames(body, now_ms())?;
    let count = frames.records();
    let payload = frames.payload_bytes();
    ingest.append(frames).await?;
    ingest.metrics.incoming_put_requests.inc();
    ingest.metrics.incoming_records.inc_by(count);
    ingest.metrics.incoming_bytes.inc_by(payload);
    Ok(serde_json::json!({"recordsAccepted": count}).to_string())
}
