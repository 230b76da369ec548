//! Where a stream's records come from (Firehose's `DeliveryStreamType`): producers' PUTs, an
//! existing Kinesis data stream, or a Kafka topic. For the last two the source's own retention
//! is the durable buffer: a position is committed only after delivery (docs/sources.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where records come from (Firehose's `DeliveryStreamType`). Exactly one property is set;
/// default `directPut`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Producers call PutRecord / PutRecordBatch on the stream's endpoint (Firehose's
    /// `DirectPut`).
    DirectPut(DirectPutSource),
    /// Read an existing Kinesis data stream (Firehose's `KinesisStreamAsSource`, configured by
    /// `KinesisStreamSourceConfiguration`). PutRecord and PutRecordBatch are refused.
    KinesisStream(KinesisStreamSource),
    /// Read a Kafka topic, Amazon MSK's or any Kafka's, as a member of a consumer group
    /// (Firehose's `MSKAsSource`, configured by `MSKSourceConfiguration`). PutRecord and
    /// PutRecordBatch are refused.
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

/// An existing Kinesis data stream on AWS or any Kinesis-compatible server
/// (Firehose's `KinesisStreamSourceConfiguration`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.streamArn) != has(self.streamName)", "message": "set exactly one of streamArn and streamName"},
    {"rule": "!has(self.timestamp) || (has(self.startingPosition) && self.startingPosition == 'AT_TIMESTAMP')", "fieldPath": ".timestamp", "message": "timestamp is only read with startingPosition AT_TIMESTAMP"},
    {"rule": "!has(self.startingPosition) || self.startingPosition != 'AT_TIMESTAMP' || has(self.timestamp)", "fieldPath": ".timestamp", "message": "startingPosition AT_TIMESTAMP needs a timestamp (RFC 3339, such as 2026-01-31T08:00:00Z)"}
]))]
pub struct KinesisStreamSource {
    /// The stream's ARN, `arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>`
    /// (Firehose's `KinesisStreamARN`); its region is the default signing region. Set exactly
    /// one of `streamArn` and `streamName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub stream_arn: Option<String>,
    /// The stream's name, 1-128 characters of `[a-zA-Z0-9_.-]`, in the account the credentials
    /// belong to (Firehose takes only the ARN). Set exactly one of `streamArn` and `streamName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub stream_name: Option<String>,
    /// URL (`http://` or `https://`) of a Kinesis-compatible server; unset: AWS's endpoint for
    /// the signing region. Firehose has no such setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: Option<String>,
    /// Region used to sign requests (and to pick AWS's endpoint); default: the region of
    /// `streamArn`, else `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
    /// Secret, in the stream's namespace, with keys `accessKeyId`, `secretAccessKey` and
    /// optionally `sessionToken`: the credentials the stream is read with, where Firehose assumes
    /// its `RoleARN`. Unset: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`) from the environment, which in a pod are an `s3` destination's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,
    /// Where a shard without a checkpoint starts: `LATEST` (the default, where Firehose always
    /// starts), `TRIM_HORIZON` or `AT_TIMESTAMP`. A shard with a checkpoint resumes after it.
    #[serde(default)]
    pub starting_position: StartingPosition,
    /// With `startingPosition: AT_TIMESTAMP`, and only then: the approximate arrival time to
    /// start at, RFC 3339 with an offset (`2026-01-31T08:00:00Z`).
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
    /// Records put to the shard after the stream starts reading it.
    #[default]
    #[serde(rename = "LATEST")]
    Latest,
    /// The oldest record the shard retains.
    #[serde(rename = "TRIM_HORIZON")]
    TrimHorizon,
    /// Records whose approximate arrival time is at or after `timestamp`.
    #[serde(rename = "AT_TIMESTAMP")]
    AtTimestamp,
}

/// A Kafka topic (Amazon MSK or any Kafka), read as a member of a consumer group (Firehose's
/// `MSKSourceConfiguration`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSource {
    /// The brokers to bootstrap from, `host:port[,host:port...]`: a port of 1-65535, no scheme,
    /// an IPv6 address in brackets. Firehose's `MSKClusterARN` names an MSK cluster instead;
    /// here its bootstrap brokers are listed.
    #[schemars(length(min = 1, max = 4096))]
    pub bootstrap_servers: String,
    /// The topic to read (Firehose's `TopicName`): 1-249 characters of `[a-zA-Z0-9._-]`.
    #[schemars(length(min = 1, max = 249), regex(pattern = r"^[a-zA-Z0-9._-]+$"))]
    pub topic: String,
    /// The consumer group every replica of the stream joins, and commits its offsets to; Kafka's
    /// group coordinator assigns the topic's partitions among the replicas. Default
    /// `hydrant.<namespace>.<name>`. Firehose has no such setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub consumer_group: Option<String>,
    /// Where a partition without a committed offset starts: its first record whose timestamp is
    /// at or after this time, RFC 3339 with an offset (`2026-01-31T08:00:00Z`); unset: the
    /// earliest record the partition retains. A partition with a committed offset resumes there.
    /// Firehose's `ReadFromTimestamp`, whose default is the time the stream became ACTIVE
    /// (there, `1970-01-01T00:00:00Z` asks for the earliest record, as leaving it out does here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub read_from_timestamp: Option<String>,
    /// Connect to the brokers with TLS; unset: plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTls>,
    /// Authenticate with SASL (over TLS when `tls` is set); unset: no authentication. Firehose's
    /// `AuthenticationConfiguration` assumes an IAM `RoleARN` instead, over a `Connectivity` of
    /// PUBLIC or PRIVATE.
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
    /// Secret, in the stream's namespace, with key `ca.crt`: the PEM bundle of the CAs that sign
    /// the brokers' certificates; unset: the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret: Option<String>,
}

/// SASL authentication to the brokers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSasl {
    /// `SCRAM-SHA-512` (MSK's user-name-and-password authentication) or `PLAIN`.
    pub mechanism: SaslMechanism,
    /// Secret, in the stream's namespace, with keys `username` and `password`.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
}

/// The SASL mechanisms MSK offers with user names and passwords.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SaslMechanism {
    /// Salted challenge-response: the password never crosses the wire.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    /// The password is sent as it is: pair it with `tls`.
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
