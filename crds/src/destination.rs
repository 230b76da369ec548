use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    BufferingHints, HttpEndpointDestination, OpenSearchDestination, PostgresqlDestination,
    ProcessingConfiguration, RedshiftDestination, SplunkDestination, TlsOptions,
};

/// Where a stream delivers. Exactly one property is set (externally tagged, so the schema stays
/// structural as destinations are added).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Destination {
    /// Amazon S3 or any S3-compatible object store (Firehose's `ExtendedS3DestinationConfiguration`).
    S3(S3Destination),
    /// A directory on the local disk, named like an S3 bucket would be: the embedded default of
    /// `hydrant run`.
    Local(LocalDestination),
    /// OpenSearch or Elasticsearch.
    OpenSearch(Box<OpenSearchDestination>),
    /// Splunk HTTP Event Collector.
    Splunk(Box<SplunkDestination>),
    /// An HTTP endpoint speaking Firehose's HTTP delivery protocol.
    HttpEndpoint(Box<HttpEndpointDestination>),
    /// Amazon Redshift, loaded by COPY from staged S3 objects.
    Redshift(Box<RedshiftDestination>),
    /// PostgreSQL, loaded by `COPY ... FROM STDIN`.
    Postgresql(Box<PostgresqlDestination>),
}

impl Destination {
    /// The object-delivery settings of the S3 and local forms.
    pub fn object_delivery(&self) -> Option<&ObjectDelivery> {
        match self {
            Destination::S3(s3) => Some(&s3.delivery),
            Destination::Local(local) => Some(&local.delivery),
            _ => None,
        }
    }

    /// When batches are cut.
    pub fn buffering_hints(&self) -> BufferingHints {
        match self {
            Destination::S3(s3) => s3.delivery.buffering_hints,
            Destination::Local(local) => local.delivery.buffering_hints,
            Destination::OpenSearch(d) => d.buffering_hints,
            Destination::Splunk(d) => d.buffering_hints,
            Destination::HttpEndpoint(d) => d.buffering_hints,
            Destination::Redshift(d) => d.s3_configuration.delivery.buffering_hints,
            Destination::Postgresql(d) => d.buffering_hints,
        }
    }

    /// The record processors.
    pub fn processing(&self) -> &ProcessingConfiguration {
        match self {
            Destination::S3(s3) => &s3.delivery.processing_configuration,
            Destination::Local(local) => &local.delivery.processing_configuration,
            Destination::OpenSearch(d) => &d.processing_configuration,
            Destination::Splunk(d) => &d.processing_configuration,
            Destination::HttpEndpoint(d) => &d.processing_configuration,
            Destination::Redshift(d) => &d.processing_configuration,
            Destination::Postgresql(d) => &d.processing_configuration,
        }
    }

    /// The bucket failed records (and backups) are written to, for destinations that have one.
    pub fn s3_configuration(&self) -> Option<&S3Destination> {
        match self {
            Destination::S3(_) | Destination::Local(_) => None,
            Destination::OpenSearch(d) => Some(&d.s3_configuration),
            Destination::Splunk(d) => Some(&d.s3_configuration),
            Destination::HttpEndpoint(d) => Some(&d.s3_configuration),
            Destination::Redshift(d) => Some(&d.s3_configuration),
            Destination::Postgresql(d) => Some(&d.s3_configuration),
        }
    }

