//! `loadgen`: load generator and delivery verifier for Hydrant benchmarks.
//!
//! It drives a Firehose-compatible endpoint with `PutRecordBatch` or `PutRecord` requests (AWS
//! JSON 1.1; unsigned, or SigV4-signed with `--access-key-id`) from `--connections` concurrent
//! connections, each keeping one request in flight, and reports acknowledged throughput and
//! per-request acknowledgement latency.
//! Optionally it then waits for the server to deliver everything and checks the delivered
//! objects record by record.
//!
//! ```text
//! # Maximum throughput for 60 s:
//! loadgen --stream bench --connections 8
//!
//! # Latency at a fixed 100 MiB/s, with the server's peak memory:
//! loadgen --rate-mib 100 --duration 30 --server-pid "$(pidof hydrant)"
//!
//! # Exactly 1 M acknowledged records, then verify delivery into a local directory:
//! loadgen --records 1000000 --verify-dir /tmp/hydrant-out --compression gzip --json
//!
//! # How fast can this machine generate request bodies (no network)?
//! loadgen --generate-only --duration 5
//! ```
//!
//! Records are exactly `--record-size` bytes of printable ASCII without newlines (the server
//! appends the delimiter), starting with a unique id `<run 8 hex>-<connection 4>-<counter 12>-`.
//! Record content is a pure function of the id, so records that failed individually are
//! regenerated for resending and delivered records are compared byte-for-byte with what was sent.
//!
//! Throttling: HTTP 503 (or 429) means the whole request was throttled; it is retried with the
//! same body after 20 ms. Records failed individually in a 200 response are resent in a later
//! request. Both count as throttled records. Other 5xx and transport errors are retried with
//! backoff; 4xx responses, or 20 consecutive errors on one connection, abort the run.
//!
//! With `--verify-dir`, after the load `loadgen` polls `--status-url` until `backlogRecords` is 0
//! (the drain time), reads every object under the directory (gunzipping `.gz` files, gzip-magic
//! files, or everything with `--compression gzip`), splits objects on `'\n'` and reports missing,
//! duplicate and corrupt records of this run plus a CRC32C checksum comparison.
//!
//! Exit status: 0 on success, 1 if verification found missing or corrupt records, 2 if the run
//! could not start, was aborted, or got no record acknowledged.

#[path = "loadgen/bitmap.rs"]
mod bitmap;
#[path = "loadgen/body.rs"]
mod body;
#[path = "loadgen/load.rs"]
mod load;
#[path = "loadgen/monitor.rs"]
mod monitor;
#[path = "loadgen/record.rs"]
mod record;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/sign.rs"]
mod sign;
#[path = "loadgen/verify.rs"]
mod verify;
#[path = "loadgen/worker.rs"]
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use clap::Parser;

use crate::body::{BodyBuilder, Operation};
use crate::load::{LoadConfig, LoadSummary};
use crate::monitor::{RssMonitor, RssStats};
use crate::record::{MAX_CONNECTIONS, RecordGen};
use crate::report::{Delivery, Latency, MIB, Report};
use crate::sign::Signer;
use crate::verify::Compression;

/// Load generator and delivery verifier for Hydrant (Firehose PutRecordBatch).
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Args {
    /// A PEM CA certificate to trust, for an `https://` endpoint (the ingest port over TLS).
    #[arg(long, env = "LOADGEN_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// Firehose endpoint URL.
    #[arg(
        long,
        env = "LOADGEN_ENDPOINT",
        default_value = "http://127.0.0.1:4573"
    )]
    endpoint: String,

    /// Sign each request with SigV4 as this access key id (with `--secret-access-key`), for a
    /// stream that verifies signatures (`spec.ingest.auth.sigV4`).
    #[arg(long, env = "LOADGEN_ACCESS_KEY_ID", requires = "secret_access_key")]
    access_key_id: Option<String>,

    /// The secret of `--access-key-id`.
    #[arg(
        long,
        env = "LOADGEN_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    secret_access_key: Option<String>,

    /// The region signatures are scoped to.
    #[arg(long, default_value = "us-east-1")]
    region: String,

    /// Delivery stream name.
    #[arg(long, env = "LOADGEN_STREAM", default_value = "bench")]
    stream: String,

    /// Concurrent in-flight requests (one per connection).
    #[arg(long, default_value_t = 8)]
    connections: u16,

    /// Bytes per record (at least 27, the id prefix).
    #[arg(long, default_value_t = 1024)]
    record_size: usize,

    /// Records per request (1 with `--operation put-record`).
    #[arg(long, default_value_t = 500)]
    batch_size: usize,

    /// The Firehose operation to send.
    #[arg(long, value_enum, default_value_t = Operation::PutRecordBatch)]
    operation: Operation,

    /// Run for this many seconds (ignored when --records is given).
    #[arg(long, default_value_t = 60.0)]
    duration: f64,

    /// Stop after this many acknowledged records (takes precedence over --duration).
    #[arg(long)]
    records: Option<u64>,

    /// Target record payload rate in MiB/s, paced across all connections (default: unlimited).
    #[arg(long)]
    rate_mib: Option<f64>,

    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,

    /// Server status URL; its JSON must contain `backlogRecords`.
    #[arg(
        long,
        env = "LOADGEN_STATUS_URL",
        default_value = "http://127.0.0.1:9464/status"
    )]
    status_url: String,

    /// Verify delivery: a local directory the server delivers objects to.
    #[arg(long)]
    verify_dir: Option<PathBuf>,

    /// Compression of delivered objects (`.gz` files are gunzipped regardless).
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,

    /// Seconds to wait for the server's backlog to reach 0 before verifying.
    #[arg(long, default_value_t = 300)]
    drain_timeout: u64,

    /// Server process id: sample its VmHWM/VmRSS every 250 ms and report the peak.
    #[arg(long)]
    server_pid: Option<u32>,

    /// Also print the final report as one JSON line.
    #[arg(long)]
    json: bool,

    /// Only build request bodies on one core, without sending, and report the rate.
    #[arg(long)]
    generate_only: bool,
}

