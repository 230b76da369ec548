//! Processing on the real binary: a real transformation service (an HTTP server in the test
//! speaking Lambda's Firehose event contract) through Ok / Dropped / ProcessingFailed, failed
//! and malformed invocations, timeouts and a service outage; CloudWatch Logs payloads through
//! Decompression + CloudWatchLogProcessing; JSON de-aggregation. Failures land in the
//! `processing-failed` / `decompression-failed` error output with Firehose's JSON.

use harness as common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::sinks::{put_records, put_until_accepted};
use common::{Hydrant, metric_value, objects};
use serde_json::{Value, json};
use warp::Filter;

/// How the service answers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Uppercase; `drop` records Dropped, `fail` records ProcessingFailed.
    Normal,
    /// HTTP 500.
    Error,
    /// Leaves out the first record's id.
    MissingId,
    /// Answers after 3 s.
    Slow,
}

struct Service {
    addr: SocketAddr,
    /// (mode, invocations left in that mode before Normal).
    mode: Arc<Mutex<(Mode, u32)>>,
    invocations: Arc<Mutex<Vec<Value>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Service {
    async fn start_on(
        addr: SocketAddr,
        mode: Arc<Mutex<(Mode, u32)>>,
        invocations: Arc<Mutex<Vec<Value>>>,
    ) -> Self {
        let (m, inv) = (mode.clone(), invocations.clone());
        let route = warp::post()
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::json())
            .then(move |authorization: Option<String>, event: Value| {
                let (m, inv) = (m.clone(), inv.clone());
                async move {
                    let current = {
                        let mut g = m.lock().expect("mode");
                        let current = g.0;
                        if g.1 > 0 {
                            g.1 -= 1;
                            if g.1 == 0 {
                                g.0 = Mode::Normal;
                            }
                        }
                        current
                    };
                    let mut seen = event.clone();
                seen["authorization"] = json!(authorization);
                inv.lock().expect("invocations").push(seen);
                    if current == Mode::Slow {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    if current == Mode::Error {
                        return warp::reply::with_status(
                            warp::reply::json(&json!({"errorMessage": "boom"})),
                            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
                        );
                    }
                    let mut records: Vec<Value> = event["records"]
                        .as_array()
                        .expect("records")
                        .iter()
                        .map(|r| {
                            let data = STANDARD
                                .decode(r["data"].as_str().expect("data"))
                                .expect("b64");
                            let text = String::from_utf8(data).expect("utf8");
                            let result = if text.contains("drop") {
                                "Dropped"
                            } else if text.contains("fail") {
                                "ProcessingFailed"
                            } else {
                                "Ok"
                            };
                            json!({
                                "recordId": r["recordId"],
                                "result": result,
                                "data": STANDARD.encode(text.to_uppercase()),
                                "metadata": {"partitionKeys": {
                                    "parity": if text.len().is_multiple_of(2) { "even" } else { "odd" }
                                }},
                            })
                        })
                        .collect();
                    if current == Mode::MissingId {
                        records.remove(0);
                    }
                    warp::reply::with_status(
                        warp::reply::json(&json!({ "records": records })),
                        warp::http::StatusCode::OK,
                    )
                }
            });
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async {
                    let _ = stopped.await;
                })
                .run(),
        );
        Self {
            addr,
            mode,
            invocations,
            stop: Some(stop),
        }
    }

    async fn start(mode: Mode, count: u32) -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().expect("addr"),
            Arc::new(Mutex::new((mode, count))),
            Arc::default(),
        )
        .await
    }

    fn url(&self) -> String {
        format!("http://{}/transform", self.addr)
    }

    fn set(&self, mode: Mode, count: u32) {
        *self.mode.lock().expect("mode") = (mode, count);
    }

    fn invocations(&self) -> Vec<Value> {
        self.invocations.lock().expect("invocations").clone()
    }
}

fn manifest(name: &str, processors: &str) -> String {
    local_stream(name, "data/", "", processors)
}

/// A local-directory stream with the given prefix, extra destination fields and processors.
fn local_stream(name: &str, prefix: &str, extra: &str, processors: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    local:
      directory: ./out
      prefix: \"{prefix}\"
      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{extra}      processingConfiguration:
        enabled: true
        processors:
{processors}"
        ),
    )
}

