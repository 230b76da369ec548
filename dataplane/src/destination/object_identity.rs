//! The unique part of an object's name, derived from what the object holds instead of drawn at
//! random: the log's identity, which lane writes it, and which records (their log sequence and
//! sub-sequence numbers) it carries. The same records written again after a crash get the same
//! name, so the object is overwritten, not duplicated.
//!
//! The name keeps Firehose's shape: a version-4-shaped UUID (122 bits of a SHA-256 digest) and
//! 11-character `!{firehose:random-string}` values drawn from the same digest.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::record::{Batch, FailedRecord, Partition};

/// A digest naming one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectIdentity([u8; 32]);

/// What writes an object: objects of different lanes may hold the same records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Delivery,
    Backup,
    /// Failed records of one error-output type.
    Errors,
}

impl Lane {
    fn tag(self) -> &'static [u8] {
        match self {
            Lane::Delivery => b"delivery",
            Lane::Backup => b"backup",
            Lane::Errors => b"errors",
        }
    }
}

impl ObjectIdentity {
    /// The object of `batch`'s records written by `lane` from the log `log_id`.
    pub fn of_batch(log_id: Uuid, lane: Lane, batch: &Batch) -> Self {
        let mut h = start(log_id, lane);
        h.update(b"batch");
        h.update(batch.first_seq.to_le_bytes());
        h.update(batch.end_seq.to_le_bytes());
        // A partition buffer regrouped after a crash may take its batches' parts in another
        // order: the name depends on which records, not their order.
        let mut places: Vec<(u64, u32)> = batch.records.iter().map(|r| (r.seq, r.sub)).collect();
        if !places.is_sorted() {
            places.sort_unstable();
        }
        for (seq, sub) in places {
            h.update(seq.to_le_bytes());
            h.update(sub.to_le_bytes());
        }
        if let Some(p) = &batch.partition {
            hash_partition(&mut h, p);
        }
        Self(h.finalize().into())
    }

    /// The error-output object of `records` of type `error_type`.
    pub fn of_failed(log_id: Uuid, error_type: &str, records: &[FailedRecord]) -> Self {
        let mut h = start(log_id, Lane::Errors);
        h.update((error_type.len() as u64).to_le_bytes());
        h.update(error_type.as_bytes());
        for r in records {
            h.update(r.seq.to_le_bytes());
            h.update(r.sub.to_le_bytes());
        }
        Self(h.finalize().into())
    }

    /// The name's UUID.
    pub fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.0[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// The values of the prefix's `!{firehose:random-string}` expressions, in order.
    pub fn random_strings(&self) -> impl FnMut() -> String + '_ {
        let mut n: u64 = 0;
        move || {
            let mut h = Sha256::new();
            h.update(self.0);
            h.update(n.to_le_bytes());
            n += 1;
            let d: [u8; 32] = h.finalize().into();
            format!(
                "{:02x}{:02x}{:02x}{:02x}-{:02x}",
                d[0], d[1], d[2], d[3], d[4]
            )
        }
    }
}

fn start(log_id: Uuid, lane: Lane) -> Sha256 {
    let mut h = Sha256::new();
    h.update(log_id.as_bytes());
    h.update(lane.tag());
    h
}

fn hash_partition(h: &mut Sha256, partition: &Partition) {
    for (k, v) in partition {
        for part in [k, v] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first: u64, n: usize) -> Batch {
        let records: Vec<Vec<u8>> = (0..n).map(|i| format!("r{i}").into_bytes()).collect();
        Batch::from_records(first, 7, records.iter().map(|r| r.as_slice()))
    }

    #[test]
    fn the_same_records_get_the_same_name_and_others_another() {
        let log = Uuid::from_u128(42);
        let a = ObjectIdentity::of_batch(log, Lane::Delivery, &batch(10, 3));
        assert_eq!(
            a,
            ObjectIdentity::of_batch(log, Lane::Delivery, &batch(10, 3))
        );
        assert_eq!(a.uuid().get_version_num(), 4);
        for other in [
            ObjectIdentity::of_batch(log, Lane::Delivery, &batch(10, 4)),
            ObjectIdentity::of_batch(log, Lane::Delivery, &batch(11, 3)),
            ObjectIdentity::of_batch(log, Lane::Backup, &batch(10, 3)),
            ObjectIdentity::of_batch(Uuid::from_u128(43), Lane::Delivery, &batch(10, 3)),
            ObjectIdentity::of_batch(log, Lane::Delivery, &batch(10, 3).subset(&[0, 2])),
        ] {
            assert_ne!(a.uuid(), other.uuid());
        }
        assert_eq!(
            ObjectIdentity::of_batch(log, Lane::Delivery, &batch(10, 3).subset(&[2, 0, 1])),
            a,
            "the order of the records does not matter"
        );
        let mut partitioned = batch(10, 3);
        let p: Partition = [("k".to_owned(), "v".to_owned())].into();
        partitioned.partition = Some(std::sync::Arc::new(p));
        assert_ne!(
            a,
            ObjectIdentity::of_batch(log, Lane::Delivery, &partitioned)
        );
    }

    #[test]
    fn random_strings_are_shaped_like_firehose_ones_and_differ_in_one_name() {
        let id = ObjectIdentity::of_batch(Uuid::from_u128(1), Lane::Delivery, &batch(0, 1));
        let mut next = id.random_strings();
        let (first, second) = (next(), next());
        assert_ne!(first, second);
        assert_eq!(first.len(), 11);
        assert_eq!(&first[8..9], "-");
        assert!(first.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(first, id.random_strings()(), "deterministic");
    }
}
