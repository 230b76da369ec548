//! Dynamic partitioning (firehose.md §5): the records of a delivery batch are grouped by the
//! partition keys their prefix names and each group becomes its own object.
//!
//! Keys come from a `MetadataExtraction` JQ query run on each (processed) record and from the
//! transformation's `metadata.partitionKeys`. Partitions are cut per delivery batch, so memory
//! stays bounded by the bytes in flight whatever the number of partitions, and the log's
//! checkpoint moves only when every partition of a batch is written: partitions never flush
//! out of order with respect to the log. The price is object size: with many partitions each
//! object holds about batch size / partitions.

mod jq;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::destination::backup::FailedRecord;
use crate::destination::naming::Partition;
use crate::destination::{Batch, Failure};
use crds::{ObjectDelivery, PrefixTemplate};

/// The error-output type of records that could not be partitioned.
pub const ERROR_TYPE: &str = "dynamic-partitioning-failed";

pub struct Partitioner {
    query: Option<Arc<jq::Query>>,
    /// The `partitionKeyFrom...:<key>` expressions of the prefix.
    refs: Vec<String>,
    limit: usize,
}

/// A batch split into partitions.
pub struct Split {
    pub parts: Vec<Batch>,
    pub failed: Vec<FailedRecord>,
    pub partitions: usize,
    pub exceeded: bool,
}

impl Partitioner {
    /// `None` unless dynamic partitioning is enabled.
    pub fn build(d: &ObjectDelivery) -> anyhow::Result<Option<Self>> {
        let dp = &d.dynamic_partitioning_configuration;
        if !dp.enabled {
            return Ok(None);
        }
        let prefix = PrefixTemplate::parse(d.prefix.as_deref().unwrap_or_default())?;
        let query = d
            .processing_configuration
            .processor(crds::ProcessorType::MetadataExtraction)
            .and_then(|p| p.metadata_extraction.as_ref())
            .map(|m| jq::Query::compile(&m.query).map(Arc::new))
            .transpose()?;
        Ok(Some(Self {
            query,
            refs: prefix.partition_keys().map(str::to_owned).collect(),
            limit: dp.active_partition_limit.max(1) as usize,
        }))
    }

    /// Groups `batch` by partition; `lambda_keys` (empty, or one per record) are the
    /// transformation's partition keys.
    pub async fn split(&self, batch: Batch, lambda_keys: Vec<Option<Partition>>) -> Split {
        let query_keys: Vec<Result<Partition, Failure>> = match &self.query {
            None => Vec::new(),
            Some(q) => {
                let (q, b) = (q.clone(), batch.clone());
                tokio::task::spawn_blocking(move || {
                    (0..b.len()).map(|i| q.run(b.record(i))).collect()
                })
                .await
                .unwrap_or_else(|e| {
                    vec![Err(Failure::new("InternalError", e.to_string())); batch.len()]
                })
            }
        };
        let mut groups: BTreeMap<Partition, Vec<usize>> = BTreeMap::new();
        let mut order: Vec<Partition> = Vec::new();
        let mut failed = Vec::new();
        let fail = |failed: &mut Vec<FailedRecord>, i: usize, failure: Failure| {
            failed.push(FailedRecord {
                raw: batch.record(i).to_vec(),
                arrival_ms: batch.records[i].arrival_ms,
                failure,
                attempts: 1,
                extra: serde_json::Map::new(),
            });
        };
        'records: for i in 0..batch.len() {
            let mut partition = Partition::new();
            for r in &self.refs {
                let value = if let Some(key) = r.strip_prefix("partitionKeyFromQuery:") {
                    match query_keys.get(i) {
                        Some(Ok(keys)) => keys.get(key).cloned(),
                        Some(Err(f)) => {
                            fail(&mut failed, i, f.clone());
                            continue 'records;
                        }
                        None => None,
                    }
                } else {
                    let key = r.strip_prefix("partitionKeyFromLambda:").unwrap_or(r);
                    lambda_keys
                        .get(i)
                        .and_then(|k| k.as_ref())
                        .and_then(|k| k.get(key).cloned())
                };
                match value {
                    Some(v) => {
                        partition.insert(r.clone(), v);
                    }
                    None => {
                        fail(
                            &mut failed,
                            i,
                            Failure::new(
                                "DynamicPartitioning.MissingPartitionKey",
                                format!("the record has no value for !{{{r}}}"),
                            ),
                        );
                        continue 'records;
                    }
                }
            }
            if !groups.contains_key(&partition) {
                order.push(partition.clone());
            }
            groups.entry(partition).or_default().push(i);
        }
        let partitions = order.len();
        let exceeded = partitions > self.limit;
        let mut parts = Vec::with_capacity(partitions.min(self.limit));
        for (n, partition) in order.into_iter().enumerate() {
            let indices = groups.remove(&partition).unwrap_or_default();
            if n >= self.limit {
                for i in indices {
                    fail(
                        &mut failed,
                        i,
                        Failure::new(
                            "DynamicPartitioning.PartitionCountExceeded",
                            format!(
                                "the batch has {partitions} partitions; the limit is {}",
                                self.limit
                            ),
                        ),
                    );
                }
                continue;
            }
            let mut part = batch.subset(&indices);
            part.partition = Some(Arc::new(partition));
            parts.push(part);
        }
        Split {
            parts,
            failed,
            partitions,
            exceeded,
        }
    }
}
