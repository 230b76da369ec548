//! The `DeliveryStreamDescription` DescribeDeliveryStream answers, with defaults materialised the
//! way Firehose reports them.

use std::time::SystemTime;

use crds::{DeliveryStreamSpec, Destination};
use serde_json::{Value, json};

use super::StreamIdentity;

/// Firehose's id of a stream's single destination.
pub const DESTINATION_ID: &str = "destinationId-000000000001";

pub fn description(
    identity: &StreamIdentity,
    spec: &DeliveryStreamSpec,
    created: SystemTime,
) -> Value {
    let created = created
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let bucket_arn = match &spec.destination {
        Destination::S3(s3) => format!("arn:aws:s3:::{}", s3.bucket),
        // The local directory has no bucket; a stable placeholder keeps ARN parsers working.
        Destination::Local(_) => "arn:aws:s3:::hydrant-local".to_owned(),
    };
    let d = spec.destination.delivery();
    let mut s3 = json!({
        "RoleARN": format!("arn:aws:iam::{}:role/hydrant", identity.account),
        "BucketARN": bucket_arn,
        "BufferingHints": {
            "SizeInMBs": d.buffering_hints.size_in_mbs,
            "IntervalInSeconds": d.buffering_hints.interval_in_seconds,
        },
        "CompressionFormat": d.compression_format.as_firehose(),
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "CloudWatchLoggingOptions": {"Enabled": false},
    });
    if let Some(prefix) = &d.prefix {
        s3["Prefix"] = json!(prefix);
    }
    if let Some(prefix) = &d.error_output_prefix {
        s3["ErrorOutputPrefix"] = json!(prefix);
    }
    let mut extended = s3.clone();
    extended["S3BackupMode"] = json!("Disabled");
    extended["ProcessingConfiguration"] = json!({
        "Enabled": d.processing_configuration.enabled,
        "Processors": d.processing_configuration.processors.iter().map(|p| json!({
            "Type": p.r#type,
            "Parameters": [],
        })).collect::<Vec<_>>(),
    });
    if let Some(ext) = &d.file_extension {
        extended["FileExtension"] = json!(ext);
    }
    json!({
        "DeliveryStreamName": identity.name,
        "DeliveryStreamARN": identity.arn(),
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
        "DeliveryStreamType": "DirectPut",
        "VersionId": identity.version_id,
        "CreateTimestamp": created,
        "Source": {"DirectPutSourceDescription": {}},
        "Destinations": [{
            "DestinationId": DESTINATION_ID,
            "ExtendedS3DestinationDescription": extended,
            "S3DestinationDescription": s3,
        }],
        "HasMoreDestinations": false,
    })
}
