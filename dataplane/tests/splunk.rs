//! The Splunk destination against a real HEC implementation with indexer acknowledgements (the
//! OpenTelemetry Collector's splunkhec receiver): event and raw endpoints, the token, acks
//! awaited before a batch counts as delivered, invalid events and a wrong token ending in the
//! `splunk-failed` error output with `EventId`, and AllEvents backup.

mod common;

use std::time::Duration;

use common::moto::Moto;
use common::sinks::{self, put_records, s3_configuration, write_s3_secret, write_secret};
use common::splunk::SplunkHec;
use common::{Hydrant, metric_value};

fn manifest(name: &str, hec: &SplunkHec, moto: &Moto, fields: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    splunk:
      hecEndpoint: {}
      hecTokenSecret: hec
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{fields}{}",
            hec.url(),
            s3_configuration(moto, "hec-errors", "")
        ),
    )
}

async fn start(tmp: &std::path::Path, token: &str, manifest: &str) -> Hydrant {
    write_s3_secret(tmp);
    write_secret(tmp, "hec", &[("token", token)]);
    let secrets = tmp.join("secrets");
    Hydrant::start(
        tmp,
        manifest,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await
}

#[tokio::test]
async fn events_are_acknowledged_and_invalid_ones_go_to_the_error_output() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let hec = SplunkHec::start("00000000-1111-2222-3333-444444444444").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest("events", &hec, &moto, "      hecEndpointType: Event\n");
    let h = start(tmp.path(), &hec.token, &m).await;
    let mut records: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("{{\"event\":\"e-{i}\",\"sourcetype\":\"hydrant\"}}").into_bytes())
        .collect();
    records.insert(7, b"{\"event\": broken".to_vec());
    records.insert(2000, br#"{"time":1}"#.to_vec());
    put_records(&h.ingest_url(), "events", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let mut got = hec.events();
    got.sort();
    let mut want: Vec<String> = (0..3000).map(|i| format!("e-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let failed = sinks::error_records(&moto, "hec-errors", "splunk-failed").await;
    let mut raw: Vec<Vec<u8>> = failed.iter().map(|(_, v)| sinks::raw_data(v)).collect();
    raw.sort();
    assert_eq!(
        raw,
        vec![b"{\"event\": broken".to_vec(), br#"{"time":1}"#.to_vec()]
    );
    for (_, v) in &failed {
        assert_eq!(v["errorCode"], "Splunk.InvalidDataFormat", "{v}");
        assert!(
            v["EventId"].as_str().is_some_and(|id| id.ends_with(".0")),
            "{v}"
        );
    }
    let metrics = h.metrics().await;
    let acks = metric_value(
        &metrics,
        "hydrant_delivery_data_ack_latency_seconds_count",
        &[],
    )
    .unwrap_or(0.0);
    assert!(acks >= 1.0, "{metrics}");
}

#[tokio::test]
async fn raw_events_with_all_events_backup() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let hec = SplunkHec::start("raw-token").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "raw",
        &hec,
        &moto,
        "      hecEndpointType: Raw\n      s3BackupMode: AllEvents\n      processingConfiguration:\n        enabled: true\n        processors: [{type: AppendDelimiterToRecord}]\n",
    );
    let h = start(tmp.path(), &hec.token, &m).await;
    let records: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("2026-11-26T00:00:00Z host=a line={i}").into_bytes())
        .collect();
    put_records(&h.ingest_url(), "raw", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let mut got = hec.events();
    got.sort();
    let mut want: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.clone()).expect("utf8"))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let backup = sinks::backup_bytes(&moto, "hec-errors").await;
    let mut lines = common::objects::lines(&backup);
    lines.sort();
    assert_eq!(lines, want, "AllEvents backs up every event");
}

#[tokio::test]
async fn a_wrong_token_ends_in_the_error_output_after_the_retry_duration() {
    let moto = Moto::start().await;
    moto.create_bucket("hec-errors").await;
    let hec = SplunkHec::start("right-token").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "denied",
        &hec,
        &moto,
        "      hecEndpointType: Raw\n      retryOptions: {durationInSeconds: 2}\n",
    );
    let h = start(tmp.path(), "wrong-token", &m).await;
    let records: Vec<Vec<u8>> = (0..20).map(|i| format!("l{i}\n").into_bytes()).collect();
    put_records(&h.ingest_url(), "denied", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert!(hec.events().is_empty());
    let failed = sinks::error_records(&moto, "hec-errors", "splunk-failed").await;
    assert_eq!(failed.len(), 20);
    for (_, v) in &failed {
        assert_eq!(v["errorCode"], "Splunk.InvalidToken", "{v}");
        assert!(
            v["errorMessage"].as_str().expect("msg").contains("401"),
            "{v}"
        );
        assert!(v["attemptsMade"].as_u64().expect("attempts") >= 2);
    }
}
