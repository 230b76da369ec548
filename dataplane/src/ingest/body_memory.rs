//! The budget of request-body memory shared by every connection of a port: a body takes a
//! permit a byte as it arrives, so a flood of large slow bodies waits instead of allocating.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

/// What of each body is read without [`BodyMemory`]: small requests (a good producer's) never
/// wait behind large slow ones, and the connection limit bounds this part.
pub const FREE_BODY_BYTES: usize = 64 << 10;

/// The budget's default: a few of the largest requests at once, or a couple of dozen of the
/// common half-megabyte batches, which already keep the log's group commits full; more bodies
/// in memory buy no throughput (docs/benchmarks.md, "Memory against connections").
pub const DEFAULT_BODY_MEMORY_BYTES: usize = 32 << 20;

/// Bytes of request bodies held at once across all connections beyond each one's first
/// [`FREE_BODY_BYTES`], one permit a byte: a body takes permits for what has arrived of it, so
/// a flood of large slow bodies waits for memory instead of taking more.
#[derive(Debug, Clone)]
pub struct BodyMemory {
    permits: Arc<Semaphore>,
    /// The whole budget: one request never waits for more than this (it then runs alone).
    total: usize,
}

impl BodyMemory {
    pub fn new(bytes: usize) -> Self {
        let total = bytes.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Makes `held` hold `extra` bytes more, for what a request builds from its body (the
    /// plain endpoint's frames). What it holds is given back and the sum taken at once: two
    /// requests each holding their body and waiting for more could otherwise wait forever.
    pub(crate) async fn grow(
        &self,
        held: &mut Option<OwnedSemaphorePermit>,
        extra: usize,
    ) -> Result<(), ApiError> {
        if extra == 0 {
            return Ok(());
        }
        let had = held.take().map_or(0, |p| p.num_permits());
        self.take(held, had + extra).await
    }

    /// Adds `n` bytes to what `held` holds, waiting for them.
    pub(super) async fn take(
        &self,
        held: &mut Option<OwnedSemaphorePermit>,
        n: usize,
    ) -> Result<(), ApiError> {
        let already = held.as_ref().map_or(0, |p| p.num_permits());
        let n = n.min(self.total.saturating_sub(already));
        if n == 0 {
            return Ok(());
        }
        let n = u32::try_from(n).map_err(|_| ApiError::slow_down())?;
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| ApiError::slow_down())?;
        match held {
            Some(h) => h.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Long enough that only a deadlock can exceed it.
    const LIVENESS: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn two_holders_that_both_grow_both_finish() {
        let memory = BodyMemory::new(100);
        let (mut a, mut b) = (None, None);
        memory.take(&mut a, 60).await.unwrap();
        memory.take(&mut b, 40).await.unwrap();
        // Each needs 30 more while the other holds the rest: kept holds would wait forever.
        let grow = |memory: BodyMemory, mut held: Option<OwnedSemaphorePermit>| async move {
            memory.grow(&mut held, 30).await.unwrap();
            let got = held.as_ref().map_or(0, |p| p.num_permits());
            drop(held);
            got
        };
        let a = tokio::spawn(grow(memory.clone(), a.take()));
        let b = tokio::spawn(grow(memory.clone(), b.take()));
        let (a, b) = tokio::time::timeout(LIVENESS, async { (a.await, b.await) })
            .await
            .expect("the two growing requests waited on each other");
        assert_eq!((a.unwrap(), b.unwrap()), (90, 70));
        assert_eq!(memory.permits.available_permits(), 100);
    }

    #[tokio::test]
    async fn a_request_larger_than_the_budget_takes_all_of_it_and_runs_alone() {
        let memory = BodyMemory::new(100);
        let mut big = None;
        memory.take(&mut big, 50).await.unwrap();
        memory.grow(&mut big, 500).await.unwrap();
        assert_eq!(big.as_ref().map(|p| p.num_permits()), Some(100));
        assert_eq!(memory.permits.available_permits(), 0);

        let mut small = None;
        {
            let waiting = memory.take(&mut small, 1);
            tokio::pin!(waiting);
            assert!(
                futures::poll!(waiting.as_mut()).is_pending(),
                "a second request must wait while the large one holds the budget"
            );
            drop(big);
            tokio::time::timeout(LIVENESS, waiting)
                .await
                .expect("the waiting request never got its byte")
                .unwrap();
        }
        assert_eq!(small.map(|p| p.num_permits()), Some(1));
    }

    #[tokio::test]
    async fn growing_by_nothing_keeps_what_is_held() {
        let memory = BodyMemory::new(100);
        let mut held = None;
        memory.take(&mut held, 10).await.unwrap();
        memory.grow(&mut held, 0).await.unwrap();
        assert_eq!(held.as_ref().map(|p| p.num_permits()), Some(10));
    }
}
