//! Retrying with exponential backoff and jitter: how long a destination's failing records are
//! retried ([`RetryPolicy`]), the delays between attempts ([`Backoff`]), and the one loop that
//! retries until an operation succeeds ([`retry_until_ok`]) — for writes that must never give
//! up because the records stay in the log until they succeed.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// How long, and how often, a destination's failing records are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retrying stops once the backoff waits add up to this; `None` retries forever (object
    /// stores: records never leave the log undelivered).
    pub duration: Option<Duration>,
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn forever() -> Self {
        Self {
            duration: None,
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
        }
    }

    /// Retries for `retryOptions.durationInSeconds`, backing off from `initial` to `max`.
    pub fn for_duration(seconds: i32, initial: Duration, max: Duration) -> Self {
        Self {
            duration: Some(Duration::from_secs(seconds.max(0) as u64)),
            initial,
            max,
        }
    }

    /// A fresh backoff for one batch.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.initial, self.max)
    }
}

/// Backoff state for one operation.
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

/// Runs `attempt` until it succeeds, sleeping a [`Backoff::default`] delay after each failure.
/// `failed` hears of every failure with the delay before the next attempt (to log it and
/// report it in the stream's health).
pub async fn retry_until_ok<T, E, F, Fut>(mut attempt: F, mut failed: impl FnMut(&E, Duration)) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::default();
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(e) => {
                let delay = backoff.next_delay();
                failed(&e, delay);
                tokio::time::sleep(delay).await;
            }
        }
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

    #[tokio::test]
    async fn retries_until_the_operation_succeeds() {
        let mut calls = 0;
        let mut failures = Vec::new();
        let value = retry_until_ok(
            || {
                calls += 1;
                let n = calls;
                async move { if n < 3 { Err(n) } else { Ok("done") } }
            },
            |e: &i32, delay| failures.push((*e, delay)),
        )
        .await;
        assert_eq!(value, "done");
        assert_eq!(calls, 3);
        assert_eq!(failures.len(), 2);
        assert!(failures[1].1 > failures[0].1);
    }
}
