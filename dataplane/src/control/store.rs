//! What the control-plane operations read and change: a [`StreamStore`] holds the streams, with
//! the API's view of each ([`StoredStream`]). `hydrant serve` keeps them in its data directory
//! and runs them in-process; the cluster gateway keeps them as DeliveryStream resources.

use std::future::Future;

use crds::DeliveryStreamSpec;
use crds::firehose::{Environment, NewSecret};

use super::tags::Tag;
use crate::ingest::error::ApiError;

/// Firehose's `DeliveryStreamStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    /// Terminal: only DeleteDeliveryStream is allowed. The text is `FailureDescription.Details`.
    CreatingFailed(String),
    Active,
    Deleting,
    DeletingFailed(String),
}

impl StreamStatus {
    pub fn as_firehose(&self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::CreatingFailed(_) => "CREATING_FAILED",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::DeletingFailed(_) => "DELETING_FAILED",
        }
    }

    /// `FailureDescription` of a failed stream.
    pub fn failure(&self) -> Option<serde_json::Value> {
        match self {
            StreamStatus::CreatingFailed(details) | StreamStatus::DeletingFailed(details) => {
                let details: String = details.chars().take(1024).collect();
                Some(serde_json::json!({"Type": "UNKNOWN_ERROR", "Details": details}))
            }
            _ => None,
        }
    }
}

/// Firehose's encryption status while a switch is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionSwitch {
    Enabling,
    Disabling,
}

/// One stream as the API sees it.
#[derive(Debug, Clone)]
pub struct StoredStream {
    /// The `DeliveryStreamName`.
    pub name: String,
    pub spec: DeliveryStreamSpec,
    /// AWS-only members of its configuration, reported back by Describe.
    pub kept: serde_json::Value,
    pub tags: Vec<Tag>,
    /// Digits; starts at 1 and increments with every UpdateDestination.
    pub version_id: String,
    pub status: StreamStatus,
    /// Epoch seconds.
    pub created: f64,
    pub updated: Option<f64>,
    /// Set while an encryption switch is in progress.
    pub encryption_switch: Option<EncryptionSwitch>,
}

/// A change to an existing stream.
pub enum Change {
    /// UpdateDestination: applied only if the stream is still at `expected_version`; the
    /// version then increments.
    Destination {
        expected_version: String,
        spec: Box<DeliveryStreamSpec>,
        kept: serde_json::Value,
        secrets: Vec<NewSecret>,
    },
    /// The complete new tag list.
    Tags(Vec<Tag>),
    /// Start (Some) or stop (None) encrypting at rest.
    Encryption(Option<crds::EncryptionSpec>),
}

/// The streams of one account (a `hydrant serve` process, or a cluster namespace).
pub trait StreamStore: Send + Sync {
    /// How AWS names (bucket ARNs, Lambda ARNs, ...) resolve here.
    fn environment(&self) -> &Environment;

    /// Adds a stream in CREATING; it becomes ACTIVE (or CREATING_FAILED) by itself.
    /// `ResourceInUseException` for a name in use, `LimitExceededException` past the limit.
    fn create(
        &self,
        stream: StoredStream,
        secrets: Vec<NewSecret>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `ResourceNotFoundException` for an unknown name.
    fn get(&self, name: &str) -> impl Future<Output = Result<StoredStream, ApiError>> + Send;

    /// Every stream's name and `DeliveryStreamType`, in any order.
    fn list(&self) -> impl Future<Output = Result<Vec<(String, &'static str)>, ApiError>> + Send;

    fn change(
        &self,
        name: &str,
        change: Change,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Moves the stream to DELETING; it drains first unless `force`, then disappears.
    fn delete(&self, name: &str, force: bool) -> impl Future<Output = Result<(), ApiError>> + Send;
}
