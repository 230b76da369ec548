//! Small helpers for the API side's JSON.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Fault;

/// `value` as the typed struct `T`. The model check has already refused wrong types, so an
/// error here is a member the model allows but Hydrant reads differently; the message names it.
pub(crate) fn typed<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, Fault> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let at = if inner == "." {
            path.to_owned()
        } else {
            format!("{path}.{inner}")
        };
        Fault::invalid(format!("{at}: {}", e.inner()))
    })
}

/// The object `value` is, or an empty one.
pub(crate) fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// `value` with every JSON null member removed, recursively (clients send null for absent).
pub(crate) fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
