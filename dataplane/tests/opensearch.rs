//! The OpenSearch destination against a real OpenSearch 2.19 node: documents arrive in the
//! rotated index with stable IDs (a kill -9 and replay adds no duplicates); a mapping conflict
//! fails only its documents, which go to `AmazonOpenSearchService-failed` with Firehose's fields;
//! invalid JSON never blocks the stream; a tiny write queue makes the node answer 429 and only
//! the throttled items are retried.

use harness as common;

use std::time::Duration;

use common::moto::Moto;
use common::opensearch::OpenSearch;
use common::sinks::{self, put_records, s3_configuration, write_s3_secret};
use common::{Hydrant, metric_value};
use reqwest::Method;
use serde_json::json;

fn manifest(name: &str, os: &OpenSearch, moto: &Moto, fields: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    openSearch:
      endpoint: {}
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{fields}{}",
            os.url,
            s3_configuration(moto, "os-errors", "")
        ),
    )
}

async fn start(tmp: &std::path::Path, manifest: &str) -> Hydrant {
    write_s3_secret(tmp);
    let secrets = tmp.join("secrets");
    Hydrant::start(
        tmp,
        manifest,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await
}

#[tokio::test]
async fn documents_arrive_with_stable_ids_and_bad_ones_go_to_the_error_output() {
    let moto = Moto::start().await;
    moto.create_bucket("os-errors").await;
    let os = OpenSearch::start(&[]).await;
    // `n` is an integer: a document with a string there is refused by the mapping.
    os.request(
        Method::PUT,
        "/typed",
        Some(json!({"mappings": {"properties": {"n": {"type": "integer"}}}})),
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "typed",
        &os,
        &moto,
        "      indexName: typed\n      indexRotationPeriod: NoRotation\n",
    );
    let mut h = start(tmp.path(), &m).await;
    let mut records: Vec<Vec<u8>> = (0..5000)
        .map(|i| format!("{{\"n\":{i},\"msg\":\"hello\\nworld {i}\"}}").into_bytes())
        .collect();
    records.insert(100, br#"{"n":"not-a-number"}"#.to_vec());
    records.insert(2000, br#"{"n":"also-not"}"#.to_vec());
    records.insert(3000, b"{\"n\": 1, broken".to_vec());
    // A multi-line object is still one document.
    records.insert(4000, b"{\"n\":\n 777777}\n".to_vec());
    put_records(&h.ingest_url(), "typed", &records[..2500]).await;
    // A crash mid-stream: replayed records are indexed again under the same IDs.
    h.kill9();
    h.restart().await;
    put_records(&h.ingest_url(), "typed", &records[2500..]).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        os.count("typed").await,
        5001,
        "5000 + the multi-line one, no duplicates"
    );

    let failed = sinks::error_records(&moto, "os-errors", "AmazonOpenSearchService-failed").await;
    let mut got: Vec<(String, Vec<u8>)> = failed
        .iter()
        .map(|(_, v)| {
            (
                v["errorCode"].as_str().expect("code").to_owned(),
                sinks::raw_data(v),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("400".to_owned(), b"{\"n\": 1, broken".to_vec()),
            ("400".to_owned(), br#"{"n":"also-not"}"#.to_vec()),
            ("400".to_owned(), br#"{"n":"not-a-number"}"#.to_vec()),
        ]
    );
    for (key, v) in &failed {
        assert!(
            key.starts_with("errors/AmazonOpenSearchService-failed/"),
            "{key}"
        );
        assert_eq!(v["esIndexName"], "typed");
        assert!(v.get("esTypeName").is_some(), "{v}");
        assert_eq!(v["attemptsMade"], 1, "a mapping error is not retried: {v}");
    }
    let mapping = failed
        .iter()
        .find(|(_, v)| sinks::raw_data(v) == br#"{"n":"not-a-number"}"#)
        .expect("mapping failure");
    assert!(
        mapping.1["errorMessage"]
            .as_str()
            .expect("message")
            .contains("mapper_parsing_exception"),
        "{}",
        mapping.1
    );
    assert!(mapping.1["esDocumentId"].is_string());
}

#[tokio::test]
async fn rotation_names_the_index_by_arrival_day() {
    let moto = Moto::start().await;
    moto.create_bucket("os-errors").await;
    let os = OpenSearch::start(&[]).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "daily",
        &os,
        &moto,
        "      indexName: app-logs\n      indexRotationPeriod: OneDay\n      documentIdOptions: {defaultDocumentIdFormat: NO_DOCUMENT_ID}\n",
    );
    let before = chrono::Utc::now();
    let h = start(tmp.path(), &m).await;
    let records: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("{{\"i\":{i}}}").into_bytes())
        .collect();
    put_records(&h.ingest_url(), "daily", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let after = chrono::Utc::now();
    let mut total = 0;
    for day in [before, after] {
        let index = format!("app-logs-{}", day.format("%Y-%m-%d"));
        total += os.count(&index).await;
        if before.date_naive() == after.date_naive() {
            break;
        }
    }
    assert_eq!(total, 300);
}

#[tokio::test]
async fn throttled_items_are_retried_until_indexed() {
    let moto = Moto::start().await;
    moto.create_bucket("os-errors").await;
    let os = OpenSearch::start(&["--write-queue-size", "1", "--write-threads", "1"]).await;
    os.request(
        Method::PUT,
        "/busy",
        Some(json!({"settings": {"number_of_shards": 4}})),
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    // Small batches in parallel: more concurrent bulk requests than the queue takes.
    let m = manifest(
        "busy",
        &os,
        &moto,
        "      indexName: busy\n      indexRotationPeriod: NoRotation\n      retryOptions: {durationInSeconds: 600}\n",
    );
    let h = start(tmp.path(), &m).await;
    let records: Vec<Vec<u8>> = (0..60_000)
        .map(|i| format!("{{\"i\":{i},\"pad\":\"{}\"}}", "p".repeat(100)).into_bytes())
        .collect();
    let (a, b) = records.split_at(30_000);
    let url = h.ingest_url();
    tokio::join!(put_records(&url, "busy", a), put_records(&url, "busy", b));
    h.wait_drained(Duration::from_secs(180)).await;
    assert_eq!(os.count("busy").await, 60_000);
    let metrics = h.metrics().await;
    let retried = metric_value(
        &metrics,
        "hydrant_delivery_records_total",
        &[("destination", "opensearch"), ("result", "failure")],
    )
    .unwrap_or(0.0);
    assert!(retried > 0.0, "the node throttled nothing: {metrics}");
    assert!(
        sinks::error_records(&moto, "os-errors", "AmazonOpenSearchService-failed")
            .await
            .is_empty()
    );
}