impl Args {
    fn validate(&self) -> Result<()> {
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            bail!("--connections must be between 1 and {MAX_CONNECTIONS}");
        }
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        if self.operation == Operation::PutRecord && self.batch_size != 1 {
            bail!("--operation put-record sends one record a request: add --batch-size 1");
        }
        if self.records.is_none() && !(self.duration.is_finite() && self.duration > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        if self.records == Some(0) {
            bail!("--records must be at least 1");
        }
        if self.rate_mib.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            bail!("--rate-mib must be a positive number");
        }
        if let Some(dir) = &self.verify_dir
            && !dir.is_dir()
        {
            bail!("--verify-dir {} is not a directory", dir.display());
        }
        Ok(())
    }

    fn load_config(&self) -> LoadConfig {
        LoadConfig {
            endpoint: self.endpoint.clone(),
            stream: self.stream.clone(),
            connections: self.connections,
            operation: self.operation,
            batch_size: self.batch_size,
            duration: Duration::from_secs_f64(self.duration),
            records: self.records,
            rate_mib: self.rate_mib,
            signer: match (&self.access_key_id, &self.secret_access_key) {
                (Some(id), Some(secret)) => Some(Signer::new(id, secret, &self.region)),
                _ => None,
            },
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the user pressed Ctrl-C (the load stops early; a second Ctrl-C exits).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

fn watch_interrupts() {
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            if INTERRUPTED.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("loadgen: interrupted, finishing up (Ctrl-C again to quit)");
        }
    });
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode> {
    args.validate()?;
    let run_id: u32 = rand::random();
    let generator = Arc::new(RecordGen::new(run_id, args.record_size)?);
    if args.generate_only {
        let stream = args.stream.clone();
        let (duration, records) = (Duration::from_secs_f64(args.duration), args.records);
        let batch_size = args.batch_size;
        tokio::task::spawn_blocking(move || {
            generate_only(generator, &stream, batch_size, duration, records)
        })
        .await
        .context("generator thread panicked")??;
        return Ok(ExitCode::SUCCESS);
    }

    watch_interrupts();
    let client = http_client(&args)?;
    let rss = args.server_pid.map(RssMonitor::spawn);
    eprintln!(
        "loadgen: run {} -> {} stream {:?}",
        generator.run_hex(),
        args.endpoint,
        args.stream
    );
    let cpu_before = args.server_pid.and_then(monitor::cpu_seconds);
    let load = load::run(&args.load_config(), client.clone(), generator.clone()).await?;
    let server_cpu_s = args
        .server_pid
        .and_then(monitor::cpu_seconds)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let delivery = match &args.verify_dir {
        Some(_) => Some(deliver_and_verify(&args, &client, &generator, &load).await?),
        None => None,
    };
    let rss = match rss {
        Some(monitor) => Some(monitor.finish().await),
        None => None,
    };

    let report = build_report(&args, &generator, &load, rss, server_cpu_s, delivery);
    report.print_human();
    if args.json {
        report.print_json();
    }
    Ok(if !report.verified_ok() {
        ExitCode::from(1)
    } else if report.aborted.is_some() || report.acked_records == 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn http_client(args: &Args) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = &args.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        builder = builder.add_root_certificate(
            reqwest::Certificate::from_pem(&pem).context("parsing the CA certificate")?,
        );
    }
    // HTTP/1.1 over TLS too (ALPN would pick HTTP/2 and multiplex every request on one
    // connection): the same number of connections as in plain HTTP.
    builder
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::from(args.connections))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(args.request_timeout))
        .build()
        .context("building HTTP client")
}

