//! `hydrant gateway` on a real single-node cluster: installed by the chart (`gateway.enabled`,
//! its keys Secret, a Role in each of two namespaces), reached through its Service from the
//! cluster's network namespace by the unmodified AWS CLI and boto3. A stream whose name is no
//! DNS label is created through the gateway, becomes ACTIVE on real pods, takes puts that the
//! gateway forwards to its Service and that reach the bucket (moto) under the API name; an
//! UpdateDestination rolls the pods and increments the VersionId (a stale one is refused); tags
//! land on the resource; a key of the other namespace can neither see nor touch the stream, a
//! producer key may only put, a bad signature and an unknown key are refused; DeleteDeliveryStream
//! drains and removes it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crds::DeliveryStream;
use harness::cluster;
use harness::moto::Moto;
use harness::node::{Images, Node};
use harness::operator_env::eventually;
use harness::serve::ClientAs;
use kube::Api;
use serde_json::Value;

const RELEASE_NS: &str = "hydrant-system";
const TEAM_A: &str = "team-a";
const TEAM_B: &str = "team-b";
const STREAM: &str = "Gateway.Orders";
const BUCKET: &str = "gateway-orders";
const ENDPOINT: &str = "http://hydrant-gateway.hydrant-system.svc:4573";
const ADMIN_A: (&str, &str) = ("AKIDADMINA", "admin-a-secret");
const PRODUCER_A: (&str, &str) = ("AKIDPRODUCERA", "producer-a-secret");
const ADMIN_B: (&str, &str) = ("AKIDADMINB", "admin-b-secret");

