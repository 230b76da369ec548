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
    /// Hash of the spec the current `versionId` was assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_hash: Option<String>,
    /// The destination kind (s3, local, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// URL producers use as the SDK endpoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Label selector of the pods (for the scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Ready, Progressing, Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Delivery health gathered from the pods' /status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryHealthStatus>,
    /// Claims of pods that no longer run (a scale-down, a deleted stream) whose logs a drain
    /// Job is delivering; each claim is deleted once its Job succeeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["claim"]))]
    pub drains: Vec<DrainStatus>,
}

/// One claim being drained.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrainStatus {
    /// The PersistentVolumeClaim, `wal-<stream>-<ordinal>`.
    pub claim: String,
    /// The Job delivering it, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// WaitingForPod (its pod still terminates), Running, Succeeded (the claim is being
    /// deleted), Failed (the Job gave up: see its pod's log; delete the Job to retry) or
    /// WaitingForSpec (the spec no longer renders, so no Job can be made).
    pub phase: String,
    /// RFC 3339: when the Job was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
}

/// A Kubernetes-style condition.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    pub r#type: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    pub reason: String,
    #[serde(default)]
    pub message: String,
    /// RFC 3339; moves only when `status` changes.
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Delivery health summed over the pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryHealthStatus {
    #[serde(default)]
    pub backlog_records: i64,
    #[serde(default)]
    pub backlog_bytes: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_freshness_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
