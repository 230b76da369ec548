//! The ConfigMap holding the stream's spec exactly as the data plane reads it
//! (`hydrant run -f /etc/hydrant/config/stream.yaml`). Secret values never appear here: S3
//! credentials reach the pod as environment variables, ingest keys as a mounted Secret.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::{RenderError, child_meta, namespace, stream_name};
use crds::{DELIVERY_STREAM_NAME_ANNOTATION, DeliveryStream, Destination};

pub const FILE: &str = "stream.yaml";
pub const MOUNT_DIR: &str = "/etc/hydrant/config";
pub const WAL_DIR: &str = "/var/lib/hydrant/wal";

pub fn name(stream: &str) -> String {
    format!("{stream}-config")
}

/// The manifest the pod runs: the user's spec with the log directory set to the pod's volume and
/// S3 credentials taken from the environment. Of the stream's annotations only its API name
/// (`DELIVERY_STREAM_NAME_ANNOTATION`, set when it is no DNS label) is carried: it is the pod's
/// identity — object keys, the ARN, the `DeliveryStreamName` its ingest accepts.
pub fn pod_manifest(stream: &DeliveryStream) -> Result<DeliveryStream, RenderError> {
    let mut spec = super::without_scale(&stream.spec);
    spec.buffer.directory = WAL_DIR.to_owned();
    if let Destination::S3(s3) = &mut spec.destination {
        s3.location.credentials_secret = None;
    }
    let mut manifest = DeliveryStream::new(stream_name(stream)?, spec);
    let api_name = stream
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELIVERY_STREAM_NAME_ANNOTATION))
        .map(|name| [(DELIVERY_STREAM_NAME_ANNOTATION.to_owned(), name.clone())].into());
    manifest.metadata = ObjectMeta {
        name: Some(stream_name(stream)?.to_owned()),
        namespace: Some(namespace(stream)?.to_owned()),
        annotations: api_name,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{S3, stream};

    #[test]
    fn the_pod_manifest_carries_the_api_name_and_no_other_annotation() {
        let mut s = stream(S3);
        let plain = pod_manifest(&s).expect("manifest");
        assert_eq!(plain.metadata.annotations, None);
        assert_eq!(plain.delivery_stream_name(), "clicks");

        s.metadata.annotations = Some(
            [
                (
                    DELIVERY_STREAM_NAME_ANNOTATION.to_owned(),
                    "Clicks.Raw".to_owned(),
                ),
                ("firehose.hydrant.dev/tags".to_owned(), "[]".to_owned()),
                ("team".to_owned(), "data".to_owned()),
            ]
            .into(),
        );
        let manifest = pod_manifest(&s).expect("manifest");
        let annotations = manifest.metadata.annotations.clone().expect("annotations");
        assert_eq!(annotations.len(), 1, "{annotations:?}");
        assert_eq!(manifest.delivery_stream_name(), "Clicks.Raw");
        // What the pod reads back from the ConfigMap.
        let yaml = &render(&s).expect("render").data.expect("data")[FILE];
        let parsed = crds::manifest::parse_manifest(yaml).expect("parse");
        assert_eq!(parsed.delivery_stream_name(), "Clicks.Raw");
    }
}
