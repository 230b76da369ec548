//! Firehose object keys (docs/compatibility.md, "Objects").
//!
//! Key = `<evaluated prefix><stream>-<version>-<yyyy>-<MM>-<dd>-<HH>-<mm>-<ss>-<uuid><extension>`.
//! Every time in a key — the prefix's `!{timestamp:...}` expressions and the suffix — is the same
//! instant, the arrival of the oldest record in the object, in UTC. The UUID and the
//! `!{firehose:random-string}` values come from the object's [`ObjectIdentity`]: the same
//! records are named the same when written again after a crash.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Timelike, Utc};
use crds::{PrefixPart, PrefixTemplate, TimePart};
use thiserror::Error;
use uuid::Uuid;

use super::object_identity::ObjectIdentity;

/// Firehose's limit on an *evaluated* `Prefix` / `ErrorOutputPrefix`.
///
/// Firehose requires an evaluated prefix to be at most 512 characters. The namer
/// deliberately does not truncate — a cut key would silently differ from the configured layout —
/// and returns the key as evaluated; a caller that wants to enforce the limit compares the
/// prefix length against this value.
pub fn max_prefix_len() -> usize {
    512
}

/// Why a stream's prefixes cannot name objects.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NamingError {
    #[error("prefix: {0}")]
    Prefix(#[source] crds::prefix::PrefixError),
    #[error("errorOutputPrefix: {0}")]
    ErrorOutputPrefix(#[source] crds::prefix::PrefixError),
    #[error("prefix: !{{firehose:error-output-type}} is only allowed in errorOutputPrefix")]
    ErrorOutputTypeInPrefix,
}

/// Names the objects of one stream version.
#[derive(Clone, Debug)]
pub struct ObjectNamer {
    stream_name: String,
    version_id: String,
    extension: String,
    /// Error-output objects hold JSON lines whatever the delivered objects hold (Parquet, a
    /// custom extension): only the compression's extension, if any.
    error_extension: String,
    /// The object prefix, with the default time appended when it had no timestamp.
    prefix: PrefixTemplate,
    /// The error prefix, ready to evaluate with an error-output type.
    error_prefix: PrefixTemplate,
}

impl ObjectNamer {
    /// Builds a namer. `extension` is already resolved (custom `fileExtension` or the format's
    /// default), e.g. `".gz"` or `""`. An empty `prefix` or `error_output_prefix` counts as unset.
    pub fn new(
        stream_name: &str,
        version_id: &str,
        prefix: Option<&str>,
        error_output_prefix: Option<&str>,
        extension: &str,
    ) -> Result<Self, NamingError> {
        let prefix_text = prefix.filter(|p| !p.is_empty());
        let parsed = match prefix_text {
            Some(text) => PrefixTemplate::parse(text).map_err(NamingError::Prefix)?,
            None => PrefixTemplate::default(),
        };
        if parsed.has_error_output_type() {
            return Err(NamingError::ErrorOutputTypeInPrefix);
        }

        let error_prefix = match error_output_prefix.filter(|p| !p.is_empty()) {
            Some(text) => PrefixTemplate::parse(text)
                .map_err(NamingError::ErrorOutputPrefix)?
                .with_default_time(),
            None => {
                // Firehose: `<prefix><error-output-type>/yyyy/MM/dd/HH/`, where the prefix is
                // used only when it is plain text (with expressions, errorOutputPrefix is
                // required, so validation keeps that case from reaching here).
                let mut parts = Vec::new();
                if let Some(text) = prefix_text
                    && !parsed.has_expressions()
                {
                    parts.push(PrefixPart::Literal(text.to_owned()));
                }
                parts.push(PrefixPart::ErrorOutputType);
                parts.push(PrefixPart::Literal("/".into()));
                parts.push(PrefixPart::Timestamp(PrefixTemplate::default_time()));
                PrefixTemplate { parts }
            }
        };

        Ok(Self {
            stream_name: stream_name.to_owned(),
            version_id: version_id.to_owned(),
            extension: extension.to_owned(),
            error_extension: extension.to_owned(),
            prefix: parsed.with_default_time(),
            error_prefix,
        })
    }

    /// Names error-output objects with `extension` (e.g. `".gz"`, or `""` uncompressed) instead
    /// of the delivered objects' extension.
    pub fn with_error_extension(mut self, extension: &str) -> Self {
        self.error_extension = extension.to_owned();
        self
    }

    /// The key of a delivered object whose oldest record arrived at `oldest_arrival`.
    pub fn object_key(&self, oldest_arrival: DateTime<Utc>, id: &ObjectIdentity) -> String {
        self.partition_key(oldest_arrival, None, id)
    }

    /// The key of an object of one dynamic partition: `partition` maps
    /// `partitionKeyFromQuery:<key>` / `partitionKeyFromLambda:<key>` to values.
    pub fn partition_key(
        &self,
        oldest_arrival: DateTime<Utc>,
        partition: Option<&Partition>,
        id: &ObjectIdentity,
    ) -> String {
        let mut key = String::with_capacity(128);
        render_prefix(
            &mut key,
            &self.prefix,
            None,
            oldest_arrival,
            &mut id.random_strings(),
            partition,
        );
        self.push_suffix(&mut key, oldest_arrival, id.uuid(), &self.extension);
        key
    }

    /// The key of an error-output object (failed records) of type `error_output_type`, e.g.
    /// `processing-failed`: the delivered objects' suffix, with the error-output extension.
    pub fn error_key(
        &self,
        error_output_type: &str,
        oldest_arrival: DateTime<Utc>,
        id: &ObjectIdentity,
    ) -> String {
        self.key_with(
            &self.error_prefix,
            Some(error_output_type),
            oldest_arrival,
            &mut id.random_strings(),
            id.uuid(),
        )
    }

    /// Renders a key with injected randomness (tests pin it).
    fn key_with(
        &self,
        prefix: &PrefixTemplate,
        error_output_type: Option<&str>,
        at: DateTime<Utc>,
        random: &mut dyn FnMut() -> String,
        uuid: Uuid,
    ) -> String {
        let mut key = String::with_capacity(128);
        render_prefix(&mut key, prefix, error_output_type, at, random, None);
        let extension = match error_output_type {
            Some(_) => &self.error_extension,
            None => &self.extension,
        };
        self.push_suffix(&mut key, at, uuid, extension);
        key
    }

    fn push_suffix(&self, key: &mut String, at: DateTime<Utc>, uuid: Uuid, extension: &str) {
        key.push_str(&self.stream_name);
        key.push('-');
        key.push_str(&self.version_id);
        // Writing to a String cannot fail.
        let _ = write!(
            key,
            "-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{}",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            uuid.hyphenated()
        );
        key.push_str(extension);
    }
}

/// Appends the evaluation of `template` to `out`.
/// A dynamic partition's key values, by expression (`partitionKeyFromQuery:customer_id`).
pub type Partition = std::collections::BTreeMap<String, String>;

fn render_prefix(
    out: &mut String,
    template: &PrefixTemplate,
    error_output_type: Option<&str>,
    at: DateTime<Utc>,
    random: &mut dyn FnMut() -> String,
    partition: Option<&Partition>,
) {
    for part in &template.parts {
        match part {
            PrefixPart::Literal(text) => out.push_str(text),
            PrefixPart::Timestamp(pattern) => render_time(out, pattern, at),
            PrefixPart::RandomString => out.push_str(&random()),
            // Only error prefixes carry it; `new` refuses it in the object prefix.
            PrefixPart::ErrorOutputType => out.push_str(error_output_type.unwrap_or_default()),
            PrefixPart::PartitionKey(k) => {
                out.push_str(partition.and_then(|p| p.get(k)).map_or("", String::as_str))
            }
        }
    }
}

/// Appends a `!{timestamp:...}` pattern evaluated at `at` (UTC).
fn render_time(out: &mut String, pattern: &[TimePart], at: DateTime<Utc>) {
    for part in pattern {
        // Writing to a String cannot fail.
        let _ = match part {
            TimePart::Literal(text) => {
                out.push_str(text);
                Ok(())
            }
            TimePart::Year4 => write!(out, "{:04}", at.year()),
            TimePart::Year2 => write!(out, "{:02}", at.year().rem_euclid(100)),
            TimePart::Month => write!(out, "{:02}", at.month()),
            TimePart::Day => write!(out, "{:02}", at.day()),
            TimePart::DayOfYear => write!(out, "{:03}", at.ordinal()),
            TimePart::Hour => write!(out, "{:02}", at.hour()),
            TimePart::Minute => write!(out, "{:02}", at.minute()),
            TimePart::Second => write!(out, "{:02}", at.second()),
        };
    }
}

#[cfg(test)]
mod tests;
