//! The durability test's streams, producers and the waits between its disruptions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crds::DeliveryStream;
use harness::cluster::{self, is_ready};
use harness::moto::Moto;
use harness::node::Node;
use harness::operator_env::eventually;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{DeleteParams, EvictParams, ListParams};

pub const NS: &str = "durability";
pub const CLASS: &str = "hydrant-test-local";
pub const BUCKET: &str = "durability";
/// Records put before each disruption, per stream.
pub const RECORDS: usize = 1000;
/// Pods per stream until the scale-down.
pub const REPLICAS: usize = 3;
/// The two streams and their `spec.buffer.storage`.
pub const STREAMS: [(&str, &str); 2] = [
    (
        "durable",
        "persistentVolumeClaim: {storageClassName: hydrant-test-local}",
    ),
    ("volatile", "emptyDir: {}"),
];

/// A stream of `REPLICAS` pods delivering uncompressed objects under `<name>/` to the moto server
/// that will listen at `ip:port`, with its log on `storage`; a pod gets 3 s to drain.
pub fn manifest(name: &str, storage: &str, ip: &str, port: u16) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {{name: {name}, namespace: {NS}}}
spec:
  replicas: {REPLICAS}
  buffer:
    maxBytes: 64Mi
    storage: {{{storage}}}
  template:
    # Small requests: 2 streams x 3 pods, surges and drain Jobs fit the node's 2 CPUs.
    spec: {{terminationGracePeriodSeconds: 3, resources: {{requests: {{cpu: 50m, memory: 64Mi}}}}}}
  destination:
    s3:
      bucket: {BUCKET}
      endpoint: http://{ip}:{port}
      forcePathStyle: true
      credentialsSecret: s3-writer
      prefix: {name}/
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
"
    )
}

/// `count` hostPath PersistentVolumes of the test's class, in directories under the node's
/// state directory that the pods' user (65532) owns.
pub fn static_volumes(node: &Node, count: usize) {
    for i in 0..count {
        let dir = node.dir.join("volumes").join(i.to_string());
        std::fs::create_dir_all(&dir).expect("volume dir");
        let status = std::process::Command::new("chown")
            .arg("65532:65532")
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", dir.display());
        let pv = format!(
            "apiVersion: v1
kind: PersistentVolume
metadata: {{name: wal-{i}}}
spec:
  storageClassName: {CLASS}
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {{path: {}, type: Directory}}
",
            dir.display()
        );
        cluster::apply(node, &format!("pv-{i}.yaml"), &pv);
    }
}

/// RECORDS records `<stream>-<phase>-<i>` put with aws-sdk-firehose (`firehose-put`) from
/// inside the namespace; every one must be acknowledged. Returns their ids.
pub fn put(node: &Node, endpoint: &str, stream: &str, phase: &str) -> BTreeSet<String> {
    let out = node
        .in_netns(Path::new(env!("CARGO_BIN_EXE_firehose-put")))
        .env("AWS_ACCESS_KEY_ID", "producer")
        .env("AWS_SECRET_ACCESS_KEY", "producer")
        .args([
            endpoint,
            stream,
            &format!("{stream}-{phase}"),
            &RECORDS.to_string(),
        ])
        .output()
        .expect("run firehose-put");
    assert!(
        out.status.success(),
        "firehose-put: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acked: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(acked.len(), RECORDS, "{stream}: every record acknowledged");
    acked
}

pub async fn pod_uids(client: &kube::Client, stream: &str) -> BTreeSet<String> {
    cluster::stream_pods(client, NS, stream)
        .await
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.uid.clone())
        .collect()
}

pub async fn uids_of_both(client: &kube::Client) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (name, _) in STREAMS {
        out.insert(name, pod_uids(client, name).await);
    }
    out
}

