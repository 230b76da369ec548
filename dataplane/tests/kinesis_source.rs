//! The Kinesis source against a real Kinesis implementation (kinesalite): every record of a
//! 4-shard stream delivered — plain and KPL-aggregated, put before and while the stream reads,
//! through a split, a merge and kill -9 of the reader — with duplicates counted; Direct PUT
//! refused and the source described as Firehose does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_kinesis::Client;
use harness::kinesalite::Kinesalite;
use harness::kinesis::{create_stream, kinesis_client, kpl_aggregate, merge_shards, split_shard};
use harness::kinesis_throttle::KinesisThrottler;
use harness::{Hydrant, metric_value, objects, stream_manifest};

const STREAM: &str = "clicks";

/// Puts `ids` as plain records (one per id) or, with `aggregate`, as KPL aggregates of 10.
async fn put(client: &Client, ids: &[String], aggregate: bool) {
    let entries: Vec<(String, Vec<u8>)> = if aggregate {
        ids.chunks(10)
            .map(|chunk| {
                let records: Vec<(String, Vec<u8>)> = chunk
                    .iter()
                    .map(|id| (id.clone(), id.as_bytes().to_vec()))
                    .collect();
                (chunk[0].clone(), kpl_aggregate(&records))
            })
            .collect()
    } else {
        ids.iter()
            .map(|id| (id.clone(), id.as_bytes().to_vec()))
            .collect()
    };
    harness::kinesis::put_records(client, STREAM, &entries).await;
}

fn ids(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|n| format!("{prefix}{n:07}")).collect()
}

/// Distinct ids delivered, and how many times each arrived.
fn delivered(dir: &std::path::Path) -> HashMap<String, u32> {
    objects::record_counts(&objects::local_objects(dir))
}

/// A local-directory stream reading `STREAM` from `endpoint`.
fn manifest(name: &str, endpoint: &str) -> String {
    stream_manifest(
        name,
        "256Mi",
        "    local:
      directory: ./out
      bufferingHints: {sizeInMBs: 1, intervalInSeconds: 1}
      processingConfiguration:
        enabled: true
        processors: [{type: AppendDelimiterToRecord}]",
    )
    .replace(
        "spec:\n",
        &format!(
            "spec:
  source:
    kinesisStream:
      streamName: {STREAM}
      endpoint: {endpoint}
      region: us-east-1
      startingPosition: TRIM_HORIZON
"
        ),
    )
}

const CREDENTIALS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKID"),
    ("AWS_SECRET_ACCESS_KEY", "secret"),
];

