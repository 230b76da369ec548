//! `hydrant drain`: a log that a killed process left undelivered (its destination was down) is
//! delivered by a process that takes no records, which exits 0 once the log is empty; stopped
//! before that, it exits non-zero and leaves the rest in the log for the next attempt.

use harness as common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::moto::Moto;
use common::operator_env::eventually;
use common::proxy::Proxy;
use common::sinks::put_records;
use common::{Hydrant, bin_path, free_port, objects};

const RECORDS: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_delivers_a_log_left_behind_and_exits_once_it_is_empty() {
    let moto = Moto::start().await;
    moto.create_bucket("drained").await;
    let proxy = Proxy::start(moto.port).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: leftover
spec:
  buffer: {{directory: ./wal, maxBytes: 64Mi}}
  destination:
    s3:
      bucket: drained
      endpoint: {}
      forcePathStyle: true
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
",
        proxy.endpoint()
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    // The destination is down while records are acknowledged; then the process is killed.
    proxy.down();
    let mut hydrant = Hydrant::start(tmp.path(), &manifest, &env).await;
    let records: Vec<Vec<u8>> = (0..RECORDS)
        .map(|i| format!("left-{i:05}").into_bytes())
        .collect();
    put_records(&hydrant.ingest_url(), "leftover", &records).await;
    hydrant.kill9();

    // Still down: the drain holds the log's records, reports them, and a signal stops it
    // with a failure, delivering nothing.
    let metrics_port = free_port();
    let mut first = drain(tmp.path(), &hydrant.manifest, &env, metrics_port);
    let backlog = eventually(
        "the drain reports the log's backlog",
        Duration::from_secs(30),
        || async {
            let status: serde_json::Value =
                reqwest::get(format!("http://127.0.0.1:{metrics_port}/status"))
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
            status["backlogRecords"].as_u64()
        },
    )
    .await;
    assert_eq!(
        backlog, RECORDS as u64,
        "every acknowledged record is in the log"
    );
    assert!(
        first.try_wait().expect("wait").is_none(),
        "a drain does not exit while records are undelivered"
    );
    let stopped = terminate(first);
    assert!(!stopped.status.success(), "an interrupted drain fails");
    assert!(
        moto.objects("drained").await.is_empty(),
        "nothing delivered yet"
    );

    // The destination is back: the next drain delivers everything and exits 0.
    proxy.up();
    let done = wait(drain(tmp.path(), &hydrant.manifest, &env, free_port()));
    assert!(
        done.status.success(),
        "drain: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        said.contains(&format!("drained {RECORDS} records")),
        "{said}"
    );
    let stored: Vec<(String, Vec<u8>)> = moto
        .objects("drained")
        .await
        .into_iter()
        .map(|(k, b, _)| (k, b))
        .collect();
    let counts = objects::record_counts(&stored);
    for i in 0..RECORDS {
        assert!(
            counts.contains_key(&format!("left-{i:05}")),
            "record {i} delivered"
        );
    }
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    eprintln!(
        "drained {RECORDS} records into {} objects, {duplicates} duplicates",
        stored.len()
    );

    // The log is empty now: draining it again delivers nothing and exits at once.
    let again = wait(drain(tmp.path(), &hydrant.manifest, &env, free_port()));
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("drained 0 records"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(moto.objects("drained").await.len(), stored.len());
}

/// `hydrant drain` of `manifest` in `work` (its log in `./wal`).
fn drain(work: &Path, manifest: &Path, env: &[(&str, &str)], metrics_port: u16) -> Child {
    Command::new(bin_path("hydrant"))
        .arg("drain")
        .arg("-f")
        .arg(manifest)
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .current_dir(work)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hydrant drain")
}

/// The drain's exit, bounded: a drain that does not finish within two minutes is killed.
fn wait(mut child: Child) -> Output {
    for _ in 0..1200 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("hydrant drain did not exit within 120 s");
}

/// SIGTERM, then the exit.
fn terminate(child: Child) -> Output {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait(child)
}
