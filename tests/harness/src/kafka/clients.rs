//! The client side of [`Kafka`]: topics, producing, consuming, offsets, authentication checks,
//! all with rdkafka (librdkafka). Blocking librdkafka calls run on tokio's blocking threads.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{
    BaseProducer, DeliveryResult, FutureProducer, FutureRecord, Producer, ProducerContext,
};
use rdkafka::{Offset, TopicPartitionList};

use super::{Auth, ConsumedRecord, Kafka, ProducedRecord, READY_TIMEOUT, REQUEST_TIMEOUT};

impl Kafka {
    /// Whether `auth` gets a metadata answer from the broker. On failure, the error is the one
    /// librdkafka reported for the connection (an authentication failure is
    /// `KafkaError::Global(RDKafkaErrorCode::Authentication)`) if it reported one, else the
    /// request's own error.
    pub async fn check_auth(&self, auth: &Auth) -> Result<(), KafkaError> {
        let config = self.client_config(auth);
        tokio::task::spawn_blocking(move || {
            let context = ErrorContext::default();
            let errors = context.0.clone();
            let client: BaseProducer<ErrorContext> = config.create_with_context(context)?;
            // Short requests, with polls between them: the error callback (an authentication
            // failure) runs from poll, long before a request would time out.
            let deadline = Instant::now() + Duration::from_secs(10);
            let (fetched, reported) = loop {
                let fetched = client
                    .client()
                    .fetch_metadata(None, Duration::from_millis(500));
                client.poll(Duration::from_millis(50));
                let reported = errors.lock().map(|e| e.first().cloned()).unwrap_or(None);
                if fetched.is_ok() || reported.is_some() || Instant::now() > deadline {
                    break (fetched, reported);
                }
            };
            match (fetched, reported) {
                (Ok(_), _) => Ok(()),
                (Err(_), Some(reported)) => Err(reported),
                (Err(e), None) => Err(e),
            }
        })
        .await
        .expect("check_auth task")
    }

