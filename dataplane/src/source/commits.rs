//! Which source positions may be committed: each append of source records to the log is
//! remembered with the log position it ends at and the source positions it reaches; once the
//! log's delivered checkpoint passes that end, those positions are safe to commit.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Source positions waiting for delivery, in log order.
///
/// `K` names a partition of the source (a Kinesis shard, a Kafka partition), `V` the position
/// to commit for it (the next Kafka offset to read, the last delivered Kinesis sequence
/// number).
#[derive(Debug)]
pub struct Commits<K, V> {
    /// Log end (exclusive) of an append → the positions it reaches.
    pending: BTreeMap<u64, Vec<(K, V)>>,
}

impl<K, V> Default for Commits<K, V> {
    fn default() -> Self {
        Self {
            pending: BTreeMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Commits<K, V> {
    /// Remembers that once everything below `log_end` is delivered, `positions` are done.
    pub fn record(&mut self, log_end: u64, positions: Vec<(K, V)>) {
        if positions.is_empty() {
            return;
        }
        self.pending.entry(log_end).or_default().extend(positions);
    }

    /// Takes the positions covered by `delivered` (the log's first undelivered sequence
    /// number): for each partition the latest one, in no particular order.
    pub fn take_ready(&mut self, delivered: u64) -> Vec<(K, V)> {
        let later = self.pending.split_off(&(delivered + 1));
        let ready = std::mem::replace(&mut self.pending, later);
        let mut latest: HashMap<K, V> = HashMap::new();
        for (_, positions) in ready {
            for (k, v) in positions {
                latest.insert(k, v);
            }
        }
        latest.into_iter().collect()
    }

    /// Forgets the positions of partitions this reader no longer owns (a Kafka rebalance
    /// revoked them): their records are still delivered, but the new owner commits.
    pub fn forget(&mut self, gone: impl Fn(&K) -> bool) {
        for positions in self.pending.values_mut() {
            positions.retain(|(k, _)| !gone(k));
        }
        self.pending.retain(|_, p| !p.is_empty());
    }

    /// Appends not yet covered by delivery.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<(u32, u64)>) -> Vec<(u32, u64)> {
        v.sort_unstable();
        v
    }

    #[test]
    fn nothing_is_ready_before_delivery_passes_the_append() {
        let mut c = Commits::default();
        c.record(10, vec![(0, 5)]);
        assert!(c.take_ready(9).is_empty());
        assert_eq!(c.take_ready(10), vec![(0, 5)]);
        assert!(c.take_ready(100).is_empty());
    }

    #[test]
    fn the_latest_position_per_partition_wins() {
        let mut c = Commits::default();
        c.record(10, vec![(0, 5), (1, 3)]);
        c.record(20, vec![(0, 9)]);
        c.record(30, vec![(1, 7)]);
        assert_eq!(sorted(c.take_ready(25)), vec![(0, 9), (1, 3)]);
        assert_eq!(c.pending(), 1);
        assert_eq!(c.take_ready(30), vec![(1, 7)]);
    }

    #[test]
    fn an_empty_append_at_the_same_end_merges() {
        // A closed shard's end marker is recorded with no records: it shares its log end with
        // the append before it.
        let mut c = Commits::default();
        c.record(10, vec![(0, 5)]);
        c.record(10, vec![(0, 6)]);
        assert_eq!(c.take_ready(10), vec![(0, 6)]);
    }

    #[test]
    fn forgotten_partitions_are_never_committed() {
        let mut c = Commits::default();
        c.record(10, vec![(0, 5), (1, 3)]);
        c.record(20, vec![(1, 8)]);
        c.forget(|k| *k == 1);
        assert_eq!(c.pending(), 1);
        assert_eq!(c.take_ready(20), vec![(0, 5)]);
    }
}