    /// The metrics label and Firehose-ish name of this destination kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Destination::S3(_) => "s3",
            Destination::Local(_) => "local",
            Destination::OpenSearch(_) => "opensearch",
            Destination::Splunk(_) => "splunk",
            Destination::HttpEndpoint(_) => "http_endpoint",
            Destination::Redshift(_) => "redshift",
            Destination::Postgresql(_) => "postgresql",
        }
    }

    /// The property name under `spec.destination`, for error messages.
    pub fn field(&self) -> &'static str {
        match self {
            Destination::S3(_) => "s3",
            Destination::Local(_) => "local",
            Destination::OpenSearch(_) => "openSearch",
            Destination::Splunk(_) => "splunk",
            Destination::HttpEndpoint(_) => "httpEndpoint",
            Destination::Redshift(_) => "redshift",
            Destination::Postgresql(_) => "postgresql",
        }
    }

    /// Every Secret the destination reads, the backup bucket's included.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        match self {
            Destination::S3(s3) => {
                out.extend(s3.location.credentials_secret.as_deref());
                out.extend(
                    s3.s3_backup_configuration
                        .as_ref()
                        .and_then(|b| b.location.credentials_secret.as_deref()),
                );
            }
            Destination::Local(_) => {}
            Destination::OpenSearch(d) => {
                out.extend(d.auth_secret.as_deref());
                out.extend(tls_secret(&d.tls));
            }
            Destination::Splunk(d) => {
                out.push(&d.hec_token_secret);
                out.extend(tls_secret(&d.tls));
            }
            Destination::HttpEndpoint(d) => {
                out.extend(d.endpoint_configuration.access_key_secret.as_deref());
                out.extend(tls_secret(&d.tls));
            }
            Destination::Redshift(d) => out.push(&d.credentials_secret),
            Destination::Postgresql(d) => out.push(&d.connection_secret),
        }
        if let Some(s3) = self.s3_configuration() {
            out.extend(s3.location.credentials_secret.as_deref());
        }
        out.extend(
            self.processing()
                .processors
                .iter()
                .filter_map(|p| p.lambda.as_ref())
                .filter_map(|l| l.auth_secret.as_deref()),
        );
        out
    }
}

fn tls_secret(tls: &Option<TlsOptions>) -> Option<&str> {
    tls.as_ref().and_then(|t| t.ca_secret.as_deref())
}

/// A bucket of an S3-compatible store, and how to reach it: the part every S3 setting shares
/// (the S3 destination, `s3Configuration`, `s3BackupConfiguration`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Bucket {
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Endpoint URL of an S3-compatible store; omit for AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: Option<String>,
    /// Region used to sign requests.
    #[serde(default = "default_region")]
    #[schemars(length(min = 1, max = 64))]
    pub region: String,
    /// Address buckets as `endpoint/bucket` (most S3-compatible stores). When false, requests use
    /// virtual-hosted style: without `endpoint` that is `bucket.s3.<region>.amazonaws.com`; with
    /// an `endpoint`, it is used as given and must already name the bucket.
    #[serde(default)]
    pub force_path_style: bool,
    /// Secret with keys `accessKeyId` and `secretAccessKey`. Without it, credentials come from the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, web identity, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,
}

/// An S3-compatible bucket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Destination {
    #[serde(flatten)]
    pub location: S3Bucket,
    #[serde(flatten)]
    pub delivery: ObjectDelivery,
    /// `Enabled`: the untransformed source records are also written to `s3BackupConfiguration`
    /// (only meaningful on the primary S3 destination).
    #[serde(default, skip_serializing_if = "is_disabled")]
    pub s3_backup_mode: SourceBackupMode,
    /// Where source records are backed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_backup_configuration: Option<Box<BackupBucket>>,
}

fn is_disabled(m: &SourceBackupMode) -> bool {
    *m == SourceBackupMode::Disabled
}

/// Firehose's `S3BackupMode` of an extended S3 destination.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SourceBackupMode {
    #[default]
    Disabled,
    Enabled,
}

/// The bucket source records are backed up to (Firehose's `S3BackupConfiguration`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupBucket {
    #[serde(flatten)]
    pub location: S3Bucket,
    /// Key prefix of backup objects (same expressions and default time as `prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
    #[serde(default)]
    pub compression_format: CompressionFormat,
    /// The backup's own buffering (Firehose's defaults: 5 MiB, 300 s): backup objects are cut
    /// by these hints, independently of the destination's.
    #[serde(default)]
    pub buffering_hints: crate::BufferingHints,
}

