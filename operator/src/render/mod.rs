//! Pure functions from a stream's spec to the objects it owns: one file per child kind.

pub mod configmap;
pub mod deployment;
pub mod drain_job;
pub mod hpa;
pub mod labels;
pub mod network_policy;
pub mod pdb;
pub mod pod;
pub mod service;
pub mod source_access;
pub mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplateSpec, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::config::OperatorConfig;
use crds::DeliveryStream;

/// Why a stream cannot be rendered.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("the object has no {0}")]
    Missing(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// Everything the operator resolved before rendering (the dereference step's output).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The stream's VersionId for this spec.
    pub version_id: String,
    /// Data of the Secrets the stream references, by name (hashed only, never copied).
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Why a Deployment's rollout must wait (its pods keep their logs on `emptyDir`, so a pod
    /// replaced now could lose its backlog); None lets it proceed.
    pub hold_rollout: Option<String>,
}

/// The children of one stream, in apply order.
#[derive(Debug, Clone)]
pub struct Children {
    pub config_map: ConfigMap,
    pub service: Service,
    pub pdb: PodDisruptionBudget,
    pub workload: Workload,
    pub hpa: Option<HorizontalPodAutoscaler>,
    pub network_policy: Option<NetworkPolicy>,
    /// The pods' API access, for a Kinesis source (its shards are shared through Leases).
    pub source_access: Option<source_access::SourceAccess>,
}

/// What runs the stream's pods, by where their logs live (`spec.buffer.storage`).
#[derive(Debug, Clone)]
pub enum Workload {
    /// Logs on `emptyDir` volumes.
    Deployment(Box<Deployment>),
    /// Logs on a claim per pod, with the headless Service that names the pods.
    StatefulSet(Box<StatefulSet>, Box<Service>),
}

impl Workload {
    /// The template of a StatefulSet's pods: what a drain Job of one of its claims runs.
    pub fn claimed_template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Self::Deployment(_) => None,
            Self::StatefulSet(set, _) => set.spec.as_ref().map(|s| &s.template),
        }
    }

    /// The kind of the workload `stream` is run by.
    pub fn kind_for(stream: &DeliveryStream) -> &'static str {
        match stream.spec.buffer.storage.claim() {
            None => "Deployment",
            Some(_) => "StatefulSet",
        }
    }
}

/// Renders every child of `stream`.
pub fn render(
    stream: &DeliveryStream,
    inputs: &Inputs,
    config: &OperatorConfig,
) -> Result<Children, RenderError> {
    let config_map = configmap::render(stream)?;
    let hash = config_hash(&config_map, inputs);
    let template = pod::template(stream, inputs, config, &hash)?;
    let workload = match stream.spec.buffer.storage.claim() {
        None => Workload::Deployment(Box::new(deployment::render(
            stream,
            template,
            inputs.hold_rollout.is_some(),
        )?)),
        Some(claim) => Workload::StatefulSet(
            Box::new(statefulset::render(stream, claim, template)?),
            Box::new(service::headless(stream)?),
        ),
    };
    Ok(Children {
        service: service::render(stream)?,
        pdb: pdb::render(stream)?,
        workload,
        hpa: hpa::render(stream)?,
        network_policy: network_policy::render(stream, config)?,
        source_access: source_access::render(stream)?,
        config_map,
    })
}

/// The workload's replica count; left out when an HPA owns it.
fn replicas(stream: &DeliveryStream) -> Option<i32> {
    match stream.spec.autoscaling {
        Some(_) => None,
        None => Some(stream.spec.replicas.unwrap_or(1)),
    }
}

/// Metadata of a child: name, namespace, labels and the owner reference that lets Kubernetes
/// collect it with the stream.
pub fn child_meta(stream: &DeliveryStream, name: String) -> Result<ObjectMeta, RenderError> {
    Ok(ObjectMeta {
        name: Some(name),
        namespace: Some(namespace(stream)?.to_owned()),
        labels: Some(labels::common(stream_name(stream)?)),
        owner_references: Some(vec![owner_reference(stream)?]),
        ..ObjectMeta::default()
    })
}

pub fn stream_name(stream: &DeliveryStream) -> Result<&str, RenderError> {
    stream
        .metadata
        .name
        .as_deref()
        .ok_or(RenderError::Missing("name"))
}

pub fn namespace(stream: &DeliveryStream) -> Result<&str, RenderError> {
    stream
        .metadata
        .namespace
        .as_deref()
        .ok_or(RenderError::Missing("namespace"))
}

fn owner_reference(stream: &DeliveryStream) -> Result<OwnerReference, RenderError> {
    Ok(OwnerReference {
        api_version: DeliveryStream::api_version(&()).into_owned(),
        kind: DeliveryStream::kind(&()).into_owned(),
        name: stream_name(stream)?.to_owned(),
        uid: stream
            .metadata
            .uid
            .clone()
            .ok_or(RenderError::Missing("uid"))?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Hash over what the pods read: the rendered config and the referenced Secrets' data. A change
/// of either rolls the pods.
pub fn config_hash(config_map: &ConfigMap, inputs: &Inputs) -> String {
    let mut h = Sha256::new();
    if let Some(data) = &config_map.data {
        for (k, v) in data {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
    }
    for (name, data) in &inputs.secrets {
        h.update(name.as_bytes());
        h.update([1]);
        for (k, v) in data {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v);
            h.update([0]);
        }
    }
    h.update(inputs.version_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Hash of the spec alone: a new value means a new VersionId.
pub fn spec_hash(stream: &DeliveryStream) -> String {
    let json = serde_json::to_vec(&without_scale(&stream.spec)).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..16])
}

/// The spec without how many pods run it and who may reach them: scaling (`kubectl scale`, an
/// HPA) and the NetworkPolicy are not a new version of the stream and must not roll its pods.
pub fn without_scale(spec: &crds::DeliveryStreamSpec) -> crds::DeliveryStreamSpec {
    let mut spec = spec.clone();
    spec.replicas = None;
    spec.autoscaling = None;
    spec.network_policy = None;
    spec
}

/// The Secret holding the ingest port's certificate. Mounted but not hashed: a renewal is
/// reloaded by the pods, not rolled out.
pub fn tls_secret(stream: &DeliveryStream) -> Option<&str> {
    stream
        .spec
        .ingest
        .tls
        .as_ref()
        .map(|t| t.secret_name.as_str())
}

/// The Secrets a stream references: the ingest port's keys, the destination's and the source's
/// (hashed into the pods' config: a change rolls them).
pub fn referenced_secrets(stream: &DeliveryStream) -> Vec<String> {
    let mut out = Vec::new();
    if let crds::IngestAuth::SigV4(sig) = &stream.spec.ingest.auth {
        out.push(sig.credentials_secret.clone());
    }
    out.extend(
        stream
            .spec
            .source
            .secret_names()
            .into_iter()
            .map(str::to_owned),
    );
    out.extend(
        stream
            .spec
            .destination
            .secrets()
            .into_iter()
            .map(str::to_owned),
    );
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod secret_tests;
#[cfg(test)]
pub(crate) mod tests;
