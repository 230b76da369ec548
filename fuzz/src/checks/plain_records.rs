//! The plain newline endpoint (`POST /records`).
//!
//! Asserts: an accepted body's records are its lines (one final `\n` ignored, then one `\r`
//! ending each line dropped), framed validly; the records joined again with CRLF parse to the
//! same frames; a refused body is only a line break (or nothing) or has a line over the
//! record limit.

use dataplane::fuzzing::plain_frames;
use dataplane::ingest::limits::MAX_RECORD_BYTES;

use super::{ARRIVAL_MS, batch_records};

pub fn check(body: &[u8]) {
    let trimmed = body.strip_suffix(b"\n").unwrap_or(body);
    let empty = trimmed.is_empty() || trimmed == b"\r";
    let lines: Vec<&[u8]> = trimmed
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    match plain_frames(body, ARRIVAL_MS) {
        Ok(batch) => {
            let records = batch_records(&batch);
            assert!(!empty);
            let data: Vec<&[u8]> = records.iter().map(|r| r.data.as_slice()).collect();
            assert_eq!(data, lines);
            // CRLF after each record: a record's own final `\r` survives the one dropped.
            let mut joined = data.join(&b"\r\n"[..]);
            joined.extend_from_slice(b"\r\n");
            let again = plain_frames(&joined, ARRIVAL_MS).expect("joined lines are accepted");
            assert_eq!(again.as_bytes(), batch.as_bytes());
        }
        Err(e) if empty => assert_eq!(e.kind, "InvalidArgumentException"),
        Err(e) => {
            assert_eq!(e.kind, "ValidationException", "{}", e.message);
            assert!(lines.iter().any(|l| l.len() > MAX_RECORD_BYTES));
        }
    }
}
