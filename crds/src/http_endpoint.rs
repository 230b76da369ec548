use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BufferingHints, ProcessingConfiguration, RetryOptions, S3Destination, TlsOptions};

/// Any HTTP endpoint speaking Firehose's HTTP delivery protocol
/// (`HttpEndpointDestinationConfiguration`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpEndpointDestination {
    pub endpoint_configuration: EndpointConfiguration,
    #[serde(default)]
    pub request_configuration: RequestConfiguration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOptions>,
    #[serde(default)]
    pub buffering_hints: BufferingHints,
    #[serde(default = "RetryOptions::default_300")]
    pub retry_options: RetryOptions,
    #[serde(default)]
    pub s3_backup_mode: HttpBackupMode,
    /// Bucket for failed data (and all data with `AllData`).
    pub s3_configuration: S3Destination,
    #[serde(default)]
    pub processing_configuration: ProcessingConfiguration,
}

/// Where requests go.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfiguration {
    /// The URL requests are POSTed to, path and query unmodified. Unlike Firehose, `http://` and
    /// ports other than 443 are accepted (in-cluster services).
    #[schemars(length(min = 1, max = 1000))]
    pub url: String,
    /// A display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub name: Option<String>,
    /// Secret whose key `accessKey` is sent as `X-Amz-Firehose-Access-Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub access_key_secret: Option<String>,
}

/// Firehose's `HttpEndpointRequestConfiguration`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestConfiguration {
    #[serde(default)]
    pub content_encoding: ContentEncoding,
    /// Sent in `X-Amz-Firehose-Common-Attributes`.
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub common_attributes: Vec<CommonAttribute>,
}

/// Request body compression.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContentEncoding {
    #[default]
    None,
    Gzip,
}

/// One common attribute.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonAttribute {
    #[schemars(length(min = 1, max = 256))]
    pub attribute_name: String,
    #[schemars(length(max = 1024))]
    pub attribute_value: String,
}

/// Firehose's HTTP endpoint `S3BackupMode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum HttpBackupMode {
    #[default]
    FailedDataOnly,
    AllData,
}
