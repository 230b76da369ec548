use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    Autoscaling, BufferSpec, DeliveryStreamStatus, Destination, EncryptionSpec, IngestSpec,
    NetworkPolicySpec, PodTemplateOverrides, Source,
};

/// A Firehose-style delivery stream: records put by producers or read from a Kinesis stream or a
/// Kafka topic are buffered durably and delivered in batches to one destination. The object's
/// name is the `DeliveryStreamName`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "hydrant.dev",
    version = "v1alpha1",
    kind = "DeliveryStream",
    namespaced,
    status = "DeliveryStreamStatus",
    shortname = "dstream",
    category = "hydrant",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.deliveryStreamStatus"}"#,
    printcolumn = r#"{"name":"Destination","type":"string","jsonPath":".status.destination"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".status.replicas"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".status.endpoint","priority":1}"#,
    printcolumn = r#"{"name":"Backlog","type":"integer","jsonPath":".status.delivery.backlogRecords","priority":1}"#,
    printcolumn = r#"{"name":"Freshness","type":"integer","description":"Age in seconds of the oldest undelivered record","jsonPath":".status.delivery.dataFreshnessSeconds","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    scale = r#"{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"}"#,
    validation = kube::core::Rule::new("!(has(self.spec.replicas) && has(self.spec.autoscaling))").message("set either spec.replicas or spec.autoscaling, not both"),
    validation = kube::core::Rule::new("!has(self.spec.buffer) || !has(self.spec.buffer.storage) || !has(self.spec.buffer.storage.persistentVolumeClaim) || !has(self.spec.source) || has(self.spec.source.directPut)").field_path(".spec.buffer.storage").message("persistentVolumeClaim adds nothing to a kinesisStream or kafka source: the source is the durable buffer (a position is committed only after its records are delivered, and a restarted or replacement pod re-reads from there); use emptyDir, the default"),
    validation = kube::core::Rule::new("size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("the stream name must be a DNS label (lowercase letters, digits and '-', starting with a letter, at most 63 characters): it names the stream's Service and Deployment")
)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStreamSpec {
    /// Where records come from (Firehose's `DeliveryStreamType`): producers' PUTs (`directPut`,
    /// the default), a Kinesis data stream (`kinesisStream`) or a Kafka topic (`kafka`).
    #[serde(default)]
    pub source: Source,
    /// The Firehose API listener.
    #[serde(default)]
    pub ingest: IngestSpec,
    /// Number of data-plane pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: Option<i32>,
    /// Scale with a HorizontalPodAutoscaler instead of a fixed `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Data-plane image; default: the operator's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    /// Escape hatches for the data-plane pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplateOverrides>,
    /// The durable write-ahead log that holds every record, acknowledged to a producer or read
    /// from the source, until it is delivered.
    #[serde(default)]
    pub buffer: BufferSpec,
    /// Encrypt the log and spools at rest; unset: not encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionSpec>,
    /// Restrict who may reach the pods (a NetworkPolicy); unset: no policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,
    /// Exactly one destination.
    pub destination: Destination,
}

/// Annotation holding the Firehose `DeliveryStreamName` when it is not itself a valid object
/// name (Firehose allows upper case, `_` and `.`; an object name is a DNS label).
pub const DELIVERY_STREAM_NAME_ANNOTATION: &str = "firehose.hydrant.dev/delivery-stream-name";

impl DeliveryStream {
    /// The name producers use (`DeliveryStreamName`, in ARNs and object keys): the annotation
    /// when set, else the object's name.
    pub fn delivery_stream_name(&self) -> String {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DELIVERY_STREAM_NAME_ANNOTATION))
            .or(self.metadata.name.as_ref())
            .cloned()
            .unwrap_or_default()
    }
}
