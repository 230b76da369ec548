//! The primary S3 destination, its processing, and the two S3 targets.

use crds::{CompressionFormat, Destination, ProcessorType, SourceBackupMode, SubRecordType};
use serde_json::json;

use crate::support::*;

#[test]
fn a_minimal_extended_s3_destination_is_the_store_s_bucket_with_firehose_defaults() {
    let t = create(&ext_s3(json!({})), &store());
    let Destination::S3(s3) = &t.spec.destination else {
        panic!("{:?}", t.spec.destination)
    };
    assert_eq!(s3.location.bucket, "events");
    assert_eq!(s3.location.endpoint.as_deref(), Some("http://minio:9000"));
    assert_eq!(s3.location.credentials_secret.as_deref(), Some("s3-creds"));
    assert!(s3.location.force_path_style);
    assert_eq!(s3.delivery.buffering_hints.size_in_mbs, 5);
    assert_eq!(s3.delivery.buffering_hints.interval_in_seconds, 300);
    assert_eq!(
        s3.delivery.compression_format,
        CompressionFormat::Uncompressed
    );
    assert!(t.secrets.is_empty());
    // The role is Firehose's, reported in both S3 descriptions; nothing else is kept.
    assert_eq!(
        t.kept,
        json!({"Destinations": [{
            "ExtendedS3DestinationDescription": {"RoleARN": ROLE},
            "S3DestinationDescription": {"RoleARN": ROLE},
        }]})
    );
}

#[test]
fn defaults_and_the_default_role_are_never_kept() {
    let input = request(json!({"ExtendedS3DestinationConfiguration": {
        "RoleARN": "arn:aws:iam::123456789012:role/hydrant",
        "BucketARN": "arn:aws:s3:::events",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
        "CompressionFormat": "UNCOMPRESSED",
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "CloudWatchLoggingOptions": {"Enabled": false},
        "S3BackupMode": "Disabled",
        "ProcessingConfiguration": {"Enabled": false, "Processors": []},
    }}));
    assert_eq!(create(&input, &store()).kept, json!({}));
}

/// An extended S3 configuration with every member Hydrant reads, and some it only keeps.
pub fn full_extended() -> serde_json::Value {
    ext_s3(json!({
        "Prefix": "data/!{partitionKeyFromQuery:customer}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
        "CompressionFormat": "GZIP",
        "FileExtension": ".json.gz",
        "CustomTimeZone": "UTC",
        "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": "arn:aws:kms:eu-west-1:123456789012:key/k1"}},
        "CloudWatchLoggingOptions": {"Enabled": true, "LogGroupName": "/aws/kinesisfirehose/s", "LogStreamName": "DestinationDelivery"},
        "DynamicPartitioningConfiguration": {"Enabled": true, "RetryOptions": {"DurationInSeconds": 600}},
        "ProcessingConfiguration": {"Enabled": true, "Processors": [
            {"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer: .customer}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
            {"Type": "AppendDelimiterToRecord"}]},
        "S3BackupMode": "Enabled",
        "S3BackupConfiguration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::raw", "Prefix": "raw/", "CompressionFormat": "ZIP", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 4}},
    }))
}

