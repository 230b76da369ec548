//! Leader election on a Lease: every replica runs, only the holder reconciles.

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub duration_seconds: u64,
}

/// Starts campaigning; the receiver says whether this process leads. Dropping the receiver
/// releases the lease (on SIGTERM) so another replica takes over at once.
pub async fn campaign(
    client: Client,
    config: &LeaseConfig,
) -> anyhow::Result<(watch::Receiver<bool>, tokio::task::JoinHandle<()>)> {
    let manager = LeaseManagerBuilder::new(client, &config.name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(config.duration_seconds)
        .with_grace(2)
        .with_field_manager(crate::config::FIELD_MANAGER)
        .build()
        .await?;
    let (receiver, task) = manager.watch().await;
    let handle = tokio::spawn(async move {
        match task.await {
            Ok(Ok(_)) => tracing::info!("lease released"),
            Ok(Err(e)) => tracing::warn!(error = %e, "lease manager stopped"),
            Err(e) => tracing::warn!(error = %e, "lease task failed"),
        }
    });
    Ok((receiver, handle))
}
