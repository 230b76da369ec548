//! Where a stream's records come from (Firehose's `DeliveryStreamType`): producers' PUTs, an
//! existing Kinesis data stream, or a Kafka topic. For the last two the source's own retention
//! is the durable buffer: offsets are committed only after delivery.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where records come from (Firehose's `DeliveryStreamType`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Producers call PutRecord / PutRecordBatch (Firehose's `DirectPut`).
    DirectPut(DirectPutSource),
    /// Read an existing Kinesis data stream (Firehose's `KinesisStreamAsSource`).
    KinesisStream(KinesisStreamSource),
    /// Read a Kafka topic as a consumer-group member (Firehose's `MSKAsSource`).
    Kafka(KafkaSource),
}

impl Default for Source {
    fn default() -> Self {
        Source::DirectPut(DirectPutSource {})
    }
}

impl Source {
    /// Firehose's `DeliveryStreamType` for this source.
    pub fn delivery_stream_type(&self) -> &'static str {
        match self {
            Source::DirectPut(_) => "DirectPut",
            Source::KinesisStream(_) => "KinesisStreamAsSource",
            Source::Kafka(_) => "MSKAsSource",
        }
    }

    /// The property name under `spec.source`, for error messages.
    pub fn field(&self) -> &'static str {
        match self {
            Source::DirectPut(_) => "directPut",
            Source::KinesisStream(_) => "kinesisStream",
            Source::Kafka(_) => "kafka",
        }
    }

    /// Whether producers may PUT records (only with `directPut`).
    pub fn accepts_puts(&self) -> bool {
        matches!(self, Source::DirectPut(_))
    }

    /// Secrets the source reads.
    pub fn secret_names(&self) -> Vec<&str> {
        match self {
            Source::DirectPut(_) => Vec::new(),
            Source::KinesisStream(k) => k.credentials_secret.iter().map(String::as_str).collect(),
            Source::Kafka(k) => {
                let mut out: Vec<&str> = Vec::new();
                out.extend(k.tls.as_ref().and_then(|t| t.ca_secret.as_deref()));
                out.extend(k.sasl.as_ref().map(|s| s.credentials_secret.as_str()));
                out
            }
        }
    }
}

/// Direct PUT needs no settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct DirectPutSource {}

/// An existing Kinesis data stream on AWS or any Kinesis-compatible server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KinesisStreamSource {
    /// The stream's ARN (`arn:aws:kinesis:<region>:<account>:stream/<name>`, Firehose's
    /// `KinesisStreamARN`). Set this or `streamName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub stream_arn: Option<String>,
    /// The stream's name. Set this or `streamArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub stream_name: Option<String>,
    /// Endpoint URL of a Kinesis-compatible server; omit for AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: Option<String>,
    /// Region used to sign requests; default: the region of `streamArn`, else `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
    /// Secret with keys `accessKeyId` and `secretAccessKey`. Without it, credentials come from
    /// the environment. (Firehose's `RoleARN`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,
    /// Where a shard with no checkpoint starts. Default `LATEST`, as Firehose.
    #[serde(default)]
    pub starting_position: StartingPosition,
    /// With `AT_TIMESTAMP`: the first arrival time to read (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub timestamp: Option<String>,
}

impl KinesisStreamSource {
    /// The stream's name, from `streamName` or the last part of `streamArn`.
    pub fn name(&self) -> Option<&str> {
        self.stream_name.as_deref().or_else(|| {
            self.stream_arn
                .as_deref()
                .and_then(|arn| arn.rsplit_once(":stream/").map(|(_, n)| n))
        })
    }

    /// The signing region: `region`, else the ARN's, else `us-east-1`.
    pub fn signing_region(&self) -> String {
        if let Some(r) = &self.region {
            return r.clone();
        }
        self.stream_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(3))
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1")
            .to_owned()
    }
}

/// Where a Kinesis shard without a checkpoint starts reading.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StartingPosition {
    /// Records put after the stream starts reading.
    #[default]
    #[serde(rename = "LATEST")]
    Latest,
    /// The oldest record the shard retains.
    #[serde(rename = "TRIM_HORIZON")]
    TrimHorizon,
    /// Records that arrived at or after `timestamp`.
    #[serde(rename = "AT_TIMESTAMP")]
    AtTimestamp,
}

/// A Kafka topic (Amazon MSK or any Kafka), read as a member of a consumer group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSource {
    /// `host:port[,host:port...]` of the brokers (Firehose's `MSKClusterARN` names the
    /// cluster instead).
    #[schemars(length(min = 1, max = 4096))]
    pub bootstrap_servers: String,
    /// The topic (Firehose's `TopicName`).
    #[schemars(length(min = 1, max = 249), regex(pattern = r"^[a-zA-Z0-9._-]+$"))]
    pub topic: String,
    /// The consumer group; default `hydrant.<namespace>.<name>`. Every replica of the stream
    /// joins it, and Kafka's group coordinator assigns the partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub consumer_group: Option<String>,
    /// A partition without a committed offset starts at the first record whose timestamp is at
    /// or after this time (RFC 3339); unset: the earliest record (Firehose's
    /// `ReadFromTimestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub read_from_timestamp: Option<String>,
    /// Connect with TLS; unset: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTls>,
    /// Authenticate with SASL; unset: no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<KafkaSasl>,
}

impl KafkaSource {
    /// The consumer group the stream's replicas share.
    pub fn group(&self, namespace: &str, name: &str) -> String {
        self.consumer_group
            .clone()
            .unwrap_or_else(|| format!("hydrant.{namespace}.{name}"))
    }
}

/// TLS to the brokers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTls {
    /// Secret with key `ca.crt`: the PEM bundle that signs the brokers' certificates; unset:
    /// the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret: Option<String>,
}

/// SASL authentication to the brokers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSasl {
    pub mechanism: SaslMechanism,
    /// Secret with keys `username` and `password`.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
}

/// The SASL mechanisms MSK offers with user names and passwords.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SaslMechanism {
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    #[serde(rename = "PLAIN")]
    Plain,
}

impl SaslMechanism {
    /// librdkafka's `sasl.mechanism` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::Plain => "PLAIN",
        }
    }
}
