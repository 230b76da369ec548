//! Scale benchmark (a program, not a test): N DeliveryStreams applied at once to a real control
//! plane with the chart's RBAC and the operator running as its ServiceAccount. Reports the time
//! until every stream's children exist and its status is written, API requests per stream, API
//! writes per minute at steady state, and the operator's peak RSS.
//!
//!   cargo bench -p operator --bench scale            # 1,000 streams
//!   HYDRANT_SCALE_STREAMS=200 cargo bench -p operator --bench scale

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crds::DeliveryStream;
use harness::controlplane::ControlPlane;
use harness::operator_env as support;

const NS: &str = "scale";

/// apiserver_request_total summed by verb; Lease traffic (leader election, the API server's own
/// heartbeats) is counted under the verb prefixed with `lease:`.
async fn requests_by_verb(client: &kube::Client) -> BTreeMap<String, f64> {
    let req = warp::http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(req).await.expect("apiserver metrics");
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let lease = series.contains("resource=\"leases\"");
        let Some(verb) = series
            .split("verb=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
        else {
            continue;
        };
        let key = if lease {
            format!("lease:{verb}")
        } else {
            verb.to_owned()
        };
        *out.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    out
}

/// Writes by `verb resource (client)` during a window, to say who wrote at steady state.
async fn writes_by_resource(client: &kube::Client) -> BTreeMap<String, f64> {
    let req = warp::http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(req).await.expect("apiserver metrics");
    let field = |series: &str, name: &str| {
        series
            .split(&format!("{name}=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or("")
            .to_owned()
    };
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let verb = field(series, "verb");
        if !["POST", "PUT", "PATCH", "DELETE", "APPLY"].contains(&verb.as_str()) {
            continue;
        }
        let key = format!("{verb} {}", field(series, "resource"));
        *out.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    out
}

fn writes(m: &BTreeMap<String, f64>) -> f64 {
    ["POST", "PUT", "PATCH", "DELETE", "APPLY"]
        .iter()
        .map(|v| m.get(*v).copied().unwrap_or(0.0))
        .sum()
}

fn lease_writes(m: &BTreeMap<String, f64>) -> f64 {
    ["POST", "PUT", "PATCH", "APPLY"]
        .iter()
        .map(|v| m.get(&format!("lease:{v}")).copied().unwrap_or(0.0))
        .sum()
}

fn total(m: &BTreeMap<String, f64>) -> f64 {
    m.iter()
        .filter(|(k, _)| !k.starts_with("lease:"))
        .map(|(_, v)| v)
        .sum()
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let n: usize = std::env::var("HYDRANT_SCALE_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(n));
}

async fn run(n: usize) {
    let cp = ControlPlane::start().await;
    let admin = cp.client().await;
    let operator = start_operator(&cp, &admin).await;
    let pid = operator_pid(&operator);
    let creation = create_streams(&admin, n).await;
    let steady = measure_steady_state(&admin, &operator).await;
    print_report(n, &creation, &steady, peak_rss_mib(pid));
}

/// The chart installed, the streams' namespace created, and the operator running as the chart's
/// ServiceAccount and leading.
async fn start_operator(cp: &ControlPlane, admin: &kube::Client) -> support::Operator {
    let sa = support::install_chart(cp, "hydrant-system").await;
    let kubeconfig = support::operator_kubeconfig(cp, admin, "hydrant-system", &sa).await;
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}})).expect("ns"),
        )
        .await
        .expect("namespace");
    let operator = support::Operator::start(&kubeconfig, "hydrant-system", "scale-op");
    support::eventually("leader", Duration::from_secs(30), || async {
        operator.is_leader().await
    })
    .await;
    operator
}

/// What creating the streams took: times from the first apply, and API requests by verb.
struct Creation {
    applied: Duration,
    children: Duration,
    converged: Duration,
    requests: f64,
    requests_by_verb: BTreeMap<String, f64>,
}

/// Applies `n` streams at once and waits until every one has its children and a status.
async fn create_streams(admin: &kube::Client, n: usize) -> Creation {
    let before = requests_by_verb(admin).await;
    let started = Instant::now();
    let streams: Arc<Api<DeliveryStream>> = Arc::new(Api::namespaced(admin.clone(), NS));
    apply_streams(&streams, n).await;
    let applied = started.elapsed();
    let children = wait_for_children(admin, n, started).await;
    let converged = wait_for_statuses(&streams, n, started).await;
    let after = requests_by_verb(admin).await;
    Creation {
        applied,
        children,
        converged,
        requests: total(&after) - total(&before),
        requests_by_verb: after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
            .collect(),
    }
}

