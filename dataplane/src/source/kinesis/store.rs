//! Where shard checkpoints live and which shards this process reads: a [`ShardStore`]. Under
//! `hydrant run` one process reads every shard and keeps the checkpoints in a file
//! ([`FileStore`]); in a cluster the stream's pods share shards through Leases.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::checkpoints;
use super::lineage::Checkpoint;
use crate::source::SourceError;

/// Which of the readable shards to read, and which held ones to give up.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    pub read: Vec<String>,
    pub release: Vec<String>,
}

/// Checkpoints and shard ownership.
pub trait ShardStore: Send + Sync + 'static {
    /// The checkpoint of every shard that has one (parents' ends decide what is readable).
    fn checkpoints(
        &self,
    ) -> impl Future<Output = Result<HashMap<String, Checkpoint>, SourceError>> + Send;

    /// Of `readable` (shards not finished whose parents are), the ones this process is to
    /// read — claimed for it — and those it holds but must give up to balance the readers.
    fn balance(
        &self,
        readable: &[String],
    ) -> impl Future<Output = Result<Assignment, SourceError>> + Send;

    /// Gives up a shard whose reader has stopped: its next holder reads from its checkpoint.
    fn release(&self, shard: &str) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Stores delivered positions of shards this process still holds (others are skipped:
    /// their new holder's checkpoints win).
    fn commit(
        &self,
        positions: Vec<(String, Checkpoint)>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Gives up every shard once the last delivered position is committed (the process
    /// stops), so another reader need not wait for an expiry.
    fn close(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// All shards, checkpoints in `<log dir>/source/kinesis-checkpoints.json`.
pub struct FileStore {
    path: PathBuf,
    stream: String,
    checkpoints: Mutex<HashMap<String, Checkpoint>>,
}

impl FileStore {
    /// Loads the stored checkpoints of `stream`.
    pub fn open(path: PathBuf, stream: &str) -> Result<Self, SourceError> {
        let stored = checkpoints::load(&path, stream)?;
        tracing::info!(checkpoints = stored.len(), path = %path.display(), "kinesis: checkpoints loaded");
        Ok(Self {
            path,
            stream: stream.to_owned(),
            checkpoints: Mutex::new(stored),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Checkpoint>> {
        self.checkpoints.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShardStore for FileStore {
    async fn checkpoints(&self) -> Result<HashMap<String, Checkpoint>, SourceError> {
        Ok(self.lock().clone())
    }

    async fn balance(&self, readable: &[String]) -> Result<Assignment, SourceError> {
        Ok(Assignment {
            read: readable.to_vec(),
            release: Vec::new(),
        })
    }

    async fn release(&self, _shard: &str) -> Result<(), SourceError> {
        Ok(())
    }

    async fn commit(&self, positions: Vec<(String, Checkpoint)>) -> Result<(), SourceError> {
        let snapshot = {
            let mut checkpoints = self.lock();
            for (shard, checkpoint) in positions {
                merge(&mut checkpoints, shard, checkpoint);
            }
            checkpoints.clone()
        };
        let (path, stream) = (self.path.clone(), self.stream.clone());
        tokio::task::spawn_blocking(move || checkpoints::store(&path, &stream, &snapshot))
            .await
            .map_err(|e| SourceError::Config(format!("checkpoint task failed: {e}")))??;
        Ok(())
    }
}

/// Records a shard's new checkpoint; a shard's end is final, a late sequence number never
/// replaces it.
pub fn merge(checkpoints: &mut HashMap<String, Checkpoint>, shard: String, checkpoint: Checkpoint) {
    if checkpoints.get(&shard) != Some(&Checkpoint::ShardEnd) {
        checkpoints.insert(shard, checkpoint);
    }
}
