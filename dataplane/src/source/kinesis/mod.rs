//! The Kinesis source: every shard of a Kinesis data stream (AWS or any Kinesis-compatible
//! server) read with GetRecords, children after their parents, checkpointed after delivery.
//!
//! Under `hydrant run` one process reads all shards and keeps the checkpoints in its log
//! directory ([`checkpoints`]).

pub mod checkpoints;
pub mod lineage;
pub mod shard;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::DateTime;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::{Committer, SourceBatch, SourceError};
use crate::metrics::Metrics;
use crate::support::secrets;
use crds::{KinesisStreamSource, StartingPosition};
use lineage::{Checkpoint, ShardInfo};
use shard::{Ended, ShardReader, Start, aws_error};

/// How often the shard list is read again (new shards from a reshard; closed ones).
const RESCAN: Duration = Duration::from_secs(10);

/// The checkpoints every part shares: the committer writes them, the coordinator reads them
/// to know which parents are finished.
pub type Checkpoints = Arc<Mutex<HashMap<String, Checkpoint>>>;

fn lock(c: &Checkpoints) -> MutexGuard<'_, HashMap<String, Checkpoint>> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// A client for the stream's endpoint and region. SDK retries are off: throttling is counted
/// and backed off by the readers themselves.
pub fn client(spec: &KinesisStreamSource, secrets_dir: &Path) -> Result<Client, SourceError> {
    let (id, secret, token) = match &spec.credentials_secret {
        Some(s) => (
            secrets::read(secrets_dir, s, "accessKeyId")?,
            secrets::read(secrets_dir, s, "secretAccessKey")?,
            secrets::read_optional(secrets_dir, s, "sessionToken")?,
        ),
        None => {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
                (Some(id), Some(secret)) => (id, secret, var("AWS_SESSION_TOKEN")),
                _ => {
                    return Err(SourceError::Config(
                        "kinesisStream needs credentials: set credentialsSecret, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned(),
                    ));
                }
            }
        }
    };
    let mut config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(spec.signing_region()))
        .credentials_provider(Credentials::new(id, secret, token, None, "hydrant"))
        .retry_config(RetryConfig::disabled());
    if let Some(endpoint) = &spec.endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(Client::from_conf(config.build()))
}

/// Where shards without a checkpoint and without retained parents start.
pub fn initial_start(spec: &KinesisStreamSource) -> Result<Start, SourceError> {
    Ok(match spec.starting_position {
        StartingPosition::Latest => Start::Latest,
        StartingPosition::TrimHorizon => Start::TrimHorizon,
        StartingPosition::AtTimestamp => {
            let text = spec.timestamp.as_deref().unwrap_or_default();
            let t = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| SourceError::Config(format!("timestamp {text:?}: {e}")))?;
            Start::AtTimestamp(DateTime::from_millis(t.timestamp_millis()))
        }
    })
}

/// Starts and restarts shard readers as the shard list and the checkpoints allow.
pub struct Coordinator {
    pub client: Client,
    pub stream: String,
    pub initial: Start,
    pub checkpoints: Checkpoints,
    /// Woken when a shard's end is committed, so its children start at once.
    pub finished: Arc<Notify>,
    pub batches: mpsc::Sender<SourceBatch<String, Checkpoint>>,
    pub stop: watch::Receiver<bool>,
    pub metrics: Metrics,
}

impl Coordinator {
    pub async fn run(mut self) {
        let mut running: HashMap<String, JoinHandle<Ended>> = HashMap::new();
        // Shards read to their end by this process: never started again (their end may not be
        // committed yet).
        let mut ended: HashSet<String> = HashSet::new();
        loop {
            let mut finished_readers = Vec::new();
            for (id, handle) in &running {
                if handle.is_finished() {
                    finished_readers.push(id.clone());
                }
            }
            for id in finished_readers {
                if let Some(handle) = running.remove(&id)
                    && let Ok(Ended::ShardEnd) = handle.await
                {
                    ended.insert(id);
                }
            }
            match self.list().await {
                Ok(shards) => {
                    let checkpoints = lock(&self.checkpoints).clone();
                    for shard in lineage::readable(&shards, &checkpoints) {
                        if running.contains_key(&shard.id) || ended.contains(&shard.id) {
                            continue;
                        }
                        let start = match checkpoints.get(&shard.id) {
                            Some(Checkpoint::SequenceNumber(s)) => Start::After(s.clone()),
                            _ if lineage::starts_at_oldest(shard, &shards) => Start::TrimHorizon,
                            _ => self.initial.clone(),
                        };
                        tracing::info!(shard = %shard.id, start = ?start, "kinesis: reading shard");
                        let reader = ShardReader {
                            client: self.client.clone(),
                            stream: self.stream.clone(),
                            shard: shard.id.clone(),
                            start,
                            batches: self.batches.clone(),
                            stop: self.stop.clone(),
                            metrics: self.metrics.clone(),
                        };
                        running.insert(shard.id.clone(), tokio::spawn(reader.run()));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "kinesis: listing shards failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(RESCAN) => {}
                () = self.finished.notified() => {}
                _ = self.stop.wait_for(|s| *s) => break,
            }
        }
        for (_, handle) in running {
            let _ = handle.await;
        }
    }

    /// Every shard of the stream (ListShards, paginated).
    async fn list(&self) -> Result<Vec<ShardInfo>, String> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let call = match &token {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_name(&self.stream),
            };
            let out = call.send().await.map_err(|e| {
                if matches!(
                    e.as_service_error(),
                    Some(aws_sdk_kinesis::operation::list_shards::ListShardsError::LimitExceededException(_))
                ) {
                    self.metrics
                        .source_throttled
                        .with_label_values(&["kinesis", "ListShards"])
                        .inc();
                }
                aws_error(&e)
            })?;
            shards.extend(out.shards().iter().map(|s| ShardInfo {
                id: s.shard_id().to_owned(),
                parent: s.parent_shard_id().map(str::to_owned),
                adjacent_parent: s.adjacent_parent_shard_id().map(str::to_owned),
            }));
            match out.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(shards),
            }
        }
    }
}

/// Writes delivered positions to the checkpoint file.
pub struct FileCommitter {
    pub path: PathBuf,
    pub stream: String,
    pub checkpoints: Checkpoints,
    pub finished: Arc<Notify>,
}

impl Committer<String, Checkpoint> for FileCommitter {
    async fn commit(&mut self, positions: Vec<(String, Checkpoint)>) -> Result<(), SourceError> {
        let mut any_end = false;
        let snapshot = {
            let mut checkpoints = lock(&self.checkpoints);
            for (shard, checkpoint) in positions {
                any_end |= checkpoint == Checkpoint::ShardEnd;
                // A shard's end is final: a late sequence number never replaces it.
                if checkpoints.get(&shard) != Some(&Checkpoint::ShardEnd) {
                    checkpoints.insert(shard, checkpoint);
                }
            }
            checkpoints.clone()
        };
        let (path, stream) = (self.path.clone(), self.stream.clone());
        tokio::task::spawn_blocking(move || checkpoints::store(&path, &stream, &snapshot))
            .await
            .map_err(|e| SourceError::Config(format!("checkpoint task failed: {e}")))??;
        if any_end {
            self.finished.notify_one();
        }
        Ok(())
    }
}
