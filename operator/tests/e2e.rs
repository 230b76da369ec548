//! End to end on a real control plane (etcd + kube-apiserver built from their Go modules): the
//! chart installed with real helm and the operator running with the chart's ServiceAccount. No
//! node runs the pods here: Deployment status is written by the test (the quick layer); the
//! pods running, probed and delivering is the cluster tests' ground (`tests/cluster`).

mod e2e_support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crds::DeliveryStream;
use harness::controlplane::ControlPlane;
use harness::operator_env as support;
use support::{Operator, eventually, install_chart, operator_kubeconfig};

use e2e_support::refusals::invalid_manifests_are_refused;
use e2e_support::{NS, apply_stream, stream_yaml};

/// Writes Deployment status as kube-controller-manager would (no controller-manager runs here).
async fn set_deployment_ready(client: &kube::Client, name: &str, ready: i32) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let d = api.get(name).await.expect("deployment");
    let generation = d.metadata.generation.unwrap_or(1);
    let replicas = d.spec.and_then(|s| s.replicas).unwrap_or(1);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "observedGeneration": generation,
            "replicas": ready,
            "updatedReplicas": ready.min(replicas),
            "readyReplicas": ready,
            "availableReplicas": ready,
        }})),
    )
    .await
    .expect("deployment status");
}

fn status_of(s: &DeliveryStream) -> (String, String) {
    let st = s.status.clone().unwrap_or_default();
    (
        st.delivery_stream_status.unwrap_or_default(),
        st.version_id.unwrap_or_default(),
    )
}

fn config_hash(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("hydrant.dev/config-hash").cloned())
        .unwrap_or_default()
}

/// Namespace of the chart's release (and of the operator's ServiceAccount).
const RELEASE_NS: &str = "hydrant-system";

/// Starts operators as the chart's ServiceAccount.
struct OperatorLauncher {
    kubeconfig: std::path::PathBuf,
}

impl OperatorLauncher {
    fn start(&self, identity: &str) -> Operator {
        Operator::start(&self.kubeconfig, RELEASE_NS, identity)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_on_a_real_control_plane() {
    let cp = ControlPlane::start().await;
    let admin = cp.client().await;
    let moto = support::moto::Moto::start().await;
    moto.create_bucket("e2e-bucket").await;

    let sa = install_the_chart_and_the_stream_namespace(&cp, &admin).await;
    the_chart_lints_clean(&cp);
    every_example_is_accepted(&admin).await;
    invalid_manifests_are_refused(&admin, &moto).await;

    // The operator, as the chart's ServiceAccount: a missing RBAC rule fails this test.
    let launcher = OperatorLauncher {
        kubeconfig: operator_kubeconfig(&cp, &admin, RELEASE_NS, &sa).await,
    };
    e2e_support::the_operator_may_grant_the_kinesis_pods_their_leases(&launcher.kubeconfig, NS)
        .await;
    let mut op_a = launcher.start("op-a");
    eventually("op-a leads", Duration::from_secs(30), || async {
        op_a.is_leader().await
    })
    .await;

    a_stream_gets_its_children_and_a_status(&admin, &moto).await;
    status_follows_the_deployment(&admin).await;
    let after_spec = a_spec_change_rolls_the_pods(&admin, &moto).await;
    a_secret_change_rolls_the_pods(&admin, &after_spec).await;
    an_unworkable_spec_is_creating_failed(&admin).await;
    a_stream_on_claims_runs_as_a_statefulset(&admin, &moto).await;
    let fenced = serde_saphyr::from_str(&stream_yaml("fenced", "e2e-bucket", &moto.endpoint(), ""))
        .expect("yaml");
    e2e_support::a_network_policy_follows_the_spec(&admin, NS, fenced).await;
    a_steady_cluster_costs_no_writes(&admin, &op_a).await;
    let mut op_b = an_operator_restart_costs_no_writes(&launcher, &mut op_a).await;
    let mut op_c =
        another_operator_takes_over_from_a_killed_leader(&admin, &moto, &launcher, &mut op_b).await;
    deletion_goes_through_the_finalizer(&admin).await;
    op_c.kill();
}

/// The chart, with real helm (its CRD reaches the API server); then the streams' namespace and
/// the S3 credentials Secret. Returns the operator's ServiceAccount.
async fn install_the_chart_and_the_stream_namespace(
    cp: &ControlPlane,
    admin: &kube::Client,
) -> String {
    let sa = install_chart(cp, RELEASE_NS).await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}})).expect("ns"),
        )
        .await
        .expect("namespace");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), NS);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "s3-writer"},
                "stringData": {"accessKeyId": "writer", "secretAccessKey": "writer-secret"},
            }))
            .expect("secret"),
        )
        .await
        .expect("create secret");
    sa
}

