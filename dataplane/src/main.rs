//! `hydrant`: run a DeliveryStream manifest (in a pod, or on a laptop), drain a log it left,
//! or validate one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use crds::manifest::ManifestError;

use dataplane::ingest::connections::ConnectionLimits;
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
    /// A local Firehose: one endpoint for any number of streams, created through the API or
    /// from manifests in DIR/streams/, kept (with their logs) in the data directory.
    Serve(Box<ServeArgs>),
    /// A cluster's Firehose endpoint: the control-plane API over DeliveryStream resources in
    /// the namespace of the key that signed each request, puts forwarded to the streams' pods.
    Gateway(Box<GatewayArgs>),
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
    limits: IngestLimitArgs,
    #[command(flatten)]
    stream: StreamArgs,
}

/// The ingest port's connection limits (docs/security.md).
#[derive(clap::Args)]
struct IngestLimitArgs {
    /// Open connections at most; beyond it new connections are closed at once.
    #[arg(long, env = "HYDRANT_INGEST_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    ingest_max_connections: u32,
    /// Seconds a new connection has to deliver its first request's headers.
    #[arg(long = "ingest-header-timeout-seconds", env = "HYDRANT_INGEST_HEADER_TIMEOUT_SECONDS",
          default_value = "10", value_parser = seconds)]
    ingest_header_timeout: Duration,
    /// Seconds a connection with no request in flight stays open after its last response.
    #[arg(long = "ingest-idle-timeout-seconds", env = "HYDRANT_INGEST_IDLE_TIMEOUT_SECONDS",
          default_value = "60", value_parser = seconds)]
    ingest_idle_timeout: Duration,
    /// Seconds a request's body has to arrive in full (408 RequestTimeoutException after).
    #[arg(long = "ingest-body-timeout-seconds", env = "HYDRANT_INGEST_BODY_TIMEOUT_SECONDS",
          default_value = "60", value_parser = seconds)]
    ingest_body_timeout: Duration,
    /// Bytes of request bodies held at once across connections; a body that does not fit
    /// waits (within the body timeout) for others to finish.
    #[arg(long, env = "HYDRANT_INGEST_BODY_MEMORY_BYTES", default_value_t = dataplane::ingest::DEFAULT_BODY_MEMORY_BYTES as u64,
          value_parser = clap::value_parser!(u64).range((16 << 20)..))]
    ingest_body_memory_bytes: u64,
    /// HTTP/2: concurrent streams (requests) per connection.
    #[arg(long, env = "HYDRANT_INGEST_H2_MAX_STREAMS", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    ingest_h2_max_streams: u32,
}

/// A whole number of seconds, at least 1.
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err(format!("{text:?} is not a whole number of seconds above 0")),
    }
}

impl IngestLimitArgs {
    fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.ingest_max_connections as usize,
            header_timeout: self.ingest_header_timeout,
            idle_timeout: self.ingest_idle_timeout,
            body_timeout: self.ingest_body_timeout,
            body_memory_bytes: usize::try_from(self.ingest_body_memory_bytes).unwrap_or(usize::MAX),
            max_streams: self.ingest_h2_max_streams,
        }
    }
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

