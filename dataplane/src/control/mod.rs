//! The Firehose control plane: the operations that create, describe, list, change, tag and
//! delete streams, answered over a [`StreamStore`] — the streams of `hydrant serve` or, in a
//! cluster, DeliveryStream resources. Translating configurations to specs and back is
//! [`crds::firehose`]'s; the rules of each operation (states, versions, limits, pages) are here.

pub mod annotations;
mod configure;
pub use configure::stale as configure_stale;
mod lifecycle;
pub mod names;
pub mod store;
mod tagging;
pub mod tags;

use crate::ingest::error::ApiError;
use crate::ingest::request_body::parse;
pub use lifecycle::stream_name;
pub use store::{Change, EncryptionSwitch, StoredStream, StreamStatus, StreamStore};

/// The operations answered here (PutRecord and PutRecordBatch go to the stream's ingest).
pub const OPERATIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "UpdateDestination",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "ListTagsForDeliveryStream",
    "StartDeliveryStreamEncryption",
    "StopDeliveryStreamEncryption",
];

/// Answers one control-plane operation; `None` when `operation` is not one of [`OPERATIONS`].
pub async fn dispatch<S: StreamStore>(
    store: &S,
    operation: &str,
    body: &[u8],
) -> Option<Result<String, ApiError>> {
    let result = match operation {
        "CreateDeliveryStream" => lifecycle::create(store, body).await,
        "DeleteDeliveryStream" => lifecycle::delete(store, body).await,
        "DescribeDeliveryStream" => lifecycle::describe(store, body).await,
        "ListDeliveryStreams" => lifecycle::list(store, body).await,
        "UpdateDestination" => configure::update_destination(store, body).await,
        "StartDeliveryStreamEncryption" => configure::start_encryption(store, body).await,
        "StopDeliveryStreamEncryption" => configure::stop_encryption(store, body).await,
        "TagDeliveryStream" => tagging::tag(store, body).await,
        "UntagDeliveryStream" => tagging::untag(store, body).await,
        "ListTagsForDeliveryStream" => tagging::list(store, body).await,
        _ => return None,
    };
    Some(result)
}

/// The stream's ARN in this account and region.
pub fn arn(env: &crds::firehose::Environment, name: &str) -> String {
    format!(
        "arn:aws:firehose:{}:{}:deliverystream/{name}",
        env.region, env.account
    )
}

/// A required member that is missing: AWS's validation message.
fn required<T>(value: Option<T>, member: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::validation(&[format!(
            "Value null at '{member}' failed to satisfy constraint: Member must not be null"
        )])
    })
}

/// An integer member within `lo..=hi`.
fn check_limit(value: Option<i64>, member: &str, lo: i64, hi: i64) -> Result<(), ApiError> {
    match value {
        Some(v) if v < lo => Err(ApiError::validation(&[format!(
            "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {lo}"
        )])),
        Some(v) if v > hi => Err(ApiError::validation(&[format!(
            "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {hi}"
        )])),
        _ => Ok(()),
    }
}

/// Maps a translation fault to its API error.
fn fault(f: crds::firehose::Fault) -> ApiError {
    use crds::firehose::FaultKind;
    match f.kind {
        FaultKind::InvalidArgument => ApiError::invalid_argument(f.message),
        FaultKind::InvalidKmsResource => ApiError::invalid_kms(f.message),
        FaultKind::ResourceInUse => ApiError::resource_in_use(f.message),
    }
}

pub fn now_epoch() -> f64 {
    crate::support::clock::now_ms() as f64 / 1000.0
}
