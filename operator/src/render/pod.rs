//! The pod template of a stream's data-plane pods, which its Deployment or StatefulSet runs.
//! Every spec field that shapes a pod becomes a pod field here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, SecretKeySelector, SecretVolumeSource,
    SecurityContext, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Inputs, RenderError, configmap, labels, source_access, stream_name};
use crate::config::{METRICS_PORT, OperatorConfig};
use crds::{
    DeliveryStream, DeliveryStreamSpec, Destination, IngestAuth, PodMetadataOverrides,
    PodSpecOverrides, parse_quantity,
};

pub const CONFIG_HASH: &str = "hydrant.dev/config-hash";
pub const CONTAINER: &str = "hydrant";
pub const SECRETS_DIR: &str = "/etc/hydrant/secrets";
/// The log's volume: an `emptyDir`, or the StatefulSet's claim template of that name.
pub const WAL_VOLUME: &str = "wal";
/// Non-root user of the distroless image.
const USER: i64 = 65532;

/// Seconds a pod gets to drain on SIGTERM: the spec's, or the buffering interval (a batch may
/// just have started) plus time to deliver what is buffered.
pub fn termination_grace_seconds(stream: &DeliveryStream) -> i64 {
    let chosen = stream
        .spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.termination_grace_period_seconds);
    if let Some(seconds) = chosen {
        return seconds;
    }
    let interval = stream
        .spec
        .destination
        .buffering_hints()
        .interval_in_seconds as i64;
    interval + 60
}

