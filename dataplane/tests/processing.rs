//! Processing on the real binary: a real transformation service (an HTTP server in the test
//! speaking Lambda's Firehose event contract) through Ok / Dropped / ProcessingFailed, failed
//! and malformed invocations, timeouts and a service outage; CloudWatch Logs payloads through
//! Decompression + CloudWatchLogProcessing; JSON and KPL de-aggregation. Failures land in the
//! `processing-failed` / `decompression-failed` error output with Firehose's JSON.

use harness as common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::processing::{delivered, errors, gzip, lambda, manifest, raw};
use common::sinks::put_records;
use common::transformation::{Mode, Service};
use common::{Hydrant, metric_value};
use serde_json::{Value, json};

#[tokio::test]
async fn transformation_results_and_the_processing_failed_output() {
    // The first two invocations fail with 500: retried (numberOfRetries 3 by default).
    let service = Service::start(Mode::Error, 2).await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_secret(tmp.path(), "transform-auth", &[("token", "t0ken\n")]);
    let secrets = tmp.path().join("secrets");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "shout",
            &lambda(
                &service.url(),
                ", bufferSizeInMBs: 0.2, authSecret: transform-auth",
            ),
        ),
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            match i % 10 {
                3 => format!("please drop {i}"),
                7 => format!("please fail {i}"),
                _ => format!("record {i} {}", "x".repeat(100)),
            }
            .into_bytes()
        })
        .collect();
    put_records(&h.ingest_url(), "shout", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let mut want: Vec<String> = (0..3000)
        .filter(|i| i % 10 != 3 && i % 10 != 7)
        .map(|i| format!("RECORD {i} {}", "X".repeat(100)))
        .collect();
    want.sort();
    assert_eq!(delivered(tmp.path()), want);
    let failed = errors(tmp.path(), "processing-failed");
    let mut got: Vec<String> = failed.iter().map(raw).collect();
    got.sort();
    let mut want_failed: Vec<String> = (0..3000)
        .filter(|i| i % 10 == 7)
        .map(|i| format!("please fail {i}"))
        .collect();
    want_failed.sort();
    assert_eq!(got, want_failed);
    for v in &failed {
        assert_eq!(v["errorCode"], "Lambda.ProcessingFailedStatus", "{v}");
        assert_eq!(v["errorMessage"], "ProcessingFailed status set for record");
        assert_eq!(v["lambdaArn"], service.url().as_str());
        assert!(
            v["arrivalTimestamp"].as_u64().is_some()
                && v["attemptEndingTimestamp"].as_u64().is_some()
        );
    }
    // The event: Firehose's shape, 0.2 MB per invocation at most.
    let invocations = service.invocations();
    assert!(invocations.len() > 3, "{} invocations", invocations.len());
    for event in &invocations {
        assert_eq!(
            event["authorization"], "Bearer t0ken",
            "the token from the Secret"
        );
        assert!(event["invocationId"].is_string());
        assert_eq!(
            event["deliveryStreamArn"],
            "arn:aws:firehose:us-east-1:000000000000:deliverystream/shout"
        );
        assert_eq!(event["region"], "us-east-1");
        let recs = event["records"].as_array().expect("records");
        let bytes: usize = recs
            .iter()
            .map(|r| {
                STANDARD
                    .decode(r["data"].as_str().expect("data"))
                    .expect("b64")
                    .len()
            })
            .sum();
        assert!(bytes <= 209_716, "{bytes} bytes in one invocation");
        for r in recs {
            assert!(r["recordId"].is_string() && r["approximateArrivalTimestamp"].is_u64());
        }
    }
    let metrics = h.metrics().await;
    let value =
        |name: &str, labels: &[(&str, &str)]| metric_value(&metrics, name, labels).unwrap_or(0.0);
    assert_eq!(
        value("hydrant_processing_records_total", &[("result", "dropped")]),
        300.0
    );
    assert_eq!(
        value("hydrant_processing_records_total", &[("result", "failed")]),
        300.0
    );
    assert_eq!(
        value("hydrant_processing_records_total", &[("result", "ok")]),
        2400.0
    );
    assert_eq!(
        value(
            "hydrant_processing_invocations_total",
            &[("result", "failure")]
        ),
        2.0
    );
}

