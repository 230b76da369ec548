//! Translation between Firehose's control-plane API shapes (CreateDeliveryStream,
//! DescribeDeliveryStream, UpdateDestination, StartDeliveryStreamEncryption) and the
//! `DeliveryStream` spec, in both directions. Pure logic: no I/O, no clock.
//!
//! How it fits together:
//! - `model`: every request is first checked against the vendored Firehose service model, so
//!   unknown members, wrong types, lengths, ranges, enums and patterns are refused with the
//!   member's path, exactly as the model states them.
//! - `create`, `source`, `s3`, `processing`, `targets`: the members Hydrant acts on become spec
//!   fields (typed serde structs list only those).
//! - `render`: a spec becomes the description Firehose would report, defaults materialised.
//! - `kept`: what the request carries that the spec does not act on is the difference between
//!   the request (renamed into description shape) and what the spec alone renders; `describe`
//!   merges it back. Defaults therefore never land in `kept`, and the round trip
//!   description → `from_description` → `describe` is exact by construction.
//! - `inverse`: a description back into request shape, so `from_description` and
//!   `apply_update` reuse the create path.

mod arn;
mod create;
mod encryption;
mod fault;
mod inverse;
mod json;
mod kept;
mod model;
mod processing;
mod render;
mod s3;
mod secrets;
mod source;
mod targets;
mod update;

use std::collections::BTreeMap;

pub use encryption::encryption_input;
pub use fault::{Fault, FaultKind};
pub use model::check_shape;
pub use render::{DESTINATION_ID, stream_type};

use crate::DeliveryStreamSpec;

/// How AWS names resolve on this installation.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    /// 12 digits, used in ARNs.
    pub account: String,
    pub region: String,
    /// Where a BucketARN's bucket lives.
    pub s3: S3Target,
    /// Base URL Lambda ARNs map to: `arn:aws:lambda:<r>:<acct>:function:<name>[:<qualifier>]` →
    /// `<base>/2015-03-31/functions/<name>/invocations` (the Lambda Invoke REST path;
    /// `?Qualifier=<q>` appended when qualified). None: a LambdaArn is refused with
    /// InvalidArgumentException naming the field and saying how to configure it. A LambdaArn that
    /// is already an http(s):// URL is used as is.
    pub lambda_endpoint: Option<String>,
    /// OpenSearch `DomainARN` (`arn:aws:es:<r>:<acct>:domain/<name>`) → URL: this template with
    /// `{domain}` replaced; None: DomainARN refused (ClusterEndpoint still works).
    pub opensearch_domain_endpoint: Option<String>,
    /// Endpoint for a KinesisStreamSourceConfiguration's stream (None: AWS's own endpoint).
    pub kinesis_endpoint: Option<String>,
    /// Bootstrap servers an MSKSourceConfiguration's MSKClusterARN maps to; None: refused.
    pub kafka_bootstrap_servers: Option<String>,
    pub secrets: SecretPolicy,
}

/// Where the bucket of a BucketARN lives.
#[derive(Clone, Debug, PartialEq)]
pub enum S3Target {
    /// An S3-compatible store: bucket of BucketARN `arn:aws:s3:::<bucket>` on this endpoint.
    Store {
        endpoint: Option<String>,
        region: String,
        force_path_style: bool,
        credentials_secret: Option<String>,
    },
    /// No object store (a laptop): an ExtendedS3/S3 *primary* destination becomes the `local`
    /// destination with directory `<root>/<bucket>`; anything else needing a bucket
    /// (S3BackupConfiguration, other destinations' S3Configuration) is refused.
    Directory { root: String },
}

/// What secret-valued API fields (Splunk HECToken, HttpEndpoint AccessKey, Redshift
/// Username+Password) become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretPolicy {
    /// `hydrant serve`: the values become `NewSecret`s the caller writes; the spec references
    /// them by name `<stream>-<purpose>`.
    Inline,
    /// A cluster gateway (it may not create Secrets): the value must be `secret:<name>` naming
    /// an existing Secret with the keys the spec documents.
    Reference,
}

/// A Secret the caller must write before the spec can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSecret {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// A spec plus what the API carries that the spec does not act on.
#[derive(Clone, Debug, PartialEq)]
pub struct Translated {
    pub spec: DeliveryStreamSpec,
    pub secrets: Vec<NewSecret>,
    /// AWS-only members (RoleARN, CloudWatchLoggingOptions, EncryptionConfiguration/KMS,
    /// VpcConfiguration, Glue SchemaConfiguration references, ThroughputHintInMBs,
    /// SecretsManagerConfiguration, ...), verbatim, in a JSON object shaped like the
    /// `DeliveryStreamDescription` they are merged back into. Never holds defaults.
    pub kept: serde_json::Value,
}

/// What DescribeDeliveryStream reports besides the spec.
pub struct StreamView<'a> {
    pub name: &'a str,
    pub spec: &'a DeliveryStreamSpec,
    pub kept: &'a serde_json::Value,
    pub version_id: &'a str,
    pub status: &'a str,
    pub failure: Option<&'a serde_json::Value>,
    /// Epoch seconds.
    pub created: f64,
    pub updated: Option<f64>,
    /// ENABLING/ENABLED/DISABLING/DISABLED; None: from `spec.encryption`.
    pub encryption_status: Option<&'a str>,
}

/// CreateDeliveryStream: `input` is the whole request JSON; `Tags` is ignored here.
pub fn from_create(input: &serde_json::Value, env: &Environment) -> Result<Translated, Fault> {
    create::from_create(input, env, &secrets::Fallback::None)
}

/// The `DeliveryStreamDescription` object of DescribeDeliveryStream, as Firehose reports it.
pub fn describe(view: &StreamView, env: &Environment) -> serde_json::Value {
    render::describe(view, env)
}

/// The inverse used by the round-trip property: a description (as `describe` produced) → the
/// same `Translated` (secrets omitted: their names are already in the spec).
pub fn from_description(
    description: &serde_json::Value,
    env: &Environment,
) -> Result<Translated, Fault> {
    inverse::from_description(description, env)
}

/// UpdateDestination: `input` is the whole request. The version check is the caller's.
pub fn apply_update(
    current: &Translated,
    input: &serde_json::Value,
    env: &Environment,
) -> Result<Translated, Fault> {
    update::apply_update(current, input, env)
}
