//! The `Lambda` processor: Firehose's transformation event (docs/processing.md, "Lambda")
//! POSTed to any HTTP endpoint, and its response contract enforced: every recordId back exactly
//! once, each with `Ok`, `Dropped` or `ProcessingFailed`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::record::{Failure, Partition};
use crate::support::error_text::describe;
use crate::support::http_client;
use crate::support::retry::Backoff;
use crate::support::secrets;

/// Lambda's synchronous payload limit, request and response.
const MAX_PAYLOAD: usize = 6 << 20;

/// A record handed to the function.
pub struct Input<'a> {
    pub id: String,
    pub arrival_ms: u64,
    pub data: &'a [u8],
}

/// What became of one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transformed {
    /// Transformed, with the `metadata.partitionKeys` the function returned.
    Ok(Vec<u8>, Option<Partition>),
    Dropped,
    /// Failed, after this many attempts.
    Failed(Failure, u32),
}

pub struct Lambda {
    client: reqwest::Client,
    url: String,
    authorization: Option<String>,
    retries: u32,
    chunk_bytes: usize,
    concurrency: usize,
    stream_arn: String,
    region: String,
    metrics: crate::metrics::Metrics,
}

#[derive(Deserialize)]
struct Response {
    records: Vec<ResponseRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseRecord {
    record_id: String,
    result: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    partition_keys: Option<HashMap<String, serde_json::Value>>,
}

impl Lambda {
    pub fn build(
        spec: &crds::LambdaProcessor,
        stream_arn: &str,
        region: &str,
        secrets_dir: &Path,
        metrics: crate::metrics::Metrics,
    ) -> anyhow::Result<Self> {
        let authorization = match &spec.auth_secret {
            None => None,
            Some(s) => match secrets::read_optional(secrets_dir, s, "authorization")? {
                Some(header) => Some(header),
                None => Some(format!(
                    "Bearer {}",
                    secrets::read(secrets_dir, s, "token")?
                )),
            },
        };
        Ok(Self {
            client: http_client::client(
                None,
                secrets_dir,
                Duration::from_secs(spec.timeout_in_seconds.max(1) as u64),
            )?,
            url: spec.url.clone(),
            authorization,
            retries: spec.number_of_retries.max(0) as u32,
            chunk_bytes: (spec.buffer_size_in_mbs * (1 << 20) as f64) as usize,
            concurrency: spec.max_concurrency.max(1) as usize,
            stream_arn: stream_arn.to_owned(),
            region: region.to_owned(),
            metrics,
        })
    }

    /// The `lambdaArn` of error-output records.
    pub fn name(&self) -> &str {
        &self.url
    }

