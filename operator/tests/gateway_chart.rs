//! The chart's gateway (`gateway.enabled`), rendered by real helm (`helm template`): off by
//! default; when on, a Deployment running `hydrant gateway` from the data-plane image with the
//! keys Secret mounted, a Service on 4573, a ServiceAccount, and in each listed namespace a
//! Role granting exactly create, get, list, watch, patch and delete on deliverystreams, bound
//! to that ServiceAccount — and nothing else.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn render(sets: &[&str]) -> Vec<Value> {
    let helm = harness::controlplane::tools_dir().join("helm");
    let mut cmd = Command::new(&helm);
    cmd.args(["template", "hydrant"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/hydrant"))
        .args(["--namespace", "hydrant-system"]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    let out = cmd.output().expect("run helm template");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    crds::manifest::documents(&String::from_utf8_lossy(&out.stdout))
        .expect("yaml")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The objects labelled as the gateway's: `(kind, namespace, name)`.
fn gateway_objects(docs: &[Value]) -> BTreeSet<(String, String, String)> {
    docs.iter()
        .filter(|d| d["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway")
        .map(|d| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&d["kind"]),
                s(&d["metadata"]["namespace"]),
                s(&d["metadata"]["name"]),
            )
        })
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, namespace: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"] == kind && d["metadata"]["namespace"] == namespace)
        .collect()
}

#[test]
fn the_gateway_is_off_by_default() {
    assert!(gateway_objects(&render(&[])).is_empty());
}

#[test]
fn the_gateway_gets_its_objects_and_exactly_its_rbac() {
    let docs = render(&[
        "gateway.enabled=true",
        "gateway.keysSecret=gateway-keys",
        "gateway.namespaces={team-a,team-b,team-a}",
        "gateway.s3.endpoint=http://s3.storage:8333",
        "gateway.s3.credentialsSecret=s3-writer",
    ]);
    let name = "hydrant-gateway";
    let want: BTreeSet<(String, String, String)> = [
        ("ServiceAccount", "hydrant-system"),
        ("Service", "hydrant-system"),
        ("Deployment", "hydrant-system"),
        ("Role", "team-a"),
        ("RoleBinding", "team-a"),
        ("Role", "team-b"),
        ("RoleBinding", "team-b"),
    ]
    .iter()
    .map(|(k, ns)| ((*k).to_owned(), (*ns).to_owned(), name.to_owned()))
    .collect();
    assert_eq!(gateway_objects(&docs), want);

    let deployment = find(&docs, "Deployment", "hydrant-system")
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .expect("the gateway's Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], name);
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "ghcr.io/hydrant-dev/hydrant:0.1.0");
    assert_eq!(container["args"][0], "gateway");
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for pair in [
        ("HYDRANT_S3_ENDPOINT", "http://s3.storage:8333"),
        ("HYDRANT_S3_CREDENTIALS_SECRET", "s3-writer"),
        ("HYDRANT_GATEWAY_KEYS", "/etc/hydrant/gateway/keys.yaml"),
    ] {
        assert!(
            env.contains(&(pair.0.to_owned(), pair.1.to_owned())),
            "{pair:?} in {env:?}"
        );
    }
    let volumes = pod["volumes"].as_array().expect("volumes");
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == "gateway-keys"),
        "{volumes:?}"
    );
    let service = find(&docs, "Service", "hydrant-system")
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .expect("the gateway's Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 4573);
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/component"],
        "gateway"
    );

    for ns in ["team-a", "team-b"] {
        let roles = find(&docs, "Role", ns);
        assert_eq!(roles.len(), 1, "one Role in {ns}");
        let rules = roles[0]["rules"].as_array().expect("rules");
        assert_eq!(
            rules.len(),
            1,
            "a single rule, on deliverystreams: {rules:?}"
        );
        assert_eq!(rules[0]["apiGroups"], serde_json::json!(["hydrant.dev"]));
        assert_eq!(
            rules[0]["resources"],
            serde_json::json!(["deliverystreams"])
        );
        let verbs: BTreeSet<&str> = rules[0]["verbs"]
            .as_array()
            .expect("verbs")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            verbs,
            BTreeSet::from(["create", "get", "list", "watch", "patch", "delete"])
        );
        let binding = &find(&docs, "RoleBinding", ns)[0];
        assert_eq!(binding["roleRef"]["name"], name);
        assert_eq!(binding["subjects"][0]["name"], name);
        assert_eq!(binding["subjects"][0]["namespace"], "hydrant-system");
    }
    // Nothing cluster-wide, nothing on Secrets, for the gateway.
    for doc in &docs {
        let bound_to_gateway = doc["subjects"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["name"] == name));
        if bound_to_gateway {
            assert_eq!(doc["kind"], "RoleBinding", "{doc}");
        }
    }
}
