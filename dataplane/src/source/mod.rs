//! Sources other than Direct PUT: a Kinesis data stream or a Kafka topic, read into the log.
//!
//! The source's own retention is the durable buffer. A reader turns what it fetches into
//! [`SourceBatch`]es; the [`driver`] appends each to the log and remembers which source
//! positions the append reaches ([`commits`]); once the log's delivered checkpoint passes an
//! append, the driver hands its positions to the source's [`Committer`]. So a position is
//! committed only after every record up to it was delivered or written to the error output,
//! and a process that dies re-reads from the last commit: records are delivered again, never
//! lost. On start the log's undelivered records from before are skipped for the same reason.

pub mod commits;
pub mod driver;
pub mod kafka;
pub mod kinesis;

use std::future::Future;

use thiserror::Error;

use crate::wal::FrameBatch;

/// Records read from the source and the positions they reach.
pub struct SourceBatch<K, V> {
    pub frames: FrameBatch,
    /// Per source partition, the position to commit once these records are delivered. A
    /// batch may carry positions and no records (a Kinesis shard read to its end).
    pub positions: Vec<(K, V)>,
}

/// Why a source failed.
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("kinesis: {0}")]
    Kinesis(String),
    #[error("the source's configuration is invalid: {0}")]
    Config(String),
    #[error("reading a secret: {0}")]
    Secret(#[from] crate::support::secrets::SecretError),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("source checkpoint I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Commits positions whose records are delivered.
pub trait Committer<K, V>: Send + 'static {
    /// Commits each partition's position. An error is logged and counted; the positions are
    /// offered again with the next delivery progress (a later commit covers an earlier one).
    fn commit(
        &mut self,
        positions: Vec<(K, V)>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// The source's name in metrics labels and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kinesis,
    Kafka,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Kinesis => "kinesis",
            Kind::Kafka => "kafka",
        }
    }
}

/// What a source needs from the process.
pub struct Context<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub secrets_dir: &'a std::path::Path,
    /// The log's directory: sources keep their own state under `<dir>/source/`.
    pub log_dir: &'a std::path::Path,
    pub wal: crate::wal::Wal,
    /// The pipeline's delivered checkpoint.
    pub delivered: tokio::sync::watch::Receiver<u64>,
    pub metrics: crate::metrics::Metrics,
}

/// A running source: its reader, the appender and the committer.
pub struct Running {
    pub kind: Kind,
    stop: tokio::sync::watch::Sender<bool>,
    reader: tokio::task::JoinHandle<()>,
    appender: tokio::task::JoinHandle<Result<(), crate::wal::WalError>>,
    committer: tokio::task::JoinHandle<()>,
}

/// Batches queued between the reader and the log: enough to keep the log writer busy, few
/// enough that a full log stops the reader quickly.
const QUEUED_BATCHES: usize = 8;

impl Running {
    /// Starts reading `source`; `None` for Direct PUT.
    pub async fn start(
        source: &crds::Source,
        cx: Context<'_>,
    ) -> Result<Option<Self>, SourceError> {
        match source {
            crds::Source::DirectPut(_) => Ok(None),
            crds::Source::Kafka(spec) => Ok(Some(Self::kafka(spec, cx)?)),
            crds::Source::KinesisStream(spec) => Ok(Some(Self::kinesis(spec, cx).await?)),
        }
    }

    fn kafka(spec: &crds::KafkaSource, cx: Context<'_>) -> Result<Self, SourceError> {
        let commits: kafka::Commits = std::sync::Arc::default();
        let group = spec.group(cx.namespace, cx.name);
        let consumer = kafka::connect(
            spec,
            &group,
            cx.secrets_dir,
            commits.clone(),
            cx.delivered.clone(),
        )?;
        tracing::info!(topic = %spec.topic, group = %group, "reading the kafka topic");
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
        let reader = tokio::spawn(kafka::read(consumer.clone(), tx, stop_rx));
        let appender = tokio::spawn(driver::append_all(
            Kind::Kafka,
            cx.wal,
            commits.clone(),
            rx,
            cx.metrics.clone(),
        ));
        let committer = tokio::spawn(driver::commit_delivered(
            Kind::Kafka,
            commits,
            kafka::KafkaCommitter {
                consumer,
                metrics: cx.metrics.clone(),
                lag_due: std::time::Instant::now(),
            },
            cx.delivered,
            cx.metrics,
        ));
        Ok(Self {
            kind: Kind::Kafka,
            stop,
            reader,
            appender,
            committer,
        })
    }

