//! The user's journey on a real single-node cluster (containerd, kubelet, kube-proxy, CoreDNS
//! in a network namespace of their own), with the images built here: `helm install` of the
//! chart with its default values, two operator pods electing a leader, `kubectl apply` of the
//! S3 example's Secrets and stream delivering to a moto S3 server in the cluster's network,
//! producers (aws-sdk-firehose and boto3) sending to `status.endpoint` through CoreDNS and the
//! Service, every acknowledged record in the bucket, pods rolled, scaled by hand and by a
//! HorizontalPodAutoscaler on their CPU (metrics-server), no secret value anywhere an operator
//! can read, and `kubectl delete` draining through the finalizer.

mod journey_support;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crds::DeliveryStream;
use harness::cluster::{self, is_ready};
use harness::moto::Moto;
use harness::node::{Images, Node};
use harness::operator_env::eventually;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

const RELEASE_NS: &str = "hydrant-system";
const STREAM_NS: &str = "analytics";
const STREAM: &str = "clickstream";
const BUCKET: &str = "clickstream-raw";
/// The producers' SigV4 key pair (the `clickstream-producers` Secret).
const ACCESS_KEY: &str = "AKIDPRODUCER";
const SECRET_KEY: &str = "producer-secret-x7Pq2vN";
/// The stream's S3 keys (the `s3-writer` Secret): moto takes any.
const S3_KEY_ID: &str = "AKIDS3WRITER4JRNY";
const S3_SECRET: &str = "s3-writer-secret-Kd81mZ";

#[tokio::test(flavor = "multi_thread")]
async fn the_users_journey_on_a_real_node() {
    let images = Images::build();
    let node = Node::start(&[
        images.archive("hydrant"),
        images.archive("hydrant-operator"),
    ]);
    let client = node.client().await;
    helm_install_runs_two_operators_and_one_leader(&node, &client).await;
    let moto = Moto::start_in_netns(&node.netns, &node.reach_ip()).await;
    moto.create_bucket(BUCKET).await;
    let endpoint = a_stream_becomes_active_on_real_pods(&node, &client, &moto).await;
    let acked = producers_reach_the_stream_through_its_endpoint(&node, &endpoint);
    every_acknowledged_record_is_in_the_bucket(&moto, &acked).await;
    the_pods_run_restricted(&client).await;
    kubectl_scale_changes_the_pod_count(&node, &client).await;
    let mut acked = acked;
    acked.extend(a_killed_container_restarts_and_loses_nothing(&node, &client, &endpoint).await);
    let first_version = version_id(&client).await;
    acked.extend(
        a_spec_change_rolls_the_pods_while_producers_write(&node, &client, &endpoint).await,
    );
    let second_version = version_id(&client).await;
    assert_ne!(
        first_version, second_version,
        "a spec change is a new version"
    );
    a_secret_change_rolls_the_pods(&node, &client).await;
    acked.extend(an_hpa_scales_the_pods_on_their_cpu(&node, &client, &endpoint).await);
    let keys = every_acknowledged_record_is_in_the_bucket(&moto, &acked).await;
    object_names_carry_each_version(&keys, &[first_version, second_version]);
    the_status_shows_the_backlog_drained(&client).await;
    journey_support::no_secret_value_appears(
        &node,
        &client,
        &[STREAM_NS, RELEASE_NS],
        &[SECRET_KEY, S3_KEY_ID, S3_SECRET],
    )
    .await;
    scaled_to_zero_the_status_has_no_delivery_health(&node, &client).await;
    deletion_drains_through_the_finalizer(&node, &client).await;
}

/// `helm install` with the chart's defaults (the images built here carry its references):
/// two operator pods Running and Ready, one of them holding the leader Lease.
async fn helm_install_runs_two_operators_and_one_leader(node: &Node, client: &kube::Client) {
    let names = cluster::helm_install(node, client, RELEASE_NS).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), RELEASE_NS);
    let holder = eventually(
        "a leader holds the Lease",
        Duration::from_secs(60),
        || async {
            let list = leases.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .filter_map(|l| l.spec.as_ref()?.holder_identity.clone())
                .find(|h| names.iter().any(|n| h.contains(n.as_str())))
        },
    )
    .await;
    eprintln!("operator pods {names:?}; leader {holder}");
}

