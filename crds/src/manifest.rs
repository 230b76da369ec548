//! Reading a `DeliveryStream` manifest as a user writes it (YAML, as applied to a cluster).
//!
//! Reading is strict: a field the CRD does not declare, a value of the wrong type or outside an
//! enum is an error with the field's path (`crate::strict`), where serde alone would drop the
//! field or report the first mistake without its place.

use serde_json::Value;
use thiserror::Error;

use crate::{DeliveryStream, FieldError, strict};

/// Why a manifest cannot be read.
#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("no YAML document")]
    Empty,
    #[error("expected one DeliveryStream, found {0} YAML documents")]
    MultipleDocuments(usize),
    #[error(
        "expected apiVersion hydrant.dev/v1alpha1 and kind DeliveryStream, found {api_version} {kind}"
    )]
    WrongKind { api_version: String, kind: String },
    /// Every problem found, each with its field path.
    #[error("{}", join_problems(.0))]
    Invalid(Vec<FieldError>),
}

fn join_problems(problems: &[FieldError]) -> String {
    let lines: Vec<String> = problems.iter().map(FieldError::to_string).collect();
    lines.join("; ")
}

/// Parses the only document of `text` as a `DeliveryStream`; defaults are filled in as the API
/// server would. A file of several documents is refused: it would be ambiguous which one runs.
pub fn parse_manifest(text: &str) -> Result<DeliveryStream, ManifestError> {
    let mut documents = documents(text)?;
    match documents.len() {
        1 => parse_document(documents.remove(0)),
        n => Err(ManifestError::MultipleDocuments(n)),
    }
}

/// The YAML documents of `text` (`---` separated), empty ones left out; at least one.
pub fn documents(text: &str) -> Result<Vec<Value>, ManifestError> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| ManifestError::Yaml(e.to_string()))?;
    if documents.is_empty() {
        return Err(ManifestError::Empty);
    }
    Ok(documents)
}

/// One parsed document as a `DeliveryStream`, strictly.
pub fn parse_document(document: Value) -> Result<DeliveryStream, ManifestError> {
    let api_version = document["apiVersion"].as_str().unwrap_or("<none>");
    let kind = document["kind"].as_str().unwrap_or("<none>");
    if api_version != "hydrant.dev/v1alpha1" || kind != "DeliveryStream" {
        return Err(ManifestError::WrongKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        });
    }
    let problems = strict::check(&document);
    if !problems.is_empty() {
        // serde would stop at the first of them, with a vaguer path.
        return Err(ManifestError::Invalid(problems));
    }
    // What the walk does not check (an integer too large for its Rust type, say) is left to
    // serde, whose error keeps the path it reached.
    serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        ManifestError::Invalid(vec![FieldError {
            // serde_path_to_error writes the top level as `.`.
            path: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }])
    })
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