    /// Creates `name` with `partitions` partitions (replication factor 1) and waits until the
    /// metadata shows every partition with a leader.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config(&Auth::Plaintext)
            .create()
            .expect("Kafka admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let results = admin
            .create_topics(
                [&topic],
                &AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT)),
            )
            .await
            .unwrap_or_else(|e| panic!("create topic {name}: {e}"));
        for result in results {
            if let Err((topic, code)) = result {
                panic!("create topic {topic}: {code}");
            }
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let config = self.client_config(&Auth::Plaintext);
            let topic = name.to_owned();
            let ready = tokio::task::spawn_blocking(move || {
                let admin: AdminClient<DefaultClientContext> = config.create()?;
                let metadata = admin
                    .inner()
                    .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)?;
                Ok::<_, KafkaError>(metadata.topics().iter().any(|t| {
                    t.name() == topic
                        && t.error().is_none()
                        && t.partitions().len() == partitions as usize
                        && t.partitions()
                            .iter()
                            .all(|p| p.leader() >= 0 && p.error().is_none())
                }))
            })
            .await
            .expect("metadata task");
            if matches!(ready, Ok(true)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "topic {name}: not every partition has a leader within {READY_TIMEOUT:?} \
                 ({ready:?}): see {}",
                self.log_path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Produces `records` over PLAINTEXT (acks=all, idempotent) and returns once every one is
    /// acknowledged: each record's partition and offset, in order. Panics on a failed delivery.
    pub async fn produce(&self, topic: &str, records: &[ProducedRecord]) -> Vec<(i32, i64)> {
        self.produce_as(&Auth::Plaintext, topic, records).await
    }

    /// [`Kafka::produce`] authenticated as `auth`.
    pub async fn produce_as(
        &self,
        auth: &Auth,
        topic: &str,
        records: &[ProducedRecord],
    ) -> Vec<(i32, i64)> {
        self.try_produce_as(auth, topic, records)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "produce to {topic} as {auth:?}: {e} (broker log: {})",
                    self.log_path().display()
                )
            })
    }

    /// [`Kafka::produce_as`], returning the first failure instead of panicking.
    pub async fn try_produce_as(
        &self,
        auth: &Auth,
        topic: &str,
        records: &[ProducedRecord],
    ) -> Result<Vec<(i32, i64)>, KafkaError> {
        produce_with(self.client_config(auth), topic, records).await
    }

    /// Every record of `topic` from the beginning up to the end offsets at the call, over
    /// PLAINTEXT, sorted by partition and offset.
    pub async fn consume_all(&self, topic: &str) -> Vec<ConsumedRecord> {
        self.consume_all_as(&Auth::Plaintext, topic).await
    }

    /// [`Kafka::consume_all`] authenticated as `auth` (the ends are read over PLAINTEXT).
    pub async fn consume_all_as(&self, auth: &Auth, topic: &str) -> Vec<ConsumedRecord> {
        let marks = self.watermarks(topic).await;
        let mut config = self.client_config(auth);
        config
            .set("group.id", "hydrant-harness-consume-all")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest");
        let topic = topic.to_owned();
        let log = self.log_path();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().expect("Kafka consumer");
            let mut assignment = TopicPartitionList::new();
            for (&partition, &(low, _)) in &marks {
                assignment
                    .add_partition_offset(&topic, partition, Offset::Offset(low))
                    .expect("assignment");
            }
            consumer.assign(&assignment).expect("assign");
            let ends: BTreeMap<i32, i64> = marks.iter().map(|(&p, &(_, high))| (p, high)).collect();
            let mut next: BTreeMap<i32, i64> =
                marks.iter().map(|(&p, &(low, _))| (p, low)).collect();
            let mut records = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            while next.iter().any(|(p, n)| Some(n) < ends.get(p)) {
                assert!(
                    Instant::now() < deadline,
                    "consume {topic}: at {next:?} of {ends:?} after 120 s (broker log: {})",
                    log.display()
                );
                let Some(polled) = consumer.poll(Duration::from_millis(200)) else {
                    // Past offsets that hold no record for the application (transaction markers).
                    if let Ok(positions) = consumer.position() {
                        for e in positions.elements() {
                            if let (Offset::Offset(o), Some(n)) =
                                (e.offset(), next.get_mut(&e.partition()))
                            {
                                *n = (*n).max(o);
                            }
                        }
                    }
                    continue;
                };
                let m = polled.unwrap_or_else(|e| panic!("consume {topic}: {e}"));
                next.insert(m.partition(), m.offset() + 1);
                records.push(ConsumedRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    timestamp_ms: m.timestamp().to_millis(),
                });
            }
            records.retain(|r| ends.get(&r.partition).is_some_and(|&end| r.offset < end));
            records.sort_by_key(|r| (r.partition, r.offset));
            records
        })
        .await
        .expect("consume task")
    }

    /// The partitions of `topic`, from the metadata.
    async fn partitions(&self, topic: &str) -> Vec<i32> {
        let config = self.client_config(&Auth::Plaintext);
        let name = topic.to_owned();
        let partitions = tokio::task::spawn_blocking(move || {
            let admin: AdminClient<DefaultClientContext> = config.create()?;
            let metadata = admin.inner().fetch_metadata(Some(&name), REQUEST_TIMEOUT)?;
            Ok::<_, KafkaError>(
                metadata
                    .topics()
                    .iter()
                    .filter(|t| t.name() == name && t.error().is_none())
                    .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                    .collect::<Vec<_>>(),
            )
        })
        .await
        .expect("metadata task")
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
        assert!(!partitions.is_empty(), "topic {topic} has no partitions");
        partitions
    }

    /// Each partition's high watermark (the offset the next record gets).
    pub async fn end_offsets(&self, topic: &str) -> BTreeMap<i32, i64> {
        let marks = self.watermarks(topic).await;
        marks.into_iter().map(|(p, (_, high))| (p, high)).collect()
    }

    /// Each partition's low and high watermarks.
    async fn watermarks(&self, topic: &str) -> BTreeMap<i32, (i64, i64)> {
        let partitions = self.partitions(topic).await;
        let config = self.client_config(&Auth::Plaintext);
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().expect("Kafka consumer");
            partitions
                .into_iter()
                .map(|p| {
                    let marks = consumer
                        .fetch_watermarks(&topic, p, REQUEST_TIMEOUT)
                        .unwrap_or_else(|e| panic!("watermarks of {topic}/{p}: {e}"));
                    (p, marks)
                })
                .collect()
        })
        .await
        .expect("watermarks task")
    }

    /// What consumer group `group` has committed for `topic`: partition to offset (the next
    /// record the group reads); partitions without a commit are left out.
    pub async fn committed_offsets(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        let partitions = self.partitions(topic).await;
        let mut config = self.client_config(&Auth::Plaintext);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false");
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().expect("Kafka consumer");
            let mut tpl = TopicPartitionList::new();
            for p in partitions {
                tpl.add_partition(&topic, p);
            }
            let committed = consumer
                .committed_offsets(tpl, REQUEST_TIMEOUT)
                .unwrap_or_else(|e| panic!("committed offsets of {topic}: {e}"));
            committed
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some((e.partition(), o)),
                    _ => None,
                })
                .collect()
        })
        .await
        .expect("committed offsets task")
    }

    /// Commits `offsets` (partition to the next offset to read) for `group` on `topic`, as a
    /// consumer that is no member of the group would (the group must have no active members).
    pub async fn commit_offsets(&self, group: &str, topic: &str, offsets: &BTreeMap<i32, i64>) {
        let mut config = self.client_config(&Auth::Plaintext);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false");
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in offsets {
            tpl.add_partition_offset(topic, p, Offset::Offset(o))
                .expect("offset");
        }
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().expect("Kafka consumer");
            consumer
                .commit(&tpl, CommitMode::Sync)
                .unwrap_or_else(|e| panic!("commit offsets of {topic}: {e}"));
        })
        .await
        .expect("commit task")
    }
}

