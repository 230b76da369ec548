//! The API access of a stream whose pods share a Kinesis stream's shards through Leases: a
//! ServiceAccount `<stream>-source`, a Role allowing Leases in the stream's namespace and
//! nothing else, and the RoleBinding granting it to the account the pods run as. Other
//! sources need no API access, so their pods run without a token.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::{RenderError, child_meta, namespace, stream_name};
use crds::{DeliveryStream, Source};

/// The Role's verbs, on Leases only: the data plane's Lease store lists and gets them (holders
/// and checkpoints), creates and updates them (claims, renewals, checkpoints); the rest are
/// the other verbs of a Lease client.
pub const LEASE_VERBS: [&str; 7] = [
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// The ServiceAccount, Role and RoleBinding of a Kinesis-sourced stream.
#[derive(Debug, Clone)]
pub struct SourceAccess {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
}

/// Whether the stream's pods talk to the API server (they share shards through Leases).
pub fn needed(stream: &DeliveryStream) -> bool {
    matches!(stream.spec.source, Source::KinesisStream(_))
}

/// `<stream>-source`: the name of all three objects.
pub fn name(stream: &str) -> String {
    format!("{stream}-source")
}

/// The ServiceAccount the pods run as: the user's (`template.spec.serviceAccountName`, e.g. one
/// with cloud credentials attached), else the rendered one.
pub fn pod_account(stream: &DeliveryStream) -> Result<String, RenderError> {
    let chosen = stream
        .spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.service_account_name.clone());
    match chosen {
        Some(account) => Ok(account),
        None => Ok(name(stream_name(stream)?)),
    }
}

/// The three objects, for a stream reading a Kinesis stream; None for other sources.
pub fn render(stream: &DeliveryStream) -> Result<Option<SourceAccess>, RenderError> {
    if !needed(stream) {
        return Ok(None);
    }
    let name = name(stream_name(stream)?);
    let service_account = ServiceAccount {
        metadata: child_meta(stream, name.clone())?,
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    };
    let role = Role {
        metadata: child_meta(stream, name.clone())?,
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["coordination.k8s.io".to_owned()]),
            resources: Some(vec!["leases".to_owned()]),
            verbs: LEASE_VERBS.iter().map(|v| (*v).to_owned()).collect(),
            ..PolicyRule::default()
        }]),
    };
    let role_binding = RoleBinding {
        metadata: child_meta(stream, name.clone())?,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name,
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: pod_account(stream)?,
            namespace: Some(namespace(stream)?.to_owned()),
            ..Subject::default()
        }]),
    };
    Ok(Some(SourceAccess {
        service_account,
        role,
        role_binding,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperatorConfig;
    use crate::render::tests::{S3, deployment_of, inputs, stream};
    use crate::render::{labels, render as render_all};

    const KINESIS: &str =
        "  source:\n    kinesisStream: {streamName: clicks-raw, startingPosition: TRIM_HORIZON}\n";

    fn pod_of(spec_yaml: &str) -> k8s_openapi::api::core::v1::PodSpec {
        let c =
            render_all(&stream(spec_yaml), &inputs(), &OperatorConfig::default()).expect("render");
        deployment_of(&c)
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod")
    }

    #[test]
    fn a_kinesis_source_gets_an_account_allowed_leases_only() {
        let s = stream(&format!("{KINESIS}{S3}"));
        let access = render(&s).expect("render").expect("access for kinesis");
        for meta in [
            &access.service_account.metadata,
            &access.role.metadata,
            &access.role_binding.metadata,
        ] {
            assert_eq!(meta.name.as_deref(), Some("clicks-source"));
            assert_eq!(meta.namespace.as_deref(), Some("analytics"));
            assert_eq!(
                meta.labels.as_ref().expect("labels")[labels::MANAGED_BY],
                "hydrant-operator"
            );
            let owner = &meta.owner_references.as_ref().expect("owner")[0];
            assert_eq!(
                (owner.kind.as_str(), owner.uid.as_str()),
                ("DeliveryStream", "1234-abcd")
            );
        }
        assert_eq!(
            access.service_account.automount_service_account_token,
            Some(true)
        );
        let rules = access.role.rules.expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].api_groups,
            Some(vec!["coordination.k8s.io".to_owned()])
        );
        assert_eq!(rules[0].resources, Some(vec!["leases".to_owned()]));
        assert_eq!(
            rules[0].verbs,
            [
                "get", "list", "watch", "create", "update", "patch", "delete"
            ]
        );
        assert!(rules[0].resource_names.is_none());
        let binding = access.role_binding;
        assert_eq!(
            (
                binding.role_ref.kind.as_str(),
                binding.role_ref.name.as_str()
            ),
            ("Role", "clicks-source")
        );
        let subject = &binding.subjects.expect("subjects")[0];
        assert_eq!(
            (subject.kind.as_str(), subject.name.as_str()),
            ("ServiceAccount", "clicks-source")
        );
        assert_eq!(subject.namespace.as_deref(), Some("analytics"));
    }

    #[test]
    fn kinesis_pods_run_as_the_account_with_their_name_and_namespace() {
        let pod = pod_of(&format!("{KINESIS}{S3}"));
        assert_eq!(pod.service_account_name.as_deref(), Some("clicks-source"));
        assert_eq!(pod.automount_service_account_token, Some(true));
        let env = pod.containers[0].env.clone().expect("env");
        let field = |name: &str| {
            env.iter()
                .find(|e| e.name == name)
                .and_then(|e| e.value_from.as_ref())
                .and_then(|v| v.field_ref.as_ref())
                .map(|f| f.field_path.clone())
        };
        assert_eq!(field("HYDRANT_POD_NAME").as_deref(), Some("metadata.name"));
        assert_eq!(
            field("HYDRANT_POD_NAMESPACE").as_deref(),
            Some("metadata.namespace")
        );
    }

    #[test]
    fn other_sources_get_no_access_and_no_token() {
        let s = stream(S3);
        assert!(render(&s).expect("render").is_none());
        let c = render_all(&s, &inputs(), &OperatorConfig::default()).expect("render");
        assert!(
            c.source_access.is_none(),
            "removed if an earlier spec had it"
        );
        let pod = pod_of(S3);
        assert_eq!(pod.service_account_name, None);
        assert_eq!(pod.automount_service_account_token, Some(false));
        let env = pod.containers[0].env.clone().expect("env");
        assert!(!env.iter().any(|e| e.name.starts_with("HYDRANT_POD_")));
    }

    #[test]
    fn a_chosen_account_is_kept_and_bound() {
        let spec = format!("{KINESIS}  template:\n    spec: {{serviceAccountName: streams}}\n{S3}");
        let pod = pod_of(&spec);
        assert_eq!(pod.service_account_name.as_deref(), Some("streams"));
        assert_eq!(pod.automount_service_account_token, Some(true));
        let access = render(&stream(&spec)).expect("render").expect("access");
        let subject = &access.role_binding.subjects.expect("subjects")[0];
        assert_eq!(subject.name, "streams");
    }
}
