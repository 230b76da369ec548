//! Firehose's HTTP endpoint delivery protocol (docs/destinations.md, "HTTP endpoint"): a JSON body of base64 records,
//! `X-Amz-Firehose-*` headers, a request id stable across retries, and only a 200 whose body
//! echoes the request id counts as delivered.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{DeliveryError, Destination, Outcome, RecordOutcome};
use crate::record::{Batch, Failure};
use crate::support::error_text::describe;
use crate::support::http_client::{self, transport_code};
use crate::support::secrets;
use crds::ContentEncoding;

/// Records per request (Firehose's limit on `records`).
const MAX_RECORDS: usize = 10_000;
/// Response bodies larger than this are refused (`HttpEndpoint.ResponseTooLarge`).
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Per-attempt response timeout.
const TIMEOUT: Duration = Duration::from_secs(180);
/// `errorMessage` is at most this long.
const MAX_ERROR_MESSAGE: usize = 8192;

pub struct HttpEndpointDestination {
    client: reqwest::Client,
    url: String,
    access_key: Option<String>,
    common_attributes: String,
    gzip: bool,
    source_arn: String,
    log_id: uuid::Uuid,
}

impl HttpEndpointDestination {
    pub fn build(
        spec: &crds::HttpEndpointDestination,
        source_arn: &str,
        secrets_dir: &Path,
        log_id: uuid::Uuid,
    ) -> anyhow::Result<Self> {
        let access_key = spec
            .endpoint_configuration
            .access_key_secret
            .as_deref()
            .map(|s| secrets::read(secrets_dir, s, "accessKey"))
            .transpose()?;
        let attributes: serde_json::Map<String, Value> = spec
            .request_configuration
            .common_attributes
            .iter()
            .map(|a| (a.attribute_name.clone(), json!(a.attribute_value)))
            .collect();
        Ok(Self {
            client: http_client::client(spec.tls.as_ref(), secrets_dir, TIMEOUT)?,
            url: spec.endpoint_configuration.url.clone(),
            access_key,
            common_attributes: json!({ "commonAttributes": attributes }).to_string(),
            gzip: spec.request_configuration.content_encoding == ContentEncoding::Gzip,
            source_arn: source_arn.to_owned(),
            log_id,
        })
    }

    /// The request id of the chunk starting with the record of sequence `first_seq`: a GUID
    /// derived from the log's identity and the chunk's records, so a retry of the same chunk
    /// (in this process or after a restart) carries the same id.
    fn request_id(&self, batch: &Batch, range: std::ops::Range<usize>) -> String {
        let mut h = Sha256::new();
        h.update(self.log_id.as_bytes());
        for r in &batch.records[range] {
            h.update(r.seq.to_le_bytes());
            h.update(r.sub.to_le_bytes());
        }
        let digest = h.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// Sends one request of the records in `range`. The error says whether the failure is
    /// permanent (a 413).
    async fn send(
        &self,
        batch: &Batch,
        range: std::ops::Range<usize>,
    ) -> Result<(), (Failure, bool)> {
        let transient = |f: Failure| (f, false);
        let request_id = self.request_id(batch, range.clone());
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut body = Vec::with_capacity(
            range
                .clone()
                .map(|i| batch.record(i).len() * 4 / 3 + 16)
                .sum::<usize>()
                + 128,
        );
        body.extend_from_slice(b"{\"requestId\":\"");
        body.extend_from_slice(request_id.as_bytes());
        body.extend_from_slice(b"\",\"timestamp\":");
        body.extend_from_slice(crate::support::clock::now_ms().to_string().as_bytes());
        body.extend_from_slice(b",\"records\":[");
        let mut encoded = String::new();
        for (n, i) in range.enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"data\":\"");
            encoded.clear();
            b64.encode_string(batch.record(i), &mut encoded);
            body.extend_from_slice(encoded.as_bytes());
            body.extend_from_slice(b"\"}");
        }
        body.extend_from_slice(b"]}");
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Amz-Firehose-Protocol-Version", "1.0")
            .header("X-Amz-Firehose-Request-Id", &request_id)
            .header("X-Amz-Firehose-Source-Arn", &self.source_arn)
            .header("X-Amz-Firehose-Common-Attributes", &self.common_attributes);
        if let Some(key) = &self.access_key {
            request = request.header("X-Amz-Firehose-Access-Key", key);
        }
        if self.gzip {
            let body = tokio::task::spawn_blocking(move || {
                let mut enc =
                    GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
                enc.write_all(&body)?;
                enc.finish()
            })
            .await
            .map_err(|e| transient(Failure::new("InternalError", e.to_string())))?
            .map_err(|e| transient(Failure::new("InternalError", e.to_string())))?;
            request = request.header("Content-Encoding", "gzip").body(body);
        } else {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| {
            transient(Failure::new(
                transport_code("HttpEndpoint", &e),
                describe(&e),
            ))
        })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = read_limited(response)
            .await
            .map_err(|f| transient(Failure::new(f.0, format!("{} (status {status})", f.1))))?;
        check_response(status.as_u16(), &content_type, &body, &request_id)
            .map_err(|f| (f, status.as_u16() == 413))
    }
}

