//! The Kafka source: a consumer-group member (librdkafka) whose partitions Kafka's group
//! coordinator assigns; offsets are committed by hand, only after delivery.
//!
//! Rebalances: before partitions are revoked, whatever delivery already covers is committed
//! and the rest of their positions forgotten. Their records already read are still delivered
//! here, and the new owner reads them again from the last commit: duplicates, never loss.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::{mpsc, watch};

use super::driver::{SharedCommits, lock};
use super::{Committer, SourceBatch, SourceError};
use crate::metrics::Metrics;
use crate::support::clock::now_ms;
use crate::support::secrets;
use crate::wal::FrameBatch;
use crate::wal::frame::MAX_RECORD_LEN;
use crds::KafkaSource;

/// A batch sent to the log is cut at this many bytes of record data...
const BATCH_BYTES: u64 = 1 << 20;
/// ...or this many records...
const BATCH_RECORDS: u64 = 10_000;
/// ...or this long after its first record.
const LINGER: Duration = Duration::from_millis(20);
/// Bound on librdkafka calls made from the rebalance callback and the committer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A Kafka partition and the next offset to read (what Kafka stores as committed).
pub type Commits = SharedCommits<i32, i64>;

/// The consumer's callbacks: the start offset of new partitions and commits before revoke.
pub struct Context {
    topic: String,
    commits: Commits,
    delivered: watch::Receiver<u64>,
    /// Partitions without a committed offset start here (ms since the epoch).
    read_from_ms: Option<i64>,
    owned: Mutex<HashSet<i32>>,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.start_offsets(consumer, tpl);
                self.owned_mut().extend(partitions(tpl));
                tracing::info!(assigned = ?partitions(tpl).collect::<Vec<_>>(), "kafka: partitions assigned");
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.before_revoke(consumer, tpl);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(error = ?other, "kafka rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "kafka: applying a rebalance failed");
        }
    }
}

impl Context {
    fn owned_mut(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Partitions with no committed offset start at `readFromTimestamp` (or the earliest
    /// record, by `auto.offset.reset`).
    fn start_offsets(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let Some(ms) = self.read_from_ms else { return };
        let committed = match consumer.committed_offsets(tpl.clone(), CALL_TIMEOUT) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "kafka: reading committed offsets failed; starting from the stored positions");
                return;
            }
        };
        let mut wanted = TopicPartitionList::new();
        for e in committed.elements_for_topic(&self.topic) {
            if !matches!(e.offset(), Offset::Offset(_)) {
                let _ = wanted.add_partition_offset(&self.topic, e.partition(), Offset::Offset(ms));
            }
        }
        if wanted.count() == 0 {
            return;
        }
        match consumer.offsets_for_times(wanted, CALL_TIMEOUT) {
            Ok(found) => {
                for e in found.elements_for_topic(&self.topic) {
                    let _ = tpl.set_partition_offset(&self.topic, e.partition(), e.offset());
                    tracing::info!(partition = e.partition(), offset = ?e.offset(), "kafka: partition starts at readFromTimestamp");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "kafka: looking up offsets for readFromTimestamp failed; starting from the earliest record");
            }
        }
    }

    /// Commits what delivery covers, then forgets the revoked partitions' other positions.
    fn before_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let revoked: HashSet<i32> = partitions(tpl).collect();
        let ready = lock(&self.commits).take_ready(*self.delivered.borrow());
        if !ready.is_empty() {
            let list = self.offsets(&ready);
            if let Err(e) = consumer.commit(&list, CommitMode::Sync) {
                tracing::warn!(error = %e, "kafka: commit before revoke failed: those records will be read again");
            }
        }
        lock(&self.commits).forget(|p| revoked.contains(p));
        self.owned_mut().retain(|p| !revoked.contains(p));
        tracing::info!(revoked = ?revoked, "kafka: partitions revoked");
    }

    fn offsets(&self, positions: &[(i32, i64)]) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for &(partition, next) in positions {
            let _ = list.add_partition_offset(&self.topic, partition, Offset::Offset(next));
        }
        list
    }
}

fn partitions(tpl: &TopicPartitionList) -> impl Iterator<Item = i32> + '_ {
    tpl.elements().into_iter().map(|e| e.partition())
}

/// A consumer of the stream's topic, subscribed, with its callbacks.
pub type Kafka = Arc<StreamConsumer<Context>>;

/// Connects and subscribes (joining the group happens on the first poll).
pub fn connect(
    spec: &KafkaSource,
    group: &str,
    secrets_dir: &Path,
    commits: Commits,
    delivered: watch::Receiver<u64>,
) -> Result<Kafka, SourceError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &spec.bootstrap_servers)
        .set("group.id", group)
        .set("client.id", "hydrant")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.partition.eof", "false");
    let protocol = match (&spec.tls, &spec.sasl) {
        (None, None) => "PLAINTEXT",
        (Some(_), None) => "SSL",
        (None, Some(_)) => "SASL_PLAINTEXT",
        (Some(_), Some(_)) => "SASL_SSL",
    };
    config.set("security.protocol", protocol);
    if let Some(tls) = &spec.tls {
        match &tls.ca_secret {
            Some(secret) => config.set("ssl.ca.pem", secrets::read(secrets_dir, secret, "ca.crt")?),
            None => config.set("ssl.ca.location", "probe"),
        };
    }
    if let Some(sasl) = &spec.sasl {
        config
            .set("sasl.mechanism", sasl.mechanism.as_str())
            .set(
                "sasl.username",
                secrets::read(secrets_dir, &sasl.credentials_secret, "username")?,
            )
            .set(
                "sasl.password",
                secrets::read(secrets_dir, &sasl.credentials_secret, "password")?,
            );
    }
    for (key, value) in extra_properties()? {
        config.set(key, value);
    }
    let read_from_ms = spec
        .read_from_timestamp
        .as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.timestamp_millis())
                .map_err(|e| SourceError::Config(format!("readFromTimestamp {t:?}: {e}")))
        })
        .transpose()?;
    let context = Context {
        topic: spec.topic.clone(),
        commits,
        delivered,
        read_from_ms,
        owned: Mutex::default(),
    };
    let consumer: StreamConsumer<Context> = config.create_with_context(context)?;
    consumer.subscribe(&[&spec.topic])?;
    Ok(Arc::new(consumer))
}

