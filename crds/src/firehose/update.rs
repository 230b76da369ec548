//! UpdateDestination: the current stream as its CreateDeliveryStream request, the update laid
//! over its destination (same type: merged; another type: replaced), translated afresh, then
//! Firehose's rules on what may change.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::create::{self, DESTINATIONS};
use super::secrets::{self, Fallback};
use super::{Environment, Fault, StreamView, Translated, inverse, json, model, render};
use crate::{Destination, SourceBackupMode, SplunkBackupMode};

/// Update member → the configuration it updates, inside a destination.
const NESTED: [(&str, &str); 2] = [
    ("S3Update", "S3Configuration"),
    ("S3BackupUpdate", "S3BackupConfiguration"),
];

pub(crate) fn apply_update(
    current: &Translated,
    input: &Value,
    env: &Environment,
) -> Result<Translated, Fault> {
    let input = json::without_nulls(input);
    model::check_shape("UpdateDestinationInput", &input, "")?;
    let map = json::object(&input);
    let id = map
        .get("DestinationId")
        .and_then(Value::as_str)
        .unwrap_or("");
    if id != render::DESTINATION_ID {
        return Err(Fault::invalid(format!(
            "DestinationId {id} not found: the stream's only destination is {}",
            render::DESTINATION_ID
        )));
    }
    let updates: Vec<&String> = map
        .keys()
        .filter(|k| k.ends_with("DestinationUpdate"))
        .collect();
    let [update_member] = updates.as_slice() else {
        return Err(Fault::invalid(
            "Exactly one destination update is supported for a Firehose",
        ));
    };
    let member = update_member.replace("Update", "Configuration");
    if !DESTINATIONS.contains(&member.as_str()) || create::UNSUPPORTED.contains(&member.as_str()) {
        return Err(Fault::unsupported(update_member, ""));
    }
    let name = map
        .get("DeliveryStreamName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut request = current_request(current, name, env)?;
    let (current_member, current_config) = request
        .iter()
        .find(|(k, _)| DESTINATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .ok_or_else(|| Fault::invalid("the current stream has no destination"))?;
    let update = as_configuration(&map[update_member.as_str()]);
    let same = kind(&current_member) == kind(&member);
    if !same && (kind(&current_member) == "opensearch" || kind(&member) == "opensearch") {
        return Err(Fault::invalid(format!(
            "{update_member}: a destination cannot be changed to or from Amazon OpenSearch Service"
        )));
    }
    let config = if same {
        let mut merged = current_config;
        merge(&mut merged, &update);
        merged
    } else {
        update
    };
    let partitioned = config["DynamicPartitioningConfiguration"]["Enabled"] == Value::Bool(true);
    check_partitioning(&current.spec.destination, partitioned, update_member)?;
    request.remove(&current_member);
    // A stream created with the legacy S3 configuration is updated as an extended one.
    let target = if same && kind(&member) == "s3" {
        "ExtendedS3DestinationConfiguration".to_owned()
    } else {
        member.clone()
    };
    request.insert(target, config);
    let fallback = if same {
        Fallback::Known(secret_names(&current.spec.destination))
    } else {
        Fallback::None
    };
    let mut next = create::from_create(&Value::Object(request), env, &fallback)
        .map_err(|f| in_update_terms(f, &member, update_member))?;
    check_rules(
        &current.spec.destination,
        &next.spec.destination,
        update_member,
    )?;
    // Only the destination changes; everything else stays as it is.
    let mut spec = current.spec.clone();
    spec.destination = next.spec.destination;
    create::validate(name, &spec, update_member)?;
    next.spec = spec;
    Ok(next)
}

/// The CreateDeliveryStream request the current stream describes.
fn current_request(
    current: &Translated,
    name: &str,
    env: &Environment,
) -> Result<Map<String, Value>, Fault> {
    let view = StreamView {
        name,
        spec: &current.spec,
        kept: &current.kept,
        version_id: "1",
        status: "ACTIVE",
        failure: None,
        created: 0.0,
        updated: None,
        encryption_status: None,
    };
    inverse::description_as_request(&render::describe(&view, env))
}

/// Destination kinds as UpdateDestination's type rules see them.
fn kind(member: &str) -> &str {
    match member {
        "S3DestinationConfiguration" | "ExtendedS3DestinationConfiguration" => "s3",
        "ElasticsearchDestinationConfiguration"
        | "AmazonopensearchserviceDestinationConfiguration" => "opensearch",
        other => other,
    }
}

/// An update's nested `S3Update`/`S3BackupUpdate` under their configuration names.
fn as_configuration(update: &Value) -> Value {
    let mut map = update.as_object().cloned().unwrap_or_default();
    for (from, to) in NESTED {
        if let Some(v) = map.remove(from) {
            map.insert(to.to_owned(), v);
        }
    }
    Value::Object(map)
}

/// Unspecified members keep their values; a list is replaced whole.
fn merge(base: &mut Value, update: &Value) {
    match (base, update) {
        (Value::Object(b), Value::Object(u)) => {
            for (k, v) in u {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The Secrets the current destination already uses, by purpose.
fn secret_names(d: &Destination) -> BTreeMap<&'static str, String> {
    let mut names = BTreeMap::new();
    match d {
        Destination::Splunk(s) => {
            names.insert(secrets::HEC_TOKEN, s.hec_token_secret.clone());
        }
        Destination::HttpEndpoint(h) => {
            if let Some(k) = &h.endpoint_configuration.access_key_secret {
                names.insert(secrets::ACCESS_KEY, k.clone());
            }
        }
        Destination::Redshift(r) => {
            names.insert(secrets::REDSHIFT, r.credentials_secret.clone());
        }
        _ => {}
    }
    names
}

/// Messages name the update's members, not the configuration they were merged into.
fn in_update_terms(mut f: Fault, member: &str, update_member: &str) -> Fault {
    f.message = f
        .message
        .replace(
            "ExtendedS3DestinationConfiguration",
            &update_member.replace("Update", "Configuration"),
        )
        .replace(member, update_member)
        .replace(".S3Configuration", ".S3Update")
        .replace(".S3BackupConfiguration", ".S3BackupUpdate");
    f
}

/// Firehose's rules on what an update may not change.
fn check_rules(current: &Destination, next: &Destination, member: &str) -> Result<(), Fault> {
    if let (Destination::S3(c), Destination::S3(n)) = (current, next)
        && c.s3_backup_mode == SourceBackupMode::Enabled
        && n.s3_backup_mode == SourceBackupMode::Disabled
    {
        return Err(Fault::invalid(format!(
            "{member}.S3BackupMode: S3 backup cannot be disabled once it is enabled"
        )));
    }
    if let (Destination::Splunk(c), Destination::Splunk(n)) = (current, next)
        && c.s3_backup_mode == SplunkBackupMode::AllEvents
        && n.s3_backup_mode == SplunkBackupMode::FailedEventsOnly
    {
        return Err(Fault::invalid(format!(
            "{member}.S3BackupMode: a Splunk destination's backup mode can change from FailedEventsOnly to AllEvents only"
        )));
    }
    Ok(())
}

/// Dynamic partitioning is chosen at creation: it can be neither enabled nor disabled later.
/// Checked before the new spec's own rules, which would otherwise report its consequences.
fn check_partitioning(current: &Destination, next: bool, member: &str) -> Result<(), Fault> {
    let now = current
        .object_delivery()
        .is_some_and(|o| o.dynamic_partitioning_configuration.enabled);
    match (now, next) {
        (false, true) => Err(Fault::invalid(format!(
            "{member}.DynamicPartitioningConfiguration: dynamic partitioning cannot be enabled on an existing stream"
        ))),
        (true, false) => Err(Fault::invalid(format!(
            "{member}.DynamicPartitioningConfiguration: dynamic partitioning cannot be disabled once it is enabled"
        ))),
        _ => Ok(()),
    }
}
