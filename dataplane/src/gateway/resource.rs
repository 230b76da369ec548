//! A DeliveryStream resource as the control plane sees it ([`StoredStream`]) and back: the
//! API name, tags, timestamps and AWS-only members from its annotations; status, VersionId and
//! a failure's description from what the operator wrote in `status`.

use std::collections::BTreeMap;

use crds::DeliveryStream;
use kube::api::ObjectMeta;

use crate::control::annotations;
use crate::control::names;
use crate::control::store::{StoredStream, StreamStatus};
use crate::ingest::error::ApiError;

/// The object a new stream is created as, in `namespace`.
pub fn new_object(stream: &StoredStream, namespace: &str) -> DeliveryStream {
    DeliveryStream {
        metadata: ObjectMeta {
            name: Some(names::object_name(&stream.name)),
            namespace: Some(namespace.to_owned()),
            annotations: Some(annotations::write(stream)),
            ..ObjectMeta::default()
        },
        spec: stream.spec.clone(),
        status: None,
    }
}

/// The stream a resource holds.
pub fn stored(object: &DeliveryStream) -> Result<StoredStream, ApiError> {
    let name = object.delivery_stream_name();
    let empty = BTreeMap::new();
    let restored = annotations::read(object.metadata.annotations.as_ref().unwrap_or(&empty))
        .map_err(|e| ApiError::internal(format!("Firehose {name}: {e}")))?;
    let created = restored.created.unwrap_or_else(|| {
        object
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_millisecond() as f64 / 1000.0)
            .unwrap_or(0.0)
    });
    Ok(StoredStream {
        name,
        spec: object.spec.clone(),
        kept: restored.kept,
        tags: restored.tags,
        version_id: version_id(object),
        status: status(object),
        created,
        updated: restored.updated,
        encryption_switch: None,
    })
}

/// Firehose's status: DELETING once the resource is being deleted (the operator's finalizer
/// holds it while the pods drain), else what the operator reported; CREATING before it has.
fn status(object: &DeliveryStream) -> StreamStatus {
    if object.metadata.deletion_timestamp.is_some() {
        return StreamStatus::Deleting;
    }
    let Some(status) = &object.status else {
        return StreamStatus::Creating;
    };
    match status.delivery_stream_status.as_deref() {
        Some("ACTIVE") => StreamStatus::Active,
        Some("DELETING") => StreamStatus::Deleting,
        Some("CREATING_FAILED") => StreamStatus::CreatingFailed(failure(object)),
        _ => StreamStatus::Creating,
    }
}

/// The message of the condition that says why the stream failed: the first True `Degraded`
/// or False `Ready` condition with a message.
fn failure(object: &DeliveryStream) -> String {
    let conditions = object
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let failing = |kind: &str, status: &str| {
        conditions
            .iter()
            .find(|c| c.r#type == kind && c.status == status && !c.message.is_empty())
            .map(|c| c.message.clone())
    };
    failing("Degraded", "True")
        .or_else(|| failing("Ready", "False"))
        .unwrap_or_else(|| "The delivery stream's configuration cannot run.".to_owned())
}

/// The VersionId: `status.versionId` ("1" before the operator has seen the stream). A spec
/// changed after the operator last reported (`metadata.generation` ahead of
/// `status.observedGeneration`) is already the next version, as Firehose reports an update at
/// once: a second update based on the old version is refused, not applied twice.
pub fn version_id(object: &DeliveryStream) -> String {
    let Some(status) = &object.status else {
        return "1".to_owned();
    };
    let reported = status.version_id.clone().unwrap_or_else(|| "1".to_owned());
    let behind = match (object.metadata.generation, status.observed_generation) {
        (Some(generation), Some(observed)) => generation > observed,
        _ => false,
    };
    match (behind, reported.parse::<u64>()) {
        (true, Ok(n)) => (n + 1).to_string(),
        _ => reported,
    }
}

/// The URL of the stream's Service, where its pods take puts: `status.endpoint` as the
/// operator reports it, else the Service's cluster DNS name.
pub fn endpoint(object: &DeliveryStream, namespace: &str) -> String {
    if let Some(endpoint) = object.status.as_ref().and_then(|s| s.endpoint.clone()) {
        return endpoint;
    }
    let scheme = if object.spec.ingest.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!(
        "{scheme}://{}.{namespace}.svc:{}",
        object.metadata.name.as_deref().unwrap_or_default(),
        object.spec.ingest.port
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::{Condition, DeliveryStreamStatus};

    fn object(yaml_meta: &str) -> DeliveryStream {
        crds::manifest::parse_manifest(&format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata: {yaml_meta}\nspec:\n  destination:\n    s3: {{bucket: b}}\n"
        ))
        .expect("manifest")
    }

    fn with_status(mut o: DeliveryStream, phase: &str, version: &str) -> DeliveryStream {
        o.metadata.generation = Some(2);
        o.status = Some(DeliveryStreamStatus {
            observed_generation: Some(2),
            delivery_stream_status: Some(phase.to_owned()),
            version_id: Some(version.to_owned()),
            ..DeliveryStreamStatus::default()
        });
        o
    }

    #[test]
    fn a_new_resource_is_creating_at_version_one() {
        let o = object("{name: orders}");
        let s = stored(&o).expect("stored");
        assert_eq!(s.name, "orders");
        assert_eq!(s.status, StreamStatus::Creating);
        assert_eq!(s.version_id, "1");
        assert!(s.tags.is_empty());
    }

    #[test]
    fn the_status_the_operator_wrote_is_the_streams() {
        let o = with_status(object("{name: orders}"), "ACTIVE", "4");
        let s = stored(&o).expect("stored");
        assert_eq!(
            (s.status, s.version_id.as_str()),
            (StreamStatus::Active, "4")
        );

        let mut behind = o.clone();
        behind.metadata.generation = Some(3);
        assert_eq!(
            version_id(&behind),
            "5",
            "an update not yet seen is the next version"
        );

        let mut deleted = o.clone();
        deleted.metadata.deletion_timestamp = o.metadata.creation_timestamp.clone().or(Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
        ));
        assert_eq!(
            stored(&deleted).expect("stored").status,
            StreamStatus::Deleting
        );

        let mut failed = with_status(object("{name: orders}"), "CREATING_FAILED", "1");
        if let Some(st) = failed.status.as_mut() {
            st.conditions = vec![Condition {
                r#type: "Degraded".into(),
                status: "True".into(),
                reason: "InvalidSpec".into(),
                message: "spec.destination.s3.bucket: no such bucket".into(),
                last_transition_time: String::new(),
                observed_generation: None,
            }];
        }
        assert_eq!(
            stored(&failed).expect("stored").status,
            StreamStatus::CreatingFailed("spec.destination.s3.bucket: no such bucket".into())
        );
    }

    #[test]
    fn the_api_name_and_annotations_round_trip() {
        let o = object("{name: orders}");
        let mut s = stored(&o).expect("stored");
        s.name = "My.Orders".into();
        s.tags = vec![crate::control::tags::Tag {
            key: "k".into(),
            value: "v".into(),
        }];
        s.created = 1700000000.0;
        let back = new_object(&s, "team-a");
        assert_eq!(
            back.metadata.name.as_deref(),
            Some(names::object_name("My.Orders").as_str())
        );
        let again = stored(&back).expect("stored");
        assert_eq!(again.name, "My.Orders");
        assert_eq!(again.tags, s.tags);
        assert_eq!(again.created, 1700000000.0);
        assert_eq!(
            endpoint(&back, "team-a"),
            format!("http://{}.team-a.svc:4573", names::object_name("My.Orders"))
        );
    }
}
