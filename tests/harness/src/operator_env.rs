//! The operator's test environment, for the end-to-end tests and the scale benchmark on a
//! control plane without a node: the operator process, the chart, tokens. Pods that really run
//! are the cluster tests' (`tests/cluster`, on a real node).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;

use crate::controlplane::ControlPlane;
use crate::{bin_path, workspace_root};
// Re-exported so the operator's tests reach everything they use from one module.
pub use crate::{free_port, moto};

/// Polls `f` until it returns Some, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `helm install` of the chart; returns the operator's ServiceAccount name once the CRD is
/// established.
pub async fn install_chart(cp: &ControlPlane, namespace: &str) -> String {
    let out = Command::new(cp.bin("helm"))
        .args(["install", "hydrant"])
        .arg(workspace_root().join("charts/hydrant"))
        .args([
            "--namespace",
            namespace,
            "--create-namespace",
            "--kubeconfig",
        ])
        .arg(&cp.kubeconfig)
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm install: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let client = cp.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    eventually("CRD established", Duration::from_secs(30), || async {
        let crd = crds.get_opt("deliverystreams.hydrant.dev").await.ok()??;
        crd.status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
            .then_some(())
    })
    .await;
    let sas: Api<ServiceAccount> = Api::namespaced(client, namespace);
    let list = sas
        .list(&ListParams::default().labels("app.kubernetes.io/instance=hydrant"))
        .await
        .expect("service accounts");
    list.items
        .into_iter()
        .filter_map(|sa| sa.metadata.name)
        .find(|n| n != "default")
        .expect("the chart's ServiceAccount")
}

/// A kubeconfig authenticating as the ServiceAccount (TokenRequest API).
pub async fn operator_kubeconfig(
    cp: &ControlPlane,
    admin: &kube::Client,
    namespace: &str,
    sa: &str,
) -> PathBuf {
    let api: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let request = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 7200},
    });
    let response: serde_json::Value = api
        .create_subresource("token", sa, &PostParams::default(), &request)
        .await
        .expect("token request");
    let token = response["status"]["token"].as_str().expect("token");
    cp.kubeconfig_for_token(token)
}

/// A running `hydrant-operator`.
pub struct Operator {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Operator {
    /// An operator that does not poll pods' `/status`: no pod runs without a node.
    pub fn start(kubeconfig: &Path, namespace: &str, identity: &str) -> Self {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("hydrant-e2e-{identity}-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(bin_path("hydrant-operator"))
            .arg("run")
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", namespace)
            .env("POD_NAME", identity)
            .env("HYDRANT_METRICS_ADDR", format!("127.0.0.1:{port}"))
            .env("HYDRANT_POLL_PODS", "false")
            .env("HYDRANT_LEASE_SECONDS", "5")
            .env("HYDRANT_LOG_FORMAT", "text")
            .env("RUST_LOG", "info,operator=debug")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn operator");
        Self {
            child: Some(child),
            port,
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    async fn metrics(&self) -> Option<String> {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .ok()?
            .text()
            .await
            .ok()
    }

    fn sum(text: &str, name: &str) -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub async fn is_leader(&self) -> Option<()> {
        let text = self.metrics().await?;
        text.lines()
            .any(|l| l == "hydrant_operator_leader 1")
            .then_some(())
    }

    pub async fn writes(&self) -> f64 {
        Self::sum(
            &self.metrics().await.unwrap_or_default(),
            "hydrant_operator_api_writes_total",
        )
    }

    pub async fn reconciles(&self) -> f64 {
        Self::sum(
            &self.metrics().await.unwrap_or_default(),
            "hydrant_operator_reconciles_total",
        )
    }

    /// SIGTERM: releases the lease.
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// kill -9: the lease is not released.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
