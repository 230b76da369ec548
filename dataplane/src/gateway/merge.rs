//! The JSON merge patch (RFC 7396) that turns one JSON document into another. A merge patch
//! merges objects member by member, so replacing a spec takes `null` for every member the new
//! one no longer has; lists and scalars are replaced whole.

use serde_json::{Map, Value};

/// The merge patch taking `from` to `to`.
pub fn diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (key, old) in a {
                match b.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new) if new != old => {
                        let inner = diff(old, new);
                        patch.insert(key.clone(), inner);
                    }
                    Some(_) => {}
                }
            }
            for (key, new) in b {
                if !a.contains_key(key) && !new.is_null() {
                    patch.insert(key.clone(), strip_nulls(new));
                }
            }
            Value::Object(patch)
        }
        (_, to) => strip_nulls(to),
    }
}

/// A value set whole: its null members mean "absent" in a merge patch, so they are left out.
fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Applies a merge patch (RFC 7396), as the API server does; for the tests.
#[cfg(test)]
pub fn apply(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            out.remove(key);
        } else {
            let merged = apply(out.get(key).unwrap_or(&Value::Null), value);
            out.insert(key.clone(), merged);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_patch_takes_one_document_to_the_other() {
        let from = json!({
            "destination": {"s3": {"bucket": "a", "prefix": "p/", "bufferingHints": {"intervalInSeconds": 60}}},
            "replicas": 2,
            "list": [1, 2, 3],
            "gone": {"x": 1},
        });
        let to = json!({
            "destination": {"s3": {"bucket": "b", "bufferingHints": {"intervalInSeconds": 60}}},
            "replicas": 2,
            "list": [1],
            "added": {"y": null, "z": 1},
            "nothing": null,
        });
        let patch = diff(&from, &to);
        assert_eq!(
            patch,
            json!({
                "destination": {"s3": {"bucket": "b", "prefix": null}},
                "list": [1],
                "gone": null,
                "added": {"z": 1},
            })
        );
        let mut expected = to.clone();
        expected["added"] = json!({"z": 1});
        expected.as_object_mut().map(|o| o.remove("nothing"));
        assert_eq!(apply(&from, &patch), expected);
    }

    #[test]
    fn a_destination_of_another_kind_replaces_the_old_one() {
        let from = json!({"destination": {"s3": {"bucket": "a"}}});
        let to = json!({"destination": {"http": {"url": "http://x"}}});
        let patch = diff(&from, &to);
        assert_eq!(apply(&from, &patch), to);
        assert_eq!(diff(&to, &to), json!({}));
    }
}
