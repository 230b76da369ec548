//! Delivery to a real S3-compatible server (moto) and to the local directory: objects read back,
//! decompressed and compared; names, prefixes and Content-Encoding checked.

use harness as common;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::moto::Moto;
use common::{Hydrant, objects};
use serde_json::json;

fn s3_manifest(name: &str, endpoint: &str, bucket: &str, destination_extra: &str) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: {name}
spec:
  buffer:
    directory: ./wal
    maxBytes: 256Mi
  destination:
    s3:
      bucket: {bucket}
      endpoint: {endpoint}
      region: us-east-1
      forcePathStyle: true
      credentialsSecret: s3-writer
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
{destination_extra}"
    )
}

fn write_s3_secret(dir: &Path) {
    let secret = dir.join("secrets/s3-writer");
    std::fs::create_dir_all(&secret).expect("secret dir");
    std::fs::write(secret.join("accessKeyId"), "hydrant").expect("key");
    std::fs::write(secret.join("secretAccessKey"), "hydrant-secret").expect("secret");
}

async fn put_lines(h: &Hydrant, stream: &str, lines: &[String]) {
    let client = reqwest::Client::new();
    for chunk in lines.chunks(500) {
        let records: Vec<_> = chunk
            .iter()
            .map(|l| json!({"Data": STANDARD.encode(l)}))
            .collect();
        let r = client
            .post(h.ingest_url())
            .header("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(json!({"DeliveryStreamName": stream, "Records": records}).to_string())
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 200);
    }
}

/// Checks `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>` and returns the date parts.
fn check_file_name(file: &str, stream: &str, version: &str, ext: &str) -> Vec<String> {
    let rest = file
        .strip_prefix(&format!("{stream}-{version}-"))
        .unwrap_or_else(|| panic!("{file} does not start with {stream}-{version}-"));
    let rest = rest
        .strip_suffix(ext)
        .unwrap_or_else(|| panic!("{file} does not end with `{ext}`"));
    let parts: Vec<&str> = rest.splitn(7, '-').collect();
    assert_eq!(parts.len(), 7, "{file}");
    let widths = [4, 2, 2, 2, 2, 2];
    for (p, w) in parts.iter().zip(widths) {
        assert!(
            p.len() == w && p.chars().all(|c| c.is_ascii_digit()),
            "{file}: `{p}`"
        );
    }
    let uuid = parts[6];
    assert_eq!(uuid.len(), 36, "{file}: uuid `{uuid}`");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{file}: uuid `{uuid}`");
    parts[..6].iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn every_compression_format_to_s3() {
    let moto = Moto::start().await;
    moto.create_bucket("archive").await;
    let cases = [
        ("UNCOMPRESSED", "", None),
        ("GZIP", ".gz", Some("gzip")),
        ("ZIP", ".zip", Some("zip")),
        ("Snappy", ".snappy", Some("snappy-java")),
        ("HADOOP_SNAPPY", ".snappy", Some("hadoop-snappy")),
    ];
    for (format, ext, encoding) in cases {
        let tmp = tempfile::tempdir().expect("tmp");
        write_s3_secret(tmp.path());
        let prefix = format!("fmt-{}/", format.to_lowercase());
        let manifest = s3_manifest(
            "archive-stream",
            &moto.endpoint(),
            "archive",
            &format!(
                "      compressionFormat: {format}\n      prefix: \"{prefix}!{{timestamp:yyyy}}/\"\n      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"\n      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}\n"
            ),
        );
        let secrets = tmp.path().join("secrets");
        let mut h = Hydrant::start(
            tmp.path(),
            &manifest,
            &[
                ("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8")),
                ("HYDRANT_VERSION_ID", "7"),
            ],
        )
        .await;
        let lines: Vec<String> = (0..3000)
            .map(|i| format!("{format}-record-{i:05}-{}", "p".repeat(i % 300)))
            .collect();
        put_lines(&h, "archive-stream", &lines).await;
        h.wait_drained(Duration::from_secs(60)).await;
        assert!(h.terminate(Duration::from_secs(30)).await.success());

        let objects: Vec<_> = moto
            .objects("archive")
            .await
            .into_iter()
            .filter(|(k, _, _)| k.starts_with(&prefix))
            .collect();
        assert!(!objects.is_empty(), "{format}: no objects\n{}", h.log());
        let mut delivered = Vec::new();
        for (key, bytes, got_encoding) in &objects {
            let rest = key.strip_prefix(&prefix).expect("prefix");
            let (year, file) = rest.split_once('/').expect("year/");
            let parts = check_file_name(file, "archive-stream", "7", ext);
            assert_eq!(year, parts[0], "prefix and name use the same instant");
            assert_eq!(
                got_encoding.as_deref(),
                encoding,
                "{format}: Content-Encoding of {key}"
            );
            delivered.extend(objects::lines(&objects::decode(key, bytes)));
        }
        // Several objects only when the size hint cut them; order within the stream kept.
        delivered.sort();
        let mut expected = lines.clone();
        expected.sort();
        assert_eq!(delivered, expected, "{format}: records differ");
    }
}

