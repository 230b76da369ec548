//! The stream's own fields: `metadata.name`, `spec.ingest`, `spec.replicas`, `spec.buffer`.

use super::{MIN_BUFFER_BYTES, check_range};
use crate::{BufferSpec, DeliveryStream, DeliveryStreamSpec, Source, parse_quantity, volume_bytes};

/// `<name>-drain-<ordinal up to 999>` and the StatefulSet's `<name>-<10-character revision>`
/// are label values of at most 63 characters.
const MAX_CLAIMED_NAME: usize = 45;

/// `metadata.name`: a `DeliveryStreamName`, short enough on claims for the names derived from it.
pub(super) fn validate_name(stream: &DeliveryStream, fail: &mut impl FnMut(&str, String)) {
    match stream.metadata.name.as_deref() {
        None | Some("") => fail("metadata.name", "the stream needs a name".into()),
        Some(name) => {
            if name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                fail(
                    "metadata.name",
                    format!(
                        "`{name}` is not a valid DeliveryStreamName: 1-64 characters of [a-zA-Z0-9_.-]"
                    ),
                );
            }
            if stream.spec.buffer.storage.claim().is_some() && name.len() > MAX_CLAIMED_NAME {
                fail(
                    "metadata.name",
                    format!(
                        "`{name}` is {} characters; a stream on spec.buffer.storage.persistentVolumeClaim has at most {MAX_CLAIMED_NAME}, so its pods' and drain Jobs' names fit Kubernetes' 63-character labels",
                        name.len()
                    ),
                );
            }
        }
    }
}

/// `spec.ingest`, `spec.replicas` and `spec.buffer`.
pub(super) fn validate_stream_fields(
    spec: &DeliveryStreamSpec,
    fail: &mut impl FnMut(&str, String),
) {
    if !(1..=65535).contains(&spec.ingest.port) {
        fail(
            "spec.ingest.port",
            format!("{} is not a port (1-65535)", spec.ingest.port),
        );
    }
    if let Some(replicas) = spec.replicas {
        check_range("spec.replicas", replicas, 0, 1000, fail);
    }
    validate_buffer(&spec.buffer, &spec.source, fail);
    if let Some(enc) = &spec.encryption
        && enc.key_type == crate::KeyType::CustomerManagedCmk
        && enc.key_secret.is_none()
    {
        fail(
            "spec.encryption.keySecret",
            "CUSTOMER_MANAGED_CMK needs keySecret: the Secret whose `key` holds the 32-byte key"
                .to_owned(),
        );
    }
}

/// The log's bound, directory and, on a claim, the claim's size and access modes; a claim is
/// refused for a source that is itself the durable buffer.
fn validate_buffer(buffer: &BufferSpec, source: &Source, fail: &mut impl FnMut(&str, String)) {
    let max_bytes = match parse_quantity(&buffer.max_bytes.0) {
        Ok(bytes) if bytes < MIN_BUFFER_BYTES => {
            fail(
                "spec.buffer.maxBytes",
                format!("{bytes} bytes is below the minimum of 16Mi"),
            );
            None
        }
        Ok(bytes) => Some(bytes),
        Err(e) => {
            fail("spec.buffer.maxBytes", e.to_string());
            None
        }
    };
    if buffer.directory.is_empty() {
        fail("spec.buffer.directory", "must not be empty".into());
    }
    let Some(claim) = buffer.storage.claim() else {
        return;
    };
    if !source.accepts_puts() {
        let kind = source.field();
        fail(
            "spec.buffer.storage",
            format!(
                "persistentVolumeClaim adds nothing to a {kind} source: the source is the durable buffer (a position is committed only after its records are delivered, and a restarted or replacement pod re-reads from there); use emptyDir, the default"
            ),
        );
        return;
    }
    let at = "spec.buffer.storage.persistentVolumeClaim";
    if let (Some(size), Some(max_bytes)) = (&claim.size, max_bytes) {
        let least = volume_bytes(max_bytes);
        match parse_quantity(&size.0) {
            Ok(bytes) if bytes < least => fail(
                &format!("{at}.size"),
                format!(
                    "{bytes} bytes cannot hold a log of maxBytes {max_bytes}: at least {least} (maxBytes, an eighth more and 64Mi for the segment being written)"
                ),
            ),
            Ok(_) => {}
            Err(e) => fail(&format!("{at}.size"), e.to_string()),
        }
    }
    for mode in &claim.access_modes {
        if !matches!(
            mode.as_str(),
            "ReadWriteOnce" | "ReadWriteOncePod" | "ReadWriteMany"
        ) {
            fail(
                &format!("{at}.accessModes"),
                format!(
                    "`{mode}`: a log is written, so one of ReadWriteOnce, ReadWriteOncePod, ReadWriteMany"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse_manifest;
    use crate::validate_spec;

    /// The paths of the problems in a stream with `buffer` as its `spec.buffer` (flow YAML).
    fn problems(buffer: &str) -> Vec<String> {
        named_problems("s", buffer)
    }

    fn named_problems(name: &str, buffer: &str) -> Vec<String> {
        let yaml = format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: {name}\nspec:\n  buffer: {buffer}\n  destination:\n    s3: {{bucket: raw}}\n"
        );
        let stream = parse_manifest(&yaml).expect("manifest");
        validate_spec(&stream).into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn a_claim_must_hold_the_log_and_its_headroom() {
        let claim = |size: &str| {
            format!("{{maxBytes: 1Gi, storage: {{persistentVolumeClaim: {{size: {size}}}}}}}")
        };
        // 1 GiB + 1/8 + 64 MiB = 1275068416 bytes.
        assert_eq!(
            problems(&claim("1275068415")),
            ["spec.buffer.storage.persistentVolumeClaim.size"]
        );
        assert!(problems(&claim("1275068416")).is_empty());
        assert!(problems(&claim("2Gi")).is_empty());
        assert!(problems("{maxBytes: 1Gi, storage: {persistentVolumeClaim: {}}}").is_empty());
        assert!(problems("{storage: {emptyDir: {}}}").is_empty());
    }

    #[test]
    fn a_claim_is_written_so_read_only_modes_are_refused() {
        assert_eq!(
            problems("{storage: {persistentVolumeClaim: {accessModes: [ReadOnlyMany]}}}"),
            ["spec.buffer.storage.persistentVolumeClaim.accessModes"]
        );
        assert!(
            problems("{storage: {persistentVolumeClaim: {accessModes: [ReadWriteOncePod]}}}")
                .is_empty()
        );
    }

    #[test]
    fn a_stream_on_claims_has_a_name_its_pods_and_jobs_can_carry() {
        let claims = "{storage: {persistentVolumeClaim: {}}}";
        assert!(named_problems(&"a".repeat(45), claims).is_empty());
        assert_eq!(named_problems(&"a".repeat(46), claims), ["metadata.name"]);
        assert!(named_problems(&"a".repeat(46), "{storage: {emptyDir: {}}}").is_empty());
    }
}
