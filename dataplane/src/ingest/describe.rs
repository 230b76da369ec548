//! The `DeliveryStreamDescription` DescribeDeliveryStream answers, with defaults materialised the
//! way Firehose reports them.

use std::time::SystemTime;

use crds::{DeliveryStreamSpec, Destination, ObjectDelivery, Source};
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
    let destination = match &spec.destination {
        Destination::S3(s3) => {
            let mut v = object_description(identity, &s3.location.bucket, &s3.delivery, true);
            if let Some(b) = &s3.s3_backup_configuration
                && s3.s3_backup_mode == crds::SourceBackupMode::Enabled
            {
                let mut backup = b.as_s3();
                backup.delivery.buffering_hints = b.buffering_hints;
                let ext = &mut v["ExtendedS3DestinationDescription"];
                ext["S3BackupMode"] = json!("Enabled");
                ext["S3BackupDescription"] =
                    object_description(identity, &backup.location.bucket, &backup.delivery, false);
            }
            v
        }
        // The local directory has no bucket; a stable placeholder keeps ARN parsers working.
        Destination::Local(local) => {
            object_description(identity, "hydrant-local", &local.delivery, true)
        }
        other => other_description(identity, other),
    };
    json!({
        "DeliveryStreamName": identity.name,
        "DeliveryStreamARN": identity.arn(),
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
        "DeliveryStreamType": spec.source.delivery_stream_type(),
        "VersionId": identity.version_id,
        "CreateTimestamp": created,
        "Source": source_description(identity, &spec.source, created),
        "Destinations": [destination],
        "HasMoreDestinations": false,
    })
}

/// The `Source` member: where the stream's records come from.
fn source_description(identity: &StreamIdentity, source: &Source, started: f64) -> Value {
    let role = format!("arn:aws:iam::{}:role/hydrant", identity.account);
    match source {
        Source::DirectPut(_) => json!({"DirectPutSourceDescription": {}}),
        Source::KinesisStream(k) => {
            let arn = k.stream_arn.clone().unwrap_or_else(|| {
                format!(
                    "arn:aws:kinesis:{}:{}:stream/{}",
                    k.signing_region(),
                    identity.account,
                    k.name().unwrap_or_default()
                )
            });
            json!({"KinesisStreamSourceDescription": {
                "KinesisStreamARN": arn,
                "RoleARN": role,
                "DeliveryStartTimestamp": started,
            }})
        }
        Source::Kafka(k) => {
            // A Kafka cluster has no ARN: the bootstrap servers name it.
            let cluster = k.bootstrap_servers.replace([',', ':'], "_");
            let mut msk = json!({
                "MSKClusterARN": format!(
                    "arn:aws:kafka:{}:{}:cluster/hydrant/{cluster}",
                    identity.region, identity.account
                ),
                "TopicName": k.topic,
                "AuthenticationConfiguration": {"RoleARN": role, "Connectivity": "PRIVATE"},
                "DeliveryStartTimestamp": started,
            });
            if let Some(t) = k
                .read_from_timestamp
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            {
                msk["ReadFromTimestamp"] = json!(t.timestamp_millis() as f64 / 1000.0);
            }
            json!({"MSKSourceDescription": msk})
        }
    }
}

