//! Running one stream: open the log, build what the plan names, start the tasks, and on a
//! signal drain and return ([`run`]); or, with no ingest, deliver what a log holds and return
//! once it is empty ([`drain`]). Every decision about how records flow is in [`StreamPlan`];
//! this module only opens things and starts them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use tokio::sync::watch;

use crate::batch::{Pipeline, Progress, SourceBackup};
use crate::destination::registry::{self, BuildContext};
use crate::ingest::sigv4::Credentials;
use crate::ingest::tls::{self, CertificateFiles};
use crate::ingest::{Ingest, StreamIdentity, describe};
use crate::metrics::Metrics;
use crate::partition::buffers::{BufferConfig, Buffers};
use crate::partition::{Partitioner, Partitioning};
use crate::plan::StreamPlan;
use crate::process::Processing;
use crate::record::Hints;
use crate::server::Observed;
use crate::source::{Context as SourceContext, Running};
use crate::status::DeliveryHealth;
use crate::wal::{FsyncObserver, Recovery, Wal, WalConfig};
use crds::{DeliveryStream, DeliveryStreamSpec, IngestAuth, parse_quantity, validate_spec};

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
    pub metrics_addr: SocketAddr,
    pub segment_bytes: u64,
    /// Partition buffers' bytes kept in memory before spilling to disk.
    pub partition_memory_bytes: usize,
    /// Overrides `spec.buffer.directory`.
    pub wal_dir: Option<PathBuf>,
    /// Write the live view's summary line every 10 s (text logs at a terminal).
    pub live_view: bool,
}

/// The log, opened and recovered.
struct Log {
    wal: Wal,
    recovery: Recovery,
    dir: PathBuf,
    max_bytes: u64,
}

/// A stream with its log open and recovered and its pipeline built, not yet running.
struct Prepared {
    plan: StreamPlan,
    log: Log,
    identity: StreamIdentity,
    pipeline: Pipeline,
    ingest: Arc<Ingest>,
    /// What `/metrics`, `/status` and the probes report.
    observed: Arc<Observed>,
}

/// Whether the process takes records ([`run`]) or only delivers what its log holds ([`drain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    Drain,
}

/// Validates the spec, opens the log and builds the pipeline and the ingest front.
fn prepare(stream: &DeliveryStream, options: &Options, mode: Mode) -> anyhow::Result<Prepared> {
    let errors = validate_spec(stream);
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!("the DeliveryStream is invalid:\n  {}", list.join("\n  "));
    }
    let name = stream.metadata.name.clone().unwrap_or_default();
    let namespace = stream
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let spec = &stream.spec;
    let plan = StreamPlan::new(spec);
    let metrics = Metrics::new(&namespace, &name).context("creating metrics")?;
    metrics.buffering_interval.set(i64::from(
        spec.destination.buffering_hints().interval_in_seconds,
    ));
    let log = open_log(spec, options, &metrics, !spec.source.accepts_puts())?;
    let identity = StreamIdentity {
        name,
        account: options.account.clone(),
        region: options.region.clone(),
        version_id: options.version_id.clone(),
    };
    let pipeline = pipeline(spec, &plan, &identity, &log, options, &metrics)?;
    let credentials = match mode {
        Mode::Run => ingest_credentials(spec, &options.secrets_dir)?,
        Mode::Drain => None,
    };
    let mut ingest = Ingest::new(
        identity.clone(),
        describe::description(&identity, spec, SystemTime::now()),
        log.wal.clone(),
        metrics,
        credentials,
    );
    if !spec.source.accepts_puts() {
        ingest = ingest.refusing_puts(spec.source.delivery_stream_type());
    }
    let ingest = Arc::new(ingest);
    if mode == Mode::Drain {
        ingest.stop_accepting();
    }
    let observed = Arc::new(Observed {
        ingest: ingest.clone(),
        progress: pipeline.progress.clone(),
        health: pipeline.health.clone(),
        destination_kind: plan.destination.kind,
        max_bytes: log.max_bytes,
        ready: false.into(),
    });
    Ok(Prepared {
        plan,
        log,
        identity,
        pipeline,
        ingest,
        observed,
    })
}

