//! The Splunk destination against a real HEC implementation with indexer acknowledgements (the
//! OpenTelemetry Collector's splunkhec receiver): event and raw endpoints, the token, acks
//! awaited before a batch counts as delivered, invalid events and a wrong token ending in the
//! `splunk-failed` error output with `EventId`, and AllEvents backup.

use harness as common;

use std::time::Duration;

use common::moto::Moto;
use common::sinks::{self, put_records, s3_configuration, write_s3_secret, write_secret};
use common::splunk::SplunkHec;
use common::{Hydrant, metric_value};

fn manifest(name: &str, hec: &SplunkHec, moto: &Moto, fields: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    splunk:
      hecEndpoint: {}
      hecTokenSecret: hec
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{fields}{}",
            hec.url(),
            s3_configuration(moto, "hec-errors", "")
        ),
    )
}

async fn start(tmp: &std::path::Path, token: &str, manifest: &str) -> Hydrant {
    write_s3_secret(tmp);
    write_secret(tmp, "hec", &[("token", token)]);
    let secrets = tmp.join("secrets");
    Hydrant::start(
        tmp,
        manifest,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await
}

#[tokio::test]
async fn events_are_acknowledged_and_invalid_ones_go_to_the_error_output() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let hec = SplunkHec::start("00000000-1111-2222-3333-444444444444").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest("events", &hec, &moto, "      hecEndpointType: Event\n");
    let h = start(tmp.path(), &hec.token, &m).await;
    let mut records: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("{{\"event\":\"e-{i}\",\"sourcetype\":\"hydrant\"}}").into_bytes())
        .collect();
    records.insert(7, b"{\"event\": broken".to_vec());
    records.insert(2000, br#"{"time":1}"#.to_vec());
    put_records(&h.ingest_url(), "events", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let mut got = hec.events();
    got.sort();
    let mut want: Vec<String> = (0..3000).map(|i| format!("e-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let failed = sinks::error_records(&moto, "hec-errors", "splunk-failed").await;
    let mut raw: Vec<Vec<u8>> = failed.iter().map(|(_, v)| sinks::raw_data(v)).collect();
    raw.sort();
    assert_eq!(
        raw,
        vec![b"{\"event\": broken".to_vec(), br#"{"time":1}"#.to_vec()]
    );
    for (_, v) in &failed {
        assert_eq!(v["errorCode"], "Splunk.InvalidDataFormat", "{v}");
        assert!(
            v["EventId"].as_str().is_some_and(|id| id.ends_with(".0")),
            "{v}"
        );
    }
    let metrics = h.metrics().await;
    let acks = metric_value(
        &metrics,
        "hydrant_delivery_data_ack_latency_seconds_count",
        &[],
    )
    .unwrap_or(0.0);
    assert!(acks >= 1.0, "{metrics}");
}

#[tokio::test]
async fn raw_events_with_all_events_backup() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let hec = SplunkHec::start("raw-token").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "raw",
        &hec,
        &moto,
        "      hecEndpointType: Raw\n      s3BackupMode: AllEvents\n      processingConfiguration:\n        enabled: true\n        processors: [{type: AppendDelimiterToRecord}]\n",
    );
    let h = start(tmp.path(), &hec.token, &m).await;
    let records: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("2026-11-26T00:00:00Z host=a line={i}").into_bytes())
        .collect();
    put_records(&h.ingest_url(), "raw", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let mut got = hec.events();
    got.sort();
    let mut want: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.clone()).expect("utf8"))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let backup = sinks::backup_bytes(&moto, "hec-errors").await;
    let mut lines = common::objects::lines(&backup);
    lines.sort();
    assert_eq!(lines, want, "AllEvents backs up every event");
}

#[tokio::test]
async fn a_wrong_token_ends_in_the_error_output_after_the_retry_duration() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let hec = SplunkHec::start("right-token").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "denied",
        &hec,
        &moto,
        "      hecEndpointType: Raw\n      retryOptions: {durationInSeconds: 2}\n",
    );
    let h = start(tmp.path(), "wrong-token", &m).await;
    let records: Vec<Vec<u8>> = (0..20).map(|i| format!("l{i}\n").into_bytes()).collect();
    put_records(&h.ingest_url(), "denied", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert!(hec.events().is_empty());
    let failed = sinks::error_records(&moto, "hec-errors", "splunk-failed").await;
    assert_eq!(failed.len(), 20);
    for (_, v) in &failed {
        assert_eq!(v["errorCode"], "Splunk.InvalidToken", "{v}");
        assert!(
            v["errorMessage"].as_str().expect("msg").contains("401"),
            "{v}"
        );
        assert!(v["attemptsMade"].as_u64().expect("attempts") >= 2);
    }
}

