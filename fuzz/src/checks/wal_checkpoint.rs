//! The delivered-checkpoint file: the input is the `checkpoint` file of a log holding three
//! records.
//!
//! Asserts: the log opens exactly when the file is 12 bytes whose CRC-32C matches (the format:
//! the position, little-endian, then the CRC of those 8 bytes); it then reads from the
//! checkpoint (at most the end of the log); a checkpoint written is in that format and reads back the same.

use std::fs;

use dataplane::wal::Wal;
use dataplane::wal::frame::FrameBatch;

use super::{ARRIVAL_MS, temp_dir, wal_config};

pub fn check(input: &[u8]) {
    let dir = temp_dir();
    let log = dir.path().join("log");
    fs::create_dir(&log).expect("creating the log directory");
    let mut records = FrameBatch::default();
    for data in [&b"zero"[..], b"one", b"two"] {
        records.push(ARRIVAL_MS, data);
    }
    fs::write(log.join(format!("{:020}.seg", 0)), records.as_bytes()).expect("writing");
    fs::write(log.join("checkpoint"), input).expect("writing the checkpoint");
    let position = (input.len() == 12 && crc32c::crc32c(&input[..8]).to_le_bytes() == input[8..12])
        .then(|| u64::from_le_bytes(input[..8].try_into().expect("8 bytes")));
    let config = wal_config(&log);
    let opened = Wal::open(config.clone());
    let Some(position) = position else {
        assert!(opened.is_err(), "a damaged checkpoint was accepted");
        return;
    };
    let (wal, recovery) = opened.expect("a valid checkpoint opens");
    let delivered = position.min(3);
    assert_eq!(recovery.delivered, delivered);
    let mut reader = wal.reader();
    let mut seqs = Vec::new();
    while reader
        .read(1 << 20, |r| seqs.push(r.seq))
        .expect("reading the log")
        > 0
    {}
    assert_eq!(seqs, (delivered..3).collect::<Vec<_>>());

    let written_before = fs::read(log.join("checkpoint")).expect("reading the checkpoint");
    assert_eq!(
        written_before, input,
        "opening leaves the checkpoint as it was"
    );
    if delivered == 3 {
        return;
    }
    wal.checkpoint(3).expect("writing a checkpoint");
    let written = fs::read(log.join("checkpoint")).expect("reading the checkpoint");
    let mut expected = 3u64.to_le_bytes().to_vec();
    expected.extend_from_slice(&crc32c::crc32c(&3u64.to_le_bytes()).to_le_bytes());
    assert_eq!(written, expected);
    drop(wal);
    let (_, recovery) = Wal::open(config).expect("reopening");
    assert_eq!(recovery.delivered, 3);
}