/// Waits for the server to drain its backlog, then verifies the delivery directory.
async fn deliver_and_verify(
    args: &Args,
    client: &reqwest::Client,
    generator: &Arc<RecordGen>,
    load: &LoadSummary,
) -> Result<Delivery> {
    eprintln!("loadgen: waiting for the server to drain its backlog");
    let timeout = Duration::from_secs(args.drain_timeout);
    let drain = monitor::wait_for_drain(client, &args.status_url, timeout).await;
    let dir = args.verify_dir.clone().context("no --verify-dir")?;
    eprintln!("loadgen: verifying objects under {}", dir.display());
    let compression = args.compression;
    let generator = generator.clone();
    let acked = load.acked.clone();
    let checksum = load.checksum;
    let verify = tokio::task::spawn_blocking(move || {
        verify::verify(&dir, compression, &generator, &acked, checksum)
    })
    .await
    .context("verifier thread panicked")??;
    let acked_mib = load.acked_records as f64 * record_mib(args);
    let total = (load.elapsed + drain.elapsed).as_secs_f64();
    Ok(Delivery {
        drained: drain.drained,
        drain_s: drain.elapsed.as_secs_f64(),
        backlog_at_end: drain.last_backlog,
        status_error: drain.last_error,
        delivered_mib_per_s: rate(acked_mib, total),
        verify,
    })
}

fn record_mib(args: &Args) -> f64 {
    args.record_size as f64 / MIB
}

fn rate(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 { amount / seconds } else { 0.0 }
}

fn build_report(
    args: &Args,
    generator: &RecordGen,
    load: &LoadSummary,
    rss: Option<RssStats>,
    server_cpu_s: Option<f64>,
    delivery: Option<Delivery>,
) -> Report {
    let elapsed = load.elapsed.as_secs_f64();
    let acked_mib = load.acked_records as f64 * record_mib(args);
    let kib_to_mib = |kib: u64| kib as f64 / 1024.0;
    Report {
        run_id: generator.run_hex().to_string(),
        endpoint: args.endpoint.clone(),
        stream: args.stream.clone(),
        connections: args.connections,
        record_size: args.record_size,
        batch_size: args.batch_size,
        operation: args
            .operation
            .target()
            .trim_start_matches("Firehose_20150804."),
        target_rate_mib: args.rate_mib,
        elapsed_s: elapsed,
        acked_records: load.acked_records,
        acked_mib,
        records_per_s: rate(load.acked_records as f64, elapsed),
        mib_per_s: rate(acked_mib, elapsed),
        latency_ms: Latency::from_micros(&load.latency),
        requests: load.requests,
        throttled_records: load.throttled,
        errors: load.errors,
        aborted: load.aborted.clone(),
        interrupted: interrupted(),
        server_peak_rss_mib: rss.and_then(|r| r.peak_kib()).map(kib_to_mib),
        server_cpu_s,
        server_max_sampled_rss_mib: rss.and_then(|r| r.max_rss_kib).map(kib_to_mib),
        delivery,
    }
}

/// Builds request bodies in a loop on the current thread and reports the rate: the generator's
/// ceiling on one core.
fn generate_only(
    generator: Arc<RecordGen>,
    stream: &str,
    batch_size: usize,
    duration: Duration,
    records: Option<u64>,
) -> Result<()> {
    let mut builder = BodyBuilder::new(generator.clone(), stream, 0, Operation::PutRecordBatch)?;
    let mut body = BytesMut::new();
    let mut crcs = Vec::with_capacity(batch_size);
    let mut counters: Vec<u64> = Vec::with_capacity(batch_size);
    let (mut generated, mut body_bytes) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        let done = match records {
            Some(n) => generated >= n,
            None => start.elapsed() >= duration,
        };
        if done {
            break;
        }
        let size = records.map_or(batch_size as u64, |n| {
            (n - generated).min(batch_size as u64)
        });
        counters.clear();
        counters.extend(generated..generated + size);
        builder.build(&counters, &mut body, &mut crcs)?;
        generated += size;
        body_bytes += body.len() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let payload_mib = generated as f64 * generator.record_size() as f64 / MIB;
    println!(
        "generated {generated} records in {elapsed:.2} s on one core: {:.0} records/s, {:.1} MiB/s payload, {:.1} MiB/s request bodies",
        rate(generated as f64, elapsed),
        rate(payload_mib, elapsed),
        rate(body_bytes as f64 / MIB, elapsed),
    );
    Ok(())
}
