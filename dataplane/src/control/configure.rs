//! UpdateDestination and Start/StopDeliveryStreamEncryption: the changes that need an ACTIVE
//! stream.

use serde::Deserialize;
use serde_json::Value;

use super::lifecycle::stream_name;
use super::store::{Change, StoredStream, StreamStatus, StreamStore};
use super::{fault, parse, required};
use crate::ingest::error::ApiError;
use crds::firehose::{self, Translated};

#[derive(Deserialize)]
struct UpdateIn {
    #[serde(rename = "CurrentDeliveryStreamVersionId")]
    version: Option<String>,
    #[serde(rename = "DestinationId")]
    destination_id: Option<String>,
}

pub async fn update_destination<S: StreamStore>(
    store: &S,
    body: &[u8],
) -> Result<String, ApiError> {
    let name = stream_name(body)?;
    let input: UpdateIn = parse(body)?;
    let version = required(input.version, "currentDeliveryStreamVersionId")?;
    if version.is_empty() || version.len() > 50 || !version.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::validation(&[format!(
            "Value '{version}' at 'currentDeliveryStreamVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+"
        )]));
    }
    required(input.destination_id, "destinationId")?;
    let stream = active(store, &name).await?;
    if stream.version_id != version {
        return Err(stale(&name, &version, &stream.version_id));
    }
    let whole: Value = parse(body)?;
    let current = Translated {
        spec: stream.spec.clone(),
        secrets: Vec::new(),
        kept: stream.kept.clone(),
    };
    let updated = firehose::apply_update(&current, &whole, store.environment()).map_err(fault)?;
    store
        .change(
            &name,
            Change::Destination {
                expected_version: version,
                spec: Box::new(updated.spec),
                kept: updated.kept,
                secrets: updated.secrets,
            },
        )
        .await?;
    Ok("{}".to_owned())
}

/// `ConcurrentModificationException` for an update based on an old version.
pub fn stale(name: &str, given: &str, current: &str) -> ApiError {
    ApiError::concurrent_modification(format!(
        "Firehose {name} has version {current}; the update was based on version {given}. Describe the stream and retry with its current VersionId."
    ))
}

#[derive(Deserialize)]
struct StartIn {
    #[serde(rename = "DeliveryStreamEncryptionConfigurationInput")]
    config: Option<Value>,
}

pub async fn start_encryption<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let name = stream_name(body)?;
    let input: StartIn = parse(body)?;
    let stream = active(store, &name).await?;
    direct_put_only(&stream)?;
    let config = input.config.unwrap_or(Value::Null);
    let wanted = firehose::encryption_input(&config, store.environment())
        .map_err(fault)?
        .unwrap_or_default();
    if stream.spec.encryption.as_ref() != Some(&wanted) {
        store
            .change(&name, Change::Encryption(Some(wanted)))
            .await?;
    }
    Ok("{}".to_owned())
}

pub async fn stop_encryption<S: StreamStore>(store: &S, body: &[u8]) -> Result<String, ApiError> {
    let name = stream_name(body)?;
    let stream = active(store, &name).await?;
    direct_put_only(&stream)?;
    if stream.spec.encryption.is_some() {
        store.change(&name, Change::Encryption(None)).await?;
    }
    Ok("{}".to_owned())
}

/// The stream, if it is ACTIVE; `ResourceInUseException` in any other state.
async fn active<S: StreamStore>(store: &S, name: &str) -> Result<StoredStream, ApiError> {
    let stream = store.get(name).await?;
    if stream.status != StreamStatus::Active || stream.encryption_switch.is_some() {
        let state = match stream.encryption_switch {
            Some(_) if stream.status == StreamStatus::Active => "an encryption change in progress",
            _ => stream.status.as_firehose(),
        };
        return Err(ApiError::resource_in_use(format!(
            "Firehose {name} is not ACTIVE ({state}); retry once it is."
        )));
    }
    Ok(stream)
}

/// Server-side encryption applies to records put directly; a stream reading a Kinesis stream
/// or a topic relies on its source's encryption.
fn direct_put_only(stream: &StoredStream) -> Result<(), ApiError> {
    let stream_type = stream.spec.source.delivery_stream_type();
    if stream_type == "DirectPut" {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(format!(
            "Server-side encryption is not supported for {stream_type} delivery streams: encrypt the source instead."
        )))
    }
}
