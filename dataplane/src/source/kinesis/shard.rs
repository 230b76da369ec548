//! Reading one shard: GetShardIterator, then GetRecords until the shard is closed and read to
//! its end (or the process stops), with KPL-aggregated records split and throttling backed off.

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::operation::get_records::GetRecordsError;
use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use tokio::sync::{mpsc, watch};

use super::lineage::Checkpoint;
use crate::metrics::Metrics;
use crate::record::kpl;
use crate::source::SourceBatch;
use crate::support::clock::now_ms;
use crate::wal::FrameBatch;

/// Records asked for per GetRecords call (the API's maximum).
const LIMIT: i32 = 10_000;
/// Kinesis allows five GetRecords calls per second per shard; an idle shard is polled at
/// one per second, as the KCL does.
const BUSY_POLL: Duration = Duration::from_millis(200);
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where a shard with no checkpoint starts.
#[derive(Debug, Clone)]
pub enum Start {
    After(String),
    TrimHorizon,
    Latest,
    AtTimestamp(DateTime),
}

/// How a shard reader ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The shard is closed and every record of it was sent for delivery.
    ShardEnd,
    Stopped,
}

/// One shard's reader.
pub struct ShardReader {
    pub client: Client,
    pub stream: String,
    pub shard: String,
    pub start: Start,
    pub batches: mpsc::Sender<SourceBatch<String, Checkpoint>>,
    pub stop: watch::Receiver<bool>,
    pub metrics: Metrics,
}

impl ShardReader {
    pub async fn run(mut self) -> Ended {
        let mut backoff = Backoff::default();
        let mut iterator = None;
        loop {
            if *self.stop.borrow() {
                return Ended::Stopped;
            }
            let current = match iterator.take() {
                Some(it) => it,
                None => match self.iterator().await {
                    Ok(it) => it,
                    Err(wait) => {
                        self.pause(backoff.next(wait)).await;
                        continue;
                    }
                },
            };
            let result = self
                .client
                .get_records()
                .shard_iterator(current.clone())
                .limit(LIMIT)
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e) => {
                    let wait = self.get_records_failed(&e);
                    // An expired iterator is replaced from the last position read.
                    if !is_expired(&e) {
                        iterator = Some(current);
                    }
                    self.pause(backoff.next(wait)).await;
                    continue;
                }
            };
            backoff = Backoff::default();
            if let Some(ms) = out.millis_behind_latest {
                self.metrics
                    .source_millis_behind
                    .with_label_values(&[&self.shard])
                    .set(ms);
            }
            let records = out.records();
            if let Some(last) = records.last() {
                let mut frames = FrameBatch::default();
                let arrival = now_ms();
                for r in records {
                    push_record(&mut frames, arrival, r.data().as_ref());
                }
                let seq = last.sequence_number().to_owned();
                self.start = Start::After(seq.clone());
                let batch = SourceBatch {
                    frames,
                    positions: vec![(self.shard.clone(), Checkpoint::SequenceNumber(seq))],
                };
                if self.batches.send(batch).await.is_err() {
                    return Ended::Stopped;
                }
            }
            let idle = records.is_empty();
            match out.next_shard_iterator {
                Some(next) => iterator = Some(next),
                None => {
                    let end = SourceBatch {
                        frames: FrameBatch::default(),
                        positions: vec![(self.shard.clone(), Checkpoint::ShardEnd)],
                    };
                    tracing::info!(shard = %self.shard, "kinesis: shard read to its end");
                    return match self.batches.send(end).await {
                        Ok(()) => Ended::ShardEnd,
                        Err(_) => Ended::Stopped,
                    };
                }
            }
            self.pause(if idle { IDLE_POLL } else { BUSY_POLL }).await;
        }
    }

    async fn iterator(&self) -> Result<String, Duration> {
        let mut call = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&self.shard);
        call = match &self.start {
            Start::After(seq) => call
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            Start::TrimHorizon => call.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Start::Latest => call.shard_iterator_type(ShardIteratorType::Latest),
            Start::AtTimestamp(t) => call
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(*t),
        };
        match call.send().await {
            Ok(out) => out.shard_iterator.ok_or(Duration::from_secs(1)),
            Err(e) => {
                let throttled = matches!(
                    e.as_service_error(),
                    Some(GetShardIteratorError::ProvisionedThroughputExceededException(_))
                );
                if throttled {
                    self.throttled("GetShardIterator");
                } else {
                    tracing::warn!(shard = %self.shard, error = %aws_error(&e), "kinesis: GetShardIterator failed");
                }
                Err(Duration::from_secs(1))
            }
        }
    }

    fn get_records_failed(&self, e: &SdkError<GetRecordsError>) -> Duration {
        match e.as_service_error() {
            Some(GetRecordsError::ProvisionedThroughputExceededException(_)) => {
                self.throttled("GetRecords");
                Duration::from_millis(500)
            }
            Some(GetRecordsError::ExpiredIteratorException(_)) => Duration::ZERO,
            _ => {
                tracing::warn!(shard = %self.shard, error = %aws_error(e), "kinesis: GetRecords failed");
                Duration::from_secs(1)
            }
        }
    }

    fn throttled(&self, operation: &str) {
        self.metrics
            .source_throttled
            .with_label_values(&["kinesis", operation])
            .inc();
    }

    /// Sleeps, waking early if the process stops.
    async fn pause(&mut self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let _ = tokio::time::timeout(d, self.stop.wait_for(|s| *s)).await;
    }
}

fn is_expired(e: &SdkError<GetRecordsError>) -> bool {
    matches!(
        e.as_service_error(),
        Some(GetRecordsError::ExpiredIteratorException(_))
    )
}

/// The SDK's error with its source chain (the top level alone says only "service error").
pub fn aws_error(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Frames a Kinesis record: a KPL-aggregated one as its user records, others whole. An
/// aggregate that fails its checksum is kept whole rather than dropped (as the KCL does with
/// records it cannot split).
fn push_record(frames: &mut FrameBatch, arrival_ms: u64, data: &[u8]) {
    match kpl::split(data) {
        Ok(parts) => {
            for part in parts {
                frames.push(arrival_ms, part);
            }
        }
        Err(e) => {
            tracing::warn!(reason = %e.message, "kinesis: a KPL aggregate could not be split; kept whole");
            frames.push(arrival_ms, data);
        }
    }
}

/// Exponential backoff from the error's suggested wait, capped.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self, base: Duration) -> Duration {
        self.failures = (self.failures + 1).min(6);
        (base * 2u32.pow(self.failures - 1)).min(MAX_BACKOFF)
    }
}