    /// Transforms `inputs`; the results are in input order.
    pub async fn transform(&self, inputs: &[Input<'_>]) -> Vec<Transformed> {
        // Invocations of at most `bufferSizeInMBs` of data and 6 MB of payload.
        let mut chunks = Vec::new();
        let (mut start, mut raw, mut payload) = (0, 0, 256);
        for (i, input) in inputs.iter().enumerate() {
            let size = input.data.len().div_ceil(3) * 4 + input.id.len() + 96;
            if i > start
                && (raw + input.data.len() > self.chunk_bytes || payload + size > MAX_PAYLOAD)
            {
                chunks.push(start..i);
                (start, raw, payload) = (i, 0, 256);
            }
            raw += input.data.len();
            payload += size;
        }
        if start < inputs.len() {
            chunks.push(start..inputs.len());
        }
        let results: Vec<(std::ops::Range<usize>, Vec<Transformed>)> =
            futures::stream::iter(chunks.into_iter().map(|range| async move {
                let r = self.invoke_with_retries(&inputs[range.clone()]).await;
                (range, r)
            }))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut out = vec![Transformed::Dropped; inputs.len()];
        for (range, results) in results {
            for (slot, r) in out[range].iter_mut().zip(results) {
                *slot = r;
            }
        }
        out
    }

    async fn invoke_with_retries(&self, inputs: &[Input<'_>]) -> Vec<Transformed> {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            let result = self.invoke(inputs).await;
            self.metrics
                .processing_duration
                .observe(started.elapsed().as_secs_f64());
            let label = if result.is_ok() { "success" } else { "failure" };
            self.metrics
                .processing_invocations
                .with_label_values(&[label])
                .inc();
            match result {
                Ok(results) => {
                    return results
                        .into_iter()
                        .map(|r| match r {
                            Transformed::Failed(f, _) => Transformed::Failed(f, attempts),
                            other => other,
                        })
                        .collect();
                }
                Err(f) if attempts > self.retries => {
                    tracing::warn!(code = %f.code, error = %f.message, records = inputs.len(), attempts, "transformation failed; the records go to the processing-failed error output");
                    return vec![Transformed::Failed(f, attempts); inputs.len()];
                }
                Err(f) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(code = %f.code, error = %f.message, retry_in_ms = delay.as_millis() as u64, "transformation failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One invocation. `Err` fails the whole invocation (it is retried).
    async fn invoke(&self, inputs: &[Input<'_>]) -> Result<Vec<Transformed>, Failure> {
        let records: Vec<_> = inputs
            .iter()
            .map(|i| {
                json!({
                    "recordId": i.id,
                    "approximateArrivalTimestamp": i.arrival_ms,
                    "data": STANDARD.encode(i.data),
                })
            })
            .collect();
        let event = json!({
            "invocationId": uuid::Uuid::new_v4().to_string(),
            "deliveryStreamArn": self.stream_arn,
            "region": self.region,
            "records": records,
        });
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(event.to_string());
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.map_err(|e| {
            let code = if e.is_timeout() {
                "Lambda.Timeout"
            } else {
                "Lambda.InvokeFailed"
            };
            Failure::new(code, describe(&e))
        })?;
        let status = response.status().as_u16();
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(c)) => {
                    body.extend_from_slice(&c);
                    if body.len() > MAX_PAYLOAD {
                        return Err(Failure::new(
                            "Lambda.ResponseTooLarge",
                            format!("the response exceeds {MAX_PAYLOAD} bytes"),
                        ));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let code = if e.is_timeout() {
                        "Lambda.Timeout"
                    } else {
                        "Lambda.InvokeFailed"
                    };
                    return Err(Failure::new(code, describe(&e)));
                }
            }
        }
        if status != 200 {
            let code = match status {
                401 | 403 => "Lambda.InvokeAccessDenied",
                404 => "Lambda.ResourceNotFound",
                429 => "Lambda.InvokeLimitExceeded",
                _ => "Lambda.FunctionError",
            };
            let text: String = String::from_utf8_lossy(&body).chars().take(1024).collect();
            return Err(Failure::new(
                code,
                format!("the function answered {status}: {text}"),
            ));
        }
        interpret(inputs, &body)
    }
}

/// Checks a response against the invocation's records: what became of each, in their order.
pub fn interpret(inputs: &[Input<'_>], body: &[u8]) -> Result<Vec<Transformed>, Failure> {
    let json_error = |why: String| Failure::new("Lambda.JsonProcessingException", why);
    // From bytes, serde_json checks UTF-8 only in the strings it keeps: invalid bytes in a member
    // it skips would pass as JSON.
    let body = std::str::from_utf8(body)
        .map_err(|e| json_error(format!("the response is not UTF-8: {e}")))?;
    let response: Response = serde_json::from_str(body)
        .map_err(|e| json_error(format!("the response is not a transformation result: {e}")))?;
    let index: HashMap<&str, usize> = inputs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut out: Vec<Option<Transformed>> = vec![None; inputs.len()];
    for r in response.records {
        let Some(&i) = index.get(r.record_id.as_str()) else {
            return Err(json_error(format!(
                "the response holds recordId `{}`, which was not sent",
                r.record_id
            )));
        };
        if out[i].is_some() {
            return Err(Failure::new(
                "Lambda.DuplicatedRecordId",
                format!("recordId `{}` is returned more than once", r.record_id),
            ));
        }
        out[i] = Some(match r.result.as_str() {
            "Ok" => match r.data.as_deref().map(|d| STANDARD.decode(d)) {
                Some(Ok(data)) => {
                    let keys = r.metadata.and_then(|m| m.partition_keys).map(|keys| {
                        keys.into_iter()
                            .filter_map(|(k, v)| match v {
                                serde_json::Value::String(s) => Some((k, s)),
                                serde_json::Value::Number(n) => Some((k, n.to_string())),
                                serde_json::Value::Bool(b) => Some((k, b.to_string())),
                                _ => None,
                            })
                            .collect()
                    });
                    Transformed::Ok(data, keys)
                }
                Some(Err(e)) => Transformed::Failed(
                    json_error(format!(
                        "the data of recordId `{}` is not base64: {e}",
                        r.record_id
                    )),
                    1,
                ),
                None => Transformed::Failed(
                    json_error(format!("recordId `{}` is Ok without data", r.record_id)),
                    1,
                ),
            },
            "Dropped" => Transformed::Dropped,
            "ProcessingFailed" => Transformed::Failed(
                Failure::new(
                    "Lambda.ProcessingFailedStatus",
                    "ProcessingFailed status set for record",
                ),
                1,
            ),
            other => Transformed::Failed(
                json_error(format!(
                    "recordId `{}` has result `{other}`, not Ok, Dropped or ProcessingFailed",
                    r.record_id
                )),
                1,
            ),
        });
    }
    let missing = out.iter().filter(|o| o.is_none()).count();
    if missing > 0 {
        return Err(Failure::new(
            "Lambda.MissingRecordId",
            format!("{missing} recordIds sent are missing from the response"),
        ));
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Vec<Input<'static>> {
        ["a", "b", "c"]
            .iter()
            .map(|id| Input {
                id: (*id).to_owned(),
                arrival_ms: 1,
                data: b"x",
            })
            .collect()
    }

    #[test]
    fn the_response_contract() {
        let ok = br#"{"records":[
            {"recordId":"c","result":"ProcessingFailed","data":""},
            {"recordId":"a","result":"Ok","data":"aGk="},
            {"recordId":"b","result":"Dropped"}]}"#;
        let r = interpret(&inputs(), ok).unwrap();
        assert_eq!(r[0], Transformed::Ok(b"hi".to_vec(), None));
        assert_eq!(r[1], Transformed::Dropped);
        assert!(
            matches!(&r[2], Transformed::Failed(f, _) if f.code == "Lambda.ProcessingFailedStatus")
        );

        let dup = br#"{"records":[{"recordId":"a","result":"Dropped"},{"recordId":"a","result":"Dropped"},{"recordId":"b","result":"Dropped"},{"recordId":"c","result":"Dropped"}]}"#;
        assert_eq!(
            interpret(&inputs(), dup).unwrap_err().code,
            "Lambda.DuplicatedRecordId"
        );
        let missing = br#"{"records":[{"recordId":"a","result":"Dropped"}]}"#;
        assert_eq!(
            interpret(&inputs(), missing).unwrap_err().code,
            "Lambda.MissingRecordId"
        );
        let unknown = br#"{"records":[{"recordId":"zz","result":"Dropped"}]}"#;
        assert_eq!(
            interpret(&inputs(), unknown).unwrap_err().code,
            "Lambda.JsonProcessingException"
        );
        assert_eq!(
            interpret(&inputs(), b"nope").unwrap_err().code,
            "Lambda.JsonProcessingException"
        );
        let bad_b64 = br#"{"records":[{"recordId":"a","result":"Ok","data":"!!"},{"recordId":"b","result":"Bogus"},{"recordId":"c","result":"Ok"}]}"#;
        let r = interpret(&inputs(), bad_b64).unwrap();
        assert!(r.iter().all(
            |x| matches!(x, Transformed::Failed(f, _) if f.code == "Lambda.JsonProcessingException")
        ));
    }
}
