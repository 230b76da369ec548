//! Hydrant's data plane, in the order a record meets it. Each module imports only those
//! listed below it (the wiring at the end imports everything).

// The stages.
/// After the log: batches assembled, processed, buffered, delivered with retry, checkpointed.
pub mod batch;
/// Format conversion: JSON records to Parquet.
pub mod convert;
/// The destinations, behind one trait, with object naming, error output and backup.
pub mod destination;
/// Compression of objects and request bodies.
pub mod encode;
/// Where the log's encryption key comes from: generated beside the log, or a Secret.
pub mod encryption;
/// The Firehose API and the plain endpoint: requests in, records framed for the log.
pub mod ingest;
/// Dynamic partitioning: partition keys, and one buffer per active partition.
pub mod partition;
/// Record processors: decompression, CloudWatch Logs extraction, de-aggregation, the
/// Lambda-compatible transformation.
pub mod process;
/// Sources other than Direct PUT: a Kinesis stream or a Kafka topic read into the log, their
/// positions committed only after delivery.
pub mod source;
/// The write-ahead log: group-commit fsync, torn-tail recovery, checkpoints, encryption at rest.
pub mod wal;

// Shared by the stages, importing none of them.
/// The Prometheus metrics every stage reports.
pub mod metrics;
/// Plain record types: batches, record metadata, partition keys, failures, hints.
pub mod record;
/// Delivery health and the `/status` document.
pub mod status;
/// The clock, retry with backoff, the HTTP client, Secrets.
pub mod support;

// Wiring.
/// The Firehose control-plane operations over a store of streams.
pub mod control;
/// `hydrant gateway`: a cluster's Firehose endpoint over DeliveryStream resources.
pub mod gateway;
/// The summary line `hydrant run` writes every 10 s in text mode.
pub mod live_view;
/// The stream's plan: every decision the spec implies, as plain data.
pub mod plan;
/// Opens the log, builds the plan's parts and runs them until a signal.
pub mod runtime;
/// `hydrant serve`: many streams behind one endpoint, created through the API.
pub mod serve;
/// `/metrics`, `/healthz`, `/readyz`, `/status`.
pub mod server;

/// Entry points of the fuzz targets (`fuzz/`) that are not otherwise public. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::ingest::firehose::{put_record_batch_frames, put_record_frames};
    pub use crate::ingest::plain::frames as plain_frames;
}
