//! Ingest: the Firehose API (AWS JSON 1.1 on `POST /`) and a plain newline-delimited endpoint
//! (`POST /records`), both appending to the write-ahead log and answering only once the records
//! are durable.

pub mod body_memory;
pub mod connections;
pub mod describe;
pub mod error;
pub(crate) mod firehose;
pub mod limits;
pub(crate) mod plain;
pub(crate) mod request_body;
mod signing_keys;
pub mod sigv4;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::Filter;
use warp::filters::path::FullPath;
use warp::http::Response;

use crate::metrics::Metrics;
use crate::wal::{Wal, WalError};
pub use body_memory::{BodyMemory, DEFAULT_BODY_MEMORY_BYTES, FREE_BODY_BYTES};
use error::ApiError;
use sigv4::Credentials;

/// Identity of the stream this process serves.
#[derive(Debug, Clone)]
pub struct StreamIdentity {
    pub name: String,
    pub account: String,
    pub region: String,
    pub version_id: String,
}

impl StreamIdentity {
    /// `arn:aws:firehose:<region>:<account>:deliverystream/<name>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:firehose:{}:{}:deliverystream/{}",
            self.region, self.account, self.name
        )
    }
}

/// Everything a request handler needs.
pub struct Ingest {
    pub identity: StreamIdentity,
    /// `DeliveryStreamDescription` JSON answered by DescribeDeliveryStream.
    pub description: serde_json::Value,
    pub wal: Wal,
    pub metrics: Metrics,
    /// SigV4 credentials; `None` accepts any (or no) signature.
    pub credentials: Option<Credentials>,
    accepting: AtomicBool,
    record_id_prefix: String,
    /// The `DeliveryStreamType` of a stream that reads its own source: puts are refused.
    reads_source: Option<&'static str>,
    /// A request's body must arrive within this (a trickled body holds memory and a slot).
    body_timeout: Duration,
    body_memory: BodyMemory,
}

impl Ingest {
    pub fn new(
        identity: StreamIdentity,
        description: serde_json::Value,
        wal: Wal,
        metrics: Metrics,
        credentials: Option<Credentials>,
    ) -> Self {
        let defaults = connections::ConnectionLimits::default();
        Self {
            identity,
            description,
            wal,
            metrics,
            credentials,
            accepting: AtomicBool::new(true),
            record_id_prefix: uuid::Uuid::new_v4().simple().to_string(),
            reads_source: None,
            body_timeout: defaults.body_timeout,
            body_memory: BodyMemory::new(defaults.body_memory_bytes),
        }
    }

    /// Cuts off request bodies that take longer than `limits.body_timeout` to arrive, and
    /// holds at most `limits.body_memory_bytes` of bodies at once.
    pub fn with_body_limits(mut self, limits: &connections::ConnectionLimits) -> Self {
        self.body_timeout = limits.body_timeout;
        self.body_memory = BodyMemory::new(limits.body_memory_bytes);
        self
    }

    /// Refuses PutRecord and PutRecordBatch: the stream reads its records from a Kinesis
    /// stream or a Kafka topic (`stream_type` is its `DeliveryStreamType`).
    pub fn refusing_puts(mut self, stream_type: &'static str) -> Self {
        self.reads_source = Some(stream_type);
        self
    }

    /// Firehose's answer to a put on a stream with another source.
    fn check_puts(&self) -> Result<(), ApiError> {
        match self.reads_source {
            None => Ok(()),
            Some(stream_type) => Err(ApiError::invalid_argument(format!(
                "This operation is not permitted on {stream_type} delivery stream type."
            ))),
        }
    }

    /// Stops accepting records (shutdown): puts get ServiceUnavailableException from now on.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    /// Opaque record id: this process's random prefix and the log sequence number.
    fn record_id(&self, seq: u64) -> String {
        format!("{}{seq:016x}", self.record_id_prefix)
    }

    /// Appends frames, mapping log errors to Firehose errors.
    async fn append(
        &self,
        frames: crate::wal::FrameBatch,
    ) -> Result<crate::wal::Appended, ApiError> {
        if !self.is_accepting() {
            return Err(ApiError::unavailable(
                "The delivery stream is shutting down; retry against another replica.",
            ));
        }
        let records = frames.records();
        match self.wal.append(frames).await {
            Ok(a) => Ok(a),
            Err(WalError::Full | WalError::TooLarge) => {
                self.metrics.throttled_records.inc_by(records);
                Err(ApiError::slow_down())
            }
            // The writer logs the episode once; a log line per refused request would flood.
            Err(WalError::NoSpace) => Err(ApiError::unavailable(
                "The delivery stream's buffer volume is out of space; retry later.",
            )),
            Err(e) => {
                tracing::error!(error = %e, "append to the write-ahead log failed");
                Err(ApiError::unavailable(
                    "The delivery stream cannot store records right now.",
                ))
            }
        }
    }
}

/// The routes of the ingest port.
pub fn routes(
    ingest: Arc<Ingest>,
) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method, path: FullPath, query: String, headers, body| {
                let ingest = ingest.clone();
                async move { handle(ingest, method, path, query, headers, body).await }
            },
        )
}

