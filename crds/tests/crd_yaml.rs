//! The committed CRD YAML (and the Helm chart's copy) is exactly what the types generate.
//! Regenerate with `HYDRANT_UPDATE_CRD=1 cargo test -p crds --test crd_yaml`.

use std::path::PathBuf;

use crds::generate::{CHART_CRD_PATH, CRD_PATH, crd_yaml};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_crd_matches_the_types() {
    let generated = crd_yaml();
    for path in [CRD_PATH, CHART_CRD_PATH] {
        let file = root().join(path);
        if std::env::var_os("HYDRANT_UPDATE_CRD").is_some() {
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, &generated).expect("write CRD");
        }
        let committed = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{path}: {e}; regenerate with HYDRANT_UPDATE_CRD=1"));
        assert!(
            committed == generated,
            "{path} differs from the types; regenerate with HYDRANT_UPDATE_CRD=1 cargo test -p crds --test crd_yaml"
        );
    }
}

/// Every schema node reachable through `properties`, `items` and `additionalProperties` must have
/// a `type` (or be int-or-string / preserve-unknown-fields): the rule of structural schemas that a
/// real API server enforces. `oneOf`/`anyOf` branches of externally tagged enums only hold
/// `required` and are not schema nodes of their own.
fn untyped_nodes(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    let typed = node.get("type").is_some()
        || node.get("x-kubernetes-int-or-string").is_some()
        || node.get("x-kubernetes-preserve-unknown-fields").is_some();
    if !typed {
        out.push(path.to_owned());
    }
    if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
        for (name, child) in props {
            untyped_nodes(child, &format!("{path}.{name}"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get(key).filter(|c| c.is_object()) {
            untyped_nodes(child, &format!("{path}[{key}]"), out);
        }
    }
}

#[test]
fn schema_is_structural_enough_for_an_api_server() {
    let yaml = crd_yaml();
    let crd: serde_json::Value = serde_saphyr::from_str(&yaml).expect("CRD YAML");
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    assert!(schema.is_object(), "no schema");
    let mut untyped = Vec::new();
    untyped_nodes(schema, "", &mut untyped);
    assert!(
        untyped.is_empty(),
        "schema nodes without a type: {untyped:?}"
    );
    assert!(yaml.contains("x-kubernetes-validations"));
    assert!(yaml.contains("shortNames"));
    assert!(
        !yaml.contains("format: uint"),
        "uint formats are unknown to Kubernetes"
    );
}
