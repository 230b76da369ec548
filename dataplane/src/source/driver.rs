//! The two loops every source shares: appending what the reader fetched to the log, and
//! committing source positions as delivery passes them.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::commits::Commits;
use super::{Committer, Kind, SourceBatch};
use crate::metrics::Metrics;
use crate::wal::{FrameBatch, Wal, WalError};

/// Commits follow delivery at most this often: each is a round trip to the source (Kafka) or
/// an fsync (Kinesis checkpoints), and a later commit covers an earlier one.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(500);

/// A failed commit is tried again after this long even when delivery has not moved since:
/// the records behind it may be the last ones the source will ever send.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// How long to wait before retrying an append the log refused for lack of space.
const FULL_BACKOFF: Duration = Duration::from_millis(100);

/// Positions waiting for delivery, shared by the appender, the committer and a reader that
/// must forget partitions it lost.
pub type SharedCommits<K, V> = Arc<Mutex<Commits<K, V>>>;

/// Locks the shared positions; a panic elsewhere leaves them usable (every update is whole).
pub fn lock<K, V>(commits: &SharedCommits<K, V>) -> MutexGuard<'_, Commits<K, V>> {
    commits.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends every batch the reader sends to the log, in order, and remembers its positions.
/// Returns when the reader closes the channel, or with the log's error if it fails for good.
pub async fn append_all<K, V>(
    kind: Kind,
    wal: Wal,
    commits: SharedCommits<K, V>,
    mut batches: mpsc::Receiver<SourceBatch<K, V>>,
    metrics: Metrics,
) -> Result<(), WalError>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    let records = metrics.source_records.with_label_values(&[kind.label()]);
    let bytes = metrics.source_bytes.with_label_values(&[kind.label()]);
    while let Some(batch) = batches.recv().await {
        let (count, payload) = (batch.frames.records(), batch.frames.payload_bytes());
        let appended = append_waiting(&wal, batch.frames).await?;
        records.inc_by(count);
        bytes.inc_by(payload);
        lock(&commits).record(appended.first + appended.count, batch.positions);
    }
    Ok(())
}

/// Appends, waiting while the log is full: the source holds the records, so the reader is
/// simply slowed down (its channel fills), never refused.
async fn append_waiting(
    wal: &Wal,
    mut frames: FrameBatch,
) -> Result<crate::wal::Appended, WalError> {
    loop {
        while wal.is_full() {
            tokio::time::sleep(FULL_BACKOFF).await;
        }
        // The log can still refuse the append if it fills meanwhile (partition spools count
        // against its bound too); keep a copy only when that is plausible.
        let near_full = wal.used_bytes() + frames.len() as u64 > wal.max_bytes() / 2;
        let retry = near_full.then(|| frames.clone());
        match (wal.append(frames).await, retry) {
            (Err(WalError::Full), Some(again)) => frames = again,
            (other, _) => return other,
        }
    }
}

