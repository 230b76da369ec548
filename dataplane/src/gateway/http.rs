//! The gateway's endpoint: the Firehose API on `POST /` — authenticated, authorized, scoped to
//! the key's namespace, then answered by the control plane over that namespace's resources or,
//! for puts, forwarded to the stream's pods — and `/healthz`, `/readyz` on `GET`.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures::Stream;
use http::{HeaderMap, Method, StatusCode};
use warp::Filter;
use warp::filters::path::FullPath;
use warp::http::Response;

use super::auth;
use super::cluster::ClusterStreams;
use super::forward::{self, Forwarder};
use super::keys::Keys;
use crate::control;
use crate::ingest::error::ApiError;
use crate::ingest::sigv4::SignedRequest;
use crate::ingest::{BodyMemory, closing_after_timeout, limits, read_body_bounded};
use crds::firehose::Environment;

pub struct Gateway {
    pub kube: kube::Client,
    pub env: Arc<Environment>,
    /// Replaced whole when the keys file changes.
    pub keys: RwLock<Arc<Keys>>,
    pub forwarder: Forwarder,
    /// A request's body must arrive within this, as on a stream's ingest port.
    pub body_timeout: std::time::Duration,
    /// The bodies being read hold at most this memory together.
    pub body_memory: BodyMemory,
}

impl Gateway {
    fn keys(&self) -> Arc<Keys> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

pub fn routes(
    gateway: Arc<Gateway>,
) -> impl Filter<Extract = (Response<Bytes>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap, body| {
                let gateway = gateway.clone();
                async move {
                    match (&method, path.as_str()) {
                        (&Method::POST, "/") => {
                            api(&gateway, &method, &query, &headers, body).await
                        }
                        (&Method::GET, "/healthz" | "/readyz") => text(StatusCode::OK, "ok\n"),
                        _ => text(
                            StatusCode::NOT_FOUND,
                            "Not Found: use POST / (Firehose API)\n",
                        ),
                    }
                }
            },
        )
}

/// One API request: its body read once, within the API's limit.
async fn api<B: Buf>(
    gateway: &Gateway,
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: impl Stream<Item = Result<B, warp::Error>> + Send + Unpin,
) -> Response<Bytes> {
    let started = Instant::now();
    let result = async {
        // The body's memory stays taken until the request is answered.
        let (body, _held) = read_body_bounded(
            headers,
            body,
            limits::MAX_BODY_BYTES,
            gateway.body_timeout,
            &gateway.body_memory,
        )
        .await?;
        let keys = gateway.keys();
        let request = SignedRequest {
            method: method.as_str(),
            path: "/",
            query,
            headers,
            body: &body,
        };
        let grant = auth::authenticate(&keys, &request, crate::support::clock::now())?;
        let operation = auth::operation(headers)?;
        auth::authorize(grant, operation, &body, &gateway.env)?;
        let store = ClusterStreams::new(gateway.kube.clone(), &grant.namespace, gateway.env.clone());
        if matches!(operation, "PutRecord" | "PutRecordBatch") {
            let name = control::stream_name(&body)?;
            let url = gateway
                .forwarder
                .route(&store, &grant.namespace, &name)
                .await?;
            return Ok(gateway.forwarder.forward(&url, headers, body).await);
        }
        let answer = control::dispatch(&store, operation, &body)
            .await
            .unwrap_or_else(|| Err(ApiError::unknown_operation(format!("Unknown operation {operation}"))))?;
        tracing::info!(operation, namespace = %grant.namespace, took = ?started.elapsed(), "answered");
        Ok(forward::json(StatusCode::OK, answer))
    }
    .await;
    result.unwrap_or_else(|e: ApiError| {
        tracing::debug!(error = e.kind, message = %e.message, took = ?started.elapsed(), "request refused");
        closing_after_timeout(forward::error_response(&e))
    })
}

fn text(status: StatusCode, body: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}
