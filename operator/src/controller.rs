//! The reconcile loop: dereference → validate → render → server-side apply → status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use thiserror::Error;

use crate::apply::{Applier, ApplyError, apply_children};
use crate::config::{FIELD_MANAGER, OperatorConfig};
use crate::drains;
use crate::finalizer::{has_finalizer, set_finalizer};
use crate::gauges;
use crate::metrics::Metrics;
use crate::render::{self, Inputs, labels};
use crate::status::{self, Observed, WorkloadState};
use crate::workload;
use crds::DeliveryStream;

#[derive(Debug, Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("rendering: {0}")]
    Render(#[from] render::RenderError),
    #[error("applying: {0}")]
    Apply(#[from] ApplyError),
    #[error("draining claims: {0}")]
    Drain(#[from] drains::DrainError),
}

impl Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(_))
            | Error::Apply(ApplyError::Kube(kube::Error::Api(_))) => "api_error",
            Error::Kube(_) | Error::Apply(ApplyError::Kube(_)) => "client_error",
            Error::Render(_) => "render",
            Error::Apply(ApplyError::Json(_)) => "serialise",
            Error::Drain(_) => "drain",
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub config: OperatorConfig,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub http: reqwest::Client,
    failures: Mutex<HashMap<String, u32>>,
    /// Streams by deliveryStreamStatus, per watched namespace.
    counts: Arc<gauges::Counts>,
}

impl Context {
    pub fn new(client: Client, config: OperatorConfig, metrics: Metrics, instance: String) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.to_owned(),
                instance: Some(instance),
            },
        );
        Self {
            client,
            config,
            metrics,
            recorder,
            http: reqwest::Client::new(),
            failures: Mutex::default(),
            counts: Arc::default(),
        }
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reconciles one stream.
pub async fn reconcile(
    guard: Arc<DeserializeGuard<DeliveryStream>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let stream = match &guard.0 {
        Ok(stream) => stream,
        Err(invalid) => {
            tracing::warn!(error = %invalid, "skipping a DeliveryStream that does not decode");
            ctx.metrics
                .failures
                .with_label_values(&["undecodable"])
                .inc();
            return Ok(Action::await_change());
        }
    };
    let result = reconcile_stream(stream, &ctx).await;
    let label = if result.is_ok() { "success" } else { "error" };
    ctx.metrics.reconciles.with_label_values(&[label]).inc();
    ctx.metrics
        .duration
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok()
        && let Ok(mut f) = ctx.failures.lock()
    {
        f.remove(&key(stream));
    }
    result
}

fn key(stream: &DeliveryStream) -> String {
    format!(
        "{}/{}",
        stream.namespace().unwrap_or_default(),
        stream.name_any()
    )
}

/// Per-object exponential backoff: 1 s doubling to 5 minutes.
pub fn error_policy(
    guard: Arc<DeserializeGuard<DeliveryStream>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    ctx.metrics
        .failures
        .with_label_values(&[error.reason()])
        .inc();
    let Ok(stream) = &guard.0 else {
        return Action::await_change();
    };
    let attempts = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key(stream)).or_insert(0);
            *n += 1;
            *n
        })
        .unwrap_or(1);
    let delay = Duration::from_secs(1u64 << attempts.min(9)).min(Duration::from_secs(300));
    tracing::warn!(stream = %key(stream), error = %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_stream(stream: &DeliveryStream, ctx: &Context) -> Result<Action, Error> {
    let ns = render::namespace(stream)?;
    let name = render::stream_name(stream)?;
    let streams: Api<DeliveryStream> = Api::namespaced(ctx.client.clone(), ns);

    if stream.metadata.deletion_timestamp.is_some() {
        return finalize(stream, ctx, &streams).await;
    }
    if !has_finalizer(stream) {
        set_finalizer(stream, ctx, &streams, name, true).await?;
        // The patch produces a watch event that reconciles again.
        return Ok(Action::await_change());
    }

    // Dereference.
    let spec_hash = render::spec_hash(stream);
    let version_id = status::next_version(stream, &spec_hash);
    let (mut inputs, missing) = read_secrets(stream, ctx, ns, version_id.clone()).await?;
    let mut observed = Observed {
        version_id,
        spec_hash,
        endpoint: Some(render::service::endpoint(
            stream,
            &ctx.config.cluster_domain,
        )?),
        selector: labels::selector_string(name),
        ..Observed::default()
    };

    // Validate.
    let errors = crds::validate_spec(stream);
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        observed.invalid = Some(list.join("; "));
    } else if !missing.is_empty() {
        observed.waiting = Some((
            "SecretMissing".to_owned(),
            format!(
                "waiting for Secret {} in namespace {ns}",
                missing.join(", ")
            ),
        ));
    }

    // The pods' delivery health, read before rendering: the rollout gate needs it now.
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let pod_list = pods
        .list(&ListParams::default().labels(&labels::selector_string(name)))
        .await?
        .items;
    if ctx.config.poll_pods {
        observed.delivery =
            crate::health::gather(&ctx.http, &pod_list, ctx.config.pod_status_port).await;
    }
    inputs.hold_rollout =
        crate::rollout_gate::hold_reason(stream, &pod_list, observed.delivery.as_ref());
    observed.rollout_held = inputs.hold_rollout.clone();

    // Render and apply.
    let mut template = None;
    if observed.invalid.is_none() && observed.waiting.is_none() {
        match render::render(stream, &inputs, &ctx.config) {
            Ok(children) => {
                template = children.workload.claimed_template().cloned();
                let applier = Applier {
                    client: &ctx.client,
                    metrics: &ctx.metrics,
                    namespace: ns,
                };
                observed.workload = Some(apply_children(&applier, name, children).await?)
            }
            Err(render::RenderError::Invalid(message)) => observed.invalid = Some(message),
            Err(e) => return Err(e.into()),
        }
    } else {
        observed.workload = workload::read(&ctx.client, stream, ns, name).await?;
    }
    if let Some(in_use) = observed
        .workload
        .as_ref()
        .and_then(WorkloadState::claimed_ordinals)
    {
        observed.drains = drains::reconcile(
            &ctx.client,
            &ctx.recorder,
            stream,
            template.as_ref(),
            in_use,
        )
        .await?;
    }

    write_status(stream, ctx, &streams, &observed).await?;
    // Requeue to refresh delivery health and to catch anything a watch missed; soon while a
    // rollout is held or claims drain, so either resumes or finishes promptly.
    let seconds = if observed.rollout_held.is_some() || !observed.drains.is_empty() {
        3
    } else if ctx.config.poll_pods {
        30
    } else {
        300
    };
    Ok(Action::requeue(Duration::from_secs(seconds)))
}

