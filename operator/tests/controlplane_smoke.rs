//! The test control plane itself: a real etcd + kube-apiserver (see
//! tests/harness/src/controlplane.rs), the admin client, ServiceAccount tokens,
//! kube-controller-manager and helm.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harness::controlplane::ControlPlane;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::Api;
use kube::api::{ListParams, PostParams};

#[tokio::test]
async fn admin_client_and_helm() {
    let cp = ControlPlane::start().await;
    assert!(cp.server.starts_with("https://127.0.0.1:"), "{}", cp.server);
    let client = cp.client().await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    assert!(
        names.iter().any(|n| n == "default"),
        "namespaces: {names:?}"
    );

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "smoke" },
        "data": { "greeting": "hello" },
    }))
    .unwrap();
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .expect("create ConfigMap");
    let read = config_maps.get("smoke").await.expect("get ConfigMap");
    assert_eq!(
        read.data,
        Some(BTreeMap::from([(
            "greeting".to_string(),
            "hello".to_string()
        )]))
    );

    let out = std::process::Command::new(cp.bin("helm"))
        .arg("version")
        .arg("--short")
        .output()
        .expect("run helm version");
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "helm version: {out:?}");
    assert!(version.starts_with("v3."), "helm version: {version}");

    // helm talks to the test API server through the admin kubeconfig.
    let out = std::process::Command::new(cp.bin("helm"))
        .arg("list")
        .arg("--all-namespaces")
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .env("HELM_CACHE_HOME", cp.dir.path().join("helm/cache"))
        .env("HELM_CONFIG_HOME", cp.dir.path().join("helm/config"))
        .env("HELM_DATA_HOME", cp.dir.path().join("helm/data"))
        .output()
        .expect("run helm list");
    assert!(
        out.status.success(),
        "helm list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn service_account_token_and_controller_manager() {
    let mut cp = ControlPlane::start().await;
    let client = cp.client().await;

    // A ServiceAccount token from the TokenRequest API authenticates, and RBAC applies.
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "robot" } })).unwrap();
    sas.create(&PostParams::default(), &sa)
        .await
        .expect("create ServiceAccount");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let issued: TokenRequest = sas
        .create_subresource("token", "robot", &PostParams::default(), &request)
        .await
        .expect("TokenRequest");
    let token = issued.status.expect("token status").token;
    let sa_kubeconfig = cp.kubeconfig_for_token(&token);
    let kubeconfig = kube::config::Kubeconfig::read_from(&sa_kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let robot = kube::Client::try_from(config).unwrap();
    let robot_cms: Api<ConfigMap> = Api::namespaced(robot, "default");
    let err = robot_cms
        .list(&ListParams::default())
        .await
        .expect_err("no RBAC grant yet");
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403, got {other:?}"),
    }

    // kube-controller-manager turns a Deployment into a ReplicaSet.
    cp.start_controller_manager().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "example.invalid/web:1" }] },
            },
        },
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create Deployment");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let start = Instant::now();
    loop {
        let rs = replica_sets
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("list ReplicaSets");
        if !rs.items.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no ReplicaSet for the Deployment after 60s\n{}",
            cp.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
