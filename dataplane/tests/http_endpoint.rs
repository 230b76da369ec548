//! The HTTP endpoint destination against a real HTTP server speaking Firehose's protocol
//! (docs/destinations.md, "HTTP endpoint"): headers and body as specified, only a 200 echoing the request id counts,
//! retries keep the request id, malformed responses are retried, 413 and exhausted retries go to
//! the `http-endpoint-failed` error output in a real S3-compatible server, and AllData backs up
//! every record.

use harness as common;

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::moto::Moto;
use common::sinks::{self, put_records, s3_configuration, write_s3_secret, write_secret};
use common::{Hydrant, objects};
use serde_json::{Value, json};
use warp::Filter;
use warp::http::{HeaderMap, StatusCode};

/// How the receiver answers one request.
#[derive(Clone, Debug)]
enum Reply {
    Ok,
    Status(u16, &'static str),
    WrongRequestId,
    NotJson,
}

#[derive(Clone, Debug)]
struct Request {
    headers: HeaderMap,
    request_id: String,
    records: Vec<Vec<u8>>,
    answered_ok: bool,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    requests: Vec<Request>,
}

/// A Firehose HTTP endpoint receiver on 127.0.0.1.
struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let route = warp::post()
            .and(warp::path("ingest"))
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(move |headers: HeaderMap, body: bytes::Bytes| {
                let body = if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut out)
                        .expect("gzip body");
                    out
                } else {
                    body.to_vec()
                };
                let v: Value = serde_json::from_slice(&body).expect("request body is JSON");
                let request_id = v["requestId"].as_str().expect("requestId").to_owned();
                assert!(v["timestamp"].is_u64(), "timestamp: {v}");
                let records: Vec<Vec<u8>> = v["records"]
                    .as_array()
                    .expect("records")
                    .iter()
                    .map(|r| {
                        STANDARD
                            .decode(r["data"].as_str().expect("data"))
                            .expect("b64")
                    })
                    .collect();
                let mut st = s.lock().expect("state");
                let reply = st
                    .script
                    .pop_front()
                    .or_else(|| st.default.clone())
                    .unwrap_or(Reply::Ok);
                st.requests.push(Request {
                    headers,
                    request_id: request_id.clone(),
                    records,
                    answered_ok: matches!(reply, Reply::Ok),
                });
                let ts = 1_578_090_903_599u64;
                let (status, body) = match reply {
                    Reply::Ok => (200, json!({"requestId": request_id, "timestamp": ts})),
                    Reply::Status(code, msg) => (
                        code,
                        json!({"requestId": request_id, "timestamp": ts, "errorMessage": msg}),
                    ),
                    Reply::WrongRequestId => {
                        (200, json!({"requestId": "not-the-id", "timestamp": ts}))
                    }
                    Reply::NotJson => {
                        return warp::reply::with_status(
                            warp::reply::with_header("ok", "content-type", "text/plain"),
                            StatusCode::OK,
                        )
                        .into_response_boxed();
                    }
                };
                warp::reply::with_status(
                    warp::reply::with_header(body.to_string(), "content-type", "application/json"),
                    StatusCode::from_u16(status).expect("status"),
                )
                .into_response_boxed()
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(warp::serve(route).incoming(listener).run());
        Self { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/ingest?source=hydrant", self.addr)
    }

    fn script(&self, replies: &[Reply], default: Option<Reply>) {
        let mut st = self.state.lock().expect("state");
        st.script = replies.iter().cloned().collect();
        st.default = default;
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("state").requests.clone()
    }

    /// Records of the requests answered 200.
    fn delivered(&self) -> Vec<Vec<u8>> {
        self.requests()
            .into_iter()
            .filter(|r| r.answered_ok)
            .flat_map(|r| r.records)
            .collect()
    }
}

trait BoxedReply {
    fn into_response_boxed(self) -> warp::reply::Response;
}

impl<T: warp::Reply> BoxedReply for T {
    fn into_response_boxed(self) -> warp::reply::Response {
        self.into_response()
    }
}

fn manifest(name: &str, receiver: &Receiver, moto: &Moto, extra: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    httpEndpoint:
      endpointConfiguration:
        url: \"{}\"
        name: receiver
        accessKeySecret: endpoint-key
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{extra}{}",
            receiver.url(),
            s3_configuration(moto, "http-errors", "")
        ),
    )
}

