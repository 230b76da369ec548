//! The Kinesis source: every shard of a Kinesis data stream (AWS or any Kinesis-compatible
//! server) read with GetRecords, children after their parents, checkpointed after delivery.
//!
//! Under `hydrant run` one process reads all shards and keeps the checkpoints in its log
//! directory ([`checkpoints`]); the pods of a stream in a cluster share the shards and keep
//! the checkpoints in Kubernetes Leases ([`leases`]).

pub mod checkpoints;
pub mod leases;
pub mod lineage;
pub mod shard;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::DateTime;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::driver::{SharedCommits, lock};
use super::{Committer, SourceBatch, SourceError};
use crate::metrics::Metrics;
use crate::support::secrets;
use crds::{KinesisStreamSource, StartingPosition};
use lineage::{Checkpoint, ShardInfo};
use shard::{Ended, ShardReader, Start, aws_error};
use store::ShardStore;

/// How often the shard list is read again (new shards from a reshard; closed ones).
const RESCAN: Duration = Duration::from_secs(10);

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

/// Starts and stops shard readers as the shard list, the checkpoints and the store's
/// balance allow.
pub struct Coordinator<S> {
    pub client: Client,
    pub stream: String,
    pub initial: Start,
    pub store: Arc<S>,
    /// Positions waiting for delivery: a released shard's are forgotten.
    pub commits: SharedCommits<String, Checkpoint>,
    /// Woken when a shard's end is committed, so its children start at once, and when the
    /// store loses a shard to another reader, so its reader stops at once.
    pub finished: Arc<Notify>,
    pub batches: mpsc::Sender<SourceBatch<String, Checkpoint>>,
    pub stop: watch::Receiver<bool>,
    pub metrics: Metrics,
}

/// A shard reader and the switch that stops it alone.
struct Reading {
    stop: watch::Sender<bool>,
    task: JoinHandle<Ended>,
}

impl<S: ShardStore> Coordinator<S> {
    pub async fn run(mut self) {
        let mut running: HashMap<String, Reading> = HashMap::new();
        // Shards read to their end by this process: never started again (their end may not be
        // committed yet).
        let mut ended: HashSet<String> = HashSet::new();
        loop {
            reap(&mut running, &mut ended).await;
            if let Err(e) = self.round(&mut running, &ended).await {
                tracing::warn!(error = %e, "kinesis: assigning shards failed");
            }
            tokio::select! {
                () = tokio::time::sleep(RESCAN) => {}
                () = self.finished.notified() => {}
                _ = self.stop.wait_for(|s| *s) => break,
            }
        }
        for reading in running.values() {
            let _ = reading.stop.send(true);
        }
        for (_, reading) in running {
            let _ = reading.task.await;
        }
    }

    /// One pass: list shards, ask the store for the balance, stop and start readers.
    async fn round(
        &self,
        running: &mut HashMap<String, Reading>,
        ended: &HashSet<String>,
    ) -> Result<(), String> {
        let shards = self.list().await?;
        let checkpoints = self.store.checkpoints().await.map_err(|e| e.to_string())?;
        let readable: Vec<String> = lineage::readable(&shards, &checkpoints)
            .into_iter()
            .map(|s| s.id.clone())
            .filter(|id| !ended.contains(id))
            .collect();
        let assignment = self
            .store
            .balance(&readable)
            .await
            .map_err(|e| e.to_string())?;
        for shard in &assignment.release {
            if let Some(reading) = running.remove(shard) {
                let _ = reading.stop.send(true);
                let _ = reading.task.await;
            }
            // Records already read are still delivered; the next holder reads from the
            // checkpoint, so dropping their positions can only cause duplicates.
            lock(&self.commits).forget(|k| k == shard);
            if let Err(e) = self.store.release(shard).await {
                tracing::warn!(shard = %shard, error = %e, "kinesis: releasing a shard failed");
            }
            tracing::info!(shard = %shard, "kinesis: shard released to another reader");
        }
        for id in &assignment.read {
            if running.contains_key(id) {
                continue;
            }
            let Some(shard) = shards.iter().find(|s| &s.id == id) else {
                continue;
            };
            let start = match checkpoints.get(id) {
                Some(Checkpoint::SequenceNumber(s)) => Start::After(s.clone()),
                _ if lineage::starts_at_oldest(shard, &shards) => Start::TrimHorizon,
                _ => self.initial.clone(),
            };
            tracing::info!(shard = %id, start = ?start, "kinesis: reading shard");
            running.insert(id.clone(), self.spawn_reader(id, start));
        }
        Ok(())
    }

    fn spawn_reader(&self, shard: &str, start: Start) -> Reading {
        // Its own switch: the coordinator flips it on a release and when the process stops.
        let (stop, own) = watch::channel(false);
        let reader = ShardReader {
            client: self.client.clone(),
            stream: self.stream.clone(),
            shard: shard.to_owned(),
            start,
            batches: self.batches.clone(),
            stop: own,
            metrics: self.metrics.clone(),
        };
        Reading {
            stop,
            task: tokio::spawn(reader.run()),
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

/// Forgets finished readers, remembering those that read their shard to its end.
async fn reap(running: &mut HashMap<String, Reading>, ended: &mut HashSet<String>) {
    let done: Vec<String> = running
        .iter()
        .filter(|(_, r)| r.task.is_finished())
        .map(|(id, _)| id.clone())
        .collect();
    for id in done {
        if let Some(reading) = running.remove(&id)
            && let Ok(Ended::ShardEnd) = reading.task.await
        {
            ended.insert(id);
        }
    }
}

/// Commits delivered positions to the store, waking the coordinator when a shard's end is
/// committed (its children may start).
pub struct StoreCommitter<S> {
    pub store: Arc<S>,
    pub finished: Arc<Notify>,
}

impl<S: ShardStore> Committer<String, Checkpoint> for StoreCommitter<S> {
    async fn commit(&mut self, positions: Vec<(String, Checkpoint)>) -> Result<(), SourceError> {
        let any_end = positions.iter().any(|(_, c)| *c == Checkpoint::ShardEnd);
        self.store.commit(positions).await?;
        if any_end {
            self.finished.notify_one();
        }
        Ok(())
    }
}
