//! Acknowledged means durable in a cluster too. With the destination down, every pod of two
//! streams is deleted before it could drain: the stream whose logs are on claims (a
//! StatefulSet) delivers every acknowledged record once the destination comes up, from the
//! pods that reopened those claims; the stream on `emptyDir` volumes loses what its deleted
//! pods held — the loss the docs state. Storage: hostPath PersistentVolumes the test creates
//! (the node has no provisioner), bound by a StorageClass name of their own.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use harness::cluster::{self, is_ready};
use harness::moto::Moto;
use harness::node::{Images, Node};
use harness::operator_env::eventually;

const NS: &str = "durability";
const CLASS: &str = "hydrant-test-local";
const BUCKET: &str = "durability";
const RECORDS: usize = 3000;
/// Pods per stream.
const REPLICAS: usize = 2;

#[tokio::test(flavor = "multi_thread")]
async fn deleted_pods_lose_nothing_on_claims_and_their_logs_on_empty_dirs() {
    let images = Images::build();
    let node = Node::start(&[
        images.archive("hydrant"),
        images.archive("hydrant-operator"),
    ]);
    let client = node.client().await;
    cluster::helm_install(&node, &client, "hydrant-system").await;
    cluster::restricted_namespace(&node, NS);
    cluster::secret(
        &node,
        NS,
        "s3-writer",
        &[
            "--from-literal=accessKeyId=test".to_owned(),
            "--from-literal=secretAccessKey=test".to_owned(),
        ],
    );
    static_volumes(&node, REPLICAS);
    // The destination's address, where nothing listens until the end.
    let port = harness::free_port();
    let storage = [
        (
            "durable",
            format!("persistentVolumeClaim: {{storageClassName: {CLASS}}}"),
        ),
        ("volatile", "emptyDir: {}".to_owned()),
    ];
    for (name, storage) in &storage {
        cluster::apply(
            &node,
            &format!("{name}.yaml"),
            &manifest(name, storage, &node.ip, port),
        );
    }
    let mut acked = Vec::new();
    for (name, _) in &storage {
        let (endpoint, took) =
            cluster::active_endpoint(&client, NS, name, Duration::from_secs(180)).await;
        eprintln!("{name} ACTIVE after {:.1} s", took.as_secs_f64());
        acked.push(put(&node, &endpoint, name));
    }

    let before: Vec<BTreeSet<String>> = [
        pod_uids(&client, "durable").await,
        pod_uids(&client, "volatile").await,
    ]
    .into();
    for (name, _) in &storage {
        // Two seconds to drain with the destination down: killed with everything it holds.
        node.kubectl_ok(&[
            "-n",
            NS,
            "delete",
            "pod",
            "-l",
            &format!("app.kubernetes.io/instance={name}"),
            "--grace-period=2",
        ]);
    }
    for (name, old) in ["durable", "volatile"].iter().zip(&before) {
        replaced_and_ready(&client, name, old).await;
    }
    eprintln!(
        "every pod deleted with the destination down, and replaced: durable {:?}, volatile {:?}",
        pod_names(&client, "durable").await,
        pod_names(&client, "volatile").await
    );

    let started = Instant::now();
    let moto = Moto::start_in_netns_on(&node.netns, &node.reach_ip(), port).await;
    moto.create_bucket(BUCKET).await;
    let delivered = eventually(
        "the durable stream's acknowledged records delivered",
        Duration::from_secs(240),
        || async {
            let got = delivered(&moto, "durable/").await;
            acked[0].iter().all(|id| got.contains(id)).then_some(got)
        },
    )
    .await;
    eprintln!(
        "durable (claims): {} acknowledged, {} delivered, 0 lost, {} duplicates, {:.0} s after the destination came up",
        acked[0].len(),
        delivered.len(),
        delivered.len() - acked[0].len(),
        started.elapsed().as_secs_f64()
    );
    // The volatile stream's new pods hold nothing: what the old ones held is gone.
    let volatile = delivered_after_backlog_drained(&client, &moto).await;
    eprintln!(
        "volatile (emptyDir): {} acknowledged, {volatile} delivered, {} lost",
        acked[1].len(),
        acked[1].len() - volatile
    );
    assert_eq!(
        volatile, 0,
        "pods on emptyDir deleted before they drained take their logs with them"
    );
}

/// A stream of `REPLICAS` pods delivering uncompressed objects under `<name>/` to the moto server
/// that will listen at `ip:port`, with its log on `storage`.
fn manifest(name: &str, storage: &str, ip: &str, port: u16) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {{name: {name}, namespace: {NS}}}
spec:
  replicas: {REPLICAS}
  buffer:
    maxBytes: 64Mi
    storage: {{{storage}}}
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
fn static_volumes(node: &Node, count: usize) {
    for i in 0..count {
        let dir = node.dir.join("volumes").join(i.to_string());
        std::fs::create_dir_all(&dir).expect("volume dir");
        chown_to_pods(&dir);
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

fn chown_to_pods(dir: &Path) {
    let status = std::process::Command::new("chown")
        .arg("65532:65532")
        .arg(dir)
        .status()
        .expect("chown");
    assert!(status.success(), "chown {}", dir.display());
}

/// RECORDS records put with aws-sdk-firehose (`firehose-put`) from inside the namespace;
/// every one must be acknowledged. Returns their ids.
fn put(node: &Node, endpoint: &str, name: &str) -> BTreeSet<String> {
    let out = node
        .in_netns(Path::new(env!("CARGO_BIN_EXE_firehose-put")))
        .env("AWS_ACCESS_KEY_ID", "producer")
        .env("AWS_SECRET_ACCESS_KEY", "producer")
        .args([endpoint, name, name, &RECORDS.to_string()])
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
    assert_eq!(acked.len(), RECORDS, "{name}: every record acknowledged");
    acked
}

async fn pod_names(client: &kube::Client, stream: &str) -> BTreeSet<String> {
    cluster::stream_pods(client, NS, stream)
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

async fn pod_uids(client: &kube::Client, stream: &str) -> BTreeSet<String> {
    cluster::stream_pods(client, NS, stream)
        .await
        .iter()
        .filter_map(|p| p.metadata.uid.clone())
        .collect()
}

/// Waits until `REPLICAS` pods of `stream` are Ready, none of them one of `old_uids` (by uid: a
/// StatefulSet's replacement pods keep their predecessors' names).
async fn replaced_and_ready(client: &kube::Client, stream: &str, old_uids: &BTreeSet<String>) {
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
            (fresh == REPLICAS && pods.len() == REPLICAS).then_some(())
        },
    )
    .await;
}

/// The record ids in the objects under `prefix`.
async fn delivered(moto: &Moto, prefix: &str) -> Vec<String> {
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

/// Once the volatile stream reports no backlog (its pods hold nothing), how many of its records
/// arrived.
async fn delivered_after_backlog_drained(client: &kube::Client, moto: &Moto) -> usize {
    let streams: kube::Api<crds::DeliveryStream> = kube::Api::namespaced(client.clone(), NS);
    eventually(
        "the volatile stream's pods report an empty backlog",
        Duration::from_secs(120),
        || async {
            let d = streams.get("volatile").await.ok()?.status?.delivery?;
            (d.backlog_records == 0).then_some(())
        },
    )
    .await;
    delivered(moto, "volatile/").await.len()
}