/// Waits until `count` pods of `stream` are Ready, none of them one of `old_uids` (by uid: a
/// StatefulSet's replacement pods keep their predecessors' names).
pub async fn replaced_and_ready(
    client: &kube::Client,
    stream: &str,
    old_uids: &BTreeSet<String>,
    count: usize,
) {
    eventually(
        &format!("{stream}'s pods replaced and Ready"),
        Duration::from_secs(180),
        || async {
            let pods = cluster::stream_pods(client, NS, stream).await;
            let fresh = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| {
                    p.metadata
                        .uid
                        .as_ref()
                        .is_some_and(|u| !old_uids.contains(u))
                })
                .filter(|p| is_ready(p))
                .count();
            (fresh == count && pods.len() == count).then_some(())
        },
    )
    .await;
}

/// Evicts every pod of `stream` as `kubectl drain` does: the Eviction API, which refuses (429,
/// retried by the client) while the stream's PodDisruptionBudget allows no disruption — until
/// the previous pod's replacement is Ready. Each evicted pod gets 2 s to drain. Right after each
/// eviction the budget allows no other. Returns the seconds it took.
pub async fn evict_every_pod(client: &kube::Client, stream: &str) -> f64 {
    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NS);
    let names: Vec<String> = cluster::stream_pods(client, NS, stream)
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let params = EvictParams {
        delete_options: Some(DeleteParams {
            grace_period_seconds: Some(2),
            ..DeleteParams::default()
        }),
        ..EvictParams::default()
    };
    for name in &names {
        eventually(
            &format!("the eviction of {name}"),
            Duration::from_secs(180),
            || async {
                match pods.evict(name, &params).await {
                    Ok(_) => Some(()),
                    Err(kube::Error::Api(e)) if e.code == 429 => None,
                    Err(e) => panic!("evicting {name}: {e}"),
                }
            },
        )
        .await;
        let allowed = budgets
            .get(stream)
            .await
            .expect("the stream's budget")
            .status
            .map(|s| s.disruptions_allowed);
        assert_eq!(
            allowed,
            Some(0),
            "with {name} evicted, the budget of {stream} allows no other disruption"
        );
    }
    started.elapsed().as_secs_f64()
}

async fn stream(client: &kube::Client, name: &str) -> Option<DeliveryStream> {
    Api::<DeliveryStream>::namespaced(client.clone(), NS)
        .get_opt(name)
        .await
        .expect("get the stream")
}

fn condition(stream: &DeliveryStream, kind: &str) -> Option<crds::Condition> {
    stream
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.r#type == kind)
        .cloned()
}

/// Waits for the Progressing condition to say the rollout is held; returns its message.
pub async fn rollout_held(client: &kube::Client, name: &str) -> String {
    eventually(
        &format!("{name}'s rollout held"),
        Duration::from_secs(60),
        || async {
            let c = condition(&stream(client, name).await?, "Progressing")?;
            (c.reason == "RolloutHeld" && c.status == "True").then_some(c.message)
        },
    )
    .await
}

/// Waits until the volatile stream's rollout, released once delivery works, has replaced its
/// pod by one of the new template.
pub async fn volatile_rollout_finishes(client: &kube::Client) {
    eventually(
        "volatile's rollout released and complete",
        Duration::from_secs(180),
        || async {
            let s = stream(client, "volatile").await?;
            let c = condition(&s, "Progressing")?;
            let pods = cluster::stream_pods(client, NS, "volatile").await;
            let rolled = pods.len() == 1
                && pods.iter().all(|p| {
                    p.metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key("hydrant.dev/test-roll"))
                        && is_ready(p)
                });
            (c.status == "False" && rolled).then_some(())
        },
    )
    .await;
}

