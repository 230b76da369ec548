//! Rules the schema cannot express (or that `hydrant run` must check without an API server),
//! reported with the field path a user edits.
//!
//! One file per part of the spec: `stream_fields` (name, ingest, replicas, buffer), `source`,
//! `destination` (what every destination shares, then one function per kind), `processing`,
//! `object` (an object store's hints, prefixes, format conversion and file extension) and
//! `partitioning`. Every check reports through `fail(path, message)` in field order, so the
//! errors read top to bottom like the manifest.

use std::fmt;

use crate::{BufferingHints, DeliveryStream, RetryOptions};

mod destination;
mod object;
mod partitioning;
mod processing;
mod source;
mod stream_fields;

/// One problem in a spec, with the path of the offending field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A problem of the whole document (not a map, say) has no path.
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Smallest WAL bound that still holds a maximal batch.
pub const MIN_BUFFER_BYTES: u64 = 16 << 20;

/// Every rule violation in the stream, in field order; empty when the spec can run.
pub fn validate_spec(stream: &DeliveryStream) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |path: &str, message: String| {
        errors.push(FieldError {
            path: path.to_owned(),
            message,
        })
    };
    stream_fields::validate_name(stream, &mut fail);
    source::validate_source(&stream.spec.source, &mut fail);
    stream_fields::validate_stream_fields(&stream.spec, &mut fail);
    destination::validate_destination(&stream.spec.destination, &mut fail);
    errors
}

/// `value` must lie in `lo..=hi`; the message names the range as Firehose's documentation does.
fn check_range(path: &str, value: i32, lo: i32, hi: i32, fail: &mut impl FnMut(&str, String)) {
    if !(lo..=hi).contains(&value) {
        fail(path, format!("{value} is outside {lo}-{hi}"));
    }
}

/// The data plane speaks plain HTTP or TLS only, so any other scheme (or none) is a typo.
fn check_url(path: &str, value: &str, fail: &mut impl FnMut(&str, String)) {
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        fail(
            path,
            format!("`{value}` must be an http:// or https:// URL"),
        );
    }
}

/// `{base}.bufferingHints`: 1-`max_mb` MiB and 0-`max_s` seconds (each destination kind has its
/// own Firehose limits).
fn check_hints(
    base: &str,
    hints: BufferingHints,
    max_mb: i32,
    max_s: i32,
    fail: &mut impl FnMut(&str, String),
) {
    check_range(
        &format!("{base}.bufferingHints.sizeInMBs"),
        hints.size_in_mbs,
        1,
        max_mb,
        fail,
    );
    check_range(
        &format!("{base}.bufferingHints.intervalInSeconds"),
        hints.interval_in_seconds,
        0,
        max_s,
        fail,
    );
}

/// `{base}.retryOptions.durationInSeconds`: Firehose retries for at most two hours.
fn check_retry(base: &str, retry: &RetryOptions, fail: &mut impl FnMut(&str, String)) {
    check_range(
        &format!("{base}.retryOptions.durationInSeconds"),
        retry.duration_in_seconds,
        0,
        7200,
        fail,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_manifest;

    /// A stream named `s` whose `spec.destination` is `destination` (indented 4 spaces).
    pub(super) fn stream(destination: &str) -> DeliveryStream {
        let yaml = format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\nspec:\n  destination:\n{destination}"
        );
        parse_manifest(&yaml).unwrap()
    }

    #[test]
    fn a_minimal_spec_is_valid() {
        assert!(validate_spec(&stream("    local: {}\n")).is_empty());
    }
}
