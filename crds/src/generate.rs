//! The CustomResourceDefinition YAML, generated from the Rust types.

use kube::CustomResourceExt;

use crate::DeliveryStream;

/// Where the committed CRD lives, relative to the repository root.
pub const CRD_PATH: &str = "crds/deliverystream.yaml";
/// The Helm chart's copy, kept identical by a test.
pub const CHART_CRD_PATH: &str = "charts/hydrant/crds/deliverystream.yaml";

/// The CRD as YAML, with a header saying how it is made.
pub fn crd_yaml() -> String {
    let crd = DeliveryStream::crd();
    let body =
        serde_saphyr::to_string(&crd).unwrap_or_else(|e| format!("# serialisation failed: {e}\n"));
    format!(
        "# Generated from the Rust types in crds/src by `hydrant-operator crd`; do not edit.\n{body}"
    )
}
