//! `hydrant serve --data-dir DIR`: a local Firehose. One process, one endpoint, any number of
//! streams, created through the API (CreateDeliveryStream and the rest) or from manifests put
//! in `DIR/streams/`; each keeps its own log under `DIR/logs/`, so streams and their
//! undelivered records survive restarts and crashes.

mod files;
mod http;
mod local;
mod supervisor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::ingest::BodyMemory;
use crate::ingest::sigv4::Credentials;
use crate::runtime::{self, Options};
use crds::firehose::Environment;
pub use files::Layout;
pub use local::LocalStreams;

/// Settings of `hydrant serve`.
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    pub max_streams: usize,
    /// How the API's AWS names resolve here.
    pub environment: Environment,
    /// Signed requests are verified with these keys when set.
    pub credentials_dir: Option<PathBuf>,
    /// Shared by every stream (log directory and version are per stream).
    pub stream: Options,
    /// How often `DIR/streams/` is looked at for manifests added, edited or removed by hand.
    pub rescan_every: Duration,
}

pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let layout = Layout {
        root: options.data_dir.clone(),
    };
    layout.create_dirs()?;
    let credentials = match &options.credentials_dir {
        Some(dir) => Some(
            Credentials::from_dir(dir)
                .with_context(|| format!("reading SigV4 keys from {}", dir.display()))?,
        ),
        None => None,
    };
    let stream_options = Options {
        secrets_dir: layout.secrets(),
        ..options.stream.clone()
    };
    let streams = LocalStreams::new(
        options.environment,
        layout.clone(),
        stream_options,
        options.max_streams,
    );
    // Streams on disk start before the endpoint answers, so a restarted process never
    // reports a stream it has as unknown.
    for file in files::manifest_files(&layout.streams())? {
        if let Err(e) = streams.adopt(file.clone()) {
            tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "ignoring a manifest");
        }
    }
    let limits = options.stream.ingest_limits;
    let endpoint = Arc::new(http::Endpoint {
        streams: streams.clone(),
        credentials,
        body_timeout: limits.body_timeout,
        body_memory: BodyMemory::new(limits.body_memory_bytes),
    });
    let (stop, task) = runtime::serve_ingest(
        http::routes(endpoint),
        options.addr,
        None,
        options.stream.ingest_limits,
    )
    .await?;
    tracing::info!(
        addr = %options.addr,
        data_dir = %options.data_dir.display(),
        "hydrant serve: Firehose API listening"
    );
    let rescan = {
        let streams = streams.clone();
        let every = options.rescan_every;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = streams.rescan() {
                    tracing::warn!(error = %format!("{e:#}"), "looking for manifests failed");
                }
            }
        })
    };
    lifecycle::wait_for_signal().await;
    tracing::info!("shutting down: every stream delivers what it has buffered");
    runtime::exit_on_second_signal();
    rescan.abort();
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .is_err()
    {
        tracing::warn!("connections did not close within 10 s; continuing shutdown");
    }
    streams.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
