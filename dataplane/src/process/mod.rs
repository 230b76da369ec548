//! Record processing between the log and the destination, in Firehose's order: decompression
//! (and CloudWatch Logs extraction), de-aggregation, the Lambda transformation, then the
//! delimiter. Without any of the first three the delimiter is appended while batches are
//! assembled (no second pass); otherwise a batch is processed as a whole just before delivery,
//! and records that fail go to the `decompression-failed` / `processing-failed` error output.

pub mod cloudwatch;
pub mod deaggregate;
pub mod lambda;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde_json::json;

use crate::metrics::Metrics;
use crate::record::{Batch, FailedRecord, Failure, Partition, RecordMeta};
use crds::{ProcessingConfiguration, ProcessorType, SubRecordType};

pub use lambda::Lambda;

/// The processing a stream applies.
#[derive(Clone)]
pub struct Processing {
    append_delimiter: bool,
    stages: Option<Arc<Stages>>,
}

impl Processing {
    /// Only the delimiter (no batch-level stages): what tests and tools use.
    pub fn from_spec(spec: &ProcessingConfiguration) -> Self {
        Self {
            append_delimiter: spec.appends_delimiter(),
            stages: None,
        }
    }

    pub fn build(
        spec: &ProcessingConfiguration,
        stream_arn: &str,
        region: &str,
        secrets_dir: &Path,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let decompress = spec.processor(ProcessorType::Decompression).is_some();
        let cloudwatch = spec
            .processor(ProcessorType::CloudWatchLogProcessing)
            .map(|p| {
                p.cloud_watch_log_processing
                    .unwrap_or_default()
                    .data_message_extraction
            });
        let deaggregate = match spec
            .processor(ProcessorType::RecordDeAggregation)
            .and_then(|p| p.record_de_aggregation.as_ref())
        {
            None => None,
            Some(d) => Some(match d.sub_record_type {
                SubRecordType::Json => Deaggregate::Json,
                SubRecordType::Delimited => Deaggregate::Delimited(
                    base64::engine::general_purpose::STANDARD
                        .decode(d.delimiter.as_deref().unwrap_or_default())?,
                ),
                SubRecordType::Kpl => Deaggregate::Kpl,
            }),
        };
        let lambda = spec
            .processor(ProcessorType::Lambda)
            .and_then(|p| p.lambda.as_ref())
            .map(|l| Lambda::build(l, stream_arn, region, secrets_dir, metrics.clone()))
            .transpose()?;
        let staged = decompress || deaggregate.is_some() || lambda.is_some();
        Ok(Self {
            append_delimiter: spec.appends_delimiter(),
            stages: staged.then(|| {
                Arc::new(Stages {
                    decompress,
                    decompressed_budget: DECOMPRESSED_PER_BATCH,
                    cloudwatch,
                    deaggregate,
                    lambda,
                    append_delimiter: spec.appends_delimiter(),
                    metrics: metrics.clone(),
                })
            }),
        })
    }

    /// Adds one record to a batch being assembled. Records are concatenated byte for byte, with a
    /// newline after each only when `AppendDelimiterToRecord` is configured (Firehose's rule) —
    /// and added later, after the other processors, when there are any.
    pub fn append(&self, batch: &mut Vec<u8>, record: &[u8]) {
        batch.extend_from_slice(record);
        if self.append_delimiter && self.stages.is_none() {
            batch.push(b'\n');
        }
    }

    /// The batch-level stages, if any processor needs them.
    pub fn stages(&self) -> Option<&Arc<Stages>> {
        self.stages.as_ref()
    }
}

pub enum Deaggregate {
    Json,
    Delimited(Vec<u8>),
    /// Kinesis Producer Library aggregation.
    Kpl,
}

/// The batch-level processors of a stream.
pub struct Stages {
    decompress: bool,
    /// Bound on the bytes a batch decompresses to (see [`DECOMPRESSED_PER_BATCH`]).
    decompressed_budget: usize,
    /// CloudWatch Logs processing, and whether only messages are kept.
    cloudwatch: Option<bool>,
    deaggregate: Option<Deaggregate>,
    lambda: Option<Lambda>,
    append_delimiter: bool,
    metrics: Metrics,
}

/// A batch is bounded by its compressed size; what it decompresses to is bounded here, so a
/// batch of gzip bombs cannot exhaust memory (each record alone may reach 64 MiB). Records past
/// the bound go to `decompression-failed`: delivering them would need the memory.
const DECOMPRESSED_PER_BATCH: usize = 512 << 20;