/// Waits until each of `claims` is either being drained (a Running entry of status.drains
/// with its Job: the records on it wait for the destination) or already deleted (its Job found
/// the log empty — no producer connection had landed on that pod), with the Draining condition
/// true while any drain runs. Returns each claim and what became of it.
pub async fn drains_under_way(
    client: &kube::Client,
    name: &str,
    claims: &[&str],
) -> Vec<(String, String)> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    eventually(
        &format!("the drains of {name}'s claims {claims:?} under way"),
        Duration::from_secs(120),
        || async {
            let s = stream(client, name).await?;
            let drains = s.status.clone()?.drains;
            let mut seen = Vec::new();
            for claim in claims {
                let running = drains
                    .iter()
                    .find(|d| d.claim == *claim && d.phase == "Running")
                    .and_then(|d| d.job.clone());
                let state = match running {
                    Some(job) => format!("drained by Job {job}"),
                    None if pvcs.get_opt(claim).await.ok()?.is_none() => {
                        "empty: drained and deleted".to_owned()
                    }
                    None => return None,
                };
                seen.push((claim.to_string(), state));
            }
            let draining = condition(&s, "Draining")?.status == "True";
            (draining || drains.is_empty()).then_some(seen)
        },
    )
    .await
}

/// Waits until `claims` are deleted, the stream's drain Jobs gone and its status without
/// drains; checks the Events said so. Returns a line for the log.
pub async fn claims_drained(
    node: &Node,
    client: &kube::Client,
    name: &str,
    claims: &[&str],
) -> String {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let started = Instant::now();
    eventually(
        "the drained claims deleted, their Jobs gone",
        Duration::from_secs(180),
        || async {
            for claim in claims {
                if pvcs.get_opt(claim).await.ok()?.is_some() {
                    return None;
                }
            }
            let left = jobs
                .list(&ListParams::default().labels("app.kubernetes.io/component=drain"))
                .await
                .ok()?;
            let s = stream(client, name).await?;
            let status = s.status.clone()?;
            let draining = condition(&s, "Draining")?.status;
            (left.items.is_empty() && status.drains.is_empty() && draining == "False").then_some(())
        },
    )
    .await;
    let events = node.kubectl_ok(&[
        "-n",
        NS,
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}",
    ]);
    let reasons: Vec<&str> = events.lines().collect();
    for reason in ["DrainStarted", "ClaimDrained"] {
        assert!(
            reasons.contains(&reason),
            "an Event {reason} on {name}: {reasons:?}"
        );
    }
    format!(
        "claims {claims:?} drained by their Jobs and deleted {:.0} s later; Events {:?}",
        started.elapsed().as_secs_f64(),
        reasons
            .iter()
            .filter(|r| r.starts_with("Drain") || r.starts_with("Claim"))
            .collect::<BTreeSet<_>>()
    )
}

/// Waits until the stream reports an empty backlog.
pub async fn backlog_empty(client: &kube::Client, name: &str) {
    eventually(
        &format!("{name}'s pods report an empty backlog"),
        Duration::from_secs(120),
        || async {
            let d = stream(client, name).await?.status?.delivery?;
            (d.backlog_records == 0).then_some(())
        },
    )
    .await;
}

/// Waits until the deleted stream is gone, and with it every claim of its pods.
pub async fn stream_gone_with_its_claims(client: &kube::Client, name: &str) {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    let saw_drain = AtomicBool::new(false);
    eventually(
        &format!("{name} and its claims gone"),
        Duration::from_secs(180),
        || async {
            if let Some(s) = stream(client, name).await {
                if s.status.is_some_and(|st| !st.drains.is_empty()) {
                    saw_drain.store(true, Ordering::Relaxed);
                }
                return None;
            }
            let left = pvcs
                .list(&ListParams::default().labels(&format!("hydrant.dev/stream={name}")))
                .await
                .ok()?;
            left.items.is_empty().then_some(())
        },
    )
    .await;
    assert!(
        saw_drain.load(Ordering::Relaxed),
        "the deleted stream reported draining its last claim"
    );
}

/// The record ids in the objects under `prefix`.
pub async fn delivered(moto: &Moto, prefix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (key, bytes, _) in moto.objects(BUCKET).await {
        if key.starts_with(prefix) {
            // Uncompressed objects: the records as the producer sent them, one per line.
            let text = String::from_utf8_lossy(&bytes);
            ids.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
    }
    ids
}
