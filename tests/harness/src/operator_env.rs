//! The operator's test environment, for the end-to-end tests and the scale benchmark: the
//! operator process, the chart, tokens, and a kubelet stand-in that runs the data plane from what
//! the operator rendered.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_firehose::primitives::Blob;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
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
    pub fn start(kubeconfig: &Path, namespace: &str, identity: &str) -> Self {
        Self::start_with(kubeconfig, namespace, identity, None)
    }

    /// An operator that reads delivery health from pods' `/status` on `pod_status_port`.
    pub fn start_polling(
        kubeconfig: &Path,
        namespace: &str,
        identity: &str,
        pod_status_port: u16,
    ) -> Self {
        Self::start_with(kubeconfig, namespace, identity, Some(pod_status_port))
    }

    fn start_with(
        kubeconfig: &Path,
        namespace: &str,
        identity: &str,
        pod_status_port: Option<u16>,
    ) -> Self {
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
            .env("HYDRANT_POLL_PODS", pod_status_port.is_some().to_string())
            .env(
                "HYDRANT_POD_STATUS_PORT",
                pod_status_port.unwrap_or(9464).to_string(),
            )
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

/// A data-plane process started from what the operator rendered.
pub struct RunningPod {
    child: Option<Child>,
    pub ingest_port: u16,
    pub metrics_port: u16,
    name: String,
    log: PathBuf,
    _root: tempfile::TempDir,
}

/// Plays the kubelet: materialises the pod the Deployment describes (volumes from the ConfigMap
/// and Secrets, env from `secretKeyRef`, the args) and runs the real `hydrant` binary with exactly
/// those.
///
/// Differences from a kubelet, forced by running on the test host: each mount path is placed
/// under a temporary root (args and env values pointing into a mount are rewritten to it), the
/// log directory named inside the ConfigMap is given with HYDRANT_WAL_DIR, and the listeners bind
/// 127.0.0.1 (metrics on `metrics_port`, ingest on a free port).
pub async fn start_rendered_pod(
    admin: &kube::Client,
    namespace: &str,
    name: &str,
    metrics_port: u16,
) -> RunningPod {
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), namespace);
    let pod = deployments
        .get(name)
        .await
        .expect("deployment")
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod spec");
    let container = &pod.containers[0];
    let root = tempfile::tempdir().expect("root");
    let mounts = materialise_mounts(admin, namespace, &pod, root.path()).await;
    let remap = |value: &str| -> String {
        for (mount, dir) in &mounts {
            if let Some(rest) = value.strip_prefix(mount.as_str()) {
                return format!("{}{rest}", dir.display());
            }
        }
        if value.starts_with('/') {
            // A parent of mounts (like the secrets directory) lives under the same root.
            return root
                .path()
                .join(value.trim_start_matches('/'))
                .display()
                .to_string();
        }
        value.to_owned()
    };
    let mut env = container_env(admin, namespace, container, &remap).await;
    let ingest_port = free_port();
    env.insert(
        "HYDRANT_INGEST_ADDR".into(),
        format!("127.0.0.1:{ingest_port}"),
    );
    env.insert(
        "HYDRANT_METRICS_ADDR".into(),
        format!("127.0.0.1:{metrics_port}"),
    );
    env.insert("HYDRANT_WAL_DIR".into(), remap("/var/lib/hydrant/wal"));
    let args: Vec<String> = container
        .args
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| remap(a))
        .collect();
    let binary = bin_path("hydrant");
    let log = root.path().join("hydrant.log");
    let child = Command::new(&binary)
        .args(&args)
        .env_clear()
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn hydrant");
    let running = RunningPod {
        child: Some(child),
        ingest_port,
        metrics_port,
        name: name.to_owned(),
        log,
        _root: root,
    };
    assert!(
        wait_ready(metrics_port).await,
        "the rendered pod did not become ready:\n{}",
        running.log()
    );
    running
}

