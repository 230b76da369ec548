//! `SplunkDestinationConfiguration` ↔ the `splunk` destination.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Common, Environment, Fault, no_secrets_manager, shared};
use crate::firehose::json;
use crate::firehose::s3::{Hints, Retry};
use crate::firehose::secrets::{HEC_TOKEN, Secrets};
use crate::{
    BufferingHints, Destination, HecEndpointType, RetryOptions, SplunkBackupMode, SplunkDestination,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(rename = "HECEndpoint")]
    hec_endpoint: String,
    #[serde(rename = "HECEndpointType")]
    hec_endpoint_type: HecEndpointType,
    #[serde(rename = "HECToken")]
    hec_token: Option<String>,
    #[serde(rename = "HECAcknowledgmentTimeoutInSeconds")]
    hec_acknowledgment_timeout_in_seconds: Option<i32>,
    retry_options: Option<Retry>,
    s3_backup_mode: Option<SplunkBackupMode>,
    buffering_hints: Option<Hints>,
}

pub(super) fn parse(
    value: &Value,
    env: &Environment,
    secrets: &mut Secrets,
    member: &str,
) -> Result<Destination, Fault> {
    no_secrets_manager(value, member)?;
    let c: Config = json::typed(value, member)?;
    let common = Common::parse(value, env, member)?;
    let path = format!("{member}.HECToken");
    let token = secrets
        .single(&path, HEC_TOKEN, "token", c.hec_token.as_deref())?
        .ok_or_else(|| Fault::invalid(format!("{path} is required")))?;
    Ok(Destination::Splunk(Box::new(SplunkDestination {
        hec_endpoint: c.hec_endpoint,
        hec_endpoint_type: c.hec_endpoint_type,
        hec_token_secret: token,
        hec_acknowledgment_timeout_in_seconds: c
            .hec_acknowledgment_timeout_in_seconds
            .unwrap_or(180),
        tls: None,
        buffering_hints: Hints::or(
            c.buffering_hints,
            BufferingHints {
                size_in_mbs: 5,
                interval_in_seconds: 60,
            },
        ),
        retry_options: Retry::or(c.retry_options, RetryOptions::default_300()),
        s3_backup_mode: c.s3_backup_mode.unwrap_or_default(),
        s3_configuration: common.s3,
        processing_configuration: common.processing,
    })))
}

pub(super) fn render(sp: &SplunkDestination, env: &Environment) -> (&'static str, Value) {
    let d = Destination::Splunk(Box::new(sp.clone()));
    let mut body = shared(env, &d, sp.retry_options, json!(sp.s3_backup_mode));
    // The description of a Splunk destination has no role.
    body.remove("RoleARN");
    body.insert("HECEndpoint".into(), json!(sp.hec_endpoint));
    body.insert("HECEndpointType".into(), json!(sp.hec_endpoint_type));
    body.insert(
        "HECAcknowledgmentTimeoutInSeconds".into(),
        json!(sp.hec_acknowledgment_timeout_in_seconds),
    );
    ("SplunkDestinationDescription", Value::Object(body))
}
