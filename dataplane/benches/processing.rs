//! Throughput of processing on this machine: plain delivery, a no-op transformation service,
//! dynamic partitioning into 100 and 500 partitions, and Parquet conversion.
//!
//! `cargo bench -p dataplane --bench processing` (optionally `BENCH_RECORDS=1000000`,
//! `BENCH_ONLY=parquet`). Each case starts the release `hydrant` binary delivering to a local
//! directory, puts the records with PutRecordBatch (4 connections, 500 records per request,
//! ~150-byte JSON records), waits until the log is drained, and checks every record arrived.
//! Prints one markdown row per case: MiB/s of JSON input delivered.

use harness as common;

// The stages-alone timings run in this process: use the allocator the hydrant binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use common::Hydrant;
use serde_json::{Value, json};
use warp::Filter;

fn records(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"num":{i},"part":{},"p100":{},"status":200,"path":"/api/v1/items/{}","agent":"bench/1.0 (x86_64) hydrant","ts":"2026-11-26T10:00:00Z"}}"#,
                i % 500,
                i % 100,
                i % 1000
            )
            .into_bytes()
        })
        .collect()
}

/// A transformation service that returns every record unchanged.
async fn noop_service() -> String {
    let route = warp::post().and(warp::body::json()).map(|event: Value| {
        let records: Vec<Value> = event["records"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| json!({"recordId": r["recordId"], "result": "Ok", "data": r["data"]}))
                    .collect()
            })
            .unwrap_or_default();
        warp::reply::json(&json!({ "records": records }))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    format!("http://{addr}/")
}

fn stream(name: &str, fields: &str) -> String {
    common::stream_manifest(
        name,
        "2Gi",
        &format!(
            "    local:
      directory: ./out
      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
{fields}"
        ),
    )
}

/// Runs one case; returns (seconds, records found in the output).
async fn run(name: &str, manifest: &str, all: &[Vec<u8>], count: Counter) -> (f64, usize) {
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(tmp.path(), manifest, &[]).await;
    let started = Instant::now();
    common::sinks::put_concurrently(&h.ingest_url(), name, all).await;
    h.wait_drained(Duration::from_secs(900)).await;
    let secs = started.elapsed().as_secs_f64();
    (secs, count(&tmp.path().join("out")))
}

/// Counts the records delivered under an output directory.
type Counter = fn(&std::path::Path) -> usize;

fn count_lines(out: &std::path::Path) -> usize {
    common::objects::local_objects(out)
        .iter()
        .filter(|(k, _)| !k.starts_with("errors/"))
        .map(|(_, b)| common::objects::lines(b).len())
        .sum()
}

