//! S3: `ExtendedS3DestinationConfiguration` (and the legacy `S3DestinationConfiguration`) as the
//! `s3` or, without an object store, `local` destination; `S3Configuration` of the other
//! destinations; and their descriptions.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Environment, Fault, S3Target, arn, json, processing};
use crate::{
    BackupBucket, BufferingHints, CompressionFormat, DataFormatConversionConfiguration,
    Deserializer, Destination, DynamicPartitioningConfiguration, LocalDestination, ObjectDelivery,
    RetryOptions, S3Destination, SourceBackupMode,
};

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Hints {
    #[serde(rename = "SizeInMBs")]
    size_in_mbs: Option<i32>,
    interval_in_seconds: Option<i32>,
}

impl Hints {
    pub(crate) fn or(hints: Option<Hints>, default: BufferingHints) -> BufferingHints {
        let h = hints.unwrap_or(Hints {
            size_in_mbs: None,
            interval_in_seconds: None,
        });
        BufferingHints {
            size_in_mbs: h.size_in_mbs.unwrap_or(default.size_in_mbs),
            interval_in_seconds: h.interval_in_seconds.unwrap_or(default.interval_in_seconds),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Retry {
    duration_in_seconds: Option<i32>,
}

impl Retry {
    pub(crate) fn or(retry: Option<Retry>, default: RetryOptions) -> RetryOptions {
        retry
            .and_then(|r| r.duration_in_seconds)
            .map(RetryOptions::seconds)
            .unwrap_or(default)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3Config {
    #[serde(rename = "BucketARN")]
    bucket_arn: String,
    prefix: Option<String>,
    error_output_prefix: Option<String>,
    buffering_hints: Option<Hints>,
    compression_format: Option<CompressionFormat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExtendedConfig {
    #[serde(flatten)]
    common: S3Config,
    processing_configuration: Option<Value>,
    s3_backup_mode: Option<SourceBackupMode>,
    s3_backup_configuration: Option<Value>,
    data_format_conversion_configuration: Option<Value>,
    dynamic_partitioning_configuration: Option<Partitioning>,
    file_extension: Option<String>,
    custom_time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Partitioning {
    enabled: Option<bool>,
    retry_options: Option<Retry>,
}

/// The primary S3 destination (`member` is the extended or the legacy configuration).
pub(crate) fn primary(
    value: &Value,
    env: &Environment,
    member: &str,
) -> Result<Destination, Fault> {
    let c: ExtendedConfig = json::typed(value, member)?;
    if let Some(zone) = c.custom_time_zone.as_deref()
        && !matches!(zone, "" | "UTC")
    {
        return Err(Fault::unsupported(
            &format!("{member}.CustomTimeZone {zone}"),
            "object keys and prefixes use UTC; leave CustomTimeZone out or give UTC",
        ));
    }
    if c.data_format_conversion_configuration
        .as_ref()
        .is_some_and(|d| d.get("Enabled").and_then(Value::as_bool) != Some(false))
    {
        return Err(Fault::unsupported(
            &format!("{member}.DataFormatConversionConfiguration"),
            "Hydrant cannot read a table's columns from the AWS Glue Data Catalog, and the API has no member for them; convert records to Parquet with a DeliveryStream manifest, whose schemaConfiguration lists the columns",
        ));
    }
    let mut delivery = delivery(&c.common)?;
    delivery.file_extension = c.file_extension;
    delivery.processing_configuration = processing::parse(
        c.processing_configuration.as_ref(),
        env,
        &format!("{member}.ProcessingConfiguration"),
    )?;
    if let Some(p) = c.dynamic_partitioning_configuration {
        delivery.dynamic_partitioning_configuration = DynamicPartitioningConfiguration {
            enabled: p.enabled.unwrap_or(false),
            retry_options: Retry::or(p.retry_options, RetryOptions::default_300()),
            ..DynamicPartitioningConfiguration::default()
        };
    }
    let mode = c.s3_backup_mode.unwrap_or_default();
    let backup = match (&c.s3_backup_configuration, mode) {
        (Some(b), SourceBackupMode::Enabled) => Some(Box::new(backup(
            b,
            env,
            &format!("{member}.S3BackupConfiguration"),
        )?)),
        (None, SourceBackupMode::Enabled) => {
            return Err(Fault::invalid(format!(
                "{member}.S3BackupConfiguration is required when S3BackupMode is Enabled"
            )));
        }
        // A backup bucket with backup disabled has no effect: it is only reported.
        (_, SourceBackupMode::Disabled) => None,
    };
    let path = format!("{member}.BucketARN");
    match &env.s3 {
        S3Target::Directory { root } => {
            let bucket = arn::bucket_name(&c.common.bucket_arn, &path)?;
            Ok(Destination::Local(LocalDestination {
                directory: format!("{}/{bucket}", root.trim_end_matches('/')),
                delivery,
            }))
        }
        S3Target::Store { .. } => Ok(Destination::S3(S3Destination {
            location: arn::store_bucket(env, &c.common.bucket_arn, &path)?,
            delivery,
            s3_backup_mode: mode,
            s3_backup_configuration: backup,
        })),
    }
}

fn delivery(c: &S3Config) -> Result<ObjectDelivery, Fault> {
    Ok(ObjectDelivery {
        prefix: c.prefix.clone(),
        error_output_prefix: c.error_output_prefix.clone(),
        buffering_hints: Hints::or(c.buffering_hints, BufferingHints::default()),
        compression_format: c.compression_format.unwrap_or_default(),
        ..ObjectDelivery::default()
    })
}

fn backup(value: &Value, env: &Environment, path: &str) -> Result<BackupBucket, Fault> {
    let c: S3Config = json::typed(value, path)?;
    let d = delivery(&c)?;
    Ok(BackupBucket {
        location: arn::store_bucket(env, &c.bucket_arn, &format!("{path}.BucketARN"))?,
        prefix: d.prefix,
        compression_format: d.compression_format,
        buffering_hints: d.buffering_hints,
    })
}

/// Another destination's `S3Configuration` (failed records, backups, Redshift's staging).
pub(crate) fn bucket(value: &Value, env: &Environment, path: &str) -> Result<S3Destination, Fault> {
    let c: S3Config = json::typed(value, path)?;
    Ok(S3Destination {
        location: arn::store_bucket(env, &c.bucket_arn, &format!("{path}.BucketARN"))?,
        delivery: delivery(&c)?,
        s3_backup_mode: SourceBackupMode::Disabled,
        s3_backup_configuration: None,
    })
}

/// `S3DestinationDescription` of a bucket.
pub(crate) fn render_bucket(env: &Environment, bucket: &str, d: &ObjectDelivery) -> Value {
    let mut s3 = json!({
        "RoleARN": arn::default_role(env),
        "BucketARN": arn::bucket_arn(bucket),
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
    s3
}

/// `{ExtendedS3DestinationDescription, S3DestinationDescription}` of the primary destination.
pub(crate) fn render_primary(env: &Environment, destination: &Destination) -> Value {
    let (bucket, d, backup) = match destination {
        Destination::S3(s3) => (
            s3.location.bucket.clone(),
            &s3.delivery,
            Some((s3.s3_backup_mode, &s3.s3_backup_configuration)),
        ),
        Destination::Local(local) => (local_bucket(env, &local.directory), &local.delivery, None),
        _ => return json!({}),
    };
    let s3 = render_bucket(env, &bucket, d);
    let mut ext = s3.clone();
    ext["ProcessingConfiguration"] = processing::render(&d.processing_configuration);
    ext["S3BackupMode"] = json!("Disabled");
    if let Some((mode, config)) = backup {
        ext["S3BackupMode"] = json!(mode);
        if let Some(b) = config {
            let backup = b.as_s3();
            let mut description = render_bucket(env, &b.location.bucket, &backup.delivery);
            description["BufferingHints"] = hints(b.buffering_hints);
            ext["S3BackupDescription"] = description;
        }
    }
    if d.dynamic_partitioning_configuration.enabled {
        ext["DynamicPartitioningConfiguration"] = json!({
            "Enabled": true,
            "RetryOptions": {"DurationInSeconds": d.dynamic_partitioning_configuration.retry_options.duration_in_seconds},
        });
    }
    if let Some(c) = &d.data_format_conversion_configuration {
        ext["DataFormatConversionConfiguration"] = conversion(c);
    }
    if let Some(e) = &d.file_extension {
        ext["FileExtension"] = json!(e);
    }
    json!({"ExtendedS3DestinationDescription": ext, "S3DestinationDescription": s3})
}

/// The bucket a local directory stands for: its path under the Directory root, else its last
/// component.
fn local_bucket(env: &Environment, directory: &str) -> String {
    let trimmed = directory.trim_end_matches('/');
    if let S3Target::Directory { root } = &env.s3
        && let Some(rest) = trimmed.strip_prefix(&format!("{}/", root.trim_end_matches('/')))
        && !rest.is_empty()
    {
        return rest.to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

pub(crate) fn hints(h: BufferingHints) -> Value {
    json!({"SizeInMBs": h.size_in_mbs, "IntervalInSeconds": h.interval_in_seconds})
}

/// A manifest's format conversion in Firehose's shape (the columns have no member; the schema
/// is reported empty).
fn conversion(c: &DataFormatConversionConfiguration) -> Value {
    let deserializer = match &c.input_format_configuration.deserializer {
        Deserializer::OpenXJsonSerDe(o) => json!({"OpenXJsonSerDe": {
            "ConvertDotsInJsonKeysToUnderscores": o.convert_dots_in_json_keys_to_underscores,
            "CaseInsensitive": o.case_insensitive,
            "ColumnToJsonKeyMappings": o.column_to_json_key_mappings,
        }}),
        Deserializer::HiveJsonSerDe(h) => {
            json!({"HiveJsonSerDe": {"TimestampFormats": h.timestamp_formats}})
        }
    };
    let p = &c.output_format_configuration.serializer.parquet_ser_de;
    json!({
        "Enabled": c.enabled,
        "SchemaConfiguration": {},
        "InputFormatConfiguration": {"Deserializer": deserializer},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {
            "Compression": p.compression,
            "BlockSizeBytes": p.block_size_bytes,
            "PageSizeBytes": p.page_size_bytes,
            "EnableDictionaryCompression": p.enable_dictionary_compression,
        }}},
    })
}
