//! The NetworkPolicy of a stream's pods, when `spec.networkPolicy` asks for one: records only
//! from the listed peers, `/metrics` and `/status` only from the monitoring peers and the
//! operator. Only ingress is restricted: destinations vary, so egress is the user's to close.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{RenderError, child_meta, labels, stream_name};
use crate::config::{METRICS_PORT, OperatorConfig};
use crds::DeliveryStream;

/// The namespace admitted to the metrics port when `metricsFrom` is not set.
pub const DEFAULT_MONITORING_NAMESPACE: &str = "monitoring";
/// The label every namespace carries with its own name (set by the API server).
const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

pub fn render(
    stream: &DeliveryStream,
    config: &OperatorConfig,
) -> Result<Option<NetworkPolicy>, RenderError> {
    let Some(policy) = &stream.spec.network_policy else {
        return Ok(None);
    };
    let name = stream_name(stream)?;
    let mut metrics_from = policy
        .metrics_from
        .clone()
        .unwrap_or_else(|| vec![namespace_named(DEFAULT_MONITORING_NAMESPACE)]);
    // The operator reads every pod's /status for the stream's health.
    metrics_from.push(namespace_named(&config.operator_namespace));
    Ok(Some(NetworkPolicy {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![
                rule(
                    policy.ingest_from.clone(),
                    IntOrString::Int(stream.spec.ingest.port),
                ),
                rule(metrics_from, IntOrString::Int(METRICS_PORT)),
            ]),
            ..NetworkPolicySpec::default()
        }),
    }))
}

fn rule(from: Vec<NetworkPolicyPeer>, port: IntOrString) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(from),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(port),
            protocol: Some("TCP".to_owned()),
            ..NetworkPolicyPort::default()
        }]),
    }
}

fn namespace_named(namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NAMESPACE_NAME.to_owned(),
                namespace.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{S3, stream};

    #[test]
    fn no_policy_unless_asked() {
        assert!(
            render(&stream(S3), &OperatorConfig::default())
                .expect("render")
                .is_none()
        );
    }

    #[test]
    fn ingest_from_the_listed_peers_and_metrics_from_monitoring_and_the_operator() {
        let s = stream(&format!(
            "  networkPolicy:\n    ingestFrom:\n      - namespaceSelector: {{matchLabels: {{team: web}}}}\n{S3}"
        ));
        let config = OperatorConfig {
            operator_namespace: "hydrant-system".to_owned(),
            ..OperatorConfig::default()
        };
        let policy = render(&s, &config).expect("render").expect("a policy");
        let spec = policy.spec.expect("spec");
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        assert_eq!(
            spec.pod_selector.expect("selector").match_labels,
            Some(labels::selector("clicks"))
        );
        let rules = spec.ingress.expect("rules");
        let port = |r: &NetworkPolicyIngressRule| r.ports.clone().expect("ports")[0].port.clone();
        assert_eq!(port(&rules[0]), Some(IntOrString::Int(4573)));
        let web = rules[0].from.clone().expect("from");
        assert_eq!(
            web[0]
                .namespace_selector
                .clone()
                .expect("ns")
                .match_labels
                .expect("labels")["team"],
            "web"
        );
        assert_eq!(port(&rules[1]), Some(IntOrString::Int(METRICS_PORT)));
        let names: Vec<String> = rules[1]
            .from
            .clone()
            .expect("from")
            .into_iter()
            .map(|p| {
                p.namespace_selector
                    .expect("ns")
                    .match_labels
                    .expect("labels")[NAMESPACE_NAME]
                    .clone()
            })
            .collect();
        assert_eq!(names, ["monitoring", "hydrant-system"]);
    }

    #[test]
    fn the_policy_does_not_roll_the_pods() {
        let plain = stream(S3);
        let fenced = stream(&format!(
            "  networkPolicy:\n    ingestFrom: [{{podSelector: {{}}}}]\n{S3}"
        ));
        assert_eq!(
            super::super::spec_hash(&plain),
            super::super::spec_hash(&fenced)
        );
    }
}