/// `kubectl apply` of the Secrets and the S3 example (its endpoint pointed at the moto server
/// on the node's bridge, its interval shortened): data-plane pods scheduled and probed by the
/// kubelet, the stream ACTIVE from the real Deployment status. Returns `status.endpoint`.
async fn a_stream_becomes_active_on_real_pods(
    node: &Node,
    client: &kube::Client,
    moto: &Moto,
) -> String {
    cluster::restricted_namespace(node, STREAM_NS);
    cluster::secret(
        node,
        STREAM_NS,
        "s3-writer",
        &[
            format!("--from-literal=accessKeyId={S3_KEY_ID}"),
            format!("--from-literal=secretAccessKey={S3_SECRET}"),
        ],
    );
    cluster::secret(
        node,
        STREAM_NS,
        "clickstream-producers",
        &[format!("--from-literal={ACCESS_KEY}={SECRET_KEY}")],
    );
    let example = std::fs::read_to_string(harness::workspace_root().join("examples/s3.yaml"))
        .expect("examples/s3.yaml");
    let manifest = example
        .replace(
            "http://seaweedfs.storage:8333",
            &format!("http://{}:{}", node.ip, moto.port),
        )
        .replace("intervalInSeconds: 60", "intervalInSeconds: 2");
    cluster::apply(node, "clickstream.yaml", &manifest);
    let (endpoint, took) =
        cluster::active_endpoint(client, STREAM_NS, STREAM, Duration::from_secs(180)).await;
    eprintln!(
        "{STREAM} ACTIVE {:.1} s after kubectl apply",
        took.as_secs_f64()
    );
    let listed = node.kubectl_ok(&["get", "dstream", "-n", STREAM_NS]);
    assert!(
        listed.contains(STREAM) && listed.contains("ACTIVE"),
        "{listed}"
    );
    eprintln!("kubectl get dstream:\n{listed}");
    endpoint
}

/// aws-sdk-firehose (the `firehose-put` producer) and boto3, run inside the cluster's network
/// namespace, sign with the producers' keys and send to `status.endpoint`; returns every record
/// they saw acknowledged.
fn producers_reach_the_stream_through_its_endpoint(node: &Node, endpoint: &str) -> Vec<String> {
    let put = node
        .in_netns(Path::new(env!("CARGO_BIN_EXE_firehose-put")))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .args([endpoint, STREAM, "sdk", "1000"])
        .output()
        .expect("run firehose-put");
    assert!(
        put.status.success(),
        "firehose-put: {}",
        String::from_utf8_lossy(&put.stderr)
    );
    let mut acked: Vec<String> = String::from_utf8_lossy(&put.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let boto = node
        .in_netns(Path::new("python3"))
        .args(["-c", BOTO3_PRODUCER, endpoint, STREAM])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("run python3");
    let from_boto = acknowledged(&boto, 500, "boto3");
    acked.extend(from_boto);
    acked
}

/// `count` records put with aws-sdk-firehose from inside the cluster's network namespace;
/// every one must be acknowledged.
fn put_with_sdk(node: &Node, endpoint: &str, prefix: &str, count: usize) -> Vec<String> {
    let out = sdk_producer(node, endpoint, prefix, count)
        .output()
        .expect("run firehose-put");
    acknowledged(&out, count, "aws-sdk-firehose")
}

/// The aws-sdk-firehose producer (`firehose-put`), signing with the producers' keys, inside the
/// cluster's network namespace.
fn sdk_producer(node: &Node, endpoint: &str, prefix: &str, count: usize) -> std::process::Command {
    let mut c = node.in_netns(Path::new(env!("CARGO_BIN_EXE_firehose-put")));
    c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .args([endpoint, STREAM, prefix, &count.to_string()]);
    c
}

/// The ids a producer printed as acknowledged, which must be all `count` of them.
fn acknowledged(out: &std::process::Output, count: usize, producer: &str) -> Vec<String> {
    assert!(
        out.status.success(),
        "{producer}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acked: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(acked.len(), count, "{producer}: every record acknowledged");
    acked
}

/// boto3's Firehose client: 500 records in PutRecordBatch calls of 100, each acknowledged id
/// printed.
const BOTO3_PRODUCER: &str = r#"
import sys, boto3
endpoint, stream = sys.argv[1], sys.argv[2]
fh = boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1")
for b in range(5):
    ids = [f"boto-{b * 100 + i}" for i in range(100)]
    out = fh.put_record_batch(DeliveryStreamName=stream,
                              Records=[{"Data": (i + "\n").encode()} for i in ids])
    for i, r in zip(ids, out["RequestResponses"]):
        if "RecordId" in r and "ErrorCode" not in r:
            print(i)
"#;

/// Every acknowledged record is in the bucket (gzip objects under `events/`), duplicates
/// counted. Returns the objects' keys.
async fn every_acknowledged_record_is_in_the_bucket(moto: &Moto, acked: &[String]) -> Vec<String> {
    let want: BTreeSet<&str> = acked.iter().map(String::as_str).collect();
    let (lines, objects) = eventually(
        "every acknowledged record in the bucket",
        Duration::from_secs(120),
        || async {
            let objects = moto.objects(BUCKET).await;
            let mut lines = Vec::new();
            for (key, bytes, _) in &objects {
                if key.starts_with("events/") {
                    lines.extend(gunzip_lines(bytes));
                }
            }
            let got: BTreeSet<&str> = lines.iter().map(String::as_str).collect();
            let keys: Vec<String> = objects.iter().map(|(k, _, _)| k.clone()).collect();
            want.is_subset(&got).then(|| (lines.clone(), keys))
        },
    )
    .await;
    let duplicates = lines.len() - want.len();
    eprintln!(
        "{} acknowledged records delivered in {} objects, {duplicates} duplicates",
        want.len(),
        objects.len()
    );
    objects
}

/// The stream's `status.versionId`.
async fn version_id(client: &kube::Client) -> String {
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), STREAM_NS);
    let status = streams.get(STREAM).await.expect("stream").status;
    status.and_then(|s| s.version_id).expect("status.versionId")
}

