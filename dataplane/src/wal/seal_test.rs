//! Encryption at rest, on real files: sealed appends read back, formats and keys switching in
//! one log, torn sealed tails, damage before the tail and missing keys.

use std::io::Write;
use std::path::Path;

use super::model_test::{config, read_all};
use super::*;

const MARKER: &[u8] = b"PLAINTEXT-MARKER";

fn key(id: &str, byte: u8) -> SegmentKey {
    SegmentKey::new(id, [byte; 32]).expect("key")
}

fn open_with(dir: &Path, current: Option<SegmentKey>, ring: Vec<SegmentKey>) -> (Wal, Recovery) {
    try_open(dir, current, ring).expect("open")
}

fn try_open(
    dir: &Path,
    current: Option<SegmentKey>,
    ring: Vec<SegmentKey>,
) -> Result<(Wal, Recovery), WalError> {
    let mut c = config(dir, 4096, 1 << 20);
    c.encryption = current;
    c.keyring = ring;
    Wal::open(c)
}

fn record(i: usize) -> Vec<u8> {
    let mut r = MARKER.to_vec();
    r.extend_from_slice(format!("-{i:05}-").as_bytes());
    r.extend_from_slice(&[b'x'; 300]);
    r
}

/// Appends records `range`, one append each; returns whether each was sealed.
async fn append(wal: &Wal, range: std::ops::Range<usize>) -> Vec<bool> {
    let mut sealed = Vec::new();
    for i in range {
        let mut frames = FrameBatch::default();
        frames.push(1, &record(i));
        let a = wal.append(frames).await.expect("append");
        assert_eq!(a.first, i as u64);
        sealed.push(a.encrypted);
    }
    sealed
}

fn expected(range: std::ops::Range<usize>) -> Vec<(u64, Vec<u8>)> {
    range.map(|i| (i as u64, record(i))).collect()
}

fn segment_bytes(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    segment::list(dir)
        .expect("list")
        .into_iter()
        .map(|f| (f, std::fs::read(segment::path(dir, f)).expect("read")))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn sealed_appends_read_back_and_no_plaintext_reaches_the_disk() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (wal, _) = open_with(tmp.path(), Some(key("k1", 1)), vec![]);
    assert!(wal.is_encrypted());
    assert!(append(&wal, 0..40).await.iter().all(|&s| s));
    assert_eq!(read_all(&wal), expected(0..40));
    let segments = segment_bytes(tmp.path());
    assert!(segments.len() >= 3, "several segments: {}", segments.len());
    for (first, bytes) in &segments {
        assert!(!contains(bytes, MARKER), "segment {first} holds plaintext");
        assert!(bytes.is_empty() || bytes.starts_with(&seal::MAGIC));
    }
    let stats = wal.stats();
    assert!(stats.encrypted);
    assert_eq!(stats.encrypted_segments, stats.segments);
    drop(wal);
    let (wal, recovery) = open_with(tmp.path(), Some(key("k1", 1)), vec![]);
    assert_eq!((recovery.next_seq, recovery.truncated_bytes), (40, 0));
    assert_eq!(read_all(&wal), expected(0..40));
}

#[tokio::test]
async fn plaintext_then_keys_then_plaintext_replay_in_order_after_reopen() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    // A log written before encryption existed (the plaintext format, unchanged).
    let (wal, _) = open_with(dir, None, vec![]);
    assert!(append(&wal, 0..5).await.iter().all(|&s| !s));
    let other = wal.clone();
    let switch = tokio::spawn(async move { other.set_encryption(Some(key("k1", 1))) });
    switch
        .await
        .expect("task")
        .expect("switch on a cloned handle");
    assert!(append(&wal, 5..10).await.iter().all(|&s| s));
    wal.set_encryption(None).expect("off");
    assert!(!wal.is_encrypted());
    assert!(append(&wal, 10..15).await.iter().all(|&s| !s));
    wal.set_encryption(Some(key("k2", 2))).expect("other key");
    assert!(append(&wal, 15..20).await.iter().all(|&s| s));
    assert_eq!(read_all(&wal), expected(0..20));
    assert!(matches!(
        wal.set_encryption(Some(key("k2", 3))),
        Err(WalError::KeyConflict(_))
    ));
    drop(wal);
    // One segment per switch at least: none mixes formats or keys.
    let ids: Vec<Option<String>> = segment_bytes(dir)
        .iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(_, b)| match seal::read_header(b) {
            seal::HeaderRead::Header(h) => Some(h.key_id),
            _ => None,
        })
        .collect();
    let mut switches = ids.clone();
    switches.dedup();
    assert_eq!(
        switches,
        vec![None, Some("k1".into()), None, Some("k2".into())]
    );
    // Reopened under either key, or in plaintext, with the others in the keyring.
    let (wal, recovery) = open_with(dir, Some(key("k2", 2)), vec![key("k1", 1)]);
    assert_eq!(recovery.next_seq, 20);
    assert_eq!(read_all(&wal), expected(0..20));
    drop(wal);
    let (wal, _) = open_with(dir, None, vec![key("k1", 1), key("k2", 2)]);
    assert_eq!(read_all(&wal), expected(0..20));
    append(&wal, 20..22).await;
    assert_eq!(read_all(&wal), expected(0..22));
}