fn the_chart_lints_clean(cp: &ControlPlane) {
    let lint = std::process::Command::new(cp.bin("helm"))
        .args(["lint", "--strict"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/hydrant"))
        .output()
        .expect("helm lint");
    assert!(
        lint.status.success(),
        "helm lint: {}",
        String::from_utf8_lossy(&lint.stdout)
    );
}

/// Every example manifest is accepted by the real API server (server-side dry run).
async fn every_example_is_accepted(admin: &kube::Client) {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let example = entry.expect("entry").path();
        if example.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&example).expect("example");
        let mut value: serde_json::Value = serde_saphyr::from_str(&text).expect("yaml");
        value["metadata"]["namespace"] = json!(NS);
        let api: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
        let name = value["metadata"]["name"].as_str().expect("name").to_owned();
        api.patch(
            &name,
            &PatchParams::apply("e2e").dry_run(),
            &Patch::Apply(&value),
        )
        .await
        .unwrap_or_else(|e| panic!("{} refused: {e}", example.display()));
    }
    assert!(seen >= 2, "examples checked: {seen}");
}

/// `clicks` applied: its children exist, owned by it, and it is CREATING with an endpoint and the
/// drain finalizer.
async fn a_stream_gets_its_children_and_a_status(admin: &kube::Client, moto: &support::moto::Moto) {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    apply_stream(
        admin,
        &stream_yaml("clicks", "e2e-bucket", &moto.endpoint(), ""),
    )
    .await
    .expect("apply");
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    let d = eventually("children exist", Duration::from_secs(30), || async {
        deployments.get_opt("clicks").await.ok().flatten()
    })
    .await;
    let owner = &d.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("DeliveryStream", "clicks")
    );
    let cm: Api<ConfigMap> = Api::namespaced(admin.clone(), NS);
    let config = cm.get("clicks-config").await.expect("configmap");
    let stream_file = &config.data.as_ref().expect("data")["stream.yaml"];
    assert!(
        !stream_file.contains("writer-secret"),
        "no secret values in ConfigMaps"
    );
    let svc: Api<Service> = Api::namespaced(admin.clone(), NS);
    assert_eq!(
        svc.get("clicks").await.expect("service").owner_references()[0].name,
        "clicks"
    );
    let pdb: Api<PodDisruptionBudget> = Api::namespaced(admin.clone(), NS);
    pdb.get("clicks").await.expect("pdb");
    let s = streams.get("clicks").await.expect("stream");
    assert_eq!(status_of(&s), ("CREATING".to_owned(), "1".to_owned()));
    assert_eq!(
        s.status
            .as_ref()
            .and_then(|s| s.endpoint.clone())
            .as_deref(),
        Some("http://clicks.analytics.svc:4573")
    );
    assert!(s.finalizers().contains(&"hydrant.dev/drain".to_owned()));
}

