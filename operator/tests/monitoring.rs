//! The dashboard and the alerts against a real Prometheus (Debian's `prometheus`, installed by
//! `bash tests/run.sh`): it scrapes a running `hydrant` (a stream with a transformation, dynamic
//! partitioning and an error output) and the operator on a real control plane, loads the alert
//! rules, and every panel's query of `charts/hydrant/files/dashboard.json` must return series
//! with plausible values while load runs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::controlplane::ControlPlane;
use harness::operator_env::{Operator, eventually, install_chart, operator_kubeconfig};
use harness::processing::{lambda, local_stream};
use harness::sinks::{invalid_put, put_records};
use harness::transformation::{Mode, Service};
use harness::{Hydrant, free_port, workspace_root};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const RELEASE_NS: &str = "hydrant-system";

/// A Prometheus server on 127.0.0.1, scraping `targets` every second.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(targets: &[(&str, u16)], rules: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let mut config = String::from(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [\"RULES\"]\nscrape_configs:\n",
        )
        .replace("RULES", &rules.display().to_string());
        for (job, port) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    honor_labels: true\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n"
            ));
        }
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).expect("config");
        let port = free_port();
        let binary =
            std::env::var("HYDRANT_TEST_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {binary} (Debian package prometheus; `bash tests/run.sh` installs it): {e}")
            });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), query).ok()?;
        let body: Value = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["status"] == "success").then(|| body["data"].clone())
    }

    /// The instant vector `expr` evaluates to: each series' labels and value; None while
    /// Prometheus does not answer or refuses the query.
    async fn query(&self, expr: &str) -> Option<Vec<(Value, f64)>> {
        self.query_at(expr, None).await
    }

    /// Like `query`, evaluated at `time` (Unix seconds) when given.
    async fn query_at(&self, expr: &str, time: Option<&str>) -> Option<Vec<(Value, f64)>> {
        let mut params = vec![("query", expr)];
        params.extend(time.map(|t| ("time", t)));
        let data = self.get("/api/v1/query", &params).await?;
        Some(
            data["result"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| {
                    let v = s["value"][1].as_str()?.parse::<f64>().ok()?;
                    Some((s["metric"].clone(), v))
                })
                .collect(),
        )
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every panel's title and queries, with Grafana's variables replaced as Grafana would for
/// "All": the rate window by 10 s (ten scrapes), the selectors by `.*`.
fn dashboard_queries() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(workspace_root().join("charts/hydrant/files/dashboard.json"))
            .expect("dashboard.json");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            out.push((
                panel["title"].as_str().expect("title").to_owned(),
                expr.replace("$__rate_interval", "10s")
                    .replace("$namespace", ".*")
                    .replace("$stream", ".*"),
            ));
        }
    }
    out
}