async fn handle<B: Buf>(
    ingest: Arc<Ingest>,
    method: Method,
    path: FullPath,
    query: String,
    headers: HeaderMap,
    body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
) -> Response<String> {
    let started = Instant::now();
    let path = path.as_str();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (operation, limit) = match (&method, path) {
        (&Method::POST, "/") => (
            target
                .strip_prefix("Firehose_20150804.")
                .unwrap_or("Unknown"),
            limits::MAX_BODY_BYTES,
        ),
        (&Method::POST, "/records") => ("PlainPut", limits::MAX_PLAIN_BODY_BYTES),
        _ => {
            return json_response(
                StatusCode::NOT_FOUND,
                "application/json",
                r#"{"message":"Not Found: use POST / (Firehose API) or POST /records (newline-delimited records)"}"#.into(),
            );
        }
    };
    let result = async {
        let read = read_authenticated(&ingest, &method, path, &query, &headers, body, limit);
        // The body's memory stays taken until the records are in the log.
        let (body, mut held) = tokio::time::timeout(ingest.body_timeout, read)
            .await
            .map_err(|_| ApiError::body_timeout(ingest.body_timeout))??;
        if path == "/" {
            firehose::dispatch(&ingest, target, &headers, &body, &mut held).await
        } else {
            plain::put(&ingest, &body, &mut held).await
        }
    }
    .await;
    let label = match operation {
        "PutRecord"
        | "PutRecordBatch"
        | "DescribeDeliveryStream"
        | "ListDeliveryStreams"
        | "PlainPut" => operation,
        _ => "Other",
    };
    ingest
        .metrics
        .put_request_duration
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(body) => json_response(StatusCode::OK, "application/x-amz-json-1.1", body),
        Err(e) => {
            ingest
                .metrics
                .api_errors
                .with_label_values(&[label, e.kind])
                .inc();
            tracing::debug!(operation = label, error = e.kind, message = %e.message, "request refused");
            closing_after_timeout(json_response(
                e.status,
                "application/x-amz-json-1.1",
                e.body(),
            ))
        }
    }
}

/// Reads the body within `limit` and verifies its signature when credentials are configured.
async fn read_authenticated<B: Buf>(
    ingest: &Ingest,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    limit: usize,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), ApiError> {
    let (body, held) = read_body_within(headers, body, limit, &ingest.body_memory).await?;
    if let Some(credentials) = &ingest.credentials {
        sigv4::verify(
            credentials,
            &sigv4::SignedRequest {
                method: method.as_str(),
                path,
                query,
                headers,
                body: &body,
            },
            crate::support::clock::now(),
        )?;
    }
    Ok((body, held))
}

/// A 408 response closes its connection: the rest of the body may still be on its way.
pub(crate) fn closing_after_timeout<B>(mut response: Response<B>) -> Response<B> {
    if response.status() == StatusCode::REQUEST_TIMEOUT {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body read as the ingest port reads one, for the other Firehose endpoints
/// (`hydrant serve`, the gateway): within `limit`, taking its bytes from `memory` as they
/// arrive, and refused (408) unless whole within `timeout`. The permits come back with it.
pub(crate) async fn read_body_bounded<B: Buf>(
    headers: &HeaderMap,
    body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    limit: usize,
    timeout: Duration,
    memory: &BodyMemory,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), ApiError> {
    tokio::time::timeout(timeout, read_body_within(headers, body, limit, memory))
        .await
        .map_err(|_| ApiError::body_timeout(timeout))?
}

/// Collects a body, refusing it as soon as it is known to exceed `limit`, and taking its bytes
/// from `memory` as they arrive; the permits are returned with the body and released when
/// dropped.
async fn read_body_within<B: Buf>(
    headers: &HeaderMap,
    mut body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    limit: usize,
    memory: &BodyMemory,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), ApiError> {
    let mut held = None;
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    // A large declared length is not taken on trust: past 1 MiB, capacity grows with what
    // arrives.
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(1 << 20) as usize);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            ApiError::serialization(format!("The request body could not be read: {e}"))
        })?;
        if buf.len() + chunk.remaining() > limit {
            return Err(ApiError::too_large(limit));
        }
        let beyond = |len: usize| len.saturating_sub(FREE_BODY_BYTES);
        let more = beyond(buf.len() + chunk.remaining()) - beyond(buf.len());
        if more > 0 {
            memory.take(&mut held, more).await?;
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let n = piece.len();
            buf.extend_from_slice(piece);
            chunk.advance(n);
        }
    }
    if let Some(len) = declared
        && len != buf.len() as u64
    {
        return Err(ApiError::serialization(
            "The request body is shorter than its Content-Length.",
        ));
    }
    Ok((buf.freeze(), held))
}

pub(crate) fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    // The SDKs correct their clock skew from the Date header: it tells the time signatures are
    // checked against (hyper's own would ignore the clock seam).
    if let Some(date) = date_header() {
        headers.insert(http::header::DATE, date);
    }
    response
}

/// The `Date` header for now, formatted once a second per thread (as hyper does for its own)
/// rather than for every response.
fn date_header() -> Option<HeaderValue> {
    thread_local! {
        static DATE: std::cell::RefCell<Option<(u64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let second = crate::support::clock::now_ms() / 1000;
    DATE.with_borrow_mut(|cached| {
        if let Some((at, value)) = cached.as_ref()
            && *at == second
        {
            return Some(value.clone());
        }
        let text = crate::support::clock::time_of(second * 1000)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let value = HeaderValue::from_str(&text).ok()?;
        *cached = Some((second, value.clone()));
        Some(value)
    })
}
