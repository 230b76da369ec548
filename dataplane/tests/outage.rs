//! A destination outage under load: the log fills, producers get 503 "Slow down.", the process is
//! not ready; when the store returns, everything acknowledged arrives.

use harness as common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::moto::Moto;
use common::proxy::Proxy;
use common::{Hydrant, objects};
use serde_json::json;

async fn put(client: &reqwest::Client, url: &str, ids: &[String]) -> (u16, serde_json::Value) {
    let records: Vec<_> = ids
        .iter()
        .map(|id| json!({"Data": STANDARD.encode(format!("{id}-{}", "o".repeat(10_000)))}))
        .collect();
    let r = client
        .post(url)
        .header("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(json!({"DeliveryStreamName": "outage", "Records": records}).to_string())
        .send()
        .await
        .expect("put");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_fills_the_log_pushes_back_and_loses_nothing() {
    let moto = Moto::start().await;
    moto.create_bucket("outage-bucket").await;
    let proxy = Proxy::start(moto.port).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: outage
spec:
  buffer: {{directory: ./wal, maxBytes: 16Mi}}
  destination:
    s3:
      bucket: outage-bucket
      endpoint: {}
      forcePathStyle: true
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
",
        proxy.endpoint()
    );
    let hydrant = Hydrant::start(
        tmp.path(),
        &manifest,
        &[
            ("HYDRANT_WAL_SEGMENT_BYTES", "1048576"),
            ("AWS_ACCESS_KEY_ID", "from-env"),
            ("AWS_SECRET_ACCESS_KEY", "from-env"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let url = hydrant.ingest_url();
    let mut acked: HashSet<String> = HashSet::new();
    let mut next = 0u64;
    let mut batch = |n: usize| -> Vec<String> {
        let ids = (0..n).map(|i| format!("r{:07}", next + i as u64)).collect();
        next += n as u64;
        ids
    };

    // Before the outage.
    let ids = batch(100);
    assert_eq!(put(&client, &url, &ids).await.0, 200);
    acked.extend(ids);
    hydrant.wait_drained(Duration::from_secs(30)).await;

    proxy.down();
    let started = Instant::now();
    let throttled_ids = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never throttled"
        );
        let ids = batch(100);
        let (status, body) = put(&client, &url, &ids).await;
        match status {
            200 => acked.extend(ids),
            503 => {
                assert_eq!(body["__type"], "ServiceUnavailableException");
                assert_eq!(body["message"], "Slow down.");
                break ids;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    };
    let ready = reqwest::get(format!("{}/readyz", hydrant.metrics_url()))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503, "not ready while the log is full");
    let status = hydrant.status().await;
    assert!(status["destination"]["lastError"].is_string(), "{status}");
    assert!(status["backlogRecords"].as_u64().unwrap_or(0) > 0);
    let metrics = hydrant.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("hydrant_throttled_records_total") && !l.ends_with(" 0")),
        "throttled records counted"
    );

    proxy.up();
    // The SDK would retry the throttled batch; so do we, until there is room again.
    let started = Instant::now();
    loop {
        let (status, body) = put(&client, &url, &throttled_ids).await;
        if status == 200 {
            acked.extend(throttled_ids);
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never accepted again"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    hydrant.wait_drained(Duration::from_secs(120)).await;

    let delivered: HashSet<String> = moto
        .objects("outage-bucket")
        .await
        .iter()
        .flat_map(|(k, b, _)| objects::lines(&objects::decode(k, b)))
        .map(|l| l.split('-').next().unwrap_or_default().to_owned())
        .collect();
    let missing = acked.difference(&delivered).count();
    assert_eq!(missing, 0, "{missing} acknowledged records missing");
    assert!(acked.len() > 1000, "the log really filled: {}", acked.len());
}