/// Produces `records` with a client made from `config` (a [`Kafka::client_config`], taken
/// before the broker is restarted or moved into a task), acks=all and idempotent.
pub async fn produce_with(
    mut config: ClientConfig,
    topic: &str,
    records: &[ProducedRecord],
) -> Result<Vec<(i32, i64)>, KafkaError> {
    let producer: FutureProducer = config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "60000")
        .create()?;
    // Everything is queued first, then awaited; a full queue waits for the oldest.
    let mut pending = VecDeque::new();
    let mut acked = Vec::with_capacity(records.len());
    for r in records {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(&r.value[..]);
        if let Some(key) = &r.key {
            record = record.key(&key[..]);
        }
        if let Some(partition) = r.partition {
            record = record.partition(partition);
        }
        if let Some(ts) = r.timestamp_ms {
            record = record.timestamp(ts);
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push_back(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    match pending.pop_front() {
                        Some(delivery) => acked.push(delivered(delivery.await)?),
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
    for delivery in pending {
        acked.push(delivered(delivery.await)?);
    }
    Ok(acked)
}

/// A delivery future's output: the partition and offset, or why the record was not delivered.
fn delivered<E>(result: Result<OwnedDeliveryResult, E>) -> Result<(i32, i64), KafkaError> {
    match result {
        Ok(Ok(delivery)) => Ok((delivery.partition, delivery.offset)),
        Ok(Err((e, _))) => Err(e),
        Err(_) => Err(KafkaError::Canceled),
    }
}

/// Records the errors librdkafka reports through the error callback (authentication among them).
#[derive(Default)]
struct ErrorContext(Arc<Mutex<Vec<KafkaError>>>);

impl ClientContext for ErrorContext {
    fn error(&self, error: KafkaError, _reason: &str) {
        if let Ok(mut errors) = self.0.lock() {
            errors.push(error);
        }
    }
}

impl ProducerContext for ErrorContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &DeliveryResult<'_>, _: ()) {}
}