/// A HEC receiver written from Splunk's published HEC specification (channels, ackId per
/// channel, `/services/collector/ack`) that withholds the ack of its first request: the one
/// behaviour the collector-based receiver cannot show.
mod withheld_ack {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use warp::Filter;
    use warp::http::{HeaderMap, StatusCode};

    #[derive(Default)]
    pub struct State {
        /// Channel → next ackId.
        next: HashMap<String, u64>,
        /// (channel, ackId) acknowledged.
        acked: Vec<(String, u64)>,
        pub bodies: Vec<Vec<u8>>,
    }

    pub async fn start(token: &'static str) -> (String, Arc<Mutex<State>>) {
        let state = Arc::new(Mutex::new(State::default()));
        let authorized = move |h: &HeaderMap| {
            h.get("authorization")
                .is_some_and(|v| v.as_bytes() == format!("Splunk {token}").as_bytes())
        };
        let s = state.clone();
        let raw = warp::post()
            .and(warp::path!("services" / "collector" / "raw"))
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(move |h: HeaderMap, body: bytes::Bytes| {
                if !authorized(&h) {
                    return reply(
                        StatusCode::UNAUTHORIZED,
                        json!({"text": "Invalid token", "code": 4}),
                    );
                }
                let Some(channel) = h
                    .get("x-splunk-request-channel")
                    .and_then(|v| v.to_str().ok())
                else {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        json!({"text": "Data channel is missing", "code": 10}),
                    );
                };
                let mut st = s.lock().expect("state");
                let id = st.next.entry(channel.to_owned()).or_insert(0);
                let ack_id = *id;
                *id += 1;
                // Every request but the very first is acknowledged at once.
                if !st.bodies.is_empty() {
                    st.acked.push((channel.to_owned(), ack_id));
                }
                st.bodies.push(body.to_vec());
                reply(
                    StatusCode::OK,
                    json!({"text": "Success", "code": 0, "ackId": ack_id}),
                )
            });
        let s = state.clone();
        let ack = warp::post()
            .and(warp::path!("services" / "collector" / "ack"))
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::body::json())
            .map(move |q: HashMap<String, String>, body: Value| {
                let channel = q.get("channel").cloned().unwrap_or_default();
                let st = s.lock().expect("state");
                let acks: serde_json::Map<String, Value> = body["acks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .map(|id| {
                        (
                            id.to_string(),
                            json!(st.acked.contains(&(channel.clone(), id))),
                        )
                    })
                    .collect();
                reply(StatusCode::OK, json!({ "acks": acks }))
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(raw.or(ack)).incoming(listener).run());
        (format!("http://{addr}"), state)
    }

    fn reply(status: StatusCode, body: Value) -> warp::reply::Response {
        use warp::Reply;
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    }
}

#[tokio::test]
async fn a_withheld_ack_times_out_and_the_batch_is_sent_again() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let (url, state) = withheld_ack::start("spec-token").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = common::stream_manifest(
        "acks",
        "64Mi",
        &format!(
            "    splunk:
      hecEndpoint: {url}
      hecTokenSecret: hec
      hecEndpointType: Raw
      hecAcknowledgmentTimeoutInSeconds: 180
      retryOptions: {{durationInSeconds: 60}}
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{}",
            s3_configuration(&moto, "hec-errors", "")
        ),
    );
    let started = std::time::Instant::now();
    let h = start(tmp.path(), "spec-token", &m).await;
    let records: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("line {i}\n").into_bytes())
        .collect();
    put_records(&h.ingest_url(), "acks", &records).await;
    h.wait_drained(Duration::from_secs(300)).await;
    let waited = started.elapsed();
    let bodies = state.lock().expect("state").bodies.clone();
    assert_eq!(
        bodies.len(),
        2,
        "sent once, then again after the ack timeout"
    );
    assert_eq!(bodies[0], bodies[1], "the same batch");
    assert_eq!(bodies[0], records.concat());
    assert!(
        waited >= Duration::from_secs(180),
        "waited {waited:?} for the ack"
    );
    assert!(
        h.log().contains("Splunk.AckTimeout"),
        "the timeout is reported:\n{}",
        h.log()
    );
    assert!(
        sinks::error_records(&moto, "hec-errors", "splunk-failed")
            .await
            .is_empty()
    );
}
