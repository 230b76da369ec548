//! The `DeliveryStream` API (group `hydrant.dev`, version `v1alpha1`).
//!
//! The same types are the operator's custom resource and the data plane's configuration: a pod reads
//! the spec the operator wrote into its ConfigMap, and `hydrant run -f` reads the very manifest a user
//! applies. Field names follow Firehose's API vocabulary in camelCase.

pub mod autoscaling;
pub mod buffer;
pub mod buffering;
pub mod conversion;
pub mod database;
pub mod destination;
pub mod encryption;
pub mod firehose;
pub mod generate;
pub mod hive_type;
pub mod http_endpoint;
pub mod ingest;
pub mod manifest;
pub mod network_policy;
pub mod opensearch;
pub mod pod;
pub mod prefix;
pub mod processing;
pub mod quantity;
pub mod retry;
pub mod source;
pub mod splunk;
pub mod status;
pub mod stream;
mod strict;
pub mod validate;

pub use autoscaling::Autoscaling;
pub use buffer::{
    BufferSpec, BufferStorage, ClaimStorage, Durability, EmptyDirStorage, volume_bytes,
};
pub use buffering::BufferingHints;
pub use conversion::{
    Column, DataFormatConversionConfiguration, Deserializer, HiveJsonSerDe,
    InputFormatConfiguration, OpenXJsonSerDe, OutputFormatConfiguration, ParquetCompression,
    ParquetSerDe, SchemaConfiguration, Serializer,
};
pub use database::{CopyCommand, PostgresqlDestination, RecordFormat, RedshiftDestination};
pub use destination::{
    BackupBucket, CompressionFormat, Destination, DynamicPartitioningConfiguration,
    LocalDestination, ObjectDelivery, S3Bucket, S3Destination, SourceBackupMode,
};
pub use encryption::{EncryptionSpec, KeyType};
pub use hive_type::HiveType;
pub use http_endpoint::{
    CommonAttribute, ContentEncoding, EndpointConfiguration, HttpBackupMode,
    HttpEndpointDestination, RequestConfiguration,
};
pub use ingest::{IngestAuth, IngestSpec, IngestTls, SigV4Auth};
pub use network_policy::NetworkPolicySpec;
pub use opensearch::{
    DocumentIdFormat, DocumentIdOptions, IndexRotationPeriod, OpenSearchBackupMode,
    OpenSearchDestination, TlsOptions,
};
pub use pod::{PodMetadataOverrides, PodSpecOverrides, PodTemplateOverrides};
pub use prefix::{PrefixPart, PrefixTemplate, TimePart};
pub use processing::{
    CloudWatchLogProcessing, Decompression, DecompressionFormat, LambdaProcessor,
    MetadataExtraction, ProcessingConfiguration, Processor, ProcessorType, RecordDeAggregation,
    SubRecordType,
};
pub use quantity::parse_quantity;
pub use retry::RetryOptions;
pub use source::{
    DirectPutSource, KafkaSasl, KafkaSource, KafkaTls, KinesisStreamSource, SaslMechanism, Source,
    StartingPosition,
};
pub use splunk::{HecEndpointType, SplunkBackupMode, SplunkDestination};
pub use status::{Condition, DeliveryHealthStatus, DeliveryStreamStatus, DrainStatus};
pub use stream::{DELIVERY_STREAM_NAME_ANNOTATION, DeliveryStream, DeliveryStreamSpec};
pub use validate::{FieldError, validate_spec};
