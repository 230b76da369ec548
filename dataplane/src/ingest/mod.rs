//! Ingest: the Firehose API (AWS JSON 1.1 on `POST /`) and a plain newline-delimited endpoint
//! (`POST /records`), both appending to the write-ahead log and answering only once the records
//! are durable.

pub mod describe;
pub mod error;
mod firehose;
pub mod limits;
mod plain;
pub mod sigv4;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::Filter;
use warp::filters::path::FullPath;
use warp::http::Response;

use crate::metrics::Metrics;
use crate::wal::{Wal, WalError};
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
}

impl Ingest {
    pub fn new(
        identity: StreamIdentity,
        description: serde_json::Value,
        wal: Wal,
        metrics: Metrics,
        credentials: Option<Credentials>,
    ) -> Self {
        Self {
            identity,
            description,
            wal,
            metrics,
            credentials,
            accepting: AtomicBool::new(true),
            record_id_prefix: uuid::Uuid::new_v4().simple().to_string(),
            reads_source: None,
        }
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
        let body =
            read_authenticated(&ingest, &method, path, &query, &headers, body, limit).await?;
        if path == "/" {
            firehose::dispatch(&ingest, target, &headers, &body).await
        } else {
            plain::put(&ingest, &body).await
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
            json_response(e.status, "application/x-amz-json-1.1", e.body())
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
) -> Result<Bytes, ApiError> {
    let body = read_body(headers, body, limit).await?;
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
            SystemTime::now(),
        )?;
    }
    Ok(body)
}

/// Collects a body, refusing it as soon as it is known to exceed `limit`.
async fn read_body<B: Buf>(
    headers: &HeaderMap,
    mut body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            ApiError::serialization(format!("The request body could not be read: {e}"))
        })?;
        if buf.len() + chunk.remaining() > limit {
            return Err(ApiError::too_large(limit));
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
    Ok(buf.freeze())
}

fn json_response(status: StatusCode, content_type: &'static str, body: String) -> Response<String> {
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
    response
}