/// Reads a response body up to [`MAX_RESPONSE_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, (String, String)> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err((
                        "HttpEndpoint.ResponseTooLarge".into(),
                        format!("the response body exceeds {MAX_RESPONSE_BYTES} bytes"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err((transport_code("HttpEndpoint", &e), describe(&e))),
        }
    }
}

/// Firehose's response rules: only a 200 with a JSON body echoing the request id (and a
/// numeric timestamp) succeeds; 413 fails for good; everything else is retried.
pub fn check_response(
    status: u16,
    content_type: &str,
    body: &[u8],
    request_id: &str,
) -> Result<(), Failure> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error_message = parsed
        .as_ref()
        .and_then(|v| v.get("errorMessage"))
        .and_then(Value::as_str)
        .map(|m| m.chars().take(MAX_ERROR_MESSAGE).collect::<String>());
    if status != 200 {
        let detail = error_message
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned());
        return Err(Failure::new(
            "HttpEndpoint.DestinationException",
            format!("The endpoint responded with status {status}: {detail}"),
        ));
    }
    let invalid = |why: &str| {
        Err(Failure::new(
            "HttpEndpoint.InvalidResponseFromDestination",
            format!("The response from the endpoint is invalid: {why}"),
        ))
    };
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        return invalid(&format!(
            "Content-Type is `{content_type}`, not application/json"
        ));
    }
    let Some(v) = parsed else {
        return invalid("the body is not JSON");
    };
    match v.get("requestId").and_then(Value::as_str) {
        Some(id) if id == request_id => {}
        Some(id) => return invalid(&format!("requestId `{id}` does not match `{request_id}`")),
        None => return invalid("requestId is missing"),
    }
    if !v.get("timestamp").is_some_and(Value::is_number) {
        return invalid("timestamp is missing or not a number");
    }
    Ok(())
}

impl Destination for HttpEndpointDestination {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>> {
        async move {
            let chunks: Vec<_> = (0..batch.len())
                .step_by(MAX_RECORDS)
                .map(|start| start..(start + MAX_RECORDS).min(batch.len()))
                .collect();
            let results = futures::future::join_all(
                chunks.iter().map(|range| self.send(batch, range.clone())),
            )
            .await;
            if results.iter().all(Result::is_ok) {
                return Ok(Outcome::Delivered);
            }
            let mut outcomes = Vec::with_capacity(batch.len());
            for (range, result) in chunks.iter().zip(results) {
                let outcome = match result {
                    Ok(()) => RecordOutcome::Delivered,
                    // 413: the endpoint will never take this payload. Firehose drops it; we
                    // write it to the error output instead of losing acknowledged records.
                    Err((f, true)) => RecordOutcome::Reject(f),
                    Err((f, false)) => RecordOutcome::Retry(f),
                };
                outcomes.extend(std::iter::repeat_n(outcome, range.len()));
            }
            Ok(Outcome::PerRecord(outcomes))
        }
        .boxed()
    }

    fn error_fields(
        &self,
        batch: &Batch,
        index: usize,
        fields: &mut serde_json::Map<String, Value>,
    ) {
        let r = batch.records[index];
        fields.insert("subsequenceNumber".into(), json!(r.sub));
        fields.insert("dataId".into(), json!(format!("{}.{}", r.seq, r.sub)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_echoing_the_request_id_succeeds() {
        let ok = br#"{"requestId":"r1","timestamp":1578090903599}"#;
        assert!(check_response(200, "application/json", ok, "r1").is_ok());
        assert!(check_response(200, "application/json; charset=utf-8", ok, "r1").is_ok());
        let bad = |status, ct, body: &[u8]| check_response(status, ct, body, "r1").unwrap_err();
        assert_eq!(
            bad(
                200,
                "application/json",
                br#"{"requestId":"r2","timestamp":1}"#
            )
            .code,
            "HttpEndpoint.InvalidResponseFromDestination"
        );
        assert_eq!(
            bad(
                200,
                "application/json",
                br#"{"requestId":"r1","timestamp":"1"}"#
            )
            .code,
            "HttpEndpoint.InvalidResponseFromDestination"
        );
        assert_eq!(
            bad(200, "text/plain", ok).code,
            "HttpEndpoint.InvalidResponseFromDestination"
        );
        assert_eq!(
            bad(200, "application/json", b"not json").code,
            "HttpEndpoint.InvalidResponseFromDestination"
        );
        let f = bad(
            500,
            "application/json",
            br#"{"requestId":"r1","timestamp":1,"errorMessage":"disk full"}"#,
        );
        assert_eq!(f.code, "HttpEndpoint.DestinationException");
        assert!(
            f.message.contains("500") && f.message.contains("disk full"),
            "{}",
            f.message
        );
        assert!(
            bad(413, "application/json", b"{}")
                .message
                .contains("status 413")
        );
        assert!(bad(201, "application/json", ok).message.contains("201"));
    }
}
