//! `hydrant-operator`: run the controller (leader-elected), or print the CRD.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::sync::watch;
use warp::Filter;

use operator::config::OperatorConfig;
use operator::controller::{self, Context};
use operator::leader::{self, LeaseConfig};
use operator::metrics::Metrics;

#[derive(Parser)]
#[command(
    name = "hydrant-operator",
    version,
    about = "Runs DeliveryStreams on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(Box<RunArgs>),
    /// Print the DeliveryStream CustomResourceDefinition.
    Crd,
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Namespaces to watch, comma-separated; empty watches all.
    #[arg(
        long,
        env = "HYDRANT_NAMESPACES",
        default_value = "",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// Data-plane image used unless a stream sets spec.image.
    #[arg(
        long,
        env = "HYDRANT_DATAPLANE_IMAGE",
        default_value = "ghcr.io/hydrant-dev/hydrant:0.1.0"
    )]
    dataplane_image: String,
    /// Listen address of /metrics, /healthz and /readyz.
    #[arg(long, env = "HYDRANT_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Lease used for leader election.
    #[arg(
        long,
        env = "HYDRANT_LEASE_NAME",
        default_value = "hydrant-operator-leader"
    )]
    lease_name: String,
    /// Namespace of the lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Identity in the lease (the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds a lease lasts without renewal.
    #[arg(long, env = "HYDRANT_LEASE_SECONDS", default_value_t = 15)]
    lease_seconds: u64,
    /// Read each pod's /status for delivery health (needs pod network access).
    #[arg(long, env = "HYDRANT_POLL_PODS", default_value_t = true, action = clap::ArgAction::Set)]
    poll_pods: bool,
    /// Port of the pods' /status endpoint.
    #[arg(long, env = "HYDRANT_POD_STATUS_PORT", default_value_t = 9464)]
    pod_status_port: i32,
    /// Log format: json or text.
    #[arg(long, env = "HYDRANT_LOG_FORMAT", default_value = "json")]
    log_format: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", crds::generate::crd_yaml());
            Ok(())
        }
        Command::Run(args) => run(*args),
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    lifecycle::init_logging(&args.log_format);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(serve(args))
}

async fn serve(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Metrics::new()?;
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("hydrant-operator-{}", std::process::id()));
    let config = operator_config(&args);
    let ready = Arc::new(AtomicBool::new(false));
    let leading = Arc::new(AtomicBool::new(false));
    serve_health(
        metrics.clone(),
        ready.clone(),
        leading.clone(),
        args.metrics_addr,
    )
    .await?;
    let stop = stop_on_signal();
    let lease = LeaseConfig {
        name: args.lease_name.clone(),
        namespace: args.lease_namespace.clone(),
        identity: identity.clone(),
        duration_seconds: args.lease_seconds,
    };
    let (mut is_leader, lease_task) = leader::campaign(client.clone(), &lease)
        .await
        .context("starting leader election")?;
    ready.store(true, Ordering::Release);
    tracing::info!(identity, lease = %lease.name, "campaigning for leadership");
    let ctx = Arc::new(Context::new(client, config, metrics, identity));
    lead_while_elected(&ctx, &mut is_leader, stop, &leading).await;
    // Dropping the receiver makes the lease manager release the lease.
    drop(is_leader);
    let _ = tokio::time::timeout(Duration::from_secs(5), lease_task).await;
    tracing::info!("exited");
    Ok(())
}

fn operator_config(args: &RunArgs) -> OperatorConfig {
    OperatorConfig {
        dataplane_image: args.dataplane_image.clone(),
        namespaces: args
            .namespaces
            .iter()
            .filter(|n| !n.is_empty())
            .cloned()
            .collect(),
        poll_pods: args.poll_pods,
        pod_status_port: args.pod_status_port,
        operator_namespace: args.lease_namespace.clone(),
        ..OperatorConfig::default()
    }
}

/// Serves `/metrics` (with the leader gauge), `/healthz` and `/readyz`.
async fn serve_health(
    metrics: Metrics,
    ready: Arc<AtomicBool>,
    leading: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let routes = warp::get().and(warp::path::full()).map(move |p: warp::filters::path::FullPath| {
        match p.as_str() {
            "/metrics" => {
                let leader_line = format!(
                    "# HELP hydrant_operator_leader Whether this replica holds the lease\n# TYPE hydrant_operator_leader gauge\nhydrant_operator_leader {}\n",
                    u8::from(leading.load(Ordering::Acquire))
                );
                warp::http::Response::builder().status(200).body(metrics.render() + &leader_line)
            }
            "/healthz" => warp::http::Response::builder().status(200).body("ok\n".to_owned()),
            "/readyz" if ready.load(Ordering::Acquire) => {
                warp::http::Response::builder().status(200).body("ready\n".to_owned())
            }
            "/readyz" => warp::http::Response::builder().status(503).body("not ready\n".to_owned()),
            _ => warp::http::Response::builder().status(404).body("not found\n".to_owned()),
        }
        .unwrap_or_default()
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    Ok(())
}

/// Turns true on SIGTERM or Ctrl-C.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        lifecycle::wait_for_signal().await;
        tracing::info!("signal received: stopping and releasing the lease");
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// Runs the controllers whenever this replica holds the lease, until `stop`.
async fn lead_while_elected(
    ctx: &Arc<Context>,
    is_leader: &mut watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    leading: &AtomicBool,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        if !*is_leader.borrow() {
            tokio::select! {
                changed = is_leader.changed() => if changed.is_err() { break },
                _ = stop.changed() => continue,
            }
            continue;
        }
        tracing::info!("leading: starting controllers");
        leading.store(true, Ordering::Release);
        let (lost_tx, lost_rx) = watch::channel(false);
        let tasks = start_controllers(ctx, &lost_rx);
        loop {
            tokio::select! {
                changed = is_leader.changed() => {
                    if changed.is_err() || !*is_leader.borrow() { break }
                }
                _ = stop.changed() => if *stop.borrow() { break },
            }
        }
        tracing::info!("stopping controllers");
        let _ = lost_tx.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        leading.store(false, Ordering::Release);
    }
}

/// One controller per watched namespace (or one for all), each ending when `lost` turns true.
fn start_controllers(
    ctx: &Arc<Context>,
    lost: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let namespaces: Vec<Option<String>> = if ctx.config.namespaces.is_empty() {
        vec![None]
    } else {
        ctx.config.namespaces.iter().cloned().map(Some).collect()
    };
    namespaces
        .into_iter()
        .map(|ns| {
            let mut lost = lost.clone();
            let shutdown = async move {
                let _ = lost.wait_for(|l| *l).await;
            };
            tokio::spawn(controller::run(ctx.clone(), ns, shutdown))
        })
        .collect()
}
