//! Destination configurations other than the primary S3 one, and the dispatch over all of
//! them, both directions.

mod http;
mod opensearch;
mod redshift;
mod splunk;

use serde_json::{Map, Value, json};

use super::secrets::Secrets;
use super::{Environment, Fault, arn, processing, render::DESTINATION_ID, s3};
use crate::{Destination, ProcessingConfiguration, RetryOptions, S3Destination};

/// The configuration member `member` (with value `value`) as the spec's destination.
pub(crate) fn parse(
    member: &str,
    value: &Value,
    env: &Environment,
    secrets: &mut Secrets,
) -> Result<Destination, Fault> {
    match member {
        "ExtendedS3DestinationConfiguration" | "S3DestinationConfiguration" => {
            s3::primary(value, env, member)
        }
        "RedshiftDestinationConfiguration" => redshift::parse(value, env, secrets, member),
        "ElasticsearchDestinationConfiguration"
        | "AmazonopensearchserviceDestinationConfiguration" => {
            opensearch::parse(value, env, member)
        }
        "SplunkDestinationConfiguration" => splunk::parse(value, env, secrets, member),
        "HttpEndpointDestinationConfiguration" => http::parse(value, env, secrets, member),
        other => Err(Fault::unsupported(other, "")),
    }
}

/// The `DestinationDescription` of the spec's destination.
pub(crate) fn render(d: &Destination, env: &Environment, elasticsearch: bool) -> Value {
    let (key, body) = match d {
        Destination::S3(_) | Destination::Local(_) => {
            let mut v = s3::render_primary(env, d);
            v["DestinationId"] = json!(DESTINATION_ID);
            return v;
        }
        Destination::OpenSearch(os) => opensearch::render(os, env, elasticsearch),
        Destination::Splunk(sp) => splunk::render(sp, env),
        Destination::HttpEndpoint(h) => http::render(h, env),
        Destination::Redshift(r) => redshift::render(r, env),
        // Not a Firehose destination: described in the same style, under a name of its own.
        Destination::Postgresql(pg) => (
            "PostgresqlDestinationDescription",
            json!({
                "Table": pg.table,
                "Columns": pg.columns,
                "Format": pg.format,
                "BufferingHints": s3::hints(pg.buffering_hints),
                "RetryOptions": {"DurationInSeconds": pg.retry_options.duration_in_seconds},
                "S3BackupMode": pg.s3_backup_mode,
                "S3DestinationDescription": bucket_description(env, &pg.s3_configuration),
            }),
        ),
    };
    json!({"DestinationId": DESTINATION_ID, key: body})
}

/// Members every non-S3 destination description shares.
fn shared(
    env: &Environment,
    d: &Destination,
    retry: RetryOptions,
    backup_mode: Value,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("RoleARN".into(), json!(arn::default_role(env)));
    m.insert("BufferingHints".into(), s3::hints(d.buffering_hints()));
    m.insert(
        "RetryOptions".into(),
        json!({"DurationInSeconds": retry.duration_in_seconds}),
    );
    m.insert("S3BackupMode".into(), backup_mode);
    if let Some(bucket) = d.s3_configuration() {
        m.insert(
            "S3DestinationDescription".into(),
            bucket_description(env, bucket),
        );
    }
    m.insert(
        "ProcessingConfiguration".into(),
        processing::render(d.processing()),
    );
    m.insert("CloudWatchLoggingOptions".into(), json!({"Enabled": false}));
    m
}

fn bucket_description(env: &Environment, bucket: &S3Destination) -> Value {
    s3::render_bucket(env, &bucket.location.bucket, &bucket.delivery)
}

/// What every non-S3 destination has: its required `S3Configuration` and its processing.
struct Common {
    s3: S3Destination,
    processing: ProcessingConfiguration,
}

impl Common {
    fn parse(value: &Value, env: &Environment, member: &str) -> Result<Self, Fault> {
        let path = format!("{member}.S3Configuration");
        Ok(Self {
            s3: s3::bucket(&value["S3Configuration"], env, &path)?,
            processing: processing::parse(
                value.get("ProcessingConfiguration"),
                env,
                &format!("{member}.ProcessingConfiguration"),
            )?,
        })
    }
}

/// Hydrant reads secret values from the request or a Kubernetes Secret, never from AWS
/// Secrets Manager; a disabled configuration is only reported.
fn no_secrets_manager(value: &Value, member: &str) -> Result<(), Fault> {
    if value["SecretsManagerConfiguration"]["Enabled"] == json!(true) {
        return Err(Fault::unsupported(
            &format!("{member}.SecretsManagerConfiguration with Enabled true"),
            "give the secret in the request instead (see the control-plane documentation)",
        ));
    }
    Ok(())
}
