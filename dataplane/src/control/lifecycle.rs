//! CreateDeliveryStream, DeleteDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams.

use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{StoredStream, StreamStatus, StreamStore};
use super::tags::{self, Tag};
use super::{arn, check_limit, fault, names, now_epoch, parse, required};
use crate::ingest::error::ApiError;
use crds::firehose::{self, StreamView};

/// Firehose's id of a stream's single destination.
pub const DESTINATION_ID: &str = "destinationId-000000000001";

#[derive(Deserialize)]
struct Named {
    #[serde(rename = "DeliveryStreamName")]
    name: Option<String>,
}

pub async fn create<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let input: Value = parse(body)?;
    let name = input
        .get("DeliveryStreamName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let name = required(name, "deliveryStreamName")?;
    names::check(&name, "deliveryStreamName")?;
    let tags: Vec<Tag> = match input.get("Tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::serialization(format!("Tags: {e}")))?,
    };
    if tags.len() > tags::MAX_TAGS {
        return Err(ApiError::validation(&[format!(
            "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {}",
            tags::MAX_TAGS
        )]));
    }
    tags::check(&tags, "tags")?;
    let translated = firehose::from_create(&input, store.environment()).map_err(fault)?;
    let stream = StoredStream {
        name: name.clone(),
        spec: translated.spec,
        kept: translated.kept,
        tags,
        version_id: "1".to_owned(),
        status: StreamStatus::Creating,
        created: now_epoch(),
        updated: None,
        encryption_switch: None,
    };
    store.create(stream, translated.secrets).await?;
    Ok(json!({"DeliveryStreamARN": arn(store.environment(), &name)}).to_string())
}

#[derive(Deserialize)]
struct DeleteIn {
    #[serde(rename = "DeliveryStreamName")]
    name: Option<String>,
    #[serde(rename = "AllowForceDelete", default)]
    force: Option<bool>,
}

pub async fn delete<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let input: DeleteIn = parse(body)?;
    let name = required(input.name, "deliveryStreamName")?;
    names::check(&name, "deliveryStreamName")?;
    let stream = store.get(&name).await?;
    if stream.status == StreamStatus::Creating {
        return Err(ApiError::resource_in_use(format!(
            "Firehose {name} is in CREATING state; it can be deleted once it is ACTIVE or CREATING_FAILED."
        )));
    }
    store.delete(&name, input.force.unwrap_or(false)).await?;
    Ok("{}".to_owned())
}

#[derive(Deserialize)]
struct DescribeIn {
    #[serde(rename = "DeliveryStreamName")]
    name: Option<String>,
    #[serde(rename = "Limit")]
    limit: Option<i64>,
    #[serde(rename = "ExclusiveStartDestinationId")]
    start: Option<String>,
}

pub async fn describe<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let input: DescribeIn = parse(body)?;
    let name = required(input.name, "deliveryStreamName")?;
    names::check(&name, "deliveryStreamName")?;
    check_limit(input.limit, "limit", 1, 10_000)?;
    let stream = store.get(&name).await?;
    let mut description = view(store, &stream);
    // One destination: a page that starts after it is empty.
    if input.start.as_deref() == Some(DESTINATION_ID) {
        description["Destinations"] = json!([]);
    }
    Ok(json!({"DeliveryStreamDescription": description}).to_string())
}

/// The `DeliveryStreamDescription` of a stored stream.
pub fn view<S: StreamStore>(store: &S, stream: &StoredStream) -> Value {
    use super::store::EncryptionSwitch;
    let failure = stream.status.failure();
    let encryption_status = stream.encryption_switch.map(|s| match s {
        EncryptionSwitch::Enabling => "ENABLING",
        EncryptionSwitch::Disabling => "DISABLING",
    });
    firehose::describe(
        &StreamView {
            name: &stream.name,
            spec: &stream.spec,
            kept: &stream.kept,
            version_id: &stream.version_id,
            status: stream.status.as_firehose(),
            failure: failure.as_ref(),
            created: stream.created,
            updated: stream.updated,
            encryption_status,
        },
        store.environment(),
    )
}

#[derive(Deserialize)]
struct ListIn {
    #[serde(rename = "Limit")]
    limit: Option<i64>,
    #[serde(rename = "DeliveryStreamType")]
    stream_type: Option<String>,
    #[serde(rename = "ExclusiveStartDeliveryStreamName")]
    start: Option<String>,
}

const STREAM_TYPES: &[&str] = &[
    "DirectPut",
    "KinesisStreamAsSource",
    "MSKAsSource",
    "DatabaseAsSource",
];

pub async fn list<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let input: ListIn = parse(body)?;
    check_limit(input.limit, "limit", 1, 10_000)?;
    if let Some(t) = &input.stream_type
        && !STREAM_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::validation(&[format!(
            "Value '{t}' at 'deliveryStreamType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            STREAM_TYPES.join(", ")
        )]));
    }
    if let Some(start) = &input.start {
        names::check(start, "exclusiveStartDeliveryStreamName")?;
    }
    let limit = input.limit.unwrap_or(10) as usize;
    let mut names: Vec<String> = store
        .list()
        .await?
        .into_iter()
        .filter(|(_, t)| input.stream_type.as_deref().is_none_or(|want| want == *t))
        .map(|(n, _)| n)
        .filter(|n| input.start.as_deref().is_none_or(|s| n.as_str() > s))
        .collect();
    names.sort();
    let more = names.len() > limit;
    names.truncate(limit);
    Ok(json!({"DeliveryStreamNames": names, "HasMoreDeliveryStreams": more}).to_string())
}

/// The `DeliveryStreamName` of a request, checked.
pub fn stream_name(body: &[u8]) -> Result<String, ApiError> {
    let input: Named = parse(body)?;
    let name = required(input.name, "deliveryStreamName")?;
    names::check(&name, "deliveryStreamName")?;
    Ok(name)
}
