//! Renderer tests: spec fields become the right fields of each child.

use super::*;
use crate::config::OperatorConfig;

pub(crate) fn stream(spec_yaml: &str) -> DeliveryStream {
    let yaml = format!(
        "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: clicks\n  namespace: analytics\n  uid: 1234-abcd\n  generation: 3\nspec:\n{spec_yaml}"
    );
    crds::manifest::parse_manifest(&yaml).expect("manifest")
}

pub(crate) const S3: &str = "  destination:\n    s3:\n      bucket: raw\n      endpoint: http://s3:8333\n      credentialsSecret: s3-writer\n      bufferingHints: {sizeInMBs: 8, intervalInSeconds: 120}\n";

/// The Deployment of children rendered for a stream on `emptyDir`.
pub(crate) fn deployment_of(c: &Children) -> Deployment {
    match &c.workload {
        Workload::Deployment(d) => (**d).clone(),
        Workload::StatefulSet(..) => panic!("a Deployment expected"),
    }
}

pub(crate) fn inputs() -> Inputs {
    Inputs {
        hold_rollout: None,
        version_id: "4".into(),
        secrets: BTreeMap::from([(
            "s3-writer".to_owned(),
            BTreeMap::from([("accessKeyId".to_owned(), b"AKID".to_vec())]),
        )]),
    }
}

#[test]
fn children_carry_owner_references_and_labels() {
    let c = render(&stream(S3), &inputs(), &OperatorConfig::default()).expect("render");
    let deployment = deployment_of(&c);
    let owner = &deployment
        .metadata
        .owner_references
        .as_ref()
        .expect("owners")[0];
    assert_eq!(owner.kind, "DeliveryStream");
    assert_eq!(owner.uid, "1234-abcd");
    assert_eq!(owner.controller, Some(true));
    for meta in [&c.config_map.metadata, &c.service.metadata, &c.pdb.metadata] {
        assert_eq!(meta.namespace.as_deref(), Some("analytics"));
        assert_eq!(
            meta.labels.as_ref().expect("labels")[labels::MANAGED_BY],
            "hydrant-operator"
        );
    }
    assert!(c.hpa.is_none());
}

#[test]
fn config_map_holds_the_spec_without_secrets() {
    let c = render(&stream(S3), &inputs(), &OperatorConfig::default()).expect("render");
    let yaml = &c.config_map.data.as_ref().expect("data")[configmap::FILE];
    let parsed = crds::manifest::parse_manifest(yaml).expect("the data plane can read it");
    assert_eq!(parsed.metadata.name.as_deref(), Some("clicks"));
    assert_eq!(parsed.spec.buffer.directory, configmap::WAL_DIR);
    let crds::Destination::S3(s3) = parsed.spec.destination else {
        panic!("s3")
    };
    assert_eq!(
        s3.location.credentials_secret, None,
        "credentials come from env, not the file"
    );
    assert!(!yaml.contains("AKID"));
}

/// The Deployment spec rendered for the S3 stream.
fn s3_deployment_spec() -> k8s_openapi::api::apps::v1::DeploymentSpec {
    let c = render(&stream(S3), &inputs(), &OperatorConfig::default()).expect("render");
    deployment_of(&c).spec.expect("spec")
}

#[test]
fn deployment_follows_the_spec() {
    let spec = s3_deployment_spec();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.expect("pod");
    assert_eq!(pod.termination_grace_period_seconds, Some(180));
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("ghcr.io/hydrant-dev/hydrant:0.1.0")
    );
    assert_eq!(
        container
            .readiness_probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone()),
        Some("/readyz".to_owned())
    );
    let annotations = spec
        .template
        .metadata
        .and_then(|m| m.annotations)
        .expect("annotations");
    assert!(annotations.contains_key(pod::CONFIG_HASH));
    assert_eq!(annotations["prometheus.io/port"], "9464");
}