/// The processors of a transformation; the function's buffering interval is 1 s unless
/// `extra` sets it.
fn lambda(url: &str, extra: &str) -> String {
    let interval = if extra.contains("bufferIntervalInSeconds") {
        ""
    } else {
        ", bufferIntervalInSeconds: 1"
    };
    format!(
        "        - type: AppendDelimiterToRecord
        - type: Lambda
          lambda: {{url: \"{url}\"{interval}{extra}}}
"
    )
}

/// Delivered lines under `data/`, and error-output JSON under `errors/<type>/`.
fn delivered(dir: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, bytes) in objects::local_objects(&dir.join("out")) {
        if key.starts_with("data/") {
            lines.extend(objects::lines(&bytes));
        }
    }
    lines.sort();
    lines
}

fn errors(dir: &std::path::Path, kind: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, bytes) in objects::local_objects(&dir.join("out")) {
        if key.starts_with(&format!("errors/{kind}/")) {
            for line in objects::lines(&bytes) {
                out.push(serde_json::from_str(&line).expect("JSON"));
            }
        }
    }
    out
}

fn raw(v: &Value) -> String {
    String::from_utf8(
        STANDARD
            .decode(v["rawData"].as_str().expect("rawData"))
            .expect("b64"),
    )
    .expect("utf8")
}

#[tokio::test]
async fn transformation_results_and_the_processing_failed_output() {
    // The first two invocations fail with 500: retried (numberOfRetries 3 by default).
    let service = Service::start(Mode::Error, 2).await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_secret(tmp.path(), "transform-auth", &[("token", "t0ken\n")]);
    let secrets = tmp.path().join("secrets");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "shout",
            &lambda(
                &service.url(),
                ", bufferSizeInMBs: 0.2, authSecret: transform-auth",
            ),
        ),
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            match i % 10 {
                3 => format!("please drop {i}"),
                7 => format!("please fail {i}"),
                _ => format!("record {i} {}", "x".repeat(100)),
            }
            .into_bytes()
        })
        .collect();
    put_records(&h.ingest_url(), "shout", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let mut want: Vec<String> = (0..3000)
        .filter(|i| i % 10 != 3 && i % 10 != 7)
        .map(|i| format!("RECORD {i} {}", "X".repeat(100)))
        .collect();
    want.sort();
    assert_eq!(delivered(tmp.path()), want);
    let failed = errors(tmp.path(), "processing-failed");
    let mut got: Vec<String> = failed.iter().map(raw).collect();
    got.sort();
    let mut want_failed: Vec<String> = (0..3000)
        .filter(|i| i % 10 == 7)
        .map(|i| format!("please fail {i}"))
        .collect();
    want_failed.sort();
    assert_eq!(got, want_failed);
    for v in &failed {
        assert_eq!(v["errorCode"], "Lambda.ProcessingFailedStatus", "{v}");
        assert_eq!(v["errorMessage"], "ProcessingFailed status set for record");
        assert_eq!(v["lambdaArn"], service.url().as_str());
        assert!(
            v["arrivalTimestamp"].as_u64().is_some()
                && v["attemptEndingTimestamp"].as_u64().is_some()
        );
    }
    // The event: Firehose's shape, 0.2 MB per invocation at most.
    let invocations = service.invocations();
    assert!(invocations.len() > 3, "{} invocations", invocations.len());
    for event in &invocations {
        assert_eq!(
            event["authorization"], "Bearer t0ken",
            "the token from the Secret"
        );
        assert!(event["invocationId"].is_string());
        assert_eq!(
            event["deliveryStreamArn"],
            "arn:aws:firehose:us-east-1:000000000000:deliverystream/shout"
        );
        assert_eq!(event["region"], "us-east-1");
        let recs = event["records"].as_array().expect("records");
        let bytes: usize = recs
            .iter()
            .map(|r| {
                STANDARD
                    .decode(r["data"].as_str().expect("data"))
                    .expect("b64")
                    .len()
            })
            .sum();
        assert!(bytes <= 209_716, "{bytes} bytes in one invocation");
        for r in recs {
            assert!(r["recordId"].is_string() && r["approximateArrivalTimestamp"].is_u64());
        }
    }
    let metrics = h.metrics().await;
    let value =
        |name: &str, labels: &[(&str, &str)]| metric_value(&metrics, name, labels).unwrap_or(0.0);
    assert_eq!(
        value("hydrant_processing_records_total", &[("result", "dropped")]),
        300.0
    );
    assert_eq!(
        value("hydrant_processing_records_total", &[("result", "failed")]),
        300.0
    );
    assert_eq!(
        value("hydrant_processing_records_total", &[("result", "ok")]),
        2400.0
    );
    assert_eq!(
        value(
            "hydrant_processing_invocations_total",
            &[("result", "failure")]
        ),
        2.0
    );
}

