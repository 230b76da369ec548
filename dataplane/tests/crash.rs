//! Acked means durable: kill -9 the process under load, several times, restart it, and find every
//! acknowledged record at the destination exactly once (a batch replayed after a crash is cut
//! where it was and overwrites its object under the same name).

use harness as common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use common::moto::Moto;
use common::sinks::write_s3_secret;
use common::{Hydrant, firehose_client_without_retries, local_manifest, objects};

/// Three producers write while the process is killed -9 four times; returns the records
/// acknowledged, once the restarted process has drained and exited.
async fn acknowledged_through_four_kills(dir: &std::path::Path, manifest: &str) -> HashSet<String> {
    let secrets = dir.join("secrets");
    let mut hydrant = Hydrant::start(
        dir,
        manifest,
        &[
            ("HYDRANT_WAL_SEGMENT_BYTES", "262144"),
            ("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8")),
        ],
    )
    .await;
    let endpoint = hydrant.ingest_url();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..3 {
        let (acked, stop, endpoint) = (acked.clone(), stop.clone(), endpoint.clone());
        producers.push(tokio::spawn(produce(p, endpoint, acked, stop)));
    }
    let mut acked_before = 0;
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let now = acked.lock().expect("lock").len();
        assert!(
            now > acked_before,
            "round {round}: no progress\n{}",
            hydrant.log()
        );
        acked_before = now;
        hydrant.kill9();
        tokio::time::sleep(Duration::from_millis(200)).await;
        hydrant.restart().await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Release);
    for p in producers {
        p.await.expect("producer");
    }
    hydrant.wait_drained(Duration::from_secs(60)).await;
    let exit = hydrant.terminate(Duration::from_secs(30)).await;
    assert!(exit.success());
    assert!(!hydrant.log().contains("panicked"));
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 5_000,
        "enough load to mean something: {}",
        acked.len()
    );
    acked
}

/// One producer: batches of 50 records `p<p>-<n>-xxx...` until `stop`, at most 20,000.
async fn produce(
    p: u32,
    endpoint: String,
    acked: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
) {
    // The loop retries every 50 ms itself.
    let client = firehose_client_without_retries(&endpoint);
    let mut n = 0u64;
    while !stop.load(Ordering::Acquire) && n < 20_000 * 50 {
        let ids: Vec<String> = (0..50).map(|i| format!("p{p}-{:09}", n + i)).collect();
        n += 50;
        let records = ids
            .iter()
            .map(|id| {
                Record::builder()
                    .data(Blob::new(format!("{id}-{}", "x".repeat(200))))
                    .build()
                    .expect("record")
            })
            .collect();
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            client
                .put_record_batch()
                .delivery_stream_name("crashy")
                .set_records(Some(records))
                .send(),
        )
        .await;
        if let Ok(Ok(out)) = sent {
            let mut acked = acked.lock().expect("lock");
            for (id, r) in ids.iter().zip(out.request_responses()) {
                if r.record_id().is_some() {
                    acked.insert(id.clone());
                }
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every acknowledged record in exactly one object.
fn each_acknowledged_record_once(acked: &HashSet<String>, counts: &HashMap<String, u32>) {
    let delivered: HashSet<String> = counts
        .keys()
        .map(|k| k.split('-').take(2).collect::<Vec<_>>().join("-"))
        .collect();
    let missing: Vec<_> = acked.difference(&delivered).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged records lost, e.g. {missing:?}",
        acked.difference(&delivered).count()
    );
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    println!(
        "acknowledged {}, delivered distinct {}, duplicates {duplicates}",
        acked.len(),
        delivered.len()
    );
    assert_eq!(duplicates, 0, "every record in exactly one object");
}

/// Batches cut as soon as the log is caught up: many per checkpoint interval, so every kill
/// falls between some object written and the checkpoint passing it.
fn eager(manifest: String) -> String {
    manifest.replace("intervalInSeconds: 1", "intervalInSeconds: 0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_delivers_each_record_to_the_local_directory_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let acked =
        acknowledged_through_four_kills(tmp.path(), &eager(local_manifest("crashy", "", ""))).await;
    let counts = objects::record_counts(&objects::local_objects(&tmp.path().join("out")));
    each_acknowledged_record_once(&acked, &counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_delivers_each_record_to_s3_once() {
    let moto = Moto::start().await;
    moto.create_bucket("crash-bucket").await;
    let tmp = tempfile::tempdir().expect("tmp");
    write_s3_secret(tmp.path());
    let manifest = common::stream_manifest(
        "crashy",
        "256Mi",
        &format!(
            "    s3:
      bucket: crash-bucket
      endpoint: {}
      region: us-east-1
      forcePathStyle: true
      credentialsSecret: s3-writer
      compressionFormat: GZIP
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 0}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
",
            moto.endpoint()
        ),
    );
    let acked = acknowledged_through_four_kills(tmp.path(), &manifest).await;
    let objects: Vec<(String, Vec<u8>)> = moto
        .objects("crash-bucket")
        .await
        .into_iter()
        .map(|(key, bytes, _)| (key, bytes))
        .collect();
    assert!(
        objects.iter().all(|(k, _)| k.ends_with(".gz")),
        "GZIP objects"
    );
    each_acknowledged_record_once(&acked, &objects::record_counts(&objects));
}