/// Objects are named `<stream>-<versionId>-<time>-<uuid>` by the pods of the version that wrote
/// them: the first version's and the rolled-out one's both appear.
fn object_names_carry_each_version(keys: &[String], versions: &[String]) {
    for version in versions {
        let name = format!("/{STREAM}-{version}-");
        assert!(
            keys.iter().any(|k| k.contains(&name)),
            "an object named by version {version}: {keys:?}"
        );
    }
}

fn gunzip_lines(bytes: &[u8]) -> Vec<String> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("gzip object");
    // Producers end records with a newline and the stream appends another: skip the blanks.
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The restricted Pod Security level is enforced on the namespace and the pods were admitted:
/// non-root 65532, read-only root filesystem, no privilege escalation, every capability dropped.
async fn the_pods_run_restricted(client: &kube::Client) {
    let pods = stream_pods(client).await;
    assert!(!pods.is_empty(), "the stream has pods");
    for pod in &pods {
        let spec = pod.spec.as_ref().expect("pod spec");
        let pod_sc = spec.security_context.as_ref().expect("pod securityContext");
        assert_eq!(pod_sc.run_as_non_root, Some(true));
        let c = &spec.containers[0];
        let sc = c
            .security_context
            .as_ref()
            .expect("container securityContext");
        let uid = sc.run_as_user.or(pod_sc.run_as_user);
        assert_eq!(uid, Some(65532), "runs as 65532");
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        let dropped = sc.capabilities.as_ref().and_then(|c| c.drop.clone());
        assert_eq!(dropped, Some(vec!["ALL".to_owned()]));
    }
}

async fn stream_pods(client: &kube::Client) -> Vec<Pod> {
    cluster::stream_pods(client, STREAM_NS, STREAM).await
}

/// `kubectl scale dstream` through the scale subresource: two Ready pods, the status says so,
/// and the pod that ran before was not replaced.
async fn kubectl_scale_changes_the_pod_count(node: &Node, client: &kube::Client) {
    let before = ready_pod_names(client).await;
    node.kubectl_ok(&["-n", STREAM_NS, "scale", "dstream", STREAM, "--replicas=2"]);
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), STREAM_NS);
    eventually("two Ready pods", Duration::from_secs(120), || async {
        let ready = stream_pods(client)
            .await
            .iter()
            .filter(|p| is_ready(p))
            .count();
        let status = streams.get(STREAM).await.ok()?.status?;
        (ready == 2 && status.ready_replicas == Some(2)).then_some(())
    })
    .await;
    // Scaling is not a new version: the pod that ran before still runs.
    let after = ready_pod_names(client).await;
    assert!(
        before.is_subset(&after),
        "scaling rolled the pods: {before:?} -> {after:?}"
    );
}

