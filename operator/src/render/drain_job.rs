//! The drain Job: the data-plane image in `hydrant drain` mode on the claim of a pod that no
//! longer runs. It opens that pod's log, delivers everything with the stream's configuration and
//! exits 0 once the log is empty; the operator deletes the claim only then.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, PodTemplateSpec, Volume};

use super::{RenderError, child_meta, configmap, labels, pod, stream_name};
use crds::DeliveryStream;

/// Label naming the claim a drain Job (and its pod) works on.
pub const CLAIM_LABEL: &str = "hydrant.dev/drain-claim";
/// The component label of drain Jobs and their pods: not `dataplane`, so the stream's Service,
/// PodDisruptionBudget and StatefulSet never select them.
pub const COMPONENT: &str = "drain";

/// The claim of the StatefulSet pod `<stream>-<ordinal>`.
pub fn claim_name(stream: &str, ordinal: u32) -> String {
    format!("{}-{stream}-{ordinal}", pod::WAL_VOLUME)
}

/// The ordinal of `claim` if it is one of `stream`'s pods' claims.
pub fn claim_ordinal(stream: &str, claim: &str) -> Option<u32> {
    let rest = claim.strip_prefix(pod::WAL_VOLUME)?.strip_prefix('-')?;
    let digits = rest.strip_prefix(stream)?.strip_prefix('-')?;
    // `wal-a-b-0` belongs to stream `a-b`, not to a stream `a` with pod `a-b-0`.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The Job's name: `<stream>-drain-<ordinal>`.
pub fn name(stream: &str, ordinal: u32) -> String {
    format!("{stream}-drain-{ordinal}")
}

/// Labels of a drain Job and its pod.
pub fn job_labels(stream: &str, claim: &str) -> BTreeMap<String, String> {
    let mut out = labels::common(stream);
    out.insert(labels::COMPONENT.to_owned(), COMPONENT.to_owned());
    out.insert(CLAIM_LABEL.to_owned(), claim.to_owned());
    out
}

/// The label selector of `stream`'s drain Jobs.
pub fn selector_string(stream: &str) -> String {
    format!(
        "{}={stream},{}={COMPONENT}",
        labels::STREAM,
        labels::COMPONENT
    )
}

/// The drain Job of `stream`'s pod `ordinal`, from the pods' `template`.
pub fn render(
    stream: &DeliveryStream,
    template: &PodTemplateSpec,
    ordinal: u32,
) -> Result<Job, RenderError> {
    let name = stream_name(stream)?;
    let claim = claim_name(name, ordinal);
    let mut template = template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels = Some(job_labels(name, &claim));
    let spec = template
        .spec
        .as_mut()
        .ok_or(RenderError::Missing("pod spec"))?;
    // Retried by the Job controller on failure; never restarted after success.
    spec.restart_policy = Some("OnFailure".to_owned());
    // Its claim pins it to the claim's node (local volumes) without help from here.
    spec.topology_spread_constraints = None;
    spec.volumes
        .get_or_insert_with(Vec::new)
        .push(claim_volume(&claim));
    for container in &mut spec.containers {
        container.args = Some(vec![
            "drain".to_owned(),
            "-f".to_owned(),
            format!("{}/{}", configmap::MOUNT_DIR, configmap::FILE),
        ]);
        // Nothing sends it records: no ingest port, and no readiness to wait for.
        container
            .ports
            .get_or_insert_with(Vec::new)
            .retain(|p| p.name.as_deref() != Some("ingest"));
        container.readiness_probe = None;
        container.liveness_probe = None;
    }
    let mut metadata = child_meta(stream, self::name(name, ordinal))?;
    metadata.labels = Some(job_labels(name, &claim));
    Ok(Job {
        metadata,
        spec: Some(JobSpec {
            // A delivery that fails is retried inside the process, forever where the stream's
            // retry rules say so; a process that exits non-zero has met something else
            // (configuration, the volume) and is retried a few times, then reported.
            backoff_limit: Some(4),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    })
}

fn claim_volume(claim: &str) -> Volume {
    Volume {
        name: pod::WAL_VOLUME.to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_owned(),
            read_only: Some(false),
        }),
        ..Volume::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperatorConfig;
    use crate::render::tests::{ON_CLAIMS, S3, inputs, stream};
    use crate::render::{Workload, render as render_all};

    #[test]
    fn a_drain_job_runs_drain_on_the_claim_and_is_never_selected_as_a_pod_of_the_stream() {
        let s = stream(&format!("{ON_CLAIMS}{S3}"));
        let c = render_all(&s, &inputs(), &OperatorConfig::default()).expect("render");
        let template = c
            .workload
            .claimed_template()
            .expect("a StatefulSet")
            .clone();
        let job = render(&s, &template, 2).expect("job");
        assert_eq!(job.metadata.name.as_deref(), Some("clicks-drain-2"));
        assert_eq!(
            job.metadata.owner_references.expect("owner")[0].kind,
            "DeliveryStream"
        );
        let spec = job.spec.expect("job spec");
        let pod_labels = spec
            .template
            .metadata
            .clone()
            .expect("meta")
            .labels
            .expect("labels");
        assert_eq!(pod_labels[CLAIM_LABEL], "wal-clicks-2");
        let selector = labels::selector("clicks");
        assert!(
            selector.iter().any(|(k, v)| pod_labels.get(k) != Some(v)),
            "the stream's Service and budget would select {pod_labels:?}"
        );
        let pod = spec.template.spec.expect("pod");
        assert_eq!(pod.restart_policy.as_deref(), Some("OnFailure"));
        let container = &pod.containers[0];
        assert_eq!(
            container.args.as_deref().expect("args")[0..2],
            ["drain".to_owned(), "-f".to_owned()]
        );
        assert!(container.readiness_probe.is_none());
        let ports = container.ports.clone().unwrap_or_default();
        assert!(ports.iter().all(|p| p.name.as_deref() != Some("ingest")));
        let wal = pod
            .volumes
            .expect("volumes")
            .into_iter()
            .find(|v| v.name == pod::WAL_VOLUME)
            .expect("the log's volume");
        assert_eq!(
            wal.persistent_volume_claim.expect("claim").claim_name,
            "wal-clicks-2"
        );
        // Same image, security and Secrets as the pods it replaces.
        let pod_spec = template.spec.expect("pod");
        assert_eq!(container.image, pod_spec.containers[0].image);
        assert_eq!(
            container.security_context,
            pod_spec.containers[0].security_context
        );
        assert_eq!(
            container.volume_mounts,
            pod_spec.containers[0].volume_mounts
        );
        assert!(matches!(c.workload, Workload::StatefulSet(..)));
    }

    #[test]
    fn ordinals_come_only_from_this_streams_claims() {
        assert_eq!(claim_ordinal("orders", "wal-orders-0"), Some(0));
        assert_eq!(claim_ordinal("orders", "wal-orders-12"), Some(12));
        assert_eq!(claim_ordinal("orders", &claim_name("orders", 7)), Some(7));
        assert_eq!(claim_ordinal("orders", "wal-orders-eu-0"), None);
        assert_eq!(claim_ordinal("orders", "wal-orders-"), None);
        assert_eq!(claim_ordinal("orders", "wal-orders"), None);
        assert_eq!(claim_ordinal("orders", "data-orders-0"), None);
        assert_eq!(claim_ordinal("orders-eu", "wal-orders-0"), None);
    }
}