#[test]
fn deployment_env_carries_the_version_and_references_the_s3_keys() {
    let pod = s3_deployment_spec().template.spec.expect("pod");
    let env = pod.containers[0].env.as_ref().expect("env");
    let version = env
        .iter()
        .find(|e| e.name == "HYDRANT_VERSION_ID")
        .expect("version");
    assert_eq!(version.value.as_deref(), Some("4"));
    let key = env
        .iter()
        .find(|e| e.name == "AWS_ACCESS_KEY_ID")
        .expect("key");
    assert!(key.value.is_none(), "never a literal value");
    let selector = key
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("secretKeyRef");
    assert_eq!(
        (selector.name.as_str(), selector.key.as_str()),
        ("s3-writer", "accessKeyId")
    );
}

#[test]
fn deployment_pods_run_locked_down() {
    let pod = s3_deployment_spec().template.spec.expect("pod");
    let sc = pod.containers[0]
        .security_context
        .as_ref()
        .expect("security context");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
    let psc = pod.security_context.as_ref().expect("pod security context");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
}

#[test]
fn deployment_wal_volume_is_sized_from_the_buffer() {
    let pod = s3_deployment_spec().template.spec.expect("pod");
    let wal = pod
        .volumes
        .as_ref()
        .expect("volumes")
        .iter()
        .find(|v| v.name == "wal")
        .and_then(|v| v.empty_dir.clone())
        .expect("emptyDir");
    let limit: u64 = wal
        .size_limit
        .expect("size limit")
        .0
        .parse()
        .expect("bytes");
    assert!(
        limit > 2 << 30,
        "sizeLimit follows buffer.maxBytes (2Gi): {limit}"
    );
}

#[test]
fn secret_or_spec_changes_change_the_config_hash() {
    let s = stream(S3);
    let config = OperatorConfig::default();
    let hash = |c: &Children| {
        deployment_of(c)
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .map(|a| a[pod::CONFIG_HASH].clone())
    };
    let base = hash(&render(&s, &inputs(), &config).expect("render"));
    let mut changed_secret = inputs();
    changed_secret
        .secrets
        .get_mut("s3-writer")
        .expect("secret")
        .insert("accessKeyId".into(), b"ROTATED".to_vec());
    assert_ne!(
        base,
        hash(&render(&s, &changed_secret, &config).expect("render"))
    );
    let other = stream(&S3.replace("sizeInMBs: 8", "sizeInMBs: 9"));
    assert_ne!(
        base,
        hash(&render(&other, &inputs(), &config).expect("render"))
    );
    assert_eq!(base, hash(&render(&s, &inputs(), &config).expect("render")));
}

#[test]
fn autoscaling_renders_an_hpa_and_leaves_replicas_out() {
    let s = stream(&format!(
        "  autoscaling: {{minReplicas: 2, maxReplicas: 5}}\n{S3}"
    ));
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    assert_eq!(deployment_of(&c).spec.expect("spec").replicas, None);
    let hpa = c.hpa.expect("hpa").spec.expect("spec");
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 5));
}

#[test]
fn escape_hatches_reach_the_pod() {
    let s = stream(&format!(
        "  image: registry.local/hydrant:dev\n  template:\n    metadata: {{labels: {{team: data}}, annotations: {{a: b}}}}\n    spec:\n      nodeSelector: {{disk: ssd}}\n      priorityClassName: high\n      serviceAccountName: streams\n      terminationGracePeriodSeconds: 7\n      tolerations: [{{key: dedicated, operator: Exists}}]\n{S3}"
    ));
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    let template = deployment_of(&c).spec.expect("spec").template;
    let meta = template.metadata.expect("meta");
    assert_eq!(meta.labels.expect("labels")["team"], "data");
    assert_eq!(meta.annotations.expect("annotations")["a"], "b");
    let pod = template.spec.expect("pod");
    assert_eq!(pod.node_selector.expect("ns")["disk"], "ssd");
    assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
    assert_eq!(pod.service_account_name.as_deref(), Some("streams"));
    assert_eq!(pod.tolerations.expect("tolerations").len(), 1);
    assert_eq!(pod.termination_grace_period_seconds, Some(7));
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("registry.local/hydrant:dev")
    );
}

