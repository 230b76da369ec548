//! Deliveries finish out of order; the log may only be checkpointed up to the lowest sequence
//! number below which everything is delivered.

use std::collections::BTreeMap;

/// Pending and completed sequence ranges.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Everything below is delivered.
    delivered: u64,
    /// Completed ranges not yet contiguous with `delivered`: first → end.
    completed: BTreeMap<u64, u64>,
    /// Batches handed to delivery and not finished: first → oldest arrival (ms).
    in_flight: BTreeMap<u64, u64>,
}

impl Tracker {
    pub fn new(delivered: u64) -> Self {
        Self {
            delivered,
            ..Self::default()
        }
    }

    /// A batch `[first, end)` was handed to delivery.
    pub fn start(&mut self, first: u64, oldest_arrival_ms: u64) {
        self.in_flight.insert(first, oldest_arrival_ms);
    }

    /// A batch `[first, end)` is delivered. Returns the new checkpoint if it advanced.
    pub fn complete(&mut self, first: u64, end: u64) -> Option<u64> {
        self.in_flight.remove(&first);
        self.completed.insert(first, end);
        let before = self.delivered;
        while let Some(end) = self.completed.remove(&self.delivered) {
            self.delivered = end;
        }
        (self.delivered > before).then_some(self.delivered)
    }

    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Arrival time of the oldest record in flight.
    pub fn oldest_in_flight_ms(&self) -> Option<u64> {
        self.in_flight.values().copied().min()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_advances_only_over_contiguous_ranges() {
        let mut t = Tracker::new(10);
        t.start(10, 1);
        t.start(20, 2);
        t.start(30, 3);
        assert_eq!(t.complete(20, 30), None);
        assert_eq!(t.oldest_in_flight_ms(), Some(1));
        assert_eq!(t.complete(30, 40), None);
        assert_eq!(t.complete(10, 20), Some(40));
        assert_eq!(t.delivered(), 40);
        assert_eq!(t.in_flight(), 0);
    }
}
