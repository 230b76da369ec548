//! Records per second delivered to each real destination server on this machine.
//!
//! `cargo bench -p dataplane --bench destinations` (optionally `BENCH_RECORDS=200000`,
//! `BENCH_ONLY=opensearch`). For every destination: start the real server (the same ones the
//! tests use), start the release `hydrant` binary, put the records with PutRecordBatch (4
//! concurrent connections, 500 records per request, ~240-byte JSON records), wait until the log
//! is drained, and check the server holds every record. Prints one markdown row per destination.

use harness as common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::Hydrant;
use common::moto::Moto;
use common::opensearch::OpenSearch;
use common::postgres::Postgres;
use common::sinks::{s3_configuration, write_s3_secret, write_secret};
use common::splunk::SplunkHec;
use serde_json::{Value, json};
use warp::Filter;

fn records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"event":"request {i}","num":{i},"status":200,"path":"/api/v1/items/{}","agent":"bench/1.0 (x86_64) hydrant-destination-benchmark","bytes":{}}}"#,
                i % 1000,
                i % 65536
            )
            .into_bytes()
        })
        .collect()
}

struct Row {
    destination: &'static str,
    server: &'static str,
    records: usize,
    bytes: u64,
    elapsed: Duration,
    load: Duration,
}

async fn run(
    name: &'static str,
    server: &'static str,
    destination: &str,
    setup_secrets: impl FnOnce(&std::path::Path),
    all: &[Vec<u8>],
) -> (Row, Hydrant, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tmp");
    write_s3_secret(tmp.path());
    setup_secrets(tmp.path());
    let secrets = tmp.path().join("secrets");
    let h = Hydrant::start(
        tmp.path(),
        &common::stream_manifest(name, "1Gi", destination),
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await;
    let started = Instant::now();
    let load_time = common::sinks::put_concurrently(&h.ingest_url(), name, all).await;
    h.wait_drained(Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    let row = Row {
        destination: name,
        server,
        records: all.len(),
        bytes: all.iter().map(|r| r.len() as u64).sum(),
        elapsed,
        load: load_time,
    };
    (row, h, tmp)
}

/// A Firehose HTTP endpoint receiver that counts records and answers 200.
async fn http_receiver(count: Arc<AtomicU64>) -> String {
    let route = warp::post()
        .and(warp::body::bytes())
        .map(move |body: bytes::Bytes| {
            let v: Value = serde_json::from_slice(&body).expect("json");
            count.fetch_add(
                v["records"].as_array().map_or(0, |r| r.len() as u64),
                Ordering::Relaxed,
            );
            warp::reply::with_header(
                json!({"requestId": v["requestId"], "timestamp": 1}).to_string(),
                "content-type",
                "application/json",
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    format!("http://{addr}/")
}

/// What every destination's run shares: the records, the hints, the error-output bucket.
struct Bench {
    all: Vec<Vec<u8>>,
    hints: &'static str,
    s3: String,
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |d: &str| only.as_deref().is_none_or(|o| o == d);
    let moto = Moto::start().await;
    moto.create_bucket("bench-errors").await;
    let bench = Bench {
        all: records(n),
        hints: "      bufferingHints: {sizeInMBs: 5, intervalInSeconds: 1}\n",
        s3: s3_configuration(&moto, "bench-errors", ""),
    };
    let mut rows = Vec::new();
    if wanted("http_endpoint") {
        rows.push(http_endpoint(&bench).await);
    }
    if wanted("opensearch") {
        rows.push(opensearch(&bench).await);
    }
    if wanted("splunk") {
        rows.push(splunk(&bench).await);
    }
    if wanted("postgresql") {
        rows.push(postgresql(&bench).await);
    }
    print_table(rows);
}

async fn http_endpoint(b: &Bench) -> Row {
    let (hints, s3, n) = (b.hints, &b.s3, b.all.len());
    let count = Arc::new(AtomicU64::new(0));
    let url = http_receiver(count.clone()).await;
    let d =
        format!("    httpEndpoint:\n      endpointConfiguration: {{url: \"{url}\"}}\n{hints}{s3}");
    let (row, _h, _t) = run(
        "http_endpoint",
        "in-process warp receiver (Firehose HTTP protocol)",
        &d,
        |_| {},
        &b.all,
    )
    .await;
    assert!(
        count.load(Ordering::Relaxed) >= n as u64,
        "receiver got every record"
    );
    row
}

async fn opensearch(b: &Bench) -> Row {
    let (hints, s3, n) = (b.hints, &b.s3, b.all.len());
    let os = OpenSearch::start(&[]).await;
    let d = format!(
        "    openSearch:\n      endpoint: {}\n      indexName: bench\n      indexRotationPeriod: NoRotation\n{hints}{s3}",
        os.url
    );
    let (row, _h, _t) = run(
        "opensearch",
        "OpenSearch 2.19.6, 1 node, 512 MiB heap",
        &d,
        |_| {},
        &b.all,
    )
    .await;
    assert_eq!(os.count("bench").await, n as u64, "every document indexed");
    row
}

async fn splunk(b: &Bench) -> Row {
    let (hints, s3, n) = (b.hints, &b.s3, b.all.len());
    let hec = SplunkHec::start("bench-token").await;
    let d = format!(
        "    splunk:\n      hecEndpoint: {}\n      hecEndpointType: Event\n      hecTokenSecret: hec\n{hints}{s3}",
        hec.url()
    );
    let token = hec.token.clone();
    let (row, _h, _t) = run(
        "splunk",
        "OTel Collector v0.158 splunkhec receiver, acks on, file exporter",
        &d,
        |dir| write_secret(dir, "hec", &[("token", &token)]),
        &b.all,
    )
    .await;
    assert_eq!(hec.events().len(), n, "every event received");
    row
}

async fn postgresql(b: &Bench) -> Row {
    let (hints, s3, n) = (b.hints, &b.s3, b.all.len());
    let pg = Postgres::start().await;
    pg.client("postgres")
        .await
        .batch_execute(
            "CREATE TABLE bench (event text, num bigint, status int, path text, agent text, bytes int)",
        )
        .await
        .expect("table");
    let d = format!(
        "    postgresql:\n      connectionSecret: pg\n      table: bench\n      columns: [event, num, status, path, agent, bytes]\n{hints}{s3}"
    );
    let port = pg.port.to_string();
    let secret = [
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("dbname", "postgres"),
        ("user", "postgres"),
    ];
    let (row, _h, _t) = run(
        "postgresql",
        "PostgreSQL 15 (Debian), default settings",
        &d,
        |dir| write_secret(dir, "pg", &secret),
        &b.all,
    )
    .await;
    let count: i64 = pg
        .client("postgres")
        .await
        .query_one("SELECT count(DISTINCT num) FROM bench", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, n as i64, "every row loaded");
    row
}

fn print_table(rows: Vec<Row>) {
    println!(
        "| Destination | Server | Records | Load time | Delivered (load + drain) | Records/s delivered | MiB/s delivered |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        let secs = r.elapsed.as_secs_f64();
        println!(
            "| {} | {} | {} | {:.1} s | {:.1} s | {:.0} | {:.1} |",
            r.destination,
            r.server,
            r.records,
            r.load.as_secs_f64(),
            secs,
            r.records as f64 / secs,
            r.bytes as f64 / secs / (1 << 20) as f64
        );
    }
}
