//! Labels every child and pod carries.

use std::collections::BTreeMap;

pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const STREAM: &str = "hydrant.dev/stream";

/// Labels that select a stream's pods (stable: a Deployment's selector is immutable).
pub fn selector(stream: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), "hydrant".to_owned()),
        (INSTANCE.to_owned(), stream.to_owned()),
        (COMPONENT.to_owned(), "dataplane".to_owned()),
    ])
}

/// Labels of every child.
pub fn common(stream: &str) -> BTreeMap<String, String> {
    let mut labels = selector(stream);
    labels.insert(MANAGED_BY.to_owned(), "hydrant-operator".to_owned());
    labels.insert(STREAM.to_owned(), stream.to_owned());
    labels
}

/// The selector as a label-selector string (for the scale subresource and list calls).
pub fn selector_string(stream: &str) -> String {
    selector(stream)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
