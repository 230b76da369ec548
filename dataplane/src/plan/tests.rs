//! The plan of every example manifest.

use super::*;

fn plan_of(example: &str) -> StreamPlan {
    let path = format!("{}/../examples/{example}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example manifest");
    let stream = crds::manifest::parse_manifest(&text).expect("example parses");
    let errors = crds::validate_spec(&stream);
    assert!(errors.is_empty(), "{example}: {errors:?}");
    StreamPlan::new(&stream.spec)
}

fn hints(mib: usize, seconds: u64) -> Hints {
    Hints {
        size_bytes: mib << 20,
        interval: Duration::from_secs(seconds),
    }
}

#[test]
fn quickstart_cuts_batches_by_the_destination_hints_alone() {
    let plan = plan_of("quickstart.yaml");
    assert_eq!(plan.destination.kind, "local");
    assert_eq!(plan.destination.retry.duration, None);
    assert_eq!(plan.stages, vec![Stage::AppendDelimiter]);
    assert_eq!(plan.cut, hints(5, 10));
    assert_eq!(plan.buffers, None);
    assert_eq!(plan.source_backup, None);
    assert_eq!(plan.in_flight_bytes, 32 << 20);
}

#[test]
fn s3_compresses_and_bounds_delivery_by_one_batch_past_the_default() {
    let plan = plan_of("s3.yaml");
    assert_eq!(plan.destination.kind, "s3");
    assert_eq!(
        plan.stages,
        vec![
            Stage::AppendDelimiter,
            Stage::Compression(CompressionFormat::Gzip)
        ]
    );
    assert_eq!(plan.cut, hints(64, 60));
    assert_eq!(plan.in_flight_bytes, (64 << 20) + READ_CHUNK);
    assert_eq!(plan.buffers, None);
}

#[test]
fn partitioning_feeds_partition_buffers_with_small_early_batches() {
    let plan = plan_of("partitioning.yaml");
    assert_eq!(
        plan.buffers,
        Some(BufferLane::Partitions {
            hints: hints(128, 300),
            active_limit: 500
        })
    );
    assert_eq!(plan.cut, PARTITION_FEED);
    assert!(plan.stages.contains(&Stage::DynamicPartitioning));
    assert!(!plan.stages.contains(&Stage::Transformation));
}

#[test]
fn a_transformation_is_invoked_by_its_own_hints_and_buffered_by_the_destinations() {
    let plan = plan_of("transformation.yaml");
    assert_eq!(
        plan.buffers,
        Some(BufferLane::Transformation {
            hints: hints(16, 60)
        })
    );
    assert_eq!(plan.buffers.map(|b| b.limit()), Some(1));
    assert_eq!(plan.cut, hints(1, 60));
    assert_eq!(
        plan.stages,
        vec![
            Stage::Transformation,
            Stage::AppendDelimiter,
            Stage::Compression(CompressionFormat::Gzip)
        ]
    );
}

#[test]
fn parquet_converts_instead_of_compressing() {
    let plan = plan_of("parquet.yaml");
    assert_eq!(plan.stages, vec![Stage::FormatConversion]);
    assert_eq!(plan.cut, hints(128, 300));
}

#[test]
fn http_endpoint_retries_for_its_duration() {
    let plan = plan_of("http-endpoint.yaml");
    assert_eq!(plan.destination.kind, "http_endpoint");
    assert_eq!(plan.destination.error_output_type, "http-endpoint-failed");
    assert_eq!(
        plan.destination.retry.duration,
        Some(Duration::from_secs(300))
    );
    assert_eq!(plan.cut, hints(4, 60));
    assert_eq!(plan.stages, vec![Stage::AppendDelimiter]);
}

#[test]
fn each_other_destination_has_its_error_output_type_and_retry_duration() {
    for (example, kind, error_type, seconds) in [
        (
            "opensearch.yaml",
            "opensearch",
            "AmazonOpenSearchService-failed",
            300,
        ),
        ("splunk.yaml", "splunk", "splunk-failed", 600),
        ("postgresql.yaml", "postgresql", "postgresql-failed", 3600),
        ("redshift.yaml", "redshift", "redshift-failed", 3600),
    ] {
        let plan = plan_of(example);
        assert_eq!(plan.destination.kind, kind, "{example}");
        assert_eq!(plan.destination.error_output_type, error_type, "{example}");
        assert_eq!(
            plan.destination.retry.duration,
            Some(Duration::from_secs(seconds)),
            "{example}"
        );
        assert_eq!(plan.buffers, None, "{example}");
        assert_eq!(plan.source_backup, None, "{example}");
    }
}

#[test]
fn source_backup_has_its_own_hints_only_when_enabled() {
    let text = r#"
apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {name: backed-up}
spec:
  destination:
    s3:
      bucket: data
      s3BackupMode: Enabled
      s3BackupConfiguration:
        bucket: raw
        bufferingHints: {sizeInMBs: 2, intervalInSeconds: 30}
"#;
    let stream = crds::manifest::parse_manifest(text).expect("manifest");
    let plan = StreamPlan::new(&stream.spec);
    assert_eq!(plan.source_backup, Some(hints(2, 30)));
    let disabled = text.replace("s3BackupMode: Enabled", "s3BackupMode: Disabled");
    let stream = crds::manifest::parse_manifest(&disabled).expect("manifest");
    assert_eq!(StreamPlan::new(&stream.spec).source_backup, None);
}