/// The log's volume size: the `emptyDir` limit, and the default (and least) claim size.
pub fn wal_size_limit(stream: &DeliveryStream) -> Result<Quantity, RenderError> {
    let bytes = parse_quantity(&stream.spec.buffer.max_bytes.0)
        .map_err(|e| RenderError::Invalid(format!("spec.buffer.maxBytes: {e}")))?;
    Ok(Quantity(format!("{}", crds::volume_bytes(bytes))))
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

/// A variable from the pod's own metadata (the downward API).
fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
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

/// The template of `stream`'s pods. `config_hash` goes into it, so a change of what the pods
/// read rolls them.
pub fn template(
    stream: &DeliveryStream,
    inputs: &Inputs,
    config: &OperatorConfig,
    config_hash: &str,
) -> Result<PodTemplateSpec, RenderError> {
    let name = stream_name(stream)?;
    // What can fail is checked before the builders below, which then cannot; a spec with both
    // problems reports its buffer size first.
    let wal_limit = wal_size_limit(stream)?;
    refuse_local_destination(&stream.spec.destination)?;
    let overrides = stream.spec.template.clone().unwrap_or_default();
    let meta_over = overrides.metadata.unwrap_or_default();
    let spec_over = overrides.spec.unwrap_or_default();
    // On a claim the log's volume comes from the StatefulSet's volumeClaimTemplate.
    let wal = stream
        .spec
        .buffer
        .storage
        .claim()
        .is_none()
        .then(|| wal_volume(wal_limit));
    let (volumes, mounts) = volumes_and_mounts(stream, name, wal);
    let container = dataplane_container(stream, inputs, config, &spec_over, mounts);
    let mut pod = pod_spec(stream, name, &spec_over, container, volumes);
    if source_access::needed(stream) {
        // The pods share the Kinesis stream's shards through Leases: they need their token.
        pod.service_account_name = Some(source_access::pod_account(stream)?);
        pod.automount_service_account_token = Some(true);
    }
    Ok(PodTemplateSpec {
        metadata: Some(pod_metadata(name, &meta_over, config_hash)),
        spec: Some(pod),
    })
}

/// A local directory is a single-machine destination: it has no meaning across pods.
fn refuse_local_destination(destination: &Destination) -> Result<(), RenderError> {
    match destination {
        Destination::Local(_) => Err(RenderError::Invalid(
            "spec.destination.local: a local directory only works with `hydrant run` on one machine; in a cluster use spec.destination.s3".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// The pod template's labels and annotations: the user's, with Hydrant's own on top.
fn pod_metadata(name: &str, meta_over: &PodMetadataOverrides, config_hash: &str) -> ObjectMeta {
    let mut pod_labels = meta_over.labels.clone();
    pod_labels.extend(labels::common(name));
    ObjectMeta {
        labels: Some(pod_labels),
        annotations: Some(pod_annotations(meta_over, config_hash)),
        ..ObjectMeta::default()
    }
}

/// The user's annotations plus the config hash and the Prometheus scrape hints.
fn pod_annotations(
    meta_over: &PodMetadataOverrides,
    config_hash: &str,
) -> BTreeMap<String, String> {
    let mut annotations = meta_over.annotations.clone();
    annotations.insert(CONFIG_HASH.to_owned(), config_hash.to_owned());
    annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
    annotations.insert("prometheus.io/port".to_owned(), METRICS_PORT.to_string());
    annotations.insert("prometheus.io/path".to_owned(), "/metrics".to_owned());
    annotations
}

/// The pod around `container`: identity, security, spreading and the scheduling escape hatches.
fn pod_spec(
    stream: &DeliveryStream,
    name: &str,
    spec_over: &PodSpecOverrides,
    container: Container,
    volumes: Vec<Volume>,
) -> PodSpec {
    PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        service_account_name: spec_over.service_account_name.clone(),
        automount_service_account_token: Some(false),
        termination_grace_period_seconds: Some(termination_grace_seconds(stream)),
        security_context: Some(pod_security_context()),
        topology_spread_constraints: Some(vec![
            spread_over(name, ZONE_LABEL),
            spread_over(name, HOST_LABEL),
        ]),
        node_selector: (!spec_over.node_selector.is_empty())
            .then(|| spec_over.node_selector.clone()),
        tolerations: (!spec_over.tolerations.is_empty()).then(|| spec_over.tolerations.clone()),
        affinity: spec_over.affinity.clone(),
        priority_class_name: spec_over.priority_class_name.clone(),
        ..PodSpec::default()
    }
}

/// Non-root as the image's user, with the runtime's default seccomp profile.
fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(USER),
        run_as_group: Some(USER),
        fs_group: Some(USER),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const HOST_LABEL: &str = "kubernetes.io/hostname";

/// Prefer spreading the pods over the values of node label `key`: zones first, then nodes. A
/// soft rule: a cluster without zone labels, or smaller than the stream, still schedules every
/// replica (a hard rule would leave pods Pending there).
fn spread_over(name: &str, key: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        label_selector: Some(LabelSelector {
            match_labels: Some(labels::selector(name)),
            ..LabelSelector::default()
        }),
        ..TopologySpreadConstraint::default()
    }
}

/// The data-plane container: `hydrant run` on the mounted config.
fn dataplane_container(
    stream: &DeliveryStream,
    inputs: &Inputs,
    config: &OperatorConfig,
    spec_over: &PodSpecOverrides,
    mounts: Vec<VolumeMount>,
) -> Container {
    let spec = &stream.spec;
    Container {
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
        env: Some(env_vars(stream, inputs)),
        ports: Some(container_ports(spec.ingest.port)),
        readiness_probe: Some(http_probe("/readyz", 5)),
        liveness_probe: Some(http_probe("/healthz", 10)),
        resources: Some(
            spec_over
                .resources
                .clone()
                .unwrap_or_else(default_resources),
        ),
        security_context: Some(container_security_context()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The ingest port the stream asks for and the metrics port the probes use.
fn container_ports(ingest_port: i32) -> Vec<ContainerPort> {
    vec![
        ContainerPort {
            name: Some("ingest".to_owned()),
            container_port: ingest_port,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        },
        ContainerPort {
            name: Some("metrics".to_owned()),
            container_port: METRICS_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        },
    ]
}

/// No privilege escalation, no capabilities, no writes outside the mounted volumes.
fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

/// The data plane's settings, and the primary S3 keys taken from their Secret.
fn env_vars(stream: &DeliveryStream, inputs: &Inputs) -> Vec<EnvVar> {
    let mut env_vars = vec![
        env("HYDRANT_VERSION_ID", &inputs.version_id),
        env("HYDRANT_LOG_FORMAT", "json"),
        env("HYDRANT_METRICS_ADDR", &format!("0.0.0.0:{METRICS_PORT}")),
        env("HYDRANT_SECRETS_DIR", SECRETS_DIR),
    ];
    if source_access::needed(stream) {
        // The Lease holder's identity and the Leases' namespace.
        env_vars.push(field_env("HYDRANT_POD_NAME", "metadata.name"));
        env_vars.push(field_env("HYDRANT_POD_NAMESPACE", "metadata.namespace"));
    }
    if let Destination::S3(s3) = &stream.spec.destination
        && let Some(secret) = &s3.location.credentials_secret
    {
        env_vars.push(secret_env("AWS_ACCESS_KEY_ID", secret, "accessKeyId"));
        env_vars.push(secret_env(
            "AWS_SECRET_ACCESS_KEY",
            secret,
            "secretAccessKey",
        ));
    }
    env_vars
}

/// Volumes of the pod and the container's mounts of them, in the same order: the config, the
/// write-ahead log, the destination's Secrets, the source's, the ingest Secret, then the ingest
/// certificate.
fn volumes_and_mounts(
    stream: &DeliveryStream,
    name: &str,
    wal: Option<Volume>,
) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = vec![config_volume(name)];
    volumes.extend(wal);
    let mut mounts = vec![
        VolumeMount {
            name: "config".to_owned(),
            mount_path: configmap::MOUNT_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: WAL_VOLUME.to_owned(),
            mount_path: configmap::WAL_DIR.to_owned(),
            ..VolumeMount::default()
        },
    ];
    for (i, secret) in mounted_destination_secrets(&stream.spec)
        .into_iter()
        .enumerate()
    {
        let (volume, mount) = secret_volume(format!("destination-secret-{i}"), secret);
        volumes.push(volume);
        mounts.push(mount);
    }
    for (i, secret) in mounted_source_secrets(&stream.spec).into_iter().enumerate() {
        let (volume, mount) = secret_volume(format!("source-secret-{i}"), secret);
        volumes.push(volume);
        mounts.push(mount);
    }
    if let IngestAuth::SigV4(sig) = &stream.spec.ingest.auth {
        // Keys of this Secret are access key ids, unknown in advance: mounted as files.
        let (volume, mount) =
            secret_volume("ingest-credentials".to_owned(), &sig.credentials_secret);
        volumes.push(volume);
        mounts.push(mount);
    }
    if let Some(tls) = &stream.spec.ingest.tls {
        // Mounted whole (no subPath), so the kubelet updates the files when the certificate is
        // renewed and the pod reloads it without a restart.
        let (volume, mount) = secret_volume("ingest-tls".to_owned(), &tls.secret_name);
        volumes.push(volume);
        mounts.push(mount);
    }
    (volumes, mounts)
}

/// The ConfigMap holding the stream's config file.
fn config_volume(name: &str) -> Volume {
    Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: configmap::name(name),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// The write-ahead log's `emptyDir`, bounded by `limit`.
fn wal_volume(limit: Quantity) -> Volume {
    Volume {
        name: WAL_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(limit),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// Destination Secrets (tokens, passwords, CA certificates, backup and error-output buckets'
/// keys), each once, sorted. They are read as files; the primary S3 keys also come from the
/// environment. The ingest Secrets are left out: they are mounted on their own, at the same path.
fn mounted_destination_secrets(spec: &DeliveryStreamSpec) -> Vec<&str> {
    let mut secrets = spec.destination.secrets();
    secrets.sort_unstable();
    secrets.dedup();
    secrets.retain(|s| !mounted_for_ingest(spec, s));
    secrets
}

/// The source's Secrets (a Kinesis stream's keys, a Kafka source's CA and SASL credentials),
/// each once, sorted, read as files. One already mounted for the destination or the ingest port
/// is left out: it is at the same path.
fn mounted_source_secrets(spec: &DeliveryStreamSpec) -> Vec<&str> {
    let destination = mounted_destination_secrets(spec);
    let mut secrets = spec.source.secret_names();
    secrets.sort_unstable();
    secrets.dedup();
    secrets.retain(|s| !destination.contains(s) && !mounted_for_ingest(spec, s));
    secrets
}

/// Whether `secret` is the ingest port's keys or certificate, each mounted on its own at
/// `SECRETS_DIR/<secret>` (a second mount at the same path would make the pod invalid).
fn mounted_for_ingest(spec: &DeliveryStreamSpec, secret: &str) -> bool {
    matches!(&spec.ingest.auth, IngestAuth::SigV4(sig) if sig.credentials_secret == secret)
        || spec
            .ingest
            .tls
            .as_ref()
            .is_some_and(|t| t.secret_name == secret)
}

/// A read-only volume of `secret` and its mount at `SECRETS_DIR/<secret>`.
fn secret_volume(volume: String, secret: &str) -> (Volume, VolumeMount) {
    let mount = VolumeMount {
        name: volume.clone(),
        mount_path: format!("{SECRETS_DIR}/{secret}"),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    let volume = Volume {
        name: volume,
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    };
    (volume, mount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{S3, inputs, stream};
    use crate::render::{render, service};

    #[test]
    fn an_ingest_certificate_is_mounted_whole_and_the_endpoint_is_https() {
        let s = stream(&format!(
            "  ingest:\n    tls: {{secretName: clicks-tls}}\n{S3}"
        ));
        let config = OperatorConfig::default();
        let c = render(&s, &inputs(), &config).expect("render");
        let pod = crate::render::tests::deployment_of(&c)
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod");
        let volume = pod
            .volumes
            .expect("volumes")
            .into_iter()
            .find(|v| v.name == "ingest-tls")
            .expect("the certificate's volume");
        assert_eq!(
            volume.secret.expect("secret").secret_name.as_deref(),
            Some("clicks-tls")
        );
        let mount = pod.containers[0]
            .volume_mounts
            .clone()
            .expect("mounts")
            .into_iter()
            .find(|m| m.name == "ingest-tls")
            .expect("mounted");
        assert_eq!(mount.mount_path, format!("{SECRETS_DIR}/clicks-tls"));
        assert!(mount.sub_path.is_none(), "a subPath mount is never updated");
        assert_eq!(
            service::endpoint(&s, "svc").expect("endpoint"),
            "https://clicks.analytics.svc:4573"
        );
        let port = &c.service.spec.expect("spec").ports.expect("ports")[0];
        assert_eq!(port.app_protocol.as_deref(), Some("https"));
        // The certificate is not part of what rolls the pods.
        assert!(!crate::render::referenced_secrets(&s).contains(&"clicks-tls".to_owned()));
    }
}