/// librdkafka properties an operator adds or overrides, from `HYDRANT_KAFKA_PROPERTIES`
/// (`key=value` pairs separated by commas), for example
/// `session.timeout.ms=10000,fetch.max.bytes=104857600`.
fn extra_properties() -> Result<Vec<(String, String)>, SourceError> {
    let Ok(text) = std::env::var("HYDRANT_KAFKA_PROPERTIES") else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| {
                    SourceError::Config(format!(
                        "HYDRANT_KAFKA_PROPERTIES: {pair:?} is not key=value"
                    ))
                })
        })
        .collect()
}

/// Reads records into batches for the log until `stop` turns true.
pub async fn read(
    consumer: Kafka,
    batches: mpsc::Sender<SourceBatch<i32, i64>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut building = Building::default();
        let first = tokio::select! {
            message = consumer.recv() => message.map(|m| building.add(&m)),
            () = stopped(&mut stop) => return,
        };
        if let Err(e) = first {
            transient(&e).await;
            continue;
        }
        let deadline = tokio::time::Instant::now() + LINGER;
        while building.frames.payload_bytes() < BATCH_BYTES
            && building.frames.records() < BATCH_RECORDS
        {
            let next = match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(message) => message.map(|m| building.add(&m)),
                Err(_) => break,
            };
            if let Err(e) = next {
                transient(&e).await;
                break;
            }
        }
        if batches.send(building.finish()).await.is_err() {
            return;
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// librdkafka reconnects by itself; errors surfaced here are logged and waited out.
async fn transient(e: &KafkaError) {
    tracing::warn!(error = %e, "kafka: consume error");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// A batch being filled from consumed messages.
#[derive(Default)]
struct Building {
    frames: FrameBatch,
    positions: Vec<(i32, i64)>,
    /// One arrival time for the batch (it spans at most [`LINGER`]), read at its first record.
    arrival_ms: Option<u64>,
}

impl Building {
    fn add<M: Message>(&mut self, m: &M) {
        let next = m.offset() + 1;
        match self.positions.iter_mut().find(|(p, _)| *p == m.partition()) {
            Some(entry) => entry.1 = entry.1.max(next),
            None => self.positions.push((m.partition(), next)),
        }
        // A tombstone (no value) carries no record; its offset still counts as read.
        let Some(value) = m.payload() else { return };
        if value.len() > MAX_RECORD_LEN {
            tracing::error!(
                partition = m.partition(),
                offset = m.offset(),
                bytes = value.len(),
                "kafka: record larger than the 1,024,000-byte record limit skipped"
            );
            return;
        }
        let arrival = *self.arrival_ms.get_or_insert_with(now_ms);
        self.frames.push(arrival, value);
    }

    fn finish(self) -> SourceBatch<i32, i64> {
        SourceBatch {
            frames: self.frames,
            positions: self.positions,
        }
    }
}

/// Commits offsets of partitions this member still owns, and reports each one's lag.
pub struct KafkaCommitter {
    pub consumer: Kafka,
    pub metrics: Metrics,
    /// Lag needs a round trip per partition: it is measured at most every [`LAG_EVERY`].
    pub lag_due: std::time::Instant,
}

/// How often consumer lag is measured.
const LAG_EVERY: Duration = Duration::from_secs(10);

impl Committer<i32, i64> for KafkaCommitter {
    async fn commit(&mut self, positions: Vec<(i32, i64)>) -> Result<(), SourceError> {
        let consumer = self.consumer.clone();
        let metrics = self.metrics.clone();
        let measure_lag = self.lag_due.elapsed() > Duration::ZERO;
        if measure_lag {
            self.lag_due = std::time::Instant::now() + LAG_EVERY;
        }
        tokio::task::spawn_blocking(move || {
            let context = consumer.context();
            let owned = context.owned_mut().clone();
            let mine: Vec<(i32, i64)> = positions
                .into_iter()
                .filter(|(p, _)| owned.contains(p))
                .collect();
            if mine.is_empty() {
                return Ok(());
            }
            consumer.commit(&context.offsets(&mine), CommitMode::Sync)?;
            if !measure_lag {
                return Ok(());
            }
            for (partition, next) in mine {
                if let Ok((_, high)) =
                    consumer.fetch_watermarks(&context.topic, partition, CALL_TIMEOUT)
                {
                    metrics
                        .source_lag_records
                        .with_label_values(&[&partition.to_string()])
                        .set((high - next).max(0));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| SourceError::Config(format!("commit task failed: {e}")))?
    }
}
