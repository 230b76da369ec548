//! A running stream: its log open, its pipeline delivering, its source (if any) reading, and its
//! ingest front ready for requests — but no listener: [`super::run`] gives it a port of its own,
//! `hydrant serve` routes many streams' requests through one.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Options;
use super::prepare::{Log, Mode, Prepared, prepare};
use crate::ingest::Ingest;
use crate::server::Observed;
use crate::source::{Context as SourceContext, Running};
use crate::wal::WalError;
use crds::DeliveryStream;

pub struct RunningStream {
    pub ingest: Arc<Ingest>,
    pub observed: Arc<Observed>,
    pub destination_kind: &'static str,
    pub stages: String,
    stop_batcher: watch::Sender<bool>,
    batcher: JoinHandle<()>,
    delivered: watch::Receiver<u64>,
    source: Option<Running>,
}

impl RunningStream {
    /// Validates the spec, opens and recovers the log, and starts delivering and reading.
    pub async fn start(stream: &DeliveryStream, options: &Options) -> anyhow::Result<Self> {
        let Prepared {
            plan,
            log,
            pipeline,
            ingest,
            observed,
            ..
        } = prepare(stream, options, Mode::Run)?;
        let (stop_batcher, batcher_stop_rx) = watch::channel(false);
        let delivered = pipeline.delivered.subscribe();
        let batcher = tokio::spawn(pipeline.run(log.wal.reader(), batcher_stop_rx));
        let source = match start_source(stream, options, &log, &delivered, &ingest).await {
            Ok(source) => source,
            Err(e) => {
                let _ = stop_batcher.send(true);
                let _ = batcher.await;
                return Err(e);
            }
        };
        Ok(Self {
            ingest,
            observed,
            destination_kind: plan.destination.kind,
            stages: format!("{:?}", plan.stages),
            stop_batcher,
            batcher,
            delivered,
            source,
        })
    }

    /// Ready: `/readyz` says so (once the caller's listener takes requests).
    pub fn mark_ready(&self) {
        self.observed.ready.store(true, Ordering::Release);
    }

    /// Resolves when the source's log append fails (never for a Direct PUT stream).
    pub async fn failed(&mut self) -> WalError {
        match self.source.as_mut() {
            Some(running) => running.failed().await,
            None => std::future::pending().await,
        }
    }

    /// Not ready, and puts get ServiceUnavailableException from now on.
    pub fn stop_accepting(&self) {
        self.observed.ready.store(false, Ordering::Release);
        self.ingest.stop_accepting();
    }

    /// Waits until every record the log holds now has been delivered (to the destination or
    /// its error output). Call after [`Self::stop_accepting`], or it may never end.
    pub async fn drained(&mut self) -> anyhow::Result<()> {
        let target = self.ingest.wal.stats().next_seq;
        self.delivered
            .wait_for(|d| *d >= target)
            .await
            .context("the delivery task ended before the log was empty")?;
        Ok(())
    }

    /// Stops accepting, logs the source's last records, delivers what is buffered and returns.
    /// `source_failed` skips the source's last append (its log failed: the source re-delivers).
    pub async fn stop(mut self, source_failed: bool) -> anyhow::Result<()> {
        self.stop_accepting();
        if let (Some(running), false) = (self.source.as_mut(), source_failed)
            && let Err(e) = running.stop_reading().await
        {
            tracing::error!(error = %e, "the last records read could not be logged; the source re-delivers them");
        }
        let _ = self.stop_batcher.send(true);
        self.batcher.await.context("the delivery task failed")?;
        if let Some(running) = self.source {
            running.finish().await;
        }
        let stats = self.ingest.wal.stats();
        tracing::info!(
            stream = %self.ingest.identity.name,
            delivered = stats.delivered,
            next = stats.next_seq,
            "stream stopped"
        );
        Ok(())
    }
}

/// Starts reading the stream's source, for streams not fed by Direct PUT.
async fn start_source(
    stream: &DeliveryStream,
    options: &Options,
    log: &Log,
    delivered: &watch::Receiver<u64>,
    ingest: &Ingest,
) -> anyhow::Result<Option<Running>> {
    let name = stream.metadata.name.as_deref().unwrap_or_default();
    let namespace = stream.metadata.namespace.as_deref().unwrap_or("default");
    Running::start(
        &stream.spec.source,
        SourceContext {
            namespace,
            name,
            secrets_dir: &options.secrets_dir,
            log_dir: &log.dir,
            wal: log.wal.clone(),
            delivered: delivered.clone(),
            metrics: ingest.metrics.clone(),
        },
    )
    .await
    .context("starting the source")
}

/// Whether a source failure should end the process with an error.
pub fn source_error(failure: Option<WalError>) -> anyhow::Result<()> {
    match failure {
        Some(e) => bail!("the write-ahead log failed while reading the source: {e}"),
        None => Ok(()),
    }
}