async fn start(tmp: &std::path::Path, manifest: &str) -> Hydrant {
    write_s3_secret(tmp);
    write_secret(tmp, "endpoint-key", &[("accessKey", "sekrit-key\n")]);
    let secrets = tmp.join("secrets");
    Hydrant::start(
        tmp,
        manifest,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await
}

fn records(tag: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{{\"tag\":\"{tag}\",\"i\":{i}}}").into_bytes())
        .collect()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[tokio::test]
async fn requests_follow_the_protocol_and_retries_keep_the_request_id() {
    let moto = Moto::start().await;
    moto.create_bucket("http-errors").await;
    let receiver = Receiver::start().await;
    // Two server errors, a wrong request id and a non-JSON 200 before the endpoint recovers.
    receiver.script(
        &[
            Reply::Status(500, "try later"),
            Reply::Status(503, "overloaded"),
            Reply::WrongRequestId,
            Reply::NotJson,
        ],
        None,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "clicks",
        &receiver,
        &moto,
        "      requestConfiguration:
        contentEncoding: GZIP
        commonAttributes:
        - {attributeName: env, attributeValue: test}
        - {attributeName: team, attributeValue: data}
      retryOptions: {durationInSeconds: 60}
",
    );
    let h = start(tmp.path(), &m).await;
    let sent = records("a", 2500);
    put_records(&h.ingest_url(), "clicks", &sent).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let requests = receiver.requests();
    assert!(requests.len() >= 5, "{} requests", requests.len());
    for r in &requests {
        let hd = |k: &str| {
            r.headers
                .get(k)
                .map(|v| v.to_str().expect("ascii").to_owned())
        };
        assert_eq!(
            hd("x-amz-firehose-protocol-version").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            hd("x-amz-firehose-request-id").as_deref(),
            Some(r.request_id.as_str())
        );
        assert_eq!(
            hd("x-amz-firehose-source-arn").as_deref(),
            Some("arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks")
        );
        assert_eq!(
            hd("x-amz-firehose-access-key").as_deref(),
            Some("sekrit-key")
        );
        assert_eq!(hd("content-type").as_deref(), Some("application/json"));
        assert_eq!(hd("content-encoding").as_deref(), Some("gzip"));
        let attrs: Value =
            serde_json::from_str(&hd("x-amz-firehose-common-attributes").expect("attributes"))
                .expect("attributes JSON");
        assert_eq!(
            attrs,
            json!({"commonAttributes": {"env": "test", "team": "data"}})
        );
        assert!(
            uuid::Uuid::parse_str(&r.request_id).is_ok(),
            "{}",
            r.request_id
        );
    }
    // The first batch failed four times: all five attempts carry the same id and records.
    let first = &requests[0];
    for retry in &requests[1..5] {
        assert_eq!(
            retry.request_id, first.request_id,
            "request id stable across retries"
        );
        assert_eq!(retry.records, first.records);
    }
    assert!(requests[4].answered_ok);
    assert_eq!(sorted(receiver.delivered()), sorted(sent.clone()));
    assert!(
        sinks::error_records(&moto, "http-errors", "http-endpoint-failed")
            .await
            .is_empty()
    );
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("hydrant_delivery_records_total{destination=\"http_endpoint\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn exhausted_retries_and_413_go_to_the_error_output() {
    let moto = Moto::start().await;
    moto.create_bucket("http-errors").await;
    let receiver = Receiver::start().await;
    receiver.script(&[], Some(Reply::Status(500, "the collector is down")));
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "failing",
        &receiver,
        &moto,
        "      retryOptions: {durationInSeconds: 3}\n",
    );
    let mut h = start(tmp.path(), &m).await;
    let sent = records("b", 300);
    put_records(&h.ingest_url(), "failing", &sent).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let failed = sinks::error_records(&moto, "http-errors", "http-endpoint-failed").await;
    assert_eq!(failed.len(), sent.len(), "every record in the error output");
    let mut raw = Vec::new();
    for (key, v) in &failed {
        assert!(key.starts_with("errors/http-endpoint-failed/"), "{key}");
        assert_eq!(v["errorCode"], "HttpEndpoint.DestinationException", "{v}");
        let msg = v["errorMessage"].as_str().expect("message");
        assert!(
            msg.contains("500") && msg.contains("the collector is down"),
            "{msg}"
        );
        // 1 s, 2 s: the third backoff would pass the 3 s retry duration.
        assert!(v["attemptsMade"].as_u64().expect("attempts") >= 2, "{v}");
        assert!(v["arrivalTimestamp"].as_u64().expect("arrival") > 1_700_000_000_000);
        assert!(v["attemptEndingTimestamp"].as_u64() >= v["arrivalTimestamp"].as_u64());
        assert!(
            v["dataId"].is_string() && v["subsequenceNumber"].is_number(),
            "{v}"
        );
        raw.push(sinks::raw_data(v));
    }
    assert_eq!(sorted(raw), sorted(sent));
    assert!(receiver.delivered().is_empty());
    let metrics = h.metrics().await;
    assert_eq!(
        common::metric_value(
            &metrics,
            "hydrant_delivery_error_output_records_total",
            &[
                ("destination", "http_endpoint"),
                ("type", "http-endpoint-failed")
            ]
        ),
        Some(300.0),
        "{metrics}"
    );

    // 413: permanent, no retry; into the error output after one attempt (Firehose would drop
    // it; an acknowledged record is never dropped here).
    moto.delete_all("http-errors").await;
    receiver.script(&[], Some(Reply::Status(413, "too large")));
    let before = receiver.requests().len();
    let more = records("c", 10);
    put_records(&h.ingest_url(), "failing", &more).await;
    h.wait_drained(Duration::from_secs(30)).await;
    assert_eq!(receiver.requests().len() - before, 1, "413 is not retried");
    let failed = sinks::error_records(&moto, "http-errors", "http-endpoint-failed").await;
    assert_eq!(failed.len(), 10);
    assert!(failed.iter().all(|(_, v)| v["attemptsMade"] == 1));
    assert!(h.terminate(Duration::from_secs(20)).await.success());
}

#[tokio::test]
async fn all_data_backs_up_every_record_and_a_restart_loses_nothing() {
    let moto = Moto::start().await;
    moto.create_bucket("http-errors").await;
    let receiver = Receiver::start().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "backed-up",
        &receiver,
        &moto,
        "      s3BackupMode: AllData\n      processingConfiguration:\n        enabled: true\n        processors: [{type: AppendDelimiterToRecord}]\n",
    );
    let mut h = start(tmp.path(), &m).await;
    // The endpoint is down while records arrive, and the process is killed: the records wait in
    // the log and are delivered after the restart.
    receiver.script(&[], Some(Reply::Status(503, "down")));
    let sent = records("d", 1000);
    put_records(&h.ingest_url(), "backed-up", &sent).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.kill9();
    receiver.script(&[], None);
    h.restart().await;
    h.wait_drained(Duration::from_secs(60)).await;
    let with_newline: Vec<Vec<u8>> = sent
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.push(b'\n');
            r
        })
        .collect();
    let mut delivered = receiver.delivered();
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered, sorted(with_newline));
    let backup = sinks::backup_bytes(&moto, "http-errors").await;
    let mut lines = objects::lines(&backup);
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), sent.len(), "every record backed up");
    assert!(h.terminate(Duration::from_secs(20)).await.success());
}

