//! Source-record backup on the real binary: records backed up untransformed by the backup's
//! own hints, through a backup outage and a crash while the backup buffers.

use harness as common;

use std::time::Duration;

use common::processing::lambda;
use common::sinks::put_records;
use common::transformation::{Mode, Service};
use common::{Hydrant, metric_value, objects};

/// An S3 stream delivering to `main-bucket` under `main/` every second, with source-record
/// backup to `source-backup` under `source/` (plus `backup` fields), then `rest`.
fn backup_stream(name: &str, endpoint: &str, backup: &str, rest: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    s3:
      bucket: main-bucket
      endpoint: {endpoint}
      forcePathStyle: true
      credentialsSecret: s3-writer
      prefix: main/
      errorOutputPrefix: \"errors/!{{firehose:error-output-type}}/\"
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      s3BackupMode: Enabled
      s3BackupConfiguration:
        bucket: source-backup
        endpoint: {endpoint}
        forcePathStyle: true
        credentialsSecret: s3-writer
        prefix: source/
        {backup}
{rest}"
        ),
    )
}

#[tokio::test]
async fn source_records_are_backed_up_untransformed_even_after_a_backup_outage() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket("main-bucket").await;
    let service = Service::start(Mode::Normal, 0).await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_s3_secret(tmp.path());
    let processors = format!(
        "      processingConfiguration:
        enabled: true
        processors:
{}",
        lambda(&service.url(), "")
    );
    let m = backup_stream(
        "backed",
        &moto.endpoint(),
        "compressionFormat: GZIP\n        bufferingHints: {sizeInMBs: 1, intervalInSeconds: 4}",
        &processors,
    );
    let secrets = tmp.path().join("secrets");
    let h = Hydrant::start(
        tmp.path(),
        &m,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await;
    // The backup bucket does not exist yet: nothing may be checkpointed until it does.
    // Three puts a second apart: three transformation batches, one backup buffer.
    let records: Vec<Vec<u8>> = (0..300).map(|i| format!("rec {i}").into_bytes()).collect();
    for chunk in records.chunks(100) {
        put_records(&h.ingest_url(), "backed", chunk).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.status().await["backlogRecords"].as_u64().unwrap_or(0) > 0);
    moto.create_bucket("source-backup").await;
    h.wait_drained(Duration::from_secs(90)).await;

    let lines_of = |objects: Vec<(String, Vec<u8>, Option<String>)>, prefix: &str| {
        let mut lines = Vec::new();
        for (key, bytes, _) in objects {
            if key.starts_with(prefix) {
                lines.extend(objects::lines(&objects::decode(&key, &bytes)));
            }
        }
        lines.sort();
        lines.dedup();
        lines
    };
    let mut upper: Vec<String> = (0..300).map(|i| format!("REC {i}")).collect();
    upper.sort();
    assert_eq!(lines_of(moto.objects("main-bucket").await, "main/"), upper);
    // The backup holds the records as they arrived (no delimiter: records are concatenated).
    let backup = moto.objects("source-backup").await;
    assert_eq!(backup.len(), 1, "cut by the backup's own hints");
    assert!(backup.iter().all(|(k, _, e)| k.starts_with("source/")
        && k.ends_with(".gz")
        && e.as_deref() == Some("gzip")));
    let raw: Vec<u8> = backup
        .iter()
        .flat_map(|(k, b, _)| objects::decode(k, b))
        .collect();
    let text = String::from_utf8(raw).expect("utf8");
    for i in 0..300 {
        assert!(text.contains(&format!("rec {i}")), "rec {i} backed up");
    }
    assert!(!text.contains("REC"), "untransformed");
    let metrics = h.metrics().await;
    assert!(metric_value(&metrics, "hydrant_backup_records_total", &[]).unwrap_or(0.0) >= 300.0);

    // DescribeDeliveryStream shows the backup with its own hints, read by the AWS SDK.
    let described = h
        .firehose()
        .describe_delivery_stream()
        .delivery_stream_name("backed")
        .send()
        .await
        .expect("describe");
    let ext = described
        .delivery_stream_description()
        .and_then(|d| d.destinations().first())
        .and_then(|d| d.extended_s3_destination_description())
        .expect("extended s3");
    assert_eq!(
        ext.s3_backup_mode(),
        Some(&aws_sdk_firehose::types::S3BackupMode::Enabled)
    );
    let backup = ext.s3_backup_description().expect("backup description");
    assert_eq!(backup.bucket_arn(), "arn:aws:s3:::source-backup");
    let hints = backup.buffering_hints().expect("backup hints");
    assert_eq!(
        (hints.size_in_mbs(), hints.interval_in_seconds()),
        (Some(1), Some(4))
    );
}

#[tokio::test]
async fn a_crash_while_the_backup_buffers_loses_no_backup() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket("main-bucket").await;
    moto.create_bucket("source-backup").await;
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_s3_secret(tmp.path());
    // Delivery flushes every second; the backup waits 15 minutes.
    let m = backup_stream(
        "slow-backup",
        &moto.endpoint(),
        "bufferingHints: {sizeInMBs: 128, intervalInSeconds: 900}",
        "",
    );
    let secrets = tmp.path().join("secrets");
    let env = [("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))];
    let mut h = Hydrant::start(tmp.path(), &m, &env).await;
    let records: Vec<Vec<u8>> = (0..200).map(|i| format!("b{i};").into_bytes()).collect();
    put_records(&h.ingest_url(), "slow-backup", &records).await;
    // Delivered, not yet backed up: the records stay in the log.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while moto.objects("main-bucket").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", h.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(moto.objects("source-backup").await.is_empty());
    assert_eq!(h.status().await["backlogRecords"], 200);
    h.kill9();
    h.restart().await;
    // SIGTERM flushes the backup buffer before exiting.
    let status = h.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "{}", h.log());
    let text = bucket_text(&moto, "source-backup").await;
    let delivered = bucket_text(&moto, "main-bucket").await;
    for i in 0..200 {
        let record = format!("b{i};");
        assert_eq!(text.matches(&record).count(), 1, "{record} backed up once");
        // Delivered before the crash and replayed after it: written again under its name.
        assert_eq!(
            delivered.matches(&record).count(),
            1,
            "{record} delivered once"
        );
    }
}

/// Every object of `bucket`, decompressed and concatenated, as text.
async fn bucket_text(moto: &common::moto::Moto, bucket: &str) -> String {
    let bytes: Vec<u8> = moto
        .objects(bucket)
        .await
        .iter()
        .flat_map(|(k, b, _)| objects::decode(k, b))
        .collect();
    String::from_utf8(bytes).expect("utf8")
}
