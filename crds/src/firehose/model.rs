//! The Firehose service model (botocore's `service-2.json`, vendored under
//! `crds/tests/fixtures/firehose/`), and a check of a JSON value against one of its shapes.
//!
//! Checking against the model itself, rather than restating its limits by hand, keeps every
//! length, range, enum and pattern exactly as Firehose declares them, with the member's path
//! in the message. Hydrant deviates in a few patterns only (see `pattern_override`).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::Fault;

static MODEL_TEXT: &str = include_str!("../../tests/fixtures/firehose/service-2.json");

/// The model's shapes by name.
pub(crate) fn shapes() -> &'static Map<String, Value> {
    static SHAPES: OnceLock<Map<String, Value>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let model: Value = serde_json::from_str(MODEL_TEXT).expect("the vendored model is JSON");
        match model.get("shapes") {
            Some(Value::Object(shapes)) => shapes.clone(),
            _ => panic!("the vendored model has shapes"),
        }
    })
}

/// The shape named `name`; `Null` when the model has none (never for names used here).
pub(crate) fn shape(name: &str) -> &'static Value {
    shapes().get(name).unwrap_or(&Value::Null)
}

/// The shape of `member` in structure `shape`, if it is a member.
pub(crate) fn member_shape(shape_name: &str, member: &str) -> Option<&'static str> {
    shape(shape_name)
        .get("members")?
        .get(member)?
        .get("shape")?
        .as_str()
}

/// Checks `value` against the shape `shape_name`; `path` names the value in messages (empty for
/// a whole request).
pub fn check_shape(shape_name: &str, value: &Value, path: &str) -> Result<(), Fault> {
    let s = shape(shape_name);
    let kind = s.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "structure" => check_structure(shape_name, s, value, path),
        "list" => check_list(s, value, path),
        "map" => check_map(s, value, path),
        "string" => check_string(shape_name, s, value, path),
        "integer" | "long" => check_number(s, value, path, true),
        "double" | "float" => check_number(s, value, path, false),
        "timestamp" => match value {
            Value::Number(_) => Ok(()),
            _ => Err(violation(
                path,
                value,
                "Member must be a timestamp (epoch seconds)",
            )),
        },
        "boolean" => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(violation(path, value, "Member must be a boolean")),
        },
        _ => Ok(()),
    }
}

fn check_structure(name: &str, s: &Value, value: &Value, path: &str) -> Result<(), Fault> {
    let Value::Object(map) = value else {
        return Err(violation(path, value, "Member must be a structure"));
    };
    let members = s.get("members").and_then(Value::as_object);
    for (key, v) in map {
        let member = join(path, key);
        let Some(shape_name) = members
            .and_then(|m| m.get(key))
            .and_then(|m| m.get("shape"))
            .and_then(Value::as_str)
        else {
            return Err(Fault::invalid(format!(
                "Unknown member {member}: {name} has no member named {key}"
            )));
        };
        // JSON null is how some clients spell an absent member.
        if !v.is_null() {
            check_shape(shape_name, v, &member)?;
        }
    }
    for required in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if map.get(required).is_none_or(Value::is_null) {
            return Err(violation(
                &join(path, required),
                &Value::Null,
                "Member must not be null",
            ));
        }
    }
    Ok(())
}

