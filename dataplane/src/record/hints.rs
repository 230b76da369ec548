//! When a buffer of records is cut: the one typed form of every buffering hint (the
//! destination's, the transformation's and the backup's).

use std::time::Duration;

use super::RecordMeta;

/// A buffer is cut when it holds `size_bytes` (before compression) — or twice that counting
/// its records' bookkeeping, which outweighs small records' data — or `interval` after its
/// oldest record arrived; an interval of zero cuts as soon as nothing more is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub size_bytes: usize,
    pub interval: Duration,
}

impl Hints {
    /// A spec's `bufferingHints` (`sizeInMBs`, `intervalInSeconds`).
    pub fn from_spec(hints: &crds::BufferingHints) -> Self {
        Self {
            size_bytes: (hints.size_in_mbs.max(1) as usize) << 20,
            interval: Duration::from_secs(hints.interval_in_seconds.max(0) as u64),
        }
    }

    /// The interval in milliseconds, as buffers compare it with arrival times.
    pub fn interval_ms(&self) -> u64 {
        self.interval.as_millis().min(u128::from(u64::MAX)) as u64
    }

    /// Whether a buffer of `records` records and `data` bytes is full by size: at the size hint
    /// of data, or at twice it held ([`RecordMeta::held_bytes`]).
    pub fn is_full(&self, data: usize, records: usize) -> bool {
        data >= self.size_bytes
            || RecordMeta::held_bytes(data, records) >= self.size_bytes.saturating_mul(2)
    }

    /// The tighter of both hints, field by field.
    pub fn at_most(self, other: Hints) -> Self {
        Self {
            size_bytes: self.size_bytes.min(other.size_bytes),
            interval: self.interval.min(other.interval),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_hints_become_bytes_and_a_duration() {
        let spec = crds::BufferingHints {
            size_in_mbs: 5,
            interval_in_seconds: 300,
        };
        let h = Hints::from_spec(&spec);
        assert_eq!(h.size_bytes, 5 << 20);
        assert_eq!(h.interval_ms(), 300_000);
        let small = Hints {
            size_bytes: 8 << 20,
            interval: Duration::from_millis(200),
        };
        assert_eq!(h.at_most(small).size_bytes, 5 << 20);
        assert_eq!(h.at_most(small).interval, Duration::from_millis(200));
    }

    #[test]
    fn full_at_the_size_of_data_or_at_twice_it_held() {
        let h = Hints {
            size_bytes: 1000,
            interval: Duration::ZERO,
        };
        assert!(!h.is_full(999, 1));
        assert!(h.is_full(1000, 1));
        // 60 one-byte records hold 60 × 33 = 1,980 bytes; 61 hold 2,013.
        assert!(!h.is_full(60, 60));
        assert!(h.is_full(61, 61));
    }
}