/// Whether a panel's series are plausible, by its title: every value finite and in range, and
/// for what the load must move, at least one series above zero.
fn plausible(title: &str, values: &[f64]) -> bool {
    let finite = values.iter().all(|v| v.is_finite() && *v >= 0.0);
    let moving = values.iter().any(|v| *v > 0.0);
    finite
        && match title {
            "Incoming bytes/s"
            | "Incoming records/s"
            | "Delivered bytes/s"
            | "API errors/s"
            | "Error-output records/s"
            | "Transformed records/s"
            | "Reconciles/s" => moving,
            "Put latency" | "Transformation duration p99" | "Partitioning duration p99" => {
                moving && values.iter().all(|v| *v < 30.0)
            }
            "Log fill ratio" | "Delivery success ratio" => values.iter().all(|v| *v <= 1.0),
            "Streams by status" => values.iter().any(|v| *v >= 1.0),
            // Gauges and rates that are zero on a healthy stream.
            _ => true,
        }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_alert_works_on_a_real_prometheus() {
    // The data plane: a transformation, Lambda partition keys with a limit of one active
    // partition (the other parity goes to the error output).
    let service = Service::start(Mode::Normal, 0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = local_stream(
        "observed",
        "parity=!{partitionKeyFromLambda:parity}/",
        "      dynamicPartitioningConfiguration: {enabled: true, activePartitionLimit: 1}\n",
        &lambda(&service.url(), ""),
    );
    let h = Hydrant::start(tmp.path(), &manifest, &[]).await;
    let metrics_port: u16 = h
        .metrics_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("metrics port");

    // The operator, reconciling a stream on a real control plane.
    let cp = ControlPlane::start().await;
    let admin = cp.client().await;
    let sa = install_chart(&cp, RELEASE_NS).await;
    let op = Operator::start(
        &operator_kubeconfig(&cp, &admin, RELEASE_NS, &sa).await,
        RELEASE_NS,
        "op-monitoring",
    );
    eventually("the operator leads", Duration::from_secs(30), || async {
        op.is_leader().await
    })
    .await;
    apply_a_stream(&admin).await;

    let rules = workspace_root().join("charts/hydrant/files/alerts.yaml");
    let prometheus = Prometheus::start(&[("hydrant", metrics_port), ("operator", op.port)], &rules);
    eventually(
        "Prometheus scrapes both targets",
        Duration::from_secs(60),
        || async {
            let up = prometheus.query("up == 1").await?;
            (up.len() == 2).then_some(())
        },
    )
    .await;

    // Load for 15 s: batches of records, a refused request and a change of the operator's
    // stream (a reconcile) in every round, so every rate has something to count.
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let mut round = 0u32;
    while started.elapsed() < Duration::from_secs(15) && round < 300 {
        let records: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("record-{round}-{i}-{}", "x".repeat(i % 7)).into_bytes())
            .collect();
        put_records(&h.ingest_url(), "observed", &records).await;
        assert_eq!(invalid_put(&client, &h.ingest_url()).await, 400);
        if round.is_multiple_of(5) {
            touch_the_stream(&admin, round).await;
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every query is evaluated at one moment inside the load.
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        - 2.0;
    let at = format!("{at:.3}");

    let mut seen = Vec::new();
    for (title, expr) in dashboard_queries() {
        let series = eventually(
            &format!("panel {title:?} returns plausible series: {expr}"),
            Duration::from_secs(30),
            || async {
                let series = prometheus.query_at(&expr, Some(&at)).await?;
                let values: Vec<f64> = series.iter().map(|(_, v)| *v).collect();
                (!series.is_empty() && plausible(&title, &values)).then_some(series)
            },
        )
        .await;
        let values: Vec<String> = series.iter().map(|(_, v)| format!("{v:.4}")).collect();
        seen.push(format!("{title}: {}", values.join(", ")));
    }
    eprintln!(
        "dashboard panels as Prometheus answered them:\n  {}",
        seen.join("\n  ")
    );

    // Every rule loads and evaluates; the error output fires its alert (it has no `for`), and
    // with a leader elected the leader alert stays quiet.
    let rules = eventually(
        "every rule evaluated healthy",
        Duration::from_secs(30),
        || async {
            let groups = prometheus.get("/api/v1/rules", &[]).await?;
            let rules: Vec<Value> = groups["groups"]
                .as_array()?
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            rules.iter().all(|r| r["health"] == "ok").then_some(rules)
        },
    )
    .await;
    assert_eq!(rules.len(), 8, "{rules:?}");
    let firing = eventually(
        "HydrantErrorOutputRecords fires",
        Duration::from_secs(30),
        || async {
            let alerts = prometheus.get("/api/v1/alerts", &[]).await?;
            let names: Vec<String> = alerts["alerts"]
                .as_array()?
                .iter()
                .filter(|a| a["state"] == "firing")
                .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
                .collect();
            names
                .iter()
                .any(|n| n == "HydrantErrorOutputRecords")
                .then_some(names)
        },
    )
    .await;
    assert!(
        !firing.iter().any(|n| n == "HydrantOperatorLeaderMissing"),
        "{firing:?}"
    );
    eprintln!("alerts firing: {firing:?}");
    drop(op);
}

/// A label change on the operator's stream: one more reconcile.
async fn touch_the_stream(admin: &kube::Client, round: u32) {
    let streams: Api<crds::DeliveryStream> = Api::namespaced(admin.clone(), "watched");
    let patch = json!({"metadata": {"labels": {"round": round.to_string()}}});
    streams
        .patch("watched", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("label the stream");
}

/// A stream the operator reconciles (no node runs its pods here).
async fn apply_a_stream(admin: &kube::Client) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "watched"}});
    namespaces
        .patch(
            "watched",
            &PatchParams::apply("monitoring-test"),
            &Patch::Apply(&ns),
        )
        .await
        .expect("namespace");
    let streams: Api<crds::DeliveryStream> = Api::namespaced(admin.clone(), "watched");
    let stream = json!({
        "apiVersion": "hydrant.dev/v1alpha1",
        "kind": "DeliveryStream",
        "metadata": {"name": "watched", "namespace": "watched"},
        "spec": {"destination": {"s3": {"bucket": "watched"}}},
    });
    streams
        .patch(
            "watched",
            &PatchParams::apply("monitoring-test"),
            &Patch::Apply(&stream),
        )
        .await
        .expect("stream");
}

/// The alert rules pass `promtool check rules` and their unit tests (`alerts_test.yaml`: each
/// alert fires on the series meant to trip it, with its labels and annotations, and a healthy
/// cluster fires none).
#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let files = workspace_root().join("charts/hydrant/files");
    let promtool = std::env::var("HYDRANT_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let checks: [&[&str]; 2] = [
        &["check", "rules", "alerts.yaml"],
        &["test", "rules", "alerts_test.yaml"],
    ];
    for args in checks {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&files)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {promtool} (Debian package prometheus; `bash tests/run.sh` installs it): {e}")
            });
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
