//! Shared pieces of the non-S3 destination tests: putting records, the `s3Configuration` they
//! need, and reading back their error output and backups from the S3-compatible server.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::moto::Moto;
use crate::objects;

/// Writes the `s3-writer` Secret (any keys work with moto) under `<dir>/secrets`.
pub fn write_s3_secret(dir: &Path) {
    write_secret(
        dir,
        "s3-writer",
        &[
            ("accessKeyId", "hydrant"),
            ("secretAccessKey", "hydrant-secret"),
        ],
    );
}

/// Writes a Secret as files: `<dir>/secrets/<name>/<key>`.
pub fn write_secret(dir: &Path, name: &str, keys: &[(&str, &str)]) {
    let secret = dir.join("secrets").join(name);
    std::fs::create_dir_all(&secret).expect("secret dir");
    for (k, v) in keys {
        std::fs::write(secret.join(k), v).expect("secret key");
    }
}

/// The `s3Configuration` block (indented for a destination's fields) pointing at moto.
pub fn s3_configuration(moto: &Moto, bucket: &str, extra: &str) -> String {
    format!(
        "      s3Configuration:
        bucket: {bucket}
        endpoint: {}
        forcePathStyle: true
        credentialsSecret: s3-writer
        prefix: backup/
        errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
        bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{extra}",
        moto.endpoint()
    )
}

/// Puts records with PutRecordBatch (500 at a time) and asserts every one was accepted.
pub async fn put_records(ingest_url: &str, stream: &str, records: &[Vec<u8>]) {
    let client = reqwest::Client::new();
    for chunk in records.chunks(500) {
        let r = put_batch(&client, ingest_url, stream, chunk).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["FailedPutCount"], 0, "{v}");
    }
}

/// One PutRecordBatch of `records` to `stream`, answered as it comes.
pub async fn put_batch<R: AsRef<[u8]>>(
    client: &reqwest::Client,
    ingest_url: &str,
    stream: &str,
    records: &[R],
) -> reqwest::Response {
    try_put_batch(client, ingest_url, stream, records)
        .await
        .expect("put")
}

/// Like [`put_batch`], returning a connection failure instead of panicking.
pub async fn try_put_batch<R: AsRef<[u8]>>(
    client: &reqwest::Client,
    ingest_url: &str,
    stream: &str,
    records: &[R],
) -> reqwest::Result<reqwest::Response> {
    let body: Vec<_> = records
        .iter()
        .map(|r| json!({"Data": STANDARD.encode(r.as_ref())}))
        .collect();
    client
        .post(ingest_url)
        .header("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(json!({"DeliveryStreamName": stream, "Records": body}).to_string())
        .send()
        .await
}

/// Puts `records`, re-sending what the stream refuses (a full log answers 503 or fails
/// records), for at most `within`.
/// A PutRecord without its required fields, which the stream answers 400
/// (ValidationException) and counts as an API error; returns the status.
pub async fn invalid_put(client: &reqwest::Client, ingest_url: &str) -> reqwest::StatusCode {
    client
        .post(ingest_url)
        .header("X-Amz-Target", "Firehose_20150804.PutRecord")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .expect("a bad put")
        .status()
}

pub async fn put_until_accepted(
    ingest_url: &str,
    stream: &str,
    records: &[Vec<u8>],
    within: std::time::Duration,
) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + within;
    for chunk in records.chunks(500) {
        let mut pending: Vec<&Vec<u8>> = chunk.iter().collect();
        while !pending.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the stream stopped accepting records"
            );
            let r = put_batch(&client, ingest_url, stream, &pending).await;
            if r.status() == 200 {
                let v: Value = r.json().await.expect("json");
                let results = v["RequestResponses"].as_array().expect("responses");
                pending = pending
                    .into_iter()
                    .zip(results)
                    .filter(|(_, res)| res.get("ErrorCode").is_some_and(|c| !c.is_null()))
                    .map(|(r, _)| r)
                    .collect();
            }
            if !pending.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Every failed-record JSON line under `errors/<type>/`, with its object key.
pub async fn error_records(moto: &Moto, bucket: &str, error_type: &str) -> Vec<(String, Value)> {
    let prefix = format!("errors/{error_type}/");
    let mut out = Vec::new();
    for (key, bytes, _) in moto.objects(bucket).await {
        if !key.starts_with(&prefix) {
            continue;
        }
        for line in objects::lines(&objects::decode(&key, &bytes)) {
            let v: Value = serde_json::from_str(&line).expect("error output line is JSON");
            out.push((key.clone(), v));
        }
    }
    out
}

/// The record bytes of an error-output line.
pub fn raw_data(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v["rawData"].as_str().expect("rawData"))
        .expect("rawData is base64")
}

/// Every object under `backup/`, decoded.
pub async fn backup_bytes(moto: &Moto, bucket: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, bytes, _) in moto.objects(bucket).await {
        if key.starts_with("backup/") {
            out.extend(objects::decode(&key, &bytes));
        }
    }
    out
}

/// Puts every record over 4 connections, 500 per request, putting a request again while the log
/// answers 503 (benchmarks); returns the load time.
pub async fn put_concurrently(url: &str, stream: &str, records: &[Vec<u8>]) -> Duration {
    let bodies: Vec<String> = records
        .chunks(500)
        .map(|c| {
            let recs: Vec<_> = c
                .iter()
                .map(|r| json!({"Data": STANDARD.encode(r)}))
                .collect();
            json!({"DeliveryStreamName": stream, "Records": recs}).to_string()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (bodies, next, url) = (bodies.clone(), next.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(body) = bodies.get(i) else { break };
                loop {
                    let r = client
                        .post(&url)
                        .header("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
                        .header("Content-Type", "application/x-amz-json-1.1")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("put");
                    if r.status() == 200 {
                        let v: Value = r.json().await.expect("json");
                        assert_eq!(v["FailedPutCount"], 0);
                        break;
                    }
                    // 503 "Slow down." while the log is full: back off and put again.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    started.elapsed()
}
