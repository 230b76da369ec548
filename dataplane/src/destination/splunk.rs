//! Splunk HTTP Event Collector (docs/destinations.md, "Splunk"): one request per batch to the raw or event
//! endpoint on this process's channel, then indexer-acknowledgement polling. A request counts
//! as delivered only once its ack is true; an ack that does not come within
//! `hecAcknowledgmentTimeoutInSeconds` fails the attempt (`Splunk.AckTimeout`) and the batch is
//! sent again: duplicates are possible, loss is not.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{DeliveryError, Destination, Outcome, RecordOutcome};
use crate::record::{Batch, Failure};
use crate::support::error_text::describe;
use crate::support::http_client::{self, transport_code};
use crate::support::secrets;
use crds::HecEndpointType;

const TIMEOUT: Duration = Duration::from_secs(120);

pub struct SplunkDestination {
    client: reqwest::Client,
    send_url: String,
    ack_url: String,
    authorization: String,
    channel: String,
    event: bool,
    ack_timeout: Duration,
    ack_latency: prometheus::Histogram,
}

impl SplunkDestination {
    pub fn build(
        spec: &crds::SplunkDestination,
        secrets_dir: &Path,
        ack_latency: prometheus::Histogram,
    ) -> anyhow::Result<Self> {
        let token = secrets::read(secrets_dir, &spec.hec_token_secret, "token")?;
        let base = spec.hec_endpoint.trim_end_matches('/');
        let event = spec.hec_endpoint_type == HecEndpointType::Event;
        let channel = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            client: http_client::client(spec.tls.as_ref(), secrets_dir, TIMEOUT)?,
            send_url: format!(
                "{base}/services/collector/{}",
                if event { "event" } else { "raw" }
            ),
            ack_url: format!("{base}/services/collector/ack?channel={channel}"),
            authorization: format!("Splunk {token}"),
            channel,
            event,
            ack_timeout: Duration::from_secs(
                spec.hec_acknowledgment_timeout_in_seconds.max(1) as u64
            ),
            ack_latency,
        })
    }

    async fn send(&self, batch: &Batch) -> Outcome {
        let mut outcomes = vec![RecordOutcome::Delivered; batch.len()];
        let mut body = Vec::with_capacity(batch.record_bytes() as usize);
        let mut sent = 0;
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let record = batch.record(i);
            if self.event {
                // The event endpoint refuses the whole request for one bad event: check each
                // record first, and send only the good ones.
                if let Err(f) = check_event(record) {
                    *outcome = RecordOutcome::Reject(f);
                    continue;
                }
            }
            body.extend_from_slice(record);
            sent += 1;
        }
        if sent == 0 {
            return Outcome::PerRecord(outcomes);
        }
        let result = self.post_and_ack(body).await;
        match result {
            Ok(()) if sent == batch.len() => Outcome::Delivered,
            Ok(()) => Outcome::PerRecord(outcomes),
            Err(f) => {
                for o in &mut outcomes {
                    if *o == RecordOutcome::Delivered {
                        *o = RecordOutcome::Retry(f.clone());
                    }
                }
                Outcome::PerRecord(outcomes)
            }
        }
    }

    async fn post_and_ack(&self, body: Vec<u8>) -> Result<(), Failure> {
        let started = Instant::now();
        let response = self
            .client
            .post(&self.send_url)
            .header("Authorization", &self.authorization)
            .header("X-Splunk-Request-Channel", &self.channel)
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::new(transport_code("Splunk", &e), describe(&e)))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| Failure::new(transport_code("Splunk", &e), describe(&e)))?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let code = parsed.as_ref().and_then(|v| v["code"].as_i64());
        if status != 200 {
            return Err(Failure::new(
                error_code(status, code),
                hec_message(status, &text),
            ));
        }
        let Some(ack_id) = parsed.as_ref().and_then(|v| v["ackId"].as_u64()) else {
            return Err(Failure::new(
                "Splunk.DisabledAck",
                format!(
                    "the response carries no ackId (indexer acknowledgement is required): {text}"
                ),
            ));
        };
        self.wait_for_ack(ack_id, started).await
    }

    /// Polls the ack endpoint until the ack is true or the ack timeout passes.
    async fn wait_for_ack(&self, ack_id: u64, started: Instant) -> Result<(), Failure> {
        let mut delay = Duration::from_millis(100);
        loop {
            let response = self
                .client
                .post(&self.ack_url)
                .header("Authorization", &self.authorization)
                .header("X-Splunk-Request-Channel", &self.channel)
                .body(json!({ "acks": [ack_id] }).to_string())
                .send()
                .await;
            match response {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    if v["acks"][ack_id.to_string()].as_bool() == Some(true) {
                        self.ack_latency.observe(started.elapsed().as_secs_f64());
                        return Ok(());
                    }
                }
                Ok(r) => {
                    tracing::debug!(status = %r.status(), "ack poll refused; polling again");
                }
                Err(e) => tracing::debug!(error = %e, "ack poll failed; polling again"),
            }
            if started.elapsed() >= self.ack_timeout {
                return Err(Failure::new(
                    "Splunk.AckTimeout",
                    format!(
                        "no indexer acknowledgement for ackId {ack_id} on channel {} within {} s",
                        self.channel,
                        self.ack_timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

/// An event-endpoint record must be one JSON object with an `event` field.
pub fn check_event(record: &[u8]) -> Result<(), Failure> {
    let invalid = |why: &str| Failure::new("Splunk.InvalidDataFormat", why.to_owned());
    match serde_json::from_slice::<Value>(record) {
        Ok(Value::Object(map)) if map.get("event").is_some_and(|e| !e.is_null()) => Ok(()),
        Ok(Value::Object(_)) => Err(invalid("the HEC event has no `event` field")),
        Ok(_) => Err(invalid("the record is JSON but not an HEC event object")),
        Err(e) => Err(invalid(&format!("the record is not valid JSON: {e}"))),
    }
}

/// Firehose's Splunk error codes from the HEC status and code.
fn error_code(status: u16, code: Option<i64>) -> &'static str {
    match (status, code) {
        (_, Some(1)) => "Splunk.DisabledToken",
        (401 | 403, _) | (_, Some(2..=4)) => "Splunk.InvalidToken",
        (_, Some(5 | 6 | 12 | 13)) => "Splunk.InvalidDataFormat",
        (_, Some(7)) => "Splunk.InvalidIndex",
        (_, Some(10 | 11)) => "Splunk.ProxyWithoutStickySessions",
        (_, Some(14)) => "Splunk.DisabledAck",
        _ => "Splunk.ServerError",
    }
}

fn hec_message(status: u16, body: &str) -> String {
    let body: String = body.trim().chars().take(1024).collect();
    format!("HEC responded with status {status}: {body}")
}

impl Destination for SplunkDestination {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>> {
        async move { Ok(self.send(batch).await) }.boxed()
    }

    fn error_fields(
        &self,
        batch: &Batch,
        index: usize,
        fields: &mut serde_json::Map<String, Value>,
    ) {
        fields.insert(
            "EventId".into(),
            json!(format!(
                "{}.{}",
                batch.records[index].seq, batch.records[index].sub
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_need_an_event_field() {
        assert!(check_event(br#"{"event":"x","sourcetype":"s"}"#).is_ok());
        assert!(check_event(br#"{"event":{"a":1}}"#).is_ok());
        for bad in [
            &br#"{"time":1}"#[..],
            b"[1]",
            b"{oops",
            br#"{"event":null}"#,
        ] {
            assert_eq!(
                check_event(bad).unwrap_err().code,
                "Splunk.InvalidDataFormat"
            );
        }
    }

    #[test]
    fn hec_codes_map_to_firehose_codes() {
        assert_eq!(error_code(403, Some(4)), "Splunk.InvalidToken");
        assert_eq!(error_code(401, None), "Splunk.InvalidToken");
        assert_eq!(error_code(403, Some(1)), "Splunk.DisabledToken");
        assert_eq!(error_code(400, Some(6)), "Splunk.InvalidDataFormat");
        assert_eq!(error_code(400, Some(7)), "Splunk.InvalidIndex");
        assert_eq!(error_code(503, Some(9)), "Splunk.ServerError");
        assert_eq!(error_code(400, Some(14)), "Splunk.DisabledAck");
    }
}
