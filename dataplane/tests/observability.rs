//! /metrics (checked by promtool), /healthz, /readyz, /status, and shutdown by signals.

use harness as common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Hydrant, local_manifest, objects};

#[tokio::test]
async fn metrics_pass_promtool_and_status_reports_the_backlog() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut h = Hydrant::start(tmp.path(), &local_manifest("observed", "", ""), &[]).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/records", h.ingest_url()))
        .body("one\ntwo\nthree\n")
        .send()
        .await
        .expect("plain put");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["recordsAccepted"], 3);
    // A refused request is counted by error type.
    assert_eq!(
        common::sinks::invalid_put(&client, &h.ingest_url()).await,
        400
    );
    h.wait_drained(Duration::from_secs(30)).await;

    let text = h.metrics().await;
    let promtool = std::env::var("HYDRANT_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {promtool} (Debian package prometheus, installed by `bash tests/run.sh`): {e}")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|line| {
                let (series, v) = line.rsplit_once(' ')?;
                let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
                if n != name {
                    return None;
                }
                let got: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
                let all = [("namespace", "default"), ("stream", "observed")];
                labels
                    .iter()
                    .chain(all.iter())
                    .all(|(k, val)| got.contains(&format!("{k}=\"{val}\"").as_str()))
                    .then(|| v.parse().ok())?
            })
    };
    assert_eq!(
        value("hydrant_incoming_records_total", &[]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(value("hydrant_incoming_bytes_total", &[]), Some(11.0));
    assert_eq!(value("hydrant_incoming_put_requests_total", &[]), Some(1.0));
    assert_eq!(
        value(
            "hydrant_delivery_records_total",
            &[("destination", "local"), ("result", "success")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(
            "hydrant_api_errors_total",
            &[("error", "ValidationException"), ("operation", "PutRecord")]
        ),
        Some(1.0)
    );
    assert_eq!(value("hydrant_throttled_records_total", &[]), Some(0.0));
    assert_eq!(value("hydrant_wal_backlog_records", &[]), Some(0.0));
    assert!(value("hydrant_fsync_duration_seconds_count", &[]).unwrap_or(0.0) >= 1.0);
    assert!(value("hydrant_wal_bytes", &[]).is_some());
    assert!(value("hydrant_wal_segments", &[]).is_some());
    assert!(
        value(
            "hydrant_delivery_data_freshness_seconds",
            &[("destination", "local")]
        )
        .is_some()
    );
    assert!(text.contains("hydrant_put_request_duration_seconds_bucket{"));

    let status = h.status().await;
    assert_eq!(status["stream"], "observed");
    assert_eq!(status["backlogRecords"], 0);
    assert_eq!(status["ready"], true);
    assert!(
        status["destination"]["lastSuccessTime"].is_string(),
        "{status}"
    );
    for path in ["/healthz", "/readyz"] {
        let r = reqwest::get(format!("{}{path}", h.metrics_url()))
            .await
            .expect(path);
        assert_eq!(r.status(), 200, "{path}");
    }
    assert!(h.terminate(Duration::from_secs(30)).await.success());
}

#[tokio::test]
async fn second_signal_exits_at_once_and_the_log_keeps_the_rest() {
    let tmp = tempfile::tempdir().expect("tmp");
    // A store nobody listens on: delivery cannot succeed, so draining cannot finish.
    let dead_port = common::free_port();
    let unreachable = format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {{name: stuck}}
spec:
  buffer: {{directory: ./wal, maxBytes: 64Mi}}
  destination:
    s3:
      bucket: nowhere
      endpoint: http://127.0.0.1:{dead_port}
      forcePathStyle: true
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 0}}
      processingConfiguration: {{enabled: true, processors: [{{type: AppendDelimiterToRecord}}]}}
"
    );
    let mut h = Hydrant::start(
        tmp.path(),
        &unreachable,
        &[("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")],
    )
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/records", h.ingest_url()))
        .body("kept-1\nkept-2\n")
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 200);
    let pid = h.pid().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Still draining (cannot deliver) and no longer ready.
    let ready = reqwest::get(format!("{}/readyz", h.metrics_url())).await;
    assert!(ready.map(|r| r.status() != 200).unwrap_or(true));
    let started = Instant::now();
    let status = h.terminate(Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "second signal exits at once"
    );
    assert!(!status.success());

    // The next start, with a working destination, delivers what the log kept.
    std::fs::write(&h.manifest, local_manifest("stuck", "", "")).expect("manifest");
    h.restart().await;
    h.wait_drained(Duration::from_secs(30)).await;
    assert!(h.terminate(Duration::from_secs(30)).await.success());
    let counts = objects::record_counts(&objects::local_objects(&tmp.path().join("out")));
    assert_eq!(counts.get("kept-1"), Some(&1));
    assert_eq!(counts.get("kept-2"), Some(&1));
}
