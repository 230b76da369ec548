use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Firehose's `ProcessingConfiguration`, with each processor's parameters as typed fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingConfiguration {
    /// Processors run only when enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Applied in Firehose's order whatever the list order: de-aggregation, decompression and
    /// CloudWatch Logs extraction, Lambda, then the delimiter.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub processors: Vec<Processor>,
}

impl ProcessingConfiguration {
    /// Whether records get a newline appended before delivery.
    pub fn appends_delimiter(&self) -> bool {
        self.enabled
            && self
                .processors
                .iter()
                .any(|p| p.r#type == ProcessorType::AppendDelimiterToRecord)
    }

    /// The enabled processor of `kind`, if configured.
    pub fn processor(&self, kind: ProcessorType) -> Option<&Processor> {
        self.enabled
            .then(|| self.processors.iter().find(|p| p.r#type == kind))
            .flatten()
    }
}

/// One processor: its type, and the parameters of that type in the property named after it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Processor {
    /// The processor type, as Firehose names it.
    pub r#type: ProcessorType,
    /// Parameters of `Lambda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaProcessor>,
    /// Parameters of `RecordDeAggregation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_de_aggregation: Option<RecordDeAggregation>,
    /// Parameters of `Decompression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decompression: Option<Decompression>,
    /// Parameters of `CloudWatchLogProcessing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_log_processing: Option<CloudWatchLogProcessing>,
    /// Parameters of `MetadataExtraction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_extraction: Option<MetadataExtraction>,
}

impl Processor {
    /// A processor of `kind` without parameters.
    pub fn of(kind: ProcessorType) -> Self {
        Self {
            r#type: kind,
            lambda: None,
            record_de_aggregation: None,
            decompression: None,
            cloud_watch_log_processing: None,
            metadata_extraction: None,
        }
    }
}

/// Processor types (Firehose's names).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ProcessorType {
    /// Appends a newline to every record.
    AppendDelimiterToRecord,
    /// Calls an HTTP endpoint with Lambda's Firehose transformation event.
    Lambda,
    /// Splits records holding several JSON objects or delimited sub-records.
    RecordDeAggregation,
    /// Decompresses GZIP records (CloudWatch Logs subscription payloads).
    Decompression,
    /// Keeps only the log events' messages of CloudWatch Logs payloads.
    CloudWatchLogProcessing,
    /// Extracts partition keys with a JQ query.
    MetadataExtraction,
}

/// The `Lambda` processor: any HTTP endpoint that takes Firehose's transformation event and
/// answers with its response (an AWS Lambda function URL, an in-cluster Service, ...).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaProcessor {
    /// Where events are POSTed (Firehose's `LambdaArn`).
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Attempts after the first for a failed invocation (`NumberOfRetries`).
    #[serde(default = "default_retries")]
    #[schemars(range(min = 0, max = 300))]
    pub number_of_retries: i32,
    /// The function is invoked once its buffer holds this much record data, and an invocation
    /// carries at most this much (`BufferSizeInMBs`, 0.2-3).
    #[serde(default = "default_buffer_mb", rename = "bufferSizeInMBs")]
    #[schemars(range(min = 0.2, max = 3.0))]
    pub buffer_size_in_mbs: f64,
    /// The function is invoked at the latest this long after the oldest record in its buffer
    /// arrived (`BufferIntervalInSeconds`); the transformed records then wait in the
    /// destination's buffer for its own hints.
    #[serde(default = "default_buffer_interval")]
    #[schemars(range(min = 0, max = 900))]
    pub buffer_interval_in_seconds: i32,
    /// Per-invocation timeout (Firehose: 5 minutes, fixed).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 300))]
    pub timeout_in_seconds: i32,
    /// Invocations in flight at once for one delivery batch (batches in delivery at the same
    /// time each have their own).
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrency: i32,
    /// Secret with key `token` (sent as `Authorization: Bearer <token>`) or `authorization`
    /// (sent as the whole `Authorization` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub auth_secret: Option<String>,
}

fn default_retries() -> i32 {
    3
}
fn default_buffer_mb() -> f64 {
    1.0
}
fn default_buffer_interval() -> i32 {
    60
}
fn default_timeout() -> i32 {
    300
}
fn default_concurrency() -> i32 {
    5
}

/// The `RecordDeAggregation` processor.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordDeAggregation {
    pub sub_record_type: SubRecordType,
    /// Base64 of the delimiter for `DELIMITED` (Firehose's `Delimiter`, e.g. `IyMjIw==` for
    /// `####`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 5120))]
    pub delimiter: Option<String>,
}

/// Firehose's `SubRecordType`, plus KPL-aggregated records.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SubRecordType {
    #[serde(rename = "JSON")]
    Json,
    #[serde(rename = "DELIMITED")]
    Delimited,
    /// Kinesis Producer Library aggregated records (magic bytes, protobuf, MD5 trailer).
    #[serde(rename = "KPL")]
    Kpl,
}

/// The `Decompression` processor.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decompression {
    #[serde(default)]
    pub compression_format: DecompressionFormat,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DecompressionFormat {
    #[default]
    #[serde(rename = "GZIP")]
    Gzip,
}

/// The `CloudWatchLogProcessing` processor.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchLogProcessing {
    /// Emit only each log event's `message` (Firehose's `DataMessageExtraction`).
    #[serde(default = "yes")]
    pub data_message_extraction: bool,
}

impl Default for CloudWatchLogProcessing {
    fn default() -> Self {
        Self {
            data_message_extraction: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// The `MetadataExtraction` processor.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataExtraction {
    /// A JQ object expression producing the partition keys, e.g. `{customer_id: .customer_id}`
    /// (`MetadataExtractionQuery`).
    #[schemars(length(min = 1, max = 5120))]
    pub query: String,
    /// Only `JQ-1.6`.
    #[serde(default = "jq16")]
    pub json_parsing_engine: String,
}

fn jq16() -> String {
    "JQ-1.6".to_owned()
}