#[test]
fn every_extended_s3_member_lands_in_the_spec_or_in_kept() {
    let t = create(&full_extended(), &store());
    let Destination::S3(s3) = &t.spec.destination else {
        panic!()
    };
    let d = &s3.delivery;
    assert_eq!(
        d.prefix.as_deref(),
        Some("data/!{partitionKeyFromQuery:customer}/")
    );
    assert_eq!(
        d.error_output_prefix.as_deref(),
        Some("errors/!{firehose:error-output-type}/")
    );
    assert_eq!(
        (
            d.buffering_hints.size_in_mbs,
            d.buffering_hints.interval_in_seconds
        ),
        (64, 60)
    );
    assert_eq!(d.compression_format, CompressionFormat::Gzip);
    assert_eq!(d.file_extension.as_deref(), Some(".json.gz"));
    assert!(d.dynamic_partitioning_configuration.enabled);
    assert_eq!(
        d.dynamic_partitioning_configuration
            .retry_options
            .duration_in_seconds,
        600
    );
    assert!(d.processing_configuration.enabled);
    let q = d
        .processing_configuration
        .processor(ProcessorType::MetadataExtraction)
        .unwrap();
    assert_eq!(
        q.metadata_extraction.as_ref().unwrap().query,
        "{customer: .customer}"
    );
    assert!(d.processing_configuration.appends_delimiter());
    assert_eq!(s3.s3_backup_mode, SourceBackupMode::Enabled);
    let b = s3.s3_backup_configuration.as_ref().unwrap();
    assert_eq!(b.location.bucket, "raw");
    assert_eq!(b.prefix.as_deref(), Some("raw/"));
    assert_eq!(b.compression_format, CompressionFormat::Zip);
    assert_eq!(
        (
            b.buffering_hints.size_in_mbs,
            b.buffering_hints.interval_in_seconds
        ),
        (1, 4)
    );
    let ext = &t.kept["Destinations"][0]["ExtendedS3DestinationDescription"];
    assert_eq!(
        ext["CloudWatchLoggingOptions"]["LogGroupName"],
        "/aws/kinesisfirehose/s"
    );
    assert_eq!(
        ext["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"],
        "arn:aws:kms:eu-west-1:123456789012:key/k1"
    );
    assert_eq!(ext["CustomTimeZone"], "UTC");
    assert!(
        ext.get("Prefix").is_none() && ext.get("BufferingHints").is_none(),
        "{ext:#}"
    );
    let legacy = &t.kept["Destinations"][0]["S3DestinationDescription"];
    assert!(
        legacy.get("CustomTimeZone").is_none(),
        "pruned to the legacy shape: {legacy:#}"
    );
}

#[test]
fn the_description_materialises_firehose_s_defaults() {
    let t = create(&ext_s3(json!({"Prefix": "p/"})), &store());
    let d = described(&t, "s", &store());
    assert_eq!(
        d["DeliveryStreamARN"],
        "arn:aws:firehose:eu-west-1:123456789012:deliverystream/s"
    );
    assert_eq!(d["DeliveryStreamType"], "DirectPut");
    assert_eq!(
        d["DeliveryStreamEncryptionConfiguration"],
        json!({"Status": "DISABLED"})
    );
    assert_eq!(d["Source"], json!({"DirectPutSourceDescription": {}}));
    assert_eq!(d["HasMoreDestinations"], false);
    assert_eq!(
        d["Destinations"][0]["DestinationId"],
        "destinationId-000000000001"
    );
    let ext = destination(&d, "ExtendedS3DestinationDescription");
    assert_eq!(
        *ext,
        json!({
            "RoleARN": ROLE,
            "BucketARN": "arn:aws:s3:::events",
            "Prefix": "p/",
            "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
            "CompressionFormat": "UNCOMPRESSED",
            "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
            "CloudWatchLoggingOptions": {"Enabled": false},
            "S3BackupMode": "Disabled",
            "ProcessingConfiguration": {"Enabled": false, "Processors": []},
        })
    );
    let legacy = destination(&d, "S3DestinationDescription");
    assert_eq!(legacy["BucketARN"], "arn:aws:s3:::events");
    assert!(legacy.get("S3BackupMode").is_none());
}

#[test]
fn the_legacy_s3_configuration_is_the_same_destination() {
    let input = request(
        json!({"S3DestinationConfiguration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::events", "Prefix": "x/"}}),
    );
    let legacy = create(&input, &store());
    let extended = create(&ext_s3(json!({"Prefix": "x/"})), &store());
    assert_eq!(legacy.spec, extended.spec);
    assert_eq!(legacy.kept, extended.kept);
}

