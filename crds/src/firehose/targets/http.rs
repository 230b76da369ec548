//! `HttpEndpointDestinationConfiguration` ↔ the `httpEndpoint` destination.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Common, Environment, Fault, no_secrets_manager, shared};
use crate::firehose::json;
use crate::firehose::s3::{Hints, Retry};
use crate::firehose::secrets::{ACCESS_KEY, Secrets};
use crate::{
    BufferingHints, CommonAttribute, ContentEncoding, Destination, EndpointConfiguration,
    HttpBackupMode, HttpEndpointDestination, RequestConfiguration, RetryOptions,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    endpoint_configuration: Endpoint,
    request_configuration: Option<Request>,
    buffering_hints: Option<Hints>,
    retry_options: Option<Retry>,
    s3_backup_mode: Option<HttpBackupMode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Endpoint {
    url: String,
    name: Option<String>,
    access_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    content_encoding: Option<ContentEncoding>,
    #[serde(default)]
    common_attributes: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    attribute_name: String,
    attribute_value: String,
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
    let path = format!("{member}.EndpointConfiguration.AccessKey");
    let access_key = secrets.single(
        &path,
        ACCESS_KEY,
        "accessKey",
        c.endpoint_configuration.access_key.as_deref(),
    )?;
    let request = c.request_configuration.map(|r| RequestConfiguration {
        content_encoding: r.content_encoding.unwrap_or_default(),
        common_attributes: r
            .common_attributes
            .into_iter()
            .map(|a| CommonAttribute {
                attribute_name: a.attribute_name,
                attribute_value: a.attribute_value,
            })
            .collect(),
    });
    Ok(Destination::HttpEndpoint(Box::new(
        HttpEndpointDestination {
            endpoint_configuration: EndpointConfiguration {
                url: c.endpoint_configuration.url,
                name: c.endpoint_configuration.name,
                access_key_secret: access_key,
            },
            request_configuration: request.unwrap_or_default(),
            tls: None,
            buffering_hints: Hints::or(c.buffering_hints, BufferingHints::default()),
            retry_options: Retry::or(c.retry_options, RetryOptions::default_300()),
            s3_backup_mode: c.s3_backup_mode.unwrap_or_default(),
            s3_configuration: common.s3,
            processing_configuration: common.processing,
        },
    )))
}

pub(super) fn render(h: &HttpEndpointDestination, env: &Environment) -> (&'static str, Value) {
    let d = Destination::HttpEndpoint(Box::new(h.clone()));
    let mut body = shared(env, &d, h.retry_options, json!(h.s3_backup_mode));
    let mut endpoint = json!({"Url": h.endpoint_configuration.url});
    if let Some(name) = &h.endpoint_configuration.name {
        endpoint["Name"] = json!(name);
    }
    body.insert("EndpointConfiguration".into(), endpoint);
    let attributes: Vec<Value> = h
        .request_configuration
        .common_attributes
        .iter()
        .map(|a| json!({"AttributeName": a.attribute_name, "AttributeValue": a.attribute_value}))
        .collect();
    body.insert(
        "RequestConfiguration".into(),
        json!({
            "ContentEncoding": h.request_configuration.content_encoding,
            "CommonAttributes": attributes,
        }),
    );
    ("HttpEndpointDestinationDescription", Value::Object(body))
}