/// A batch after processing, and the records that failed, by error-output type.
pub struct Processed {
    pub batch: Batch,
    /// The transformation's `metadata.partitionKeys` per delivered record (empty without a
    /// transformation).
    pub lambda_keys: Vec<Option<Partition>>,
    pub failed: Vec<(&'static str, FailedRecord)>,
}

/// A record that failed processing, for the error output.
fn failed_record(meta: &RecordMeta, raw: &[u8], failure: Failure) -> FailedRecord {
    FailedRecord {
        raw: raw.to_vec(),
        arrival_ms: meta.arrival_ms,
        seq: meta.seq,
        sub: meta.sub,
        failure,
        attempts: 1,
        extra: serde_json::Map::new(),
    }
}

/// Each piece split into its sub-records.
fn deaggregate_pieces<'a>(
    d: &Deaggregate,
    pieces: &[Cow<'_, [u8]>],
) -> Result<Vec<Cow<'a, [u8]>>, Failure> {
    let mut split = Vec::new();
    for piece in pieces {
        let parts = match d {
            Deaggregate::Json => deaggregate::json(piece)?,
            Deaggregate::Delimited(delim) => deaggregate::delimited(piece, delim),
            Deaggregate::Kpl => deaggregate::kpl(piece)?,
        };
        split.extend(parts.into_iter().map(|p| Cow::Owned(p.to_vec())));
    }
    Ok(split)
}

struct Work<'a> {
    meta: RecordMeta,
    sub: u32,
    data: Cow<'a, [u8]>,
    lambda_keys: Option<Partition>,
}

impl Stages {
    pub async fn run(&self, batch: &Batch) -> Processed {
        let mut failed = Vec::new();
        let mut works: Vec<Work<'_>> = Vec::with_capacity(batch.len());
        let mut decompressed = 0usize;
        for i in 0..batch.len() {
            let meta = batch.records[i];
            let raw = batch.record(i);
            match self.split_record(raw, &mut decompressed) {
                Ok(pieces) => {
                    works.extend(pieces.into_iter().enumerate().map(|(sub, data)| Work {
                        meta,
                        sub: sub as u32,
                        data,
                        lambda_keys: None,
                    }))
                }
                Err((kind, f)) => failed.push((kind, failed_record(&meta, raw, f))),
            }
        }
        if let Some(lambda) = &self.lambda {
            works = self.transform(lambda, works, &mut failed).await;
        }
        self.collect(batch, works, failed)
    }

