//! The round-trip property: `from_description(describe(from_create(x)))` is `from_create(x)`
//! (secrets aside), and `describe` is a fixed point of that loop.

use crds::firehose::{Environment, from_description};
use serde_json::{Value, json};

use crate::destinations::{http, opensearch, redshift, splunk};
use crate::s3::full_extended;
use crate::sources::{kinesis, msk};
use crate::support::*;

/// Requests that together use every member Hydrant translates, in each environment.
pub fn cases() -> Vec<(&'static str, Environment, Value)> {
    let lambda = |arn: &str| {
        json!({"Enabled": true, "Processors": [
        {"Type": "Lambda", "Parameters": [
            {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "90"},
            {"ParameterName": "LambdaArn", "ParameterValue": arn}]},
        {"Type": "RecordDeAggregation", "Parameters": [{"ParameterName": "SubRecordType", "ParameterValue": "JSON"}]},
        {"Type": "Decompression"},
        {"Type": "CloudWatchLogProcessing", "Parameters": [{"ParameterName": "DataMessageExtraction", "ParameterValue": "false"}]},
        {"Type": "AppendDelimiterToRecord"}]})
    };
    let mut encrypted = ext_s3(json!({}));
    encrypted["DeliveryStreamEncryptionConfigurationInput"] = json!({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": "arn:aws:kms:eu-west-1:123456789012:key/k-1"});
    let mut throughput = ext_s3(json!({}));
    throughput["DirectPutSourceConfiguration"] = json!({"ThroughputHintInMBs": 3});
    let mut owned = ext_s3(json!({}));
    owned["DeliveryStreamEncryptionConfigurationInput"] = json!({"KeyType": "AWS_OWNED_CMK"});
    vec![
        ("minimal s3", store(), ext_s3(json!({}))),
        (
            "default role",
            store(),
            request(
                json!({"ExtendedS3DestinationConfiguration": {"RoleARN": "arn:aws:iam::123456789012:role/hydrant", "BucketARN": "arn:aws:s3:::b12"}}),
            ),
        ),
        ("full s3", store(), full_extended()),
        (
            "legacy s3",
            store(),
            request(
                json!({"S3DestinationConfiguration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::events", "CompressionFormat": "Snappy", "CloudWatchLoggingOptions": {"Enabled": true}}}),
            ),
        ),
        (
            "lambda arn",
            store(),
            ext_s3(
                json!({"ProcessingConfiguration": lambda("arn:aws:lambda:eu-west-1:123456789012:function:f:live")}),
            ),
        ),
        (
            "laptop",
            laptop(),
            ext_s3(json!({"Prefix": "p/", "ProcessingConfiguration": lambda("http://t:8080/")})),
        ),
        (
            "disabled conversion",
            store(),
            ext_s3(
                json!({"DataFormatConversionConfiguration": {"Enabled": false, "SchemaConfiguration": {"TableName": "t", "DatabaseName": "d"}, "OutputFormatConfiguration": {"Serializer": {"OrcSerDe": {}}}}}),
            ),
        ),
        (
            "backup configured but disabled",
            store(),
            ext_s3(json!({"S3BackupMode": "Disabled", "S3BackupConfiguration": bucket("raw")})),
        ),
        (
            "opensearch domain",
            store(),
            opensearch(
                "AmazonopensearchserviceDestinationConfiguration",
                json!({"DomainARN": "arn:aws:es:eu-west-1:123456789012:domain/logs", "TypeName": "", "VpcConfiguration": {"SubnetIds": ["s"], "RoleARN": ROLE, "SecurityGroupIds": ["g"]}}),
            ),
        ),
        (
            "elasticsearch",
            store(),
            opensearch(
                "ElasticsearchDestinationConfiguration",
                json!({"ClusterEndpoint": "https://es:9200", "TypeName": "doc", "IndexRotationPeriod": "NoRotation", "S3BackupMode": "AllDocuments"}),
            ),
        ),
        (
            "splunk",
            store(),
            splunk(
                json!({"S3BackupMode": "AllEvents", "RetryOptions": {"DurationInSeconds": 10}, "CloudWatchLoggingOptions": {"Enabled": true, "LogGroupName": "g", "LogStreamName": "s"}}),
            ),
        ),
        (
            "splunk by reference",
            cluster(),
            splunk(
                json!({"HECToken": "secret:s-hec-token", "SecretsManagerConfiguration": {"Enabled": false}}),
            ),
        ),
        (
            "http",
            store(),
            http(
                json!({"RequestConfiguration": {"ContentEncoding": "GZIP", "CommonAttributes": [{"AttributeName": "a", "AttributeValue": ""}]}, "RoleARN": ROLE, "BufferingHints": {"SizeInMBs": 2}}),
            ),
        ),
        ("redshift", store(), redshift("loader", "password1")),
        (
            "redshift by reference",
            cluster(),
            redshift("secret:rs", "secret:rs"),
        ),
        ("kinesis source", store(), kinesis()),
        (
            "msk source",
            store(),
            msk(json!({"ReadFromTimestamp": 1_700_000_000})),
        ),
        ("encrypted", store(), encrypted),
        ("aws owned key", store(), owned),
        ("throughput hint", store(), throughput),
    ]
}

#[test]
fn descriptions_translate_back_to_the_same_spec_and_kept() {
    for (name, env, input) in cases() {
        let created = create(&input, &env);
        let d1 = described(&created, "s", &env);
        let back = from_description(&d1, &env).unwrap_or_else(|e| panic!("{name}: {e}\n{d1:#}"));
        assert_eq!(back.spec, created.spec, "{name}: spec\n{d1:#}");
        assert_eq!(back.kept, created.kept, "{name}: kept\n{d1:#}");
        assert!(back.secrets.is_empty(), "{name}");
        let d2 = described(&back, "s", &env);
        assert_eq!(d2, d1, "{name}: describe is a fixed point");
    }
}

#[test]
fn what_the_spec_represents_is_not_kept() {
    // Requests giving only members the spec holds (and the default role) keep nothing.
    let role = "arn:aws:iam::123456789012:role/hydrant";
    let plain = request(json!({"ExtendedS3DestinationConfiguration": {
        "RoleARN": role, "BucketARN": "arn:aws:s3:::b12", "Prefix": "p/", "ErrorOutputPrefix": "e/",
        "BufferingHints": {"SizeInMBs": 7, "IntervalInSeconds": 70}, "CompressionFormat": "GZIP", "FileExtension": ".gz",
    }}));
    assert_eq!(create(&plain, &store()).kept, json!({}));
    let mut k = kinesis();
    k["KinesisStreamSourceConfiguration"]["RoleARN"] = json!(role);
    k["ExtendedS3DestinationConfiguration"]["RoleARN"] = json!(role);
    assert_eq!(create(&k, &store()).kept, json!({}));
}

#[test]
fn a_reference_secret_outside_the_convention_cannot_be_recovered_from_a_description() {
    // Descriptions never carry a Splunk token, so its Secret's name is the inline convention's.
    let created = create(&splunk(json!({"HECToken": "secret:hec"})), &cluster());
    let back = from_description(&described(&created, "s", &cluster()), &cluster()).unwrap();
    let crds::Destination::Splunk(sp) = &back.spec.destination else {
        panic!()
    };
    assert_eq!(sp.hec_token_secret, "s-hec-token");
}

#[test]
fn an_http_endpoint_is_assumed_to_have_an_access_key_when_read_back() {
    // AccessKey has no member in the description: from_description cannot tell it was absent.
    let mut input = http(json!({}));
    input["HttpEndpointDestinationConfiguration"]["EndpointConfiguration"] =
        json!({"Url": "https://collector/in"});
    let created = create(&input, &store());
    let back = from_description(&described(&created, "s", &store()), &store()).unwrap();
    let crds::Destination::HttpEndpoint(h) = &back.spec.destination else {
        panic!()
    };
    assert_eq!(
        h.endpoint_configuration.access_key_secret.as_deref(),
        Some("s-access-key")
    );
}