/// Commits positions as the delivered checkpoint passes them, until `delivered`'s sender is
/// dropped (the pipeline finished); then commits what the final checkpoint covers and returns.
pub async fn commit_delivered<K, V, C>(
    kind: Kind,
    commits: SharedCommits<K, V>,
    mut committer: C,
    mut delivered: watch::Receiver<u64>,
    metrics: Metrics,
) where
    K: Eq + Hash + Clone + Send,
    V: Clone + Send,
    C: Committer<K, V>,
{
    // Positions whose commit failed, offered again with the next round.
    let mut carried: HashMap<K, V> = HashMap::new();
    loop {
        let open = if carried.is_empty() {
            delivered.changed().await.is_ok()
        } else {
            tokio::time::timeout(RETRY_AFTER, delivered.changed())
                .await
                .map_or(true, |changed| changed.is_ok())
        };
        let upto = *delivered.borrow_and_update();
        let ready = lock(&commits).take_ready(upto);
        let mut round: HashMap<K, V> = std::mem::take(&mut carried);
        round.extend(ready);
        if !round.is_empty() {
            let positions: Vec<(K, V)> =
                round.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            match committer.commit(positions).await {
                Ok(()) => metrics
                    .source_commits
                    .with_label_values(&[kind.label(), "success"])
                    .inc(),
                Err(e) => {
                    tracing::warn!(source = kind.label(), error = %e, "committing source positions failed; retrying with the next");
                    metrics
                        .source_commits
                        .with_label_values(&[kind.label(), "failure"])
                        .inc();
                    carried = round;
                }
            }
        }
        if !open {
            if !carried.is_empty() {
                tracing::warn!(
                    source = kind.label(),
                    partitions = carried.len(),
                    "the last commit failed: those records will be read and delivered again"
                );
            }
            return;
        }
        tokio::time::sleep(COMMIT_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceError;
    use crds::Durability;

    struct Recorder(Arc<Mutex<Vec<(u32, u64)>>>);

    /// Refuses its first commit, as Kafka does while the group rebalances.
    struct FailsOnce {
        failed: bool,
        seen: Arc<Mutex<Vec<(u32, u64)>>>,
    }

    impl Committer<u32, u64> for FailsOnce {
        async fn commit(&mut self, positions: Vec<(u32, u64)>) -> Result<(), SourceError> {
            if !self.failed {
                self.failed = true;
                return Err(SourceError::Config("rebalance in progress".into()));
            }
            self.seen.lock().expect("lock").extend(positions);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failed_commit_is_retried_without_further_delivery() {
        let metrics = Metrics::new("ns", "s").expect("metrics");
        let commits: SharedCommits<u32, u64> = Arc::default();
        lock(&commits).record(10, vec![(3, 42)]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (delivered_tx, delivered_rx) = watch::channel(0u64);
        let committer = tokio::spawn(commit_delivered(
            Kind::Kafka,
            commits,
            FailsOnce {
                failed: false,
                seen: seen.clone(),
            },
            delivered_rx,
            metrics,
        ));
        // The last delivery the stream will see: nothing moves after it.
        delivered_tx.send_replace(10);
        let deadline = tokio::time::Instant::now() + RETRY_AFTER * 5;
        while seen.lock().expect("lock").is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(*seen.lock().expect("lock"), vec![(3, 42)]);
        drop(delivered_tx);
        committer.await.expect("join");
    }

    impl Committer<u32, u64> for Recorder {
        async fn commit(&mut self, positions: Vec<(u32, u64)>) -> Result<(), SourceError> {
            self.0.lock().expect("lock").extend(positions);
            Ok(())
        }
    }

    #[tokio::test]
    async fn positions_are_committed_only_after_delivery_passes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _) = Wal::open(crate::wal::WalConfig {
            dir: dir.path().to_path_buf(),
            max_bytes: 64 << 20,
            segment_bytes: 1 << 20,
            durability: Durability::None,
            encryption: None,
            keyring: Vec::new(),
        })
        .expect("open");
        let metrics = Metrics::new("ns", "s").expect("metrics");
        let commits: SharedCommits<u32, u64> = Arc::default();
        let (tx, rx) = mpsc::channel(4);
        let appender = tokio::spawn(append_all(
            Kind::Kafka,
            wal.clone(),
            commits.clone(),
            rx,
            metrics.clone(),
        ));
        for offset in 0..3u64 {
            let mut frames = FrameBatch::default();
            frames.push(0, b"r");
            frames.push(0, b"s");
            tx.send(SourceBatch {
                frames,
                positions: vec![(7, offset + 1)],
            })
            .await
            .expect("send");
        }
        drop(tx);
        appender.await.expect("join").expect("append");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (delivered_tx, delivered_rx) = watch::channel(0u64);
        let committer = tokio::spawn(commit_delivered(
            Kind::Kafka,
            commits.clone(),
            Recorder(seen.clone()),
            delivered_rx,
            metrics,
        ));
        // Records 0..4 delivered: the first two appends (ending at 2 and 4) are done.
        delivered_tx.send_replace(4);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*seen.lock().expect("lock"), vec![(7, 2)]);
        delivered_tx.send_replace(5);
        drop(delivered_tx);
        committer.await.expect("join");
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![(7, 2)],
            "5 < 6: not the third"
        );
        assert_eq!(lock(&commits).pending(), 1);
    }
}
