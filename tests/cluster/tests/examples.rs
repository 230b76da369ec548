//! Every example in `examples/` that can run against a server the tests start, deployed at once
//! on a real single-node cluster (as in `journey.rs`, which covers `examples/s3.yaml`): the
//! chart installed with helm, each example's namespace under the restricted Pod Security level,
//! the Secrets its header comment lists and its manifest applied with kubectl, the stream
//! ACTIVE from its real Deployment, records put with aws-sdk-firehose or boto3 through
//! `status.endpoint`, and every acknowledged record at the destination:
//!
//! - `opensearch.yaml`: documents in the daily index of an OpenSearch node;
//! - `postgresql.yaml`: rows in PostgreSQL's table, over TLS checked against the Secret's CA;
//! - `splunk.yaml`: events at the OpenTelemetry Collector's Splunk HEC receiver, over TLS;
//! - `http-endpoint.yaml`: requests at an HTTP endpoint receiver, with the access key and the
//!   common attributes, and the AllData backup in the bucket;
//! - `transformation.yaml`: objects in the bucket as the Lambda-compatible service made them;
//! - `partitioning.yaml`: objects per customer and year, each holding only its own records;
//! - `parquet.yaml`: Parquet objects that pyarrow reads back, row by row.
//!
//! Every server runs inside the node's network namespace, where pods reach it on the node's IP;
//! each manifest is the example's file with only its server addresses and intervals (and, for
//! the node's size, one replica count) rewritten (`examples/manifests.rs`). Not here:
//! `redshift.yaml` (it needs Redshift) and `quickstart.yaml` (a local directory, which the
//! operator refuses in a cluster).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use destinations::{
    documents_in_the_index, events_at_the_hec, nothing_in_the_error_outputs,
    parquet_objects_in_the_bucket, partitioned_objects_in_the_bucket, requests_at_the_endpoint,
    rows_in_the_table, transformed_objects_in_the_bucket,
};
use harness::cluster;
use harness::http_receiver::HttpReceiver;
use harness::moto::Moto;
use harness::node::{Images, Node};
use harness::opensearch::OpenSearch;
use harness::postgres::Postgres;
use harness::splunk::SplunkHec;
use harness::tls_front::TlsFront;
use harness::transformation::{Mode, Service};
use manifests::{EXAMPLES, Example, Producer, literal};

// The examples and the checks per destination, in a directory cargo does not take for a test
// of its own.
#[path = "examples/destinations.rs"]
mod destinations;
#[path = "examples/manifests.rs"]
mod manifests;

