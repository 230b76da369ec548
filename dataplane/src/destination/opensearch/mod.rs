//! OpenSearch / Elasticsearch (docs/destinations.md, "OpenSearch"): one `_bulk` request per batch with an explicit
//! index (and, by default, a stable ID) per document; only the items that failed with 429 or a
//! 5xx are retried, other item failures go straight to the error output.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

mod index_name;

use super::{DeliveryError, Destination, Outcome, RecordOutcome};
use crate::record::{Batch, Failure};
use crate::support::clock::time_of;
use crate::support::error_text::describe;
use crate::support::http_client::{self, transport_code};
use crate::support::secrets;
use crds::{DocumentIdFormat, IndexRotationPeriod};
use index_name::index_name;

const TIMEOUT: Duration = Duration::from_secs(120);
/// Documents per `_bulk` request are cut at this size, well under OpenSearch's default
/// `http.max_content_length` (100 MB), whatever the buffering hints.
const MAX_BULK_BYTES: usize = 16 << 20;

pub struct OpenSearchDestination {
    client: reqwest::Client,
    bulk_url: String,
    index: String,
    rotation: IndexRotationPeriod,
    type_name: Option<String>,
    document_ids: bool,
    authorization: Option<String>,
    log_id: String,
}

impl OpenSearchDestination {
    pub fn build(
        spec: &crds::OpenSearchDestination,
        secrets_dir: &Path,
        log_id: uuid::Uuid,
    ) -> anyhow::Result<Self> {
        let authorization = match &spec.auth_secret {
            None => None,
            Some(secret) => match secrets::read_optional(secrets_dir, secret, "apiKey")? {
                Some(key) => Some(format!("ApiKey {key}")),
                None => {
                    let user = secrets::read(secrets_dir, secret, "username")?;
                    let password = secrets::read(secrets_dir, secret, "password")?;
                    let token = base64::engine::general_purpose::STANDARD
                        .encode(format!("{user}:{password}"));
                    Some(format!("Basic {token}"))
                }
            },
        };
        Ok(Self {
            client: http_client::client(spec.tls.as_ref(), secrets_dir, TIMEOUT)?,
            bulk_url: format!("{}/_bulk", spec.endpoint.trim_end_matches('/')),
            index: spec.index_name.clone(),
            rotation: spec.index_rotation_period,
            type_name: spec.type_name.clone().filter(|t| !t.is_empty()),
            document_ids: spec.document_id_options.default_document_id_format
                == DocumentIdFormat::FirehoseDefault,
            authorization,
            log_id: log_id.simple().to_string(),
        })
    }

    /// FIREHOSE_DEFAULT: the log's identity and the record's sequence number, so a retry (or a
    /// replay after a restart) overwrites the same document instead of adding one.
    fn document_id(&self, seq: u64, sub: u32) -> String {
        match sub {
            0 => format!("{}-{seq}", self.log_id),
            _ => format!("{}-{seq}-{sub}", self.log_id),
        }
    }

    fn index_of(&self, arrival_ms: u64) -> String {
        index_name(&self.index, self.rotation, time_of(arrival_ms))
    }