/// Settings of `hydrant serve`.
#[derive(clap::Args)]
struct ServeArgs {
    /// Where streams, their logs and their secrets are kept.
    #[arg(long, env = "HYDRANT_DATA_DIR", default_value = "./hydrant-serve")]
    data_dir: PathBuf,
    /// Listen address of the Firehose API (and of GET /metrics, /healthz, /status).
    #[arg(long, env = "HYDRANT_ADDR", default_value = "127.0.0.1:4573")]
    addr: SocketAddr,
    /// CreateDeliveryStream refuses a stream past this many (LimitExceededException).
    #[arg(long, env = "HYDRANT_MAX_STREAMS", default_value_t = 100)]
    max_streams: usize,
    #[command(flatten)]
    names: AwsNamesArgs,
    /// Verify SigV4 signatures with the keys in this directory (one file per access key id,
    /// holding its secret); without it any signature is accepted.
    #[arg(long, env = "HYDRANT_CREDENTIALS_DIR")]
    credentials_dir: Option<PathBuf>,
    /// Size at which a new log segment starts.
    #[arg(long, env = "HYDRANT_WAL_SEGMENT_BYTES", default_value_t = 64 << 20)]
    wal_segment_bytes: u64,
    /// Bytes of partition buffers kept in memory per stream before spilling to disk.
    #[arg(long, env = "HYDRANT_PARTITION_MEMORY_BYTES", default_value_t = 64 << 20)]
    partition_memory_bytes: usize,
    /// Log format: text or json.
    #[arg(long, env = "HYDRANT_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

/// How the API's AWS names (ARNs) resolve: the settings `hydrant serve` and `hydrant gateway`
/// share.
#[derive(clap::Args)]
struct AwsNamesArgs {
    /// Account id used in ARNs.
    #[arg(long, env = "HYDRANT_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Region used in ARNs.
    #[arg(long, env = "HYDRANT_REGION", default_value = "us-east-1")]
    region: String,
    /// S3-compatible store a BucketARN's bucket lives on. Without it, `hydrant serve` writes S3
    /// destinations to DIR/buckets/<bucket>/ on the local disk and the gateway's streams use
    /// AWS S3.
    #[arg(long, env = "HYDRANT_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Region used to sign requests to the S3 store.
    #[arg(long, env = "HYDRANT_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// Address the store's buckets virtual-hosted style instead of endpoint/bucket.
    #[arg(long, env = "HYDRANT_S3_VIRTUAL_HOSTED")]
    s3_virtual_hosted: bool,
    /// Base URL Lambda ARNs map to: <base>/2015-03-31/functions/<name>/invocations.
    #[arg(long, env = "HYDRANT_LAMBDA_ENDPOINT")]
    lambda_endpoint: Option<String>,
    /// URL an OpenSearch DomainARN maps to; `{domain}` is replaced by the domain's name.
    #[arg(long, env = "HYDRANT_OPENSEARCH_DOMAIN_ENDPOINT")]
    opensearch_domain_endpoint: Option<String>,
    /// Endpoint of the Kinesis streams a KinesisStreamSourceConfiguration names.
    #[arg(long, env = "HYDRANT_KINESIS_ENDPOINT")]
    kinesis_endpoint: Option<String>,
    /// Bootstrap servers an MSKSourceConfiguration's cluster ARN maps to.
    #[arg(long, env = "HYDRANT_KAFKA_BOOTSTRAP_SERVERS")]
    kafka_bootstrap_servers: Option<String>,
}

impl AwsNamesArgs {
    /// The S3 store, when one is set: `credentials_secret` names its credentials.
    fn s3_store(&self, credentials_secret: Option<String>) -> Option<crds::firehose::S3Target> {
        self.s3_endpoint
            .clone()
            .map(|endpoint| crds::firehose::S3Target::Store {
                endpoint: Some(endpoint),
                region: self.s3_region.clone(),
                force_path_style: !self.s3_virtual_hosted,
                credentials_secret,
            })
    }

