//! The Deployment running a stream's data-plane pods. Every spec field that shapes a pod becomes a
//! pod field here.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Inputs, RenderError, child_meta, configmap, labels, stream_name};
use crate::config::{METRICS_PORT, OperatorConfig};
use crds::{DeliveryStream, Destination, IngestAuth, parse_quantity};

pub const CONFIG_HASH: &str = "hydrant.dev/config-hash";
pub const CONTAINER: &str = "hydrant";
pub const SECRETS_DIR: &str = "/etc/hydrant/secrets";
/// Non-root user of the distroless image.
const USER: i64 = 65532;

/// Seconds a pod gets to drain on SIGTERM: the buffering interval (a batch may just have started)
/// plus time to deliver what is buffered.
pub fn termination_grace_seconds(stream: &DeliveryStream) -> i64 {
    let interval = stream
        .spec
        .destination
        .buffering_hints()
        .interval_in_seconds as i64;
    interval + 60
}

/// The `emptyDir` size limit: the log's bound plus headroom for the segment being written.
pub fn wal_size_limit(stream: &DeliveryStream) -> Result<Quantity, RenderError> {
    let bytes = parse_quantity(&stream.spec.buffer.max_bytes.0)
        .map_err(|e| RenderError::Invalid(format!("spec.buffer.maxBytes: {e}")))?;
    Ok(Quantity(format!("{}", bytes + bytes / 8 + (64 << 20))))
}

fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("250m".to_owned())),
            ("memory".to_owned(), Quantity("256Mi".to_owned())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity("1Gi".to_owned()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn http_probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("metrics".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

pub fn render(
    stream: &DeliveryStream,
    inputs: &Inputs,
    config: &OperatorConfig,
    config_hash: &str,
) -> Result<Deployment, RenderError> {
    let name = stream_name(stream)?;
    let spec = &stream.spec;
    let overrides = spec.template.clone().unwrap_or_default();
    let meta_over = overrides.metadata.unwrap_or_default();
    let spec_over = overrides.spec.unwrap_or_default();

    let mut pod_labels = meta_over.labels.clone();
    pod_labels.extend(labels::common(name));
    let mut annotations = meta_over.annotations.clone();
    annotations.insert(CONFIG_HASH.to_owned(), config_hash.to_owned());
    annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
    annotations.insert("prometheus.io/port".to_owned(), METRICS_PORT.to_string());
    annotations.insert("prometheus.io/path".to_owned(), "/metrics".to_owned());

    let mut env_vars = vec![
        env("HYDRANT_VERSION_ID", &inputs.version_id),
        env("HYDRANT_LOG_FORMAT", "json"),
        env("HYDRANT_METRICS_ADDR", &format!("0.0.0.0:{METRICS_PORT}")),
        env("HYDRANT_SECRETS_DIR", SECRETS_DIR),
    ];
    let mut volumes = vec![
        Volume {
            name: "config".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: configmap::name(name),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "wal".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(wal_size_limit(stream)?),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        VolumeMount {
            name: "config".to_owned(),
            mount_path: configmap::MOUNT_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "wal".to_owned(),
            mount_path: configmap::WAL_DIR.to_owned(),
            ..VolumeMount::default()
        },
    ];
    match &spec.destination {
        Destination::S3(s3) => {
            if let Some(secret) = &s3.credentials_secret {
                env_vars.push(secret_env("AWS_ACCESS_KEY_ID", secret, "accessKeyId"));
                env_vars.push(secret_env(
                    "AWS_SECRET_ACCESS_KEY",
                    secret,
                    "secretAccessKey",
                ));
            }
        }
        Destination::Local(_) => {
            return Err(RenderError::Invalid(
                "spec.destination.local: a local directory only works with `hydrant run` on one machine; in a cluster use spec.destination.s3".to_owned(),
            ));
        }
        _ => {}
    }
    // Destination Secrets (tokens, passwords, CA certificates, backup and error-output
    // buckets' keys) are read as files; the primary S3 keys also come from the environment.
    {
        let mut secrets = spec.destination.secrets();
        secrets.sort_unstable();
        secrets.dedup();
        // The ingest Secret is mounted below, at the same path.
        secrets.retain(|s| {
                !matches!(&spec.ingest.auth, IngestAuth::SigV4(sig) if sig.credentials_secret == *s)
            });
        for (i, secret) in secrets.into_iter().enumerate() {
            let volume = format!("destination-secret-{i}");
            volumes.push(Volume {
                name: volume.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.to_owned()),
                    default_mode: Some(0o440),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            });
            mounts.push(VolumeMount {
                name: volume,
                mount_path: format!("{SECRETS_DIR}/{secret}"),
                read_only: Some(true),
                ..VolumeMount::default()
            });
        }
    }
    if let IngestAuth::SigV4(sig) = &spec.ingest.auth {
        // Keys of this Secret are access key ids, unknown in advance: mounted as files.
        volumes.push(Volume {
            name: "ingest-credentials".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(sig.credentials_secret.clone()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "ingest-credentials".to_owned(),
            mount_path: format!("{SECRETS_DIR}/{}", sig.credentials_secret),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }

    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(
            spec.image
                .clone()
                .unwrap_or_else(|| config.dataplane_image.clone()),
        ),
        args: Some(vec![
            "run".to_owned(),
            "-f".to_owned(),
            format!("{}/{}", configmap::MOUNT_DIR, configmap::FILE),
        ]),
        env: Some(env_vars),
        ports: Some(vec![
            ContainerPort {
                name: Some("ingest".to_owned()),
                container_port: spec.ingest.port,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("metrics".to_owned()),
                container_port: METRICS_PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            },
        ]),
        readiness_probe: Some(http_probe("/readyz", 5)),
        liveness_probe: Some(http_probe("/healthz", 10)),
        resources: Some(
            spec_over
                .resources
                .clone()
                .unwrap_or_else(default_resources),
        ),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    let pod = PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        service_account_name: spec_over.service_account_name.clone(),
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: Some(termination_grace_seconds(stream)),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(USER),
            run_as_group: Some(USER),
            fs_group: Some(USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        topology_spread_constraints: Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            }),
            ..TopologySpreadConstraint::default()
        }]),
        node_selector: (!spec_over.node_selector.is_empty())
            .then(|| spec_over.node_selector.clone()),
        tolerations: (!spec_over.tolerations.is_empty()).then(|| spec_over.tolerations.clone()),
        affinity: spec_over.affinity.clone(),
        priority_class_name: spec_over.priority_class_name.clone(),
        ..PodSpec::default()
    };

    Ok(Deployment {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(DeploymentSpec {
            // Left out when an HPA owns the replica count.
            replicas: if spec.autoscaling.is_some() {
                None
            } else {
                Some(spec.replicas.unwrap_or(1))
            },
            selector: LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}
