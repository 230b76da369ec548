//! `DeliveryStreamEncryptionConfigurationInput {KeyType, KeyARN}` ↔ `spec.encryption`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Environment, Fault, arn, json, model};
use crate::{EncryptionSpec, KeyType};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Input {
    key_type: KeyType,
    #[serde(rename = "KeyARN")]
    key_arn: Option<String>,
}

/// StartDeliveryStreamEncryption: `input` is the whole request or just its
/// `DeliveryStreamEncryptionConfigurationInput`. `None` when the request has none (Firehose
/// then uses `AWS_OWNED_CMK`, which is `EncryptionSpec::default()`).
pub fn encryption_input(input: &Value, env: &Environment) -> Result<Option<EncryptionSpec>, Fault> {
    let member = "DeliveryStreamEncryptionConfigurationInput";
    let input = json::without_nulls(input);
    match input.get(member) {
        Some(inner) => parse(inner, env, member),
        None if input.get("KeyType").is_some() => parse(&input, env, member),
        None => Ok(None),
    }
}

/// The member at `path` as the spec's encryption.
pub(crate) fn parse(
    value: &Value,
    _env: &Environment,
    path: &str,
) -> Result<Option<EncryptionSpec>, Fault> {
    model::check_shape("DeliveryStreamEncryptionConfigurationInput", value, path)?;
    let input: Input = json::typed(value, path)?;
    let key_secret = match (input.key_type, &input.key_arn) {
        (KeyType::CustomerManagedCmk, Some(key)) => {
            Some(arn::kms_secret(key, &format!("{path}.KeyARN"))?)
        }
        (KeyType::CustomerManagedCmk, None) => {
            return Err(Fault::invalid(format!(
                "{path}: KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK"
            )));
        }
        (KeyType::AwsOwnedCmk, Some(_)) => {
            return Err(Fault::invalid(format!(
                "{path}: KeyARN must not be given when KeyType is AWS_OWNED_CMK"
            )));
        }
        (KeyType::AwsOwnedCmk, None) => None,
    };
    Ok(Some(EncryptionSpec {
        key_type: input.key_type,
        key_arn: input.key_arn,
        key_secret,
    }))
}

/// `DeliveryStreamEncryptionConfiguration` of a description.
pub(crate) fn render(spec: Option<&EncryptionSpec>, status: Option<&str>) -> Value {
    match spec {
        Some(e) => {
            let mut v = json!({
                "KeyType": e.key_type.as_firehose(),
                "Status": status.unwrap_or("ENABLED"),
            });
            if let Some(arn) = &e.key_arn {
                v["KeyARN"] = json!(arn);
            }
            v
        }
        None => json!({"Status": status.unwrap_or("DISABLED")}),
    }
}

/// A description's `DeliveryStreamEncryptionConfiguration` back as the request member, when
/// encryption is (being) enabled.
pub(crate) fn as_input(description: &Value) -> Option<Value> {
    let status = description
        .get("Status")
        .and_then(Value::as_str)
        .unwrap_or("ENABLED");
    let key_type = description.get("KeyType")?;
    if !matches!(status, "ENABLED" | "ENABLING" | "ENABLING_FAILED") {
        return None;
    }
    let mut input = json!({"KeyType": key_type});
    if let Some(arn) = description.get("KeyARN") {
        input["KeyARN"] = arn.clone();
    }
    Some(input)
}
