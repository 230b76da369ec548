//! Two `hydrant run` processes share a 4-shard Kinesis stream (kinesalite) through Leases on a
//! real API server (etcd + kube-apiserver), as a stream's pods do: they settle on two shards
//! each; after kill -9 of one the other holds all four within the lease duration plus a
//! balance round; every record put before and during is delivered (duplicates counted).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, StreamStatus};
use harness::controlplane::ControlPlane;
use harness::kinesalite::Kinesalite;
use harness::{Hydrant, objects, stream_manifest};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::{ListParams, PostParams};

const NAMESPACE: &str = "analytics";
const STREAM: &str = "clicks";
const SHARDS: usize = 4;

fn kinesis_client(endpoint: &str) -> Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .build();
    Client::from_conf(config)
}

async fn create_stream(client: &Client) {
    client
        .create_stream()
        .stream_name(STREAM)
        .shard_count(SHARDS as i32)
        .send()
        .await
        .expect("create stream");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = client
            .describe_stream_summary()
            .stream_name(STREAM)
            .send()
            .await
            .expect("describe");
        let status = out
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return;
        }
        assert!(Instant::now() < deadline, "stream not ACTIVE: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Puts one record per id (partition key = id, so they spread over the shards), retrying
/// entries the server failed.
async fn put(client: &Client, ids: &[String]) {
    for chunk in ids.chunks(500) {
        let mut pending: Vec<&String> = chunk.iter().collect();
        for _ in 0..20 {
            let entries = pending
                .iter()
                .map(|id| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(id.as_str())
                        .data(Blob::new(id.as_bytes()))
                        .build()
                        .expect("entry")
                })
                .collect();
            let out = client
                .put_records()
                .stream_name(STREAM)
                .set_records(Some(entries))
                .send()
                .await
                .expect("put records");
            pending = pending
                .into_iter()
                .zip(out.records())
                .filter(|(_, r)| r.error_code().is_some())
                .map(|(id, _)| id)
                .collect();
            if pending.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(pending.is_empty(), "{} records never put", pending.len());
    }
}

fn ids(prefix: &str, n: u32) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:06}")).collect()
}

/// The namespace, and a ServiceAccount with exactly the rights the operator grants a stream's
/// pods; returns a kubeconfig for it.
async fn source_account(cp: &ControlPlane, admin: &kube::Client) -> std::path::PathBuf {
    let pp = PostParams::default();
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}})).expect("ns");
    Api::<Namespace>::all(admin.clone())
        .create(&pp, &ns)
        .await
        .expect("namespace");
    let name = format!("{STREAM}-source");
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("sa");
    Api::<ServiceAccount>::namespaced(admin.clone(), NAMESPACE)
        .create(&pp, &sa)
        .await
        .expect("service account");
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "rules": [{
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        }],
    }))
    .expect("role");
    Api::<Role>::namespaced(admin.clone(), NAMESPACE)
        .create(&pp, &role)
        .await
        .expect("role");
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
    }))
    .expect("binding");
    Api::<RoleBinding>::namespaced(admin.clone(), NAMESPACE)
        .create(&pp, &binding)
        .await
        .expect("role binding");
    harness::operator_env::operator_kubeconfig(cp, admin, NAMESPACE, &name).await
}

/// Holder → shards, of the stream's Leases renewed within their duration.
async fn holders(leases: &Api<Lease>) -> BTreeMap<String, Vec<String>> {
    let list = leases
        .list(&ListParams::default().labels(&format!("hydrant.dev/stream={STREAM}")))
        .await
        .expect("list leases");
    let now = k8s_openapi::jiff::Timestamp::now().as_millisecond();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for lease in list.items {
        let Some(spec) = lease.spec else { continue };
        let live = spec
            .renew_time
            .is_some_and(|t| now - t.0.as_millisecond() <= 15_000);
        if let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty() && live) {
            out.entry(holder)
                .or_default()
                .push(lease.metadata.name.unwrap_or_default());
        }
    }
    out
}

