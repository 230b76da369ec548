//! The Kafka source against a real broker (Apache Kafka in KRaft mode): two streams' processes
//! share a 6-partition topic as one consumer group; one is killed -9 mid-batch, the broker is
//! restarted; every produced record is delivered, duplicates counted, and the group's committed
//! offsets reach the end of every partition. Then SASL/SCRAM-SHA-512 with `readFromTimestamp`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use harness::kafka::{Auth, Kafka, ProducedRecord, produce_with};
use harness::{Hydrant, metric_value, objects, stream_manifest};

/// Short group timeouts so that a killed member's partitions move within seconds.
const FAST_GROUP: (&str, &str) = (
    "HYDRANT_KAFKA_PROPERTIES",
    "session.timeout.ms=6000,heartbeat.interval.ms=500",
);

fn manifest(name: &str, source: &str) -> String {
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
    .replace("spec:\n", &format!("spec:\n  source:\n{source}"))
}

fn records(prefix: &str, range: std::ops::Range<u32>) -> Vec<ProducedRecord> {
    range
        .map(|n| ProducedRecord {
            key: Some(format!("k{}", n % 97).into_bytes()),
            ..ProducedRecord::value(format!("{prefix}{n:07}"))
        })
        .collect()
}

fn values(records: &[ProducedRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.value.clone()).expect("utf8"))
        .collect()
}