/// The Secrets the stream references (their data, for the config hash) and the names of those
/// missing.
async fn read_secrets(
    stream: &DeliveryStream,
    ctx: &Context,
    ns: &str,
    version_id: String,
) -> Result<(Inputs, Vec<String>), Error> {
    let secrets_api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let mut inputs = Inputs {
        version_id,
        ..Inputs::default()
    };
    let mut missing = Vec::new();
    for secret in render::referenced_secrets(stream) {
        match secrets_api.get_opt(&secret).await? {
            Some(s) => {
                let data = s
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                inputs.secrets.insert(secret, data);
            }
            None => missing.push(secret),
        }
    }
    if let Some(secret) = render::tls_secret(stream)
        && secrets_api.get_opt(secret).await?.is_none()
    {
        missing.push(secret.to_owned());
    }
    Ok((inputs, missing))
}

/// Writes the status when (and only when) it differs from what is stored.
async fn write_status(
    stream: &DeliveryStream,
    ctx: &Context,
    streams: &Api<DeliveryStream>,
    observed: &Observed,
) -> Result<(), Error> {
    let desired = status::compute(stream, observed, &now());
    let previous = stream.status.clone().unwrap_or_default();
    if desired == previous {
        return Ok(());
    }
    let name = render::stream_name(stream)?;
    let patch = serde_json::json!({
        "apiVersion": DeliveryStream::api_version(&()),
        "kind": DeliveryStream::kind(&()),
        "status": desired,
    });
    streams
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    ctx.metrics.writes.with_label_values(&["status"]).inc();
    if previous.delivery_stream_status != desired.delivery_stream_status {
        let phase = desired.delivery_stream_status.clone().unwrap_or_default();
        let (type_, note) = match phase.as_str() {
            "CREATING_FAILED" => (EventType::Warning, observed.invalid.clone()),
            _ => (EventType::Normal, None),
        };
        let event = Event {
            type_,
            reason: phase_reason(&phase).to_owned(),
            note: note.or_else(|| Some(format!("deliveryStreamStatus is {phase}"))),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &stream.object_ref(&())).await {
            tracing::warn!(error = %e, "publishing an event failed");
        }
    }
    Ok(())
}

fn phase_reason(phase: &str) -> &'static str {
    match phase {
        "ACTIVE" => "Active",
        "CREATING" => "Creating",
        "CREATING_FAILED" => "CreatingFailed",
        "DELETING" => "Deleting",
        _ => "StatusChanged",
    }
}