/// Runs the stream until SIGTERM/SIGINT, then drains and returns.
pub async fn run(stream: DeliveryStream, options: Options) -> anyhow::Result<()> {
    let Prepared {
        plan,
        log,
        identity,
        pipeline,
        ingest,
        observed,
    } = prepare(&stream, &options, Mode::Run)?;
    let spec = &stream.spec;
    let name = identity.name;
    let (stop_batcher, batcher_stop_rx) = watch::channel(false);
    let pipeline_delivered = pipeline.delivered.subscribe();
    let batcher = tokio::spawn(pipeline.run(log.wal.reader(), batcher_stop_rx));
    serve_observability(observed.clone(), options.metrics_addr).await?;
    let ingest_addr = options
        .ingest_addr
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], spec.ingest.port as u16)));
    let tls = spec
        .ingest
        .tls
        .as_ref()
        .map(|t| CertificateFiles::in_secret(&options.secrets_dir, &t.secret_name));
    let (stop_ingest, ingest_task) = serve_ingest(ingest.clone(), ingest_addr, tls).await?;
    let mut source = start_source(&stream, &options, &log, &pipeline_delivered, &ingest).await?;
    observed.ready.store(true, Ordering::Release);
    let live_view = options
        .live_view
        .then(|| crate::live_view::spawn(observed.clone(), crate::live_view::EVERY));
    tracing::info!(
        stream = %name,
        ingest = %ingest_addr,
        metrics = %options.metrics_addr,
        destination = plan.destination.kind,
        stages = ?plan.stages,
        "delivery stream running"
    );

    let failure = match source.as_mut() {
        None => {
            lifecycle::wait_for_signal().await;
            None
        }
        Some(running) => tokio::select! {
            () = lifecycle::wait_for_signal() => None,
            e = running.failed() => Some(e),
        },
    };
    if let Some(task) = live_view {
        task.abort();
    }
    tracing::info!("shutting down: not ready, refusing new records, delivering what is buffered");
    tokio::spawn(async {
        lifecycle::wait_for_signal().await;
        tracing::warn!(
            "second signal: exiting now; undelivered records stay in the write-ahead log"
        );
        std::process::exit(130);
    });
    observed.ready.store(false, Ordering::Release);
    ingest.stop_accepting();
    let _ = stop_ingest.send(true);
    if tokio::time::timeout(Duration::from_secs(10), ingest_task)
        .await
        .is_err()
    {
        tracing::warn!("ingest connections did not close within 10 s; continuing shutdown");
    }
    if let (Some(running), None) = (source.as_mut(), &failure)
        && let Err(e) = running.stop_reading().await
    {
        tracing::error!(error = %e, "the last records read could not be logged; the source re-delivers them");
    }
    let _ = stop_batcher.send(true);
    batcher.await.context("the delivery task failed")?;
    if let Some(running) = source {
        running.finish().await;
    }
    if let Some(e) = failure {
        bail!("the write-ahead log failed while reading the source: {e}");
    }
    let stats = log.wal.stats();
    tracing::info!(
        delivered = stats.delivered,
        next = stats.next_seq,
        "drained; exiting"
    );
    Ok(())
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

/// Opens and recovers the write-ahead log, counting what recovery found.
fn open_log(
    spec: &DeliveryStreamSpec,
    options: &Options,
    metrics: &Metrics,
    skip_backlog: bool,
) -> anyhow::Result<Log> {
    let max_bytes = parse_quantity(&spec.buffer.max_bytes.0)?;
    let dir = options
        .wal_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&spec.buffer.directory));
    let fsync_histogram = metrics.fsync_duration.clone();
    let (wal, recovery) = Wal::open_observed(
        WalConfig {
            dir: dir.clone(),
            max_bytes,
            segment_bytes: options.segment_bytes,
            // The source keeps every record until its position is committed after delivery,
            // and a restart skips the log's backlog: an fsync per append would buy nothing.
            durability: if skip_backlog {
                crds::Durability::None
            } else {
                spec.buffer.durability
            },
        },
        Some(FsyncObserver(Box::new(move |s| fsync_histogram.observe(s)))),
    )
    .with_context(|| format!("opening the write-ahead log in {}", dir.display()))?;
    let mut recovery = recovery;
    if skip_backlog && recovery.next_seq > recovery.delivered {
        // The source re-delivers everything after its last commit, which is never past what
        // was delivered: delivering these again from the log would only add duplicates.
        tracing::info!(
            records = recovery.next_seq - recovery.delivered,
            "skipping the log's undelivered records: the source delivers them again"
        );
        wal.checkpoint(recovery.next_seq)
            .context("checkpointing past the records the source re-delivers")?;
        recovery.delivered = recovery.next_seq;
    }
    let replay = recovery.next_seq - recovery.delivered;
    metrics.wal_replayed_records.inc_by(replay);
    metrics.wal_truncated_bytes.inc_by(recovery.truncated_bytes);
    tracing::info!(
        dir = %dir.display(),
        undelivered = replay,
        truncated_bytes = recovery.truncated_bytes,
        segments = recovery.segments,
        "write-ahead log recovered"
    );
    Ok(Log {
        wal,
        recovery,
        dir,
        max_bytes,
    })
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

