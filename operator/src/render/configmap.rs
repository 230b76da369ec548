//! The ConfigMap holding the stream's spec exactly as the data plane reads it
//! (`hydrant run -f /etc/hydrant/config/stream.yaml`). Secret values never appear here: S3
//! credentials reach the pod as environment variables, ingest keys as a mounted Secret.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::{RenderError, child_meta, namespace, stream_name};
use crds::{DeliveryStream, Destination};

pub const FILE: &str = "stream.yaml";
pub const MOUNT_DIR: &str = "/etc/hydrant/config";
pub const WAL_DIR: &str = "/var/lib/hydrant/wal";

pub fn name(stream: &str) -> String {
    format!("{stream}-config")
}

/// The manifest the pod runs: the user's spec with the log directory set to the pod's volume and
/// S3 credentials taken from the environment.
pub fn pod_manifest(stream: &DeliveryStream) -> Result<DeliveryStream, RenderError> {
    let mut spec = super::without_scale(&stream.spec);
    spec.buffer.directory = WAL_DIR.to_owned();
    if let Destination::S3(s3) = &mut spec.destination {
        s3.location.credentials_secret = None;
    }
    let mut manifest = DeliveryStream::new(stream_name(stream)?, spec);
    manifest.metadata = ObjectMeta {
        name: Some(stream_name(stream)?.to_owned()),
        namespace: Some(namespace(stream)?.to_owned()),
        ..ObjectMeta::default()
    };
    Ok(manifest)
}

pub fn render(stream: &DeliveryStream) -> Result<ConfigMap, RenderError> {
    let manifest = pod_manifest(stream)?;
    let yaml = serde_saphyr::to_string(&manifest)
        .map_err(|e| RenderError::Invalid(format!("serialising the spec: {e}")))?;
    Ok(ConfigMap {
        metadata: child_meta(stream, name(stream_name(stream)?))?,
        data: Some([(FILE.to_owned(), yaml)].into()),
        ..ConfigMap::default()
    })
}
