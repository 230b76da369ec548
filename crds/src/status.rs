use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the operator observed. Written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStreamStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Firehose's `DeliveryStreamStatus`: CREATING, ACTIVE, CREATING_FAILED, DELETING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_stream_status: Option<String>,
    /// Firehose's `VersionId`: increments on every spec change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// URL producers use as the SDK endpoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}
