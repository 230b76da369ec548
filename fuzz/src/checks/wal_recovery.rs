//! The log's frame reader and segment recovery: the input is the only segment file of a log.
//!
//! Asserts: a plaintext segment opens, recovery keeps exactly the frames before the first
//! incomplete or corrupt one (every record read back has a matching CRC, and they are a
//! prefix of the file) and cuts the rest; the recovered log takes a new append after them and
//! reads it back; a segment that starts like a sealed one opens with no record or not at all.
//! Also: one frame written and decoded gives back its bytes.

use std::fs;

use dataplane::wal::frame::{self, Decoded, FrameBatch};
use dataplane::wal::{Wal, seal};

use super::{ARRIVAL_MS, Record, temp_dir, valid_frames, wal_config};

pub fn check(input: &[u8]) {
    frame_round_trip(input);

    let dir = temp_dir();
    let log = dir.path().join("log");
    fs::create_dir(&log).expect("creating the log directory");
    fs::write(log.join(format!("{:020}.seg", 0)), input).expect("writing the segment");
    let plaintext = matches!(seal::read_header(input), seal::HeaderRead::NotSealed);
    let (expected, valid_len) = if plaintext {
        valid_frames(input)
    } else {
        (Vec::new(), 0)
    };
    let config = wal_config(&log);
    let (wal, recovery) = match Wal::open(config.clone()) {
        Ok(opened) => opened,
        Err(e) => {
            assert!(!plaintext, "a plaintext segment fails to open: {e}");
            return;
        }
    };
    assert_eq!(recovery.next_seq, expected.len() as u64);
    assert_eq!(recovery.delivered, 0);
    if plaintext {
        assert_eq!(recovery.truncated_bytes, (input.len() - valid_len) as u64);
    }
    assert_eq!(read_all(&wal), expected);

    let mut tail = FrameBatch::default();
    tail.push(ARRIVAL_MS, b"after recovery");
    let appended = futures::executor::block_on(wal.append(tail)).expect("appending");
    assert_eq!(appended.first, expected.len() as u64);
    let mut with_tail = expected;
    with_tail.push(Record {
        arrival_ms: ARRIVAL_MS,
        data: b"after recovery".to_vec(),
    });
    assert_eq!(read_all(&wal), with_tail);
    drop(wal);
    let (wal, recovery) = Wal::open(config).expect("reopening");
    assert_eq!(recovery.truncated_bytes, 0);
    assert_eq!(read_all(&wal), with_tail);
}

/// Every durable record of the log, from the start.
fn read_all(wal: &Wal) -> Vec<Record> {
    let mut reader = wal.reader();
    let mut records = Vec::new();
    while reader
        .read(1 << 20, |r| {
            assert_eq!(r.seq, records.len() as u64);
            records.push(Record {
                arrival_ms: r.arrival_ms,
                data: r.data.to_vec(),
            });
        })
        .expect("reading the log")
        > 0
    {}
    records
}

fn frame_round_trip(input: &[u8]) {
    let data = &input[..input.len().min(frame::MAX_RECORD_LEN)];
    let mut batch = FrameBatch::default();
    batch.push(ARRIVAL_MS, data);
    let bytes = batch.as_bytes();
    assert_eq!(
        frame::decode(bytes),
        Decoded::Frame(
            frame::Frame {
                arrival_ms: ARRIVAL_MS,
                data
            },
            bytes.len()
        )
    );
    assert_eq!(
        frame::decode(&bytes[..bytes.len() - 1]),
        Decoded::Incomplete(bytes.len())
    );
}