fn count_parquet(out: &std::path::Path) -> usize {
    let files: Vec<_> = common::objects::local_objects(out)
        .into_iter()
        .filter(|(k, _)| k.ends_with(".parquet"))
        .map(|(k, _)| out.join(k))
        .collect();
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys, pyarrow.parquet as pq; print(sum(pq.read_metadata(p).num_rows for p in sys.argv[1:]))")
        .args(&files)
        .output()
        .expect("pyarrow");
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::var("BENCH_ONLY").ok();
    let all = records(n);
    let mib = all.iter().map(|r| r.len()).sum::<usize>() as f64 / (1 << 20) as f64;
    let hints = "      bufferingHints: {sizeInMBs: 64, intervalInSeconds: 1}\n";
    let delimiter = "        - type: AppendDelimiterToRecord\n";
    let service = noop_service().await;
    let partitioned = |field: &str| {
        format!(
            "      prefix: \"p=!{{partitionKeyFromQuery:p}}/\"
{hints}      dynamicPartitioningConfiguration: {{enabled: true, activePartitionLimit: 500}}
      processingConfiguration:
        enabled: true
        processors:
        - type: MetadataExtraction
          metadataExtraction: {{query: \"{{p: .{field}}}\", jsonParsingEngine: JQ-1.6}}
{delimiter}"
        )
    };
    let cases: Vec<(&str, String, Counter)> = vec![
        (
            "plain",
            format!(
                "{hints}      processingConfiguration:\n        enabled: true\n        processors:\n{delimiter}"
            ),
            count_lines,
        ),
        (
            "noop-transformation",
            format!(
                "{hints}      processingConfiguration:\n        enabled: true\n        processors:\n{delimiter}        - type: Lambda\n          lambda: {{url: \"{service}\", bufferSizeInMBs: 3, bufferIntervalInSeconds: 1, maxConcurrency: 8}}\n"
            ),
            count_lines,
        ),
        ("partitions-100", partitioned("p100"), count_lines),
        ("partitions-500", partitioned("part"), count_lines),
        (
            "parquet",
            format!(
                "{hints}      dataFormatConversionConfiguration:
        schemaConfiguration:
          columns:
          - {{name: num, type: bigint}}
          - {{name: part, type: int}}
          - {{name: status, type: int}}
          - {{name: path, type: string}}
          - {{name: agent, type: string}}
          - {{name: ts, type: timestamp}}
"
            ),
            count_parquet,
        ),
    ];
    if only.is_none() || only.as_deref() == Some("stages") {
        stages_alone(&all, mib).await;
    }
    println!("| Case | Records | JSON input | Delivered in | MiB/s | Records/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, fields, count) in cases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let (secs, found) = run(name, &stream(name, &fields), &all, count).await;
        assert!(found >= n, "{name}: {found} of {n} records delivered");
        println!(
            "| {name} | {n} | {mib:.1} MiB | {secs:.1} s | {:.1} | {:.0} |",
            mib / secs,
            n as f64 / secs
        );
    }
}

/// The conversion and partitioning stages alone on one core, without ingest or the log: what
/// the stages themselves sustain.
async fn stages_alone(all: &[Vec<u8>], mib: f64) {
    let batch = dataplane::record::Batch::from_records(0, 1, all.iter().map(|r| r.as_slice()));
    let spec: crds::DataFormatConversionConfiguration = serde_json::from_value(json!({
        "schemaConfiguration": {"columns": [
            {"name": "num", "type": "bigint"}, {"name": "part", "type": "int"},
            {"name": "status", "type": "int"}, {"name": "path", "type": "string"},
            {"name": "agent", "type": "string"}, {"name": "ts", "type": "timestamp"}
        ]}
    }))
    .expect("conversion spec");
    let converter = dataplane::convert::Converter::build(&spec).expect("converter");
    let started = Instant::now();
    let out = converter.convert(&batch);
    let secs = started.elapsed().as_secs_f64();
    assert!(out.failed.is_empty() && out.parquet.is_some());
    println!(
        "Parquet conversion alone, one core: {:.1} MiB/s of JSON ({:.0} records/s)",
        mib / secs,
        all.len() as f64 / secs
    );
    let partitioner = |query: &str| {
        let delivery: crds::ObjectDelivery = serde_json::from_value(json!({
            "prefix": "p=!{partitionKeyFromQuery:p}/",
            "errorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "dynamicPartitioningConfiguration": {"enabled": true},
            "processingConfiguration": {"enabled": true, "processors": [
                {"type": "MetadataExtraction", "metadataExtraction": {"query": query}}
            ]}
        }))
        .expect("delivery spec");
        dataplane::partition::Partitioner::build(&delivery)
            .expect("partitioner")
            .expect("enabled")
    };
    // Only the split is timed.
    let by_path = partitioner("{p: .p100}");
    let started = Instant::now();
    let split = by_path.split(batch.clone(), Vec::new()).await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(split.parts.len(), 100);
    let computed = partitioner("{p: (.part % 100)}");
    let started = Instant::now();
    let split_jq = computed.split(batch, Vec::new()).await;
    let jq_secs = started.elapsed().as_secs_f64();
    assert_eq!(split_jq.parts.len(), 100);
    println!(
        "Partitioning alone with a computed key (jaq: {{p: (.part % 100)}}), one core: {:.1} MiB/s",
        mib / jq_secs
    );
    println!(
        "Partitioning alone (JQ key extraction + grouping, 100 partitions), one core: {:.1} MiB/s ({:.0} records/s)",
        mib / secs,
        all.len() as f64 / secs
    );
}