#[tokio::test]
async fn a_torn_sealed_tail_is_cut_and_the_log_goes_on() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (wal, _) = open_with(dir, Some(key("k1", 1)), vec![]);
    append(&wal, 0..3).await;
    let active = wal.watermark.borrow().segment_first;
    drop(wal);
    let path = segment::path(dir, active);
    let intact = std::fs::metadata(&path).expect("meta").len();
    // An unacknowledged chunk cut short, then one whole but damaged at the very end.
    for tail in [
        &b"\x40\x00\x00\x00partial"[..],
        &[
            0x08, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    ] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(tail).expect("torn write");
        drop(f);
        let (wal, recovery) = open_with(dir, Some(key("k1", 1)), vec![]);
        assert_eq!(recovery.truncated_bytes, tail.len() as u64);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), intact);
        assert_eq!(read_all(&wal), expected(0..3));
        drop(wal);
    }
    // After a restart the recovered sealed segment is never appended to (its nonces may have
    // been used by the torn tail): new records go to a new segment.
    let (wal, _) = open_with(dir, Some(key("k1", 1)), vec![]);
    append(&wal, 3..5).await;
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), intact);
    assert_eq!(read_all(&wal), expected(0..5));
}

/// Appends three records in three chunks to one segment and returns its path.
async fn three_chunk_segment(dir: &Path) -> std::path::PathBuf {
    let mut c = config(dir, 1 << 20, 8 << 20);
    c.encryption = Some(key("k1", 1));
    let (wal, _) = Wal::open(c).expect("open");
    append(&wal, 0..3).await;
    let path = segment::path(dir, wal.watermark.borrow().segment_first);
    drop(wal);
    path
}

#[tokio::test]
async fn damage_before_the_tail_is_an_error_naming_the_segment() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = three_chunk_segment(tmp.path()).await;
    let mut bytes = std::fs::read(&path).expect("read");
    let seal::HeaderRead::Header(h) = seal::read_header(&bytes) else {
        panic!("sealed")
    };
    bytes[h.len + seal::LEN_FIELD + 3] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let err = try_open(tmp.path(), Some(key("k1", 1)), vec![]).expect_err("damaged");
    assert!(matches!(err, WalError::Unauthentic { offset, .. } if offset == h.len as u64));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "nothing truncated"
    );
}

#[tokio::test]
async fn damage_in_a_finished_segment_stops_the_reader_with_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (wal, _) = open_with(tmp.path(), Some(key("k1", 1)), vec![]);
    append(&wal, 0..30).await;
    let firsts = segment::list(tmp.path()).expect("list");
    let path = segment::path(tmp.path(), firsts[1]);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    std::fs::write(&path, &bytes).expect("write");
    let mut reader = wal.reader();
    let mut seen = Vec::new();
    let err = loop {
        match reader.read(1 << 16, |r| seen.push(r.seq)) {
            Ok(0) => panic!("the damage was not noticed"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(seen.len() as u64 >= firsts[1], "the first segment was read");
    assert_eq!(seen, (0..seen.len() as u64).collect::<Vec<_>>());
    // The reader stays put: the same error again, no record skipped.
    assert!(
        reader
            .read(1 << 16, |_| panic!("skipped past the damage"))
            .is_err()
    );
}

#[tokio::test]
async fn an_unknown_key_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (wal, _) = open_with(tmp.path(), Some(key("gone", 1)), vec![]);
    append(&wal, 0..30).await;
    drop(wal);
    let err = try_open(tmp.path(), None, vec![key("other", 2)]).expect_err("unknown key");
    assert!(matches!(&err, WalError::UnknownKey { key_id, .. } if key_id == "gone"));
    assert!(
        err.to_string().contains("gone") && err.to_string().contains(".seg"),
        "{err}"
    );
    // Only the active segment left (the finished ones are delivered): still refused.
    let (wal, _) = open_with(tmp.path(), Some(key("gone", 1)), vec![]);
    wal.checkpoint(wal.watermark.borrow().segment_first)
        .expect("deliver");
    drop(wal);
    let err = try_open(tmp.path(), None, vec![]).expect_err("unknown key");
    assert!(matches!(&err, WalError::UnknownKey { key_id, .. } if key_id == "gone"));
}

/// Reads to the end in calls that each stop before `step` more records.
fn read_in_steps(wal: &Wal, step: u64) -> Vec<Vec<(u64, Vec<u8>)>> {
    let mut reader = wal.reader();
    let mut calls = Vec::new();
    while reader.has_data() {
        let end = reader.position() + step;
        let mut got = Vec::new();
        reader
            .read_until(usize::MAX, 0, end, |r| got.push((r.seq, r.data.to_vec())))
            .expect("read");
        assert_eq!(reader.position(), end.min(wal.stats().next_seq));
        calls.push(got);
    }
    calls
}

#[tokio::test]
async fn reads_stop_exactly_before_the_given_record_in_plain_and_sealed_segments() {
    let dir = tempfile::tempdir().expect("tmp");
    let (wal, _) = open_with(dir.path(), None, Vec::new());
    append(&wal, 0..25).await;
    wal.set_encryption(Some(key("k1", 3))).expect("seal");
    append(&wal, 25..60).await;
    let calls = read_in_steps(&wal, 7);
    assert_eq!(calls.len(), 9, "60 records in steps of 7");
    for (i, got) in calls.iter().enumerate() {
        let first = i * 7;
        assert_eq!(*got, expected(first..(first + 7).min(60)), "call {i}");
    }
}
