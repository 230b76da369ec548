//! `hydrant`: run a DeliveryStream manifest (in a pod, or on a laptop), drain a log it left,
//! or validate one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use dataplane::runtime::{self, Options};

// glibc's malloc let RSS grow well past the data plane's working set under load (per-thread arenas
// and a moving mmap threshold fragment the large, short-lived request and batch buffers);
// mimalloc keeps peak RSS near the working set at the same throughput (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "hydrant", version, about = "Firehose-style delivery streams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the delivery stream a DeliveryStream manifest describes.
    Run {
        /// The manifest (the same YAML a cluster user applies).
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        #[command(flatten)]
        options: Box<RunArgs>,
    },
    /// Deliver every record a stream's write-ahead log holds, without taking new ones, and
    /// exit 0 once it is empty (a log left by a pod that did not finish draining).
    Drain {
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        #[command(flatten)]
        options: Box<StreamArgs>,
    },
    /// Check a manifest and report every problem with its field path.
    Validate {
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Ingest listen address (default 0.0.0.0:<spec.ingest.port>).
    #[arg(long, env = "HYDRANT_INGEST_ADDR")]
    ingest_addr: Option<SocketAddr>,
    #[command(flatten)]
    stream: StreamArgs,
}

/// Settings of a process that delivers a stream, whether it also takes records or not.
#[derive(clap::Args)]
struct StreamArgs {
    /// Where Secrets are mounted: <dir>/<secret name>/<key>.
    #[arg(
        long,
        env = "HYDRANT_SECRETS_DIR",
        default_value = "/etc/hydrant/secrets"
    )]
    secrets_dir: PathBuf,
    /// The stream's VersionId (the operator increments it on every spec change).
    #[arg(long, env = "HYDRANT_VERSION_ID", default_value = "1")]
    version_id: String,
    /// Account id used in ARNs.
    #[arg(long, env = "HYDRANT_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Region used in ARNs.
    #[arg(long, env = "HYDRANT_REGION", default_value = "us-east-1")]
    region: String,
    /// Listen address of /metrics, /healthz, /readyz and /status.
    #[arg(long, env = "HYDRANT_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    metrics_addr: SocketAddr,
    /// Write-ahead log directory (default: spec.buffer.directory).
    #[arg(long, env = "HYDRANT_WAL_DIR")]
    wal_dir: Option<PathBuf>,
    /// Size at which a new log segment starts.
    #[arg(long, env = "HYDRANT_WAL_SEGMENT_BYTES", default_value_t = 64 << 20)]
    wal_segment_bytes: u64,
    /// With dynamic partitioning: bytes of partition buffers kept in memory (across all
    /// partitions); beyond it the largest buffers spill to files beside the log.
    #[arg(long, env = "HYDRANT_PARTITION_MEMORY_BYTES", default_value_t = 64 << 20)]
    partition_memory_bytes: usize,
    /// Log format: text or json.
    #[arg(long, env = "HYDRANT_LOG_FORMAT", default_value = "text")]
    log_format: String,
    /// No summary line every 10 s (written only with text logs).
    #[arg(long, short = 'q', env = "HYDRANT_QUIET")]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { file } => validate(&file),
        Command::Run { file, options } => {
            lifecycle::init_logging(&options.stream.log_format);
            exit_code(run(file, *options))
        }
        Command::Drain { file, options } => {
            lifecycle::init_logging(&options.log_format);
            exit_code(drain(file, *options))
        }
    }
}

fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("hydrant: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(file: &PathBuf) -> anyhow::Result<crds::DeliveryStream> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    crds::manifest::parse_manifest(&text).with_context(|| format!("parsing {}", file.display()))
}

fn validate(file: &PathBuf) -> ExitCode {
    let stream = match load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::FAILURE;
        }
    };
    let errors = crds::validate_spec(&stream);
    if errors.is_empty() {
        println!(
            "{}: DeliveryStream {} is valid",
            file.display(),
            stream.metadata.name.unwrap_or_default()
        );
        ExitCode::SUCCESS
    } else {
        for e in errors {
            eprintln!("{}: {e}", file.display());
        }
        ExitCode::FAILURE
    }
}

fn options(args: StreamArgs, ingest_addr: Option<SocketAddr>) -> Options {
    Options {
        secrets_dir: args.secrets_dir,
        version_id: args.version_id,
        account: args.account_id,
        region: args.region,
        ingest_addr,
        metrics_addr: args.metrics_addr,
        segment_bytes: args.wal_segment_bytes,
        partition_memory_bytes: args.partition_memory_bytes,
        live_view: args.log_format == "text" && !args.quiet,
        wal_dir: args.wal_dir,
    }
}

fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // reqwest/object_store and anything else using rustls share one provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(file: PathBuf, args: RunArgs) -> anyhow::Result<()> {
    let stream = load(&file)?;
    let options = options(args.stream, args.ingest_addr);
    async_runtime()?.block_on(runtime::run(stream, options))
}

fn drain(file: PathBuf, args: StreamArgs) -> anyhow::Result<()> {
    let stream = load(&file)?;
    let drained = async_runtime()?.block_on(runtime::drain(stream, options(args, None)))?;
    println!(
        "drained {} records: the write-ahead log is empty",
        drained.records
    );
    Ok(())
}
