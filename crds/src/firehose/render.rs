//! Spec → `DeliveryStreamDescription`, defaults materialised as Firehose reports them, with the
//! request's AWS-only members (`kept`) merged back in.

use serde_json::{Value, json};

use super::{Environment, StreamView, encryption, kept, source, targets};
use crate::DeliveryStreamSpec;

/// Firehose's id of a stream's single destination.
pub const DESTINATION_ID: &str = "destinationId-000000000001";

const ELASTICSEARCH: &str = "ElasticsearchDestinationDescription";

/// Firehose's `DeliveryStreamType` of a spec.
pub fn stream_type(spec: &DeliveryStreamSpec) -> &'static str {
    spec.source.delivery_stream_type()
}

/// The parts of a description the spec alone determines: `Source` and `Destinations`.
pub(crate) fn body(spec: &DeliveryStreamSpec, env: &Environment, elasticsearch: bool) -> Value {
    json!({
        "Source": source::render(&spec.source, env),
        "Destinations": [targets::render(&spec.destination, env, elasticsearch)],
    })
}

/// Whether `kept` says the OpenSearch destination was given as Elasticsearch: the spec does
/// not tell the two apart, and Firehose describes each under its own name.
pub(crate) fn is_elasticsearch(kept: &Value) -> bool {
    kept["Destinations"][0].get(ELASTICSEARCH).is_some()
}

/// Records in `kept` that the destination is described as Elasticsearch.
pub(crate) fn mark_elasticsearch(kept: &mut Value) {
    if !kept.is_object() {
        *kept = json!({});
    }
    let destinations = &mut kept["Destinations"];
    if !destinations.is_array() {
        *destinations = json!([{}]);
    }
    let first = &mut destinations[0];
    if first.get(ELASTICSEARCH).is_none() {
        first[ELASTICSEARCH] = json!({});
    }
}

pub(crate) fn describe(view: &StreamView, env: &Environment) -> Value {
    let mut body = body(view.spec, env, is_elasticsearch(view.kept));
    kept::merge(&mut body, view.kept);
    let source = &mut body["Source"];
    for key in ["KinesisStreamSourceDescription", "MSKSourceDescription"] {
        if let Some(s) = source.get_mut(key) {
            s["DeliveryStartTimestamp"] = json!(view.created);
        }
    }
    let mut d = json!({
        "DeliveryStreamName": view.name,
        "DeliveryStreamARN": format!(
            "arn:aws:firehose:{}:{}:deliverystream/{}",
            env.region, env.account, view.name
        ),
        "DeliveryStreamStatus": view.status,
        "DeliveryStreamEncryptionConfiguration":
            encryption::render(view.spec.encryption.as_ref(), view.encryption_status),
        "DeliveryStreamType": stream_type(view.spec),
        "VersionId": view.version_id,
        "CreateTimestamp": view.created,
        "Source": body["Source"].take(),
        "Destinations": body["Destinations"].take(),
        "HasMoreDestinations": false,
    });
    if let Some(updated) = view.updated {
        d["LastUpdateTimestamp"] = json!(updated);
    }
    if let Some(failure) = view.failure {
        d["FailureDescription"] = failure.clone();
    }
    d
}