const RELEASE_NS: &str = "hydrant-system";
/// Records each producer puts.
const RECORDS: usize = 5000;
/// The HEC token (Splunk's are GUIDs).
const HEC_TOKEN: &str = "5c0c5e0e-8f6b-4a4e-9a39-2d6f0b6c1a77";
/// The HTTP endpoint's access key (`firehose-receiver-key`).
const RECEIVER_KEY: &str = "receiver-access-key";
/// The transformation service's bearer token (`order-enricher-token`).
const ENRICHER_TOKEN: &str = "enricher-token";
/// The database user's password (`orders-db`).
const PG_PASSWORD: &str = "orders-db-password";
/// How long delivery may take once the records are acknowledged.
const DELIVERY: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread")]
async fn every_example_delivers_on_a_real_node() {
    let started = Instant::now();
    let images = Images::build();
    let node = Node::start(&[
        images.archive("hydrant"),
        images.archive("hydrant-operator"),
    ]);
    let client = node.client().await;
    let operators = cluster::helm_install(&node, &client, RELEASE_NS).await;
    eprintln!(
        "helm install: operator pods {operators:?} Ready at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let servers = Servers::start(&node).await;

    let applied = Instant::now();
    namespaces(&node);
    std::thread::scope(|s| {
        for example in EXAMPLES {
            let (node, servers) = (&node, &servers);
            s.spawn(move || deploy(servers, node, example));
        }
    });
    eprintln!(
        "{} examples applied in {:.1} s",
        EXAMPLES.len(),
        applied.elapsed().as_secs_f64()
    );
    let endpoints = futures::future::join_all(EXAMPLES.map(|e| active(&client, e, applied))).await;

    let put = Instant::now();
    let producers: Vec<Child> = EXAMPLES
        .iter()
        .zip(&endpoints)
        .map(|(e, endpoint)| producer(&node, endpoint, e))
        .collect();
    let mut acked = Vec::new();
    for (example, child) in EXAMPLES.iter().zip(producers) {
        acked.push(acknowledged(example, child).await);
    }
    eprintln!(
        "{RECORDS} records acknowledged by each stream in {:.1} s",
        put.elapsed().as_secs_f64()
    );

    let [os, pg, hec, http, xform, parts, pq] = &acked[..] else {
        unreachable!("seven examples")
    };
    tokio::join!(
        documents_in_the_index(&servers.opensearch, os, put),
        rows_in_the_table(&servers.postgres, pg, put),
        events_at_the_hec(&servers.hec, hec, put),
        requests_at_the_endpoint(&servers, http, put),
        transformed_objects_in_the_bucket(&servers, xform, put),
        partitioned_objects_in_the_bucket(&servers.moto, parts, put),
        parquet_objects_in_the_bucket(&servers.moto, pq, put),
    );
    nothing_in_the_error_outputs(&servers.moto).await;
    eprintln!(
        "every example delivered; test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The examples' destinations, all inside the node's network namespace: one moto server for
/// every bucket (error outputs, the HTTP endpoint's backup, the transformation's output), and
/// one CA whose certificate for the node's IP the TLS servers present.
struct Servers {
    moto: Moto,
    opensearch: OpenSearch,
    /// OpenSearch over TLS (the node has no security plugin, so no TLS of its own).
    opensearch_tls: TlsFront,
    postgres: Postgres,
    hec: SplunkHec,
    receiver: HttpReceiver,
    enricher: Service,
    /// The node's IP: where pods reach every server.
    ip: String,
    certs: tempfile::TempDir,
}

impl Servers {
    async fn start(node: &Node) -> Self {
        let started = Instant::now();
        let certs = tempfile::tempdir().expect("tmp");
        let (ns, reach) = (node.netns.as_str(), node.reach_ip());
        // Pods reach the servers at the node's IP, this process at the namespace's other end.
        let names = [format!("IP:{}", node.ip), format!("IP:{reach}")];
        harness::tls::make_certificates_for(certs.path(), &[&names[0], &names[1]]);
        let (moto, opensearch, postgres, hec) = tokio::join!(
            Moto::start_in_netns(ns, &reach),
            OpenSearch::start_in_netns(ns, &reach, &[]),
            Postgres::start_tls_in_netns(certs.path(), ns, PG_PASSWORD),
            SplunkHec::start_tls_in_netns(HEC_TOKEN, ns, &reach, certs.path()),
        );
        let target = opensearch.url.trim_start_matches("http://").to_owned();
        let opensearch_tls = TlsFront::start_in_netns(ns, certs.path(), target);
        for bucket in [
            "app-logs-failed",
            "orders-failed",
            "audit-events-failed",
            "metrics-export-backup",
            "orders-enriched",
            "clickstream-partitioned",
            "shop-lake",
        ] {
            moto.create_bucket(bucket).await;
        }
        // The example's table, in a database of its own.
        postgres
            .client("postgres")
            .await
            .batch_execute("CREATE DATABASE shop")
            .await
            .expect("create database");
        postgres
            .client("shop")
            .await
            .batch_execute(
                "CREATE SCHEMA analytics;
                 CREATE TABLE analytics.orders (order_id text PRIMARY KEY, customer_id bigint,
                   amount numeric(12,2), currency char(3), created_at timestamptz, items jsonb)",
            )
            .await
            .expect("create the table");
        let servers = Self {
            moto,
            opensearch,
            opensearch_tls,
            postgres,
            hec,
            receiver: HttpReceiver::start_in_netns(ns),
            enricher: Service::start_in_netns(ns, Mode::Normal, 0),
            ip: node.ip.clone(),
            certs,
        };
        eprintln!(
            "servers up in {:.1} s inside {ns}: moto {}, OpenSearch {} (TLS :{}), PostgreSQL :{}, HEC {}, HTTP endpoint :{}, transformation :{}",
            started.elapsed().as_secs_f64(),
            servers.moto.endpoint(),
            servers.opensearch.url,
            servers.opensearch_tls.port,
            servers.postgres.port,
            servers.hec.url(),
            servers.receiver.addr.port(),
            servers.enricher.addr.port(),
        );
        servers
    }

    /// `http://<node IP>:<port>` of the moto server, as pods reach it.
    fn s3(&self) -> String {
        format!("http://{}:{}", self.ip, self.moto.port)
    }

    fn ca(&self) -> String {
        self.certs.path().join("ca.crt").display().to_string()
    }
}

/// The examples' namespaces (restricted), each with the `s3-writer` Secret every example lists
/// (moto takes any keys); two examples may share one.
fn namespaces(node: &Node) {
    let mut names: Vec<&str> = EXAMPLES.iter().map(|e| e.namespace).collect();
    names.sort();
    names.dedup();
    std::thread::scope(|s| {
        for ns in names {
            s.spawn(move || {
                cluster::restricted_namespace(node, ns);
                let s3 = [
                    literal("accessKeyId", "test"),
                    literal("secretAccessKey", "test"),
                ];
                cluster::secret(node, ns, "s3-writer", &s3);
            });
        }
    });
}

/// The example's own Secrets, and its manifest, rewritten, applied with kubectl.
fn deploy(servers: &Servers, node: &Node, example: &Example) {
    let setup = (example.setup)(servers);
    let ns = example.namespace;
    for (name, sources) in &setup.secrets {
        cluster::secret(node, ns, name, sources);
    }
    let path = harness::workspace_root()
        .join("examples")
        .join(example.file);
    let text = std::fs::read_to_string(&path).expect("read the example");
    cluster::apply(
        node,
        example.file,
        &rewritten(example.file, &text, &setup.rewrites),
    );
}

/// `text` with each rewrite applied; each must match exactly once, so an example that changes
/// fails here rather than running with a server address nobody listens on.
fn rewritten(file: &str, text: &str, rewrites: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in rewrites {
        assert_eq!(out.matches(from).count(), 1, "{file}: {from:?} once");
        out = out.replace(from, to);
    }
    out
}

/// Waits for the example's stream to be ACTIVE; returns `status.endpoint`.
async fn active(client: &kube::Client, example: &Example, applied: Instant) -> String {
    let (ns, stream) = (example.namespace, example.stream);
    let (endpoint, _) =
        cluster::active_endpoint(client, ns, stream, Duration::from_secs(180)).await;
    let pods: Vec<(String, i32)> = cluster::stream_pods(client, ns, stream)
        .await
        .iter()
        .map(cluster::name_and_restarts)
        .collect();
    eprintln!(
        "{ns}/{stream} ACTIVE {:.1} s after the apply, pods (name, restarts) {pods:?}, endpoint {endpoint}",
        applied.elapsed().as_secs_f64()
    );
    endpoint
}

/// The example's producer inside the cluster's network namespace, putting [`RECORDS`] records
/// to its endpoint; started, not waited for.
fn producer(node: &Node, endpoint: &str, example: &Example) -> Child {
    let count = RECORDS.to_string();
    let mut command = match example.producer {
        Producer::Sdk(template) => {
            let mut c = node.in_netns(Path::new(env!("CARGO_BIN_EXE_firehose-put")));
            c.args([endpoint, example.stream, example.prefix, &count, template]);
            c
        }
        Producer::Boto3(script) => {
            let mut c = node.in_netns(Path::new("python3"));
            c.args([
                "-c",
                script,
                endpoint,
                example.stream,
                example.prefix,
                &count,
            ]);
            c
        }
    };
    // The examples do not verify signatures (no ingest.auth): any keys sign.
    command
        .env("AWS_ACCESS_KEY_ID", "AKIDPRODUCER")
        .env("AWS_SECRET_ACCESS_KEY", "producer-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the producer")
}

/// The ids the producer printed as acknowledged, which must be all of them.
async fn acknowledged(example: &Example, child: Child) -> Vec<String> {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("the producer");
    assert!(
        out.status.success(),
        "the producer for {}: {}",
        example.stream,
        String::from_utf8_lossy(&out.stderr)
    );
    let acked: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        acked.len(),
        RECORDS,
        "{}: every record acknowledged",
        example.stream
    );
    acked
}