#[tokio::test]
async fn https_with_a_custom_ca_from_a_secret() {
    let moto = Moto::start().await;
    moto.create_bucket("http-errors").await;
    let certs = tempfile::tempdir().expect("tmp");
    common::tls::make_certificates(certs.path());
    let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let url = common::tls::https_receiver(certs.path(), received.clone()).await;
    let ca = std::fs::read_to_string(certs.path().join("ca.crt")).expect("ca");
    let stream = |name: &str, tls: &str| {
        common::stream_manifest(
            name,
            "64Mi",
            &format!(
                "    httpEndpoint:
      endpointConfiguration: {{url: \"{url}\"}}
{tls}      retryOptions: {{durationInSeconds: 2}}
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{}",
                s3_configuration(&moto, "http-errors", "")
            ),
        )
    };

    // Trusting the Secret's CA: delivered over TLS.
    let tmp = tempfile::tempdir().expect("tmp");
    write_secret(tmp.path(), "endpoint-ca", &[("ca.crt", &ca)]);
    let h = start(
        tmp.path(),
        &stream("trusted", "      tls: {caSecret: endpoint-ca}\n"),
    )
    .await;
    put_records(&h.ingest_url(), "trusted", &records("t", 100)).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(received.load(std::sync::atomic::Ordering::Relaxed), 100);

    // Without it the certificate is refused, and the records end in the error output.
    let tmp = tempfile::tempdir().expect("tmp");
    let h = start(tmp.path(), &stream("untrusted", "")).await;
    put_records(&h.ingest_url(), "untrusted", &records("u", 10)).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(received.load(std::sync::atomic::Ordering::Relaxed), 100);
    let failed = sinks::error_records(&moto, "http-errors", "http-endpoint-failed").await;
    assert_eq!(failed.len(), 10);
    let message = failed[0].1["errorMessage"].as_str().expect("message");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}
