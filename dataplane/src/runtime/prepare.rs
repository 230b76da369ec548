//! Preparing a stream: validate the spec, open and recover the log, build the pipeline and the
//! ingest front. Nothing here starts a task.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::sync::watch;

use super::Options;
use crate::batch::cuts::CutJournal;
use crate::batch::{Pipeline, Progress, SourceBackup};
use crate::destination::registry::{self, BuildContext};
use crate::ingest::sigv4::Credentials;
use crate::ingest::{Ingest, StreamIdentity, describe};
use crate::metrics::Metrics;
use crate::partition::buffers::{BufferConfig, Buffers};
use crate::partition::{Partitioner, Partitioning};
use crate::plan::StreamPlan;
use crate::process::Processing;
use crate::record::Hints;
use crate::server::Observed;
use crate::status::DeliveryHealth;
use crate::wal::{FsyncObserver, Recovery, Wal, WalConfig};
use crds::{DeliveryStream, DeliveryStreamSpec, IngestAuth, parse_quantity, validate_spec};

/// The log, opened and recovered.
pub(super) struct Log {
    pub(super) wal: Wal,
    pub(super) recovery: Recovery,
    pub(super) dir: PathBuf,
    pub(super) max_bytes: u64,
    /// Appends are fsync'd: so are the batch boundaries recorded beside the log.
    pub(super) synced: bool,
}

/// A stream with its log open and recovered and its pipeline built, not yet running.
pub(super) struct Prepared {
    pub(super) plan: StreamPlan,
    pub(super) log: Log,
    pub(super) pipeline: Pipeline,
    pub(super) ingest: Arc<Ingest>,
    /// What `/metrics`, `/status` and the probes report.
    pub(super) observed: Arc<Observed>,
}

/// Whether the process takes records ([`run`]) or only delivers what its log holds ([`drain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Run,
    Drain,
}

/// Validates the spec, opens the log and builds the pipeline and the ingest front.
pub(super) fn prepare(
    stream: &DeliveryStream,
    options: &Options,
    mode: Mode,
) -> anyhow::Result<Prepared> {
    let errors = validate_spec(stream);
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!("the DeliveryStream is invalid:\n  {}", list.join("\n  "));
    }
    let name = stream.delivery_stream_name();
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
        describe::description(&identity, spec, crate::support::clock::now()),
        log.wal.clone(),
        metrics,
        credentials,
    )
    .with_body_limits(&options.ingest_limits);
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
        pipeline,
        ingest,
        observed,
    })
}

/// Creates `dir` if needed and checks that a file can be created in it, so a read-only mount
/// or a path through a file stops the start with one clear message instead of an error from
/// whichever file happens to be touched first.
fn writable_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".write-check");
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
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
    writable_dir(&dir).with_context(|| {
        format!(
            "the write-ahead log directory {} cannot be written (spec.buffer.directory or --wal-dir)",
            dir.display()
        )
    })?;
    let (encryption, keyring) =
        crate::encryption::for_log(spec.encryption.as_ref(), &dir, &options.secrets_dir)?;
    // The source keeps every record until its position is committed after delivery, and a
    // restart skips the log's backlog: an fsync per append would buy nothing.
    let durability = if skip_backlog {
        crds::Durability::None
    } else {
        spec.buffer.durability
    };
    let fsync_histogram = metrics.fsync_duration.clone();
    let (wal, recovery) = Wal::open_observed(
        WalConfig {
            dir: dir.clone(),
            max_bytes,
            segment_bytes: options.segment_bytes,
            durability,
            encryption,
            keyring,
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
        synced: durability == crds::Durability::Fsync,
    })
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
            encryption: log.wal.current_key(),
            replay_from: log.recovery.delivered,
            sync: log.synced,
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
    let cuts = CutJournal::open(
        &log.dir,
        log.recovery.delivered,
        log.recovery.next_seq,
        log.synced,
    )
    .with_context(|| format!("opening the cut journal in {}", log.dir.display()))?;
    Ok(Pipeline {
        cuts: Arc::new(cuts),
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
