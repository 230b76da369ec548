//! TagDeliveryStream, UntagDeliveryStream, ListTagsForDeliveryStream.

use serde::Deserialize;
use serde_json::json;

use super::lifecycle::stream_name;
use super::store::{Change, StreamStatus, StreamStore};
use super::tags::{self, Tag};
use super::{check_limit, parse, required};
use crate::ingest::error::ApiError;

#[derive(Deserialize)]
struct TagIn {
    #[serde(rename = "Tags")]
    tags: Option<Vec<Tag>>,
}

pub async fn tag<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let name = stream_name(body)?;
    let input: TagIn = parse(body)?;
    let new = required(input.tags, "tags")?;
    check_count(new.len(), "tags")?;
    tags::check(&new, "tags")?;
    let stream = store.get(&name).await?;
    writable(&name, &stream.status)?;
    let all = tags::upsert(&stream.tags, &new)?;
    store.change(&name, Change::Tags(all)).await?;
    Ok("{}".to_owned())
}

#[derive(Deserialize)]
struct UntagIn {
    #[serde(rename = "TagKeys")]
    keys: Option<Vec<String>>,
}

pub async fn untag<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let name = stream_name(body)?;
    let input: UntagIn = parse(body)?;
    let keys = required(input.keys, "tagKeys")?;
    check_count(keys.len(), "tagKeys")?;
    tags::check_keys(&keys, "tagKeys")?;
    let stream = store.get(&name).await?;
    writable(&name, &stream.status)?;
    let rest = tags::remove(&stream.tags, &keys);
    if rest.len() != stream.tags.len() {
        store.change(&name, Change::Tags(rest)).await?;
    }
    Ok("{}".to_owned())
}

#[derive(Deserialize)]
struct ListTagsIn {
    #[serde(rename = "ExclusiveStartTagKey")]
    start: Option<String>,
    #[serde(rename = "Limit")]
    limit: Option<i64>,
}

pub async fn list<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let name = stream_name(body)?;
    let input: ListTagsIn = parse(body)?;
    check_limit(input.limit, "limit", 1, 50)?;
    if let Some(start) = &input.start {
        tags::check_keys(std::slice::from_ref(start), "exclusiveStartTagKey")?;
    }
    let stream = store.get(&name).await?;
    let limit = input.limit.unwrap_or(50) as usize;
    let (page, more) = tags::page(&stream.tags, input.start.as_deref(), limit);
    Ok(json!({"Tags": page, "HasMoreTags": more}).to_string())
}

/// A list member of 1-50 entries.
fn check_count(n: usize, member: &str) -> Result<(), ApiError> {
    if (1..=tags::MAX_TAGS).contains(&n) {
        return Ok(());
    }
    Err(ApiError::validation(&[format!(
        "Value at '{member}' failed to satisfy constraint: Member must have length {}",
        if n == 0 {
            "greater than or equal to 1".to_owned()
        } else {
            format!("less than or equal to {}", tags::MAX_TAGS)
        }
    )]))
}

/// Tags change on a stream being created or active, not one being deleted.
fn writable(name: &str, status: &StreamStatus) -> Result<(), ApiError> {
    match status {
        StreamStatus::Deleting | StreamStatus::DeletingFailed(_) => Err(ApiError::resource_in_use(
            format!("Firehose {name} is being deleted."),
        )),
        _ => Ok(()),
    }
}
