use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BufferingHints, ProcessingConfiguration, RetryOptions, S3Destination, TlsOptions};

/// Splunk HTTP Event Collector (Firehose's `SplunkDestinationConfiguration`), with indexer
/// acknowledgement.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SplunkDestination {
    /// HEC base URL, e.g. `https://splunk-hec.splunk:8088`.
    #[schemars(length(min = 1, max = 2048))]
    pub hec_endpoint: String,
    /// `Raw` sends record bytes to `/services/collector/raw`; `Event` sends records that are
    /// already HEC events to `/services/collector/event`.
    pub hec_endpoint_type: HecEndpointType,
    /// Secret whose key `token` is the HEC token.
    #[schemars(length(min = 1, max = 253))]
    pub hec_token_secret: String,
    /// How long to wait for the indexer acknowledgement of a request.
    #[serde(default = "default_ack_timeout")]
    #[schemars(range(min = 180, max = 600))]
    pub hec_acknowledgment_timeout_in_seconds: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOptions>,
    #[serde(default = "splunk_hints")]
    pub buffering_hints: BufferingHints,
    #[serde(default = "RetryOptions::default_300")]
    pub retry_options: RetryOptions,
    #[serde(default)]
    pub s3_backup_mode: SplunkBackupMode,
    /// Bucket for failed events (and every event with `AllEvents`).
    pub s3_configuration: S3Destination,
    #[serde(default)]
    pub processing_configuration: ProcessingConfiguration,
}

fn default_ack_timeout() -> i32 {
    180
}

pub(crate) fn splunk_hints() -> BufferingHints {
    BufferingHints {
        size_in_mbs: 5,
        interval_in_seconds: 60,
    }
}

/// Firehose's `HECEndpointType`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HecEndpointType {
    Raw,
    Event,
}

/// Firehose's Splunk `S3BackupMode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SplunkBackupMode {
    #[default]
    FailedEventsOnly,
    AllEvents,
}
