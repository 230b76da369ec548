//! Renderer tests: the Secrets a stream references (ingest keys, the destination's, the
//! source's) are mounted as files, once each, and hashed into the config.

use super::tests::{S3, deployment_of, inputs, stream};
use super::*;

#[test]
fn ingest_credentials_are_mounted_not_copied() {
    let s = stream(&format!(
        "  ingest:\n    auth:\n      sigV4: {{credentialsSecret: producers}}\n{S3}"
    ));
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    let pod = deployment_of(&c)
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    let volume = pod
        .volumes
        .expect("volumes")
        .into_iter()
        .find(|v| v.name == "ingest-credentials")
        .expect("volume");
    assert_eq!(
        volume.secret.and_then(|s| s.secret_name).as_deref(),
        Some("producers")
    );
    let mount = pod.containers[0]
        .volume_mounts
        .as_ref()
        .expect("mounts")
        .iter()
        .find(|m| m.name == "ingest-credentials")
        .cloned()
        .expect("mount");
    assert_eq!(mount.mount_path, "/etc/hydrant/secrets/producers");
}

#[test]
fn destination_secrets_are_mounted_as_files_and_kept_in_the_config() {
    let s = stream(
        "  ingest:\n    auth:\n      sigV4: {credentialsSecret: shared}\n  destination:\n    openSearch:\n      endpoint: https://os:9200\n      indexName: logs\n      authSecret: os-writer\n      tls: {caSecret: os-ca}\n      s3Configuration: {bucket: failed-docs, credentialsSecret: shared}\n",
    );
    assert_eq!(
        referenced_secrets(&s),
        vec![
            "os-ca".to_owned(),
            "os-writer".to_owned(),
            "shared".to_owned()
        ]
    );
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    let pod = deployment_of(&c)
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    let mut mounted: Vec<(String, String)> = pod.containers[0]
        .volume_mounts
        .as_ref()
        .expect("mounts")
        .iter()
        .filter(|m| m.mount_path.starts_with("/etc/hydrant/secrets/"))
        .map(|m| {
            let volume = pod
                .volumes
                .as_ref()
                .expect("volumes")
                .iter()
                .find(|v| v.name == m.name)
                .expect("volume of mount");
            let secret = volume
                .secret
                .as_ref()
                .and_then(|s| s.secret_name.clone())
                .expect("secret volume");
            (m.mount_path.clone(), secret)
        })
        .collect();
    mounted.sort();
    // The ingest Secret doubles as the bucket's: mounted once.
    assert_eq!(
        mounted,
        vec![
            ("/etc/hydrant/secrets/os-ca".to_owned(), "os-ca".to_owned()),
            (
                "/etc/hydrant/secrets/os-writer".to_owned(),
                "os-writer".to_owned()
            ),
            (
                "/etc/hydrant/secrets/shared".to_owned(),
                "shared".to_owned()
            ),
        ]
    );
    let yaml = &c.config_map.data.as_ref().expect("data")[configmap::FILE];
    let parsed = crds::manifest::parse_manifest(yaml).expect("the data plane can read it");
    let crds::Destination::OpenSearch(os) = parsed.spec.destination else {
        panic!("openSearch")
    };
    assert_eq!(os.auth_secret.as_deref(), Some("os-writer"));
    assert_eq!(
        os.s3_configuration.location.credentials_secret.as_deref(),
        Some("shared"),
        "read from the mounted files"
    );
}

/// Mount path -> Secret of every Secret volume the stream's container mounts, sorted.
fn mounted_secrets(c: &Children) -> Vec<(String, String)> {
    let pod = deployment_of(c)
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    let volumes = pod.volumes.clone().unwrap_or_default();
    let mut mounted: Vec<(String, String)> = pod.containers[0]
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            let volume = volumes.iter().find(|v| v.name == m.name).expect("volume");
            let secret = volume.secret.as_ref()?.secret_name.clone()?;
            Some((m.mount_path, secret))
        })
        .collect();
    mounted.sort();
    mounted
}

