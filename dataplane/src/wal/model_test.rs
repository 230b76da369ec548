//! Model-based test: random appends, checkpoints, torn tails and crashes at any point, checked
//! against a plain in-memory model of what was acknowledged.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

struct Model {
    /// Every acknowledged record, by sequence number.
    acked: BTreeMap<u64, Vec<u8>>,
    /// Highest checkpoint the log confirmed.
    delivered: u64,
}

pub(super) fn config(dir: &Path, segment_bytes: u64, max_bytes: u64) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        max_bytes,
        segment_bytes,
        durability: Durability::Fsync,
        encryption: None,
        keyring: Vec::new(),
    }
}

/// The keys the encrypted model switches between.
fn model_keys() -> Vec<SegmentKey> {
    vec![
        SegmentKey::new("model-a", [0xa5; 32]).expect("key"),
        SegmentKey::new("model-b", [0x5a; 32]).expect("key"),
    ]
}

pub(super) fn read_all(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    let mut reader = wal.reader();
    let mut out = Vec::new();
    loop {
        let n = reader
            .read(1 << 16, |r| out.push((r.seq, r.data.to_vec())))
            .expect("read");
        if n == 0 {
            break;
        }
    }
    out
}

fn random_record(rng: &mut StdRng) -> Vec<u8> {
    let len = match rng.random_range(0..10) {
        0 => 0,
        1 => rng.random_range(1000..5000),
        _ => rng.random_range(1..200),
    };
    (0..len).map(|_| rng.random()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_record_is_lost() {
    for seed in 0..12u64 {
        run_model(seed, false).await;
    }
}

/// The same, switching at random between plaintext and two keys, reopening with both known.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_record_is_lost_while_encryption_switches() {
    for seed in 100..108u64 {
        run_model(seed, true).await;
    }
}

async fn run_model(seed: u64, switching: bool) {
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let segment_bytes = rng.random_range(512..8192);
    let max_bytes = rng.random_range(20_000..80_000);
    let mut model = Model {
        acked: BTreeMap::new(),
        delivered: 0,
    };
    let mut current: Option<SegmentKey> = None;
    let open = |current: &Option<SegmentKey>| {
        let mut c = config(dir, segment_bytes, max_bytes);
        c.encryption = current.clone();
        if switching {
            c.keyring = model_keys();
        }
        Wal::open(c)
    };
    let (mut wal, _) = open(&current).expect("open");
    for _step in 0..300 {
        match rng.random_range(0..100) {
            0..=59 => {
                let n = rng.random_range(1..8);
                let records: Vec<Vec<u8>> = (0..n).map(|_| random_record(&mut rng)).collect();
                let mut frames = FrameBatch::default();
                for r in &records {
                    frames.push(1, r);
                }
                match wal.append(frames).await {
                    Ok(a) => {
                        assert_eq!(a.count, records.len() as u64);
                        for (i, r) in records.into_iter().enumerate() {
                            assert!(model.acked.insert(a.first + i as u64, r).is_none());
                        }
                    }
                    Err(WalError::Full) => {}
                    Err(e) => panic!("seed {seed}: append failed: {e}"),
                }
            }
            60..=74 => {
                // Deliver a random prefix of what is acknowledged.
                let next = wal.stats().next_seq;
                if next > model.delivered {
                    let upto = rng.random_range(model.delivered..=next);
                    if rng.random_bool(0.2) {
                        // Crash between the checkpoint and segment deletion.
                        wal.checkpoint_without_deleting(upto).expect("checkpoint");
                    } else {
                        wal.checkpoint(upto).expect("checkpoint");
                    }
                    model.delivered = upto;
                }
            }
            75..=84 => {
                // Crash, maybe with a torn or garbage tail from an unacknowledged write.
                let active = wal.watermark.borrow().segment_first;
                drop(wal);
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                if rng.random_bool(0.5) {
                    let mut file = OpenOptions::new()
                        .append(true)
                        .open(segment::path(dir, active))
                        .expect("segment");
                    let mut torn = FrameBatch::default();
                    torn.push(9, &random_record(&mut rng));
                    let bytes = torn.as_bytes();
                    let cut = rng.random_range(0..bytes.len());
                    if rng.random_bool(0.5) {
                        file.write_all(&bytes[..cut]).expect("torn write");
                    } else {
                        let garbage: Vec<u8> = (0..cut).map(|_| rng.random()).collect();
                        file.write_all(&garbage).expect("garbage write");
                    }
                }
                let (reopened, recovery) = open(&current).expect("reopen");
                wal = reopened;
                assert_eq!(
                    recovery.delivered, model.delivered,
                    "seed {seed}: checkpoint"
                );
                check(&wal, &model, seed);
            }
            85..=89 if switching => {
                current = match rng.random_range(0..3) {
                    0 => None,
                    i => Some(model_keys()[i - 1].clone()),
                };
                wal.set_encryption(current.clone()).expect("switch");
            }
            _ => check(&wal, &model, seed),
        }
    }
    if switching {
        // Every key was in use at some point in some seed; here, at least the log says which.
        assert_eq!(wal.is_encrypted(), current.is_some(), "seed {seed}");
    }
    // The bound is respected.
    assert!(
        wal.stats().disk_bytes <= max_bytes,
        "seed {seed}: over the bound"
    );
}

fn check(wal: &Wal, model: &Model, seed: u64) {
    let read = read_all(wal);
    let expected: Vec<(u64, Vec<u8>)> = model
        .acked
        .range(model.delivered..)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    assert_eq!(read.len(), expected.len(), "seed {seed}: record count");
    assert!(read == expected, "seed {seed}: undelivered records differ");
}

#[tokio::test]
async fn full_log_refuses_then_accepts_after_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(config(tmp.path(), 1024, 4096)).expect("open");
    let mut last = 0;
    loop {
        let mut frames = FrameBatch::default();
        frames.push(1, &[7u8; 500]);
        match wal.append(frames).await {
            Ok(a) => last = a.first + a.count,
            Err(WalError::Full) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(wal.is_full() || wal.stats().disk_bytes + 516 > 4096);
    wal.checkpoint(last).expect("checkpoint");
    let mut frames = FrameBatch::default();
    frames.push(1, &[7u8; 500]);
    wal.append(frames).await.expect("space after delivery");
}

#[tokio::test]
async fn corruption_inside_a_finished_segment_skips_to_the_next_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(config(tmp.path(), 1024, 1 << 20)).expect("open");
    for i in 0..20u8 {
        let mut frames = FrameBatch::default();
        frames.push(1, &[i; 300]);
        wal.append(frames).await.expect("append");
    }
    let firsts = segment::list(tmp.path()).expect("list");
    assert!(firsts.len() >= 3, "several segments: {firsts:?}");
    // Flip a data byte of the first frame of the first segment (fsync'd, durable region).
    let path = segment::path(tmp.path(), firsts[0]);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[frame::HEADER_LEN + 1] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");
    let read = read_all(&wal);
    // The damaged segment's records are lost (and logged); every later record is still read.
    assert_eq!(read.first().map(|(seq, _)| *seq), Some(firsts[1]));
    assert_eq!(read.len() as u64, 20 - firsts[1]);
}