/// Records acknowledged, then the data-plane container of one pod killed with SIGKILL: the
/// kubelet restarts it, its log on the emptyDir survives, and nothing acknowledged is lost.
/// Returns the records acknowledged.
async fn a_killed_container_restarts_and_loses_nothing(
    node: &Node,
    client: &kube::Client,
    endpoint: &str,
) -> Vec<String> {
    let acked = put_with_sdk(node, endpoint, "crash", 2000);
    let pods = stream_pods(client).await;
    let pod = pods.iter().find(|p| is_ready(p)).expect("a Ready pod");
    let name = pod.metadata.name.clone().expect("pod name");
    let status = &pod
        .status
        .as_ref()
        .expect("status")
        .container_statuses
        .as_ref()
        .expect("containers")[0];
    let restarts = status.restart_count;
    let uid = pod.metadata.uid.clone().expect("pod uid");
    let killed = node.kill_container(
        status.container_id.as_deref().expect("container id"),
        &uid,
        "/usr/local/bin/hydrant",
    );
    assert!(killed > 0, "found the container's process to kill");
    let api: Api<Pod> = Api::namespaced(client.clone(), STREAM_NS);
    eventually(
        "the killed container restarted and Ready",
        Duration::from_secs(120),
        || async {
            let p = api.get(&name).await.ok()?;
            let c = p
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .clone();
            (c.restart_count > restarts && is_ready(&p)).then_some(())
        },
    )
    .await;
    eprintln!("killed the data-plane container of {name}; the kubelet restarted it");
    acked
}
/// `kubectl patch dstream` with a JSON merge patch.
fn patch_stream(node: &Node, patch: &str) {
    node.kubectl_ok(&[
        "-n",
        STREAM_NS,
        "patch",
        "dstream",
        STREAM,
        "--type=merge",
        "-p",
        patch,
    ]);
}

/// The names of the stream's pods that are Ready.
async fn ready_pod_names(client: &kube::Client) -> BTreeSet<String> {
    stream_pods(client)
        .await
        .iter()
        .filter(|p| is_ready(p))
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// Waits until `replicas` pods not being deleted are Ready and none of them is one of `old`:
/// the rollout is done (old pods may still be draining).
async fn rolled(client: &kube::Client, old: &BTreeSet<String>, replicas: usize) {
    eventually("the pods rolled", Duration::from_secs(300), || async {
        let pods = stream_pods(client).await;
        let current: Vec<&Pod> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let all_new = current
            .iter()
            .all(|p| p.metadata.name.as_ref().is_some_and(|n| !old.contains(n)));
        let ready = current.iter().filter(|p| is_ready(p)).count();
        (all_new && ready == replicas && current.len() == replicas).then_some(())
    })
    .await;
}

/// A spec change (the buffering interval) rolls every pod while a producer keeps writing;
/// each old pod drains on SIGTERM. Returns the records acknowledged meanwhile.
async fn a_spec_change_rolls_the_pods_while_producers_write(
    node: &Node,
    client: &kube::Client,
    endpoint: &str,
) -> Vec<String> {
    let old = ready_pod_names(client).await;
    let producer = sdk_producer(node, endpoint, "roll", 20000)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start firehose-put");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let patch = r#"{"spec":{"destination":{"s3":{"bufferingHints":{"sizeInMBs":64,"intervalInSeconds":3}}}}}"#;
    patch_stream(node, patch);
    rolled(client, &old, old.len()).await;
    let out = tokio::task::spawn_blocking(move || producer.wait_with_output())
        .await
        .expect("join")
        .expect("firehose-put");
    let acked = acknowledged(&out, 20000, "aws-sdk-firehose during the rollout");
    eprintln!(
        "spec change rolled {old:?}; {} records acknowledged meanwhile",
        acked.len()
    );
    acked
}

/// A change to a referenced Secret rolls the pods (the config hash covers it).
async fn a_secret_change_rolls_the_pods(node: &Node, client: &kube::Client) {
    let old = ready_pod_names(client).await;
    let patch = r#"{"stringData":{"rotatedAt":"now"}}"#;
    node.kubectl_ok(&["-n", STREAM_NS, "patch", "secret", "s3-writer", "-p", patch]);
    rolled(client, &old, old.len()).await;
    eprintln!("the Secret change rolled {old:?}");
}

/// `spec.autoscaling` in place of `spec.replicas`: the operator's HorizontalPodAutoscaler reads
/// the pods' CPU from metrics-server (the kubelet's resource metrics), scales the Deployment up
/// while producers write and back to `minReplicas` once they stop. Returns the records
/// acknowledged meanwhile.
async fn an_hpa_scales_the_pods_on_their_cpu(
    node: &Node,
    client: &kube::Client,
    endpoint: &str,
) -> Vec<String> {
    let patch = r#"{"spec":{"replicas":null,"autoscaling":{"minReplicas":1,"maxReplicas":3,"targetCPUUtilizationPercentage":10}}}"#;
    patch_stream(node, patch);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), STREAM_NS);
    let utilization = || async {
        let status = hpas.get(STREAM).await.ok()?.status?;
        let metric = status.current_metrics?.into_iter().next()?;
        metric.resource?.current.average_utilization
    };
    let idle = eventually(
        "the HPA reads the pods' CPU from metrics-server",
        Duration::from_secs(120),
        utilization,
    )
    .await;
    let started = std::time::Instant::now();
    let mut acked = Vec::new();
    let mut busiest = idle;
    let mut round = 0;
    // Load in rounds (three producers of 10,000 records each) until the HPA has scaled to
    // maxReplicas: bounded by time, since metrics-server, the HPA's CPU initialization period
    // and the new pods' readiness each take seconds; and by count.
    while ready_pod_names(client).await.len() < 3 {
        let status = hpas.get(STREAM).await.ok().and_then(|h| h.status);
        assert!(
            started.elapsed() < Duration::from_secs(180) && round < 200,
            "no scale-up after {round} rounds of load in {:.0} s; HPA status {status:?}",
            started.elapsed().as_secs_f64()
        );
        let producers: Vec<_> = (0..3)
            .map(|p| {
                sdk_producer(node, endpoint, &format!("hpa-{round}-{p}"), 10_000)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start firehose-put")
            })
            .collect();
        for producer in producers {
            let out = tokio::task::spawn_blocking(move || producer.wait_with_output())
                .await
                .expect("join")
                .expect("firehose-put");
            acked.extend(acknowledged(&out, 10_000, "aws-sdk-firehose under load"));
        }
        busiest = busiest.max(utilization().await.unwrap_or(0));
        round += 1;
    }
    let up = started.elapsed();
    eprintln!(
        "HPA: {idle}% CPU idle, {busiest}% under load; 3 Ready pods after {:.0} s and {} records",
        up.as_secs_f64(),
        acked.len()
    );
    let idle_again = std::time::Instant::now();
    eventually(
        "the HPA back at minReplicas once the load stopped",
        Duration::from_secs(240),
        || async {
            let pods = stream_pods(client).await;
            let live: Vec<&Pod> = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            (live.len() == 1 && is_ready(live[0])).then_some(())
        },
    )
    .await;
    eprintln!(
        "HPA: back to 1 pod {:.0} s after the load stopped",
        idle_again.elapsed().as_secs_f64()
    );
    acked
}