/// The Deployment reported ready: the stream turns ACTIVE and Ready.
async fn status_follows_the_deployment(admin: &kube::Client) {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    set_deployment_ready(admin, "clicks", 1).await;
    eventually("ACTIVE", Duration::from_secs(30), || async {
        let s = streams.get("clicks").await.ok()?;
        let ready = s
            .status
            .as_ref()?
            .conditions
            .iter()
            .any(|c| c.r#type == "Ready" && c.status == "True");
        (status_of(&s).0 == "ACTIVE" && ready).then_some(())
    })
    .await;
}

/// A spec change rolls the Deployment and bumps versionId. Returns the new config hash.
async fn a_spec_change_rolls_the_pods(admin: &kube::Client, moto: &support::moto::Moto) -> String {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    let before = config_hash(&deployments.get("clicks").await.expect("d"));
    apply_stream(
        admin,
        &stream_yaml("clicks", "e2e-bucket", &moto.endpoint(), "")
            .replace("sizeInMBs: 1", "sizeInMBs: 2"),
    )
    .await
    .expect("update");
    eventually("versionId 2", Duration::from_secs(30), || async {
        let s = streams.get("clicks").await.ok()?;
        (status_of(&s).1 == "2").then_some(())
    })
    .await;
    let after_spec = config_hash(&deployments.get("clicks").await.expect("d"));
    assert_ne!(before, after_spec, "a spec change rolls the pods");
    let env = deployments
        .get("clicks")
        .await
        .expect("d")
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod")
        .containers[0]
        .env
        .clone()
        .expect("env");
    assert!(
        env.iter()
            .any(|e| e.name == "HYDRANT_VERSION_ID" && e.value.as_deref() == Some("2"))
    );
    after_spec
}

/// A Secret change rolls the Deployment too (away from `after_spec`), without a new versionId.
async fn a_secret_change_rolls_the_pods(admin: &kube::Client, after_spec: &str) {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), NS);
    secrets
        .patch(
            "s3-writer",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"secretAccessKey": "rotated"}})),
        )
        .await
        .expect("rotate");
    eventually("secret rolls pods", Duration::from_secs(30), || async {
        let d = deployments.get("clicks").await.ok()?;
        (config_hash(&d) != after_spec).then_some(())
    })
    .await;
    let s = streams.get("clicks").await.expect("stream");
    assert_eq!(status_of(&s).1, "2", "a Secret change is not a spec change");
}

/// A spec the schema accepts but that cannot work: CREATING_FAILED with a clear message.
async fn an_unworkable_spec_is_creating_failed(admin: &kube::Client) {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    apply_stream(
        admin,
        "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata: {name: laptop, namespace: analytics}\nspec:\n  destination:\n    local: {}\n",
    )
    .await
    .expect("schema accepts local");
    let failed = eventually("CREATING_FAILED", Duration::from_secs(30), || async {
        let s = streams.get("laptop").await.ok()?;
        (status_of(&s).0 == "CREATING_FAILED").then_some(s)
    })
    .await;
    let degraded = failed
        .status
        .expect("status")
        .conditions
        .into_iter()
        .find(|c| c.r#type == "Degraded")
        .expect("degraded");
    assert_eq!(degraded.status, "True");
    assert!(
        degraded.message.contains("spec.destination.local"),
        "{}",
        degraded.message
    );
}

/// `spec.buffer.storage.persistentVolumeClaim`: a StatefulSet with a claim template and its
/// headless Service instead of a Deployment; ACTIVE from the StatefulSet's status; the storage
/// cannot be switched afterwards.
async fn a_stream_on_claims_runs_as_a_statefulset(
    admin: &kube::Client,
    moto: &support::moto::Moto,
) {
    let on_claims = stream_yaml("ledger", "e2e-bucket", &moto.endpoint(), "").replace(
        "buffer: {maxBytes: 64Mi}",
        "buffer: {maxBytes: 64Mi, storage: {persistentVolumeClaim: {storageClassName: fast}}}",
    );
    apply_stream(admin, &on_claims).await.expect("apply");
    let sets: Api<StatefulSet> = Api::namespaced(admin.clone(), NS);
    let set = eventually("the StatefulSet", Duration::from_secs(30), || async {
        sets.get_opt("ledger").await.ok().flatten()
    })
    .await;
    let spec = set.spec.clone().expect("spec");
    assert_eq!(spec.service_name.as_deref(), Some("ledger-pods"));
    let claim = &spec.volume_claim_templates.expect("claims")[0];
    assert_eq!(
        claim
            .spec
            .as_ref()
            .and_then(|c| c.storage_class_name.as_deref()),
        Some("fast")
    );
    let svc: Api<Service> = Api::namespaced(admin.clone(), NS);
    let headless = svc.get("ledger-pods").await.expect("headless service");
    assert_eq!(
        headless.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some("None")
    );
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    assert!(deployments.get_opt("ledger").await.expect("get").is_none());
    // What kube-controller-manager would report for one ready pod.
    sets.patch_status(
        "ledger",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "observedGeneration": set.metadata.generation.unwrap_or(1),
            "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
        }})),
    )
    .await
    .expect("statefulset status");
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    eventually("ledger ACTIVE", Duration::from_secs(30), || async {
        let s = streams.get("ledger").await.ok()?;
        (status_of(&s).0 == "ACTIVE").then_some(())
    })
    .await;
    let refused = apply_stream(
        admin,
        &on_claims.replace(
            "storage: {persistentVolumeClaim: {storageClassName: fast}}",
            "storage: {emptyDir: {}}",
        ),
    )
    .await
    .expect_err("storage switch");
    assert!(
        refused
            .to_string()
            .contains("spec.buffer.storage cannot change"),
        "{refused}"
    );
}

