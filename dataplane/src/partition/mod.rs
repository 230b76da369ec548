//! Dynamic partitioning (docs/processing.md, "Dynamic partitioning"): the records of each batch read from the log are
//! grouped by the partition keys their prefix names, and each group joins its partition's
//! buffer ([`buffers`]), which becomes an object when it is full or old enough.
//!
//! Keys come from a `MetadataExtraction` JQ query run on each (processed) record and from the
//! transformation's `metadata.partitionKeys`.

pub mod buffers;
pub mod journal;
mod jq;
mod spool;

use std::collections::HashMap;
use std::sync::Arc;

use crate::record::{Batch, FailedRecord, Failure, Partition};
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

    /// `activePartitionLimit`.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Groups `batch` by partition; `lambda_keys` (empty, or one per record) are the
    /// transformation's partition keys.
    pub async fn split(&self, batch: Batch, lambda_keys: Vec<Option<Partition>>) -> Split {
        let query_keys: Vec<Result<jq::Keys, Failure>> = match &self.query {
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
        // Grouped by the keys' values in `refs` order: one map per partition, not per record.
        let mut index: HashMap<Vec<String>, usize> = HashMap::new();
        let mut groups: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
        let mut failed = Vec::new();
        let fail = |failed: &mut Vec<FailedRecord>, i: usize, failure: Failure| {
            failed.push(FailedRecord {
                raw: batch.record(i).to_vec(),
                arrival_ms: batch.records[i].arrival_ms,
                seq: batch.records[i].seq,
                sub: batch.records[i].sub,
                failure,
                attempts: 1,
                extra: serde_json::Map::new(),
            });
        };
        'records: for i in 0..batch.len() {
            let mut values = Vec::with_capacity(self.refs.len());
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
                    Some(v) => values.push(v),
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
            match index.get(&values) {
                Some(&g) => groups[g].1.push(i),
                None => {
                    index.insert(values.clone(), groups.len());
                    groups.push((values, vec![i]));
                }
            }
        }
        let parts = groups
            .into_iter()
            .map(|(values, indices)| {
                let partition: Partition = self.refs.iter().cloned().zip(values).collect();
                let mut part = batch.subset(&indices);
                part.partition = Some(Arc::new(partition));
                part
            })
            .collect();
        Split { parts, failed }
    }
}

/// How records are keyed and where they wait before delivery: one buffer per partition with
/// dynamic partitioning, else one buffer for the whole stream.
pub struct Partitioning {
    pub partitioner: Option<Partitioner>,
    pub buffers: Arc<buffers::Buffers>,
}
