//! Encryption at rest end to end: `spec.encryption: {keyType: AWS_OWNED_CMK}`, puts answered
//! `Encrypted: true`, kill -9 under load and restarts, the log's files never holding a record
//! in plaintext while records sit in it, and every acknowledged record delivered at the end.

use harness as common;

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use common::{Hydrant, firehose_client_without_retries, objects};

const MARKER: &str = "PLAINTEXT-MARKER";

/// A local-directory stream whose records wait in the log (a 300 s buffering interval) until
/// shutdown delivers them.
fn manifest() -> String {
    "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: sealed
spec:
  buffer:
    directory: ./wal
    maxBytes: 256Mi
  encryption:
    keyType: AWS_OWNED_CMK
  destination:
    local:
      directory: ./out
      bufferingHints: {sizeInMBs: 128, intervalInSeconds: 300}
      processingConfiguration:
        enabled: true
        processors: [{type: AppendDelimiterToRecord}]
"
    .to_owned()
}

/// Every file under `dir` that holds `needle`, and how many bytes were searched.
fn files_holding(dir: &Path, needle: &[u8]) -> (Vec<String>, u64) {
    let mut found = Vec::new();
    let mut searched = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                searched += bytes.len() as u64;
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    (found, searched)
}

/// Puts batches of 50 until `stop`, recording the acknowledged ids; every answer must say
/// `Encrypted: true`.
async fn produce(
    endpoint: String,
    p: usize,
    acked: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
) {
    // The loop retries every 50 ms itself.
    let client = firehose_client_without_retries(&endpoint);
    let mut sent = 0usize;
    while !stop.load(Ordering::Acquire) && sent < 2_000_000 {
        let ids: Vec<String> = (sent..sent + 50).map(|i| format!("p{p}-{i:09}")).collect();
        sent += 50;
        let records = ids
            .iter()
            .map(|id| {
                let data = format!("{id}-{MARKER}-{}", "y".repeat(150));
                Record::builder()
                    .data(Blob::new(data))
                    .build()
                    .expect("record")
            })
            .collect();
        let put = client
            .put_record_batch()
            .delivery_stream_name("sealed")
            .set_records(Some(records))
            .send();
        match tokio::time::timeout(Duration::from_secs(10), put).await {
            Ok(Ok(out)) => {
                assert_eq!(
                    out.encrypted(),
                    Some(true),
                    "PutRecordBatch answered Encrypted"
                );
                let mut acked = acked.lock().expect("lock");
                for (id, r) in ids.iter().zip(out.request_responses()) {
                    if r.record_id().is_some() {
                        acked.insert(id.clone());
                    }
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Asserts that no file of the log holds a record in plaintext; returns the bytes searched.
fn assert_sealed(work: &Path, when: &str) -> u64 {
    let (plain, searched) = files_holding(&work.join("wal"), MARKER.as_bytes());
    assert!(plain.is_empty(), "{when}: plaintext records in {plain:?}");
    searched
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_log_survives_kill_9_and_never_holds_plaintext() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path();
    let mut hydrant = Hydrant::start(
        work,
        &manifest(),
        &[("HYDRANT_WAL_SEGMENT_BYTES", "262144")],
    )
    .await;
    let key_file = work.join("wal/keys/generated.key");
    let key = std::fs::read(&key_file).expect("the generated key");
    assert_eq!(key.len(), 32);
    let mode = std::fs::metadata(&key_file)
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key file is private");

    let one = hydrant
        .firehose()
        .put_record()
        .delivery_stream_name("sealed")
        .record(
            Record::builder()
                .data(Blob::new(format!("single-{MARKER}")))
                .build()
                .expect("record"),
        )
        .send()
        .await
        .expect("PutRecord");
    assert_eq!(one.encrypted(), Some(true), "PutRecord answered Encrypted");

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            tokio::spawn(produce(
                hydrant.ingest_url(),
                p,
                acked.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let mut before = 0;
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let searched = assert_sealed(work, &format!("round {round}, under load"));
        assert!(
            searched > 100_000,
            "round {round}: the log holds records ({searched} bytes)"
        );
        let now = acked.lock().expect("lock").len();
        assert!(
            now > before,
            "round {round}: no progress\n{}",
            hydrant.log()
        );
        before = now;
        hydrant.kill9();
        assert_sealed(work, &format!("round {round}, after kill -9"));
        hydrant.restart().await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Release);
    for p in producers {
        p.await.expect("producer");
    }
    assert_sealed(work, "after the load");
    assert_eq!(
        std::fs::read(&key_file).expect("key"),
        key,
        "one key across restarts"
    );

    // SIGTERM delivers everything the log holds.
    let exit = hydrant.terminate(Duration::from_secs(60)).await;
    assert!(exit.success(), "{}", hydrant.log());
    let acked = acked.lock().expect("lock").clone();
    let counts = objects::record_counts(&objects::local_objects(&work.join("out")));
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
    assert!(delivered.contains("single-PLAINTEXT"));
    assert!(
        acked.len() > 2_000,
        "enough load to mean something: {}",
        acked.len()
    );
    assert!(!hydrant.log().contains("panicked"));
    println!(
        "acknowledged {}, delivered distinct {}",
        acked.len(),
        delivered.len()
    );
}
