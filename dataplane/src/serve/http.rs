//! The one endpoint of `hydrant serve`: the Firehose API on `POST /` (puts routed by
//! `DeliveryStreamName`, the other operations answered by the control plane) and
//! `/metrics`, `/healthz`, `/readyz`, `/status` on `GET`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Buf;
use futures::Stream;
use http::{HeaderMap, Method, StatusCode};
use warp::Filter;
use warp::filters::path::FullPath;
use warp::http::Response;

use super::local::LocalStreams;
use crate::control;
use crate::ingest::error::ApiError;
use crate::ingest::sigv4::{self, Credentials};
use crate::ingest::{
    BodyMemory, closing_after_timeout, firehose, json_response, limits, read_body_bounded,
};
use crate::metrics::Metrics;

pub struct Endpoint {
    pub streams: LocalStreams,
    /// SigV4 keys requests must be signed with; `None` accepts any (or no) signature.
    pub credentials: Option<Credentials>,
    /// A request's body must arrive within this, as on a stream's own ingest port.
    pub body_timeout: Duration,
    /// The bodies being read hold at most this memory together.
    pub body_memory: BodyMemory,
}

pub fn routes(
    endpoint: Arc<Endpoint>,
) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap, body| {
                let endpoint = endpoint.clone();
                async move {
                    match (method.clone(), path.as_str()) {
                        (Method::POST, "/") => {
                            api(&endpoint, &method, &query, &headers, body).await
                        }
                        (Method::GET, p) => observe(&endpoint, p),
                        _ => json_response(
                            StatusCode::NOT_FOUND,
                            "application/json",
                            r#"{"message":"Not Found: use POST / (Firehose API)"}"#.into(),
                        ),
                    }
                }
            },
        )
}

async fn api<B: Buf>(
    endpoint: &Endpoint,
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
) -> Response<String> {
    let started = Instant::now();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let result = async {
        // The body's memory stays taken until the request is answered.
        let (body, mut held) = read_body_bounded(
            headers,
            body,
            limits::MAX_BODY_BYTES,
            endpoint.body_timeout,
            &endpoint.body_memory,
        )
        .await?;
        if let Some(credentials) = &endpoint.credentials {
            sigv4::verify(
                credentials,
                &sigv4::SignedRequest {
                    method: method.as_str(),
                    path: "/",
                    query,
                    headers,
                    body: &body,
                },
                crate::support::clock::now(),
            )?;
        }
        let operation = target.strip_prefix("Firehose_20150804.").unwrap_or("");
        match operation {
            "PutRecord" | "PutRecordBatch" => {
                put(endpoint, &target, headers, &body, &mut held).await
            }
            _ => match control::dispatch(&endpoint.streams, operation, &body).await {
                Some(result) => result,
                None => Err(ApiError::unknown_operation(if target.is_empty() {
                    "Missing X-Amz-Target header".to_owned()
                } else {
                    format!("Unknown operation {target}")
                })),
            },
        }
    }
    .await;
    match result {
        Ok(body) => json_response(StatusCode::OK, "application/x-amz-json-1.1", body),
        Err(e) => {
            tracing::debug!(target = %target, error = e.kind, message = %e.message, took = ?started.elapsed(), "request refused");
            closing_after_timeout(json_response(
                e.status,
                "application/x-amz-json-1.1",
                e.body(),
            ))
        }
    }
}

/// Routes a put to its stream's ingest, which answers it as a single-stream process would.
async fn put(
    endpoint: &Endpoint,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    held: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<String, ApiError> {
    let name = control::stream_name(body)?;
    let account = &control::StreamStore::environment(&endpoint.streams).account;
    // A stream being created or restarted (an update, an encryption switch) has no route for
    // a moment: the put waits for it rather than failing.
    let deadline = Instant::now() + RESTART_WAIT;
    loop {
        if let Some(route) = endpoint.streams.route(&name) {
            return firehose::dispatch(&route.ingest, target, headers, body, held).await;
        }
        match endpoint.streams.status(&name) {
            Some("ACTIVE" | "CREATING") if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some("ACTIVE" | "CREATING") => {
                return Err(ApiError::unavailable(
                    "The delivery stream is restarting with a new configuration; retry.",
                ));
            }
            Some(status) => return Err(ApiError::not_found_state(&name, account, status)),
            None => return Err(ApiError::not_found(&name, account)),
        }
    }
}

/// How long a put waits for a stream that is starting.
const RESTART_WAIT: Duration = Duration::from_secs(10);

fn observe(endpoint: &Endpoint, path: &str) -> Response<String> {
    let routes = endpoint.streams.routes();
    match path {
        "/metrics" => {
            for r in &routes {
                r.observed.update_gauges();
            }
            let text = Metrics::render_all(routes.iter().map(|r| &r.ingest.metrics));
            text_response(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text,
            )
        }
        "/healthz" | "/readyz" => text_response(StatusCode::OK, "text/plain", "ok\n".into()),
        "/status" => {
            let reports: Vec<_> = routes.iter().map(|r| r.observed.report()).collect();
            text_response(
                StatusCode::OK,
                "application/json",
                serde_json::to_string(&reports).unwrap_or_default(),
            )
        }
        _ => text_response(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn text_response(status: StatusCode, content_type: &'static str, body: String) -> Response<String> {
    json_response(status, content_type, body)
}
