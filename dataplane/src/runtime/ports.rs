//! The listeners of a stream process: the ingest port and the observability port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::ingest::connections::{self, ConnectionLimits, IngestRoutes};
use crate::ingest::tls::{self, CertificateFiles};
use crate::server::Observed;

/// Serves `/metrics`, `/healthz`, `/readyz` and `/status`, and refreshes the gauges.
pub async fn serve_observability(observed: Arc<Observed>, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics port {addr}"))?;
    let server = warp::serve(crate::server::routes(observed.clone())).incoming(listener);
    tokio::spawn(server.run());
    tokio::spawn(async move {
        loop {
            observed.update_gauges();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(())
}

/// Serves the Firehose API on `addr` under `limits`, over TLS when `tls` names the
/// certificate's files.
pub async fn serve_ingest<B>(
    routes: impl IngestRoutes<B>,
    addr: SocketAddr,
    tls: Option<CertificateFiles>,
    limits: ConnectionLimits,
) -> anyhow::Result<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>
where
    warp::http::Response<B>: warp::Reply,
    B: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the ingest port {addr}"))?;
    let (stop, stop_rx) = watch::channel(false);
    let Some(files) = tls else {
        let task = tokio::spawn(connections::serve(listener, None, routes, limits, stop_rx));
        return Ok((stop, task));
    };
    let (acceptor, reload) =
        tls::acceptor(files).context("loading the ingest port's TLS certificate")?;
    let task = tokio::spawn(async move {
        connections::serve(listener, Some(acceptor), routes, limits, stop_rx).await;
        reload.abort();
    });
    Ok((stop, task))
}
