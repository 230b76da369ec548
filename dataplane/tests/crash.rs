//! Acked means durable: kill -9 the process under load, several times, restart it, and find every
//! acknowledged record at the destination (duplicates are allowed and counted).

use harness as common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use common::{Hydrant, firehose_client, local_manifest, objects};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_record() {
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = local_manifest("crashy", "", "");
    let mut hydrant = Hydrant::start(
        tmp.path(),
        &manifest,
        &[("HYDRANT_WAL_SEGMENT_BYTES", "262144")],
    )
    .await;
    let endpoint = hydrant.ingest_url();
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..3 {
        let (acked, stop, endpoint) = (acked.clone(), stop.clone(), endpoint.clone());
        producers.push(tokio::spawn(async move {
            // The loop retries every 50 ms itself; the SDK's own backoff (seconds) would stall
            // producers across restarts.
            let base = firehose_client(&endpoint, "AKID", "secret");
            let client = aws_sdk_firehose::Client::from_conf(
                base.config()
                    .to_builder()
                    .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
                    .build(),
            );
            let mut n = 0u64;
            // Bounded: at most 20,000 requests per producer.
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
        }));
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

    let acked = acked.lock().expect("lock").clone();
    let counts = objects::record_counts(&objects::local_objects(&tmp.path().join("out")));
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
    assert!(
        acked.len() > 5_000,
        "enough load to mean something: {}",
        acked.len()
    );
    let metrics = hydrant.log();
    assert!(!metrics.contains("panicked"));
}
