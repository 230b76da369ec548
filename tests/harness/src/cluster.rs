//! What a user does on the real node ([`Node`]) before records flow, as free functions the
//! cluster tests share: `helm install` of the chart, a namespace under the restricted Pod
//! Security level, Secrets and a stream applied with kubectl, and the stream ACTIVE from the
//! real Deployment's status.

use std::time::{Duration, Instant};

use crds::DeliveryStream;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::node::Node;
use crate::operator_env::eventually;

/// `helm install` of `charts/hydrant` with its default values into `namespace`, waiting for
/// its pods (`--wait`); returns the names of the operator pods, which must be two and Ready.
pub async fn helm_install(node: &Node, client: &kube::Client, namespace: &str) -> Vec<String> {
    helm_install_with(node, client, namespace, &[]).await
}

/// [`helm_install`] with values set (`--set` each of `sets`).
pub async fn helm_install_with(
    node: &Node,
    client: &kube::Client,
    namespace: &str,
    sets: &[&str],
) -> Vec<String> {
    let chart = crate::workspace_root().join("charts/hydrant");
    let mut helm = node.in_netns(&node.tool("helm"));
    helm.args(["install", "hydrant"]).arg(&chart);
    for set in sets {
        helm.args(["--set", set]);
    }
    let out = helm
        .args(["--namespace", namespace, "--create-namespace", "--wait"])
        .args(["--timeout", "180s", "--kubeconfig"])
        .arg(&node.kubeconfig)
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm install: {}{}\nkubelet:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        node.log_tail("kubelet", 30)
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    eventually(
        "two operator pods Ready",
        Duration::from_secs(120),
        || async {
            let list = pods
                .list(&ListParams::default().labels(
                    "app.kubernetes.io/instance=hydrant,app.kubernetes.io/component=operator",
                ))
                .await
                .ok()?;
            let ready: Vec<String> = list
                .items
                .iter()
                .filter(|p| is_ready(p))
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            (ready.len() == 2).then_some(ready)
        },
    )
    .await
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `kubectl create namespace`, labelled to enforce the restricted Pod Security level: a pod
/// that does not meet it is refused, so the stream could never become ACTIVE.
pub fn restricted_namespace(node: &Node, namespace: &str) {
    node.kubectl_ok(&["create", "namespace", namespace]);
    node.kubectl_ok(&[
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
}

/// `kubectl create secret generic <name>` in `namespace` with `sources`, each as kubectl takes
/// it: `--from-literal=key=value` or `--from-file=key=path`.
pub fn secret(node: &Node, namespace: &str, name: &str, sources: &[String]) {
    let mut args = vec!["-n", namespace, "create", "secret", "generic", name];
    args.extend(sources.iter().map(String::as_str));
    node.kubectl_ok(&args);
}

/// `kubectl apply -f` of `manifest`, written as `<node dir>/<file>`.
pub fn apply(node: &Node, file: &str, manifest: &str) {
    let path = node.dir.join(file);
    std::fs::write(&path, manifest).expect("write the manifest");
    node.kubectl_ok(&["apply", "-f", &path.display().to_string()]);
}

/// Waits until the stream is ACTIVE (the operator reads that from its Deployment's status, so
/// its pods run and are Ready); returns `status.endpoint` and how long it took.
pub async fn active_endpoint(
    client: &kube::Client,
    namespace: &str,
    stream: &str,
    within: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), namespace);
    let status = eventually(&format!("{namespace}/{stream} ACTIVE"), within, || async {
        let s = streams.get(stream).await.ok()?.status?;
        (s.delivery_stream_status.as_deref() == Some("ACTIVE")).then_some(s)
    })
    .await;
    let endpoint = status
        .endpoint
        .expect("an ACTIVE stream has status.endpoint");
    (endpoint, started.elapsed())
}

/// The stream's data-plane pods.
pub async fn stream_pods(client: &kube::Client, namespace: &str, stream: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let labels =
        format!("app.kubernetes.io/instance={stream},app.kubernetes.io/component=dataplane");
    pods.list(&ListParams::default().labels(&labels))
        .await
        .expect("list the stream's pods")
        .items
}

/// A pod's name and how often its containers restarted.
pub fn name_and_restarts(pod: &Pod) -> (String, i32) {
    let restarts = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |c| c.iter().map(|c| c.restart_count).sum());
    (pod.metadata.name.clone().unwrap_or_default(), restarts)
}
