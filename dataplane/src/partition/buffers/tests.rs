use super::*;
use crate::record::RecordMeta;

fn part(first: u64, key: &str, records: &[&str]) -> Batch {
    let mut b = Batch::from_records(first, 1000 + first, records.iter().map(|r| r.as_bytes()));
    let mut p = Partition::new();
    p.insert("partitionKeyFromQuery:k".into(), key.into());
    b.partition = Some(Arc::new(p));
    b
}

fn buffers(dir: &std::path::Path, size_bytes: usize, limit: usize) -> Buffers {
    Buffers::new(BufferConfig {
        dir: dir.join("partitions"),
        hints: Hints {
            size_bytes,
            interval: std::time::Duration::from_secs(60),
        },
        limit,
        memory_bytes: 1 << 20,
        disk: Default::default(),
        encryption: Default::default(),
        pressure_bytes: u64::MAX,
        replay_from: 0,
        sync: false,
    })
    .expect("buffers")
}

/// Records the flush in the journal, as the flusher does before writing its object.
fn record(b: &Buffers, flush: &mut Flush) {
    let id = b
        .journal()
        .intent(&flush.partition, flush.batches())
        .expect("intent");
    flush.recorded(id);
}

#[test]
fn after_a_crash_written_flushes_drop_their_parts_and_recorded_ones_regroup() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Batch 0: a, b, c; batch 2: b; batch 3: c. The same batches come back after the crash.
    let add_batches = |b: &Buffers| {
        b.add(
            0,
            2,
            vec![
                part(0, "a", &["a0"]),
                part(1, "b", &["b1"]),
                part(1, "c", &["c1"]),
            ],
        );
        b.add(2, 3, vec![part(2, "b", &["b2"])]);
        b.add(3, 4, vec![part(3, "c", &["c3"])])
    };
    let b = buffers(tmp.path(), 1 << 20, 10);
    add_batches(&b);
    let mut flushes = b.take_all();
    flushes.sort_by_key(|f| f.partition.get("partitionKeyFromQuery:k").cloned());
    let [mut a, mut bb, _c] = <[Flush; 3]>::try_from(flushes).ok().expect("three");
    // a is written; b is recorded and its object perhaps written; c never got that far.
    record(&b, &mut a);
    record(&b, &mut bb);
    let before = bb.read().expect("read");
    b.delivered(a);
    drop(b);

    let b = buffers(tmp.path(), 1 << 20, 10);
    let added = add_batches(&b);
    assert_eq!(added.active, 2, "a's part is dropped: it is in a's object");
    // b's flush is whole again as soon as its two batches are back, without waiting.
    let mut due = b.take_due(0);
    assert_eq!(due.len(), 1);
    let mut regrouped = due.pop().expect("b");
    assert_eq!(regrouped.journal_id(), bb.journal_id());
    let again = regrouped.read().expect("read");
    assert_eq!(
        again.records, before.records,
        "the same records: the same name"
    );
    // c buffers anew.
    let rest = b.take_all();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].journal_id(), None);
}

#[test]
fn a_batch_completes_when_its_last_partition_is_delivered_out_of_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = buffers(tmp.path(), 1 << 20, 10);
    let added = b.add(0, 3, vec![part(0, "a", &["1"]), part(1, "b", &["2", "3"])]);
    assert_eq!(added.active, 2);
    assert!(b.release(0).is_empty(), "both partitions still buffer it");
    b.add(3, 4, vec![part(3, "b", &["4"])]);
    assert!(b.release(3).is_empty());

    // Partition b flushes first: batch [3, 4) completes, [0, 3) waits for a.
    let mut flushes = b.take_all();
    flushes.sort_by_key(|f| f.partition["partitionKeyFromQuery:k"].clone());
    let mut fb = flushes.pop().expect("b");
    let fa = flushes.pop().expect("a");
    let batch = fb.read().expect("read");
    assert_eq!(batch.iter().collect::<Vec<_>>(), vec![b"2", b"3", b"4"]);
    let (done, active) = b.delivered(fb);
    assert_eq!(done, vec![(3, 4)]);
    assert_eq!(active, 1);
    let (done, active) = b.delivered(fa);
    assert_eq!(done, vec![(0, 3)]);
    assert_eq!(active, 0);
}

#[test]
fn an_empty_part_completes_with_its_batch() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = buffers(tmp.path(), 1 << 20, 10);
    let added = b.add(0, 5, vec![part(0, "a", &[])]);
    assert_eq!(added.active, 0);
    assert_eq!(b.release(0), vec![(0, 5)]);
    assert_eq!(b.next_deadline_ms(), None);
}

#[test]
fn the_hold_keeps_a_batch_open_until_released() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = buffers(tmp.path(), 1, 10);
    // A full buffer is flushed and delivered before the batch's failed records are
    // written: the batch must not complete yet.
    b.add(0, 1, vec![part(0, "a", &["x"])]);
    let flush = b.take_due(0).pop().expect("full");
    assert!(b.delivered(flush).0.is_empty());
    assert_eq!(b.release(0), vec![(0, 1)]);
}