/// Steady state: no writes.
async fn a_steady_cluster_costs_no_writes(admin: &kube::Client, op_a: &Operator) {
    set_deployment_ready(admin, "clicks", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = op_a.writes().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        op_a.writes().await,
        writes,
        "a steady cluster costs zero writes"
    );
}

/// Restart the operator (SIGTERM releases the lease): the new one leads and writes nothing.
/// Returns the new operator.
async fn an_operator_restart_costs_no_writes(
    launcher: &OperatorLauncher,
    op_a: &mut Operator,
) -> Operator {
    op_a.terminate();
    let op_b = launcher.start("op-b");
    eventually(
        "op-b leads after op-a released",
        Duration::from_secs(20),
        || async { op_b.is_leader().await },
    )
    .await;
    eventually("op-b reconciled", Duration::from_secs(20), || async {
        (op_b.reconciles().await > 0.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        op_b.writes().await,
        0.0,
        "an operator restart causes no writes:\n{}",
        op_b.log()
    );
    op_b
}

/// Two operators: kill -9 the leader, the other takes over within the lease duration and
/// reconciles a spec change. Returns the new leader.
async fn another_operator_takes_over_from_a_killed_leader(
    admin: &kube::Client,
    moto: &support::moto::Moto,
    launcher: &OperatorLauncher,
    leader: &mut Operator,
) -> Operator {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    let op_c = launcher.start("op-c");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(op_c.is_leader().await.is_none(), "only one leader");
    leader.kill();
    eventually("op-c takes over", Duration::from_secs(20), || async {
        op_c.is_leader().await
    })
    .await;
    apply_stream(
        admin,
        &stream_yaml("clicks", "e2e-bucket", &moto.endpoint(), "")
            .replace("sizeInMBs: 1", "sizeInMBs: 3"),
    )
    .await
    .expect("update");
    eventually("new leader reconciles", Duration::from_secs(30), || async {
        let s = streams.get("clicks").await.ok()?;
        (status_of(&s).1 == "3").then_some(())
    })
    .await;
    op_c
}

/// Deletion through the finalizer: DELETING and scaled to zero while pods drain, gone after.
async fn deletion_goes_through_the_finalizer(admin: &kube::Client) {
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    streams
        .delete("clicks", &DeleteParams::default())
        .await
        .expect("delete");
    eventually(
        "DELETING and scaled to zero",
        Duration::from_secs(30),
        || async {
            let s = streams.get("clicks").await.ok()?;
            let d = deployments.get("clicks").await.ok()?;
            (status_of(&s).0 == "DELETING" && d.spec?.replicas == Some(0)).then_some(())
        },
    )
    .await;
    assert!(
        streams.get_opt("clicks").await.expect("get").is_some(),
        "kept while pods drain"
    );
    set_deployment_ready(admin, "clicks", 0).await;
    eventually("finalizer removed", Duration::from_secs(30), || async {
        streams
            .get_opt("clicks")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}
