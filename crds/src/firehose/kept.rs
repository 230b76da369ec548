//! What a request carries beyond the spec, as the difference between two descriptions.
//!
//! `diff(wanted, base)` is the smallest value that `merge(base, ·)` turns back into `wanted`:
//! objects member by member, lists of objects of the same length element by element (`{}` for
//! an element that needs nothing), anything else whole. `diff(merge(base, d), base) == d` for
//! every `d` that `diff` produced, which is what makes the round trip exact.

use serde_json::{Map, Value};

use super::model;

/// Members of `wanted` that `base` lacks or has with another value; `None` when nothing.
pub(crate) fn diff(wanted: &Value, base: &Value) -> Option<Value> {
    match (wanted, base) {
        (Value::Object(w), Value::Object(b)) => {
            let mut out = Map::new();
            for (key, value) in w {
                let d = match b.get(key) {
                    Some(base_value) => diff(value, base_value),
                    None => Some(value.clone()),
                };
                if let Some(d) = d {
                    out.insert(key.clone(), d);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (Value::Array(w), Value::Array(b)) if w.len() == b.len() && all_objects(w) => {
            let parts: Vec<Option<Value>> = w.iter().zip(b).map(|(w, b)| diff(w, b)).collect();
            if parts.iter().all(Option::is_none) {
                return None;
            }
            let parts = parts
                .into_iter()
                .map(|p| p.unwrap_or_else(|| Value::Object(Map::new())))
                .collect();
            Some(Value::Array(parts))
        }
        _ => (wanted != base).then(|| wanted.clone()),
    }
}

/// `base` with `kept` laid over it (the inverse of `diff`).
pub(crate) fn merge(base: &mut Value, kept: &Value) {
    match (base, kept) {
        (Value::Object(b), Value::Object(k)) => {
            for (key, value) in k {
                match b.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        b.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(k)) if b.len() == k.len() && all_objects(k) => {
            for (slot, value) in b.iter_mut().zip(k) {
                merge(slot, value);
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

fn all_objects(items: &[Value]) -> bool {
    items.iter().all(Value::is_object)
}

/// `value` without the members the model's shape `shape_name` does not have (recursively):
/// what a description may carry.
pub(crate) fn prune(value: &Value, shape_name: &str) -> Value {
    let shape = model::shape(shape_name);
    match (value, shape.get("type").and_then(Value::as_str)) {
        (Value::Object(map), Some("structure")) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| {
                    model::member_shape(shape_name, k).map(|s| (k.clone(), prune(v, s)))
                })
                .collect(),
        ),
        (Value::Array(items), Some("list")) => {
            let member = shape["member"]["shape"].as_str().unwrap_or("");
            Value::Array(items.iter().map(|v| prune(v, member)).collect())
        }
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_undoes_diff() {
        let base =
            json!({"A": {"B": 1, "C": [{"N": "x", "V": "1"}, {"N": "y", "V": "2"}]}, "D": [1, 2]});
        let wanted = json!({"A": {"B": 1, "E": true, "C": [{"N": "x", "V": "1"}, {"N": "y", "V": "3"}]}, "D": [2, 1]});
        let d = diff(&wanted, &base).unwrap();
        assert_eq!(
            d,
            json!({"A": {"E": true, "C": [{}, {"V": "3"}]}, "D": [2, 1]})
        );
        let mut merged = base.clone();
        merge(&mut merged, &d);
        assert_eq!(merged, wanted);
        assert_eq!(diff(&merged, &base), Some(d));
        assert_eq!(diff(&base, &base), None);
    }

    #[test]
    fn prune_keeps_model_members_only() {
        let v = json!({"RoleARN": "r", "HECToken": "t", "Nope": 1});
        assert_eq!(
            prune(&v, "S3DestinationDescription"),
            json!({"RoleARN": "r"})
        );
    }
}
