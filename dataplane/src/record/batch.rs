//! A batch of records read from the log, processed and handed to delivery.

use bytes::Bytes;

/// Where one record sits in a batch and in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// The record's sequence number in the write-ahead log: stable across retries and restarts.
    pub seq: u64,
    /// Arrival time (ms since the epoch).
    pub arrival_ms: u64,
    /// Position among the records one logged record became (de-aggregation, CloudWatch Logs
    /// extraction); 0 otherwise. `(seq, sub)` identifies a delivered record.
    pub sub: u32,
    /// The processed record is `data[start..end]`.
    pub start: u32,
    pub end: u32,
}

impl RecordMeta {
    /// The memory a batch holds for `records` records of `data` bytes in all: with small
    /// records the bookkeeping (32 bytes a record) outweighs the data, so bounds on batches in
    /// memory count both.
    pub fn held_bytes(data: usize, records: usize) -> usize {
        data.saturating_add(records.saturating_mul(size_of::<RecordMeta>()))
    }
}

/// A batch ready for delivery: records of the log `[first_seq, end_seq)`, processed and
/// concatenated, before compression. After a partial failure a retry carries only the failed
/// records (`records` is then a subset, `data` still the original buffer).
#[derive(Debug, Clone)]
pub struct Batch {
    pub first_seq: u64,
    pub end_seq: u64,
    /// Processed record bytes (delimiters included), uncompressed.
    pub data: Bytes,
    pub records: Vec<RecordMeta>,
    /// Arrival time of the oldest record (ms since the epoch): names objects and measures
    /// freshness.
    pub oldest_arrival_ms: u64,
    /// The dynamic partition these records belong to (object destinations name the object by
    /// it).
    pub partition: Option<std::sync::Arc<super::Partition>>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The processed bytes of record `i`.
    pub fn record(&self, i: usize) -> &[u8] {
        let r = &self.records[i];
        &self.data[r.start as usize..r.end as usize]
    }

    /// Every record's bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.record(i))
    }

    /// Bytes of the records in this batch.
    pub fn record_bytes(&self) -> u64 {
        self.records.iter().map(|r| (r.end - r.start) as u64).sum()
    }

    /// The records' bytes concatenated: `data` itself unless this is a subset.
    pub fn contiguous(&self) -> Bytes {
        let whole = self.records.first().is_none_or(|r| r.start == 0)
            && self.records.windows(2).all(|w| w[0].end == w[1].start)
            && self
                .records
                .last()
                .is_none_or(|r| r.end as usize == self.data.len());
        if whole {
            return self.data.clone();
        }
        let mut out = Vec::with_capacity(self.record_bytes() as usize);
        for r in self.iter() {
            out.extend_from_slice(r);
        }
        out.into()
    }

    /// The batch of the records at `indices` (in order), sharing the data buffer.
    pub fn subset(&self, indices: &[usize]) -> Batch {
        let records: Vec<RecordMeta> = indices.iter().map(|&i| self.records[i]).collect();
        Batch {
            first_seq: self.first_seq,
            end_seq: self.end_seq,
            data: self.data.clone(),
            oldest_arrival_ms: records
                .iter()
                .map(|r| r.arrival_ms)
                .min()
                .unwrap_or(self.oldest_arrival_ms),
            records,
            partition: self.partition.clone(),
        }
    }

    /// Builds a batch from whole records (tests and tools).
    pub fn from_records<'a>(
        first_seq: u64,
        arrival_ms: u64,
        records: impl IntoIterator<Item = &'a [u8]>,
    ) -> Batch {
        let mut data = Vec::new();
        let mut metas = Vec::new();
        for (i, r) in records.into_iter().enumerate() {
            let start = data.len() as u32;
            data.extend_from_slice(r);
            metas.push(RecordMeta {
                seq: first_seq + i as u64,
                arrival_ms,
                sub: 0,
                start,
                end: data.len() as u32,
            });
        }
        Batch {
            first_seq,
            end_seq: first_seq + metas.len() as u64,
            data: data.into(),
            records: metas,
            oldest_arrival_ms: arrival_ms,
            partition: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_share_the_buffer_and_concatenate_on_demand() {
        let b = Batch::from_records(10, 5, [&b"ab"[..], b"c", b"def"]);
        assert_eq!(b.contiguous(), Bytes::from_static(b"abcdef"));
        let s = b.subset(&[0, 2]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.record(1), b"def");
        assert_eq!(s.records[1].seq, 12);
        assert_eq!(s.contiguous(), Bytes::from_static(b"abdef"));
        assert_eq!(s.record_bytes(), 5);
    }
}