/// Waits until every id in `produced` was delivered to `out`; returns the counts.
async fn wait_delivered(
    out: &std::path::Path,
    produced: &[String],
    hydrant: &Hydrant,
) -> HashMap<String, u32> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let counts = delivered(out);
        let missing = produced
            .iter()
            .filter(|id| !counts.contains_key(*id))
            .count();
        if missing == 0 {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} records never delivered\n{}",
            produced.len(),
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_reads_are_backed_off_and_counted() {
    let kinesis = Kinesalite::start().await;
    let throttler = KinesisThrottler::start(&kinesis.endpoint()).await;
    let client = kinesis_client(&kinesis.endpoint());
    create_stream(&client, STREAM, 2).await;
    let produced = ids("t", 0..2000);
    put(&client, &produced, false).await;
    // Every third GetRecords and GetShardIterator is refused for throughput (not every second:
    // the two shards' readers poll in step, so one of them would always be the refused one).
    throttler.throttle_every(3);
    throttler.throttle_get_shard_iterator(true);
    let tmp = tempfile::tempdir().expect("tmp");
    let hydrant = Hydrant::start(
        tmp.path(),
        &manifest("throttled", &throttler.endpoint()),
        &CREDENTIALS,
    )
    .await;
    let counts = wait_delivered(&tmp.path().join("out"), &produced, &hydrant).await;
    assert_eq!(counts.len(), produced.len());
    assert!(throttler.throttled() > 0, "the proxy throttled nothing");
    let metrics = hydrant.metrics().await;
    let counted = metric_value(
        &metrics,
        "hydrant_source_throttled_total",
        &[("source", "kinesis"), ("operation", "GetRecords")],
    )
    .unwrap_or(0.0)
        + metric_value(
            &metrics,
            "hydrant_source_throttled_total",
            &[("source", "kinesis"), ("operation", "GetShardIterator")],
        )
        .unwrap_or(0.0);
    assert_eq!(
        counted as u64,
        throttler.throttled(),
        "every throttle is counted once\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_delivered_through_reshards_and_kill_9() {
    let kinesis = Kinesalite::start().await;
    let client = kinesis_client(&kinesis.endpoint());
    create_stream(&client, STREAM, 4).await;
    let mut produced: Vec<String> = ids("a", 0..1000);
    put(&client, &produced, false).await;
    let aggregated = ids("g", 0..500);
    put(&client, &aggregated, true).await;
    produced.extend(aggregated);

    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = manifest("from-kinesis", &kinesis.endpoint());
    let mut hydrant = Hydrant::start(tmp.path(), &manifest, &CREDENTIALS).await;

    // Producers cannot PUT to a stream that reads a Kinesis stream.
    let refused = hydrant
        .firehose()
        .put_record()
        .delivery_stream_name("from-kinesis")
        .record(
            aws_sdk_firehose::types::Record::builder()
                .data(Blob::new("x"))
                .build()
                .expect("record"),
        )
        .send()
        .await
        .expect_err("a put is refused");
    let service = refused.into_service_error();
    assert!(service.is_invalid_argument_exception(), "{service:?}");
    assert_eq!(
        service.meta().message(),
        Some("This operation is not permitted on KinesisStreamAsSource delivery stream type.")
    );
    let described = hydrant
        .firehose()
        .describe_delivery_stream()
        .delivery_stream_name("from-kinesis")
        .send()
        .await
        .expect("describe");
    let description = described
        .delivery_stream_description()
        .expect("description");
    assert_eq!(
        description.delivery_stream_type().as_str(),
        "KinesisStreamAsSource"
    );
    let source = description
        .source()
        .and_then(|s| s.kinesis_stream_source_description())
        .expect("KinesisStreamSourceDescription");
    assert!(
        source
            .kinesis_stream_arn()
            .is_some_and(|a| a.ends_with(":stream/clicks")),
        "{source:?}"
    );

    // A producer keeps putting while the stream is resharded and the reader killed.
    let live: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let (client, live, stop) = (client.clone(), live.clone(), stop.clone());
        tokio::spawn(async move {
            // Bounded: at most 200 batches of 100.
            for batch in 0..200u32 {
                if stop.load(std::sync::atomic::Ordering::Acquire) {
                    break;
                }
                let batch_ids = ids(&format!("p{batch:03}-"), 0..100);
                put(&client, &batch_ids, batch % 5 == 4).await;
                live.lock().expect("lock").extend(batch_ids);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    split_shard(&client, STREAM, "shardId-000000000000").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    hydrant.kill9();
    hydrant.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    merge_shards(
        &client,
        STREAM,
        "shardId-000000000002",
        "shardId-000000000003",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    hydrant.kill9();
    hydrant.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Release);
    producer.await.expect("producer");
    produced.extend(live.lock().expect("lock").drain(..));

    let counts = wait_delivered(&tmp.path().join("out"), &produced, &hydrant).await;
    let unexpected: HashSet<&String> = counts
        .keys()
        .filter(|k| !produced.contains(k))
        .take(5)
        .collect();
    assert!(unexpected.is_empty(), "records nobody put: {unexpected:?}");
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    println!(
        "kinesis source: produced {}, delivered distinct {}, duplicates {duplicates} after 2 kill -9",
        produced.len(),
        counts.len()
    );

    // The split's parent and the merge's parents were read to their ends and committed, and
    // their children read after them.
    hydrant.wait_drained(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let checkpoints =
        std::fs::read_to_string(tmp.path().join("wal/source/kinesis-checkpoints.json"))
            .expect("checkpoints");
    let checkpoints: serde_json::Value = serde_json::from_str(&checkpoints).expect("json");
    for closed in [
        "shardId-000000000000",
        "shardId-000000000002",
        "shardId-000000000003",
    ] {
        assert_eq!(
            checkpoints["shards"][closed],
            serde_json::json!("shardEnd"),
            "{closed}: {checkpoints}"
        );
    }
    let metrics = hydrant.metrics().await;
    let read = metric_value(
        &metrics,
        "hydrant_source_records_total",
        &[("source", "kinesis")],
    )
    .expect("source records");
    assert!(read > 0.0, "records read since the last start: {read}");
    assert!(metrics.contains("hydrant_source_millis_behind_latest{shard=\"shardId-000000000001\""));
    let exit = hydrant.terminate(Duration::from_secs(30)).await;
    assert!(exit.success());
    assert!(!hydrant.log().contains("panicked"));
}