    /// Reads a Kinesis stream, sharing its shards through Leases with the stream's other pods
    /// when `HYDRANT_POD_NAME` names this pod (the operator sets it), else alone with the
    /// checkpoints in the log's directory.
    async fn kinesis(
        spec: &crds::KinesisStreamSource,
        cx: Context<'_>,
    ) -> Result<Self, SourceError> {
        let stream = spec
            .name()
            .ok_or_else(|| {
                SourceError::Config("kinesisStream needs streamName or streamArn".to_owned())
            })?
            .to_owned();
        // Woken when a shard's end is committed or a Lease lost: the coordinator balances then.
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match var("HYDRANT_POD_NAME") {
            Some(pod) => {
                let client = kinesis::leases::client().await?;
                let namespace = var("HYDRANT_POD_NAMESPACE")
                    .unwrap_or_else(|| client.default_namespace().to_owned());
                let store = kinesis::leases::LeaseStore::new(
                    client,
                    &namespace,
                    cx.name,
                    &stream,
                    &pod,
                    wake.clone(),
                );
                Self::kinesis_with(spec, cx, stream, store, wake)
            }
            None => {
                let path = kinesis::checkpoints::path(cx.log_dir);
                let store = kinesis::store::FileStore::open(path, &stream)?;
                Self::kinesis_with(spec, cx, stream, store, wake)
            }
        }
    }

    fn kinesis_with<S: kinesis::store::ShardStore>(
        spec: &crds::KinesisStreamSource,
        cx: Context<'_>,
        stream: String,
        store: S,
        finished: std::sync::Arc<tokio::sync::Notify>,
    ) -> Result<Self, SourceError> {
        let client = kinesis::client(spec, cx.secrets_dir)?;
        let store = std::sync::Arc::new(store);
        tracing::info!(stream = %stream, "reading the kinesis stream");
        let commits: driver::SharedCommits<String, kinesis::lineage::Checkpoint> =
            std::sync::Arc::default();
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
        let coordinator = kinesis::Coordinator {
            client,
            stream: stream.clone(),
            initial: kinesis::initial_start(spec)?,
            store: store.clone(),
            commits: commits.clone(),
            finished: finished.clone(),
            batches: tx,
            stop: stop_rx,
            metrics: cx.metrics.clone(),
        };
        let reader = tokio::spawn(coordinator.run());
        let appender = tokio::spawn(driver::append_all(
            Kind::Kinesis,
            cx.wal,
            commits.clone(),
            rx,
            cx.metrics.clone(),
        ));
        let committer = kinesis::StoreCommitter {
            store: store.clone(),
            finished,
        };
        let (delivered, metrics) = (cx.delivered, cx.metrics);
        let committer = tokio::spawn(async move {
            driver::commit_delivered(Kind::Kinesis, commits, committer, delivered, metrics).await;
            // Everything delivered is committed: the shards are free for the next reader.
            store.close().await;
        });
        Ok(Self {
            kind: Kind::Kinesis,
            stop,
            reader,
            appender,
            committer,
        })
    }

    /// Stops reading and waits until everything read is in the log. The committer keeps
    /// going until the pipeline finishes ([`Running::finish`]).
    pub async fn stop_reading(&mut self) -> Result<(), crate::wal::WalError> {
        let _ = self.stop.send(true);
        if let Err(e) = (&mut self.reader).await {
            tracing::error!(error = %e, "source reader failed");
        }
        match (&mut self.appender).await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "source appender failed");
                Ok(())
            }
        }
    }

    /// Waits for the final commit (the pipeline has finished and dropped its checkpoint).
    pub async fn finish(self) {
        if let Err(e) = self.committer.await {
            tracing::error!(error = %e, "source committer failed");
        }
    }

    /// Resolves if the appender ends on its own: the log failed for good.
    pub async fn failed(&mut self) -> crate::wal::WalError {
        match (&mut self.appender).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) | Err(_) => crate::wal::WalError::Closed,
        }
    }
}