async fn wait_for_holders(
    leases: &Api<Lease>,
    timeout: Duration,
    want: impl Fn(&BTreeMap<String, Vec<String>>) -> bool,
    logs: impl Fn() -> String,
) -> BTreeMap<String, Vec<String>> {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = holders(leases).await;
        if want(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "Leases held: {seen:?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn count(seen: &BTreeMap<String, Vec<String>>, pod: &str) -> usize {
    seen.get(pod).map_or(0, Vec::len)
}

/// Distinct ids delivered by either process, and how often each arrived.
fn delivered(dirs: &[std::path::PathBuf]) -> HashMap<String, u32> {
    let mut all = Vec::new();
    for dir in dirs {
        all.extend(objects::local_objects(dir));
    }
    objects::record_counts(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_readers_share_the_shards_and_the_survivor_takes_over() {
    let (cp, kinesis) = tokio::join!(ControlPlane::start(), Kinesalite::start());
    let admin = cp.client().await;
    let kubeconfig = source_account(&cp, &admin).await;
    let leases: Api<Lease> = Api::namespaced(admin.clone(), NAMESPACE);
    let client = kinesis_client(&kinesis.endpoint());
    create_stream(&client).await;
    let mut produced = ids("before-", 2000);
    put(&client, &produced).await;

    let manifest = stream_manifest(
        STREAM,
        "256Mi",
        "    local:
      directory: ./out
      bufferingHints: {sizeInMBs: 1, intervalInSeconds: 1}
      processingConfiguration:
        enabled: true
        processors: [{type: AppendDelimiterToRecord}]",
    )
    .replace(
        "spec:\n",
        &format!(
            "spec:
  source:
    kinesisStream:
      streamName: {STREAM}
      endpoint: {}
      region: us-east-1
      startingPosition: TRIM_HORIZON
",
            kinesis.endpoint()
        ),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let kubeconfig = kubeconfig.display().to_string();
    let env = |pod: &'static str| {
        [
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("HYDRANT_POD_NAME", pod),
            ("HYDRANT_POD_NAMESPACE", NAMESPACE),
            ("KUBECONFIG", kubeconfig.as_str()),
        ]
    };

    // A producer keeps putting while the readers share, rebalance and one dies.
    let live: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (client, live, stop) = (client.clone(), live.clone(), stop.clone());
        tokio::spawn(async move {
            // Bounded: at most 600 batches of 20 (two minutes).
            for batch in 0..600u32 {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let batch_ids = ids(&format!("during-{batch:03}-"), 20);
                put(&client, &batch_ids).await;
                live.lock().expect("lock").extend(batch_ids);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let mut a = Hydrant::start(&tmp.path().join("a"), &manifest, &env("a")).await;
    let mut b = Hydrant::start(&tmp.path().join("b"), &manifest, &env("b")).await;
    let logs = || format!("--- a\n{}\n--- b\n{}", a.log(), b.log());
    let started = Instant::now();
    let shared = wait_for_holders(
        &leases,
        Duration::from_secs(90),
        |s| count(s, "a") == 2 && count(s, "b") == 2,
        logs,
    )
    .await;
    println!(
        "kinesis leases: two shards each after {:.1} s: {shared:?}",
        started.elapsed().as_secs_f64()
    );
    // Let both deliver and commit for a while before one dies.
    tokio::time::sleep(Duration::from_secs(3)).await;

    b.kill9();
    let killed = Instant::now();
    let logs = || format!("--- a\n{}\n--- b\n{}", a.log(), b.log());
    let taken = wait_for_holders(
        &leases,
        Duration::from_secs(40),
        |s| count(s, "a") == SHARDS,
        logs,
    )
    .await;
    let takeover = killed.elapsed();
    println!(
        "kinesis leases: a holds all {SHARDS} shards {:.1} s after kill -9 of b: {taken:?}",
        takeover.as_secs_f64()
    );
    assert!(
        takeover <= Duration::from_secs(30),
        "took {takeover:?}: more than the lease duration and a balance round"
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Release);
    producer.await.expect("producer");
    produced.extend(live.lock().expect("lock").drain(..));

    let outs = [tmp.path().join("a/out"), tmp.path().join("b/out")];
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let counts = delivered(&outs);
        let missing = produced
            .iter()
            .filter(|id| !counts.contains_key(*id))
            .count();
        if missing == 0 {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} records never delivered\n{}",
            produced.len(),
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let strangers: Vec<&String> = counts
        .keys()
        .filter(|k| !produced.contains(k))
        .take(5)
        .collect();
    assert!(strangers.is_empty(), "records nobody put: {strangers:?}");
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    println!(
        "kinesis leases: produced {}, delivered distinct {}, duplicates {duplicates} after kill -9 of one reader",
        produced.len(),
        counts.len()
    );

    // A reader that stops gives its Leases up at once, checkpoints kept.
    a.wait_drained(Duration::from_secs(30)).await;
    let exit = a.terminate(Duration::from_secs(30)).await;
    assert!(exit.success(), "{}", a.log());
    let list = leases
        .list(&ListParams::default().labels(&format!("hydrant.dev/stream={STREAM}")))
        .await
        .expect("list leases");
    assert_eq!(list.items.len(), SHARDS);
    let transitions: i32 = list
        .items
        .iter()
        .filter_map(|l| l.spec.as_ref()?.lease_transitions)
        .sum();
    assert!(transitions >= 2, "b's two shards changed hands at least");
    for lease in list.items {
        let spec = lease.spec.clone().unwrap_or_default();
        assert_eq!(spec.holder_identity, None, "{lease:?}");
        let annotations = lease.metadata.annotations.unwrap_or_default();
        assert!(
            annotations["hydrant.dev/checkpoint"].contains("sequenceNumber"),
            "{annotations:?}"
        );
    }
    assert!(!a.log().contains("panicked"), "{}", a.log());
}
