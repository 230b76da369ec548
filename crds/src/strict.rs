//! Strict reading: every field of a document must be one the CRD's schema declares, of the
//! schema's type and, for an enum, one of its values.
//!
//! serde alone ignores fields it does not know, stops at the first error, and loses the path
//! inside `#[serde(flatten)]` fields (most of the S3 and local destinations' settings), so a typo
//! in `bufferingHints` either vanishes or is reported against `spec.destination.s3`. Walking the
//! parsed document against the schema the CRD is generated from (the one an API server enforces)
//! reports every problem with its full path in one pass.
//!
//! The walk understands exactly what `DeliveryStream::crd()` produces: `type`, `nullable`,
//! `enum`, `properties`, `required`, `items`, `additionalProperties`,
//! `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, and `oneOf` branches
//! that only list `required` (externally tagged enums such as `destination`). A test keeps the
//! schema within that set, so a new construct is noticed here rather than silently accepted.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use serde_json::{Map, Value};

use crate::{DeliveryStream, FieldError};

/// Top-level fields of every Kubernetes object that the CRD's schema leaves out.
const OBJECT_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Every unknown field, value of the wrong type, value outside an enum, missing required field
/// and ambiguous `oneOf` choice in `document`: `metadata` first, then depth first, each map's
/// fields in name order (serde_json's), its missing fields after them.
pub fn check(document: &Value) -> Vec<FieldError> {
    let mut walk = Walk::default();
    match document.as_object() {
        Some(map) => {
            if let Some(metadata) = map.get("metadata") {
                walk.metadata(metadata);
            }
            walk.object("", schema(), map, &OBJECT_FIELDS);
        }
        None => walk.fail("", format!("expected a map, found {}", describe(document))),
    }
    walk.problems
}

/// The `openAPIV3Schema` of the CRD's only version.
pub(crate) fn schema() -> &'static JSONSchemaProps {
    static SCHEMA: OnceLock<JSONSchemaProps> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        DeliveryStream::crd()
            .spec
            .versions
            .into_iter()
            .next()
            .and_then(|v| v.schema)
            .and_then(|s| s.open_api_v3_schema)
            .expect("the derived CRD has a version with a schema")
    })
}

/// The fields of `ObjectMeta`. The CRD's schema leaves `metadata` to the API server, which takes
/// any `ObjectMeta` field, so those are the fields accepted here.
fn metadata_fields() -> &'static [String] {
    static FIELDS: OnceLock<Vec<String>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        schemars::schema_for!(ObjectMeta)
            .as_object()
            .and_then(|schema| schema.get("properties"))
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    })
}

#[derive(Default)]
struct Walk {
    problems: Vec<FieldError>,
}

impl Walk {
    fn fail(&mut self, path: &str, message: String) {
        self.problems.push(FieldError {
            path: path.to_owned(),
            message,
        });
    }

    /// Only the names of `metadata`'s fields: their values (label maps, owner references, ...)
    /// are `ObjectMeta`'s own types, which serde checks with their paths.
    fn metadata(&mut self, metadata: &Value) {
        let Some(map) = metadata.as_object() else {
            let found = describe(metadata);
            self.fail("metadata", format!("expected a map, found {found}"));
            return;
        };
        let known = metadata_fields();
        for key in map.keys() {
            if !known.contains(key) {
                let message = unknown_field(key, known.iter().map(String::as_str));
                self.fail(&join("metadata", key), message);
            }
        }
    }

    fn node(&mut self, path: &str, schema: &JSONSchemaProps, value: &Value) {
        if value.is_null() {
            // serde refuses null for a field that is not an `Option`, and only `Option`s are
            // nullable in the schema.
            if let Some(expected) = expected_type(schema).filter(|_| schema.nullable != Some(true))
            {
                self.fail(path, format!("expected {expected}, found null"));
            }
            return;
        }
        if let Some(expected) = expected_type(schema).filter(|_| !type_matches(schema, value)) {
            let found = describe(value);
            self.fail(path, format!("expected {expected}, found {found}"));
            return;
        }
        if let Some(allowed) = &schema.enum_ {
            if !allowed.iter().any(|a| a.0 == *value) {
                self.fail(path, not_in_enum(value, allowed.iter().map(|a| &a.0)));
            }
            return;
        }
        match value {
            Value::Object(map) => self.object(path, schema, map, &[]),
            Value::Array(items) => {
                if let Some(JSONSchemaPropsOrArray::Schema(item)) = &schema.items {
                    for (i, value) in items.iter().enumerate() {
                        self.node(&format!("{path}[{i}]"), item, value);
                    }
                }
            }
            _ => {}
        }
    }