/// How many times each record arrived, over every process's output directory.
fn delivered(dirs: &[&Path]) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for dir in dirs {
        for (k, n) in objects::record_counts(&objects::local_objects(dir)) {
            *counts.entry(k).or_default() += n;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_the_topic_through_kill_9_and_a_broker_restart() {
    let mut kafka = Kafka::start().await;
    kafka.create_topic("orders", 6).await;
    let mut produced = records("a", 0..6000);
    kafka.produce("orders", &produced).await;

    let source = format!(
        "    kafka:\n      bootstrapServers: {}\n      topic: orders\n      consumerGroup: shared\n",
        kafka.bootstrap()
    );
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let m = manifest("from-kafka", &source);
    let mut a = Hydrant::start(a_dir.path(), &m, &[FAST_GROUP]).await;
    let b = Hydrant::start(b_dir.path(), &m, &[FAST_GROUP]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let live: Arc<Mutex<Vec<ProducedRecord>>> = Arc::default();
    let producer = {
        let (stop, live) = (stop.clone(), live.clone());
        let config = kafka.client_config(&Auth::Plaintext);
        tokio::spawn(async move {
            // Bounded: at most 300 batches of 100.
            for batch in 0..300u32 {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let batch_records = records(&format!("p{batch:03}-"), 0..100);
                // A batch refused while the broker restarts is simply not counted as produced.
                let sent = produce_with(config.clone(), "orders", &batch_records).await;
                if sent.is_ok() {
                    live.lock().expect("lock").extend(batch_records);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.kill9();
    tokio::time::sleep(Duration::from_secs(2)).await;
    kafka.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Release);
    producer.await.expect("producer");
    produced.extend(live.lock().expect("lock").drain(..));
    let produced = values(&produced);

    let outs = [a_dir.path().join("out"), b_dir.path().join("out")];
    let out_refs: Vec<&Path> = outs.iter().map(|p| p.as_path()).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let counts = loop {
        let counts = delivered(&out_refs);
        let missing = produced.iter().filter(|v| !counts.contains_key(*v)).count();
        if missing == 0 {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} records never delivered\n--- a\n{}\n--- b\n{}",
            produced.len(),
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(counts.len(), produced.len(), "only produced records arrive");
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    println!(
        "kafka source: produced {}, delivered distinct {}, duplicates {duplicates} (one member killed -9, one broker restart)",
        produced.len(),
        counts.len()
    );
    // Both members took part.
    for (name, out) in [("a", &outs[0]), ("b", &outs[1])] {
        assert!(
            !objects::local_objects(out).is_empty(),
            "member {name} delivered nothing"
        );
    }

    // Every offset up to the end of every partition is committed once delivered.
    let end = kafka.end_offsets("orders").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let committed = kafka.committed_offsets("shared", "orders").await;
        if committed == end {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "committed {committed:?} never reached the end {end:?}\n--- a\n{}\n--- b\n{}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let metrics = b.metrics().await;
    assert!(
        metric_value(
            &metrics,
            "hydrant_source_commits_total",
            &[("result", "success")]
        )
        .is_some_and(|v| v > 0.0),
        "{metrics}"
    );
    for mut member in [a, b] {
        let exit = member.terminate(Duration::from_secs(30)).await;
        assert!(exit.success(), "{}", member.log());
        assert!(!member.log().contains("panicked"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_credentials_and_read_from_timestamp() {
    let kafka = Kafka::start().await;
    kafka.create_topic("history", 3).await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let hour = 3_600_000;
    let stamped = |prefix: &str, n: u32, ts: i64| ProducedRecord {
        timestamp_ms: Some(ts),
        ..ProducedRecord::value(format!("{prefix}{n:05}"))
    };
    let old: Vec<ProducedRecord> = (0..300)
        .map(|n| stamped("old", n, now_ms - 2 * hour))
        .collect();
    let new: Vec<ProducedRecord> = (0..300)
        .map(|n| stamped("new", n, now_ms - 60_000))
        .collect();
    kafka.produce("history", &old).await;
    kafka.produce("history", &new).await;

    let work = tempfile::tempdir().expect("work");
    let secrets = work.path().join("secrets/kafka-user");
    std::fs::create_dir_all(&secrets).expect("secrets");
    std::fs::write(secrets.join("username"), "hydrant").expect("user");
    std::fs::write(secrets.join("password"), "hydrant-secret\n").expect("password");
    let from = chrono::DateTime::from_timestamp_millis(now_ms - hour)
        .expect("time")
        .to_rfc3339();
    let source = format!(
        "    kafka:
      bootstrapServers: {}
      topic: history
      readFromTimestamp: \"{from}\"
      sasl:
        mechanism: SCRAM-SHA-512
        credentialsSecret: kafka-user
",
        kafka.sasl_bootstrap()
    );
    let secrets_dir = work.path().join("secrets");
    let hydrant = Hydrant::start(
        work.path(),
        &manifest("history", &source),
        &[("HYDRANT_SECRETS_DIR", secrets_dir.to_str().expect("utf8"))],
    )
    .await;

    let refused = hydrant
        .firehose()
        .put_record_batch()
        .delivery_stream_name("history")
        .records(
            aws_sdk_firehose::types::Record::builder()
                .data(Blob::new("x"))
                .build()
                .expect("record"),
        )
        .send()
        .await
        .expect_err("a put is refused")
        .into_service_error();
    assert_eq!(
        refused.meta().message(),
        Some("This operation is not permitted on MSKAsSource delivery stream type.")
    );
    let description = hydrant
        .firehose()
        .describe_delivery_stream()
        .delivery_stream_name("history")
        .send()
        .await
        .expect("describe");
    let description = description
        .delivery_stream_description()
        .expect("description");
    assert_eq!(description.delivery_stream_type().as_str(), "MSKAsSource");
    let msk = description
        .source()
        .and_then(|s| s.msk_source_description())
        .expect("MSKSourceDescription");
    assert_eq!(msk.topic_name(), Some("history"));
    assert!(msk.read_from_timestamp().is_some());

    let out = work.path().join("out");
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let counts = delivered(&[out.as_path()]);
        if counts.len() >= new.len() {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} new records delivered\n{}",
            counts.len(),
            new.len(),
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let expected = values(&new);
    assert!(expected.iter().all(|v| counts.contains_key(v)));
    let stale: Vec<&String> = counts
        .keys()
        .filter(|k| k.starts_with("old"))
        .take(3)
        .collect();
    assert!(
        stale.is_empty(),
        "records older than readFromTimestamp: {stale:?}"
    );
    assert!(!hydrant.log().contains("panicked"));
}
