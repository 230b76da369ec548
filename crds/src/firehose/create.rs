//! CreateDeliveryStream → spec: the request as a whole (which members, which source, which
//! destination), then the spec's own validation with its errors in the API's terms.

use serde_json::{Map, Value};

use super::secrets::{Fallback, Secrets};
use super::{
    Environment, Fault, Translated, encryption, inverse, json, kept, model, render, source, targets,
};
use crate::{BufferSpec, DeliveryStream, DeliveryStreamSpec, IngestSpec};

/// Every destination configuration member of CreateDeliveryStream.
pub(crate) const DESTINATIONS: [&str; 10] = [
    "S3DestinationConfiguration",
    "ExtendedS3DestinationConfiguration",
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
];

/// The destinations Hydrant has no counterpart for.
pub(crate) const UNSUPPORTED: [&str; 3] = [
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
];

/// A request's spec and secrets, before `kept` is worked out.
pub(crate) struct Parsed {
    pub(crate) spec: DeliveryStreamSpec,
    pub(crate) secrets: Vec<crate::firehose::NewSecret>,
    /// The destination was given as Elasticsearch (it is described under that name).
    pub(crate) elasticsearch: bool,
}

pub(crate) fn from_create(
    input: &Value,
    env: &Environment,
    fallback: &Fallback,
) -> Result<Translated, Fault> {
    let input = json::without_nulls(input);
    let parsed = parse(&input, env, fallback)?;
    let wanted = inverse::request_as_description(&json::object(&input));
    Ok(finish(parsed, &wanted, env))
}

/// `kept`: what `wanted` (a description) has beyond what the spec renders.
pub(crate) fn finish(parsed: Parsed, wanted: &Value, env: &Environment) -> Translated {
    let base = render::body(&parsed.spec, env, parsed.elasticsearch);
    let wanted = kept::prune(wanted, "DeliveryStreamDescription");
    let mut kept = kept::diff(&wanted, &base).unwrap_or_else(|| Value::Object(Map::new()));
    if parsed.elasticsearch {
        render::mark_elasticsearch(&mut kept);
    }
    Translated {
        spec: parsed.spec,
        secrets: parsed.secrets,
        kept,
    }
}

/// The spec a (null-free) CreateDeliveryStream request asks for.
pub(crate) fn parse(
    input: &Value,
    env: &Environment,
    fallback: &Fallback,
) -> Result<Parsed, Fault> {
    model::check_shape("CreateDeliveryStreamInput", input, "")?;
    let map = json::object(input);
    let name = map
        .get("DeliveryStreamName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let given: Vec<&str> = DESTINATIONS
        .iter()
        .copied()
        .filter(|m| map.contains_key(*m))
        .collect();
    if let [member] = given.as_slice()
        && UNSUPPORTED.contains(member)
    {
        return Err(Fault::unsupported(member, ""));
    }
    let [member] = given.as_slice() else {
        return Err(Fault::invalid(
            "Exactly one destination configuration is supported for a Firehose",
        ));
    };
    let source = source::parse(&map, env)?;
    let encryption = match map.get("DeliveryStreamEncryptionConfigurationInput") {
        Some(e) => encryption::parse(e, env, "DeliveryStreamEncryptionConfigurationInput")?,
        None => None,
    };
    if encryption.is_some() && !source.accepts_puts() {
        return Err(Fault::invalid(format!(
            "DeliveryStreamEncryptionConfigurationInput: server-side encryption is not supported for {} delivery streams",
            source.delivery_stream_type()
        )));
    }
    let mut secrets = Secrets::new(env.secrets, &name, fallback);
    let destination = targets::parse(member, &map[*member], env, &mut secrets)?;
    let spec = DeliveryStreamSpec {
        source,
        ingest: IngestSpec::default(),
        replicas: None,
        autoscaling: None,
        image: None,
        template: None,
        buffer: BufferSpec::default(),
        encryption,
        network_policy: None,
        destination,
    };
    validate(&name, &spec, member)?;
    Ok(Parsed {
        spec,
        secrets: secrets.created,
        elasticsearch: *member == "ElasticsearchDestinationConfiguration",
    })
}

/// The spec's own rules, reported against the API member they came from where that is known.
pub(crate) fn validate(name: &str, spec: &DeliveryStreamSpec, member: &str) -> Result<(), Fault> {
    let stream = DeliveryStream::new(name, spec.clone());
    let problems: Vec<String> = crate::validate_spec(&stream)
        .into_iter()
        // The API's names are not DNS labels; the caller chooses metadata.name.
        .filter(|e| e.path != "metadata.name")
        .map(|e| format!("{}: {}", api_path(&e.path, spec, member), e.message))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Fault::invalid(problems.join("; ")))
    }
}

/// `spec.destination.s3.bufferingHints.sizeInMBs` →
/// `ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs`; other paths stay spec paths.
fn api_path(path: &str, spec: &DeliveryStreamSpec, member: &str) -> String {
    let root = format!("spec.destination.{}", spec.destination.field());
    let Some(rest) = path.strip_prefix(&root) else {
        return path.to_owned();
    };
    let mut out = member.to_owned();
    for segment in rest.split('.').filter(|s| !s.is_empty()) {
        out.push('.');
        out.push_str(&api_segment(segment));
    }
    out
}

fn api_segment(segment: &str) -> String {
    let (name, index) = match segment.find('[') {
        Some(i) => segment.split_at(i),
        None => (segment, ""),
    };
    let renamed = match name {
        "bucket" => "BucketARN".to_owned(),
        "endpoint" => "ClusterEndpoint".to_owned(),
        "hecEndpoint" => "HECEndpoint".to_owned(),
        "clusterJdbcUrl" => "ClusterJDBCURL".to_owned(),
        "url" => "Url".to_owned(),
        other => {
            let mut chars = other.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    };
    renamed + index
}
