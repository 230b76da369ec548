//! `hydrant`: run a DeliveryStream manifest (in a pod, or on a laptop), drain a log it left,
//! or validate one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use crds::manifest::ManifestError;

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

/// The only DeliveryStream of `file`, read strictly (`hydrant run` and `drain` run one stream).
fn load(file: &Path) -> anyhow::Result<crds::DeliveryStream> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    crds::manifest::parse_manifest(&text).with_context(|| format!("parsing {}", file.display()))
}

/// Exit code of `hydrant validate` when some document has a problem (0: all are valid).
const INVALID: u8 = 1;
/// Exit code of `hydrant validate` when the file cannot be read; clap uses 2 for usage errors too.
const UNREADABLE: u8 = 2;

/// Checks every document of `file`, printing each problem on a line of its own, prefixed by the
/// file and, when it holds several documents, the document.
fn validate(file: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("hydrant: reading {}: {e}", file.display());
            return ExitCode::from(UNREADABLE);
        }
    };
    let documents = match crds::manifest::documents(&text) {
        Ok(documents) => documents,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(INVALID);
        }
    };
    let several = documents.len() > 1;
    let mut valid = true;
    for (i, document) in documents.into_iter().enumerate() {
        let name = document["metadata"]["name"].as_str().map(str::to_owned);
        let prefix = match (several, &name) {
            (false, _) => file.display().to_string(),
            (true, Some(name)) => format!("{}: document {} ({name})", file.display(), i + 1),
            (true, None) => format!("{}: document {}", file.display(), i + 1),
        };
        valid &= validate_document(&prefix, document);
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(INVALID)
    }
}

/// Whether one document is a valid DeliveryStream; its problems go to stderr.
fn validate_document(prefix: &str, document: serde_json::Value) -> bool {
    let problems: Vec<String> = match crds::manifest::parse_document(document) {
        Ok(stream) => {
            let errors = crds::validate_spec(&stream);
            if errors.is_empty() {
                let name = stream.metadata.name.unwrap_or_default();
                println!("{prefix}: DeliveryStream {name} is valid");
                return true;
            }
            errors.iter().map(ToString::to_string).collect()
        }
        Err(ManifestError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    };
    for problem in &problems {
        eprintln!("{prefix}: {problem}");
    }
    problems.is_empty()
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
