//! `hydrant gateway`: one Firehose endpoint for a cluster. Each request is signed by a key of
//! the keys file, which names the namespace it works in; the control-plane operations are
//! answered over that namespace's DeliveryStream resources (the operator turns them into
//! pods, a Service and status), and puts are forwarded to the stream's Service.

mod auth;
mod cluster;
mod forward;
mod http;
mod keys;
mod merge;
mod resource;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;

use crate::ingest::BodyMemory;
use crate::ingest::connections::ConnectionLimits;
pub use cluster::ClusterStreams;
use crds::firehose::Environment;
pub use keys::{Keys, KeysError};

/// How often the keys file is read again (a mounted Secret changes in place).
const KEYS_RELOAD: Duration = Duration::from_secs(10);

/// Settings of `hydrant gateway`.
pub struct GatewayOptions {
    pub addr: SocketAddr,
    pub keys_file: PathBuf,
    /// How the API's AWS names resolve in this cluster (`SecretPolicy::Reference`).
    pub environment: Environment,
}

pub async fn gateway(options: GatewayOptions) -> anyhow::Result<()> {
    let account = options.environment.account.clone();
    let keys = Keys::read(&options.keys_file, &account)?;
    anyhow::ensure!(
        !keys.is_empty(),
        "{} lists no keys: every request must be signed by one",
        options.keys_file.display()
    );
    let kube = kube::Client::try_default()
        .await
        .context("connecting to the cluster's API server")?;
    let key_count = keys.len();
    // The same connection and body limits as a stream's ingest port (their defaults).
    let limits = ConnectionLimits::default();
    let gateway = Arc::new(http::Gateway {
        kube,
        env: Arc::new(options.environment),
        keys: RwLock::new(Arc::new(keys)),
        forwarder: forward::Forwarder::new().context("building the HTTP client")?,
        body_timeout: limits.body_timeout,
        body_memory: BodyMemory::new(limits.body_memory_bytes),
    });
    let reload = tokio::spawn(reload_keys(gateway.clone(), options.keys_file, account));
    tracing::info!(addr = %options.addr, keys = key_count, "hydrant gateway: Firehose API listening");
    let (stop, task) =
        crate::runtime::serve_ingest(http::routes(gateway), options.addr, None, limits).await?;
    lifecycle::wait_for_signal().await;
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .is_err()
    {
        tracing::warn!("connections did not close within 10 s; stopping");
    }
    reload.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Reads the keys file again every [`KEYS_RELOAD`]; a file that cannot be used keeps the keys
/// in force (and says why).
async fn reload_keys(gateway: Arc<http::Gateway>, file: PathBuf, account: String) {
    let mut last = std::fs::read_to_string(&file).unwrap_or_default();
    loop {
        tokio::time::sleep(KEYS_RELOAD).await;
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text == last {
            continue;
        }
        match Keys::parse(&text, &account) {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), file = %file.display(), "keys reloaded");
                *gateway
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
            }
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "keeping the previous keys");
            }
        }
        last = text;
    }
}