/// Applies `n` streams (`s0000`, `s0001`, ...) server-side, 32 at a time.
async fn apply_streams(streams: &Arc<Api<DeliveryStream>>, n: usize) {
    futures::stream::iter(0..n)
        .map(|i| {
            let api = streams.clone();
            async move {
                let s = json!({
                    "apiVersion": "hydrant.dev/v1alpha1",
                    "kind": "DeliveryStream",
                    "metadata": {"name": format!("s{i:04}"), "namespace": NS},
                    "spec": {"destination": {"s3": {"bucket": "scale-bucket", "endpoint": "http://s3.storage:8333"}}},
                });
                api.patch(&format!("s{i:04}"), &PatchParams::apply("scale-bench"), &Patch::Apply(&s))
                    .await
                    .expect("apply stream");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

/// Time from `started` until the operator has created `n` Deployments.
async fn wait_for_children(admin: &kube::Client, n: usize, started: Instant) -> Duration {
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    support::eventually("all children", Duration::from_secs(1800), || async {
        let count = deployments
            .list_metadata(
                &ListParams::default().labels("app.kubernetes.io/managed-by=hydrant-operator"),
            )
            .await
            .ok()?
            .items
            .len();
        (count >= n).then(|| started.elapsed())
    })
    .await
}

/// Time from `started` until `n` streams have a status with a versionId.
async fn wait_for_statuses(streams: &Api<DeliveryStream>, n: usize, started: Instant) -> Duration {
    support::eventually("all statuses", Duration::from_secs(1800), || async {
        let list = streams.list(&ListParams::default()).await.ok()?;
        let done = list
            .items
            .iter()
            .filter(|s| {
                s.status
                    .as_ref()
                    .and_then(|st| st.version_id.as_ref())
                    .is_some()
            })
            .count();
        (done >= n).then(|| started.elapsed())
    })
    .await
}

/// Writes during one minute of steady state, as the API server and the operator count them.
struct SteadyState {
    writes: f64,
    lease_writes: f64,
    operator_writes: f64,
    writers: BTreeMap<String, f64>,
}

async fn measure_steady_state(admin: &kube::Client, operator: &support::Operator) -> SteadyState {
    // A pause first, so that the tail of the creation burst is not counted as steady state.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let start = requests_by_verb(admin).await;
    let by_resource_start = writes_by_resource(admin).await;
    let operator_start = operator.writes().await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let end = requests_by_verb(admin).await;
    let by_resource_end = writes_by_resource(admin).await;
    let writers: BTreeMap<String, f64> = by_resource_end
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v - by_resource_start.get(k).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let operator_end = operator.writes().await;
    SteadyState {
        writes: writes(&end) - writes(&start),
        lease_writes: lease_writes(&end) - lease_writes(&start),
        operator_writes: operator_end - operator_start,
        writers,
    }
}

/// The report, one measure a line.
fn print_report(n: usize, creation: &Creation, steady: &SteadyState, operator_rss_mib: f64) {
    println!("streams                         {n}");
    println!(
        "applied (client side)           {:.1} s",
        creation.applied.as_secs_f64()
    );
    println!(
        "all children exist after        {:.1} s",
        creation.children.as_secs_f64()
    );
    println!(
        "all statuses written after      {:.1} s",
        creation.converged.as_secs_f64()
    );
    println!(
        "API requests per stream         {:.1} (all clients, during creation; {} total; by verb {:?})",
        creation.requests / n as f64,
        creation.requests,
        creation.requests_by_verb
    );
    println!(
        "writes per minute, steady       {} to streams and their children (API server's count; {} more were Lease renewals), {} (operator's own count)",
        steady.writes, steady.lease_writes, steady.operator_writes
    );
    println!("steady writes by verb/resource  {:?}", steady.writers);
    println!("operator peak RSS               {operator_rss_mib:.1} MiB");
}

fn operator_pid(op: &support::Operator) -> u32 {
    op.pid()
}
