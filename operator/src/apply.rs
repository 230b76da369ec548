//! Server-side apply of a stream's children: each carries the hash of what was applied, and an
//! unchanged hash means no write (a steady cluster costs zero API writes).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::config::FIELD_MANAGER;
use crate::metrics::Metrics;
use crate::render::{self, labels, source_access};
use crate::status::WorkloadState;

/// Annotation holding the hash of what the operator last applied to a child.
pub const RENDER_HASH: &str = "hydrant.dev/render-hash";

#[derive(Debug, Error)]
pub enum ApplyError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("serialising: {0}")]
    Json(#[from] serde_json::Error),
}

/// Where and as whom children are applied.
pub struct Applier<'a> {
    pub client: &'a Client,
    pub metrics: &'a Metrics,
    pub namespace: &'a str,
}

/// Applies the children, configuration before the workload (so pods do not restart twice),
/// and deletes an HPA, NetworkPolicy or source access an earlier spec left; returns the
/// applied workload.
pub async fn apply_children(
    ctx: &Applier<'_>,
    name: &str,
    children: render::Children,
) -> Result<WorkloadState, ApplyError> {
    apply(ctx, children.config_map).await?;
    apply(ctx, children.service).await?;
    apply(ctx, children.pdb).await?;
    // The pods' ServiceAccount exists before pods name it, and stays until pods that name it
    // are replaced (removed after the workload).
    let access = source_access::name(name);
    let remove_access = children.source_access.is_none();
    if let Some(a) = children.source_access {
        apply(ctx, a.service_account).await?;
        apply(ctx, a.role).await?;
        apply(ctx, a.role_binding).await?;
    }
    let workload = match children.workload {
        render::Workload::Deployment(d) => WorkloadState::Deployment(apply(ctx, *d).await?),
        render::Workload::StatefulSet(set, headless) => {
            apply(ctx, *headless).await?;
            WorkloadState::StatefulSet(apply(ctx, *set).await?)
        }
    };
    apply_or_remove(ctx, name, children.hpa).await?;
    apply_or_remove(ctx, name, children.network_policy).await?;
    if remove_access {
        apply_or_remove::<RoleBinding>(ctx, &access, None).await?;
        apply_or_remove::<Role>(ctx, &access, None).await?;
        apply_or_remove::<ServiceAccount>(ctx, &access, None).await?;
    }
    Ok(workload)
}

/// A namespaced object the operator applies for a stream.
trait Child:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Child for K where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// Applies an optional child, or deletes the one an earlier spec left (an orphan otherwise).
async fn apply_or_remove<K: Child>(
    ctx: &Applier<'_>,
    name: &str,
    child: Option<K>,
) -> Result<(), ApplyError> {
    if let Some(child) = child {
        apply(ctx, child).await?;
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ctx.namespace);
    if let Some(old) = api.get_opt(name).await?
        && old.labels().get(labels::MANAGED_BY).map(String::as_str) == Some("hydrant-operator")
    {
        api.delete(name, &DeleteParams::default()).await?;
        ctx.metrics.writes.with_label_values(&["delete"]).inc();
    }
    Ok(())
}

/// Server-side applies `object` unless the live object already carries the same render hash.
async fn apply<K: Child>(ctx: &Applier<'_>, mut object: K) -> Result<K, ApplyError> {
    let name = object.meta().name.clone().unwrap_or_default();
    let hash = {
        let json = serde_json::to_vec(&object)?;
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(&json)[..16])
    };
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(RENDER_HASH.to_owned(), hash.clone());
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ctx.namespace);
    if let Some(live) = api.get_opt(&name).await?
        && live.annotations().get(RENDER_HASH) == Some(&hash)
    {
        return Ok(live);
    }
    let applied = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await?;
    ctx.metrics
        .writes
        .with_label_values(&[K::kind(&()).as_ref()])
        .inc();
    Ok(applied)
}
