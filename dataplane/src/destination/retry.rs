//! Exponential backoff with jitter between delivery attempts.

use std::time::Duration;

use rand::Rng;

/// Backoff state for one batch.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self { next: initial, max }
    }

    /// The delay before the next attempt: the current step ±15 %, then the step doubles up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let jitter = rand::rng().random_range(0.85..1.15);
        let delay = self.next.mul_f64(jitter).min(self.max);
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let delays: Vec<_> = (0..6).map(|_| b.next_delay()).collect();
        assert!(
            delays[0] >= Duration::from_millis(850) && delays[0] <= Duration::from_millis(1150)
        );
        assert!(delays[1] >= Duration::from_millis(1700));
        assert!(delays[5] <= Duration::from_secs(8));
    }
}