/// Deletion: DELETING until the pods are gone (scaled to zero, they drain on SIGTERM) and, on
/// claims, until drain Jobs have emptied and deleted every claim; then the finalizer goes and
/// owner references collect the children.
async fn finalize(
    stream: &DeliveryStream,
    ctx: &Context,
    streams: &Api<DeliveryStream>,
) -> Result<Action, Error> {
    if !has_finalizer(stream) {
        return Ok(Action::await_change());
    }
    let ns = render::namespace(stream)?;
    let name = render::stream_name(stream)?;
    let workload = workload::read(&ctx.client, stream, ns, name).await?;
    if let Some(w) = &workload
        && !w.scaled_to_zero()
    {
        let manager = format!("{FIELD_MANAGER}-drain");
        workload::scale_to_zero(&ctx.client, w, ns, name, &manager).await?;
        ctx.metrics.writes.with_label_values(&["drain"]).inc();
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let remaining = pods
        .list(&ListParams::default().labels(&labels::selector_string(name)))
        .await?
        .items
        .len();
    let replicas = workload.as_ref().map_or(0, WorkloadState::current_replicas);
    let pods_gone = remaining == 0 && replicas == 0;
    let mut drains = Vec::new();
    if pods_gone && stream.spec.buffer.storage.claim().is_some() {
        let template = drain_template(stream, ctx, ns).await?;
        drains =
            drains::reconcile(&ctx.client, &ctx.recorder, stream, template.as_ref(), 0).await?;
    }
    let observed = Observed {
        workload,
        deleting: true,
        version_id: stream
            .status
            .as_ref()
            .and_then(|s| s.version_id.clone())
            .unwrap_or_else(|| "1".to_owned()),
        spec_hash: render::spec_hash(stream),
        endpoint: stream.status.as_ref().and_then(|s| s.endpoint.clone()),
        selector: labels::selector_string(name),
        drains,
        ..Observed::default()
    };
    write_status(stream, ctx, streams, &observed).await?;
    if !pods_gone || !observed.drains.is_empty() {
        tracing::info!(stream = %key(stream), pods = remaining, drains = observed.drains.len(), "waiting for pods and claims to drain");
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    set_finalizer(stream, ctx, streams, name, false).await?;
    Ok(Action::await_change())
}

/// The pod template drain Jobs of a deleted stream run: its pods' template, rendered from the
/// spec as it was; None when it no longer renders.
async fn drain_template(
    stream: &DeliveryStream,
    ctx: &Context,
    ns: &str,
) -> Result<Option<k8s_openapi::api::core::v1::PodTemplateSpec>, Error> {
    let version_id = stream
        .status
        .as_ref()
        .and_then(|s| s.version_id.clone())
        .unwrap_or_else(|| "1".to_owned());
    let (inputs, _) = read_secrets(stream, ctx, ns, version_id).await?;
    Ok(render::render(stream, &inputs, &ctx.config)
        .ok()
        .and_then(|c| c.workload.claimed_template().cloned()))
}

/// Runs the controller for one namespace (or all, with `None`) until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let streams: Api<DeserializeGuard<DeliveryStream>> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let wc = watcher::Config::default();
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=hydrant-operator");
    let controller = Controller::new(streams, wc.clone())
        .with_config(ControllerConfig::default().concurrency(16));
    let store = controller.store();
    let gauges = gauges::spawn(
        store.clone(),
        ctx.metrics.clone(),
        ctx.counts.clone(),
        namespace.clone(),
    );
    controller
        .owns(api::<ConfigMap>(&client, &namespace), owned.clone())
        .owns(api::<Service>(&client, &namespace), owned.clone())
        .owns(
            api::<PodDisruptionBudget>(&client, &namespace),
            owned.clone(),
        )
        .owns(api::<Deployment>(&client, &namespace), owned.clone())
        .owns(api::<StatefulSet>(&client, &namespace), owned.clone())
        .owns(api::<Job>(&client, &namespace), owned.clone())
        .owns(
            api::<HorizontalPodAutoscaler>(&client, &namespace),
            owned.clone(),
        )
        .owns(api::<NetworkPolicy>(&client, &namespace), owned.clone())
        .owns(api::<ServiceAccount>(&client, &namespace), owned.clone())
        .owns(api::<Role>(&client, &namespace), owned.clone())
        .owns(api::<RoleBinding>(&client, &namespace), owned)
        .watches(
            api::<Secret>(&client, &namespace),
            wc,
            move |secret: Secret| {
                let ns = secret.namespace();
                let name = secret.name_any();
                store
                    .state()
                    .iter()
                    .filter_map(|guard| guard.0.as_ref().ok())
                    .filter(|s| {
                        s.namespace() == ns
                            && (render::referenced_secrets(s).contains(&name)
                                || render::tls_secret(s) == Some(name.as_str()))
                    })
                    .map(|s| {
                        ObjectRef::new(&s.name_any()).within(&s.namespace().unwrap_or_default())
                    })
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
    gauges.abort();
}
