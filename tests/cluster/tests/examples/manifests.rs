//! The examples as the test deploys them: each one's namespace and stream as its file names
//! them, its producer, the Secrets its header comment lists and the rewrites of its manifest.
//! Each rewrite says why; common to all, the S3 endpoint (error output, backup, output) becomes
//! the moto server's and the buffering interval 1 s, so the test waits seconds rather than the
//! minutes the examples buffer for.

use super::{ENRICHER_TOKEN, HEC_TOKEN, PG_PASSWORD, RECEIVER_KEY, Servers};

/// One example as the test deploys it.
pub struct Example {
    /// Its file under `examples/`.
    pub file: &'static str,
    /// Its namespace and stream, as the file names them.
    pub namespace: &'static str,
    pub stream: &'static str,
    /// The producer's record ids are `<prefix>-<i>`.
    pub prefix: &'static str,
    pub producer: Producer,
    /// The Secrets its header comment lists (besides `s3-writer`) and its rewrites.
    pub setup: fn(&Servers) -> Setup,
}

/// What puts the example's records, in the shape its destination needs.
pub enum Producer {
    /// aws-sdk-firehose (`firehose-put`) with this TEMPLATE.
    Sdk(&'static str),
    /// boto3, running this script with ENDPOINT STREAM PREFIX COUNT; it prints the ids of the
    /// records acknowledged.
    Boto3(&'static str),
}

pub struct Setup {
    /// Secret name and kubectl sources (`--from-literal=...`, `--from-file=...`).
    pub secrets: Vec<(&'static str, Vec<String>)>,
    /// `(text in the example, replacement)`.
    pub rewrites: Vec<(&'static str, String)>,
}

const OPENSEARCH: Example = Example {
    file: "opensearch.yaml",
    namespace: "logging",
    stream: "app-logs",
    prefix: "log",
    producer: Producer::Sdk(r#"{"id":"{id}","level":"info","message":"request {i} served"}"#),
    setup: opensearch_setup,
};
const POSTGRESQL: Example = Example {
    file: "postgresql.yaml",
    namespace: "shop",
    stream: "orders",
    prefix: "order",
    producer: Producer::Sdk(
        r#"{"order_id":"{id}","customer_id":{i},"amount":19.99,"currency":"EUR","created_at":"2026-01-02T03:04:05Z","items":[{"sku":"sku-{i}","qty":2}]}"#,
    ),
    setup: postgresql_setup,
};
const SPLUNK: Example = Example {
    file: "splunk.yaml",
    namespace: "security",
    stream: "audit-events",
    prefix: "audit",
    // Raw events are lines and the stream appends the line break.
    producer: Producer::Sdk("{id}"),
    setup: splunk_setup,
};
const HTTP_ENDPOINT: Example = Example {
    file: "http-endpoint.yaml",
    namespace: "observability",
    stream: "metrics-export",
    prefix: "metric",
    producer: Producer::Sdk("{id}"),
    setup: http_endpoint_setup,
};
const TRANSFORMATION: Example = Example {
    file: "transformation.yaml",
    namespace: "analytics",
    stream: "orders-enriched",
    prefix: "purchase",
    producer: Producer::Sdk("{id}"),
    setup: transformation_setup,
};
const PARTITIONING: Example = Example {
    file: "partitioning.yaml",
    namespace: "analytics",
    stream: "clickstream-by-customer",
    prefix: "click",
    producer: Producer::Boto3(CLICKS),
    setup: partitioning_setup,
};
const PARQUET: Example = Example {
    file: "parquet.yaml",
    namespace: "shop",
    stream: "orders-parquet",
    prefix: "pq",
    // Mixed-case keys: the example's SerDe is case-insensitive.
    producer: Producer::Sdk(
        r#"{"Order_ID":"{id}","Customer_Id":{i},"total":12.5,"currency":"EUR","created_at":"2026-11-26T09:14:02Z","items":[{"sku":"sku-{i}","qty":1}],"attributes":{"channel":"web"}}"#,
    ),
    setup: parquet_setup,
};
pub const EXAMPLES: [&Example; 7] = [
    &OPENSEARCH,
    &POSTGRESQL,
    &SPLUNK,
    &HTTP_ENDPOINT,
    &TRANSFORMATION,
    &PARTITIONING,
    &PARQUET,
];

/// Clicks of seven customers over two years, for the partitioning example's JQ query
/// (`customer_id`, the year of `event_time`), in PutRecordBatch calls of 500.
const CLICKS: &str = r#"
import json, sys, boto3
endpoint, stream, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fh = boto3.client("firehose", endpoint_url=endpoint, region_name="us-east-1")
for start in range(0, count, 500):
    ids = [(i, f"{prefix}-{i}") for i in range(start, min(start + 500, count))]
    records = [{"Data": json.dumps({"id": id, "customer_id": 410 + i % 7,
                                    "event_time": f"{2025 + i % 2}-11-26T09:14:02Z"}).encode()}
               for i, id in ids]
    out = fh.put_record_batch(DeliveryStreamName=stream, Records=records)
    for (_, id), r in zip(ids, out["RequestResponses"]):
        if "RecordId" in r and "ErrorCode" not in r:
            print(id)
"#;

fn opensearch_setup(s: &Servers) -> Setup {
    Setup {
        secrets: vec![
            // The node has no security plugin: it takes any credentials.
            (
                "opensearch-writer",
                vec![literal("username", "writer"), literal("password", "pw")],
            ),
            ("opensearch-ca", vec![file("ca.crt", &s.ca())]),
        ],
        rewrites: vec![
            // The OpenSearch node, through its TLS front on the node's IP.
            (
                "https://opensearch-cluster-master.logging.svc:9200",
                format!("https://{}:{}", s.ip, s.opensearch_tls.port),
            ),
            ("http://seaweedfs.storage.svc:8333", s.s3()),
            (
                "intervalInSeconds: 30  # 0-900",
                "intervalInSeconds: 1  # 0-900".to_owned(),
            ),
        ],
    }
}

fn postgresql_setup(s: &Servers) -> Setup {
    // The database's address is in the Secret: the manifest names no server of its own.
    let db = vec![
        literal("host", &s.ip),
        literal("port", &s.postgres.port.to_string()),
        literal("dbname", "shop"),
        literal("user", "postgres"),
        literal("password", PG_PASSWORD),
        literal("sslmode", "verify-full"),
        file("sslrootcert", &s.ca()),
    ];
    Setup {
        secrets: vec![("orders-db", db)],
        rewrites: vec![
            ("http://seaweedfs.storage.svc:8333", s.s3()),
            (
                "intervalInSeconds: 30  # 0-900",
                "intervalInSeconds: 1  # 0-900".to_owned(),
            ),
        ],
    }
}

fn splunk_setup(s: &Servers) -> Setup {
    Setup {
        secrets: vec![
            ("splunk-hec-token", vec![literal("token", HEC_TOKEN)]),
            ("splunk-ca", vec![file("ca.crt", &s.ca())]),
        ],
        rewrites: vec![
            // The HEC receiver, over TLS on the node's IP.
            (
                "https://splunk-hec.splunk.svc:8088",
                format!("https://{}:{}", s.ip, s.hec.port),
            ),
            ("http://seaweedfs.storage.svc:8333", s.s3()),
            (
                "intervalInSeconds: 30  # 0-60",
                "intervalInSeconds: 1  # 0-60".to_owned(),
            ),
        ],
    }
}

fn http_endpoint_setup(s: &Servers) -> Setup {
    Setup {
        secrets: vec![(
            "firehose-receiver-key",
            vec![literal("accessKey", RECEIVER_KEY)],
        )],
        rewrites: vec![
            // The receiver on the node's IP; the example's path is kept.
            (
                "http://firehose-receiver.observability.svc:8080/v1/firehose",
                format!("http://{}:{}/v1/firehose", s.ip, s.receiver.addr.port()),
            ),
            ("http://seaweedfs.storage.svc:8333", s.s3()),
            (
                "intervalInSeconds: 60  # 0-900",
                "intervalInSeconds: 1  # 0-900".to_owned(),
            ),
        ],
    }
}

fn transformation_setup(s: &Servers) -> Setup {
    Setup {
        secrets: vec![(
            "order-enricher-token",
            vec![literal("token", ENRICHER_TOKEN)],
        )],
        rewrites: vec![
            ("http://seaweedfs.storage:8333", s.s3()),
            // The transformation service on the node's IP; the example's path is kept.
            (
                "http://order-enricher.analytics.svc:8080/firehose",
                format!("http://{}:{}/firehose", s.ip, s.enricher.addr.port()),
            ),
            (
                "intervalInSeconds: 60\n",
                "intervalInSeconds: 1\n".to_owned(),
            ),
            // The Lambda processor's own buffer would hold records up to a minute too.
            (
                "bufferIntervalInSeconds: 60 ",
                "bufferIntervalInSeconds: 1 ".to_owned(),
            ),
        ],
    }
}

fn partitioning_setup(s: &Servers) -> Setup {
    Setup {
        secrets: vec![],
        rewrites: vec![
            ("http://seaweedfs.storage:8333", s.s3()),
            ("intervalInSeconds: 300", "intervalInSeconds: 1".to_owned()),
        ],
    }
}

fn parquet_setup(s: &Servers) -> Setup {
    Setup {
        secrets: vec![],
        rewrites: vec![
            // The test node's 2 CPUs hold seven data-plane pods' requests (250m each) beside the
            // operators, not eight: one replica, where the example runs two.
            ("  replicas: 2\n", "  replicas: 1\n".to_owned()),
            // The example writes to AWS S3 (no endpoint): the moto server instead, path-style as
            // its buckets have no DNS names.
            (
                "      region: eu-west-1\n",
                format!(
                    "      region: eu-west-1\n      endpoint: {}\n      forcePathStyle: true\n",
                    s.s3()
                ),
            ),
            (
                "intervalInSeconds: 300}",
                "intervalInSeconds: 1}".to_owned(),
            ),
        ],
    }
}

pub fn literal(key: &str, value: &str) -> String {
    format!("--from-literal={key}={value}")
}

fn file(key: &str, path: &str) -> String {
    format!("--from-file={key}={path}")
}
