//! `POST /records`: one record per line, for curl and log shippers. The line break is not part of
//! the record (`AppendDelimiterToRecord` adds one back on delivery).

use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::limits::{MAX_PLAIN_RECORDS, MAX_RECORD_BYTES, record_too_large};
use super::{FREE_BODY_BYTES, Ingest};
use crate::support::clock::now_ms;
use crate::wal::FrameBatch;
use crate::wal::frame::HEADER_LEN;

/// A body's lines, checked: within the limits, and what their frames will take.
struct Lines<'a> {
    /// The body without its final line break.
    body: &'a [u8],
    /// Bytes of the frames: every line's data and a header for each.
    frame_bytes: usize,
}

/// The lines of a body without its final line break, LF or CRLF ended.
fn split_lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

impl Lines<'_> {
    fn frames(&self, arrival_ms: u64) -> FrameBatch {
        let mut frames = FrameBatch::with_capacity(self.frame_bytes);
        for line in split_lines(self.body) {
            frames.push(arrival_ms, line);
        }
        frames
    }
}

fn check(body: &[u8]) -> Result<Lines<'_>, ApiError> {
    // The final line break ends the last line: it does not start an empty one.
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    // Nothing but a line break, LF or CRLF.
    if body.is_empty() || body == b"\r" {
        return Err(ApiError::invalid_argument(
            "The body holds no records: send one record per line",
        ));
    }
    let mut errors = Vec::new();
    let (records, frame_bytes) =
        split_lines(body)
            .enumerate()
            .fold((0usize, 0usize), |(_, bytes), (i, line)| {
                if line.len() > MAX_RECORD_BYTES {
                    errors.push(record_too_large(&format!("line {}", i + 1), line.len()));
                }
                (i + 1, bytes + HEADER_LEN + line.len())
            });
    if records > MAX_PLAIN_RECORDS {
        return Err(ApiError::invalid_argument(format!(
            "The body holds {records} records; at most {MAX_PLAIN_RECORDS} are taken in one request"
        )));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    Ok(Lines { body, frame_bytes })
}

/// A body's lines as the log would get them, stamped `arrival_ms`, or the error a put answers.
pub fn frames(body: &[u8], arrival_ms: u64) -> Result<FrameBatch, ApiError> {
    Ok(check(body)?.frames(arrival_ms))
}

/// Stores a body's lines. `held` is the body's share of the request memory budget; the frames,
/// a second copy of the body and 16 bytes a line larger, take theirs before they are built.
pub async fn put(
    ingest: &Ingest,
    body: &[u8],
    held: &mut Option<OwnedSemaphorePermit>,
) -> Result<String, ApiError> {
    ingest.check_puts()?;
    let lines = check(body)?;
    ingest
        .body_memory
        .grow(held, lines.frame_bytes.saturating_sub(FREE_BODY_BYTES))
        .await?;
    let frames = lines.frames(now_ms());
    let count = frames.records();
    let payload = frames.payload_bytes();
    ingest.append(frames).await?;
    ingest.metrics.incoming_put_requests.inc();
    ingest.metrics.incoming_records.inc_by(count);
    ingest.metrics.incoming_bytes.inc_by(payload);
    Ok(serde_json::json!({"recordsAccepted": count}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_bytes_are_what_the_frames_take() {
        for body in [
            &b"a\nbb\r\nccc\n"[..],
            b"\n\n\n",
            b"no final break",
            b"x\n\ny\n",
        ] {
            let lines = check(body).unwrap();
            assert_eq!(lines.frames(1).len(), lines.frame_bytes, "{body:?}");
        }
    }

    #[test]
    fn lines_are_taken_up_to_the_limit_and_not_one_more() {
        let at_limit = b"\n".repeat(MAX_PLAIN_RECORDS);
        let frames = frames(&at_limit, 1).unwrap();
        // The final break ends the last line: MAX_PLAIN_RECORDS breaks are as many records.
        assert_eq!(frames.records(), MAX_PLAIN_RECORDS as u64);

        let over = b"\n".repeat(MAX_PLAIN_RECORDS + 1);
        let e = check(&over).err().unwrap();
        assert_eq!(e.kind, "InvalidArgumentException");
        assert!(
            e.message
                .contains(&format!("holds {} records", MAX_PLAIN_RECORDS + 1)),
            "{}",
            e.message
        );
    }
}
