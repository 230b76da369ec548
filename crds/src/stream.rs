use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BufferSpec, DeliveryStreamStatus, Destination, IngestSpec};

/// A Firehose-style delivery stream: producers put records to it, Hydrant buffers them durably and
/// delivers batches to one destination. The object's name is the `DeliveryStreamName`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "hydrant.dev",
    version = "v1alpha1",
    kind = "DeliveryStream",
    namespaced,
    status = "DeliveryStreamStatus",
    shortname = "dstream",
    category = "hydrant"
)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStreamSpec {
    /// Where records come from. Only `directPut` (PutRecord / PutRecordBatch) exists today.
    #[serde(default)]
    pub source: Source,
    /// The Firehose API listener.
    #[serde(default)]
    pub ingest: IngestSpec,
    /// Number of data-plane pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: Option<i32>,
    /// The durable write-ahead log every acknowledged record is kept in until it is delivered.
    #[serde(default)]
    pub buffer: BufferSpec,
    /// Exactly one destination.
    pub destination: Destination,
}

/// Where records come from (Firehose's `DeliveryStreamType`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Producers call PutRecord / PutRecordBatch (Firehose's `DirectPut`).
    DirectPut(DirectPutSource),
}

impl Default for Source {
    fn default() -> Self {
        Source::DirectPut(DirectPutSource {})
    }
}

/// Direct PUT needs no settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct DirectPutSource {}