#[tokio::test]
async fn the_transformation_is_invoked_by_its_own_buffering_hints() {
    let service = Service::start(Mode::Normal, 0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    // The destination cuts every second; the function buffers for 5 s.
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "hinted",
            &lambda(&service.url(), ", bufferIntervalInSeconds: 5"),
        ),
        &[],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..60).map(|i| format!("r{i}").into_bytes()).collect();
    for chunk in records.chunks(10) {
        put_records(&h.ingest_url(), "hinted", chunk).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    h.wait_drained(Duration::from_secs(60)).await;
    let invocations = service.invocations();
    let sizes: Vec<usize> = invocations
        .iter()
        .map(|e| e["records"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![60], "one invocation for 3 s of records");
    let mut got = delivered(tmp.path());
    got.sort();
    let mut want: Vec<String> = (0..60).map(|i| format!("R{i}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn bad_responses_and_timeouts_fail_the_invocation_after_its_retries() {
    let service = Service::start(Mode::MissingId, u32::MAX).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "strict",
            &lambda(&service.url(), ", numberOfRetries: 1, timeoutInSeconds: 1"),
        ),
        &[],
    )
    .await;
    let records: Vec<Vec<u8>> = (0..20).map(|i| format!("r{i}").into_bytes()).collect();
    put_records(&h.ingest_url(), "strict", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let failed = errors(tmp.path(), "processing-failed");
    assert_eq!(failed.len(), 20, "the whole invocation fails");
    for v in &failed {
        assert_eq!(v["errorCode"], "Lambda.MissingRecordId", "{v}");
        assert_eq!(v["attemptsMade"], 2, "{v}");
    }
    assert!(delivered(tmp.path()).is_empty());

    service.set(Mode::Slow, u32::MAX);
    put_records(&h.ingest_url(), "strict", &records[..5]).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let timeouts: Vec<Value> = errors(tmp.path(), "processing-failed")
        .into_iter()
        .filter(|v| v["errorCode"] == "Lambda.Timeout")
        .collect();
    assert_eq!(timeouts.len(), 5);
}

#[tokio::test]
async fn a_transformation_service_outage_loses_nothing() {
    let service = Service::start(Mode::Normal, 0).await;
    let addr = service.addr;
    let (mode, invocations) = (service.mode.clone(), service.invocations.clone());
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest("patient", &lambda(&service.url(), ", numberOfRetries: 300")),
        &[],
    )
    .await;
    // The service goes away (connections refused) while records arrive, and comes back.
    let mut service = service;
    let _ = service.stop.take().map(|s| s.send(()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let records: Vec<Vec<u8>> = (0..500).map(|i| format!("r{i}").into_bytes()).collect();
    put_records(&h.ingest_url(), "patient", &records).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _back = Service::start_on(addr, mode, invocations).await;
    h.wait_drained(Duration::from_secs(90)).await;
    let mut want: Vec<String> = (0..500).map(|i| format!("R{i}")).collect();
    want.sort();
    assert_eq!(delivered(tmp.path()), want);
    assert!(errors(tmp.path(), "processing-failed").is_empty());
}

#[tokio::test]
async fn cloudwatch_logs_payloads_and_json_de_aggregation() {
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "cwl",
            "        - type: Decompression
          decompression: {compressionFormat: GZIP}
        - type: CloudWatchLogProcessing
          cloudWatchLogProcessing: {dataMessageExtraction: true}
        - type: RecordDeAggregation
          recordDeAggregation: {subRecordType: JSON}
        - type: AppendDelimiterToRecord
",
        ),
        &[],
    )
    .await;
    let data = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "g", "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": "1", "timestamp": 1, "message": "{\"n\":1}{\"n\":2}"},
            {"id": "2", "timestamp": 2, "message": "{\"n\":3}"}
        ]
    });
    let control = json!({
        "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]
    });
    let records = vec![
        gzip(data.to_string().as_bytes()),
        gzip(control.to_string().as_bytes()),
        b"not gzip at all".to_vec(),
    ];
    put_records(&h.ingest_url(), "cwl", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        delivered(tmp.path()),
        vec!["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]
    );
    let failed = errors(tmp.path(), "decompression-failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["errorCode"], "Decompression.InvalidData");
    assert_eq!(raw(&failed[0]), "not gzip at all");
}

/// A KPL-aggregated record (magic bytes, protobuf AggregatedRecord, MD5 trailer), built here
/// from the format's description rather than with the library under test.
fn kpl_aggregate(records: &[&[u8]]) -> Vec<u8> {
    use md5::Digest;
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn bytes_field(n: u64, b: &[u8], out: &mut Vec<u8>) {
        varint((n << 3) | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    let mut msg = Vec::new();
    bytes_field(1, b"partition-key", &mut msg);
    for r in records {
        let mut rec = Vec::new();
        varint(1 << 3, &mut rec);
        varint(0, &mut rec);
        bytes_field(3, r, &mut rec);
        bytes_field(3, &rec, &mut msg);
    }
    let mut out = vec![0xF3, 0x89, 0x9A, 0xC2];
    out.extend_from_slice(&msg);
    out.extend_from_slice(&md5::Md5::digest(&msg));
    out
}

#[tokio::test]
async fn kpl_aggregated_records_are_de_aggregated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let h = Hydrant::start(
        tmp.path(),
        &manifest(
            "kpl",
            "        - type: RecordDeAggregation
          recordDeAggregation: {subRecordType: KPL}
        - type: AppendDelimiterToRecord
",
        ),
        &[],
    )
    .await;
    let mut corrupt = kpl_aggregate(&[b"x"]);
    let n = corrupt.len();
    corrupt[n - 1] ^= 0xff;
    let records = vec![
        kpl_aggregate(&[b"a1", b"a2", b"a3"]),
        b"not aggregated".to_vec(),
        kpl_aggregate(&[b"b1"]),
        corrupt.clone(),
    ];
    put_records(&h.ingest_url(), "kpl", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        delivered(tmp.path()),
        vec!["a1", "a2", "a3", "b1", "not aggregated"]
    );
    let failed = errors(tmp.path(), "processing-failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["errorCode"],
        "RecordDeAggregation.InvalidKplRecord"
    );
    assert_eq!(
        STANDARD
            .decode(failed[0]["rawData"].as_str().expect("raw"))
            .expect("b64"),
        corrupt
    );
}
