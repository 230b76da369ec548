//! An HTTP proxy on 127.0.0.1 in front of a Kinesis endpoint (moto) that throttles reads as
//! Kinesis does: while on, every Nth `GetRecords` (and, if asked, `GetShardIterator`) is
//! answered HTTP 400 with `Content-Type: application/x-amz-json-1.1` and
//! `{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard ..."}`;
//! every other request goes to the target unchanged (method, path, query, headers, body) and
//! its answer comes back unchanged.
//!
//! What a client sees: aws-sdk-kinesis decodes the answer as
//! `GetRecordsError::ProvisionedThroughputExceededException` (or
//! `GetShardIteratorError::...`). Its default retry policy (standard, 3 attempts, exponential
//! backoff with jitter from about 1 s) classifies that error as throttling and retries it
//! itself, so a client with default retries sees the error only when 3 attempts in a row are
//! throttled (`throttle_every(1)`); with N ≥ 2 the retry gets through and the caller sees only the
//! delay. Every throttled attempt counts in [`KinesisThrottler::throttled`]. A client built with
//! `RetryConfig::disabled()` ([`crate::kinesis::kinesis_client_without_retries`]) sees every
//! throttle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use warp::Filter;
use warp::http::{HeaderMap, Method, Response, StatusCode};

const TARGET_PREFIX: &str = "Kinesis_20131202.";

#[derive(Default)]
struct State {
    /// Throttle every Nth matching request; 0: off.
    every: AtomicU64,
    get_shard_iterator_too: AtomicBool,
    /// Matching requests since throttling was last turned on.
    matched: AtomicU64,
    throttled: AtomicU64,
    /// Requests seen, throttled or not, by operation (the `X-Amz-Target` after the prefix).
    seen: Mutex<HashMap<String, u64>>,
}

pub struct KinesisThrottler {
    pub port: u16,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl KinesisThrottler {
    /// Listens on a free 127.0.0.1 port and forwards to `target` (an endpoint URL such as
    /// `Moto::endpoint()`). Throttling starts off.
    pub async fn start(target: &str) -> Self {
        let state = Arc::new(State::default());
        let target = target.trim_end_matches('/').to_owned();
        let client = reqwest::Client::new();
        let s = state.clone();
        let route = warp::method()
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |method: Method,
                      path: warp::path::FullPath,
                      query: String,
                      headers: HeaderMap,
                      body: Bytes| {
                    let (s, client, target) = (s.clone(), client.clone(), target.clone());
                    async move {
                        if let Some(reply) = s.throttle(&headers, &body) {
                            return reply;
                        }
                        let url = match query.as_str() {
                            "" => format!("{target}{}", path.as_str()),
                            q => format!("{target}{}?{q}", path.as_str()),
                        };
                        forward(&client, method, &url, headers, body).await
                    }
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the throttler");
        let port = listener.local_addr().expect("local address").port();
        let task = tokio::spawn(warp::serve(route).incoming(listener).run());
        Self { port, state, task }
    }

    /// Its URL, for [`crate::kinesis::kinesis_client`] or a stream's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Throttles every `n`th GetRecords from now on (1: every one; 0: none), counting afresh.
    pub fn throttle_every(&self, n: u64) {
        self.state.matched.store(0, Ordering::SeqCst);
        self.state.every.store(n, Ordering::SeqCst);
    }

    /// Whether GetShardIterator calls are throttled (and counted) alongside GetRecords.
    pub fn throttle_get_shard_iterator(&self, on: bool) {
        self.state
            .get_shard_iterator_too
            .store(on, Ordering::SeqCst);
    }

    /// Stops throttling: everything is forwarded.
    pub fn off(&self) {
        self.state.every.store(0, Ordering::SeqCst);
    }

    /// How many requests were answered ProvisionedThroughputExceededException.
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::SeqCst)
    }

    /// How many requests of `operation` (`"GetRecords"`, `"ListShards"`, ...) arrived,
    /// throttled or forwarded.
    pub fn requests(&self, operation: &str) -> u64 {
        let seen = self.state.seen.lock().expect("counts");
        seen.get(operation).copied().unwrap_or(0)
    }
}

impl Drop for KinesisThrottler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl State {
    /// The throttling answer, if this request gets one.
    fn throttle(&self, headers: &HeaderMap, body: &[u8]) -> Option<Response<Bytes>> {
        let operation = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(TARGET_PREFIX))?;
        *self
            .seen
            .lock()
            .expect("counts")
            .entry(operation.to_owned())
            .or_default() += 1;
        let matches = operation == "GetRecords"
            || (operation == "GetShardIterator"
                && self.get_shard_iterator_too.load(Ordering::SeqCst));
        let every = self.every.load(Ordering::SeqCst);
        if !matches || every == 0 {
            return None;
        }
        if !(self.matched.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(every) {
            return None;
        }
        self.throttled.fetch_add(1, Ordering::SeqCst);
        let (stream, shard) = stream_and_shard(body);
        let message = format!(
            "Rate exceeded for shard {shard} in stream {stream} under account 123456789012."
        );
        let body = serde_json::json!({
            "__type": "ProvisionedThroughputExceededException",
            "message": message,
        });
        Some(
            Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amzn-requestid", uuid_like())
                .body(Bytes::from(body.to_string()))
                .expect("a throttling answer"),
        )
    }
}

/// The stream and shard a request names: GetShardIterator's StreamName and ShardId, or what a
/// moto shard iterator holds (base64 of `stream:shard:sequence`); `...` when unknown.
fn stream_and_shard(body: &[u8]) -> (String, String) {
    use base64::Engine;
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| v[name].as_str().map(str::to_owned);
    if let (Some(stream), Some(shard)) = (field("StreamName"), field("ShardId")) {
        return (stream, shard);
    }
    let decoded = field("ShardIterator")
        .map(|i| i.replace(['\n', '\r'], ""))
        .and_then(|i| base64::engine::general_purpose::STANDARD.decode(i).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().map(|d| d.split(':').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 3 => (parts[0].to_owned(), parts[1].to_owned()),
        _ => ("...".to_owned(), "...".to_owned()),
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        (n >> 48) as u32,
        n as u64 & 0xffff_ffff_ffff
    )
}

/// Sends the request on to the target and returns its answer as it came.
async fn forward(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    mut headers: HeaderMap,
    body: Bytes,
) -> Response<Bytes> {
    // The body is sent whole: its length is set again; the connection is this proxy's own.
    for h in ["content-length", "transfer-encoding", "connection"] {
        headers.remove(h);
    }
    let upstream = client
        .request(method, url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(r) => r,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Bytes::from(format!("the throttler's target: {e}")))
                .expect("a 502");
        }
    };
    let status = upstream.status();
    let mut headers = upstream.headers().clone();
    for h in ["content-length", "transfer-encoding", "connection"] {
        headers.remove(h);
    }
    let body = upstream.bytes().await.unwrap_or_default();
    let mut reply = Response::builder().status(status);
    if let Some(h) = reply.headers_mut() {
        *h = headers;
    }
    reply.body(body).expect("a forwarded answer")
}