#[tokio::test]
async fn the_transformation_is_invoked_by_its_own_buffering_hints() {
    let service = Service::start(Mode::Normal, 0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    // The destination cuts every second; the function buffers for 5 s.
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "hinted",
            &lambda(&service.url(), ", bufferIntervalInSeconds: 5"),
        ),
        &[],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..60).map(|i| format!("r{i}").into_bytes()).collect();
    for chunk in records.chunks(10) {
        put_records(&h.ingest_url(), "hinted", chunk).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    h.wait_drained(Duration::from_secs(60)).await;
    let invocations = service.invocations();
    let sizes: Vec<usize> = invocations
        .iter()
        .map(|e| e["records"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![60], "one invocation for 3 s of records");
    let mut got = delivered(tmp.path());
    got.sort();
    let mut want: Vec<String> = (0..60).map(|i| format!("R{i}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn bad_responses_and_timeouts_fail_the_invocation_after_its_retries() {
    let service = Service::start(Mode::MissingId, u32::MAX).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "strict",
            &lambda(&service.url(), ", numberOfRetries: 1, timeoutInSeconds: 1"),
        ),
        &[],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..20).map(|i| format!("r{i}").into_bytes()).collect();
    put_records(&h.ingest_url(), "strict", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let failed = errors(tmp.path(), "processing-failed");
    assert_eq!(failed.len(), 20, "the whole invocation fails");
    for v in &failed {
        assert_eq!(v["errorCode"], "Lambda.MissingRecordId", "{v}");
        assert_eq!(v["attemptsMade"], 2, "{v}");
    }
    assert!(delivered(tmp.path()).is_empty());

    service.set(Mode::Slow, u32::MAX);
    put_records(&h.ingest_url(), "strict", &records[..5]).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let timeouts: Vec<Value> = errors(tmp.path(), "processing-failed")
        .into_iter()
        .filter(|v| v["errorCode"] == "Lambda.Timeout")
        .collect();
    assert_eq!(timeouts.len(), 5);
}

#[tokio::test]
async fn a_transformation_service_outage_loses_nothing() {
    let service = Service::start(Mode::Normal, 0).await;
    let addr = service.addr;
    let (mode, invocations) = (service.mode.clone(), service.invocations.clone());
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest("patient", &lambda(&service.url(), ", numberOfRetries: 300")),
        &[],
    )
    .await;
    // The service goes away (connections refused) while records arrive, and comes back.
    let mut service = service;
    let _ = service.stop.take().map(|s| s.send(()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records: Vec<Vec<u8>> = (0..500).map(|i| format!("r{i}").into_bytes()).collect();
    put_records(&h.ingest_url(), "patient", &records).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _back = Service::start_on(addr, mode, invocations).await;
    h.wait_drained(Duration::from_secs(90)).await;
    let mut want: Vec<String> = (0..500).map(|i| format!("R{i}")).collect();
    want.sort();
    assert_eq!(delivered(tmp.path()), want);
    assert!(errors(tmp.path(), "processing-failed").is_empty());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test]
async fn cloudwatch_logs_payloads_and_json_de_aggregation() {
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "cwl",
            "        - type: Decompression
          decompression: {compressionFormat: GZIP}
        - type: CloudWatchLogProcessing
          cloudWatchLogProcessing: {dataMessageExtraction: true}
        - type: RecordDeAggregation
          recordDeAggregation: {subRecordType: JSON}
        - type: AppendDelimiterToRecord
",
        ),
        &[],
    )
    .await;
    let data = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "g", "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": "1", "timestamp": 1, "message": "{\"n\":1}{\"n\":2}"},
            {"id": "2", "timestamp": 2, "message": "{\"n\":3}"}
        ]
    });
    let control = json!({
        "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]
    });
    let records = vec![
        gzip(data.to_string().as_bytes()),
        gzip(control.to_string().as_bytes()),
        b"not gzip at all".to_vec(),
    ];
    put_records(&h.ingest_url(), "cwl", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        delivered(tmp.path()),
        vec!["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
    );
    let failed = errors(tmp.path(), "decompression-failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["errorCode"], "Decompression.InvalidData");
    assert_eq!(raw(&failed[0]), "not gzip at all");
}

fn partitioned(name: &str, prefix: &str, limit: u32, processors: &str) -> String {
    local_stream(
        name,
        prefix,
        &format!(
            "      dynamicPartitioningConfiguration: {{enabled: true, activePartitionLimit: {limit}}}\n"
        ),
        processors,
    )
}

/// Delivered lines by the object key's directory.
fn by_directory(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (key, bytes) in objects::local_objects(&dir.join("out")) {
        if key.starts_with("errors/") {
            continue;
        }
        let (directory, file) = key.rsplit_once('/').expect("a directory");
        assert!(
            file.starts_with("parts-1-")
                || file.starts_with("lambda-keys-1-")
                || file.starts_with("spans-1-"),
            "{key}"
        );
        out.entry(directory.to_owned())
            .or_default()
            .extend(objects::lines(&bytes));
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

#[tokio::test]
async fn dynamic_partitioning_by_jq_query() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut h = Hydrant::start(
        tmp.path(),
        &partitioned(
            "parts",
            "customer=!{partitionKeyFromQuery:customer}/year=!{partitionKeyFromQuery:year}/",
            500,
            "        - type: MetadataExtraction
          metadataExtraction: {query: \"{customer: .customer_id, year: .ts[0:4]}\", jsonParsingEngine: JQ-1.6}
        - type: AppendDelimiterToRecord
",
        ),
        &[],
    )
    .await;
    let mut records: Vec<Vec<u8>> = (0..2000)
        .map(|i| {
            format!(
                r#"{{"customer_id":{},"ts":"202{}-01-01","i":{i}}}"#,
                i % 5,
                i % 2
            )
            .into_bytes()
        })
        .collect();
    records.push(br#"{"ts":"2024-01-01"}"#.to_vec());
    records.push(b"not json".to_vec());
    put_records(&h.ingest_url(), "parts", &records[..1000]).await;
    // A crash in the middle: everything acknowledged still lands in its partition.
    h.kill9();
    h.restart().await;
    put_records(&h.ingest_url(), "parts", &records[1000..]).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let got = by_directory(tmp.path());
    assert_eq!(got.len(), 10, "{:?}", got.keys().collect::<Vec<_>>());
    for c in 0..5 {
        for y in 0..2 {
            let dir = format!("customer={c}/year=202{y}");
            let mut lines = got.get(&dir).cloned().unwrap_or_default();
            lines.dedup();
            let want: Vec<String> = (0..2000)
                .filter(|i| i % 5 == c && i % 2 == y)
                .map(|i| format!(r#"{{"customer_id":{c},"ts":"202{y}-01-01","i":{i}}}"#))
                .collect();
            let mut want = want;
            want.sort();
            assert_eq!(lines, want, "{dir}");
        }
    }
    let failed = errors(tmp.path(), "dynamic-partitioning-failed");
    let mut codes: Vec<String> = failed
        .iter()
        .map(|v| v["errorCode"].as_str().expect("code").to_owned())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "DynamicPartitioning.MetadataExtractionFailed",
            "DynamicPartitioning.MissingPartitionKey"
        ]
    );
}

#[tokio::test]
async fn lambda_partition_keys_and_the_active_partition_limit() {
    let service = Service::start(Mode::Normal, 0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &partitioned(
            "lambda-keys",
            "parity=!{partitionKeyFromLambda:parity}/",
            1,
            &lambda(&service.url(), ""),
        ),
        &[],
    )
    .await;
    // Records of both parities in one batch: with a limit of one partition, the second
    // partition's records go to the error output.
    let records: Vec<Vec<u8>> = ["a", "bb", "ccc", "dddd"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    put_records(&h.ingest_url(), "lambda-keys", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let got = by_directory(tmp.path());
    let failed = errors(tmp.path(), "dynamic-partitioning-failed");
    assert_eq!(got.len(), 1, "{got:?} {failed:?}\n{}", h.log());
    let (dir, lines) = got.iter().next().expect("one partition");
    let mut raws: Vec<String> = failed.iter().map(raw).collect();
    raws.sort();
    if dir == "parity=odd" {
        assert_eq!(lines, &vec!["A".to_owned(), "CCC".to_owned()]);
        assert_eq!(raws, vec!["BB\n", "DDDD\n"]);
    } else {
        assert_eq!(dir, "parity=even");
        assert_eq!(lines, &vec!["BB".to_owned(), "DDDD".to_owned()]);
        assert_eq!(raws, vec!["A\n", "CCC\n"]);
    }
    assert!(
        failed
            .iter()
            .all(|v| v["errorCode"] == "DynamicPartitioning.PartitionCountExceeded")
    );
    let metrics = h.metrics().await;
    assert_eq!(
        metric_value(&metrics, "hydrant_partition_count_exceeded", &[]),
        Some(1.0)
    );
    // A partition stops being active once its object is delivered.
    assert_eq!(
        metric_value(&metrics, "hydrant_active_partitions", &[]),
        Some(0.0)
    );
}

/// Records of one partition, `pad` bytes each.
fn keyed(key: &str, range: std::ops::Range<u32>, pad: usize) -> Vec<Vec<u8>> {
    range
        .map(|i| format!(r#"{{"k":"{key}","i":{i},"pad":"{}"}}"#, "x".repeat(pad)).into_bytes())
        .collect()
}

/// Stream `spans` to the local directory, partitioned by the records' `k`.
fn keyed_stream(max_bytes: &str, hints: &str) -> String {
    keyed_manifest(
        "spans",
        max_bytes,
        "    local:\n      directory: ./out\n",
        hints,
    )
}

/// A stream to `target` (the destination's key and connection fields), partitioned by the
/// records' `k` under `k=<k>/`.
fn keyed_manifest(name: &str, max_bytes: &str, target: &str, hints: &str) -> String {
    common::stream_manifest(
        name,
        max_bytes,
        &format!(
            "{target}      prefix: \"k=!{{partitionKeyFromQuery:k}}/\"
      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
      bufferingHints: {hints}
      dynamicPartitioningConfiguration: {{enabled: true}}
      processingConfiguration:
        enabled: true
        processors:
        - type: MetadataExtraction
          metadataExtraction: {{query: \"{{k: .k}}\", jsonParsingEngine: JQ-1.6}}
        - type: AppendDelimiterToRecord
"
        ),
    )
}

/// Bytes of the files under `dir`, recursively (files may vanish while it looks).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// The records of partition `key`, as sorted lines.
fn of_key(records: &[Vec<u8>], key: &str) -> Vec<String> {
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.clone()).expect("utf8"))
        .filter(|r| r.starts_with(&format!(r#"{{"k":"{key}""#)))
        .collect();
    lines.sort();
    lines
}

fn objects_under(dir: &std::path::Path, partition: &str) -> usize {
    objects::local_objects(&dir.join("out"))
        .iter()
        .filter(|(key, _)| key.starts_with(&format!("k={partition}/")))
        .count()
}

#[tokio::test]
async fn partition_buffers_span_batches_and_flush_out_of_order_through_a_crash() {
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = keyed_stream("64Mi", "{sizeInMBs: 1, intervalInSeconds: 8}");
    // 100 KiB of partition buffers in memory: `mid` spills to its spool file.
    let mut h = Hydrant::start(
        tmp.path(),
        &manifest,
        &[("HYDRANT_PARTITION_MEMORY_BYTES", "102400")],
    )
    .await;
    let url = h.ingest_url();
    // One slow record first: it holds the oldest place in the log.
    let slow = keyed("slow", 0..1, 10);
    put_records(&url, "spans", &slow).await;
    // `mid` fills over several batches (past the memory budget, so it is spooled to disk)
    // without reaching the size hint; `fast` passes 1 MiB and flushes at once.
    let mid = keyed("mid", 0..300, 1000);
    let fast = keyed("fast", 0..1200, 1000);
    for i in 0..3 {
        put_records(&url, "spans", &mid[i * 100..(i + 1) * 100]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for chunk in fast.chunks(200) {
        put_records(&url, "spans", chunk).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while objects_under(tmp.path(), "fast") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "fast never flushed
{}",
            h.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // `fast` flushed before the older `slow` and `mid`, which are still buffered.
    assert_eq!(objects_under(tmp.path(), "slow"), 0);
    assert_eq!(objects_under(tmp.path(), "mid"), 0);
    let spools = std::fs::read_dir(tmp.path().join("wal/partitions"))
        .expect("spool directory")
        .count();
    assert!(spools >= 1, "mid's records are spooled to disk");
    let metrics = h.metrics().await;
    assert!(
        metric_value(&metrics, "hydrant_partitioning_duration_seconds_count", &[])
            .is_some_and(|n| n >= 1.0),
        "key extraction is timed"
    );
    let active = metric_value(&metrics, "hydrant_active_partitions", &[]).expect("gauge");
    assert!(active >= 2.0, "slow and mid are active: {active}");
    // Buffered records are not delivered: the backlog counts them.
    let status = h.status().await;
    assert!(
        status["backlogRecords"].as_u64().is_some_and(|n| n >= 301),
        "{status}"
    );

    // A crash now: the checkpoint could not pass `slow`, so the log still has it and `mid`.
    h.kill9();
    h.restart().await;
    h.wait_drained(Duration::from_secs(60)).await;
    let got = by_directory(tmp.path());
    let want = |records: &[Vec<u8>]| {
        let mut v: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8(r.clone()).expect("utf8"))
            .collect();
        v.sort();
        v
    };
    for (key, records) in [("slow", &slow), ("mid", &mid), ("fast", &fast)] {
        let mut lines = got.get(&format!("k={key}")).cloned().unwrap_or_default();
        lines.dedup();
        assert_eq!(lines, want(records), "k={key}");
    }

    // Three batches a second apart make one object: the buffer spans them.
    let late = keyed("late", 0..30, 10);
    for chunk in late.chunks(10) {
        put_records(&url, "spans", chunk).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(objects_under(tmp.path(), "late"), 1);
    let got = by_directory(tmp.path());
    assert_eq!(got.get("k=late").cloned().unwrap_or_default(), want(&late));
    assert!(errors(tmp.path(), "dynamic-partitioning-failed").is_empty());
}

/// An S3 stream delivering to `main-bucket` under `main/` every second, with source-record
/// backup to `source-backup` under `source/` (plus `backup` fields), then `rest`.
fn backup_stream(name: &str, endpoint: &str, backup: &str, rest: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    s3:
      bucket: main-bucket
      endpoint: {endpoint}
      forcePathStyle: true
      credentialsSecret: s3-writer
      prefix: main/
      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      s3BackupMode: Enabled
      s3BackupConfiguration:
        bucket: source-backup
        endpoint: {endpoint}
        forcePathStyle: true
        credentialsSecret: s3-writer
        prefix: source/
        {backup}
{rest}"
        ),
    )
}

#[tokio::test]
async fn source_records_are_backed_up_untransformed_even_after_a_backup_outage() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket("main-bucket").await;
    let service = Service::start(Mode::Normal, 0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_s3_secret(tmp.path());
    let processors = format!(
        "      processingConfiguration:
        enabled: true
        processors:
{}",
        lambda(&service.url(), "")
    );
    let m = backup_stream(
        "backed",
        &moto.endpoint(),
        "compressionFormat: GZIP\n        bufferingHints: {sizeInMBs: 1, intervalInSeconds: 4}",
        &processors,
    );
    let secrets = tmp.path().join("secrets");
    let h = Hydrant::start(
        tmp.path(),
        &m,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await;
    // The backup bucket does not exist yet: nothing may be checkpointed until it does.
    // Three puts a second apart: three transformation batches, one backup buffer.
    let records: Vec<Vec<u8>> = (0..300).map(|i| format!("rec {i}").into_bytes()).collect();
    for chunk in records.chunks(100) {
        put_records(&h.ingest_url(), "backed", chunk).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.status().await["backlogRecords"].as_u64().unwrap_or(0) > 0);
    moto.create_bucket("source-backup").await;
    h.wait_drained(Duration::from_secs(90)).await;

    let lines_of = |objects: Vec<(String, Vec<u8>, Option<String>)>, prefix: &str| {
        let mut lines = Vec::new();
        for (key, bytes, _) in objects {
            if key.starts_with(prefix) {
                lines.extend(objects::lines(&objects::decode(&key, &bytes)));
            }
        }
        lines.sort();
        lines.dedup();
        lines
    };
    let mut upper: Vec<String> = (0..300).map(|i| format!("REC {i}")).collect();
    upper.sort();
    assert_eq!(lines_of(moto.objects("main-bucket").await, "main/"), upper);
    // The backup holds the records as they arrived (no delimiter: records are concatenated).
    let backup = moto.objects("source-backup").await;
    assert_eq!(backup.len(), 1, "cut by the backup's own hints");
    assert!(backup.iter().all(|(k, _, e)| k.starts_with("source/")
        && k.ends_with(".gz")
        && e.as_deref() == Some("gzip")));
    let raw: Vec<u8> = backup
        .iter()
        .flat_map(|(k, b, _)| objects::decode(k, b))
        .collect();
    let text = String::from_utf8(raw).expect("utf8");
    for i in 0..300 {
        assert!(text.contains(&format!("rec {i}")), "rec {i} backed up");
    }
    assert!(!text.contains("REC"), "untransformed");
    let metrics = h.metrics().await;
    assert!(metric_value(&metrics, "hydrant_backup_records_total", &[]).unwrap_or(0.0) >= 300.0);

    // DescribeDeliveryStream shows the backup with its own hints, read by the AWS SDK.
    let described = h
        .firehose()
        .describe_delivery_stream()
        .delivery_stream_name("backed")
        .send()
        .await
        .expect("describe");
    let ext = described
        .delivery_stream_description()
        .and_then(|d| d.destinations().first())
        .and_then(|d| d.extended_s3_destination_description())
        .expect("extended s3");
    assert_eq!(
        ext.s3_backup_mode(),
        Some(&aws_sdk_firehose::types::S3BackupMode::Enabled)
    );
    let backup = ext.s3_backup_description().expect("backup description");
    assert_eq!(backup.bucket_arn(), "arn:aws:s3:::source-backup");
    let hints = backup.buffering_hints().expect("backup hints");
    assert_eq!(
        (hints.size_in_mbs(), hints.interval_in_seconds()),
        (Some(1), Some(4))
    );
}

/// A KPL-aggregated record (magic bytes, protobuf AggregatedRecord, MD5 trailer), built here
/// from the format's description rather than with the library under test.
fn kpl_aggregate(records: &[&[u8]]) -> Vec<u8> {
    use md5::Digest;
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn bytes_field(n: u64, b: &[u8], out: &mut Vec<u8>) {
        varint((n << 3) | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    let mut msg = Vec::new();
    bytes_field(1, b"partition-key", &mut msg);
    for r in records {
        let mut rec = Vec::new();
        varint(1 << 3, &mut rec);
        varint(0, &mut rec);
        bytes_field(3, r, &mut rec);
        bytes_field(3, &rec, &mut msg);
    }
    let mut out = vec![0xF3, 0x89, 0x9A, 0xC2];
    out.extend_from_slice(&msg);
    out.extend_from_slice(&md5::Md5::digest(&msg));
    out
}

#[tokio::test]
async fn kpl_aggregated_records_are_de_aggregated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "kpl",
            "        - type: RecordDeAggregation
          recordDeAggregation: {subRecordType: KPL}
        - type: AppendDelimiterToRecord
",
        ),
        &[],
    )
    .await;
    let mut corrupt = kpl_aggregate(&[b"x"]);
    let n = corrupt.len();
    corrupt[n - 1] ^= 0xff;
    let records = vec![
        kpl_aggregate(&[b"a1", b"a2", b"a3"]),
        b"not aggregated".to_vec(),
        kpl_aggregate(&[b"b1"]),
        corrupt.clone(),
    ];
    put_records(&h.ingest_url(), "kpl", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        delivered(tmp.path()),
        vec!["a1", "a2", "a3", "b1", "not aggregated"]
    );
    let failed = errors(tmp.path(), "processing-failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["errorCode"],
        "RecordDeAggregation.InvalidKplRecord"
    );
    assert_eq!(
        STANDARD
            .decode(failed[0]["rawData"].as_str().expect("raw"))
            .expect("b64"),
        corrupt
    );
}

#[tokio::test]
async fn a_filling_log_flushes_the_oldest_partition_instead_of_stalling_ingest() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Partitions that would wait 15 minutes, and a 16 MiB log: without early flushes the log
    // fills after 16 MiB and refuses records until the interval passes.
    let manifest = keyed_stream("16Mi", "{sizeInMBs: 128, intervalInSeconds: 900}");
    // 1 MiB of partition buffers in memory: the rest is spooled beside the log, and the spools
    // count toward the log's 16 MiB.
    let mut h = Hydrant::start(
        tmp.path(),
        &manifest,
        &[("HYDRANT_PARTITION_MEMORY_BYTES", "1048576")],
    )
    .await;
    let wal = tmp.path().join("wal");
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(dir_bytes(&wal), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let keys = ["a", "b", "c", "d"];
    let records: Vec<Vec<u8>> = (0..40_000u32)
        .map(|i| {
            let key = keys[i as usize % keys.len()];
            keyed(key, i..i + 1, 1000).remove(0)
        })
        .collect();
    put_until_accepted(&h.ingest_url(), "spans", &records, Duration::from_secs(120)).await;
    sampler.abort();
    // The log and its spools together stay within maxBytes, plus at most one spill of the
    // memory budget (the operator sizes the volume with 1/8 + 64 MiB of headroom).
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak <= 18 << 20, "the log's volume held {peak} bytes");
    let status = h.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "{}", h.log());
    assert!(
        h.log()
            .contains("flushing the partition with its oldest record early"),
        "{}",
        h.log()
    );
    let got = by_directory(tmp.path());
    for key in keys {
        let mut lines = got.get(&format!("k={key}")).cloned().unwrap_or_default();
        lines.dedup();
        let want = of_key(&records, key);
        assert_eq!(lines.len(), want.len(), "k={key}");
        assert_eq!(lines, want, "k={key}");
    }
}

#[tokio::test]
async fn a_crash_while_the_backup_buffers_loses_no_backup() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket("main-bucket").await;
    moto.create_bucket("source-backup").await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_s3_secret(tmp.path());
    // Delivery flushes every second; the backup waits 15 minutes.
    let m = backup_stream(
        "slow-backup",
        &moto.endpoint(),
        "bufferingHints: {sizeInMBs: 128, intervalInSeconds: 900}",
        "",
    );
    let secrets = tmp.path().join("secrets");
    let env = [("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))];
    let mut h = Hydrant::start(tmp.path(), &m, &env).await;
    let records: Vec<Vec<u8>> = (0..200).map(|i| format!("b{i};").into_bytes()).collect();
    put_records(&h.ingest_url(), "slow-backup", &records).await;
    // Delivered, not yet backed up: the records stay in the log.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while moto.objects("main-bucket").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", h.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(moto.objects("source-backup").await.is_empty());
    assert_eq!(h.status().await["backlogRecords"], 200);
    h.kill9();
    h.restart().await;
    // SIGTERM flushes the backup buffer before exiting.
    let status = h.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "{}", h.log());
    let backup: Vec<u8> = moto
        .objects("source-backup")
        .await
        .iter()
        .flat_map(|(k, b, _)| objects::decode(k, b))
        .collect();
    let text = String::from_utf8(backup).expect("utf8");
    for i in 0..200 {
        assert!(text.contains(&format!("b{i};")), "b{i} backed up");
    }
}

#[tokio::test]
async fn partitions_are_delivered_to_s3_one_object_each() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket("parted").await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_s3_secret(tmp.path());
    let target = format!(
        "    s3:
      bucket: parted
      endpoint: {}
      forcePathStyle: true
      credentialsSecret: s3-writer
      compressionFormat: GZIP
",
        moto.endpoint()
    );
    let m = keyed_manifest(
        "s3-parts",
        "64Mi",
        &target,
        "{sizeInMBs: 64, intervalInSeconds: 3}",
    );
    let secrets = tmp.path().join("secrets");
    let env = [("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))];
    let h = Hydrant::start(tmp.path(), &m, &env).await;
    let keys = ["red", "green", "blue"];
    let records: Vec<Vec<u8>> = (0..300u32)
        .map(|i| keyed(keys[i as usize % 3], i..i + 1, 5).remove(0))
        .collect();
    // Two batches a second apart; each partition's buffer spans both.
    for half in records.chunks(150) {
        put_records(&h.ingest_url(), "s3-parts", half).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    h.wait_drained(Duration::from_secs(60)).await;
    let stored = moto.objects("parted").await;
    assert_eq!(stored.len(), 3, "one object per partition");
    for key in keys {
        let prefix = format!("k={key}/s3-parts-1-");
        let (name, bytes, encoding) = stored
            .iter()
            .find(|(k, _, _)| k.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no object under k={key}/"));
        assert!(name.ends_with(".gz"), "{name}");
        assert_eq!(encoding.as_deref(), Some("gzip"));
        let mut lines = objects::lines(&objects::decode(name, bytes));
        lines.sort();
        assert_eq!(lines, of_key(&records, key), "k={key}");
    }
}
