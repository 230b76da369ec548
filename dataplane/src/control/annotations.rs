//! What only the API knows about a stream — its API name when it is not a DNS label, tags,
//! timestamps, the AWS-only members of its configuration — kept in the DeliveryStream's
//! annotations: by `hydrant serve` in the manifests of its data directory, by the cluster
//! gateway on the resource itself.

use std::collections::BTreeMap;

use crds::DELIVERY_STREAM_NAME_ANNOTATION;

use super::names;
use super::store::StoredStream;
use super::tags::Tag;

/// The VersionId (`hydrant serve` only: in a cluster the operator's `status.versionId` is it).
pub const VERSION: &str = "firehose.hydrant.dev/version-id";
pub const CREATED: &str = "firehose.hydrant.dev/create-timestamp";
pub const UPDATED: &str = "firehose.hydrant.dev/last-update-timestamp";
pub const TAGS: &str = "firehose.hydrant.dev/tags";
pub const KEPT: &str = "firehose.hydrant.dev/aws-configuration";

/// An annotation that does not hold what its key says.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("the tags annotation ({TAGS}): {0}")]
    Tags(serde_json::Error),
    #[error("the aws-configuration annotation ({KEPT}): {0}")]
    Kept(serde_json::Error),
}

/// The annotations of a stored stream: the API name (when the object name differs), created
/// and updated timestamps, tags and AWS-only members (the last two only when not empty).
pub fn write(stream: &StoredStream) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    if names::object_name(&stream.name) != stream.name {
        annotations.insert(
            DELIVERY_STREAM_NAME_ANNOTATION.to_owned(),
            stream.name.clone(),
        );
    }
    annotations.insert(CREATED.to_owned(), timestamp(stream.created));
    if let Some(updated) = stream.updated {
        annotations.insert(UPDATED.to_owned(), timestamp(updated));
    }
    if let Some(tags) = tags_value(&stream.tags) {
        annotations.insert(TAGS.to_owned(), tags);
    }
    if let Some(kept) = kept_value(&stream.kept) {
        annotations.insert(KEPT.to_owned(), kept);
    }
    annotations
}

/// An epoch-seconds timestamp as the annotations hold it.
pub fn timestamp(epoch: f64) -> String {
    format!("{epoch:.3}")
}

/// The tags annotation's value; `None` for no tags (the annotation is left out).
pub fn tags_value(tags: &[Tag]) -> Option<String> {
    if tags.is_empty() {
        return None;
    }
    serde_json::to_string(tags).ok()
}

/// The aws-configuration annotation's value; `None` when nothing is kept.
pub fn kept_value(kept: &serde_json::Value) -> Option<String> {
    let empty = kept.is_null() || kept.as_object().is_some_and(|o| o.is_empty());
    (!empty).then(|| kept.to_string())
}

/// What [`write`] put into annotations, read back; absent annotations are empty values.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub tags: Vec<Tag>,
    pub kept: serde_json::Value,
    pub created: Option<f64>,
    pub updated: Option<f64>,
}

pub fn read(annotations: &BTreeMap<String, String>) -> Result<Restored, AnnotationError> {
    let number = |key: &str| annotations.get(key).and_then(|v| v.parse::<f64>().ok());
    let tags = match annotations.get(TAGS) {
        Some(json) => serde_json::from_str(json).map_err(AnnotationError::Tags)?,
        None => Vec::new(),
    };
    let kept = match annotations.get(KEPT) {
        Some(json) => serde_json::from_str(json).map_err(AnnotationError::Kept)?,
        None => serde_json::json!({}),
    };
    Ok(Restored {
        tags,
        kept,
        created: number(CREATED),
        updated: number(UPDATED),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::store::StreamStatus;

    fn stream(name: &str) -> StoredStream {
        StoredStream {
            name: name.to_owned(),
            spec: crds::manifest::parse_manifest(
                "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata: {name: x}\nspec:\n  destination:\n    s3: {bucket: b}\n",
            )
            .expect("manifest")
            .spec,
            kept: serde_json::json!({"RoleARN": "arn:aws:iam::1:role/r"}),
            tags: vec![Tag {
                key: "team".into(),
                value: "data".into(),
            }],
            version_id: "3".into(),
            status: StreamStatus::Active,
            created: 1700000000.25,
            updated: Some(1700000100.5),
            encryption_switch: None,
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let s = stream("orders");
        let a = write(&s);
        assert!(!a.contains_key(DELIVERY_STREAM_NAME_ANNOTATION));
        assert!(!a.contains_key(VERSION), "the version is the caller's");
        let r = read(&a).expect("read");
        assert_eq!(r.tags, s.tags);
        assert_eq!(r.kept, s.kept);
        assert_eq!(r.created, Some(s.created));
        assert_eq!(r.updated, s.updated);
    }

    #[test]
    fn a_name_that_is_no_dns_label_is_annotated_and_empty_values_are_left_out() {
        let mut s = stream("My.Stream");
        s.tags.clear();
        s.kept = serde_json::json!({});
        let a = write(&s);
        assert_eq!(a[DELIVERY_STREAM_NAME_ANNOTATION], "My.Stream");
        assert!(!a.contains_key(TAGS) && !a.contains_key(KEPT));
        let r = read(&BTreeMap::new()).expect("read");
        assert!(r.tags.is_empty() && r.created.is_none());
        let bad = BTreeMap::from([(TAGS.to_owned(), "[".to_owned())]);
        assert!(matches!(read(&bad), Err(AnnotationError::Tags(_))));
    }
}