#[test]
fn partitions_beyond_the_limit_fail_and_free_slots_are_reused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = buffers(tmp.path(), 1 << 20, 1);
    let added = b.add(0, 2, vec![part(0, "a", &["1"]), part(1, "b", &["2"])]);
    assert!(added.exceeded);
    assert_eq!(added.failed.len(), 1);
    assert_eq!(
        added.failed[0].failure.code,
        "DynamicPartitioning.PartitionCountExceeded"
    );
    // A partition being flushed still counts as active, and may buffer again.
    let flush = b.take_oldest().expect("a");
    assert!(b.add(2, 3, vec![part(2, "c", &["3"])]).exceeded);
    let again = b.add(3, 4, vec![part(3, "a", &["4"])]);
    assert!(!again.exceeded);
    assert_eq!(again.active, 1);
    b.delivered(flush);
    for flush in b.take_all() {
        b.delivered(flush);
    }
    let added = b.add(4, 5, vec![part(4, "c", &["5"])]);
    assert!(!added.exceeded);
    assert_eq!(added.active, 1);
}

#[test]
fn buffers_flush_by_size_and_by_interval() {
    let tmp = tempfile::tempdir().expect("tmp");
    let b = buffers(tmp.path(), 100, 10);
    let half = "x".repeat(50);
    // Added at 500_000 on the monotonic clock, 2 s after "b" arrived (at 1001 on the wall).
    b.add_at(
        0,
        2,
        vec![part(0, "a", &[&half, &half]), part(1, "b", &["5"])],
        500_000,
        3001,
    );
    let full = b.take_due(0);
    assert_eq!(full.len(), 1, "a holds 100 bytes");
    assert_eq!(b.next_deadline_ms(), Some(498_000 + 60_000));
    assert!(b.take_due(498_000 + 59_999).is_empty());
    assert_eq!(b.take_due(498_000 + 60_000).len(), 1);
}

#[test]
fn many_small_records_fill_a_buffer_by_what_they_hold() {
    let tmp = tempfile::tempdir().expect("tmp");
    // 1,000 bytes of data; each record also costs its bookkeeping, so 2,000 held is full.
    let b = buffers(tmp.path(), 1000, 10);
    let per = RecordMeta::held_bytes(1, 1);
    let fits = 2000_usize.div_ceil(per) - 1;
    let ones = vec!["1"; fits];
    b.add(0, fits as u64, vec![part(0, "a", &ones)]);
    assert!(
        b.take_due(0).is_empty(),
        "{fits} one-byte records are not full"
    );
    b.add(
        fits as u64,
        fits as u64 + 1,
        vec![part(fits as u64, "a", &["1"])],
    );
    assert_eq!(b.take_due(0).len(), 1, "one more fills it");
}

#[test]
fn a_jump_of_the_wall_clock_neither_holds_nor_hurries_a_buffer() {
    let hour = 3_600_000;
    let arrived = 10 * hour;
    let at = |first: u64, key: &str| {
        let mut p = part(first, key, &["1"]);
        p.oldest_arrival_ms = arrived;
        p
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let b = buffers(tmp.path(), 1 << 20, 10);
    // Added after the clock went back an hour: it ages from now, not for an hour more.
    b.add_at(0, 1, vec![at(0, "a")], 500_000, arrived - hour);
    assert_eq!(b.next_deadline_ms(), Some(560_000));
    // Added after the clock went forward an hour: one interval old, due at once.
    b.add_at(1, 2, vec![at(1, "b")], 500_000, arrived + hour);
    assert_eq!(b.next_deadline_ms(), Some(500_000));
    assert_eq!(b.take_due(500_000).len(), 1, "b");
    // Only the monotonic clock is asked after that: "a" comes due one interval after it was
    // added, wherever the wall clock is.
    assert!(b.take_due(559_999).is_empty());
    assert_eq!(b.take_due(560_000).len(), 1, "a");
}

/// The memory budget across partitions.
mod memory_tests {
    use super::*;

    #[test]
    fn past_the_memory_budget_the_largest_buffers_spill_to_disk() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("partitions");
        let b = Buffers::new(BufferConfig {
            dir: dir.clone(),
            hints: Hints {
                size_bytes: 1 << 30,
                interval: std::time::Duration::from_secs(60),
            },
            limit: 10,
            memory_bytes: 1000,
            disk: Default::default(),
            encryption: Default::default(),
            pressure_bytes: u64::MAX,
            replay_from: 0,
            sync: false,
        })
        .expect("buffers");
        let part = |first: u64, key: &str, len: usize| {
            let record = vec![b'x'; len];
            let mut batch = Batch::from_records(first, 1, [record.as_slice()]);
            let mut p = Partition::new();
            p.insert("k".into(), key.into());
            batch.partition = Some(Arc::new(p));
            b.add(first, first + 1, vec![batch]);
            b.release(first);
        };
        part(0, "small", 100);
        part(1, "big", 600);
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            0,
            "within budget"
        );
        part(2, "big", 600);
        let files = std::fs::read_dir(&dir).expect("dir").count();
        assert_eq!(files, 1, "only the largest spilled");
        let mut all = b.take_all();
        all.sort_by_key(|f| f.records());
        let batches: Vec<usize> = all
            .iter_mut()
            .map(|f| f.read().expect("read").len())
            .collect();
        assert_eq!(batches, vec![1, 2]);
    }
}