    /// The records one logged record becomes after decompression (and CloudWatch Logs
    /// extraction) and de-aggregation; on failure, the error-output type and why.
    fn split_record<'a>(
        &self,
        raw: &'a [u8],
        decompressed: &mut usize,
    ) -> Result<Vec<Cow<'a, [u8]>>, (&'static str, Failure)> {
        let mut pieces: Vec<Cow<'a, [u8]>> = vec![Cow::Borrowed(raw)];
        if self.decompress {
            pieces = self
                .decompress_record(raw, decompressed)
                .map_err(|f| ("decompression-failed", f))?;
        }
        if let Some(d) = &self.deaggregate {
            pieces = deaggregate_pieces(d, &pieces).map_err(|f| ("processing-failed", f))?;
        }
        Ok(pieces)
    }

    /// Gunzips one record within what is left of the batch's budget, then extracts its
    /// CloudWatch Logs events when configured.
    fn decompress_record(
        &self,
        raw: &[u8],
        decompressed: &mut usize,
    ) -> Result<Vec<Cow<'static, [u8]>>, Failure> {
        let payload = cloudwatch::gunzip(raw)?;
        if *decompressed + payload.len() > self.decompressed_budget {
            return Err(Failure::new(
                "Decompression.TooLarge",
                format!(
                    "the batch decompresses to more than {} bytes",
                    self.decompressed_budget
                ),
            ));
        }
        *decompressed += payload.len();
        Ok(match self.cloudwatch {
            None => vec![Cow::Owned(payload)],
            Some(messages_only) => cloudwatch::extract(payload, messages_only)?
                .into_iter()
                .map(Cow::Owned)
                .collect(),
        })
    }

    /// The processed batch: records concatenated (with the delimiter when configured).
    fn collect(
        &self,
        batch: &Batch,
        works: Vec<Work<'_>>,
        failed: Vec<(&'static str, FailedRecord)>,
    ) -> Processed {
        let mut data = Vec::with_capacity(works.iter().map(|w| w.data.len() + 1).sum());
        let mut records = Vec::with_capacity(works.len());
        for w in &works {
            let start = data.len() as u32;
            data.extend_from_slice(&w.data);
            if self.append_delimiter {
                data.push(b'\n');
            }
            records.push(RecordMeta {
                start,
                end: data.len() as u32,
                sub: w.sub,
                ..w.meta
            });
        }
        Processed {
            batch: Batch {
                first_seq: batch.first_seq,
                end_seq: batch.end_seq,
                data: data.into(),
                records,
                oldest_arrival_ms: batch.oldest_arrival_ms,
                partition: None,
            },
            lambda_keys: works.into_iter().map(|w| w.lambda_keys).collect(),
            failed,
        }
    }

    async fn transform<'a>(
        &self,
        lambda: &Lambda,
        works: Vec<Work<'a>>,
        failed: &mut Vec<(&'static str, FailedRecord)>,
    ) -> Vec<Work<'a>> {
        let inputs: Vec<lambda::Input<'_>> = works
            .iter()
            .map(|w| lambda::Input {
                id: format!("{}.{}", w.meta.seq, w.sub),
                arrival_ms: w.meta.arrival_ms,
                data: &w.data,
            })
            .collect();
        let results = lambda.transform(&inputs).await;
        drop(inputs);
        let mut out = Vec::with_capacity(works.len());
        let m = &self.metrics;
        for (w, r) in works.into_iter().zip(results) {
            match r {
                lambda::Transformed::Ok(data, keys) => {
                    m.processing_records.with_label_values(&["ok"]).inc();
                    m.processing_bytes.inc_by(data.len() as u64);
                    out.push(Work {
                        data: Cow::Owned(data),
                        lambda_keys: keys,
                        ..w
                    });
                }
                lambda::Transformed::Dropped => {
                    m.processing_records.with_label_values(&["dropped"]).inc();
                }
                lambda::Transformed::Failed(failure, attempts) => {
                    m.processing_records.with_label_values(&["failed"]).inc();
                    let mut extra = serde_json::Map::new();
                    extra.insert("lambdaArn".into(), json!(lambda.name()));
                    failed.push((
                        "processing-failed",
                        FailedRecord {
                            raw: w.data.into_owned(),
                            arrival_ms: w.meta.arrival_ms,
                            seq: w.meta.seq,
                            sub: w.sub,
                            failure,
                            attempts,
                            extra,
                        },
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::Processor;

    #[tokio::test]
    async fn a_batch_decompresses_to_at_most_its_budget() {
        use std::io::Write;
        let gzip = |len: usize| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&vec![b'a'; len]).expect("gzip");
            e.finish().expect("gzip")
        };
        let records = [gzip(400), gzip(400), gzip(100), gzip(300)];
        let batch = Batch::from_records(0, 1, records.iter().map(Vec::as_slice));
        let stages = Stages {
            decompress: true,
            decompressed_budget: 1000,
            cloudwatch: None,
            deaggregate: None,
            lambda: None,
            append_delimiter: false,
            metrics: Metrics::new("test", "budget").expect("metrics"),
        };
        let out = stages.run(&batch).await;
        let lens: Vec<usize> = out.batch.iter().map(<[u8]>::len).collect();
        assert_eq!(
            lens,
            vec![400, 400, 100],
            "the fourth would pass 1000 bytes"
        );
        assert_eq!(out.failed.len(), 1);
        let (kind, record) = &out.failed[0];
        assert_eq!(*kind, "decompression-failed");
        assert_eq!(record.failure.code, "Decompression.TooLarge");
        assert_eq!(record.raw, records[3], "the record as it arrived");
    }

    #[test]
    fn delimiter_only_when_configured_and_enabled() {
        let mut spec = ProcessingConfiguration {
            enabled: true,
            processors: vec![Processor::of(ProcessorType::AppendDelimiterToRecord)],
        };
        let mut out = Vec::new();
        Processing::from_spec(&spec).append(&mut out, b"a");
        assert_eq!(out, b"a\n");
        spec.enabled = false;
        let mut out = Vec::new();
        Processing::from_spec(&spec).append(&mut out, b"a");
        Processing::from_spec(&spec).append(&mut out, b"b");
        assert_eq!(out, b"ab");
    }
}