    fn environment(
        self,
        s3: crds::firehose::S3Target,
        secrets: crds::firehose::SecretPolicy,
    ) -> crds::firehose::Environment {
        crds::firehose::Environment {
            account: self.account_id,
            region: self.region,
            s3,
            lambda_endpoint: self.lambda_endpoint,
            opensearch_domain_endpoint: self.opensearch_domain_endpoint,
            kinesis_endpoint: self.kinesis_endpoint,
            kafka_bootstrap_servers: self.kafka_bootstrap_servers,
            secrets,
        }
    }
}

/// Settings of `hydrant gateway`.
#[derive(clap::Args)]
struct GatewayArgs {
    /// Listen address of the Firehose API (and of GET /healthz, /readyz).
    #[arg(long, env = "HYDRANT_ADDR", default_value = "0.0.0.0:4573")]
    addr: SocketAddr,
    /// The keys file: each access key's secret, namespace and (optionally) operations.
    #[arg(
        long,
        env = "HYDRANT_GATEWAY_KEYS",
        default_value = "/etc/hydrant/gateway/keys.yaml"
    )]
    keys_file: PathBuf,
    #[command(flatten)]
    names: AwsNamesArgs,
    /// The Secret, in each stream's namespace, holding the S3 store's credentials
    /// (keys accessKeyId, secretAccessKey); unset: the pods' default credentials chain.
    #[arg(long, env = "HYDRANT_S3_CREDENTIALS_SECRET")]
    s3_credentials_secret: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "HYDRANT_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { file } => validate(&file),
        Command::Run { file, options } => {
            lifecycle::init_logging(&options.stream.log_format);
            dataplane::support::clock::follow_offset_file_from_env();
            exit_code(run(file, *options))
        }
        Command::Serve(args) => {
            lifecycle::init_logging(&args.log_format);
            dataplane::support::clock::follow_offset_file_from_env();
            exit_code(serve(*args))
        }
        Command::Gateway(args) => {
            lifecycle::init_logging(&args.log_format);
            dataplane::support::clock::follow_offset_file_from_env();
            exit_code(gateway(*args))
        }
        Command::Drain { file, options } => {
            lifecycle::init_logging(&options.log_format);
            dataplane::support::clock::follow_offset_file_from_env();
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

fn options(
    args: StreamArgs,
    ingest_addr: Option<SocketAddr>,
    ingest_limits: ConnectionLimits,
) -> Options {
    Options {
        secrets_dir: args.secrets_dir,
        version_id: args.version_id,
        account: args.account_id,
        region: args.region,
        ingest_addr,
        ingest_limits,
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
    let options = options(args.stream, args.ingest_addr, args.limits.limits());
    async_runtime()?.block_on(runtime::run(stream, options))
}

fn drain(file: PathBuf, args: StreamArgs) -> anyhow::Result<()> {
    let stream = load(&file)?;
    let drained = async_runtime()?.block_on(runtime::drain(
        stream,
        options(args, None, ConnectionLimits::default()),
    ))?;
    println!(
        "drained {} records: the write-ahead log is empty",
        drained.records
    );
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use crds::firehose::{S3Target, SecretPolicy};
    let s3 = args
        .names
        .s3_store(None)
        .unwrap_or_else(|| S3Target::Directory {
            root: args.data_dir.join("buckets").display().to_string(),
        });
    let (account, region) = (args.names.account_id.clone(), args.names.region.clone());
    let environment = args.names.environment(s3, SecretPolicy::Inline);
    let stream = Options {
        secrets_dir: args.data_dir.join("secrets"),
        version_id: "1".to_owned(),
        account,
        region,
        ingest_addr: None,
        ingest_limits: ConnectionLimits::default(),
        metrics_addr: args.addr,
        segment_bytes: args.wal_segment_bytes,
        partition_memory_bytes: args.partition_memory_bytes,
        wal_dir: None,
        live_view: false,
    };
    let options = dataplane::serve::ServeOptions {
        data_dir: args.data_dir,
        addr: args.addr,
        max_streams: args.max_streams,
        environment,
        credentials_dir: args.credentials_dir,
        stream,
        rescan_every: std::time::Duration::from_secs(2),
    };
    async_runtime()?.block_on(dataplane::serve::serve(options))
}

fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    use crds::firehose::{S3Target, SecretPolicy};
    let secret = args.s3_credentials_secret;
    let s3 = args
        .names
        .s3_store(secret.clone())
        .unwrap_or_else(|| S3Target::Store {
            endpoint: None,
            region: args.names.s3_region.clone(),
            force_path_style: !args.names.s3_virtual_hosted,
            credentials_secret: secret,
        });
    // The gateway may not create Secrets: secret-valued fields name one (`secret:<name>`).
    let environment = args.names.environment(s3, SecretPolicy::Reference);
    let options = dataplane::gateway::GatewayOptions {
        addr: args.addr,
        keys_file: args.keys_file,
        environment,
    };
    async_runtime()?.block_on(dataplane::gateway::gateway(options))
}