    /// The fields of a map: each declared one against its schema, the others against
    /// `additionalProperties` or as unknown. `outside_schema` names fields that are allowed but
    /// checked elsewhere (the top level's `apiVersion`, `kind` and `metadata`).
    fn object(
        &mut self,
        path: &str,
        schema: &JSONSchemaProps,
        map: &Map<String, Value>,
        outside_schema: &[&str],
    ) {
        let properties = schema.properties.as_ref();
        for (key, value) in map {
            let field = join(path, key);
            if let Some(property) = properties.and_then(|p| p.get(key)) {
                self.node(&field, property, value);
                continue;
            }
            if outside_schema.contains(&key.as_str()) {
                continue;
            }
            match &schema.additional_properties {
                Some(JSONSchemaPropsOrBool::Schema(each)) => self.node(&field, each, value),
                Some(JSONSchemaPropsOrBool::Bool(true)) => {}
                _ if schema.x_kubernetes_preserve_unknown_fields == Some(true) => {}
                _ => {
                    let known = properties.into_iter().flat_map(|p| p.keys());
                    let known = outside_schema
                        .iter()
                        .copied()
                        .chain(known.map(String::as_str));
                    self.fail(&field, unknown_field(key, known));
                }
            }
        }
        for name in schema.required.iter().flatten() {
            if !map.contains_key(name) {
                self.fail(&join(path, name), "required field is missing".to_owned());
            }
        }
        if let Some(branches) = &schema.one_of {
            self.one_of(path, branches, map);
        }
    }

    /// An externally tagged enum: `oneOf` branches that each require one field, of which exactly
    /// one must be set.
    fn one_of(&mut self, path: &str, branches: &[JSONSchemaProps], map: &Map<String, Value>) {
        let is_set = |name: &str| map.get(name).is_some_and(|v| !v.is_null());
        let matching = branches
            .iter()
            .filter(|b| b.required.iter().flatten().all(|n| is_set(n)))
            .count();
        if matching == 1 {
            return;
        }
        let names: Vec<&str> = branches
            .iter()
            .flat_map(|b| b.required.iter().flatten())
            .map(String::as_str)
            .collect();
        let set: Vec<&str> = names.iter().copied().filter(|n| is_set(n)).collect();
        let found = if set.is_empty() {
            "none".to_owned()
        } else {
            set.join(", ")
        };
        let choices = names.join(", ");
        self.fail(
            path,
            format!("exactly one of {choices} must be set, found {found}"),
        );
    }
}

/// `path.key`, or `key` at the top level.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The JSON type a node requires, as a message names it; `None` when any value is accepted.
fn expected_type(schema: &JSONSchemaProps) -> Option<&'static str> {
    if schema.x_kubernetes_int_or_string == Some(true) {
        return Some("an integer or a string");
    }
    Some(match schema.type_.as_deref()? {
        "object" => "a map",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        _ => return None,
    })
}

fn type_matches(schema: &JSONSchemaProps, value: &Value) -> bool {
    if schema.x_kubernetes_int_or_string == Some(true) {
        return value.is_i64() || value.is_u64() || value.is_string();
    }
    match schema.type_.as_deref() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    }
}

/// A value as an error message shows it: scalars in full, collections by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(n) => format!("integer {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    }
}

/// An enum value the schema does not list, with the listed ones and the likely intended one.
fn not_in_enum<'a>(value: &Value, allowed: impl Iterator<Item = &'a Value>) -> String {
    let allowed: Vec<String> = allowed.map(plain).collect();
    let shown = plain(value);
    let mut message = format!(
        "unknown variant {shown}, expected one of {}",
        allowed.join(", ")
    );
    if let Some(close) = closest(&shown, allowed.iter().map(String::as_str)) {
        message.push_str(&format!(" (did you mean {close}?)"));
    }
    message
}

/// A string without its JSON quotes; any other value as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn unknown_field<'a>(key: &str, known: impl Iterator<Item = &'a str> + Clone) -> String {
    if let Some(close) = closest(key, known.clone()) {
        return format!("unknown field, did you mean {close}?");
    }
    let mut known: Vec<&str> = known.collect();
    if known.is_empty() {
        return "unknown field (this map takes no fields)".to_owned();
    }
    known.sort_unstable();
    format!("unknown field, expected one of {}", known.join(", "))
}

/// The known name a typo most likely meant: the nearest by edit distance (a swap of two
/// neighbours counts as one edit; case is ignored), if it is within a third of the typo's length
/// (at least 1, at most 3 edits). Farther names are more likely a different field altogether.
pub(crate) fn closest<'a>(typo: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let typo_lower = typo.to_lowercase();
    let budget = (typo.chars().count() / 3).clamp(1, 3);
    known
        .map(|name| {
            (
                strsim::osa_distance(&typo_lower, &name.to_lowercase()),
                name,
            )
        })
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests;