impl BackupBucket {
    /// The bucket as an S3 destination (for the object writer).
    pub fn as_s3(&self) -> S3Destination {
        S3Destination {
            location: self.location.clone(),
            delivery: ObjectDelivery {
                prefix: self.prefix.clone(),
                compression_format: self.compression_format,
                ..ObjectDelivery::default()
            },
            s3_backup_mode: SourceBackupMode::Disabled,
            s3_backup_configuration: None,
        }
    }
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// A local directory.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalDestination {
    /// Directory objects are written under (created if missing).
    #[serde(default = "default_local_directory")]
    #[schemars(length(min = 1, max = 4096))]
    pub directory: String,
    #[serde(flatten)]
    pub delivery: ObjectDelivery,
}

fn default_local_directory() -> String {
    "./hydrant-data".to_owned()
}

/// How batches become objects: naming, buffering, compression and processing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDelivery {
    /// Key prefix; may hold `!{timestamp:...}` and `!{firehose:random-string}`. Without any
    /// timestamp expression, `yyyy/MM/dd/HH/` is appended, as Firehose does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
    /// Key prefix of failed records; must hold `!{firehose:error-output-type}` if it has any
    /// expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub error_output_prefix: Option<String>,
    /// When a batch is delivered.
    #[serde(default)]
    pub buffering_hints: BufferingHints,
    /// Compression of delivered objects.
    #[serde(default)]
    pub compression_format: CompressionFormat,
    /// Deflate level of `GZIP` and `ZIP` objects: 1 (fastest) to 9 (smallest); unset, zlib's
    /// default 6. Not allowed with other formats. A Hydrant field: Firehose has no such setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 9))]
    pub compression_level: Option<i32>,
    /// Replaces the default file extension (`.gz`, `.zip`, `.snappy`); empty keeps the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), regex(pattern = r"^$|\.[0-9a-z!\-_.*'()]+$"))]
    pub file_extension: Option<String>,
    /// Record processors.
    #[serde(default)]
    pub processing_configuration: ProcessingConfiguration,
    /// Objects per partition key (Firehose's `DynamicPartitioningConfiguration`).
    #[serde(default)]
    pub dynamic_partitioning_configuration: DynamicPartitioningConfiguration,
    /// JSON records written as Parquet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_format_conversion_configuration: Option<Box<crate::DataFormatConversionConfiguration>>,
}

/// Dynamic partitioning: records are grouped by the partition keys their prefix names
/// (`!{partitionKeyFromQuery:...}` from a `MetadataExtraction` query, `!{partitionKeyFromLambda:...}`
/// from the transformation's `metadata.partitionKeys`); each partition has its own buffer,
/// flushed as one object by the buffering hints.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DynamicPartitioningConfiguration {
    #[serde(default)]
    pub enabled: bool,
    /// How long a partition's failing object is retried before its records go to the error
    /// output (object stores: retried forever; kept for Firehose compatibility).
    #[serde(default = "crate::RetryOptions::default_300")]
    pub retry_options: crate::RetryOptions,
    /// Active partitions (buffering, or being delivered) beyond which records of new partitions
    /// go to the error output (Firehose's active-partition quota, default 500).
    #[serde(default = "default_partition_limit")]
    #[schemars(range(min = 1, max = 5000))]
    pub active_partition_limit: i32,
}

fn default_partition_limit() -> i32 {
    500
}

impl Default for DynamicPartitioningConfiguration {
    fn default() -> Self {
        Self {
            enabled: false,
            retry_options: crate::RetryOptions::default_300(),
            active_partition_limit: default_partition_limit(),
        }
    }
}

/// Firehose's `CompressionFormat`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CompressionFormat {
    #[default]
    #[serde(rename = "UNCOMPRESSED")]
    Uncompressed,
    #[serde(rename = "GZIP")]
    Gzip,
    #[serde(rename = "ZIP")]
    Zip,
    #[serde(rename = "Snappy")]
    Snappy,
    #[serde(rename = "HADOOP_SNAPPY")]
    HadoopSnappy,
}

impl CompressionFormat {
    /// The name Firehose uses in its API.
    pub fn as_firehose(&self) -> &'static str {
        match self {
            CompressionFormat::Uncompressed => "UNCOMPRESSED",
            CompressionFormat::Gzip => "GZIP",
            CompressionFormat::Zip => "ZIP",
            CompressionFormat::Snappy => "Snappy",
            CompressionFormat::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }
}
