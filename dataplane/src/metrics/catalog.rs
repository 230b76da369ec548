//! Every metric's name (under the `hydrant_` prefix), help text and labels, beside the
//! Firehose CloudWatch metric each mirrors. docs/metrics.md lists them for users.

/// A metric's identity.
pub struct Spec {
    pub name: &'static str,
    pub help: &'static str,
    /// Variable labels (none for a plain counter or gauge).
    pub labels: &'static [&'static str],
}

const fn plain(name: &'static str, help: &'static str) -> Spec {
    Spec {
        name,
        help,
        labels: &[],
    }
}

const DESTINATION_RESULT: &[&str] = &["destination", "result"];

// Ingest.
pub const INCOMING_BYTES: Spec = plain(
    "incoming_bytes_total",
    "Bytes of record data accepted (IncomingBytes)",
);
pub const INCOMING_RECORDS: Spec = plain(
    "incoming_records_total",
    "Records accepted (IncomingRecords)",
);
pub const INCOMING_PUT_REQUESTS: Spec = plain(
    "incoming_put_requests_total",
    "PutRecord and PutRecordBatch requests accepted (IncomingPutRequests)",
);
pub const THROTTLED_RECORDS: Spec = plain(
    "throttled_records_total",
    "Records refused with ServiceUnavailableException because the buffer was full (ThrottledRecords)",
);
pub const PUT_REQUEST_DURATION: Spec = Spec {
    name: "put_request_duration_seconds",
    help: "Latency of Firehose API requests (PutRecord.Latency, PutRecordBatch.Latency, ...)",
    labels: &["operation"],
};
pub const API_ERRORS: Spec = Spec {
    name: "api_errors_total",
    help: "Firehose API requests answered with an error, by operation and error type",
    labels: &["operation", "error"],
};

// Delivery.
pub const DELIVERY_RECORDS: Spec = Spec {
    name: "delivery_records_total",
    help: "Records delivered (result=success) or whose delivery attempt failed (result=failure)",
    labels: DESTINATION_RESULT,
};
pub const DELIVERY_BYTES: Spec = Spec {
    name: "delivery_bytes_total",
    help: "Record bytes delivered or failed, before compression",
    labels: DESTINATION_RESULT,
};
pub const DELIVERY_REQUESTS: Spec = Spec {
    name: "delivery_requests_total",
    help: "Delivery requests (objects written) by result; success/all is DeliveryToS3.Success",
    labels: DESTINATION_RESULT,
};
pub const DELIVERY_FRESHNESS: Spec = Spec {
    name: "delivery_data_freshness_seconds",
    help: "Age of the oldest record not yet delivered (DeliveryToS3.DataFreshness)",
    labels: &["destination"],
};
pub const ERROR_OUTPUT_RECORDS: Spec = Spec {
    name: "delivery_error_output_records_total",
    help: "Records the destination gave up on, written to the error output, by error-output type",
    labels: &["destination", "type"],
};
pub const BACKUP_RECORDS: Spec = plain(
    "backup_records_total",
    "Records written to the backup bucket (BackupToS3.Records)",
);
pub const BACKUP_BYTES: Spec = plain(
    "backup_bytes_total",
    "Record bytes written to the backup bucket, before compression (BackupToS3.Bytes)",
);
pub const ACK_LATENCY: Spec = plain(
    "delivery_data_ack_latency_seconds",
    "Time from sending a request to Splunk to its indexer acknowledgement (DeliveryToSplunk.DataAckLatency)",
);

