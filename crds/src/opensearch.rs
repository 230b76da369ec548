use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BufferingHints, ProcessingConfiguration, RetryOptions, S3Destination};

/// OpenSearch or Elasticsearch (Firehose's `AmazonopensearchserviceDestinationConfiguration`):
/// one `_bulk` request per batch with an explicit index per document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenSearchDestination {
    /// Cluster URL, e.g. `https://opensearch.logging:9200`.
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: String,
    /// Index name; rotation appends a date suffix.
    #[schemars(length(min = 1, max = 80))]
    pub index_name: String,
    /// Document type (Elasticsearch 6.x); omit for 7.x and OpenSearch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub type_name: Option<String>,
    /// Suffix appended to the index from the record's arrival time (UTC).
    #[serde(default)]
    pub index_rotation_period: IndexRotationPeriod,
    /// Whether documents get IDs that stay the same across retries.
    #[serde(default)]
    pub document_id_options: DocumentIdOptions,
    /// Secret with keys `username` and `password` (basic auth), or `apiKey` (sent as
    /// `Authorization: ApiKey <apiKey>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub auth_secret: Option<String>,
    /// TLS settings for an https endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOptions>,
    #[serde(default = "opensearch_hints")]
    pub buffering_hints: BufferingHints,
    #[serde(default = "RetryOptions::default_300")]
    pub retry_options: RetryOptions,
    /// Which records are also written to `s3Configuration`.
    #[serde(default)]
    pub s3_backup_mode: OpenSearchBackupMode,
    /// Bucket for failed documents (and every document with `AllDocuments`).
    pub s3_configuration: S3Destination,
    #[serde(default)]
    pub processing_configuration: ProcessingConfiguration,
}

pub(crate) fn opensearch_hints() -> BufferingHints {
    BufferingHints::default()
}

/// TLS settings for a destination endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsOptions {
    /// Secret whose key `ca.crt` holds PEM certificates trusted in addition to the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret: Option<String>,
}

/// Firehose's `IndexRotationPeriod`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum IndexRotationPeriod {
    NoRotation,
    OneHour,
    #[default]
    OneDay,
    OneWeek,
    OneMonth,
}

/// Firehose's `DocumentIdOptions`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentIdOptions {
    #[serde(default)]
    pub default_document_id_format: DocumentIdFormat,
}

/// `FIREHOSE_DEFAULT`: an ID derived from the record's place in the log, the same on every retry
/// and after a restart (re-indexing is idempotent). `NO_DOCUMENT_ID`: the cluster assigns IDs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DocumentIdFormat {
    #[default]
    #[serde(rename = "FIREHOSE_DEFAULT")]
    FirehoseDefault,
    #[serde(rename = "NO_DOCUMENT_ID")]
    NoDocumentId,
}

/// Firehose's OpenSearch `S3BackupMode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum OpenSearchBackupMode {
    #[default]
    FailedDocumentsOnly,
    AllDocuments,
}