fn keys_file() -> String {
    format!(
        "keys:\n  - {{accessKeyId: {}, secretAccessKey: {}, namespace: {TEAM_A}}}\n  - {{accessKeyId: {}, secretAccessKey: {}, namespace: {TEAM_A}, operations: [PutRecord, PutRecordBatch]}}\n  - {{accessKeyId: {}, secretAccessKey: {}, namespace: {TEAM_B}}}\n",
        ADMIN_A.0, ADMIN_A.1, PRODUCER_A.0, PRODUCER_A.1, ADMIN_B.0, ADMIN_B.1
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_maps_the_firehose_api_onto_a_namespace() {
    let started = Instant::now();
    let images = Images::build();
    let node = Node::start(&[
        images.archive("hydrant"),
        images.archive("hydrant-operator"),
    ]);
    let client = node.client().await;
    let moto = Moto::start_in_netns(&node.netns, &node.reach_ip()).await;
    moto.create_bucket(BUCKET).await;
    install_with_the_gateway(&node, &client, &moto).await;
    eprintln!(
        "chart with the gateway installed at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let work = tempfile::tempdir().expect("work dir");
    let as_key = |key| ClientAs {
        work: work.path(),
        netns: Some(&node.netns),
        key,
    };
    let (admin, producer, other) = (as_key(ADMIN_A), as_key(PRODUCER_A), as_key(ADMIN_B));

    let took = the_cli_creates_a_stream_that_becomes_active(&admin).await;
    eprintln!(
        "{STREAM} ACTIVE {:.1} s after create-delivery-stream",
        took.as_secs_f64()
    );
    let resource = stream_resource(&client).await;
    assert_eq!(resource.delivery_stream_name(), STREAM);
    puts_reach_the_bucket(&producer, &moto, "1", 500).await;
    an_update_rolls_the_pods_and_increments_the_version(&node, &client, &admin).await;
    puts_reach_the_bucket(&producer, &moto, "2", 300).await;

    tags_land_on_the_resource(&client, &admin).await;
    other_keys_are_refused(&other, &producer, &admin);
    let took = delete_drains_and_removes_the_stream(&client, &admin).await;
    eprintln!(
        "{STREAM} gone {:.1} s after delete-delivery-stream; test took {:.1} s",
        took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// The namespaces, the S3 credentials in team-a, the keys Secret, and `helm install` with the
/// gateway on (helm waits for its pod to be Ready).
async fn install_with_the_gateway(node: &Node, client: &kube::Client, moto: &Moto) {
    for ns in [TEAM_A, TEAM_B] {
        cluster::restricted_namespace(node, ns);
    }
    cluster::secret(
        node,
        TEAM_A,
        "s3-writer",
        &[
            "--from-literal=accessKeyId=test".to_owned(),
            "--from-literal=secretAccessKey=test".to_owned(),
        ],
    );
    node.kubectl_ok(&["create", "namespace", RELEASE_NS]);
    let keys = node.dir.join("gateway-keys.yaml");
    std::fs::write(&keys, keys_file()).expect("write the keys file");
    cluster::secret(
        node,
        RELEASE_NS,
        "gateway-keys",
        &[format!("--from-file=keys.yaml={}", keys.display())],
    );
    let s3 = format!("gateway.s3.endpoint=http://{}:{}", node.ip, moto.port);
    cluster::helm_install_with(
        node,
        client,
        RELEASE_NS,
        &[
            "gateway.enabled=true",
            "gateway.keysSecret=gateway-keys",
            &format!("gateway.namespaces={{{TEAM_A},{TEAM_B}}}"),
            &s3,
            "gateway.s3.credentialsSecret=s3-writer",
            "gateway.logLevel=info\\,dataplane=debug",
        ],
    )
    .await;
}

fn describe(admin: &ClientAs<'_>) -> Value {
    let out = admin
        .aws(
            ENDPOINT,
            &[
                "firehose",
                "describe-delivery-stream",
                "--delivery-stream-name",
                STREAM,
            ],
        )
        .expect("describe-delivery-stream");
    let v: Value = serde_json::from_str(&out).expect("describe JSON");
    v["DeliveryStreamDescription"].clone()
}

/// `aws firehose create-delivery-stream` through the gateway, then describe until ACTIVE.
async fn the_cli_creates_a_stream_that_becomes_active(admin: &ClientAs<'_>) -> Duration {
    let config = format!(
        r#"{{"RoleARN":"arn:aws:iam::000000000000:role/firehose","BucketARN":"arn:aws:s3:::{BUCKET}","Prefix":"v1/","BufferingHints":{{"SizeInMBs":1,"IntervalInSeconds":1}}}}"#
    );
    let created = admin
        .aws(
            ENDPOINT,
            &[
                "firehose",
                "create-delivery-stream",
                "--delivery-stream-name",
                STREAM,
                "--extended-s3-destination-configuration",
                &config,
                "--tags",
                "Key=team,Value=a",
            ],
        )
        .expect("create-delivery-stream");
    assert!(
        created.contains(&format!("deliverystream/{STREAM}")),
        "{created}"
    );
    let started = Instant::now();
    eventually(
        "the stream ACTIVE through the gateway",
        Duration::from_secs(180),
        || async {
            let d = describe(admin);
            (d["DeliveryStreamStatus"] == "ACTIVE").then_some(())
        },
    )
    .await;
    started.elapsed()
}

async fn stream_resource(client: &kube::Client) -> DeliveryStream {
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), TEAM_A);
    let list = streams
        .list(&Default::default())
        .await
        .expect("list streams");
    assert_eq!(list.items.len(), 1, "one resource in {TEAM_A}");
    list.items[0].clone()
}

/// boto3, as the producer key: PutRecordBatch calls of 100 and one PutRecord; every id it saw
/// acknowledged.
fn boto3_puts(producer: &ClientAs<'_>, prefix: &str, count: usize) -> Vec<String> {
    let out = producer.python(BOTO3_PUTS, &[ENDPOINT, STREAM, prefix, &count.to_string()]);
    let acked: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(acked.len(), count + 1, "every record acknowledged");
    acked
}

const BOTO3_PUTS: &str = r#"
import sys, boto3
from botocore.config import Config
endpoint, stream, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fh = boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(retries={"mode": "standard", "max_attempts": 10}))
for start in range(0, count, 100):
    ids = [f"{prefix}-{i}" for i in range(start, min(start + 100, count))]
    out = fh.put_record_batch(DeliveryStreamName=stream,
                              Records=[{"Data": (i + "\n").encode()} for i in ids])
    for i, r in zip(ids, out["RequestResponses"]):
        if "RecordId" in r and "ErrorCode" not in r:
            print(i)
one = f"{prefix}-single"
fh.put_record(DeliveryStreamName=stream, Record={"Data": (one + "\n").encode()})
print(one)
"#;

/// `count` records (and one more) put with boto3 as the producer key, every one in the bucket
/// under the prefix of `version` (`v<version>/`), in objects named by the API name and version.
async fn puts_reach_the_bucket(producer: &ClientAs<'_>, moto: &Moto, version: &str, count: usize) {
    let prefix = format!("v{version}");
    let acked = boto3_puts(producer, &prefix, count);
    let keys = delivered(moto, &format!("{prefix}/"), &acked).await;
    assert!(
        keys.iter()
            .all(|k| k.contains(&format!("/{STREAM}-{version}-"))),
        "objects carry the API name and version {version}: {keys:?}"
    );
    eprintln!(
        "version {version}: {} records put through the gateway, in {} objects",
        acked.len(),
        keys.len()
    );
}

/// Every acknowledged record in objects under `prefix`; returns the objects' keys.
async fn delivered(moto: &Moto, prefix: &str, acked: &[String]) -> Vec<String> {
    let want: BTreeSet<&str> = acked.iter().map(String::as_str).collect();
    let started = Instant::now();
    let keys = eventually(
        &format!("every acknowledged record under {prefix}"),
        Duration::from_secs(90),
        || async {
            let objects = moto.objects(BUCKET).await;
            let mut got = BTreeSet::new();
            let mut keys = Vec::new();
            for (key, bytes, _) in &objects {
                if key.starts_with(prefix) {
                    keys.push(key.clone());
                    got.extend(String::from_utf8_lossy(bytes).lines().map(str::to_owned));
                }
            }
            want.iter().all(|w| got.contains(*w)).then_some(keys)
        },
    )
    .await;
    eprintln!(
        "{} records under {prefix} {:.1} s after the last put",
        want.len(),
        started.elapsed().as_secs_f64()
    );
    keys
}

/// UpdateDestination with the current VersionId (a new prefix): the operator rolls every pod
/// and the VersionId becomes 2; the same update based on version 1 is then refused.
async fn an_update_rolls_the_pods_and_increments_the_version(
    node: &Node,
    client: &kube::Client,
    admin: &ClientAs<'_>,
) {
    let d = describe(admin);
    assert_eq!(d["VersionId"], "1", "{d}");
    let destination = d["Destinations"][0]["DestinationId"]
        .as_str()
        .expect("DestinationId")
        .to_owned();
    let before: BTreeSet<String> = pod_names(client).await;
    let update = |version: &str| {
        admin.aws(
            ENDPOINT,
            &[
                "firehose",
                "update-destination",
                "--delivery-stream-name",
                STREAM,
                "--current-delivery-stream-version-id",
                version,
                "--destination-id",
                &destination,
                "--extended-s3-destination-update",
                r#"{"Prefix":"v2/"}"#,
            ],
        )
    };
    let started = Instant::now();
    update("1").expect("update-destination");
    assert_eq!(
        describe(admin)["VersionId"],
        "2",
        "an update is the next version at once"
    );
    let stale = update("1").expect_err("an update based on version 1");
    assert!(stale.contains("ConcurrentModificationException"), "{stale}");
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), TEAM_A);
    let object = stream_resource(client).await;
    let name = object.metadata.name.clone().expect("object name");
    eventually(
        "the pods rolled at version 2",
        Duration::from_secs(180),
        || async {
            let status = streams.get(&name).await.ok()?.status?;
            let pods = cluster::stream_pods(client, TEAM_A, &name).await;
            let live: Vec<_> = pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let rolled = !live.is_empty()
                && live.iter().all(|p| {
                    cluster::is_ready(p)
                        && p.metadata
                            .name
                            .as_ref()
                            .is_some_and(|n| !before.contains(n))
                });
            (rolled && status.version_id.as_deref() == Some("2")).then_some(())
        },
    )
    .await;
    let prefix =
        describe(admin)["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"].clone();
    assert_eq!(prefix, "v2/");
    eprintln!(
        "update-destination: pods {before:?} rolled, VersionId 2, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let listed = node.kubectl_ok(&["get", "dstream", "-n", TEAM_A]);
    eprintln!("kubectl get dstream:\n{listed}");
}

async fn pod_names(client: &kube::Client) -> BTreeSet<String> {
    let name = stream_resource(client)
        .await
        .metadata
        .name
        .expect("object name");
    cluster::stream_pods(client, TEAM_A, &name)
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// TagDeliveryStream adds to the tag given at create; both are in the resource's annotation.
async fn tags_land_on_the_resource(client: &kube::Client, admin: &ClientAs<'_>) {
    admin
        .aws(
            ENDPOINT,
            &[
                "firehose",
                "tag-delivery-stream",
                "--delivery-stream-name",
                STREAM,
                "--tags",
                "Key=owner,Value=gateway-test",
            ],
        )
        .expect("tag-delivery-stream");
    let out = admin
        .aws(
            ENDPOINT,
            &[
                "firehose",
                "list-tags-for-delivery-stream",
                "--delivery-stream-name",
                STREAM,
            ],
        )
        .expect("list-tags-for-delivery-stream");
    let tags: Value = serde_json::from_str(&out).expect("tags JSON");
    let keys: Vec<&str> = tags["Tags"]
        .as_array()
        .expect("Tags")
        .iter()
        .filter_map(|t| t["Key"].as_str())
        .collect();
    assert_eq!(keys, ["owner", "team"], "{tags}");
    let annotations = stream_resource(client)
        .await
        .metadata
        .annotations
        .unwrap_or_default();
    let stored = annotations
        .get("firehose.hydrant.dev/tags")
        .expect("the tags annotation");
    assert!(stored.contains("gateway-test"), "{stored}");
}

/// team-b's key sees no stream and touches none; the producer key may not delete; a wrong
/// secret and an unknown key are refused.
fn other_keys_are_refused(other: &ClientAs<'_>, producer: &ClientAs<'_>, admin: &ClientAs<'_>) {
    let out = other.python(ISOLATION, &[ENDPOINT, STREAM]);
    let codes: Value = serde_json::from_str(out.trim()).expect("isolation JSON");
    eprintln!("team-b's key: {codes}");
    assert_eq!(codes["list"], serde_json::json!([]));
    for op in ["describe", "put", "tag", "update", "delete"] {
        assert_eq!(codes[op], "ResourceNotFoundException", "{op}: {codes}");
    }
    let denied = producer
        .aws(
            ENDPOINT,
            &[
                "firehose",
                "delete-delivery-stream",
                "--delivery-stream-name",
                STREAM,
            ],
        )
        .expect_err("the producer key may not delete");
    assert!(
        denied.contains("AccessDeniedException")
            && denied.contains("is not authorized to perform: firehose:DeleteDeliveryStream"),
        "{denied}"
    );
    let wrong_secret = ClientAs {
        key: (ADMIN_A.0, "not-the-secret"),
        ..*admin
    };
    let e = wrong_secret
        .aws(ENDPOINT, &["firehose", "list-delivery-streams"])
        .expect_err("a wrong secret");
    assert!(e.contains("InvalidSignatureException"), "{e}");
    let unknown = ClientAs {
        key: ("AKIDUNKNOWN", "x"),
        ..*admin
    };
    let e = unknown
        .aws(ENDPOINT, &["firehose", "list-delivery-streams"])
        .expect_err("an unknown key");
    assert!(e.contains("UnrecognizedClientException"), "{e}");
    let listed = admin
        .aws(ENDPOINT, &["firehose", "list-delivery-streams"])
        .expect("list as team-a");
    assert!(listed.contains(STREAM), "{listed}");
}

const ISOLATION: &str = r#"
import json, sys, boto3
from botocore.exceptions import ClientError
endpoint, stream = sys.argv[1], sys.argv[2]
fh = boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1")
def code(call, **kw):
    try:
        call(**kw)
        return "OK"
    except ClientError as e:
        return e.response["Error"]["Code"]
print(json.dumps({
    "list": fh.list_delivery_streams()["DeliveryStreamNames"],
    "describe": code(fh.describe_delivery_stream, DeliveryStreamName=stream),
    "put": code(fh.put_record, DeliveryStreamName=stream, Record={"Data": b"x\n"}),
    "tag": code(fh.tag_delivery_stream, DeliveryStreamName=stream, Tags=[{"Key": "k", "Value": "v"}]),
    "update": code(fh.update_destination, DeliveryStreamName=stream, CurrentDeliveryStreamVersionId="2",
                   DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "b/"}),
    "delete": code(fh.delete_delivery_stream, DeliveryStreamName=stream),
}))
"#;

/// DeleteDeliveryStream: DELETING while the finalizer drains the pods, then gone.
async fn delete_drains_and_removes_the_stream(
    client: &kube::Client,
    admin: &ClientAs<'_>,
) -> Duration {
    let name = stream_resource(client)
        .await
        .metadata
        .name
        .expect("object name");
    let started = Instant::now();
    admin
        .aws(
            ENDPOINT,
            &[
                "firehose",
                "delete-delivery-stream",
                "--delivery-stream-name",
                STREAM,
            ],
        )
        .expect("delete-delivery-stream");
    let streams: Api<DeliveryStream> = Api::namespaced(client.clone(), TEAM_A);
    eventually("the stream gone", Duration::from_secs(120), || async {
        let gone = admin
            .aws(
                ENDPOINT,
                &[
                    "firehose",
                    "describe-delivery-stream",
                    "--delivery-stream-name",
                    STREAM,
                ],
            )
            .is_err_and(|e| e.contains("ResourceNotFoundException"));
        let resource_gone = streams.get_opt(&name).await.ok()?.is_none();
        (gone && resource_gone).then_some(())
    })
    .await;
    eventually("its pods gone", Duration::from_secs(60), || async {
        cluster::stream_pods(client, TEAM_A, &name)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    started.elapsed()
}
