//! PutRecord and PutRecordBatch, forwarded to the stream's Service: the body read once (the
//! signature and `DeliveryStreamName` needed it), the request's headers, and the pod's answer
//! — status, headers, body — returned as it came, so backpressure (a 503) and every error the
//! ingest gives reach the producer unchanged. One pooled client for every stream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};
use warp::http::Response;

use super::cluster::ClusterStreams;
use super::resource;
use crate::control::store::{StreamStatus, StreamStore};
use crate::ingest::error::ApiError;

/// How long a stream's route is reused before the resource is read again.
const ROUTE_TTL: Duration = Duration::from_secs(5);
/// How long "no such stream" is remembered (puts to a stream just created find it soon).
const MISS_TTL: Duration = Duration::from_secs(1);
/// More routes than this and the cache starts over (it is rebuilt by the next puts).
const MAX_ROUTES: usize = 10_000;

/// Headers that describe one connection, not the request: never forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A stream: its namespace and API name.
type RouteKey = (String, String);
/// When a route was resolved, and to what.
type Resolved = (Instant, Result<String, ApiError>);

pub struct Forwarder {
    client: reqwest::Client,
    routes: Mutex<HashMap<RouteKey, Resolved>>,
}

impl Forwarder {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            routes: Mutex::new(HashMap::new()),
        })
    }

    /// The URL puts to `name` in `namespace` go to: its Service, while the stream is ACTIVE.
    pub async fn route(
        &self,
        store: &ClusterStreams,
        namespace: &str,
        name: &str,
    ) -> Result<String, ApiError> {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some((at, route)) = lock(&self.routes).get(&key) {
            let ttl = if route.is_ok() { ROUTE_TTL } else { MISS_TTL };
            if at.elapsed() < ttl {
                return route.clone();
            }
        }
        let route = self.resolve(store, namespace, name).await;
        let mut routes = lock(&self.routes);
        if routes.len() >= MAX_ROUTES {
            routes.clear();
        }
        routes.insert(key, (Instant::now(), route.clone()));
        route
    }

    async fn resolve(
        &self,
        store: &ClusterStreams,
        namespace: &str,
        name: &str,
    ) -> Result<String, ApiError> {
        let object = store.fetch(name).await?;
        let account = &store.environment().account;
        match resource::stored(&object)?.status {
            StreamStatus::Active => Ok(resource::endpoint(&object, namespace)),
            other => Err(ApiError::not_found_state(
                name,
                account,
                other.as_firehose(),
            )),
        }
    }

    /// Sends the put to `url` and returns the pod's answer as it is.
    pub async fn forward(&self, url: &str, headers: &HeaderMap, body: Bytes) -> Response<Bytes> {
        let mut request = self.client.post(format!("{}/", url.trim_end_matches('/')));
        for (name, value) in headers {
            if forwarded(name) {
                request = request.header(name, value);
            }
        }
        let answer = match request.body(body).send().await {
            Ok(answer) => answer,
            Err(e) => return unreachable(url, &e),
        };
        let status = answer.status();
        let mut response_headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::CONTENT_LENGTH {
                response_headers.append(name.clone(), value.clone());
            }
        }
        let body = match answer.bytes().await {
            Ok(body) => body,
            Err(e) => return unreachable(url, &e),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = response_headers;
        response
    }
}

/// Whether a request header goes on to the pod: all but the connection's own, `Host` (the
/// pod's Service is another host), `Content-Length` (set for the body sent) and `Expect` (the
/// body was already received).
fn forwarded(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str())
        && name != http::header::HOST
        && name != http::header::CONTENT_LENGTH
        && name != http::header::EXPECT
}

/// The pods could not be asked: ServiceUnavailableException, which SDKs retry.
fn unreachable(url: &str, error: &reqwest::Error) -> Response<Bytes> {
    tracing::warn!(url, error = %error, "forwarding a put failed");
    let e = ApiError::unavailable("The delivery stream's pods cannot be reached right now; retry.");
    error_response(&e)
}

/// An API error as the gateway answers it.
pub fn error_response(e: &ApiError) -> Response<Bytes> {
    json(e.status, e.body())
}

/// An AWS JSON 1.1 answer.
pub fn json(status: StatusCode, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_headers_host_and_length_stay_behind() {
        for name in [
            "connection",
            "transfer-encoding",
            "host",
            "content-length",
            "expect",
        ] {
            assert!(!forwarded(&HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "authorization",
            "x-amz-target",
            "x-amz-date",
            "content-type",
        ] {
            assert!(forwarded(&HeaderName::from_static(name)), "{name}");
        }
    }
}
