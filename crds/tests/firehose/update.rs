//! UpdateDestination: merge, replace, and Firehose's rules on what may change.

use crds::firehose::{Translated, apply_update};
use crds::{Destination, SourceBackupMode, SplunkBackupMode};
use serde_json::{Value, json};

use crate::destinations::{http, opensearch, splunk};
use crate::support::*;

fn update(member: &str, body: Value) -> Value {
    json!({
        "DeliveryStreamName": "s",
        "CurrentDeliveryStreamVersionId": "1",
        "DestinationId": "destinationId-000000000001",
        member: body,
    })
}

fn applied(current: &Translated, input: &Value) -> Translated {
    apply_update(current, input, &store()).unwrap_or_else(|e| panic!("{e}"))
}

fn refusal(current: &Translated, input: &Value) -> String {
    apply_update(current, input, &store()).unwrap_err().message
}

fn s3_of(t: &Translated) -> &crds::S3Destination {
    match &t.spec.destination {
        Destination::S3(s3) => s3,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_destination_id_must_be_the_stream_s() {
    let current = create(&ext_s3(json!({})), &store());
    let mut input = update("ExtendedS3DestinationUpdate", json!({"Prefix": "x/"}));
    input["DestinationId"] = json!("destinationId-000000000002");
    assert_eq!(
        refusal(&current, &input),
        "DestinationId destinationId-000000000002 not found: the stream's only destination is destinationId-000000000001"
    );
    let mut two = update("ExtendedS3DestinationUpdate", json!({}));
    two["SplunkDestinationUpdate"] = json!({});
    assert_eq!(
        refusal(&current, &two),
        "Exactly one destination update is supported for a Firehose"
    );
    assert_eq!(
        refusal(&current, &update("SnowflakeDestinationUpdate", json!({}))),
        "SnowflakeDestinationUpdate is not supported by Hydrant"
    );
    assert!(
        refusal(
            &current,
            &update(
                "ExtendedS3DestinationUpdate",
                json!({"BufferingHints": {"SizeInMBs": 0}})
            )
        )
        .contains("at 'ExtendedS3DestinationUpdate.BufferingHints.SizeInMBs'")
    );
}

#[test]
fn the_same_type_merges_and_keeps_what_is_not_given() {
    let mut current = create(
        &ext_s3(json!({
            "Prefix": "a/", "BufferingHints": {"SizeInMBs": 8, "IntervalInSeconds": 120},
            "CloudWatchLoggingOptions": {"Enabled": true, "LogGroupName": "g"},
        })),
        &store(),
    );
    // What the control plane never changes through UpdateDestination stays.
    current.spec.replicas = Some(3);
    current.spec.encryption = Some(crds::EncryptionSpec::default());
    let next = applied(
        &current,
        &update(
            "ExtendedS3DestinationUpdate",
            json!({"BufferingHints": {"SizeInMBs": 16}, "CompressionFormat": "GZIP"}),
        ),
    );
    let s3 = s3_of(&next);
    assert_eq!(s3.delivery.prefix.as_deref(), Some("a/"));
    assert_eq!(
        (
            s3.delivery.buffering_hints.size_in_mbs,
            s3.delivery.buffering_hints.interval_in_seconds
        ),
        (16, 120)
    );
    assert_eq!(
        s3.delivery.compression_format,
        crds::CompressionFormat::Gzip
    );
    assert_eq!(next.spec.replicas, Some(3));
    assert!(next.spec.encryption.is_some());
    assert_eq!(
        next.kept, current.kept,
        "RoleARN and logging options stay kept"
    );
    // The legacy update shape updates the same destination.
    let legacy = applied(
        &current,
        &update("S3DestinationUpdate", json!({"Prefix": "b/"})),
    );
    assert_eq!(s3_of(&legacy).delivery.prefix.as_deref(), Some("b/"));
    assert_eq!(s3_of(&legacy).delivery.buffering_hints.size_in_mbs, 8);
}

#[test]
fn another_type_replaces_and_needs_its_required_members() {
    let current = create(&ext_s3(json!({"Prefix": "a/"})), &store());
    let body = http(json!({}))["HttpEndpointDestinationConfiguration"].clone();
    let mut body = body.as_object().cloned().unwrap();
    let s3 = body.remove("S3Configuration").unwrap();
    assert_eq!(
        refusal(
            &current,
            &update("HttpEndpointDestinationUpdate", Value::Object(body.clone()))
        ),
        "1 validation error detected: Value 'null' at 'HttpEndpointDestinationUpdate.S3Update' failed to satisfy constraint: Member must not be null"
    );
    body.insert("S3Update".into(), s3);
    let next = applied(
        &current,
        &update("HttpEndpointDestinationUpdate", Value::Object(body)),
    );
    let Destination::HttpEndpoint(h) = &next.spec.destination else {
        panic!()
    };
    assert_eq!(h.endpoint_configuration.url, "https://collector/in");
    assert_eq!(next.secrets[0].name, "s-access-key");
    assert!(
        next.kept["Destinations"][0]
            .get("ExtendedS3DestinationDescription")
            .is_none(),
        "{:#}",
        next.kept
    );
}

#[test]
fn opensearch_is_updated_to_opensearch_only() {
    let os = create(
        &opensearch(
            "AmazonopensearchserviceDestinationConfiguration",
            json!({"ClusterEndpoint": "https://os:9200"}),
        ),
        &store(),
    );
    let s3 = create(&ext_s3(json!({})), &store());
    assert_eq!(
        refusal(
            &os,
            &update("ExtendedS3DestinationUpdate", bucket("new-bucket"))
        ),
        "ExtendedS3DestinationUpdate: a destination cannot be changed to or from Amazon OpenSearch Service"
    );
    let to_os = json!({"RoleARN": ROLE, "IndexName": "i", "ClusterEndpoint": "https://os:9200", "S3Update": bucket("failed")});
    assert_eq!(
        refusal(
            &s3,
            &update("AmazonopensearchserviceDestinationUpdate", to_os)
        ),
        "AmazonopensearchserviceDestinationUpdate: a destination cannot be changed to or from Amazon OpenSearch Service"
    );
    let next = applied(
        &os,
        &update(
            "ElasticsearchDestinationUpdate",
            json!({"IndexName": "other"}),
        ),
    );
    let Destination::OpenSearch(o) = &next.spec.destination else {
        panic!()
    };
    assert_eq!(
        (o.index_name.as_str(), o.endpoint.as_str()),
        ("other", "https://os:9200")
    );
}

#[test]
fn s3_backup_can_be_enabled_but_not_disabled() {
    let current = create(&ext_s3(json!({})), &store());
    let enabled = applied(
        &current,
        &update(
            "ExtendedS3DestinationUpdate",
            json!({"S3BackupMode": "Enabled", "S3BackupUpdate": bucket("raw")}),
        ),
    );
    assert_eq!(s3_of(&enabled).s3_backup_mode, SourceBackupMode::Enabled);
    assert_eq!(
        s3_of(&enabled)
            .s3_backup_configuration
            .as_ref()
            .unwrap()
            .location
            .bucket,
        "raw"
    );
    assert_eq!(
        refusal(
            &enabled,
            &update(
                "ExtendedS3DestinationUpdate",
                json!({"S3BackupMode": "Disabled"})
            )
        ),
        "ExtendedS3DestinationUpdate.S3BackupMode: S3 backup cannot be disabled once it is enabled"
    );
}

#[test]
fn splunk_backup_goes_from_failed_events_to_all_events_only() {
    let current = create(&splunk(json!({})), &store());
    let all = applied(
        &current,
        &update(
            "SplunkDestinationUpdate",
            json!({"S3BackupMode": "AllEvents"}),
        ),
    );
    let Destination::Splunk(sp) = &all.spec.destination else {
        panic!()
    };
    assert_eq!(sp.s3_backup_mode, SplunkBackupMode::AllEvents);
    // The token was not given again: the Secret stays, nothing new to write.
    assert_eq!(sp.hec_token_secret, "s-hec-token");
    assert!(all.secrets.is_empty());
    assert_eq!(
        refusal(
            &all,
            &update(
                "SplunkDestinationUpdate",
                json!({"S3BackupMode": "FailedEventsOnly"})
            )
        ),
        "SplunkDestinationUpdate.S3BackupMode: a Splunk destination's backup mode can change from FailedEventsOnly to AllEvents only"
    );
    let rotated = applied(
        &current,
        &update("SplunkDestinationUpdate", json!({"HECToken": "tok-2"})),
    );
    assert_eq!(rotated.secrets[0].data["token"], "tok-2");
}

#[test]
fn dynamic_partitioning_can_be_neither_enabled_nor_disabled_later() {
    let plain = create(&ext_s3(json!({})), &store());
    let on = json!({"DynamicPartitioningConfiguration": {"Enabled": true}, "Prefix": "!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "e/!{firehose:error-output-type}/",
        "ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "MetadataExtraction", "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{k: .k}"}]}]}});
    assert_eq!(
        refusal(&plain, &update("ExtendedS3DestinationUpdate", on.clone())),
        "ExtendedS3DestinationUpdate.DynamicPartitioningConfiguration: dynamic partitioning cannot be enabled on an existing stream"
    );
    let partitioned = create(&ext_s3(on), &store());
    assert_eq!(
        refusal(
            &partitioned,
            &update(
                "ExtendedS3DestinationUpdate",
                json!({"DynamicPartitioningConfiguration": {"Enabled": false}})
            )
        ),
        "ExtendedS3DestinationUpdate.DynamicPartitioningConfiguration: dynamic partitioning cannot be disabled once it is enabled"
    );
    let kept_on = applied(
        &partitioned,
        &update(
            "ExtendedS3DestinationUpdate",
            json!({"BufferingHints": {"IntervalInSeconds": 60}}),
        ),
    );
    assert!(
        s3_of(&kept_on)
            .delivery
            .dynamic_partitioning_configuration
            .enabled
    );
}
