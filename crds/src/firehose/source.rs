//! Sources: `DeliveryStreamType` and its source configuration ↔ `spec.source`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Environment, Fault, arn, json};
use crate::{DirectPutSource, KafkaSource, KinesisStreamSource, Source, StartingPosition};

const CONFIGS: [(&str, &str); 3] = [
    ("DirectPutSourceConfiguration", "DirectPut"),
    ("KinesisStreamSourceConfiguration", "KinesisStreamAsSource"),
    ("MSKSourceConfiguration", "MSKAsSource"),
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KinesisConfig {
    #[serde(rename = "KinesisStreamARN")]
    kinesis_stream_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MskConfig {
    topic_name: String,
    read_from_timestamp: Option<f64>,
}

/// The source a CreateDeliveryStream request (its top-level members) asks for.
pub(crate) fn parse(map: &Map<String, Value>, env: &Environment) -> Result<Source, Fault> {
    let kind = map
        .get("DeliveryStreamType")
        .and_then(Value::as_str)
        .unwrap_or("DirectPut");
    if kind == "DatabaseAsSource" {
        return Err(Fault::unsupported(
            "DeliveryStreamType DatabaseAsSource",
            "",
        ));
    }
    if map.contains_key("DatabaseSourceConfiguration") {
        return Err(Fault::unsupported("DatabaseSourceConfiguration", ""));
    }
    for (member, wants) in CONFIGS {
        if map.contains_key(member) && kind != wants {
            return Err(Fault::invalid(format!(
                "{member} is only valid with DeliveryStreamType {wants}, not {kind}"
            )));
        }
    }
    let needs =
        |member: &str| Fault::invalid(format!("DeliveryStreamType {kind} requires {member}"));
    match kind {
        "KinesisStreamAsSource" => {
            let member = "KinesisStreamSourceConfiguration";
            let config = map.get(member).ok_or_else(|| needs(member))?;
            let k: KinesisConfig = json::typed(config, member)?;
            Ok(Source::KinesisStream(KinesisStreamSource {
                stream_arn: Some(k.kinesis_stream_arn),
                stream_name: None,
                endpoint: env.kinesis_endpoint.clone(),
                region: None,
                credentials_secret: None,
                starting_position: StartingPosition::Latest,
                timestamp: None,
            }))
        }
        "MSKAsSource" => {
            let member = "MSKSourceConfiguration";
            let config = map.get(member).ok_or_else(|| needs(member))?;
            msk(config, env, member)
        }
        _ => Ok(Source::DirectPut(DirectPutSource {})),
    }
}

fn msk(config: &Value, env: &Environment, member: &str) -> Result<Source, Fault> {
    let m: MskConfig = json::typed(config, member)?;
    let Some(servers) = &env.kafka_bootstrap_servers else {
        return Err(Fault::invalid(format!(
            "{member}.MSKClusterARN: MSK cluster ARNs cannot be resolved here: configure the Kafka bootstrap servers Hydrant reads MSK clusters from"
        )));
    };
    let read_from_timestamp = match m.read_from_timestamp {
        Some(t) => Some(rfc3339(t).ok_or_else(|| {
            Fault::invalid(format!(
                "{member}.ReadFromTimestamp: {t} is not a time Hydrant can represent"
            ))
        })?),
        None => None,
    };
    Ok(Source::Kafka(KafkaSource {
        bootstrap_servers: servers.clone(),
        topic: m.topic_name,
        consumer_group: None,
        read_from_timestamp,
        tls: None,
        sasl: None,
    }))
}

/// Epoch seconds → RFC 3339 (UTC, millisecond precision when there is a fraction).
fn rfc3339(seconds: f64) -> Option<String> {
    let millis = (seconds * 1000.0).round();
    if !millis.is_finite() || millis.abs() > 1e17 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(millis as i64)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// The `Source` member of a description (without `DeliveryStartTimestamp`, which is the view's).
pub(crate) fn render(source: &Source, env: &Environment) -> Value {
    let role = arn::default_role(env);
    match source {
        Source::DirectPut(_) => json!({"DirectPutSourceDescription": {}}),
        Source::KinesisStream(k) => {
            let arn = k.stream_arn.clone().unwrap_or_else(|| {
                format!(
                    "arn:aws:kinesis:{}:{}:stream/{}",
                    k.signing_region(),
                    env.account,
                    k.name().unwrap_or_default()
                )
            });
            json!({"KinesisStreamSourceDescription": {"KinesisStreamARN": arn, "RoleARN": role}})
        }
        Source::Kafka(k) => {
            // A Kafka cluster has no ARN: the bootstrap servers name it.
            let cluster = k.bootstrap_servers.replace([',', ':'], "_");
            let mut msk = json!({
                "MSKClusterARN": format!(
                    "arn:aws:kafka:{}:{}:cluster/hydrant/{cluster}",
                    env.region, env.account
                ),
                "TopicName": k.topic,
                "AuthenticationConfiguration": {"RoleARN": role, "Connectivity": "PRIVATE"},
            });
            if let Some(t) = k
                .read_from_timestamp
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            {
                msk["ReadFromTimestamp"] = json!(t.timestamp_millis() as f64 / 1000.0);
            }
            json!({"MSKSourceDescription": msk})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(
            rfc3339(1_700_000_000.5).as_deref(),
            Some("2023-11-14T22:13:20.500Z")
        );
        assert_eq!(rfc3339(0.0).as_deref(), Some("1970-01-01T00:00:00Z"));
    }
}