/// `ExtendedS3DestinationDescription` and `S3DestinationDescription` of an object destination;
/// with `extended` false only the plain S3 description (a backup bucket's).
fn object_description(
    identity: &StreamIdentity,
    bucket: &str,
    d: &ObjectDelivery,
    extended: bool,
) -> Value {
    let mut s3 = json!({
        "RoleARN": format!("arn:aws:iam::{}:role/hydrant", identity.account),
        "BucketARN": format!("arn:aws:s3:::{bucket}"),
        "BufferingHints": hints(d.buffering_hints),
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
    if !extended {
        return s3;
    }
    let mut ext = s3.clone();
    ext["S3BackupMode"] = json!("Disabled");
    ext["ProcessingConfiguration"] = processing(&d.processing_configuration);
    if let Some(e) = &d.file_extension {
        ext["FileExtension"] = json!(e);
    }
    json!({
        "DestinationId": DESTINATION_ID,
        "ExtendedS3DestinationDescription": ext,
        "S3DestinationDescription": s3,
    })
}

fn hints(h: crds::BufferingHints) -> Value {
    json!({"SizeInMBs": h.size_in_mbs, "IntervalInSeconds": h.interval_in_seconds})
}

fn processing(p: &crds::ProcessingConfiguration) -> Value {
    json!({
        "Enabled": p.enabled,
        "Processors": p.processors.iter().map(|p| json!({
            "Type": p.r#type,
            "Parameters": parameters(p)
                .into_iter()
                .map(|(name, value)| json!({"ParameterName": name, "ParameterValue": value}))
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// A processor's typed fields as Firehose's name/value parameters.
fn parameters(p: &crds::Processor) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(l) = &p.lambda {
        out.push(("LambdaArn", l.url.clone()));
        out.push(("NumberOfRetries", l.number_of_retries.to_string()));
        out.push(("BufferSizeInMBs", l.buffer_size_in_mbs.to_string()));
        out.push((
            "BufferIntervalInSeconds",
            l.buffer_interval_in_seconds.to_string(),
        ));
    }
    if let Some(d) = &p.record_de_aggregation {
        let kind = match d.sub_record_type {
            crds::SubRecordType::Json => "JSON",
            crds::SubRecordType::Delimited => "DELIMITED",
            crds::SubRecordType::Kpl => "KPL",
        };
        out.push(("SubRecordType", kind.to_owned()));
        if let Some(delim) = &d.delimiter {
            out.push(("Delimiter", delim.clone()));
        }
    }
    if p.decompression.is_some() {
        out.push(("CompressionFormat", "GZIP".to_owned()));
    }
    if let Some(c) = &p.cloud_watch_log_processing {
        out.push((
            "DataMessageExtraction",
            c.data_message_extraction.to_string(),
        ));
    }
    if let Some(m) = &p.metadata_extraction {
        out.push(("MetadataExtractionQuery", m.query.clone()));
        out.push(("JsonParsingEngine", m.json_parsing_engine.clone()));
    }
    out
}

/// The description of a non-object destination, in Firehose's shape for it.
fn other_description(identity: &StreamIdentity, d: &Destination) -> Value {
    let s3 = d
        .s3_configuration()
        .map(|s3| object_description(identity, &s3.location.bucket, &s3.delivery, false))
        .unwrap_or(Value::Null);
    let Some(own) = own_fields(d) else {
        return json!({"DestinationId": DESTINATION_ID, "S3DestinationDescription": s3});
    };
    let mut body = own.fields;
    body["RoleARN"] = json!(format!("arn:aws:iam::{}:role/hydrant", identity.account));
    body["BufferingHints"] = hints(d.buffering_hints());
    body["RetryOptions"] = json!({"DurationInSeconds": own.retry_seconds});
    body["S3BackupMode"] = own.backup_mode;
    body["S3DestinationDescription"] = s3;
    body["ProcessingConfiguration"] = processing(d.processing());
    body["CloudWatchLoggingOptions"] = json!({"Enabled": false});
    json!({"DestinationId": DESTINATION_ID, own.key: body})
}

/// A non-object destination's own part of its description.
struct OwnFields {
    /// The description's property name (`SplunkDestinationDescription`, ...).
    key: &'static str,
    fields: Value,
    retry_seconds: i32,
    backup_mode: Value,
}

fn own_fields(d: &Destination) -> Option<OwnFields> {
    let own = |key, fields, retry: &crds::RetryOptions, backup_mode| OwnFields {
        key,
        fields,
        retry_seconds: retry.duration_in_seconds,
        backup_mode,
    };
    Some(match d {
        Destination::OpenSearch(os) => own(
            "AmazonopensearchserviceDestinationDescription",
            json!({
                "ClusterEndpoint": os.endpoint,
                "IndexName": os.index_name,
                "TypeName": os.type_name,
                "IndexRotationPeriod": os.index_rotation_period,
                "DocumentIdOptions": {"DefaultDocumentIdFormat": os.document_id_options.default_document_id_format},
            }),
            &os.retry_options,
            json!(os.s3_backup_mode),
        ),
        Destination::Splunk(sp) => own(
            "SplunkDestinationDescription",
            json!({
                "HECEndpoint": sp.hec_endpoint,
                "HECEndpointType": sp.hec_endpoint_type,
                "HECAcknowledgmentTimeoutInSeconds": sp.hec_acknowledgment_timeout_in_seconds,
            }),
            &sp.retry_options,
            json!(sp.s3_backup_mode),
        ),
        Destination::HttpEndpoint(h) => own(
            "HttpEndpointDestinationDescription",
            json!({
                "EndpointConfiguration": {
                    "Url": h.endpoint_configuration.url,
                    "Name": h.endpoint_configuration.name,
                },
                "RequestConfiguration": {
                    "ContentEncoding": h.request_configuration.content_encoding,
                    "CommonAttributes": h.request_configuration.common_attributes.iter().map(|a| json!({
                        "AttributeName": a.attribute_name,
                        "AttributeValue": a.attribute_value,
                    })).collect::<Vec<_>>(),
                },
            }),
            &h.retry_options,
            json!(h.s3_backup_mode),
        ),
        Destination::Redshift(r) => own(
            "RedshiftDestinationDescription",
            json!({
                "ClusterJDBCURL": r.cluster_jdbc_url,
                "CopyCommand": {
                    "DataTableName": r.copy_command.data_table_name,
                    "DataTableColumns": r.copy_command.data_table_columns,
                    "CopyOptions": r.copy_command.copy_options,
                },
            }),
            &r.retry_options,
            json!("Disabled"),
        ),
        // Not a Firehose destination: described in the same style.
        Destination::Postgresql(pg) => own(
            "PostgresqlDestinationDescription",
            json!({
                "Table": pg.table,
                "Columns": pg.columns,
                "Format": pg.format,
            }),
            &pg.retry_options,
            json!(pg.s3_backup_mode),
        ),
        Destination::S3(_) | Destination::Local(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(destination: &str) -> Value {
        let yaml = format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\nspec:\n  destination:\n{destination}"
        );
        let stream = crds::manifest::parse_manifest(&yaml).expect("manifest");
        let identity = StreamIdentity {
            name: "s".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            version_id: "2".into(),
        };
        description(&identity, &stream.spec, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn other_destinations_are_described_in_firehose_shapes() {
        let d = describe(
            "    httpEndpoint:\n      endpointConfiguration: {url: \"https://c.example/in\", name: c}\n      s3BackupMode: AllData\n      s3Configuration: {bucket: failed, prefix: p/}\n",
        );
        let h = &d["Destinations"][0]["HttpEndpointDestinationDescription"];
        assert_eq!(h["EndpointConfiguration"]["Url"], "https://c.example/in");
        assert_eq!(h["RetryOptions"]["DurationInSeconds"], 300);
        assert_eq!(h["BufferingHints"]["SizeInMBs"], 5);
        assert_eq!(h["S3BackupMode"], "AllData");
        assert_eq!(
            h["S3DestinationDescription"]["BucketARN"],
            "arn:aws:s3:::failed"
        );
        assert_eq!(d["Destinations"][0]["DestinationId"], DESTINATION_ID);

        let d = describe(
            "    splunk:\n      hecEndpoint: https://hec:8088\n      hecEndpointType: Raw\n      hecTokenSecret: t\n      s3Configuration: {bucket: failed}\n",
        );
        let s = &d["Destinations"][0]["SplunkDestinationDescription"];
        assert_eq!(s["HECEndpointType"], "Raw");
        assert_eq!(s["HECAcknowledgmentTimeoutInSeconds"], 180);
        assert_eq!(s["BufferingHints"]["IntervalInSeconds"], 60);
        assert_eq!(s["S3BackupMode"], "FailedEventsOnly");
    }

    #[test]
    fn processors_are_described_as_firehose_parameters() {
        let d = describe(
            "    local:\n      processingConfiguration:\n        enabled: true\n        processors:\n        - type: Lambda\n          lambda: {url: \"http://t:8080/\"}\n",
        );
        let p =
            &d["Destinations"][0]["ExtendedS3DestinationDescription"]["ProcessingConfiguration"];
        assert_eq!(p["Enabled"], true);
        assert_eq!(p["Processors"][0]["Type"], "Lambda");
        assert_eq!(
            p["Processors"][0]["Parameters"][0],
            json!({"ParameterName": "LambdaArn", "ParameterValue": "http://t:8080/"})
        );
        assert_eq!(
            p["Processors"][0]["Parameters"][1],
            json!({"ParameterName": "NumberOfRetries", "ParameterValue": "3"})
        );
    }
}
