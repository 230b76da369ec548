//! Prometheus metrics mirroring Firehose's CloudWatch metrics, labelled by namespace and stream
//! (constant labels) and never by anything unbounded.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder, exponential_buckets,
};

/// Every metric of one data-plane process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub incoming_bytes: IntCounter,
    pub incoming_records: IntCounter,
    pub incoming_put_requests: IntCounter,
    pub throttled_records: IntCounter,
    pub put_request_duration: HistogramVec,
    pub api_errors: IntCounterVec,
    pub delivery_records: IntCounterVec,
    pub delivery_bytes: IntCounterVec,
    pub delivery_requests: IntCounterVec,
    pub delivery_freshness: prometheus::GaugeVec,
    pub error_output_records: IntCounterVec,
    pub backup_records: IntCounter,
    pub backup_bytes: IntCounter,
    pub ack_latency: Histogram,
    pub processing_invocations: IntCounterVec,
    pub processing_duration: Histogram,
    pub partitioning_duration: Histogram,
    pub processing_records: IntCounterVec,
    pub processing_bytes: IntCounter,
    pub partition_count: IntGauge,
    pub partition_count_exceeded: IntGauge,
    pub wal_bytes: IntGauge,
    pub wal_segments: IntGauge,
    pub wal_backlog_records: IntGauge,
    pub wal_replayed_records: IntCounter,
    pub wal_truncated_bytes: IntCounter,
    pub fsync_duration: Histogram,
}

impl Metrics {
    /// Creates the metrics with `namespace` and `stream` as constant labels.
    pub fn new(namespace: &str, stream: &str) -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(
            Some("hydrant".to_owned()),
            Some(
                [
                    ("namespace".to_owned(), namespace.to_owned()),
                    ("stream".to_owned(), stream.to_owned()),
                ]
                .into(),
            ),
        )?;
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let latency_buckets = exponential_buckets(0.0001, 2.0, 18)?;
        let put_request_duration = HistogramVec::new(
            HistogramOpts::new(
                "put_request_duration_seconds",
                "Latency of Firehose API requests (PutRecord.Latency, PutRecordBatch.Latency, ...)",
            )
            .buckets(latency_buckets.clone()),
            &["operation"],
        )?;
        registry.register(Box::new(put_request_duration.clone()))?;
        let delivery_freshness = prometheus::GaugeVec::new(
            Opts::new(
                "delivery_data_freshness_seconds",
                "Age of the oldest record not yet delivered (DeliveryToS3.DataFreshness)",
            ),
            &["destination"],
        )?;
        registry.register(Box::new(delivery_freshness.clone()))?;
        let fsync_duration = Histogram::with_opts(
            HistogramOpts::new(
                "fsync_duration_seconds",
                "Duration of write-ahead log fsyncs (one per group commit)",
            )
            .buckets(latency_buckets),
        )?;
        registry.register(Box::new(fsync_duration.clone()))?;
        let ack_latency = Histogram::with_opts(
            HistogramOpts::new(
                "delivery_data_ack_latency_seconds",
                "Time from sending a request to Splunk to its indexer acknowledgement (DeliveryToSplunk.DataAckLatency)",
            )
            .buckets(exponential_buckets(0.01, 2.0, 16)?),
        )?;
        registry.register(Box::new(ack_latency.clone()))?;
        let processing_duration = Histogram::with_opts(
            HistogramOpts::new(
                "processing_duration_seconds",
                "Duration of transformation invocations (ExecuteProcessing.Duration)",
            )
            .buckets(exponential_buckets(0.001, 2.0, 20)?),
        )?;
        registry.register(Box::new(processing_duration.clone()))?;
        let partitioning_duration = Histogram::with_opts(
            HistogramOpts::new(
                "partitioning_duration_seconds",
                "Time to extract the partition keys of a batch's records and group them (JQProcessing.Duration, per batch)",
            )
            .buckets(exponential_buckets(0.0001, 2.0, 20)?),
        )?;
        registry.register(Box::new(partitioning_duration.clone()))?;
        Ok(Self {
            incoming_bytes: counter(
                "incoming_bytes_total",
                "Bytes of record data accepted (IncomingBytes)",
            )?,
            incoming_records: counter(
                "incoming_records_total",
                "Records accepted (IncomingRecords)",
            )?,
            incoming_put_requests: counter(
                "incoming_put_requests_total",
                "PutRecord and PutRecordBatch requests accepted (IncomingPutRequests)",
            )?,
            throttled_records: counter(
                "throttled_records_total",
                "Records refused with ServiceUnavailableException because the buffer was full (ThrottledRecords)",
            )?,
            put_request_duration,
            api_errors: counter_vec(
                "api_errors_total",
                "Firehose API requests answered with an error, by operation and error type",
                &["operation", "error"],
            )?,
            delivery_records: counter_vec(
                "delivery_records_total",
                "Records delivered (result=success) or whose delivery attempt failed (result=failure)",
                &["destination", "result"],
            )?,
            delivery_bytes: counter_vec(
                "delivery_bytes_total",
                "Record bytes delivered or failed, before compression",
                &["destination", "result"],
            )?,
            delivery_requests: counter_vec(
                "delivery_requests_total",
                "Delivery requests (objects written) by result; success/all is DeliveryToS3.Success",
                &["destination", "result"],
            )?,
            delivery_freshness,
            error_output_records: counter_vec(
                "delivery_error_output_records_total",
                "Records the destination gave up on, written to the error output, by error-output type",
                &["destination", "type"],
            )?,
            backup_records: counter(
                "backup_records_total",
                "Records written to the backup bucket (BackupToS3.Records)",
            )?,
            backup_bytes: counter(
                "backup_bytes_total",
                "Record bytes written to the backup bucket, before compression (BackupToS3.Bytes)",
            )?,
            ack_latency,
            processing_invocations: counter_vec(
                "processing_invocations_total",
                "Transformation invocations by result; success/all is ExecuteProcessing.Success",
                &["result"],
            )?,
            processing_duration,
            partitioning_duration,
            partition_count: gauge(
                "active_partitions",
                "Active dynamic partitions: buffers holding records or being delivered (PartitionCount)",
            )?,
            partition_count_exceeded: gauge(
                "partition_count_exceeded",
                "1 when the latest batch met the activePartitionLimit and records went to the error output (PartitionCountExceeded)",
            )?,
            processing_records: counter_vec(
                "processing_records_total",
                "Records out of the transformation by result: ok (SucceedProcessing.Records), dropped, failed",
                &["result"],
            )?,
            processing_bytes: counter(
                "processing_bytes_total",
                "Bytes of records the transformation returned Ok (SucceedProcessing.Bytes)",
            )?,
            wal_bytes: gauge("wal_bytes", "Bytes of write-ahead log segments on disk")?,
            wal_segments: gauge("wal_segments", "Write-ahead log segment files")?,
            wal_backlog_records: gauge(
                "wal_backlog_records",
                "Acknowledged records not yet delivered",
            )?,
            wal_replayed_records: counter(
                "wal_replayed_records_total",
                "Records found undelivered at start and replayed (possible duplicates)",
            )?,
            wal_truncated_bytes: counter(
                "wal_truncated_bytes_total",
                "Bytes of torn, unacknowledged tail cut off the write-ahead log at start",
            )?,
            fsync_duration,
            registry,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
