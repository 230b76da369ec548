//! Streams and read-back for the processing tests: a local-directory stream with processors,
//! the transformation's processors, and what reached `data/` and each error output.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::objects;

pub fn manifest(name: &str, processors: &str) -> String {
    local_stream(name, "data/", "", processors)
}

/// A local-directory stream with the given prefix, extra destination fields and processors.
pub fn local_stream(name: &str, prefix: &str, extra: &str, processors: &str) -> String {
    crate::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    local:
      directory: ./out
      prefix: \"{prefix}\"
      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{extra}      processingConfiguration:
        enabled: true
        processors:
{processors}"
        ),
    )
}

/// The processors of a transformation; the function's buffering interval is 1 s unless
/// `extra` sets it.
pub fn lambda(url: &str, extra: &str) -> String {
    let interval = if extra.contains("bufferIntervalInSeconds") {
        ""
    } else {
        ", bufferIntervalInSeconds: 1"
    };
    format!(
        "        - type: AppendDelimiterToRecord
        - type: Lambda
          lambda: {{url: \"{url}\"{interval}{extra}}}
"
    )
}

/// Delivered lines under `data/`, and error-output JSON under `errors/<type>/`.
pub fn delivered(dir: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, bytes) in objects::local_objects(&dir.join("out")) {
        if key.starts_with("data/") {
            lines.extend(objects::lines(&bytes));
        }
    }
    lines.sort();
    lines
}

pub fn errors(dir: &std::path::Path, kind: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, bytes) in objects::local_objects(&dir.join("out")) {
        if key.starts_with(&format!("errors/{kind}/")) {
            for line in objects::lines(&bytes) {
                out.push(serde_json::from_str(&line).expect("JSON"));
            }
        }
    }
    out
}

pub fn raw(v: &Value) -> String {
    String::from_utf8(
        STANDARD
            .decode(v["rawData"].as_str().expect("rawData"))
            .expect("b64"),
    )
    .expect("utf8")
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}