#[test]
fn without_a_store_the_primary_bucket_is_a_directory_and_other_buckets_are_refused() {
    let t = create(&ext_s3(json!({})), &laptop());
    let Destination::Local(local) = &t.spec.destination else {
        panic!()
    };
    assert_eq!(local.directory, "/data/events");
    let d = described(&t, "s", &laptop());
    assert_eq!(
        destination(&d, "ExtendedS3DestinationDescription")["BucketARN"],
        "arn:aws:s3:::events"
    );

    let backup = ext_s3(json!({"S3BackupMode": "Enabled", "S3BackupConfiguration": bucket("raw")}));
    assert_eq!(
        refused(&backup, &laptop()),
        "ExtendedS3DestinationConfiguration.S3BackupConfiguration.BucketARN: this installation has no S3 store (records are written to a local directory), so only the primary S3 destination can be used; an S3 store must be configured for ExtendedS3DestinationConfiguration.S3BackupConfiguration.BucketARN"
    );
    let splunk = request(json!({"SplunkDestinationConfiguration": {
        "HECEndpoint": "https://hec:8088", "HECEndpointType": "Raw", "HECToken": "t", "S3Configuration": bucket("failed")}}));
    assert!(refused(&splunk, &laptop()).contains("an S3 store must be configured for SplunkDestinationConfiguration.S3Configuration.BucketARN"));
}

