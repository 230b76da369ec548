//! Between request shape and description shape: a CreateDeliveryStream request renamed into
//! the description it would produce (for `kept`), and a description back into the request
//! that produced it (for `from_description` and `apply_update`).

use serde_json::{Map, Value, json};

use super::create::{self, DESTINATIONS};
use super::secrets::Fallback;
use super::{Environment, Fault, Translated, encryption, render::DESTINATION_ID};

/// Configuration member ↔ description member, inside a destination.
const NESTED: [(&str, &str); 3] = [
    ("S3Configuration", "S3DestinationDescription"),
    ("S3BackupConfiguration", "S3BackupDescription"),
    ("VpcConfiguration", "VpcConfigurationDescription"),
];

const SOURCES: [(&str, &str); 3] = [
    ("DirectPutSourceConfiguration", "DirectPutSourceDescription"),
    (
        "KinesisStreamSourceConfiguration",
        "KinesisStreamSourceDescription",
    ),
    ("MSKSourceConfiguration", "MSKSourceDescription"),
];

/// The `Source` and `Destinations` a request's members would be described as (secret values
/// left out; members descriptions lack are pruned later, against the model).
pub(crate) fn request_as_description(map: &Map<String, Value>) -> Value {
    let mut out = json!({});
    for (config, description) in SOURCES {
        if let Some(v) = map.get(config) {
            out["Source"] = json!({description: v});
        }
    }
    let Some((member, config)) = DESTINATIONS
        .iter()
        .find_map(|m| map.get(*m).map(|v| (*m, v)))
    else {
        return out;
    };
    let mut body = rename(config, true);
    if member == "SplunkDestinationConfiguration"
        && let Some(b) = body.as_object_mut()
    {
        b.remove("HECToken");
    }
    let mut destination = json!({"DestinationId": DESTINATION_ID});
    let key = member.replace("Configuration", "Description");
    if member.ends_with("S3DestinationConfiguration") {
        // Firehose describes an S3 stream both ways; the legacy one is pruned to its members.
        destination["ExtendedS3DestinationDescription"] = body.clone();
        destination["S3DestinationDescription"] = body;
    } else {
        destination[key] = body;
    }
    out["Destinations"] = json!([destination]);
    out
}

/// A destination configuration's nested members renamed into description (`forward`) or back.
fn rename(config: &Value, forward: bool) -> Value {
    let mut map = config.as_object().cloned().unwrap_or_default();
    for (c, d) in NESTED {
        let (from, to) = if forward { (c, d) } else { (d, c) };
        if let Some(mut v) = map.remove(from) {
            if c == "VpcConfiguration" {
                let vpc = v.as_object_mut();
                match (forward, vpc) {
                    // Firehose reports the VPC of the subnets; there is none here.
                    (true, Some(vpc)) => {
                        vpc.insert("VpcId".into(), json!("hydrant"));
                    }
                    (false, Some(vpc)) => {
                        vpc.remove("VpcId");
                    }
                    _ => {}
                }
            }
            if forward && to.starts_with("S3") {
                with_s3_defaults(&mut v);
            }
            map.insert(to.to_owned(), v);
        }
    }
    Value::Object(map)
}

/// A bucket's description has its defaults materialised (it may be reported from `kept`
/// alone, as a backup bucket with backup disabled is).
fn with_s3_defaults(bucket: &mut Value) {
    let Some(b) = bucket.as_object_mut() else {
        return;
    };
    let defaults = [
        (
            "BufferingHints",
            json!({"SizeInMBs": 5, "IntervalInSeconds": 300}),
        ),
        ("CompressionFormat", json!("UNCOMPRESSED")),
        (
            "EncryptionConfiguration",
            json!({"NoEncryptionConfig": "NoEncryption"}),
        ),
    ];
    for (member, value) in defaults {
        b.entry(member).or_insert(value);
    }
}

/// A description (from `describe`) as the CreateDeliveryStream request it describes.
pub(crate) fn description_as_request(d: &Value) -> Result<Map<String, Value>, Fault> {
    let mut request = Map::new();
    for key in ["DeliveryStreamName", "DeliveryStreamType"] {
        if let Some(v) = d.get(key) {
            request.insert(key.into(), v.clone());
        }
    }
    for (config, description) in SOURCES {
        if let Some(Value::Object(s)) = d["Source"].get(description) {
            let mut s = s.clone();
            s.remove("DeliveryStartTimestamp");
            if !s.is_empty() {
                request.insert(config.into(), Value::Object(s));
            }
        }
    }
    if let Some(e) = d
        .get("DeliveryStreamEncryptionConfiguration")
        .and_then(encryption::as_input)
    {
        request.insert("DeliveryStreamEncryptionConfigurationInput".into(), e);
    }
    let destination = &d["Destinations"][0];
    let member = DESTINATIONS
        .iter()
        .find(|m| {
            let key = m.replace("Configuration", "Description");
            // The legacy S3 description stands beside the extended one.
            *m != &"S3DestinationConfiguration" && destination.get(&key).is_some()
        })
        .ok_or_else(|| {
            Fault::invalid("the description has no destination Hydrant can translate")
        })?;
    let mut config = rename(
        &destination[member.replace("Configuration", "Description")],
        false,
    );
    if let Some(c) = config.as_object_mut()
        && c.contains_key("DomainARN")
    {
        // The cluster URL is reported beside the domain it was resolved from.
        c.remove("ClusterEndpoint");
    }
    request.insert((*member).to_owned(), config);
    Ok(request)
}

pub(crate) fn from_description(d: &Value, env: &Environment) -> Result<Translated, Fault> {
    let request = Value::Object(description_as_request(d)?);
    let parsed = create::parse(&request, env, &Fallback::Convention)?;
    let wanted = json!({"Source": d["Source"], "Destinations": d["Destinations"]});
    let mut wanted = super::json::without_nulls(&wanted);
    for key in ["KinesisStreamSourceDescription", "MSKSourceDescription"] {
        if let Some(Value::Object(s)) = wanted["Source"].get_mut(key) {
            s.remove("DeliveryStartTimestamp");
        }
    }
    let mut t = create::finish(parsed, &wanted, env);
    t.secrets.clear();
    Ok(t)
}
