//! Steps of the end-to-end test that live beside it (the test file holds the sequence).

use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{Patch, PatchParams};

use crds::DeliveryStream;
use harness::operator_env::eventually;

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
