//! The ingest port's connections: HTTP/1.1 and HTTP/2 (prior knowledge in plaintext, ALPN over
//! TLS) with the limits that keep a flood of connections or slow clients from taking memory
//! without bound or starving well-behaved producers (docs/security.md).
//!
//! - At most `max_connections` at once; beyond it a connection is accepted and closed at once,
//!   so the kernel's backlog never fills with connections nobody will serve.
//! - A new connection must deliver its first request's headers within `header_timeout`
//!   (slowloris, and connections that never send anything).
//! - A connection with no request in flight is closed `idle_timeout` after its last response,
//!   whether it is silent or dribbling the next request's headers.
//! - A request's body must arrive within `body_timeout`, and the bodies being read hold at
//!   most `body_memory_bytes` together (both enforced by the handler, which knows nothing was
//!   acknowledged yet).
//! - HTTP/2: at most `max_streams` concurrent streams per connection. HTTP/1.1 pipelined
//!   requests are read and answered one at a time, in order, so a pipelining client holds one
//!   request's memory, not its whole pipeline's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use warp::Filter;
use warp::http::Response;

/// A TLS handshake that has not finished by then is dropped (a client that connects and stalls).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may take at shutdown to finish what it has in flight before it is
/// dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// hyper's HTTP/1.1 read buffer: bounds what a client's request head can make the server hold.
const MAX_READ_BUFFER: usize = 64 << 10;
/// HTTP/2's bound on a request's header block.
const MAX_HEADER_LIST: u32 = 64 << 10;

/// The filters a Firehose port serves (the API of one stream, of `hydrant serve`, or the
/// cluster gateway's), answering with responses of body `B`.
pub trait IngestRoutes<B>:
    Filter<Extract = (Response<B>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
}

impl<F, B> IngestRoutes<B> for F where
    F: Filter<Extract = (Response<B>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
}

/// The ingest port's connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    /// Bytes of request bodies held at once, across connections (enforced by the handler).
    pub body_memory_bytes: usize,
    pub max_streams: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            body_memory_bytes: super::body_memory::DEFAULT_BODY_MEMORY_BYTES,
            max_streams: 100,
        }
    }
}

/// What a connection is doing: requests in flight, and when it may be closed if none is.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` at which a connection with nothing in flight is closed.
    close_at_ms: AtomicU64,
}

impl Activity {
    fn new(header_timeout: Duration) -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            close_at_ms: AtomicU64::new(header_timeout.as_millis() as u64),
        }
    }

    fn close_at(&self) -> Instant {
        self.started + Duration::from_millis(self.close_at_ms.load(Ordering::Acquire))
    }

    /// Resolves once the connection has had nothing in flight past its deadline.
    async fn idle(&self, idle_timeout: Duration) {
        loop {
            let deadline = self.close_at();
            if Instant::now() < deadline {
                tokio::time::sleep_until(deadline).await;
            } else if self.in_flight.load(Ordering::Acquire) > 0 {
                // A request is being served: its end moves the deadline.
                tokio::time::sleep(idle_timeout.min(Duration::from_secs(1))).await;
            } else {
                return;
            }
        }
    }
}

/// Held while a request is served; its drop (response ready, or request abandoned) restarts
/// the idle clock.
struct InFlight {
    activity: Arc<Activity>,
    idle_timeout: Duration,
}

impl InFlight {
    fn begin(activity: &Arc<Activity>, idle_timeout: Duration) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self {
            activity: activity.clone(),
            idle_timeout,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.activity;
        let close_at = a.started.elapsed() + self.idle_timeout;
        a.close_at_ms
            .store(close_at.as_millis() as u64, Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `routes` on `listener` (over TLS with `tls`) under `limits` until `stop` turns true,
/// then lets open connections finish their requests (for at most [`CLOSE_GRACE`]).
pub async fn serve<F, B>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    routes: F,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    F: IngestRoutes<B>,
    Response<B>: warp::Reply,
    B: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Ok((tcp, _peer)) = accepted else {
            // Out of file descriptors or a connection reset before accept: keep listening.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed at once (dropped): the client sees a reset and can retry elsewhere.
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max = limits.max_connections,
                    refused,
                    "ingest connection limit reached; closing new connections"
                );
            }
            continue;
        };
        let routes = routes.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(tcp, routes, limits, stop).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => connection(tls, routes, limits, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    // Every open connection holds a slot: all of them back means all have closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// Serves one connection until it ends, idles past its deadline, or the server stops.
async fn connection<I, F, B>(
    io: I,
    routes: F,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: IngestRoutes<B>,
    Response<B>: warp::Reply,
    B: Send + 'static,
{
    let activity = Arc::new(Activity::new(limits.header_timeout));
    let idle_timeout = limits.idle_timeout;
    let tracked = {
        let activity = activity.clone();
        warp::any()
            .map(move || InFlight::begin(&activity, idle_timeout))
            .and(routes)
            .map(|in_flight: InFlight, response: Response<B>| {
                drop(in_flight);
                response
            })
    };
    let service = TowerToHyperService::new(warp::service(tracked));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(MAX_READ_BUFFER)
        // The idle clock covers reading headers (hyper's own timeout would need a timer and
        // would also cut keep-alive connections at the header timeout).
        .header_read_timeout(None);
    builder
        .http2()
        .max_concurrent_streams(limits.max_streams)
        .max_header_list_size(MAX_HEADER_LIST);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "ingest connection ended with an error");
            }
            return;
        }
        () = activity.idle(idle_timeout) => {
            // Nothing in flight, so nothing to finish: dropped, not shut down gracefully
            // (hyper would wait for a half-read request head to complete).
            tracing::debug!("closing an idle ingest connection");
            return;
        }
        _ = stop.wait_for(|stop| *stop) => {}
    };
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(CLOSE_GRACE, conn).await.is_err() {
        tracing::debug!("ingest connection did not close in time; dropped");
    }
}