/// `status.delivery` reports the backlog (read from the pods' `/status`), drained to zero.
async fn the_status_shows_the_backlog_drained(client: &kube::Client) {
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), STREAM_NS);
    let delivery = eventually(
        "status.delivery backlog 0",
        Duration::from_secs(120),
        || async {
            let d = streams.get(STREAM).await.ok()?.status?.delivery?;
            // The pods the Secret change started have delivered nothing yet: no success time.
            (d.backlog_records == 0 && d.last_error.is_none()).then_some(d)
        },
    )
    .await;
    eprintln!("status.delivery: {delivery:?}");
}

/// Back to `spec.replicas`, at zero: the HPA goes, the pods drain and go, and with no pod to
/// read the status drops its delivery health instead of keeping a stale one.
async fn scaled_to_zero_the_status_has_no_delivery_health(node: &Node, client: &kube::Client) {
    let patch = r#"{"spec":{"autoscaling":null,"replicas":0}}"#;
    patch_stream(node, patch);
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), STREAM_NS);
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), STREAM_NS);
    eventually(
        "no pods, no HPA, no delivery health",
        Duration::from_secs(120),
        || async {
            let status = streams.get(STREAM).await.ok()?.status?;
            let no_hpa = hpas.get_opt(STREAM).await.ok()?.is_none();
            let no_pods = stream_pods(client).await.is_empty();
            (no_pods && no_hpa && status.delivery.is_none()).then_some(())
        },
    )
    .await;
}

/// `kubectl delete` of the stream: DELETING while its pods drain, then gone with its children.
async fn deletion_drains_through_the_finalizer(node: &Node, client: &kube::Client) {
    node.kubectl_ok(&["-n", STREAM_NS, "delete", "dstream", STREAM, "--wait=false"]);
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), STREAM_NS);
    eventually("the stream gone", Duration::from_secs(120), || async {
        streams.get_opt(STREAM).await.ok()?.is_none().then_some(())
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), STREAM_NS);
    eventually("its pods gone", Duration::from_secs(120), || async {
        pods.list(&ListParams::default())
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
}
