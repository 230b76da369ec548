//! The streams of one namespace as a [`StreamStore`]: DeliveryStream resources, read and
//! written through the API server with the gateway's ServiceAccount (create, get, list, patch,
//! delete on `deliverystreams` in that namespace). The operator does the rest: pods, Service,
//! status, VersionId, the drain on delete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crds::DeliveryStream;
use crds::firehose::{Environment, NewSecret};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::merge;
use super::resource;
use crate::control::annotations;
use crate::control::configure_stale;
use crate::control::names;
use crate::control::store::{Change, StoredStream, StreamStore};
use crate::ingest::error::ApiError;

/// How often a change is retried when only the resource's status moved under it.
const CONFLICT_RETRIES: usize = 3;

pub struct ClusterStreams {
    api: Api<DeliveryStream>,
    env: Arc<Environment>,
    /// Each stream as this request's `get` read it: a change applies to exactly that
    /// (its resourceVersion), so a concurrent change is a ConcurrentModificationException.
    read: Mutex<HashMap<String, DeliveryStream>>,
}

impl ClusterStreams {
    /// The store of one request, scoped to its key's namespace.
    pub fn new(client: kube::Client, namespace: &str, env: Arc<Environment>) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            env,
            read: Mutex::new(HashMap::new()),
        }
    }

    /// The resource holding stream `name`; ResourceNotFoundException when none does (a
    /// resource whose object name matches but whose API name differs is another stream).
    pub async fn fetch(&self, name: &str) -> Result<DeliveryStream, ApiError> {
        let found = self
            .api
            .get_opt(&names::object_name(name))
            .await
            .map_err(|e| kube_error(e, name))?;
        match found {
            Some(object) if object.delivery_stream_name() == name => Ok(object),
            _ => Err(ApiError::not_found(name, &self.env.account)),
        }
    }

    fn remembered(&self, name: &str) -> Option<DeliveryStream> {
        lock(&self.read).get(name).cloned()
    }

    /// Sends the patch `build` makes from the resource as read, carrying its resourceVersion.
    /// A conflict caused only by a status write (same generation, same annotations) is retried
    /// on the fresh resource; any other is a ConcurrentModificationException.
    async fn patch_as_read(
        &self,
        name: &str,
        build: impl Fn(&DeliveryStream) -> Result<Value, ApiError>,
    ) -> Result<(), ApiError> {
        let mut base = match self.remembered(name) {
            Some(object) => object,
            None => self.fetch(name).await?,
        };
        for _ in 0..=CONFLICT_RETRIES {
            let mut patch = build(&base)?;
            patch["metadata"]["resourceVersion"] = json!(base.metadata.resource_version);
            let object = names::object_name(name);
            match self
                .api
                .patch(&object, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.is_conflict() => {
                    let fresh = self.fetch(name).await?;
                    let same = fresh.metadata.generation == base.metadata.generation
                        && fresh.metadata.annotations == base.metadata.annotations
                        && fresh.metadata.deletion_timestamp.is_none();
                    if !same {
                        return Err(ApiError::concurrent_modification(format!(
                            "Firehose {name} was changed by another request; describe it and retry."
                        )));
                    }
                    base = fresh;
                }
                Err(e) => return Err(kube_error(e, name)),
            }
        }
        Err(ApiError::concurrent_modification(format!(
            "Firehose {name} keeps changing; retry."
        )))
    }
}

impl StreamStore for ClusterStreams {
    fn environment(&self) -> &Environment {
        &self.env
    }

    async fn create(&self, stream: StoredStream, secrets: Vec<NewSecret>) -> Result<(), ApiError> {
        if !secrets.is_empty() {
            // SecretPolicy::Reference never asks for one; a gateway may not create Secrets.
            return Err(ApiError::internal(
                "The gateway does not store secret values; reference Secrets as secret:<name>.",
            ));
        }
        let namespace = self.api.namespace().unwrap_or("default").to_owned();
        let object = resource::new_object(&stream, &namespace);
        match self.api.create(&PostParams::default(), &object).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                Err(ApiError::resource_in_use(format!(
                    "Firehose {} under accountId {} already exists",
                    stream.name, self.env.account
                )))
            }
            Err(e) => Err(kube_error(e, &stream.name)),
        }
    }

    async fn get(&self, name: &str) -> Result<StoredStream, ApiError> {
        let object = self.fetch(name).await?;
        let stored = resource::stored(&object)?;
        lock(&self.read).insert(name.to_owned(), object);
        Ok(stored)
    }

    async fn list(&self) -> Result<Vec<(String, &'static str)>, ApiError> {
        let list = self
            .api
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_error(e, "*"))?;
        Ok(list
            .items
            .iter()
            .map(|s| {
                (
                    s.delivery_stream_name(),
                    s.spec.source.delivery_stream_type(),
                )
            })
            .collect())
    }

    async fn change(&self, name: &str, change: Change) -> Result<(), ApiError> {
        match change {
            Change::Destination {
                expected_version,
                spec,
                kept,
                ..
            } => {
                let spec = to_json(&*spec)?;
                let now = annotations::timestamp(crate::control::now_epoch());
                let kept = annotations::kept_value(&kept);
                self.patch_as_read(name, |current| {
                    let version = resource::version_id(current);
                    if version != expected_version {
                        return Err(configure_stale(name, &expected_version, &version));
                    }
                    Ok(json!({
                        "metadata": {"annotations": {
                            (annotations::KEPT): kept,
                            (annotations::UPDATED): now,
                        }},
                        "spec": merge::diff(&to_json(&current.spec)?, &spec),
                    }))
                })
                .await
            }
            Change::Tags(tags) => {
                let value = annotations::tags_value(&tags);
                self.patch_as_read(name, |_| {
                    Ok(json!({"metadata": {"annotations": {(annotations::TAGS): value}}}))
                })
                .await
            }
            Change::Encryption(encryption) => {
                let value = to_json(&encryption)?;
                self.patch_as_read(name, |_| Ok(json!({"spec": {"encryption": value}})))
                    .await
            }
        }
    }

    async fn delete(&self, name: &str, _force: bool) -> Result<(), ApiError> {
        // AllowForceDelete is accepted and deletes as usual: the operator has no way to skip
        // the drain, and its finalizer keeps the stream DELETING until the pods have drained.
        let object = names::object_name(name);
        match self.api.delete(&object, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                Err(ApiError::not_found(name, &self.env.account))
            }
            Err(e) => Err(kube_error(e, name)),
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::internal(format!("serialising the spec: {e}")))
}

/// The API error a failed API-server call answers.
fn kube_error(error: kube::Error, stream: &str) -> ApiError {
    match error {
        kube::Error::Api(status) => {
            let message = status.message.clone();
            if status.is_invalid() {
                // The CRD's schema or validation rules refused the resource.
                ApiError::invalid_argument(message)
            } else if status.is_conflict() {
                ApiError::concurrent_modification(format!(
                    "Firehose {stream} was changed by another request; describe it and retry."
                ))
            } else if status.is_forbidden() && message.contains("exceeded quota") {
                ApiError::limit_exceeded(message)
            } else {
                tracing::error!(stream, code = status.code, %message, "the API server refused the gateway");
                ApiError::internal(format!(
                    "The cluster refused the request ({}): {message}",
                    status.code
                ))
            }
        }
        other => {
            tracing::warn!(stream, error = %other, "the API server cannot be reached");
            ApiError::unavailable("The cluster's API server cannot be reached; retry.")
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