/// Builds the destination, processing and the lanes the plan names.
fn pipeline(
    spec: &DeliveryStreamSpec,
    plan: &StreamPlan,
    identity: &StreamIdentity,
    log: &Log,
    options: &Options,
    metrics: &Metrics,
) -> anyhow::Result<Pipeline> {
    let stream_arn = identity.arn();
    let built = registry::build(
        &spec.destination,
        &BuildContext {
            stream: &identity.name,
            version_id: &options.version_id,
            secrets_dir: &options.secrets_dir,
            stream_arn: &stream_arn,
            log_id: log.recovery.id,
            ack_latency: metrics.ack_latency.clone(),
        },
    )
    .context("configuring the destination")?;
    let buffers = |subdir: &str, hints: Hints, limit: usize| -> anyhow::Result<Arc<Buffers>> {
        let dir = log.dir.join(subdir);
        let config = BufferConfig {
            dir: dir.clone(),
            hints,
            limit,
            memory_bytes: options.partition_memory_bytes,
            disk: log.wal.beside_bytes(),
            pressure_bytes: log.max_bytes / 2,
        };
        let buffers =
            Buffers::new(config).with_context(|| format!("preparing {}", dir.display()))?;
        Ok(Arc::new(buffers))
    };
    let partitioning = match &plan.buffers {
        None => None,
        Some(lane) => Some(Arc::new(Partitioning {
            buffers: buffers("partitions", lane.hints(), lane.limit())?,
            partitioner: match spec.destination.object_delivery() {
                Some(d) if lane.partitioned() => {
                    Partitioner::build(d).context("configuring dynamic partitioning")?
                }
                _ => None,
            },
        })),
    };
    let source_backup = match (built.source_backup, plan.source_backup) {
        (Some(out), Some(hints)) => Some(SourceBackup {
            out,
            buffers: buffers("backup", hints, 1)?,
        }),
        _ => None,
    };
    let processing = Processing::build(
        spec.destination.processing(),
        &stream_arn,
        &options.region,
        &options.secrets_dir,
        metrics,
    )
    .context("configuring processing")?;
    Ok(Pipeline {
        wal: log.wal.clone(),
        destination: built.destination,
        profile: plan.destination,
        s3_output: built.s3_output,
        processing,
        source_backup,
        partitioning,
        metrics: metrics.clone(),
        health: Arc::new(DeliveryHealth::default()),
        progress: Arc::new(Progress::new(log.recovery.delivered)),
        cut: plan.cut,
        in_flight_bytes: plan.in_flight_bytes,
        delivered: Arc::new(watch::channel(log.recovery.delivered).0),
    })
}

/// The keys producers sign with, when ingest verifies SigV4.
fn ingest_credentials(
    spec: &DeliveryStreamSpec,
    secrets_dir: &Path,
) -> anyhow::Result<Option<Credentials>> {
    let IngestAuth::SigV4(sig) = &spec.ingest.auth else {
        return Ok(None);
    };
    let dir = secrets_dir.join(&sig.credentials_secret);
    let creds = Credentials::from_dir(&dir)
        .with_context(|| format!("reading ingest credentials from {}", dir.display()))?;
    if creds.is_empty() {
        bail!("ingest credentials secret {} holds no keys", dir.display());
    }
    Ok(Some(creds))
}

/// Serves `/metrics`, `/healthz`, `/readyz` and `/status`, and refreshes the gauges.
async fn serve_observability(observed: Arc<Observed>, addr: SocketAddr) -> anyhow::Result<()> {
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

/// Serves the Firehose API until the returned sender says stop.
/// Serves the Firehose API on `addr`, over TLS when `tls` names the certificate's files.
async fn serve_ingest(
    ingest: Arc<Ingest>,
    addr: SocketAddr,
    tls: Option<CertificateFiles>,
) -> anyhow::Result<(watch::Sender<bool>, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the ingest port {addr}"))?;
    let (stop, mut stop_rx) = watch::channel(false);
    let routes = crate::ingest::routes(ingest);
    let Some(files) = tls else {
        let server = warp::serve(routes).incoming(listener).graceful(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        });
        return Ok((stop, tokio::spawn(server.run())));
    };
    let (acceptor, reload) =
        tls::acceptor(files).context("loading the ingest port's TLS certificate")?;
    let task = tokio::spawn(async move {
        tls::serve(listener, acceptor, routes, stop_rx).await;
        reload.abort();
    });
    Ok((stop, task))
}
