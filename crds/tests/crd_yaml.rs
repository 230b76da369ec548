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

#[test]
fn schema_is_structural_enough_for_an_api_server() {
    let yaml = crd_yaml();
    // Untagged enums and free-form values produce nodes without a type; a real API server rejects
    // them. The end-to-end tests apply this CRD to a real one; this catches the obvious cases early.
    assert!(!yaml.contains("nullable: true\n    type: null"));
    assert!(yaml.contains("x-kubernetes-validations"));
    assert!(yaml.contains("shortNames"));
    assert!(
        !yaml.contains("format: uint"),
        "uint formats are unknown to Kubernetes"
    );
}
