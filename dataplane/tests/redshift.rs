//! Redshift mode's staging against the real S3-compatible server, and its COPY issued to a real
//! PostgreSQL-wire server: PostgreSQL cannot load from S3 manifests, so every COPY fails
//! (`Redshift.SyntaxError`), which exercises the whole path: the batch staged once as an object,
//! its manifest under `manifests/`, the COPY retried for the retry duration, then the
//! skipped-objects manifest under `errors/`. The COPY text itself is unit-tested.

use harness as common;

use std::time::Duration;

use common::moto::Moto;
use common::postgres::Postgres;
use common::sinks::{put_records, write_s3_secret, write_secret};
use common::{Hydrant, metric_value, objects};
use serde_json::Value;

#[tokio::test]
async fn batches_are_staged_once_and_skipped_objects_are_listed_under_errors() {
    let moto = Moto::start().await;
    moto.create_bucket("redshift-stage").await;
    let pg = Postgres::start().await;
    let tmp = tempfile::tempdir().expect("tmp");
    write_s3_secret(tmp.path());
    write_secret(
        tmp.path(),
        "redshift-loader",
        &[("username", "postgres"), ("password", "unused-with-trust")],
    );
    let manifest = format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: warehouse
spec:
  buffer:
    directory: ./wal
    maxBytes: 64Mi
  destination:
    redshift:
      clusterJdbcUrl: jdbc:postgresql://127.0.0.1:{}/postgres
      credentialsSecret: redshift-loader
      roleArn: arn:aws:iam::123456789012:role/firehose-redshift
      copyCommand: {{dataTableName: events, dataTableColumns: \"id,body\", copyOptions: \"json 'auto' gzip\"}}
      retryOptions: {{durationInSeconds: 2}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
      s3Configuration:
        bucket: redshift-stage
        endpoint: {}
        forcePathStyle: true
        credentialsSecret: s3-writer
        prefix: staged/
        compressionFormat: GZIP
        bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
",
        pg.port,
        moto.endpoint()
    );
    let secrets = tmp.path().join("secrets");
    let h = Hydrant::start(
        tmp.path(),
        &manifest,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("{{\"id\":{i},\"body\":\"b{i}\"}}").into_bytes())
        .collect();
    put_records(&h.ingest_url(), "warehouse", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let all = moto.objects("redshift-stage").await;
    let data: Vec<_> = all
        .iter()
        .filter(|(k, _, _)| {
            k.starts_with("staged/") && !k.contains("/manifests/") && !k.contains("/errors/")
        })
        .collect();
    assert!(!data.is_empty());
    let mut lines = Vec::new();
    for (key, bytes, encoding) in &data {
        assert!(key.ends_with(".gz"), "{key}");
        assert_eq!(encoding.as_deref(), Some("gzip"));
        lines.extend(objects::lines(&objects::decode(key, bytes)));
    }
    lines.sort();
    let mut want: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.clone()).expect("utf8"))
        .collect();
    want.sort();
    assert_eq!(
        lines, want,
        "each record staged exactly once despite the retries"
    );

    let manifest_of = |prefix: &str| -> Vec<String> {
        let mut urls = Vec::new();
        for (key, bytes, encoding) in &all {
            if key.starts_with(prefix) {
                assert_eq!(encoding, &None, "{key}: a manifest is plain JSON");
                let v: Value = serde_json::from_slice(bytes).expect("manifest JSON");
                for e in v["entries"].as_array().expect("entries") {
                    assert_eq!(e["mandatory"], true);
                    urls.push(e["url"].as_str().expect("url").to_owned());
                }
            }
        }
        urls.sort();
        urls
    };
    let mut staged: Vec<String> = data
        .iter()
        .map(|(k, _, _)| format!("s3://redshift-stage/{k}"))
        .collect();
    staged.sort();
    assert_eq!(manifest_of("staged/manifests/"), staged);
    assert_eq!(manifest_of("staged/errors/manifests/"), staged);

    let metrics = h.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "hydrant_delivery_error_output_records_total",
            &[("destination", "redshift")]
        ),
        Some(200.0),
        "{metrics}"
    );
    assert!(h.log().contains("Redshift.SyntaxError"), "{}", h.log());
}
