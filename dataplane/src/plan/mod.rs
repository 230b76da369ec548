//! The stream's plan: every decision the spec implies about how records flow, made once, as
//! plain data, from a validated spec — which stages run in which order, which lanes exist
//! (delivery, partition buffers, the transformation's buffer, source-record backup), when each
//! cuts its batches, and how the destination is retried. `runtime` opens things and starts
//! tasks from it; nothing here does I/O, so each decision is unit-tested.

use std::time::Duration;

use crate::destination::Profile;
use crate::destination::registry;
use crate::record::Hints;
use crds::{CompressionFormat, DeliveryStreamSpec, ProcessorType};

/// Batches in delivery hold at most this much memory (or one batch, when batches are larger).
const IN_FLIGHT_BYTES: usize = 32 << 20;
/// A batch can overshoot the size hint by one read chunk from the log.
const READ_CHUNK: usize = 4 << 20;
/// With partition buffers (and no transformation), batches read from the log are cut at
/// most this small and early, so records reach their buffer promptly.
const PARTITION_FEED: Hints = Hints {
    size_bytes: 8 << 20,
    interval: Duration::from_millis(200),
};

/// How one stream's records flow.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    /// The destination's metrics label, error-output type and retry policy.
    pub destination: Profile,
    /// The stages a record passes after the log, in order.
    pub stages: Vec<Stage>,
    /// When batches are cut from the log.
    pub cut: Hints,
    /// Bound on the bytes of batches being delivered at once.
    pub in_flight_bytes: usize,
    /// Where processed batches wait before delivery, if anywhere.
    pub buffers: Option<BufferLane>,
    /// The source-record backup's own hints, when `s3BackupMode: Enabled`.
    pub source_backup: Option<Hints>,
}

/// One stage of the flow, in Firehose's order (whatever the order of the spec's processor
/// list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Decompression,
    CloudWatchLogProcessing,
    RecordDeAggregation,
    /// The Lambda-compatible transformation.
    Transformation,
    AppendDelimiter,
    DynamicPartitioning,
    FormatConversion,
    Compression(CompressionFormat),
}

/// Buffers between processing and delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferLane {
    /// Dynamic partitioning: one buffer per active partition, each flushed by the
    /// destination's hints.
    Partitions { hints: Hints, active_limit: usize },
    /// A transformation without partitioning: its output waits in one whole-stream buffer for
    /// the destination's hints, while the function's own hints cut the batches it is invoked
    /// on (Firehose buffers twice).
    Transformation { hints: Hints },
}

impl BufferLane {
    pub fn hints(&self) -> Hints {
        match self {
            BufferLane::Partitions { hints, .. } | BufferLane::Transformation { hints } => *hints,
        }
    }

    /// How many buffers may be active at once.
    pub fn limit(&self) -> usize {
        match self {
            BufferLane::Partitions { active_limit, .. } => *active_limit,
            BufferLane::Transformation { .. } => 1,
        }
    }

    pub fn partitioned(&self) -> bool {
        matches!(self, BufferLane::Partitions { .. })
    }
}

impl StreamPlan {
    /// The plan of a spec that passed `crds::validate_spec`.
    pub fn new(spec: &DeliveryStreamSpec) -> Self {
        let destination = &spec.destination;
        let hints = Hints::from_spec(&destination.buffering_hints());
        let lambda = destination
            .processing()
            .processor(ProcessorType::Lambda)
            .and_then(|p| p.lambda.as_ref());
        // The function's buffer is its own: it may wait longer than the destination's.
        let lambda_hints = lambda.map(|l| Hints {
            size_bytes: ((l.buffer_size_in_mbs * f64::from(1 << 20)) as usize).max(1),
            interval: Duration::from_secs(l.buffer_interval_in_seconds.max(0) as u64),
        });
        let partitioning = destination
            .object_delivery()
            .map(|d| &d.dynamic_partitioning_configuration)
            .filter(|dp| dp.enabled);
        let buffers = match (partitioning, lambda_hints) {
            (Some(dp), _) => Some(BufferLane::Partitions {
                hints,
                active_limit: dp.active_partition_limit.max(1) as usize,
            }),
            (None, Some(_)) => Some(BufferLane::Transformation { hints }),
            (None, None) => None,
        };
        let cut = match (buffers, lambda_hints) {
            (Some(_), Some(l)) => l,
            (Some(_), None) => hints.at_most(PARTITION_FEED),
            (None, _) => hints,
        };
        Self {
            destination: registry::profile(destination),
            stages: stages(spec),
            cut,
            in_flight_bytes: IN_FLIGHT_BYTES.max(hints.size_bytes + READ_CHUNK),
            buffers,
            source_backup: source_backup_hints(spec),
        }
    }
}

fn stages(spec: &DeliveryStreamSpec) -> Vec<Stage> {
    let destination = &spec.destination;
    let processing = destination.processing();
    let has = |kind| processing.processor(kind).is_some();
    let mut stages = Vec::new();
    for (kind, stage) in [
        (ProcessorType::Decompression, Stage::Decompression),
        (
            ProcessorType::CloudWatchLogProcessing,
            Stage::CloudWatchLogProcessing,
        ),
        (
            ProcessorType::RecordDeAggregation,
            Stage::RecordDeAggregation,
        ),
        (ProcessorType::Lambda, Stage::Transformation),
    ] {
        if has(kind) {
            stages.push(stage);
        }
    }
    if processing.appends_delimiter() {
        stages.push(Stage::AppendDelimiter);
    }
    if let Some(d) = destination.object_delivery() {
        if d.dynamic_partitioning_configuration.enabled {
            stages.push(Stage::DynamicPartitioning);
        }
        let converts = d
            .data_format_conversion_configuration
            .as_deref()
            .is_some_and(|c| c.enabled);
        if converts {
            stages.push(Stage::FormatConversion);
        } else if d.compression_format != CompressionFormat::Uncompressed {
            stages.push(Stage::Compression(d.compression_format));
        }
    }
    stages
}

fn source_backup_hints(spec: &DeliveryStreamSpec) -> Option<Hints> {
    match &spec.destination {
        crds::Destination::S3(s3) if s3.s3_backup_mode == crds::SourceBackupMode::Enabled => s3
            .s3_backup_configuration
            .as_ref()
            .map(|b| Hints::from_spec(&b.buffering_hints)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
