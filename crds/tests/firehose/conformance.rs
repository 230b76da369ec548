//! Model conformance: what Hydrant accepts and what it describes fit the vendored Firehose
//! model (`tests/fixtures/firehose/service-2.json`), checked by a walk of its own here rather
//! than by the implementation's.

use std::sync::OnceLock;

use crds::firehose::{StreamView, describe};
use serde_json::{Map, Value};

use crate::round_trip::cases;
use crate::support::*;

fn shapes() -> &'static Map<String, Value> {
    static SHAPES: OnceLock<Map<String, Value>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/firehose/service-2.json"
        );
        let text = std::fs::read_to_string(path).expect("the vendored model");
        let model: Value = serde_json::from_str(&text).expect("JSON");
        model["shapes"].as_object().expect("shapes").clone()
    })
}

/// Every place `value` does not fit `shape`: unknown members, wrong types, missing required
/// members.
fn misfits(shape: &str, value: &Value, path: &str, out: &mut Vec<String>) {
    let s = &shapes()[shape];
    let kind = s["type"].as_str().unwrap_or("");
    let fits = match kind {
        "structure" | "map" => value.is_object(),
        "list" => value.is_array(),
        "string" => value.is_string(),
        "integer" | "long" => value.is_i64() || value.is_u64(),
        "double" | "float" | "timestamp" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => false,
    };
    if !fits {
        out.push(format!("{path}: {value} is not a {kind} ({shape})"));
        return;
    }
    match (kind, value) {
        ("structure", Value::Object(map)) => {
            for (k, v) in map {
                match s["members"][k]["shape"].as_str() {
                    Some(member) => misfits(member, v, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: not a member of {shape}")),
                }
            }
            for required in s["required"].as_array().into_iter().flatten() {
                let r = required.as_str().unwrap_or("");
                if !map.contains_key(r) {
                    out.push(format!("{path}.{r}: required by {shape}, missing"));
                }
            }
        }
        ("list", Value::Array(items)) => {
            let member = s["member"]["shape"].as_str().unwrap_or("");
            for (i, item) in items.iter().enumerate() {
                misfits(member, item, &format!("{path}[{i}]"), out);
            }
        }
        ("map", Value::Object(map)) => {
            let member = s["value"]["shape"].as_str().unwrap_or("");
            for (k, v) in map {
                misfits(member, v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

pub fn assert_fits(shape: &str, value: &Value, what: &str) {
    let mut out = Vec::new();
    misfits(shape, value, shape, &mut out);
    assert!(out.is_empty(), "{what}:\n{}\n{value:#}", out.join("\n"));
}

#[test]
fn every_description_fits_the_model() {
    for (name, env, input) in cases() {
        let t = create(&input, &env);
        let mut d = described(&t, "s", &env);
        assert_fits("DeliveryStreamDescription", &d, name);
        // With the view's optional members too.
        let failure = serde_json::json!({"Type": "UNKNOWN_ERROR", "Details": "x"});
        let view = StreamView {
            name: "s",
            spec: &t.spec,
            kept: &t.kept,
            version_id: "7",
            status: "CREATING_FAILED",
            failure: Some(&failure),
            created: 1.5,
            updated: Some(2.5),
            encryption_status: Some("ENABLING"),
        };
        d = describe(&view, &env);
        assert_fits("DeliveryStreamDescription", &d, name);
    }
}

#[test]
fn every_accepted_request_uses_model_members_only() {
    for (name, _, input) in cases() {
        assert_fits("CreateDeliveryStreamInput", &input, name);
    }
}

#[test]
fn the_example_manifests_are_described_in_model_shapes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("example");
        let stream = crds::manifest::parse_manifest(&text).expect("example parses");
        // PostgreSQL is not a Firehose destination: it has no shape in the model.
        if matches!(stream.spec.destination, crds::Destination::Postgresql(_)) {
            continue;
        }
        let view = StreamView {
            name: "example",
            spec: &stream.spec,
            kept: &Value::Object(Map::new()),
            version_id: "1",
            status: "ACTIVE",
            failure: None,
            created: 0.0,
            updated: None,
            encryption_status: None,
        };
        let d = describe(&view, &laptop());
        assert_fits("DeliveryStreamDescription", &d, &path.display().to_string());
        seen += 1;
    }
    assert!(seen >= 10, "{seen} examples");
}