/// Writes each volume the container mounts (ConfigMaps and Secrets) under `root`; returns
/// every mount path with the directory standing for it.
async fn materialise_mounts(
    admin: &kube::Client,
    namespace: &str,
    pod: &k8s_openapi::api::core::v1::PodSpec,
    root: &Path,
) -> Vec<(String, PathBuf)> {
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), namespace);
    let mut mounts = Vec::new();
    for m in pod.containers[0].volume_mounts.clone().unwrap_or_default() {
        let dir = root.join(m.mount_path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).expect("mount dir");
        let volume = pod
            .volumes
            .as_ref()
            .and_then(|v| v.iter().find(|v| v.name == m.name))
            .expect("volume");
        if let Some(cm) = &volume.config_map {
            let data = config_maps
                .get(&cm.name)
                .await
                .expect("configmap")
                .data
                .unwrap_or_default();
            for (k, v) in data {
                std::fs::write(dir.join(k), v).expect("config file");
            }
        }
        if let Some(s) = &volume.secret {
            let secret = secrets
                .get(s.secret_name.as_deref().expect("secret name"))
                .await
                .expect("secret");
            for (k, v) in secret.data.unwrap_or_default() {
                std::fs::write(dir.join(k), v.0).expect("secret file");
            }
        }
        mounts.push((m.mount_path.clone(), dir));
    }
    mounts
}

/// The container's environment: plain values (paths remapped) and `secretKeyRef`s resolved.
async fn container_env(
    admin: &kube::Client,
    namespace: &str,
    container: &k8s_openapi::api::core::v1::Container,
    remap: &impl Fn(&str) -> String,
) -> BTreeMap<String, String> {
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), namespace);
    let mut env = BTreeMap::new();
    for e in container.env.clone().unwrap_or_default() {
        let value = if let Some(v) = e.value {
            remap(&v)
        } else if let Some(r) = e.value_from.and_then(|f| f.secret_key_ref) {
            let secret = secrets.get(&r.name).await.expect("secret");
            let bytes = secret
                .data
                .unwrap_or_default()
                .remove(&r.key)
                .expect("secret key");
            String::from_utf8(bytes.0).expect("utf8")
        } else {
            continue;
        };
        env.insert(e.name, value);
    }
    env
}

/// Polls `/readyz` for up to 15 s.
async fn wait_ready(metrics_port: u16) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..150 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{metrics_port}/readyz"))
            .send()
            .await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

impl RunningPod {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `round-trip-<i>` records with aws-sdk-firehose and waits until they are delivered.
    pub async fn put_and_deliver(&self, count: usize) {
        let firehose = aws_sdk_firehose::Client::from_conf(
            aws_sdk_firehose::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(format!("http://127.0.0.1:{}", self.ingest_port))
                .credentials_provider(Credentials::new("a", "b", None, None, "test"))
                .build(),
        );
        for i in 0..count {
            firehose
                .put_record()
                .delivery_stream_name(&self.name)
                .record(
                    aws_sdk_firehose::types::Record::builder()
                        .data(Blob::new(format!("round-trip-{i}")))
                        .build()
                        .expect("record"),
                )
                .send()
                .await
                .expect("put through the rendered pod");
        }
        let client = reqwest::Client::new();
        let port = self.metrics_port;
        eventually(
            "the rendered pod delivers",
            Duration::from_secs(30),
            || async {
                let status: serde_json::Value = client
                    .get(format!("http://127.0.0.1:{port}/status"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (status["backlogRecords"] == 0
                    && status["destination"]["lastSuccessTime"].is_string())
                .then_some(())
            },
        )
        .await;
    }

    /// SIGTERM; the process must drain and exit 0.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let exit = child.wait().expect("wait");
            assert!(exit.success(), "rendered pod exit: {exit}\n{}", self.log());
        }
    }
}

impl Drop for RunningPod {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Keys of the objects in the stream's bucket, after checking `count` round-trip records arrived.
pub async fn delivered_keys(
    admin: &kube::Client,
    namespace: &str,
    name: &str,
    moto: &moto::Moto,
    count: usize,
) -> Vec<String> {
    let objects = moto
        .objects(bucket_of(admin, namespace, name).await.as_str())
        .await;
    let body: String = objects
        .iter()
        .map(|(_, b, _)| String::from_utf8_lossy(b).into_owned())
        .collect();
    for i in 0..count {
        assert!(
            body.contains(&format!("round-trip-{i}\n")),
            "record {i} delivered"
        );
    }
    objects.into_iter().map(|(k, _, _)| k).collect()
}

async fn bucket_of(admin: &kube::Client, namespace: &str, name: &str) -> String {
    let api: Api<crds::DeliveryStream> = Api::namespaced(admin.clone(), namespace);
    match api.get(name).await.expect("stream").spec.destination {
        crds::Destination::S3(s3) => s3.location.bucket,
        other => panic!("s3 expected, found {}", other.kind()),
    }
}
