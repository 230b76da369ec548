//! One task per stream of `hydrant serve`: it owns the running stream and carries out what the
//! control plane asks — restart with a new spec, delete (draining first or not), shut down —
//! one command at a time, so a slow drain never holds the registry's lock.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::files::PendingDelete;
use super::local::{Inner, Route};
use crate::control::store::StreamStatus;
use crate::runtime::RunningStream;
use crds::DeliveryStream;

pub enum Command {
    /// Stop the stream and start it again with this manifest (same log).
    Restart(Box<DeliveryStream>),
    Delete(PendingDelete),
    /// Process shutdown: stop, keeping everything on disk.
    Shutdown,
}

pub async fn supervise(
    inner: Arc<Inner>,
    name: String,
    manifest: DeliveryStream,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut running = start(&inner, &name, &manifest).await;
    loop {
        let command = match running.as_mut() {
            Some(r) => tokio::select! {
                c = commands.recv() => c,
                e = r.failed() => {
                    tracing::error!(stream = %name, error = %e, "the stream's log failed; it stops until restarted");
                    inner.unroute(&name);
                    if let Some(r) = running.take() {
                        stop(&name, r, true).await;
                    }
                    inner.set_status(&name, StreamStatus::CreatingFailed(format!("the write-ahead log failed: {e}")));
                    continue;
                }
            },
            None => commands.recv().await,
        };
        match command {
            Some(Command::Restart(next)) => {
                inner.unroute(&name);
                if let Some(r) = running.take() {
                    stop(&name, r, false).await;
                }
                running = start(&inner, &name, &next).await;
                inner.encryption_switched(&name);
            }
            Some(Command::Delete(mode)) => {
                if delete(&inner, &name, running.take(), mode, &mut commands).await {
                    return;
                }
                // Shut down while draining: the pending delete resumes at the next start.
                return;
            }
            Some(Command::Shutdown) | None => {
                inner.unroute(&name);
                if let Some(r) = running.take() {
                    stop(&name, r, false).await;
                }
                return;
            }
        }
    }
}

/// Starts the stream and routes its puts; a failure leaves it CREATING_FAILED.
async fn start(inner: &Arc<Inner>, name: &str, manifest: &DeliveryStream) -> Option<RunningStream> {
    let options = inner.stream_options(name, manifest);
    match RunningStream::start(manifest, &options).await {
        Ok(r) => {
            r.mark_ready();
            inner.route(
                name,
                Route {
                    ingest: r.ingest.clone(),
                    observed: r.observed.clone(),
                },
            );
            tracing::info!(stream = %name, destination = r.destination_kind, "stream running");
            inner.activate(name);
            Some(r)
        }
        Err(e) => {
            tracing::error!(stream = %name, error = %format!("{e:#}"), "the stream could not start");
            inner.set_status(name, StreamStatus::CreatingFailed(format!("{e:#}")));
            None
        }
    }
}

async fn stop(name: &str, running: RunningStream, log_failed: bool) {
    if let Err(e) = running.stop(log_failed).await {
        tracing::error!(stream = %name, error = %format!("{e:#}"), "stopping the stream failed");
    }
}

/// Drains (unless forced), stops, and removes the stream with its files. Returns false when a
/// shutdown interrupted the drain (the delete stays pending in the manifest).
async fn delete(
    inner: &Arc<Inner>,
    name: &str,
    running: Option<RunningStream>,
    mut mode: PendingDelete,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> bool {
    if let Some(mut r) = running {
        r.stop_accepting();
        while mode == PendingDelete::Drain {
            tokio::select! {
                drained = r.drained() => {
                    if let Err(e) = drained {
                        tracing::error!(stream = %name, error = %format!("{e:#}"), "draining before the delete failed");
                    }
                    break;
                }
                c = commands.recv() => match c {
                    Some(Command::Delete(PendingDelete::Force)) => mode = PendingDelete::Force,
                    Some(Command::Shutdown) | None => {
                        inner.unroute(name);
                        stop(name, r, false).await;
                        return false;
                    }
                    Some(_) => {}
                },
            }
        }
        inner.unroute(name);
        stop(name, r, false).await;
    }
    match inner.remove(name) {
        Ok(()) => tracing::info!(stream = %name, "stream deleted"),
        Err(e) => {
            tracing::error!(stream = %name, error = %format!("{e:#}"), "removing the stream's files failed");
            inner.set_status(name, StreamStatus::DeletingFailed(format!("{e:#}")));
        }
    }
    true
}