#[test]
fn model_constraints_are_enforced_with_the_member_path() {
    let env = store();
    let at = |extra| refused(&ext_s3(extra), &env);
    assert_eq!(
        at(json!({"BufferingHints": {"SizeInMBs": 129}})),
        "1 validation error detected: Value '129' at 'ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128"
    );
    assert_eq!(
        at(json!({"BufferingHints": {"IntervalInSeconds": 901}})),
        "1 validation error detected: Value '901' at 'ExtendedS3DestinationConfiguration.BufferingHints.IntervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"
    );
    assert_eq!(
        at(json!({"CompressionFormat": "LZO"})),
        "1 validation error detected: Value 'LZO' at 'ExtendedS3DestinationConfiguration.CompressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]"
    );
    assert!(at(json!({"BucketARN": "events"})).contains("at 'ExtendedS3DestinationConfiguration.BucketARN' failed to satisfy constraint: Member must satisfy regular expression pattern"));
    assert!(
        at(json!({"Prefix": "x".repeat(1025)}))
            .ends_with("Member must have length less than or equal to 1024")
    );
    assert!(
        at(json!({"FileExtension": "gz"}))
            .contains("at 'ExtendedS3DestinationConfiguration.FileExtension'")
    );
    assert_eq!(
        at(json!({"Bogus": 1})),
        "Unknown member ExtendedS3DestinationConfiguration.Bogus: ExtendedS3DestinationConfiguration has no member named Bogus"
    );
    let no_bucket = request(json!({"ExtendedS3DestinationConfiguration": {"RoleARN": ROLE}}));
    assert_eq!(
        refused(&no_bucket, &env),
        "1 validation error detected: Value 'null' at 'ExtendedS3DestinationConfiguration.BucketARN' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn what_hydrant_cannot_do_is_refused_by_name() {
    let env = store();
    assert_eq!(
        refused(&ext_s3(json!({"CustomTimeZone": "Asia/Tokyo"})), &env),
        "ExtendedS3DestinationConfiguration.CustomTimeZone Asia/Tokyo is not supported by Hydrant: object keys and prefixes use UTC; leave CustomTimeZone out or give UTC"
    );
    let glue = json!({"DataFormatConversionConfiguration": {
        "SchemaConfiguration": {"DatabaseName": "db", "TableName": "t", "RoleARN": ROLE},
        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}});
    assert!(refused(&ext_s3(glue), &env).starts_with(
        "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration is not supported by Hydrant: Hydrant cannot read a table's columns from the AWS Glue Data Catalog"
    ));
    // Disabled, it is only reported.
    let off = create(
        &ext_s3(
            json!({"DataFormatConversionConfiguration": {"Enabled": false, "SchemaConfiguration": {"TableName": "t"}}}),
        ),
        &env,
    );
    assert_eq!(
        off.kept["Destinations"][0]["ExtendedS3DestinationDescription"]["DataFormatConversionConfiguration"]
            ["SchemaConfiguration"]["TableName"],
        "t"
    );
    assert_eq!(
        refused(&ext_s3(json!({"S3BackupMode": "Enabled"})), &env),
        "ExtendedS3DestinationConfiguration.S3BackupConfiguration is required when S3BackupMode is Enabled"
    );
}

#[test]
fn the_spec_s_own_rules_are_reported_against_the_api_member() {
    let input = ext_s3(json!({"ErrorOutputPrefix": "errors/!{timestamp:yyyy}/"}));
    let message = refused(&input, &store());
    assert!(
        message.starts_with("ExtendedS3DestinationConfiguration.ErrorOutputPrefix: "),
        "{message}"
    );
}

#[test]
fn processors_take_their_own_parameters_only() {
    let with = |processors| {
        ext_s3(json!({"ProcessingConfiguration": {"Enabled": true, "Processors": processors}}))
    };
    let lambda = |arn: &str| {
        json!([{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": arn},
        {"ParameterName": "NumberOfRetries", "ParameterValue": "5"},
        {"ParameterName": "RoleArn", "ParameterValue": ROLE},
        {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.5"},
        {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "120"}]}])
    };
    let t = create(
        &with(lambda(
            "arn:aws:lambda:eu-west-1:123456789012:function:enrich:3",
        )),
        &store(),
    );
    let p = &t.spec.destination.processing().processors[0];
    let l = p.lambda.as_ref().unwrap();
    assert_eq!(
        l.url,
        "http://lambda:9001/2015-03-31/functions/enrich/invocations?Qualifier=3"
    );
    assert_eq!(
        (
            l.number_of_retries,
            l.buffer_size_in_mbs,
            l.buffer_interval_in_seconds
        ),
        (5, 0.5, 120)
    );
    assert_eq!(
        refused(
            &with(lambda(
                "arn:aws:lambda:eu-west-1:123456789012:function:enrich"
            )),
            &laptop()
        ),
        "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Parameters[0].ParameterValue: Lambda function ARNs cannot be resolved here: configure the Lambda endpoint Hydrant maps function ARNs to, or give the transformation's http(s):// URL as the LambdaArn"
    );
    let t = create(&with(lambda("http://transform:8080/")), &laptop());
    assert_eq!(
        t.spec.destination.processing().processors[0]
            .lambda
            .as_ref()
            .unwrap()
            .url,
        "http://transform:8080/"
    );

    let t = create(
        &with(json!([
            {"Type": "RecordDeAggregation", "Parameters": [{"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"}, {"ParameterName": "Delimiter", "ParameterValue": "IyMjIw=="}]},
            {"Type": "Decompression", "Parameters": [{"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}]},
            {"Type": "CloudWatchLogProcessing", "Parameters": [{"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}]},
        ])),
        &store(),
    );
    let ps = &t.spec.destination.processing().processors;
    assert_eq!(
        ps[0]
            .record_de_aggregation
            .as_ref()
            .unwrap()
            .sub_record_type,
        SubRecordType::Delimited
    );
    assert!(ps[1].decompression.is_some());
    assert!(
        ps[2]
            .cloud_watch_log_processing
            .unwrap()
            .data_message_extraction
    );

    assert_eq!(
        refused(
            &with(
                json!([{"Type": "Decompression", "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "x"}]}])
            ),
            &store()
        ),
        "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Parameters[0].ParameterName: Delimiter is not a parameter of a Decompression processor (it takes CompressionFormat)"
    );
    assert_eq!(
        refused(
            &with(json!([{"Type": "Lambda", "Parameters": []}])),
            &store()
        ),
        "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Parameters: a Lambda processor needs the parameter LambdaArn"
    );
    assert_eq!(
        refused(
            &with(
                json!([{"Type": "Decompression", "Parameters": [{"ParameterName": "CompressionFormat", "ParameterValue": "ZSTD"}]}])
            ),
            &store()
        ),
        "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Parameters[0].ParameterValue: `ZSTD` is not valid here; expected GZIP"
    );
    assert!(
        refused(&with(json!([{"Type": "Sorting"}])), &store()).contains(
            "at 'ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors[0].Type'"
        )
    );
    assert!(refused(&with(json!([{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": "http://x/"}, {"ParameterName": "NumberOfRetries", "ParameterValue": "301"}]}])), &store()).ends_with("`301` is not valid here; expected an integer from 0 to 300"));
}
