use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BufferingHints, HttpBackupMode, ProcessingConfiguration, RetryOptions, S3Destination};

/// Amazon Redshift (Firehose's `RedshiftDestinationConfiguration`): batches are staged as objects
/// in `s3Configuration`, then loaded with `COPY ... FROM '<manifest>' MANIFEST`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedshiftDestination {
    /// `jdbc:redshift://host:5439/db` (or `jdbc:postgresql://...`).
    #[schemars(length(min = 1, max = 512))]
    pub cluster_jdbc_url: String,
    /// Secret with keys `username` and `password`.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
    pub copy_command: CopyCommand,
    /// IAM role Redshift assumes to read the staged objects (`CREDENTIALS 'aws_iam_role=...'`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub role_arn: Option<String>,
    #[serde(default = "RetryOptions::default_3600")]
    pub retry_options: RetryOptions,
    /// The intermediate bucket: objects, manifests (`manifests/`) and skipped-object manifests
    /// (`errors/`). Its buffering hints cut the batches.
    pub s3_configuration: S3Destination,
    #[serde(default)]
    pub processing_configuration: ProcessingConfiguration,
}

/// Firehose's `CopyCommand`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyCommand {
    #[schemars(length(min = 1, max = 512))]
    pub data_table_name: String,
    /// Comma-separated column list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 204800))]
    pub data_table_columns: Option<String>,
    /// Appended after `MANIFEST`, e.g. `json 'auto' gzip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 204800))]
    pub copy_options: Option<String>,
}

/// PostgreSQL or any PostgreSQL-wire database with `COPY ... FROM STDIN`: one transaction per
/// batch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostgresqlDestination {
    /// Secret with keys `host`, `port`, `dbname`, `user`, `password`, or one key `uri`
    /// (`postgresql://user:password@host:port/db`).
    #[schemars(length(min = 1, max = 253))]
    pub connection_secret: String,
    /// Table, optionally schema-qualified (`analytics.events`).
    #[schemars(length(min = 1, max = 256))]
    pub table: String,
    /// Columns loaded, in order: CSV fields, or the JSON keys read from each record.
    #[schemars(length(min = 1, max = 1600))]
    pub columns: Vec<String>,
    #[serde(default)]
    pub format: RecordFormat,
    #[serde(default)]
    pub buffering_hints: BufferingHints,
    #[serde(default = "RetryOptions::default_3600")]
    pub retry_options: RetryOptions,
    #[serde(default)]
    pub s3_backup_mode: HttpBackupMode,
    /// Bucket for failed rows (and all records with `AllData`).
    pub s3_configuration: S3Destination,
    #[serde(default)]
    pub processing_configuration: ProcessingConfiguration,
}

/// How a record becomes a row.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RecordFormat {
    /// A JSON object per record; `columns` name its keys (missing keys load NULL; nested values
    /// load as JSON text).
    #[default]
    #[serde(rename = "JSON")]
    Json,
    /// One CSV line per record, fields in `columns` order.
    #[serde(rename = "CSV")]
    Csv,
}
