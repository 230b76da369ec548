//! Running one stream: open the log, build what the plan names, start the tasks, and on a
//! signal drain and return ([`run`]); or, with no ingest, deliver what a log holds and return
//! once it is empty ([`drain`]). Every decision about how records flow is in [`StreamPlan`];
//! this module only opens things and starts them.

mod ports;
mod prepare;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;

pub use ports::{serve_ingest, serve_observability};
pub use stream::RunningStream;

use crate::ingest::connections::ConnectionLimits;
use crate::ingest::tls::CertificateFiles;
use crds::DeliveryStream;
use prepare::{Mode, Prepared, prepare};

/// Process settings that are not part of the stream's spec.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where Secrets are mounted: `<dir>/<secret name>/<key>`.
    pub secrets_dir: PathBuf,
    pub version_id: String,
    pub account: String,
    pub region: String,
    /// Overrides `0.0.0.0:<spec.ingest.port>`.
    pub ingest_addr: Option<SocketAddr>,
    /// The ingest port's connection limits.
    pub ingest_limits: ConnectionLimits,
    pub metrics_addr: SocketAddr,
    pub segment_bytes: u64,
    /// Partition buffers' bytes kept in memory before spilling to disk.
    pub partition_memory_bytes: usize,
    /// Overrides `spec.buffer.directory`.
    pub wal_dir: Option<PathBuf>,
    /// Write the live view's summary line every 10 s (text logs at a terminal).
    pub live_view: bool,
}

/// Runs the stream until SIGTERM/SIGINT, then drains and returns.
pub async fn run(stream: DeliveryStream, options: Options) -> anyhow::Result<()> {
    let mut running = RunningStream::start(&stream, &options).await?;
    let spec = &stream.spec;
    serve_observability(running.observed.clone(), options.metrics_addr).await?;
    let ingest_addr = options
        .ingest_addr
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], spec.ingest.port as u16)));
    let tls = spec
        .ingest
        .tls
        .as_ref()
        .map(|t| CertificateFiles::in_secret(&options.secrets_dir, &t.secret_name));
    let routes = crate::ingest::routes(running.ingest.clone());
    let (stop_ingest, ingest_task) =
        serve_ingest(routes, ingest_addr, tls, options.ingest_limits).await?;
    running.mark_ready();
    let live_view = options
        .live_view
        .then(|| crate::live_view::spawn(running.observed.clone(), crate::live_view::EVERY));
    tracing::info!(
        stream = %running.ingest.identity.name,
        ingest = %ingest_addr,
        metrics = %options.metrics_addr,
        destination = running.destination_kind,
        stages = %running.stages,
        "delivery stream running"
    );
    let failure = tokio::select! {
        () = lifecycle::wait_for_signal() => None,
        e = running.failed() => Some(e),
    };
    if let Some(task) = live_view {
        task.abort();
    }
    tracing::info!("shutting down: not ready, refusing new records, delivering what is buffered");
    exit_on_second_signal();
    running.stop_accepting();
    let _ = stop_ingest.send(true);
    if tokio::time::timeout(Duration::from_secs(10), ingest_task)
        .await
        .is_err()
    {
        tracing::warn!("ingest connections did not close within 10 s; continuing shutdown");
    }
    running.stop(failure.is_some()).await?;
    stream::source_error(failure)?;
    tracing::info!("drained; exiting");
    Ok(())
}

/// A second SIGTERM/SIGINT during shutdown exits at once: what is undelivered stays in the log.
pub fn exit_on_second_signal() {
    tokio::spawn(async {
        lifecycle::wait_for_signal().await;
        tracing::warn!(
            "second signal: exiting now; undelivered records stay in the write-ahead log"
        );
        std::process::exit(130);
    });
}

/// What [`drain`] delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Records the log held undelivered when it was opened, all now delivered (to the
    /// destination or its error output).
    pub records: u64,
}

/// Delivers every record the log holds, with no ingest, and returns once the log is empty
/// (its checkpoint has reached the last record). A log another process left behind — a pod
/// that was deleted before it finished draining — is emptied this way. A signal stops it
/// with an error: what is undelivered stays in the log for the next attempt.
pub async fn drain(stream: DeliveryStream, options: Options) -> anyhow::Result<Drained> {
    let Prepared {
        plan,
        log,
        pipeline,
        observed,
        ..
    } = prepare(&stream, &options, Mode::Drain)?;
    let target = log.recovery.next_seq;
    let records = target - log.recovery.delivered;
    tracing::info!(
        records,
        destination = plan.destination.kind,
        "draining the write-ahead log"
    );
    // /metrics and /status show the backlog falling; nothing listens for records.
    serve_observability(observed, options.metrics_addr).await?;
    let mut delivered = pipeline.delivered.subscribe();
    let (stop_batcher, batcher_stop_rx) = watch::channel(false);
    let batcher = tokio::spawn(pipeline.run(log.wal.reader(), batcher_stop_rx));
    tokio::select! {
        reached = delivered.wait_for(|d| *d >= target) => {
            reached.context("the delivery task ended before the log was empty")?;
        }
        () = lifecycle::wait_for_signal() => {
            bail!("interrupted: the undelivered records stay in the write-ahead log");
        }
    }
    let _ = stop_batcher.send(true);
    batcher.await.context("the delivery task failed")?;
    tracing::info!(records, "drained: the write-ahead log is empty");
    Ok(Drained { records })
}