#[tokio::test]
async fn default_prefix_append_rule_and_multipart_objects() {
    let moto = Moto::start().await;
    moto.create_bucket("raw-bucket").await;

    // No prefix: yyyy/MM/dd/HH/. Large objects: multipart upload (17 MiB batches).
    let tmp = tempfile::tempdir().expect("tmp");
    write_s3_secret(tmp.path());
    let secrets = tmp.path().join("secrets");
    let env = [("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))];
    let manifest = s3_manifest(
        "big",
        &moto.endpoint(),
        "raw-bucket",
        // Only the size cuts batches; the rest is delivered by the drain on SIGTERM.
        "      bufferingHints: {sizeInMBs: 17, intervalInSeconds: 900}\n",
    );
    let mut h = Hydrant::start(tmp.path(), &manifest, &env).await;
    let lines: Vec<String> = (0..400)
        .map(|i| format!("{i:06}{}", "m".repeat(100_000)))
        .collect();
    put_lines(&h, "big", &lines[..40]).await;
    put_lines(&h, "big", &lines[40..80]).await;
    for chunk in lines[80..].chunks(30) {
        put_lines(&h, "big", chunk).await;
    }
    assert!(h.terminate(Duration::from_secs(60)).await.success());
    let objects = moto.objects("raw-bucket").await;
    let mut total = 0;
    let mut largest = 0;
    for (key, bytes, _) in &objects {
        let segments: Vec<&str> = key.split('/').collect();
        assert_eq!(segments.len(), 5, "{key}");
        let parts = check_file_name(segments[4], "big", "1", "");
        assert_eq!(
            &segments[..4],
            &parts[..4],
            "{key}: default prefix is the name's yyyy/MM/dd/HH"
        );
        total += objects::lines(bytes).len();
        largest = largest.max(bytes.len());
    }
    assert_eq!(total, 400);
    assert!(
        largest >= 16 << 20,
        "at least one object went through multipart upload"
    );

    // A prefix without a timestamp gets yyyy/MM/dd/HH/ appended by concatenation.
    let tmp = tempfile::tempdir().expect("tmp");
    write_s3_secret(tmp.path());
    let secrets = tmp.path().join("secrets");
    let env = [("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))];
    moto.delete_all("raw-bucket").await;
    let manifest = s3_manifest(
        "legacy",
        &moto.endpoint(),
        "raw-bucket",
        "      prefix: legacy\n      bufferingHints: {sizeInMBs: 1, intervalInSeconds: 0}\n",
    );
    let mut h = Hydrant::start(tmp.path(), &manifest, &env).await;
    put_lines(&h, "legacy", &["one".to_owned()]).await;
    h.wait_drained(Duration::from_secs(30)).await;
    assert!(h.terminate(Duration::from_secs(30)).await.success());
    let objects = moto.objects("raw-bucket").await;
    assert_eq!(objects.len(), 1);
    let key = &objects[0].0;
    let rest = key.strip_prefix("legacy").expect("legacy prefix");
    let segments: Vec<&str> = rest.split('/').collect();
    assert_eq!(segments.len(), 5, "{key}");
    assert_eq!(segments[0].len(), 4, "{key}: year directly after `legacy`");
    check_file_name(segments[4], "legacy", "1", "");
}

#[tokio::test]
async fn local_directory_names_objects_like_s3() {
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = common::local_manifest("local-names", "      compressionFormat: GZIP\n", "");
    let mut h = Hydrant::start(tmp.path(), &manifest, &[]).await;
    put_lines(&h, "local-names", &["a".to_owned(), "b".to_owned()]).await;
    h.wait_drained(Duration::from_secs(30)).await;
    assert!(h.terminate(Duration::from_secs(30)).await.success());
    let objects = objects::local_objects(&tmp.path().join("out"));
    assert_eq!(objects.len(), 1);
    let segments: Vec<&str> = objects[0].0.split('/').collect();
    assert_eq!(segments.len(), 5);
    check_file_name(segments[4], "local-names", "1", ".gz");
    assert_eq!(
        objects::lines(&objects::decode(&objects[0].0, &objects[0].1)),
        ["a", "b"]
    );
}