fn check_list(s: &Value, value: &Value, path: &str) -> Result<(), Fault> {
    let Value::Array(items) = value else {
        return Err(violation(path, value, "Member must be a list"));
    };
    check_length(s, items.len(), value, path)?;
    let member = s["member"]["shape"].as_str().unwrap_or("");
    for (i, item) in items.iter().enumerate() {
        check_shape(member, item, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn check_map(s: &Value, value: &Value, path: &str) -> Result<(), Fault> {
    let Value::Object(map) = value else {
        return Err(violation(path, value, "Member must be a map"));
    };
    check_length(s, map.len(), value, path)?;
    let key_shape = s["key"]["shape"].as_str().unwrap_or("");
    let value_shape = s["value"]["shape"].as_str().unwrap_or("");
    for (k, v) in map {
        check_shape(key_shape, &Value::String(k.clone()), &format!("{path}.{k}"))?;
        check_shape(value_shape, v, &format!("{path}.{k}"))?;
    }
    Ok(())
}

fn check_string(name: &str, s: &Value, value: &Value, path: &str) -> Result<(), Fault> {
    let Value::String(text) = value else {
        return Err(violation(path, value, "Member must be a string"));
    };
    check_length(s, text.chars().count(), value, path)?;
    if let Some(values) = s.get("enum").and_then(Value::as_array)
        && !values.iter().any(|v| v.as_str() == Some(text))
    {
        let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return Err(violation(
            path,
            value,
            &format!("Member must satisfy enum value set: [{}]", names.join(", ")),
        ));
    }
    let pattern = pattern_override(name).or_else(|| s.get("pattern").and_then(Value::as_str));
    if let Some(pattern) = pattern
        && !matches(pattern, text)
    {
        return Err(violation(
            path,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

/// Where Hydrant accepts more than Firehose: plain-HTTP endpoints (in-cluster services and a
/// laptop's servers) and any JDBC host (Redshift-compatible databases outside AWS).
fn pattern_override(shape_name: &str) -> Option<&'static str> {
    match shape_name {
        "HttpEndpointUrl" => Some("https?://.*"),
        "ElasticsearchClusterEndpoint" | "AmazonopensearchserviceClusterEndpoint" => {
            Some("https?:.*")
        }
        "ClusterJDBCURL" => Some(r"jdbc:(redshift|postgresql)://[^/:]+:\d{1,5}/[a-zA-Z0-9_$-]+"),
        _ => None,
    }
}

/// Whether `text` matches `pattern` as a whole. The model's patterns are Java regular
/// expressions; the only constructs the `regex` crate lacks are look-arounds, used by the
/// "not blank" pattern (checked directly) and by patterns of members Hydrant never reads
/// (accepted).
fn matches(pattern: &str, text: &str) -> bool {
    if pattern == r"^(?!\s*$).+" {
        return !text.trim().is_empty() && !text.contains('\n');
    }
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let regex = cache.entry(pattern.to_owned()).or_insert_with(|| {
        let bare = pattern.trim_start_matches('^').trim_end_matches('$');
        // Java's `\w` and `\d` are ASCII; the `regex` crate's are Unicode, which also makes
        // `[\w...]{1,255}` big enough to exceed the default size limit in some feature sets.
        let bare = bare.replace(r"\w", "[0-9A-Za-z_]").replace(r"\d", "[0-9]");
        let compiled = regex::RegexBuilder::new(&format!("^(?s:{bare})$"))
            .size_limit(64 << 20)
            .build();
        compiled.ok()
    });
    regex.as_ref().is_none_or(|r| r.is_match(text))
}

fn check_length(s: &Value, len: usize, value: &Value, path: &str) -> Result<(), Fault> {
    let len = len as f64;
    if let Some(min) = s.get("min").and_then(Value::as_f64)
        && len < min
    {
        return Err(violation(
            path,
            value,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if let Some(max) = s.get("max").and_then(Value::as_f64)
        && len > max
    {
        return Err(violation(
            path,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn check_number(s: &Value, value: &Value, path: &str, integer: bool) -> Result<(), Fault> {
    let number = match value {
        Value::Number(n) if !integer || n.is_i64() || n.is_u64() => n.as_f64().unwrap_or(0.0),
        _ => {
            let what = if integer { "an integer" } else { "a number" };
            return Err(violation(path, value, &format!("Member must be {what}")));
        }
    };
    if let Some(min) = s.get("min").and_then(Value::as_f64)
        && number < min
    {
        return Err(violation(
            path,
            value,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if let Some(max) = s.get("max").and_then(Value::as_f64)
        && number > max
    {
        return Err(violation(
            path,
            value,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

/// Firehose's (Coral's) wording of a constraint violation.
fn violation(path: &str, value: &Value, constraint: &str) -> Fault {
    let shown = match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    };
    Fault::invalid(format!(
        "1 validation error detected: Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn constraints_are_the_models() {
        let err = check_shape(
            "BufferingHints",
            &json!({"SizeInMBs": 129}),
            "X.BufferingHints",
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "1 validation error detected: Value '129' at 'X.BufferingHints.SizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 128"
        );
        assert!(check_shape("BufferingHints", &json!({"SizeInMBs": 1.5}), "B").is_err());
        let err = check_shape("CompressionFormat", &json!("LZ4"), "C").unwrap_err();
        assert!(
            err.message
                .contains("enum value set: [UNCOMPRESSED, GZIP, ZIP")
        );
        let err = check_shape("BucketARN", &json!("arn:aws:s3:::a/b"), "B").unwrap_err();
        assert!(err.message.contains("regular expression pattern"), "{err}");
        assert!(check_shape("BucketARN", &json!("arn:aws:s3:::my.bucket-1"), "B").is_ok());
        let err = check_shape("HttpEndpointConfiguration", &json!({}), "E").unwrap_err();
        assert!(err.message.contains("at 'E.Url'"), "{err}");
        assert!(err.message.ends_with("Member must not be null"));
        let err =
            check_shape("BufferingHints", &json!({"Size": 1}), "X.BufferingHints").unwrap_err();
        assert_eq!(
            err.message,
            "Unknown member X.BufferingHints.Size: BufferingHints has no member named Size"
        );
    }

    #[test]
    fn hydrant_accepts_plain_http_endpoints_and_non_aws_jdbc_hosts() {
        assert!(check_shape("HttpEndpointUrl", &json!("http://svc:8080/in"), "U").is_ok());
        assert!(check_shape("HttpEndpointUrl", &json!("ftp://svc"), "U").is_err());
        let jdbc = json!("jdbc:postgresql://db.local:5432/dev");
        assert!(check_shape("ClusterJDBCURL", &jdbc, "J").is_ok());
        assert!(check_shape("HttpEndpointName", &json!("  "), "N").is_err());
    }
}
