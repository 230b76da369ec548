//! `AmazonopensearchserviceDestinationConfiguration` and the legacy
//! `ElasticsearchDestinationConfiguration` ↔ the `openSearch` destination.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Common, Environment, Fault, shared};
use crate::firehose::s3::{Hints, Retry};
use crate::firehose::{arn, json};
use crate::{
    BufferingHints, Destination, DocumentIdFormat, DocumentIdOptions, IndexRotationPeriod,
    OpenSearchBackupMode, OpenSearchDestination, RetryOptions,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    #[serde(rename = "DomainARN")]
    domain_arn: Option<String>,
    cluster_endpoint: Option<String>,
    index_name: String,
    type_name: Option<String>,
    index_rotation_period: Option<IndexRotationPeriod>,
    buffering_hints: Option<Hints>,
    retry_options: Option<Retry>,
    s3_backup_mode: Option<OpenSearchBackupMode>,
    document_id_options: Option<DocumentIds>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DocumentIds {
    default_document_id_format: DocumentIdFormat,
}

pub(super) fn parse(value: &Value, env: &Environment, member: &str) -> Result<Destination, Fault> {
    let c: Config = json::typed(value, member)?;
    let common = Common::parse(value, env, member)?;
    let endpoint = match (&c.domain_arn, &c.cluster_endpoint) {
        (Some(_), Some(_)) => {
            return Err(Fault::invalid(format!(
                "{member}: specify either DomainARN or ClusterEndpoint, not both"
            )));
        }
        (None, None) => {
            return Err(Fault::invalid(format!(
                "{member}: DomainARN or ClusterEndpoint is required"
            )));
        }
        (Some(domain), None) => arn::domain_url(env, domain, &format!("{member}.DomainARN"))?,
        (None, Some(url)) => url.clone(),
    };
    Ok(Destination::OpenSearch(Box::new(OpenSearchDestination {
        endpoint,
        index_name: c.index_name,
        // An empty TypeName means none (Elasticsearch 7 and later).
        type_name: c.type_name.filter(|t| !t.is_empty()),
        index_rotation_period: c.index_rotation_period.unwrap_or_default(),
        document_id_options: DocumentIdOptions {
            default_document_id_format: c
                .document_id_options
                .map(|d| d.default_document_id_format)
                .unwrap_or_default(),
        },
        auth_secret: None,
        tls: None,
        buffering_hints: Hints::or(c.buffering_hints, BufferingHints::default()),
        retry_options: Retry::or(c.retry_options, RetryOptions::default_300()),
        s3_backup_mode: c.s3_backup_mode.unwrap_or_default(),
        s3_configuration: common.s3,
        processing_configuration: common.processing,
    })))
}

pub(super) fn render(
    os: &OpenSearchDestination,
    env: &Environment,
    elasticsearch: bool,
) -> (&'static str, Value) {
    let d = Destination::OpenSearch(Box::new(os.clone()));
    let mut body = shared(env, &d, os.retry_options, json!(os.s3_backup_mode));
    body.insert("ClusterEndpoint".into(), json!(os.endpoint));
    body.insert("IndexName".into(), json!(os.index_name));
    if let Some(t) = &os.type_name {
        body.insert("TypeName".into(), json!(t));
    }
    body.insert(
        "IndexRotationPeriod".into(),
        json!(os.index_rotation_period),
    );
    body.insert(
        "DocumentIdOptions".into(),
        json!({"DefaultDocumentIdFormat": os.document_id_options.default_document_id_format}),
    );
    let key = if elasticsearch {
        "ElasticsearchDestinationDescription"
    } else {
        "AmazonopensearchserviceDestinationDescription"
    };
    (key, Value::Object(body))
}
