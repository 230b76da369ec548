//! `spec.networkPolicy`: who may reach a stream's pods.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A NetworkPolicy for the stream's pods: ingest only from the listed peers, metrics only from
/// the monitoring peers (and the operator, which reads the pods' `/status`). Egress stays open:
/// destinations vary. Without this field no policy is rendered.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Peers (namespace and/or pod selectors, IP blocks) that may send records to the ingest port.
    #[schemars(length(min = 1, max = 64))]
    pub ingest_from: Vec<NetworkPolicyPeer>,
    /// Peers that may read `/metrics` and `/status`; default: the namespace named `monitoring`.
    /// The operator's own namespace is always admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub metrics_from: Option<Vec<NetworkPolicyPeer>>,
}
