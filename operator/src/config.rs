//! Operator settings.

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "hydrant-operator";
/// Finalizer that keeps a stream in DELETING until its pods are gone.
pub const FINALIZER: &str = "hydrant.dev/drain";
/// Port of the data plane's /metrics, /healthz, /readyz and /status.
pub const METRICS_PORT: i32 = 9464;

/// Settings of one operator process.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Data-plane image unless a stream overrides it.
    pub dataplane_image: String,
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// Cluster DNS suffix used in endpoints.
    pub cluster_domain: String,
    /// Whether to read each pod's /status for delivery health (needs network access to pods).
    pub poll_pods: bool,
    /// Port of the pods' `/status` (the data plane's metrics port; tests point it elsewhere).
    pub pod_status_port: i32,
    /// The operator's own namespace: a stream's NetworkPolicy admits it to the metrics port.
    pub operator_namespace: String,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            dataplane_image: "ghcr.io/hydrant-dev/hydrant:0.1.0".to_owned(),
            namespaces: Vec::new(),
            cluster_domain: "svc".to_owned(),
            poll_pods: true,
            pod_status_port: METRICS_PORT,
            operator_namespace: "default".to_owned(),
        }
    }
}