// Processing and partitioning.
pub const PROCESSING_INVOCATIONS: Spec = Spec {
    name: "processing_invocations_total",
    help: "Transformation invocations by result; success/all is ExecuteProcessing.Success",
    labels: &["result"],
};
pub const PROCESSING_DURATION: Spec = plain(
    "processing_duration_seconds",
    "Duration of transformation invocations (ExecuteProcessing.Duration)",
);
pub const PROCESSING_RECORDS: Spec = Spec {
    name: "processing_records_total",
    help: "Records out of the transformation by result: ok (SucceedProcessing.Records), dropped, failed",
    labels: &["result"],
};
pub const PROCESSING_BYTES: Spec = plain(
    "processing_bytes_total",
    "Bytes of records the transformation returned Ok (SucceedProcessing.Bytes)",
);
pub const PARTITIONING_DURATION: Spec = plain(
    "partitioning_duration_seconds",
    "Time to extract the partition keys of a batch's records and group them (JQProcessing.Duration, per batch)",
);
pub const PARTITION_COUNT: Spec = plain(
    "active_partitions",
    "Active dynamic partitions: buffers holding records or being delivered (PartitionCount)",
);
pub const PARTITION_COUNT_EXCEEDED: Spec = plain(
    "partition_count_exceeded",
    "1 when the latest batch met the activePartitionLimit and records went to the error output (PartitionCountExceeded)",
);

// The write-ahead log.
pub const WAL_BYTES: Spec = plain("wal_bytes", "Bytes of write-ahead log segments on disk");
pub const WAL_SEGMENTS: Spec = plain("wal_segments", "Write-ahead log segment files");
pub const WAL_MAX_BYTES: Spec = plain(
    "wal_max_bytes",
    "The log's bound (spec.buffer.maxBytes): puts are throttled when wal_bytes reaches it",
);
pub const BUFFERING_INTERVAL: Spec = plain(
    "buffering_interval_seconds",
    "The destination's buffering interval (bufferingHints.intervalInSeconds), for freshness alerts",
);
pub const WAL_BACKLOG_RECORDS: Spec = plain(
    "wal_backlog_records",
    "Acknowledged records not yet delivered",
);
pub const WAL_REPLAYED_RECORDS: Spec = plain(
    "wal_replayed_records_total",
    "Records found undelivered at start and replayed (possible duplicates)",
);
pub const WAL_TRUNCATED_BYTES: Spec = plain(
    "wal_truncated_bytes_total",
    "Bytes of torn, unacknowledged tail cut off the write-ahead log at start",
);
pub const FSYNC_DURATION: Spec = plain(
    "fsync_duration_seconds",
    "Duration of write-ahead log fsyncs (one per group commit)",
);

// Sources other than Direct PUT (labels: `source` is `kinesis` or `kafka`).
pub const SOURCE_RECORDS: Spec = Spec {
    name: "source_records_total",
    help: "Records read from the source (DataReadFromKinesisStream.Records, DataReadFromSource.Records)",
    labels: &["source"],
};
pub const SOURCE_BYTES: Spec = Spec {
    name: "source_bytes_total",
    help: "Bytes of record data read from the source (DataReadFromKinesisStream.Bytes, DataReadFromSource.Bytes)",
    labels: &["source"],
};
pub const SOURCE_THROTTLED: Spec = Spec {
    name: "source_throttled_total",
    help: "Source calls refused for throughput and retried later, by operation (ThrottledGetRecords, ThrottledGetShardIterator, ThrottledDescribeStream)",
    labels: &["source", "operation"],
};
pub const SOURCE_COMMITS: Spec = Spec {
    name: "source_commits_total",
    help: "Commits of source positions (Kinesis checkpoints, Kafka offsets) after delivery, by result",
    labels: &["source", "result"],
};
pub const SOURCE_MILLIS_BEHIND: Spec = Spec {
    name: "source_millis_behind_latest",
    help: "How far the reader of a Kinesis shard is behind the shard's newest record, in ms (KinesisMillisBehindLatest)",
    labels: &["shard"],
};
pub const SOURCE_LAG_RECORDS: Spec = Spec {
    name: "source_lag_records",
    help: "Records of a Kafka partition after the last committed offset (consumer lag)",
    labels: &["partition"],
};