#[test]
fn pods_prefer_spreading_over_zones_then_nodes_without_requiring_either() {
    let c = render(&stream(S3), &inputs(), &OperatorConfig::default()).expect("render");
    let pod = deployment_of(&c)
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    // 120 s interval + 60 s to deliver, unless the spec says otherwise.
    assert_eq!(pod.termination_grace_period_seconds, Some(180));
    let spread = pod.topology_spread_constraints.expect("spread");
    let keys: Vec<&str> = spread.iter().map(|c| c.topology_key.as_str()).collect();
    assert_eq!(
        keys,
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    );
    assert!(
        spread
            .iter()
            .all(|c| c.when_unsatisfiable == "ScheduleAnyway")
    );
}

#[test]
fn a_local_destination_cannot_run_in_a_cluster() {
    let s = stream("  destination:\n    local: {}\n");
    let err = render(&s, &inputs(), &OperatorConfig::default()).expect_err("local");
    assert!(err.to_string().contains("spec.destination.local"), "{err}");
}

#[test]
fn status_follows_the_deployment_and_keeps_transition_times() {
    use crate::status::{Observed, WorkloadState, compute, next_version};
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
    let mut s = stream(S3);
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    let mut d: Deployment = deployment_of(&c);
    d.metadata.generation = Some(1);
    let mut observed = Observed {
        workload: Some(WorkloadState::Deployment(d.clone())),
        version_id: next_version(&s, "h1"),
        spec_hash: "h1".into(),
        selector: labels::selector_string("clicks"),
        ..Observed::default()
    };
    let first = compute(&s, &observed, "2026-01-01T00:00:00Z");
    assert_eq!(first.delivery_stream_status.as_deref(), Some("CREATING"));
    assert_eq!(first.version_id.as_deref(), Some("1"));
    d.status = Some(DeploymentStatus {
        observed_generation: Some(1),
        replicas: Some(1),
        updated_replicas: Some(1),
        ready_replicas: Some(1),
        ..DeploymentStatus::default()
    });
    observed.workload = Some(WorkloadState::Deployment(d));
    s.status = Some(first.clone());
    let second = compute(&s, &observed, "2026-01-01T00:01:00Z");
    assert_eq!(second.delivery_stream_status.as_deref(), Some("ACTIVE"));
    let ready = second
        .conditions
        .iter()
        .find(|c| c.r#type == "Ready")
        .expect("ready");
    assert_eq!(
        (ready.status.as_str(), ready.last_transition_time.as_str()),
        ("True", "2026-01-01T00:01:00Z")
    );
    let degraded = second
        .conditions
        .iter()
        .find(|c| c.r#type == "Degraded")
        .expect("degraded");
    assert_eq!(
        degraded.last_transition_time, "2026-01-01T00:00:00Z",
        "unchanged condition keeps its time"
    );
    s.status = Some(second.clone());
    assert_eq!(
        compute(&s, &observed, "2026-01-01T00:02:00Z"),
        second,
        "steady state: identical status"
    );
    assert_eq!(next_version(&s, "h1"), "1");
    assert_eq!(next_version(&s, "h2"), "2");
}

#[test]
fn scaling_is_not_a_new_version_and_does_not_roll_the_pods() {
    let one = stream("  replicas: 1\n  destination:\n    s3: {bucket: data}\n");
    let three = stream("  replicas: 3\n  destination:\n    s3: {bucket: data}\n");
    assert_eq!(super::spec_hash(&one), super::spec_hash(&three));
    let inputs = Inputs {
        version_id: "1".into(),
        ..Inputs::default()
    };
    let config = OperatorConfig::default();
    let a = super::render(&one, &inputs, &config).expect("render");
    let b = super::render(&three, &inputs, &config).expect("render");
    assert_eq!(
        a.config_map, b.config_map,
        "the pods read the same manifest"
    );
    let template = |c: &super::Children| deployment_of(c).spec.clone().expect("spec").template;
    assert_eq!(template(&a), template(&b), "the pod template is the same");
    let other = stream("  replicas: 1\n  destination:\n    s3: {bucket: other}\n");
    assert_ne!(super::spec_hash(&one), super::spec_hash(&other));
}

/// The S3 stream with its log on claims of the class `fast`.
pub(crate) const ON_CLAIMS: &str = "  buffer:\n    maxBytes: 1Gi\n    storage:\n      persistentVolumeClaim: {storageClassName: fast}\n";

#[test]
fn a_log_on_claims_runs_as_a_statefulset_with_a_claim_per_pod() {
    let c = render(
        &stream(&format!("{ON_CLAIMS}{S3}")),
        &inputs(),
        &OperatorConfig::default(),
    )
    .expect("render");
    let Workload::StatefulSet(set, headless) = &c.workload else {
        panic!("a StatefulSet expected");
    };
    let spec = set.spec.clone().expect("spec");
    assert_eq!(spec.service_name.as_deref(), Some("clicks-pods"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(spec.replicas, Some(1));
    let retention = spec
        .persistent_volume_claim_retention_policy
        .expect("retention");
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    assert_eq!(retention.when_scaled.as_deref(), Some("Retain"));
    let claims = spec.volume_claim_templates.expect("claim templates");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].metadata.name.as_deref(), Some(pod::WAL_VOLUME));
    let claim = claims[0].spec.clone().expect("claim spec");
    assert_eq!(claim.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(claim.access_modes, Some(vec!["ReadWriteOnce".to_owned()]));
    let size = &claim
        .resources
        .expect("resources")
        .requests
        .expect("requests")["storage"];
    // 1 GiB + an eighth + 64 MiB, the emptyDir limit it replaces.
    assert_eq!(size.0, "1275068416");
    // The claim is the log's volume: mounted at the log's directory, and no emptyDir.
    let pod = spec.template.spec.expect("pod");
    let volumes = pod.volumes.expect("volumes");
    assert!(
        volumes.iter().all(|v| v.name != pod::WAL_VOLUME),
        "{volumes:?}"
    );
    let mounts = pod.containers[0].volume_mounts.clone().expect("mounts");
    assert!(
        mounts
            .iter()
            .any(|m| m.name == pod::WAL_VOLUME && m.mount_path == configmap::WAL_DIR)
    );
    let headless = headless.spec.clone().expect("headless spec");
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.selector, Some(labels::selector("clicks")));
}

#[test]
fn an_hpa_scales_the_statefulset_of_a_stream_on_claims() {
    let spec = format!("{ON_CLAIMS}  autoscaling: {{minReplicas: 2, maxReplicas: 4}}\n{S3}");
    let c = render(&stream(&spec), &inputs(), &OperatorConfig::default()).expect("render");
    let Workload::StatefulSet(set, _) = &c.workload else {
        panic!("a StatefulSet expected");
    };
    assert_eq!(set.spec.as_ref().expect("spec").replicas, None);
    let target = c.hpa.expect("hpa").spec.expect("spec").scale_target_ref;
    assert_eq!(target.kind, "StatefulSet");
    assert_eq!(target.name, "clicks");
}

/// A pod runs the operator's rendering of the user's object, not the object itself: every example
/// must still pass the data plane's strict reading after that round trip.
#[test]
fn every_example_renders_to_a_config_the_data_plane_reads_strictly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for document in crds::manifest::documents(&text).expect("YAML") {
            if document["kind"] != "DeliveryStream" {
                continue;
            }
            let mut stream = crds::manifest::parse_document(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // What the API server sets on an object it creates.
            let meta = &mut stream.metadata;
            meta.namespace.get_or_insert_with(|| "default".to_owned());
            meta.uid = Some("1234-abcd".to_owned());
            let config_map = configmap::render(&stream).expect("render");
            let yaml = &config_map.data.as_ref().expect("data")[configmap::FILE];
            crds::manifest::parse_manifest(yaml)
                .unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 10, "DeliveryStreams found: {seen}");
}
