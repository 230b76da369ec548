//! Steps of the end-to-end test that live beside it (the test file holds the sequence).

use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{Patch, PatchParams};

use crds::DeliveryStream;
use harness::operator_env::eventually;

pub mod refusals;

/// The namespace the end-to-end streams live in.
pub const NS: &str = "analytics";

/// Server-side applies a stream manifest (YAML) in [`NS`].
pub async fn apply_stream(
    client: &kube::Client,
    yaml: &str,
) -> Result<DeliveryStream, kube::Error> {
    let value: serde_json::Value = serde_saphyr::from_str(yaml).expect("yaml");
    let api: Api<DeliveryStream> = Api::namespaced(client.clone(), NS);
    let name = value["metadata"]["name"].as_str().expect("name").to_owned();
    api.patch(
        &name,
        &PatchParams::apply("e2e-test").force(),
        &Patch::Apply(&value),
    )
    .await
}

/// An S3 stream `name` in [`NS`] on `bucket` at `endpoint`, with `extra` spec lines.
pub fn stream_yaml(name: &str, bucket: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {{name: {name}, namespace: {NS}}}
spec:
  buffer: {{maxBytes: 64Mi}}
  destination:
    s3:
      bucket: {bucket}
      endpoint: {endpoint}
      forcePathStyle: true
      credentialsSecret: s3-writer
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration: {{enabled: true, processors: [{{type: AppendDelimiterToRecord}}]}}
{extra}"
    )
}

/// `spec.networkPolicy` becomes a NetworkPolicy the real API server accepts (its validation
/// is the API server's own), and removing the field removes the policy. `stream` is a stream's
/// manifest as a JSON value; the steps add and then drop the field.
pub async fn a_network_policy_follows_the_spec(
    admin: &kube::Client,
    ns: &str,
    mut stream: serde_json::Value,
) {
    let name = stream["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    stream["spec"]["networkPolicy"] = serde_json::json!({
        "ingestFrom": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}],
    });
    let streams: Api<DeliveryStream> = Api::namespaced(admin.clone(), ns);
    let params = PatchParams::apply("e2e-test").force();
    streams
        .patch(&name, &params, &Patch::Apply(&stream))
        .await
        .expect("a stream with a network policy");
    let policies: Api<NetworkPolicy> = Api::namespaced(admin.clone(), ns);
    let policy = eventually("the NetworkPolicy", Duration::from_secs(30), || async {
        policies.get_opt(&name).await.ok().flatten()
    })
    .await;
    let spec = policy.spec.expect("spec");
    assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
    let rules = spec.ingress.expect("ingress rules");
    assert_eq!(rules.len(), 2, "ingest and metrics: {rules:?}");
    let metrics_from = rules[1].from.clone().expect("metrics peers");
    assert_eq!(
        metrics_from.len(),
        2,
        "the monitoring namespace and the operator's"
    );

    stream["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("networkPolicy");
    streams
        .patch(&name, &params, &Patch::Apply(&stream))
        .await
        .expect("the stream without it");
    eventually(
        "the NetworkPolicy removed",
        Duration::from_secs(30),
        || async {
            policies
                .get_opt(&name)
                .await
                .ok()
                .and_then(|p| p.is_none().then_some(()))
        },
    )
    .await;
}

/// The operator may grant what a Kinesis-sourced stream's pods need: as the chart's
/// ServiceAccount (`kubeconfig`), the rendered ServiceAccount, Role and RoleBinding are
/// accepted. The API server refuses a Role granting rights its creator lacks (escalation), so
/// this fails if the chart's ClusterRole misses a Lease verb. (Applied directly: the chart's
/// CRD on this branch has no `spec.source` yet.)
pub async fn the_operator_may_grant_the_kinesis_pods_their_leases(
    kubeconfig: &std::path::Path,
    ns: &str,
) {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let yaml = format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {{name: from-kinesis, namespace: {ns}, uid: 00000000-0000-0000-0000-000000000001}}
spec:
  source:
    kinesisStream: {{streamName: clicks}}
  destination:
    s3: {{bucket: b}}
"
    );
    let stream = crds::manifest::parse_manifest(&yaml).expect("manifest");
    let access = operator::render::source_access::render(&stream)
        .expect("render")
        .expect("a kinesis stream's access");
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
        &KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    let client = kube::Client::try_from(config).expect("the operator's client");
    let pp = kube::api::PostParams::default();
    Api::namespaced(client.clone(), ns)
        .create(&pp, &access.service_account)
        .await
        .expect("the operator creates the ServiceAccount");
    Api::namespaced(client.clone(), ns)
        .create(&pp, &access.role)
        .await
        .expect("the operator creates the Role: it holds every Lease verb it grants");
    Api::namespaced(client.clone(), ns)
        .create(&pp, &access.role_binding)
        .await
        .expect("the operator binds the Role");
    let params = kube::api::DeleteParams::default();
    let name = operator::render::source_access::name("from-kinesis");
    for result in [
        Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(client.clone(), ns)
            .delete(&name, &params)
            .await
            .map(|_| ()),
        Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(client.clone(), ns)
            .delete(&name, &params)
            .await
            .map(|_| ()),
        Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(client, ns)
            .delete(&name, &params)
            .await
            .map(|_| ()),
    ] {
        result.expect("the operator deletes what it rendered");
    }
}