#[test]
fn source_secrets_are_mounted_and_roll_the_pods() {
    let s = stream(&format!(
        "  source:\n    kafka:\n      bootstrapServers: b-1:9096,b-2:9096\n      topic: clicks\n      tls: {{caSecret: msk-ca}}\n      sasl: {{mechanism: SCRAM-SHA-512, credentialsSecret: msk-reader}}\n{S3}"
    ));
    assert_eq!(
        referenced_secrets(&s),
        ["msk-ca", "msk-reader", "s3-writer"].map(str::to_owned)
    );
    let config = OperatorConfig::default();
    let c = render(&s, &inputs(), &config).expect("render");
    assert_eq!(
        mounted_secrets(&c),
        [
            ("/etc/hydrant/secrets/msk-ca", "msk-ca"),
            ("/etc/hydrant/secrets/msk-reader", "msk-reader"),
            ("/etc/hydrant/secrets/s3-writer", "s3-writer"),
        ]
        .map(|(path, secret)| (path.to_owned(), secret.to_owned()))
    );
    let volumes = deployment_of(&c)
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.volumes)
        .expect("volumes");
    assert!(volumes.iter().any(|v| v.name == "source-secret-1"));
    // The pod reads the source's Secrets from the files: the config keeps their names.
    let yaml = &c.config_map.data.as_ref().expect("data")[configmap::FILE];
    let parsed = crds::manifest::parse_manifest(yaml).expect("the data plane can read it");
    assert_eq!(parsed.spec.source.secret_names(), ["msk-ca", "msk-reader"]);
    // A new SASL password rolls the pods, as a destination Secret's change does.
    let hash = |c: &Children| {
        deployment_of(c)
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .map(|a| a[pod::CONFIG_HASH].clone())
    };
    let mut with_password = inputs();
    with_password.secrets.insert(
        "msk-reader".into(),
        BTreeMap::from([("password".to_owned(), b"one".to_vec())]),
    );
    let mut rotated = with_password.clone();
    rotated
        .secrets
        .get_mut("msk-reader")
        .expect("secret")
        .insert("password".into(), b"two".to_vec());
    assert_ne!(
        hash(&render(&s, &with_password, &config).expect("render")),
        hash(&render(&s, &rotated, &config).expect("render"))
    );
}

#[test]
fn a_secret_the_source_shares_is_mounted_once() {
    let s = stream(&format!(
        "  ingest:\n    auth:\n      sigV4: {{credentialsSecret: producers}}\n  source:\n    kinesisStream: {{streamName: clicks, credentialsSecret: s3-writer}}\n{S3}"
    ));
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    assert_eq!(
        mounted_secrets(&c),
        [
            ("/etc/hydrant/secrets/producers", "producers"),
            ("/etc/hydrant/secrets/s3-writer", "s3-writer"),
        ]
        .map(|(path, secret)| (path.to_owned(), secret.to_owned()))
    );
    let s = stream(&format!(
        "  ingest:\n    auth:\n      sigV4: {{credentialsSecret: shared}}\n  source:\n    kinesisStream: {{streamName: clicks, credentialsSecret: shared}}\n{S3}"
    ));
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    assert_eq!(
        mounted_secrets(&c),
        [
            ("/etc/hydrant/secrets/s3-writer", "s3-writer"),
            ("/etc/hydrant/secrets/shared", "shared"),
        ]
        .map(|(path, secret)| (path.to_owned(), secret.to_owned()))
    );
    // A cert-manager Secret serving the ingest port and, by its ca.crt, the brokers' CA.
    let s = stream(&format!(
        "  ingest:\n    tls: {{secretName: cluster-tls}}\n  source:\n    kafka: {{bootstrapServers: \"b:9093\", topic: t, tls: {{caSecret: cluster-tls}}}}\n{S3}"
    ));
    let c = render(&s, &inputs(), &OperatorConfig::default()).expect("render");
    assert_eq!(
        mounted_secrets(&c),
        [
            ("/etc/hydrant/secrets/cluster-tls", "cluster-tls"),
            ("/etc/hydrant/secrets/s3-writer", "s3-writer"),
        ]
        .map(|(path, secret)| (path.to_owned(), secret.to_owned()))
    );
}
