//! The StatefulSet that runs a stream's pods when each keeps its log on a claim of its own: the
//! claim outlives its pod, and the pod that replaces it (same ordinal, same claim) reopens the
//! log and delivers what its predecessor could not.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplateSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::{RenderError, child_meta, labels, pod, replicas, service, stream_name};
use crds::{ClaimStorage, DeliveryStream};

/// The StatefulSet of `stream`'s pods around `template`, each with a claim like `claim`.
pub fn render(
    stream: &DeliveryStream,
    claim: &ClaimStorage,
    template: PodTemplateSpec,
) -> Result<StatefulSet, RenderError> {
    let name = stream_name(stream)?;
    Ok(StatefulSet {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(StatefulSetSpec {
            replicas: replicas(stream),
            selector: LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            },
            service_name: Some(service::headless_name(name)),
            // Pods start and stop together: a stream's pods are peers, not a quorum.
            pod_management_policy: Some("Parallel".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                ..StatefulSetUpdateStrategy::default()
            }),
            // The operator deletes a claim only once nothing undelivered is left on it.
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_owned()),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            volume_claim_templates: Some(vec![claim_template(stream, name, claim)?]),
            template,
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}

/// The claim each pod gets, named `wal-<stream>-<ordinal>` by the StatefulSet controller.
fn claim_template(
    stream: &DeliveryStream,
    name: &str,
    claim: &ClaimStorage,
) -> Result<PersistentVolumeClaim, RenderError> {
    let least = pod::wal_size_limit(stream)?;
    let size = claim.size.clone().unwrap_or(least);
    Ok(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(pod::WAL_VOLUME.to_owned()),
            labels: Some(labels::common(name)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(claim.access_modes.clone()),
            storage_class_name: claim.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), size)])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}
