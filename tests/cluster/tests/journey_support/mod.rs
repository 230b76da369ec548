//! Secrets never leak: everything the journey's cluster produced that an operator or a
//! monitoring system can read — every container's log, Events, ConfigMaps, the streams'
//! status, the workloads' specs, every pod's `/metrics`, the kubelet's log — is searched for
//! the test's secret values, as written and base64-encoded.

use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use harness::node::Node;

/// Fails naming every place where one of `secrets` appears.
pub async fn no_secret_value_appears(
    node: &Node,
    client: &kube::Client,
    namespaces: &[&str],
    secrets: &[&str],
) {
    let mut sources: Vec<(String, String)> = Vec::new();
    for args in [
        &["get", "events", "-A", "-o", "yaml"][..],
        &["get", "configmaps", "-A", "-o", "yaml"][..],
        &["get", "deliverystreams", "-A", "-o", "yaml"][..],
        &[
            "get",
            "deployments,statefulsets,jobs,hpa",
            "-A",
            "-o",
            "yaml",
        ][..],
    ] {
        sources.push((format!("kubectl {}", args.join(" ")), node.kubectl_ok(args)));
    }
    for ns in namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let list = pods.list(&ListParams::default()).await.expect("pods");
        for pod in list.items {
            let name = pod.metadata.name.clone().unwrap_or_default();
            for previous in [false, true] {
                let mut args = vec!["-n", ns, "logs", &name, "--all-containers"];
                if previous {
                    args.push("--previous");
                }
                // A container that never restarted has no previous log.
                let out = node.kubectl(&args);
                sources.push((
                    format!("kubectl {}", args.join(" ")),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                ));
            }
            if let Some(metrics) = scrape(node, &pod) {
                sources.push((format!("{ns}/{name} /metrics"), metrics));
            }
        }
    }
    sources.push(("kubelet log".into(), node.log_tail("kubelet", usize::MAX)));

    let scraped = sources
        .iter()
        .filter(|(s, _)| s.ends_with("/metrics"))
        .count();
    assert!(scraped > 0, "no pod's /metrics was read");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut found = Vec::new();
    for secret in secrets {
        for needle in [secret.to_string(), b64.encode(secret)] {
            for (source, text) in &sources {
                if text.contains(&needle) {
                    found.push(format!("{needle:?} in {source}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "secret values leaked: {found:#?}");
    let bytes: usize = sources.iter().map(|(_, t)| t.len()).sum();
    eprintln!(
        "no secret value in {} sources ({bytes} bytes, {scraped} /metrics)",
        sources.len()
    );
}

/// The pod's `/metrics`, read from inside the cluster's network namespace.
fn scrape(node: &Node, pod: &Pod) -> Option<String> {
    let ip = pod.status.as_ref()?.pod_ip.clone()?;
    let port = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some("metrics"))?
        .container_port;
    let out = node
        .in_netns(std::path::Path::new("/usr/bin/curl"))
        .args([
            "-sf",
            "--max-time",
            "10",
            &format!("http://{ip}:{port}/metrics"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
