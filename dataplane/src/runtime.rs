//! Wiring one stream's data plane together and running it until a signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use tokio::sync::watch;

use crate::batch::{BatchConfig, Pipeline, Progress, SourceBackup};
use crate::ingest::sigv4::Credentials;
use crate::ingest::{Ingest, StreamIdentity, describe};
use crate::metrics::Metrics;
use crate::partition::Partitioning;
use crate::partition::buffers::{BufferConfig, Buffers};
use crate::process::Processing;
use crate::server::Observed;
use crate::status::DeliveryHealth;
use crate::wal::{FsyncObserver, Wal, WalConfig};
use crds::{DeliveryStream, IngestAuth, parse_quantity, validate_spec};

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
}

/// Runs the stream until SIGTERM/SIGINT, then drains and returns.
pub async fn run(stream: DeliveryStream, options: Options) -> anyhow::Result<()> {
    let errors = validate_spec(&stream);
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
    let metrics = Metrics::new(&namespace, &name).context("creating metrics")?;
    let max_bytes = parse_quantity(&spec.buffer.max_bytes.0)?;
    let wal_dir = options
        .wal_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&spec.buffer.directory));
    let fsync_histogram = metrics.fsync_duration.clone();
    let (wal, recovery) = Wal::open_observed(
        WalConfig {
            dir: wal_dir.clone(),
            max_bytes,
            segment_bytes: options.segment_bytes,
            durability: spec.buffer.durability,
        },
        Some(FsyncObserver(Box::new(move |s| fsync_histogram.observe(s)))),
    )
    .with_context(|| format!("opening the write-ahead log in {}", wal_dir.display()))?;
    let replay = recovery.next_seq - recovery.delivered;
    metrics.wal_replayed_records.inc_by(replay);
    metrics.wal_truncated_bytes.inc_by(recovery.truncated_bytes);
    tracing::info!(
        dir = %wal_dir.display(),
        undelivered = replay,
        truncated_bytes = recovery.truncated_bytes,
        segments = recovery.segments,
        "write-ahead log recovered"
    );

    let identity_arn = format!(
        "arn:aws:firehose:{}:{}:deliverystream/{name}",
        options.region, options.account
    );
    let identity = StreamIdentity {
        name: name.clone(),
        account: options.account.clone(),
        region: options.region.clone(),
        version_id: options.version_id.clone(),
    };
    let built = crate::destination::build::build(
        &spec.destination,
        &name,
        &options.version_id,
        &options.secrets_dir,
        &identity.arn(),
        recovery.id,
        &metrics,
    )
    .context("configuring the destination")?;
    let destination_kind = spec.destination.kind();
    let credentials = match &spec.ingest.auth {
        IngestAuth::None(_) => None,
        IngestAuth::SigV4(sig) => {
            let dir = options.secrets_dir.join(&sig.credentials_secret);
            let creds = Credentials::from_dir(&dir)
                .with_context(|| format!("reading ingest credentials from {}", dir.display()))?;
            if creds.is_empty() {
                bail!("ingest credentials secret {} holds no keys", dir.display());
            }
            Some(creds)
        }
    };
    let description = describe::description(&identity, spec, SystemTime::now());
    let ingest = Arc::new(Ingest::new(
        identity,
        description,
        wal.clone(),
        metrics.clone(),
        credentials,
    ));

    let health = Arc::new(DeliveryHealth::default());
    let progress = Arc::new(Progress::new(recovery.delivered));
    let batch_config = BatchConfig::from_hints(&spec.destination.buffering_hints());
    let backup_hints = match &spec.destination {
        crds::Destination::S3(s3) => s3
            .s3_backup_configuration
            .as_ref()
            .map(|b| b.buffering_hints),
        _ => None,
    };
    let partitioner = match spec.destination.object_delivery() {
        Some(d) => {
            crate::partition::Partitioner::build(d).context("configuring dynamic partitioning")?
        }
        None => None,
    };
    let lambda = spec
        .destination
        .processing()
        .processor(crds::ProcessorType::Lambda)
        .and_then(|p| p.lambda.as_ref());
    // Dynamic partitioning buffers per partition; a transformation alone buffers its output
    // the same way, in one buffer, so that its own hints can cut the batches it is invoked on.
    let buffers = |subdir: &str, hints: &BatchConfig, limit: usize| -> anyhow::Result<_> {
        let dir = wal_dir.join(subdir);
        let config = BufferConfig {
            dir: dir.clone(),
            size_bytes: hints.size_bytes,
            interval_ms: hints.interval.as_millis() as u64,
            limit,
            memory_bytes: options.partition_memory_bytes,
            disk: wal.beside_bytes(),
            pressure_bytes: max_bytes / 2,
        };
        let buffers =
            Buffers::new(config).with_context(|| format!("preparing {}", dir.display()))?;
        Ok(Arc::new(buffers))
    };
    let partitioning = if partitioner.is_some() || lambda.is_some() {
        let limit = partitioner.as_ref().map_or(1, |p| p.limit());
        Some(Arc::new(Partitioning {
            buffers: buffers("partitions", &batch_config, limit)?,
            partitioner,
        }))
    } else {
        None
    };
    let pipeline = Pipeline {
        wal: wal.clone(),
        destination: built.destination,
        s3_output: built.s3_output,
        source_backup: match (built.source_backup, backup_hints) {
            (Some(out), Some(hints)) => Some(SourceBackup {
                out,
                buffers: buffers("backup", &BatchConfig::from_hints(&hints), 1)?,
            }),
            _ => None,
        },
        partitioning: partitioning.clone(),
        processing: Processing::build(
            spec.destination.processing(),
            &identity_arn,
            &options.region,
            &options.secrets_dir,
            &metrics,
        )
        .context("configuring processing")?,
        metrics: metrics.clone(),
        health: health.clone(),
        progress: progress.clone(),
        config: if partitioning.is_some() {
            batch_config.for_partition_buffers(lambda)
        } else {
            batch_config
        },
        delivered: Arc::new(watch::channel(recovery.delivered).0),
    };
    let (stop_batcher, batcher_stop_rx) = watch::channel(false);
    let batcher = tokio::spawn(pipeline.run(wal.reader(), batcher_stop_rx));

    let observed = Arc::new(Observed {
        ingest: ingest.clone(),
        progress,
        health,
        destination_kind,
        max_bytes,
        ready: false.into(),
    });
    let metrics_listener = tokio::net::TcpListener::bind(options.metrics_addr)
        .await
        .with_context(|| format!("binding the metrics port {}", options.metrics_addr))?;
    let metrics_server =
        warp::serve(crate::server::routes(observed.clone())).incoming(metrics_listener);
    tokio::spawn(metrics_server.run());
    {
        let observed = observed.clone();
        tokio::spawn(async move {
            loop {
                observed.update_gauges();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    let ingest_addr = options
        .ingest_addr
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], spec.ingest.port as u16)));
    let ingest_listener = tokio::net::TcpListener::bind(ingest_addr)
        .await
        .with_context(|| format!("binding the ingest port {ingest_addr}"))?;
    let (stop_ingest, mut stop_ingest_rx) = watch::channel(false);
    let ingest_server = warp::serve(crate::ingest::routes(ingest.clone()))
        .incoming(ingest_listener)
        .graceful(async move {
            let _ = stop_ingest_rx.wait_for(|stop| *stop).await;
        });
    let ingest_task = tokio::spawn(ingest_server.run());
    observed.ready.store(true, Ordering::Release);
    tracing::info!(
        stream = %name,
        ingest = %ingest_addr,
        metrics = %options.metrics_addr,
        destination = destination_kind,
        "delivery stream running"
    );

    wait_for_signal().await;
    tracing::info!("shutting down: not ready, refusing new records, delivering what is buffered");
    tokio::spawn(async {
        wait_for_signal().await;
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
    let _ = stop_batcher.send(true);
    batcher.await.context("the delivery task failed")?;
    let stats = wal.stats();
    tracing::info!(
        delivered = stats.delivered,
        next = stats.next_seq,
        "drained; exiting"
    );
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
