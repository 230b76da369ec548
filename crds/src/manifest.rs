//! Reading a `DeliveryStream` manifest as a user writes it (YAML, as applied to a cluster).

use thiserror::Error;

use crate::DeliveryStream;

/// Why a manifest cannot be read.
#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("not a DeliveryStream manifest: {0}")]
    Yaml(String),
    #[error(
        "expected apiVersion hydrant.dev/v1alpha1 and kind DeliveryStream, found {api_version} {kind}"
    )]
    WrongKind { api_version: String, kind: String },
}

/// Parses one `DeliveryStream` document; defaults are filled in as the API server would.
pub fn parse_manifest(text: &str) -> Result<DeliveryStream, ManifestError> {
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| ManifestError::Yaml(e.to_string()))?;
    let api_version = value["apiVersion"].as_str().unwrap_or("<none>").to_owned();
    let kind = value["kind"].as_str().unwrap_or("<none>").to_owned();
    if api_version != "hydrant.dev/v1alpha1" || kind != "DeliveryStream" {
        return Err(ManifestError::WrongKind { api_version, kind });
    }
    serde_json::from_value(value).map_err(|e| ManifestError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompressionFormat, Destination, Durability};

    #[test]
    fn defaults_are_materialised() {
        let s = parse_manifest(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata: {name: x}\nspec:\n  destination:\n    s3: {bucket: b}\n",
        )
        .unwrap();
        let Destination::S3(s3) = &s.spec.destination else {
            panic!("expected s3")
        };
        assert_eq!(s3.location.region, "us-east-1");
        assert_eq!(s3.delivery.buffering_hints.size_in_mbs, 5);
        assert_eq!(s3.delivery.buffering_hints.interval_in_seconds, 300);
        assert_eq!(
            s3.delivery.compression_format,
            CompressionFormat::Uncompressed
        );
        assert_eq!(s.spec.buffer.durability, Durability::Fsync);
        assert_eq!(s.spec.ingest.port, 4573);
        let json = serde_json::to_string(&s.spec).unwrap();
        assert!(!json.contains("null"), "{json}");
        assert!(json.contains("\"sizeInMBs\":5"));
    }

    #[test]
    fn wrong_kind_is_refused() {
        let e =
            parse_manifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").unwrap_err();
        assert!(e.to_string().contains("ConfigMap"));
    }

    #[test]
    fn unknown_compression_is_refused() {
        let e = parse_manifest(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata: {name: x}\nspec:\n  destination:\n    local: {compressionFormat: LZ4}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("LZ4"), "{e}");
    }
}