    /// Indexes the batch: one `_bulk` request per [`MAX_BULK_BYTES`] of documents.
    async fn bulk(&self, batch: &Batch) -> Outcome {
        let mut outcomes = vec![RecordOutcome::Delivered; batch.len()];
        // (record indices, request body) per request.
        let mut requests: Vec<(Vec<usize>, Vec<u8>)> = Vec::new();
        let mut sent = Vec::new();
        let mut body = Vec::new();
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let doc = match single_line_object(batch.record(i)) {
                Ok(doc) => doc,
                Err(f) => {
                    *outcome = RecordOutcome::Reject(f);
                    continue;
                }
            };
            let meta = batch.records[i];
            let mut action = json!({ "_index": self.index_of(meta.arrival_ms) });
            if self.document_ids {
                action["_id"] = json!(self.document_id(meta.seq, meta.sub));
            }
            if let Some(t) = &self.type_name {
                action["_type"] = json!(t);
            }
            let action = json!({ "index": action }).to_string();
            if !sent.is_empty() && body.len() + action.len() + doc.len() + 2 > MAX_BULK_BYTES {
                requests.push((std::mem::take(&mut sent), std::mem::take(&mut body)));
            }
            body.extend_from_slice(action.as_bytes());
            body.push(b'\n');
            body.extend_from_slice(&doc);
            body.push(b'\n');
            sent.push(i);
        }
        if !sent.is_empty() {
            requests.push((sent, body));
        }
        for (sent, body) in requests {
            self.send_bulk(&sent, body, &mut outcomes).await;
        }
        if outcomes.iter().all(|o| *o == RecordOutcome::Delivered) {
            Outcome::Delivered
        } else {
            Outcome::PerRecord(outcomes)
        }
    }

    /// One `_bulk` request for the records `sent`; their outcomes are set from its response.
    async fn send_bulk(&self, sent: &[usize], body: Vec<u8>, outcomes: &mut [RecordOutcome]) {
        let mut fail_all = |f: Failure| {
            for &i in sent {
                outcomes[i] = RecordOutcome::Retry(f.clone());
            }
        };
        let mut request = self
            .client
            .post(&self.bulk_url)
            .header("Content-Type", "application/x-ndjson")
            .body(body);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return fail_all(Failure::new(transport_code("OpenSearch", &e), describe(&e)));
            }
        };
        let status = response.status().as_u16();
        let text = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return fail_all(Failure::new(transport_code("OpenSearch", &e), describe(&e)));
            }
        };
        if status != 200 {
            // The whole request refused (429 throttling, 5xx, or 401/403/400 from a
            // misconfiguration): retried for the retry duration.
            return fail_all(Failure::new(status.to_string(), error_text(&text)));
        }
        let parsed: BulkResponse = match serde_json::from_slice(&text) {
            Ok(p) => p,
            Err(e) => {
                return fail_all(Failure::new(
                    "OpenSearch.InvalidResponse",
                    format!("the _bulk response is not valid: {e}"),
                ));
            }
        };
        if parsed.items.len() != sent.len() {
            return fail_all(Failure::new(
                "OpenSearch.InvalidResponse",
                format!(
                    "the _bulk response has {} items for {} documents",
                    parsed.items.len(),
                    sent.len()
                ),
            ));
        }
        if !parsed.errors {
            return;
        }
        for (item, &i) in parsed.items.iter().zip(sent) {
            let Some(result) = item.values().next() else {
                continue;
            };
            if (200..300).contains(&result.status) {
                continue;
            }
            let message = result
                .error
                .as_ref()
                .map(|e| match (e.get("type"), e.get("reason")) {
                    (Some(t), Some(r)) => format!(
                        "{}: {}",
                        t.as_str().unwrap_or_default(),
                        r.as_str().unwrap_or_default()
                    ),
                    _ => e.to_string(),
                })
                .unwrap_or_else(|| format!("status {}", result.status));
            let failure = Failure::new(result.status.to_string(), message);
            outcomes[i] = if result.status == 429 || result.status >= 500 {
                RecordOutcome::Retry(failure)
            } else {
                RecordOutcome::Reject(failure)
            };
        }
    }
}

#[derive(Deserialize)]
struct BulkResponse {
    #[serde(default)]
    errors: bool,
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, BulkItem>>,
}

#[derive(Deserialize)]
struct BulkItem {
    status: u16,
    #[serde(default)]
    error: Option<Value>,
}

/// The reason in an error response, or its beginning.
fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            Some(match (e.get("type"), e.get("reason")) {
                (Some(t), Some(r)) => format!(
                    "{}: {}",
                    t.as_str().unwrap_or_default(),
                    r.as_str().unwrap_or_default()
                ),
                _ => e.to_string(),
            })
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned())
}

/// A record as one line of `_bulk`: it must be a single JSON object. Line breaks outside strings
/// are whitespace and become spaces (inside strings JSON does not allow raw line breaks).
pub fn single_line_object(record: &[u8]) -> Result<Vec<u8>, Failure> {
    let invalid = |why: String| Failure::new("400", format!("invalid_json: {why}"));
    serde_json::from_slice::<serde::de::IgnoredAny>(record)
        .map_err(|e| invalid(format!("the record is not valid JSON: {e}")))?;
    let first = record.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(invalid("the record is JSON but not an object".into()));
    }
    let mut doc: Vec<u8> = record
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect();
    while doc.last().is_some_and(|b| b.is_ascii_whitespace()) {
        doc.pop();
    }
    Ok(doc)
}

impl Destination for OpenSearchDestination {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>> {
        async move { Ok(self.bulk(batch).await) }.boxed()
    }

    fn error_fields(
        &self,
        batch: &Batch,
        index: usize,
        fields: &mut serde_json::Map<String, Value>,
    ) {
        let meta = batch.records[index];
        let id = self
            .document_ids
            .then(|| self.document_id(meta.seq, meta.sub));
        fields.insert("esDocumentId".into(), json!(id));
        fields.insert("esIndexName".into(), json!(self.index_of(meta.arrival_ms)));
        fields.insert("esTypeName".into(), json!(self.type_name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_single_line_objects() {
        assert_eq!(
            single_line_object(b"{\"a\":\n 1}\r\n").unwrap(),
            b"{\"a\":  1}"
        );
        assert!(single_line_object(b"[1]").is_err());
        assert!(single_line_object(b"{\"a\":").is_err());
        assert!(single_line_object(b"{\"a\":1}{\"b\":2}").is_err());
        assert_eq!(single_line_object(b"nope").unwrap_err().code, "400");
    }
}
